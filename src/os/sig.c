/*
 * sig: the handled-signal set. See sig.h.
 */
#include "os/sig.h"

#include <unistd.h>

/*
 * Sendable signals whose default action ends the process (terminate or
 * core). Not the ones the kernel raises for a fault (SIGSEGV, SIGBUS,
 * SIGILL, SIGFPE, SIGTRAP, SIGSYS, SIGABRT): those are forced on the
 * faulting thread and end pid 1 too; nor SIGXCPU/SIGXFSZ, raised for a
 * limit drover does not set on itself.
 */
static const int ends_process[] = { SIGQUIT, SIGUSR2, SIGALRM, SIGVTALRM,
                                    SIGPROF, SIGIO,   SIGPWR,  SIGSTKFLT };

bool
sig_ends_process(int sig)
{
    for (size_t i = 0; i < sizeof(ends_process) / sizeof(*ends_process); i++)
        if (ends_process[i] == sig)
            return true;
    return false;
}

void
sig_handled(sigset_t *ret)
{
    sigemptyset(ret);
    sigaddset(ret, SIGCHLD);
    sigaddset(ret, SIGTERM);
    sigaddset(ret, SIGINT);
    sigaddset(ret, SIGHUP);
    sigaddset(ret, SIGUSR1);
    /* A namespace's init has no default action: unhandled, these would be dropped. */
    if (getpid() == 1)
        for (size_t i = 0; i < sizeof(ends_process) / sizeof(*ends_process); i++)
            sigaddset(ret, ends_process[i]);
}

void
sig_block_handled(void)
{
    sigset_t mask;

    sig_handled(&mask);
    (void)sigprocmask(SIG_BLOCK, &mask, NULL);
    (void)signal(SIGPIPE, SIG_IGN);
}

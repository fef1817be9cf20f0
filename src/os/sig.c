/*
 * sig: the handled-signal set. See sig.h.
 */
#include "os/sig.h"

void
sig_handled(sigset_t *ret)
{
    sigemptyset(ret);
    sigaddset(ret, SIGCHLD);
    sigaddset(ret, SIGTERM);
    sigaddset(ret, SIGINT);
    sigaddset(ret, SIGHUP);
    sigaddset(ret, SIGUSR1);
}

void
sig_block_handled(void)
{
    sigset_t mask;

    sig_handled(&mask);
    (void)sigprocmask(SIG_BLOCK, &mask, NULL);
    (void)signal(SIGPIPE, SIG_IGN);
}

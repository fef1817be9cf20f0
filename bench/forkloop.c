/*
 * forkloop - baseline for drover's benchmarks: the least a supervisor can do.
 *
 *   forkloop [--vfork] SECONDS MAXCOUNT PATH [ARG]...
 *
 * Runs PATH (fork, execve with our environment, blocking waitpid), and as
 * soon as it exits runs it again, until SECONDS of wall time have passed or
 * MAXCOUNT processes were started, or SIGTERM arrives.  No setsid, no fd or
 * signal set-up in the child, no logging: a plain fork/exec/waitpid loop.
 * --vfork uses vfork() instead of fork(): no page tables are copied and we
 * are suspended until the child has exec'd, as with drover's
 * clone(CLONE_VM | CLONE_VFORK) - the tightest loop a supervisor can run.
 *
 * Used two ways: with `pinger --exit` it is the respawn-throughput baseline;
 * with `pinger` (which pauses) it is the restart-latency baseline - the
 * benchmark SIGKILLs the child and times the next one's start.
 * (execve resets our SIGTERM handler to the default in the child.)
 *
 * On SIGTERM the current child is SIGKILLed and reaped.  At the end prints
 * "count=N elapsed_ns=NS" on stdout.  Exit 0; 2 on bad usage; 1 if fork fails.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static volatile sig_atomic_t got_term;

static void
on_term(int sig)
{
    (void)sig;
    got_term = 1;
}

static long long
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The child only execs or _exits, so vfork's shared stack is never clobbered. */
__attribute__((noinline)) static pid_t
spawn_child(char **args, int use_vfork)
{
    pid_t pid = use_vfork ? vfork() : fork();

    if (pid == 0) {
        execve(args[0], args, environ);
        _exit(127);
    }
    return pid;
}

int
main(int argc, char **argv)
{
    struct sigaction sa;
    long long start, deadline;
    unsigned long count = 0, max;
    double seconds;
    int use_vfork = 0;

    if (argc > 1 && strcmp(argv[1], "--vfork") == 0) {
        use_vfork = 1;
        argv++;
        argc--;
    }
    if (argc < 4) {
        fprintf(stderr, "usage: forkloop [--vfork] SECONDS MAXCOUNT PATH [ARG]...\n");
        return 2;
    }
    seconds = strtod(argv[1], NULL);
    max = strtoul(argv[2], NULL, 10);
    if (seconds <= 0 || seconds > 3600 || max == 0) {
        fprintf(stderr, "forkloop: SECONDS must be in (0, 3600], MAXCOUNT > 0\n");
        return 2;
    }

    /* No SA_RESTART: SIGTERM interrupts the blocking waitpid. */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);

    start = now_ns();
    deadline = start + (long long)(seconds * 1e9);
    while (!got_term && count < max && now_ns() < deadline) {
        pid_t pid = spawn_child(argv + 3, use_vfork);

        if (pid < 0) {
            perror("forkloop: fork");
            return 1;
        }
        count++;
        while (waitpid(pid, NULL, 0) < 0) {
            if (errno != EINTR)
                break;
            if (got_term) {
                kill(pid, SIGKILL);
                while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                    ;
                break;
            }
        }
    }
    printf("count=%lu elapsed_ns=%lld\n", count, now_ns() - start);
    return 0;
}

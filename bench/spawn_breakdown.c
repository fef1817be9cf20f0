/*
 * spawn_breakdown - where the time of one restart goes, without a supervisor.
 *
 *   spawn_breakdown SOCK_PATH COUNT PATH [ARG]...
 *
 * PATH must be build/helpers/pinger (no --exit): it reports "<pid> <ns>" to
 * SOCK_PATH (we bind it and set DROVER_BENCH_SOCK) and pauses.  COUNT times
 * (at most 100000), with 2 ms between rounds: SIGKILL the child, then
 *
 *   exit    kill() -> its pidfd is readable (the old process is gone)
 *   reap    waitid(P_PIDFD)
 *   spawn   clone(CLONE_VM | CLONE_VFORK | CLONE_PIDFD) -> returns in the
 *           parent, i.e. the new process exists and execve() has succeeded
 *           (drover's spawn_process() does the same)
 *   start   that return -> the new process's main() read CLOCK_MONOTONIC
 *           (kernel finishing exec, page faults, libc start-up)
 *   total   kill() -> main()
 *
 * The process doing the kill is also the one that respawns, so unlike the
 * real benchmark no sleeping supervisor has to be woken up.
 * Prints one line per segment: "NAME median_ns p99_ns" (nearest rank).
 * Kills and reaps its last child before exiting.  Exit 1 on a system error
 * or if no report arrives within 2 s; 2 on bad usage.
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STACK_SIZE (256 * 1024)
#define NSEG 5

extern char **environ;

static char **child_argv;

static long long
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int
child_main(void *arg)
{
    (void)arg;
    execve(child_argv[0], child_argv, environ);
    _exit(127);
}

static int
cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;

    return x < y ? -1 : x > y;
}

/* Waits for the next report; its timestamp, or -1 after 2 s. */
static long long
next_report(int sock)
{
    char buf[128];
    ssize_t n = recv(sock, buf, sizeof(buf) - 1, 0);
    char *sp;

    if (n <= 0)
        return -1;
    buf[n] = '\0';
    sp = strchr(buf, ' ');
    return sp ? strtoll(sp + 1, NULL, 10) : -1;
}

int
main(int argc, char **argv)
{
    static const char *names[NSEG] = { "exit", "reap", "spawn", "start", "total" };
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct timeval tv = { .tv_sec = 2 };
    long long *seg[NSEG];
    char *stack;
    int sock, pidfd = -1, count, done = 0, rc = 0;
    pid_t pid;

    if (argc < 4 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "usage: spawn_breakdown SOCK_PATH COUNT PATH [ARG]...\n");
        return 2;
    }
    count = atoi(argv[2]);
    if (count < 1 || count > 100000) {
        fprintf(stderr, "spawn_breakdown: COUNT must be 1..100000\n");
        return 2;
    }
    child_argv = argv + 3;
    for (int i = 0; i < NSEG; i++)
        if (!(seg[i] = calloc((size_t)count, sizeof(long long))))
            return 1;
    stack = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED)
        return 1;

    memcpy(sa.sun_path, argv[1], strlen(argv[1]) + 1);
    sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0 || bind(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0
        || setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
        perror("spawn_breakdown: socket");
        return 1;
    }
    setenv("DROVER_BENCH_SOCK", argv[1], 1);

    pid = clone(child_main, stack + STACK_SIZE, CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, NULL, &pidfd);
    if (pid < 0 || next_report(sock) < 0) {
        fprintf(stderr, "spawn_breakdown: first child did not report\n");
        rc = 1;
        goto out;
    }
    for (int i = 0; i < count; i++) {
        struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
        long long t0, t1, t2, t3, tmain;
        siginfo_t si;

        usleep(2000);
        t0 = now_ns();
        kill(pid, SIGKILL);
        while (poll(&pfd, 1, -1) < 0 && errno == EINTR)
            ;
        t1 = now_ns();
        waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED);
        close(pidfd);
        pidfd = -1;
        t2 = now_ns();
        pid = clone(child_main, stack + STACK_SIZE, CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, NULL,
                    &pidfd);
        t3 = now_ns();
        if (pid < 0) {
            perror("spawn_breakdown: clone");
            rc = 1;
            goto out;
        }
        tmain = next_report(sock);
        if (tmain < 0) {
            fprintf(stderr, "spawn_breakdown: no report from pid %d\n", (int)pid);
            rc = 1;
            goto out;
        }
        seg[0][i] = t1 - t0;
        seg[1][i] = t2 - t1;
        seg[2][i] = t3 - t2;
        seg[3][i] = tmain - t3;
        seg[4][i] = tmain - t0;
        done++;
    }
    for (int s = 0; s < NSEG; s++) {
        long p99 = (99L * done + 99) / 100;

        qsort(seg[s], (size_t)done, sizeof(long long), cmp_ll);
        printf("%s %lld %lld\n", names[s], seg[s][done / 2], seg[s][p99 - 1]);
    }
out:
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    unlink(argv[1]);
    return rc;
}

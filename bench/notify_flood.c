/*
 * notify_flood: sender and baseline receiver for bench/notify_ingest.py.
 *
 *   notify_flood send N GOFILE [--fork]
 *       Waits (at most 30 s) until GOFILE exists, then sends "STATUS=flood begin",
 *       N datagrams "WATCHDOG=1" and "STATUS=flood end" to $NOTIFY_SOCKET on a
 *       blocking socket (a full receive queue makes sendto() wait; nothing is lost
 *       to EAGAIN), as fast as it can. Prints
 *           sent N ns ELAPSED errors E pid PID
 *       (ELAPSED: CLOCK_MONOTONIC from the first WATCHDOG=1 to the return of the
 *       last one) and then waits to be killed, so that drover still knows every
 *       sender when it reads the last datagrams. --fork: a forked child (same
 *       process group, not the main pid) does the sending and then pauses too.
 *
 *   notify_flood recv NAME SECONDS [--stat]
 *       Baseline receiver without a supervisor: binds the abstract socket @NAME with
 *       SO_PASSCRED, prints "ready", then does what drover's loop does: epoll_wait,
 *       then up to 512 nonblocking recvmsg() with SCM_CREDENTIALS per wake-up.
 *       --stat: also reads /proc/PID/stat of each sender (open, read, close, parse
 *       the process group), as drover does for a sender that is not a main pid.
 *       Stops at "STATUS=flood end" or after SECONDS. Prints
 *           recv W other O ns FIRST_TO_LAST cpu_ns CPU
 *       (W: WATCHDOG=1 datagrams; CPU: its own user+system time from the first
 *       WATCHDOG=1 on, getrusage).
 *
 * Loopback only (an abstract AF_UNIX datagram socket); bounded in time and count.
 */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

static uint64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int
fill_addr(const char *name, struct sockaddr_un *sa, socklen_t *len)
{
    size_t n = strlen(name);

    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (n == 0 || n >= sizeof(sa->sun_path))
        return -1;
    memcpy(sa->sun_path, name, n);
    if (name[0] == '@')
        sa->sun_path[0] = '\0';
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (name[0] == '@' ? 0 : 1));
    return 0;
}

static void
pause_forever(void)
{
    for (int i = 0; i < 3600; i++) /* bounded: an hour at most, killed long before */
        pause();
    _exit(0);
}

static int
do_send(long n, const char *gofile, int use_fork)
{
    const char *name = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa;
    socklen_t salen;
    long errors = 0;
    uint64_t t0, t1;
    int fd, pfd[2];
    pid_t child = 0;

    if (!name || fill_addr(name, &sa, &salen) < 0) {
        printf("error no usable NOTIFY_SOCKET\n");
        return 1;
    }
    for (int i = 0; i < 30000 && access(gofile, F_OK) != 0; i++)
        usleep(1000);
    if (use_fork) {
        if (pipe(pfd) < 0)
            return 1;
        fflush(stdout);
        child = fork();
        if (child < 0) {
            printf("error fork: %s\n", strerror(errno));
            return 1;
        }
        if (child > 0) {
            char buf[256];
            ssize_t r;

            close(pfd[1]);
            r = read(pfd[0], buf, sizeof(buf) - 1); /* the child's report line */
            if (r > 0) {
                buf[r] = '\0';
                fputs(buf, stdout);
                fflush(stdout);
            }
            pause_forever();
        }
        close(pfd[0]);
    }
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0); /* blocking */
    if (fd < 0)
        return 1;
    if (sendto(fd, "STATUS=flood begin", 18, MSG_NOSIGNAL, (struct sockaddr *)&sa, salen) < 0)
        errors++;
    t0 = now_ns();
    for (long i = 0; i < n; i++)
        if (sendto(fd, "WATCHDOG=1", 10, MSG_NOSIGNAL, (struct sockaddr *)&sa, salen) < 0)
            errors++;
    t1 = now_ns();
    if (sendto(fd, "STATUS=flood end", 16, MSG_NOSIGNAL, (struct sockaddr *)&sa, salen) < 0)
        errors++;
    if (use_fork) {
        char line[200];
        int len = snprintf(line, sizeof(line), "sent %ld ns %llu errors %ld pid %d\n", n,
                           (unsigned long long)(t1 - t0), errors, (int)getpid());
        (void)!write(pfd[1], line, (size_t)len);
        close(pfd[1]);
    } else {
        printf("sent %ld ns %llu errors %ld pid %d\n", n, (unsigned long long)(t1 - t0), errors,
               (int)getpid());
        fflush(stdout);
    }
    pause_forever();
    return 0;
}

static int
stat_pgid(pid_t pid)
{
    char path[32], buf[1024];
    const char *p;
    int fd, pgid = -1;
    ssize_t n;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    p = strrchr(buf, ')');
    if (!p || sscanf(p + 1, " %*c %*d %d", &pgid) != 1)
        return -1;
    return pgid;
}

static int
do_recv(const char *name, double seconds, int with_stat)
{
    char sockname[108];
    struct sockaddr_un sa;
    socklen_t salen;
    struct epoll_event ev = { .events = EPOLLIN };
    struct rusage ru;
    long watchdog = 0, other = 0;
    uint64_t first = 0, last = 0, deadline, cpu0 = 0;
    int fd, ep, one = 1, done = 0;
    volatile int sink = 0;

    snprintf(sockname, sizeof(sockname), "@%s", name);
    if (fill_addr(sockname, &sa, &salen) < 0)
        return 1;
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0 ||
        bind(fd, (struct sockaddr *)&sa, salen) < 0) {
        printf("error bind: %s\n", strerror(errno));
        return 1;
    }
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
        return 1;
    printf("ready\n");
    fflush(stdout);
    deadline = now_ns() + (uint64_t)(seconds * 1e9);
    while (!done && now_ns() < deadline) {
        struct epoll_event out;
        int r = epoll_wait(ep, &out, 1, 100);

        if (r <= 0)
            continue;
        for (int i = 0; i < 512; i++) {
            union {
                struct cmsghdr align;
                char space[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * 16)];
            } control;
            char buf[4097];
            struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) - 1 };
            struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control,
                                  .msg_controllen = sizeof(control) };
            const struct ucred *cred = NULL;
            ssize_t len = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

            if (len < 0)
                break;
            for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS)
                    cred = (const struct ucred *)(void *)CMSG_DATA(c);
            if (!cred)
                continue;
            if (with_stat)
                sink += stat_pgid(cred->pid);
            if (len == 10 && memcmp(buf, "WATCHDOG=1", 10) == 0) {
                if (!first) {
                    first = now_ns();
                    getrusage(RUSAGE_SELF, &ru);
                    cpu0 = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ull +
                           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ull;
                }
                last = now_ns();
                watchdog++;
            } else {
                other++;
                if (len >= 16 && memcmp(buf, "STATUS=flood end", 16) == 0) {
                    done = 1;
                    break;
                }
            }
        }
    }
    getrusage(RUSAGE_SELF, &ru);
    printf("recv %ld other %ld ns %llu cpu_ns %llu\n", watchdog, other,
           (unsigned long long)(last - first),
           (unsigned long long)((ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ull +
                                (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ull - cpu0));
    return done ? 0 : 3;
}

int
main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "send") == 0)
        return do_send(atol(argv[2]), argv[3], argc > 4 && strcmp(argv[4], "--fork") == 0);
    if (argc >= 4 && strcmp(argv[1], "recv") == 0)
        return do_recv(argv[2], atof(argv[3]), argc > 4 && strcmp(argv[4], "--stat") == 0);
    fprintf(stderr, "usage: notify_flood send N GOFILE [--fork] | recv NAME SECONDS [--stat]\n");
    return 2;
}

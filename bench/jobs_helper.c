/*
 * jobs_helper: the two C pieces of bench/jobs_throughput.py, compiled into its temp dir.
 *
 *   jobs_helper pingpong PAIRS MS [CPU]
 *       the floor: PAIRS pairs of processes, each pair a socketpair(AF_UNIX, SOCK_STREAM)
 *       over which one side sends 16 bytes and the other echoes them, for MS milliseconds.
 *       Prints "roundtrips N ns T" (all pairs together, T the longest pair's run).
 *       With CPU, every process is pinned to that CPU (sched_setaffinity).
 *   jobs_helper redis-worker SOCKET QUEUE
 *       an RQ-style worker on redis-server's unix socket: BLPOP QUEUE 0, a value
 *       "KEY|PAYLOAD"; answers LPUSH KEY PAYLOAD-upper-cased, sent in one write with the
 *       next BLPOP (the least a worker can do per job: one BLPOP, one LPUSH). Runs until
 *       EOF or a signal.
 * Bounded: every loop ends on its deadline, EOF or an error. Exit 0, or 1 with a message.
 */
#include <ctype.h>
#include <sched.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t
now_ns(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
full_write(int fd, const void *p, size_t n)
{
    const char *c = p;

    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static int
full_read(int fd, void *p, size_t n)
{
    char *c = p;

    while (n > 0) {
        ssize_t r = read(fd, c, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        c += r;
        n -= (size_t)r;
    }
    return 0;
}

/* One pair: this process pings, a forked child echoes. Writes the count to out. */
static void
one_pair(int64_t ms, int out)
{
    int sv[2];
    char msg[16];
    int64_t n = 0, t0, end;
    pid_t echo;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        _exit(1);
    echo = fork();
    if (echo < 0)
        _exit(1);
    if (echo == 0) {
        (void)close(sv[0]);
        while (full_read(sv[1], msg, sizeof(msg)) == 0 && full_write(sv[1], msg, sizeof(msg)) == 0)
            ;
        _exit(0);
    }
    (void)close(sv[1]);
    memset(msg, 'x', sizeof(msg));
    t0 = now_ns();
    end = t0 + ms * 1000000;
    while (now_ns() < end) {
        if (full_write(sv[0], msg, sizeof(msg)) < 0 || full_read(sv[0], msg, sizeof(msg)) < 0)
            break;
        n++;
    }
    int64_t res[2] = { n, now_ns() - t0 };
    (void)close(sv[0]);
    (void)waitpid(echo, NULL, 0);
    (void)full_write(out, res, sizeof(res));
    _exit(0);
}

static int
pingpong(int pairs, int64_t ms)
{
    int p[2];
    int64_t total = 0, longest = 0;

    if (pairs < 1 || pairs > 256 || ms < 1 || ms > 600000 || pipe(p) < 0)
        return 1;
    for (int i = 0; i < pairs; i++) {
        pid_t c = fork();
        if (c < 0)
            return 1;
        if (c == 0) {
            (void)close(p[0]);
            one_pair(ms, p[1]);
        }
    }
    (void)close(p[1]);
    for (int i = 0; i < pairs; i++) {
        int64_t res[2];
        if (full_read(p[0], res, sizeof(res)) < 0)
            break;
        total += res[0];
        if (res[1] > longest)
            longest = res[1];
    }
    while (wait(NULL) > 0)
        ;
    printf("roundtrips %lld ns %lld\n", (long long)total, (long long)longest);
    return 0;
}

/* --- the redis worker --------------------------------------------------------------------- */

static char rbuf[1 << 16];
static size_t rlen, roff;

static int
fill(int fd)
{
    if (roff > 0) {
        memmove(rbuf, rbuf + roff, rlen - roff);
        rlen -= roff;
        roff = 0;
    }
    if (rlen == sizeof(rbuf))
        return -1;
    for (;;) {
        ssize_t r = read(fd, rbuf + rlen, sizeof(rbuf) - rlen);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        rlen += (size_t)r;
        return 0;
    }
}

/* A line without its CRLF, borrowed until the next call. */
static char *
get_line(int fd, size_t *ret_len)
{
    for (;;) {
        char *s = rbuf + roff;
        char *e = memchr(s, '\n', rlen - roff);
        if (e != NULL && e > s && e[-1] == '\r') {
            *ret_len = (size_t)(e - 1 - s);
            e[-1] = '\0';
            roff = (size_t)(e + 1 - rbuf);
            return s;
        }
        if (fill(fd) < 0)
            return NULL;
    }
}

/* n bytes plus CRLF, borrowed until the next call. */
static char *
get_bulk(int fd, size_t n)
{
    while (rlen - roff < n + 2)
        if (fill(fd) < 0)
            return NULL;
    char *s = rbuf + roff;
    roff += n + 2;
    return s;
}

static int
redis_worker(const char *path, const char *queue)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    static char out[1 << 16];
    char blpop[256];
    int fd, bl;

    if (strlen(path) >= sizeof(sa.sun_path) || strlen(queue) > 128)
        return 1;
    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        perror("redis-worker: connect");
        return 1;
    }
    bl = snprintf(blpop, sizeof(blpop), "*3\r\n$5\r\nBLPOP\r\n$%zu\r\n%s\r\n$1\r\n0\r\n", strlen(queue),
                  queue);
    if (full_write(fd, blpop, (size_t)bl) < 0)
        return 1;
    for (;;) {
        size_t n;
        char *l = get_line(fd, &n);
        if (l == NULL)
            return 0; /* EOF: redis-server stopped */
        if (l[0] == ':')
            continue; /* the LPUSH's answer */
        if (strcmp(l, "*2") != 0) {
            fprintf(stderr, "redis-worker: unexpected reply %s\n", l);
            return 1;
        }
        l = get_line(fd, &n); /* the key's length; the key itself is the queue */
        if (l == NULL || l[0] != '$' || get_bulk(fd, (size_t)atol(l + 1)) == NULL)
            return 1;
        l = get_line(fd, &n);
        if (l == NULL || l[0] != '$')
            return 1;
        size_t vlen = (size_t)atol(l + 1);
        char *v = get_bulk(fd, vlen);
        char *bar = v ? memchr(v, '|', vlen) : NULL;
        if (bar == NULL || vlen > sizeof(out) / 2)
            return 1;
        size_t klen = (size_t)(bar - v), plen = vlen - klen - 1;
        int h = snprintf(out, sizeof(out), "*3\r\n$5\r\nLPUSH\r\n$%zu\r\n", klen);
        memcpy(out + h, v, klen);
        h += (int)klen;
        h += snprintf(out + h, sizeof(out) - (size_t)h, "\r\n$%zu\r\n", plen);
        for (size_t i = 0; i < plen; i++)
            out[h + (int)i] = (char)toupper((unsigned char)bar[1 + i]);
        h += (int)plen;
        memcpy(out + h, "\r\n", 2);
        h += 2;
        memcpy(out + h, blpop, (size_t)bl);
        h += bl;
        if (full_write(fd, out, (size_t)h) < 0)
            return 0;
    }
}

int
main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if ((argc == 4 || argc == 5) && strcmp(argv[1], "pingpong") == 0) {
        if (argc == 5) {
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET(atoi(argv[4]), &set);
            if (sched_setaffinity(0, sizeof(set), &set) < 0) {
                perror("sched_setaffinity");
                return 1;
            }
        }
        return pingpong(atoi(argv[2]), atoll(argv[3]));
    }
    if (argc == 4 && strcmp(argv[1], "redis-worker") == 0)
        return redis_worker(argv[2], argv[3]);
    fprintf(stderr, "usage: jobs_helper pingpong PAIRS MS [CPU] | redis-worker SOCKET QUEUE\n");
    return 1;
}

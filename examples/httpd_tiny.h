/*
 * httpd_tiny.h - the small HTTP/1.0 serving code shared by the example
 * servers (authserver, timeserver) used in the README's time-service pool.
 *
 * Header-only: every function is static, so each example server includes
 * this file once and gets its own private copy.  The functions are marked
 * unused so that a server which does not need one of them still compiles
 * with -Wall -Werror.  Single-threaded, iterative, IPv4 loopback only.
 *
 * Shutdown: SIGTERM and SIGINT are blocked except while waiting in ppoll(),
 * so a signal either interrupts the wait or is noticed right after the
 * request being served; the accept loop then returns and the server exits 0.
 */
#ifndef DROVER_HTTPD_TINY_H
#define DROVER_HTTPD_TINY_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define HTTPD_FN static __attribute__((unused))

#define HTTPD_REQ_MAX 4096      /* bytes of request we read at most */
#define HTTPD_IO_TIMEOUT_S 2    /* SO_RCVTIMEO / SO_SNDTIMEO per connection */

/* Called once per connection with the (NUL-terminated) request bytes. */
typedef void (*httpd_handler_fn)(int cfd, const char *req, size_t len,
                                 const struct sockaddr_in *peer, void *ctx);

static volatile sig_atomic_t httpd_stop_requested;

HTTPD_FN void
httpd_on_stop_signal(int sig)
{
    (void)sig;
    httpd_stop_requested = 1;
}

/* Report a usage error ("PROG: message" + usage line) and exit 2. */
HTTPD_FN __attribute__((format(printf, 3, 4), noreturn)) void
httpd_usage_error(const char *prog, const char *usage, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: %s\n", usage);
    exit(2);
}

/*
 * Match "--name=VALUE" or "--name VALUE" at argv[*i].  Returns the value,
 * or NULL when argv[*i] is not this flag.  A missing value is reported and
 * ends the program with status 2.
 */
HTTPD_FN const char *
httpd_opt_value(const char *prog, int argc, char **argv, int *i,
                const char *name)
{
    const char *arg = argv[*i];
    size_t n = strlen(name);

    if (strncmp(arg, name, n) != 0)
        return NULL;
    if (arg[n] == '=')
        return arg + n + 1;
    if (arg[n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        fprintf(stderr, "%s: %s needs a value\n", prog, name);
        exit(2);
    }
    *i += 1;
    return argv[*i];
}

/* Strict decimal port in [min, 65535]; returns 0 on success, -1 if bad. */
HTTPD_FN int
httpd_parse_port(const char *s, int min, int *out)
{
    char *end;
    long v;

    if (s[0] < '0' || s[0] > '9')
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > 65535)
        return -1;
    *out = (int)v;
    return 0;
}

/*
 * Bind a listening TCP socket on 127.0.0.1:port (SO_REUSEADDR, non-blocking,
 * close-on-exec).  On failure prints a message naming the port and exits 1.
 * Returns the fd; *bound gets the actual port (useful when port is 0).
 */
HTTPD_FN int
httpd_listen(const char *prog, int port, int *bound)
{
    struct sockaddr_in sa;
    socklen_t salen = sizeof(sa);
    int one = 1;
    int fd;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fprintf(stderr, "%s: socket: %s\n", prog, strerror(errno));
        exit(1);
    }
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) {
        fprintf(stderr, "%s: SO_REUSEADDR: %s\n", prog, strerror(errno));
        exit(1);
    }
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        fprintf(stderr, "%s: cannot bind 127.0.0.1:%d: %s\n",
                prog, port, strerror(errno));
        exit(1);
    }
    if (listen(fd, 64) < 0) {
        fprintf(stderr, "%s: cannot listen on 127.0.0.1:%d: %s\n",
                prog, port, strerror(errno));
        exit(1);
    }
    if (getsockname(fd, (struct sockaddr *)&sa, &salen) < 0) {
        fprintf(stderr, "%s: getsockname: %s\n", prog, strerror(errno));
        exit(1);
    }
    *bound = ntohs(sa.sin_port);
    return fd;
}

/* Current UTC time as ISO 8601, e.g. "2026-11-23T11:31:00Z". */
HTTPD_FN void
httpd_utc_timestamp(char *buf, size_t cap)
{
    time_t now = time(NULL);
    struct tm tm;

    if (gmtime_r(&now, &tm) == NULL
        || strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, cap, "%s", "1970-01-01T00:00:00Z");
}

/*
 * Copy the request line (up to the first CR or LF) into out, replacing
 * non-printable bytes with '?'.  Returns its length (0 for no request).
 */
HTTPD_FN size_t
httpd_first_line(const char *req, char *out, size_t cap)
{
    size_t n = 0;

    if (cap == 0)
        return 0;
    while (req[n] != '\0' && req[n] != '\r' && req[n] != '\n'
           && n + 1 < cap) {
        unsigned char c = (unsigned char)req[n];

        out[n] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
        n++;
    }
    out[n] = '\0';
    return n;
}

/* Send a complete HTTP/1.0 text/plain response; errors are ignored. */
HTTPD_FN void
httpd_respond(int cfd, int code, const char *reason, const char *body)
{
    char head[256];
    size_t blen = strlen(body);
    int hlen;
    struct iovec iov[2];
    struct msghdr msg;

    hlen = snprintf(head, sizeof(head),
                    "HTTP/1.0 %d %s\r\n"
                    "Content-Type: text/plain\r\n"
                    "Content-Length: %zu\r\n"
                    "Connection: close\r\n"
                    "\r\n", code, reason, blen);
    if (hlen < 0 || (size_t)hlen >= sizeof(head))
        return;
    iov[0].iov_base = head;
    iov[0].iov_len = (size_t)hlen;
    iov[1].iov_base = (void *)body;
    iov[1].iov_len = blen;
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = iov;
    msg.msg_iovlen = 2;
    while (msg.msg_iovlen > 0) {
        ssize_t w = sendmsg(cfd, &msg, MSG_NOSIGNAL);

        if (w < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        while (msg.msg_iovlen > 0 && (size_t)w >= msg.msg_iov->iov_len) {
            w -= (ssize_t)msg.msg_iov->iov_len;
            msg.msg_iov++;
            msg.msg_iovlen--;
        }
        if (msg.msg_iovlen > 0) {
            msg.msg_iov->iov_base = (char *)msg.msg_iov->iov_base + w;
            msg.msg_iov->iov_len -= (size_t)w;
        }
    }
}

/* Read up to HTTPD_REQ_MAX bytes or until the blank line ending the head. */
HTTPD_FN size_t
httpd_read_request(int cfd, char *buf, size_t cap)
{
    size_t len = 0;

    while (len + 1 < cap) {
        ssize_t r = recv(cfd, buf + len, cap - 1 - len, 0);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;      /* EOF, error or SO_RCVTIMEO expired */
        len += (size_t)r;
        buf[len] = '\0';
        if (memmem(buf, len, "\r\n\r\n", 4) != NULL)
            break;
    }
    buf[len] = '\0';
    return len;
}

HTTPD_FN void
httpd_sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/*
 * The accept loop: one connection at a time, handler answers it, we close.
 * Returns 0 once SIGTERM/SIGINT was received; exits 1 on fatal errors.
 */
HTTPD_FN int
httpd_serve(const char *prog, int lfd, httpd_handler_fn handler, void *ctx)
{
    struct sigaction sa;
    sigset_t stopset, waitmask;
    struct timeval tv = { HTTPD_IO_TIMEOUT_S, 0 };
    char req[HTTPD_REQ_MAX + 1];

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = httpd_on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    sigemptyset(&stopset);
    sigaddset(&stopset, SIGTERM);
    sigaddset(&stopset, SIGINT);
    sigprocmask(SIG_BLOCK, &stopset, &waitmask);
    sigdelset(&waitmask, SIGTERM);
    sigdelset(&waitmask, SIGINT);

    while (!httpd_stop_requested) {
        struct pollfd pfd = { lfd, POLLIN, 0 };
        struct sockaddr_in peer;
        socklen_t plen = sizeof(peer);
        size_t len;
        int cfd;

        if (ppoll(&pfd, 1, NULL, &waitmask) < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "%s: poll: %s\n", prog, strerror(errno));
            return 1;
        }
        cfd = accept4(lfd, (struct sockaddr *)&peer, &plen, SOCK_CLOEXEC);
        if (cfd < 0) {
            switch (errno) {
            case EINTR:
            case EAGAIN:
            case ECONNABORTED:
            case EPROTO:
                continue;
            case EMFILE:
            case ENFILE:
            case ENOBUFS:
            case ENOMEM:
                /* back off instead of spinning on a readable socket */
                httpd_sleep_ms(100);
                continue;
            default:
                fprintf(stderr, "%s: accept: %s\n", prog, strerror(errno));
                return 1;
            }
        }
        setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(cfd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        len = httpd_read_request(cfd, req, sizeof(req));
        handler(cfd, req, len, &peer, ctx);
        shutdown(cfd, SHUT_WR);
        close(cfd);
    }
    close(lfd);
    return 0;
}

#endif /* DROVER_HTTPD_TINY_H */

/*
 * cli: control socket client: socket path, HTTP/1.0 exchange. See cli.h.
 */
#include "cli/cli.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"
#include "os/rundir.h"

char *
cli_url_encode(const char *s, char *buf, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;

    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || strchr("-._~:", *p)) {
            if (o + 1 >= len)
                return NULL;
            buf[o++] = (char)*p;
        } else {
            if (o + 3 >= len)
                return NULL;
            buf[o++] = '%';
            buf[o++] = hex[*p >> 4];
            buf[o++] = hex[*p & 15];
        }
    }
    if (o >= len)
        return NULL;
    buf[o] = '\0';
    return buf;
}

bool
cli_add_query(char *q, size_t len, const char *key, const char *value)
{
    char enc[600];
    size_t n = strlen(q);
    int w;

    if (!value)
        return true;
    if (!cli_url_encode(value, enc, sizeof(enc)))
        return false;
    w = snprintf(q + n, len - n, "%c%s=%s", strchr(q, '?') ? '&' : '?', key, enc);
    return w >= 0 && (size_t)w < len - n;
}

int
cli_split_name(const char *name, char *ret_program, size_t len, long *ret_index)
{
    const char *colon = strchr(name, ':');
    size_t plen = colon ? (size_t)(colon - name) : strlen(name);
    long index = -1;

    if (plen == 0 || plen >= len)
        return -EINVAL;
    if (colon) {
        const char *d = colon + 1;

        if (!*d || strspn(d, "0123456789") != strlen(d) || strlen(d) > 7)
            return -EINVAL;
        index = strtol(d, NULL, 10);
    }
    memcpy(ret_program, name, plen);
    ret_program[plen] = '\0';
    *ret_index = index;
    return 0;
}

/* The line starting at p (ending in LF or CRLF) within [p, end): its length without the end. */
static const char *
line_end(const char *p, const char *end, size_t *ret_len, const char **ret_next)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));

    if (!nl)
        return NULL;
    *ret_len = (size_t)(nl - p) - (nl > p && nl[-1] == '\r');
    *ret_next = nl + 1;
    return nl;
}

static bool
header_is(const char *line, size_t len, const char *name)
{
    size_t n = strlen(name);

    return len > n && line[n] == ':' && strncasecmp(line, name, n) == 0;
}

int
cli_parse_response(const char *buf, size_t len, int *ret_code, const char **ret_body,
                   size_t *ret_body_len, char *err, size_t errlen)
{
    const char *end = buf + len, *p, *next;
    size_t l;
    long long clen = -1;
    int code;

    if (len < 12 || memcmp(buf, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)buf[7]) ||
        buf[8] != ' ' || !isdigit((unsigned char)buf[9]) || !isdigit((unsigned char)buf[10]) ||
        !isdigit((unsigned char)buf[11])) {
        (void)snprintf(err, errlen, "no HTTP status line");
        return -EPROTO;
    }
    code = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
    if (code < 100 || code > 599 ||
        (len > 12 && buf[12] != ' ' && buf[12] != '\r' && buf[12] != '\n')) {
        (void)snprintf(err, errlen, "bad HTTP status line");
        return -EPROTO;
    }
    if (!line_end(buf, end, &l, &next)) {
        (void)snprintf(err, errlen, "the status line is not terminated");
        return -EPROTO;
    }
    for (p = next;; p = next) {
        if (!line_end(p, end, &l, &next)) {
            (void)snprintf(err, errlen, "the headers are not terminated");
            return -EPROTO;
        }
        if (l == 0)
            break;
        if (!memchr(p, ':', l)) {
            (void)snprintf(err, errlen, "a header line without a colon");
            return -EPROTO;
        }
        if (header_is(p, l, "Transfer-Encoding")) {
            (void)snprintf(err, errlen, "unexpected Transfer-Encoding in an HTTP/1.0 exchange");
            return -EPROTO;
        }
        if (header_is(p, l, "Content-Length")) {
            const char *v = p + strlen("Content-Length:");
            const char *ve = p + l;
            long long n = 0;

            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            if (v == ve || ve - v > 15) {
                (void)snprintf(err, errlen, "bad Content-Length");
                return -EPROTO;
            }
            for (const char *d = v; d < ve; d++) {
                if (!isdigit((unsigned char)*d)) {
                    (void)snprintf(err, errlen, "bad Content-Length");
                    return -EPROTO;
                }
                n = n * 10 + (*d - '0');
            }
            if (clen >= 0 && clen != n) {
                (void)snprintf(err, errlen, "conflicting Content-Length headers");
                return -EPROTO;
            }
            clen = n;
        }
    }
    if (clen >= 0 && (size_t)clen != (size_t)(end - next)) {
        (void)snprintf(err, errlen, "the body has %zu bytes, Content-Length says %lld",
                       (size_t)(end - next), clen);
        return -EPROTO;
    }
    *ret_code = code;
    *ret_body = next;
    *ret_body_len = (size_t)(end - next);
    return 0;
}

char *
cli_format_seconds(double seconds, char *buf, size_t len)
{
    char *dot;
    size_t n;

    if (!isfinite(seconds)) {
        (void)snprintf(buf, len, "?");
        return buf;
    }
    (void)snprintf(buf, len, "%.3f", seconds);
    dot = strchr(buf, '.');
    if (dot) {
        n = strlen(buf);
        while (n > 0 && buf[n - 1] == '0')
            buf[--n] = '\0';
        if (n > 0 && buf[n - 1] == '.')
            buf[--n] = '\0';
    }
    n = strlen(buf);
    if (n + 1 < len) {
        buf[n] = 's';
        buf[n + 1] = '\0';
    }
    return buf;
}

void
cli_response_done(struct cli_response *r)
{
    free(r->raw);
    if (r->peer_pidfd > 0) /* 0 is stdin, and a zeroed response has none */
        (void)close(r->peer_pidfd);
    *r = (struct cli_response){ .peer_pidfd = -1 };
}

/* Waits until fd is ready for events or the deadline passes. 0, -ETIMEDOUT, -EINTR or -errno. */
static int
wait_fd(int fd, short events, int64_t deadline_ms, const sigset_t *mask)
{
    for (;;) {
        int64_t left = deadline_ms - util_now_ms();
        struct pollfd p = { .fd = fd, .events = events };
        int r;

        if (left <= 0)
            return -ETIMEDOUT;
        if (mask) {
            struct timespec ts = { .tv_sec = left / 1000, .tv_nsec = left % 1000 * 1000000 };

            r = ppoll(&p, 1, &ts, mask);
        } else {
            r = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
        }
        if (r > 0)
            return 0; /* POLLERR and POLLHUP too: the next send or recv says what happened */
        if (r < 0 && errno == EINTR && mask)
            return -EINTR;
        if (r < 0 && errno != EINTR)
            return -errno;
    }
}

/* connect(), bounded by the deadline even when the daemon's listen backlog is full. */
static int
connect_bounded(int fd, const struct sockaddr_un *sa, int64_t deadline_ms)
{
    for (;;) {
        int64_t left = deadline_ms - util_now_ms();
        struct timeval tv;

        if (left <= 0)
            return -ETIMEDOUT;
        tv = (struct timeval){ .tv_sec = left / 1000, .tv_usec = left % 1000 * 1000 };
        /* A blocking AF_UNIX connect waits for backlog room at most SO_SNDTIMEO. */
        if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
            return -errno;
        if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
            return 0;
        if (errno == EAGAIN || errno == EINPROGRESS)
            return -ETIMEDOUT;
        if (errno != EINTR)
            return -errno;
    }
}

static int
send_all(int fd, const char *p, size_t n, int64_t deadline_ms, const sigset_t *mask)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        int r;

        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EPIPE)
            return -ECONNRESET;
        if (w < 0 && errno != EAGAIN && errno != EINTR)
            return -errno;
        r = wait_fd(fd, POLLOUT, deadline_ms, mask);
        if (r < 0)
            return r;
    }
    return 0;
}

/* Reads to EOF into *buf (NUL-terminated). */
static int
recv_all(int fd, size_t max, int64_t deadline_ms, const sigset_t *mask, char **ret_buf,
         size_t *ret_len)
{
    size_t len = 0, cap = 16384;
    char *buf = malloc(cap), *p;
    int r;

    if (!buf)
        return -ENOMEM;
    for (;;) {
        ssize_t got;

        if (cap - len < 2) {
            /* up to max + 2: room for one byte too many (the sign) and the NUL */
            size_t ncap = cap > (max + 2) / 2 ? max + 2 : cap * 2;

            if (ncap <= cap) {
                free(buf);
                return -EFBIG;
            }
            cap = ncap;
            p = realloc(buf, cap);
            if (!p) {
                free(buf);
                return -ENOMEM;
            }
            buf = p;
        }
        got = recv(fd, buf + len, cap - len - 1, 0);
        if (got > 0) {
            len += (size_t)got;
            if (len > max) {
                free(buf);
                return -EFBIG;
            }
            continue;
        }
        if (got == 0 || (errno == ECONNRESET && len > 0))
            break; /* a reset after an answer: the answer's own checks decide */
        if (errno != EAGAIN && errno != EINTR) {
            r = -errno;
            free(buf);
            return r;
        }
        r = wait_fd(fd, POLLIN, deadline_ms, mask);
        if (r < 0) {
            free(buf);
            return r;
        }
    }
    if (len == 0) {
        free(buf);
        return -ECONNRESET;
    }
    buf[len] = '\0';
    *ret_buf = buf;
    *ret_len = len;
    return 0;
}

static void
describe(int r, const char *path, int timeout_ms, size_t max, const char *detail, char *err,
         size_t errlen)
{
    char secs[32];

    switch (r) {
    case -ETIMEDOUT:
        (void)snprintf(err, errlen, "the daemon at %s did not answer within %s", path,
                       cli_format_seconds(timeout_ms / 1000.0, secs, sizeof(secs)));
        break;
    case -ECONNRESET:
        (void)snprintf(err, errlen,
                       "the daemon at %s closed the connection without answering (is it "
                       "shutting down?)",
                       path);
        break;
    case -EPERM:
        if (*detail) { /* a refusal of ours: not drover's directory, or not drover's socket */
            (void)snprintf(err, errlen, "%s", detail);
            break;
        }
        /* fall through */
    case -EACCES:
        (void)snprintf(err, errlen,
                       "cannot reach the daemon at %s: permission denied (the socket is mode "
                       "0600: run as the daemon's user)",
                       path);
        break;
    case -EPROTO:
        (void)snprintf(err, errlen, "malformed answer from the daemon at %s: %s", path, detail);
        break;
    case -EFBIG:
        (void)snprintf(err, errlen, "the answer from the daemon at %s exceeds %zu bytes", path,
                       max);
        break;
    case -EINTR:
        (void)snprintf(err, errlen, "interrupted");
        break;
    case -ENOMEM:
        (void)snprintf(err, errlen, "out of memory");
        break;
    default:
        (void)snprintf(err, errlen,
                       "cannot reach the daemon at %s: %s (is drover running? see "
                       "--control)",
                       path, strerror(-r));
        break;
    }
}

/*
 * Before connecting: a socket directly in drover's runtime directory is
 * only as private as that directory. A missing one is left to connect()
 * (ENOENT: nobody runs there). -EPERM with the reason in detail.
 */
static int
check_dir(const char *path, char *detail, size_t len)
{
    char dir[PATH_MAX];
    int r;

    if (!rundir_path(dir, sizeof(dir)) || !runpath_holds(dir, path))
        return 0;
    r = rundir_check(dir, detail, len);
    return r == -ENOENT ? 0 : r < 0 ? -EPERM : 0;
}

/*
 * After connecting: whoever listens must be us or root. Anyone may bind a
 * socket at a path we can reach, and answer as drover would (a "healthy"
 * that is a lie). -EPERM with the reason in detail.
 */
static int
check_peer(int fd, const char *path, pid_t *ret_pid, char *detail, size_t len)
{
    struct ucred cred;
    socklen_t n = sizeof(cred);
    uid_t euid = geteuid();

    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &n) < 0)
        return -errno;
    *ret_pid = cred.pid;
    if (cred.uid == euid || cred.uid == 0)
        return 0;
    (void)snprintf(detail, len,
                   "the control socket %s is served by uid %lu (pid %ld), not by you or root: "
                   "refusing to talk to it",
                   path, (unsigned long)cred.uid, (long)cred.pid);
    return -EPERM;
}

bool
cli_unreachable(int r)
{
    return r < 0 && r != -EPROTO && r != -EFBIG && r != -EINTR && r != -ENOMEM;
}

int
cli_request(const char *path, const char *method, const char *target,
            const struct cli_request_opts *opts, struct cli_response *ret, char *err, size_t errlen)
{
    int timeout_ms = opts && opts->timeout_ms > 0 ? opts->timeout_ms : CLI_TIMEOUT_MS;
    size_t max = opts && opts->max_bytes ? opts->max_bytes : CLI_RESPONSE_MAX;
    const sigset_t *mask = opts ? opts->wait_mask : NULL;
    int64_t deadline = util_now_ms() + timeout_ms;
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct cli_response res = { .peer_pidfd = -1 };
    char detail[CLI_ERR_MAX] = "", *req = NULL;
    int fd = -1, r, n;
    size_t reqlen;

    if (strlen(path) >= sizeof(sa.sun_path)) {
        (void)snprintf(err, errlen, "the control socket path is too long (at most %zu bytes): %s",
                       sizeof(sa.sun_path) - 1, path);
        return -ENAMETOOLONG;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    reqlen = strlen(method) + strlen(target) + 128;
    req = malloc(reqlen);
    if (!req) {
        r = -ENOMEM;
        goto fail;
    }
    if (opts && opts->body)
        n = snprintf(req, reqlen,
                     "%s %s HTTP/1.0\r\nHost: drover\r\nAccept: application/json\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                     method, target, opts->body_len);
    else
        n = snprintf(req, reqlen,
                     "%s %s HTTP/1.0\r\nHost: drover\r\nAccept: application/json\r\n%s\r\n", method,
                     target, strcmp(method, "POST") == 0 ? "Content-Length: 0\r\n" : "");
    if (n < 0 || (size_t)n >= reqlen) {
        r = -ENOMEM;
        goto fail;
    }
    r = check_dir(path, detail, sizeof(detail));
    if (r < 0)
        goto fail;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        r = -errno;
        goto fail;
    }
    r = connect_bounded(fd, &sa, deadline);
    if (r < 0)
        goto fail;
    r = check_peer(fd, path, &res.peer_pid, detail, sizeof(detail));
    if (r < 0)
        goto fail;
    /* Now, while the daemon is surely alive: a pid looked up after its exit could be reused. */
    if (opts && opts->want_pidfd &&
        (res.peer_pidfd = (int)syscall(SYS_pidfd_open, res.peer_pid, 0)) < 0) {
        r = -errno;
        (void)snprintf(detail, sizeof(detail), "cannot watch the daemon (pid %ld): %s",
                       (long)res.peer_pid, strerror(-r));
        goto fail;
    }
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
        r = -errno;
        goto fail;
    }
    r = send_all(fd, req, (size_t)n, deadline, mask);
    if (r == 0 && opts && opts->body)
        r = send_all(fd, opts->body, opts->body_len, deadline, mask);
    if (r < 0)
        goto fail;
    r = recv_all(fd, max, deadline, mask, &res.raw, &res.raw_len);
    if (r < 0)
        goto fail;
    r = cli_parse_response(res.raw, res.raw_len, &res.code, &res.body, &res.body_len, detail,
                           sizeof(detail));
    if (r < 0)
        goto fail;
    free(req);
    (void)close(fd);
    *ret = res;
    return 0;
fail:
    describe(r, path, timeout_ms, max, detail, err, errlen);
    cli_response_done(&res);
    free(req);
    if (fd >= 0)
        (void)close(fd);
    return r;
}

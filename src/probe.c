/*
 * probe: non-blocking tcp/http/command attempts. See probe.h.
 */
#include "probe.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

/* --- pure parsers ----------------------------------------------------------------------------- */

static int
parse_port(const char *s, size_t n, uint16_t *ret)
{
    unsigned long v = 0;

    if (n == 0 || n > 5)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -EINVAL;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v < 1 || v > 65535)
        return -EINVAL;
    *ret = (uint16_t)v;
    return 0;
}

static int
fill_addr(const char *host, size_t hlen, uint16_t port, struct probe_addr *a)
{
    char h[64];
    struct sockaddr_in *in4 = (struct sockaddr_in *)&a->sa;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a->sa;

    if (hlen == 0 || hlen >= sizeof(h))
        return -EINVAL;
    memcpy(h, host, hlen);
    h[hlen] = '\0';
    memcpy(a->host, h, hlen + 1);
    memset(&a->sa, 0, sizeof(a->sa));
    if (strcmp(h, "localhost") == 0)
        (void)snprintf(h, sizeof(h), "127.0.0.1");
    if (inet_pton(AF_INET, h, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(port);
        a->len = sizeof(*in4);
        return 0;
    }
    if (inet_pton(AF_INET6, h, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        a->len = sizeof(*in6);
        return 0;
    }
    return -EINVAL; /* names other than localhost would need DNS, which could block */
}

/* "HOST:PORT" or "[V6]:PORT" within s[0..n). */
static int
parse_hostport(const char *s, size_t n, uint16_t default_port, struct probe_addr *a)
{
    const char *colon;
    uint16_t port = default_port;

    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close)
            return -EINVAL;
        if ((size_t)(close + 1 - s) < n) {
            if (close[1] != ':' || parse_port(close + 2, n - (size_t)(close + 2 - s), &port) < 0)
                return -EINVAL;
        } else if (!default_port) {
            return -EINVAL;
        }
        return fill_addr(s + 1, (size_t)(close - s - 1), port, a);
    }
    colon = memrchr(s, ':', n);
    if (colon) {
        if (parse_port(colon + 1, n - (size_t)(colon + 1 - s), &port) < 0)
            return -EINVAL;
        n = (size_t)(colon - s);
    } else if (!default_port) {
        return -EINVAL;
    }
    return fill_addr(s, n, port, a);
}

int
probe_parse_tcp(const char *s, struct probe_addr *ret)
{
    struct probe_addr a = { 0 };
    int r = parse_hostport(s, strlen(s), 0, &a);

    if (r < 0)
        return r;
    *ret = a;
    return 0;
}

int
probe_parse_http(const char *s, struct probe_addr *ret)
{
    struct probe_addr a = { 0 };
    const char *hp, *slash;
    size_t plen;
    int r;

    if (strncmp(s, "http://", 7) != 0)
        return -EINVAL;
    hp = s + 7;
    slash = strchr(hp, '/');
    r = parse_hostport(hp, slash ? (size_t)(slash - hp) : strlen(hp), 80, &a);
    if (r < 0)
        return r;
    if (!slash)
        slash = "/";
    plen = strlen(slash);
    if (plen >= sizeof(a.path))
        return -EINVAL;
    for (size_t i = 0; i < plen; i++)
        if ((unsigned char)slash[i] <= ' ' || slash[i] == 0x7f)
            return -EINVAL; /* it goes into a request line */
    memcpy(a.path, slash, plen + 1);
    *ret = a;
    return 0;
}

int
probe_parse_status(const char *line, size_t len)
{
    int code = 0;

    /* "HTTP/1.x NNN" */
    if (len < 12 || strncmp(line, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)line[7]) ||
        line[8] != ' ')
        return -EINVAL;
    for (int i = 9; i < 12; i++) {
        if (!isdigit((unsigned char)line[i]))
            return -EINVAL;
        code = code * 10 + (line[i] - '0');
    }
    if (len > 12 && line[12] != ' ' && line[12] != '\r' && line[12] != '\n')
        return -EINVAL;
    return code >= 100 ? code : -EINVAL;
}

const char *
probe_kind_name(enum probe_kind k)
{
    switch (k) {
    case PROBE_NONE:
        return "none";
    case PROBE_TCP:
        return "tcp";
    case PROBE_HTTP:
        return "http";
    case PROBE_COMMAND:
        return "command";
    case PROBE__MAX:
    case PROBE_INVALID:
        break;
    }
    return "invalid";
}

/* --- attempts --------------------------------------------------------------------------------- */

void
probe_run_init(struct probe_run *run, probe_done_fn done, timer_fn on_deadline)
{
    *run = (struct probe_run){ .src = { .kind = LOOP_PROBE, .fd = -1 }, .done = done };
    timer_init(&run->deadline, on_deadline);
}

static void
finish(struct probe_run *run, struct loop *l, struct timers *ts, bool passed, const char *why)
{
    timer_cancel(ts, &run->deadline);
    if (run->kind != PROBE_COMMAND || run->pid == 0) {
        loop_close(l, &run->src);
        run->busy = false;
    }
    if (!run->reported) {
        run->reported = true;
        if (why && why != run->why)
            (void)snprintf(run->why, sizeof(run->why), "%s", why);
        run->done(run, passed, passed ? NULL : run->why);
    }
}

int
probe_start_net(struct probe_run *run, struct loop *l, struct timers *ts, enum probe_kind kind,
                const struct probe_addr *addr, int64_t timeout_ms)
{
    int fd, r;

    fd = socket(addr->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (const struct sockaddr *)&addr->sa, addr->len) < 0 && errno != EINPROGRESS) {
        r = -errno;
        (void)close(fd);
        return r;
    }
    run->kind = kind;
    run->phase = PROBE_CONNECTING;
    run->busy = true;
    run->reported = false;
    run->len = run->sent = 0;
    run->why[0] = '\0';
    if (kind == PROBE_HTTP)
        run->len = (size_t)snprintf(
            run->buf, sizeof(run->buf),
            "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: drover\r\nConnection: close\r\n\r\n",
            addr->path, addr->host);
    run->src.fd = fd;
    if ((r = loop_add_events(l, &run->src, EPOLLOUT)) < 0) {
        loop_close(l, &run->src);
        run->busy = false;
        return r;
    }
    (void)timer_arm(ts, &run->deadline, util_now_ms() + timeout_ms);
    return 0;
}

int
probe_start_command(struct probe_run *run, struct loop *l, struct timers *ts, pid_t pid, int pidfd,
                    int64_t timeout_ms)
{
    int r;

    run->kind = PROBE_COMMAND;
    run->busy = true;
    run->reported = false;
    run->pid = pid;
    run->why[0] = '\0';
    run->src.fd = pidfd;
    if ((r = loop_add(l, &run->src)) < 0)
        return r; /* still reaped by the SIGCHLD sweep; the deadline fails it */
    (void)timer_arm(ts, &run->deadline, util_now_ms() + timeout_ms);
    return 0;
}

static void
fail_errno(struct probe_run *run, struct loop *l, struct timers *ts, const char *what, int err)
{
    (void)snprintf(run->why, sizeof(run->why), "%s: %s", what, strerror(err));
    finish(run, l, ts, false, run->why);
}

/* One readiness event of a network attempt: connect, then (http) send, then read the status. */
static void
net_ready(struct probe_run *run, struct loop *l, struct timers *ts)
{
    int err = 0;
    socklen_t elen = sizeof(err);
    ssize_t n;

    switch (run->phase) {
    case PROBE_CONNECTING:
        if (getsockopt(run->src.fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
            err = errno;
        if (err) {
            fail_errno(run, l, ts, "connect", err);
            return;
        }
        if (run->kind == PROBE_TCP) {
            finish(run, l, ts, true, NULL);
            return;
        }
        run->phase = PROBE_SENDING;
        __attribute__((fallthrough)); /* the socket is writable now */
    case PROBE_SENDING:
        n = send(run->src.fd, run->buf + run->sent, run->len - run->sent, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN) {
            fail_errno(run, l, ts, "send", errno);
            return;
        }
        if (n > 0)
            run->sent += (size_t)n;
        if (run->sent == run->len) {
            run->phase = PROBE_RECEIVING;
            run->len = 0; /* buf now collects the response */
            (void)loop_mod_events(l, &run->src, EPOLLIN);
        }
        return;
    case PROBE_RECEIVING:
        n = recv(run->src.fd, run->buf + run->len, sizeof(run->buf) - 1 - run->len, 0);
        if (n < 0 && errno == EAGAIN)
            return;
        if (n < 0) {
            fail_errno(run, l, ts, "recv", errno);
            return;
        }
        run->len += (size_t)n;
        char *eol = memchr(run->buf, '\n', run->len);
        if (!eol && n > 0 && run->len < sizeof(run->buf) - 1)
            return; /* the status line is not complete yet */
        int code = probe_parse_status(run->buf, eol ? (size_t)(eol - run->buf) : run->len);
        if (code >= 200 && code < 400) {
            finish(run, l, ts, true, NULL);
            return;
        }
        if (code > 0)
            (void)snprintf(run->why, sizeof(run->why), "HTTP status %d", code);
        else
            (void)snprintf(run->why, sizeof(run->why), "no HTTP status line");
        finish(run, l, ts, false, run->why);
        return;
    }
}

void
probe_reaped(struct probe_run *run, struct loop *l, struct timers *ts, int code, int status)
{
    run->pid = 0;
    if (code == CLD_EXITED && status == 0) {
        finish(run, l, ts, true, NULL);
        return;
    }
    if (code == CLD_EXITED)
        (void)snprintf(run->why, sizeof(run->why), "exited with code %d", status);
    else
        (void)snprintf(run->why, sizeof(run->why), "killed by signal %d", status);
    finish(run, l, ts, false, run->why);
}

void
probe_ready(struct probe_run *run, struct loop *l, struct timers *ts)
{
    if (run->kind == PROBE_COMMAND) {
        siginfo_t info = { 0 };
        if (waitid(P_PIDFD, (id_t)run->src.fd, &info, WEXITED | WNOHANG) < 0 || info.si_pid == 0)
            return; /* reaped by the sweep, which reported it */
        probe_reaped(run, l, ts, info.si_code, info.si_status);
        return;
    }
    net_ready(run, l, ts);
}

void
probe_expired(struct probe_run *run, struct loop *l, struct timers *ts)
{
    (void)snprintf(run->why, sizeof(run->why), "timed out");
    if (run->kind == PROBE_COMMAND && run->pid > 0)
        (void)kill(-run->pid, SIGKILL); /* its own group; reaped later, then the run is idle */
    finish(run, l, ts, false, run->why);
}

void
probe_cancel(struct probe_run *run, struct loop *l, struct timers *ts)
{
    run->reported = true;
    if (run->kind == PROBE_COMMAND && run->pid > 0) {
        (void)kill(-run->pid, SIGKILL);
        timer_cancel(ts, &run->deadline);
        return; /* busy until reaped */
    }
    timer_cancel(ts, &run->deadline);
    loop_close(l, &run->src);
    run->busy = false;
}

/*
 * probe: non-blocking tcp/http/command attempts. See probe.h.
 */
#include "os/probe.h"

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

#include "core/util.h"

/* --- attempts --------------------------------------------------------------------------------- */

void
probe_run_init(struct probe_run *run, probe_done_fn done, timer_fn on_deadline, loop_fn on_ready)
{
    *run =
        (struct probe_run){ .src = loop_source(-1, on_ready, LOOP_PRIO_SUPERVISE), .done = done };
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
    if (kind == PROBE_HTTP) {
        int n = probe_http_request(addr, run->buf, sizeof(run->buf));

        if (n < 0) { /* cannot happen: a path and host within their limits always fit */
            (void)close(fd);
            run->busy = false;
            return n;
        }
        run->len = (size_t)n;
    }
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

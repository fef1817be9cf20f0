/*
 * jobchan: the job channel's socket and connections (jobchan.h).
 */
#include "daemon/jobchan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/util.h"
#include "os/log.h"
#include "os/sockfile.h"

#define JOBCHAN_IN_MIN 8192

static void conn_ready(struct loop_source *src, uint32_t events);

static void
arm_sweep(struct jobchan_server *s, int64_t at_ms)
{
    if (!timer_armed(&s->sweep) || at_ms < s->sweep.deadline_ms)
        (void)timer_arm(s->timers, &s->sweep, at_ms);
}

/*
 * Takes c out of the server and the loop, but frees it only in
 * jobchan_reap(): a callback of this very loop batch (its own read, a
 * frame whose handler closed it, an event queued for it) may still hold it.
 */
static void
conn_retire(struct jobchan_server *s, struct jobchan *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (!c->owner)
        s->npending--;
    loop_close(s->loop, &c->src);
    c->owner = NULL;
    c->prev = NULL;
    c->next = s->dead;
    s->dead = c;
}

void
jobchan_reap(struct jobchan_server *s)
{
    while (s->dead) {
        struct jobchan *c = s->dead;

        s->dead = c->next;
        free(c->in);
        free(c->out);
        free(c);
    }
}

void
jobchan_close(struct jobchan *c, const char *why)
{
    struct jobchan_server *s = c->srv;

    if (why)
        log_debug("job channel of pid %d closed: %s", (int)c->pid, why);
    if (c->src.fd < 0)
        return; /* closed already, waiting for jobchan_reap() */
    if (c->owner && s->ops->closed)
        s->ops->closed(c);
    conn_retire(s, c);
}

/* Writes what is queued; true while c is usable. */
static bool
flush(struct jobchan *c)
{
    struct jobchan_server *s = c->srv;

    while (c->out_off < c->out_len) {
        ssize_t n = send(c->src.fd, c->out + c->out_off, c->out_len - c->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            if (!c->writing && loop_mod_events(s->loop, &c->src, EPOLLIN | EPOLLOUT) == 0)
                c->writing = true;
            return true;
        }
        if (n <= 0)
            return false;
        c->out_off += (size_t)n;
    }
    c->out_off = c->out_len = 0;
    if (c->writing && loop_mod_events(s->loop, &c->src, EPOLLIN) == 0)
        c->writing = false;
    return !c->closing;
}

static int
queue(struct jobchan *c, const void *p, size_t n)
{
    size_t need;

    if (c->out_off && c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    need = c->out_len + n;
    if (need - c->out_off > c->srv->out_max)
        return -ENOBUFS;
    if (need > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 4096;
        uint8_t *q;

        if (c->out_off) { /* room at the front first */
            memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
            c->out_len -= c->out_off;
            c->out_off = 0;
            need = c->out_len + n;
        }
        while (cap < need)
            cap *= 2;
        if (cap > c->out_cap) {
            if (!(q = realloc(c->out, cap)))
                return -ENOMEM;
            c->out = q;
            c->out_cap = cap;
        }
    }
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
    return 0;
}

int
jobchan_send(struct jobchan *c, const char *line, size_t len, const void *body, size_t body_len)
{
    size_t before = c->out_len;
    int r;

    if (c->broken || c->src.fd < 0)
        return -EPIPE;
    if ((r = queue(c, line, len)) == 0 && body && (r = queue(c, body, body_len)) == 0)
        r = queue(c, "\n", 1);
    if (r < 0) {
        c->out_len = before < c->out_off ? c->out_off : before;
        c->broken = true;
        log_warnx("job channel of pid %d: %s; closing it", (int)c->pid,
                  r == -ENOBUFS ? "the worker does not read what drover writes" : strerror(-r));
        arm_sweep(c->srv, 0);
        return r;
    }
    if (!flush(c)) {
        c->broken = true;
        arm_sweep(c->srv, 0);
        return -EPIPE;
    }
    return 0;
}

int
jobchan_sendf(struct jobchan *c, enum jobframe_verb verb, const char *const *kv, size_t nkv,
              const void *body, size_t body_len)
{
    char line[JOBFRAME_LINE_MAX + 1];
    int n = jobframe_format(line, sizeof(line), verb, kv, nkv);

    if (n < 0)
        return n;
    return jobchan_send(c, line, (size_t)n, body, body_len);
}

static void
bye(struct jobchan *c, const char *reason)
{
    const char *kv[] = { "reason", reason };

    (void)jobchan_sendf(c, JOBFRAME_BYE, kv, 2, NULL, 0);
    c->closing = true;
}

/* Frames in c->in; false when c was closed. */
static bool
take_frames(struct jobchan *c)
{
    struct jobchan_server *s = c->srv;
    size_t off = 0;
    bool alive = true;

    int k;

    c->more = false;
    for (k = 0; k < JOBCHAN_READ_BUDGET && alive && !c->closing && !c->broken; k++) {
        static struct jobframe f; /* 4 KiB, off the stack; the loop is one thread and a frame is
                                     used before the next parse */
        char err[160], reason[160];
        size_t used = 0;
        int r =
            jobframe_parse(c->in + off, c->in_len - off, s->max_body, &f, &used, err, sizeof(err));

        if (r == 0)
            break;
        if (r < 0) {
            s->malformed++;
            log_warnx("job channel of %s (pid %d): %s; closing it",
                      c->owner ? "an instance" : "a process", (int)c->pid, err);
            bye(c, err);
            break;
        }
        off += used;
        if (!c->owner) {
            void *owner = NULL;

            reason[0] = '\0';
            if (f.verb != JOBFRAME_HELLO)
                (void)snprintf(reason, sizeof(reason), "the first frame must be HELLO, not %s",
                               jobframe_verb_name(f.verb));
            else
                owner = s->ops->hello(s, c, &f, c->pid, reason, sizeof(reason));
            if (!owner) {
                s->refused++;
                log_warnx("job channel: refused pid %d: %s", (int)c->pid, reason);
                bye(c, reason);
                break;
            }
            c->owner = owner;
            s->npending--;
            continue;
        }
        s->ops->frame(c, &f);
        alive = c->src.fd >= 0;
    }
    if (!alive)
        return false;
    if (off) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
    if (k == JOBCHAN_READ_BUDGET && c->in_len && !c->closing && !c->broken) {
        /* Level-triggered epoll says nothing of bytes already read: the sweep goes on with
           them at once, after what else is ready (one worker cannot hold the loop). */
        c->more = true;
        arm_sweep(s, 0);
    }
    if (c->closing && c->out_len == c->out_off) {
        jobchan_close(c, "BYE sent");
        return false;
    }
    return true;
}

static void
conn_ready(struct loop_source *src, uint32_t events)
{
    struct jobchan *c = container_of(src, struct jobchan, src);
    struct jobchan_server *s = c->srv;

    if (c->broken)
        return; /* the sweep closes it */
    if ((events & EPOLLOUT) && !flush(c)) {
        jobchan_close(c, c->closing ? "BYE sent" : "write failed");
        return;
    }
    if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        return;
    for (;;) {
        size_t want = s->max_body + JOBFRAME_LINE_MAX + 1;
        ssize_t n;

        if (c->in_len == c->in_cap) {
            size_t cap = c->in_cap ? c->in_cap * 2 : JOBCHAN_IN_MIN;
            uint8_t *p;

            if (c->in_cap >= want) { /* a full buffer the parser could not use: cannot be */
                jobchan_close(c, "input buffer full");
                return;
            }
            if (cap > want)
                cap = want;
            if (!(p = realloc(c->in, cap))) {
                jobchan_close(c, "out of memory");
                return;
            }
            c->in = p;
            c->in_cap = cap;
        }
        n = recv(c->src.fd, c->in + c->in_len, c->in_cap - c->in_len, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n <= 0) {
            (void)take_frames(c); /* what came before the EOF counts */
            if (c->src.fd >= 0)
                jobchan_close(c, n == 0 ? "EOF" : strerror(errno));
            return;
        }
        c->in_len += (size_t)n;
        if (!take_frames(c))
            return;
        if (c->closing || c->broken)
            return;
        if (c->in_len == c->in_cap && c->in_cap >= want)
            break; /* the budget stopped it: the rest on the next readiness */
    }
}

static void
sweep_fired(struct timer *t, int64_t now_ms)
{
    struct jobchan_server *s = container_of(t, struct jobchan_server, sweep);
    int64_t next = INT64_MAX;

    for (struct jobchan *c = s->conns, *n; c; c = n) {
        n = c->next;
        if (c->broken) {
            jobchan_close(c, "broken");
            continue;
        }
        if (c->more && !take_frames(c))
            continue; /* closed */
        if (c->more)
            next = now_ms; /* its budget ran out again: the next pass goes on */
        if (!c->owner) {
            if (now_ms >= c->accepted_ms + JOBCHAN_HELLO_MS) {
                log_warnx("job channel: pid %d sent no HELLO within %d ms; closing it", (int)c->pid,
                          JOBCHAN_HELLO_MS);
                jobchan_close(c, NULL);
                continue;
            }
            if (c->accepted_ms + JOBCHAN_HELLO_MS < next)
                next = c->accepted_ms + JOBCHAN_HELLO_MS;
        }
    }
    if (next != INT64_MAX)
        (void)timer_arm(s->timers, &s->sweep, next);
}

static void
listen_ready(struct loop_source *src, uint32_t events)
{
    struct jobchan_server *s = container_of(src, struct jobchan_server, listen);

    (void)events;
    for (int k = 0; k < 16; k++) {
        struct ucred cred = { 0 };
        socklen_t len = sizeof(cred);
        struct jobchan *c;
        int fd = accept4(s->listen.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                log_warn("job channel: accept failed");
            return;
        }
        if (s->npending >= JOBCHAN_MAX_PENDING) {
            log_warnx("job channel: %u connections have not said HELLO yet; refusing another",
                      s->npending);
            (void)close(fd);
            continue;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
            !(c = calloc(1, sizeof(*c)))) {
            (void)close(fd);
            continue;
        }
        c->srv = s;
        c->pid = cred.pid;
        c->accepted_ms = util_now_ms();
        c->src = loop_source(fd, conn_ready, LOOP_PRIO_SUPERVISE);
        if (loop_add(s->loop, &c->src) < 0) {
            (void)close(fd);
            free(c);
            continue;
        }
        c->next = s->conns;
        if (s->conns)
            s->conns->prev = c;
        s->conns = c;
        s->npending++;
        arm_sweep(s, c->accepted_ms + JOBCHAN_HELLO_MS);
    }
}

void
jobchan_allow_others(struct jobchan_server *s)
{
    struct stat st;

    if (!s->path || (stat(s->path, &st) == 0 && (st.st_mode & 0777) == 0666))
        return;
    if (chmod(s->path, 0666) < 0)
        log_error("cannot open the job socket %s to workers of other users", s->path);
    else
        log_info("job socket %s opened to workers of other users (mode 0666; HELLO's token "
                 "and sender check admit them)",
                 s->path);
}

int
jobchan_listen(struct jobchan_server *s, struct loop *loop, struct timers *timers, const char *path,
               bool others, size_t max_body, const struct jobchan_ops *ops, void *arg)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    mode_t old;
    int fd, r;

    *s = (struct jobchan_server){
        .loop = loop, .timers = timers, .ops = ops, .arg = arg, .max_body = max_body
    };
    s->listen = loop_source(-1, listen_ready, LOOP_PRIO_SUPERVISE);
    s->out_max = 4 * max_body + 4 * JOBFRAME_LINE_MAX;
    timer_init(&s->sweep, sweep_fired);
    if (strlen(path) >= sizeof(addr.sun_path)) {
        log_errorx("the job socket path %s is longer than %zu bytes (a socket's limit)", path,
                   sizeof(addr.sun_path) - 1);
        return -ENAMETOOLONG;
    }
    if ((r = sockfile_clear(path, SOCK_STREAM)) < 0) {
        log_errorx("cannot use %s for the job socket: %s", path,
                   r == -EADDRINUSE ? "another program serves it"
                   : r == -EEXIST   ? "a file that is not a socket is there"
                                    : strerror(-r));
        return r;
    }
    memcpy(addr.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        r = -errno;
        log_error("cannot make the job socket");
        return r;
    }
    /* 0600 (or 0666) from the start: no moment in which another mode applies. */
    old = umask(others ? 0111 : 0177);
    r = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
    umask(old);
    if (r < 0 || listen(fd, 128) < 0) {
        r = -errno;
        log_error("cannot listen on the job socket %s", path);
        (void)close(fd);
        return r;
    }
    if (!(s->path = strdup(path))) {
        (void)close(fd);
        (void)unlink(path);
        return -ENOMEM;
    }
    s->listen.fd = fd;
    if ((r = loop_add(loop, &s->listen)) < 0) {
        jobchan_server_done(s);
        return r;
    }
    return 0;
}

void
jobchan_server_done(struct jobchan_server *s)
{
    while (s->conns)
        jobchan_close(s->conns, NULL);
    jobchan_reap(s);
    if (s->timers)
        timer_cancel(s->timers, &s->sweep);
    if (s->listen.fd >= 0)
        loop_close(s->loop, &s->listen);
    if (s->path) {
        (void)unlink(s->path);
        free(s->path);
        s->path = NULL;
    }
}

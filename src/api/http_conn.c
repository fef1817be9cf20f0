/*
 * http_conn: accepting, limiting and watching the HTTP servers' connections. See http_conn.h.
 */
#include "api/http_conn.h"

#include <jansson.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/api.h"
#include "core/util.h"
#include "daemon/supervisor_int.h"
#include "api/http.h"

/* Out of descriptors with the reserve spent: how often to try accepting again. */
#define RETRY_ACCEPT_MS 1000
#define STREAK_QUIET_MS 10000 /* no EMFILE for this long, and an accept that needed no reserve */

enum listen_state {
    LISTEN_ON,     /* accepting */
    LISTEN_FULL,   /* at HTTP_MAX_CONNECTIONS: clients wait in the backlog */
    LISTEN_NO_FDS, /* out of descriptors: clients wait, retried by `retry` */
};

struct http_conns {
    struct http_server *srv;
    struct loop_source listen; /* the listening socket, ours */
    enum listen_state state;
    int reserve_fd;             /* -1: given up, taken back once a descriptor is free */
    bool short_of_fds;          /* a streak of EMFILE is on: logged once */
    int64_t last_emfile_ms;     /* its latest EMFILE: the streak ends STREAK_QUIET_MS after */
    struct timer retry;         /* LISTEN_NO_FDS: accept again */
    int64_t request_timeout_ms; /* 0: no request deadline */
    struct http_link heads;     /* waiting for a head, earliest deadline first */
    struct timer head_timer;    /* armed to the first one's deadline, or a little earlier */
    struct http_link parked;    /* parked long-polls */
    bool stopping;              /* drover stops: nothing parks any more (MHD cannot stop then) */
    unsigned nconns, nparked;
    struct http_conn *free; /* free slots */
    struct http_conn slot[HTTP_MAX_CONNECTIONS];
};

#define CONN_OF(link, member)                                                                      \
    ((struct http_conn *)((char *)(link)-offsetof(struct http_conn, member)))

/* --- lists: a sentinel link, and links that are NULL when on no list ------------------------ */

static void
list_init(struct http_link *head)
{
    head->prev = head->next = head;
}

static bool
list_empty(const struct http_link *head)
{
    return head->next == head;
}

static void
list_append(struct http_link *head, struct http_link *l)
{
    l->prev = head->prev;
    l->next = head;
    head->prev->next = l;
    head->prev = l;
}

static void
list_remove(struct http_link *l)
{
    if (!l->next)
        return;
    l->prev->next = l->next;
    l->next->prev = l->prev;
    l->prev = l->next = NULL;
}

static const char *
server_name(const struct http_conns *st)
{
    return st->srv->kind == HTTP_CONTROL ? "control socket" : "HTTP";
}

/* --- accepting ------------------------------------------------------------------------------ */

static void
listen_set(struct http_conns *st, enum listen_state to)
{
    struct supervisor *sup = st->srv->sup;
    int r;

    if (st->state == to)
        return;
    /* Paused, the socket stays registered with no events: a listening socket has no HUP. */
    r = loop_mod_events(&sup->loop, &st->listen, to == LISTEN_ON ? EPOLLIN : 0);
    if (r < 0) {
        log_warnx("%s: cannot %s accepting connections: %s, retrying in 1 s", server_name(st),
                  to == LISTEN_ON ? "resume" : "pause", strerror(-r));
        (void)timer_arm(&sup->timers, &st->retry, util_now_ms() + RETRY_ACCEPT_MS);
        return;
    }
    st->state = to;
    if (to == LISTEN_NO_FDS)
        (void)timer_arm(&sup->timers, &st->retry, util_now_ms() + RETRY_ACCEPT_MS);
    else
        timer_cancel(&sup->timers, &st->retry);
}

static void
out_of_fds(struct http_conns *st, int err)
{
    st->last_emfile_ms = util_now_ms();
    if (st->short_of_fds)
        return;
    st->short_of_fds = true;
    log_warnx("%s: out of descriptors (%s): the reserve descriptor takes the next connection, "
              "later ones wait until descriptors are free (retried every second)",
              server_name(st), strerror(err));
}

/* The reserve back, if a descriptor is free. Not the end of a streak: that is an accept
 * without the reserve's help (accept_ready), else each operator connection would log twice. */
static void
take_reserve(struct http_conns *st)
{
    if (st->reserve_fd >= 0)
        return;
    st->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (st->reserve_fd >= 0 && st->state == LISTEN_NO_FDS)
        listen_set(st, LISTEN_ON);
}

static void
retry_fired(struct timer *t, int64_t now_ms)
{
    struct http_conns *st = container_of(t, struct http_conns, retry);

    (void)now_ms;
    take_reserve(st);
    listen_set(st, LISTEN_ON); /* still out of descriptors: the next accept pauses again */
}

static void
accept_ready(struct http_conns *st)
{
    bool added = false;

    for (int i = 0; i < HTTP_ACCEPT_BATCH && st->state == LISTEN_ON; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        bool reserve_used = false;
        int fd;

        if (st->nconns >= HTTP_MAX_CONNECTIONS) {
            listen_set(st, LISTEN_FULL); /* until a connection closes: http_conns_run() */
            break;
        }
        fd = accept4(st->listen.fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0 && (errno == EMFILE || errno == ENFILE) && st->reserve_fd >= 0) {
            /* The reserve's descriptor is this connection's: the operator gets in. */
            out_of_fds(st, errno);
            (void)close(st->reserve_fd);
            st->reserve_fd = -1;
            reserve_used = true;
            len = sizeof(ss);
            fd = accept4(st->listen.fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        }
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                out_of_fds(st, errno);
                listen_set(st, LISTEN_NO_FDS);
            } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
                log_debug("%s: accept: %s", server_name(st), strerror(errno));
            }
            break;
        }
        /* Descriptors come and go as spawns are retried: one line pair per streak, not per
         * connection. */
        if (!reserve_used && st->short_of_fds &&
            util_now_ms() - st->last_emfile_ms >= STREAK_QUIET_MS) {
            st->short_of_fds = false;
            log_info("%s: descriptors are available again, accepting connections", server_name(st));
        }
        /* MHD_NO: MHD refused it (the per-address limit, out of memory) and closed it. */
        if (MHD_add_connection(st->srv->mhd, fd, (struct sockaddr *)&ss, len) == MHD_YES)
            added = true;
    }
    if (added)
        http_conns_run(st->srv); /* their requests may be there already */
}

void
http_conns_run(struct http_server *srv)
{
    struct http_conns *st = srv->conns;

    if (!srv->mhd)
        return;
    (void)MHD_run(srv->mhd);
    if (!st)
        return;
    /* A run closes connections: their descriptors may be the reserve's, or room to accept. */
    take_reserve(st);
    if (st->state == LISTEN_FULL && st->nconns < HTTP_MAX_CONNECTIONS)
        listen_set(st, LISTEN_ON);
}

/* --- the request deadline ------------------------------------------------------------------- */

/* From now on c waits for a request (a new connection, or a kept-alive one after an answer). */
static void
head_wait(struct http_conn *c, int64_t now_ms)
{
    struct http_conns *st = c->owner;

    if (!st->request_timeout_ms)
        return;
    list_remove(&c->head_link);
    c->request_due_ms = now_ms + st->request_timeout_ms;
    list_append(&st->heads, &c->head_link); /* one timeout for all: the list stays in order */
    if (!timer_armed(&st->head_timer))      /* room for it is counted in HTTP_TIMERS */
        (void)timer_arm(&st->srv->sup->timers, &st->head_timer, c->request_due_ms);
}

void
http_conn_request_in(struct http_conn *c)
{
    list_remove(&c->head_link); /* the timer stays: at worst it fires once for nothing */
}

static void
heads_due(struct timer *t, int64_t now_ms)
{
    struct http_conns *st = container_of(t, struct http_conns, head_timer);

    while (!list_empty(&st->heads)) {
        struct http_conn *c = CONN_OF(st->heads.next, head_link);

        if (c->request_due_ms > now_ms) {
            (void)timer_arm(&st->srv->sup->timers, &st->head_timer, c->request_due_ms);
            return;
        }
        list_remove(&c->head_link);
        log_debug("%s: closing a connection that sent no complete request within %lld ms",
                  server_name(st), (long long)st->request_timeout_ms);
        /* MHD's epoll sees it, MHD reads EOF and closes the connection; the slot is freed then. */
        (void)shutdown(c->fd, SHUT_RDWR);
    }
}

/* --- parked long-polls ---------------------------------------------------------------------- */

/* Stops watching c's wait; false if it was not parked. Before MHD resumes or closes it. */
static bool
unpark(struct http_conn *c)
{
    struct http_conns *st = c->owner;
    struct supervisor *sup = st->srv->sup;

    if (!c->parked)
        return false;
    loop_del(&sup->loop, &c->peer); /* before MHD can close the socket; sets peer.fd to -1 */
    timer_cancel(&sup->timers, &c->wait_timer);
    list_remove(&c->park_link);
    st->nparked--;
    c->parked = false;
    return true;
}

static void
wake(struct http_conn *c)
{
    if (!unpark(c))
        return;
    c->woken = true;
    MHD_resume_connection(c->mhd);
    c->owner->srv->resumed = true; /* MHD runs it before the loop sleeps: http_before_sleep() */
}

static void
wait_over(struct timer *t, int64_t now_ms)
{
    (void)now_ms;
    wake(CONN_OF(t, wait_timer));
}

int
http_conn_park(struct http_conn *c, int64_t wait_ms)
{
    struct http_conns *st = c->owner;
    struct supervisor *sup = st->srv->sup;
    int r;

    if (st->stopping)
        return -ESHUTDOWN;
    if (st->nparked >= HTTP_MAX_WAITERS)
        return -EBUSY;
    r = timer_arm(&sup->timers, &c->wait_timer, util_now_ms() + wait_ms);
    if (r < 0)
        return r;
    /* EPOLLRDHUP: the client's FIN (EPOLLHUP and EPOLLERR come anyway); never EPOLLIN. */
    c->peer.fd = c->fd;
    r = loop_add_events(&sup->loop, &c->peer, EPOLLRDHUP);
    if (r < 0) {
        c->peer.fd = -1;
        timer_cancel(&sup->timers, &c->wait_timer);
        return r;
    }
    list_append(&st->parked, &c->park_link);
    st->nparked++;
    c->parked = true;
    c->woken = false; /* parked again after a wake that did not end it (http_jobs.c) */
    MHD_suspend_connection(c->mhd);
    return 0;
}

const char *
http_conn_no_wait(const struct http_conn *c)
{
    return c->owner->stopping ? "drover is shutting down" : "too many requests are waiting";
}

void
http_conn_stop_parking(struct http_server *srv)
{
    if (srv->conns)
        srv->conns->stopping = true;
    http_conn_wake_all(srv);
}

void
http_conn_wake_all(struct http_server *srv)
{
    struct http_conns *st = srv->conns;

    while (st && !list_empty(&st->parked))
        wake(CONN_OF(st->parked.next, park_link));
}

void
http_conn_wake_kind(struct http_server *srv, enum http_park_kind kind)
{
    struct http_conns *st = srv->conns;
    struct http_link *l, *n;

    if (!st)
        return;
    for (l = st->parked.next; l != &st->parked; l = n) {
        n = l->next;
        if (CONN_OF(l, park_link)->park_kind == kind)
            wake(CONN_OF(l, park_link));
    }
}

static void
peer_ready(struct http_conn *c)
{
    struct pollfd p = { .fd = c->peer.fd, .events = POLLRDHUP };

    if (!c->parked)
        return;
    /* An event from earlier in this batch may be for the slot's previous connection: ask. */
    if (poll(&p, 1, 0) <= 0 || !(p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
        return;
    log_debug("%s: the client of a parked /events long-poll hung up", server_name(c->owner));
    wake(c);
}

/* The listening socket has connections waiting. */
static void
listen_ready(struct loop_source *src, uint32_t events)
{
    (void)events;
    accept_ready(container_of(src, struct http_conns, listen));
}

/* A parked client's socket: it may have hung up. */
static void
peer_source_ready(struct loop_source *src, uint32_t events)
{
    (void)events;
    peer_ready(container_of(src, struct http_conn, peer));
}

/* --- MHD's callbacks ------------------------------------------------------------------------ */

void
http_conn_notify(void *cls, struct MHD_Connection *mhd, void **socket_context,
                 enum MHD_ConnectionNotificationCode code)
{
    struct http_server *srv = cls;
    struct http_conns *st = srv->conns;
    const union MHD_ConnectionInfo *ci;
    struct http_conn *c;

    switch (code) {
    case MHD_CONNECTION_NOTIFY_STARTED:
        ci = MHD_get_connection_info(mhd, MHD_CONNECTION_INFO_CONNECTION_FD);
        c = st->free;
        if (!c || !ci) {
            /* Cannot happen (MHD's limit is the number of slots): no slot, no service. */
            *socket_context = NULL;
            if (ci)
                (void)shutdown(ci->connect_fd, SHUT_RDWR);
            return;
        }
        st->free = c->next_free;
        *c = (struct http_conn){ .owner = st, .mhd = mhd, .fd = ci->connect_fd };
        c->peer = loop_source(-1, peer_source_ready, LOOP_PRIO_SERVE);
        timer_init(&c->wait_timer, wait_over);
        st->nconns++;
        *socket_context = c;
        head_wait(c, util_now_ms());
        break;
    case MHD_CONNECTION_NOTIFY_CLOSED:
        c = *socket_context;
        if (!c)
            return;
        (void)unpark(c);
        list_remove(&c->head_link);
        free(c->raw_path); /* a request MHD never completed (cut mid-head) */
        c->raw_path = NULL;
        free(c->body);
        c->body = NULL;
        c->body_len = 0;
        c->wants_body = c->body_lost = false;
        free(c->park_id);
        c->park_id = NULL;
        json_decref(c->park_job);
        c->park_job = NULL;
        c->park_lookup = 0;
        c->park_looking = false;
        c->park_kind = HTTP_PARK_EVENTS;
        c->mhd = NULL;
        c->next_free = st->free;
        st->free = c;
        st->nconns--;
        break;
    }
}

/*
 * MHD 0.9.75 stores every query parameter in the connection's pool right
 * after this callback; when the pool runs out it queues a 431 that its
 * parser then forgets (parse_initial_message_line() ignores the failure),
 * and the client waits for an answer until the idle timeout. A target that
 * breaks our limits (api.h) has its query cut off here, so MHD stores
 * nothing and the handler answers 400 or 414 with the reason. uri points
 * into the connection's read buffer, which MHD itself cuts up in place
 * next (NULs at '?', '&' and '='): the byte written is inside the target
 * it has just measured. Within the limits the pool always has room: the
 * read buffer holds at most half of it when the request line is parsed.
 */
static void
drop_query(const char *uri)
{
    char *q = strchr(uri, '?'); /* drops the const on purpose: see above */

    if (q)
        q[1] = '\0';
}

/*
 * A new request on a connection (its request line is in): its context is
 * the connection's slot, with what its raw target shows.
 */
void *
http_conn_uri(void *cls, const char *uri, struct MHD_Connection *mhd)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(mhd, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct http_conn *c = ci ? ci->socket_context : NULL;

    (void)cls;
    if (!c)
        return NULL; /* the handler closes such a connection */
    c->uri_problems = api_uri_check(uri);
    c->head_done = c->woken = false;
    c->body_max = CFG_MAX_BYTES;
    free(c->raw_path);
    /* The answer echoes what was sent, not what MHD's decoding left of it. NULL: echo that. */
    c->raw_path = c->uri_problems & API_URI_PATH_NUL ? strndup(uri, strcspn(uri, "?")) : NULL;
    if (c->uri_problems & (API_URI_TOO_LONG | API_URI_TOO_MANY_PARAMS))
        drop_query(uri);
    return c; /* the request's context: *req_cls in the handler */
}

void
http_conn_completed(void *cls, struct MHD_Connection *mhd, void **req_cls,
                    enum MHD_RequestTerminationCode why)
{
    struct http_conn *c = req_cls ? *req_cls : NULL;

    (void)cls;
    (void)mhd;
    (void)why;
    if (!c)
        return;
    (void)unpark(c); /* MHD is ending it: nothing to resume */
    c->head_done = c->woken = false;
    c->uri_problems = 0;
    free(c->raw_path);
    c->raw_path = NULL;
    free(c->body);
    c->body = NULL;
    c->body_len = 0;
    c->wants_body = c->body_lost = false;
    free(c->park_id); /* what this request waited for: the next one on the connection waits anew */
    c->park_id = NULL;
    json_decref(c->park_job);
    c->park_job = NULL;
    c->park_lookup = 0;
    c->park_looking = false;
    c->park_kind = HTTP_PARK_EVENTS;
    head_wait(c, util_now_ms()); /* kept alive, it waits for the next head; closed, it leaves */
}

/* --- set-up --------------------------------------------------------------------------------- */

int
http_conns_start(struct http_server *srv, int listen_fd, int64_t request_timeout_ms)
{
    struct http_conns *st = calloc(1, sizeof(*st));
    int r;

    if (!st) {
        log_errorx("%s: out of memory", srv->kind == HTTP_CONTROL ? "control socket" : "HTTP");
        (void)close(listen_fd);
        return -ENOMEM;
    }
    st->srv = srv;
    st->listen = loop_source(listen_fd, listen_ready, LOOP_PRIO_SERVE);
    st->state = LISTEN_ON;
    st->request_timeout_ms = request_timeout_ms;
    list_init(&st->heads);
    list_init(&st->parked);
    timer_init(&st->retry, retry_fired);
    timer_init(&st->head_timer, heads_due);
    for (size_t i = HTTP_MAX_CONNECTIONS; i-- > 0;) {
        st->slot[i].next_free = st->free;
        st->free = &st->slot[i];
    }
    st->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (st->reserve_fd < 0) {
        r = -errno;
        log_error("%s: cannot open a reserve descriptor (/dev/null)", server_name(st));
        goto fail;
    }
    r = loop_add(&srv->sup->loop, &st->listen);
    if (r < 0) {
        log_errorx("%s: cannot watch the listening socket: %s", server_name(st), strerror(-r));
        goto fail;
    }
    srv->conns = st;
    return 0;

fail:
    if (st->reserve_fd >= 0)
        (void)close(st->reserve_fd);
    (void)close(listen_fd);
    free(st);
    return r;
}

void
http_conns_free(struct http_server *srv)
{
    struct http_conns *st = srv->conns;
    struct supervisor *sup = srv->sup;

    if (!st)
        return;
    timer_cancel(&sup->timers, &st->retry);
    timer_cancel(&sup->timers, &st->head_timer);
    loop_close(&sup->loop, &st->listen);
    if (st->reserve_fd >= 0)
        (void)close(st->reserve_fd);
    for (size_t i = 0; i < HTTP_MAX_CONNECTIONS; i++)
        free(st->slot[i].raw_path);
    free(st);
    srv->conns = NULL;
}

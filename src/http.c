/*
 * http: the HTTP API, libmicrohttpd wired into drover's one epoll loop.
 *
 * MHD runs in "external" mode with MHD_USE_EPOLL: its own epoll fd is a
 * source in our loop (LOOP_HTTP), its timeouts a timer in our heap, and
 * MHD_run() is called when either fires. So no second thread ever touches
 * supervisor state, and a slow client costs a descriptor, never a stall.
 * Our code is routing and a snapshot of the instances; api.c renders.
 * Connections are bounded (HTTP_MAX_CONNECTIONS, 10 s idle timeout).
 * The same API is served on the control socket (ctl.c), one MHD daemon
 * each; control calls (POST) are allowed there, and over TCP only with
 * the bearer token (--http-token), compared in constant time.
 * A GET /events long-poll is suspended (MHD_suspend_connection) until a
 * change or its deadline; a resumed connection has no socket event to
 * drive it, so the loop runs MHD once more before sleeping.
 */
#include <dirent.h>
#include <errno.h>
#include <sys/resource.h>
#include <unistd.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "ctl.h"
#include "probe.h"
#include "supervisor_int.h"
#include "util.h"

#define HTTP_IDLE_TIMEOUT_S 10

static void
snapshot_one(struct instance *in, int64_t now_ms, int64_t now_ns, struct api_instance *out)
{
    const struct program_cfg *pc = in->prog->cfg;
    int64_t last = liveness_last_beat_ns(in);
    bool beats = pc->heartbeat_timeout_ms > 0 || last > 0;

    if (last < in->spawned_ns)
        last = in->spawned_ns;
    *out = (struct api_instance){
        .program = pc->name,
        .index = in->index,
        .pid = in->pid,
        .port = in->port,
        .state = in->svc.state,
        .want_up = in->svc.want_up,
        .ready = in->ready || (!pc->policy.wait_ready && in->svc.state == SVC_RUNNING),
        .adopted = in->adopted,
        .check_failing = in->check_failing,
        .silent_ms = in->pid && beats ? (now_ns - last) / 1000000 : -1,
        .up_ms = in->pid ? now_ms - in->spawned_ms : -1,
        .restarts = in->svc.restarts,
        .has_exit = in->svc.has_exit,
        .last_exit = in->svc.last_exit,
        .status = in->status,
        .check_failures_total = in->check_failures_total,
        .heartbeat_future_total = in->hb_future_total,
        .default_silence_ms = pc->silence_ms > 0 ? pc->silence_ms : in->sup->cfg.silence_ms,
    };
    memcpy(out->exits, in->exits, sizeof(out->exits));
}

/*
 * Every instance, in config order, into sup->snapshot: one buffer with room
 * for every slot, allocated at the first request and kept (a fresh one per
 * request cost /health a malloc and, at 1,000 instances, brk calls and page
 * faults). Taken once per loop iteration: nothing changes the instances
 * between the requests one MHD_run() answers but a control call, which
 * drops it; under load the copy is shared by every client served in that
 * pass. Returns NULL when out of memory.
 */
static struct api_instance *
snapshot(struct supervisor *sup)
{
    struct api_instance *v = sup->snapshot;
    int64_t now_ms = util_now_ms(), now_ns = util_now_ns();
    size_t k = 0;

    if (v && sup->snapshot_iter == sup->loop_iter)
        return v;
    if (!v) {
        size_t slots = cfg_total_slots(&sup->cfg);
        v = sup->snapshot = calloc(slots ? slots : 1, sizeof(*v));
        if (!v)
            return NULL;
    }
    sup->snapshot_iter = sup->loop_iter;
    for (size_t p = 0; p < sup->nprograms; p++)
        for (unsigned i = 0; i < sup->programs[p].ninstances; i++)
            snapshot_one(&sup->programs[p].instances[i], now_ms, now_ns, &v[k++]);
    return v;
}

/*
 * Queues body (malloc'ed, taken over; NULL: out of memory, a 500) with its
 * content type and one optional extra header.
 */
static enum MHD_Result
respond(struct MHD_Connection *conn, int code, char *body, const char *type, const char *header,
        const char *value)
{
    struct MHD_Response *resp;
    enum MHD_Result r;
    static const char oom[] = "{\"error\":\"out of memory\"}";

    if (body)
        resp = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    else
        resp =
            MHD_create_response_from_buffer(sizeof(oom) - 1, (void *)oom, MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                  body ? type : "application/json");
    (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (header)
        (void)MHD_add_response_header(resp, header, value);
    r = MHD_queue_response(conn, body ? (unsigned)code : MHD_HTTP_INTERNAL_SERVER_ERROR, resp);
    MHD_destroy_response(resp);
    return r;
}

static enum MHD_Result
reply(struct MHD_Connection *conn, int code, char *body)
{
    return respond(conn, code, body, "application/json", NULL, NULL);
}

/* drover's own process figures for /metrics. */
static void
process_figures(struct supervisor *sup, struct metrics_drover *d)
{
    struct rusage ru;
    unsigned long pages = 0, resident = 0;
    FILE *f;
    DIR *dir;

    if (getrusage(RUSAGE_SELF, &ru) == 0)
        d->cpu_seconds = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    f = fopen("/proc/self/statm", "re");
    if (f) {
        if (fscanf(f, "%lu %lu", &pages, &resident) == 2)
            d->rss_bytes = (double)resident * (double)sysconf(_SC_PAGESIZE);
        (void)fclose(f);
    }
    dir = opendir("/proc/self/fd");
    if (dir) {
        for (struct dirent *e; (e = readdir(dir));)
            if (e->d_name[0] != '.')
                d->open_fds++;
        (void)closedir(dir);
        d->open_fds--; /* the directory itself */
    }
    d->start_time = sup->start_unix;
    d->spawn = &sup->spawn_hist;
    d->notify_accepted = sup->notify_accepted;
    d->notify_foreign = sup->notify_foreign;
    d->notify_malformed = sup->notify_malformed;
}

static enum MHD_Result
reply_metrics(struct MHD_Connection *conn, struct supervisor *sup, const struct api_instance *v)
{
    struct metrics_drover d = { 0 };

    process_figures(sup, &d);
    return respond(conn, MHD_HTTP_OK, metrics_render(v, sup->ninstances, &d),
                   "text/plain; version=0.0.4; charset=utf-8", NULL, NULL);
}

static char *
error_body(const char *msg, const char *detail)
{
    json_t *o = json_pack("{s:s, s:s}", "error", msg, "path", detail);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

    json_decref(o);
    return text;
}

/* A /events long-poll suspended until a change or its deadline. */
struct http_waiter {
    struct http_server *srv;
    struct supervisor *sup;
    struct MHD_Connection *conn;
    uint64_t since;
    bool suspended;
    struct timer deadline;
    struct http_waiter *next; /* in sup->waiters while suspended */
};

static int first_call; /* *req_cls before a request has a context of its own */

static void
waiter_unlink(struct http_waiter *w)
{
    for (struct http_waiter **p = &w->sup->waiters; *p; p = &(*p)->next) {
        if (*p == w) {
            *p = w->next;
            break;
        }
    }
    w->next = NULL;
}

/* Wakes w: MHD calls the handler again for it at the next MHD_run, which we schedule now. */
static void
waiter_resume(struct http_waiter *w)
{
    struct supervisor *sup = w->sup;

    if (!w->suspended)
        return;
    w->suspended = false;
    timer_cancel(&sup->timers, &w->deadline);
    waiter_unlink(w);
    MHD_resume_connection(w->conn);
    w->srv->resumed = true; /* served by the next MHD_run, right after this dispatch */
}

static void
waiter_deadline(struct timer *t, int64_t now_ms)
{
    (void)now_ms;
    waiter_resume((struct http_waiter *)((char *)t - offsetof(struct http_waiter, deadline)));
}

void
http_events_changed(struct supervisor *sup)
{
    while (sup->waiters)
        waiter_resume(sup->waiters);
}

/*
 * The events since `since`, and where to continue: after the last one
 * returned; or, with none, at `since` itself (or at the next sequence
 * number for 0 and for a number from the future, e.g. after a restart of
 * drover, so the reader resynchronises).
 */
static enum MHD_Result
answer_events(struct MHD_Connection *conn, struct supervisor *sup, uint64_t since)
{
    const struct event **ev = calloc(EVENTS_RING, sizeof(*ev));
    uint64_t next = sup->events.next_seq;
    struct api_answer a;
    bool gap;
    size_t n;

    if (!ev)
        return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL);
    n = events_since(&sup->events, since, ev, EVENTS_RING, &gap);
    if (n)
        next = ev[n - 1]->seq + 1;
    else if (since && since < next)
        next = since;
    a = api_events(ev, n, next, gap && since != 0); /* 0 asks for whatever is kept: no gap */
    free(ev);
    return reply(conn, a.code, a.body);
}

static enum MHD_Result
handle_events(struct MHD_Connection *conn, struct http_server *srv, void **req_cls)
{
    struct supervisor *sup = srv->sup;
    struct http_waiter *w = *req_cls != &first_call ? *req_cls : NULL;
    struct api_answer bad;
    uint64_t since;
    int64_t wait_ms;
    bool gap;
    const struct event *probe[1];

    if (w) /* resumed: a change came, or the deadline */
        return answer_events(conn, sup, w->since);
    bad = api_events_query(MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "since"),
                           MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "wait"), &since,
                           &wait_ms);
    if (bad.code)
        return reply(conn, bad.code, bad.body);
    if (wait_ms == 0 || events_since(&sup->events, since, probe, 1, &gap) > 0 || gap)
        return answer_events(conn, sup, since);
    /* Nothing new yet: park the connection until a change or the deadline. */
    w = calloc(1, sizeof(*w));
    if (!w)
        return answer_events(conn, sup, since);
    *w = (struct http_waiter){ .srv = srv,
                               .sup = sup,
                               .conn = conn,
                               .since = since,
                               .suspended = true,
                               .next = sup->waiters };
    timer_init(&w->deadline, waiter_deadline);
    if (timer_arm(&sup->timers, &w->deadline, util_now_ms() + wait_ms) < 0) {
        free(w);
        return answer_events(conn, sup, since);
    }
    sup->waiters = w;
    *req_cls = w;
    MHD_suspend_connection(conn);
    log_debug("HTTP: /events long-poll parked at seq %llu for up to %lld ms",
              (unsigned long long)since, (long long)wait_ms);
    return MHD_YES;
}

/* MHD is done with a request: free a long-poll's context. */
static void
request_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                  enum MHD_RequestTerminationCode why)
{
    struct http_waiter *w = req_cls && *req_cls != &first_call ? *req_cls : NULL;

    (void)cls;
    (void)conn;
    (void)why;
    if (!w)
        return;
    if (w->suspended) {
        timer_cancel(&w->sup->timers, &w->deadline);
        waiter_unlink(w);
    }
    free(w);
}

/* X when the query gives none: the program's own default for ?program=P, else the pool's. */
static unsigned
default_max_silent(struct supervisor *sup, const char *program)
{
    struct program *prog = program ? supervisor_find_program(sup, program, strlen(program)) : NULL;

    return prog && prog->cfg->max_silent >= 0 ? (unsigned)prog->cfg->max_silent
                                              : sup->cfg.max_silent;
}

/* T the /health body reports when the query gives none: P's own silence, else the pool's. */
static int64_t
default_silence_ms(struct supervisor *sup, const char *program)
{
    struct program *prog = program ? supervisor_find_program(sup, program, strlen(program)) : NULL;

    return prog && prog->cfg->silence_ms > 0 ? prog->cfg->silence_ms : sup->cfg.silence_ms;
}

static bool
configured(struct supervisor *sup, const char *program)
{
    return supervisor_find_program(sup, program, strlen(program)) != NULL;
}

static enum MHD_Result
reply_no_program(struct MHD_Connection *conn, const char *program)
{
    struct api_answer a =
        api_json(MHD_HTTP_NOT_FOUND,
                 json_pack("{s:s, s:s}", "error", "no such program", "program", program));

    return reply(conn, a.code, a.body);
}

/* Constant time in the length of the secret: a wrong guess takes as long as a near miss. */
static bool
token_matches(const char *given, const char *secret)
{
    size_t n = strlen(secret), m = given ? strlen(given) : 0;
    unsigned char diff = n != m;

    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(secret[i] ^ (i < m ? given[i] : 0));
    return given && diff == 0;
}

static enum MHD_Result
reply_unauthorized(struct MHD_Connection *conn, const char *url)
{
    return respond(
        conn, MHD_HTTP_UNAUTHORIZED,
        error_body("this control call needs the bearer token (Authorization: Bearer ...)", url),
        "application/json", MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"drover\"");
}

/* POST /start/NAME and the rest: allowed on the control socket, over TCP with the token only. */
static enum MHD_Result
handle_control(struct MHD_Connection *conn, struct http_server *srv, const char *url,
               const char *method)
{
    struct supervisor *sup = srv->sup;
    struct ctl_params params;
    struct api_answer a;

    if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
        return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                     error_body("control calls are POST requests", url));
    if (srv->kind != HTTP_CONTROL) {
        const char *auth =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        if (!sup->cfg.http_token)
            return reply(conn, MHD_HTTP_FORBIDDEN,
                         error_body("the HTTP API is read-only: start drover with --http-token "
                                    "to allow control calls over TCP, or use the control socket",
                                    url));
        if (!auth || strncmp(auth, "Bearer ", 7) != 0 ||
            !token_matches(auth + 7, sup->cfg.http_token)) {
            log_warnx("HTTP: refused %s %s without the right bearer token", method, url);
            return reply_unauthorized(conn, url);
        }
    }
    params = (struct ctl_params){
        .signal = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "signal"),
        .instances = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "instances"),
    };
    a = ctl_call(sup, url, &params);
    sup->snapshot_iter = 0; /* the instances may have changed: no reuse */
    if (a.code == 200)
        log_info("%s: %s %s", srv->kind == HTTP_CONTROL ? "control socket" : "HTTP", method, url);
    return reply(conn, a.code, a.body);
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
       const char *version, const char *upload, size_t *upload_size, void **req_cls)
{
    struct http_server *srv = cls;
    struct supervisor *sup = srv->sup;
    struct api_instance *v;
    struct api_answer a;

    (void)version;
    (void)upload;
    if (!*req_cls) {
        *req_cls = &first_call; /* first call is for the headers only */
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0; /* no call takes a body: it is read and dropped */
        return MHD_YES;
    }
    if (ctl_is_call(url))
        return handle_control(conn, srv, url, method);
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, error_body("method not allowed", url));
    if (strcmp(url, "/events") == 0)
        return handle_events(conn, srv, req_cls);
    if (strcmp(url, "/livez") == 0)
        return reply(conn, MHD_HTTP_OK, strdup("{\"alive\":true}"));
    v = snapshot(sup);
    if (!v)
        return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL);
    if (strcmp(url, "/metrics") == 0) {
        return reply_metrics(conn, sup, v);
    }
    if (strcmp(url, "/health") == 0) {
        const char *program = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "program");
        if (program && !configured(sup, program))
            return reply_no_program(conn, program);
        a = api_health(v, sup->ninstances,
                       MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "max_silent"),
                       MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "silence"), program,
                       default_max_silent(sup, program), default_silence_ms(sup, program));
    } else if (strcmp(url, "/readyz") == 0) {
        a = api_readyz(v, sup->ninstances, sup->started);
    } else if (strcmp(url, "/status") == 0) {
        a = api_status(v, sup->ninstances, NULL);
    } else if (strncmp(url, "/status/", 8) == 0 && url[8]) {
        if (!configured(sup, url + 8))
            return reply_no_program(conn, url + 8);
        a = api_status(v, sup->ninstances, url + 8);
    } else {
        a = (struct api_answer){ .code = MHD_HTTP_NOT_FOUND,
                                 .body = error_body("no such endpoint", url) };
    }
    return reply(conn, a.code, a.body);
}

/* One MHD daemon in our loop: on a port (listen_fd -1) or on a listening socket we made. */
static int
serve(struct http_server *srv, const struct probe_addr *addr, int listen_fd)
{
    const union MHD_DaemonInfo *info;
    unsigned flags = MHD_USE_EPOLL | MHD_USE_TURBO | MHD_ALLOW_SUSPEND_RESUME;

    if (addr && addr->sa.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (listen_fd >= 0)
        srv->mhd =
            MHD_start_daemon(flags, 0, NULL, NULL, handle, srv, MHD_OPTION_LISTEN_SOCKET, listen_fd,
                             MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_MAX_CONNECTIONS,
                             MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_IDLE_TIMEOUT_S,
                             MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768,
                             MHD_OPTION_NOTIFY_COMPLETED, request_completed, NULL, MHD_OPTION_END);
    else
        srv->mhd = MHD_start_daemon(
            flags, ntohs(((const struct sockaddr_in *)&addr->sa)->sin_port), NULL, NULL, handle,
            srv, MHD_OPTION_SOCK_ADDR, &addr->sa, MHD_OPTION_CONNECTION_LIMIT,
            (unsigned)HTTP_MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
            (unsigned)HTTP_IDLE_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768,
            MHD_OPTION_NOTIFY_COMPLETED, request_completed, NULL, MHD_OPTION_END);
    if (!srv->mhd)
        return -EADDRINUSE;
    info = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    srv->src.fd = info ? info->epoll_fd : -1;
    if (srv->src.fd < 0 || loop_add(&srv->sup->loop, &srv->src) < 0) {
        log_errorx("cannot watch the HTTP server's descriptors");
        return -EIO;
    }
    return 0;
}

int
http_start(struct supervisor *sup, const char *where)
{
    struct probe_addr addr;

    if (probe_parse_tcp(where, &addr) < 0) {
        log_errorx("--http %s: expected ADDR:PORT with a numeric address (such as 127.0.0.1:8080)",
                   where);
        return -EINVAL;
    }
    if (serve(&sup->http[HTTP_TCP], &addr, -1) < 0) {
        if (!sup->http[HTTP_TCP].mhd)
            log_errorx("cannot serve HTTP on %s (address in use, or not ours to bind)", where);
        return -EADDRINUSE;
    }
    log_info("serving HTTP on %s: /health /livez /readyz /status /metrics /events%s", where,
             sup->cfg.http_token ? ", control calls with the bearer token" : " (read-only)");
    return 0;
}

int
http_start_control(struct supervisor *sup, int fd)
{
    if (serve(&sup->http[HTTP_CONTROL], NULL, fd) < 0) {
        if (!sup->http[HTTP_CONTROL].mhd) {
            log_errorx("cannot serve the control socket");
            (void)close(fd);
        }
        return -EIO;
    }
    return 0;
}

static void
http_timer_fired(struct timer *t, int64_t now_ms)
{
    (void)now_ms;
    http_ready((struct http_server *)((char *)t - offsetof(struct http_server, timer)));
}

void
http_init(struct supervisor *sup)
{
    for (int k = 0; k < HTTP__MAX; k++) {
        struct http_server *srv = &sup->http[k];
        *srv = (struct http_server){ .sup = sup, .kind = (enum http_kind)k };
        srv->src = (struct loop_source){ .kind = LOOP_HTTP, .fd = -1 };
        timer_init(&srv->timer, http_timer_fired);
    }
}

static unsigned
connections(struct http_server *srv)
{
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);

    return info ? info->num_connections : 0;
}

void
http_ready(struct http_server *srv)
{
    bool was_full;

    if (!srv->mhd)
        return;
    /*
     * At the connection limit MHD takes its listening socket out of its
     * epoll set, and puts it back at the start of a later MHD_run() once
     * closed connections were cleaned up (at the end of a run). With no
     * further event that later run would never come, and new clients would
     * wait in the backlog for good: so run once more when room was made.
     */
    was_full = connections(srv) >= HTTP_MAX_CONNECTIONS;
    (void)MHD_run(srv->mhd);
    if (was_full && connections(srv) < HTTP_MAX_CONNECTIONS)
        (void)MHD_run(srv->mhd);
}

/* Before the loop sleeps: MHD's next own deadline (idle connections) goes into our heap. */
void
http_before_sleep(struct supervisor *sup)
{
    for (int k = 0; k < HTTP__MAX; k++) {
        struct http_server *srv = &sup->http[k];
        MHD_UNSIGNED_LONG_LONG ms;

        if (!srv->mhd)
            continue;
        if (srv->resumed) {
            /* Not from inside a supervision callback (a restart must not wait for HTTP work). */
            srv->resumed = false;
            (void)timer_arm(&sup->timers, &srv->timer, util_now_ms());
        } else if (MHD_get_timeout(srv->mhd, &ms) == MHD_YES) {
            (void)timer_arm(&sup->timers, &srv->timer, util_now_ms() + (int64_t)ms);
        } else {
            timer_cancel(&sup->timers, &srv->timer);
        }
    }
}

void
http_stop(struct supervisor *sup)
{
    http_events_changed(sup); /* MHD refuses to stop with suspended connections */
    sup->snapshot_iter = 0;   /* outside the loop: whatever is answered now sees the end state */
    for (int k = 0; k < HTTP__MAX; k++) {
        struct http_server *srv = &sup->http[k];

        if (!srv->mhd)
            continue;
        (void)MHD_run(srv->mhd); /* answers still queued (a shutdown call's) go out */
        srv->src.fd = -1;        /* MHD owns and closes its epoll fd */
        MHD_stop_daemon(srv->mhd);
        srv->mhd = NULL;
    }
}

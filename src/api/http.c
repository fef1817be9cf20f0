/*
 * http: the HTTP API, libmicrohttpd wired into drover's one epoll loop.
 *
 * MHD runs in "external" mode with MHD_USE_EPOLL: its own epoll fd is a
 * source in our loop, its timeouts a timer in our heap, and
 * MHD_run() is called when either fires. So no second thread ever touches
 * supervisor state, and a slow client costs a descriptor, never a stall.
 * Our code is routing and a snapshot of the instances; api.c renders.
 * The sockets under it (accepting, the reserve descriptor, the limits,
 * the request deadline, watching parked clients) are http_conn.c's; each
 * connection's slot there is the request's context (*req_cls).
 * The same API is served on the control socket (control.c), one MHD daemon
 * each; control calls (POST) are allowed there, and over TCP only with
 * the bearer token (--http-token), compared in constant time, checked
 * before anything else about the request.
 * A request is checked before it is routed: the limits of its target
 * (seen raw, before MHD decodes it: http_conn_uri()), an encoded NUL, a
 * path or a parameter that is not valid UTF-8; each gets a 400 (or 414)
 * that says what is wrong. Text from the request that an answer or a log
 * line repeats is escaped.
 * A GET /events long-poll is suspended (MHD_suspend_connection) until a
 * change or its deadline; a resumed connection has no socket event to
 * drive it, so the loop runs MHD once more before sleeping.
 */
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/api.h"
#include "core/probe_spec.h"
#include "core/utf8.h"
#include "core/util.h"
#include "daemon/supervisor.h"
#include "daemon/capture.h"
#include "daemon/jobscale.h"
#include "daemon/liveness.h"
#include "daemon/redisstore.h"
#include "daemon/supervisor_int.h"
#include "api/control.h"
#include "api/http.h"
#include "api/http_conn.h"
#include "api/http_jobs.h"

#define HTTP_IDLE_TIMEOUT_S 10
/*
 * Per connection: the request head and the parameters MHD stores (64
 * bytes each). The request target limits (api.h) are what this always has
 * room for; a longer head gets MHD's own 431.
 */
#define HTTP_POOL_BYTES ((size_t)32768)

static void
snapshot_one(struct instance *in, int64_t now_ms, int64_t now_ns, struct api_instance *out)
{
    const struct program_cfg *pc = in->prog->cfg;
    int64_t last = liveness_last_beat_ns(in, now_ns);
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
        /* A beat seen after now_ns was read is no silence: 0, never the -1 of "not beating". */
        .silent_ms = in->pid && beats ? (now_ns > last ? (now_ns - last) / 1000000 : 0) : -1,
        .up_ms = in->pid ? now_ms - in->spawned_ms : -1,
        .restarts = in->svc.restarts,
        .has_exit = in->svc.has_exit,
        .last_exit = in->svc.last_exit,
        .status = in->status,
        .waiting_for = in->svc.state == SVC_WAITING ? in->prog->waiting_for : NULL,
        .check_failures_total = in->check_failures_total,
        .heartbeat_future_total = in->hb_future_total,
        .memory_max = pc->memory_max,
        /* A sample is of the process that runs: none shown once it is gone. */
        .memory_samples = in->pid ? in->mem.samples : 0,
        .memory_bytes = in->mem.bytes,
        .memory_restarts = in->memory_restarts,
        .default_silence_ms = pc->silence_ms > 0 ? pc->silence_ms : in->sup->cfg.silence_ms,
    };
    memcpy(out->exits, in->exits, sizeof(out->exits));
    struct capture_counts cc;
    capture_counts(in, &cc);
    out->output_lines_total = cc.lines;
    out->output_dropped_total = cc.dropped;
    struct jobs_instance_figures jf;
    jobs_instance_figures(in, util_unix_ms(), &jf);
    out->takes_jobs = jf.takes_jobs;
    out->jobs_held = jf.held;
    out->njobs_held = jf.nheld;
    out->idle_ms = jf.idle_ms;
    out->last_job_ms = jf.last_job_ms;
    out->jobs_done = jf.done;
    out->jobs_failed = jf.failed;
    out->pings_passed = jf.pings_passed;
    out->pings_failed = jf.pings_failed;
}

/*
 * Every instance, in config order, into sup->api->snapshot: one buffer with room
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
    struct api_instance *v = sup->api->snapshot;
    int64_t now_ms = util_now_ms(), now_ns = util_now_ns();
    size_t k = 0;

    if (v && sup->api->snapshot_iter == sup->loop_iter)
        return v;
    if (!v || sup->api->snapshot_cap < sup->pool.ninstances) {
        size_t cap = sup->pool.ninstances > 16 ? sup->pool.ninstances : 16;
        free(v);
        v = sup->api->snapshot = calloc(cap, sizeof(*v));
        sup->api->snapshot_cap = v ? cap : 0;
        if (!v)
            return NULL;
    }
    sup->api->snapshot_iter = sup->loop_iter;
    for (size_t p = 0; p < sup->pool.nprograms; p++)
        for (unsigned i = 0; i < sup->pool.programs[p]->ninstances; i++)
            snapshot_one(&sup->pool.programs[p]->instances[i], now_ms, now_ns, &v[k++]);
    return v;
}

/* A body drover could not build (api_json() got NULL): the caller cannot say why. */
static const char unbuilt[] = "{\"error\":\"internal error: drover could not build this answer\"}";
static const char oom[] = "{\"error\":\"out of memory\"}";

/* Queues resp (taken) as code with its headers. */
static enum MHD_Result
queue(struct MHD_Connection *conn, unsigned code, struct MHD_Response *resp, const char *type,
      const char *header, const char *value)
{
    enum MHD_Result r;

    if (!resp)
        return MHD_NO;
    (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (header)
        (void)MHD_add_response_header(resp, header, value);
    r = MHD_queue_response(conn, code, resp);
    MHD_destroy_response(resp);
    return r;
}

/* A persistent JSON body. */
static enum MHD_Result
reply_static(struct MHD_Connection *conn, unsigned code, const char *json)
{
    return queue(
        conn, code,
        MHD_create_response_from_buffer(strlen(json), (void *)json, MHD_RESPMEM_PERSISTENT),
        "application/json", NULL, NULL);
}

/*
 * Queues body (malloc'ed, taken over; NULL: a 500 saying the answer could
 * not be built) with its content type and one optional extra header.
 */
static enum MHD_Result
respond(struct MHD_Connection *conn, int code, char *body, const char *type, const char *header,
        const char *value)
{
    struct MHD_Response *resp;

    if (!body)
        return reply_static(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, unbuilt);
    resp = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!resp)
        free(body);
    return queue(conn, (unsigned)code, resp, type, header, value);
}

static enum MHD_Result
reply(struct MHD_Connection *conn, int code, char *body)
{
    return respond(conn, code, body, "application/json", NULL, NULL);
}

enum MHD_Result
http_reply_answer(struct MHD_Connection *conn, struct api_answer a)
{
    return reply(conn, a.code, a.body);
}

/* 500 "out of memory", for the places that know it is that. */
static enum MHD_Result
reply_oom(struct MHD_Connection *conn)
{
    return reply_static(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, oom);
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
    d->hooks_started = sup->hooks.started;
    d->hooks_failed = sup->hooks.failed;
    d->hooks_timed_out = sup->hooks.timed_out;
    d->hooks_dropped = sup->hooks.dropped;
    d->hooks_running = (unsigned)sup->hooks.nrunning;
    d->hooks_queued = (unsigned)sup->hooks.nqueued;
}

static enum MHD_Result
reply_metrics(struct MHD_Connection *conn, struct supervisor *sup, const struct api_instance *v)
{
    struct metrics_drover d = { 0 };
    struct metrics_job_type *jt = NULL;
    struct metrics_autoscale *as = NULL;
    size_t nt = jobs_ntypes(sup);
    char *text;

    process_figures(sup, &d);
    if (jobs_enabled(sup)) {
        if (!(jt = calloc(nt ? nt : 1, sizeof(*jt))))
            return reply_oom(conn);
        for (size_t t = 0; t < nt; t++)
            jobs_metrics(sup, t, util_unix_ms(), &jt[t]);
        d.job_types = jt;
        d.njob_types = nt;
        jobs_channel_counters(sup, &d.job_frames_malformed, &d.job_hellos_refused);
        if (!(as = calloc(sup->pool.nprograms ? sup->pool.nprograms : 1, sizeof(*as)))) {
            free(jt);
            return reply_oom(conn);
        }
        for (size_t p = 0; p < sup->pool.nprograms; p++) {
            struct jobscale_figures f;

            jobscale_figures(sup->pool.programs[p], &f);
            if (f.enabled)
                as[d.nautoscale++] = (struct metrics_autoscale){
                    .program = sup->pool.programs[p]->cfg->name,
                    .desired = f.desired,
                    .ups = f.ups,
                    .downs = f.downs,
                };
        }
        d.autoscale = as;
        {
            struct redisstore_figures rf;

            if (jobs_redis_figures(sup, &rf))
                d.redis = (struct metrics_redis){
                    .given = true,
                    .up = rf.up,
                    .joined = rf.joined,
                    .rtt_s = rf.rtt_s,
                    .waiting_updates = rf.transitions,
                    .bad_jobs = rf.bad_jobs,
                    .requeued = rf.requeued,
                    .reconnects = rf.reconnects,
                };
        }
    }
    text = metrics_render(v, sup->pool.ninstances, &d);
    free(jt);
    free(as);
    return respond(conn, MHD_HTTP_OK, text, "text/plain; version=0.0.4; charset=utf-8", NULL, NULL);
}

/* {"error": msg, "path": url}, the path escaped. */
static enum MHD_Result
reply_error(struct MHD_Connection *conn, int code, const char *msg, const char *url)
{
    return http_reply_answer(conn, api_error(code, msg, "path", url));
}

/* s for a log line: invalid bytes and control characters as \xHH (one line, whatever was sent). */
static const char *
loggable(const char *s, char *buf, size_t size)
{
    (void)utf8_escape(s, strlen(s), buf, size, UTF8_ESCAPE_CONTROLS);
    return buf;
}

const char *
http_param(struct MHD_Connection *conn, const char *name, struct api_answer *bad)
{
    const char *value = NULL;
    size_t len = 0;
    struct api_answer a;

    if (MHD_lookup_connection_value_n(conn, MHD_GET_ARGUMENT_KIND, name, strlen(name), &value,
                                      &len) != MHD_YES ||
        !value)
        return NULL;
    a = api_check_param(name, value, len);
    if (a.code == 0)
        return value;
    if (bad->code == 0)
        *bad = a;
    else
        free(a.body);
    return NULL;
}

/* Resumes every parked long-poll: they answer with what is new, or with nothing at the end. */
static void
wake_long_polls(struct supervisor *sup)
{
    for (int k = 0; k < HTTP__MAX; k++)
        http_conn_wake_kind(&sup->api->server[k], HTTP_PARK_EVENTS);
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
        return reply_oom(conn);
    n = events_since(&sup->events, since, ev, EVENTS_RING, &gap);
    if (n)
        next = ev[n - 1]->seq + 1;
    else if (since && since < next)
        next = since;
    a = api_events(ev, n, next, gap && since != 0); /* 0 asks for whatever is kept: no gap */
    free(ev);
    return http_reply_answer(conn, a);
}

static enum MHD_Result
handle_events(struct MHD_Connection *conn, struct http_server *srv, struct http_conn *c)
{
    struct supervisor *sup = srv->sup;
    struct api_answer bad = { 0 };
    const char *since_s = http_param(conn, "since", &bad), *wait_s = http_param(conn, "wait", &bad);
    uint64_t since;
    int64_t wait_ms;
    bool gap;
    const struct event *probe[1];
    int r;

    if (bad.code)
        return http_reply_answer(conn, bad);
    bad = api_events_query(since_s, wait_s, &since, &wait_ms);
    if (bad.code)
        return http_reply_answer(conn, bad);
    if (wait_ms == 0 || events_since(&sup->events, since, probe, 1, &gap) > 0 || gap)
        return answer_events(conn, sup, since);
    /* Nothing new yet: park the connection until a change, the deadline or a hang-up. */
    c->since = since;
    r = http_conn_park(c, wait_ms);
    if (r < 0) {
        /* At the cap (or unwatchable): answer now; a long-poll client asks again anyway. */
        log_debug("HTTP: /events long-poll answered at once: %s",
                  r == -EBUSY ? "the most that may wait are waiting" : strerror(-r));
        return answer_events(conn, sup, since);
    }
    log_debug("HTTP: /events long-poll parked at seq %llu for up to %lld ms",
              (unsigned long long)since, (long long)wait_ms);
    return MHD_YES;
}

/* X when the query gives none: the program's own default for ?program=P, else the pool's. */
static unsigned
default_max_silent(struct supervisor *sup, const char *program)
{
    struct program *prog = program ? pool_find_program(&sup->pool, program, strlen(program)) : NULL;

    return prog && prog->cfg->max_silent >= 0 ? (unsigned)prog->cfg->max_silent
                                              : sup->cfg.max_silent;
}

/* T the /health body reports when the query gives none: P's own silence, else the pool's. */
static int64_t
default_silence_ms(struct supervisor *sup, const char *program)
{
    struct program *prog = program ? pool_find_program(&sup->pool, program, strlen(program)) : NULL;

    return prog && prog->cfg->silence_ms > 0 ? prog->cfg->silence_ms : sup->cfg.silence_ms;
}

static bool
configured(struct supervisor *sup, const char *program)
{
    return pool_find_program(&sup->pool, program, strlen(program)) != NULL;
}

static enum MHD_Result
reply_no_program(struct MHD_Connection *conn, const char *program)
{
    return http_reply_answer(conn,
                             api_error(MHD_HTTP_NOT_FOUND, "no such program", "program", program));
}

static enum MHD_Result
handle_health(struct MHD_Connection *conn, struct supervisor *sup, const struct api_instance *v)
{
    struct api_answer bad = { 0 };
    const char *program = http_param(conn, "program", &bad);
    const char *max_silent = http_param(conn, "max_silent", &bad);
    const char *silence = http_param(conn, "silence", &bad);

    if (bad.code)
        return http_reply_answer(conn, bad);
    if (program && !configured(sup, program))
        return reply_no_program(conn, program);
    return http_reply_answer(conn, api_health(v, sup->pool.ninstances, max_silent, silence, program,
                                              default_max_silent(sup, program),
                                              default_silence_ms(sup, program)));
}

/*
 * GET /logs/NAME, NAME a program or program:index: the captured lines kept
 * (capture.c's rings), merged in the order they were read.
 */
static enum MHD_Result
handle_logs(struct MHD_Connection *conn, struct supervisor *sup, const char *name)
{
    struct api_answer bad = { 0 };
    const char *lines_s = http_param(conn, "lines", &bad),
               *stream_s = http_param(conn, "stream", &bad);
    const char *since_s = http_param(conn, "since", &bad);
    const char *colon = strrchr(name, ':');
    size_t name_len = colon ? (size_t)(colon - name) : strlen(name);
    struct capture_line *lines = NULL;
    struct api_log_line *out = NULL;
    struct program *prog;
    uint64_t since, next;
    unsigned mask;
    size_t max;
    long index = -1;
    ssize_t n;

    if (bad.code)
        return http_reply_answer(conn, bad);
    bad = api_logs_query(lines_s, stream_s, since_s, &max, &mask, &since);
    if (bad.code)
        return http_reply_answer(conn, bad);
    if (colon) {
        char *end;
        if (!colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
            strlen(colon + 1) > 6)
            return http_reply_answer(
                conn,
                api_error(MHD_HTTP_BAD_REQUEST, "expected PROGRAM or PROGRAM:INDEX", "name", name));
        index = strtol(colon + 1, &end, 10);
    }
    prog = pool_find_program(&sup->pool, name, name_len);
    if (!prog)
        return http_reply_answer(conn,
                                 api_error(MHD_HTTP_NOT_FOUND, "no such program", "name", name));
    if (index >= 0 && (unsigned long)index >= prog->ninstances)
        return http_reply_answer(conn,
                                 api_error(MHD_HTTP_NOT_FOUND, "no such instance", "name", name));
    n = capture_lines(prog, index, mask, max, since, &lines, &next);
    if (n < 0)
        return reply_oom(conn);
    out = calloc(n ? (size_t)n : 1, sizeof(*out));
    if (!out) {
        free(lines);
        return reply_oom(conn);
    }
    for (ssize_t i = 0; i < n; i++)
        out[i] = (struct api_log_line){ .seq = lines[i].seq,
                                        .unix_ms = lines[i].unix_ms,
                                        .text = lines[i].text,
                                        .len = lines[i].len,
                                        .instance = lines[i].index,
                                        .stream = lines[i].stream,
                                        .cut = lines[i].cut };
    bad = api_logs(prog->cfg->name, out, (size_t)n, next);
    free(out);
    free(lines);
    return http_reply_answer(conn, bad);
}

/* The control socket, or the right token over TCP: what authorized() lets through. */
static bool
may_call(struct MHD_Connection *conn, struct http_server *srv)
{
    const char *auth;

    if (srv->kind == HTTP_CONTROL)
        return true;
    if (!srv->sup->cfg.http_token)
        return false;
    auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    return auth && strncmp(auth, "Bearer ", 7) == 0 &&
           util_secret_equal(auth + 7, srv->sup->cfg.http_token); /* constant time */
}

/*
 * A configuration's body (or a job's), kept up to one byte past
 * c->body_max: enough for its parser to say it is too large, no more.
 */
static void
keep_body(struct http_conn *c, const char *data, size_t n)
{
    size_t room = c->body_max + 1 - c->body_len;
    char *p;

    if (c->body_lost || room == 0)
        return;
    if (n > room)
        n = room;
    p = realloc(c->body, c->body_len + n + 1);
    if (!p) {
        free(c->body);
        c->body = NULL;
        c->body_len = 0;
        c->body_lost = true;
        return;
    }
    memcpy(p + c->body_len, data, n);
    c->body = p;
    c->body_len += n;
    c->body[c->body_len] = '\0';
}

/*
 * Over TCP a control call needs the token, checked before anything else
 * about the request. False with the 403 or 401 queued (its MHD result in
 * *ret); true when the call may go on.
 */
static bool
authorized(struct MHD_Connection *conn, struct http_server *srv, const char *url,
           const char *method, enum MHD_Result *ret)
{
    struct supervisor *sup = srv->sup;
    const char *auth;
    char shown[256], shown_method[64];

    if (srv->kind == HTTP_CONTROL)
        return true; /* the socket's mode is the authorisation */
    if (!sup->cfg.http_token) {
        *ret = reply_error(conn, MHD_HTTP_FORBIDDEN,
                           "the HTTP API is read-only: start drover with --http-token "
                           "to allow control calls and /logs over TCP, or use the control socket",
                           url);
        return false;
    }
    auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (auth && strncmp(auth, "Bearer ", 7) == 0 &&
        util_secret_equal(auth + 7, sup->cfg.http_token))
        return true;
    log_warnx("HTTP: refused %s %s without the right bearer token",
              loggable(method, shown_method, sizeof(shown_method)),
              loggable(url, shown, sizeof(shown)));
    *ret = respond(conn, MHD_HTTP_UNAUTHORIZED,
                   api_error(MHD_HTTP_UNAUTHORIZED,
                             "this call needs the bearer token (Authorization: Bearer ...)", "path",
                             url)
                       .body,
                   "application/json", MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"drover\"");
    return false;
}

/* POST /start/NAME and the rest (the caller checked the token over TCP). */
static enum MHD_Result
handle_control(struct MHD_Connection *conn, struct http_server *srv, struct http_conn *c,
               const char *url, const char *method)
{
    struct supervisor *sup = srv->sup;
    struct api_answer bad = { 0 };
    struct control_params params;
    struct api_answer a;
    char shown[256];

    if (strcmp(method, control_method(url)) != 0)
        return reply_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                           strcmp(control_method(url), "PUT") == 0
                               ? "PUT /config takes the new configuration"
                               : "control calls are POST requests",
                           url);
    params = (struct control_params){
        .signal = http_param(conn, "signal", &bad),
        .instances = http_param(conn, "instances", &bad),
        .dry_run = http_param(conn, "dry_run", &bad),
        .source = http_param(conn, "source", &bad),
        .body = c->body,
        .body_len = c->body_len,
        .body_lost = c->body_lost,
    };
    if (bad.code)
        return http_reply_answer(conn, bad);
    a = control_call(sup, url, &params);
    sup->api->snapshot_iter = 0; /* the instances may have changed: no reuse */
    if (a.code == 200)
        log_info("%s: %s %s", srv->kind == HTTP_CONTROL ? "control socket" : "HTTP", method,
                 loggable(url, shown, sizeof(shown)));
    return http_reply_answer(conn, a);
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
       const char *version, const char *upload, size_t *upload_size, void **req_cls)
{
    struct http_server *srv = cls;
    struct supervisor *sup = srv->sup;
    struct http_conn *c = *req_cls;
    struct api_instance *v;
    struct api_answer a;
    enum MHD_Result r;
    bool control;

    (void)version;
    if (!c)
        return MHD_NO; /* no slot (see http_conn_notify()): close it */
    if (!c->head_done) {
        c->head_done = true; /* the first call is for the head only */
        /* Kept only for a caller who may make the call: nobody else makes drover hold 1 MiB. */
        c->wants_body = control_takes_body(url) && may_call(conn, srv);
        if (http_jobs_takes_body(srv, c, url, method))
            c->wants_body = may_call(conn, srv); /* body_max set by http_jobs_takes_body() */
        return MHD_YES;
    }
    if (*upload_size) {
        if (c->wants_body)
            keep_body(c, upload, *upload_size);
        *upload_size =
            0; /* other calls take no body: it is read and dropped, within the deadline */
        return MHD_YES;
    }
    /* Head and body are in: a body trickled byte by byte must not hold the slot either. */
    http_conn_request_in(c);
    if (c->woken && c->park_kind != HTTP_PARK_EVENTS)
        return http_jobs_woken(conn, srv, c);
    if (c->woken) /* a parked long-poll: a change came, or its deadline, or its client left */
        return answer_events(conn, sup, c->since);
    control = control_is_call(url);
    if (control && !authorized(conn, srv, url, method, &r))
        return r;
    if (c->uri_problems)
        return http_reply_answer(conn,
                                 api_uri_answer(c->uri_problems, c->raw_path ? c->raw_path : url));
    a = api_check_path(url);
    if (a.code)
        return http_reply_answer(conn, a);
    if (control)
        return handle_control(conn, srv, c, url, method);
    if (http_jobs_route(url)) {
        /* Submitting and changing jobs are calls: the token over TCP, as control calls. */
        if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0 &&
            !authorized(conn, srv, url, method, &r))
            return r;
        return http_jobs_handle(conn, srv, c, url, method);
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return reply_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed", url);
    if (strcmp(url, "/events") == 0)
        return handle_events(conn, srv, c);
    if (strcmp(url, "/livez") == 0)
        return reply(conn, MHD_HTTP_OK, strdup("{\"alive\":true}"));
    if (strncmp(url, "/logs/", 6) == 0 && url[6]) {
        /* Output may hold what a worker should not have printed: the token, as for control. */
        if (!authorized(conn, srv, url, method, &r))
            return r;
        return handle_logs(conn, sup, url + 6);
    }
    v = snapshot(sup);
    if (!v)
        return reply_oom(conn);
    if (strcmp(url, "/metrics") == 0)
        return reply_metrics(conn, sup, v);
    if (strcmp(url, "/health") == 0)
        return handle_health(conn, sup, v);
    if (strcmp(url, "/readyz") == 0) {
        a = api_readyz(v, sup->pool.ninstances, sup->started, jobs_store_down(sup));
    } else if (strcmp(url, "/status") == 0) {
        a = api_status(v, sup->pool.ninstances, NULL);
    } else if (strncmp(url, "/status/", 8) == 0 && url[8]) {
        if (!configured(sup, url + 8))
            return reply_no_program(conn, url + 8);
        a = api_status(v, sup->pool.ninstances, url + 8);
    } else {
        return reply_error(conn, MHD_HTTP_NOT_FOUND, "no such endpoint", url);
    }
    return http_reply_answer(conn, a);
}

/*
 * One MHD daemon in our loop, on listen_fd (taken over), which we accept
 * on (http_conn.c). Over TCP: a request deadline and a per-address limit.
 */
static int
serve(struct http_server *srv, int listen_fd)
{
    const union MHD_DaemonInfo *info;
    bool tcp = srv->kind == HTTP_TCP;
    unsigned flags =
        MHD_USE_EPOLL | MHD_USE_TURBO | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_NO_LISTEN_SOCKET;
    int r;

    srv->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, handle, srv, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)HTTP_MAX_CONNECTIONS, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        tcp ? (unsigned)HTTP_MAX_PER_ADDRESS : 0u, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)HTTP_IDLE_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT, HTTP_POOL_BYTES,
        MHD_OPTION_NOTIFY_CONNECTION, http_conn_notify, srv, MHD_OPTION_URI_LOG_CALLBACK,
        http_conn_uri, srv, MHD_OPTION_NOTIFY_COMPLETED, http_conn_completed, srv, MHD_OPTION_END);
    if (!srv->mhd) {
        (void)close(listen_fd);
        log_errorx("%s: cannot start libmicrohttpd", tcp ? "HTTP" : "control socket");
        return -EIO;
    }
    info = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    srv->src.fd = info ? info->epoll_fd : -1;
    if (srv->src.fd < 0 || loop_add(&srv->sup->loop, &srv->src) < 0) {
        (void)close(listen_fd);
        log_errorx("cannot watch the HTTP server's descriptors");
        return -EIO;
    }
    r = http_conns_start(srv, listen_fd, tcp ? HTTP_REQUEST_TIMEOUT_MS : 0);
    return r < 0 ? r : 0;
}

/* A listening TCP socket on addr, as MHD would make it (SO_REUSEADDR, IPv6 only). -errno. */
static int
tcp_listen(const struct probe_addr *addr, int *ret_fd)
{
    int fd = socket(addr->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int on = 1, r;

    if (fd < 0)
        return -errno;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0 ||
        (addr->sa.ss_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) < 0) ||
        bind(fd, (const struct sockaddr *)&addr->sa, addr->len) < 0 || listen(fd, SOMAXCONN) < 0) {
        r = -errno;
        (void)close(fd);
        return r;
    }
    *ret_fd = fd;
    return 0;
}

static int
http_start(struct supervisor *sup, const char *where)
{
    struct probe_addr addr;
    int fd = -1, r;

    if (probe_parse_tcp(where, &addr) < 0) {
        log_errorx("--http %s: expected ADDR:PORT with a numeric address (such as 127.0.0.1:8080)",
                   where);
        return -EINVAL;
    }
    r = tcp_listen(&addr, &fd);
    if (r < 0) {
        log_errorx("cannot serve HTTP on %s: %s (address in use, or not ours to bind)", where,
                   strerror(-r));
        return -EADDRINUSE;
    }
    if (serve(&sup->api->server[HTTP_TCP], fd) < 0)
        return -EIO;
    log_info("serving HTTP on %s: /health /livez /readyz /status /metrics /events /logs%s%s", where,
             jobs_enabled(sup) ? " /jobs /queues" : "",
             sup->cfg.http_token ? ", control calls with the bearer token" : " (read-only)");
    return 0;
}

static int
http_start_control(struct supervisor *sup, int fd)
{
    return serve(&sup->api->server[HTTP_CONTROL], fd) < 0 ? -EIO : 0;
}

/* MHD's epoll fd: connections to serve. */
static void
mhd_ready(struct loop_source *src, uint32_t events)
{
    (void)events;
    http_conns_run(container_of(src, struct http_server, src));
}

static void
http_timer_fired(struct timer *t, int64_t now_ms)
{
    (void)now_ms;
    http_conns_run(container_of(t, struct http_server, timer));
}

/*
 * Before the loop sleeps: long-polls learn of the events added in this pass
 * (never from inside the state change that added them), and MHD's next own
 * deadline (idle connections) goes into our heap.
 */
static void
before_sleep(struct loop_hook *hook)
{
    struct http_api *api = container_of(hook, struct http_api, before_sleep);
    struct supervisor *sup = api->sup;

    if (api->woken_seq != sup->events.next_seq) {
        api->woken_seq = sup->events.next_seq;
        wake_long_polls(sup);
    }
    if (api->woken_jobs != sup->jobs_change) {
        api->woken_jobs = sup->jobs_change;
        for (int k = 0; k < HTTP__MAX; k++) {
            http_conn_wake_kind(&sup->api->server[k], HTTP_PARK_JOB);
            http_conn_wake_kind(&sup->api->server[k], HTTP_PARK_JOB_EVENTS);
        }
    }
    if (api->woken_synced != sup->jobs_synced) { /* a sync or a journal failure */
        api->woken_synced = sup->jobs_synced;
        for (int k = 0; k < HTTP__MAX; k++)
            http_conn_wake_kind(&sup->api->server[k], HTTP_PARK_JOB_SYNC);
    }
    for (int k = 0; k < HTTP__MAX; k++) {
        struct http_server *srv = &sup->api->server[k];
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

static void
http_stop(struct supervisor *sup)
{
    sup->api->snapshot_iter = 0; /* outside the loop: whatever is answered now sees the end state */
    for (int k = 0; k < HTTP__MAX; k++) {
        struct http_server *srv = &sup->api->server[k];

        if (!srv->mhd)
            continue;
        /* Every long-poll (events, jobs, lookups) answers now and parks no more: MHD aborts
           the process in MHD_stop_daemon() while a connection is suspended. */
        http_conn_stop_parking(srv);
        (void)MHD_run(srv->mhd); /* answers still queued (a shutdown call's) go out */
        timer_cancel(&sup->timers, &srv->timer);
        srv->src.fd = -1; /* MHD owns and closes its epoll fd */
        MHD_stop_daemon(srv->mhd);
        srv->mhd = NULL;
        http_conns_free(srv);
    }
}

int
http_attach(struct supervisor *sup)
{
    struct http_api *api = calloc(1, sizeof(*api));

    if (!api)
        return -ENOMEM;
    api->sup = sup;
    api->ctl_lock_fd = -1;
    api->woken_seq = sup->events.next_seq;
    for (int k = 0; k < HTTP__MAX; k++) {
        struct http_server *srv = &api->server[k];

        *srv = (struct http_server){ .sup = sup, .kind = (enum http_kind)k };
        srv->src = loop_source(-1, mhd_ready, LOOP_PRIO_SERVE);
        timer_init(&srv->timer, http_timer_fired);
    }
    loop_add_before_sleep(&sup->loop, &api->before_sleep, before_sleep);
    sup->api = api;
    return 0;
}

/* The control socket (--control), first in start-up: in use means another drover runs. */
static int
open_control(struct supervisor *sup)
{
    int fd;

    if (!sup->cfg.control)
        return 0;
    if ((fd = control_listen(sup->cfg.control, &sup->api->ctl_lock_fd)) < 0)
        return fd;
    sup->api->ctl_path = sup->cfg.control;
    if (http_start_control(sup, fd) < 0)
        return -EIO;
    log_info("control socket %s (mode 0600)", sup->api->ctl_path);
    return 0;
}

static int
open_http(struct supervisor *sup)
{
    return sup->cfg.http ? http_start(sup, sup->cfg.http) : 0;
}

static void
close_all(struct supervisor *sup)
{
    struct http_api *api = sup->api;

    if (!api)
        return;
    http_stop(sup);
    if (api->ctl_path)
        control_unlisten(api->ctl_path, api->ctl_lock_fd);
    free(api->snapshot);
    free(api);
    sup->api = NULL;
}

const struct supervisor_surfaces http_surfaces = {
    .open_control = open_control,
    .open_http = open_http,
    .close = close_all,
};

/*
 * http_jobs: the jobs endpoints (http_jobs.h).
 */
#include "api/http_jobs.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/api.h"
#include "core/api_jobs.h"
#include "core/herojob.h"
#include "core/jobevents.h"
#include "core/util.h"
#include "os/log.h"
#include "daemon/jobs.h"
#include "daemon/jobscale.h"
#include "daemon/supervisor_int.h"
#include "api/http.h"
#include "api/http_conn.h"

#define JOBS_LIST_DEFAULT 100

bool
http_jobs_route(const char *url)
{
    return strcmp(url, "/jobs") == 0 || strncmp(url, "/jobs/", 6) == 0 ||
           strcmp(url, "/queues") == 0;
}

bool
http_jobs_takes_body(struct http_server *srv, struct http_conn *c, const char *url,
                     const char *method)
{
    if (strcmp(url, "/jobs") != 0 || strcmp(method, MHD_HTTP_METHOD_POST) != 0 ||
        !jobs_enabled(srv->sup))
        return false;
    /* base64 and JSON escapes make a payload's text larger than its bytes: room for both. */
    c->body_max = (size_t)srv->sup->cfg.jobs.max_payload * 6 + 64 * 1024;
    return true;
}

static enum MHD_Result
send_job(struct MHD_Connection *conn, struct supervisor *sup, int code, const struct jobrec *r)
{
    return http_reply_answer(conn,
                             api_json(code, jobrec_to_json(r, jobs_type_name(sup, r), false)));
}

/* The client of a parked connection hung up (its wait need not go on). */
static bool
hung_up(const struct http_conn *c)
{
    struct pollfd p = { .fd = c->fd, .events = POLLRDHUP };

    return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* Parks c on job id for wait_ms; false when it cannot wait (answer now). */
static bool
park_job(struct http_conn *c, const char *id, int64_t wait_ms, int code)
{
    free(c->park_id);
    if (!(c->park_id = strdup(id)))
        return false;
    c->park_kind = HTTP_PARK_JOB;
    c->park_code = code;
    c->park_until_ms = util_now_ms() + wait_ms;
    if (http_conn_park(c, wait_ms) < 0) {
        free(c->park_id);
        c->park_id = NULL;
        c->park_kind = HTTP_PARK_EVENTS;
        return false;
    }
    return true;
}

/* A job answer at the end of a wait: 200 finished (or code), 202 not yet. */
static enum MHD_Result
answer_wait(struct MHD_Connection *conn, struct supervisor *sup, const char *id, int code)
{
    struct jobrec *r = jobs_find(sup, id);

    if (!r)
        return http_reply_answer(
            conn, api_error(404, "no such job (removed while waited for)", "id", id));
    return send_job(conn, sup, job_state_terminal(r->q.sm.state) ? code : 202, r);
}

static enum MHD_Result
answer_job_events(struct MHD_Connection *conn, struct supervisor *sup, uint64_t since)
{
    return http_reply_answer(conn, api_job_events(jobs_events(sup), since));
}

#define SYNC_WAIT_MS 60000 /* a submit's journal line not on disk after this: 503 */

/*
 * The answer to an accepted submit (code 201 new, 200 the same id) once its
 * journal line is on disk: the job, or with ?wait its end (parked on it).
 */
static enum MHD_Result
answer_submitted(struct MHD_Connection *conn, struct supervisor *sup, struct http_conn *c,
                 struct jobrec *r, int code, int64_t wait_ms)
{
    if (wait_ms > 0 && !job_state_terminal(r->q.sm.state) && park_job(c, r->q.id, wait_ms, 200))
        return MHD_YES;
    if (wait_ms > 0)
        return send_job(conn, sup, job_state_terminal(r->q.sm.state) ? 200 : 202, r);
    return send_job(conn, sup, code, r);
}

static enum MHD_Result
not_on_disk(struct MHD_Connection *conn, const char *id, const char *why)
{
    char msg[1024];

    (void)snprintf(msg, sizeof(msg),
                   "the job was accepted but is not on disk (%s): it runs, but may be lost if "
                   "drover stops; submit again with this id to learn its state",
                   why);
    return http_reply_answer(conn, api_error(503, msg, "id", id));
}

/*
 * After jobs_submit(): with the file store, the answer waits until the
 * job's journal line is on disk (JOBS.md §6.7), parked, never blocking the loop.
 */
static enum MHD_Result
answer_when_durable(struct MHD_Connection *conn, struct supervisor *sup, struct http_conn *c,
                    struct jobrec *r, int code, int64_t wait_ms)
{
    uint64_t seq = jobs_journal_seq(sup);
    const char *err;
    int w = jobs_journal_wait(sup, seq, &err);

    if (w > 0)
        return answer_submitted(conn, sup, c, r, code, wait_ms);
    if (w < 0)
        return not_on_disk(conn, r->q.id, err);
    free(c->park_id);
    if (!(c->park_id = strdup(r->q.id)))
        return not_on_disk(conn, r->q.id, "out of memory");
    c->park_kind = HTTP_PARK_JOB_SYNC;
    c->since = seq;
    c->park_code = code;
    c->park_wait_ms = wait_ms;
    c->park_until_ms = util_now_ms() + SYNC_WAIT_MS;
    if (http_conn_park(c, SYNC_WAIT_MS) == 0)
        return MHD_YES;
    c->park_kind = HTTP_PARK_EVENTS;
    return not_on_disk(conn, r->q.id, http_conn_no_wait(c));
}

static enum MHD_Result
not_stored(struct MHD_Connection *conn, const char *id, const char *why)
{
    char msg[1024];

    (void)snprintf(msg, sizeof(msg), "the job store (Redis) did not store the job: %s", why);
    return http_reply_answer(conn, api_error(503, msg, "id", id));
}

static enum MHD_Result look_up(struct MHD_Connection *conn, struct supervisor *sup,
                               struct http_conn *c, const char *id, int64_t wait_ms);

/* The redis store answered ticket: the job as submitted with its code, or the conflict. */
static enum MHD_Result
answer_stored(struct MHD_Connection *conn, struct supervisor *sup, struct http_conn *c,
              uint64_t ticket)
{
    int code = jobs_stored_code(sup, ticket, 201);
    json_t *job = c->park_job;

    c->park_job = NULL;
    if (code == 409) {
        json_decref(job);
        return http_reply_answer(
            conn, api_error(409, "a job with this id and another payload or type exists", "id",
                            c->park_id));
    }
    if (c->park_wait_ms > 0) { /* POST ?wait: the job's end, wherever it runs */
        json_decref(job);
        return look_up(conn, sup, c, c->park_id, c->park_wait_ms);
    }
    if (code == 200) /* that job was there: its state is the server's, not this copy's */
        json_object_del(job, "state");
    return http_reply_answer(conn, api_json(code, job));
}

/*
 * With the redis store the job is the server's: the answer waits until it
 * wrote it (parked, never blocking the loop), and is this copy of it.
 */
static enum MHD_Result
answer_when_stored(struct MHD_Connection *conn, struct supervisor *sup, struct http_conn *c,
                   struct jobrec *r, int64_t wait_ms)
{
    uint64_t ticket = jobs_journal_seq(sup);
    const char *err;
    int w;

    json_decref(c->park_job);
    c->park_job = jobrec_to_json(r, jobs_type_name(sup, r), false);
    free(c->park_id);
    c->park_id = strdup(r->q.id);
    c->park_wait_ms = wait_ms;
    jobrec_free(r);
    if (!c->park_job || !c->park_id)
        return http_reply_answer(conn, api_error(500, "out of memory", NULL, NULL));
    w = jobs_journal_wait(sup, ticket, &err);
    if (w > 0)
        return answer_stored(conn, sup, c, ticket);
    if (w < 0)
        return not_stored(conn, c->park_id, err);
    c->park_kind = HTTP_PARK_JOB_SYNC;
    c->since = ticket;
    c->park_until_ms = util_now_ms() + SYNC_WAIT_MS;
    if (http_conn_park(c, SYNC_WAIT_MS) == 0)
        return MHD_YES;
    c->park_kind = HTTP_PARK_EVENTS;
    return not_stored(conn, c->park_id, http_conn_no_wait(c));
}

/*
 * The redis store read the hash of a job held elsewhere: it (200; 202 when
 * a ?wait ended before the job did), 404, or why not (503).
 */
static enum MHD_Result
answer_looked_up(struct MHD_Connection *conn, const char *id, int w, const struct herojob_field *f,
                 size_t n, const char *err, bool waited)
{
    char msg[1024];

    if (w > 0 && n == 0)
        return http_reply_answer(conn, api_error(404, "no such job", "id", id));
    if (w > 0)
        return http_reply_answer(
            conn, api_json(waited && !herojob_ended(f, n) ? 202 : 200, herojob_to_json(id, f, n)));
    (void)snprintf(msg, sizeof(msg), "the job store (Redis) could not be read: %s",
                   w < 0 ? err : "the server did not answer within 60 s");
    return http_reply_answer(conn, api_error(503, msg, "id", id));
}

/* How often a ?wait on a job held elsewhere reads its hash again. */
#define REREAD_MS 100

/* c waits on its lookup (parked): until the read's answer, or the next read. */
static bool
lookup_park(struct http_conn *c, int64_t until_ms)
{
    int64_t left = until_ms - util_now_ms();

    c->park_kind = HTTP_PARK_JOB_SYNC;
    c->park_looking = true;
    if (http_conn_park(c, left > 0 ? left : 0) == 0)
        return true;
    c->park_kind = HTTP_PARK_EVENTS;
    c->park_looking = false;
    c->park_lookup = 0;
    return false;
}

/* A read of the hash of c->park_id goes out: c waits for its answer. false: answer now. */
static bool
lookup_send(struct supervisor *sup, struct http_conn *c, const char **ret_err)
{
    if (jobs_lookup(sup, c->park_id, &c->park_lookup, ret_err) < 0)
        return false;
    c->park_read_until_ms = util_now_ms() + SYNC_WAIT_MS;
    if (lookup_park(c, c->park_read_until_ms))
        return true;
    *ret_err = http_conn_no_wait(c);
    return false;
}

/*
 * GET /jobs/ID with the redis store, of a job this node does not hold: its
 * hash, once the server answered (parked like a submit, never blocking).
 * wait_ms > 0 (GET ?wait, POST ?wait): read again every REREAD_MS until the
 * job ended or the wait is over.
 */
static enum MHD_Result
look_up(struct MHD_Connection *conn, struct supervisor *sup, struct http_conn *c, const char *id,
        int64_t wait_ms)
{
    const char *err = NULL;

    if (c->park_id != id) {
        free(c->park_id);
        if (!(c->park_id = strdup(id)))
            return http_reply_answer(conn, api_error(500, "out of memory", NULL, NULL));
    }
    c->park_wait_ms = wait_ms > 0 ? wait_ms : 0;
    c->park_until_ms = util_now_ms() + c->park_wait_ms;
    if (lookup_send(sup, c, &err))
        return MHD_YES;
    return answer_looked_up(conn, c->park_id, -1, NULL, 0, err, false);
}

/* A lookup parked was woken: its read answered, lost, out of time, or not yet; or read again. */
static enum MHD_Result
lookup_woken(struct MHD_Connection *conn, struct supervisor *sup, struct http_conn *c)
{
    int64_t now = util_now_ms(), left = c->park_until_ms - now;
    const struct herojob_field *f = NULL;
    const char *err = NULL;
    size_t n = 0;
    int w;

    if (!c->park_lookup) { /* between two reads of a ?wait */
        if (now < c->park_reread_ms && left > 0 && !hung_up(c) &&
            lookup_park(c, c->park_reread_ms < c->park_until_ms ? c->park_reread_ms
                                                                : c->park_until_ms))
            return MHD_YES;
        if (!hung_up(c) && lookup_send(sup, c, &err))
            return MHD_YES;
        c->park_kind = HTTP_PARK_EVENTS;
        c->park_looking = false;
        return answer_looked_up(conn, c->park_id, -1, NULL, 0, err ? err : "the client went away",
                                false);
    }
    w = jobs_looked_up(sup, c->park_lookup, &f, &n, &err);
    if (w == 0 && now < c->park_read_until_ms && !hung_up(c) &&
        lookup_park(c, c->park_read_until_ms))
        return MHD_YES;
    if (w > 0 && n > 0 && c->park_wait_ms > 0 && !herojob_ended(f, n) && left > 0 && !hung_up(c)) {
        c->park_lookup = 0; /* not ended yet: the next read in a while */
        c->park_reread_ms = now + REREAD_MS;
        if (lookup_park(c, c->park_reread_ms < c->park_until_ms ? c->park_reread_ms
                                                                : c->park_until_ms))
            return MHD_YES;
    }
    c->park_kind = HTTP_PARK_EVENTS;
    c->park_lookup = 0;
    c->park_looking = false;
    if (w == 0 && now < c->park_read_until_ms) {
        err = http_conn_no_wait(c);
        w = -1;
    }
    return answer_looked_up(conn, c->park_id, w, f, n, err, c->park_wait_ms > 0);
}

/* A submit parked on its sync was woken: on disk now, failed, out of time, or not yet. */
static enum MHD_Result
sync_woken(struct MHD_Connection *conn, struct supervisor *sup, struct http_conn *c)
{
    int64_t left = c->park_until_ms - util_now_ms();
    const char *err;
    int w;
    struct jobrec *r;

    if (c->park_looking)
        return lookup_woken(conn, sup, c);
    w = jobs_journal_wait(sup, c->since, &err);
    r = jobs_find(sup, c->park_id);

    if (w == 0 && left > 0 && !hung_up(c) && http_conn_park(c, left) == 0)
        return MHD_YES;
    c->park_kind = HTTP_PARK_EVENTS;
    if (c->park_job) {
        if (w > 0)
            return answer_stored(conn, sup, c, c->since);
        return not_stored(conn, c->park_id,
                          w < 0       ? err
                          : left <= 0 ? "the server did not answer within 60 s"
                                      : http_conn_no_wait(c));
    }
    if (w < 0)
        return not_on_disk(conn, c->park_id, err);
    if (w == 0)
        return not_on_disk(conn, c->park_id,
                           left <= 0 ? "the disk did not sync it within 60 s"
                                     : http_conn_no_wait(c));
    if (!r)
        return http_reply_answer(
            conn, api_error(404, "no such job (removed before it was on disk)", "id", c->park_id));
    return answer_submitted(conn, sup, c, r, c->park_code, c->park_wait_ms);
}

enum MHD_Result
http_jobs_woken(struct MHD_Connection *conn, struct http_server *srv, struct http_conn *c)
{
    struct supervisor *sup = srv->sup;
    int64_t left = c->park_until_ms - util_now_ms();

    if (c->park_kind == HTTP_PARK_JOB_SYNC)
        return sync_woken(conn, sup, c);

    if (c->park_kind == HTTP_PARK_JOB_EVENTS) {
        if (left > 0 && !hung_up(c) && !jobevents_has_since(jobs_events(sup), c->since) &&
            http_conn_park(c, left) == 0)
            return MHD_YES;
        return answer_job_events(conn, sup, c->since);
    }
    {
        struct jobrec *r = jobs_find(sup, c->park_id);

        if (r && !job_state_terminal(r->q.sm.state) && left > 0 && !hung_up(c) &&
            http_conn_park(c, left) == 0)
            return MHD_YES;
    }
    return answer_wait(conn, sup, c->park_id, c->park_code);
}

static enum MHD_Result
handle_submit(struct MHD_Connection *conn, struct http_server *srv, struct http_conn *c)
{
    struct supervisor *sup = srv->sup;
    struct api_answer bad = { 0 };
    const char *wait_s = http_param(conn, "wait", &bad);
    struct job_submit in;
    struct jobs_submit s;
    struct jobrec *r;
    enum jobs_submit_result res;
    int64_t wait_ms = 0;
    enum MHD_Result ret;

    if (bad.code)
        return http_reply_answer(conn, bad);
    bad = api_job_wait_query(wait_s, &wait_ms);
    if (bad.code)
        return http_reply_answer(conn, bad);
    if (c->body_lost)
        return http_reply_answer(
            conn, api_error(500, "out of memory while reading the body", NULL, NULL));
    if (c->body_len > c->body_max) { /* kept one byte past it: too large, not merely cut */
        char msg[96];

        (void)snprintf(msg, sizeof(msg), "payload too large: at most %llu bytes",
                       (unsigned long long)sup->cfg.jobs.max_payload);
        return http_reply_answer(conn, api_error(413, msg, NULL, NULL));
    }
    if (api_job_submit_parse(c->body ? c->body : "", c->body_len, sup->cfg.jobs.max_payload, &in,
                             &bad) < 0)
        return http_reply_answer(conn, bad);
    s = (struct jobs_submit){
        .type = in.type,
        .payload = in.payload,
        .payload_len = in.payload_len,
        .id = in.id,
        .priority = in.priority,
        .delay_ms = in.delay_ms,
        .timeout_ms = in.timeout_ms,
        .attempts = in.attempts,
        .caller_id = in.caller_id,
        .context_id = in.context_id,
        .env = in.env,
        .nenv = in.nenv,
    };
    res = jobs_submit(sup, &s, &r);
    switch (res) {
    case JOBS_SUBMIT_NEW:
    case JOBS_SUBMIT_SAME:
        ret = answer_when_durable(conn, sup, c, r, (int)res, wait_ms);
        break;
    case JOBS_SUBMIT_CONFLICT:
        ret = http_reply_answer(
            conn, api_error(409, "a job with this id and another payload exists", "id", in.id));
        break;
    case JOBS_SUBMIT_NO_TYPE:
        ret = http_reply_answer(
            conn, api_error(404, "no program takes jobs of this type", "type", in.type));
        break;
    case JOBS_SUBMIT_FULL:
        ret = http_reply_answer(
            conn, api_error(429, "the job store is full (jobs.max_queued_bytes)", NULL, NULL));
        break;
    case JOBS_SUBMIT_TOO_LARGE:
        ret = http_reply_answer(
            conn, api_error(413, "the payload is larger than jobs.max_payload", NULL, NULL));
        break;
    case JOBS_SUBMIT_STORING:
        ret = answer_when_stored(conn, sup, c, r, wait_ms);
        break;
    case JOBS_SUBMIT_UNAVAILABLE: {
        char msg[768];

        (void)snprintf(msg, sizeof(msg),
                       "the job store (Redis) is unreachable (%s): nothing was stored; submit "
                       "again later",
                       jobs_store_down(sup) ? jobs_store_down(sup) : "it refused the job");
        ret = http_reply_answer(conn, api_error(503, msg, NULL, NULL));
        break;
    }
    case JOBS_SUBMIT_CLOSED:
    default:
        ret = http_reply_answer(conn,
                                api_error(503, "drover is shutting down: no new jobs", NULL, NULL));
        break;
    }
    job_submit_done(&in);
    return ret;
}

static enum MHD_Result
handle_list(struct MHD_Connection *conn, struct supervisor *sup)
{
    struct api_answer bad = { 0 };
    const char *state_s = http_param(conn, "state", &bad), *type_s = http_param(conn, "type", &bad),
               *limit_s = http_param(conn, "limit", &bad),
               *after_s = http_param(conn, "after", &bad);
    struct api_jobs_list_query q;

    if (bad.code)
        return http_reply_answer(conn, bad);
    bad = api_jobs_list_query(state_s, type_s, limit_s, after_s, &q);
    if (bad.code)
        return http_reply_answer(conn, bad);
    return http_reply_answer(conn, api_jobs_list(jobs_queue(sup), &q));
}

static enum MHD_Result
handle_queues(struct MHD_Connection *conn, struct supervisor *sup)
{
    size_t n = jobs_ntypes(sup);
    struct api_queue *q = calloc(n ? n : 1, sizeof(*q));
    int64_t now = util_unix_ms();
    struct api_queues_store store = { .kind = jobs_store_name(sup->cfg.jobs.store),
                                      .node = jobs_redis_node(sup) };
    struct redisstore_figures rf;
    struct api_answer a;

    if (!q)
        return http_reply_answer(conn, (struct api_answer){ 500, NULL });
    if (jobs_redis_figures(sup, &rf)) {
        store.up = rf.up;
        store.known = rf.depth_known;
        store.nodes = rf.nodes;
        store.retry_wait = rf.retry_wait;
    }
    for (size_t t = 0; t < n; t++) {
        struct jobs_type_figures f;

        jobs_type_figures(sup, t, now, &f);
        if (f.prog) {
            struct jobscale_figures sf;

            jobscale_figures(f.prog, &sf);
            f.desired = sf.desired; /* the queue's ask, which a pin may not follow */
        }
        q[t] = (struct api_queue){
            .type = f.type,
            .program = f.program,
            .waiting = f.state[JOB_WAITING],
            .delayed = f.state[JOB_DELAYED],
            .retry_wait = f.state[JOB_RETRY_WAIT],
            .dispatched = f.state[JOB_DISPATCHED],
            .running = f.state[JOB_RUNNING],
            .oldest_waiting_s = f.oldest_waiting_s,
            .done_1m = f.done_1m,
            .failed_1m = f.failed_1m,
            .instances = f.instances,
            .idle = f.idle,
            .busy = f.busy,
            .desired = f.desired,
            .cluster = f.cluster,
            .cluster_waiting = f.depth.waiting,
            .cluster_in_flight = f.depth.in_flight,
            .cluster_here = f.depth.here,
        };
    }
    a = api_queues(q, n, &store);
    free(q);
    return http_reply_answer(conn, a);
}

static enum MHD_Result
handle_job_events(struct MHD_Connection *conn, struct supervisor *sup, struct http_conn *c)
{
    struct api_answer bad = { 0 };
    const char *since_s = http_param(conn, "since", &bad), *wait_s = http_param(conn, "wait", &bad);
    uint64_t since;
    int64_t wait_ms;

    if (bad.code)
        return http_reply_answer(conn, bad);
    bad = api_events_query(since_s, wait_s, &since, &wait_ms);
    if (bad.code)
        return http_reply_answer(conn, bad);
    if (wait_ms > 0 && !jobevents_has_since(jobs_events(sup), since)) {
        c->since = since;
        c->park_kind = HTTP_PARK_JOB_EVENTS;
        c->park_until_ms = util_now_ms() + wait_ms;
        if (http_conn_park(c, wait_ms) == 0)
            return MHD_YES;
        c->park_kind = HTTP_PARK_EVENTS;
    }
    return answer_job_events(conn, sup, since);
}

/* /jobs/ID, /jobs/ID/cancel, /jobs/ID/retry. */
static enum MHD_Result
handle_one(struct MHD_Connection *conn, struct supervisor *sup, struct http_conn *c,
           const char *rest, const char *method)
{
    char id[JOBQ_ID_MAX + 1];
    const char *slash = strchr(rest, '/'), *verb = slash ? slash + 1 : NULL, *err = NULL;
    size_t len = slash ? (size_t)(slash - rest) : strlen(rest);
    bool get =
        strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    struct jobrec *r;
    int code;

    if (len == 0 || len > JOBQ_ID_MAX)
        return http_reply_answer(conn, api_error(404, "no such job", "path", rest));
    memcpy(id, rest, len);
    id[len] = '\0';
    if (!(r = jobs_find(sup, id)) && !verb && get && jobs_redis_node(sup)) {
        struct api_answer bad = { 0 };
        const char *wait_s = http_param(conn, "wait", &bad);
        int64_t wait_ms = 0;

        if (!bad.code)
            bad = api_job_wait_query(wait_s, &wait_ms);
        if (bad.code)
            return http_reply_answer(conn, bad);
        return look_up(conn, sup, c, id, wait_ms); /* the cluster's: any node may hold it */
    }
    if (!r)
        return http_reply_answer(conn, api_error(404, "no such job", "id", id));
    if (!verb) {
        if (get) {
            struct api_answer bad = { 0 };
            const char *wait_s = http_param(conn, "wait", &bad);
            int64_t wait_ms = 0;

            if (bad.code)
                return http_reply_answer(conn, bad);
            bad = api_job_wait_query(wait_s, &wait_ms);
            if (bad.code)
                return http_reply_answer(conn, bad);
            if (wait_ms > 0 && !job_state_terminal(r->q.sm.state) && park_job(c, id, wait_ms, 200))
                return MHD_YES;
            return send_job(conn, sup,
                            wait_ms > 0 && !job_state_terminal(r->q.sm.state) ? 202 : 200, r);
        }
        if (strcmp(method, MHD_HTTP_METHOD_DELETE) != 0)
            return http_reply_answer(conn, api_error(405, "GET or DELETE a job", "path", rest));
        {
            json_t *last = jobrec_to_json(r, jobs_type_name(sup, r), false);

            code = jobs_remove(sup, r, &err);
            if (code != 200) {
                json_decref(last);
                return http_reply_answer(conn, api_error(code, err, "id", id));
            }
            return http_reply_answer(conn, api_json(200, last));
        }
    }
    if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
        return http_reply_answer(
            conn, api_error(405, "cancel and retry are POST requests", "path", rest));
    if (strcmp(verb, "cancel") == 0)
        code = jobs_cancel(sup, r, &err);
    else if (strcmp(verb, "retry") == 0)
        code = jobs_retry(sup, r, &err);
    else
        return http_reply_answer(conn, api_error(404, "no such endpoint", "path", rest));
    if (code != 200)
        return http_reply_answer(conn, api_error(code, err, "id", id));
    log_info("job %s: %s asked", id, verb);
    return send_job(conn, sup, 200, r);
}

enum MHD_Result
http_jobs_handle(struct MHD_Connection *conn, struct http_server *srv, struct http_conn *c,
                 const char *url, const char *method)
{
    struct supervisor *sup = srv->sup;
    bool get =
        strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;

    if (!jobs_enabled(sup))
        return http_reply_answer(
            conn, api_error(404, "no program takes jobs (give one a `jobs` object)", "path", url));
    if (strcmp(url, "/queues") == 0)
        return get ? handle_queues(conn, sup)
                   : http_reply_answer(conn, api_error(405, "method not allowed", "path", url));
    if (strcmp(url, "/jobs") == 0) {
        if (strcmp(method, MHD_HTTP_METHOD_POST) == 0)
            return handle_submit(conn, srv, c);
        return get ? handle_list(conn, sup)
                   : http_reply_answer(conn, api_error(405, "GET or POST /jobs", "path", url));
    }
    if (strcmp(url, "/jobs/events") == 0)
        return get ? handle_job_events(conn, sup, c)
                   : http_reply_answer(conn, api_error(405, "method not allowed", "path", url));
    return handle_one(conn, sup, c, url + 6, method);
}

/*
 * api_jobs: job requests and answers of the HTTP API. See api_jobs.h.
 */
#include "core/api_jobs.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "core/cfg_jobs.h"
#include "core/jobevents.h"
#include "core/jobrec.h"
#include "core/util.h"

static struct api_answer
field_error(int code, const char *msg, const char *field)
{
    return api_error(code, msg, "field", field);
}

bool
api_job_id_valid(const char *id)
{
    size_t n = strlen(id);

    if (n < 1 || n > JOBQ_ID_MAX || strcmp(id, "events") == 0)
        return false;
    return strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-") == n;
}

/* A string field copied, or NULL when absent; -EINVAL with the answer when not a string or too
 * long. */
static int
take_string(const json_t *v, const char *field, size_t max, char **ret, struct api_answer *err)
{
    char msg[96];

    *ret = NULL;
    if (!v)
        return 0;
    if (!json_is_string(v) || json_string_length(v) > max || json_string_length(v) == 0 ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        (void)snprintf(msg, sizeof(msg), "bad %s: expected a string of 1 to %zu bytes, no NUL",
                       field, max);
        *err = field_error(400, msg, field);
        return -EINVAL;
    }
    if (!(*ret = strdup(json_string_value(v)))) {
        *err = api_error(500, "out of memory", NULL, NULL);
        return -ENOMEM;
    }
    return 0;
}

/* Seconds as a JSON number, or a duration string ("5m", "250ms"). */
static int
take_duration(const json_t *v, const char *field, int64_t *ret, struct api_answer *err)
{
    char msg[112];
    int r = -EINVAL;

    if (json_is_number(v))
        r = util_seconds_to_ms(json_number_value(v), ret);
    else if (json_is_string(v))
        r = util_parse_duration_ms(json_string_value(v), ret);
    if (r == 0 && *ret >= 0)
        return 0;
    (void)snprintf(
        msg, sizeof(msg),
        "bad %s: expected seconds (a number) or a duration such as \"5m\", at most 30 days", field);
    *err = field_error(400, msg, field);
    return -EINVAL;
}

static int
take_payload(const json_t *text, const json_t *b64, uint64_t max_payload, struct job_submit *s,
             struct api_answer *err)
{
    char msg[96];

    if (text && b64) {
        *err = field_error(400, "give payload or payload_b64, not both", "payload_b64");
        return -EINVAL;
    }
    if (b64) {
        size_t n = json_is_string(b64) ? json_string_length(b64) : 0;
        long got;

        if (!json_is_string(b64)) {
            *err = field_error(400, "bad payload_b64: expected a base64 string", "payload_b64");
            return -EINVAL;
        }
        if (n / 4 * 3 > max_payload + 2)
            goto too_large;
        if (!(s->payload = malloc(n / 4 * 3 + 1)))
            goto oom;
        if ((got = base64_decode(json_string_value(b64), n, s->payload)) < 0) {
            *err = field_error(400, "bad payload_b64: not base64", "payload_b64");
            return -EINVAL;
        }
        s->payload_len = (size_t)got;
    } else if (json_is_string(text)) {
        s->payload_len = json_string_length(text);
        if (s->payload_len > max_payload)
            goto too_large;
        if (!(s->payload = malloc(s->payload_len + 1)))
            goto oom;
        memcpy(s->payload, json_string_value(text), s->payload_len);
    } else if (text) { /* any other JSON value goes as its compact text */
        char *dump = json_dumps(text, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));

        if (!dump)
            goto oom;
        s->payload = (uint8_t *)dump;
        s->payload_len = strlen(dump);
        if (s->payload_len > max_payload)
            goto too_large;
    } else if (!(s->payload = malloc(1))) {
        goto oom;
    }
    if (s->payload_len <= max_payload)
        return 0;
too_large:
    (void)snprintf(msg, sizeof(msg), "payload too large: at most %" PRIu64 " bytes", max_payload);
    *err = api_error(413, msg, NULL, NULL);
    return -EINVAL;
oom:
    *err = api_error(500, "out of memory", NULL, NULL);
    return -ENOMEM;
}

static bool
env_key_valid(const char *k)
{
    size_t n = strlen(k);

    return n >= 1 && n <= 128 && !(k[0] >= '0' && k[0] <= '9') &&
           strspn(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

static int
take_env(json_t *env, struct job_submit *s, struct api_answer *err)
{
    const char *k;
    json_t *v;
    size_t bytes = 0;

    if (!env)
        return 0;
    if (!json_is_object(env)) {
        *err = field_error(400, "bad env: expected an object of strings", "env");
        return -EINVAL;
    }
    if (json_object_size(env) > JOBREC_MAX_ENV) {
        *err = field_error(400, "bad env: at most 64 variables", "env");
        return -EINVAL;
    }
    if (json_object_size(env) && !(s->env = calloc(json_object_size(env), sizeof(char *))))
        goto oom;
    json_object_foreach(env, k, v)
    {
        size_t kl = strlen(k), vl;

        if (!env_key_valid(k)) {
            *err = api_error(400, "bad env: a name is 1 to 128 of A-Z a-z 0-9 _, not first a digit",
                             "field", "env");
            return -EINVAL;
        }
        if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v) ||
            strchr(json_string_value(v), '\n')) {
            *err =
                field_error(400, "bad env: each value is a string without NUL or newline", "env");
            return -EINVAL;
        }
        vl = json_string_length(v);
        bytes += kl + 1 + vl;
        if (bytes > API_JOB_ENV_MAX_BYTES) {
            *err = field_error(400, "bad env: at most 1024 bytes of names and values", "env");
            return -EINVAL;
        }
        if (!(s->env[s->nenv] = malloc(kl + vl + 2)))
            goto oom;
        memcpy(s->env[s->nenv], k, kl);
        s->env[s->nenv][kl] = '=';
        memcpy(s->env[s->nenv] + kl + 1, json_string_value(v), vl + 1);
        s->nenv++;
    }
    return 0;
oom:
    *err = api_error(500, "out of memory", NULL, NULL);
    return -ENOMEM;
}

/* The charset of a config name (cfg_name_valid), at most CFG_JOBS_TYPE_MAX. */
static bool
type_valid(const char *t, size_t len)
{
    return len >= 1 && len <= CFG_JOBS_TYPE_MAX &&
           strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == len;
}

static const char *const submit_keys[] = {
    "type",    "payload",  "payload_b64", "id",         "priority", "delay",
    "timeout", "attempts", "caller_id",   "context_id", "env",
};

static int
parse_object(json_t *o, uint64_t max_payload, struct job_submit *s, struct api_answer *err)
{
    const char *k;
    json_t *v;
    int r;

    json_object_foreach(o, k, v)
    {
        size_t i = 0;

        while (i < sizeof(submit_keys) / sizeof(*submit_keys) && strcmp(k, submit_keys[i]) != 0)
            i++;
        if (i == sizeof(submit_keys) / sizeof(*submit_keys)) {
            *err = api_error(400, "unknown key", "field", k);
            return -EINVAL;
        }
    }
    v = json_object_get(o, "type");
    if (!v) {
        *err = field_error(400, "type is required", "type");
        return -EINVAL;
    }
    if (!json_is_string(v) || !type_valid(json_string_value(v), json_string_length(v))) {
        *err = field_error(400, "bad type: expected 1 to 64 of A-Z a-z 0-9 _ . -", "type");
        return -EINVAL;
    }
    if ((r = take_string(v, "type", CFG_JOBS_TYPE_MAX, &s->type, err)) < 0)
        return r;
    if ((r = take_payload(json_object_get(o, "payload"), json_object_get(o, "payload_b64"),
                          max_payload, s, err)) < 0)
        return r;
    if ((v = json_object_get(o, "id"))) {
        if (!json_is_string(v) || !api_job_id_valid(json_string_value(v)) ||
            strlen(json_string_value(v)) != json_string_length(v)) {
            *err = field_error(
                400, "bad id: expected 1 to 128 of A-Z a-z 0-9 . _ : - (and not \"events\")", "id");
            return -EINVAL;
        }
        if ((r = take_string(v, "id", JOBQ_ID_MAX, &s->id, err)) < 0)
            return r;
    }
    if ((v = json_object_get(o, "priority"))) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 9) {
            *err = field_error(400, "bad priority: expected 0 to 9", "priority");
            return -EINVAL;
        }
        s->priority = (unsigned)json_integer_value(v);
    }
    if ((v = json_object_get(o, "delay")) && (r = take_duration(v, "delay", &s->delay_ms, err)) < 0)
        return r;
    if ((v = json_object_get(o, "timeout")) &&
        (r = take_duration(v, "timeout", &s->timeout_ms, err)) < 0)
        return r;
    if ((v = json_object_get(o, "attempts"))) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 ||
            json_integer_value(v) > CFG_JOBS_MAX_ATTEMPTS) {
            *err = field_error(400, "bad attempts: expected 1 to 1000", "attempts");
            return -EINVAL;
        }
        s->attempts = (unsigned)json_integer_value(v);
    }
    if ((r = take_string(json_object_get(o, "caller_id"), "caller_id", JOBREC_CALLER_MAX,
                         &s->caller_id, err)) < 0 ||
        (r = take_string(json_object_get(o, "context_id"), "context_id", JOBREC_CALLER_MAX,
                         &s->context_id, err)) < 0)
        return r;
    return take_env(json_object_get(o, "env"), s, err);
}

int
api_job_submit_parse(const char *body, size_t len, uint64_t max_payload, struct job_submit *ret,
                     struct api_answer *ret_err)
{
    json_error_t jerr;
    json_t *o;
    int r;

    *ret = (struct job_submit){ .timeout_ms = -1 };
    *ret_err = (struct api_answer){ 0 };
    o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o) {
        char msg[256];

        (void)snprintf(msg, sizeof(msg), "the body is not JSON: line %d column %d: %s", jerr.line,
                       jerr.column, jerr.text);
        *ret_err = api_error(400, msg, NULL, NULL);
        return -EINVAL;
    }
    if (!json_is_object(o)) {
        json_decref(o);
        *ret_err = api_error(400, "the body must be a JSON object", NULL, NULL);
        return -EINVAL;
    }
    r = parse_object(o, max_payload, ret, ret_err);
    json_decref(o);
    if (r < 0) {
        job_submit_done(ret);
        return -EINVAL;
    }
    return 0;
}

void
job_submit_done(struct job_submit *s)
{
    free(s->type);
    free(s->payload);
    free(s->id);
    free(s->caller_id);
    free(s->context_id);
    for (size_t i = 0; i < s->nenv; i++)
        free(s->env[i]);
    free(s->env);
    *s = (struct job_submit){ .timeout_ms = -1 };
}

struct api_answer
api_job_wait_query(const char *wait, int64_t *ret_ms)
{
    *ret_ms = 0;
    if (wait && (util_parse_duration_ms(wait, ret_ms) < 0 || *ret_ms > API_JOB_WAIT_MAX_MS)) {
        *ret_ms = 0;
        return api_bad_param("wait", wait, "seconds to wait for the job's end, at most 60");
    }
    return (struct api_answer){ .code = 0 };
}

struct api_answer
api_jobs_list_query(const char *state, const char *type, const char *limit, const char *after,
                    struct api_jobs_list_query *ret)
{
    *ret = (struct api_jobs_list_query){ .limit = API_JOBS_LIST_DEFAULT, .type = type };
    if (state) {
        ret->state = job_state_from_name(state);
        if (ret->state == JOB_INVALID)
            return api_bad_param("state", state,
                                 "waiting, delayed, dispatched, running, retry_wait, success, "
                                 "failed or cancelled");
        ret->by_state = true;
    }
    if (limit) {
        size_t n = strlen(limit);
        unsigned long v = strtoul(limit, NULL, 10);

        if (n == 0 || n > 4 || strspn(limit, "0123456789") != n || v < 1 || v > API_JOBS_LIST_MAX)
            return api_bad_param("limit", limit, "a number of jobs from 1 to 1000");
        ret->limit = v;
    }
    if (after) {
        const char *colon = strchr(after, ':');
        size_t digits = colon ? (size_t)(colon - after) : 0;

        if (!colon || digits == 0 || digits > 18 || strspn(after, "0123456789") != digits ||
            !api_job_id_valid(colon + 1) || strcmp(colon + 1, "events") == 0)
            return api_bad_param("after", after, "the next_after of the page before");
        ret->after_created_ms = strtoll(after, NULL, 10);
        (void)snprintf(ret->after_id, sizeof(ret->after_id), "%s", colon + 1);
        ret->has_after = true;
    }
    return (struct api_answer){ .code = 0 };
}

/* Newest first: created later first, then by id. */
static int
newer_first(const struct jobq_job *a, const struct jobq_job *b)
{
    if (a->sm.created_ms != b->sm.created_ms)
        return a->sm.created_ms > b->sm.created_ms ? -1 : 1;
    return strcmp(a->id, b->id);
}

static int
cmp_jobs(const void *pa, const void *pb)
{
    return newer_first(*(const struct jobq_job *const *)pa, *(const struct jobq_job *const *)pb);
}

struct list_walk {
    const struct jobq *q;
    const struct api_jobs_list_query *query;
    struct jobq_job **v;
    size_t n;
};

static int
collect(struct jobq_job *j, void *arg)
{
    struct list_walk *w = arg;
    const struct api_jobs_list_query *f = w->query;

    if (f->by_state && j->sm.state != f->state)
        return 0;
    if (f->type && strcmp(jobq_type_name(w->q, j->type), f->type) != 0)
        return 0;
    if (f->has_after) {
        struct jobq_job cursor = { .sm.created_ms = f->after_created_ms };

        memcpy(cursor.id, f->after_id, sizeof(cursor.id));
        if (newer_first(j, &cursor) <= 0)
            return 0;
    }
    w->v[w->n++] = j;
    return 0;
}

struct api_answer
api_jobs_list(const struct jobq *q, const struct api_jobs_list_query *query)
{
    struct list_walk w = { .q = q, .query = query };
    size_t total = jobq_size(q), shown;
    json_t *list = json_array(), *body = NULL, *next = json_null();

    if (!list || !(w.v = malloc((total ? total : 1) * sizeof(*w.v))))
        goto oom;
    (void)jobq_each(q, collect, &w);
    qsort(w.v, w.n, sizeof(*w.v), cmp_jobs);
    shown = w.n < query->limit ? w.n : query->limit;
    for (size_t i = 0; i < shown; i++) {
        const struct jobrec *r = jobq_job_to_rec(w.v[i]);

        if (json_array_append_new(list, jobrec_to_json(r, jobq_type_name(q, r->q.type), true)) < 0)
            goto oom;
    }
    if (shown < w.n) {
        char cursor[32 + JOBQ_ID_MAX];
        const struct jobq_job *last = w.v[shown - 1];

        (void)snprintf(cursor, sizeof(cursor), "%" PRId64 ":%s", last->sm.created_ms, last->id);
        next = json_string(cursor);
    }
    free(w.v);
    body = json_pack("{s:o, s:o}", "jobs", list, "next_after", next);
    return api_json(200, body);
oom:
    free(w.v);
    json_decref(list);
    json_decref(next);
    return api_json(500, NULL);
}

static json_t *
cluster_of(const struct api_queue *q)
{
    if (!q->cluster)
        return json_null();
    return json_pack("{s:o, s:I, s:I}", "waiting",
                     q->cluster_waiting >= 0 ? json_integer(q->cluster_waiting) : json_null(),
                     "in_flight", (json_int_t)q->cluster_in_flight, "this_node",
                     (json_int_t)q->cluster_here);
}

static json_t *
store_of(const struct api_queues_store *s)
{
    if (!s->node)
        return json_pack("{s:s}", "kind", s->kind);
    return json_pack("{s:s, s:s, s:b, s:o, s:I}", "kind", s->kind, "node", s->node, "up", s->up,
                     "nodes", s->known ? json_integer(s->nodes) : json_null(), "retry_wait",
                     (json_int_t)s->retry_wait);
}

struct api_answer
api_queues(const struct api_queue *q, size_t n, const struct api_queues_store *s)
{
    json_t *list = json_array();

    for (size_t i = 0; list && i < n; i++)
        json_array_append_new(
            list,
            json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:o, s:I, s:I, s:i, s:i, s:i, s:i, s:o}",
                      "type", q[i].type, "program", q[i].program ? q[i].program : "", "waiting",
                      (json_int_t)q[i].waiting, "delayed", (json_int_t)q[i].delayed, "retry_wait",
                      (json_int_t)q[i].retry_wait, "dispatched", (json_int_t)q[i].dispatched,
                      "running", (json_int_t)q[i].running, "oldest_waiting_s",
                      q[i].waiting ? json_real(q[i].oldest_waiting_s) : json_null(), "done_1m",
                      (json_int_t)q[i].done_1m, "failed_1m", (json_int_t)q[i].failed_1m,
                      "instances", (int)q[i].instances, "idle", (int)q[i].idle, "busy",
                      (int)q[i].busy, "desired", (int)q[i].desired, "cluster", cluster_of(&q[i])));
    return api_json(200,
                    list ? json_pack("{s:o, s:o}", "types", list, "store", store_of(s)) : NULL);
}

static json_t *
string_or_null(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

struct api_answer
api_job_events(const struct jobevents *e, uint64_t since)
{
    const struct jobevent **ev = malloc(JOBEVENTS_ANSWER_MAX * sizeof(*ev));
    json_t *list = json_array();
    bool gap = false;
    size_t n;
    uint64_t next;

    if (!ev || !list) {
        free(ev);
        json_decref(list);
        return api_json(500, NULL);
    }
    n = jobevents_since(e, since, ev, JOBEVENTS_ANSWER_MAX, &gap);
    next = n ? ev[n - 1]->seq + 1 : e->next_seq;
    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            list,
            json_pack(
                "{s:I, s:I, s:s, s:s, s:o, s:s, s:i, s:o, s:s}", "seq", (json_int_t)ev[i]->seq,
                "time_ms", (json_int_t)ev[i]->time_ms, "id", ev[i]->id, "type", ev[i]->type, "from",
                ev[i]->from == JOB_INVALID ? json_null() : json_string(job_state_name(ev[i]->from)),
                "to", job_state_name(ev[i]->to), "attempt", (int)ev[i]->attempt, "instance",
                string_or_null(ev[i]->instance), "cause", ev[i]->cause ? ev[i]->cause : ""));
    free(ev);
    return api_json(
        200, json_pack("{s:o, s:I, s:b}", "events", list, "next", (json_int_t)next, "gap", gap));
}

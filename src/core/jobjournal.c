/*
 * jobjournal: the journal's lines. See jobjournal.h.
 */
#include "core/jobjournal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "core/job.h"

#define ATTEMPTS_MAX 1000000u

/* --- writing ------------------------------------------------------------------------------- */

static char *
dump_line(json_t *o, size_t *len)
{
    char *text, *line;
    size_t n;

    if (!o)
        return NULL;
    text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!text)
        return NULL;
    n = strlen(text);
    if ((line = realloc(text, n + 2))) {
        line[n] = '\n';
        line[n + 1] = '\0';
        *len = n + 1;
    } else {
        free(text);
    }
    return line;
}

static json_t *
head(const char *op, uint64_t seq, int64_t t_ms, const char *id)
{
    json_t *o =
        json_pack("{s:I, s:I, s:s}", "seq", (json_int_t)seq, "t", (json_int_t)t_ms, "op", op);

    if (o && id && json_object_set_new(o, "id", json_string(id)) < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *
history_entry(const struct job_history *h)
{
    return json_pack("[I, i, i, i, i, i]", (json_int_t)h->time_ms, h->cause, h->error_code,
                     h->state, h->actor, h->signal);
}

/* Sets key when v is not 0 / NULL (a line says only what is there). */
static int
set_int(json_t *o, const char *key, int64_t v)
{
    return v ? json_object_set_new(o, key, json_integer((json_int_t)v)) : 0;
}

static int
set_str(json_t *o, const char *key, const char *s)
{
    return s ? json_object_set_new(o, key, json_string(s)) : 0;
}

/* The fields a transition may change; with all_history every kept entry, else the latest. */
static int
state_fields(json_t *o, const struct jobrec *r, bool all_history)
{
    const struct job *j = &r->q.sm;
    unsigned n = j->history_total < JOB_HISTORY_MAX ? j->history_total : JOB_HISTORY_MAX;
    json_t *h;
    int rc = 0;

    rc |= json_object_set_new(o, "state", json_string(job_state_name(j->state)));
    rc |= json_object_set_new(o, "attempt", json_integer(j->attempt));
    rc |= set_int(o, "kills", j->worker_kills);
    rc |= set_int(o, "stopping", j->stopping); /* a CANCEL out: a restart keeps asking it */
    rc |= set_str(o, "error_code", j->error_code);
    rc |= set_str(o, "cause", j->cause);
    rc |= set_int(o, "signal", j->error_signal);
    rc |= set_int(o, "run_at", j->run_at_ms);
    rc |= set_int(o, "retry_at", j->retry_at_ms);
    rc |= set_int(o, "created", j->created_ms);
    rc |= set_int(o, "started", j->started_ms);
    rc |= set_int(o, "finished", j->finished_ms);
    rc |= set_int(o, "dispatched", r->dispatched_ms);
    rc |= set_str(o, "instance", r->instance[0] ? r->instance : NULL);
    if (r->result)
        rc |= jobrec_bytes_to_json(o, "result", "result_b64", r->result, r->result_len);
    rc |= set_str(o, "error_message", r->error_message);
    rc |= set_str(o, "fail_code", r->fail_code);
    if (r->progress_pct || r->progress_message)
        rc |= json_object_set_new(o, "progress",
                                  json_pack("[i, s]", (int)r->progress_pct,
                                            r->progress_message ? r->progress_message : ""));
    rc |= json_object_set_new(o, "hist_total", json_integer(j->history_total));
    if (!all_history) {
        if (n)
            rc |= json_object_set_new(
                o, "h", history_entry(&j->history[(j->history_total - 1) % JOB_HISTORY_MAX]));
        return rc ? -1 : 0;
    }
    if (!(h = json_array()) || json_object_set_new(o, "hist", h) < 0)
        return -1;
    for (unsigned k = 0; k < n; k++)
        rc |= json_array_append_new(
            h, history_entry(&j->history[(j->history_total - n + k) % JOB_HISTORY_MAX]));
    return rc ? -1 : 0;
}

char *
jobjournal_new_line(const struct jobrec *r, const char *type, uint64_t seq, int64_t t_ms,
                    size_t *len)
{
    json_t *o = head("new", seq, t_ms, r->q.id), *env;
    int rc = 0;

    if (!o)
        return NULL;
    rc |= json_object_set_new(o, "type", json_string(type));
    rc |= set_int(o, "prio", r->q.priority);
    if (r->order != seq)
        rc |= set_int(o, "order", (int64_t)r->order); /* a snapshot keeps the first "new"'s */
    rc |= jobrec_bytes_to_json(o, "payload", "payload_b64", r->payload, r->payload_len);
    rc |= set_int(o, "timeout_ms", r->timeout_ms);
    rc |= json_object_set_new(o, "max_attempts", json_integer(r->max_attempts));
    rc |= set_str(o, "caller_id", r->caller_id);
    rc |= set_str(o, "context_id", r->context_id);
    if (r->idempotent)
        rc |= json_object_set_new(o, "idem", json_true());
    if (r->nenv) {
        rc |= !(env = json_array()) || json_object_set_new(o, "env", env) < 0;
        for (size_t i = 0; !rc && i < r->nenv; i++)
            rc |= json_array_append_new(env, json_string(r->env[i]));
    }
    if (rc || state_fields(o, r, true) < 0) {
        json_decref(o);
        return NULL;
    }
    return dump_line(o, len);
}

char *
jobjournal_state_line(const struct jobrec *r, uint64_t seq, int64_t t_ms, size_t *len)
{
    json_t *o = head("st", seq, t_ms, r->q.id);

    if (o && state_fields(o, r, false) < 0) {
        json_decref(o);
        return NULL;
    }
    return dump_line(o, len);
}

char *
jobjournal_remove_line(const char *id, uint64_t seq, int64_t t_ms, size_t *len)
{
    return dump_line(head("rm", seq, t_ms, id), len);
}

char *
jobjournal_snapshot_line(size_t njobs, uint64_t seq, int64_t t_ms, size_t *len)
{
    json_t *o = head("snapshot", seq, t_ms, NULL);

    if (o && json_object_set_new(o, "jobs", json_integer((json_int_t)njobs)) < 0) {
        json_decref(o);
        return NULL;
    }
    return dump_line(o, len);
}

/* --- reading ------------------------------------------------------------------------------- */

struct reader {
    const json_t *o;
    char *err;
    size_t errsize;
    bool failed;
};

static void
fail(struct reader *rd, const char *fmt, ...)
{
    va_list ap;

    if (rd->failed)
        return;
    rd->failed = true;
    va_start(ap, fmt);
    (void)vsnprintf(rd->err, rd->errsize, fmt, ap);
    va_end(ap);
}

/* key as an integer in [min, max]; absent: 0 unless required. */
static int64_t
get_int(struct reader *rd, const char *key, int64_t min, int64_t max, bool required)
{
    const json_t *v = json_object_get(rd->o, key);
    json_int_t x;

    if (!v) {
        if (required)
            fail(rd, "field \"%s\" is missing", key);
        return 0;
    }
    if (!json_is_integer(v) || (x = json_integer_value(v)) < min || x > max) {
        fail(rd, "field \"%s\": must be an integer from %lld to %lld", key, (long long)min,
             (long long)max);
        return 0;
    }
    return x;
}

/* key as a string (borrowed), at most max bytes; absent: NULL. */
static const char *
get_str(struct reader *rd, const char *key, size_t max)
{
    const json_t *v = json_object_get(rd->o, key);

    if (!v)
        return NULL;
    if (!json_is_string(v) || json_string_length(v) > max ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        fail(rd, "field \"%s\": must be a string of at most %zu bytes without NUL", key, max);
        return NULL;
    }
    return json_string_value(v);
}

static char *
dup_str(struct reader *rd, const char *key, size_t max)
{
    const char *s = get_str(rd, key, max);
    char *d;

    if (!s)
        return NULL;
    if (!(d = strdup(s)))
        fail(rd, "out of memory");
    return d;
}

/* key (text) or key_b64 (base64) into *bytes (NUL-terminated), *len; absent: NULL, 0. */
static void
get_bytes(struct reader *rd, const char *key, const char *key_b64, uint8_t **bytes, size_t *len)
{
    const json_t *t = json_object_get(rd->o, key), *b = json_object_get(rd->o, key_b64);
    const char *s;
    size_t n;

    *bytes = NULL;
    *len = 0;
    if (t && b) {
        fail(rd, "fields \"%s\" and \"%s\": only one may be given", key, key_b64);
        return;
    }
    if (!t && !b)
        return;
    if (!json_is_string(t ? t : b)) {
        fail(rd, "field \"%s\": must be a string", t ? key : key_b64);
        return;
    }
    s = json_string_value(t ? t : b);
    n = json_string_length(t ? t : b);
    if (!(*bytes = malloc(t ? n + 1 : n / 4 * 3 + 1))) {
        fail(rd, "out of memory");
        return;
    }
    if (t) {
        memcpy(*bytes, s, n);
        *len = n;
    } else {
        long m = base64_decode(s, n, *bytes);

        if (m < 0) {
            free(*bytes);
            *bytes = NULL;
            fail(rd, "field \"%s\": not base64", key_b64);
            return;
        }
        *len = (size_t)m;
    }
    (*bytes)[*len] = '\0';
}

/* A cause or error code by name: one of core/job's texts, or unknown (an error). */
static const char *
get_text(struct reader *rd, const char *key)
{
    const char *s = get_str(rd, key, 256), *t;

    if (!s)
        return NULL;
    if (!(t = job_text(s)))
        fail(rd, "field \"%s\": \"%.64s\" is not a cause or error code drover sets", key, s);
    return t;
}

static bool
read_history_entry(struct reader *rd, const json_t *a, struct job_history *h)
{
    json_int_t v[6];

    if (!json_is_array(a) || json_array_size(a) != 6)
        return false;
    for (size_t i = 0; i < 6; i++) {
        if (!json_is_integer(json_array_get(a, i)))
            return false;
        v[i] = json_integer_value(json_array_get(a, i));
        if (i && (v[i] < 0 || v[i] > 255))
            return false;
    }
    if (v[3] >= JOB__MAX || v[4] > JOB_ACTOR_API)
        return false;
    (void)rd;
    *h = (struct job_history){ .time_ms = v[0],
                               .cause = (uint8_t)v[1],
                               .error_code = (uint8_t)v[2],
                               .state = (uint8_t)v[3],
                               .actor = (uint8_t)v[4],
                               .signal = (uint8_t)v[5] };
    return true;
}

static void
read_state(struct reader *rd, struct jobrec *r, bool all_history)
{
    struct job *j = &r->q.sm;
    const char *st = get_str(rd, "state", 32), *inst;
    const json_t *pr, *h;

    if (!st || (j->state = job_state_from_name(st)) == JOB_INVALID)
        fail(rd, "field \"state\": must be a job state (waiting, delayed, ...)");
    j->attempt = (unsigned)get_int(rd, "attempt", 0, ATTEMPTS_MAX, true);
    j->worker_kills = (unsigned)get_int(rd, "kills", 0, ATTEMPTS_MAX, false);
    j->stopping =
        (enum job_stopping)get_int(rd, "stopping", JOB_STOPPING_NONE, JOB_STOPPING_TIMEOUT, false);
    j->error_code = get_text(rd, "error_code");
    j->cause = get_text(rd, "cause");
    j->error_signal = (int)get_int(rd, "signal", 0, 255, false);
    j->run_at_ms = get_int(rd, "run_at", 0, INT64_MAX, false);
    j->retry_at_ms = get_int(rd, "retry_at", 0, INT64_MAX, false);
    j->created_ms = get_int(rd, "created", 0, INT64_MAX, false);
    j->started_ms = get_int(rd, "started", 0, INT64_MAX, false);
    j->finished_ms = get_int(rd, "finished", 0, INT64_MAX, false);
    r->dispatched_ms = get_int(rd, "dispatched", 0, INT64_MAX, false);
    if ((inst = get_str(rd, "instance", JOBREC_INSTANCE_MAX - 1)))
        (void)snprintf(r->instance, sizeof(r->instance), "%s", inst);
    get_bytes(rd, "result", "result_b64", &r->result, &r->result_len);
    r->error_message = dup_str(rd, "error_message", JOBREC_MESSAGE_MAX);
    r->fail_code = dup_str(rd, "fail_code", 64);
    if ((pr = json_object_get(rd->o, "progress"))) {
        if (!json_is_array(pr) || json_array_size(pr) != 2 ||
            !json_is_integer(json_array_get(pr, 0)) || !json_is_string(json_array_get(pr, 1)) ||
            json_integer_value(json_array_get(pr, 0)) < 0 ||
            json_integer_value(json_array_get(pr, 0)) > 100)
            fail(rd, "field \"progress\": must be [PCT 0..100, MESSAGE]");
        else if (jobrec_set_progress(r, (unsigned)json_integer_value(json_array_get(pr, 0)),
                                     json_string_value(json_array_get(pr, 1)),
                                     json_string_length(json_array_get(pr, 1))) < 0)
            fail(rd, "out of memory");
    }
    j->history_total = (unsigned)get_int(rd, "hist_total", 0, UINT32_MAX, true);
    if (!all_history) {
        h = json_object_get(rd->o, "h");
        if (h &&
            (!j->history_total ||
             !read_history_entry(rd, h, &j->history[(j->history_total - 1) % JOB_HISTORY_MAX])))
            fail(rd, "field \"h\": must be [TIME, CAUSE, ERROR, STATE, ACTOR, SIGNAL] "
                     "with hist_total > 0");
        return;
    }
    h = json_object_get(rd->o, "hist");
    {
        unsigned n = j->history_total < JOB_HISTORY_MAX ? j->history_total : JOB_HISTORY_MAX;
        size_t m = json_array_size(h);

        if (!json_is_array(h) || m > n) {
            fail(rd, "field \"hist\": must be an array of at most hist_total entries");
            return;
        }
        for (size_t k = 0; k < m; k++)
            if (!read_history_entry(rd, json_array_get(h, k),
                                    &j->history[(j->history_total - m + k) % JOB_HISTORY_MAX])) {
                fail(rd,
                     "field \"hist\": entry %zu must be [TIME, CAUSE, ERROR, STATE, ACTOR, "
                     "SIGNAL]",
                     k);
                return;
            }
    }
}

static bool
id_valid(const char *id)
{
    size_t n = strlen(id);

    return n >= 1 && n <= JOBQ_ID_MAX &&
           strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-") == n;
}

static void
read_new(struct reader *rd, struct jobjournal_entry *e, struct jobrec *r)
{
    const char *type = get_str(rd, "type", JOBJOURNAL_TYPE_MAX);
    const json_t *env = json_object_get(rd->o, "env"), *idem = json_object_get(rd->o, "idem");

    if (!type || !type[0])
        fail(rd, "field \"type\": must be a string of 1 to %d bytes", JOBJOURNAL_TYPE_MAX);
    else
        (void)snprintf(e->type, sizeof(e->type), "%s", type);
    r->q.priority = (unsigned)get_int(rd, "prio", 0, JOBQ_PRIORITIES - 1, false);
    r->order = (uint64_t)get_int(rd, "order", 1, INT64_MAX, false);
    if (!r->order)
        r->order = e->seq;
    get_bytes(rd, "payload", "payload_b64", &r->payload, &r->payload_len);
    r->timeout_ms = get_int(rd, "timeout_ms", 0, INT64_MAX, false);
    r->max_attempts = (unsigned)get_int(rd, "max_attempts", 1, ATTEMPTS_MAX, true);
    r->caller_id = dup_str(rd, "caller_id", JOBREC_CALLER_MAX);
    r->context_id = dup_str(rd, "context_id", JOBREC_CALLER_MAX);
    if (idem && !json_is_boolean(idem))
        fail(rd, "field \"idem\": must be true or false");
    r->idempotent = json_is_true(idem);
    if (env) {
        size_t n = json_array_size(env);

        if (!json_is_array(env) || n > JOBREC_MAX_ENV) {
            fail(rd, "field \"env\": must be an array of at most %d \"KEY=VALUE\"", JOBREC_MAX_ENV);
            return;
        }
        if (n && !(r->env = calloc(n, sizeof(*r->env)))) {
            fail(rd, "out of memory");
            return;
        }
        for (size_t i = 0; i < n; i++) {
            const json_t *v = json_array_get(env, i);
            const char *s = json_string_value(v);

            if (!s || strlen(s) != json_string_length(v) || !strchr(s, '=') || s[0] == '=') {
                fail(rd, "field \"env\": entry %zu must be \"KEY=VALUE\"", i);
                return;
            }
            if (!(r->env[r->nenv] = strdup(s))) {
                fail(rd, "out of memory");
                return;
            }
            r->nenv++;
        }
    }
}

int
jobjournal_decode(const char *line, size_t len, struct jobjournal_entry *e, char *err,
                  size_t errsize)
{
    json_error_t jerr;
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    struct reader rd = { .o = o, .err = err, .errsize = errsize };
    const char *op, *id = NULL;

    memset(e, 0, sizeof(*e));
    if (!o || !json_is_object(o)) {
        if (o)
            fail(&rd, "not a JSON object");
        else
            fail(&rd, "not JSON: %s at column %d", jerr.text, jerr.column);
        json_decref(o);
        return -1;
    }
    e->seq = (uint64_t)get_int(&rd, "seq", 1, INT64_MAX, true);
    e->time_ms = get_int(&rd, "t", 0, INT64_MAX, true);
    op = get_str(&rd, "op", 16);
    if (op && strcmp(op, "new") == 0)
        e->op = JOBJOURNAL_NEW;
    else if (op && strcmp(op, "st") == 0)
        e->op = JOBJOURNAL_STATE;
    else if (op && strcmp(op, "rm") == 0)
        e->op = JOBJOURNAL_REMOVE;
    else if (op && strcmp(op, "snapshot") == 0)
        e->op = JOBJOURNAL_SNAPSHOT;
    else
        fail(&rd, "field \"op\": must be \"new\", \"st\", \"rm\" or \"snapshot\"");
    if (!rd.failed && e->op == JOBJOURNAL_SNAPSHOT)
        e->njobs = (size_t)get_int(&rd, "jobs", 0, INT64_MAX, true);
    if (!rd.failed && e->op != JOBJOURNAL_SNAPSHOT) {
        id = get_str(&rd, "id", JOBQ_ID_MAX);
        if (!id || !id_valid(id))
            fail(&rd, "field \"id\": must be 1 to %d of A-Z a-z 0-9 . _ : -", JOBQ_ID_MAX);
        else
            (void)snprintf(e->id, sizeof(e->id), "%s", id);
    }
    if (!rd.failed && (e->op == JOBJOURNAL_NEW || e->op == JOBJOURNAL_STATE)) {
        if (!(e->rec = jobrec_new())) {
            fail(&rd, "out of memory");
        } else {
            (void)snprintf(e->rec->q.id, sizeof(e->rec->q.id), "%s", e->id);
            if (e->op == JOBJOURNAL_NEW)
                read_new(&rd, e, e->rec);
            if (!rd.failed)
                read_state(&rd, e->rec, e->op == JOBJOURNAL_NEW);
        }
    }
    json_decref(o);
    if (rd.failed) {
        jobrec_free(e->rec);
        e->rec = NULL;
        return -1;
    }
    return 0;
}

#define MOVE(field)                                                                                \
    do {                                                                                           \
        free(dst->field);                                                                          \
        dst->field = st->field;                                                                    \
        st->field = NULL;                                                                          \
    } while (0)

void
jobjournal_apply_state(struct jobrec *dst, struct jobrec *st)
{
    struct job *d = &dst->q.sm;
    const struct job *s = &st->q.sm;

    d->state = s->state;
    d->attempt = s->attempt;
    d->worker_kills = s->worker_kills;
    d->stopping = s->stopping;
    d->error_code = s->error_code;
    d->cause = s->cause;
    d->error_signal = s->error_signal;
    d->run_at_ms = s->run_at_ms;
    d->retry_at_ms = s->retry_at_ms;
    d->created_ms = s->created_ms;
    d->started_ms = s->started_ms;
    d->finished_ms = s->finished_ms;
    dst->dispatched_ms = st->dispatched_ms;
    memcpy(dst->instance, st->instance, sizeof(dst->instance));
    MOVE(result);
    dst->result_len = st->result_len;
    st->result_len = 0;
    MOVE(error_message);
    MOVE(fail_code);
    MOVE(progress_message);
    dst->progress_pct = st->progress_pct;
    if (s->history_total > d->history_total) {
        unsigned k = (s->history_total - 1) % JOB_HISTORY_MAX;

        d->history[k] = s->history[k];
        d->history_total = s->history_total;
    }
}

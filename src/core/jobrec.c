/*
 * jobrec: one job as drover keeps it. See jobrec.h.
 */
#include "core/jobrec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "core/utf8.h"
#include "core/util.h"

struct jobrec *
jobrec_new(void)
{
    return calloc(1, sizeof(struct jobrec));
}

void
jobrec_free(struct jobrec *r)
{
    if (!r)
        return;
    free(r->payload);
    free(r->caller_id);
    free(r->context_id);
    for (size_t i = 0; i < r->nenv; i++)
        free(r->env[i]);
    free(r->env);
    free(r->result);
    free(r->error_message);
    free(r->fail_code);
    free(r->progress_message);
    free(r);
}

/* A copy of len bytes (NUL-terminated, so text can be read as a string); NULL: no memory. */
static void *
copy(const void *bytes, size_t len)
{
    char *p = malloc(len + 1);

    if (!p)
        return NULL;
    if (len)
        memcpy(p, bytes, len);
    p[len] = '\0';
    return p;
}

int
jobrec_set_result(struct jobrec *r, const void *bytes, size_t len)
{
    uint8_t *p = NULL;

    if (bytes && !(p = copy(bytes, len)))
        return -ENOMEM;
    free(r->result);
    r->result = p;
    r->result_len = p ? len : 0;
    return 0;
}

int
jobrec_set_error(struct jobrec *r, const char *message, size_t len)
{
    char *p;

    if (len > JOBREC_MESSAGE_MAX)
        len = JOBREC_MESSAGE_MAX;
    if (!(p = copy(message ? message : "", message ? len : 0)))
        return -ENOMEM;
    free(r->error_message);
    r->error_message = p;
    return 0;
}

int
jobrec_set_fail_code(struct jobrec *r, const char *code)
{
    size_t n = code ? strlen(code) : 0;

    free(r->fail_code);
    r->fail_code = NULL;
    if (!code || strcmp(code, "error") == 0)
        return 0;
    if (n < 1 || n > 64 ||
        strspn(code, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-") != n)
        return -EINVAL;
    return (r->fail_code = strdup(code)) ? 0 : -ENOMEM;
}

int
jobrec_set_progress(struct jobrec *r, unsigned pct, const char *message, size_t len)
{
    char *p;

    if (len > JOBREC_MESSAGE_MAX)
        len = JOBREC_MESSAGE_MAX;
    if (!(p = copy(message ? message : "", message ? len : 0)))
        return -ENOMEM;
    free(r->progress_message);
    r->progress_message = p;
    r->progress_pct = pct > 100 ? 100 : pct;
    return 0;
}

size_t
jobrec_bytes(const struct jobrec *r)
{
    size_t n = r->payload_len + r->result_len;

    n += r->caller_id ? strlen(r->caller_id) + 1 : 0;
    n += r->context_id ? strlen(r->context_id) + 1 : 0;
    n += r->error_message ? strlen(r->error_message) + 1 : 0;
    n += r->fail_code ? strlen(r->fail_code) + 1 : 0;
    n += r->progress_message ? strlen(r->progress_message) + 1 : 0;
    for (size_t i = 0; i < r->nenv; i++)
        n += strlen(r->env[i]) + 1 + sizeof(char *);
    return n;
}

/* Text as a JSON string: valid UTF-8 without NUL as it is, else NULL (the caller uses base64). */
static json_t *
text_or_null(const uint8_t *bytes, size_t len)
{
    if (memchr(bytes, 0, len) || !utf8_valid((const char *)bytes, len))
        return NULL;
    return json_stringn((const char *)bytes, len);
}

int
jobrec_bytes_to_json(json_t *o, const char *key, const char *key_b64, const uint8_t *bytes,
                     size_t len)
{
    static const uint8_t none[1];
    json_t *v = text_or_null(bytes ? bytes : none, bytes ? len : 0);
    char *b64;
    int r;

    if (v)
        return json_object_set_new(o, key, v);
    if (!(b64 = malloc(base64_encoded_len(len) + 1)))
        return -1;
    base64_encode(bytes, len, b64);
    r = json_object_set_new(o, key_b64, json_string(b64));
    free(b64);
    return r;
}

static json_t *
ms_or_null(int64_t ms)
{
    return ms ? json_integer(ms) : json_null();
}

static json_t *
str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static const char *const actor_names[] = { "drover", "worker", "api" };

static json_t *
history_json(const struct job *j)
{
    json_t *a = json_array();
    unsigned n = j->history_total < JOB_HISTORY_MAX ? j->history_total : JOB_HISTORY_MAX;

    for (unsigned k = 0; a && k < n; k++) {
        const struct job_history *h = &j->history[(j->history_total - n + k) % JOB_HISTORY_MAX];
        json_t *e = json_pack(
            "{s:s, s:I, s:s, s:s}", "state", job_state_name((enum job_state)h->state), "time_ms",
            (json_int_t)h->time_ms, "actor", h->actor < 3 ? actor_names[h->actor] : "drover",
            "cause", job_history_cause(h));

        if (!e) {
            json_decref(a);
            return NULL;
        }
        if (job_history_error_code(h))
            json_object_set_new(e, "error_code", json_string(job_history_error_code(h)));
        if (h->signal)
            json_object_set_new(e, "signal", json_string(util_signal_name(h->signal)));
        json_array_append_new(a, e);
    }
    return a;
}

static json_t *
error_json(const struct jobrec *r)
{
    const struct job *j = &r->q.sm;
    json_t *e;

    if (!j->error_code || (j->state != JOB_FAILED && j->state != JOB_RETRY_WAIT &&
                           j->state != JOB_CANCELLED && !r->error_message))
        return json_null();
    /* A worker's own code for its FAIL ("error" in the state machine) is what it said. */
    e = json_pack("{s:s}", "code",
                  strcmp(j->error_code, "error") == 0 && r->fail_code ? r->fail_code
                                                                      : j->error_code);
    if (!e)
        return NULL;
    json_object_set_new(e, "message", str_or_null(r->error_message));
    json_object_set_new(e, "signal",
                        j->error_signal ? json_string(util_signal_name(j->error_signal))
                                        : json_null());
    return e;
}

json_t *
jobrec_to_json(const struct jobrec *r, const char *type_name, bool brief)
{
    const struct job *j = &r->q.sm;
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:i}", "id", r->q.id, "type",
                          type_name ? type_name : "", "state", job_state_name(j->state),
                          "hero_status", job_hero_status(j->state), "funcx_state",
                          job_funcx_state(j->state), "priority", (int)r->q.priority, "attempt",
                          (int)j->attempt, "max_attempts", (int)r->max_attempts);

    if (!o)
        return NULL;
    json_object_set_new(o, "instance", r->instance[0] ? json_string(r->instance) : json_null());
    json_object_set_new(o, "created_ms", json_integer(j->created_ms));
    json_object_set_new(o, "started_ms", ms_or_null(j->started_ms));
    json_object_set_new(o, "finished_ms", ms_or_null(j->finished_ms));
    json_object_set_new(o, "timeout_ms", json_integer(r->timeout_ms));
    json_object_set_new(o, "run_at_ms", ms_or_null(j->run_at_ms));
    json_object_set_new(o, "caller_id", str_or_null(r->caller_id));
    json_object_set_new(o, "context_id", str_or_null(r->context_id));
    json_object_set_new(o, "error", error_json(r));
    json_object_set_new(o, "progress",
                        json_pack("{s:i, s:s}", "pct", (int)r->progress_pct, "message",
                                  r->progress_message ? r->progress_message : ""));
    if (brief)
        return o;
    if (jobrec_bytes_to_json(o, "payload", "payload_b64", r->payload, r->payload_len) < 0)
        goto fail;
    if (!r->result)
        json_object_set_new(o, "result", json_null());
    else if (jobrec_bytes_to_json(o, "result", "result_b64", r->result, r->result_len) < 0)
        goto fail;
    json_object_set_new(o, "history", history_json(j));
    if (j->history_total > JOB_HISTORY_MAX)
        json_object_set_new(o, "history_dropped",
                            json_integer((json_int_t)(j->history_total - JOB_HISTORY_MAX)));
    return o;
fail:
    json_decref(o);
    return NULL;
}

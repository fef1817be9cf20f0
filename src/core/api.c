/*
 * api: JSON answers for /health, /status, /readyz. See api.h.
 */
#include "core/api.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cfg.h"
#include "core/events.h"
#include "core/health.h"
#include "core/utf8.h"
#include "core/util.h"

struct api_answer
api_json(int code, json_t *body)
{
    struct api_answer a = { .code = code };

    if (body) {
        a.body = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(12));
        json_decref(body);
    }
    if (!a.body)
        a.code = 500;
    return a;
}

json_t *
api_text(const char *s, size_t len)
{
    char small[256], *buf = small;
    size_t need;
    json_t *j;

    if (utf8_valid(s, len))
        return json_stringn(s, len);
    need = utf8_escape(s, len, NULL, 0, 0);
    if (need >= sizeof(small) && !(buf = malloc(need + 1)))
        return NULL;
    (void)utf8_escape(s, len, buf, need + 1, 0);
    j = json_stringn(buf, need);
    if (buf != small)
        free(buf);
    return j;
}

/* o (taken) with key set to the len bytes at value, escaped; NULL if o is NULL or out of memory. */
static json_t *
with_text(json_t *o, const char *key, const char *value, size_t len)
{
    if (o && json_object_set_new(o, key, api_text(value, len)) < 0) {
        json_decref(o); /* an answer without the key would hide what was wrong */
        return NULL;
    }
    return o;
}

struct api_answer
api_error(int code, const char *msg, const char *key, const char *value)
{
    json_t *o = json_pack("{s:s}", "error", msg);

    return api_json(code, key ? with_text(o, key, value, strlen(value)) : o);
}

struct api_answer
api_bad_param(const char *param, const char *value, const char *expected)
{
    json_t *o = json_pack("{s:s, s:s, s:s}", "error", "bad query parameter", "parameter", param,
                          "expected", expected);

    return api_json(400, value ? with_text(o, "value", value, strlen(value)) : o);
}

unsigned
api_uri_check(const char *uri)
{
    const char *p = uri;
    size_t params = 0;
    unsigned problems = 0;

    if (!uri)
        return 0;
    /* The path, up to the first '?' as MHD splits it. */
    for (; *p && *p != '?'; p++)
        if (p[0] == '%' && p[1] == '0' && p[2] == '0')
            problems |= API_URI_PATH_NUL;
    /* MHD stores one parameter per '&'-separated piece, empty ones too, but none after a last '&'.
     */
    if (*p == '?' && p[1]) {
        for (params = 1, p++; *p; p++)
            params += *p == '&';
        params -= p[-1] == '&';
    }
    if ((size_t)(p - uri) + strlen(p) > API_URI_MAX)
        problems |= API_URI_TOO_LONG;
    if (params > API_PARAMS_MAX)
        problems |= API_URI_TOO_MANY_PARAMS;
    return problems;
}

struct api_answer
api_uri_answer(unsigned problems, const char *path)
{
    char msg[96];

    if (problems & API_URI_TOO_LONG) {
        (void)snprintf(msg, sizeof(msg), "URI too long (at most %d bytes)", API_URI_MAX);
        return api_error(414, msg, "path", path);
    }
    if (problems & API_URI_TOO_MANY_PARAMS) {
        (void)snprintf(msg, sizeof(msg), "bad request: too many parameters (at most %d)",
                       API_PARAMS_MAX);
        return api_error(400, msg, "path", path);
    }
    return api_error(400, "bad request: the path contains a NUL byte (%00)", "path", path);
}

struct api_answer
api_check_path(const char *path)
{
    if (utf8_valid(path, strlen(path)))
        return (struct api_answer){ .code = 0 };
    return api_error(400, "bad request: the path is not valid UTF-8", "path", path);
}

struct api_answer
api_check_param(const char *param, const char *value, size_t len)
{
    json_t *o;

    if (!value || utf8_valid(value, len)) /* valid means no NUL too */
        return (struct api_answer){ .code = 0 };
    o = json_pack("{s:s, s:s}", "error",
                  memchr(value, '\0', len) ? "bad query parameter: contains a NUL byte"
                                           : "bad query parameter: not valid UTF-8",
                  "parameter", param);
    return api_json(400, with_text(o, "value", value, len));
}

/* null, {"code": N}, {"signal": "KILL"} or {"unknown": true} (an adopted process). */
static json_t *
exit_json(const struct api_instance *v)
{
    if (!v->has_exit)
        return json_null();
    if (!v->last_exit.known)
        return json_pack("{s:b}", "unknown", 1);
    if (v->last_exit.signaled)
        return json_pack("{s:s}", "signal", util_signal_name(v->last_exit.value));
    return json_pack("{s:i}", "code", (json_int_t)v->last_exit.value);
}

static json_t *
instance_json(const struct api_instance *v)
{
    json_t *o = json_pack("{s:s, s:i, s:s, s:b, s:b, s:i}", "program", v->program, "instance",
                          (json_int_t)v->index, "state", svc_state_name(v->state), "ready",
                          v->ready, "adopted", v->adopted, "restarts", (json_int_t)v->restarts);

    if (!o)
        return NULL;
    json_object_set_new(o, "pid", v->pid ? json_integer(v->pid) : json_null());
    json_object_set_new(o, "port", v->port ? json_integer(v->port) : json_null());
    json_object_set_new(o, "uptime_seconds",
                        v->up_ms >= 0 ? json_real((double)v->up_ms / 1000) : json_null());
    json_object_set_new(o, "silent_seconds",
                        v->silent_ms >= 0 ? json_real((double)v->silent_ms / 1000) : json_null());
    json_object_set_new(o, "status", json_string(v->status ? v->status : ""));
    json_object_set_new(o, "last_exit", exit_json(v));
    if (v->state == SVC_WAITING)
        json_object_set_new(o, "waiting_for", json_string(v->waiting_for ? v->waiting_for : ""));
    if (v->memory_max) {
        json_object_set_new(o, "memory_bytes",
                            v->memory_samples ? json_integer((json_int_t)v->memory_bytes)
                                              : json_null());
        json_object_set_new(o, "memory_max_bytes", json_integer((json_int_t)v->memory_max));
        json_object_set_new(o, "memory_samples", json_integer((json_int_t)v->memory_samples));
        json_object_set_new(o, "memory_restarts", json_integer((json_int_t)v->memory_restarts));
    }
    if (v->takes_jobs) {
        json_t *held = json_array();

        for (size_t i = 0; held && i < v->njobs_held; i++)
            json_array_append_new(held, json_string(v->jobs_held[i]));
        json_object_set_new(o, "job", held ? held : json_null());
        json_object_set_new(o, "idle_s",
                            v->idle_ms >= 0 ? json_real((double)v->idle_ms / 1000) : json_null());
        json_object_set_new(o, "last_job_ms",
                            v->last_job_ms ? json_integer(v->last_job_ms) : json_null());
        json_object_set_new(o, "jobs_done", json_integer((json_int_t)v->jobs_done));
        json_object_set_new(o, "jobs_failed", json_integer((json_int_t)v->jobs_failed));
    }
    return o;
}

static bool
parse_count(const char *s, unsigned *ret)
{
    char *end;
    unsigned long n;

    if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 7)
        return false;
    n = strtoul(s, &end, 10);
    *ret = (unsigned)n;
    return true;
}

struct api_answer
api_health(const struct api_instance *v, size_t n, const char *max_silent, const char *silence,
           const char *program, unsigned default_max_silent, int64_t default_silence_ms)
{
    unsigned x = default_max_silent;
    int64_t t = default_silence_ms; /* reported; instances are judged by their own default */
    struct health_result r;
    json_t *body, *list;
    size_t matched = 0;

    if (max_silent && !parse_count(max_silent, &x))
        return api_bad_param("max_silent", max_silent,
                             "a whole number of instances (0 to 9999999)");
    if (silence && util_parse_duration_ms(silence, &t) < 0)
        return api_bad_param("silence", silence, "a duration such as 30, 30s or 500ms");
    struct health_view *views = calloc(n ? n : 1, sizeof(*views));
    enum health_reason *why = calloc(n ? n : 1, sizeof(*why));
    const struct api_instance **picked = calloc(n ? n : 1, sizeof(*picked));
    if (!views || !why || !picked) {
        free(views);
        free(why);
        free(picked);
        return (struct api_answer){ .code = 500 };
    }
    for (size_t i = 0; i < n; i++) {
        if (program && strcmp(program, v[i].program) != 0)
            continue;
        views[matched] =
            (struct health_view){ .state = v[i].state,
                                  .want_up = v[i].want_up,
                                  .silent_ms = v[i].silent_ms,
                                  .check_failing = v[i].check_failing,
                                  /* the query's T wins; else each program's default */
                                  .silence_limit_ms = silence ? 0 : v[i].default_silence_ms };
        picked[matched++] = &v[i];
    }
    health_evaluate(views, matched, x, t, &r, why);
    list = json_array();
    for (size_t i = 0; i < matched; i++) {
        json_t *o;
        if (why[i] == HEALTH_OK)
            continue;
        o = instance_json(picked[i]);
        if (o) {
            json_object_set_new(o, "reason", json_string(health_reason_name(why[i])));
            json_array_append_new(list, o);
        }
    }
    free(views);
    free(why);
    free(picked);
    body = json_pack("{s:b, s:{s:i, s:f}, s:{s:i, s:i, s:i, s:i, s:i, s:i, s:i}, s:o}", "healthy",
                     r.healthy, "thresholds", "max_silent", (json_int_t)x, "silence_seconds",
                     (double)t / 1000, "counts", "instances", (json_int_t)r.instances, "running",
                     (json_int_t)r.running, "silent", (json_int_t)r.silent, "failing",
                     (json_int_t)r.failing, "backoff", (json_int_t)r.backoff, "fatal",
                     (json_int_t)r.fatal, "unhealthy", (json_int_t)r.unhealthy,
                     "unhealthy_instances", list);
    if (body && program)
        body = with_text(body, "program", program, strlen(program));
    return api_json(r.healthy ? 200 : 503, body);
}

struct api_answer
api_status(const struct api_instance *v, size_t n, const char *program)
{
    json_t *programs = json_object(), *list;
    size_t matched = 0;

    if (!programs)
        return (struct api_answer){ .code = 500 };
    for (size_t i = 0; i < n; i++) {
        if (program && strcmp(program, v[i].program) != 0)
            continue;
        list = json_object_get(programs, v[i].program);
        if (!list) {
            list = json_array();
            json_object_set_new(programs, v[i].program, list);
        }
        json_array_append_new(list, instance_json(&v[i]));
        matched++;
    }
    if (program && matched == 0) /* scaled to 0: known, and empty */
        json_object_set_new(programs, program, json_array());
    return api_json(200, json_pack("{s:o}", "programs", programs));
}

struct api_answer
api_readyz(const struct api_instance *v, size_t n, bool started, const char *store_down)
{
    json_t *waiting = json_array();
    size_t count = 0;

    for (size_t i = 0; i < n; i++) {
        if (v[i].want_up && v[i].state != SVC_RUNNING && v[i].state != SVC_EXITED) {
            json_array_append_new(waiting, json_pack("{s:s, s:i, s:s}", "program", v[i].program,
                                                     "instance", (json_int_t)v[i].index, "state",
                                                     svc_state_name(v[i].state)));
            count++;
        }
    }
    json_t *o;
    bool ready = started && count == 0 && !store_down;

    o = json_pack("{s:b, s:b, s:o}", "ready", ready, "initial_start_done", started, "not_ready",
                  waiting);
    if (o && store_down) {
        char why[600];

        (void)snprintf(why, sizeof(why), "the job store (Redis) is unreachable: %s", store_down);
        json_object_set_new(o, "job_store", json_string(why));
    }
    return api_json(ready ? 200 : 503, o);
}

struct api_answer
api_events_query(const char *since, const char *wait, uint64_t *ret_since, int64_t *ret_wait_ms)
{
    char *end;

    *ret_since = 0;
    *ret_wait_ms = 0;
    if (since) {
        if (!*since || strspn(since, "0123456789") != strlen(since) || strlen(since) > 18)
            return api_bad_param("since", since, "a sequence number (0: everything still kept)");
        *ret_since = strtoull(since, &end, 10);
    }
    if (wait) {
        if (util_parse_duration_ms(wait, ret_wait_ms) < 0 || *ret_wait_ms > 60000)
            return api_bad_param("wait", wait, "seconds to wait for a change, at most 60");
    }
    return (struct api_answer){ .code = 0 };
}

struct api_answer
api_logs_query(const char *lines, const char *stream, const char *since, size_t *ret_lines,
               unsigned *ret_mask, uint64_t *ret_since)
{
    int64_t wait_unused;
    struct api_answer a;

    *ret_lines = API_LOGS_DEFAULT_LINES;
    *ret_mask = 1u << CFG_STREAM_OUT | 1u << CFG_STREAM_ERR;
    if (lines) {
        char *end;
        unsigned long n = strtoul(lines, &end, 10);
        if (!*lines || strspn(lines, "0123456789") != strlen(lines) || strlen(lines) > 6 || n < 1 ||
            n > API_LOGS_MAX_LINES)
            return api_bad_param("lines", lines, "a number of lines from 1 to 10000");
        *ret_lines = n;
    }
    if (stream) {
        if (strcmp(stream, "stdout") == 0)
            *ret_mask = 1u << CFG_STREAM_OUT;
        else if (strcmp(stream, "stderr") == 0)
            *ret_mask = 1u << CFG_STREAM_ERR;
        else if (strcmp(stream, "both") != 0)
            return api_bad_param("stream", stream, "stdout, stderr or both");
    }
    a = api_events_query(since, NULL, ret_since, &wait_unused);
    return a;
}

struct api_answer
api_logs(const char *program, const struct api_log_line *l, size_t n, uint64_t next)
{
    json_t *list = json_array(), *body;

    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            list, json_pack("{s:I, s:I, s:i, s:s, s:o, s:b}", "seq", (json_int_t)l[i].seq,
                            "time_ms", (json_int_t)l[i].unix_ms, "instance", (int)l[i].instance,
                            "stream", l[i].stream == CFG_STREAM_ERR ? "stderr" : "stdout", "text",
                            api_text(l[i].text, l[i].len), "cut", l[i].cut));
    body =
        json_pack("{s:s, s:o, s:I}", "program", program, "lines", list, "next", (json_int_t)next);
    return api_json(200, body);
}

struct api_answer
api_events(const struct event *const *ev, size_t n, uint64_t next, bool gap)
{
    json_t *list = json_array(), *body;

    for (size_t i = 0; i < n; i++) {
        json_t *o;

        if (ev[i]->kind == EVENT_PLAN) { /* no instance, no states: its own shape, a "kind" */
            json_array_append_new(list, json_pack("{s:I, s:I, s:s, s:s, s:s, s:s}", "seq",
                                                  (json_int_t)ev[i]->seq, "time_ms",
                                                  (json_int_t)ev[i]->unix_ms, "kind", "plan",
                                                  "program", ev[i]->program, "action", ev[i]->cause,
                                                  "detail", ev[i]->detail ? ev[i]->detail : ""));
            continue;
        }
        o = json_pack("{s:I, s:I, s:s, s:i, s:s, s:s, s:s}", "seq", (json_int_t)ev[i]->seq,
                      "time_ms", (json_int_t)ev[i]->unix_ms, "program", ev[i]->program, "instance",
                      (json_int_t)ev[i]->instance, "from", svc_state_name(ev[i]->from), "to",
                      svc_state_name(ev[i]->to), "cause", ev[i]->cause);
        if (o)
            json_object_set_new(o, "pid", ev[i]->pid ? json_integer(ev[i]->pid) : json_null());
        json_array_append_new(list, o);
    }
    body = json_pack("{s:o, s:I, s:b}", "events", list, "next", (json_int_t)next, "gap", gap);
    if (body && gap)
        json_object_set_new(body, "hint",
                            json_string("fell behind: older changes were dropped, GET /status for "
                                        "the whole state"));
    return api_json(200, body);
}

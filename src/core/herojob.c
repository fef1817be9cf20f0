/*
 * herojob: the Redis store's job hash. See herojob.h.
 */
#include "core/herojob.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/base64.h"
#include "core/utf8.h"

bool
herojob_id_valid(const char *id, size_t len)
{
    if (len < 1 || len > JOBQ_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = id[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == ':' || ch == '-'))
            return false;
    }
    return true;
}

static const struct herojob_field *
field(const struct herojob_field *f, size_t n, const char *name)
{
    size_t len = strlen(name);

    for (size_t i = 0; i < n; i++)
        if (f[i].name_len == len && memcmp(f[i].name, name, len) == 0)
            return &f[i];
    return NULL;
}

/* A field's value as a C string (NUL-free, short): for numbers and ids. */
static bool
small_text(const struct herojob_field *v, char *buf, size_t size)
{
    if (!v || v->value_len >= size || memchr(v->value, '\0', v->value_len))
        return false;
    memcpy(buf, v->value, v->value_len);
    buf[v->value_len] = '\0';
    return true;
}

/* An unsigned integer field; absent or empty: *ret untouched, 0. -1: not one (err says). */
static int
read_uint(const struct herojob_field *f, size_t n, const char *name, uint64_t max, uint64_t *ret,
          char *err, size_t errsize)
{
    const struct herojob_field *v = field(f, n, name);
    char buf[32], *end;
    unsigned long long x;

    if (!v || v->value_len == 0)
        return 0;
    if (!small_text(v, buf, sizeof(buf)) || buf[0] < '0' || buf[0] > '9' ||
        (errno = 0, x = strtoull(buf, &end, 10), errno) || *end || x > max) {
        (void)snprintf(err, errsize, "field %s is not a whole number from 0 to %llu", name,
                       (unsigned long long)max);
        return -1;
    }
    *ret = x;
    return 0;
}

static bool
env_name_valid(const char *k)
{
    if (!*k || (*k >= '0' && *k <= '9'))
        return false;
    for (const char *p = k; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_'))
            return false;
    return true;
}

/* env_vars: Hero's JSON object of strings, as KEY=VALUE. */
static int
read_env(const struct herojob_field *v, struct jobrec *r, char *err, size_t errsize)
{
    json_error_t jerr;
    json_t *o, *val;
    const char *k;

    if (!v || v->value_len == 0)
        return 0;
    o = json_loadb(v->value, v->value_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o || !json_is_object(o)) {
        (void)snprintf(err, errsize, "field env_vars is not a JSON object%s%s", o ? "" : ": ",
                       o ? "" : jerr.text);
        json_decref(o);
        return -1;
    }
    if (json_object_size(o) > JOBREC_MAX_ENV) {
        (void)snprintf(err, errsize, "field env_vars has %zu variables, at most %d",
                       json_object_size(o), JOBREC_MAX_ENV);
        json_decref(o);
        return -1;
    }
    if (json_object_size(o) && !(r->env = calloc(json_object_size(o), sizeof(char *)))) {
        (void)snprintf(err, errsize, "out of memory");
        json_decref(o);
        return -1;
    }
    json_object_foreach(o, k, val)
    {
        const char *s = json_is_string(val) ? json_string_value(val) : NULL;
        char *kv;

        if (!s || !env_name_valid(k) || strchr(s, '\n')) {
            (void)snprintf(err, errsize,
                           "field env_vars: \"%.64s\" is not NAME (A-Z a-z 0-9 _) with a string "
                           "value on one line",
                           k);
            json_decref(o);
            return -1;
        }
        size_t kn = strlen(k), sn = strlen(s);

        if (!(kv = malloc(kn + sn + 2))) {
            (void)snprintf(err, errsize, "out of memory");
            json_decref(o);
            return -1;
        }
        memcpy(kv, k, kn);
        kv[kn] = '=';
        memcpy(kv + kn + 1, s, sn + 1);
        r->env[r->nenv++] = kv;
    }
    json_decref(o);
    return 0;
}

/* caller_id, context_id: kept when they are short text; else left out (they only label). */
static int
read_label(const struct herojob_field *f, size_t n, const char *name, char **ret)
{
    const struct herojob_field *v = field(f, n, name);

    if (!v || v->value_len == 0 || v->value_len > JOBREC_CALLER_MAX ||
        !utf8_valid(v->value, v->value_len))
        return 0;
    if (!(*ret = strndup(v->value, v->value_len)))
        return -1;
    return 0;
}

int
herojob_read(const char *id, size_t id_len, const struct herojob_field *f, size_t n,
             const struct herojob_defaults *d, struct jobrec *r, unsigned *ret_attempt, char *err,
             size_t errsize)
{
    const struct herojob_field *script = field(f, n, "script");
    uint64_t timeout_s = UINT64_MAX, retries = UINT64_MAX, max = UINT64_MAX, attempt = 1;

    if (!herojob_id_valid(id, id_len)) {
        (void)snprintf(err, errsize,
                       "the id is not 1 to %d of A-Z a-z 0-9 . _ : - (drover cannot name a job by "
                       "it)",
                       JOBQ_ID_MAX);
        return -1;
    }
    memcpy(r->q.id, id, id_len);
    r->q.id[id_len] = '\0';
    if (!script) {
        (void)snprintf(err, errsize, "the job hash has no field script (the payload)");
        return -1;
    }
    if (script->value_len > d->max_payload) {
        (void)snprintf(err, errsize,
                       "field script has %zu bytes, more than jobs.max_payload (%llu)",
                       script->value_len, (unsigned long long)d->max_payload);
        return -1;
    }
    if (!utf8_valid(script->value, script->value_len)) {
        size_t ok = 0;

        while (ok < script->value_len && utf8_valid(script->value, ok + 1))
            ok++;
        (void)snprintf(err, errsize,
                       "field script is not valid UTF-8 text (byte %zu): Hero scripts are text",
                       ok + 1);
        return -1;
    }
    if (read_uint(f, n, "timeout", 30 * 86400, &timeout_s, err, errsize) < 0 ||
        read_uint(f, n, "retries", d->max_attempts - 1, &retries, err, errsize) < 0 ||
        read_uint(f, n, "drover_max_attempts", d->max_attempts, &max, err, errsize) < 0 ||
        read_uint(f, n, "drover_attempt", d->max_attempts, &attempt, err, errsize) < 0)
        return -1;
    r->timeout_ms =
        timeout_s == UINT64_MAX || timeout_s == 0 ? d->timeout_ms : (int64_t)timeout_s * 1000;
    r->max_attempts = max != UINT64_MAX && max > 0 ? (unsigned)max
                      : retries != UINT64_MAX      ? (unsigned)retries + 1
                                                   : d->attempts;
    if (attempt == 0)
        attempt = 1;
    if (attempt > r->max_attempts) {
        (void)snprintf(err, errsize, "attempt %llu is past the job's %u attempts",
                       (unsigned long long)attempt, r->max_attempts);
        return -1;
    }
    *ret_attempt = (unsigned)attempt;
    if (script->value_len) {
        if (!(r->payload = malloc(script->value_len))) {
            (void)snprintf(err, errsize, "out of memory");
            return -1;
        }
        memcpy(r->payload, script->value, script->value_len);
    }
    r->payload_len = script->value_len;
    r->idempotent = true; /* the id is the client's */
    if (read_env(field(f, n, "env_vars"), r, err, errsize) < 0)
        return -1;
    if (read_label(f, n, "caller_id", &r->caller_id) < 0 ||
        read_label(f, n, "context_id", &r->context_id) < 0) {
        (void)snprintf(err, errsize, "out of memory");
        return -1;
    }
    return 0;
}

const char *
herojob_iso8601(int64_t unix_ms, char *buf)
{
    time_t s = (time_t)(unix_ms / 1000);
    struct tm tm;

    if (!gmtime_r(&s, &tm)) {
        (void)snprintf(buf, HEROJOB_ISO_MAX, "1970-01-01T00:00:00.000Z");
        return buf;
    }
    {
        char date[24];
        size_t n = strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);

        date[n] = '\0';
        (void)snprintf(buf, HEROJOB_ISO_MAX, "%.20s.%03uZ", date,
                       (unsigned)((unix_ms % 1000 + 1000) % 1000));
    }
    return buf;
}

/* A field as a JSON string; null when absent, empty or not UTF-8 text. */
static json_t *
text_of(const struct herojob_field *f, size_t n, const char *name)
{
    const struct herojob_field *v = field(f, n, name);

    if (!v || !v->value_len || !utf8_valid(v->value, v->value_len))
        return json_null();
    return json_stringn(v->value, v->value_len);
}

/* A whole-number field; null when absent or not one. */
static json_t *
number_of(const struct herojob_field *f, size_t n, const char *name)
{
    uint64_t x = UINT64_MAX;
    char err[96];

    if (read_uint(f, n, name, 1ULL << 53, &x, err, sizeof(err)) < 0 || x == UINT64_MAX)
        return json_null();
    return json_integer((json_int_t)x);
}

/* Bytes as text under key, else as base64 under key_b64 (the other null). */
static int
bytes_to(json_t *o, const struct herojob_field *v, const char *key, const char *key_b64)
{
    char *b64;
    int rc;

    if (!v)
        return json_object_set_new(o, key, json_null()) |
               json_object_set_new(o, key_b64, json_null());
    if (utf8_valid(v->value, v->value_len))
        return json_object_set_new(o, key, json_stringn(v->value, v->value_len)) |
               json_object_set_new(o, key_b64, json_null());
    if (!(b64 = malloc(base64_encoded_len(v->value_len) + 1)))
        return -1;
    base64_encode(v->value, v->value_len, b64);
    rc = json_object_set_new(o, key, json_null()) |
         json_object_set_new(o, key_b64, json_string(b64));
    free(b64);
    return rc;
}

/* Hero's status as drover's state, for a hash no drover has touched yet. */
static const char *
state_of_status(const struct herojob_field *st)
{
    static const char *const map[][2] = {
        { "created", "waiting" },  { "dispatched", "waiting" }, { "started", "running" },
        { "finished", "success" }, { "error", "failed" },
    };

    for (size_t i = 0; st && i < sizeof(map) / sizeof(map[0]); i++)
        if (st->value_len == strlen(map[i][0]) && memcmp(st->value, map[i][0], st->value_len) == 0)
            return map[i][1];
    return NULL;
}

static bool
value_is(const struct herojob_field *v, const char *s)
{
    return v && v->value_len == strlen(s) && memcmp(v->value, s, v->value_len) == 0;
}

bool
herojob_ended(const struct herojob_field *f, size_t n)
{
    const struct herojob_field *st = field(f, n, "drover_state"), *status;

    if (st && st->value_len)
        return value_is(st, "success") || value_is(st, "failed") || value_is(st, "cancelled");
    status = field(f, n, "status");
    return value_is(status, "finished") || value_is(status, "error");
}

json_t *
herojob_to_json(const char *id, const struct herojob_field *f, size_t n)
{
    json_t *o = json_object(), *state = text_of(f, n, "drover_state"), *node;
    const char *derived = state_of_status(field(f, n, "status"));

    if (!o)
        return NULL;
    if (json_is_null(state) && derived)
        state = json_string(derived);
    node = text_of(f, n, "drover_owner");
    if (json_object_set_new(o, "id", json_string(id)) < 0 ||
        json_object_set_new(o, "type", text_of(f, n, "script_type")) < 0 ||
        json_object_set_new(o, "state", state) < 0 ||
        json_object_set_new(o, "hero_status", text_of(f, n, "status")) < 0 ||
        json_object_set_new(o, "attempt", number_of(f, n, "drover_attempt")) < 0 ||
        json_object_set_new(o, "max_attempts", number_of(f, n, "drover_max_attempts")) < 0 ||
        json_object_set_new(o, "node", node) < 0 ||
        json_object_set_new(o, "instance", text_of(f, n, "actor_id")) < 0 ||
        bytes_to(o, field(f, n, "script"), "payload", "payload_b64") < 0 ||
        bytes_to(o, field(f, n, "output"), "result", "result_b64") < 0 ||
        json_object_set_new(o, "error", text_of(f, n, "error")) < 0 ||
        json_object_set_new(o, "error_code", text_of(f, n, "drover_error_code")) < 0 ||
        json_object_set_new(o, "created_at", text_of(f, n, "created_at")) < 0 ||
        json_object_set_new(o, "updated_at", text_of(f, n, "updated_at")) < 0 ||
        json_object_set_new(o, "finished_ms", number_of(f, n, "drover_finished_ms")) < 0 ||
        json_object_set_new(o, "store", json_string("redis")) < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/*
 * cfg_jobs: the `jobs` sections of the configuration. See cfg_jobs.h; the
 * keys, their defaults and ranges are in docs/config.md#jobs.
 */
#include "core/cfg_jobs.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "core/cfg.h"
#include "core/schema.h"
#include "core/util.h"

_Static_assert(CFG_JOBS_TYPE_MAX == CFG_NAME_MAX, "a type is checked by cfg_name_valid()");

static const char *const store_names[JOBS_STORE__MAX] = {
    [JOBS_STORE_FILE] = "file",
    [JOBS_STORE_MEMORY] = "memory",
    [JOBS_STORE_REDIS] = "redis",
};

static const char *const fsync_names[JOBS_FSYNC__MAX] = {
    [JOBS_FSYNC_SUBMIT] = "submit",
    [JOBS_FSYNC_ALWAYS] = "always",
    [JOBS_FSYNC_NEVER] = "never",
};

static const char *const dispatch_names[JOBS_DISPATCH__MAX] = {
    [JOBS_DISPATCH_PACK] = "pack",
    [JOBS_DISPATCH_SPREAD] = "spread",
};

const char *
jobs_store_name(enum jobs_store s)
{
    return s >= 0 && s < JOBS_STORE__MAX ? store_names[s] : "?";
}

const char *
jobs_fsync_name(enum jobs_fsync f)
{
    return f >= 0 && f < JOBS_FSYNC__MAX ? fsync_names[f] : "?";
}

const char *
jobs_dispatch_name(enum jobs_dispatch d)
{
    return d >= 0 && d < JOBS_DISPATCH__MAX ? dispatch_names[d] : "?";
}

void
cfg_jobs_defaults(struct jobs_cfg *jc)
{
    *jc = (struct jobs_cfg){
        .store = JOBS_STORE_FILE,
        .fsync = JOBS_FSYNC_SUBMIT,
        .result_ttl_ms = CFG_JOBS_DEFAULT_RESULT_TTL_MS,
        .failed_ttl_ms = CFG_JOBS_DEFAULT_FAILED_TTL_MS,
        .max_finished = CFG_JOBS_DEFAULT_MAX_FINISHED,
        .max_payload = CFG_JOBS_DEFAULT_MAX_PAYLOAD,
        .max_queued_bytes = CFG_JOBS_DEFAULT_MAX_QUEUED_BYTES,
        .redis = { .node_ttl_ms = CFG_JOBS_REDIS_DEFAULT_NODE_TTL_MS },
    };
}

const char *
cfg_jobs_redis_prefix(const struct jobs_redis_cfg *rc)
{
    return rc->prefix ? rc->prefix : CFG_JOBS_REDIS_DEFAULT_PREFIX;
}

const char *
cfg_jobs_redis_node(const struct jobs_redis_cfg *rc)
{
    return rc->node ? rc->node : CFG_JOBS_REDIS_DEFAULT_NODE;
}

const char *
cfg_jobs_redis_queue_key(const struct jobs_redis_cfg *rc)
{
    return rc->queue_key ? rc->queue_key : CFG_JOBS_REDIS_DEFAULT_QUEUE_KEY;
}

void
cfg_program_jobs_defaults(struct program_jobs_cfg *pj)
{
    *pj = (struct program_jobs_cfg){
        .concurrency = 1,
        .timeout_ms = CFG_JOBS_DEFAULT_TIMEOUT_MS,
        .cancel_grace_ms = CFG_JOBS_DEFAULT_CANCEL_GRACE_MS,
        .attempts = CFG_JOBS_DEFAULT_ATTEMPTS,
        .backoff_initial_ms = CFG_JOBS_DEFAULT_BACKOFF_INITIAL_MS,
        .backoff_max_ms = CFG_JOBS_DEFAULT_BACKOFF_MAX_MS,
        .backoff_factor = CFG_JOBS_DEFAULT_BACKOFF_FACTOR,
        .backoff_jitter = CFG_JOBS_DEFAULT_BACKOFF_JITTER,
        .max_worker_kills = CFG_JOBS_DEFAULT_MAX_WORKER_KILLS,
        .dispatch = JOBS_DISPATCH_PACK,
        .ping = true,
        .ping_idle_ms = CFG_JOBS_DEFAULT_PING_IDLE_MS,
        .ping_timeout_ms = CFG_JOBS_DEFAULT_PING_TIMEOUT_MS,
        .ping_failures = CFG_JOBS_DEFAULT_PING_FAILURES,
        .autoscale_min = CFG_JOBS_DEFAULT_AUTOSCALE_MIN,
        .autoscale_interval_ms = CFG_JOBS_DEFAULT_AUTOSCALE_INTERVAL_MS,
        .down_after_ms = CFG_JOBS_DEFAULT_DOWN_AFTER_MS,
    };
}

void
cfg_jobs_done(struct jobs_cfg *jc)
{
    free(jc->dir);
    free(jc->socket);
    free(jc->redis.url_text);
    free(jc->redis.prefix);
    free(jc->redis.node);
    free(jc->redis.queue_key);
    free(jc->redis.password_file);
    jc->dir = NULL;
    jc->socket = NULL;
    jc->redis = (struct jobs_redis_cfg){ .node_ttl_ms = CFG_JOBS_REDIS_DEFAULT_NODE_TTL_MS };
}

void
cfg_program_jobs_done(struct program_jobs_cfg *pj)
{
    for (size_t i = 0; pj->types && i < pj->ntypes; i++)
        free(pj->types[i]);
    free(pj->types);
    pj->types = NULL;
    pj->ntypes = 0;
}

/* --- typed values ----------------------------------------------------------------------------- */

/* One of names[0..n) into *ret; expected says what in the error ("\"pack\" or \"spread\""). */
static int
get_enum(struct schema_ctx *c, const json_t *v, const char *const *names, int n,
         const char *expected, int *ret)
{
    if (json_is_string(v)) {
        for (int i = 0; i < n; i++)
            if (strcmp(json_string_value(v), names[i]) == 0) {
                *ret = i;
                return 0;
            }
        schema_error(c, false, "expected %s, got \"%s\"", expected, json_string_value(v));
    } else {
        schema_error(c, false, "expected %s, got %s", expected, schema_kind(v));
    }
    return -EINVAL;
}

/* "64 MiB", "1 KiB", "12345 bytes": a bound, for messages. */
static void
format_size(uint64_t n, char *buf, size_t size)
{
    static const char *const units[] = { "TiB", "GiB", "MiB", "KiB" };

    for (size_t u = 0; u < ARRAY_SIZE(units); u++) {
        uint64_t unit = (uint64_t)1 << (10 * (ARRAY_SIZE(units) - u));

        if (n >= unit && n % unit == 0) {
            (void)snprintf(buf, size, "%" PRIu64 " %s", n / unit, units[u]);
            return;
        }
    }
    (void)snprintf(buf, size, "%" PRIu64 " byte%s", n, n == 1 ? "" : "s");
}

/* A size: a whole number of bytes or a string such as "1MiB" (util_parse_size()), min to max. */
static int
get_size(struct schema_ctx *c, const json_t *v, uint64_t min, uint64_t max, uint64_t *ret)
{
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    char lo[32], hi[32];
    uint64_t n = 0;
    bool ok = false;

    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        n = (uint64_t)json_integer_value(v);
        ok = true;
    } else if (s && util_parse_size(s, &n) == 0) {
        ok = true;
    }
    if (ok && n >= min && n <= max) {
        *ret = n;
        return 0;
    }
    format_size(min, lo, sizeof(lo));
    format_size(max, hi, sizeof(hi));
    if (ok)
        schema_error(c, false, "size out of range (%s to %s), got %" PRIu64 " bytes", lo, hi, n);
    else if (json_is_integer(v))
        schema_error(c, false, "size out of range (%s to %s), got %lld", lo, hi,
                     (long long)json_integer_value(v));
    else if (s)
        schema_error(c, false,
                     "expected a size such as \"1MiB\" or a number of bytes (%s to %s), got \"%s\"",
                     lo, hi, s);
    else
        schema_error(c, false,
                     "expected a size such as \"1MiB\" or a number of bytes (%s to %s), got %s", lo,
                     hi, schema_kind(v));
    return -EINVAL;
}

/* A JSON number (integer or not) from min to max. */
static int
get_number(struct schema_ctx *c, const json_t *v, double min, double max, double *ret)
{
    double d;

    if (!json_is_number(v)) {
        schema_error(c, false, "expected a number from %g to %g, got %s", min, max, schema_kind(v));
        return -EINVAL;
    }
    d = json_number_value(v);
    if (!(d >= min && d <= max)) {
        schema_error(c, false, "expected a number from %g to %g, got %g", min, max, d);
        return -EINVAL;
    }
    *ret = d;
    return 0;
}

/* --- the top-level `jobs` --------------------------------------------------------------------- */

static int
jobs_store(struct schema_ctx *c, const json_t *val, void *target)
{
    int s;

    if (get_enum(c, val, store_names, JOBS_STORE__MAX, "\"file\", \"memory\" or \"redis\"", &s) < 0)
        return -EINVAL;
    *(enum jobs_store *)target = (enum jobs_store)s;
    return 0;
}

static int
jobs_fsync(struct schema_ctx *c, const json_t *val, void *target)
{
    int f;

    if (get_enum(c, val, fsync_names, JOBS_FSYNC__MAX, "\"submit\", \"always\" or \"never\"", &f) <
        0)
        return -EINVAL;
    *(enum jobs_fsync *)target = (enum jobs_fsync)f;
    return 0;
}

/* --- jobs.redis ----------------------------------------------------------------------------- */

static int
redis_url(struct schema_ctx *c, const json_t *val, void *target)
{
    struct jobs_redis_cfg *rc = target;
    char err[256];

    if (schema_string(c, val, false, &rc->url_text) < 0)
        return -EINVAL;
    if (redis_url_parse(rc->url_text, &rc->url, err, sizeof(err)) < 0) {
        schema_error(c, false, "%s", err);
        return -EINVAL;
    }
    return 0;
}

/* A key part: printable ASCII but space, at most CFG_JOBS_REDIS_KEY_MAX bytes. */
static bool
key_text_valid(const char *s, char *err, size_t errsize)
{
    size_t n = strlen(s);

    if (n == 0 || n > CFG_JOBS_REDIS_KEY_MAX) {
        (void)snprintf(err, errsize, "expected 1 to %d characters, got %zu", CFG_JOBS_REDIS_KEY_MAX,
                       n);
        return false;
    }
    for (size_t i = 0; i < n; i++)
        if (s[i] <= ' ' || s[i] > '~') {
            (void)snprintf(err, errsize,
                           "character %zu is not printable ASCII (a space or a control "
                           "character): key names are kept plain",
                           i + 1);
            return false;
        }
    return true;
}

/*
 * A template whose {{...}} are only those in allowed (NULL-ended);
 * required: one that must appear (NULL none).
 */
static bool
template_valid(const char *s, const char *const *allowed, const char *required, char *err,
               size_t errsize)
{
    bool has_required = !required;

    if (!key_text_valid(s, err, errsize))
        return false;
    for (const char *p = strstr(s, "{{"); p; p = strstr(p + 2, "{{")) {
        const char *end = strstr(p, "}}");
        bool known = false;

        if (!end) {
            (void)snprintf(err, errsize, "\"{{\" at character %zu is not closed by \"}}\"",
                           (size_t)(p - s) + 1);
            return false;
        }
        for (size_t k = 0; allowed[k]; k++) {
            size_t n = strlen(allowed[k]);

            if ((size_t)(end - p - 2) == n && memcmp(p + 2, allowed[k], n) == 0) {
                known = true;
                has_required |= required && strcmp(required, allowed[k]) == 0;
            }
        }
        if (!known) {
            (void)snprintf(err, errsize, "unknown placeholder \"%.*s\" (expected %s)",
                           (int)(end - p + 2), p,
                           allowed[1] ? "{{prefix}} or {{type}}" : "{{hostname}}");
            return false;
        }
    }
    if (!has_required) {
        (void)snprintf(err, errsize, "no {{%s}}: every type would share one queue", required);
        return false;
    }
    return true;
}

static int
redis_template(struct schema_ctx *c, const json_t *val, char **target, const char *const *allowed,
               const char *required)
{
    char err[256];

    if (schema_string(c, val, false, target) < 0)
        return -EINVAL;
    if (!template_valid(*target, allowed, required, err, sizeof(err))) {
        schema_error(c, false, "%s", err);
        return -EINVAL;
    }
    return 0;
}

static int
redis_prefix(struct schema_ctx *c, const json_t *val, void *target)
{
    static const char *const none[] = { NULL };

    return redis_template(c, val, &((struct jobs_redis_cfg *)target)->prefix, none, NULL);
}

static int
redis_node(struct schema_ctx *c, const json_t *val, void *target)
{
    static const char *const vars[] = { "hostname", NULL };

    return redis_template(c, val, &((struct jobs_redis_cfg *)target)->node, vars, NULL);
}

static int
redis_queue_key(struct schema_ctx *c, const json_t *val, void *target)
{
    static const char *const vars[] = { "prefix", "type", NULL };

    return redis_template(c, val, &((struct jobs_redis_cfg *)target)->queue_key, vars, "type");
}

static int
redis_node_ttl(struct schema_ctx *c, const json_t *val, void *target)
{
    struct jobs_redis_cfg *rc = target;

    if (schema_duration_min(c, val, CFG_JOBS_REDIS_MIN_NODE_TTL_MS, "node_ttl", &rc->node_ttl_ms) <
        0)
        return -EINVAL;
    if (rc->node_ttl_ms > CFG_JOBS_REDIS_MAX_NODE_TTL_MS) {
        schema_error(c, false, "node_ttl is at most 1h: a dead node's jobs would wait that long");
        return -EINVAL;
    }
    return 0;
}

static int
redis_password_file(struct schema_ctx *c, const json_t *val, void *target)
{
    struct jobs_redis_cfg *rc = target;

    if (schema_string(c, val, false, &rc->password_file) < 0)
        return -EINVAL;
    if (rc->password_file[0] != '/') {
        schema_error(c, false, "expected an absolute path, got \"%s\"", rc->password_file);
        return -EINVAL;
    }
    return 0;
}

/* core/cfgdiff.c compares every field these fill (its set_jobs()). */
static const struct schema_key redis_keys[] = {
    { "url", redis_url, 0, 0 },           { "prefix", redis_prefix, 0, 0 },
    { "node", redis_node, 0, 0 },         { "queue_key", redis_queue_key, 0, 0 },
    { "node_ttl", redis_node_ttl, 0, 0 }, { "password_file", redis_password_file, 0, 0 },
};

static int
jobs_redis(struct schema_ctx *c, const json_t *val, void *target)
{
    struct jobs_redis_cfg *rc = target;

    if (!schema_require_keys(c, val, "Redis store settings", redis_keys, ARRAY_SIZE(redis_keys),
                             ""))
        return -EINVAL;
    rc->given = true;
    return schema_parse_keys(c, val, redis_keys, ARRAY_SIZE(redis_keys), 0, rc, NULL);
}

/*
 * Only an absolute path is used (daemon/jobs.c): without one the socket is
 * jobs-….sock in drover's runtime directory, so a relative path would be
 * silently ignored. Refused instead.
 */
static int
jobs_socket(struct schema_ctx *c, const json_t *val, void *target)
{
    char **path = target;
    size_t room = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;

    if (schema_string(c, val, false, path) < 0)
        return -EINVAL;
    if ((*path)[0] != '/') {
        schema_error(c, false,
                     "expected an absolute path (leave \"socket\" out for one in drover's runtime "
                     "directory), got \"%s\"",
                     *path);
        return -EINVAL;
    }
    if (strlen(*path) > room) {
        schema_error(c, false, "a socket path has at most %zu bytes, this one %zu", room,
                     strlen(*path));
        return -EINVAL;
    }
    return 0;
}

/*
 * A duration of at least CFG_JOBS_MIN_TTL_MS, in days too ("7d", "1.5d"):
 * other durations stop at hours, but a finished job is kept for days.
 */
static int
get_ttl(struct schema_ctx *c, const json_t *v, const char *what, int64_t *ret_ms)
{
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    size_t n = s ? strlen(s) : 0;
    char num[32];
    int64_t ms;

    if (n < 2 || n > sizeof(num) || s[n - 1] != 'd' || !strchr("0123456789.", s[n - 2]))
        return schema_duration_min(c, v, CFG_JOBS_MIN_TTL_MS, what, ret_ms);
    memcpy(num, s, n - 1);
    num[n - 1] = '\0';
    /* The number alone is seconds: as many days is 86400 times that. */
    if (util_parse_duration_ms(num, &ms) < 0 || ms > UTIL_DURATION_MAX_MS / 86400) {
        schema_error(c, false, "duration out of range (0 to 30 days): \"%s\"", s);
        return -EINVAL;
    }
    ms *= 86400;
    if (ms < CFG_JOBS_MIN_TTL_MS) {
        schema_error(c, false, "%s must be at least %dms", what, CFG_JOBS_MIN_TTL_MS);
        return -EINVAL;
    }
    *ret_ms = ms;
    return 0;
}

static int
jobs_result_ttl(struct schema_ctx *c, const json_t *val, void *target)
{
    return get_ttl(c, val, "result_ttl", target);
}

static int
jobs_failed_ttl(struct schema_ctx *c, const json_t *val, void *target)
{
    return get_ttl(c, val, "failed_ttl", target);
}

static int
jobs_max_finished(struct schema_ctx *c, const json_t *val, void *target)
{
    return schema_uint(c, val, 1, CFG_JOBS_MAX_MAX_FINISHED, target);
}

static int
jobs_max_payload(struct schema_ctx *c, const json_t *val, void *target)
{
    return get_size(c, val, 1, CFG_JOBS_MAX_MAX_PAYLOAD, target);
}

static int
jobs_max_queued_bytes(struct schema_ctx *c, const json_t *val, void *target)
{
    return get_size(c, val, 1, CFG_JOBS_MAX_MAX_QUEUED_BYTES, target);
}

/* core/cfgdiff.c compares every field these fill (its set_jobs()). */
static const struct schema_key jobs_keys[] = {
    { "store", jobs_store, offsetof(struct jobs_cfg, store), 0 },
    { "dir", schema_key_string, offsetof(struct jobs_cfg, dir), 0 },
    { "fsync", jobs_fsync, offsetof(struct jobs_cfg, fsync), 0 },
    { "result_ttl", jobs_result_ttl, offsetof(struct jobs_cfg, result_ttl_ms), 0 },
    { "failed_ttl", jobs_failed_ttl, offsetof(struct jobs_cfg, failed_ttl_ms), 0 },
    { "max_finished", jobs_max_finished, offsetof(struct jobs_cfg, max_finished), 0 },
    { "max_payload", jobs_max_payload, offsetof(struct jobs_cfg, max_payload), 0 },
    { "max_queued_bytes", jobs_max_queued_bytes, offsetof(struct jobs_cfg, max_queued_bytes),
      SCHEMA_COUNTED },
    { "socket", jobs_socket, offsetof(struct jobs_cfg, socket), 0 },
    { "redis", jobs_redis, offsetof(struct jobs_cfg, redis), 0 },
};

int
cfg_jobs_parse(struct schema_ctx *c, const json_t *val, void *target)
{
    struct jobs_cfg *jc = target;
    unsigned queued_given;

    if (!schema_require_keys(c, val, "job store settings", jobs_keys, ARRAY_SIZE(jobs_keys), ""))
        return -EINVAL;
    jc->given = true;
    if (schema_parse_keys(c, val, jobs_keys, ARRAY_SIZE(jobs_keys), 0, jc, &queued_given) < 0)
        return -EINVAL;
    /* The default (256 MiB) is above the largest max_payload: only a given one can be below. */
    if (queued_given && jc->max_queued_bytes < jc->max_payload) {
        schema_push_key(c, "max_queued_bytes");
        schema_error(c, false,
                     "max_queued_bytes (%" PRIu64 ") is below max_payload (%" PRIu64
                     "): a job of the largest payload could never be queued",
                     jc->max_queued_bytes, jc->max_payload);
        schema_pop(c);
        return -EINVAL;
    }
    if (jc->store == JOBS_STORE_REDIS && !jc->redis.url_text) {
        schema_push_key(c, jc->redis.given ? "redis" : "store");
        schema_error(c, false,
                     "the redis store needs jobs.redis.url (\"unix:PATH\" or "
                     "\"redis://HOST[:PORT][/DB]\")");
        schema_pop(c);
        return -EINVAL;
    }
    if (jc->store != JOBS_STORE_REDIS && jc->redis.given) {
        schema_push_key(c, "redis");
        schema_error(c, true, "jobs.redis is for store \"redis\", and the store is \"%s\"",
                     jobs_store_name(jc->store));
        schema_pop(c);
        return -EINVAL;
    }
    return 0;
}

/* --- a program's `jobs` ----------------------------------------------------------------------- */

/* target: the struct program_jobs_cfg. Names as program names; each once. */
static int
pj_types(struct schema_ctx *c, const json_t *val, void *target)
{
    struct program_jobs_cfg *pj = target;
    size_t n;
    int r = 0;

    if (!json_is_array(val)) {
        schema_error(c, false, "expected a list of type names, got %s", schema_kind(val));
        return -EINVAL;
    }
    n = json_array_size(val);
    if (n == 0) {
        schema_error(
            c, false,
            "no types: expected at least one (leave \"types\" out for the program's name)");
        return -EINVAL;
    }
    if (n > CFG_JOBS_MAX_TYPES) {
        schema_error(c, false, "more than %d types", CFG_JOBS_MAX_TYPES);
        return -EINVAL;
    }
    pj->types = calloc(n, sizeof(*pj->types));
    if (!pj->types) {
        schema_error(c, false, "out of memory");
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        char *t;
        bool again = false;

        schema_push_index(c, i);
        if (schema_string(c, json_array_get(val, i), false, &t) < 0) {
            r = -EINVAL;
        } else if (!cfg_name_valid(t)) {
            schema_error(c, false, "\"%s\" is not a type name (1 to %d of A-Z a-z 0-9 _ . -)", t,
                         CFG_JOBS_TYPE_MAX);
            free(t);
            r = -EINVAL;
        } else {
            for (size_t k = 0; k < pj->ntypes; k++)
                again |= strcmp(pj->types[k], t) == 0;
            if (again) {
                schema_error(c, false, "\"%s\" is listed twice", t);
                free(t);
                r = -EINVAL;
            } else {
                pj->types[pj->ntypes++] = t;
            }
        }
        schema_pop(c);
    }
    return r;
}

static int
pj_concurrency(struct schema_ctx *c, const json_t *val, void *target)
{
    return schema_uint(c, val, 1, CFG_JOBS_MAX_CONCURRENCY, target);
}

static int
pj_attempts(struct schema_ctx *c, const json_t *val, void *target)
{
    return schema_uint(c, val, 1, CFG_JOBS_MAX_ATTEMPTS, target);
}

static int
pj_max_worker_kills(struct schema_ctx *c, const json_t *val, void *target)
{
    return schema_uint(c, val, 0, CFG_JOBS_MAX_ATTEMPTS, target);
}

static int
pj_dispatch(struct schema_ctx *c, const json_t *val, void *target)
{
    int d;

    if (get_enum(c, val, dispatch_names, JOBS_DISPATCH__MAX, "\"pack\" or \"spread\"", &d) < 0)
        return -EINVAL;
    *(enum jobs_dispatch *)target = (enum jobs_dispatch)d;
    return 0;
}

static int
backoff_factor(struct schema_ctx *c, const json_t *val, void *target)
{
    return get_number(c, val, 1, CFG_JOBS_MAX_BACKOFF_FACTOR, target);
}

static int
backoff_jitter(struct schema_ctx *c, const json_t *val, void *target)
{
    return get_number(c, val, 0, 1, target);
}

static const struct schema_key backoff_keys[] = {
    { "initial", schema_key_duration, offsetof(struct program_jobs_cfg, backoff_initial_ms), 0 },
    { "factor", backoff_factor, offsetof(struct program_jobs_cfg, backoff_factor), 0 },
    { "max", schema_key_duration, offsetof(struct program_jobs_cfg, backoff_max_ms), 0 },
    { "jitter", backoff_jitter, offsetof(struct program_jobs_cfg, backoff_jitter), 0 },
};

/* target: the struct program_jobs_cfg. */
static int
pj_backoff(struct schema_ctx *c, const json_t *val, void *target)
{
    struct program_jobs_cfg *pj = target;

    if (!schema_require_keys(c, val, "retry backoff settings", backoff_keys,
                             ARRAY_SIZE(backoff_keys), ""))
        return -EINVAL;
    if (schema_parse_keys(c, val, backoff_keys, ARRAY_SIZE(backoff_keys), 0, pj, NULL) < 0)
        return -EINVAL;
    if (pj->backoff_max_ms < pj->backoff_initial_ms) {
        schema_error(c, false, "backoff max (%lld ms) is below initial (%lld ms)",
                     (long long)pj->backoff_max_ms, (long long)pj->backoff_initial_ms);
        return -EINVAL;
    }
    return 0;
}

static int
ping_idle(struct schema_ctx *c, const json_t *val, void *target)
{
    return schema_duration_min(c, val, CFG_JOBS_MIN_PING_IDLE_MS, "idle", target);
}

static int
ping_timeout(struct schema_ctx *c, const json_t *val, void *target)
{
    return schema_duration_min(c, val, 1, "timeout", target);
}

static int
ping_failures(struct schema_ctx *c, const json_t *val, void *target)
{
    return schema_uint(c, val, 1, CFG_JOBS_MAX_PING_FAILURES, target);
}

static const struct schema_key ping_keys[] = {
    { "idle", ping_idle, offsetof(struct program_jobs_cfg, ping_idle_ms), 0 },
    { "timeout", ping_timeout, offsetof(struct program_jobs_cfg, ping_timeout_ms), 0 },
    { "failures", ping_failures, offsetof(struct program_jobs_cfg, ping_failures), 0 },
};

/* false: no pings; true: the defaults; an object: its settings. target: the program_jobs_cfg. */
static int
pj_ping(struct schema_ctx *c, const json_t *val, void *target)
{
    struct program_jobs_cfg *pj = target;

    if (json_is_boolean(val)) {
        pj->ping = json_is_true(val);
        return 0;
    }
    if (!schema_require_keys(c, val, "ping settings", ping_keys, ARRAY_SIZE(ping_keys),
                             " or false"))
        return -EINVAL;
    pj->ping = true;
    return schema_parse_keys(c, val, ping_keys, ARRAY_SIZE(ping_keys), 0, pj, NULL);
}

static int
autoscale_min(struct schema_ctx *c, const json_t *val, void *target)
{
    return schema_uint(c, val, 0, CFG_MAX_INSTANCES, target);
}

static int
autoscale_max(struct schema_ctx *c, const json_t *val, void *target)
{
    return schema_uint(c, val, 1, CFG_MAX_INSTANCES, target);
}

static int
autoscale_per_instance(struct schema_ctx *c, const json_t *val, void *target)
{
    return schema_uint(c, val, 1, CFG_JOBS_MAX_PER_INSTANCE, target);
}

static int
autoscale_interval(struct schema_ctx *c, const json_t *val, void *target)
{
    return schema_duration_min(c, val, CFG_JOBS_MIN_AUTOSCALE_INTERVAL_MS, "interval", target);
}

static const struct schema_key autoscale_keys[] = {
    { "min", autoscale_min, offsetof(struct program_jobs_cfg, autoscale_min), 0 },
    { "max", autoscale_max, offsetof(struct program_jobs_cfg, autoscale_max), 0 },
    { "per_instance", autoscale_per_instance, offsetof(struct program_jobs_cfg, per_instance), 0 },
    { "interval", autoscale_interval, offsetof(struct program_jobs_cfg, autoscale_interval_ms), 0 },
    { "down_after", schema_key_duration, offsetof(struct program_jobs_cfg, down_after_ms), 0 },
};

/* An object turns it on (false: off, as when left out). target: the program_jobs_cfg. */
static int
pj_autoscale(struct schema_ctx *c, const json_t *val, void *target)
{
    struct program_jobs_cfg *pj = target;

    if (json_is_false(val)) {
        pj->autoscale = false;
        return 0;
    }
    if (!schema_require_keys(c, val, "autoscale settings", autoscale_keys,
                             ARRAY_SIZE(autoscale_keys), " or false"))
        return -EINVAL;
    pj->autoscale = true;
    return schema_parse_keys(c, val, autoscale_keys, ARRAY_SIZE(autoscale_keys), 0, pj, NULL);
}

/* core/cfgdiff.c compares every field these fill (its cmp_jobs()). */
static const struct schema_key program_jobs_keys[] = {
    { "types", pj_types, 0, 0 },
    { "concurrency", pj_concurrency, offsetof(struct program_jobs_cfg, concurrency), 0 },
    { "timeout", schema_key_duration, offsetof(struct program_jobs_cfg, timeout_ms), 0 },
    { "cancel_grace", schema_key_duration, offsetof(struct program_jobs_cfg, cancel_grace_ms), 0 },
    { "attempts", pj_attempts, offsetof(struct program_jobs_cfg, attempts), 0 },
    { "backoff", pj_backoff, 0, 0 },
    { "max_worker_kills", pj_max_worker_kills, offsetof(struct program_jobs_cfg, max_worker_kills),
      0 },
    { "dispatch", pj_dispatch, offsetof(struct program_jobs_cfg, dispatch), 0 },
    { "ping", pj_ping, 0, 0 },
    { "autoscale", pj_autoscale, 0, 0 },
};

int
cfg_program_jobs_parse(struct schema_ctx *c, const json_t *val, void *target)
{
    struct program_jobs_cfg *pj = target;

    if (!schema_require_keys(c, val, "job settings", program_jobs_keys,
                             ARRAY_SIZE(program_jobs_keys), ""))
        return -EINVAL;
    pj->enabled = true;
    return schema_parse_keys(c, val, program_jobs_keys, ARRAY_SIZE(program_jobs_keys), 0, pj, NULL);
}

/* --- across programs -------------------------------------------------------------------------- */

/* The types taken so far: open addressing, sized once for all of them (never full). */
struct type_entry {
    const char *type; /* borrowed from its program; NULL: empty */
    size_t program;
};

static struct type_entry *
type_slot(struct type_entry *v, size_t mask, const char *type)
{
    size_t i = (size_t)util_hash_str(type) & mask;

    while (v[i].type && strcmp(v[i].type, type) != 0)
        i = (i + 1) & mask;
    return &v[i];
}

/* The list form has no "programs" key: programs[i] is [i] there. */
static bool
list_form(const struct schema_ctx *c)
{
    size_t i = 0;

    while (i < c->len && strchr(" \t\r\n", c->text[i]) && c->text[i])
        i++;
    return i < c->len && c->text[i] == '[';
}

/* Points c at programs[i].jobs, then at the keys given (NULL ends them). */
static void
at_program_jobs(struct schema_ctx *c, size_t i, const char *key, const char *sub)
{
    schema_at_top(c);
    if (!list_form(c))
        schema_push_key(c, "programs");
    schema_push_index(c, i);
    schema_push_key(c, "jobs");
    if (key)
        schema_push_key(c, key);
    if (sub)
        schema_push_key(c, sub);
}

/* The default type, the program's name (given or made by cfg.c's assign_names()). */
static int
default_types(struct program_cfg *p)
{
    p->jobs.types = calloc(1, sizeof(*p->jobs.types));
    if (!p->jobs.types || !(p->jobs.types[0] = strdup(p->name)))
        return -ENOMEM;
    p->jobs.ntypes = 1;
    return 0;
}

static int
check_autoscale(struct schema_ctx *c, size_t i, struct program_cfg *p)
{
    struct program_jobs_cfg *pj = &p->jobs;
    bool max_given = pj->autoscale_max != 0;

    if (!pj->per_instance)
        pj->per_instance = pj->concurrency;
    if (!max_given) {
        pj->autoscale_max = p->max_instances;
    } else if (pj->autoscale_max > p->max_instances) {
        at_program_jobs(c, i, "autoscale", "max");
        schema_error(c, false,
                     "autoscale max (%u) is above max_instances (%u): raise max_instances, whose "
                     "slots are allocated at start",
                     pj->autoscale_max, p->max_instances);
        return -EINVAL;
    }
    if (pj->autoscale && pj->autoscale_min > pj->autoscale_max) {
        at_program_jobs(c, i, "autoscale", "min");
        schema_error(c, false, "autoscale min (%u) is above %s (%u)", pj->autoscale_min,
                     max_given ? "max" : "max, which is max_instances by default",
                     pj->autoscale_max);
        return -EINVAL;
    }
    return 0;
}

int
cfg_jobs_check(struct schema_ctx *c, struct config *cfg)
{
    struct type_entry *taken;
    size_t total = 0, cap = 16;
    int r = 0;

    for (size_t i = 0; i < cfg->nprograms; i++)
        if (cfg->programs[i].jobs.enabled)
            total += cfg->programs[i].jobs.ntypes ? cfg->programs[i].jobs.ntypes : 1;
    while (cap < 2 * total)
        cap *= 2;
    taken = calloc(cap, sizeof(*taken));
    if (!taken)
        return -ENOMEM;
    for (size_t i = 0; i < cfg->nprograms; i++) {
        struct program_cfg *p = &cfg->programs[i];
        bool by_default = p->jobs.ntypes == 0;

        if (!p->jobs.enabled)
            continue;
        if (by_default && default_types(p) < 0) {
            r = -ENOMEM;
            break;
        }
        for (size_t j = 0; j < p->jobs.ntypes; j++) {
            struct type_entry *e = type_slot(taken, cap - 1, p->jobs.types[j]);

            if (!e->type) {
                *e = (struct type_entry){ .type = p->jobs.types[j], .program = i };
                continue;
            }
            if (by_default) {
                at_program_jobs(c, i, NULL, NULL);
                schema_error(c, false,
                             "type \"%s\" (the program's name: it has no \"types\") is taken "
                             "by program \"%s\" too: one program per type",
                             p->jobs.types[j], cfg->programs[e->program].name);
            } else {
                at_program_jobs(c, i, "types", NULL);
                schema_push_index(c, j);
                schema_error(c, false,
                             "type \"%s\" is taken by program \"%s\" too: one program per type",
                             p->jobs.types[j], cfg->programs[e->program].name);
            }
            r = -EINVAL;
        }
        if (check_autoscale(c, i, p) < 0)
            r = -EINVAL;
    }
    schema_at_top(c);
    free(taken);
    return r;
}

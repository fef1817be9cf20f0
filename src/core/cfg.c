/*
 * cfg: JSON -> struct config with precise errors. See cfg.h.
 *
 * jansson parses; it reports positions only for syntax errors, so for
 * semantic errors (wrong type, unknown key) we find the position of the
 * offending value ourselves by walking the raw text along the JSON path
 * (locate() below). That walker only skips over text jansson has already
 * accepted, so it needs no error handling of its own.
 */
#include "core/cfg.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "core/tmpl.h"
#include "core/utf8.h"
#include "core/util.h"

#define PATH_MAX_DEPTH 8
#define CFG_MAX_LOCATED_ERRORS 100

/* Program defaults; docs/config.md lists them. */
#define DEFAULT_STOP_TIMEOUT_MS 10000
#define DEFAULT_START_MS 1000
#define DEFAULT_BACKOFF_INITIAL_MS 100
#define DEFAULT_BACKOFF_MAX_MS 30000
#define DEFAULT_YOYO_LIMIT 5
#define DEFAULT_YOYO_WINDOW_MS 60000
#define DEFAULT_START_TIMEOUT_MS 90000 /* systemd's TimeoutStartSec */

struct path_comp {
    const char *key; /* NULL for an array index */
    size_t index;
};

struct ctx {
    const char *text;
    size_t len;
    const char *source;
    struct cfg_errors *errs;
    struct path_comp path[PATH_MAX_DEPTH];
    int depth;
    unsigned nerrors;
};

void
cfg_error(struct cfg_errors *errs, const char *fmt, ...)
{
    va_list ap;
    size_t room = sizeof(errs->text) - errs->len;
    int n;

    errs->count++;
    if (room < 2)
        return;
    va_start(ap, fmt);
    n = vsnprintf(errs->text + errs->len, room - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= room - 1)
        n = (int)(room - 2);
    errs->len += (size_t)n;
    errs->text[errs->len++] = '\n';
    errs->text[errs->len] = '\0';
}

/* --- locating a path in the raw text --------------------------------------------------------- */

static const char *
skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

static const char *
skip_string(const char *p, const char *end)
{
    for (p++; p < end && *p != '"'; p++)
        if (*p == '\\')
            p++;
    return p < end ? p + 1 : end;
}

static const char *
skip_value(const char *p, const char *end)
{
    int depth = 0;

    p = skip_ws(p, end);
    do {
        if (p >= end)
            return end;
        if (*p == '"') {
            p = skip_string(p, end);
            continue;
        }
        if (*p == '{' || *p == '[')
            depth++;
        else if (*p == '}' || *p == ']')
            depth--;
        else if (depth == 0) {
            /* number or literal */
            while (p < end && !strchr(",]} \t\r\n", *p))
                p++;
            return p;
        }
        p++;
    } while (depth > 0);
    return p;
}

/* Position of the value at path[0..depth), or of its key when at_key. */
static const char *
locate(const struct ctx *c, int depth, bool at_key)
{
    const char *p = skip_ws(c->text, c->text + c->len);
    const char *end = c->text + c->len;
    const char *key_pos = p;

    for (int i = 0; i < depth && p < end; i++) {
        const struct path_comp *comp = &c->path[i];
        if (comp->key && *p == '{') {
            p = skip_ws(p + 1, end);
            while (p < end && *p == '"') {
                const char *kstart = p + 1;
                const char *kend = skip_string(p, end) - 1;
                bool match = (size_t)(kend - kstart) == strlen(comp->key) &&
                             memcmp(kstart, comp->key, (size_t)(kend - kstart)) == 0;
                key_pos = p;
                p = skip_ws(kend + 1, end);
                p = skip_ws(p + 1, end); /* ':' */
                if (match)
                    break;
                p = skip_ws(skip_value(p, end), end);
                if (p < end && *p == ',')
                    p = skip_ws(p + 1, end);
            }
        } else if (!comp->key && *p == '[') {
            p = skip_ws(p + 1, end);
            for (size_t k = 0; k < comp->index && p < end; k++) {
                p = skip_ws(skip_value(p, end), end);
                if (p < end && *p == ',')
                    p = skip_ws(p + 1, end);
            }
            key_pos = p;
        } else {
            break;
        }
    }
    return at_key ? key_pos : p;
}

static void
line_col(const struct ctx *c, const char *pos, int *ret_line, int *ret_col)
{
    int line = 1, col = 1;

    for (const char *p = c->text; p < pos && p < c->text + c->len; p++) {
        if (*p == '\n') {
            line++;
            col = 1;
        } else if (((unsigned char)*p & 0xC0) != 0x80) {
            col++; /* count characters, not UTF-8 continuation bytes */
        }
    }
    *ret_line = line;
    *ret_col = col;
}

static void
format_path(const struct ctx *c, int depth, char *buf, size_t size)
{
    size_t len = 0;

    buf[0] = '\0';
    for (int i = 0; i < depth && len < size; i++) {
        int n;
        if (c->path[i].key)
            n = snprintf(buf + len, size - len, "%s%s", len ? "." : "", c->path[i].key);
        else
            n = snprintf(buf + len, size - len, "[%zu]", c->path[i].index);
        if (n < 0)
            break;
        len += (size_t)n;
    }
    if (!len)
        (void)snprintf(buf, size, "(top level)");
}

static void error_at(struct ctx *c, bool at_key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
error_at(struct ctx *c, bool at_key, const char *fmt, ...)
{
    char path[256], msg[512];
    int line, col;
    va_list ap;

    c->nerrors++;
    /*
     * Locating an error walks the text from the start: past the first 100
     * (more than anyone reads) errors are only counted, so a pathological
     * megabyte of bad keys stays linear.
     */
    if (c->nerrors > CFG_MAX_LOCATED_ERRORS) {
        c->errs->count++;
        return;
    }
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    line_col(c, locate(c, c->depth, at_key), &line, &col);
    format_path(c, c->depth, path, sizeof(path));
    /* Keys and values quoted in messages may hold newlines: one error, one line. */
    cfg_error(c->errs, "%s:%d:%d: %s: %s", c->source, line, col, util_one_line(path),
              util_one_line(msg));
}

/* The schema is at most 5 levels deep, so the path stack cannot overflow. */
static void
push_key(struct ctx *c, const char *key)
{
    assert(c->depth < PATH_MAX_DEPTH);
    c->path[c->depth++] = (struct path_comp){ .key = key };
}

static void
push_index(struct ctx *c, size_t index)
{
    assert(c->depth < PATH_MAX_DEPTH);
    c->path[c->depth++] = (struct path_comp){ .index = index };
}

static void
pop(struct ctx *c)
{
    c->depth--;
}

/* --- typed getters: each reports its own error and returns < 0 ----------------------------- */

static const char *
json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "a list";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "something else";
}

static int
get_string(struct ctx *c, const json_t *v, bool allow_empty, char **ret)
{
    const char *s;
    size_t n;
    char *copy;

    if (!json_is_string(v)) {
        error_at(c, false, "expected a string, got %s", json_kind(v));
        return -EINVAL;
    }
    s = json_string_value(v);
    n = json_string_length(v);
    if (strlen(s) != n) {
        error_at(c, false, "string contains a NUL character");
        return -EINVAL;
    }
    if (!allow_empty && n == 0) {
        error_at(c, false, "expected a non-empty string");
        return -EINVAL;
    }
    if (n > CFG_MAX_STRING) {
        error_at(c, false, "string longer than %d bytes", CFG_MAX_STRING);
        return -EINVAL;
    }
    copy = strdup(s);
    if (!copy) {
        error_at(c, false, "out of memory");
        return -ENOMEM;
    }
    *ret = copy;
    return 0;
}

/* A string that may hold placeholders. */
static int
get_template(struct ctx *c, const json_t *v, bool allow_empty, bool *uses_port, char **ret)
{
    char err[160];
    char *s;
    int r = get_string(c, v, allow_empty, &s);

    if (r < 0)
        return r;
    if (tmpl_check(s, uses_port, err, sizeof(err)) < 0) {
        error_at(c, false, "%s", err);
        free(s);
        return -EINVAL;
    }
    *ret = s;
    return 0;
}

static int
get_uint(struct ctx *c, const json_t *v, unsigned min, unsigned max, unsigned *ret)
{
    json_int_t n;

    if (!json_is_integer(v)) {
        error_at(c, false, "expected an integer from %u to %u, got %s", min, max, json_kind(v));
        return -EINVAL;
    }
    n = json_integer_value(v);
    if (n < (json_int_t)min || n > (json_int_t)max) {
        error_at(c, false, "expected an integer from %u to %u, got %lld", min, max, (long long)n);
        return -EINVAL;
    }
    *ret = (unsigned)n;
    return 0;
}

static int
get_duration(struct ctx *c, const json_t *v, int64_t *ret_ms)
{
    int r;

    if (json_is_number(v)) {
        r = util_seconds_to_ms(json_number_value(v), ret_ms);
        if (r < 0)
            error_at(c, false, "duration out of range (0 to 30 days), got %g",
                     json_number_value(v));
        return r;
    }
    if (json_is_string(v)) {
        r = util_parse_duration_ms(json_string_value(v), ret_ms);
        if (r == -ERANGE)
            error_at(c, false, "duration out of range (0 to 30 days): \"%s\"",
                     json_string_value(v));
        else if (r < 0)
            error_at(
                c, false,
                "expected a duration such as \"500ms\", \"10s\", \"2m\" or seconds, got \"%s\"",
                json_string_value(v));
        return r;
    }
    error_at(c, false,
             "expected a duration (a string such as \"10s\" or a number of seconds), got %s",
             json_kind(v));
    return -EINVAL;
}

static int
get_signal(struct ctx *c, const json_t *v, int *ret_sig)
{
    char num[24];
    const char *s;

    if (json_is_integer(v)) {
        (void)snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
        s = num;
    } else if (json_is_string(v)) {
        s = json_string_value(v);
    } else {
        error_at(c, false, "expected a signal name such as \"TERM\" or a number, got %s",
                 json_kind(v));
        return -EINVAL;
    }
    if (util_parse_signal(s, ret_sig) < 0 || *ret_sig == SIGKILL || *ret_sig == SIGSTOP) {
        error_at(
            c, false,
            "unknown or unusable signal \"%s\" (use a name such as TERM, INT, QUIT, HUP, USR1)", s);
        return -EINVAL;
    }
    return 0;
}

static bool
require_object(struct ctx *c, const json_t *v, const char *what)
{
    if (json_is_object(v))
        return true;
    error_at(c, false, "expected %s (an object), got %s", what, json_kind(v));
    return false;
}

/* --- programs ------------------------------------------------------------------------------- */

static bool
valid_name(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > CFG_NAME_MAX)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("_.-", *s))
            return false;
    return true;
}

static int
parse_command(struct ctx *c, const json_t *v, struct program_cfg *p)
{
    size_t n, i;
    int r = 0;

    if (!json_is_array(v)) {
        error_at(c, false, "expected a list of strings (program and arguments), got %s",
                 json_kind(v));
        return -EINVAL;
    }
    n = json_array_size(v);
    if (n == 0) {
        error_at(c, false, "command is empty: expected at least the program to run");
        return -EINVAL;
    }
    if (n > CFG_MAX_ARGS) {
        error_at(c, false, "more than %d arguments", CFG_MAX_ARGS);
        return -EINVAL;
    }
    p->argv = calloc(n + 1, sizeof(char *));
    if (!p->argv) {
        error_at(c, false, "out of memory");
        return -ENOMEM;
    }
    for (i = 0; i < n; i++) {
        push_index(c, i);
        if (get_template(c, json_array_get(v, i), i > 0, &p->uses_port, &p->argv[i]) < 0)
            r = -EINVAL;
        pop(c);
    }
    p->argc = n;
    return r;
}

static int
parse_env(struct ctx *c, const json_t *v, struct program_cfg *p)
{
    const char *key;
    json_t *val;
    size_t i = 0;
    int r = 0;

    if (!require_object(c, v, "environment variables"))
        return -EINVAL;
    if (json_object_size(v) > CFG_MAX_ENV) {
        error_at(c, false, "more than %d environment variables", CFG_MAX_ENV);
        return -EINVAL;
    }
    p->env = calloc(json_object_size(v) + 1, sizeof(*p->env));
    if (!p->env) {
        error_at(c, false, "out of memory");
        return -ENOMEM;
    }
    json_object_foreach((json_t *)v, key, val)
    {
        push_key(c, key);
        if (!*key || strchr(key, '=')) {
            error_at(c, true, "environment variable names must be non-empty and contain no '='");
            r = -EINVAL;
        } else if (get_template(c, val, true, &p->uses_port, &p->env[i].value) == 0) {
            p->env[i].key = strdup(key);
            if (!p->env[i].key) {
                error_at(c, false, "out of memory");
                r = -ENOMEM;
            }
            i++;
        } else {
            r = -EINVAL;
        }
        pop(c);
    }
    p->nenv = i;
    return r;
}

static int
parse_backoff(struct ctx *c, const json_t *v, struct backoff_policy *b)
{
    const char *key;
    json_t *val;
    int r = 0;

    if (!require_object(c, v, "backoff settings {\"initial\", \"max\"}"))
        return -EINVAL;
    json_object_foreach((json_t *)v, key, val)
    {
        push_key(c, key);
        if (strcmp(key, "initial") == 0)
            r |= get_duration(c, val, &b->initial_ms);
        else if (strcmp(key, "max") == 0)
            r |= get_duration(c, val, &b->max_ms);
        else {
            error_at(c, true, "unknown key \"%s\" (known: initial, max)", key);
            r = -EINVAL;
        }
        pop(c);
    }
    if (r == 0 && b->max_ms < b->initial_ms) {
        error_at(c, false, "backoff max (%lld ms) is below initial (%lld ms)", (long long)b->max_ms,
                 (long long)b->initial_ms);
        r = -EINVAL;
    }
    return r < 0 ? -EINVAL : 0;
}

static int
parse_yoyo(struct ctx *c, const json_t *v, struct backoff_policy *b)
{
    const char *key;
    json_t *val;
    int r = 0;

    if (json_is_false(v)) {
        b->yoyo_limit = 0;
        return 0;
    }
    if (!require_object(c, v, "yo-yo limits {\"restarts\", \"window\"} or false"))
        return -EINVAL;
    json_object_foreach((json_t *)v, key, val)
    {
        push_key(c, key);
        if (strcmp(key, "restarts") == 0)
            r |= get_uint(c, val, 0, BACKOFF_YOYO_LIMIT_MAX, &b->yoyo_limit);
        else if (strcmp(key, "window") == 0)
            r |= get_duration(c, val, &b->yoyo_window_ms);
        else {
            error_at(c, true, "unknown key \"%s\" (known: restarts, window)", key);
            r = -EINVAL;
        }
        pop(c);
    }
    return r < 0 ? -EINVAL : 0;
}

static void
probe_cfg_done(struct probe_cfg *pr)
{
    free(pr->target);
    for (size_t i = 0; pr->argv && i < pr->argc; i++)
        free(pr->argv[i]);
    free(pr->argv);
    pr->target = NULL;
    pr->argv = NULL;
    pr->argc = 0;
}

/* A probe object: one of tcp/http/command, plus timings (and health-only keys). */
static int
parse_probe(struct ctx *c, const json_t *v, struct probe_cfg *pr, bool health)
{
    const char *key;
    json_t *val;
    int r = 0, kinds = 0;

    *pr = (struct probe_cfg){
        .interval_ms = health ? 10000 : 200,
        .timeout_ms = health ? 2000 : 1000,
        .failures = 3,
    };
    if (!require_object(
            c, v,
            health ? "a health check {\"tcp\"|\"http\"|\"command\", ...}"
                   : "\"exec\", \"notify\" or a probe {\"tcp\"|\"http\"|\"command\", ...}"))
        return -EINVAL;
    json_object_foreach((json_t *)v, key, val)
    {
        int kr = 0;

        push_key(c, key);
        if (strcmp(key, "tcp") == 0 || strcmp(key, "http") == 0) {
            struct tmpl_vars vars = { .name = "x", .instance = 0, .port = 1 };
            struct probe_addr addr;
            char *probe_target = NULL;
            bool oom;

            kinds++;
            probe_cfg_done(pr); /* a second kind is an error below; keep nothing of the first */
            pr->kind = key[0] == 't' ? PROBE_TCP : PROBE_HTTP;
            kr = get_template(c, val, false, &pr->uses_port, &pr->target);
            if (kr == 0) {
                /* Check the shape now, with a stand-in port: a typo is a config error. */
                char *expanded = tmpl_expand(pr->target, &vars, &oom);
                probe_target = expanded ? expanded : pr->target;
                if ((pr->kind == PROBE_TCP ? probe_parse_tcp(probe_target, &addr)
                                           : probe_parse_http(probe_target, &addr)) < 0) {
                    error_at(c, false,
                             pr->kind == PROBE_TCP
                                 ? "expected \"HOST:PORT\" with a numeric address or localhost"
                                 : "expected \"http://HOST[:PORT]/PATH\" with a numeric address or "
                                   "localhost");
                    kr = -EINVAL;
                }
                free(expanded);
            }
        } else if (strcmp(key, "command") == 0) {
            struct program_cfg tmp = { 0 };
            kinds++;
            probe_cfg_done(pr);
            pr->kind = PROBE_COMMAND;
            kr = parse_command(c, val, &tmp);
            pr->argv = tmp.argv;
            pr->argc = tmp.argc;
            pr->uses_port |= tmp.uses_port;
        } else if (strcmp(key, "interval") == 0) {
            kr = get_duration(c, val, &pr->interval_ms);
            if (kr == 0 && pr->interval_ms < 10) {
                error_at(c, false, "interval must be at least 10ms");
                kr = -EINVAL;
            }
        } else if (strcmp(key, "timeout") == 0) {
            kr = get_duration(c, val, &pr->timeout_ms);
            if (kr == 0 && pr->timeout_ms < 1) {
                error_at(c, false, "timeout must be positive");
                kr = -EINVAL;
            }
        } else if (health && strcmp(key, "failures") == 0) {
            kr = get_uint(c, val, 1, 100, &pr->failures);
        } else if (health && strcmp(key, "start_period") == 0) {
            kr = get_duration(c, val, &pr->start_period_ms);
        } else if (health && strcmp(key, "idle_only") == 0) {
            if (!json_is_boolean(val)) {
                error_at(c, false, "expected true or false, got %s", json_kind(val));
                kr = -EINVAL;
            } else {
                pr->idle_only = json_is_true(val);
            }
        } else {
            error_at(c, true, "unknown key \"%s\" (known: tcp, http, command, interval, timeout%s)",
                     key, health ? ", failures, start_period, idle_only" : "");
            kr = -EINVAL;
        }
        pop(c);
        if (kr < 0)
            r = kr;
    }
    if (r == 0 && kinds != 1) {
        error_at(c, false, "expected exactly one of \"tcp\", \"http\" or \"command\"");
        r = -EINVAL;
    }
    return r;
}

static const char *const program_keys =
    "command, input, output, error, name, instances, env, cwd, restart, stop_signal, "
    "stop_timeout, start_seconds, backoff, yoyo, ready, start_timeout, heartbeat, health, silence, "
    "max_silent, max_instances";

static int
parse_heartbeat(struct ctx *c, const json_t *v, struct program_cfg *p)
{
    const char *key;
    json_t *val;
    int r = 0;

    if (!require_object(c, v, "heartbeat settings {\"timeout\", \"action\"}"))
        return -EINVAL;
    json_object_foreach((json_t *)v, key, val)
    {
        push_key(c, key);
        if (strcmp(key, "timeout") == 0) {
            if (get_duration(c, val, &p->heartbeat_timeout_ms) < 0) {
                r = -EINVAL;
            } else if (p->heartbeat_timeout_ms < 10) {
                error_at(c, false, "heartbeat timeout must be at least 10ms");
                r = -EINVAL;
            }
        } else if (strcmp(key, "action") == 0) {
            const char *a = json_is_string(val) ? json_string_value(val) : "";
            if (strcmp(a, "restart") == 0 || strcmp(a, "none") == 0) {
                p->heartbeat_restart = a[0] == 'r';
            } else {
                error_at(c, false, "expected \"restart\" or \"none\"");
                r = -EINVAL;
            }
        } else {
            error_at(c, true, "unknown key \"%s\" (known: timeout, action)", key);
            r = -EINVAL;
        }
        pop(c);
    }
    if (r == 0 && !json_object_get(v, "timeout")) {
        error_at(c, false, "missing \"timeout\" (a duration such as \"30s\")");
        r = -EINVAL;
    }
    return r;
}

static int
parse_program(struct ctx *c, const json_t *v, struct program_cfg *p)
{
    const char *key;
    json_t *val;
    int r = 0;
    bool have_command = false;

    *p = (struct program_cfg){
        .instances = 1,
        .silence_ms = -1,
        .max_silent = -1,
        .heartbeat_restart = true,
        .policy = {
            .restart = SVC_RESTART_ALWAYS,
            .stop_signal = SIGTERM,
            .stop_timeout_ms = DEFAULT_STOP_TIMEOUT_MS,
            .start_ms = DEFAULT_START_MS,
            .start_timeout_ms = DEFAULT_START_TIMEOUT_MS,
            .backoff = {
                .initial_ms = DEFAULT_BACKOFF_INITIAL_MS,
                .max_ms = DEFAULT_BACKOFF_MAX_MS,
                .yoyo_limit = DEFAULT_YOYO_LIMIT,
                .yoyo_window_ms = DEFAULT_YOYO_WINDOW_MS,
            },
        },
    };
    if (!require_object(c, v, "a program"))
        return -EINVAL;
    json_object_foreach((json_t *)v, key, val)
    {
        int kr = 0;

        push_key(c, key);
        if (strcmp(key, "command") == 0) {
            kr = parse_command(c, val, p);
            have_command = true;
        } else if (strcmp(key, "input") == 0 || strcmp(key, "output") == 0 ||
                   strcmp(key, "error") == 0) {
            char **slot = key[0] == 'i' ? &p->input : key[0] == 'o' ? &p->output : &p->error;
            if (!json_is_null(val))
                kr = get_template(c, val, false, &p->uses_port, slot);
        } else if (strcmp(key, "name") == 0) {
            kr = get_string(c, val, false, &p->name);
            if (kr == 0 && strcmp(p->name, "all") == 0) {
                error_at(c, false,
                         "the name \"all\" is reserved (control calls use it for every "
                         "program)");
                kr = -EINVAL;
            } else if (kr == 0 && !valid_name(p->name)) {
                error_at(c, false,
                         "names use letters, digits, '_', '.', '-' (at most %d), got \"%s\"",
                         CFG_NAME_MAX, p->name);
                kr = -EINVAL;
            }
        } else if (strcmp(key, "instances") == 0) {
            kr = get_uint(c, val, 1, CFG_MAX_INSTANCES, &p->instances);
        } else if (strcmp(key, "max_instances") == 0) {
            kr = get_uint(c, val, 1, CFG_MAX_INSTANCES, &p->max_instances);
        } else if (strcmp(key, "env") == 0) {
            kr = parse_env(c, val, p);
        } else if (strcmp(key, "cwd") == 0) {
            kr = get_template(c, val, false, &p->uses_port, &p->cwd);
        } else if (strcmp(key, "restart") == 0) {
            p->policy.restart = json_is_string(val) ? svc_restart_from_name(json_string_value(val))
                                                    : SVC_RESTART_INVALID;
            if (p->policy.restart == SVC_RESTART_INVALID) {
                error_at(c, false, "expected \"always\", \"on-failure\" or \"never\"");
                kr = -EINVAL;
            }
        } else if (strcmp(key, "stop_signal") == 0) {
            kr = get_signal(c, val, &p->policy.stop_signal);
        } else if (strcmp(key, "stop_timeout") == 0) {
            kr = get_duration(c, val, &p->policy.stop_timeout_ms);
        } else if (strcmp(key, "start_seconds") == 0) {
            kr = get_duration(c, val, &p->policy.start_ms);
        } else if (strcmp(key, "backoff") == 0) {
            kr = parse_backoff(c, val, &p->policy.backoff);
        } else if (strcmp(key, "yoyo") == 0) {
            kr = parse_yoyo(c, val, &p->policy.backoff);
        } else if (strcmp(key, "ready") == 0) {
            const char *how = json_is_string(val) ? json_string_value(val) : "";
            if (json_is_object(val)) {
                kr = parse_probe(c, val, &p->ready_probe, false);
                p->policy.wait_ready = true;
                p->uses_port |= p->ready_probe.uses_port;
            } else if (strcmp(how, "exec") == 0 || strcmp(how, "notify") == 0) {
                p->policy.wait_ready = how[0] == 'n';
            } else {
                error_at(c, false,
                         "expected \"exec\" (up for start_seconds), \"notify\" (READY=1) "
                         "or a probe {\"tcp\"|\"http\"|\"command\": ...}");
                kr = -EINVAL;
            }
        } else if (strcmp(key, "start_timeout") == 0) {
            kr = get_duration(c, val, &p->policy.start_timeout_ms);
        } else if (strcmp(key, "heartbeat") == 0) {
            kr = parse_heartbeat(c, val, p);
        } else if (strcmp(key, "silence") == 0) {
            kr = get_duration(c, val, &p->silence_ms);
            if (kr == 0 && p->silence_ms <= 0) {
                error_at(c, false, "silence must be positive");
                kr = -EINVAL;
            }
        } else if (strcmp(key, "max_silent") == 0) {
            unsigned x;
            kr = get_uint(c, val, 0, CFG_MAX_TOTAL_INSTANCES, &x);
            if (kr == 0)
                p->max_silent = (int)x;
        } else if (strcmp(key, "health") == 0) {
            kr = parse_probe(c, val, &p->health, true);
            p->uses_port |= p->health.uses_port;
        } else {
            error_at(c, true, "unknown key \"%s\" (known: %s)", key, program_keys);
            kr = -EINVAL;
        }
        pop(c);
        if (kr < 0)
            r = kr;
    }
    if (!have_command) {
        error_at(c, false, "missing \"command\" (a list: program and arguments)");
        r = -EINVAL;
    }
    if (p->max_instances == 0) {
        p->max_instances =
            p->instances > CFG_DEFAULT_MAX_INSTANCES ? p->instances : CFG_DEFAULT_MAX_INSTANCES;
    } else if (p->max_instances < p->instances) {
        error_at(c, false, "max_instances (%u) is less than instances (%u)", p->max_instances,
                 p->instances);
        r = -EINVAL;
    }
    return r;
}

/* basename of command[0], made a valid name. */
static char *
default_name(const char *argv0)
{
    const char *base = strrchr(argv0, '/');
    char *name;

    base = base ? base + 1 : argv0;
    if (!*base)
        base = "program";
    /* Room for the longest suffix, "-1000" (CFG_MAX_PROGRAMS repeats), within CFG_NAME_MAX. */
    name = strndup(base, CFG_NAME_MAX - 5);
    if (!name)
        return NULL;
    for (char *q = name; *q; q++)
        if (!isalnum((unsigned char)*q) && !strchr("_.-", *q))
            *q = '_';
    if (strcmp(name, "all") == 0)
        name[2] = '_'; /* "al_": "all" names every program in control calls */
    return name;
}

/*
 * The names taken so far, for assign_names(): an open-addressing hash set
 * of borrowed strings, sized once for every program so it never rehashes
 * (entry pointers stay valid). Each entry also keeps, for the default names
 * built on it as a base, the next "-N" suffix to try: suffixes below it are
 * all taken, and names are never given back, so each try starts there.
 */
struct name_entry {
    const char *name; /* NULL: empty */
    unsigned next_suffix;
};

struct name_set {
    struct name_entry *v;
    size_t mask;
};

static int
name_set_init(struct name_set *set, size_t n)
{
    size_t cap = 16;

    while (cap < 2 * n)
        cap *= 2;
    set->v = calloc(cap, sizeof(*set->v));
    set->mask = cap - 1;
    return set->v ? 0 : -ENOMEM;
}

/* The entry for name, or the empty one where it would go. */
static struct name_entry *
name_slot(const struct name_set *set, const char *name)
{
    size_t i = (size_t)util_hash_str(name) & set->mask;

    while (set->v[i].name && strcmp(set->v[i].name, name) != 0)
        i = (i + 1) & set->mask;
    return &set->v[i];
}

/* Explicit names must be unique; default names get -2, -3, ... on repeats. */
static int
assign_names(struct ctx *c, struct config *cfg, bool list_form)
{
    struct name_set taken;
    int r = 0;

    if (name_set_init(&taken, cfg->nprograms) < 0)
        return -ENOMEM;
    for (size_t i = 0; i < cfg->nprograms; i++) {
        struct program_cfg *p = &cfg->programs[i];
        struct name_entry *e;

        if (!p->name)
            continue;
        e = name_slot(&taken, p->name);
        if (!e->name) {
            e->name = p->name;
            continue;
        }
        c->depth = 0;
        if (!list_form)
            push_key(c, "programs");
        push_index(c, i);
        push_key(c, "name");
        error_at(c, false, "duplicate program name \"%s\"", p->name);
        r = -EINVAL;
    }
    /* In config order, so an earlier program gets the lower suffix; explicit names all win. */
    for (size_t i = 0; i < cfg->nprograms && r == 0; i++) {
        struct program_cfg *p = &cfg->programs[i];
        struct name_entry *base_entry, *e;
        char *base;

        if (p->name)
            continue;
        base = default_name(p->argv[0]);
        if (!base) {
            r = -ENOMEM;
            break;
        }
        base_entry = name_slot(&taken, base);
        if (!base_entry->name) {
            p->name = base;
            base_entry->name = base;
            continue;
        }
        /* Among CFG_MAX_PROGRAMS + 1 suffixes one is free (pigeonhole). */
        for (unsigned n = base_entry->next_suffix ? base_entry->next_suffix : 2;
             n <= CFG_MAX_PROGRAMS + 1; n++) {
            char candidate[CFG_NAME_MAX + 1];

            (void)snprintf(candidate, sizeof(candidate), "%s-%u", base, n);
            e = name_slot(&taken, candidate);
            if (e->name)
                continue;
            p->name = strdup(candidate);
            e->name = p->name;
            base_entry->next_suffix = n + 1;
            break;
        }
        free(base);
        if (!p->name) {
            r = -ENOMEM;
            break;
        }
    }
    free(taken.v);
    return r;
}

static int
parse_programs(struct ctx *c, const json_t *v, struct config *cfg)
{
    size_t n;
    size_t total = 0;
    int r = 0;

    if (!json_is_array(v)) {
        error_at(c, false, "expected a list of programs, got %s", json_kind(v));
        return -EINVAL;
    }
    n = json_array_size(v);
    if (n == 0) {
        error_at(c, false, "no programs: expected at least one");
        return -EINVAL;
    }
    if (n > CFG_MAX_PROGRAMS) {
        error_at(c, false, "more than %d programs", CFG_MAX_PROGRAMS);
        return -EINVAL;
    }
    cfg->programs = calloc(n, sizeof(*cfg->programs));
    if (!cfg->programs) {
        error_at(c, false, "out of memory");
        return -ENOMEM;
    }
    cfg->nprograms = n;
    for (size_t i = 0; i < n; i++) {
        push_index(c, i);
        if (parse_program(c, json_array_get(v, i), &cfg->programs[i]) < 0)
            r = -EINVAL;
        total += cfg->programs[i].max_instances;
        pop(c);
    }
    if (r == 0 && total > CFG_MAX_TOTAL_INSTANCES) {
        error_at(c, false, "%zu instance slots (max_instances) in all, more than the limit of %d",
                 total, CFG_MAX_TOTAL_INSTANCES);
        r = -EINVAL;
    }
    return r;
}

static int
parse_settings(struct ctx *c, const json_t *root, struct config *cfg)
{
    const char *key;
    json_t *val;
    int r = 0;
    bool have_programs = false;

    json_object_foreach((json_t *)root, key, val)
    {
        push_key(c, key);
        if (strcmp(key, "programs") == 0) {
            have_programs = true;
            if (parse_programs(c, val, cfg) < 0)
                r = -EINVAL;
        } else if (strcmp(key, "port_range") == 0) {
            if (!json_is_string(val) ||
                util_parse_port_range(json_string_value(val), &cfg->port_from, &cfg->port_to) < 0) {
                error_at(c, false,
                         "expected a port range \"FROM-TO\" with 1 <= FROM <= TO <= 65535");
                r = -EINVAL;
            }
        } else if (strcmp(key, "dumpfile") == 0) {
            if (get_string(c, val, false, &cfg->dumpfile) < 0)
                r = -EINVAL;
        } else if (strcmp(key, "checkpoint_interval") == 0) {
            if (get_duration(c, val, &cfg->checkpoint_interval_ms) < 0)
                r = -EINVAL;
            else if (cfg->checkpoint_interval_ms < 100) {
                error_at(c, false, "checkpoint_interval must be at least 100ms");
                r = -EINVAL;
            }
        } else if (strcmp(key, "silence") == 0) {
            if (get_duration(c, val, &cfg->silence_ms) < 0) {
                r = -EINVAL;
            } else if (cfg->silence_ms <= 0) {
                error_at(c, false, "silence must be positive");
                r = -EINVAL;
            }
        } else if (strcmp(key, "max_silent") == 0) {
            if (get_uint(c, val, 0, CFG_MAX_TOTAL_INSTANCES, &cfg->max_silent) < 0)
                r = -EINVAL;
        } else if (strcmp(key, "http") == 0) {
            struct probe_addr addr;
            free(cfg->http);
            cfg->http = NULL;
            if (get_string(c, val, false, &cfg->http) < 0) {
                r = -EINVAL;
            } else if (probe_parse_tcp(cfg->http, &addr) < 0) {
                error_at(
                    c, false,
                    "expected \"ADDR:PORT\" with a numeric address, such as \"127.0.0.1:8080\"");
                r = -EINVAL;
            }
        } else if (strcmp(key, "http_token") == 0) {
            const char *problem;
            free(cfg->http_token);
            cfg->http_token = NULL;
            if (get_string(c, val, false, &cfg->http_token) < 0) {
                r = -EINVAL;
            } else if ((problem = cfg_token_problem(cfg->http_token))) {
                error_at(c, false, "%s", problem);
                r = -EINVAL;
            }
        } else if (strcmp(key, "control") == 0) {
            free(cfg->control);
            cfg->control = NULL;
            cfg->control_off = json_is_false(val);
            if (!cfg->control_off && !json_is_string(val)) {
                error_at(c, false, "expected a socket path, or false for no control socket, got %s",
                         json_kind(val));
                r = -EINVAL;
            } else if (!cfg->control_off && get_string(c, val, false, &cfg->control) < 0) {
                r = -EINVAL;
            }
        } else if (strcmp(key, "adopt") == 0) {
            if (!json_is_boolean(val)) {
                error_at(c, false, "expected true or false, got %s", json_kind(val));
                r = -EINVAL;
            } else {
                cfg->adopt = json_is_true(val);
            }
        } else {
            error_at(c, true,
                     "unknown key \"%s\" (known: programs, port_range, dumpfile, "
                     "checkpoint_interval, adopt, http, http_token, control, max_silent, silence)",
                     key);
            r = -EINVAL;
        }
        pop(c);
    }
    if (!have_programs) {
        error_at(c, false, "missing \"programs\" (a list of programs)");
        r = -EINVAL;
    }
    return r;
}

/* --- jansson's syntax errors in drover's words ---------------------------------------------- */

/* jansson's message before " near '...'" starts with prefix. */
static bool
jansson_says(const json_error_t *e, const char *prefix)
{
    return strncmp(e->text, prefix, strlen(prefix)) == 0;
}

/*
 * The text jansson quotes in "... near 'TEXT'" (the token it stopped at),
 * escaped for one line; "" when it quotes nothing ("near end of file").
 */
static void
jansson_near(const json_error_t *e, char *out, size_t size)
{
    const char *p = strstr(e->text, " near '");
    size_t n;

    out[0] = '\0';
    if (!p)
        return;
    p += strlen(" near '");
    n = strlen(p);
    if (n < 2 || p[n - 1] != '\'')
        return; /* cut by jansson's 160-byte limit: better no context than half of one */
    (void)utf8_escape(p, n - 1, out, size, UTF8_ESCAPE_CONTROLS);
}

/* The byte jansson stopped at (its position counts it) is a NUL. */
static bool
stopped_at_nul(const json_error_t *e, const char *text, size_t len)
{
    return e->position >= 1 && (size_t)e->position <= len && text[e->position - 1] == '\0';
}

static bool
only_blanks(const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!strchr(" \t\r\n", text[i]) || !text[i])
            return false;
    return true;
}

/* The rules behind json_error_invalid_syntax, by the start of jansson's message. */
static const struct {
    const char *jansson, *ours;
} syntax_words[] = {
    { "unexpected newline", "a line break inside a string (write it as \\n)" },
    { "control character 0x0 ", "a NUL byte inside a string" },
    { "invalid escape",
      "an invalid escape in a string (valid: \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)" },
    { "invalid Unicode escape", "an invalid \\uXXXX escape" },
    { "invalid Unicode '", "a \\u escape of half a UTF-16 surrogate pair" },
    { "string or '}' expected", "expected a key in double quotes or '}'" },
    { "':' expected", "expected ':' after the key" },
    { "'}' expected", "expected ',' or '}'" },
    { "']' expected", "expected ',' or ']'" },
    { "invalid token",
      "not a JSON value (strings need double quotes; true, false, null are lower case)" },
    { "unexpected token", "expected a value" },
    { "'[' or '{' expected", "the document must be a list or an object" },
};

/*
 * What went wrong, for json_loadb(JSON_REJECT_DUPLICATES): one wording per
 * json_error_code it can set (and per message, for the many syntax rules
 * behind json_error_invalid_syntax). jansson's own text is kept only for
 * codes it cannot set here, so nothing is ever lost. Pure.
 */
static void
json_problem(const json_error_t *e, const char *text, size_t len, char *buf, size_t size)
{
    char near[JSON_ERROR_TEXT_LENGTH * 4];
    const char *what = NULL;
    unsigned byte;

    jansson_near(e, near, sizeof(near));
    switch (json_error_code(e)) {
    case json_error_end_of_input_expected:
        if (!near[0] && stopped_at_nul(e, text, len)) {
            (void)snprintf(buf, size, "a NUL byte after the document");
            return;
        }
        what = "text after the document";
        break;
    case json_error_premature_end_of_input:
        if (stopped_at_nul(e, text, len)) {
            (void)snprintf(buf, size, "a NUL byte inside the document");
            return;
        }
        if (only_blanks(text, len)) {
            (void)snprintf(buf, size, "the configuration is empty (expected a list or an object)");
            return;
        }
        if (jansson_says(e, "premature end of input"))
            what = "the document ends inside a string";
        else if (jansson_says(e, "']' expected"))
            what = "the document ends too early: a ']' is missing";
        else if (jansson_says(e, "'}' expected"))
            what = "the document ends too early: a '}' is missing";
        else
            what = "the document ends too early";
        break;
    case json_error_invalid_utf8:
        if (sscanf(e->text, "unable to decode byte 0x%x", &byte) == 1) {
            (void)snprintf(buf, size, "not valid UTF-8: byte 0x%02x%s%s%s", byte,
                           near[0] ? " (after '" : "", near, near[0] ? "')" : "");
            return;
        }
        what = "not valid UTF-8";
        break;
    case json_error_null_character:
        what = "strings may not contain \\u0000";
        break;
    case json_error_null_byte_in_key:
        what = "keys may not contain \\u0000";
        break;
    case json_error_duplicate_key:
        if (near[0]) {
            (void)snprintf(buf, size, "duplicate key %s", near);
            return;
        }
        what = "duplicate key";
        break;
    case json_error_numeric_overflow:
        what = jansson_says(e, "too big integer") ? "an integer too large for 64 bits"
                                                  : "a number too large for a double";
        break;
    case json_error_stack_overflow:
        what = "lists and objects nested too deeply";
        break;
    case json_error_out_of_memory:
        what = "out of memory";
        break;
    case json_error_invalid_syntax:
        if (sscanf(e->text, "control character 0x%x", &byte) == 1 && byte != 0) {
            (void)snprintf(buf, size,
                           "control character 0x%02x inside a string (write it as \\u%04x)%s%s%s",
                           byte, byte, near[0] ? " (near '" : "", near, near[0] ? "')" : "");
            return;
        }
        if (jansson_says(e, "'[' or '{' expected") && len >= 3 &&
            memcmp(text, "\xef\xbb\xbf", 3) == 0) {
            what = "a byte order mark before the document (save it as UTF-8 without one)";
            near[0] = '\0'; /* the mark itself: invisible */
            break;
        }
        for (size_t i = 0; i < ARRAY_SIZE(syntax_words) && !what; i++)
            if (jansson_says(e, syntax_words[i].jansson))
                what = syntax_words[i].ours;
        break;
    case json_error_unknown:
    case json_error_cannot_open_file:
    case json_error_invalid_argument:
    case json_error_invalid_format:
    case json_error_wrong_type:
    case json_error_null_value:
    case json_error_item_not_found:
    case json_error_index_out_of_range:
        break; /* not set by json_loadb() on a buffer: jansson's text below */
    }
    if (!what) {
        char own[JSON_ERROR_TEXT_LENGTH * 4];
        (void)utf8_escape(e->text, strlen(e->text), own, sizeof(own), UTF8_ESCAPE_CONTROLS);
        (void)snprintf(buf, size, "%s", own[0] ? own : "cannot parse it");
        return;
    }
    (void)snprintf(buf, size, "%s%s%s%s", what, near[0] ? " (near '" : "", near,
                   near[0] ? "')" : "");
}

int
cfg_parse(const char *text, size_t len, const char *source, struct config *ret,
          struct cfg_errors *errs)
{
    struct ctx c = { .text = text, .len = len, .source = source, .errs = errs };
    struct config cfg = { .checkpoint_interval_ms = CFG_DEFAULT_CHECKPOINT_INTERVAL_MS,
                          .silence_ms = CFG_DEFAULT_SILENCE_MS };
    json_error_t jerr;
    json_t *root;
    int r;

    if (len > CFG_MAX_BYTES) {
        cfg_error(errs, "%s: configuration is larger than %d bytes", source, CFG_MAX_BYTES);
        return -EINVAL;
    }
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        char problem[2 * JSON_ERROR_TEXT_LENGTH * 4];

        json_problem(&jerr, text, len, problem, sizeof(problem));
        /* jansson says column 0 before the first character (an empty file). */
        cfg_error(errs, "%s:%d:%d: invalid JSON: %s", source, jerr.line,
                  jerr.column > 0 ? jerr.column : 1, problem);
        return -EINVAL;
    }
    if (json_is_array(root)) {
        r = parse_programs(&c, root, &cfg);
        if (r == 0)
            r = assign_names(&c, &cfg, true);
    } else {
        r = parse_settings(&c, root, &cfg);
        if (r == 0)
            r = assign_names(&c, &cfg, false);
    }
    json_decref(root);
    if (r < 0 || c.nerrors > 0) {
        if (r == -ENOMEM && c.nerrors == 0)
            cfg_error(errs, "%s: out of memory", source);
        cfg_done(&cfg);
        return -EINVAL;
    }
    *ret = cfg;
    return 0;
}

int
cfg_finish(const struct config *cfg, struct cfg_errors *errs)
{
    int r = 0;

    for (size_t i = 0; i < cfg->nprograms; i++) {
        const struct program_cfg *p = &cfg->programs[i];
        if (p->uses_port && !cfg->port_from) {
            cfg_error(errs,
                      "program \"%s\" uses {{port}} but no port range is set "
                      "(use --port-range=FROM-TO or \"port_range\")",
                      p->name);
            r = -EINVAL;
        }
    }
    if (cfg->control && strlen(cfg->control) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        cfg_error(errs, "control socket path \"%s\" is longer than %zu bytes", cfg->control,
                  sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
        r = -EINVAL;
    }
    if (cfg->adopt && !cfg->dumpfile) {
        cfg_error(errs, "adopting needs a dumpfile to find the survivors in (use --dumpfile=PATH)");
        r = -EINVAL;
    }
    return r;
}

size_t
cfg_total_slots(const struct config *cfg)
{
    size_t total = 0;

    for (size_t i = 0; i < cfg->nprograms; i++)
        total += cfg->programs[i].max_instances;
    return total;
}

const char *
cfg_token_problem(const char *token)
{
    size_t len = strlen(token);

    if (len < CFG_TOKEN_MIN || len > CFG_TOKEN_MAX)
        return "a bearer token has 16 to 256 characters";
    /* RFC 6750 b64token: what can follow "Bearer " unquoted. */
    if (strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/=") !=
        len)
        return "a bearer token uses letters, digits and -._~+/= only";
    return NULL;
}

size_t
cfg_total_instances(const struct config *cfg)
{
    size_t total = 0;

    for (size_t i = 0; i < cfg->nprograms; i++)
        total += cfg->programs[i].instances;
    return total;
}

static void
program_done(struct program_cfg *p)
{
    free(p->name);
    if (p->argv)
        for (size_t i = 0; i < p->argc; i++)
            free(p->argv[i]);
    free(p->argv);
    free(p->input);
    free(p->output);
    free(p->error);
    if (p->env)
        for (size_t i = 0; i < p->nenv; i++) {
            free(p->env[i].key);
            free(p->env[i].value);
        }
    free(p->env);
    free(p->cwd);
    probe_cfg_done(&p->ready_probe);
    probe_cfg_done(&p->health);
}

void
cfg_done(struct config *cfg)
{
    for (size_t i = 0; i < cfg->nprograms; i++)
        program_done(&cfg->programs[i]);
    free(cfg->programs);
    free(cfg->dumpfile);
    free(cfg->http);
    free(cfg->http_token);
    free(cfg->control);
    *cfg = (struct config){ 0 };
}

bool
cfg_name_valid(const char *name)
{
    return valid_name(name);
}

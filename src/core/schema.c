/*
 * schema: JSON positions, the path stack, typed getters and key tables. See schema.h.
 */
#include "core/schema.h"

#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "core/util.h"

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
locate(const struct schema_ctx *c, int depth, bool at_key)
{
    const char *p = skip_ws(c->text, c->text + c->len);
    const char *end = c->text + c->len;
    const char *key_pos = p;

    for (int i = 0; i < depth && p < end; i++) {
        const struct schema_path *comp = &c->path[i];
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
line_col(const struct schema_ctx *c, const char *pos, int *ret_line, int *ret_col)
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
format_path(const struct schema_ctx *c, int depth, char *buf, size_t size)
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

void
schema_error(struct schema_ctx *c, bool at_key, const char *fmt, ...)
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
    if (c->nerrors > SCHEMA_MAX_LOCATED_ERRORS) {
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

/* "SOURCE:LINE:COL: PATH" of the value being parsed, for a check made after parsing; NULL: OOM. */
char *
schema_where(const struct schema_ctx *c)
{
    char path[256], where[4400];
    int line, col;

    line_col(c, locate(c, c->depth, false), &line, &col);
    format_path(c, c->depth, path, sizeof(path));
    (void)snprintf(where, sizeof(where), "%s:%d:%d: %s", c->source, line, col, util_one_line(path));
    return strdup(where);
}

/* The schema is at most 5 levels deep, so the path stack cannot overflow. */
void
schema_push_key(struct schema_ctx *c, const char *key)
{
    assert(c->depth < SCHEMA_MAX_DEPTH);
    c->path[c->depth++] = (struct schema_path){ .key = key };
}

void
schema_push_index(struct schema_ctx *c, size_t index)
{
    assert(c->depth < SCHEMA_MAX_DEPTH);
    c->path[c->depth++] = (struct schema_path){ .index = index };
}

void
schema_pop(struct schema_ctx *c)
{
    c->depth--;
}

const char *
schema_kind(const json_t *v)
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

int
schema_string(struct schema_ctx *c, const json_t *v, bool allow_empty, char **ret)
{
    const char *s;
    size_t n;
    char *copy;

    if (!json_is_string(v)) {
        schema_error(c, false, "expected a string, got %s", schema_kind(v));
        return -EINVAL;
    }
    s = json_string_value(v);
    n = json_string_length(v);
    if (strlen(s) != n) {
        schema_error(c, false, "string contains a NUL character");
        return -EINVAL;
    }
    if (!allow_empty && n == 0) {
        schema_error(c, false, "expected a non-empty string");
        return -EINVAL;
    }
    if (n > CFG_MAX_STRING) {
        schema_error(c, false, "string longer than %d bytes", CFG_MAX_STRING);
        return -EINVAL;
    }
    copy = strdup(s);
    if (!copy) {
        schema_error(c, false, "out of memory");
        return -ENOMEM;
    }
    *ret = copy;
    return 0;
}

int
schema_uint(struct schema_ctx *c, const json_t *v, unsigned min, unsigned max, unsigned *ret)
{
    json_int_t n;

    if (!json_is_integer(v)) {
        schema_error(c, false, "expected an integer from %u to %u, got %s", min, max,
                     schema_kind(v));
        return -EINVAL;
    }
    n = json_integer_value(v);
    if (n < (json_int_t)min || n > (json_int_t)max) {
        schema_error(c, false, "expected an integer from %u to %u, got %lld", min, max,
                     (long long)n);
        return -EINVAL;
    }
    *ret = (unsigned)n;
    return 0;
}

int
schema_duration(struct schema_ctx *c, const json_t *v, int64_t *ret_ms)
{
    int r;

    if (json_is_number(v)) {
        r = util_seconds_to_ms(json_number_value(v), ret_ms);
        if (r < 0)
            schema_error(c, false, "duration out of range (0 to 30 days), got %g",
                         json_number_value(v));
        return r;
    }
    if (json_is_string(v)) {
        r = util_parse_duration_ms(json_string_value(v), ret_ms);
        if (r == -ERANGE)
            schema_error(c, false, "duration out of range (0 to 30 days): \"%s\"",
                         json_string_value(v));
        else if (r < 0)
            schema_error(
                c, false,
                "expected a duration such as \"500ms\", \"10s\", \"2m\" or seconds, got \"%s\"",
                json_string_value(v));
        return r;
    }
    schema_error(c, false,
                 "expected a duration (a string such as \"10s\" or a number of seconds), got %s",
                 schema_kind(v));
    return -EINVAL;
}

/*
 * A duration of at least min_ms (1: "positive"); what names it in the error.
 * *ms is written as soon as the value is a duration, as by schema_duration().
 */
int
schema_duration_min(struct schema_ctx *c, const json_t *v, int64_t min_ms, const char *what,
                    int64_t *ms)
{
    int r = schema_duration(c, v, ms);

    if (r == 0 && *ms < min_ms) {
        if (min_ms == 1)
            schema_error(c, false, "%s must be positive", what);
        else
            schema_error(c, false, "%s must be at least %lldms", what, (long long)min_ms);
        r = -EINVAL;
    }
    return r;
}

int
schema_signal(struct schema_ctx *c, const json_t *v, int *ret_sig)
{
    char num[24];
    const char *s;

    if (json_is_integer(v)) {
        (void)snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
        s = num;
    } else if (json_is_string(v)) {
        s = json_string_value(v);
    } else {
        schema_error(c, false, "expected a signal name such as \"TERM\" or a number, got %s",
                     schema_kind(v));
        return -EINVAL;
    }
    if (util_parse_signal(s, ret_sig) < 0 || *ret_sig == SIGKILL || *ret_sig == SIGSTOP) {
        schema_error(
            c, false,
            "unknown or unusable signal \"%s\" (use a name such as TERM, INT, QUIT, HUP, USR1)", s);
        return -EINVAL;
    }
    return 0;
}

bool
schema_require_object(struct schema_ctx *c, const json_t *v, const char *what)
{
    if (json_is_object(v))
        return true;
    schema_error(c, false, "expected %s (an object), got %s", what, schema_kind(v));
    return false;
}

static bool
key_allowed(const struct schema_key *k, unsigned allow)
{
    return (k->flags & ~SCHEMA_COUNTED & ~allow) == 0;
}

static const struct schema_key *
find_key(const struct schema_key *keys, size_t nkeys, unsigned allow, const char *name)
{
    for (size_t i = 0; i < nkeys; i++)
        if (key_allowed(&keys[i], allow) && strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
}

/* The allowed names, `a, b, c` or quoted `"a", "b", "c"`. */
static void
key_list(const struct schema_key *keys, size_t nkeys, unsigned allow, bool quoted, char *buf,
         size_t size)
{
    const char *q = quoted ? "\"" : "";
    size_t len = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < nkeys && len < size; i++) {
        int n;
        if (!key_allowed(&keys[i], allow))
            continue;
        n = snprintf(buf + len, size - len, "%s%s%s%s", len ? ", " : "", q, keys[i].name, q);
        if (n < 0)
            break;
        len += (size_t)n;
    }
}

/* schema_require_object() for a section its message names by its keys: WHAT {"k1", "k2"}SUFFIX. */
bool
schema_require_keys(struct schema_ctx *c, const json_t *v, const char *what,
                    const struct schema_key *keys, size_t nkeys, const char *suffix)
{
    char list[256];

    if (json_is_object(v))
        return true;
    key_list(keys, nkeys, 0, true, list, sizeof(list));
    schema_error(c, false, "expected %s {%s}%s (an object), got %s", what, list, suffix,
                 schema_kind(v));
    return false;
}

/*
 * Each key of object v, in the text's order, to its handler, and each key not
 * in keys[] (or not allowed: see KEY_HEALTH) to an "unknown key" error. Every
 * key is tried. *counted (unless NULL) is set to the number of SCHEMA_COUNTED keys
 * found, failed or not. Returns 0, or -EINVAL if any key failed.
 */
int
schema_parse_keys(struct schema_ctx *c, const json_t *v, const struct schema_key *keys,
                  size_t nkeys, unsigned allow, void *target, unsigned *counted)
{
    const char *name;
    json_t *val;
    unsigned n = 0;
    int r = 0;

    json_object_foreach((json_t *)v, name, val)
    {
        const struct schema_key *k = find_key(keys, nkeys, allow, name);

        schema_push_key(c, name);
        if (!k) {
            char known[400];
            key_list(keys, nkeys, allow, false, known, sizeof(known));
            schema_error(c, true, "unknown key \"%s\" (known: %s)", name, known);
            r = -EINVAL;
        } else {
            if (k->flags & SCHEMA_COUNTED)
                n++;
            if (k->parse(c, val, (char *)target + k->off) < 0)
                r = -EINVAL;
        }
        schema_pop(c);
    }
    if (counted)
        *counted = n;
    return r;
}

int
schema_key_duration(struct schema_ctx *c, const json_t *val, void *target)
{
    return schema_duration(c, val, target);
}

int
schema_key_bool(struct schema_ctx *c, const json_t *val, void *target)
{
    if (!json_is_boolean(val)) {
        schema_error(c, false, "expected true or false, got %s", schema_kind(val));
        return -EINVAL;
    }
    *(bool *)target = json_is_true(val);
    return 0;
}

int
schema_key_string(struct schema_ctx *c, const json_t *val, void *target)
{
    return schema_string(c, val, false, target);
}

int
schema_key_signal(struct schema_ctx *c, const json_t *val, void *target)
{
    return schema_signal(c, val, target);
}

void
schema_at_top(struct schema_ctx *c)
{
    c->depth = 0;
}

/*
 * jobframe: parse and format the job channel's frames. See jobframe.h.
 */
#include "core/jobframe.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/util.h"

enum kind { K_NONE, K_STR, K_UINT };

struct keyspec {
    const char *key;
    enum kind kind;
    uint64_t max; /* K_UINT */
};

/* What each verb must carry; other keys are allowed and ignored (a newer peer's). */
static const struct {
    const char *name;
    bool body; /* len= is required */
    struct keyspec keys[6];
} verbs[JOBFRAME__MAX] = {
    [JOBFRAME_HELLO] = { "HELLO",
                         false,
                         { { "v", K_UINT, 1000 },
                           { "program", K_STR, 0 },
                           { "instance", K_UINT, 1000000 },
                           { "token", K_STR, 0 } } },
    [JOBFRAME_WANT] = { "WANT", false, { { "n", K_UINT, 1000000 } } },
    [JOBFRAME_START] = { "START",
                         false,
                         { { "id", K_STR, 0 }, { "attempt", K_UINT, UINT32_MAX } } },
    [JOBFRAME_PROGRESS] = { "PROGRESS",
                            false,
                            { { "id", K_STR, 0 },
                              { "attempt", K_UINT, UINT32_MAX },
                              { "pct", K_UINT, 100 } } },
    [JOBFRAME_DONE] = { "DONE", true, { { "id", K_STR, 0 }, { "attempt", K_UINT, UINT32_MAX } } },
    [JOBFRAME_FAIL] = { "FAIL",
                        false,
                        { { "id", K_STR, 0 },
                          { "attempt", K_UINT, UINT32_MAX },
                          { "retry", K_STR, 0 } } },
    [JOBFRAME_PONG] = { "PONG", false, { { "id", K_STR, 0 } } },
    [JOBFRAME_WELCOME] = { "WELCOME", false, { { "v", K_UINT, 1000 } } },
    [JOBFRAME_BYE] = { "BYE", false, { { "reason", K_STR, 0 } } },
    [JOBFRAME_JOB] = { "JOB",
                       true,
                       { { "id", K_STR, 0 },
                         { "attempt", K_UINT, UINT32_MAX },
                         { "type", K_STR, 0 },
                         { "deadline_ms", K_UINT, INT64_MAX } } },
    [JOBFRAME_PING] = { "PING", false, { { "id", K_STR, 0 } } },
    [JOBFRAME_CANCEL] = { "CANCEL",
                          false,
                          { { "id", K_STR, 0 }, { "attempt", K_UINT, UINT32_MAX } } },
    [JOBFRAME_DRAIN] = { "DRAIN", false, { { 0 } } },
};

static int
fail(char *err, size_t errsize, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(err, errsize, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static int
hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Bytes a value may hold as they are: printable ASCII but space and '%'. */
static bool
raw_ok(uint8_t c)
{
    return c > 0x20 && c < 0x7f && c != '%';
}

static bool
key_ok(const uint8_t *k, size_t n)
{
    if (n == 0 || n > JOBFRAME_KEY_MAX || !(k[0] >= 'a' && k[0] <= 'z'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9') || k[i] == '_'))
            return false;
    return true;
}

static bool
parse_u64(const char *s, uint64_t max, uint64_t *ret)
{
    uint64_t v = 0;

    if (!*s || (s[0] == '0' && s[1]))
        return false; /* no sign, no leading zero: one spelling per number */
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    if (v > max)
        return false;
    *ret = v;
    return true;
}

const char *
jobframe_get(const struct jobframe *f, const char *key)
{
    for (size_t i = 0; i < f->nargs; i++)
        if (strcmp(f->args[i].key, key) == 0)
            return f->args[i].value;
    return NULL;
}

int
jobframe_get_u64(const struct jobframe *f, const char *key, uint64_t max, uint64_t *ret)
{
    const char *v = jobframe_get(f, key);
    uint64_t n;

    if (!v || !parse_u64(v, max, &n))
        return -EINVAL;
    *ret = n;
    return 0;
}

/* A field key=value at line[0..n) into f (decoded into f->text at *pos). */
static int
parse_arg(const uint8_t *line, size_t n, struct jobframe *f, size_t *pos, char *err, size_t errsize)
{
    const uint8_t *eq = memchr(line, '=', n);
    size_t klen, start;

    if (!eq)
        return fail(err, errsize, "field \"%.*s\" is not key=value", (int)(n > 64 ? 64 : n), line);
    klen = (size_t)(eq - line);
    if (!key_ok(line, klen))
        return fail(err, errsize, "\"%.*s\" is not a key (a-z, 0-9, _, at most %d)",
                    (int)(klen > 64 ? 64 : klen), line, JOBFRAME_KEY_MAX);
    if (f->nargs == JOBFRAME_ARGS_MAX)
        return fail(err, errsize, "more than %d fields", JOBFRAME_ARGS_MAX);
    /* The key, then the decoded value; both fit: the text is as long as the line. */
    memcpy(f->text + *pos, line, klen);
    f->text[*pos + klen] = '\0';
    for (size_t i = 0; i < f->nargs; i++)
        if (strcmp(f->args[i].key, f->text + *pos) == 0)
            return fail(err, errsize, "key \"%s\" given twice", f->text + *pos);
    f->args[f->nargs].key = f->text + *pos;
    *pos += klen + 1;
    start = *pos;
    for (size_t i = klen + 1; i < n; i++) {
        uint8_t c = line[i];

        if (c == '%') {
            int hi = i + 2 < n ? hexval(line[i + 1]) : -1, lo = hi >= 0 ? hexval(line[i + 2]) : -1;

            if (lo < 0)
                return fail(err, errsize, "key \"%s\": '%%' not followed by two hex digits",
                            f->args[f->nargs].key);
            c = (uint8_t)(hi * 16 + lo);
            if (c == 0)
                return fail(err, errsize, "key \"%s\": %%00 (a NUL byte) in a value",
                            f->args[f->nargs].key);
            i += 2;
        } else if (!raw_ok(c)) {
            return fail(err, errsize, "key \"%s\": byte 0x%02x must be percent-encoded",
                        f->args[f->nargs].key, c);
        }
        f->text[(*pos)++] = (char)c;
    }
    f->text[(*pos)++] = '\0';
    f->args[f->nargs].value = f->text + start;
    f->args[f->nargs].value_len = *pos - start - 1;
    f->nargs++;
    return 0;
}

static int
check_keys(const struct jobframe *f, char *err, size_t errsize)
{
    const char *name = verbs[f->verb].name;

    for (size_t k = 0; k < ARRAY_SIZE(verbs[0].keys) && verbs[f->verb].keys[k].key; k++) {
        const struct keyspec *ks = &verbs[f->verb].keys[k];
        const char *v = jobframe_get(f, ks->key);
        uint64_t n;

        if (!v)
            return fail(err, errsize, "%s without %s=", name, ks->key);
        if (ks->kind == K_STR && !*v)
            return fail(err, errsize, "%s: %s= is empty", name, ks->key);
        if (ks->kind == K_UINT && !parse_u64(v, ks->max, &n))
            return fail(err, errsize, "%s: %s=%.32s is not a whole number from 0 to %llu", name,
                        ks->key, v, (unsigned long long)ks->max);
    }
    return 0;
}

int
jobframe_parse(const uint8_t *data, size_t len, size_t max_body, struct jobframe *ret,
               size_t *ret_used, char *err, size_t errsize)
{
    size_t scan = len < JOBFRAME_LINE_MAX ? len : JOBFRAME_LINE_MAX;
    const uint8_t *nl = memchr(data, '\n', scan);
    size_t linelen, pos = 0, used;
    struct jobframe *f = ret;
    const char *lenv;
    uint64_t body;
    int r;

    if (!nl) {
        if (len >= JOBFRAME_LINE_MAX)
            return fail(err, errsize, "a line longer than %d bytes", JOBFRAME_LINE_MAX - 1);
        return 0;
    }
    linelen = (size_t)(nl - data);
    f->verb = JOBFRAME_INVALID;
    f->nargs = 0;
    f->has_body = false;
    f->body = NULL;
    f->body_len = 0;
    for (size_t i = 0; i <= linelen; i++) {
        size_t start = i;

        while (i < linelen && data[i] != ' ')
            i++;
        if (i == start)
            return fail(err, errsize,
                        linelen ? "an empty field (two spaces, or one at an end)"
                                : "an empty line");
        if (f->verb == JOBFRAME_INVALID) {
            for (int v = 0; v < JOBFRAME__MAX; v++)
                if (strlen(verbs[v].name) == i - start &&
                    memcmp(verbs[v].name, data + start, i - start) == 0)
                    f->verb = (enum jobframe_verb)v;
            if (f->verb == JOBFRAME_INVALID) {
                size_t n = i - start > 32 ? 32 : i - start;
                char shown[33 * 4];
                size_t k = 0;

                for (size_t j = 0; j < n; j++)
                    k += (size_t)snprintf(shown + k, sizeof(shown) - k,
                                          raw_ok(data[start + j]) ? "%c" : "\\x%02x",
                                          data[start + j]);
                return fail(err, errsize, "unknown verb \"%s\"", shown);
            }
            continue;
        }
        if ((r = parse_arg(data + start, i - start, f, &pos, err, errsize)) < 0)
            return r;
    }
    if ((r = check_keys(f, err, errsize)) < 0)
        return r;
    used = linelen + 1;
    lenv = jobframe_get(f, "len");
    if (!lenv) {
        if (verbs[f->verb].body)
            return fail(err, errsize, "%s without len=", verbs[f->verb].name);
        *ret_used = used;
        return 1;
    }
    if (!parse_u64(lenv, max_body, &body))
        return fail(err, errsize, "len=%.32s is not a whole number from 0 to %zu (max_payload)",
                    lenv, max_body);
    if (len - used <= body)
        return 0; /* the body and its newline are not all in yet (no body + 1: it could wrap) */
    if (data[used + body] != '\n')
        return fail(err, errsize, "the %llu bytes of len= are not followed by a newline",
                    (unsigned long long)body);
    f->has_body = true;
    f->body = data + used;
    f->body_len = (size_t)body;
    *ret_used = used + (size_t)body + 1;
    return 1;
}

/* Unreserved bytes go as they are; everything else as %XX. */
static bool
plain(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           strchr("._~:,@/+-", c) != NULL;
}

int
jobframe_format(char *buf, size_t size, enum jobframe_verb verb, const char *const *kv, size_t nkv)
{
    size_t cap = size < JOBFRAME_LINE_MAX + 1 ? size : JOBFRAME_LINE_MAX + 1, n;
    static const char hex[] = "0123456789ABCDEF";

    if (verb < 0 || verb >= JOBFRAME__MAX || nkv % 2 != 0)
        return -EINVAL;
    n = strlen(verbs[verb].name);
    if (n + 2 > cap)
        return -ENOSPC;
    memcpy(buf, verbs[verb].name, n);
    for (size_t i = 0; i < nkv; i += 2) {
        size_t klen = strlen(kv[i]);

        if (n + 1 + klen + 1 >= cap)
            return -ENOSPC;
        buf[n++] = ' ';
        memcpy(buf + n, kv[i], klen);
        n += klen;
        buf[n++] = '=';
        for (const uint8_t *v = (const uint8_t *)kv[i + 1]; *v; v++) {
            if (plain(*v)) {
                if (n + 1 >= cap)
                    return -ENOSPC;
                buf[n++] = (char)*v;
            } else {
                if (n + 3 >= cap)
                    return -ENOSPC;
                buf[n++] = '%';
                buf[n++] = hex[*v >> 4];
                buf[n++] = hex[*v & 15];
            }
        }
    }
    if (n + 2 > cap)
        return -ENOSPC;
    buf[n++] = '\n';
    buf[n] = '\0';
    return (int)n;
}

const char *
jobframe_verb_name(enum jobframe_verb v)
{
    return v >= 0 && v < JOBFRAME__MAX ? verbs[v].name : "invalid";
}

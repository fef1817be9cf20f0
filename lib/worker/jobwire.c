/*
 * jobwire: parse and format job channel lines, worker side. See jobwire.h.
 */
#include "jobwire.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

static int
hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool
key_ok(const char *k, size_t n)
{
    if (n == 0 || n > 32 || !(k[0] >= 'a' && k[0] <= 'z'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9') || k[i] == '_'))
            return false;
    return true;
}

/* Decodes the value s[0..n) in place, NUL-terminated. */
static int
decode(char *s, size_t n)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '%') {
            int hi = i + 2 < n ? hexval((unsigned char)s[i + 1]) : -1;
            int lo = hi >= 0 ? hexval((unsigned char)s[i + 2]) : -1;

            if (lo < 0 || (hi | lo) == 0)
                return -EINVAL;
            c = (unsigned char)(hi * 16 + lo);
            i += 2;
        } else if (c <= 0x20 || c >= 0x7f) {
            return -EINVAL;
        }
        s[o++] = (char)c;
    }
    s[o] = '\0';
    return 0;
}

int
jobwire_parse(char *line, size_t len, struct jobwire_frame *ret)
{
    struct jobwire_frame f = { .verb = NULL, .nargs = 0 };
    size_t i = 0;

    if (len >= JOBWIRE_LINE_MAX || memchr(line, '\0', len))
        return -EINVAL;
    while (i <= len) {
        size_t start = i;
        char *eq;

        while (i < len && line[i] != ' ')
            i++;
        if (i == start)
            return -EINVAL; /* an empty line, two spaces, or one at an end */
        line[i++] = '\0';   /* the space, or the byte after the line: i == len + 1 then */
        if (!f.verb) {
            f.verb = line + start;
            continue;
        }
        eq = memchr(line + start, '=', i - 1 - start);
        if (!eq || !key_ok(line + start, (size_t)(eq - line - start)) ||
            f.nargs == JOBWIRE_ARGS_MAX)
            return -EINVAL;
        *eq = '\0';
        if (jobwire_get(&f, line + start) || decode(eq + 1, (size_t)(line + i - 1 - eq - 1)) < 0)
            return -EINVAL;
        f.args[f.nargs].key = line + start;
        f.args[f.nargs].value = eq + 1;
        f.nargs++;
    }
    *ret = f;
    return 0;
}

const char *
jobwire_get(const struct jobwire_frame *f, const char *key)
{
    for (size_t i = 0; i < f->nargs; i++)
        if (strcmp(f->args[i].key, key) == 0)
            return f->args[i].value;
    return NULL;
}

int
jobwire_get_u64(const struct jobwire_frame *f, const char *key, uint64_t max, uint64_t *ret)
{
    const char *s = jobwire_get(f, key);
    uint64_t v = 0;

    if (!s || !*s || (s[0] == '0' && s[1]))
        return -EINVAL;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
            return -EINVAL;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    if (v > max)
        return -EINVAL;
    *ret = v;
    return 0;
}

static bool
plain(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c && strchr("._~:,@/+-", c));
}

int
jobwire_format(char *buf, size_t size, const char *verb, const char *const *kv, size_t nkv)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t cap = size < JOBWIRE_LINE_MAX + 1 ? size : JOBWIRE_LINE_MAX + 1;
    size_t n = strlen(verb);

    if (nkv % 2)
        return -EINVAL;
    if (n + 2 > cap)
        return -ENOSPC;
    memcpy(buf, verb, n);
    for (size_t i = 0; i < nkv; i += 2) {
        size_t klen = strlen(kv[i]);

        if (n + klen + 2 >= cap)
            return -ENOSPC;
        buf[n++] = ' ';
        memcpy(buf + n, kv[i], klen);
        n += klen;
        buf[n++] = '=';
        for (const unsigned char *v = (const unsigned char *)kv[i + 1]; *v; v++) {
            if (n + (plain(*v) ? 1 : 3) >= cap)
                return -ENOSPC;
            if (plain(*v)) {
                buf[n++] = (char)*v;
            } else {
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

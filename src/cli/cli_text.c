/*
 * cli_text: the renderers' growable string, display width and answer loading. Pure. See
 * cli_text.h.
 */
#include "cli/cli_text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
cli_text_printf(struct cli_text *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->oom)
        return;
    va_start(ap, fmt);
    n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = true;
        return;
    }
    if (!b->p || b->len + (size_t)n >= b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        char *p;

        while (cap <= b->len + (size_t)n)
            cap *= 2;
        if (!(p = realloc(b->p, cap))) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
        va_start(ap, fmt);
        (void)vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

char *
cli_text_take(struct cli_text *b, char *err, size_t errlen)
{
    char *p;

    if (!b->oom && !b->p)
        b->p = strdup("");
    if (b->oom || !b->p) {
        free(b->p);
        b->p = NULL;
        (void)snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p = b->p;
    b->p = NULL;
    return p;
}

void
cli_text_done(struct cli_text *b)
{
    free(b->p);
    b->p = NULL;
}

size_t
cli_text_width(const char *s)
{
    size_t w = 0;

    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

json_t *
cli_text_load_object(const char *body, size_t body_len, const char *what, char *err, size_t errlen)
{
    json_error_t je;
    json_t *j = json_loadb(body, body_len, 0, &je);

    if (!j) {
        (void)snprintf(err, errlen, "malformed %s answer: %s", what, je.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        (void)snprintf(err, errlen, "malformed %s answer: not a JSON object", what);
        return NULL;
    }
    return j;
}

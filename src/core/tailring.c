/*
 * tailring: the last lines of a stream. See tailring.h.
 */
#include "core/tailring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int
tailring_init(struct tailring *t, size_t nmax, size_t cap)
{
    *t = (struct tailring){ 0 };
    t->buf = malloc(cap);
    t->lines = calloc(nmax, sizeof(*t->lines));
    if (!t->buf || !t->lines) {
        tailring_done(t);
        return -ENOMEM;
    }
    t->cap = cap;
    t->nmax = nmax;
    return 0;
}

void
tailring_done(struct tailring *t)
{
    free(t->buf);
    free(t->lines);
    *t = (struct tailring){ 0 };
}

static void
drop_oldest(struct tailring *t)
{
    t->first = (t->first + 1) % t->nmax;
    t->n--;
}

static const struct tailring_line *
oldest(const struct tailring *t)
{
    return &t->lines[t->first];
}

void
tailring_push(struct tailring *t, uint64_t seq, int64_t unix_ms, const char *text, size_t len,
              unsigned flags)
{
    struct tailring_line *l;
    size_t room;

    if (!t->nmax || !t->cap)
        return;
    if (len > t->cap)
        len = t->cap;
    room = len ? len : 1; /* an empty line takes a byte too: no two lines start at one place */
    if (t->n == t->nmax)
        drop_oldest(t);
    if (t->n == 0)
        t->wpos = 0;
    if (t->wpos + room > t->cap) {
        /*
         * No room before the end: the lines from wpos to the end are the
         * oldest (written before the last wrap); they go, and the text
         * starts again at 0.
         */
        while (t->n && oldest(t)->off >= t->wpos)
            drop_oldest(t);
        t->wpos = 0;
    }
    /* The lines in the way, from the oldest on, go. */
    while (t->n && oldest(t)->off < t->wpos + room &&
           t->wpos < oldest(t)->off + (oldest(t)->len ? oldest(t)->len : 1))
        drop_oldest(t);
    l = &t->lines[(t->first + t->n) % t->nmax];
    *l = (struct tailring_line){ .seq = seq,
                                 .unix_ms = unix_ms,
                                 .off = (uint32_t)t->wpos,
                                 .len = (uint32_t)len,
                                 .flags = flags };
    if (len)
        memcpy(t->buf + t->wpos, text, len);
    t->wpos += room;
    t->n++;
}

const struct tailring_line *
tailring_at(const struct tailring *t, size_t i)
{
    return &t->lines[(t->first + i) % t->nmax];
}

/*
 * tailring: the last lines of one captured stream, kept in memory for
 * `drover logs` and GET /logs (daemon/capture).
 *
 * At most nmax lines and cap bytes of text: a new line pushes out the
 * oldest ones until both hold. Each line carries a sequence number the
 * caller gives (one counter for all streams of the pool, so the rings of a
 * program's instances merge into one order) and a flags byte. The text
 * lives in one circular byte array; a line never wraps (the space left at
 * the end is skipped), so each is one contiguous piece to hand out.
 * Allocated once by tailring_init(); pure otherwise: no I/O, no logging.
 */
#ifndef DROVER_TAILRING_H
#define DROVER_TAILRING_H

#include <stddef.h>
#include <stdint.h>

/* The text one stream keeps at most (docs/config.md#captured-output). */
#define TAILRING_BYTES 65536

struct tailring_line {
    uint64_t seq;
    int64_t unix_ms; /* when it was read */
    uint32_t off, len;
    unsigned flags;
};

struct tailring {
    char *buf;
    size_t cap; /* bytes of buf */
    struct tailring_line *lines;
    size_t nmax;  /* entries of lines */
    size_t first; /* index of the oldest line */
    size_t n;     /* lines kept */
    size_t wpos;  /* where the next line's text goes */
};

/* Room for nmax lines and cap bytes (both > 0). Returns 0 or -ENOMEM. */
int tailring_init(struct tailring *t, size_t nmax, size_t cap);
/* Frees what tailring_init() allocated; a zeroed or half-made ring is fine. */
void tailring_done(struct tailring *t);
/* Keeps the line (cut to cap bytes), pushing out the oldest as needed. */
void tailring_push(struct tailring *t, uint64_t seq, int64_t unix_ms, const char *text, size_t len,
                   unsigned flags);
/* The i-th line kept, oldest first (i < t->n); borrowed until the next push. */
const struct tailring_line *tailring_at(const struct tailring *t, size_t i);
static inline const char *
tailring_text(const struct tailring *t, const struct tailring_line *l)
{
    return t->buf + l->off;
}

#endif

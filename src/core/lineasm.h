/*
 * lineasm: bytes in, complete lines out, for captured output (daemon/capture).
 *
 * A child writes bytes, not lines: a read may end mid-line and the next one
 * finish it. The assembler keeps the unfinished line (at most LINEASM_MAX
 * bytes) and hands each complete one to a callback, without its '\n'. A line
 * longer than LINEASM_MAX is cut there: the piece is handed over with
 * LINEASM_CUT (it continues in the next line), so memory per stream is bounded
 * whatever the child writes. Bytes are passed as they are (invalid UTF-8 and
 * NUL included): escaping is for whoever shows them (core/utf8).
 * Pure: no I/O, no allocation, no logging.
 */
#ifndef DROVER_LINEASM_H
#define DROVER_LINEASM_H

#include <stddef.h>

/* The longest line kept whole (docs/config.md#captured-output). */
#define LINEASM_MAX 16384

/* The line was cut at LINEASM_MAX: what follows it is the rest of the same line. */
#define LINEASM_CUT 1u

struct lineasm {
    size_t len; /* bytes of the unfinished line in buf */
    char buf[LINEASM_MAX];
};

/* One line (len bytes at line, no '\n'; borrowed for the call only) and its LINEASM_* flags. */
typedef void (*lineasm_fn)(void *arg, const char *line, size_t len, unsigned flags);

static inline void
lineasm_init(struct lineasm *la)
{
    la->len = 0;
}

/* Feeds the len bytes at data: each line completed (or cut) goes to fn, in order. */
void lineasm_feed(struct lineasm *la, const char *data, size_t len, lineasm_fn fn, void *arg);

/* Hands over the unfinished line, if any, as a line of its own (flags 0). */
void lineasm_flush(struct lineasm *la, lineasm_fn fn, void *arg);

#endif

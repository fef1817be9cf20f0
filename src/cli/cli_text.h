/*
 * cli_text: what both renderers (cli_render.c, cli_jobs_render.c) build
 * their text with: a growable string, the display width of UTF-8 text, and
 * a daemon's answer loaded as a JSON object with a one-line reason.
 *
 * Pure: no I/O, no logging, no state. A struct cli_text starts as { 0 }
 * and owns its text until cli_text_take() hands it over; cli_text_done()
 * frees what is left and may be called after cli_text_take(). Bodies are
 * borrowed and need not be NUL-terminated; err is written on failure only.
 */
#ifndef DROVER_CLI_TEXT_H
#define DROVER_CLI_TEXT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* A growable string; on out of memory it stays as it was and oom is set (later appends do
   nothing). */
struct cli_text {
    char *p;
    size_t len, cap;
    bool oom;
};

/* Appends the formatted text to b. */
void cli_text_printf(struct cli_text *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Takes the text, malloc'ed ("" if nothing was written), leaving b empty;
 * NULL with err "out of memory" when an append or the copy failed.
 */
char *cli_text_take(struct cli_text *b, char *err, size_t errlen);

/* Frees b's text (NULL after cli_text_take()). */
void cli_text_done(struct cli_text *b);

/* Display width of UTF-8 text: its characters (continuation bytes do not count). */
size_t cli_text_width(const char *s);

/*
 * The body parsed as a JSON object (a new reference), or NULL with err
 * "malformed WHAT answer: ..." (not JSON, or not an object).
 */
json_t *cli_text_load_object(const char *body, size_t body_len, const char *what, char *err,
                             size_t errlen);

#endif

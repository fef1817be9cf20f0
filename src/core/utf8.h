/*
 * utf8: checking and escaping text that came from outside (HTTP paths and
 * parameters, notify STATUS= texts, process output) before it goes into
 * JSON or a log line.
 *
 * Valid means what jansson accepts (RFC 3629): no overlong forms, no
 * surrogates, nothing above U+10FFFF, no NUL. Escaping keeps every valid
 * sequence and writes each byte of an invalid one as the four characters
 * \xHH, so nothing is dropped and the result is always valid UTF-8 with
 * no NUL. Pure: no I/O, no allocation, no logging.
 */
#ifndef DROVER_UTF8_H
#define DROVER_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Also write control characters (below 0x20, and 0x7f) as \xHH: for text shown on one line. */
#define UTF8_ESCAPE_CONTROLS 1u

/* Are the len bytes at s valid UTF-8 with no NUL? */
bool utf8_valid(const char *s, size_t len);

/*
 * Escapes the len bytes at s into out (size bytes, NUL-terminated when
 * size > 0; never cuts an escape or a character in half). Returns the
 * length the whole result needs without the NUL, as snprintf does: a
 * result >= size means out holds a shortened one.
 */
size_t utf8_escape(const char *s, size_t len, char *out, size_t size, unsigned flags);

#endif

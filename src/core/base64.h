/*
 * base64: RFC 4648 base64 (the standard alphabet, with padding), for bytes
 * that travel in JSON: a job's payload_b64 and result_b64, and the journal.
 *
 * Pure. Decoding is strict: only the alphabet, padding only at the end and
 * only where needed, no whitespace, and the unused bits of the last
 * character zero, so each byte string has exactly one encoding.
 */
#ifndef DROVER_BASE64_H
#define DROVER_BASE64_H

#include <stddef.h>

/* Characters needed to encode n bytes, without the NUL. */
size_t base64_encoded_len(size_t n);

/* Encodes n bytes into out (base64_encoded_len(n) + 1 bytes, NUL-terminated). */
void base64_encode(const void *in, size_t n, char *out);

/*
 * Decodes the len characters at in into out (room for len / 4 * 3 bytes).
 * Returns the bytes written, or -1 when in is not base64 (as above).
 */
long base64_decode(const char *in, size_t len, void *out);

#endif

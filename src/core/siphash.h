/*
 * siphash: SipHash-2-4 (Aumasson and Bernstein), a keyed 64-bit hash.
 *
 * For tables whose keys come from outside (job ids a client chooses):
 * without the key, nobody can pick inputs that all land in one bucket.
 * Pure; the caller draws the key (getrandom) once.
 */
#ifndef DROVER_SIPHASH_H
#define DROVER_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#define SIPHASH_KEY_BYTES 16

uint64_t siphash24(const uint8_t key[SIPHASH_KEY_BYTES], const void *data, size_t len);

#endif

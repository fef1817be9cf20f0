/*
 * util: small pure helpers shared by the modules: durations, signal names,
 * port ranges and the monotonic/wall clocks.
 *
 * Everything here except the clock readers is pure (no I/O, no logging) and
 * unit-tested in tests/unit/test_util.c. Durations are int64_t milliseconds
 * throughout drover.
 */
#ifndef DROVER_UTIL_H
#define DROVER_UTIL_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
/* The object of type T whose member m is at ptr (a loop source, a timer, a list link). */
#define container_of(ptr, T, m) ((T *)(void *)((char *)(ptr)-offsetof(T, m)))

/* Longest duration we accept anywhere: 30 days. Keeps arithmetic far from overflow. */
#define UTIL_DURATION_MAX_MS ((int64_t)30 * 24 * 3600 * 1000)

/*
 * "500ms", "10s", "2m", "1h", bare seconds "5" or "0.25".
 * Returns 0, -EINVAL (syntax; a sign is a syntax error) or -ERANGE (above UTIL_DURATION_MAX_MS).
 */
int util_parse_duration_ms(const char *s, int64_t *ret_ms);

/*
 * A size in bytes: digits, then an optional unit, B, K, M, G or T (also KB,
 * MB, GB, TB, KiB, MiB, GiB, TiB; any case), powers of 1024 as systemd's.
 * Returns 0, -EINVAL (not a size) or -ERANGE (above UINT64_MAX).
 */
int util_parse_size(const char *s, uint64_t *ret);

/* Seconds given as a JSON number, same range rules as util_parse_duration_ms(). */
int util_seconds_to_ms(double seconds, int64_t *ret_ms);

/* "TERM", "SIGTERM", "term", "15" or "SIG34". Returns 0 or -EINVAL. */
int util_parse_signal(const char *s, int *ret_sig);

/* "TERM" for SIGTERM; "SIG42" for signals 0-64 without a name, "SIG?" beyond; a constant string. */
const char *util_signal_name(int sig);

/* "FROM-TO" with 1 <= FROM <= TO <= 65535. Returns 0 or -EINVAL. */
int util_parse_port_range(const char *s, uint16_t *ret_from, uint16_t *ret_to);

/* "1.234s" (ms precision) into buf; returns buf. */
char *util_format_duration(char *buf, size_t size, int64_t ms);

/* FNV-1a of the string: a cheap hash for tables of names, not for anything secret. */
uint64_t util_hash_str(const char *s);
/*
 * given (NULL: none) is secret, in time that depends on the secret's length
 * only, never on where the first difference is (the HTTP token, a job
 * worker's token): no early exit, a length difference folded in.
 */
bool util_secret_equal(const char *given, const char *secret);

/* Replaces control characters in s by '?', so a message quoting input stays on one line. */
char *util_one_line(char *s);

/* clock (CLOCK_MONOTONIC, CLOCK_BOOTTIME, ...) in milliseconds. */
int64_t util_clock_ms(clockid_t clock);
/* CLOCK_MONOTONIC in milliseconds and nanoseconds. */
int64_t util_now_ms(void);
int64_t util_now_ns(void);
/* CLOCK_REALTIME in milliseconds since the epoch: for reports, never for deadlines. */
int64_t util_unix_ms(void);

/*
 * A ring that keeps the last `size` of a sequence numbered from 1 (next is
 * the number the next entry gets): the first number to read for a reader
 * who asks from since (0: from the oldest kept), and whether entries
 * between since and the oldest kept were dropped (*ret_gap).
 */
uint64_t util_ring_first(uint64_t next, uint64_t size, uint64_t since, bool *ret_gap);

#endif

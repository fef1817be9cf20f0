/*
 * herojob: a job as the Redis store keeps it, in the Hero supervisor's hash
 * (JOBS.md §1.3, §6.7; docs/jobs-redis.md): reading a job hash that a node
 * took from a queue into a drover job record, and the fields a submit
 * writes. Hero's fields are read as Hero clients write them (`script` is
 * the payload, `timeout` seconds, `retries` the tries after the first,
 * `env_vars` a JSON object); drover's own (drover_attempt,
 * drover_max_attempts) win when present, since drover wrote them last.
 *
 * A hash a client got wrong (no script, a script that is not UTF-8 text,
 * a timeout that is not a number, an id drover cannot name a job by) is
 * refused with one line that says which field and what: the store fails
 * that one job with it, and goes on.
 *
 * Pure: no I/O.
 */
#ifndef DROVER_HEROJOB_H
#define DROVER_HEROJOB_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <stdint.h>

#include "core/jobrec.h"

#define HEROJOB_ISO_MAX 32 /* "2026-12-03T19:04:42.873Z" and its NUL */

/* One field of a hash as HGETALL gave it: bytes, not C strings. */
struct herojob_field {
    const char *name, *value;
    size_t name_len, value_len;
};

/* What a field left out means: the program's settings. */
struct herojob_defaults {
    int64_t timeout_ms; /* 0: none */
    unsigned attempts;
    unsigned max_attempts; /* the most `retries` + 1 or drover_max_attempts may ask */
    uint64_t max_payload;
};

/* Can drover name a job by these bytes ([A-Za-z0-9._:-], 1 to JOBQ_ID_MAX)? */
bool herojob_id_valid(const char *id, size_t len);

/*
 * Fills r (from jobrec_new(), state unset) with the job of hash fields f:
 * its id, payload, timeout, attempts, ids and env; *ret_attempt is the
 * delivery the hash says is out (drover_attempt, 1 when absent). 0, or -1
 * with err saying what is wrong (r then holds whatever was read: free it).
 */
int herojob_read(const char *id, size_t id_len, const struct herojob_field *f, size_t n,
                 const struct herojob_defaults *d, struct jobrec *r, unsigned *ret_attempt,
                 char *err, size_t errsize);

/*
 * The job of hash fields f (n 0: none) as GET /jobs/ID shows a job held
 * elsewhere in the cluster: id, type, state (drover_state, else from
 * Hero's status), hero_status, attempt, max_attempts, node (drover_owner),
 * instance (actor_id), payload and result (text, else payload_b64 and
 * result_b64), error, error_code, created_at, updated_at, finished_ms, and
 * "store": "redis". NULL: no memory.
 */
json_t *herojob_to_json(const char *id, const struct herojob_field *f, size_t n);

/* The job of hash fields f ended: drover_state success, failed or cancelled, else Hero's
   status finished or error (a hash no drover wrote). */
bool herojob_ended(const struct herojob_field *f, size_t n);

/* Unix ms as Hero's ISO 8601 (UTC, milliseconds): buf has HEROJOB_ISO_MAX bytes. */
const char *herojob_iso8601(int64_t unix_ms, char *buf);

#endif

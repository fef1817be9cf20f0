/*
 * fuzz_herojob: a Hero job hash, as Redis hands it over, through
 * herojob_read() (what drover runs) and herojob_to_json() (what GET /jobs/ID
 * shows of a job held elsewhere).
 *
 * The input is the hash: fields separated by a 0x1e byte, each "name" 0x1f
 * "value" (any bytes, NULs too). Refused: an error text. Read: a payload
 * within max_payload, attempts at least 1, the attempt read within them,
 * and every env entry a NAME=value string. The JSON is always an object
 * (or NULL on no memory) naming the id.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/herojob.h"

#define FIELDS_MAX 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct herojob_defaults d = {
        .timeout_ms = 60000, .attempts = 2, .max_attempts = 100, .max_payload = 4096
    };
    struct herojob_field f[FIELDS_MAX];
    const char *p = (const char *)data, *end = p + size;
    size_t n = 0;
    struct jobrec *r = jobrec_new();
    unsigned attempt = 0;
    char err[512] = "";
    json_t *j;

    while (p < end && n < FIELDS_MAX) {
        const char *rec = memchr(p, 0x1e, (size_t)(end - p)), *stop = rec ? rec : end;
        const char *sep = memchr(p, 0x1f, (size_t)(stop - p));

        if (sep)
            f[n++] = (struct herojob_field){ p, sep + 1, (size_t)(sep - p),
                                             (size_t)(stop - sep - 1) };
        p = rec ? rec + 1 : end;
    }
    if (!r)
        return 0;
    if (herojob_read("job-1", 5, f, n, &d, r, &attempt, err, sizeof(err)) < 0) {
        assert(err[0]);
    } else {
        assert(r->payload_len <= d.max_payload);
        assert(r->max_attempts >= 1 && attempt >= 1 && attempt <= r->max_attempts);
        for (size_t i = 0; i < r->nenv; i++)
            assert(r->env[i] && strchr(r->env[i], '='));
    }
    jobrec_free(r);
    if ((j = herojob_to_json("job-1", f, n))) {
        assert(json_is_object(j));
        assert(strcmp(json_string_value(json_object_get(j, "id")), "job-1") == 0);
        json_decref(j);
    }
    return 0;
}

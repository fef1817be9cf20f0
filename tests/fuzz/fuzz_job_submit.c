/*
 * fuzz_job_submit: api_job_submit_parse() over the input as a POST /jobs
 * body, with a max_payload taken from the first byte.
 *
 * Accepted: a type of 1..64 name characters, a payload within max_payload,
 * an id that is valid, priority 0..9, delays and timeouts in range, each env
 * entry "KEY=VALUE" within the byte budget. Refused: a 400 or 413 answer with
 * a JSON body that has "error", and nothing left owned.
 */
#include <assert.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/api_jobs.h"
#include "core/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t max_payload = size ? (uint64_t)data[0] * 4 : 64;
    struct job_submit s;
    struct api_answer err;
    size_t envbytes = 0;

    if (api_job_submit_parse((const char *)data, size, max_payload, &s, &err) < 0) {
        json_t *j;

        assert(err.code == 400 || err.code == 413 || err.code == 500);
        assert(!s.type && !s.payload && !s.env);
        if (err.code != 500 || err.body) {
            assert(err.body);
            j = json_loads(err.body, 0, NULL);
            assert(j && json_is_string(json_object_get(j, "error")));
            json_decref(j);
        }
        free(err.body);
        return 0;
    }
    assert(s.type && strlen(s.type) >= 1 && strlen(s.type) <= 64);
    assert(s.payload && s.payload_len <= max_payload);
    assert(!s.id || api_job_id_valid(s.id));
    assert(s.priority <= 9);
    assert(s.delay_ms >= 0 && s.delay_ms <= UTIL_DURATION_MAX_MS);
    assert(s.timeout_ms >= -1 && s.timeout_ms <= UTIL_DURATION_MAX_MS);
    assert(s.attempts <= 1000);
    for (size_t i = 0; i < s.nenv; i++) {
        assert(strchr(s.env[i], '=') > s.env[i] && !strchr(s.env[i], '\n'));
        envbytes += strlen(s.env[i]);
    }
    assert(envbytes <= API_JOB_ENV_MAX_BYTES);
    job_submit_done(&s);
    return 0;
}

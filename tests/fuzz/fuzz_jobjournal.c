/*
 * fuzz_jobjournal: jobjournal_decode() over the input as one journal line.
 *
 * Refused: an error text and nothing owned. Accepted: a "new" or "st" line
 * written back out and read again gives the same state, attempt and
 * payload, so what a replay reads is what drover would write.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/jobjournal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct jobjournal_entry e, again;
    char err[256] = "";
    char *line = NULL;
    size_t len = 0;

    if (jobjournal_decode((const char *)data, size, &e, err, sizeof(err)) < 0) {
        assert(err[0] && !e.rec);
        return 0;
    }
    if (e.op == JOBJOURNAL_NEW)
        line = jobjournal_new_line(e.rec, e.type, e.seq, e.time_ms, &len);
    else if (e.op == JOBJOURNAL_STATE)
        line = jobjournal_state_line(e.rec, e.seq, e.time_ms, &len);
    if (line) {
        assert(len && line[len - 1] == '\n' && !memchr(line, '\n', len - 1));
        assert(jobjournal_decode(line, len - 1, &again, err, sizeof(err)) == 0);
        assert(again.op == e.op && again.rec);
        assert(again.rec->q.sm.state == e.rec->q.sm.state);
        assert(again.rec->q.sm.attempt == e.rec->q.sm.attempt);
        assert(again.rec->payload_len == e.rec->payload_len);
        assert(!e.rec->payload_len ||
               memcmp(again.rec->payload, e.rec->payload, e.rec->payload_len) == 0);
        jobrec_free(again.rec);
        free(line);
    }
    jobrec_free(e.rec);
    return 0;
}

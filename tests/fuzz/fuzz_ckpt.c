/*
 * fuzz_ckpt: the checkpoint decoder, ckpt_unpack(), on arbitrary bytes.
 * Whatever it accepts must pack again, and unpacking that must give the same
 * drover and the same entries: a checkpoint written from what a recovering
 * drover read is the one it read.
 */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/ckpt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* NULL and an empty list are the same argv: both pack as []. */
static bool
argv_equal(char **a, char **b)
{
    for (; a && *a; a++, b++)
        if (!b || !*b || strcmp(*a, *b) != 0)
            return false;
    return !b || !*b;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ckpt c, again;
    char err[256] = "", *packed;
    size_t packed_len;
    int r = ckpt_unpack((const char *)data, size, &c, err, sizeof(err));

    if (r < 0) {
        assert(r == -EINVAL || r == -ENOMEM);
        /*
         * A rejection always comes with a reason. Not always one line: jansson's
         * syntax errors quote the offending text, raw newlines included.
         */
        assert(r == -ENOMEM || err[0]);
        return 0;
    }
    assert(c.nentries == 0 || c.entries);
    if (ckpt_pack(&c, &packed, &packed_len) < 0) {
        ckpt_done(&c); /* -ENOMEM only */
        return 0;
    }
    assert(strlen(packed) == packed_len);
    r = ckpt_unpack(packed, packed_len, &again, err, sizeof(err));
    assert(r == 0 || r == -ENOMEM);
    if (r == 0) {
        assert(again.drover_pid == c.drover_pid);
        assert(again.drover_start_time == c.drover_start_time);
        assert(again.nentries == c.nentries);
        for (size_t i = 0; i < c.nentries; i++) {
            const struct ckpt_entry *e = &c.entries[i], *f = &again.entries[i];
            assert(strcmp(e->program, f->program) == 0);
            assert(e->instance == f->instance);
            assert(e->pid == f->pid && e->pgid == f->pgid);
            assert(e->start_time == f->start_time);
            assert(e->port == f->port);
            assert(argv_equal(e->argv, f->argv));
            assert(strcmp(e->generation, f->generation) == 0);
        }
        ckpt_done(&again);
    }
    free(packed);
    ckpt_done(&c);
    return 0;
}

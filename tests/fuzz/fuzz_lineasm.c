/*
 * fuzz_lineasm: the input, fed in reads whose sizes the input's first byte
 * picks, comes out as lines that joined again (a '\n' after each line not
 * cut) are the input itself up to its last '\n' or cut, with the rest once
 * flushed; no line is longer than LINEASM_MAX. The lines also go through a
 * small tail ring, which must hold the newest ones.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/lineasm.h"
#include "core/tailring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct out {
    const uint8_t *in;
    size_t in_len, pos;
    uint64_t seq;
    struct tailring ring;
};

static void
on_line(void *arg, const char *line, size_t len, unsigned flags)
{
    struct out *o = arg;

    assert(len <= LINEASM_MAX);
    assert(o->pos + len <= o->in_len);
    assert(memcmp(o->in + o->pos, line, len) == 0);
    o->pos += len;
    if (!(flags & LINEASM_CUT) && o->pos < o->in_len) {
        assert(o->in[o->pos] == '\n');
        o->pos++;
    }
    tailring_push(&o->ring, o->seq, 0, line, len, flags);
    assert(o->ring.n >= 1 && tailring_at(&o->ring, o->ring.n - 1)->seq == o->seq);
    o->seq++;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct lineasm la;
    struct out o = { .in = data, .in_len = size };
    size_t step = size ? (size_t)data[0] * 97 + 1 : 1;

    if (tailring_init(&o.ring, 8, 1024) < 0)
        return 0;
    lineasm_init(&la);
    for (size_t at = 0; at < size; at += step)
        lineasm_feed(&la, (const char *)data + at, size - at < step ? size - at : step, on_line,
                     &o);
    lineasm_flush(&la, on_line, &o);
    assert(o.pos == size);
    tailring_done(&o.ring);
    return 0;
}

/*
 * fuzz_jobframe: jobframe_parse() over the input as a channel's byte stream,
 * frame after frame until it needs more bytes or refuses one.
 *
 * An accepted frame used at least its line and never more than the input;
 * its body lies inside the input; it has every key its verb requires, each
 * once, with values that hold no NUL. Formatting an accepted frame's line
 * again and parsing that gives the same verb and the same decoded pairs
 * (the round trip the C library and drover rely on). A refusal fills err.
 */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/jobframe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
round_trip(const struct jobframe *f)
{
    static struct jobframe again;
    const char *kv[2 * JOBFRAME_ARGS_MAX];
    char line[JOBFRAME_LINE_MAX + 1], err[256];
    size_t nkv = 0, used;
    int n, r;

    for (size_t i = 0; i < f->nargs; i++) {
        if (strcmp(f->args[i].key, "len") == 0)
            continue; /* the body is not re-sent: len= would ask for it */
        kv[nkv++] = f->args[i].key;
        kv[nkv++] = f->args[i].value;
    }
    n = jobframe_format(line, sizeof(line), f->verb, kv, nkv);
    if (n == -ENOSPC)
        return; /* encoding can make a line longer than the one it came from */
    assert(n > 0 && line[n - 1] == '\n' && strlen(line) == (size_t)n);
    r = jobframe_parse((const uint8_t *)line, (size_t)n, 0, &again, &used, err, sizeof(err));
    if (r < 0) {
        /* Only a verb that needs a body can refuse its own line without len=. */
        assert(f->verb == JOBFRAME_JOB || f->verb == JOBFRAME_DONE);
        return;
    }
    assert(r == 1 && used == (size_t)n && again.verb == f->verb);
    assert(again.nargs == nkv / 2);
    for (size_t i = 0; i < nkv; i += 2) {
        const char *v = jobframe_get(&again, kv[i]);
        assert(v && strcmp(v, kv[i + 1]) == 0);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct jobframe f;
    size_t off = 0;

    for (int frames = 0; frames < 64; frames++) {
        char err[256] = "";
        size_t used = 0;
        int r = jobframe_parse(data + off, size - off, 1 << 16, &f, &used, err, sizeof(err));

        if (r < 0) {
            assert(r == -EINVAL && err[0]);
            return 0;
        }
        if (r == 0)
            return 0;
        assert(used > 0 && used <= size - off);
        assert(memchr(data + off, '\n', used) != NULL);
        if (f.has_body)
            assert(f.body >= data + off && f.body + f.body_len < data + off + used);
        for (size_t i = 0; i < f.nargs; i++) {
            assert(strlen(f.args[i].value) == f.args[i].value_len);
            for (size_t j = 0; j < i; j++)
                assert(strcmp(f.args[i].key, f.args[j].key) != 0);
        }
        assert(jobframe_get(&f, "id") || f.verb == JOBFRAME_HELLO || f.verb == JOBFRAME_WANT ||
               f.verb == JOBFRAME_WELCOME || f.verb == JOBFRAME_BYE || f.verb == JOBFRAME_DRAIN);
        round_trip(&f);
        off += used;
    }
    return 0;
}

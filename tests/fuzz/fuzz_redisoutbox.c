/*
 * fuzz_redisoutbox: redisoutbox_decode() over the input as one line of the
 * redis store's outage journal.
 *
 * Refused: an error text and nothing owned. Accepted: an update written back
 * out and read again gives the same op, type, id and words, byte for byte.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/redisoutbox.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct redisoutbox_line l, again;
    char err[256] = "";
    char *line;
    size_t len = 0;

    if (redisoutbox_decode((const char *)data, size, &l, err, sizeof(err)) < 0) {
        assert(err[0] && !l.block);
        return 0;
    }
    if (l.op == REDISOUTBOX_SNAPSHOT)
        return 0;
    line = redisoutbox_encode(l.op, l.type, l.id, (const char *const *)l.words, l.lens, l.nwords,
                              &len);
    if (line) {
        assert(len && line[len - 1] == '\n' && !memchr(line, '\n', len - 1));
        assert(redisoutbox_decode(line, len - 1, &again, err, sizeof(err)) == 0);
        assert(again.op == l.op && again.type == l.type && strcmp(again.id, l.id) == 0);
        assert(again.nwords == l.nwords);
        for (size_t i = 0; i < l.nwords; i++)
            assert(again.lens[i] == l.lens[i] && memcmp(again.words[i], l.words[i], l.lens[i]) == 0);
        redisoutbox_free(&again);
        free(line);
    }
    redisoutbox_free(&l);
    return 0;
}

/*
 * lineasm: bytes in, complete lines out. See lineasm.h.
 */
#include "core/lineasm.h"

#include <string.h>

void
lineasm_feed(struct lineasm *la, const char *data, size_t len, lineasm_fn fn, void *arg)
{
    while (len) {
        const char *nl = memchr(data, '\n', len);
        size_t take = nl ? (size_t)(nl - data) : len;

        if (la->len + take > LINEASM_MAX) {
            /* Too long to keep whole: the first LINEASM_MAX bytes go as a cut piece (a line of
               exactly LINEASM_MAX waits whole for its '\n'). */
            size_t room = LINEASM_MAX - la->len;
            if (la->len == 0) {
                fn(arg, data, LINEASM_MAX, LINEASM_CUT); /* straight from the input */
            } else {
                memcpy(la->buf + la->len, data, room);
                fn(arg, la->buf, LINEASM_MAX, LINEASM_CUT);
            }
            la->len = 0;
            data += room;
            len -= room;
            continue;
        }
        if (!nl) {
            memcpy(la->buf + la->len, data, take);
            la->len += take;
            return;
        }
        if (la->len == 0) {
            fn(arg, data, take, 0); /* the common case: no copy */
        } else {
            memcpy(la->buf + la->len, data, take);
            fn(arg, la->buf, la->len + take, 0);
            la->len = 0;
        }
        data += take + 1;
        len -= take + 1;
    }
}

void
lineasm_flush(struct lineasm *la, lineasm_fn fn, void *arg)
{
    if (la->len) {
        fn(arg, la->buf, la->len, 0);
        la->len = 0;
    }
}

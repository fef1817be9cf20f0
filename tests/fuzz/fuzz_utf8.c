/*
 * fuzz_utf8: utf8_valid() agrees with jansson on every input (with NUL
 * rejected as ours is), and utf8_escape() always gives valid UTF-8 that is
 * the input itself when that was valid, at any output size.
 */
#include <assert.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    bool valid = utf8_valid(s, size);
    json_t *j = json_stringn(s, size);
    size_t need, small;
    char *out;

    assert(valid == (j != NULL && memchr(s, 0, size) == NULL));
    json_decref(j);
    need = utf8_escape(s, size, NULL, 0, 0);
    assert(need >= size && need <= 4 * size);
    out = malloc(need + 1);
    if (!out)
        return 0;
    assert(utf8_escape(s, size, out, need + 1, UTF8_ESCAPE_CONTROLS) >= need);
    assert(utf8_escape(s, size, out, need + 1, 0) == need);
    assert(strlen(out) == need && utf8_valid(out, need));
    assert(!valid || memcmp(out, s, size) == 0);
    small = size ? data[0] % (need + 1) + 1 : 1;
    (void)utf8_escape(s, size, out, small, 0);
    assert(strlen(out) < small && utf8_valid(out, strlen(out)));
    free(out);
    return 0;
}

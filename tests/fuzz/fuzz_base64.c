/*
 * fuzz_base64: base64_decode() on the input; what it accepts encodes back to
 * exactly the input (strict decoding: one spelling per byte string), and
 * decoding never writes past len / 4 * 3 bytes.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *out = malloc(size / 4 * 3 + 1);
    char *again;
    long n;

    if (!out)
        return 0;
    n = base64_decode((const char *)data, size, out);
    if (n >= 0) {
        assert((size_t)n <= size / 4 * 3);
        again = malloc(base64_encoded_len((size_t)n) + 1);
        if (again) {
            base64_encode(out, (size_t)n, again);
            assert(strlen(again) == size && memcmp(again, data, size) == 0);
            free(again);
        }
    }
    free(out);
    return 0;
}

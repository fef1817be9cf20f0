/*
 * base64: RFC 4648 encoding and strict decoding. See base64.h.
 */
#include "core/base64.h"

#include <stdbool.h>
#include <stdint.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
base64_encoded_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

void
base64_encode(const void *in, size_t n, char *out)
{
    const uint8_t *p = in;
    size_t o = 0, i = 0;

    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = alphabet[v >> 6 & 63];
        out[o++] = alphabet[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;

        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;

        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = alphabet[v >> 6 & 63];
        out[o++] = '=';
    }
    out[o] = '\0';
}

static int
value_of(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

long
base64_decode(const char *in, size_t len, void *out)
{
    uint8_t *o = out;
    size_t n = 0;

    if (len % 4 != 0)
        return -1;
    for (size_t i = 0; i < len; i += 4) {
        int a = value_of(in[i]), b = value_of(in[i + 1]), c, d;
        bool last = i + 4 == len;

        if (a < 0 || b < 0)
            return -1;
        c = in[i + 2] == '=' && last && in[i + 3] == '=' ? -2 : value_of(in[i + 2]);
        d = in[i + 3] == '=' && last ? -2 : value_of(in[i + 3]);
        if (c == -1 || d == -1 || (c == -2 && d != -2))
            return -1;
        o[n++] = (uint8_t)(a << 2 | b >> 4);
        if (c == -2) {
            if (b & 15)
                return -1; /* bits that no byte uses must be zero */
            break;
        }
        o[n++] = (uint8_t)((b & 15) << 4 | c >> 2);
        if (d == -2) {
            if (c & 3)
                return -1;
            break;
        }
        o[n++] = (uint8_t)((c & 3) << 6 | d);
    }
    return (long)n;
}

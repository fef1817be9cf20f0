/*
 * utf8: validation and \xHH escaping. See utf8.h.
 */
#include "core/utf8.h"

#include <stdint.h>

/* Length of the valid sequence at s (at most len bytes), or 0 if the first byte starts none. */
static size_t
sequence_len(const unsigned char *s, size_t len)
{
    uint32_t cp;
    size_t n;

    if (s[0] < 0x80)
        return s[0] ? 1 : 0;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        n = 2, cp = s[0] & 0x1f;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        n = 3, cp = s[0] & 0x0f;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        n = 4, cp = s[0] & 0x07;
    else
        return 0; /* a continuation byte, 0xc0/0xc1 (always overlong), or above U+10FFFF */
    if (n > len)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

bool
utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;

    while (len > 0) {
        size_t n = sequence_len(p, len);
        if (n == 0)
            return false;
        p += n;
        len -= n;
    }
    return true;
}

size_t
utf8_escape(const char *s, size_t len, char *out, size_t size, unsigned flags)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t need = 0, o = 0;
    bool full = size == 0;

    while (len > 0) {
        char esc[4];
        const char *piece = (const char *)p;
        size_t n = sequence_len(p, len), plen = n;

        if (n == 0 || (n == 1 && (flags & UTF8_ESCAPE_CONTROLS) && (*p < 0x20 || *p == 0x7f))) {
            esc[0] = '\\';
            esc[1] = 'x';
            esc[2] = hex[*p >> 4];
            esc[3] = hex[*p & 15];
            piece = esc;
            plen = 4;
            n = 1;
        }
        need += plen;
        /* Whole pieces only, with room left for the NUL. */
        if (!full && o + plen < size) {
            for (size_t i = 0; i < plen; i++)
                out[o++] = piece[i];
        } else {
            full = true;
        }
        p += n;
        len -= n;
    }
    if (size > 0)
        out[o] = '\0';
    return need;
}

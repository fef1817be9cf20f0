/*
 * notify_msg: the notification protocol's datagram parser. See notify_msg.h.
 */
#include "core/notify_msg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool
key_is(const char *line, size_t keylen, const char *key)
{
    return keylen == strlen(key) && memcmp(line, key, keylen) == 0;
}

static bool
value_is(const char *v, size_t len, const char *want)
{
    return len == strlen(want) && memcmp(v, want, len) == 0;
}

int
notify_parse(const char *buf, size_t len, struct notify_msg *ret)
{
    struct notify_msg m = { 0 };
    const char *p = buf, *end = buf + len;

    if (len == 0 || memchr(buf, '\0', len))
        return -EINVAL;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        const char *eq = memchr(p, '=', (size_t)(line_end - p));
        const char *v;
        size_t keylen, vlen;

        if (line_end == p) { /* empty line: a trailing newline is common */
            p = line_end + 1;
            continue;
        }
        if (!eq || eq == p)
            return -EINVAL;
        keylen = (size_t)(eq - p);
        v = eq + 1;
        vlen = (size_t)(line_end - v);
        if (key_is(p, keylen, "READY")) {
            if (!value_is(v, vlen, "1"))
                return -EINVAL;
            m.ready = true;
        } else if (key_is(p, keylen, "WATCHDOG")) {
            if (value_is(v, vlen, "1"))
                m.watchdog = true;
            else if (value_is(v, vlen, "trigger"))
                m.watchdog_trigger = true;
            else
                return -EINVAL;
        } else if (key_is(p, keylen, "STOPPING")) {
            if (!value_is(v, vlen, "1"))
                return -EINVAL;
            m.stopping = true;
        } else if (key_is(p, keylen, "STATUS")) {
            m.has_status = true;
            m.status = v;
            m.status_len = vlen < NOTIFY_STATUS_MAX ? vlen : NOTIFY_STATUS_MAX;
            /* A cut inside a UTF-8 character goes back to its start: no half a character. */
            for (int k = 0; k < 3 && m.status_len < vlen && m.status_len > 0 &&
                            ((unsigned char)v[m.status_len] & 0xc0) == 0x80;
                 k++)
                m.status_len--;
        } else if (key_is(p, keylen, "ERRNO")) {
            long n = 0;
            if (vlen == 0 || vlen > 9)
                return -EINVAL;
            for (size_t i = 0; i < vlen; i++) {
                if (v[i] < '0' || v[i] > '9')
                    return -EINVAL;
                n = n * 10 + (v[i] - '0');
            }
            m.has_errno = true;
            m.errno_value = (int)n;
        }
        /* Anything else (MAINPID, RELOADING, FDSTORE, EXTEND_TIMEOUT_USEC...) is accepted and
         * ignored. */
        p = line_end + 1;
    }
    *ret = m;
    return 0;
}

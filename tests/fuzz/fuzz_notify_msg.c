/*
 * fuzz_notify_msg: notify_parse() on the input as one datagram, not
 * NUL-terminated (os/notify passes the received bytes and their count).
 *
 * A refusal is -EINVAL and leaves the out-parameter as it was. An accepted
 * datagram is non-empty with no NUL; each flag is set exactly when its
 * "KEY=VALUE" line is there; STATUS= borrows the value of the last STATUS=
 * line, within the buffer, whole when it fits NOTIFY_STATUS_MAX, otherwise
 * cut at most 3 bytes before it and never inside a UTF-8 character (valid
 * text stays valid); ERRNO= holds at most 9 digits. A trailing newline and a
 * leading unknown key change nothing, accepted or not.
 */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/notify_msg.h"
#include "core/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SENTINEL 0xa5
#define UNKNOWN_LINE "X-FUZZ=1\n"

static void
fill_sentinel(struct notify_msg *m)
{
    memset(m, SENTINEL, sizeof(*m));
}

static bool
untouched(const struct notify_msg *m)
{
    const unsigned char *p = (const unsigned char *)m;

    for (size_t i = 0; i < sizeof(*m); i++)
        if (p[i] != SENTINEL)
            return false;
    return true;
}

/* Is want (NUL-terminated) one whole line of buf[0..len)? */
static bool
has_line(const char *buf, size_t len, const char *want)
{
    const char *p = buf, *end = buf + len;
    size_t n = strlen(want);

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;

        if ((size_t)(line_end - p) == n && memcmp(p, want, n) == 0)
            return true;
        p = line_end + 1;
    }
    return false;
}

static void
check_status(const char *buf, size_t len, const struct notify_msg *m)
{
    const char *end = buf + len, *nl;
    size_t vlen;

    if (!m->has_status) {
        assert(m->status == NULL && m->status_len == 0);
        return;
    }
    assert(m->status >= buf + 7 && m->status <= end);
    assert(m->status_len <= NOTIFY_STATUS_MAX && m->status_len <= (size_t)(end - m->status));
    assert(memcmp(m->status - 7, "STATUS=", 7) == 0);
    assert(m->status - 7 == buf || m->status[-8] == '\n');
    /* The last STATUS= line. */
    assert(!memmem(m->status, (size_t)(end - m->status), "\nSTATUS=", 8));
    nl = memchr(m->status, '\n', (size_t)(end - m->status));
    vlen = (size_t)((nl ? nl : end) - m->status);
    if (vlen <= NOTIFY_STATUS_MAX) {
        assert(m->status_len == vlen);
    } else {
        assert(m->status_len >= NOTIFY_STATUS_MAX - 3);
        assert(m->status_len == NOTIFY_STATUS_MAX - 3 ||
               ((unsigned char)m->status[m->status_len] & 0xc0) != 0x80);
    }
    assert(!utf8_valid(m->status, vlen) || utf8_valid(m->status, m->status_len));
}

static void
check_accepted(const char *buf, size_t len, const struct notify_msg *m)
{
    assert(len > 0 && !memchr(buf, '\0', len));
    assert(m->ready == has_line(buf, len, "READY=1"));
    assert(m->watchdog == has_line(buf, len, "WATCHDOG=1"));
    assert(m->watchdog_trigger == has_line(buf, len, "WATCHDOG=trigger"));
    assert(m->stopping == has_line(buf, len, "STOPPING=1"));
    check_status(buf, len, m);
    if (m->has_errno)
        assert(m->errno_value >= 0 && m->errno_value <= 999999999);
    else
        assert(m->errno_value == 0);
}

/* The same result, a's strings in abuf and b's in bbuf. */
static void
assert_same(const char *abuf, const struct notify_msg *a, const char *bbuf,
            const struct notify_msg *b)
{
    assert(a->ready == b->ready && a->watchdog == b->watchdog &&
           a->watchdog_trigger == b->watchdog_trigger && a->stopping == b->stopping);
    assert(a->has_status == b->has_status && a->status_len == b->status_len);
    assert(!a->has_status || a->status - abuf == b->status - bbuf);
    assert(a->has_errno == b->has_errno && a->errno_value == b->errno_value);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    const size_t pre = sizeof(UNKNOWN_LINE) - 1;
    struct notify_msg m, m2;
    char *more;
    int r, r2;

    fill_sentinel(&m);
    r = notify_parse(buf, size, &m);
    assert(r == 0 || r == -EINVAL);
    if (r < 0)
        assert(untouched(&m));
    else
        check_accepted(buf, size, &m);
    if (size == 0)
        return 0; /* refused, while "\n" alone is an (empty) datagram */

    /* UNKNOWN_LINE, the input, '\n': the input is at more + pre. */
    more = malloc(pre + size + 1);
    if (!more)
        return 0;
    memcpy(more, UNKNOWN_LINE, pre);
    memcpy(more + pre, buf, size);
    more[pre + size] = '\n';

    fill_sentinel(&m2);
    r2 = notify_parse(more + pre, size + 1, &m2);
    assert(r2 == r);
    if (r == 0)
        assert_same(buf, &m, more + pre, &m2);
    else
        assert(untouched(&m2));

    fill_sentinel(&m2);
    r2 = notify_parse(more, pre + size, &m2);
    assert(r2 == r);
    if (r == 0)
        assert_same(buf, &m, more + pre, &m2);
    else
        assert(untouched(&m2));
    free(more);
    return 0;
}

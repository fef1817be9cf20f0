/*
 * test_notify_msg: the pure datagram parser (notify_parse), the parts a worker's
 * text decides: assignments, malformed datagrams, and STATUS= cut at
 * NOTIFY_STATUS_MAX bytes, never inside a UTF-8 character.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/notify_msg.h"
#include "core/utf8.h"

static void
assignments(void **state)
{
    const char text[] = "READY=1\nSTATUS=polling\nWATCHDOG=1\nERRNO=5\nX-UNKNOWN=ok";
    struct notify_msg m;
    (void)state;

    assert_int_equal(notify_parse(text, strlen(text), &m), 0);
    assert_true(m.ready && m.watchdog && m.has_status && m.has_errno);
    assert_int_equal(m.errno_value, 5);
    assert_int_equal(m.status_len, 7);
    assert_memory_equal(m.status, "polling", 7);
    assert_int_equal(notify_parse("", 0, &m), -EINVAL);
    assert_int_equal(notify_parse("READY=1\0x", 9, &m), -EINVAL);
    assert_int_equal(notify_parse("READY", 5, &m), -EINVAL);
}

/* A long STATUS= is cut at the limit, or just before it when that is inside a character. */
static void
long_status_cut_between_characters(void **state)
{
    char text[16 + 2 * NOTIFY_STATUS_MAX];
    struct notify_msg m;
    (void)state;

    for (size_t lead = 0; lead < 4; lead++) {
        size_t len = (size_t)snprintf(text, sizeof(text), "STATUS=");
        memset(text + len, 'a', lead);
        len += lead;
        while (len < sizeof(text) - 4) {
            memcpy(text + len, "\xe2\x82\xac", 3); /* € */
            len += 3;
        }
        assert_int_equal(notify_parse(text, len, &m), 0);
        assert_true(m.status_len <= NOTIFY_STATUS_MAX && m.status_len > NOTIFY_STATUS_MAX - 3);
        assert_true(utf8_valid(m.status, m.status_len));
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(assignments),
        cmocka_unit_test(long_status_cut_between_characters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

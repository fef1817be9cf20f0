/*
 * test_memcap: the memory_max verdict (src/core/memcap.c). Two samples in a
 * row above the limit make a restart, one does not; a sample at or below
 * the limit starts the count again; the limit itself is not above; no
 * limit is never over; after a verdict the count starts from 0; a reset
 * forgets the samples.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/memcap.h"

#define MB (1024ull * 1024)

static void
two_in_a_row(void **state)
{
    struct memcap m;
    (void)state;

    memcap_reset(&m);
    assert_false(memcap_sample(&m, 10 * MB, 64 * MB));
    assert_false(memcap_sample(&m, 70 * MB, 64 * MB)); /* one above: forgiven */
    assert_true(m.over == 1);
    assert_true(memcap_sample(&m, 80 * MB, 64 * MB)); /* the second in a row */
    assert_true(m.bytes == 80 * MB);
    assert_true(m.samples == 3);
    /* The count starts again: the next one alone is no verdict. */
    assert_false(memcap_sample(&m, 90 * MB, 64 * MB));
    assert_true(memcap_sample(&m, 90 * MB, 64 * MB));
}

static void
below_resets(void **state)
{
    struct memcap m;
    (void)state;

    memcap_reset(&m);
    for (int i = 0; i < 10; i++) {
        assert_false(memcap_sample(&m, 65 * MB, 64 * MB));
        assert_false(memcap_sample(&m, 64 * MB, 64 * MB)); /* at the limit is not above */
    }
    assert_true(m.over == 0);
    assert_true(m.samples == 20);
    assert_true(m.bytes == 64 * MB);
}

static void
no_limit_and_reset(void **state)
{
    struct memcap m;
    (void)state;

    memcap_reset(&m);
    for (int i = 0; i < 5; i++)
        assert_false(memcap_sample(&m, UINT64_MAX, 0));
    assert_false(memcap_sample(&m, 2, 1));
    memcap_reset(&m); /* a new process: what the old one was is forgotten */
    assert_true(m.samples == 0 && m.over == 0 && m.bytes == 0);
    assert_false(memcap_sample(&m, 2, 1));
    assert_true(memcap_sample(&m, 2, 1));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(two_in_a_row),
        cmocka_unit_test(below_resets),
        cmocka_unit_test(no_limit_and_reset),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

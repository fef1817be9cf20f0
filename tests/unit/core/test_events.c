/*
 * test_events: sequence numbers, reading from a point, the ring wrapping
 * and the gap a slow reader is told about.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>

#include "core/events.h"

static void
since_and_gap(void **state)
{
    struct events *e = malloc(sizeof(*e));
    const struct event *got[EVENTS_RING];
    bool gap;
    size_t n;
    (void)state;

    assert_non_null(e);
    events_init(e);
    assert_int_equal(events_since(e, 0, got, EVENTS_RING, &gap), 0);
    assert_false(gap);
    for (int i = 0; i < 5; i++)
        events_push(e, 1000 + i, "w", (unsigned)i, 100 + i, SVC_STARTING, SVC_RUNNING, "up");
    n = events_since(e, 3, got, EVENTS_RING, &gap);
    assert_int_equal(n, 3);
    assert_false(gap);
    assert_int_equal(got[0]->seq, 3);
    assert_int_equal(got[0]->instance, 2);
    assert_int_equal(got[2]->seq, 5);
    assert_int_equal(events_since(e, 6, got, EVENTS_RING, &gap), 0); /* nothing new yet */
    assert_int_equal(events_since(e, 1, got, 2, &gap), 2);             /* bounded by max */
    /* Wrap: 2,000 more; the oldest kept is seq 2005 - 1024 + 1. */
    for (int i = 0; i < 2000; i++)
        events_push(e, 0, "w", 0, 1, SVC_RUNNING, SVC_STARTING, "exit");
    n = events_since(e, 3, got, EVENTS_RING, &gap);
    assert_true(gap);
    assert_int_equal(n, EVENTS_RING);
    assert_int_equal(got[0]->seq, 2006 - EVENTS_RING);
    assert_int_equal(got[n - 1]->seq, 2005);
    n = events_since(e, 2000, got, EVENTS_RING, &gap);
    assert_false(gap);
    assert_int_equal(n, 6);
    free(e);
}

int
main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(since_and_gap) };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

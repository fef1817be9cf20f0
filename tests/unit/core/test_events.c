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
    events_done(e);
    free(e);
}

/* A plan step's detail is the ring's: kept until its slot is reused, freed then (ASan sees). */
static void
plan_steps_own_their_detail(void **state)
{
    struct events *e = malloc(sizeof(*e));
    const struct event *got[EVENTS_RING];
    bool gap;
    (void)state;

    assert_non_null(e);
    events_init(e);
    events_push_plan(e, 1, "web", "roll", "\"web\": rolling restart of 2 instances");
    events_push(e, 2, "web", 0, 10, SVC_RUNNING, SVC_STOPPING, "rolling restart");
    assert_int_equal(events_since(e, 1, got, EVENTS_RING, &gap), 2);
    assert_int_equal(got[0]->kind, EVENT_PLAN);
    assert_string_equal(got[0]->cause, "roll");
    assert_string_equal(got[0]->detail, "\"web\": rolling restart of 2 instances");
    assert_int_equal(got[1]->kind, EVENT_STATE);
    assert_null(got[1]->detail);
    /* Plan steps over a whole ring and more: each replaced one's detail is freed. */
    for (int i = 0; i < EVENTS_RING + 10; i++)
        events_push_plan(e, 3, "", "done", "apply done");
    for (int i = 0; i < 5; i++)
        events_push(e, 4, "w", 0, 1, SVC_RUNNING, SVC_STARTING, "exit");
    assert_int_equal(events_since(e, 0, got, EVENTS_RING, &gap), EVENTS_RING);
    assert_string_equal(got[0]->detail, "apply done");
    assert_null(got[EVENTS_RING - 1]->detail);
    events_done(e);
    free(e);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(since_and_gap),
        cmocka_unit_test(plan_steps_own_their_detail),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

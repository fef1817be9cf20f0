/*
 * test_jobevents: sequence numbers, a submit's missing "from", reading from
 * a point, the ring wrapping and the gap a slow reader is told about.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jobevents.h"

static void
since_wrap_and_gap(void **state)
{
    struct jobevents e;
    const struct jobevent **got = calloc(JOBEVENTS_RING, sizeof(*got));
    bool gap;
    (void)state;

    assert_non_null(got);
    assert_int_equal(jobevents_init(&e), 0);
    assert_false(jobevents_has_since(&e, 0));
    assert_int_equal(jobevents_since(&e, 0, got, JOBEVENTS_RING, &gap), 0);
    assert_false(gap);
    jobevents_push(&e, 1000, "job-1", "resize", JOB_INVALID, JOB_WAITING, 1, NULL, "submitted");
    jobevents_push(&e, 1001, "job-1", "resize", JOB_WAITING, JOB_DISPATCHED, 1, "resize:0", NULL);
    assert_true(jobevents_has_since(&e, 2));
    assert_false(jobevents_has_since(&e, 3));
    assert_int_equal(jobevents_since(&e, 0, got, JOBEVENTS_RING, &gap), 2);
    assert_int_equal(got[0]->seq, 1);
    assert_int_equal(got[0]->from, JOB_INVALID);
    assert_string_equal(got[0]->instance, "");
    assert_string_equal(got[1]->instance, "resize:0");
    assert_null(got[1]->cause);
    assert_int_equal(jobevents_since(&e, 2, got, 1, &gap), 1);
    assert_int_equal(got[0]->seq, 2);
    /* Wrap: the oldest kept is next - RING. */
    for (int i = 0; i < JOBEVENTS_RING + 10; i++)
        jobevents_push(&e, 2000 + i, "job-2", "resize", JOB_WAITING, JOB_DISPATCHED, 1, "x:1", "c");
    assert_int_equal(jobevents_since(&e, 1, got, JOBEVENTS_RING, &gap), JOBEVENTS_RING);
    assert_true(gap);
    assert_int_equal(got[0]->seq, e.next_seq - JOBEVENTS_RING);
    assert_int_equal(jobevents_since(&e, e.next_seq - 5, got, JOBEVENTS_RING, &gap), 5);
    assert_false(gap);
    jobevents_done(&e);
    free(got);
}

static void
long_names_are_cut_not_overrun(void **state)
{
    struct jobevents e;
    const struct jobevent *got[1];
    char id[300];
    bool gap;
    (void)state;

    memset(id, 'a', sizeof(id) - 1);
    id[sizeof(id) - 1] = '\0';
    assert_int_equal(jobevents_init(&e), 0);
    jobevents_push(&e, 1, id, id, JOB_RUNNING, JOB_SUCCESS, 3, id, "done");
    assert_int_equal(jobevents_since(&e, 1, got, 1, &gap), 1);
    assert_int_equal(strlen(got[0]->id), JOBQ_ID_MAX);
    assert_int_equal(strlen(got[0]->type), CFG_JOBS_TYPE_MAX);
    assert_int_equal(got[0]->attempt, 3);
    jobevents_done(&e);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(since_wrap_and_gap),
        cmocka_unit_test(long_names_are_cut_not_overrun),
    };

    return cmocka_run_group_tests_name("jobevents", tests, NULL, NULL);
}

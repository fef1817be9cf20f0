/*
 * test_jobq: the in-memory job index (src/core/jobq.c): ids unique and
 * found after the hash grows; the queue order (priority, then first in
 * first out, a front push first of all); the due heap's order and removal
 * from its middle; the finished list's order; counts per type and state
 * through every move; removal from each place; types.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jobq.h"

static const uint8_t test_key[SIPHASH_KEY_BYTES] = { 7, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 };

static struct jobq_job *
new_job(struct jobq *q, const char *id, unsigned type, unsigned prio, enum job_state st)
{
    struct jobq_job *j = calloc(1, sizeof(*j));

    assert_non_null(j);
    (void)snprintf(j->id, sizeof(j->id), "%s", id);
    j->type = type;
    j->priority = prio;
    j->sm.state = st;
    assert_int_equal(jobq_add(q, j), 0);
    return j;
}

static void
free_job(struct jobq_job *j)
{
    free(j);
}

static void
ids_are_unique_and_found(void **state)
{
    struct jobq *q = jobq_new(test_key);
    char id[32];
    (void)state;

    assert_int_equal(jobq_type(q, "osis"), 0);
    for (int i = 0; i < 1000; i++) {
        (void)snprintf(id, sizeof(id), "job-%d", i);
        new_job(q, id, 0, 0, JOB_WAITING);
    }
    assert_int_equal(jobq_size(q), 1000);
    for (int i = 0; i < 1000; i++) {
        (void)snprintf(id, sizeof(id), "job-%d", i);
        assert_non_null(jobq_find(q, id));
        assert_string_equal(jobq_find(q, id)->id, id);
    }
    assert_null(jobq_find(q, "job-1000"));
    struct jobq_job dup = { .id = "job-7" };
    assert_int_equal(jobq_add(q, &dup), -EEXIST);
    struct jobq_job bad = { .id = "x", .type = 5 };
    assert_int_equal(jobq_add(q, &bad), -EINVAL);
    bad.type = 0;
    bad.priority = JOBQ_PRIORITIES;
    assert_int_equal(jobq_add(q, &bad), -EINVAL);
    assert_int_equal(jobq_count(q, 0, JOB_WAITING), 1000);
    jobq_free(q, free_job);
}

static void
queue_order_is_priority_then_fifo(void **state)
{
    struct jobq *q = jobq_new(test_key);
    (void)state;

    assert_int_equal(jobq_type(q, "a"), 0);
    assert_int_equal(jobq_type(q, "b"), 1);
    assert_int_equal(jobq_type(q, "a"), 0);
    assert_string_equal(jobq_type_name(q, 1), "b");
    assert_null(jobq_type_name(q, 2));
    assert_int_equal(jobq_ntypes(q), 2);
    struct jobq_job *low1 = new_job(q, "low1", 0, 0, JOB_WAITING);
    struct jobq_job *high = new_job(q, "high", 0, 9, JOB_WAITING);
    struct jobq_job *low2 = new_job(q, "low2", 0, 0, JOB_WAITING);
    struct jobq_job *other = new_job(q, "other", 1, 5, JOB_WAITING);
    struct jobq_job *again = new_job(q, "again", 0, 0, JOB_WAITING);
    assert_int_equal(jobq_place(q, low1, false, 0), 0);
    assert_int_equal(jobq_place(q, high, false, 0), 0);
    assert_int_equal(jobq_place(q, low2, false, 0), 0);
    assert_int_equal(jobq_place(q, other, false, 0), 0);
    assert_int_equal(jobq_place(q, again, true, 0), 0); /* back from a lost instance: first */
    assert_ptr_equal(jobq_peek(q, 0), high);
    assert_ptr_equal(jobq_pop(q, 0), high);
    assert_ptr_equal(jobq_pop(q, 0), again);
    assert_ptr_equal(jobq_pop(q, 0), low1);
    assert_ptr_equal(jobq_pop(q, 0), low2);
    assert_null(jobq_pop(q, 0));
    assert_null(jobq_pop(q, 7));
    assert_ptr_equal(jobq_pop(q, 1), other);
    /* Popped is out of the queue but still known and counted as waiting until placed. */
    assert_int_equal(jobq_count(q, 0, JOB_WAITING), 4);
    high->sm.state = JOB_DISPATCHED;
    assert_int_equal(jobq_place(q, high, false, 0), 0);
    assert_int_equal(jobq_count(q, 0, JOB_WAITING), 3);
    assert_int_equal(jobq_count(q, 0, JOB_DISPATCHED), 1);
    assert_int_equal(jobq_count(q, 1, JOB_WAITING), 1);
    jobq_free(q, free_job);
}

static void
due_heap_orders_by_time(void **state)
{
    struct jobq *q = jobq_new(test_key);
    struct jobq_job *v[200];
    char id[16];
    (void)state;

    assert_int_equal(jobq_type(q, "t"), 0);
    assert_int_equal(jobq_next_due(q), INT64_MAX);
    for (int i = 0; i < 200; i++) {
        (void)snprintf(id, sizeof(id), "d%d", i);
        v[i] = new_job(q, id, 0, 0, i % 2 ? JOB_DELAYED : JOB_RETRY_WAIT);
        assert_int_equal(jobq_place(q, v[i], false, (i * 7919) % 200), 0); /* a shuffle of 0..199 */
    }
    assert_int_equal(jobq_next_due(q), 0);
    /* Taken out of the middle (cancelled), the others keep their order. */
    for (int i = 0; i < 200; i += 3)
        jobq_remove(q, v[i]);
    int64_t last = -1;
    size_t n = 0;
    assert_null(jobq_pop_due(q, -1));
    for (struct jobq_job *j; (j = jobq_pop_due(q, 1000));) {
        assert_true(j->due_ms >= last);
        last = j->due_ms;
        n++;
    }
    assert_int_equal(n, 200 - 67);
    for (int i = 0; i < 200; i += 3)
        free(v[i]);
    jobq_free(q, free_job);
}

static void
finished_in_the_order_they_finished(void **state)
{
    struct jobq *q = jobq_new(test_key);
    (void)state;

    assert_int_equal(jobq_type(q, "t"), 0);
    struct jobq_job *a = new_job(q, "a", 0, 0, JOB_RUNNING);
    struct jobq_job *b = new_job(q, "b", 0, 0, JOB_RUNNING);
    struct jobq_job *c = new_job(q, "c", 0, 0, JOB_WAITING);
    assert_int_equal(jobq_place(q, a, false, 0), 0);
    assert_int_equal(jobq_place(q, b, false, 0), 0);
    assert_int_equal(jobq_place(q, c, false, 0), 0);
    assert_int_equal(jobq_count(q, 0, JOB_RUNNING), 2);
    b->sm.state = JOB_SUCCESS;
    assert_int_equal(jobq_place(q, b, false, 0), 0);
    a->sm.state = JOB_FAILED;
    assert_int_equal(jobq_place(q, a, false, 0), 0);
    c->sm.state = JOB_CANCELLED; /* straight from the queue */
    assert_int_equal(jobq_place(q, c, false, 0), 0);
    assert_null(jobq_peek(q, 0));
    assert_int_equal(jobq_nfinished(q), 3);
    assert_ptr_equal(jobq_oldest_finished(q), b);
    jobq_remove(q, b);
    free(b);
    assert_ptr_equal(jobq_oldest_finished(q), a);
    assert_int_equal(jobq_nfinished(q), 2);
    assert_int_equal(jobq_count(q, 0, JOB_SUCCESS), 0);
    assert_int_equal(jobq_count(q, 0, JOB_FAILED), 1);
    assert_int_equal(jobq_count(q, 0, JOB_CANCELLED), 1);
    assert_int_equal(jobq_count(q, 0, JOB_RUNNING), 0);
    assert_int_equal(jobq_count(q, 0, JOB_INVALID), 0);
    /* A client's retry takes it back out of the finished list. */
    a->sm.state = JOB_WAITING;
    assert_int_equal(jobq_place(q, a, false, 0), 0);
    assert_int_equal(jobq_nfinished(q), 1);
    assert_ptr_equal(jobq_peek(q, 0), a);
    assert_int_equal(jobq_size(q), 2);
    a->sm.state = JOB_INVALID;
    assert_int_equal(jobq_place(q, a, false, 0), -EINVAL);
    jobq_free(q, free_job);
}

static int
count_each(struct jobq_job *j, void *arg)
{
    (void)j;
    return ++*(int *)arg == 5 ? 99 : 0;
}

static void
each_and_remove_everywhere(void **state)
{
    struct jobq *q = jobq_new(test_key);
    char id[16];
    int n = 0;
    (void)state;

    assert_int_equal(jobq_type(q, "t"), 0);
    for (int i = 0; i < 10; i++) {
        (void)snprintf(id, sizeof(id), "e%d", i);
        struct jobq_job *j = new_job(q, id, 0, (unsigned)i % JOBQ_PRIORITIES,
                                     (enum job_state)(i % JOB__MAX));
        assert_int_equal(jobq_place(q, j, false, i), 0);
    }
    assert_int_equal(jobq_each(q, count_each, &n), 99);
    assert_int_equal(n, 5);
    for (int i = 0; i < 10; i++) {
        (void)snprintf(id, sizeof(id), "e%d", i);
        struct jobq_job *j = jobq_find(q, id);
        jobq_remove(q, j);
        assert_null(jobq_find(q, id));
        free(j);
    }
    assert_int_equal(jobq_size(q), 0);
    assert_int_equal(jobq_nfinished(q), 0);
    assert_int_equal(jobq_next_due(q), INT64_MAX);
    for (int s = 0; s < JOB__MAX; s++)
        assert_int_equal(jobq_count(q, 0, (enum job_state)s), 0);
    jobq_free(q, NULL);
    jobq_free(NULL, NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ids_are_unique_and_found),
        cmocka_unit_test(queue_order_is_priority_then_fifo),
        cmocka_unit_test(due_heap_orders_by_time),
        cmocka_unit_test(finished_in_the_order_they_finished),
        cmocka_unit_test(each_and_remove_everywhere),
    };

    return cmocka_run_group_tests_name("jobq", tests, NULL, NULL);
}

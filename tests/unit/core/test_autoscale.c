/*
 * test_autoscale: queue depth to instances (src/core/autoscale.c): the
 * want formula with min, max and activation from 0; up by doubling and
 * not while added instances are not ready; down only after down_after,
 * to the window's largest want, and never below the busy instances.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/autoscale.h"

static const struct autoscale_policy pol = {
    .min = 1, .max = 8, .per_instance = 4, .interval_ms = 2000, .down_after_ms = 300000,
};

static void
want_formula(void **state)
{
    struct autoscale_policy p = pol;
    (void)state;

    assert_int_equal(autoscale_want(&p, 0, 0), 1);  /* min */
    assert_int_equal(autoscale_want(&p, 1, 0), 1);
    assert_int_equal(autoscale_want(&p, 4, 0), 1);
    assert_int_equal(autoscale_want(&p, 4, 1), 2);  /* ceil(5 / 4) */
    assert_int_equal(autoscale_want(&p, 3, 13), 4);
    assert_int_equal(autoscale_want(&p, 1000, 0), 8); /* max */
    p.min = 0;
    assert_int_equal(autoscale_want(&p, 0, 0), 0);
    assert_int_equal(autoscale_want(&p, 1, 0), 1);  /* activation */
    assert_int_equal(autoscale_want(&p, 0, 1), 1);
    p.per_instance = 0;                              /* treated as 1, never a division by 0 */
    assert_int_equal(autoscale_want(&p, 3, 0), 3);
    p.max = 0;
    assert_int_equal(autoscale_want(&p, 3, 0), 0);
}

static void
up_doubles_and_waits_for_ready(void **state)
{
    struct autoscale a;
    struct autoscale_now now = { .waiting = 100, .current = 1, .counting = 1 };
    int64_t t = 0;
    (void)state;

    assert_int_equal(autoscale_init(&a, &pol), 0);
    assert_int_equal(autoscale_step(&a, &pol, &now, t += 2000), 2);
    now.current = 2;
    now.counting = 2;
    now.adding = true; /* the second one is starting */
    assert_int_equal(autoscale_step(&a, &pol, &now, t += 2000), 2);
    now.adding = false;
    assert_int_equal(autoscale_step(&a, &pol, &now, t += 2000), 4);
    now.current = 4;
    now.counting = 3; /* one is in backoff: it does not count toward the step */
    assert_int_equal(autoscale_step(&a, &pol, &now, t += 2000), 7);
    now.current = 7;
    now.counting = 7;
    assert_int_equal(autoscale_step(&a, &pol, &now, t += 2000), 8); /* max */
    autoscale_done(&a);
}

static void
down_waits_for_the_window_and_spares_busy_ones(void **state)
{
    struct autoscale a;
    struct autoscale_now now = { .waiting = 28, .in_flight = 4, .current = 8, .counting = 8 };
    int64_t t = 0;
    (void)state;

    assert_int_equal(autoscale_init(&a, &pol), 0);
    assert_int_equal(autoscale_step(&a, &pol, &now, t), 8);
    /* The burst is over: 2 running jobs, 6 idle instances. */
    now.waiting = 0;
    now.in_flight = 2;
    now.idle = 6;
    for (t = 2000; t <= 300000; t += 2000)
        assert_int_equal(autoscale_step(&a, &pol, &now, t), 8); /* the window still holds 8 */
    assert_int_equal(autoscale_step(&a, &pol, &now, t), 1 + 1); /* want 1; but 2 are busy */
    now.idle = 3;
    now.current = 8;
    assert_int_equal(autoscale_step(&a, &pol, &now, t += 2000), 5); /* only the 3 idle ones */
    now.idle = 0;
    assert_int_equal(autoscale_step(&a, &pol, &now, t += 2000), 8);
    autoscale_done(&a);
}

static void
no_scale_down_within_down_after_of_the_start(void **state)
{
    struct autoscale a;
    struct autoscale_now now = { .current = 5, .counting = 5, .idle = 5 };
    (void)state;

    assert_int_equal(autoscale_init(&a, &pol), 0);
    for (int64_t t = 0; t < 300000; t += 2000)
        assert_int_equal(autoscale_step(&a, &pol, &now, t), 5);
    assert_int_equal(autoscale_step(&a, &pol, &now, 300000), 1);
    autoscale_done(&a);
}

static void
a_brief_dip_does_not_scale_down(void **state)
{
    struct autoscale a;
    struct autoscale_now now = { .waiting = 16, .current = 4, .counting = 4, .idle = 0 };
    int64_t t = 0;
    (void)state;

    assert_int_equal(autoscale_init(&a, &pol), 0);
    assert_int_equal(autoscale_step(&a, &pol, &now, t), 4);
    now.waiting = 0;
    now.idle = 4;
    assert_int_equal(autoscale_step(&a, &pol, &now, t += 2000), 4);
    now.waiting = 8;
    now.idle = 0;
    assert_int_equal(autoscale_step(&a, &pol, &now, t += 2000), 4); /* want 2 < 4: hold */
    autoscale_done(&a);
}

static void
zero_window_and_tiny_interval(void **state)
{
    struct autoscale_policy p = pol;
    struct autoscale a;
    struct autoscale_now now = { .current = 3, .counting = 3, .idle = 3 };
    (void)state;

    p.down_after_ms = 0;
    assert_int_equal(autoscale_init(&a, &p), 0);
    assert_int_equal(autoscale_step(&a, &p, &now, 1000), 1); /* down at once */
    autoscale_done(&a);
    p.interval_ms = 1;
    p.down_after_ms = INT64_MAX / 2; /* the window's steps are capped, not allocated */
    assert_int_equal(autoscale_init(&a, &p), 0);
    assert_int_equal(autoscale_step(&a, &p, &now, 1000), 3); /* not within down_after of start */
    autoscale_done(&a);
    autoscale_done(&a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(want_formula),
        cmocka_unit_test(up_doubles_and_waits_for_ready),
        cmocka_unit_test(down_waits_for_the_window_and_spares_busy_ones),
        cmocka_unit_test(no_scale_down_within_down_after_of_the_start),
        cmocka_unit_test(a_brief_dip_does_not_scale_down),
        cmocka_unit_test(zero_window_and_tiny_interval),
    };

    return cmocka_run_group_tests_name("autoscale", tests, NULL, NULL);
}

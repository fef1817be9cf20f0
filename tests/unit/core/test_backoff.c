/*
 * test_backoff: restart-delay arithmetic and the yo-yo tally (src/backoff.c).
 * Delays are initial * 2^(n-1) capped at max, 0 for n = 0 or initial 0, and
 * never overflow. The tally trips on the (limit+1)-th restart inside the
 * window, not before, never when restarts are spread wider than the window
 * or when the limit is 0; reset forgets, done frees (ASan checks leaks).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>

#include "core/backoff.h"
#include "core/util.h"

static void
delay_doubles_then_caps(void **state)
{
    const struct backoff_policy pol = { .initial_ms = 100, .max_ms = 30000 };
    static const int64_t want[] = { 0,    100,  200,   400,   800,   1600,
                                    3200, 6400, 12800, 25600, 30000, 30000 };
    (void)state;

    for (unsigned n = 0; n < ARRAY_SIZE(want); n++) {
        if (backoff_delay_ms(&pol, n) != want[n])
            print_error("n=%u: got %lld want %lld\n", n, (long long)backoff_delay_ms(&pol, n),
                        (long long)want[n]);
        assert_int_equal(backoff_delay_ms(&pol, n), want[n]);
    }
}

static void
delay_formula_for_many_policies(void **state)
{
    static const int64_t initials[] = { 1, 3, 7, 100, 250, 1000 };
    static const int64_t maxes[] = { 1, 10, 999, 1000, 30000, 60000 };
    (void)state;

    for (size_t i = 0; i < ARRAY_SIZE(initials); i++) {
        for (size_t k = 0; k < ARRAY_SIZE(maxes); k++) {
            const struct backoff_policy pol = { .initial_ms = initials[i], .max_ms = maxes[k] };

            if (maxes[k] < initials[i])
                continue; /* cfg refuses max < initial */
            for (unsigned n = 1; n < 40; n++) {
                /* initial * 2^(n-1): at most 1000 * 2^38, far from overflow. */
                int64_t want = initials[i] * ((int64_t)1 << (n - 1));
                if (want > maxes[k])
                    want = maxes[k];
                assert_int_equal(backoff_delay_ms(&pol, n), want);
                /* Monotone and bounded. */
                assert_true(backoff_delay_ms(&pol, n) >= backoff_delay_ms(&pol, n - 1));
                assert_true(backoff_delay_ms(&pol, n) <= maxes[k]);
            }
        }
    }
}

static void
delay_zero_cases(void **state)
{
    const struct backoff_policy zero = { .initial_ms = 0, .max_ms = 30000 };
    const struct backoff_policy pol = { .initial_ms = 100, .max_ms = 30000 };
    (void)state;

    for (unsigned n = 0; n < 100; n++)
        assert_int_equal(backoff_delay_ms(&zero, n), 0);
    assert_int_equal(backoff_delay_ms(&zero, UINT_MAX), 0);
    assert_int_equal(backoff_delay_ms(&pol, 0), 0);
}

static void
delay_no_overflow(void **state)
{
    const struct backoff_policy pol = { .initial_ms = 100, .max_ms = 30000 };
    const struct backoff_policy big = { .initial_ms = 1, .max_ms = UTIL_DURATION_MAX_MS };
    const struct backoff_policy odd = { .initial_ms = 3, .max_ms = UTIL_DURATION_MAX_MS - 1 };
    (void)state;

    assert_int_equal(backoff_delay_ms(&pol, 1000), 30000);
    assert_int_equal(backoff_delay_ms(&pol, UINT_MAX), 30000);
    assert_int_equal(backoff_delay_ms(&big, 1000), UTIL_DURATION_MAX_MS);
    assert_int_equal(backoff_delay_ms(&big, UINT_MAX), UTIL_DURATION_MAX_MS);
    assert_int_equal(backoff_delay_ms(&big, 32), (int64_t)1 << 31);
    assert_int_equal(backoff_delay_ms(&odd, 1000), UTIL_DURATION_MAX_MS - 1);
}

static void
yoyo_limit_zero_never_trips(void **state)
{
    const struct backoff_policy pol = { .yoyo_limit = 0, .yoyo_window_ms = 60000 };
    struct backoff b = { 0 };
    (void)state;

    for (int i = 0; i < 1000; i++)
        assert_int_equal(backoff_tally(&b, &pol, 5), 0);
    backoff_done(&b);
}

static void
yoyo_trips_on_limit_plus_one(void **state)
{
    static const unsigned limits[] = { 1, 2, 5, 17, BACKOFF_YOYO_LIMIT_MAX };
    (void)state;

    for (size_t i = 0; i < ARRAY_SIZE(limits); i++) {
        const struct backoff_policy pol = { .yoyo_limit = limits[i], .yoyo_window_ms = 60000 };
        struct backoff b = { 0 };
        int64_t now = 1000000;

        for (unsigned k = 1; k <= limits[i]; k++) {
            assert_int_equal(backoff_tally(&b, &pol, now), 0);
            now += 1;
        }
        /* The (limit+1)-th restart inside the window trips. */
        assert_int_equal(backoff_tally(&b, &pol, now), 1);
        /* And so does every further one while they stay dense. */
        assert_int_equal(backoff_tally(&b, &pol, now + 1), 1);
        backoff_done(&b);
    }
}

/*
 * A reload changes the policy under a running tally (a live key): a larger
 * limit must not index past the ring allocated for the smaller one (ASan
 * sees it), and the count starts again for the new limit.
 */
static void
yoyo_limit_changed_under_a_tally(void **state)
{
    const struct backoff_policy small = { .yoyo_limit = 3, .yoyo_window_ms = 60000 };
    const struct backoff_policy big = { .yoyo_limit = 50, .yoyo_window_ms = 60000 };
    struct backoff b = { 0 };
    int64_t now = 1000;
    (void)state;

    for (int k = 0; k < 3; k++)
        assert_int_equal(backoff_tally(&b, &small, now++), 0);
    for (int k = 0; k < 50; k++)
        assert_int_equal(backoff_tally(&b, &big, now++), 0);
    assert_int_equal(backoff_tally(&b, &big, now++), 1);
    /* And back down: three more within the window trip the small limit. */
    for (int k = 0; k < 3; k++)
        assert_int_equal(backoff_tally(&b, &small, now++), 0);
    assert_int_equal(backoff_tally(&b, &small, now++), 1);
    backoff_done(&b);
}

/* Exactly `limit + 1` restarts spanning the window edge: only strictly inside trips. */
static void
yoyo_window_edge(void **state)
{
    const struct backoff_policy pol = { .yoyo_limit = 2, .yoyo_window_ms = 1000 };
    struct backoff b = { 0 };
    (void)state;

    assert_int_equal(backoff_tally(&b, &pol, 0), 0);
    assert_int_equal(backoff_tally(&b, &pol, 500), 0);
    /* 1000 - 0 == window: not within it. */
    assert_int_equal(backoff_tally(&b, &pol, 1000), 0);
    /* Now the last three are 500, 1000, 1499: within 1000 ms. */
    assert_int_equal(backoff_tally(&b, &pol, 1499), 1);
    backoff_done(&b);
}

static void
yoyo_spread_restarts_never_trip(void **state)
{
    const struct backoff_policy pol = { .yoyo_limit = 5, .yoyo_window_ms = 60000 };
    struct backoff b = { 0 };
    int64_t now = 0;
    (void)state;

    /* Any 6 consecutive restarts span 5 * 12000 = 60000 ms, which is not inside the window. */
    for (int i = 0; i < 500; i++) {
        assert_int_equal(backoff_tally(&b, &pol, now), 0);
        now += 12000;
    }
    /* One ms closer together and it trips once the ring has filled. */
    backoff_done(&b);
    now = 0;
    for (int i = 0; i < 5; i++, now += 11999)
        assert_int_equal(backoff_tally(&b, &pol, now), 0);
    assert_int_equal(backoff_tally(&b, &pol, now), 1);
    backoff_done(&b);
}

/* A burst, a quiet period longer than the window, then another burst of `limit`. */
static void
yoyo_old_restarts_age_out(void **state)
{
    const struct backoff_policy pol = { .yoyo_limit = 3, .yoyo_window_ms = 10000 };
    struct backoff b = { 0 };
    (void)state;

    for (int i = 0; i < 3; i++)
        assert_int_equal(backoff_tally(&b, &pol, 100 + i), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(backoff_tally(&b, &pol, 50000 + i), 0);
    assert_int_equal(backoff_tally(&b, &pol, 50003), 1);
    backoff_done(&b);
}

static void
yoyo_reset_clears(void **state)
{
    const struct backoff_policy pol = { .yoyo_limit = 3, .yoyo_window_ms = 60000 };
    struct backoff b = { 0 };
    (void)state;

    for (int i = 0; i < 3; i++)
        assert_int_equal(backoff_tally(&b, &pol, i), 0);
    assert_int_equal(backoff_tally(&b, &pol, 3), 1);
    backoff_reset(&b);
    /* After a reset the count starts again from nothing. */
    for (int i = 0; i < 3; i++)
        assert_int_equal(backoff_tally(&b, &pol, 10 + i), 0);
    assert_int_equal(backoff_tally(&b, &pol, 13), 1);
    /* Reset before any tally is harmless. */
    backoff_done(&b);
    backoff_reset(&b);
    assert_int_equal(backoff_tally(&b, &pol, 0), 0);
    backoff_done(&b);
}

static void
done_frees_and_zeroes(void **state)
{
    const struct backoff_policy pol = { .yoyo_limit = 4, .yoyo_window_ms = 60000 };
    struct backoff b = { 0 };
    (void)state;

    assert_int_equal(backoff_tally(&b, &pol, 1), 0);
    assert_non_null(b.times);
    backoff_done(&b);
    assert_null(b.times);
    assert_int_equal(b.count, 0);
    assert_int_equal(b.head, 0);
    /* done on an unused tally and twice in a row are fine. */
    backoff_done(&b);
    /* The ring is allocated again on next use. */
    assert_int_equal(backoff_tally(&b, &pol, 1), 0);
    assert_non_null(b.times);
    backoff_done(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(delay_doubles_then_caps),
        cmocka_unit_test(delay_formula_for_many_policies),
        cmocka_unit_test(delay_zero_cases),
        cmocka_unit_test(delay_no_overflow),
        cmocka_unit_test(yoyo_limit_zero_never_trips),
        cmocka_unit_test(yoyo_trips_on_limit_plus_one),
        cmocka_unit_test(yoyo_limit_changed_under_a_tally),
        cmocka_unit_test(yoyo_window_edge),
        cmocka_unit_test(yoyo_spread_restarts_never_trip),
        cmocka_unit_test(yoyo_old_restarts_age_out),
        cmocka_unit_test(yoyo_reset_clears),
        cmocka_unit_test(done_frees_and_zeroes),
    };

    return cmocka_run_group_tests_name("backoff", tests, NULL, NULL);
}

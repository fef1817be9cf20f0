/*
 * test_health: the pool health verdict (sergeant's X and T): each reason,
 * the counts, and the threshold at exactly X.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/health.h"

static const struct health_view running_beating = { SVC_RUNNING, true, 100, false, 0 };

static void
judge_each_reason(void **state)
{
    struct health_view v = running_beating;
    (void)state;

    assert_int_equal(health_judge(&v, 1000), HEALTH_OK);
    v.silent_ms = 1000;
    assert_int_equal(health_judge(&v, 1000), HEALTH_OK); /* exactly T is not beyond T */
    v.silent_ms = 1001;
    assert_int_equal(health_judge(&v, 1000), HEALTH_SILENT);
    v.silent_ms = -1; /* a worker that does not beat is never silent */
    assert_int_equal(health_judge(&v, 0), HEALTH_OK);
    v.check_failing = true;
    assert_int_equal(health_judge(&v, 1000), HEALTH_CHECK_FAILING);
    v = (struct health_view){ SVC_BACKOFF, true, -1, false, 0 };
    assert_int_equal(health_judge(&v, 1000), HEALTH_NOT_RUNNING);
    v.state = SVC_FATAL;
    assert_int_equal(health_judge(&v, 1000), HEALTH_NOT_RUNNING);
    v.want_up = false; /* stopped by an operator: not sick */
    assert_int_equal(health_judge(&v, 1000), HEALTH_OK);
    v = (struct health_view){ SVC_EXITED, true, 99999, false, 0 };
    assert_int_equal(health_judge(&v, 1000), HEALTH_OK); /* restart: never, as configured */
    v = (struct health_view){ SVC_STARTING, true, 5000, false, 0 };
    assert_int_equal(health_judge(&v, 1000), HEALTH_SILENT);
}

static void
pool_threshold_and_counts(void **state)
{
    struct health_view v[] = {
        running_beating,
        { SVC_RUNNING, true, 9000, false, 0 },  /* silent */
        { SVC_RUNNING, true, 10, true, 0 },     /* failing */
        { SVC_BACKOFF, true, -1, false, 0 },    /* not running */
        { SVC_FATAL, true, -1, false, 0 },      /* not running */
        { SVC_STOPPED, false, -1, false, 0 },   /* fine */
    };
    enum health_reason why[6];
    struct health_result r;
    (void)state;

    health_evaluate(v, 6, 4, 1000, &r, why);
    assert_true(r.healthy); /* 4 unhealthy, X = 4 */
    assert_int_equal(r.instances, 6);
    assert_int_equal(r.running, 3);
    assert_int_equal(r.silent, 1);
    assert_int_equal(r.failing, 1);
    assert_int_equal(r.backoff, 1);
    assert_int_equal(r.fatal, 1);
    assert_int_equal(r.unhealthy, 4);
    assert_int_equal(why[0], HEALTH_OK);
    assert_int_equal(why[1], HEALTH_SILENT);
    assert_int_equal(why[2], HEALTH_CHECK_FAILING);
    assert_int_equal(why[3], HEALTH_NOT_RUNNING);
    assert_int_equal(why[5], HEALTH_OK);
    health_evaluate(v, 6, 3, 1000, &r, NULL);
    assert_false(r.healthy); /* one more than X */
    health_evaluate(v, 6, 3, 10000, &r, NULL);
    assert_true(r.healthy); /* a longer T forgives the silent one */
    health_evaluate(v, 0, 0, 0, &r, NULL);
    assert_true(r.healthy);
    assert_int_equal(r.instances, 0);
}

/* A program's own T (silence_limit_ms) beats the call's. */
static void
per_instance_silence_limit(void **state)
{
    struct health_view v = { SVC_RUNNING, true, 5000, false, 10000 };
    (void)state;

    assert_int_equal(health_judge(&v, 1000), HEALTH_OK); /* 5 s is within its own 10 s */
    v.silence_limit_ms = 2000;
    assert_int_equal(health_judge(&v, 60000), HEALTH_SILENT); /* beyond its own 2 s */
}

static void
reason_names(void **state)
{
    (void)state;
    assert_string_equal(health_reason_name(HEALTH_OK), "ok");
    assert_string_equal(health_reason_name(HEALTH_SILENT), "silent");
    assert_string_equal(health_reason_name(HEALTH_CHECK_FAILING), "check failing");
    assert_string_equal(health_reason_name(HEALTH_NOT_RUNNING), "not running");
    assert_string_equal(health_reason_name(HEALTH_INVALID), "invalid");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(judge_each_reason),
        cmocka_unit_test(pool_threshold_and_counts),
        cmocka_unit_test(per_instance_silence_limit),
        cmocka_unit_test(reason_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

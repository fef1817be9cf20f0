/*
 * test_metrics: the spawn histogram's buckets and the exposition text
 * (families, labels, cumulative buckets, only beating instances get an age).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/metrics.h"

static void
histogram_buckets(void **state)
{
    struct metrics_histogram h = { 0 };
    (void)state;

    metrics_observe(&h, 0.00003); /* <= 50 µs */
    metrics_observe(&h, 0.0008);  /* <= 1 ms */
    metrics_observe(&h, 0.001);   /* exactly on a bound: that bucket */
    metrics_observe(&h, 5.0);     /* beyond every bucket: +Inf only */
    assert_int_equal(h.buckets[0], 1);
    assert_int_equal(h.buckets[4], 2);
    assert_int_equal(h.count, 4);
    assert_true(h.sum > 5.0018 && h.sum < 5.0019);
}

static void
render(void **state)
{
    struct metrics_histogram h = { 0 };
    struct api_instance v[] = {
        { .program = "w", .index = 0, .pid = 5, .state = SVC_RUNNING, .silent_ms = 1500, .restarts = 2,
          .exits = { 1, 0, 1, 0 }, .check_failures_total = 4,
          .output_lines_total = 7, .output_dropped_total = 3 },
        { .program = "w", .index = 1, .pid = 0, .state = SVC_FATAL, .silent_ms = -1 },
        { .program = "m", .index = 0, .pid = 6, .state = SVC_RUNNING, .silent_ms = -1,
          .memory_max = 1 << 20, .memory_samples = 1, .memory_bytes = 4096, .memory_restarts = 1 },
        { .program = "m", .index = 1, .pid = 7, .state = SVC_STARTING, .silent_ms = -1,
          .memory_max = 1 << 20 },
    };
    struct metrics_drover d = { .spawn = &h,
                                .notify_accepted = 7,
                                .open_fds = 9,
                                .hooks_started = 5,
                                .hooks_failed = 2,
                                .hooks_timed_out = 1,
                                .hooks_dropped = 3,
                                .hooks_running = 4,
                                .hooks_queued = 6 };
    char *text;
    (void)state;

    metrics_observe(&h, 0.0002);
    metrics_observe(&h, 0.02);
    text = metrics_render(v, 4, &d);
    assert_non_null(text);
    assert_non_null(strstr(text, "# TYPE drover_instance_up gauge\n"));
    assert_non_null(strstr(text, "drover_instance_up{program=\"w\",instance=\"0\"} 1\n"));
    assert_non_null(strstr(text, "drover_instance_up{program=\"w\",instance=\"1\"} 0\n"));
    assert_non_null(strstr(text, "drover_instance_state{program=\"w\",instance=\"1\",state=\"fatal\"} 1\n"));
    assert_non_null(strstr(text, "drover_instance_state{program=\"w\",instance=\"1\",state=\"running\"} 0\n"));
    assert_non_null(strstr(text, "drover_instance_restarts_total{program=\"w\",instance=\"0\"} 2\n"));
    assert_non_null(strstr(text, "drover_instance_exits_total{program=\"w\",instance=\"0\",reason=\"signal\"} 1\n"));
    assert_non_null(strstr(text, "drover_instance_last_beat_age_seconds{program=\"w\",instance=\"0\"} 1.500\n"));
    assert_null(strstr(text, "drover_instance_last_beat_age_seconds{program=\"w\",instance=\"1\"}"));
    assert_non_null(strstr(text, "drover_instance_health_check_failures_total{program=\"w\",instance=\"0\"} 4\n"));
    /* Memory: sampled instances of programs with memory_max only. */
    assert_non_null(strstr(text, "# TYPE drover_instance_memory_bytes gauge\n"
                                 "drover_instance_memory_bytes{program=\"m\",instance=\"0\"} 4096\n#"));
    assert_non_null(strstr(text, "# TYPE drover_instance_memory_restarts_total counter\n"
                                 "drover_instance_memory_restarts_total{program=\"m\",instance=\"0\"} 1\n"
                                 "drover_instance_memory_restarts_total{program=\"m\",instance=\"1\"} 0\n#"));
    assert_non_null(strstr(text, "drover_instance_output_lines_total{program=\"w\",instance=\"0\"} 7\n"));
    assert_non_null(strstr(text, "drover_instance_output_dropped_total{program=\"w\",instance=\"0\"} 3\n"));
    /* Cumulative buckets: 0 up to 100 µs, 1 from 250 µs, 2 from 25 ms. */
    assert_non_null(strstr(text, "drover_spawn_duration_seconds_bucket{le=\"0.0001\"} 0\n"));
    assert_non_null(strstr(text, "drover_spawn_duration_seconds_bucket{le=\"0.00025\"} 1\n"));
    assert_non_null(strstr(text, "drover_spawn_duration_seconds_bucket{le=\"0.01\"} 1\n"));
    assert_non_null(strstr(text, "drover_spawn_duration_seconds_bucket{le=\"0.025\"} 2\n"));
    assert_non_null(strstr(text, "drover_spawn_duration_seconds_bucket{le=\"+Inf\"} 2\n"));
    assert_non_null(strstr(text, "drover_spawn_duration_seconds_count 2\n"));
    assert_non_null(strstr(text, "drover_notify_datagrams_total{result=\"accepted\"} 7\n"));
    assert_non_null(strstr(text, "process_open_fds 9\n"));
    assert_non_null(strstr(text, "# TYPE drover_hooks_started_total counter\ndrover_hooks_started_total 5\n"));
    assert_non_null(strstr(text, "drover_hooks_failed_total 2\n"));
    assert_non_null(strstr(text, "drover_hooks_timed_out_total 1\n"));
    assert_non_null(strstr(text, "drover_hooks_dropped_total 3\n"));
    assert_non_null(strstr(text, "# TYPE drover_hooks_running gauge\ndrover_hooks_running 4\n"));
    assert_non_null(strstr(text, "drover_hooks_queued 6\n"));
    free(text);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(histogram_buckets),
        cmocka_unit_test(render),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

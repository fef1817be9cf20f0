/*
 * metrics: the Prometheus text exposition of /metrics, and the spawn-time
 * histogram. Pure: renders a snapshot (struct api_instance plus the
 * drover-wide numbers below) into a malloc'ed text. Names follow the
 * Prometheus conventions (_total counters, _seconds, base units).
 */
#ifndef DROVER_METRICS_H
#define DROVER_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "core/api.h"

#define METRICS_SPAWN_BUCKETS 10

/* Spawn durations: fixed buckets, from 50 µs to 100 ms, plus +Inf. */
struct metrics_histogram {
    uint64_t buckets[METRICS_SPAWN_BUCKETS]; /* cumulative counts are computed when rendering */
    uint64_t count;
    double sum;
};

void metrics_observe(struct metrics_histogram *h, double seconds);

struct metrics_drover {
    const struct metrics_histogram *spawn;
    uint64_t notify_accepted, notify_foreign, notify_malformed;
    /* Hooks (docs/lifecycle.md#hooks): started; failed (timed out ones too); timed out; dropped. */
    uint64_t hooks_started, hooks_failed, hooks_timed_out, hooks_dropped;
    unsigned hooks_running, hooks_queued;
    double cpu_seconds; /* process_cpu_seconds_total */
    double rss_bytes;   /* process_resident_memory_bytes */
    double start_time;  /* process_start_time_seconds (Unix) */
    unsigned open_fds;  /* process_open_fds */
};

/* Returns the exposition text (malloc'ed) or NULL when out of memory. */
char *metrics_render(const struct api_instance *v, size_t n, const struct metrics_drover *d);

#endif

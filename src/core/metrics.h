/*
 * metrics: the Prometheus text exposition of /metrics, and the spawn-time
 * histogram. Pure: renders a snapshot (struct api_instance plus the
 * drover-wide numbers below) into a malloc'ed text. Names follow the
 * Prometheus conventions (_total counters, _seconds, base units).
 */
#ifndef DROVER_METRICS_H
#define DROVER_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/api.h"
#include "core/job.h"

#define METRICS_SPAWN_BUCKETS 10

/* Spawn durations: fixed buckets, from 50 µs to 100 ms, plus +Inf. */
struct metrics_histogram {
    uint64_t buckets[METRICS_SPAWN_BUCKETS]; /* cumulative counts are computed when rendering */
    uint64_t count;
    double sum;
};

void metrics_observe(struct metrics_histogram *h, double seconds);

/* A job's wait (submit to dispatch) and run (dispatch to result): 1 ms to 1 h, plus +Inf. */
#define METRICS_JOB_BUCKETS 12
struct metrics_job_histogram {
    uint64_t buckets[METRICS_JOB_BUCKETS];
    uint64_t count;
    double sum;
};
void metrics_job_observe(struct metrics_job_histogram *h, double seconds);

/* One job type's figures (JOBS.md §6.11). */
struct metrics_job_type {
    const char *type;
    size_t state[JOB__MAX]; /* jobs in each state now */
    double oldest_waiting_s;
    uint64_t submitted;
    uint64_t finished[4]; /* success, failed, cancelled, poison */
    uint64_t retries[3];  /* error, timeout, worker_lost */
    uint64_t stale_results;
    const struct metrics_job_histogram *wait, *run;
};

/* One autoscaled program's figures. */
struct metrics_autoscale {
    const char *program;
    unsigned desired;
    uint64_t ups, downs;
};

/* The redis store (jobs.store "redis"): `given` false otherwise. */
struct metrics_redis {
    bool given;
    bool up;                /* the server answers (drover_redis_up) */
    bool joined;            /* this node takes jobs (drover_redis_node_joined) */
    double rtt_s;           /* the last PING's round trip; < 0 none yet */
    size_t waiting_updates; /* job transitions not answered yet */
    uint64_t bad_jobs, requeued, reconnects;
};

struct metrics_drover {
    const struct metrics_job_type *job_types; /* NULL: no program takes jobs */
    size_t njob_types;
    const struct metrics_autoscale *autoscale; /* the programs with jobs.autoscale */
    size_t nautoscale;
    struct metrics_redis redis;
    uint64_t job_frames_malformed, job_hellos_refused;
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

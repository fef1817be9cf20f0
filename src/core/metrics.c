/*
 * metrics: Prometheus text format. See metrics.h.
 */
#include "core/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static const double bucket_le[METRICS_SPAWN_BUCKETS] = {
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1,
};

static const double job_le[METRICS_JOB_BUCKETS] = {
    0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300, 3600,
};

void
metrics_job_observe(struct metrics_job_histogram *h, double seconds)
{
    for (int i = 0; i < METRICS_JOB_BUCKETS; i++)
        if (seconds <= job_le[i]) {
            h->buckets[i]++;
            break;
        }
    h->count++;
    h->sum += seconds;
}

void
metrics_observe(struct metrics_histogram *h, double seconds)
{
    for (int i = 0; i < METRICS_SPAWN_BUCKETS; i++) {
        if (seconds <= bucket_le[i]) {
            h->buckets[i]++;
            break;
        }
    }
    h->count++;
    h->sum += seconds;
}

/* A growable text buffer; a failed allocation makes the whole render fail. */
struct text {
    char *p;
    size_t len, cap;
    int failed;
};

static void add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
add(struct text *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (t->failed)
        return;
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap * 2 + (size_t)n;
        char *p = realloc(t->p, cap);
        if (!p) {
            t->failed = 1;
            return;
        }
        t->p = p;
        t->cap = cap;
    }
}

static void
family(struct text *t, const char *name, const char *type, const char *help)
{
    add(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

#define LABELS "program=\"%s\",instance=\"%u\""

static void
job_histogram(struct text *t, const char *name, const char *type,
              const struct metrics_job_histogram *h)
{
    uint64_t cumulative = 0;

    for (int b = 0; b < METRICS_JOB_BUCKETS; b++) {
        cumulative += h->buckets[b];
        add(t, "%s_bucket{type=\"%s\",le=\"%g\"} %llu\n", name, type, job_le[b],
            (unsigned long long)cumulative);
    }
    add(t, "%s_bucket{type=\"%s\",le=\"+Inf\"} %llu\n", name, type, (unsigned long long)h->count);
    add(t, "%s_sum{type=\"%s\"} %.6f\n", name, type, h->sum);
    add(t, "%s_count{type=\"%s\"} %llu\n", name, type, (unsigned long long)h->count);
}

/* JOBS.md §6.11: per type, and per instance of the programs that take jobs. */
static void
render_jobs(struct text *t, const struct api_instance *v, size_t n, const struct metrics_drover *d)
{
    static const char *const results[] = { "success", "failed", "cancelled", "poison" };
    static const char *const reasons[] = { "error", "timeout", "worker_lost" };
    const struct metrics_job_type *jt = d->job_types;
    size_t nt = d->njob_types;

    family(t, "drover_jobs_submitted_total", "counter", "Jobs accepted, by type.");
    for (size_t i = 0; i < nt; i++)
        add(t, "drover_jobs_submitted_total{type=\"%s\"} %llu\n", jt[i].type,
            (unsigned long long)jt[i].submitted);
    family(t, "drover_jobs_finished_total", "counter", "Jobs that reached an end, by how.");
    for (size_t i = 0; i < nt; i++)
        for (int r = 0; r < 4; r++)
            add(t, "drover_jobs_finished_total{type=\"%s\",result=\"%s\"} %llu\n", jt[i].type,
                results[r], (unsigned long long)jt[i].finished[r]);
    family(t, "drover_jobs_retries_total", "counter",
           "Attempts that failed and were retried, by why.");
    for (size_t i = 0; i < nt; i++)
        for (int r = 0; r < 3; r++)
            add(t, "drover_jobs_retries_total{type=\"%s\",reason=\"%s\"} %llu\n", jt[i].type,
                reasons[r], (unsigned long long)jt[i].retries[r]);
    family(t, "drover_jobs", "gauge", "Jobs kept now, by type and state (the queue depth).");
    for (size_t i = 0; i < nt; i++)
        for (int s = 0; s < JOB__MAX; s++)
            add(t, "drover_jobs{type=\"%s\",state=\"%s\"} %zu\n", jt[i].type,
                job_state_name((enum job_state)s), jt[i].state[s]);
    family(t, "drover_jobs_oldest_waiting_seconds", "gauge",
           "Age of the oldest waiting job, by type (0: none waits).");
    for (size_t i = 0; i < nt; i++)
        add(t, "drover_jobs_oldest_waiting_seconds{type=\"%s\"} %.3f\n", jt[i].type,
            jt[i].oldest_waiting_s);
    family(t, "drover_jobs_stale_results_total", "counter",
           "Worker frames for an attempt that was superseded, dropped.");
    for (size_t i = 0; i < nt; i++)
        add(t, "drover_jobs_stale_results_total{type=\"%s\"} %llu\n", jt[i].type,
            (unsigned long long)jt[i].stale_results);
    family(t, "drover_job_wait_seconds", "histogram", "From submit (or due) to dispatch.");
    for (size_t i = 0; i < nt; i++)
        job_histogram(t, "drover_job_wait_seconds", jt[i].type, jt[i].wait);
    family(t, "drover_job_run_seconds", "histogram", "From dispatch to the attempt's end.");
    for (size_t i = 0; i < nt; i++)
        job_histogram(t, "drover_job_run_seconds", jt[i].type, jt[i].run);
    family(t, "drover_job_frames_malformed_total", "counter",
           "Job channel connections closed for a frame that could not be parsed.");
    add(t, "drover_job_frames_malformed_total %llu\n", (unsigned long long)d->job_frames_malformed);
    family(t, "drover_job_hellos_refused_total", "counter",
           "Job channel HELLOs refused: a wrong token, instance or sender.");
    add(t, "drover_job_hellos_refused_total %llu\n", (unsigned long long)d->job_hellos_refused);
    family(t, "drover_autoscale_desired_instances", "gauge",
           "Instances the program's queue asks for (its last autoscale step).");
    for (size_t i = 0; i < d->nautoscale; i++)
        add(t, "drover_autoscale_desired_instances{program=\"%s\"} %u\n", d->autoscale[i].program,
            d->autoscale[i].desired);
    family(t, "drover_autoscale_changes_total", "counter",
           "Scale changes autoscaling made, by direction.");
    for (size_t i = 0; i < d->nautoscale; i++) {
        add(t, "drover_autoscale_changes_total{program=\"%s\",direction=\"up\"} %llu\n",
            d->autoscale[i].program, (unsigned long long)d->autoscale[i].ups);
        add(t, "drover_autoscale_changes_total{program=\"%s\",direction=\"down\"} %llu\n",
            d->autoscale[i].program, (unsigned long long)d->autoscale[i].downs);
    }
    if (d->redis.given) {
        const struct metrics_redis *r = &d->redis;

        family(t, "drover_redis_up", "gauge", "1 while the Redis store's server answers.");
        add(t, "drover_redis_up %d\n", r->up ? 1 : 0);
        family(t, "drover_redis_node_joined", "gauge",
               "1 while this node is in the cluster (its node key is its own): it takes jobs.");
        add(t, "drover_redis_node_joined %d\n", r->joined ? 1 : 0);
        family(t, "drover_redis_rtt_seconds", "gauge",
               "The last PING's round trip to the Redis server (NaN: none yet).");
        if (r->rtt_s >= 0)
            add(t, "drover_redis_rtt_seconds %.6f\n", r->rtt_s);
        else
            add(t, "drover_redis_rtt_seconds NaN\n");
        family(t, "drover_redis_waiting_updates", "gauge",
               "Job transitions the Redis server has not answered yet (kept through an outage).");
        add(t, "drover_redis_waiting_updates %zu\n", r->waiting_updates);
        family(t, "drover_redis_bad_jobs_total", "counter",
               "Ids taken whose hash was unusable: failed or dropped with a reason.");
        add(t, "drover_redis_bad_jobs_total %llu\n", (unsigned long long)r->bad_jobs);
        family(t, "drover_redis_requeued_total", "counter",
               "Jobs of dead nodes this node sent back to their queues.");
        add(t, "drover_redis_requeued_total %llu\n", (unsigned long long)r->requeued);
        family(t, "drover_redis_reconnects_total", "counter",
               "Times the connection to the Redis server was lost after the node had joined.");
        add(t, "drover_redis_reconnects_total %llu\n", (unsigned long long)r->reconnects);
    }
    family(t, "drover_instance_jobs_held", "gauge", "Jobs the instance holds now.");
    for (size_t i = 0; i < n; i++)
        if (v[i].takes_jobs)
            add(t, "drover_instance_jobs_held{" LABELS "} %zu\n", v[i].program, v[i].index,
                v[i].njobs_held);
    family(t, "drover_pings_total", "counter",
           "Ping jobs sent to the idle instance, by whether PONG came within ping.timeout.");
    for (size_t i = 0; i < n; i++)
        if (v[i].takes_jobs) {
            add(t, "drover_pings_total{" LABELS ",result=\"pass\"} %llu\n", v[i].program,
                v[i].index, (unsigned long long)v[i].pings_passed);
            add(t, "drover_pings_total{" LABELS ",result=\"fail\"} %llu\n", v[i].program,
                v[i].index, (unsigned long long)v[i].pings_failed);
        }
    family(t, "drover_instance_idle_seconds", "gauge",
           "Seconds the instance has asked for work and held none (0: busy or not asking).");
    for (size_t i = 0; i < n; i++)
        if (v[i].takes_jobs)
            add(t, "drover_instance_idle_seconds{" LABELS "} %.3f\n", v[i].program, v[i].index,
                v[i].idle_ms > 0 ? (double)v[i].idle_ms / 1000 : 0.0);
}

char *
metrics_render(const struct api_instance *v, size_t n, const struct metrics_drover *d)
{
    static const char *const reasons[] = { "exit_zero", "exit_nonzero", "signal", "unknown" };
    struct text t = { .cap = 4096 + n * 1024 };
    uint64_t cumulative = 0;

    t.p = malloc(t.cap);
    if (!t.p)
        return NULL;
    t.p[0] = '\0';

    family(&t, "drover_instance_up", "gauge", "1 when the instance has a running process, else 0.");
    for (size_t i = 0; i < n; i++)
        add(&t, "drover_instance_up{" LABELS "} %d\n", v[i].program, v[i].index, v[i].pid ? 1 : 0);

    family(&t, "drover_instance_state", "gauge", "The instance's state: 1 for the current one.");
    for (size_t i = 0; i < n; i++)
        for (int s = 0; s < SVC__MAX; s++)
            add(&t, "drover_instance_state{" LABELS ",state=\"%s\"} %d\n", v[i].program, v[i].index,
                svc_state_name((enum svc_state)s), v[i].state == (enum svc_state)s);

    family(&t, "drover_instance_ready", "gauge", "1 when the instance is ready.");
    for (size_t i = 0; i < n; i++)
        add(&t, "drover_instance_ready{" LABELS "} %d\n", v[i].program, v[i].index, v[i].ready);

    family(&t, "drover_instance_restarts_total", "counter",
           "Restarts of the instance since drover started.");
    for (size_t i = 0; i < n; i++)
        add(&t, "drover_instance_restarts_total{" LABELS "} %u\n", v[i].program, v[i].index,
            v[i].restarts);

    family(&t, "drover_instance_exits_total", "counter",
           "Exits of the instance's main process, by how it ended.");
    for (size_t i = 0; i < n; i++)
        for (int r = 0; r < 4; r++)
            add(&t, "drover_instance_exits_total{" LABELS ",reason=\"%s\"} %llu\n", v[i].program,
                v[i].index, reasons[r], (unsigned long long)v[i].exits[r]);

    family(&t, "drover_instance_last_beat_age_seconds", "gauge",
           "Seconds since the instance's last heartbeat (instances that beat only).");
    for (size_t i = 0; i < n; i++)
        if (v[i].silent_ms >= 0)
            add(&t, "drover_instance_last_beat_age_seconds{" LABELS "} %.3f\n", v[i].program,
                v[i].index, (double)v[i].silent_ms / 1000);

    family(&t, "drover_instance_health_check_failures_total", "counter",
           "Failed health checks of the instance.");
    for (size_t i = 0; i < n; i++)
        add(&t, "drover_instance_health_check_failures_total{" LABELS "} %llu\n", v[i].program,
            v[i].index, (unsigned long long)v[i].check_failures_total);

    family(&t, "drover_instance_heartbeat_future_total", "counter",
           "Heartbeat slot times later than now (not CLOCK_MONOTONIC), each counted as a beat "
           "when first seen.");
    for (size_t i = 0; i < n; i++)
        add(&t, "drover_instance_heartbeat_future_total{" LABELS "} %llu\n", v[i].program,
            v[i].index, (unsigned long long)v[i].heartbeat_future_total);

    family(&t, "drover_instance_memory_bytes", "gauge",
           "Memory of the instance's process group at the last sample, PSS (else RSS) summed "
           "(instances of programs with memory_max only).");
    for (size_t i = 0; i < n; i++)
        if (v[i].memory_max && v[i].memory_samples)
            add(&t, "drover_instance_memory_bytes{" LABELS "} %llu\n", v[i].program, v[i].index,
                (unsigned long long)v[i].memory_bytes);

    family(&t, "drover_instance_memory_restarts_total", "counter",
           "Restarts of the instance for memory_max (instances of programs with memory_max only).");
    for (size_t i = 0; i < n; i++)
        if (v[i].memory_max)
            add(&t, "drover_instance_memory_restarts_total{" LABELS "} %llu\n", v[i].program,
                v[i].index, (unsigned long long)v[i].memory_restarts);
    family(&t, "drover_instance_output_lines_total", "counter",
           "Lines of captured output read from the instance (stdout and stderr).");
    for (size_t i = 0; i < n; i++)
        add(&t, "drover_instance_output_lines_total{" LABELS "} %llu\n", v[i].program, v[i].index,
            (unsigned long long)v[i].output_lines_total);

    family(&t, "drover_instance_output_dropped_total", "counter",
           "Captured lines that could not be written (a full disk, a stderr nobody reads).");
    for (size_t i = 0; i < n; i++)
        add(&t, "drover_instance_output_dropped_total{" LABELS "} %llu\n", v[i].program, v[i].index,
            (unsigned long long)v[i].output_dropped_total);

    family(&t, "drover_spawn_duration_seconds", "histogram",
           "Time to create a process, from clone to a successful exec.");
    for (int b = 0; b < METRICS_SPAWN_BUCKETS; b++) {
        cumulative += d->spawn->buckets[b];
        add(&t, "drover_spawn_duration_seconds_bucket{le=\"%g\"} %llu\n", bucket_le[b],
            (unsigned long long)cumulative);
    }
    add(&t, "drover_spawn_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
        (unsigned long long)d->spawn->count);
    add(&t, "drover_spawn_duration_seconds_sum %.9f\n", d->spawn->sum);
    add(&t, "drover_spawn_duration_seconds_count %llu\n", (unsigned long long)d->spawn->count);

    family(&t, "drover_notify_datagrams_total", "counter",
           "Notify datagrams received, by what became of them.");
    add(&t, "drover_notify_datagrams_total{result=\"accepted\"} %llu\n",
        (unsigned long long)d->notify_accepted);
    add(&t, "drover_notify_datagrams_total{result=\"foreign\"} %llu\n",
        (unsigned long long)d->notify_foreign);
    add(&t, "drover_notify_datagrams_total{result=\"malformed\"} %llu\n",
        (unsigned long long)d->notify_malformed);

    family(&t, "drover_hooks_started_total", "counter", "Hook processes started.");
    add(&t, "drover_hooks_started_total %llu\n", (unsigned long long)d->hooks_started);
    family(&t, "drover_hooks_failed_total", "counter",
           "Hooks that did not exit 0: a non-zero code, a signal, a timeout, a failed start.");
    add(&t, "drover_hooks_failed_total %llu\n", (unsigned long long)d->hooks_failed);
    family(&t, "drover_hooks_timed_out_total", "counter",
           "Hooks killed at their hook_timeout (counted as failed too).");
    add(&t, "drover_hooks_timed_out_total %llu\n", (unsigned long long)d->hooks_timed_out);
    family(&t, "drover_hooks_dropped_total", "counter",
           "Hooks never run: the queue was full, or drover was exiting.");
    add(&t, "drover_hooks_dropped_total %llu\n", (unsigned long long)d->hooks_dropped);
    family(&t, "drover_hooks_running", "gauge", "Hook processes running now.");
    add(&t, "drover_hooks_running %u\n", d->hooks_running);
    family(&t, "drover_hooks_queued", "gauge", "Hooks waiting for a free slot.");
    add(&t, "drover_hooks_queued %u\n", d->hooks_queued);

    if (d->job_types)
        render_jobs(&t, v, n, d);

    family(&t, "process_cpu_seconds_total", "counter",
           "drover's user and system CPU time in seconds.");
    add(&t, "process_cpu_seconds_total %.3f\n", d->cpu_seconds);
    family(&t, "process_resident_memory_bytes", "gauge", "drover's resident memory in bytes.");
    add(&t, "process_resident_memory_bytes %.0f\n", d->rss_bytes);
    family(&t, "process_open_fds", "gauge", "drover's open file descriptors.");
    add(&t, "process_open_fds %u\n", d->open_fds);
    family(&t, "process_start_time_seconds", "gauge",
           "drover's start time since the Unix epoch in seconds.");
    add(&t, "process_start_time_seconds %.3f\n", d->start_time);

    if (t.failed) {
        free(t.p);
        return NULL;
    }
    return t.p;
}

/*
 * autoscale: how many instances a program with jobs should have, from its
 * queue depth (JOBS.md §6.9), decided every `interval`.
 *
 *   want = clamp(ceil(backlog / per_instance), min, max)
 *
 * where backlog counts the program's jobs waiting (due now), dispatched and
 * running; with min 0, any waiting job makes want at least 1 (activation).
 * Up at once, but by at most max(1, current) a step (doubling), counting
 * neither instances in backoff nor fatal ones, and not while an instance
 * added earlier has not become ready. Down only to the largest want seen
 * over the last down_after (the stabilization window of Kubernetes' HPA),
 * so never within down_after of the first step, and only by stopping idle
 * instances: a busy one is never stopped.
 *
 * Pure: the caller passes the counts and the time, and stops which idle
 * instances it likes (the longest idle first).
 */
#ifndef DROVER_AUTOSCALE_H
#define DROVER_AUTOSCALE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct autoscale_policy {
    unsigned min, max;     /* 0 <= min <= max */
    unsigned per_instance; /* >= 1: jobs one instance is meant to carry */
    int64_t interval_ms;   /* > 0 */
    int64_t down_after_ms; /* >= 0 */
};

struct autoscale_now {
    size_t waiting;    /* due now */
    size_t in_flight;  /* dispatched + running */
    unsigned current;  /* instances the program has (wanted up) */
    unsigned counting; /* of those, neither in backoff nor fatal */
    unsigned idle;     /* of those, running, ready and holding no job */
    bool adding;       /* an instance added by an earlier step is not ready yet */
};

/* The wants of the last down_after, one per step. */
struct autoscale {
    int64_t *times;
    unsigned *wants;
    size_t cap, head, n;
    int64_t since_ms; /* the first step's time; -1 before it */
};

/* Sizes the window for pol; -ENOMEM. */
int autoscale_init(struct autoscale *a, const struct autoscale_policy *pol);
void autoscale_done(struct autoscale *a);

/* What the program's queue alone asks for. */
unsigned autoscale_want(const struct autoscale_policy *pol, size_t waiting, size_t in_flight);

/* One step at now_ms: the number of instances the program should have now. */
unsigned autoscale_step(struct autoscale *a, const struct autoscale_policy *pol,
                        const struct autoscale_now *now, int64_t now_ms);

#endif

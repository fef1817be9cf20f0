/*
 * autoscale: queue depth to a desired instance count. See autoscale.h.
 */
#include "core/autoscale.h"

#include <errno.h>
#include <stdlib.h>

int
autoscale_init(struct autoscale *a, const struct autoscale_policy *pol)
{
    /* One sample a step over the window, one more for the edge; at least one. */
    int64_t steps = pol->interval_ms > 0 ? pol->down_after_ms / pol->interval_ms + 2 : 2;

    *a = (struct autoscale){ .since_ms = -1 };
    if (steps > 100000)
        steps = 100000; /* a window of more steps than this keeps only the latest */
    a->cap = (size_t)steps;
    a->times = calloc(a->cap, sizeof(*a->times));
    a->wants = calloc(a->cap, sizeof(*a->wants));
    if (!a->times || !a->wants) {
        autoscale_done(a);
        return -ENOMEM;
    }
    return 0;
}

void
autoscale_done(struct autoscale *a)
{
    free(a->times);
    free(a->wants);
    *a = (struct autoscale){ 0 };
}

unsigned
autoscale_want(const struct autoscale_policy *pol, size_t waiting, size_t in_flight)
{
    size_t backlog = waiting + in_flight, per = pol->per_instance ? pol->per_instance : 1;
    size_t want = backlog / per + (backlog % per != 0);

    if (want < pol->min)
        want = pol->min;
    if (waiting > 0 && want == 0)
        want = 1; /* min 0: a waiting job wakes the program */
    if (want > pol->max)
        want = pol->max;
    return (unsigned)want;
}

/* Records want at now_ms and returns the largest want within the last down_after. */
static unsigned
window_max(struct autoscale *a, const struct autoscale_policy *pol, unsigned want, int64_t now_ms)
{
    unsigned best = want;

    if (a->cap) {
        size_t at = (a->head + a->n) % a->cap;

        if (a->n == a->cap) {
            a->head = (a->head + 1) % a->cap; /* the oldest falls out */
            a->n--;
        }
        a->times[at] = now_ms;
        a->wants[at] = want;
        a->n++;
        while (a->n && now_ms - a->times[a->head] > pol->down_after_ms) {
            a->head = (a->head + 1) % a->cap;
            a->n--;
        }
        for (size_t i = 0; i < a->n; i++) {
            size_t k = (a->head + i) % a->cap;

            if (a->wants[k] > best)
                best = a->wants[k];
        }
    }
    return best;
}

unsigned
autoscale_step(struct autoscale *a, const struct autoscale_policy *pol,
               const struct autoscale_now *now, int64_t now_ms)
{
    unsigned want = autoscale_want(pol, now->waiting, now->in_flight);
    unsigned floor = window_max(a, pol, want, now_ms);
    unsigned cur = now->current;

    if (a->since_ms < 0)
        a->since_ms = now_ms;
    if (now_ms - a->since_ms < pol->down_after_ms && floor < cur)
        floor = cur; /* what ran before the first step counts as wanted, for a window */

    if (want > cur) {
        unsigned step = now->counting > 1 ? now->counting : 1;

        if (now->adding)
            return cur; /* the last step's instances are not ready: wait for them */
        return want - cur > step ? cur + step : want;
    }
    if (floor < cur) {
        unsigned stop = cur - floor;

        if (stop > now->idle)
            stop = now->idle; /* never a busy one */
        return cur - stop;
    }
    return cur;
}

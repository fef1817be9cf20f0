/*
 * backoff: exponential delay and yo-yo window arithmetic. See backoff.h.
 */
#include "core/backoff.h"

#include <errno.h>
#include <stdlib.h>

int64_t
backoff_delay_ms(const struct backoff_policy *pol, unsigned n)
{
    int64_t delay = pol->initial_ms;

    if (n == 0 || delay <= 0)
        return 0;
    for (unsigned i = 1; i < n && delay < pol->max_ms; i++)
        delay *= 2;
    return delay < pol->max_ms ? delay : pol->max_ms;
}

int
backoff_tally(struct backoff *b, const struct backoff_policy *pol, int64_t now_ms)
{
    unsigned size = pol->yoyo_limit + 1;
    unsigned oldest;

    if (pol->yoyo_limit == 0)
        return 0;
    if (b->times && b->size != size) {
        /* The limit changed under it (a reload): the restarts so far were counted for
           another limit; the count starts again rather than index past the old ring. */
        free(b->times);
        b->times = NULL;
    }
    if (!b->times) {
        b->times = calloc(size, sizeof(*b->times));
        if (!b->times)
            return -ENOMEM;
        b->size = size;
        b->head = b->count = 0;
    }
    b->times[b->head] = now_ms;
    b->head = (b->head + 1) % size;
    if (b->count < size)
        b->count++;
    if (b->count < size)
        return 0;
    /* The ring is full: head now points at the oldest of the last limit+1 restarts. */
    oldest = b->head;
    return now_ms - b->times[oldest] < pol->yoyo_window_ms ? 1 : 0;
}

void
backoff_reset(struct backoff *b)
{
    b->head = b->count = 0;
}

void
backoff_done(struct backoff *b)
{
    free(b->times);
    *b = (struct backoff){ 0 };
}

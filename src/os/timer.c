/*
 * timer: min-heap of deadlines behind one timerfd. See timer.h.
 */
#include "os/timer.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "core/util.h"

int
timers_init(struct timers *ts, size_t cap)
{
    *ts = (struct timers){ .fd = -1, .armed_ms = -1, .cap = cap ? cap : 1 };
    ts->heap = calloc(ts->cap, sizeof(*ts->heap));
    if (!ts->heap)
        return -ENOMEM;
    ts->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (ts->fd < 0) {
        int r = -errno;
        free(ts->heap);
        ts->heap = NULL;
        return r;
    }
    return 0;
}

int
timers_reserve(struct timers *ts, size_t cap)
{
    struct timer **heap;

    if (cap <= ts->cap)
        return 0;
    heap = realloc(ts->heap, cap * sizeof(*heap)); /* the timers themselves do not move */
    if (!heap)
        return -ENOMEM;
    ts->heap = heap;
    ts->cap = cap;
    return 0;
}

void
timers_done(struct timers *ts)
{
    if (ts->fd >= 0)
        (void)close(ts->fd);
    free(ts->heap);
    *ts = (struct timers){ .fd = -1, .armed_ms = -1 };
}

void
timer_init(struct timer *t, timer_fn fn)
{
    *t = (struct timer){ .slot = TIMER_IDLE, .fn = fn };
}

static void
place(struct timers *ts, size_t i, struct timer *t)
{
    ts->heap[i] = t;
    t->slot = i;
}

static void
sift_up(struct timers *ts, size_t i)
{
    struct timer *t = ts->heap[i];

    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (ts->heap[parent]->deadline_ms <= t->deadline_ms)
            break;
        place(ts, i, ts->heap[parent]);
        i = parent;
    }
    place(ts, i, t);
}

static void
sift_down(struct timers *ts, size_t i)
{
    struct timer *t = ts->heap[i];

    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= ts->len)
            break;
        if (child + 1 < ts->len && ts->heap[child + 1]->deadline_ms < ts->heap[child]->deadline_ms)
            child++;
        if (t->deadline_ms <= ts->heap[child]->deadline_ms)
            break;
        place(ts, i, ts->heap[child]);
        i = child;
    }
    place(ts, i, t);
}

void
timer_cancel(struct timers *ts, struct timer *t)
{
    size_t i = t->slot;
    struct timer *last;

    if (i == TIMER_IDLE)
        return;
    t->slot = TIMER_IDLE;
    last = ts->heap[--ts->len];
    if (i == ts->len)
        return;
    place(ts, i, last);
    sift_down(ts, i);
    sift_up(ts, last->slot);
}

int
timer_arm(struct timers *ts, struct timer *t, int64_t deadline_ms)
{
    timer_cancel(ts, t);
    if (ts->len >= ts->cap)
        return -ENOSPC;
    t->deadline_ms = deadline_ms;
    place(ts, ts->len++, t);
    sift_up(ts, t->slot);
    return 0;
}

bool
timers_run(struct timers *ts, int64_t now_ms)
{
    uint64_t expirations;
    int64_t start_ns = util_now_ns();

    /* Drain the timerfd; EAGAIN just means we were woken by something else. */
    (void)!read(ts->fd, &expirations, sizeof(expirations));
    ts->armed_ms = -1;
    for (unsigned n = 0; ts->len > 0 && ts->heap[0]->deadline_ms <= now_ms; n++) {
        struct timer *t = ts->heap[0];

        /* The rest at the next pass (timers_sync() arms a past deadline), after the sockets. */
        if (n == TIMERS_BATCH || (n > 0 && util_now_ns() - start_ns > TIMERS_PASS_MS * 1000000))
            return true;
        timer_cancel(ts, t);
        t->fn(t, now_ms);
    }
    return false;
}

int
timers_sync(struct timers *ts)
{
    struct itimerspec its = { 0 };
    int64_t want = ts->len ? ts->heap[0]->deadline_ms : -1;

    if (want == ts->armed_ms)
        return 0;
    if (want >= 0) {
        /* 0 would disarm: a deadline already past fires at the next millisecond tick. */
        int64_t at = want > 0 ? want : 1;
        its.it_value.tv_sec = at / 1000;
        its.it_value.tv_nsec = (at % 1000) * 1000000;
    }
    if (timerfd_settime(ts->fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
        return -errno;
    ts->armed_ms = want;
    return 0;
}

/*
 * timer: CLOCK_MONOTONIC deadlines in a binary min-heap, one timerfd armed
 * to the earliest. Nothing due means nothing armed: no periodic wake-ups.
 *
 * struct timer is embedded in its owner (borrowed by the heap while armed).
 * timers_run() pops and calls due timers, a bounded batch per call; a
 * callback may arm or cancel any timer, including its own. timers_sync() re-arms the timerfd only
 * when the earliest deadline changed; the loop calls it before sleeping.
 */
#ifndef DROVER_TIMER_H
#define DROVER_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct timer;
typedef void (*timer_fn)(struct timer *t, int64_t now_ms);

struct timer {
    int64_t deadline_ms;
    size_t slot; /* index in the heap, or TIMER_IDLE */
    timer_fn fn;
};

#define TIMER_IDLE ((size_t)-1)

struct timers {
    struct timer **heap;
    size_t len, cap;
    int fd;           /* timerfd, -1 before timers_init */
    int64_t armed_ms; /* deadline the timerfd is set to, or -1 */
};

/* cap: the most timers ever armed at once (timers_reserve() grows it). Returns 0 or -errno. */
int timers_init(struct timers *ts, size_t cap);
/* Grows the heap to cap (a reload adds programs). Returns 0, or -ENOMEM with ts unchanged. */
int timers_reserve(struct timers *ts, size_t cap);
void timers_done(struct timers *ts);

void timer_init(struct timer *t, timer_fn fn);
/* (Re)arms t to fire at deadline_ms. Returns 0, or -ENOSPC if the heap is full. */
int timer_arm(struct timers *ts, struct timer *t, int64_t deadline_ms);
void timer_cancel(struct timers *ts, struct timer *t);
static inline int
timer_armed(const struct timer *t)
{
    return t->slot != TIMER_IDLE;
}

/*
 * Reads the timerfd (if readable) and runs the timers due at now_ms, at
 * most TIMERS_BATCH of them and for about TIMERS_PASS_MS, earliest first
 * (at least one): a pass of the loop stays
 * short whatever is due (1,000 instances leaving backoff in the same
 * millisecond, a callback re-arming itself with no delay), and the rest
 * run at the next pass (timers_sync() then arms the timerfd to a deadline
 * already past, so the loop does not sleep). Returns true if due timers
 * are left.
 */
#define TIMERS_BATCH 64
#define TIMERS_PASS_MS                                                                             \
    10 /* and for at most this long: a burst of restarts (each a spawn that                        \
          waits for its exec) leaves room for HTTP between passes */
bool timers_run(struct timers *ts, int64_t now_ms);
/* Points the timerfd at the earliest deadline. Returns 0 or -errno. */
int timers_sync(struct timers *ts);

#endif

/*
 * test_timer: the deadline min-heap behind one timerfd (src/timer.c).
 * Many random deadlines (fixed seed) fire in non-decreasing order through
 * timers_run(); cancel of the head, a middle, the last and an idle timer;
 * re-arm moves a timer; callbacks that arm, re-arm or cancel timers; at
 * most TIMERS_BATCH callbacks per timers_run() call;
 * -ENOSPC when full; and timers_sync() pointing the real timerfd at the
 * earliest deadline (checked with timerfd_gettime and poll).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "core/util.h"
#include "os/timer.h"

struct rec {
    int id;
    struct timer t;
};

/* What fired, in order; reset by each test. */
static struct {
    int ids[4096];
    int64_t deadlines[4096];
    int64_t nows[4096];
    size_t n;
} fired;

/* Set by tests whose callbacks touch other timers. */
static struct timers *cb_ts;
static struct rec *cb_other;
static int64_t cb_delay;

static void
record(struct timer *t, int64_t now_ms)
{
    struct rec *r = container_of(t, struct rec, t);

    assert_true(fired.n < ARRAY_SIZE(fired.ids));
    /* The heap lets go of a timer before calling it. */
    assert_false(timer_armed(t));
    fired.ids[fired.n] = r->id;
    fired.deadlines[fired.n] = t->deadline_ms;
    fired.nows[fired.n] = now_ms;
    fired.n++;
}

static void
reset_fired(void)
{
    memset(&fired, 0, sizeof(fired));
    cb_ts = NULL;
    cb_other = NULL;
    cb_delay = 0;
}

static void
check_heap(const struct timers *ts)
{
    for (size_t i = 0; i < ts->len; i++) {
        assert_non_null(ts->heap[i]);
        assert_int_equal(ts->heap[i]->slot, i);
        if (i > 0)
            assert_true(ts->heap[(i - 1) / 2]->deadline_ms <= ts->heap[i]->deadline_ms);
    }
}

static uint32_t
rnd(uint32_t *seed)
{
    uint32_t x = *seed;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *seed = x;
    return x;
}

static void
init_and_done(void **state)
{
    struct timers ts;
    struct timer t;
    (void)state;

    assert_int_equal(timers_init(&ts, 0), 0);
    assert_true(ts.fd >= 0);
    assert_int_equal(ts.cap, 1);
    assert_int_equal(ts.len, 0);
    assert_int_equal(ts.armed_ms, -1);
    timer_init(&t, record);
    assert_false(timer_armed(&t));
    assert_int_equal(t.slot, TIMER_IDLE);
    assert_ptr_equal(t.fn, record);
    /* Syncing an empty heap is a no-op that succeeds. */
    assert_int_equal(timers_sync(&ts), 0);
    assert_int_equal(ts.armed_ms, -1);
    timers_done(&ts);
    assert_int_equal(ts.fd, -1);
    assert_null(ts.heap);
}

static void
random_deadlines_fire_in_order(void **state)
{
    enum { N = 2000 };
    static struct rec recs[N];
    struct timers ts;
    uint32_t seed = 20240607u;
    int64_t cut = 5000;
    size_t early = 0;
    (void)state;

    reset_fired();
    assert_int_equal(timers_init(&ts, N), 0);
    for (int i = 0; i < N; i++) {
        recs[i].id = i;
        timer_init(&recs[i].t, record);
        /* Narrow range: many equal deadlines. */
        assert_int_equal(timer_arm(&ts, &recs[i].t, (int64_t)(rnd(&seed) % 10000)), 0);
        if (recs[i].t.deadline_ms <= cut)
            early++;
    }
    assert_int_equal(ts.len, N);
    check_heap(&ts);

    /* First only what is due at `cut`, then the rest; each call runs one batch at most. */
    while (timers_run(&ts, cut))
        assert_int_equal(fired.n % TIMERS_BATCH, 0);
    assert_int_equal(fired.n, early);
    assert_int_equal(ts.len, N - early);
    check_heap(&ts);
    for (size_t i = 0; i < fired.n; i++) {
        assert_true(fired.deadlines[i] <= cut);
        assert_int_equal(fired.nows[i], cut);
        if (i > 0)
            assert_true(fired.deadlines[i - 1] <= fired.deadlines[i]);
    }
    while (timers_run(&ts, 1000000))
        ;
    assert_int_equal(fired.n, N);
    assert_int_equal(ts.len, 0);
    for (size_t i = 1; i < fired.n; i++)
        assert_true(fired.deadlines[i - 1] <= fired.deadlines[i]);
    /* Each timer fired exactly once, and none is armed any more. */
    {
        static bool seen[N];

        memset(seen, 0, sizeof(seen));
        for (size_t i = 0; i < fired.n; i++) {
            assert_false(seen[fired.ids[i]]);
            seen[fired.ids[i]] = true;
            assert_int_equal(fired.deadlines[i], recs[fired.ids[i]].t.deadline_ms);
        }
        for (int i = 0; i < N; i++)
            assert_false(timer_armed(&recs[i].t));
    }
    timers_done(&ts);
}

static void
nothing_due_runs_nothing(void **state)
{
    struct timers ts;
    struct rec a = { .id = 1 };
    (void)state;

    reset_fired();
    assert_int_equal(timers_init(&ts, 4), 0);
    timer_init(&a.t, record);
    assert_int_equal(timer_arm(&ts, &a.t, 100), 0);
    timers_run(&ts, 99);
    assert_int_equal(fired.n, 0);
    assert_true(timer_armed(&a.t));
    /* A deadline equal to now is due. */
    timers_run(&ts, 100);
    assert_int_equal(fired.n, 1);
    assert_int_equal(fired.ids[0], 1);
    timers_done(&ts);
}

/* A reload adds programs: the heap grows with armed timers in it, which keep their order. */
static void
reserve_grows_with_timers_armed(void **state)
{
    struct timers ts;
    struct rec r[6];
    (void)state;

    reset_fired();
    assert_int_equal(timers_init(&ts, 2), 0);
    for (int i = 0; i < 6; i++) {
        r[i].id = i;
        timer_init(&r[i].t, record);
    }
    assert_int_equal(timer_arm(&ts, &r[0].t, 50), 0);
    assert_int_equal(timer_arm(&ts, &r[1].t, 10), 0);
    assert_int_equal(timer_arm(&ts, &r[2].t, 30), -ENOSPC);
    assert_int_equal(timers_reserve(&ts, 1), 0); /* smaller: nothing to do */
    assert_int_equal(timers_reserve(&ts, 6), 0);
    for (int i = 2; i < 6; i++)
        assert_int_equal(timer_arm(&ts, &r[i].t, 60 - 10 * i), 0);
    timers_run(&ts, 100);
    assert_int_equal(fired.n, 6);
    for (size_t i = 1; i < 6; i++)
        assert_true(r[fired.ids[i - 1]].t.deadline_ms <= r[fired.ids[i]].t.deadline_ms);
    timers_done(&ts);
}

/* Arms ids 0..n-1 at deadlines[i]; returns ts with recs armed. */
static void
arm_all(struct timers *ts, struct rec *recs, const int64_t *deadlines, int n)
{
    for (int i = 0; i < n; i++) {
        recs[i].id = i;
        timer_init(&recs[i].t, record);
        assert_int_equal(timer_arm(ts, &recs[i].t, deadlines[i]), 0);
    }
    check_heap(ts);
}

static void
expect_order(const int *ids, size_t n)
{
    assert_int_equal(fired.n, n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(fired.ids[i], ids[i]);
}

static void
cancel_head_middle_last_idle(void **state)
{
    static const int64_t dl[] = { 50, 10, 40, 20, 30, 60, 70 };
    struct rec recs[7], idle = { .id = 99 };
    struct timers ts;
    struct timer *last;
    (void)state;

    reset_fired();
    assert_int_equal(timers_init(&ts, 8), 0);
    arm_all(&ts, recs, dl, 7);

    /* Head: the earliest (id 1, 10 ms). */
    assert_ptr_equal(ts.heap[0], &recs[1].t);
    timer_cancel(&ts, &recs[1].t);
    assert_false(timer_armed(&recs[1].t));
    assert_int_equal(ts.len, 6);
    check_heap(&ts);

    /* Last slot of the heap array. */
    last = ts.heap[ts.len - 1];
    timer_cancel(&ts, last);
    assert_false(timer_armed(last));
    assert_int_equal(ts.len, 5);
    check_heap(&ts);

    /* A middle one: id 4 (30 ms), unless it was the last. */
    if (last != &recs[4].t) {
        timer_cancel(&ts, &recs[4].t);
        assert_int_equal(ts.len, 4);
        check_heap(&ts);
    }

    /* Idle: never armed, and cancelling twice. */
    timer_init(&idle.t, record);
    timer_cancel(&ts, &idle.t);
    timer_cancel(&ts, &recs[1].t);
    assert_int_equal(ts.len, last != &recs[4].t ? 4 : 5);
    check_heap(&ts);

    timers_run(&ts, 1000);
    for (size_t i = 0; i < fired.n; i++) {
        assert_true(fired.ids[i] != 1 && fired.ids[i] != 4 && fired.ids[i] != 99);
        assert_true(&recs[fired.ids[i]].t != last);
        if (i > 0)
            assert_true(fired.deadlines[i - 1] <= fired.deadlines[i]);
    }
    assert_int_equal(fired.n, last != &recs[4].t ? 4 : 5);
    timers_done(&ts);
}

/* Cancelling the array's last element when it is not the latest deadline. */
static void
cancel_exact_positions(void **state)
{
    static const int64_t dl[] = { 10, 20, 30 };
    struct rec recs[3];
    struct timers ts;
    (void)state;

    /* Heap of three sorted inserts: [10, 20, 30]; id 2 is the array's last. */
    reset_fired();
    assert_int_equal(timers_init(&ts, 4), 0);
    arm_all(&ts, recs, dl, 3);
    assert_ptr_equal(ts.heap[2], &recs[2].t);
    timer_cancel(&ts, &recs[2].t);
    timers_run(&ts, 100);
    expect_order((const int[]){ 0, 1 }, 2);
    timers_done(&ts);

    /* Middle: cancel id 1 (slot 1), the last (id 2) moves into its place. */
    reset_fired();
    assert_int_equal(timers_init(&ts, 4), 0);
    arm_all(&ts, recs, dl, 3);
    timer_cancel(&ts, &recs[1].t);
    assert_ptr_equal(ts.heap[1], &recs[2].t);
    timers_run(&ts, 100);
    expect_order((const int[]){ 0, 2 }, 2);
    timers_done(&ts);

    /* Head. */
    reset_fired();
    assert_int_equal(timers_init(&ts, 4), 0);
    arm_all(&ts, recs, dl, 3);
    timer_cancel(&ts, &recs[0].t);
    assert_ptr_equal(ts.heap[0], &recs[1].t);
    timers_run(&ts, 100);
    expect_order((const int[]){ 1, 2 }, 2);
    timers_done(&ts);
}

/*
 * Cancel where the element moved into the hole must go *up*: it sits in a
 * different subtree with a smaller deadline than the hole's parent.
 */
static void
cancel_sifts_up(void **state)
{
    /* Heap array after sorted inserts: [1, 10, 2, 11, 12, 3, 4]. */
    static const int64_t dl[] = { 1, 10, 2, 11, 12, 3, 4 };
    struct rec recs[7];
    struct timers ts;
    (void)state;

    reset_fired();
    assert_int_equal(timers_init(&ts, 8), 0);
    arm_all(&ts, recs, dl, 7);
    assert_ptr_equal(ts.heap[3], &recs[3].t);
    /* Remove 11 (slot 3); the last element, 4, moves there and must rise above 10. */
    timer_cancel(&ts, &recs[3].t);
    check_heap(&ts);
    timers_run(&ts, 100);
    expect_order((const int[]){ 0, 2, 5, 6, 1, 4 }, 6);
    timers_done(&ts);
}

static void
random_cancels(void **state)
{
    enum { N = 1000 };
    static struct rec recs[N];
    static bool cancelled[N];
    struct timers ts;
    uint32_t seed = 777u;
    size_t live = N;
    (void)state;

    reset_fired();
    memset(cancelled, 0, sizeof(cancelled));
    assert_int_equal(timers_init(&ts, N), 0);
    for (int i = 0; i < N; i++) {
        recs[i].id = i;
        timer_init(&recs[i].t, record);
        assert_int_equal(timer_arm(&ts, &recs[i].t, (int64_t)(rnd(&seed) % 100000)), 0);
    }
    for (int k = 0; k < N / 2; k++) {
        int i = (int)(rnd(&seed) % N);
        if (!cancelled[i]) {
            cancelled[i] = true;
            live--;
        }
        timer_cancel(&ts, &recs[i].t);
        assert_int_equal(ts.len, live);
        check_heap(&ts);
    }
    while (timers_run(&ts, 100000))
        ;
    assert_int_equal(fired.n, live);
    for (size_t i = 0; i < fired.n; i++) {
        assert_false(cancelled[fired.ids[i]]);
        if (i > 0)
            assert_true(fired.deadlines[i - 1] <= fired.deadlines[i]);
    }
    timers_done(&ts);
}

static void
rearm_moves(void **state)
{
    struct rec a = { .id = 1 }, b = { .id = 2 };
    struct timers ts;
    (void)state;

    reset_fired();
    assert_int_equal(timers_init(&ts, 2), 0);
    timer_init(&a.t, record);
    timer_init(&b.t, record);
    assert_int_equal(timer_arm(&ts, &a.t, 10), 0);
    assert_int_equal(timer_arm(&ts, &b.t, 20), 0);
    /* Later: a now fires after b. Re-arming keeps one entry (len 2, the heap is full). */
    assert_int_equal(timer_arm(&ts, &a.t, 30), 0);
    assert_int_equal(ts.len, 2);
    check_heap(&ts);
    timers_run(&ts, 25);
    expect_order((const int[]){ 2 }, 1);
    assert_true(timer_armed(&a.t));
    assert_int_equal(a.t.deadline_ms, 30);
    timers_run(&ts, 35);
    expect_order((const int[]){ 2, 1 }, 2);

    /* Earlier: b re-armed before a. */
    reset_fired();
    assert_int_equal(timer_arm(&ts, &a.t, 100), 0);
    assert_int_equal(timer_arm(&ts, &b.t, 200), 0);
    assert_int_equal(timer_arm(&ts, &b.t, 50), 0);
    assert_ptr_equal(ts.heap[0], &b.t);
    timers_run(&ts, 1000);
    expect_order((const int[]){ 2, 1 }, 2);
    timers_done(&ts);
}

/* Callback that arms cb_other at now + cb_delay. */
static void
arm_other(struct timer *t, int64_t now_ms)
{
    record(t, now_ms);
    assert_int_equal(timer_arm(cb_ts, &cb_other->t, now_ms + cb_delay), 0);
}

/* Callback that re-arms itself once, cb_delay later. */
static void
arm_self(struct timer *t, int64_t now_ms)
{
    record(t, now_ms);
    if (fired.n == 1)
        assert_int_equal(timer_arm(cb_ts, t, now_ms + cb_delay), 0);
}

/* Callback that cancels cb_other. */
static void
cancel_other(struct timer *t, int64_t now_ms)
{
    record(t, now_ms);
    timer_cancel(cb_ts, &cb_other->t);
}

static void
callback_arms_another(void **state)
{
    struct rec a = { .id = 1 }, b = { .id = 2 };
    struct timers ts;
    (void)state;

    /* Armed due now: it fires in the same run. */
    reset_fired();
    assert_int_equal(timers_init(&ts, 2), 0);
    cb_ts = &ts;
    cb_other = &b;
    cb_delay = 0;
    timer_init(&a.t, arm_other);
    timer_init(&b.t, record);
    assert_int_equal(timer_arm(&ts, &a.t, 10), 0);
    timers_run(&ts, 10);
    expect_order((const int[]){ 1, 2 }, 2);
    assert_int_equal(ts.len, 0);

    /* Armed in the future: it waits. */
    reset_fired();
    cb_ts = &ts;
    cb_other = &b;
    cb_delay = 5;
    assert_int_equal(timer_arm(&ts, &a.t, 10), 0);
    timers_run(&ts, 12);
    expect_order((const int[]){ 1 }, 1);
    assert_true(timer_armed(&b.t));
    assert_int_equal(b.t.deadline_ms, 17);
    timers_run(&ts, 17);
    expect_order((const int[]){ 1, 2 }, 2);
    timers_done(&ts);
}

static void
callback_rearms_itself(void **state)
{
    struct rec a = { .id = 1 }, b = { .id = 2 };
    struct timers ts;
    (void)state;

    reset_fired();
    assert_int_equal(timers_init(&ts, 1), 0);
    cb_ts = &ts;
    cb_delay = 100;
    timer_init(&a.t, arm_self);
    assert_int_equal(timer_arm(&ts, &a.t, 10), 0);
    /* The heap is full (cap 1) while a runs, but a was removed before its call: room to re-arm. */
    timers_run(&ts, 50);
    expect_order((const int[]){ 1 }, 1);
    assert_true(timer_armed(&a.t));
    /* Re-armed relative to the run's now (50), not to its old deadline. */
    assert_int_equal(a.t.deadline_ms, 150);
    timers_run(&ts, 149);
    assert_int_equal(fired.n, 1);
    timers_run(&ts, 150);
    expect_order((const int[]){ 1, 1 }, 2);
    assert_false(timer_armed(&a.t));
    timers_done(&ts);

    /* A callback cancelling a timer that was also due: it does not fire. */
    reset_fired();
    assert_int_equal(timers_init(&ts, 2), 0);
    cb_ts = &ts;
    cb_other = &b;
    timer_init(&a.t, cancel_other);
    timer_init(&b.t, record);
    assert_int_equal(timer_arm(&ts, &a.t, 10), 0);
    assert_int_equal(timer_arm(&ts, &b.t, 11), 0);
    timers_run(&ts, 20);
    expect_order((const int[]){ 1 }, 1);
    assert_false(timer_armed(&b.t));
    assert_int_equal(ts.len, 0);
    timers_done(&ts);
}

/* Callback that re-arms itself with no delay, every time. */
static void
arm_self_now(struct timer *t, int64_t now_ms)
{
    record(t, now_ms);
    assert_int_equal(timer_arm(cb_ts, t, now_ms), 0);
}

/*
 * FINDINGS B4: a loop pass must reach epoll whatever is due. 200 timers due
 * at once run TIMERS_BATCH per call, earliest first; a callback that re-arms
 * itself with no delay (which used to keep timers_run() going until the
 * clock moved on) runs once per call.
 */
static void
run_is_bounded_per_call(void **state)
{
    enum { N = 200 };
    static struct rec recs[N];
    struct timers ts;
    struct rec self = { .id = -1 };
    size_t calls = 0;
    (void)state;

    reset_fired();
    assert_int_equal(timers_init(&ts, N + 1), 0);
    for (int i = 0; i < N; i++) {
        recs[i].id = i;
        timer_init(&recs[i].t, record);
        assert_int_equal(timer_arm(&ts, &recs[i].t, 10 + i), 0);
    }
    assert_true(timers_run(&ts, 1000));
    assert_int_equal(fired.n, TIMERS_BATCH);
    for (size_t i = 0; i < fired.n; i++)
        assert_int_equal(fired.ids[i], (int)i); /* the earliest first */
    assert_int_equal(ts.len, N - TIMERS_BATCH);
    check_heap(&ts);
    /* What is left is still due: the timerfd is armed to a past deadline, readable at once. */
    assert_int_equal(timers_sync(&ts), 0);
    assert_int_equal(ts.armed_ms, 10 + TIMERS_BATCH);
    {
        struct pollfd p = { .fd = ts.fd, .events = POLLIN };
        assert_int_equal(poll(&p, 1, 5000), 1);
    }
    for (calls = 1; timers_run(&ts, 1000); calls++)
        ;
    assert_int_equal(calls, 3); /* the 136 left: 64, 64, 8 */
    assert_int_equal(fired.n, N);
    assert_int_equal(ts.len, 0);

    /* A timer re-arming itself at now: one batch, then the call returns. */
    reset_fired();
    cb_ts = &ts;
    timer_init(&self.t, arm_self_now);
    assert_int_equal(timer_arm(&ts, &self.t, 5), 0);
    assert_true(timers_run(&ts, 5));
    assert_int_equal(fired.n, TIMERS_BATCH);
    assert_true(timer_armed(&self.t));
    timer_cancel(&ts, &self.t);
    timers_done(&ts);
}

static void
full_heap_is_enospc(void **state)
{
    struct rec recs[4];
    struct timers ts;
    (void)state;

    reset_fired();
    assert_int_equal(timers_init(&ts, 3), 0);
    for (int i = 0; i < 4; i++) {
        recs[i].id = i;
        timer_init(&recs[i].t, record);
    }
    assert_int_equal(timer_arm(&ts, &recs[0].t, 30), 0);
    assert_int_equal(timer_arm(&ts, &recs[1].t, 20), 0);
    assert_int_equal(timer_arm(&ts, &recs[2].t, 10), 0);
    assert_int_equal(timer_arm(&ts, &recs[3].t, 5), -ENOSPC);
    assert_false(timer_armed(&recs[3].t));
    assert_int_equal(ts.len, 3);
    check_heap(&ts);
    /* Re-arming one that is already armed still works when full. */
    assert_int_equal(timer_arm(&ts, &recs[0].t, 1), 0);
    assert_int_equal(ts.len, 3);
    /* After one leaves, there is room again. */
    timer_cancel(&ts, &recs[1].t);
    assert_int_equal(timer_arm(&ts, &recs[3].t, 5), 0);
    timers_run(&ts, 100);
    expect_order((const int[]){ 0, 3, 2 }, 3);
    timers_done(&ts);
}

static int64_t
timerfd_remaining_ns(int fd)
{
    struct itimerspec its;

    assert_int_equal(timerfd_gettime(fd, &its), 0);
    return (int64_t)its.it_value.tv_sec * 1000000000 + its.it_value.tv_nsec;
}

/*
 * The timerfd fires at at_ms on CLOCK_MONOTONIC: what timerfd_gettime says
 * is left lies between at_ms minus the clock read after it and at_ms minus
 * the clock read before it, however long the reads take.
 */
static void
expect_timerfd_at(int fd, int64_t at_ms)
{
    int64_t before = util_now_ns(), rem = timerfd_remaining_ns(fd), after = util_now_ns();
    int64_t at = at_ms * 1000000;

    if (rem < at - after || rem > at - before)
        fail_msg("timerfd: %lld ns left, want between %lld and %lld (armed at %lld ms)",
                 (long long)rem, (long long)(at - after), (long long)(at - before),
                 (long long)at_ms);
}

static bool
fd_readable(int fd, int timeout_ms)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    int r = poll(&pfd, 1, timeout_ms);

    assert_true(r >= 0);
    return r == 1 && (pfd.revents & POLLIN);
}

static void
sync_points_timerfd_at_earliest(void **state)
{
    struct rec a = { .id = 1 }, b = { .id = 2 };
    struct timers ts;
    int64_t now = util_now_ms();
    (void)state;

    reset_fired();
    assert_int_equal(timers_init(&ts, 4), 0);
    timer_init(&a.t, record);
    timer_init(&b.t, record);

    /* Nothing armed: the timerfd is disarmed. */
    assert_int_equal(timerfd_remaining_ns(ts.fd), 0);

    assert_int_equal(timer_arm(&ts, &a.t, now + 3600 * 1000), 0);
    assert_int_equal(timers_sync(&ts), 0);
    assert_int_equal(ts.armed_ms, now + 3600 * 1000);
    expect_timerfd_at(ts.fd, now + 3600 * 1000);

    /* An earlier timer moves the timerfd. */
    assert_int_equal(timer_arm(&ts, &b.t, now + 600 * 1000), 0);
    assert_int_equal(timers_sync(&ts), 0);
    assert_int_equal(ts.armed_ms, now + 600 * 1000);
    expect_timerfd_at(ts.fd, now + 600 * 1000);
    /* Syncing again without a change keeps it. */
    assert_int_equal(timers_sync(&ts), 0);
    assert_int_equal(ts.armed_ms, now + 600 * 1000);

    /* Cancelling the earliest moves it back. */
    timer_cancel(&ts, &b.t);
    assert_int_equal(timers_sync(&ts), 0);
    assert_int_equal(ts.armed_ms, now + 3600 * 1000);
    expect_timerfd_at(ts.fd, now + 3600 * 1000);

    /* Nothing left: disarmed. */
    timer_cancel(&ts, &a.t);
    assert_int_equal(timers_sync(&ts), 0);
    assert_int_equal(ts.armed_ms, -1);
    assert_int_equal(timerfd_remaining_ns(ts.fd), 0);
    assert_false(fd_readable(ts.fd, 0));
    assert_int_equal(fired.n, 0);
    timers_done(&ts);
}

/* A deadline already past (including 0) makes the timerfd readable; timers_run drains it. */
static void
sync_past_deadline_wakes(void **state)
{
    static const int64_t past[] = { 0, 1, -2 };
    struct rec a = { .id = 1 };
    struct timers ts;
    (void)state;

    for (size_t i = 0; i < ARRAY_SIZE(past); i++) {
        int64_t deadline = past[i] == -2 ? util_now_ms() - 5 : past[i];

        reset_fired();
        assert_int_equal(timers_init(&ts, 1), 0);
        timer_init(&a.t, record);
        assert_int_equal(timer_arm(&ts, &a.t, deadline), 0);
        assert_int_equal(timers_sync(&ts), 0);
        assert_int_equal(ts.armed_ms, deadline);
        /* Fires at the next tick; the poll timeout only bounds a failure. */
        if (!fd_readable(ts.fd, 10000))
            fail_msg("the timerfd armed at the past deadline %lld ms did not become readable "
                     "within 10 s",
                     (long long)deadline);
        timers_run(&ts, util_now_ms());
        expect_order((const int[]){ 1 }, 1);
        assert_int_equal(ts.armed_ms, -1);
        assert_false(fd_readable(ts.fd, 0));
        /* Nothing armed any more: sync leaves it disarmed. */
        assert_int_equal(timers_sync(&ts), 0);
        assert_int_equal(ts.armed_ms, -1);
        timers_done(&ts);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(init_and_done),
        cmocka_unit_test(random_deadlines_fire_in_order),
        cmocka_unit_test(nothing_due_runs_nothing),
        cmocka_unit_test(cancel_head_middle_last_idle),
        cmocka_unit_test(cancel_exact_positions),
        cmocka_unit_test(cancel_sifts_up),
        cmocka_unit_test(random_cancels),
        cmocka_unit_test(rearm_moves),
        cmocka_unit_test(callback_arms_another),
        cmocka_unit_test(callback_rearms_itself),
        cmocka_unit_test(run_is_bounded_per_call),
        cmocka_unit_test(full_heap_is_enospc),
        cmocka_unit_test(sync_points_timerfd_at_earliest),
        cmocka_unit_test(sync_past_deadline_wakes),
        cmocka_unit_test(reserve_grows_with_timers_armed),
    };

    return cmocka_run_group_tests_name("timer", tests, NULL, NULL);
}

/*
 * test_job: the job state machine (src/core/job.c). Every (state, event)
 * pair is either a row of the expected table below or refused with nothing
 * changed; then the paths JOBS.md §6.3 and §6.10 name: a worker lost before
 * and after it started, poison, a deadline with its CANCEL and grace, a
 * client's cancel of a queued and of a running job, retries with backoff
 * and with after:MS, attempts exhausted, a client's retry, fencing of stale
 * frames, the Hero and funcX names, and the history ring.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "core/job.h"
#include "core/util.h"

static const struct job_policy pol = {
    .max_attempts = 3,
    .max_worker_kills = 2,
    .cancel_grace_ms = 10000,
    .backoff_initial_ms = 1000,
    .backoff_max_ms = 300000,
    .backoff_factor = 2,
    .backoff_jitter = 0,
};

static struct job
job_in(enum job_state st, enum job_stopping stopping, unsigned attempt)
{
    struct job j;

    (void)job_submit(&j, 0, 100);
    j.state = st;
    j.stopping = stopping;
    j.attempt = attempt;
    return j;
}

static struct job_step
step(struct job *j, enum job_event ev)
{
    const struct job_input in = { .event = ev, .actor = JOB_ACTOR_DROVER, .jitter_u = 0.5 };

    return job_step(j, &pol, &in, 1000);
}

struct row {
    enum job_state from;
    enum job_stopping stopping;
    unsigned attempt;
    enum job_event ev;
    enum job_state to;
    unsigned effects;
    const char *error_code; /* NULL: not checked */
};

#define N JOB_STOPPING_NONE
#define C JOB_STOPPING_CANCEL
#define T JOB_STOPPING_TIMEOUT
#define HELD_FAIL (JOB_FX_RELEASE | JOB_FX_FINISHED)
#define HELD_RETRY (JOB_FX_RELEASE | JOB_FX_ARM_DUE)

/* Every accepted pair, with the stop reasons and attempt counts that change the answer. */
static const struct row rows[] = {
    { JOB_WAITING, N, 1, JOB_EV_DISPATCH, JOB_DISPATCHED, JOB_FX_SEND_JOB | JOB_FX_ARM_DEADLINE, NULL },
    { JOB_WAITING, N, 1, JOB_EV_CANCEL, JOB_CANCELLED, JOB_FX_UNQUEUE | JOB_FX_FINISHED, "cancelled" },
    { JOB_DELAYED, N, 1, JOB_EV_DUE, JOB_WAITING, JOB_FX_QUEUE_BACK, NULL },
    { JOB_DELAYED, N, 1, JOB_EV_CANCEL, JOB_CANCELLED, JOB_FX_UNQUEUE | JOB_FX_FINISHED, NULL },
    { JOB_RETRY_WAIT, N, 2, JOB_EV_DUE, JOB_WAITING, JOB_FX_QUEUE_BACK, NULL },
    { JOB_RETRY_WAIT, N, 2, JOB_EV_CANCEL, JOB_CANCELLED, JOB_FX_UNQUEUE | JOB_FX_FINISHED, NULL },
    { JOB_FAILED, N, 3, JOB_EV_RETRY, JOB_WAITING, JOB_FX_QUEUE_BACK, NULL },
    { JOB_CANCELLED, N, 1, JOB_EV_RETRY, JOB_WAITING, JOB_FX_QUEUE_BACK, NULL },

    { JOB_DISPATCHED, N, 1, JOB_EV_STARTED, JOB_RUNNING, 0, NULL },
    { JOB_DISPATCHED, N, 1, JOB_EV_DONE, JOB_SUCCESS, HELD_FAIL, NULL },
    { JOB_DISPATCHED, N, 1, JOB_EV_FAIL, JOB_RETRY_WAIT, HELD_RETRY, "error" },
    { JOB_DISPATCHED, N, 1, JOB_EV_LOST, JOB_WAITING, JOB_FX_RELEASE | JOB_FX_QUEUE_FRONT, NULL },
    { JOB_DISPATCHED, N, 1, JOB_EV_DEADLINE, JOB_DISPATCHED, JOB_FX_SEND_CANCEL | JOB_FX_ARM_GRACE, NULL },
    { JOB_DISPATCHED, N, 1, JOB_EV_GRACE_OVER, JOB_DISPATCHED, 0, NULL },
    { JOB_DISPATCHED, T, 1, JOB_EV_GRACE_OVER, JOB_DISPATCHED, JOB_FX_STOP_INSTANCE, NULL },
    { JOB_DISPATCHED, T, 1, JOB_EV_LOST, JOB_RETRY_WAIT, HELD_RETRY, "timeout" },
    { JOB_DISPATCHED, N, 1, JOB_EV_CANCEL, JOB_DISPATCHED, JOB_FX_SEND_CANCEL | JOB_FX_ARM_GRACE, NULL },
    { JOB_DISPATCHED, C, 1, JOB_EV_LOST, JOB_CANCELLED, HELD_FAIL, "cancelled" },

    { JOB_RUNNING, N, 1, JOB_EV_STARTED, JOB_RUNNING, 0, NULL },
    { JOB_RUNNING, N, 1, JOB_EV_DONE, JOB_SUCCESS, HELD_FAIL, NULL },
    { JOB_RUNNING, C, 1, JOB_EV_DONE, JOB_SUCCESS, HELD_FAIL, NULL }, /* a result beats the cancel */
    { JOB_RUNNING, N, 1, JOB_EV_FAIL, JOB_RETRY_WAIT, HELD_RETRY, "error" },
    { JOB_RUNNING, N, 3, JOB_EV_FAIL, JOB_FAILED, HELD_FAIL, "error" },
    { JOB_RUNNING, C, 1, JOB_EV_FAIL, JOB_CANCELLED, HELD_FAIL, "cancelled" },
    { JOB_RUNNING, T, 1, JOB_EV_FAIL, JOB_RETRY_WAIT, HELD_RETRY, "timeout" },
    { JOB_RUNNING, T, 3, JOB_EV_FAIL, JOB_FAILED, HELD_FAIL, "timeout" },
    { JOB_RUNNING, N, 1, JOB_EV_LOST, JOB_RETRY_WAIT, HELD_RETRY, "worker_lost" },
    { JOB_RUNNING, N, 3, JOB_EV_LOST, JOB_FAILED, HELD_FAIL, "worker_lost" },
    { JOB_RUNNING, C, 1, JOB_EV_LOST, JOB_CANCELLED, HELD_FAIL, "cancelled" },
    { JOB_RUNNING, T, 1, JOB_EV_LOST, JOB_RETRY_WAIT, HELD_RETRY, "timeout" },
    { JOB_RUNNING, N, 1, JOB_EV_DEADLINE, JOB_RUNNING, JOB_FX_SEND_CANCEL | JOB_FX_ARM_GRACE, NULL },
    { JOB_RUNNING, C, 1, JOB_EV_DEADLINE, JOB_RUNNING, 0, NULL }, /* the cancel wins */
    { JOB_RUNNING, T, 1, JOB_EV_DEADLINE, JOB_RUNNING, 0, NULL },
    { JOB_RUNNING, N, 1, JOB_EV_GRACE_OVER, JOB_RUNNING, 0, NULL }, /* a stale grace timer */
    { JOB_RUNNING, C, 1, JOB_EV_GRACE_OVER, JOB_RUNNING, JOB_FX_STOP_INSTANCE, NULL },
    { JOB_RUNNING, T, 1, JOB_EV_GRACE_OVER, JOB_RUNNING, JOB_FX_STOP_INSTANCE, NULL },
    { JOB_RUNNING, N, 1, JOB_EV_CANCEL, JOB_RUNNING, JOB_FX_SEND_CANCEL | JOB_FX_ARM_GRACE, NULL },
    { JOB_RUNNING, T, 1, JOB_EV_CANCEL, JOB_RUNNING, 0, NULL }, /* CANCEL already went out */
    { JOB_RUNNING, C, 1, JOB_EV_CANCEL, JOB_RUNNING, 0, NULL },
};

static bool
pair_has_row(enum job_state st, enum job_event ev)
{
    for (size_t i = 0; i < ARRAY_SIZE(rows); i++)
        if (rows[i].from == st && rows[i].ev == ev)
            return true;
    return false;
}

static void
every_row_as_expected(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
        const struct row *r = &rows[i];
        struct job j = job_in(r->from, r->stopping, r->attempt);
        struct job_step s = step(&j, r->ev);

        if (!s.accepted || s.to != r->to || s.effects != r->effects || j.state != r->to ||
            (r->error_code && (!j.error_code || strcmp(j.error_code, r->error_code) != 0)))
            print_error("row %zu: %s --%s--> got %s effects 0x%x error %s; want %s 0x%x %s\n", i,
                        job_state_name(r->from), job_event_name(r->ev), job_state_name(s.to),
                        s.effects, j.error_code ? j.error_code : "-", job_state_name(r->to),
                        r->effects, r->error_code ? r->error_code : "-");
        assert_true(s.accepted);
        assert_int_equal(s.from, r->from);
        assert_int_equal(s.to, r->to);
        assert_int_equal(s.effects, r->effects);
        if (r->error_code)
            assert_string_equal(j.error_code, r->error_code);
        if (job_state_terminal(r->to))
            assert_int_equal(j.finished_ms, 1000);
        if (job_state_terminal(r->to) || r->to == JOB_RETRY_WAIT)
            assert_int_equal(j.stopping, JOB_STOPPING_NONE);
        /* A change of state is in the history, its texts kept by index: each must be in
           job.c's table. */
        if (s.from != s.to) {
            const struct job_history *h = &j.history[(j.history_total - 1) % JOB_HISTORY_MAX];

            assert_non_null(j.cause);
            assert_string_equal(job_history_cause(h), j.cause);
            if (h->state == JOB_RETRY_WAIT || h->state == JOB_FAILED)
                assert_string_equal(job_history_error_code(h), j.error_code);
            else
                assert_null(job_history_error_code(h));
        }
    }
}

/* Each pair without a row is refused, and refusing changes nothing. */
static void
other_pairs_change_nothing(void **state)
{
    (void)state;
    for (int st = 0; st < JOB__MAX; st++)
        for (int ev = 0; ev < JOB_EV__MAX; ev++) {
            if (pair_has_row(st, ev))
                continue;
            struct job j = job_in(st, JOB_STOPPING_NONE, 1), before = j;
            struct job_step s = step(&j, ev);

            if (s.accepted)
                print_error("%s --%s--> accepted, no row says so\n", job_state_name(st),
                            job_event_name(ev));
            assert_false(s.accepted);
            assert_int_equal(s.effects, 0);
            assert_memory_equal(&j, &before, sizeof(j));
        }
    struct job j = job_in(JOB_RUNNING, JOB_STOPPING_NONE, 1), before = j;
    assert_false(step(&j, JOB_EV_INVALID).accepted);
    assert_false(step(&j, JOB_EV__MAX).accepted);
    assert_memory_equal(&j, &before, sizeof(j));
}

static void
submit_waits_or_is_delayed(void **state)
{
    struct job j;
    struct job_step s;
    (void)state;

    s = job_submit(&j, 0, 5000);
    assert_int_equal(s.to, JOB_WAITING);
    assert_int_equal(s.effects, JOB_FX_QUEUE_BACK);
    assert_int_equal(j.attempt, 1);
    assert_int_equal(j.created_ms, 5000);
    assert_string_equal(job_history_cause(&j.history[0]), "submitted");
    s = job_submit(&j, 9000, 5000);
    assert_int_equal(s.to, JOB_DELAYED);
    assert_int_equal(s.effects, JOB_FX_ARM_DUE);
    assert_int_equal(j.run_at_ms, 9000);
    assert_int_equal(j.history_total, 1);
    assert_int_equal(j.history[0].state, JOB_DELAYED);
    assert_int_equal(j.history[0].actor, JOB_ACTOR_API);
    assert_string_equal(job_history_cause(&j.history[0]), "submitted, run_at in the future");
    assert_null(job_history_error_code(&j.history[0]));
}

/* JOBS.md's headline: kill -9 mid-job, and the job is due again at once (no backoff). */
static void
worker_lost_mid_job_is_retried_then_poison(void **state)
{
    struct job j;
    (void)state;

    (void)job_submit(&j, 0, 0);
    assert_true(step(&j, JOB_EV_DISPATCH).accepted);
    assert_true(step(&j, JOB_EV_STARTED).accepted);
    assert_int_equal(j.started_ms, 1000);
    struct job_step s = step(&j, JOB_EV_LOST);
    assert_int_equal(s.to, JOB_RETRY_WAIT);
    assert_string_equal(j.error_code, "worker_lost");
    assert_int_equal(j.attempt, 2); /* counted: it may have had effects */
    assert_int_equal(j.retry_at_ms, 1000); /* now: not the job's failure, nothing to wait out */
    assert_string_equal(j.cause, "its instance was lost, retrying at once");
    assert_int_equal(j.worker_kills, 1);
    assert_true(job_frame_is_stale(&j, 1)); /* a late DONE of attempt 1 is dropped */

    assert_int_equal(step(&j, JOB_EV_DUE).to, JOB_WAITING);
    assert_true(step(&j, JOB_EV_DISPATCH).accepted);
    assert_false(job_frame_is_stale(&j, 2));
    assert_true(job_frame_is_stale(&j, 1));
    assert_true(step(&j, JOB_EV_STARTED).accepted);
    s = step(&j, JOB_EV_LOST); /* the second death under it: max_worker_kills 2 */
    assert_int_equal(s.to, JOB_FAILED);
    assert_string_equal(j.error_code, "poison");
    assert_true(s.effects & JOB_FX_FINISHED);
}

/* The history says why each attempt ended: the error code, and for a death the signal. */
static void
history_keeps_the_error_code_and_signal(void **state)
{
    const struct job_policy lpol = { .max_attempts = 3, .max_worker_kills = 0,
                                    .backoff_initial_ms = 1000, .backoff_max_ms = 60000,
                                    .backoff_factor = 2 };
    struct job_input lost = { .event = JOB_EV_LOST, .actor = JOB_ACTOR_DROVER, .signal = 9 };
    struct job_input fail = { .event = JOB_EV_FAIL, .actor = JOB_ACTOR_WORKER,
                              .retry = JOB_RETRY_AUTO };
    struct job_input ev = { .actor = JOB_ACTOR_DROVER };
    const struct job_history *h;
    struct job j;
    (void)state;

    (void)job_submit(&j, 0, 0);
    ev.event = JOB_EV_DISPATCH;
    (void)job_step(&j, &lpol, &ev, 1);
    ev.event = JOB_EV_STARTED;
    (void)job_step(&j, &lpol, &ev, 2);
    assert_int_equal(job_step(&j, &lpol, &lost, 3).to, JOB_RETRY_WAIT);
    h = &j.history[(j.history_total - 1) % JOB_HISTORY_MAX];
    assert_int_equal(h->state, JOB_RETRY_WAIT);
    assert_string_equal(job_history_error_code(h), "worker_lost");
    assert_int_equal(h->signal, 9);
    assert_int_equal(j.error_signal, 9);
    /* The next attempt fails by itself: its code is "error", and no signal is carried over. */
    ev.event = JOB_EV_DUE;
    (void)job_step(&j, &lpol, &ev, 4000);
    ev.event = JOB_EV_DISPATCH;
    (void)job_step(&j, &lpol, &ev, 4001);
    assert_int_equal(job_step(&j, &lpol, &fail, 4002).to, JOB_RETRY_WAIT);
    h = &j.history[(j.history_total - 1) % JOB_HISTORY_MAX];
    assert_string_equal(job_history_error_code(h), "error");
    assert_int_equal(h->signal, 0);
    assert_int_equal(j.error_signal, 0);
    /* Transitions that are no failure carry no code. */
    assert_null(j.history[1].error_code); /* dispatched */
    assert_int_equal(j.history[1].signal, 0);
}

/* Lost before it started: the same attempt, first in line, not counted. */
static void
lost_before_start_goes_to_the_front(void **state)
{
    struct job j;
    (void)state;

    (void)job_submit(&j, 0, 0);
    (void)step(&j, JOB_EV_DISPATCH);
    struct job_step s = step(&j, JOB_EV_LOST);
    assert_int_equal(s.to, JOB_WAITING);
    assert_true(s.effects & JOB_FX_QUEUE_FRONT);
    assert_int_equal(j.attempt, 1);
    assert_int_equal(j.worker_kills, 0);
}

static void
deadline_cancels_then_stops_then_times_out(void **state)
{
    struct job j;
    (void)state;

    (void)job_submit(&j, 0, 0);
    (void)step(&j, JOB_EV_DISPATCH);
    (void)step(&j, JOB_EV_STARTED);
    struct job_step s = step(&j, JOB_EV_DEADLINE);
    assert_int_equal(s.effects, JOB_FX_SEND_CANCEL | JOB_FX_ARM_GRACE);
    assert_int_equal(j.stopping, JOB_STOPPING_TIMEOUT);
    s = step(&j, JOB_EV_GRACE_OVER);
    assert_int_equal(s.effects, JOB_FX_STOP_INSTANCE);
    s = step(&j, JOB_EV_LOST);
    assert_int_equal(s.to, JOB_RETRY_WAIT);
    assert_string_equal(j.error_code, "timeout");
    assert_int_equal(j.worker_kills, 0); /* drover stopped it: not the job killing workers */
}

static void
cancel_of_a_running_job_waits_for_the_answer(void **state)
{
    struct job j;
    (void)state;

    (void)job_submit(&j, 0, 0);
    (void)step(&j, JOB_EV_DISPATCH);
    (void)step(&j, JOB_EV_STARTED);
    const struct job_input in = { .event = JOB_EV_CANCEL, .actor = JOB_ACTOR_API };
    struct job_step s = job_step(&j, &pol, &in, 2000);
    assert_int_equal(s.to, JOB_RUNNING);
    assert_int_equal(s.effects, JOB_FX_SEND_CANCEL | JOB_FX_ARM_GRACE);
    const struct job_input answer = { .event = JOB_EV_FAIL, .actor = JOB_ACTOR_WORKER,
                                      .retry = JOB_RETRY_AUTO };
    s = job_step(&j, &pol, &answer, 3000);
    assert_int_equal(s.to, JOB_CANCELLED);
    assert_int_equal(j.finished_ms, 3000);
    assert_int_equal(j.history[(j.history_total - 1) % JOB_HISTORY_MAX].actor, JOB_ACTOR_WORKER);
}

static void
fail_retry_modes(void **state)
{
    struct job j;
    struct job_input in = { .event = JOB_EV_FAIL, .actor = JOB_ACTOR_WORKER, .jitter_u = 0.5 };
    (void)state;

    (void)job_submit(&j, 0, 0);
    (void)step(&j, JOB_EV_DISPATCH);
    in.retry = JOB_RETRY_AFTER;
    in.retry_after_ms = INT64_MAX; /* a worker's after:MS of any size saturates */
    struct job huge = j;
    assert_int_equal(job_step(&huge, &pol, &in, 1000).to, JOB_RETRY_WAIT);
    assert_true(huge.retry_at_ms == INT64_MAX);
    in.retry_after_ms = 7000;
    assert_int_equal(job_step(&j, &pol, &in, 1000).to, JOB_RETRY_WAIT);
    assert_int_equal(j.retry_at_ms, 8000);
    (void)step(&j, JOB_EV_DUE);
    (void)step(&j, JOB_EV_DISPATCH);
    in.retry = JOB_RETRY_AUTO;
    assert_int_equal(job_step(&j, &pol, &in, 1000).to, JOB_RETRY_WAIT);
    assert_int_equal(j.retry_at_ms, 1000 + 2000); /* attempt 2 failed: initial * factor */
    assert_int_equal(j.attempt, 3);
    (void)step(&j, JOB_EV_DUE);
    (void)step(&j, JOB_EV_DISPATCH);
    assert_int_equal(job_step(&j, &pol, &in, 1000).to, JOB_FAILED); /* 3 of 3 */
    assert_string_equal(j.cause, "attempts exhausted");

    /* A client's retry starts over at attempt 1; retry=no fails at once. */
    assert_int_equal(step(&j, JOB_EV_RETRY).to, JOB_WAITING);
    assert_int_equal(j.attempt, 1);
    assert_int_equal(j.finished_ms, 0);
    (void)step(&j, JOB_EV_DISPATCH);
    in.retry = JOB_RETRY_NO;
    assert_int_equal(job_step(&j, &pol, &in, 1000).to, JOB_FAILED);
    assert_int_equal(j.attempt, 1);
}

static void
retry_delay_grows_caps_and_jitters(void **state)
{
    struct job_policy p = pol;
    (void)state;

    assert_int_equal(job_retry_delay_ms(&p, 1, 0.5), 1000);
    assert_int_equal(job_retry_delay_ms(&p, 2, 0.5), 2000);
    assert_int_equal(job_retry_delay_ms(&p, 5, 0.5), 16000);
    assert_int_equal(job_retry_delay_ms(&p, 10, 0.5), 300000);
    assert_int_equal(job_retry_delay_ms(&p, 4000000000u, 0.5), 300000); /* no overflow, no spin */
    p.backoff_max_ms = INT64_MAX;
    p.backoff_factor = 100;
    assert_true(job_retry_delay_ms(&p, 1000, 0.5) == (int64_t)9e18); /* capped, never undefined */
    p.backoff_max_ms = 300000;
    p.backoff_factor = 2;
    p.backoff_jitter = 0.2;
    assert_int_equal(job_retry_delay_ms(&p, 1, 0), 800);
    assert_int_equal(job_retry_delay_ms(&p, 1, 0.5), 1000);
    assert_true(job_retry_delay_ms(&p, 1, 0.999999) <= 1200);
    assert_int_equal(job_retry_delay_ms(&p, 1, 7), 1000); /* out of range: no jitter */
    p.backoff_factor = 0.5; /* below 1 acts as 1 */
    assert_int_equal(job_retry_delay_ms(&p, 3, 0.5), 1000);
}

static void
names_and_mappings(void **state)
{
    static const struct {
        enum job_state st;
        const char *name, *hero, *funcx;
    } want[] = {
        { JOB_WAITING, "waiting", "dispatched", "waiting-for-nodes" },
        { JOB_DELAYED, "delayed", "dispatched", "waiting-for-nodes" },
        { JOB_DISPATCHED, "dispatched", "dispatched", "waiting-for-launch" },
        { JOB_RUNNING, "running", "started", "running" },
        { JOB_RETRY_WAIT, "retry_wait", "dispatched", "waiting-for-nodes" },
        { JOB_SUCCESS, "success", "finished", "success" },
        { JOB_FAILED, "failed", "error", "failed" },
        { JOB_CANCELLED, "cancelled", "error", "failed" },
    };
    (void)state;

    assert_int_equal(ARRAY_SIZE(want), JOB__MAX);
    for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
        assert_string_equal(job_state_name(want[i].st), want[i].name);
        assert_int_equal(job_state_from_name(want[i].name), want[i].st);
        assert_string_equal(job_hero_status(want[i].st), want[i].hero);
        assert_string_equal(job_funcx_state(want[i].st), want[i].funcx);
    }
    assert_string_equal(job_state_name(JOB_INVALID), "invalid");
    assert_int_equal(job_state_from_name("nope"), JOB_INVALID);
    for (int ev = 0; ev < JOB_EV__MAX; ev++)
        assert_string_not_equal(job_event_name(ev), "invalid");
    assert_string_equal(job_event_name(JOB_EV__MAX), "invalid");
}

static void
history_keeps_the_latest(void **state)
{
    struct job j;
    (void)state;

    (void)job_submit(&j, 0, 0);
    for (int i = 0; i < 40; i++) {
        (void)step(&j, JOB_EV_DISPATCH);
        (void)step(&j, JOB_EV_LOST); /* back to waiting, never ran */
    }
    assert_int_equal(j.history_total, 81);
    assert_int_equal(j.history[(j.history_total - 1) % JOB_HISTORY_MAX].state, JOB_WAITING);
    assert_int_equal(j.history[(j.history_total - 2) % JOB_HISTORY_MAX].state, JOB_DISPATCHED);
    /* STARTED in running changes no state and records nothing. */
    (void)step(&j, JOB_EV_DISPATCH);
    (void)step(&j, JOB_EV_STARTED);
    unsigned n = j.history_total;
    assert_true(step(&j, JOB_EV_STARTED).accepted);
    assert_int_equal(j.history_total, n);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_row_as_expected),
        cmocka_unit_test(other_pairs_change_nothing),
        cmocka_unit_test(submit_waits_or_is_delayed),
        cmocka_unit_test(worker_lost_mid_job_is_retried_then_poison),
        cmocka_unit_test(history_keeps_the_error_code_and_signal),
        cmocka_unit_test(lost_before_start_goes_to_the_front),
        cmocka_unit_test(deadline_cancels_then_stops_then_times_out),
        cmocka_unit_test(cancel_of_a_running_job_waits_for_the_answer),
        cmocka_unit_test(fail_retry_modes),
        cmocka_unit_test(retry_delay_grows_caps_and_jitters),
        cmocka_unit_test(names_and_mappings),
        cmocka_unit_test(history_keeps_the_latest),
    };

    return cmocka_run_group_tests_name("job", tests, NULL, NULL);
}

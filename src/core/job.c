/*
 * job: the job state machine as a constant [state][event] table. See job.h
 * for the contract; docs/state-machine.md draws the table.
 */
#include "core/job.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* An action: changes fields of j, sets effects in *fx, returns the next state. */
typedef enum job_state (*job_action)(struct job *j, const struct job_policy *pol,
                                     const struct job_input *in, int64_t now_ms, unsigned *fx);

static enum job_state
finish(struct job *j, enum job_state to, int64_t now_ms, unsigned *fx)
{
    j->finished_ms = now_ms;
    j->stopping = JOB_STOPPING_NONE;
    *fx |= JOB_FX_FINISHED;
    return to;
}

/* DELAYED or RETRY_WAIT, due: back in its queue, behind what is already waiting. */
static enum job_state
act_due(struct job *j, const struct job_policy *pol, const struct job_input *in, int64_t now_ms,
        unsigned *fx)
{
    (void)pol, (void)in, (void)now_ms;
    j->cause = j->state == JOB_DELAYED ? "run_at reached" : "retry delay over";
    *fx |= JOB_FX_QUEUE_BACK;
    return JOB_WAITING;
}

static enum job_state
act_dispatch(struct job *j, const struct job_policy *pol, const struct job_input *in,
             int64_t now_ms, unsigned *fx)
{
    (void)pol, (void)in, (void)now_ms;
    j->cause = "dispatched to an instance with credit";
    *fx |= JOB_FX_SEND_JOB | JOB_FX_ARM_DEADLINE;
    return JOB_DISPATCHED;
}

static enum job_state
act_started(struct job *j, const struct job_policy *pol, const struct job_input *in, int64_t now_ms,
            unsigned *fx)
{
    (void)pol, (void)in, (void)fx;
    if (j->state == JOB_DISPATCHED) {
        j->started_ms = now_ms;
        j->cause = "the worker started it";
    }
    return JOB_RUNNING;
}

static enum job_state
act_done(struct job *j, const struct job_policy *pol, const struct job_input *in, int64_t now_ms,
         unsigned *fx)
{
    (void)pol, (void)in;
    if (j->state == JOB_DISPATCHED)
        j->started_ms = now_ms; /* a result implies it ran */
    j->cause = "done";
    j->error_code = NULL;
    *fx |= JOB_FX_RELEASE;
    return finish(j, JOB_SUCCESS, now_ms, fx);
}

/*
 * An attempt failed with code: another one after delay_ms while attempts
 * are left (the attempt is counted), else failed for good.
 */
static enum job_state
retry_or_fail(struct job *j, const struct job_policy *pol, const char *code, const char *cause,
              int64_t delay_ms, int64_t now_ms, unsigned *fx)
{
    j->error_code = code;
    j->stopping = JOB_STOPPING_NONE;
    *fx |= JOB_FX_RELEASE;
    if (j->attempt >= pol->max_attempts) {
        j->cause = "attempts exhausted";
        return finish(j, JOB_FAILED, now_ms, fx);
    }
    j->attempt++;
    if (delay_ms < 0)
        delay_ms = 0;
    /* A worker's after:MS can be anything: saturate rather than overflow. */
    j->retry_at_ms = delay_ms > INT64_MAX - now_ms ? INT64_MAX : now_ms + delay_ms;
    j->cause = cause;
    *fx |= JOB_FX_ARM_DUE;
    return JOB_RETRY_WAIT;
}

static enum job_state
cancelled_now(struct job *j, int64_t now_ms, unsigned *fx)
{
    j->cause = "cancelled";
    j->error_code = "cancelled";
    return finish(j, JOB_CANCELLED, now_ms, fx);
}

static enum job_state
act_fail(struct job *j, const struct job_policy *pol, const struct job_input *in, int64_t now_ms,
         unsigned *fx)
{
    if (j->state == JOB_DISPATCHED)
        j->started_ms = now_ms;
    if (j->stopping == JOB_STOPPING_CANCEL) {
        *fx |= JOB_FX_RELEASE;
        return cancelled_now(j, now_ms, fx); /* the worker's answer to CANCEL */
    }
    if (j->stopping == JOB_STOPPING_TIMEOUT)
        return retry_or_fail(j, pol, "timeout", "timed out, retrying after the backoff",
                             job_retry_delay_ms(pol, j->attempt, in->jitter_u), now_ms, fx);
    switch (in->retry) {
    case JOB_RETRY_NO:
        j->error_code = "error";
        j->cause = "failed, no retry asked";
        *fx |= JOB_FX_RELEASE;
        return finish(j, JOB_FAILED, now_ms, fx);
    case JOB_RETRY_AFTER:
        return retry_or_fail(j, pol, "error", "the worker failed it, retrying after its delay",
                             in->retry_after_ms, now_ms, fx);
    case JOB_RETRY_AUTO:
    case JOB_RETRY__MAX:
    case JOB_RETRY_INVALID:
        break;
    }
    return retry_or_fail(j, pol, "error", "the worker failed it, retrying after the backoff",
                         job_retry_delay_ms(pol, j->attempt, in->jitter_u), now_ms, fx);
}

/* Its instance is gone (or its channel, for good) while it held the job. */
static enum job_state
act_lost(struct job *j, const struct job_policy *pol, const struct job_input *in, int64_t now_ms,
         unsigned *fx)
{
    if (j->stopping == JOB_STOPPING_CANCEL) {
        *fx |= JOB_FX_RELEASE;
        return cancelled_now(j, now_ms, fx);
    }
    if (j->stopping == JOB_STOPPING_TIMEOUT)
        return retry_or_fail(j, pol, "timeout", "timed out, retrying after the backoff",
                             job_retry_delay_ms(pol, j->attempt, in->jitter_u), now_ms, fx);
    if (j->state == JOB_DISPATCHED) {
        /* It never ran: the same attempt goes first in line again, uncounted. */
        j->cause = "its instance was lost before it started";
        *fx |= JOB_FX_RELEASE | JOB_FX_QUEUE_FRONT;
        return JOB_WAITING;
    }
    j->worker_kills++;
    if (pol->max_worker_kills > 0 && j->worker_kills >= pol->max_worker_kills) {
        j->error_code = "poison";
        j->cause = "its instance died under it max_worker_kills times";
        *fx |= JOB_FX_RELEASE;
        return finish(j, JOB_FAILED, now_ms, fx);
    }
    /* Not the job's failure: no backoff to wait out, the next idle instance takes it now. */
    return retry_or_fail(j, pol, "worker_lost", "its instance was lost, retrying at once", 0,
                         now_ms, fx);
}

/* Past its deadline while held: ask the worker to stop, then stop the instance after the grace. */
static enum job_state
act_deadline(struct job *j, const struct job_policy *pol, const struct job_input *in,
             int64_t now_ms, unsigned *fx)
{
    (void)pol, (void)in, (void)now_ms;
    if (j->stopping != JOB_STOPPING_NONE)
        return j->state; /* already being stopped: a client's cancel wins over the timeout */
    j->stopping = JOB_STOPPING_TIMEOUT;
    j->cause = "deadline passed, CANCEL sent";
    *fx |= JOB_FX_SEND_CANCEL | JOB_FX_ARM_GRACE;
    return j->state;
}

static enum job_state
act_grace_over(struct job *j, const struct job_policy *pol, const struct job_input *in,
               int64_t now_ms, unsigned *fx)
{
    (void)pol, (void)in, (void)now_ms;
    if (j->stopping == JOB_STOPPING_NONE)
        return j->state; /* a grace timer of an earlier stop: nothing is asked now */
    j->cause = "no answer to CANCEL within cancel_grace: stopping its instance";
    *fx |= JOB_FX_STOP_INSTANCE;
    return j->state;
}

/* A client cancels a job that is queued (at once) or held (CANCEL first, as for a deadline). */
static enum job_state
act_cancel(struct job *j, const struct job_policy *pol, const struct job_input *in, int64_t now_ms,
           unsigned *fx)
{
    (void)pol, (void)in;
    if (!job_state_held(j->state)) {
        *fx |= JOB_FX_UNQUEUE;
        return cancelled_now(j, now_ms, fx);
    }
    if (j->stopping == JOB_STOPPING_NONE)
        *fx |= JOB_FX_SEND_CANCEL | JOB_FX_ARM_GRACE;
    j->stopping = JOB_STOPPING_CANCEL; /* over a timeout's stop too: no retry after it */
    j->cause = "cancel asked, CANCEL sent";
    return j->state;
}

static enum job_state
act_retry(struct job *j, const struct job_policy *pol, const struct job_input *in, int64_t now_ms,
          unsigned *fx)
{
    (void)pol, (void)in, (void)now_ms;
    j->attempt = 1;
    j->worker_kills = 0;
    j->finished_ms = 0;
    j->started_ms = 0;
    j->cause = "retried by a client";
    *fx |= JOB_FX_QUEUE_BACK;
    return JOB_WAITING;
}

/*
 * A refusal: the event means nothing in that state (a late timer, a frame
 * for a job already finished, a retry of one still queued). Nothing changes
 * and the step says it was not accepted.
 */
static enum job_state
refuse(struct job *j, const struct job_policy *pol, const struct job_input *in, int64_t now_ms,
       unsigned *fx)
{
    (void)pol, (void)in, (void)now_ms, (void)fx;
    return j->state;
}

/* Every cell is a decision: an action, or refuse. */
static const job_action table[JOB__MAX][JOB_EV__MAX] = {
    [JOB_WAITING] = {
        [JOB_EV_DUE] = refuse,
        [JOB_EV_DISPATCH] = act_dispatch,
        [JOB_EV_STARTED] = refuse,
        [JOB_EV_DONE] = refuse,
        [JOB_EV_FAIL] = refuse,
        [JOB_EV_LOST] = refuse,
        [JOB_EV_DEADLINE] = refuse,
        [JOB_EV_GRACE_OVER] = refuse,
        [JOB_EV_CANCEL] = act_cancel,
        [JOB_EV_RETRY] = refuse,
    },
    [JOB_DELAYED] = {
        [JOB_EV_DUE] = act_due,
        [JOB_EV_DISPATCH] = refuse,
        [JOB_EV_STARTED] = refuse,
        [JOB_EV_DONE] = refuse,
        [JOB_EV_FAIL] = refuse,
        [JOB_EV_LOST] = refuse,
        [JOB_EV_DEADLINE] = refuse,
        [JOB_EV_GRACE_OVER] = refuse,
        [JOB_EV_CANCEL] = act_cancel,
        [JOB_EV_RETRY] = refuse,
    },
    [JOB_DISPATCHED] = {
        [JOB_EV_DUE] = refuse,
        [JOB_EV_DISPATCH] = refuse,
        [JOB_EV_STARTED] = act_started,
        [JOB_EV_DONE] = act_done,
        [JOB_EV_FAIL] = act_fail,
        [JOB_EV_LOST] = act_lost,
        [JOB_EV_DEADLINE] = act_deadline,
        [JOB_EV_GRACE_OVER] = act_grace_over,
        [JOB_EV_CANCEL] = act_cancel,
        [JOB_EV_RETRY] = refuse,
    },
    [JOB_RUNNING] = {
        [JOB_EV_DUE] = refuse,
        [JOB_EV_DISPATCH] = refuse,
        [JOB_EV_STARTED] = act_started,
        [JOB_EV_DONE] = act_done,
        [JOB_EV_FAIL] = act_fail,
        [JOB_EV_LOST] = act_lost,
        [JOB_EV_DEADLINE] = act_deadline,
        [JOB_EV_GRACE_OVER] = act_grace_over,
        [JOB_EV_CANCEL] = act_cancel,
        [JOB_EV_RETRY] = refuse,
    },
    [JOB_RETRY_WAIT] = {
        [JOB_EV_DUE] = act_due,
        [JOB_EV_DISPATCH] = refuse,
        [JOB_EV_STARTED] = refuse,
        [JOB_EV_DONE] = refuse,
        [JOB_EV_FAIL] = refuse,
        [JOB_EV_LOST] = refuse,
        [JOB_EV_DEADLINE] = refuse,
        [JOB_EV_GRACE_OVER] = refuse,
        [JOB_EV_CANCEL] = act_cancel,
        [JOB_EV_RETRY] = refuse,
    },
    [JOB_SUCCESS] = {
        [JOB_EV_DUE] = refuse,
        [JOB_EV_DISPATCH] = refuse,
        [JOB_EV_STARTED] = refuse,
        [JOB_EV_DONE] = refuse,
        [JOB_EV_FAIL] = refuse,
        [JOB_EV_LOST] = refuse,
        [JOB_EV_DEADLINE] = refuse,
        [JOB_EV_GRACE_OVER] = refuse,
        [JOB_EV_CANCEL] = refuse,
        [JOB_EV_RETRY] = refuse,
    },
    [JOB_FAILED] = {
        [JOB_EV_DUE] = refuse,
        [JOB_EV_DISPATCH] = refuse,
        [JOB_EV_STARTED] = refuse,
        [JOB_EV_DONE] = refuse,
        [JOB_EV_FAIL] = refuse,
        [JOB_EV_LOST] = refuse,
        [JOB_EV_DEADLINE] = refuse,
        [JOB_EV_GRACE_OVER] = refuse,
        [JOB_EV_CANCEL] = refuse,
        [JOB_EV_RETRY] = act_retry,
    },
    [JOB_CANCELLED] = {
        [JOB_EV_DUE] = refuse,
        [JOB_EV_DISPATCH] = refuse,
        [JOB_EV_STARTED] = refuse,
        [JOB_EV_DONE] = refuse,
        [JOB_EV_FAIL] = refuse,
        [JOB_EV_LOST] = refuse,
        [JOB_EV_DEADLINE] = refuse,
        [JOB_EV_GRACE_OVER] = refuse,
        [JOB_EV_CANCEL] = refuse,
        [JOB_EV_RETRY] = act_retry,
    },
};

/*
 * Every cause and error code this file sets: a history entry keeps the
 * index (one byte, not an 8-byte pointer). test_job checks that each
 * transition's texts are here.
 */
static const char *const texts[] = {
    "",
    "submitted",
    "submitted, run_at in the future",
    "run_at reached",
    "retry delay over",
    "dispatched to an instance with credit",
    "the worker started it",
    "done",
    "attempts exhausted",
    "cancelled",
    "timed out, retrying after the backoff",
    "timeout",
    "error",
    "failed, no retry asked",
    "the worker failed it, retrying after its delay",
    "the worker failed it, retrying after the backoff",
    "its instance was lost before it started",
    "poison",
    "its instance died under it max_worker_kills times",
    "its instance was lost, retrying at once",
    "worker_lost",
    "deadline passed, CANCEL sent",
    "no answer to CANCEL within cancel_grace: stopping its instance",
    "cancel asked, CANCEL sent",
    "retried by a client",
};

static uint8_t
text_index(const char *s)
{
    for (uint8_t i = 1; s && i < sizeof(texts) / sizeof(*texts); i++)
        if (texts[i] == s || strcmp(texts[i], s) == 0)
            return i;
    return 0;
}

const char *
job_text(const char *s)
{
    uint8_t i = text_index(s);

    return i ? texts[i] : NULL;
}

const char *
job_history_cause(const struct job_history *h)
{
    return h->cause < sizeof(texts) / sizeof(*texts) ? texts[h->cause] : "";
}

const char *
job_history_error_code(const struct job_history *h)
{
    return h->error_code && h->error_code < sizeof(texts) / sizeof(*texts) ? texts[h->error_code]
                                                                           : NULL;
}

static void
record(struct job *j, enum job_actor actor, int64_t now_ms)
{
    bool failed = j->state == JOB_RETRY_WAIT || j->state == JOB_FAILED;

    j->history[j->history_total % JOB_HISTORY_MAX] = (struct job_history){
        .time_ms = now_ms,
        .cause = text_index(j->cause),
        .error_code = failed ? text_index(j->error_code) : 0,
        .state = (uint8_t)j->state,
        .actor = (uint8_t)actor,
        .signal =
            failed && j->error_signal > 0 && j->error_signal < 256 ? (uint8_t)j->error_signal : 0,
    };
    j->history_total++;
}

struct job_step
job_submit(struct job *j, int64_t run_at_ms, int64_t now_ms)
{
    *j = (struct job){ .attempt = 1, .created_ms = now_ms, .run_at_ms = run_at_ms };
    if (run_at_ms > now_ms) {
        j->state = JOB_DELAYED;
        j->cause = "submitted, run_at in the future";
    } else {
        j->state = JOB_WAITING;
        j->cause = "submitted";
    }
    record(j, JOB_ACTOR_API, now_ms);
    return (struct job_step){
        .accepted = true,
        .from = JOB_INVALID,
        .to = j->state,
        .effects = j->state == JOB_DELAYED ? JOB_FX_ARM_DUE : JOB_FX_QUEUE_BACK,
    };
}

struct job_step
job_step(struct job *j, const struct job_policy *pol, const struct job_input *in, int64_t now_ms)
{
    struct job_step st = { .from = j->state, .to = j->state };
    job_action act;

    if (j->state < 0 || j->state >= JOB__MAX || in->event < 0 || in->event >= JOB_EV__MAX)
        return st;
    act = table[j->state][in->event];
    if (act == refuse)
        return st;
    st.accepted = true;
    /* The signal belongs to a loss; another failure's error has none. */
    if (in->event == JOB_EV_LOST)
        j->error_signal = in->signal;
    else if (in->event == JOB_EV_FAIL || in->event == JOB_EV_DEADLINE)
        j->error_signal = 0;
    st.to = act(j, pol, in, now_ms, &st.effects);
    if (st.to != st.from) {
        j->state = st.to;
        record(j, in->actor, now_ms);
    }
    return st;
}

int64_t
job_retry_delay_ms(const struct job_policy *pol, unsigned n, double jitter_u)
{
    double d = (double)pol->backoff_initial_ms;
    double jitter = pol->backoff_jitter < 0 ? 0 : pol->backoff_jitter > 1 ? 1 : pol->backoff_jitter;

    for (unsigned i = 1; i < n && d < (double)pol->backoff_max_ms; i++)
        d *= pol->backoff_factor < 1 ? 1 : pol->backoff_factor;
    if (d > (double)pol->backoff_max_ms)
        d = (double)pol->backoff_max_ms;
    if (jitter_u < 0 || jitter_u >= 1)
        jitter_u = 0.5; /* out of range: no jitter rather than a wild delay */
    d *= 1 - jitter + 2 * jitter * jitter_u;
    if (!(d > 0))
        return 0;
    return d >= 9e18 ? (int64_t)9e18 : (int64_t)d; /* a double past INT64_MAX is undefined */
}

bool
job_frame_is_stale(const struct job *j, unsigned attempt)
{
    return attempt != j->attempt || !job_state_held(j->state);
}

bool
job_state_terminal(enum job_state st)
{
    return st == JOB_SUCCESS || st == JOB_FAILED || st == JOB_CANCELLED;
}

bool
job_state_held(enum job_state st)
{
    return st == JOB_DISPATCHED || st == JOB_RUNNING;
}

static const char *const state_names[JOB__MAX] = {
    [JOB_WAITING] = "waiting", [JOB_DELAYED] = "delayed",       [JOB_DISPATCHED] = "dispatched",
    [JOB_RUNNING] = "running", [JOB_RETRY_WAIT] = "retry_wait", [JOB_SUCCESS] = "success",
    [JOB_FAILED] = "failed",   [JOB_CANCELLED] = "cancelled",
};

const char *
job_state_name(enum job_state st)
{
    return st >= 0 && st < JOB__MAX ? state_names[st] : "invalid";
}

enum job_state
job_state_from_name(const char *name)
{
    for (int s = 0; s < JOB__MAX; s++)
        if (strcmp(name, state_names[s]) == 0)
            return (enum job_state)s;
    return JOB_INVALID;
}

const char *
job_event_name(enum job_event ev)
{
    static const char *const names[JOB_EV__MAX] = {
        [JOB_EV_DUE] = "due",           [JOB_EV_DISPATCH] = "dispatch",
        [JOB_EV_STARTED] = "started",   [JOB_EV_DONE] = "done",
        [JOB_EV_FAIL] = "fail",         [JOB_EV_LOST] = "lost",
        [JOB_EV_DEADLINE] = "deadline", [JOB_EV_GRACE_OVER] = "grace-over",
        [JOB_EV_CANCEL] = "cancel",     [JOB_EV_RETRY] = "retry",
    };
    return ev >= 0 && ev < JOB_EV__MAX ? names[ev] : "invalid";
}

const char *
job_hero_status(enum job_state st)
{
    switch (st) {
    case JOB_WAITING:
    case JOB_DELAYED:
    case JOB_RETRY_WAIT:
    case JOB_DISPATCHED:
        return "dispatched";
    case JOB_RUNNING:
        return "started";
    case JOB_SUCCESS:
        return "finished";
    case JOB_FAILED:
    case JOB_CANCELLED:
        return "error";
    case JOB__MAX:
    case JOB_INVALID:
        break;
    }
    return "invalid";
}

const char *
job_funcx_state(enum job_state st)
{
    switch (st) {
    case JOB_WAITING:
    case JOB_DELAYED:
    case JOB_RETRY_WAIT:
        return "waiting-for-nodes";
    case JOB_DISPATCHED:
        return "waiting-for-launch";
    case JOB_RUNNING:
        return "running";
    case JOB_SUCCESS:
        return "success";
    case JOB_FAILED:
    case JOB_CANCELLED:
        return "failed";
    case JOB__MAX:
    case JOB_INVALID:
        break;
    }
    return "invalid";
}

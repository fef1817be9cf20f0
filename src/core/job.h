/*
 * job: one job's life, as a constant [state][event] table (JOBS.md §6.3).
 *
 * Pure: job_step() looks up the table, applies the row's small action to
 * the job's fields and says what the owner must do (write a JOB or CANCEL
 * frame, arm a timer, stop the instance, queue the job at the front or the
 * back, release the instance's credit). Nothing here reads a clock or a
 * random number: callers pass now_ms (CLOCK_REALTIME milliseconds, since
 * jobs outlive a drover and are shown to clients as Unix times) and, for a
 * retry delay's jitter, a value in [0, 1).
 *
 * Delivery is at-least-once and fenced: every delivery is (id, attempt),
 * and a worker frame for another attempt than the job's is stale
 * (job_frame_is_stale). A job also carries the names the Hero supervisor
 * and funcX give its state (job_hero_status, job_funcx_state; funcX's
 * `received` is the submit itself, the first delta of every job).
 *
 * tests/unit/core/test_job.c walks the whole table.
 */
#ifndef DROVER_JOB_H
#define DROVER_JOB_H

#include <stdbool.h>
#include <stdint.h>

enum job_state {
    JOB_WAITING,    /* queued, due: the next instance with credit gets it */
    JOB_DELAYED,    /* queued, run_at in the future */
    JOB_DISPATCHED, /* a JOB frame went to an instance; no sign yet that it runs */
    JOB_RUNNING,    /* the instance said START, PROGRESS, or sent a result */
    JOB_RETRY_WAIT, /* failed an attempt, another is due after the retry delay */
    JOB_SUCCESS,    /* terminal: DONE */
    JOB_FAILED,     /* terminal: FAIL retry=no, attempts exhausted, poison */
    JOB_CANCELLED,  /* terminal: cancelled by a client */
    JOB__MAX,
    JOB_INVALID = -1,
};

enum job_event {
    JOB_EV_DUE,        /* run_at or the retry delay was reached */
    JOB_EV_DISPATCH,   /* an instance with credit takes it: the JOB frame is written */
    JOB_EV_STARTED,    /* START, PROGRESS, or any frame for this attempt */
    JOB_EV_DONE,       /* DONE: the result is the owner's to store */
    JOB_EV_FAIL,       /* FAIL: job_input.retry says how */
    JOB_EV_LOST,       /* its instance exited, went silent, or its channel was lost for good */
    JOB_EV_DEADLINE,   /* the job's timeout passed while it ran */
    JOB_EV_GRACE_OVER, /* cancel_grace passed after a CANCEL, with no answer */
    JOB_EV_CANCEL,     /* a client cancels it */
    JOB_EV_RETRY,      /* a client retries a failed or cancelled one */
    JOB_EV__MAX,
    JOB_EV_INVALID = -1,
};

/* How a FAIL frame asks to be retried. */
enum job_retry {
    JOB_RETRY_AUTO,  /* the program's backoff, while attempts are left */
    JOB_RETRY_NO,    /* never: failed now */
    JOB_RETRY_AFTER, /* after job_input.retry_after_ms, while attempts are left */
    JOB_RETRY__MAX,
    JOB_RETRY_INVALID = -1,
};

/* Why a job is being stopped while it runs: the CANCEL frame went out for it. */
enum job_stopping {
    JOB_STOPPING_NONE,
    JOB_STOPPING_CANCEL,  /* a client's cancel: cancelled once the worker answers or is stopped */
    JOB_STOPPING_TIMEOUT, /* its deadline: retried or failed with code "timeout" */
};

/* The program's `jobs` settings that decide a job's fate. */
struct job_policy {
    unsigned max_attempts;     /* `attempts`: all tries, >= 1 */
    unsigned max_worker_kills; /* `max_worker_kills`: instance deaths under it before "poison" */
    int64_t cancel_grace_ms;   /* after CANCEL, before the instance is stopped */
    int64_t backoff_initial_ms, backoff_max_ms;
    double backoff_factor; /* >= 1 */
    double backoff_jitter; /* 0..1: the delay is scaled by 1 - jitter .. 1 + jitter */
};

#define JOB_HISTORY_MAX 16 /* the latest transitions a job keeps; older ones are counted */

enum job_actor { JOB_ACTOR_DROVER, JOB_ACTOR_WORKER, JOB_ACTOR_API };

/*
 * One transition, in 16 bytes (every queued job carries JOB_HISTORY_MAX of
 * them): the cause and the error code are indices into core/job's table of
 * its texts, read with job_history_cause() and job_history_error_code().
 */
struct job_history {
    int64_t time_ms;
    uint8_t cause;      /* job.cause of the transition */
    uint8_t error_code; /* retry_wait, failed: the attempt's failure; 0 none */
    uint8_t state;      /* enum job_state */
    uint8_t actor;      /* enum job_actor */
    uint8_t signal;     /* worker_lost: the signal that ended the instance, 0 none */
};

/*
 * The state part of a job; the owner keeps id, type, payload, result and
 * the like beside it. error_code and cause are static strings.
 */
struct job {
    enum job_state state;
    unsigned attempt;      /* the current delivery's number, from 1 */
    unsigned worker_kills; /* deaths of an instance while this job ran on it */
    enum job_stopping stopping;
    const char *error_code; /* the last attempt's failure: "error", "timeout", "worker_lost", ... */
    const char *cause;      /* why the last transition happened, for logs and /jobs/events */
    int error_signal;       /* worker_lost: the signal that ended its instance, 0 none */
    int64_t run_at_ms;      /* DELAYED: when it is due */
    int64_t retry_at_ms;    /* RETRY_WAIT: when the next attempt is due */
    int64_t created_ms, started_ms, finished_ms;
    struct job_history history[JOB_HISTORY_MAX]; /* a ring: history_total % MAX is next */
    unsigned history_total;
};

/* What happened besides the event itself. */
struct job_input {
    enum job_event event;
    enum job_actor actor;
    enum job_retry retry;   /* JOB_EV_FAIL */
    int64_t retry_after_ms; /* JOB_EV_FAIL with JOB_RETRY_AFTER */
    double jitter_u;        /* in [0, 1): the retry delay's random part */
    int signal;             /* JOB_EV_LOST: the signal that ended the instance, 0 none */
};

/* What the owner must do after a step; more than one may be set. */
enum job_effect {
    JOB_FX_NONE = 0,
    JOB_FX_QUEUE_BACK = 1u << 0,    /* put it at the back of its type and priority */
    JOB_FX_QUEUE_FRONT = 1u << 1,   /* at the front: it never ran, its turn was already taken */
    JOB_FX_SEND_JOB = 1u << 2,      /* write the JOB frame for (id, attempt) */
    JOB_FX_SEND_CANCEL = 1u << 3,   /* write CANCEL for (id, attempt) */
    JOB_FX_ARM_GRACE = 1u << 4,     /* a timer of policy.cancel_grace_ms → JOB_EV_GRACE_OVER */
    JOB_FX_STOP_INSTANCE = 1u << 5, /* stop the instance that holds it (its process group) */
    JOB_FX_RELEASE = 1u << 6,       /* the instance no longer holds it */
    JOB_FX_ARM_DUE = 1u << 7,       /* a timer at run_at_ms / retry_at_ms → JOB_EV_DUE */
    JOB_FX_UNQUEUE = 1u << 8,       /* take it out of its queue or the delay heap */
    JOB_FX_FINISHED = 1u << 9,      /* terminal now: start its TTL, answer waiters */
    JOB_FX_ARM_DEADLINE = 1u << 10, /* a timer at the job's deadline → JOB_EV_DEADLINE */
};

/* One step's answer. */
struct job_step {
    bool accepted; /* false: the event means nothing in this state; nothing changed */
    enum job_state from, to;
    unsigned effects; /* enum job_effect bits */
};

/*
 * A submitted job, accepted (journaled): waiting, or delayed when run_at_ms
 * is after now_ms. Attempt 1. The effects are those of the first step.
 */
struct job_step job_submit(struct job *j, int64_t run_at_ms, int64_t now_ms);

/* Applies in to j at now_ms under pol. */
struct job_step job_step(struct job *j, const struct job_policy *pol, const struct job_input *in,
                         int64_t now_ms);

/* The delay before attempt n + 1 after attempt n failed (n >= 1), jitter_u in [0, 1). */
int64_t job_retry_delay_ms(const struct job_policy *pol, unsigned n, double jitter_u);

/* A worker frame for attempt is stale: not the job's current delivery, or not one it holds. */
bool job_frame_is_stale(const struct job *j, unsigned attempt);

bool job_state_terminal(enum job_state st);
/* Held by an instance: dispatched or running. */
bool job_state_held(enum job_state st);

const char *job_state_name(enum job_state st);
/* The static text equal to s among the causes and error codes this table sets (the journal
   reads them back by name); NULL: none is. */
const char *job_text(const char *s);
/* A history entry's cause ("" none) and error code (NULL none). */
const char *job_history_cause(const struct job_history *h);
const char *job_history_error_code(const struct job_history *h);
enum job_state job_state_from_name(const char *name);
const char *job_event_name(enum job_event ev);
/* Hero's `status` field: dispatched, started, finished, error. */
const char *job_hero_status(enum job_state st);
/* funcX's TaskState: waiting-for-nodes, waiting-for-launch, running, success, failed. */
const char *job_funcx_state(enum job_state st);

#endif

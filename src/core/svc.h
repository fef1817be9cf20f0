/*
 * svc: the per-instance state machine.
 *
 * Pure: svc_dispatch() looks up a constant [state][event] table of small
 * action functions; actions change fields, ask for effects (spawn, signal,
 * timer) through the svc_ops the owner supplies, and return the next state.
 * No clock is read here: callers pass `now_ms` (CLOCK_MONOTONIC).
 *
 * Desired state (want_up) is kept apart from actual state. States carry
 * supervisord's names. The whole table is walked by tests/unit/core/test_svc.c
 * with fake ops, no processes.
 */
#ifndef DROVER_SVC_H
#define DROVER_SVC_H

#include <stdbool.h>
#include <stdint.h>

#include "core/backoff.h"

enum svc_state {
    SVC_STOPPED,  /* no process, not wanted (initial, or stopped by request) */
    SVC_STARTING, /* process running, not yet up for start_seconds */
    SVC_RUNNING,  /* process up for at least start_seconds */
    SVC_BACKOFF,  /* no process, a restart is scheduled */
    SVC_STOPPING, /* stop signal sent, waiting for the process group to go */
    SVC_EXITED,   /* process ended and the restart policy says not to restart */
    SVC_FATAL,    /* could not be started, or yo-yo: no more restarts until asked */
    SVC_WAITING,  /* no process, wanted: a program it starts `after` is not ready yet */
    SVC__MAX,
    SVC_INVALID = -1,
};

enum svc_event {
    SVC_EV_START,       /* want it up (initial start, operator start) */
    SVC_EV_STOP,        /* want it down (shutdown, operator stop) */
    SVC_EV_EXIT,        /* the main process was reaped; svc.last_exit holds how */
    SVC_EV_TIMER,       /* the instance's single timer expired */
    SVC_EV_GROUP_EMPTY, /* the last process of the group of an already reaped main process is gone
                         */
    SVC_EV_READY,       /* the worker said READY=1 */
    SVC_EV_HB_LATE,     /* heartbeat timeout with action restart, or WATCHDOG=trigger */
    SVC_EV_UNHEALTHY,   /* the health check failed `failures` times in a row */
    SVC_EV_ADOPT,       /* recovery took over a process an earlier drover started (now_ms: when
                           it started); only a stopped slot takes one */
    SVC_EV_DEPS_READY,  /* every program it starts `after` is ready: a waiting one starts */
    SVC_EV_MEMORY,      /* its process group was above memory_max for two samples in a row */
    SVC_EV_JOB_STUCK,   /* a job it holds ignored CANCEL past cancel_grace, or its job channel did
                           not come back while it held jobs (daemon/jobs.c) */
    SVC_EV__MAX,
    SVC_EV_INVALID = -1,
};

enum svc_restart {
    SVC_RESTART_ALWAYS,
    SVC_RESTART_ON_FAILURE,
    SVC_RESTART_NEVER,
    SVC_RESTART__MAX,
    SVC_RESTART_INVALID = -1
};

enum svc_spawn_result {
    SVC_SPAWN_OK,     /* a process is running */
    SVC_SPAWN_RETRY,  /* transient (no free port, fork failed): retry after a backoff delay */
    SVC_SPAWN_FAILED, /* permanent (exec failed, file unopenable): go fatal */
};

struct svc_exit {
    bool signaled; /* killed by a signal (value is the signal) or exited (value is the code) */
    bool known;    /* false for adopted processes, whose status nobody can collect */
    int value;
};

struct svc_policy {
    enum svc_restart restart;
    int stop_signal;
    int64_t stop_timeout_ms;
    int64_t start_ms; /* start_seconds: time up before STARTING becomes RUNNING */
    bool wait_ready;  /* READY (READY=1, a readiness probe), not start_seconds, makes it RUNNING */
    int64_t start_timeout_ms; /* with wait_ready: no READY=1 by then -> stopped, a failed start */
    struct backoff_policy backoff;
    /*
     * Exit codes (0-255), one bit each. success_codes: what on-failure (and a
     * one-shot) counts as success; only when success_codes_given, else {0}.
     * fatal_codes: an exit with one of these goes fatal at once, no restart.
     */
    bool success_codes_given;
    uint64_t success_codes[4];
    uint64_t fatal_codes[4];
};

/* True when code (0-255) is in the set of bits. */
static inline bool
svc_code_in(const uint64_t set[4], int code)
{
    return code >= 0 && code < 256 && (set[code / 64] >> (code % 64)) & 1;
}

/* An exit that counts as a success under policy: known, not by a signal, a success code. */
bool svc_exit_succeeded(const struct svc_policy *policy, const struct svc_exit *how);

struct svc;

/* Effects requested by actions. The owner implements them; tests fake them. */
struct svc_ops {
    enum svc_spawn_result (*spawn)(struct svc *s);
    void (*signal_group)(struct svc *s, int sig);
    bool (*group_alive)(struct svc *s);
    void (*timer_arm)(struct svc *s, int64_t delay_ms);
    void (*timer_cancel)(struct svc *s);
    /* Called once per state change, after the action ran; for logging. */
    void (*transition)(struct svc *s, enum svc_state from, enum svc_state to, const char *cause);
    /*
     * Called at the end of every svc_dispatch(), after the new state is stored
     * and transition() ran (NULL: none): the owner delivers what the action's
     * effects queued (a spawn's notifications), so that they see the new state.
     */
    void (*settled)(struct svc *s);
    /*
     * A start (START from a state without a process) asks this first (NULL:
     * always true): false leaves it waiting until DEPS_READY. Restarts after
     * an exit, a backoff or a liveness failure do not ask: its dependencies
     * were ready when it first started, and a restart of a dependency does
     * not hold its dependents back either.
     */
    bool (*deps_ready)(struct svc *s);
};

struct svc {
    enum svc_state state;
    bool want_up;
    bool leader_alive;       /* the main process has not been reaped yet */
    unsigned quick_failures; /* exits before start_seconds, in a row */
    unsigned restarts;       /* restarts since drover started (for status) */
    int64_t started_ms;      /* when the current process was spawned */
    /*
     * How the last process ended. has_exit is false until a process of
     * this svc has ended: a slot whose spawns all failed (bad cwd, not
     * executable) has no last exit, which is not the same as an unknown one.
     */
    bool has_exit;
    struct svc_exit last_exit;
    struct backoff tally;
    const struct svc_policy *policy; /* borrowed, outlives the svc */
    const struct svc_ops *ops;       /* borrowed */
    const char *cause;               /* why the last transition happened; static string */
    int64_t next_delay_ms;           /* delay of the pending backoff, for logs */
    bool start_timed_out;            /* STARTING: start timeout hit, stop signal sent */
    bool give_up;            /* STOPPING: a liveness restart tripped yo-yo; fatal once stopped */
    bool notable;            /* the action wants its same-state step logged through transition() */
    uint8_t dispatching;     /* svc_dispatch() calls running for this svc: effects are mid-action */
    const char *ready_cause; /* set by whoever dispatches READY: "READY=1", "tcp probe passed" */
};

void svc_init(struct svc *s, const struct svc_policy *policy, const struct svc_ops *ops);
void svc_done(struct svc *s);

/* Runs the table cell for (s->state, ev). */
void svc_dispatch(struct svc *s, enum svc_event ev, int64_t now_ms);

/* Convenience for EXIT: records how the main process ended (has_exit), then dispatches. */
void svc_exited(struct svc *s, const struct svc_exit *how, int64_t now_ms);

/* True when the exit calls for a restart under the policy. */
bool svc_should_restart(const struct svc_policy *policy, const struct svc_exit *how);

/* True in states that have a live main process. */
bool svc_has_process(enum svc_state st);

const char *svc_state_name(enum svc_state st);
const char *svc_event_name(enum svc_event ev);
const char *svc_restart_name(enum svc_restart r);
enum svc_restart svc_restart_from_name(const char *name);

#endif

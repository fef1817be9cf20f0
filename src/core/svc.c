/*
 * svc: the instance state machine as a constant [state][event] table.
 * See svc.h for the contract; docs/state-machine.md draws the table.
 */
#include "core/svc.h"

#include <assert.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>

typedef enum svc_state (*svc_action)(struct svc *s, int64_t now_ms);

static enum svc_state
goto_running(struct svc *s)
{
    s->quick_failures = 0;
    s->cause = "up for start_seconds";
    return SVC_RUNNING;
}

/* Every path that starts a process comes through here. */
static enum svc_state
try_spawn(struct svc *s, int64_t now_ms)
{
    switch (s->ops->spawn(s)) {
    case SVC_SPAWN_OK:
        s->leader_alive = true;
        s->started_ms = now_ms;
        s->start_timed_out = false;
        if (s->policy->wait_ready) {
            s->ops->timer_arm(s, s->policy->start_timeout_ms);
            return SVC_STARTING;
        }
        if (s->policy->start_ms <= 0) {
            s->quick_failures = 0; /* with no start period every run counts as stable */
            return SVC_RUNNING;
        }
        s->ops->timer_arm(s, s->policy->start_ms);
        return SVC_STARTING;
    case SVC_SPAWN_RETRY:
        /* Not counted as a restart for yo-yo: nothing ran. */
        s->quick_failures++;
        s->next_delay_ms = backoff_delay_ms(&s->policy->backoff, s->quick_failures);
        if (s->next_delay_ms < 100)
            s->next_delay_ms = 100; /* a resource shortage: never spin on it */
        s->ops->timer_arm(s, s->next_delay_ms);
        s->cause = "spawn failed, will retry";
        return SVC_BACKOFF;
    case SVC_SPAWN_FAILED:
        s->cause = "spawn failed";
        return SVC_FATAL;
    }
    return SVC_FATAL;
}

static enum svc_state
act_ignore(struct svc *s, int64_t now_ms)
{
    (void)now_ms;
    return s->state;
}

/* An operator's word overrules a yo-yo verdict: the restarts counted so far are dropped. */
static void
forgive(struct svc *s)
{
    s->give_up = false;
    backoff_reset(&s->tally);
    s->quick_failures = 0;
}

/* START while a process exists: just remember that it is wanted. */
static enum svc_state
act_want_up(struct svc *s, int64_t now_ms)
{
    (void)now_ms;
    if (s->give_up)
        forgive(s); /* stopping after a yo-yo of liveness restarts */
    s->want_up = true;
    return s->state;
}

static enum svc_state
act_start(struct svc *s, int64_t now_ms)
{
    s->want_up = true;
    if (s->ops->deps_ready && !s->ops->deps_ready(s)) {
        s->cause = "start requested, waiting for the programs it starts after";
        return SVC_WAITING;
    }
    s->cause = "start requested";
    return try_spawn(s, now_ms);
}

/* WAITING: what it waited for is ready. */
static enum svc_state
act_deps_ready(struct svc *s, int64_t now_ms)
{
    s->cause = "the programs it starts after are ready";
    return try_spawn(s, now_ms);
}

/* START in backoff: the operator does not want to wait for the delay. */
static enum svc_state
act_start_now(struct svc *s, int64_t now_ms)
{
    s->ops->timer_cancel(s);
    return act_start(s, now_ms);
}

/* START after fatal: the operator clears the yo-yo verdict. */
static enum svc_state
act_start_fresh(struct svc *s, int64_t now_ms)
{
    forgive(s);
    return act_start(s, now_ms);
}

static enum svc_state
act_stop_process(struct svc *s, int64_t now_ms)
{
    (void)now_ms;
    s->want_up = false;
    s->ops->timer_cancel(s);
    s->ops->signal_group(s, s->policy->stop_signal);
    s->ops->timer_arm(s, s->policy->stop_timeout_ms);
    s->cause = "stop requested";
    return SVC_STOPPING;
}

static enum svc_state
act_stop_pending(struct svc *s, int64_t now_ms)
{
    (void)now_ms;
    s->want_up = false;
    s->ops->timer_cancel(s);
    s->cause = "stop requested";
    return SVC_STOPPED;
}

/* STOP while stopping for a restart (heartbeat): stay stopped afterwards. */
static enum svc_state
act_stop_again(struct svc *s, int64_t now_ms)
{
    (void)now_ms;
    s->want_up = false;
    if (s->give_up)
        forgive(s); /* asked to stop: it ends stopped, not fatal (and a restart forgives too) */
    return s->state;
}

static enum svc_state
act_stop_idle(struct svc *s, int64_t now_ms)
{
    (void)now_ms;
    s->want_up = false;
    s->cause = "stop requested";
    return SVC_STOPPED;
}

/* "exit code N is a fatal exit code", from a table: causes are constant strings. */
static const char *
fatal_code_cause(int code)
{
    static const char *const causes[256] = {
        "exit code 0 is a fatal exit code",   "exit code 1 is a fatal exit code",
        "exit code 2 is a fatal exit code",   "exit code 3 is a fatal exit code",
        "exit code 4 is a fatal exit code",   "exit code 5 is a fatal exit code",
        "exit code 6 is a fatal exit code",   "exit code 7 is a fatal exit code",
        "exit code 8 is a fatal exit code",   "exit code 9 is a fatal exit code",
        "exit code 10 is a fatal exit code",  "exit code 11 is a fatal exit code",
        "exit code 12 is a fatal exit code",  "exit code 13 is a fatal exit code",
        "exit code 14 is a fatal exit code",  "exit code 15 is a fatal exit code",
        "exit code 16 is a fatal exit code",  "exit code 17 is a fatal exit code",
        "exit code 18 is a fatal exit code",  "exit code 19 is a fatal exit code",
        "exit code 20 is a fatal exit code",  "exit code 21 is a fatal exit code",
        "exit code 22 is a fatal exit code",  "exit code 23 is a fatal exit code",
        "exit code 24 is a fatal exit code",  "exit code 25 is a fatal exit code",
        "exit code 26 is a fatal exit code",  "exit code 27 is a fatal exit code",
        "exit code 28 is a fatal exit code",  "exit code 29 is a fatal exit code",
        "exit code 30 is a fatal exit code",  "exit code 31 is a fatal exit code",
        "exit code 32 is a fatal exit code",  "exit code 33 is a fatal exit code",
        "exit code 34 is a fatal exit code",  "exit code 35 is a fatal exit code",
        "exit code 36 is a fatal exit code",  "exit code 37 is a fatal exit code",
        "exit code 38 is a fatal exit code",  "exit code 39 is a fatal exit code",
        "exit code 40 is a fatal exit code",  "exit code 41 is a fatal exit code",
        "exit code 42 is a fatal exit code",  "exit code 43 is a fatal exit code",
        "exit code 44 is a fatal exit code",  "exit code 45 is a fatal exit code",
        "exit code 46 is a fatal exit code",  "exit code 47 is a fatal exit code",
        "exit code 48 is a fatal exit code",  "exit code 49 is a fatal exit code",
        "exit code 50 is a fatal exit code",  "exit code 51 is a fatal exit code",
        "exit code 52 is a fatal exit code",  "exit code 53 is a fatal exit code",
        "exit code 54 is a fatal exit code",  "exit code 55 is a fatal exit code",
        "exit code 56 is a fatal exit code",  "exit code 57 is a fatal exit code",
        "exit code 58 is a fatal exit code",  "exit code 59 is a fatal exit code",
        "exit code 60 is a fatal exit code",  "exit code 61 is a fatal exit code",
        "exit code 62 is a fatal exit code",  "exit code 63 is a fatal exit code",
        "exit code 64 is a fatal exit code",  "exit code 65 is a fatal exit code",
        "exit code 66 is a fatal exit code",  "exit code 67 is a fatal exit code",
        "exit code 68 is a fatal exit code",  "exit code 69 is a fatal exit code",
        "exit code 70 is a fatal exit code",  "exit code 71 is a fatal exit code",
        "exit code 72 is a fatal exit code",  "exit code 73 is a fatal exit code",
        "exit code 74 is a fatal exit code",  "exit code 75 is a fatal exit code",
        "exit code 76 is a fatal exit code",  "exit code 77 is a fatal exit code",
        "exit code 78 is a fatal exit code",  "exit code 79 is a fatal exit code",
        "exit code 80 is a fatal exit code",  "exit code 81 is a fatal exit code",
        "exit code 82 is a fatal exit code",  "exit code 83 is a fatal exit code",
        "exit code 84 is a fatal exit code",  "exit code 85 is a fatal exit code",
        "exit code 86 is a fatal exit code",  "exit code 87 is a fatal exit code",
        "exit code 88 is a fatal exit code",  "exit code 89 is a fatal exit code",
        "exit code 90 is a fatal exit code",  "exit code 91 is a fatal exit code",
        "exit code 92 is a fatal exit code",  "exit code 93 is a fatal exit code",
        "exit code 94 is a fatal exit code",  "exit code 95 is a fatal exit code",
        "exit code 96 is a fatal exit code",  "exit code 97 is a fatal exit code",
        "exit code 98 is a fatal exit code",  "exit code 99 is a fatal exit code",
        "exit code 100 is a fatal exit code", "exit code 101 is a fatal exit code",
        "exit code 102 is a fatal exit code", "exit code 103 is a fatal exit code",
        "exit code 104 is a fatal exit code", "exit code 105 is a fatal exit code",
        "exit code 106 is a fatal exit code", "exit code 107 is a fatal exit code",
        "exit code 108 is a fatal exit code", "exit code 109 is a fatal exit code",
        "exit code 110 is a fatal exit code", "exit code 111 is a fatal exit code",
        "exit code 112 is a fatal exit code", "exit code 113 is a fatal exit code",
        "exit code 114 is a fatal exit code", "exit code 115 is a fatal exit code",
        "exit code 116 is a fatal exit code", "exit code 117 is a fatal exit code",
        "exit code 118 is a fatal exit code", "exit code 119 is a fatal exit code",
        "exit code 120 is a fatal exit code", "exit code 121 is a fatal exit code",
        "exit code 122 is a fatal exit code", "exit code 123 is a fatal exit code",
        "exit code 124 is a fatal exit code", "exit code 125 is a fatal exit code",
        "exit code 126 is a fatal exit code", "exit code 127 is a fatal exit code",
        "exit code 128 is a fatal exit code", "exit code 129 is a fatal exit code",
        "exit code 130 is a fatal exit code", "exit code 131 is a fatal exit code",
        "exit code 132 is a fatal exit code", "exit code 133 is a fatal exit code",
        "exit code 134 is a fatal exit code", "exit code 135 is a fatal exit code",
        "exit code 136 is a fatal exit code", "exit code 137 is a fatal exit code",
        "exit code 138 is a fatal exit code", "exit code 139 is a fatal exit code",
        "exit code 140 is a fatal exit code", "exit code 141 is a fatal exit code",
        "exit code 142 is a fatal exit code", "exit code 143 is a fatal exit code",
        "exit code 144 is a fatal exit code", "exit code 145 is a fatal exit code",
        "exit code 146 is a fatal exit code", "exit code 147 is a fatal exit code",
        "exit code 148 is a fatal exit code", "exit code 149 is a fatal exit code",
        "exit code 150 is a fatal exit code", "exit code 151 is a fatal exit code",
        "exit code 152 is a fatal exit code", "exit code 153 is a fatal exit code",
        "exit code 154 is a fatal exit code", "exit code 155 is a fatal exit code",
        "exit code 156 is a fatal exit code", "exit code 157 is a fatal exit code",
        "exit code 158 is a fatal exit code", "exit code 159 is a fatal exit code",
        "exit code 160 is a fatal exit code", "exit code 161 is a fatal exit code",
        "exit code 162 is a fatal exit code", "exit code 163 is a fatal exit code",
        "exit code 164 is a fatal exit code", "exit code 165 is a fatal exit code",
        "exit code 166 is a fatal exit code", "exit code 167 is a fatal exit code",
        "exit code 168 is a fatal exit code", "exit code 169 is a fatal exit code",
        "exit code 170 is a fatal exit code", "exit code 171 is a fatal exit code",
        "exit code 172 is a fatal exit code", "exit code 173 is a fatal exit code",
        "exit code 174 is a fatal exit code", "exit code 175 is a fatal exit code",
        "exit code 176 is a fatal exit code", "exit code 177 is a fatal exit code",
        "exit code 178 is a fatal exit code", "exit code 179 is a fatal exit code",
        "exit code 180 is a fatal exit code", "exit code 181 is a fatal exit code",
        "exit code 182 is a fatal exit code", "exit code 183 is a fatal exit code",
        "exit code 184 is a fatal exit code", "exit code 185 is a fatal exit code",
        "exit code 186 is a fatal exit code", "exit code 187 is a fatal exit code",
        "exit code 188 is a fatal exit code", "exit code 189 is a fatal exit code",
        "exit code 190 is a fatal exit code", "exit code 191 is a fatal exit code",
        "exit code 192 is a fatal exit code", "exit code 193 is a fatal exit code",
        "exit code 194 is a fatal exit code", "exit code 195 is a fatal exit code",
        "exit code 196 is a fatal exit code", "exit code 197 is a fatal exit code",
        "exit code 198 is a fatal exit code", "exit code 199 is a fatal exit code",
        "exit code 200 is a fatal exit code", "exit code 201 is a fatal exit code",
        "exit code 202 is a fatal exit code", "exit code 203 is a fatal exit code",
        "exit code 204 is a fatal exit code", "exit code 205 is a fatal exit code",
        "exit code 206 is a fatal exit code", "exit code 207 is a fatal exit code",
        "exit code 208 is a fatal exit code", "exit code 209 is a fatal exit code",
        "exit code 210 is a fatal exit code", "exit code 211 is a fatal exit code",
        "exit code 212 is a fatal exit code", "exit code 213 is a fatal exit code",
        "exit code 214 is a fatal exit code", "exit code 215 is a fatal exit code",
        "exit code 216 is a fatal exit code", "exit code 217 is a fatal exit code",
        "exit code 218 is a fatal exit code", "exit code 219 is a fatal exit code",
        "exit code 220 is a fatal exit code", "exit code 221 is a fatal exit code",
        "exit code 222 is a fatal exit code", "exit code 223 is a fatal exit code",
        "exit code 224 is a fatal exit code", "exit code 225 is a fatal exit code",
        "exit code 226 is a fatal exit code", "exit code 227 is a fatal exit code",
        "exit code 228 is a fatal exit code", "exit code 229 is a fatal exit code",
        "exit code 230 is a fatal exit code", "exit code 231 is a fatal exit code",
        "exit code 232 is a fatal exit code", "exit code 233 is a fatal exit code",
        "exit code 234 is a fatal exit code", "exit code 235 is a fatal exit code",
        "exit code 236 is a fatal exit code", "exit code 237 is a fatal exit code",
        "exit code 238 is a fatal exit code", "exit code 239 is a fatal exit code",
        "exit code 240 is a fatal exit code", "exit code 241 is a fatal exit code",
        "exit code 242 is a fatal exit code", "exit code 243 is a fatal exit code",
        "exit code 244 is a fatal exit code", "exit code 245 is a fatal exit code",
        "exit code 246 is a fatal exit code", "exit code 247 is a fatal exit code",
        "exit code 248 is a fatal exit code", "exit code 249 is a fatal exit code",
        "exit code 250 is a fatal exit code", "exit code 251 is a fatal exit code",
        "exit code 252 is a fatal exit code", "exit code 253 is a fatal exit code",
        "exit code 254 is a fatal exit code", "exit code 255 is a fatal exit code",
    };

    return code >= 0 && code < 256 ? causes[code] : "a fatal exit code";
}

/*
 * The main process died on its own. What is left of its process group is
 * killed: those processes belong to a dead instance and would otherwise hold
 * its port or its files (systemd does the same with the rest of a cgroup).
 */
static enum svc_state
after_unexpected_exit(struct svc *s, int64_t now_ms, bool quick)
{
    int yoyo;

    s->leader_alive = false;
    s->ops->timer_cancel(s);
    if (s->ops->group_alive(s))
        s->ops->signal_group(s, SIGKILL);
    if (s->last_exit.known && !s->last_exit.signaled &&
        svc_code_in(s->policy->fatal_codes, s->last_exit.value)) {
        s->cause = fatal_code_cause(s->last_exit.value);
        return SVC_FATAL;
    }
    if (!svc_should_restart(s->policy, &s->last_exit)) {
        s->cause = "restart policy says no";
        return SVC_EXITED;
    }
    yoyo = backoff_tally(&s->tally, &s->policy->backoff, now_ms);
    if (yoyo > 0) {
        s->cause = "yo-yo: too many restarts within the window";
        return SVC_FATAL;
    }
    s->restarts++;
    if (quick) {
        /* Only back-to-back quick exits back off: the first one restarts at once. */
        s->quick_failures++;
        s->next_delay_ms = backoff_delay_ms(&s->policy->backoff, s->quick_failures - 1);
        if (s->next_delay_ms > 0) {
            s->ops->timer_arm(s, s->next_delay_ms);
            s->cause = "exited before start_seconds, backing off";
            return SVC_BACKOFF;
        }
    } else {
        s->quick_failures = 0;
    }
    s->cause =
        quick ? "exited before start_seconds, restarting at once" : "exited, restarting at once";
    return try_spawn(s, now_ms);
}

static enum svc_state
act_exit_starting(struct svc *s, int64_t now_ms)
{
    return after_unexpected_exit(s, now_ms, true);
}

static enum svc_state
act_exit_running(struct svc *s, int64_t now_ms)
{
    return after_unexpected_exit(s, now_ms, false);
}

static enum svc_state
finish_stop(struct svc *s, int64_t now_ms)
{
    s->ops->timer_cancel(s);
    if (s->give_up) {
        s->give_up = false;
        s->cause = "yo-yo: too many restarts within the window";
        return SVC_FATAL;
    }
    if (s->want_up) {
        s->cause = "stopped, start was requested meanwhile";
        return try_spawn(s, now_ms);
    }
    s->cause = "stopped";
    return SVC_STOPPED;
}

/* The main process is gone; the rest of its group may still be draining. */
static enum svc_state
act_exit_stopping(struct svc *s, int64_t now_ms)
{
    s->leader_alive = false;
    if (s->ops->group_alive(s)) {
        s->cause = "main process gone, waiting for the rest of its group";
        return SVC_STOPPING; /* the stop timer will SIGKILL the rest */
    }
    return finish_stop(s, now_ms);
}

/* stop_timeout expired: SIGKILL cannot be ignored. */
static enum svc_state
act_kill(struct svc *s, int64_t now_ms)
{
    s->ops->signal_group(s, SIGKILL);
    if (!s->leader_alive)
        return finish_stop(s, now_ms);
    /* Wait for the reap; re-arm in case the leader is stuck in the kernel. */
    s->ops->timer_arm(s, s->policy->stop_timeout_ms);
    return SVC_STOPPING;
}

/* The rest of the group drained before the stop timeout: no need to wait for it. */
static enum svc_state
act_group_empty(struct svc *s, int64_t now_ms)
{
    if (s->leader_alive)
        return s->state;
    return finish_stop(s, now_ms);
}

/* STARTING's timer: start_seconds passed, or (ready: notify) the start timeout. */
static enum svc_state
act_started(struct svc *s, int64_t now_ms)
{
    (void)now_ms;
    if (!s->policy->wait_ready)
        return goto_running(s);
    if (!s->start_timed_out) {
        /* No READY=1 in time: stop it; its exit counts as a failed start. */
        s->start_timed_out = true;
        s->ops->signal_group(s, s->policy->stop_signal);
        s->ops->timer_arm(s, s->policy->stop_timeout_ms);
        s->cause = "not ready within start_timeout, stopping it";
        s->notable = true;
        return SVC_STARTING;
    }
    s->ops->signal_group(s, SIGKILL);
    s->ops->timer_arm(s, s->policy->stop_timeout_ms);
    return SVC_STARTING;
}

static enum svc_state
act_ready(struct svc *s, int64_t now_ms)
{
    (void)now_ms;
    if (!s->policy->wait_ready || s->start_timed_out)
        return s->state;
    s->ops->timer_cancel(s);
    s->quick_failures = 0;
    s->cause = s->ready_cause ? s->ready_cause : "ready";
    return SVC_RUNNING;
}

/*
 * A liveness failure: stop it, and start it again once stopped (a restart).
 * It counts toward yo-yo as an exit does: past the limit it is stopped for
 * good, and goes fatal once stopped (give_up), instead of looping.
 */
static enum svc_state
restart_for(struct svc *s, int64_t now_ms, const char *cause, const char *giving_up)
{
    s->ops->timer_cancel(s);
    s->ops->signal_group(s, s->policy->stop_signal);
    s->ops->timer_arm(s, s->policy->stop_timeout_ms);
    if (backoff_tally(&s->tally, &s->policy->backoff, now_ms) > 0) {
        s->want_up = false;
        s->give_up = true;
        s->cause = giving_up;
        return SVC_STOPPING;
    }
    s->want_up = true;
    s->restarts++;
    s->cause = cause;
    return SVC_STOPPING;
}

/* Silent past the heartbeat timeout (or the worker said WATCHDOG=trigger). */
static enum svc_state
act_hb_late(struct svc *s, int64_t now_ms)
{
    return restart_for(s, now_ms, "heartbeat timeout, restarting",
                       "heartbeat timeout, too many restarts within the yo-yo window: stopping it");
}

static enum svc_state
act_unhealthy(struct svc *s, int64_t now_ms)
{
    return restart_for(s, now_ms, "health check failing, restarting",
                       "health check failing, too many restarts within the yo-yo window: "
                       "stopping it");
}

/*
 * Above memory_max for two samples in a row (daemon/memwatch.c). The cause
 * is the one word "memory": logs, /events and hooks name it so.
 */
static enum svc_state
act_memory(struct svc *s, int64_t now_ms)
{
    return restart_for(s, now_ms, "memory",
                       "memory, too many restarts within the yo-yo window: stopping it");
}

/* A job it holds is stuck (daemon/jobs.c): a restart, as a heartbeat timeout. */
static enum svc_state
act_job_stuck(struct svc *s, int64_t now_ms)
{
    return restart_for(s, now_ms, "job stuck, restarting",
                       "job stuck, too many restarts within the yo-yo window: stopping it");
}

static enum svc_state
act_retry(struct svc *s, int64_t now_ms)
{
    s->cause = "backoff delay over";
    return try_spawn(s, now_ms);
}

/* An earlier drover's process, taken over: up, as it was since now_ms (its start). */
static enum svc_state
act_adopt(struct svc *s, int64_t now_ms)
{
    s->want_up = true;
    s->leader_alive = true;
    s->started_ms = now_ms;
    s->cause = "adopted from an earlier drover";
    return SVC_RUNNING;
}

/*
 * Rows: state. Columns: START, STOP, EXIT, TIMER, GROUP_EMPTY, READY, HB_LATE,
 * UNHEALTHY, ADOPT, DEPS_READY, MEMORY, JOB_STUCK. Every cell is explicit.
 * Only a stopped slot adopts: recovery runs before the first start, and
 * never adopts twice into a slot. Only a waiting slot acts on DEPS_READY: the others either run or
 * were not asked to.
 */
static const svc_action actions[SVC__MAX][SVC_EV__MAX] = {
    /* clang-format off */
    [SVC_STOPPED]  = { act_start,       act_ignore,       act_ignore,        act_ignore,  act_ignore,
                       act_ignore,      act_ignore,       act_ignore,    act_adopt,  act_ignore,
                       act_ignore,      act_ignore },
    [SVC_STARTING] = { act_want_up,     act_stop_process, act_exit_starting, act_started, act_ignore,
                       act_ready,       act_hb_late,      act_ignore,    act_ignore, act_ignore,
                       act_memory,      act_job_stuck },
    [SVC_RUNNING]  = { act_want_up,     act_stop_process, act_exit_running,  act_ignore,  act_ignore,
                       act_ignore,      act_hb_late,      act_unhealthy, act_ignore, act_ignore,
                       act_memory,      act_job_stuck },
    [SVC_BACKOFF]  = { act_start_now,   act_stop_pending, act_ignore,        act_retry,   act_ignore,
                       act_ignore,      act_ignore,       act_ignore,    act_ignore, act_ignore,
                       act_ignore,      act_ignore },
    [SVC_STOPPING] = { act_want_up,     act_stop_again,   act_exit_stopping, act_kill,    act_group_empty,
                       act_ignore,      act_ignore,       act_ignore,    act_ignore, act_ignore,
                       act_ignore,      act_ignore },
    [SVC_EXITED]   = { act_start,       act_stop_idle,    act_ignore,        act_ignore,  act_ignore,
                       act_ignore,      act_ignore,       act_ignore,    act_ignore, act_ignore,
                       act_ignore,      act_ignore },
    [SVC_FATAL]    = { act_start_fresh, act_stop_idle,    act_ignore,        act_ignore,  act_ignore,
                       act_ignore,      act_ignore,       act_ignore,    act_ignore, act_ignore,
                       act_ignore,      act_ignore },
    [SVC_WAITING]  = { act_ignore,      act_stop_idle,    act_ignore,        act_ignore,  act_ignore,
                       act_ignore,      act_ignore,       act_ignore,    act_ignore, act_deps_ready,
                       act_ignore,      act_ignore },
    /* clang-format on */
};

void
svc_init(struct svc *s, const struct svc_policy *policy, const struct svc_ops *ops)
{
    *s = (struct svc){
        .state = SVC_STOPPED,
        .policy = policy,
        .ops = ops,
        .cause = "initial",
    };
}

void
svc_done(struct svc *s)
{
    backoff_done(&s->tally);
}

void
svc_dispatch(struct svc *s, enum svc_event ev, int64_t now_ms)
{
    enum svc_state from = s->state;
    enum svc_state to;

    assert(ev >= 0 && ev < SVC_EV__MAX);
    s->dispatching++;
    to = actions[from][ev](s, now_ms);
    s->state = to;
    s->dispatching--;
    /* An exit is always worth a line, even when a restart lands in the same state. */
    if (to != from || ev == SVC_EV_EXIT || s->notable) {
        s->notable = false;
        s->ops->transition(s, from, to, s->cause);
    }
    if (s->ops->settled &&
        s->dispatching == 0) /* the outermost dispatch of s: its state is stored */
        s->ops->settled(s);
}

void
svc_exited(struct svc *s, const struct svc_exit *how, int64_t now_ms)
{
    s->has_exit = true;
    s->last_exit = *how;
    svc_dispatch(s, SVC_EV_EXIT, now_ms);
}

bool
svc_exit_succeeded(const struct svc_policy *policy, const struct svc_exit *how)
{
    /* An adopted process's status is unknown: assume it failed. */
    if (!how->known || how->signaled)
        return false;
    return policy->success_codes_given ? svc_code_in(policy->success_codes, how->value)
                                       : how->value == 0;
}

bool
svc_should_restart(const struct svc_policy *policy, const struct svc_exit *how)
{
    switch (policy->restart) {
    case SVC_RESTART_ALWAYS:
        return true;
    case SVC_RESTART_NEVER:
        return false;
    case SVC_RESTART_ON_FAILURE:
        return !svc_exit_succeeded(policy, how);
    case SVC_RESTART__MAX:
    case SVC_RESTART_INVALID:
        break;
    }
    return false;
}

bool
svc_has_process(enum svc_state st)
{
    return st == SVC_STARTING || st == SVC_RUNNING || st == SVC_STOPPING;
}

const char *
svc_state_name(enum svc_state st)
{
    static const char *const names[SVC__MAX] = {
        [SVC_STOPPED] = "stopped", [SVC_STARTING] = "starting", [SVC_RUNNING] = "running",
        [SVC_BACKOFF] = "backoff", [SVC_STOPPING] = "stopping", [SVC_EXITED] = "exited",
        [SVC_FATAL] = "fatal",     [SVC_WAITING] = "waiting",
    };
    return st >= 0 && st < SVC__MAX ? names[st] : "invalid";
}

const char *
svc_event_name(enum svc_event ev)
{
    static const char *const names[SVC_EV__MAX] = {
        [SVC_EV_START] = "start",
        [SVC_EV_STOP] = "stop",
        [SVC_EV_EXIT] = "exit",
        [SVC_EV_TIMER] = "timer",
        [SVC_EV_GROUP_EMPTY] = "group-empty",
        [SVC_EV_READY] = "ready",
        [SVC_EV_HB_LATE] = "heartbeat-late",
        [SVC_EV_UNHEALTHY] = "unhealthy",
        [SVC_EV_ADOPT] = "adopt",
        [SVC_EV_DEPS_READY] = "deps-ready",
        [SVC_EV_MEMORY] = "memory",
        [SVC_EV_JOB_STUCK] = "job-stuck",
    };
    return ev >= 0 && ev < SVC_EV__MAX ? names[ev] : "invalid";
}

static const char *const restart_names[SVC_RESTART__MAX] = {
    [SVC_RESTART_ALWAYS] = "always",
    [SVC_RESTART_ON_FAILURE] = "on-failure",
    [SVC_RESTART_NEVER] = "never",
};

const char *
svc_restart_name(enum svc_restart r)
{
    return r >= 0 && r < SVC_RESTART__MAX ? restart_names[r] : "invalid";
}

enum svc_restart
svc_restart_from_name(const char *name)
{
    for (int r = 0; r < SVC_RESTART__MAX; r++)
        if (strcmp(name, restart_names[r]) == 0)
            return (enum svc_restart)r;
    return SVC_RESTART_INVALID;
}

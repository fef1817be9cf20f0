/*
 * test_svc: the instance state machine (src/core/svc.c) with fake svc_ops that
 * record every effect in order, no processes. The first test walks every
 * (state, event) cell of the 8 x 11 table and compares the next state and
 * the exact effect log; the rest follow the paths of docs/state-machine.md:
 * start, quick exits and backoff, respawn after a normal exit, restart
 * policies, yo-yo, spawn failures, stopping and its SIGKILL escalation, and
 * the small name and policy helpers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/svc.h"
#include "core/util.h"

/* --- fake effects ---------------------------------------------------------------------------- */

static struct {
    enum svc_spawn_result spawn_result;
    bool group_alive;
    char log[1024]; /* every effect, in order, space separated */
    unsigned nspawn, nsignal, narm, ncancel, ntransition, nsettled;
    enum svc_state settled_state;
    int last_signal;
    int64_t last_arm;
    enum svc_state last_from, last_to;
    const char *last_cause;
    bool deps_blocked; /* deps_ready() says no */
    unsigned ndeps_asked;
} F;

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
logf_(const char *fmt, ...)
{
    size_t len = strlen(F.log);
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(F.log + len, sizeof(F.log) - len, fmt, ap);
    va_end(ap);
}

static enum svc_spawn_result
fake_spawn(struct svc *s)
{
    assert_int_equal(s->dispatching, 1); /* inside the action: the new state is not stored yet */
    F.nspawn++;
    logf_("spawn ");
    return F.spawn_result;
}

static void
fake_signal_group(struct svc *s, int sig)
{
    (void)s;
    F.nsignal++;
    F.last_signal = sig;
    logf_("sig%d ", sig);
}

static bool
fake_group_alive(struct svc *s)
{
    (void)s;
    return F.group_alive;
}

static void
fake_timer_arm(struct svc *s, int64_t delay_ms)
{
    (void)s;
    F.narm++;
    F.last_arm = delay_ms;
    logf_("arm%lld ", (long long)delay_ms);
}

static void
fake_timer_cancel(struct svc *s)
{
    (void)s;
    F.ncancel++;
    logf_("cancel ");
}

static void
fake_transition(struct svc *s, enum svc_state from, enum svc_state to, const char *cause)
{
    /* Called after the action: the svc's state is already the new one. */
    assert_int_equal(s->state, to);
    assert_non_null(cause);
    assert_ptr_equal(cause, s->cause);
    F.ntransition++;
    F.last_from = from;
    F.last_to = to;
    F.last_cause = cause;
    logf_("T(%s>%s) ", svc_state_name(from), svc_state_name(to));
}

/* After every dispatch, once, with the new state stored and no action running. */
static void
fake_settled(struct svc *s)
{
    assert_int_equal(s->dispatching, 0);
    F.nsettled++;
    F.settled_state = s->state;
}

static bool
fake_deps_ready(struct svc *s)
{
    (void)s;
    F.ndeps_asked++;
    return !F.deps_blocked;
}

static const struct svc_ops fake_ops = {
    .spawn = fake_spawn,
    .signal_group = fake_signal_group,
    .group_alive = fake_group_alive,
    .timer_arm = fake_timer_arm,
    .timer_cancel = fake_timer_cancel,
    .transition = fake_transition,
    .settled = fake_settled,
    .deps_ready = fake_deps_ready,
};

static void
reset_fake(void)
{
    memset(&F, 0, sizeof(F));
    F.spawn_result = SVC_SPAWN_OK;
    F.last_signal = -1;
    F.last_arm = -1;
}

/* Forget the effects so far, keep the configuration of the fakes. */
static void
clear_log(void)
{
    F.log[0] = '\0';
    F.nspawn = F.nsignal = F.narm = F.ncancel = F.ntransition = 0;
}

/* A policy with easily told-apart numbers: TERM 15, stop 10000, start 1000, backoff 100..30000. */
static struct svc_policy
std_policy(void)
{
    return (struct svc_policy){
        .restart = SVC_RESTART_ALWAYS,
        .stop_signal = SIGTERM,
        .stop_timeout_ms = 10000,
        .start_ms = 1000,
        .backoff = { .initial_ms = 100, .max_ms = 30000, .yoyo_limit = 0, .yoyo_window_ms = 60000 },
    };
}

static const struct svc_exit exit_code_1 = { .known = true, .value = 1 };
static const struct svc_exit exit_code_0 = { .known = true, .value = 0 };
static const struct svc_exit exit_signal_9 = { .known = true, .signaled = true, .value = SIGKILL };
static const struct svc_exit exit_unknown = { .known = false };

/* --- the whole table ------------------------------------------------------------------------- */

struct cell {
    enum svc_state from;
    enum svc_event ev;
    enum svc_state to;
    const char *log;
    bool want_up; /* want_up afterwards */
};

/*
 * Set-up for every cell: policy std_policy() (restart always, no yo-yo),
 * spawn OK, process group empty, leader alive in the states that have a
 * process, want_up true where a process is wanted, last exit code 1, no
 * quick failures yet.
 */
static const struct cell table[] = {
    { SVC_STOPPED, SVC_EV_START, SVC_STARTING, "spawn arm1000 T(stopped>starting) ", true },
    { SVC_STOPPED, SVC_EV_STOP, SVC_STOPPED, "", false },
    { SVC_STOPPED, SVC_EV_EXIT, SVC_STOPPED, "T(stopped>stopped) ", false },
    { SVC_STOPPED, SVC_EV_TIMER, SVC_STOPPED, "", false },
    { SVC_STOPPED, SVC_EV_GROUP_EMPTY, SVC_STOPPED, "", false },
    { SVC_STOPPED, SVC_EV_READY, SVC_STOPPED, "", false },
    { SVC_STOPPED, SVC_EV_HB_LATE, SVC_STOPPED, "", false },
    { SVC_STOPPED, SVC_EV_UNHEALTHY, SVC_STOPPED, "", false },
    /* Recovery takes over an earlier drover's process: up, no effect asked for. */
    { SVC_STOPPED, SVC_EV_ADOPT, SVC_RUNNING, "T(stopped>running) ", true },
    { SVC_STOPPED, SVC_EV_DEPS_READY, SVC_STOPPED, "", false },
    { SVC_STOPPED, SVC_EV_MEMORY, SVC_STOPPED, "", false },
    { SVC_STOPPED, SVC_EV_JOB_STUCK, SVC_STOPPED, "", false },

    { SVC_STARTING, SVC_EV_START, SVC_STARTING, "", true },
    { SVC_STARTING, SVC_EV_STOP, SVC_STOPPING, "cancel sig15 arm10000 T(starting>stopping) ",
      false },
    /* First quick exit: respawn at once. */
    { SVC_STARTING, SVC_EV_EXIT, SVC_STARTING, "cancel spawn arm1000 T(starting>starting) ", true },
    { SVC_STARTING, SVC_EV_TIMER, SVC_RUNNING, "T(starting>running) ", true },
    { SVC_STARTING, SVC_EV_GROUP_EMPTY, SVC_STARTING, "", true },
    /* ready "exec" (std_policy): READY=1 is only information. */
    { SVC_STARTING, SVC_EV_READY, SVC_STARTING, "", true },
    { SVC_STARTING, SVC_EV_HB_LATE, SVC_STOPPING, "cancel sig15 arm10000 T(starting>stopping) ",
      true },
    { SVC_STARTING, SVC_EV_UNHEALTHY, SVC_STARTING, "", true },
    { SVC_STARTING, SVC_EV_ADOPT, SVC_STARTING, "", true },
    { SVC_STARTING, SVC_EV_DEPS_READY, SVC_STARTING, "", true },
    { SVC_STARTING, SVC_EV_MEMORY, SVC_STOPPING, "cancel sig15 arm10000 T(starting>stopping) ",
      true },
    { SVC_STARTING, SVC_EV_JOB_STUCK, SVC_STOPPING, "cancel sig15 arm10000 T(starting>stopping) ",
      true },

    { SVC_RUNNING, SVC_EV_START, SVC_RUNNING, "", true },
    { SVC_RUNNING, SVC_EV_STOP, SVC_STOPPING, "cancel sig15 arm10000 T(running>stopping) ", false },
    { SVC_RUNNING, SVC_EV_EXIT, SVC_STARTING, "cancel spawn arm1000 T(running>starting) ", true },
    { SVC_RUNNING, SVC_EV_TIMER, SVC_RUNNING, "", true },
    { SVC_RUNNING, SVC_EV_GROUP_EMPTY, SVC_RUNNING, "", true },
    { SVC_RUNNING, SVC_EV_READY, SVC_RUNNING, "", true },
    /* A restart: stopped, then started again (want_up stays). */
    { SVC_RUNNING, SVC_EV_HB_LATE, SVC_STOPPING, "cancel sig15 arm10000 T(running>stopping) ",
      true },
    { SVC_RUNNING, SVC_EV_UNHEALTHY, SVC_STOPPING, "cancel sig15 arm10000 T(running>stopping) ",
      true },
    { SVC_RUNNING, SVC_EV_ADOPT, SVC_RUNNING, "", true },
    { SVC_RUNNING, SVC_EV_DEPS_READY, SVC_RUNNING, "", true },
    /* Above memory_max twice in a row: a restart, as HB_LATE. */
    { SVC_RUNNING, SVC_EV_MEMORY, SVC_STOPPING, "cancel sig15 arm10000 T(running>stopping) ",
      true },
    { SVC_RUNNING, SVC_EV_JOB_STUCK, SVC_STOPPING, "cancel sig15 arm10000 T(running>stopping) ",
      true },

    { SVC_BACKOFF, SVC_EV_START, SVC_STARTING, "cancel spawn arm1000 T(backoff>starting) ", true },
    { SVC_BACKOFF, SVC_EV_STOP, SVC_STOPPED, "cancel T(backoff>stopped) ", false },
    { SVC_BACKOFF, SVC_EV_EXIT, SVC_BACKOFF, "T(backoff>backoff) ", true },
    { SVC_BACKOFF, SVC_EV_TIMER, SVC_STARTING, "spawn arm1000 T(backoff>starting) ", true },
    { SVC_BACKOFF, SVC_EV_GROUP_EMPTY, SVC_BACKOFF, "", true },
    { SVC_BACKOFF, SVC_EV_READY, SVC_BACKOFF, "", true },
    { SVC_BACKOFF, SVC_EV_HB_LATE, SVC_BACKOFF, "", true },
    { SVC_BACKOFF, SVC_EV_UNHEALTHY, SVC_BACKOFF, "", true },
    { SVC_BACKOFF, SVC_EV_ADOPT, SVC_BACKOFF, "", true },
    { SVC_BACKOFF, SVC_EV_DEPS_READY, SVC_BACKOFF, "", true },
    { SVC_BACKOFF, SVC_EV_MEMORY, SVC_BACKOFF, "", true },
    { SVC_BACKOFF, SVC_EV_JOB_STUCK, SVC_BACKOFF, "", true },

    /* Stopping: want_up false (a stop was asked for). */
    { SVC_STOPPING, SVC_EV_START, SVC_STOPPING, "", true },
    { SVC_STOPPING, SVC_EV_STOP, SVC_STOPPING, "", false },
    { SVC_STOPPING, SVC_EV_EXIT, SVC_STOPPED, "cancel T(stopping>stopped) ", false },
    { SVC_STOPPING, SVC_EV_TIMER, SVC_STOPPING, "sig9 arm10000 ", false },
    /* The leader is still alive here: the group is not done until it is reaped. */
    { SVC_STOPPING, SVC_EV_GROUP_EMPTY, SVC_STOPPING, "", false },
    { SVC_STOPPING, SVC_EV_READY, SVC_STOPPING, "", false },
    { SVC_STOPPING, SVC_EV_HB_LATE, SVC_STOPPING, "", false },
    { SVC_STOPPING, SVC_EV_UNHEALTHY, SVC_STOPPING, "", false },
    { SVC_STOPPING, SVC_EV_ADOPT, SVC_STOPPING, "", false },
    { SVC_STOPPING, SVC_EV_DEPS_READY, SVC_STOPPING, "", false },
    { SVC_STOPPING, SVC_EV_MEMORY, SVC_STOPPING, "", false },
    { SVC_STOPPING, SVC_EV_JOB_STUCK, SVC_STOPPING, "", false },

    { SVC_EXITED, SVC_EV_START, SVC_STARTING, "spawn arm1000 T(exited>starting) ", true },
    { SVC_EXITED, SVC_EV_STOP, SVC_STOPPED, "T(exited>stopped) ", false },
    { SVC_EXITED, SVC_EV_EXIT, SVC_EXITED, "T(exited>exited) ", true },
    { SVC_EXITED, SVC_EV_TIMER, SVC_EXITED, "", true },
    { SVC_EXITED, SVC_EV_GROUP_EMPTY, SVC_EXITED, "", true },
    { SVC_EXITED, SVC_EV_READY, SVC_EXITED, "", true },
    { SVC_EXITED, SVC_EV_HB_LATE, SVC_EXITED, "", true },
    { SVC_EXITED, SVC_EV_UNHEALTHY, SVC_EXITED, "", true },
    { SVC_EXITED, SVC_EV_ADOPT, SVC_EXITED, "", true },
    { SVC_EXITED, SVC_EV_DEPS_READY, SVC_EXITED, "", true },
    { SVC_EXITED, SVC_EV_MEMORY, SVC_EXITED, "", true },
    { SVC_EXITED, SVC_EV_JOB_STUCK, SVC_EXITED, "", true },

    { SVC_FATAL, SVC_EV_START, SVC_STARTING, "spawn arm1000 T(fatal>starting) ", true },
    { SVC_FATAL, SVC_EV_STOP, SVC_STOPPED, "T(fatal>stopped) ", false },
    { SVC_FATAL, SVC_EV_EXIT, SVC_FATAL, "T(fatal>fatal) ", true },
    { SVC_FATAL, SVC_EV_TIMER, SVC_FATAL, "", true },
    { SVC_FATAL, SVC_EV_GROUP_EMPTY, SVC_FATAL, "", true },
    { SVC_FATAL, SVC_EV_READY, SVC_FATAL, "", true },
    { SVC_FATAL, SVC_EV_HB_LATE, SVC_FATAL, "", true },
    { SVC_FATAL, SVC_EV_UNHEALTHY, SVC_FATAL, "", true },
    { SVC_FATAL, SVC_EV_ADOPT, SVC_FATAL, "", true },
    { SVC_FATAL, SVC_EV_DEPS_READY, SVC_FATAL, "", true },
    { SVC_FATAL, SVC_EV_MEMORY, SVC_FATAL, "", true },
    { SVC_FATAL, SVC_EV_JOB_STUCK, SVC_FATAL, "", true },

    /* Waiting: wanted, no process; only its dependencies being ready (or a stop) moves it. */
    { SVC_WAITING, SVC_EV_START, SVC_WAITING, "", true },
    { SVC_WAITING, SVC_EV_STOP, SVC_STOPPED, "T(waiting>stopped) ", false },
    { SVC_WAITING, SVC_EV_EXIT, SVC_WAITING, "T(waiting>waiting) ", true },
    { SVC_WAITING, SVC_EV_TIMER, SVC_WAITING, "", true },
    { SVC_WAITING, SVC_EV_GROUP_EMPTY, SVC_WAITING, "", true },
    { SVC_WAITING, SVC_EV_READY, SVC_WAITING, "", true },
    { SVC_WAITING, SVC_EV_HB_LATE, SVC_WAITING, "", true },
    { SVC_WAITING, SVC_EV_UNHEALTHY, SVC_WAITING, "", true },
    { SVC_WAITING, SVC_EV_ADOPT, SVC_WAITING, "", true },
    { SVC_WAITING, SVC_EV_DEPS_READY, SVC_STARTING, "spawn arm1000 T(waiting>starting) ", true },
    { SVC_WAITING, SVC_EV_MEMORY, SVC_WAITING, "", true },
    { SVC_WAITING, SVC_EV_JOB_STUCK, SVC_WAITING, "", true },
};

static bool
initially_wanted(enum svc_state st)
{
    return st == SVC_STARTING || st == SVC_RUNNING || st == SVC_BACKOFF || st == SVC_EXITED ||
           st == SVC_FATAL || st == SVC_WAITING;
}

static void
every_cell_of_the_table(void **state)
{
    const struct svc_policy pol = std_policy();
    unsigned visited = 0;
    (void)state;

    for (int st = 0; st < SVC__MAX; st++) {
        for (int ev = 0; ev < SVC_EV__MAX; ev++) {
            const struct cell *c = NULL;
            char got[1400], want[1400];
            struct svc s;

            for (size_t i = 0; i < ARRAY_SIZE(table); i++)
                if ((int)table[i].from == st && (int)table[i].ev == ev)
                    c = &table[i];
            if (!c)
                print_error("no table entry for %s + %s\n", svc_state_name((enum svc_state)st),
                            svc_event_name((enum svc_event)ev));
            assert_non_null(c);

            reset_fake();
            svc_init(&s, &pol, &fake_ops);
            s.state = (enum svc_state)st;
            s.want_up = initially_wanted(s.state);
            s.leader_alive = svc_has_process(s.state);
            s.last_exit = exit_code_1;
            svc_dispatch(&s, (enum svc_event)ev, 5000);

            /* One string per cell, so that a failure names the cell. */
            (void)snprintf(got, sizeof(got), "%s+%s -> %s want_up=%d: %s", svc_state_name(c->from),
                           svc_event_name(c->ev), svc_state_name(s.state), s.want_up, F.log);
            (void)snprintf(want, sizeof(want), "%s+%s -> %s want_up=%d: %s",
                           svc_state_name(c->from), svc_event_name(c->ev), svc_state_name(c->to),
                           c->want_up, c->log);
            assert_string_equal(got, want);
            /* The transition callback saw the change (or the exit) with the right ends. */
            if (F.ntransition) {
                assert_int_equal(F.last_from, c->from);
                assert_int_equal(F.last_to, c->to);
            }
            /* Whatever was spawned counts as a live leader. */
            if (F.nspawn)
                assert_true(s.leader_alive);
            /* settled() ran once, after the new state was stored: what a spawn queued sees it. */
            assert_int_equal(F.nsettled, 1);
            assert_int_equal(F.settled_state, c->to);
            svc_done(&s);
            visited++;
        }
    }
    assert_int_equal(visited, SVC__MAX * SVC_EV__MAX);
    assert_int_equal(ARRAY_SIZE(table), SVC__MAX * SVC_EV__MAX);
}

/* --- paths ------------------------------------------------------------------------------------ */

/* A start whose dependencies are not ready waits, spawns nothing, and starts once they are. */
static void
start_waits_for_dependencies(void **state)
{
    static const enum svc_state from[] = { SVC_STOPPED, SVC_EXITED, SVC_FATAL, SVC_BACKOFF };
    struct svc_policy pol = std_policy();
    (void)state;

    for (size_t i = 0; i < ARRAY_SIZE(from); i++) {
        struct svc s;

        reset_fake();
        F.deps_blocked = true;
        svc_init(&s, &pol, &fake_ops);
        s.state = from[i];
        s.want_up = from[i] != SVC_STOPPED;
        svc_dispatch(&s, SVC_EV_START, 0);
        assert_int_equal(s.state, SVC_WAITING);
        assert_true(s.want_up);
        assert_int_equal(F.nspawn, 0);
        assert_int_equal(F.ndeps_asked, 1);
        svc_dispatch(&s, SVC_EV_START, 10); /* asked again: still waiting, asks nothing */
        assert_int_equal(s.state, SVC_WAITING);
        assert_int_equal(F.ndeps_asked, 1);
        F.deps_blocked = false;
        svc_dispatch(&s, SVC_EV_DEPS_READY, 20);
        assert_int_equal(s.state, SVC_STARTING);
        assert_int_equal(F.nspawn, 1);
        assert_int_equal(s.started_ms, 20);
        svc_done(&s);
    }
}

/* A stop while waiting leaves it stopped: DEPS_READY afterwards starts nothing. */
static void
stop_while_waiting(void **state)
{
    struct svc_policy pol = std_policy();
    struct svc s;
    (void)state;

    reset_fake();
    F.deps_blocked = true;
    svc_init(&s, &pol, &fake_ops);
    svc_dispatch(&s, SVC_EV_START, 0);
    assert_int_equal(s.state, SVC_WAITING);
    svc_dispatch(&s, SVC_EV_STOP, 1);
    assert_int_equal(s.state, SVC_STOPPED);
    assert_false(s.want_up);
    F.deps_blocked = false;
    svc_dispatch(&s, SVC_EV_DEPS_READY, 2);
    assert_int_equal(s.state, SVC_STOPPED);
    assert_int_equal(F.nspawn, 0);
    svc_done(&s);
}

/* A restart (an exit, a backoff delay over) does not ask: it was ready when it first started. */
static void
restart_does_not_wait_for_dependencies(void **state)
{
    struct svc_policy pol = std_policy();
    struct svc s;
    (void)state;

    reset_fake();
    svc_init(&s, &pol, &fake_ops);
    svc_dispatch(&s, SVC_EV_START, 0);
    assert_int_equal(s.state, SVC_STARTING);
    svc_dispatch(&s, SVC_EV_TIMER, 1000);
    assert_int_equal(s.state, SVC_RUNNING);
    F.deps_blocked = true;
    F.ndeps_asked = 0;
    svc_exited(&s, &exit_code_1, 5000);
    assert_int_equal(s.state, SVC_STARTING);
    assert_int_equal(F.nspawn, 2);
    svc_exited(&s, &exit_code_1, 5001); /* quick: backs off */
    svc_exited(&s, &exit_code_1, 5002);
    assert_int_equal(s.state, SVC_BACKOFF);
    svc_dispatch(&s, SVC_EV_TIMER, 6000);
    assert_int_equal(s.state, SVC_STARTING);
    assert_int_equal(F.ndeps_asked, 0);
    svc_done(&s);
}

static void
start_from_stopped(void **state)
{
    struct svc_policy pol = std_policy();
    struct svc s;
    (void)state;

    reset_fake();
    svc_init(&s, &pol, &fake_ops);
    assert_int_equal(s.state, SVC_STOPPED);
    assert_false(s.want_up);
    svc_dispatch(&s, SVC_EV_START, 777);
    assert_int_equal(s.state, SVC_STARTING);
    assert_true(s.want_up);
    assert_true(s.leader_alive);
    assert_int_equal(s.started_ms, 777);
    assert_int_equal(F.last_arm, 1000);
    assert_int_equal(F.ntransition, 1);
    assert_int_equal(F.last_from, SVC_STOPPED);
    assert_int_equal(F.last_to, SVC_STARTING);
    assert_string_equal(F.last_cause, "start requested");
    svc_done(&s);
}

static void
start_with_zero_start_ms_goes_running(void **state)
{
    struct svc_policy pol = std_policy();
    struct svc s;
    (void)state;

    pol.start_ms = 0;
    reset_fake();
    svc_init(&s, &pol, &fake_ops);
    s.quick_failures = 3;
    svc_dispatch(&s, SVC_EV_START, 10);
    assert_int_equal(s.state, SVC_RUNNING);
    assert_string_equal(F.log, "spawn T(stopped>running) ");
    assert_int_equal(s.quick_failures, 0);
    assert_true(s.leader_alive);
    assert_int_equal(s.started_ms, 10);

    /* An exit from running then respawns straight into running too. */
    clear_log();
    svc_exited(&s, &exit_code_1, 20);
    assert_int_equal(s.state, SVC_RUNNING);
    assert_string_equal(F.log, "cancel spawn T(running>running) ");
    assert_int_equal(s.restarts, 1);
    svc_done(&s);
}

static void
starting_timer_resets_quick_failures(void **state)
{
    struct svc_policy pol = std_policy();
    struct svc s;
    (void)state;

    reset_fake();
    svc_init(&s, &pol, &fake_ops);
    s.state = SVC_STARTING;
    s.want_up = s.leader_alive = true;
    s.quick_failures = 4;
    svc_dispatch(&s, SVC_EV_TIMER, 1000);
    assert_int_equal(s.state, SVC_RUNNING);
    assert_int_equal(s.quick_failures, 0);
    assert_string_equal(F.log, "T(starting>running) ");
    assert_string_equal(F.last_cause, "up for start_seconds");
    svc_done(&s);
}

/*
 * docs/state-machine.md, rule 4: the first quick exit in a row spawns at
 * once; the n-th (n >= 2) waits initial * 2^(n-2), capped, in backoff.
 */
static void
quick_exits_back_off_exponentially(void **state)
{
    struct svc_policy pol = std_policy();
    static const int64_t delays[] = { 100,  200,   400,   800,   1600, 3200,
                                      6400, 12800, 25600, 30000, 30000 };
    int64_t now = 0;
    struct svc s;
    (void)state;

    reset_fake();
    svc_init(&s, &pol, &fake_ops);
    svc_dispatch(&s, SVC_EV_START, now);
    assert_int_equal(s.state, SVC_STARTING);

    /* First quick exit: straight back to starting. */
    clear_log();
    svc_exited(&s, &exit_code_1, now += 10);
    assert_int_equal(s.state, SVC_STARTING);
    assert_string_equal(F.log, "cancel spawn arm1000 T(starting>starting) ");
    assert_int_equal(s.quick_failures, 1);
    assert_int_equal(s.restarts, 1);

    for (size_t i = 0; i < ARRAY_SIZE(delays); i++) {
        char want[128];

        clear_log();
        svc_exited(&s, &exit_code_1, now += 10);
        assert_int_equal(s.state, SVC_BACKOFF);
        (void)snprintf(want, sizeof(want), "cancel arm%lld T(starting>backoff) ",
                       (long long)delays[i]);
        assert_string_equal(F.log, want);
        assert_int_equal(s.next_delay_ms, delays[i]);
        assert_int_equal(s.quick_failures, i + 2);
        assert_false(s.leader_alive);

        /* The delay is over: spawn again. */
        clear_log();
        svc_dispatch(&s, SVC_EV_TIMER, now += delays[i]);
        assert_int_equal(s.state, SVC_STARTING);
        assert_string_equal(F.log, "spawn arm1000 T(backoff>starting) ");
    }
    assert_int_equal(s.restarts, 1 + ARRAY_SIZE(delays));

    /* Reaching running resets the count: the next quick exit restarts at once again. */
    svc_dispatch(&s, SVC_EV_TIMER, now += 1000);
    assert_int_equal(s.state, SVC_RUNNING);
    svc_exited(&s, &exit_code_1, now += 10);
    assert_int_equal(s.state, SVC_STARTING);
    assert_int_equal(s.quick_failures, 0);
    clear_log();
    svc_exited(&s, &exit_code_1, now += 10);
    assert_int_equal(s.state, SVC_STARTING);
    assert_string_equal(F.log, "cancel spawn arm1000 T(starting>starting) ");
    clear_log();
    svc_exited(&s, &exit_code_1, now += 10);
    assert_int_equal(s.state, SVC_BACKOFF);
    assert_string_equal(F.log, "cancel arm100 T(starting>backoff) ");
    svc_done(&s);
}

/* With backoff.initial 0 every quick exit restarts at once (only yo-yo can stop it). */
static void
quick_exits_without_backoff(void **state)
{
    struct svc_policy pol = std_policy();
    struct svc s;
    (void)state;

    pol.backoff.initial_ms = 0;
    reset_fake();
    svc_init(&s, &pol, &fake_ops);
    svc_dispatch(&s, SVC_EV_START, 0);
    for (int i = 1; i <= 20; i++) {
        clear_log();
        svc_exited(&s, &exit_code_1, i);
        assert_int_equal(s.state, SVC_STARTING);
        assert_string_equal(F.log, "cancel spawn arm1000 T(starting>starting) ");
    }
    assert_int_equal(s.restarts, 20);
    svc_done(&s);
}

static void
running_exit_respawns_and_kills_leftovers(void **state)
{
    struct svc_policy pol = std_policy();
    struct svc s;
    (void)state;

    /* Group empty: no SIGKILL. */
    reset_fake();
    svc_init(&s, &pol, &fake_ops);
    s.state = SVC_RUNNING;
    s.want_up = s.leader_alive = true;
    s.quick_failures = 2;
    svc_exited(&s, &exit_code_1, 100);
    assert_int_equal(s.state, SVC_STARTING);
    assert_string_equal(F.log, "cancel spawn arm1000 T(running>starting) ");
    assert_int_equal(s.quick_failures, 0);
    assert_int_equal(s.restarts, 1);
    assert_int_equal(s.started_ms, 100);
    assert_int_equal(s.last_exit.value, 1);
    assert_true(s.last_exit.known);
    assert_string_equal(F.last_cause, "exited, restarting at once");
    svc_done(&s);

    /* Something of the group is left: it is SIGKILLed before the respawn. */
    reset_fake();
    F.group_alive = true;
    svc_init(&s, &pol, &fake_ops);
    s.state = SVC_RUNNING;
    s.want_up = s.leader_alive = true;
    svc_exited(&s, &exit_code_1, 100);
    assert_int_equal(s.state, SVC_STARTING);
    assert_string_equal(F.log, "cancel sig9 spawn arm1000 T(running>starting) ");
    svc_done(&s);

    /* The same for a quick exit from starting. */
    reset_fake();
    F.group_alive = true;
    svc_init(&s, &pol, &fake_ops);
    s.state = SVC_STARTING;
    s.want_up = s.leader_alive = true;
    svc_exited(&s, &exit_signal_9, 100);
    assert_string_equal(F.log, "cancel sig9 spawn arm1000 T(starting>starting) ");
    svc_done(&s);
}

/* Runs one exit from RUNNING under `restart` and returns the next state. */
static enum svc_state
exit_under(enum svc_restart restart, const struct svc_exit *how, bool group_alive)
{
    struct svc_policy pol = std_policy();
    enum svc_state to;
    struct svc s;

    pol.restart = restart;
    reset_fake();
    F.group_alive = group_alive;
    svc_init(&s, &pol, &fake_ops);
    s.state = SVC_RUNNING;
    s.want_up = s.leader_alive = true;
    svc_exited(&s, how, 100);
    to = s.state;
    /* A leader exists again exactly when something was spawned. */
    assert_int_equal(s.leader_alive, F.nspawn > 0);
    if (to == SVC_EXITED) {
        assert_int_equal(F.nspawn, 0);
        assert_int_equal(s.restarts, 0);
        assert_string_equal(F.last_cause, "restart policy says no");
        /* Leftovers are killed whether or not it restarts. */
        assert_int_equal(F.nsignal, group_alive ? 1 : 0);
    }
    svc_done(&s);
    return to;
}

static void
restart_policies(void **state)
{
    (void)state;

    assert_int_equal(exit_under(SVC_RESTART_NEVER, &exit_code_1, false), SVC_EXITED);
    assert_int_equal(exit_under(SVC_RESTART_NEVER, &exit_code_0, false), SVC_EXITED);
    assert_int_equal(exit_under(SVC_RESTART_NEVER, &exit_signal_9, true), SVC_EXITED);
    assert_int_equal(exit_under(SVC_RESTART_NEVER, &exit_unknown, false), SVC_EXITED);
    assert_string_equal(F.log, "cancel T(running>exited) ");

    assert_int_equal(exit_under(SVC_RESTART_ON_FAILURE, &exit_code_0, false), SVC_EXITED);
    assert_int_equal(exit_under(SVC_RESTART_ON_FAILURE, &exit_code_0, true), SVC_EXITED);
    assert_string_equal(F.log, "cancel sig9 T(running>exited) ");
    assert_int_equal(exit_under(SVC_RESTART_ON_FAILURE, &exit_code_1, false), SVC_STARTING);
    assert_int_equal(exit_under(SVC_RESTART_ON_FAILURE, &exit_signal_9, false), SVC_STARTING);
    assert_int_equal(exit_under(SVC_RESTART_ON_FAILURE, &exit_unknown, false), SVC_STARTING);

    assert_int_equal(exit_under(SVC_RESTART_ALWAYS, &exit_code_0, false), SVC_STARTING);
    assert_int_equal(exit_under(SVC_RESTART_ALWAYS, &exit_code_1, false), SVC_STARTING);
    assert_int_equal(exit_under(SVC_RESTART_ALWAYS, &exit_signal_9, false), SVC_STARTING);
    assert_int_equal(exit_under(SVC_RESTART_ALWAYS, &exit_unknown, false), SVC_STARTING);
}

/* An exited instance can be started again by hand. */
static void
exited_then_start(void **state)
{
    struct svc_policy pol = std_policy();
    struct svc s;
    (void)state;

    pol.restart = SVC_RESTART_NEVER;
    reset_fake();
    svc_init(&s, &pol, &fake_ops);
    svc_dispatch(&s, SVC_EV_START, 0);
    svc_dispatch(&s, SVC_EV_TIMER, 1000);
    svc_exited(&s, &exit_code_0, 2000);
    assert_int_equal(s.state, SVC_EXITED);
    clear_log();
    svc_dispatch(&s, SVC_EV_START, 3000);
    assert_int_equal(s.state, SVC_STARTING);
    assert_string_equal(F.log, "spawn arm1000 T(exited>starting) ");
    svc_done(&s);
}

static void
yoyo_goes_fatal(void **state)
{
    struct svc_policy pol = std_policy();
    int64_t now = 0;
    struct svc s;
    (void)state;

    pol.backoff.yoyo_limit = 3;
    pol.backoff.yoyo_window_ms = 60000;
    reset_fake();
    svc_init(&s, &pol, &fake_ops);
    svc_dispatch(&s, SVC_EV_START, now);
    /* Each run reaches running, so no backoff gets in the way: 3 restarts are fine. */
    for (int i = 0; i < 3; i++) {
        svc_dispatch(&s, SVC_EV_TIMER, now += 1000);
        assert_int_equal(s.state, SVC_RUNNING);
        svc_exited(&s, &exit_code_1, now += 1000);
        assert_int_equal(s.state, SVC_STARTING);
    }
    assert_int_equal(s.restarts, 3);
    /* The 4th inside the window trips: fatal, no spawn, leftovers still killed. */
    svc_dispatch(&s, SVC_EV_TIMER, now += 1000);
    F.group_alive = true;
    clear_log();
    svc_exited(&s, &exit_code_1, now += 1000);
    assert_int_equal(s.state, SVC_FATAL);
    assert_string_equal(F.log, "cancel sig9 T(running>fatal) ");
    assert_non_null(strstr(F.last_cause, "yo-yo"));
    assert_int_equal(s.restarts, 3);
    assert_false(s.leader_alive);
    /* Fatal stays fatal on timer and exit. */
    clear_log();
    svc_dispatch(&s, SVC_EV_TIMER, now += 1000);
    assert_int_equal(s.state, SVC_FATAL);
    assert_string_equal(F.log, "");
    svc_done(&s);
}

/* Above memory_max: a restart whose cause is the one word "memory"; it counts toward yo-yo. */
static void
memory_restarts_with_cause_memory(void **state)
{
    struct svc_policy pol = std_policy();
    int64_t now = 0;
    struct svc s;
    (void)state;

    pol.backoff.yoyo_limit = 1;
    reset_fake();
    svc_init(&s, &pol, &fake_ops);
    svc_dispatch(&s, SVC_EV_START, now);
    svc_dispatch(&s, SVC_EV_TIMER, now += 1000);
    clear_log();
    svc_dispatch(&s, SVC_EV_MEMORY, now += 1000);
    assert_int_equal(s.state, SVC_STOPPING);
    assert_true(s.want_up);
    assert_string_equal(F.last_cause, "memory");
    assert_int_equal(s.restarts, 1);
    svc_exited(&s, &exit_signal_9, now += 100);
    assert_int_equal(s.state, SVC_STARTING);
    /* The second within the window trips yo-yo: stopped, then fatal. */
    svc_dispatch(&s, SVC_EV_MEMORY, now += 1000);
    assert_int_equal(s.state, SVC_STOPPING);
    assert_false(s.want_up);
    assert_int_equal(strncmp(s.cause, "memory, too many restarts", 25), 0);
    svc_exited(&s, &exit_signal_9, now += 100);
    assert_int_equal(s.state, SVC_FATAL);
    svc_done(&s);
}

/* Liveness restarts (heartbeat, health) count toward yo-yo too: past the limit, fatal once stopped.
 */
static void
yoyo_counts_liveness_restarts(void **state)
{
    struct svc_policy pol = std_policy();
    int64_t now = 0;
    struct svc s;
    (void)state;

    pol.backoff.yoyo_limit = 2;
    pol.backoff.yoyo_window_ms = 60000;
    reset_fake();
    svc_init(&s, &pol, &fake_ops);
    svc_dispatch(&s, SVC_EV_START, now);
    for (int i = 0; i < 2; i++) {
        svc_dispatch(&s, SVC_EV_TIMER, now += 1000);
        assert_int_equal(s.state, SVC_RUNNING);
        svc_dispatch(&s, i ? SVC_EV_UNHEALTHY : SVC_EV_HB_LATE, now += 1000);
        assert_int_equal(s.state, SVC_STOPPING);
        assert_true(s.want_up);
        svc_exited(&s, &exit_code_1, now += 100); /* died of the stop signal: respawned */
        assert_int_equal(s.state, SVC_STARTING);
    }
    assert_int_equal(s.restarts, 2);
    /* The third inside the window: stopped for good, then fatal, never respawned. */
    svc_dispatch(&s, SVC_EV_TIMER, now += 1000);
    clear_log();
    svc_dispatch(&s, SVC_EV_HB_LATE, now += 1000);
    assert_int_equal(s.state, SVC_STOPPING);
    assert_false(s.want_up);
    assert_non_null(strstr(s.cause, "yo-yo"));
    assert_string_equal(F.log, "cancel sig15 arm10000 T(running>stopping) ");
    clear_log();
    svc_exited(&s, &exit_code_1, now += 100);
    assert_int_equal(s.state, SVC_FATAL);
    assert_string_equal(F.log, "cancel T(stopping>fatal) ");
    assert_int_equal(strncmp(F.last_cause, "yo-yo", 5), 0); /* the log's yo-yo line */
    assert_int_equal(s.restarts, 2);
    svc_done(&s);

    /* An operator's stop meanwhile ends it stopped; an operator's start forgives it. */
    for (int ask = 0; ask < 2; ask++) {
        reset_fake();
        svc_init(&s, &pol, &fake_ops);
        now = 0;
        svc_dispatch(&s, SVC_EV_START, now);
        for (int i = 0; i < 3; i++) {
            svc_dispatch(&s, SVC_EV_TIMER, now += 1000);
            svc_dispatch(&s, SVC_EV_HB_LATE, now += 1000);
            if (i < 2)
                svc_exited(&s, &exit_code_1, now += 100);
        }
        assert_true(s.give_up);
        svc_dispatch(&s, ask ? SVC_EV_START : SVC_EV_STOP, now += 10);
        svc_exited(&s, &exit_code_1, now += 100);
        assert_int_equal(s.state, ask ? SVC_STARTING : SVC_STOPPED);
        assert_false(s.give_up);
        svc_done(&s);
    }
    /* An operator's restart (stop, then start, while stopping) forgives too: the next failure
       restarts it again instead of giving up at once. */
    reset_fake();
    svc_init(&s, &pol, &fake_ops);
    now = 0;
    svc_dispatch(&s, SVC_EV_START, now);
    for (int i = 0; i < 3; i++) {
        svc_dispatch(&s, SVC_EV_TIMER, now += 1000);
        svc_dispatch(&s, SVC_EV_HB_LATE, now += 1000);
        if (i < 2)
            svc_exited(&s, &exit_code_1, now += 100);
    }
    assert_true(s.give_up);
    svc_dispatch(&s, SVC_EV_STOP, now += 10);
    svc_dispatch(&s, SVC_EV_START, now += 10);
    svc_exited(&s, &exit_code_1, now += 100);
    assert_int_equal(s.state, SVC_STARTING);
    svc_dispatch(&s, SVC_EV_TIMER, now += 1000);
    svc_dispatch(&s, SVC_EV_HB_LATE, now += 1000);
    assert_true(s.want_up); /* a restart, not a give-up */
    assert_false(s.give_up);
    svc_done(&s);
}

/* An exit code in fatal_exit_codes goes fatal at once, whatever the restart policy says. */
static void
fatal_exit_code_goes_fatal_at_once(void **state)
{
    struct svc_policy pol = std_policy();
    struct svc_exit two = { .known = true, .value = 2 },
                    killed = { .known = true, .signaled = true, .value = 2 };
    struct svc s;
    (void)state;

    pol.fatal_codes[0] = 1u << 2;
    pol.fatal_codes[3] = (uint64_t)1 << (200 - 192); /* codes above 63 live in the other words */
    assert_true(svc_code_in(pol.fatal_codes, 200) && !svc_code_in(pol.fatal_codes, 201));
    assert_false(svc_code_in(pol.fatal_codes, 256) || svc_code_in(pol.fatal_codes, -1));
    reset_fake();
    svc_init(&s, &pol, &fake_ops);
    svc_dispatch(&s, SVC_EV_START, 0);
    svc_dispatch(&s, SVC_EV_TIMER, 1000);
    clear_log();
    svc_exited(&s, &two, 2000);
    assert_int_equal(s.state, SVC_FATAL);
    assert_string_equal(F.log, "cancel T(running>fatal) ");
    assert_string_equal(F.last_cause, "exit code 2 is a fatal exit code");
    assert_int_equal(s.restarts, 0);
    svc_done(&s);
    /* Signal 2 (SIGINT) is not exit code 2: restarted as usual. */
    reset_fake();
    svc_init(&s, &pol, &fake_ops);
    svc_dispatch(&s, SVC_EV_START, 0);
    svc_dispatch(&s, SVC_EV_TIMER, 1000);
    svc_exited(&s, &killed, 2000);
    assert_int_equal(s.state, SVC_STARTING);
    svc_done(&s);
}

/* Restarts spread wider than the window never trip. */
static void
yoyo_spread_restarts_survive(void **state)
{
    struct svc_policy pol = std_policy();
    int64_t now = 0;
    struct svc s;
    (void)state;

    pol.backoff.yoyo_limit = 2;
    pol.backoff.yoyo_window_ms = 10000;
    reset_fake();
    svc_init(&s, &pol, &fake_ops);
    svc_dispatch(&s, SVC_EV_START, now);
    for (int i = 0; i < 50; i++) {
        svc_dispatch(&s, SVC_EV_TIMER, now += 1000);
        svc_exited(&s, &exit_code_1, now += 4001); /* one exit every 5.001 s: 3 span > 10 s */
        assert_int_equal(s.state, SVC_STARTING);
    }
    assert_int_equal(s.restarts, 50);
    svc_done(&s);
}

static void
fatal_start_resets_tally(void **state)
{
    struct svc_policy pol = std_policy();
    int64_t now = 0;
    struct svc s;
    (void)state;

    pol.backoff.yoyo_limit = 1;
    reset_fake();
    svc_init(&s, &pol, &fake_ops);
    svc_dispatch(&s, SVC_EV_START, now);
    svc_exited(&s, &exit_code_1, now += 10); /* restart 1: fine */
    assert_int_equal(s.state, SVC_STARTING);
    svc_exited(&s, &exit_code_1, now += 10); /* restart 2 within the window: yo-yo */
    assert_int_equal(s.state, SVC_FATAL);
    s.quick_failures = 5;

    clear_log();
    svc_dispatch(&s, SVC_EV_START, now += 10);
    assert_int_equal(s.state, SVC_STARTING);
    assert_string_equal(F.log, "spawn arm1000 T(fatal>starting) ");
    assert_int_equal(s.quick_failures, 0);
    assert_int_equal(s.tally.count, 0);
    /* Without the reset this exit would trip again at once. */
    svc_exited(&s, &exit_code_1, now += 10);
    assert_int_equal(s.state, SVC_STARTING);
    /* And the tally works afresh. */
    svc_exited(&s, &exit_code_1, now += 10);
    assert_int_equal(s.state, SVC_FATAL);
    svc_done(&s);
}

static void
spawn_retry_backs_off_at_least_100ms(void **state)
{
    struct svc_policy pol = std_policy();
    struct svc s;
    (void)state;

    /* Tiny initial: the floor of 100 ms applies. */
    pol.backoff.initial_ms = 10;
    reset_fake();
    F.spawn_result = SVC_SPAWN_RETRY;
    svc_init(&s, &pol, &fake_ops);
    svc_dispatch(&s, SVC_EV_START, 0);
    assert_int_equal(s.state, SVC_BACKOFF);
    assert_string_equal(F.log, "spawn arm100 T(stopped>backoff) ");
    assert_int_equal(s.next_delay_ms, 100);
    assert_false(s.leader_alive);
    assert_int_equal(s.restarts, 0);
    assert_string_equal(F.last_cause, "spawn failed, will retry");

    /* Retrying keeps failing: the delay grows past the floor. */
    for (int i = 0; i < 6; i++) {
        clear_log();
        svc_dispatch(&s, SVC_EV_TIMER, 1000 * (i + 1));
        assert_int_equal(s.state, SVC_BACKOFF);
        assert_true(F.last_arm >= 100);
    }
    assert_int_equal(F.last_arm, 640); /* 10 * 2^6 at the 7th failure */
    assert_int_equal(s.restarts, 0);

    /* Once it succeeds it is starting. */
    F.spawn_result = SVC_SPAWN_OK;
    clear_log();
    svc_dispatch(&s, SVC_EV_TIMER, 10000);
    assert_int_equal(s.state, SVC_STARTING);
    svc_done(&s);

    /* With initial 0 the floor still applies. */
    pol.backoff.initial_ms = 0;
    reset_fake();
    F.spawn_result = SVC_SPAWN_RETRY;
    svc_init(&s, &pol, &fake_ops);
    svc_dispatch(&s, SVC_EV_START, 0);
    assert_int_equal(F.last_arm, 100);
    svc_done(&s);

    /* With a larger initial the first retry waits initial. */
    pol.backoff.initial_ms = 2000;
    reset_fake();
    F.spawn_result = SVC_SPAWN_RETRY;
    svc_init(&s, &pol, &fake_ops);
    svc_dispatch(&s, SVC_EV_START, 0);
    assert_int_equal(F.last_arm, 2000);
    svc_done(&s);
}

static void
spawn_failed_goes_fatal(void **state)
{
    struct svc_policy pol = std_policy();
    struct svc s;
    (void)state;

    reset_fake();
    F.spawn_result = SVC_SPAWN_FAILED;
    svc_init(&s, &pol, &fake_ops);
    svc_dispatch(&s, SVC_EV_START, 0);
    assert_int_equal(s.state, SVC_FATAL);
    assert_string_equal(F.log, "spawn T(stopped>fatal) ");
    assert_string_equal(F.last_cause, "spawn failed");
    assert_false(s.leader_alive);
    svc_done(&s);

    /* Also on a respawn after an exit. */
    reset_fake();
    svc_init(&s, &pol, &fake_ops);
    s.state = SVC_RUNNING;
    s.want_up = s.leader_alive = true;
    F.spawn_result = SVC_SPAWN_FAILED;
    svc_exited(&s, &exit_code_1, 100);
    assert_int_equal(s.state, SVC_FATAL);
    assert_string_equal(F.log, "cancel spawn T(running>fatal) ");
    svc_done(&s);
}

/*
 * A slot whose spawns all failed has no last exit (FINDINGS B20: it showed
 * as "unknown", which means an adopted process's exit drover could not see).
 */
static void
last_exit_only_after_an_exit(void **state)
{
    struct svc_policy pol = std_policy();
    struct svc s;
    (void)state;

    reset_fake();
    svc_init(&s, &pol, &fake_ops);
    assert_false(s.has_exit);
    F.spawn_result = SVC_SPAWN_FAILED;
    svc_dispatch(&s, SVC_EV_START, 0);
    assert_int_equal(s.state, SVC_FATAL);
    assert_false(s.has_exit);
    F.spawn_result = SVC_SPAWN_RETRY;
    svc_dispatch(&s, SVC_EV_START, 10);
    assert_int_equal(s.state, SVC_BACKOFF);
    assert_false(s.has_exit);

    F.spawn_result = SVC_SPAWN_OK;
    svc_dispatch(&s, SVC_EV_START, 20);
    assert_false(s.has_exit);
    svc_exited(&s, &exit_signal_9, 30);
    assert_true(s.has_exit);
    assert_true(s.last_exit.known && s.last_exit.signaled);
    assert_int_equal(s.last_exit.value, SIGKILL);
    svc_done(&s);

    /* An adopted process's end: there is an exit, how is unknown. */
    reset_fake();
    svc_init(&s, &pol, &fake_ops);
    s.state = SVC_RUNNING;
    s.want_up = s.leader_alive = true;
    svc_exited(&s, &exit_unknown, 100);
    assert_true(s.has_exit);
    assert_false(s.last_exit.known);
    svc_done(&s);
}

static void
stop_escalation(void **state)
{
    struct svc_policy pol = std_policy();
    struct svc s;
    (void)state;

    pol.stop_signal = SIGINT;
    pol.stop_timeout_ms = 2500;
    reset_fake();
    svc_init(&s, &pol, &fake_ops);
    s.state = SVC_RUNNING;
    s.want_up = s.leader_alive = true;
    svc_dispatch(&s, SVC_EV_STOP, 0);
    assert_int_equal(s.state, SVC_STOPPING);
    assert_string_equal(F.log, "cancel sig2 arm2500 T(running>stopping) ");
    assert_false(s.want_up);

    /* stop_timeout with the leader still there: SIGKILL, and wait again. */
    for (int i = 0; i < 3; i++) {
        clear_log();
        svc_dispatch(&s, SVC_EV_TIMER, 2500 * (i + 1));
        assert_int_equal(s.state, SVC_STOPPING);
        assert_string_equal(F.log, "sig9 arm2500 ");
    }

    /* The leader is reaped but its group lingers: stay stopping, no new signal. */
    F.group_alive = true;
    clear_log();
    svc_exited(&s, &exit_signal_9, 8000);
    assert_int_equal(s.state, SVC_STOPPING);
    assert_string_equal(F.log, "T(stopping>stopping) ");
    assert_false(s.leader_alive);

    /* Timer again, leader gone: SIGKILL what is left and finish. */
    clear_log();
    svc_dispatch(&s, SVC_EV_TIMER, 10500);
    assert_int_equal(s.state, SVC_STOPPED);
    assert_string_equal(F.log, "sig9 cancel T(stopping>stopped) ");
    assert_string_equal(F.last_cause, "stopped");
    assert_int_equal(s.restarts, 0);
    svc_done(&s);
}

static void
stopping_exit_group_gone_stops(void **state)
{
    struct svc_policy pol = std_policy();
    struct svc s;
    (void)state;

    reset_fake();
    svc_init(&s, &pol, &fake_ops);
    s.state = SVC_STARTING;
    s.want_up = s.leader_alive = true;
    svc_dispatch(&s, SVC_EV_STOP, 0);
    clear_log();
    svc_exited(&s, &exit_signal_9, 10);
    assert_int_equal(s.state, SVC_STOPPED);
    assert_string_equal(F.log, "cancel T(stopping>stopped) ");
    assert_false(s.leader_alive);
    /* A stop is not a failure: nothing counted. */
    assert_int_equal(s.restarts, 0);
    assert_int_equal(s.quick_failures, 0);
    svc_done(&s);
}

/* START while stopping: the stop completes, then it is spawned again. */
static void
stopping_with_want_up_respawns(void **state)
{
    struct svc_policy pol = std_policy();
    struct svc s;
    (void)state;

    reset_fake();
    svc_init(&s, &pol, &fake_ops);
    s.state = SVC_RUNNING;
    s.want_up = s.leader_alive = true;
    svc_dispatch(&s, SVC_EV_STOP, 0);
    svc_dispatch(&s, SVC_EV_START, 5);
    assert_int_equal(s.state, SVC_STOPPING);
    assert_true(s.want_up);

    clear_log();
    svc_exited(&s, &exit_code_0, 10);
    assert_int_equal(s.state, SVC_STARTING);
    assert_string_equal(F.log, "cancel spawn arm1000 T(stopping>starting) ");
    assert_true(s.leader_alive);
    assert_int_equal(s.started_ms, 10);
    svc_done(&s);

    /* The same through the kill timer when the leader was already gone. */
    reset_fake();
    F.group_alive = true;
    svc_init(&s, &pol, &fake_ops);
    s.state = SVC_RUNNING;
    s.want_up = s.leader_alive = true;
    svc_dispatch(&s, SVC_EV_STOP, 0);
    svc_exited(&s, &exit_code_0, 10);
    assert_int_equal(s.state, SVC_STOPPING);
    svc_dispatch(&s, SVC_EV_START, 20);
    clear_log();
    svc_dispatch(&s, SVC_EV_TIMER, 10000);
    assert_int_equal(s.state, SVC_STARTING);
    assert_string_equal(F.log, "sig9 cancel spawn arm1000 T(stopping>starting) ");
    svc_done(&s);
}

/* The rest of the group drained before stop_timeout: finish without waiting for the timer. */
static void
stopping_group_empty(void **state)
{
    struct svc_policy pol = std_policy();
    struct svc s;
    (void)state;

    reset_fake();
    F.group_alive = true;
    svc_init(&s, &pol, &fake_ops);
    s.state = SVC_RUNNING;
    s.want_up = s.leader_alive = true;
    svc_dispatch(&s, SVC_EV_STOP, 0);
    /* Leader still alive: nothing happens. */
    clear_log();
    svc_dispatch(&s, SVC_EV_GROUP_EMPTY, 5);
    assert_int_equal(s.state, SVC_STOPPING);
    assert_string_equal(F.log, "");
    /* Leader reaped, group left over, then the group drains. */
    svc_exited(&s, &exit_signal_9, 10);
    assert_int_equal(s.state, SVC_STOPPING);
    clear_log();
    svc_dispatch(&s, SVC_EV_GROUP_EMPTY, 20);
    assert_int_equal(s.state, SVC_STOPPED);
    assert_string_equal(F.log, "cancel T(stopping>stopped) ");
    assert_int_equal(F.nsignal, 0);
    svc_done(&s);

    /* With a start requested meanwhile it respawns. */
    reset_fake();
    F.group_alive = true;
    svc_init(&s, &pol, &fake_ops);
    s.state = SVC_RUNNING;
    s.want_up = s.leader_alive = true;
    svc_dispatch(&s, SVC_EV_STOP, 0);
    svc_exited(&s, &exit_signal_9, 10);
    svc_dispatch(&s, SVC_EV_START, 15);
    clear_log();
    svc_dispatch(&s, SVC_EV_GROUP_EMPTY, 20);
    assert_int_equal(s.state, SVC_STARTING);
    assert_string_equal(F.log, "cancel spawn arm1000 T(stopping>starting) ");
    svc_done(&s);
}

static void
backoff_stop_cancels_timer(void **state)
{
    struct svc_policy pol = std_policy();
    struct svc s;
    (void)state;

    reset_fake();
    svc_init(&s, &pol, &fake_ops);
    s.state = SVC_BACKOFF;
    s.want_up = true;
    svc_dispatch(&s, SVC_EV_STOP, 0);
    assert_int_equal(s.state, SVC_STOPPED);
    assert_string_equal(F.log, "cancel T(backoff>stopped) ");
    assert_false(s.want_up);
    /* No signal: there is no process in backoff. */
    assert_int_equal(F.nsignal, 0);
    /* A late timer does nothing once stopped. */
    clear_log();
    svc_dispatch(&s, SVC_EV_TIMER, 100);
    assert_int_equal(s.state, SVC_STOPPED);
    assert_string_equal(F.log, "");
    svc_done(&s);
}

static void
should_restart_truth_table(void **state)
{
    static const struct {
        enum svc_restart r;
        bool known, signaled;
        int value;
        bool want;
    } rows[] = {
        { SVC_RESTART_ALWAYS, true, false, 0, true },
        { SVC_RESTART_ALWAYS, true, false, 1, true },
        { SVC_RESTART_ALWAYS, true, true, SIGTERM, true },
        { SVC_RESTART_ALWAYS, false, false, 0, true },
        { SVC_RESTART_NEVER, true, false, 0, false },
        { SVC_RESTART_NEVER, true, false, 1, false },
        { SVC_RESTART_NEVER, true, true, SIGSEGV, false },
        { SVC_RESTART_NEVER, false, false, 0, false },
        { SVC_RESTART_ON_FAILURE, true, false, 0, false },
        { SVC_RESTART_ON_FAILURE, true, false, 1, true },
        { SVC_RESTART_ON_FAILURE, true, false, 255, true },
        { SVC_RESTART_ON_FAILURE, true, true, SIGTERM, true },
        { SVC_RESTART_ON_FAILURE, true, true, 0, true },
        { SVC_RESTART_ON_FAILURE, false, false, 0, true },
        { SVC_RESTART_ON_FAILURE, false, true, 0, true },
        { SVC_RESTART_INVALID, true, false, 1, false },
        { SVC_RESTART__MAX, true, false, 1, false },
    };
    (void)state;

    for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
        struct svc_exit how = { .known = rows[i].known,
                                .signaled = rows[i].signaled,
                                .value = rows[i].value };

        struct svc_policy pol = { .restart = rows[i].r };

        if (svc_should_restart(&pol, &how) != rows[i].want)
            print_error("row %zu\n", i);
        assert_int_equal(svc_should_restart(&pol, &how), rows[i].want);
    }
    /* Every exit code: on-failure restarts for all but 0; with success codes {0, 3}, all but those.
     */
    for (int code = 0; code < 256; code++) {
        struct svc_exit how = { .known = true, .value = code };
        struct svc_policy pol = { .restart = SVC_RESTART_ON_FAILURE };

        assert_int_equal(svc_should_restart(&pol, &how), code != 0);
        pol.success_codes_given = true;
        pol.success_codes[0] = 1u << 0 | 1u << 3;
        assert_int_equal(svc_should_restart(&pol, &how), code != 0 && code != 3);
        how.signaled = true; /* a signal is never a success */
        assert_true(svc_should_restart(&pol, &how));
    }
}

static void
has_process(void **state)
{
    (void)state;

    assert_false(svc_has_process(SVC_STOPPED));
    assert_true(svc_has_process(SVC_STARTING));
    assert_true(svc_has_process(SVC_RUNNING));
    assert_false(svc_has_process(SVC_BACKOFF));
    assert_true(svc_has_process(SVC_STOPPING));
    assert_false(svc_has_process(SVC_EXITED));
    assert_false(svc_has_process(SVC_FATAL));
}

/* ready "notify": READY=1, not start_seconds, makes it running; a start timeout stops it. */
static void
wait_ready_gates_running(void **state)
{
    struct svc_policy pol = std_policy();
    struct svc s;
    (void)state;

    pol.wait_ready = true;
    pol.start_timeout_ms = 2500;
    reset_fake();
    svc_init(&s, &pol, &fake_ops);
    svc_dispatch(&s, SVC_EV_START, 0);
    assert_int_equal(s.state, SVC_STARTING);
    assert_int_equal(F.last_arm, 2500); /* the start timeout, not start_seconds */
    clear_log();
    s.ready_cause = "READY=1";
    svc_dispatch(&s, SVC_EV_READY, 100);
    assert_int_equal(s.state, SVC_RUNNING);
    assert_string_equal(F.log, "cancel T(starting>running) ");
    assert_string_equal(s.cause, "READY=1");
    svc_done(&s);
}

static void
wait_ready_start_timeout(void **state)
{
    struct svc_policy pol = std_policy();
    struct svc s;
    (void)state;

    pol.wait_ready = true;
    pol.start_timeout_ms = 2500;
    reset_fake();
    svc_init(&s, &pol, &fake_ops);
    svc_dispatch(&s, SVC_EV_START, 0);
    clear_log();
    svc_dispatch(&s, SVC_EV_TIMER, 2500); /* no READY=1 in time: the stop signal, logged */
    assert_int_equal(s.state, SVC_STARTING);
    assert_string_equal(F.log, "sig15 arm10000 T(starting>starting) ");
    assert_true(s.start_timed_out);
    clear_log();
    svc_dispatch(&s, SVC_EV_READY, 2600); /* too late to count */
    assert_int_equal(s.state, SVC_STARTING);
    assert_string_equal(F.log, "");
    svc_dispatch(&s, SVC_EV_TIMER, 12500); /* ignored the stop signal: SIGKILL */
    assert_string_equal(F.log, "sig9 arm10000 ");
    clear_log();
    /* Its exit is a failed start: the first one restarts at once. */
    svc_exited(&s, &exit_signal_9, 12600);
    assert_int_equal(s.state, SVC_STARTING);
    assert_int_equal(s.quick_failures, 1);
    assert_false(s.start_timed_out);
    assert_string_equal(F.log, "cancel spawn arm2500 T(starting>starting) ");
    svc_done(&s);
}

static void
heartbeat_late_restarts(void **state)
{
    struct svc_policy pol = std_policy();
    struct svc s;
    (void)state;

    reset_fake();
    svc_init(&s, &pol, &fake_ops);
    svc_dispatch(&s, SVC_EV_START, 0);
    svc_dispatch(&s, SVC_EV_TIMER, 1000);
    assert_int_equal(s.state, SVC_RUNNING);
    clear_log();
    svc_dispatch(&s, SVC_EV_HB_LATE, 40000);
    assert_int_equal(s.state, SVC_STOPPING);
    assert_true(s.want_up);
    assert_int_equal(s.restarts, 1);
    clear_log();
    svc_exited(&s, &exit_code_0, 40100);
    assert_int_equal(s.state, SVC_STARTING); /* started again once stopped */
    assert_string_equal(F.log, "cancel spawn arm1000 T(stopping>starting) ");
    svc_done(&s);
}

/* A shutdown during a heartbeat restart: the restart is cancelled, nothing is respawned. */
static void
stop_during_heartbeat_restart(void **state)
{
    struct svc_policy pol = std_policy();
    struct svc s;
    (void)state;

    reset_fake();
    svc_init(&s, &pol, &fake_ops);
    svc_dispatch(&s, SVC_EV_START, 0);
    svc_dispatch(&s, SVC_EV_HB_LATE, 500);
    assert_true(s.want_up);
    svc_dispatch(&s, SVC_EV_STOP, 600);
    assert_int_equal(s.state, SVC_STOPPING);
    assert_false(s.want_up);
    clear_log();
    svc_exited(&s, &exit_code_0, 700);
    assert_int_equal(s.state, SVC_STOPPED);
    assert_int_equal(F.nspawn, 0);
    svc_done(&s);
}

static void
names(void **state)
{
    static const char *const states[] = { "stopped",  "starting", "running", "backoff",
                                          "stopping", "exited",   "fatal",   "waiting" };
    static const char *const events[] = { "start",       "stop",      "exit",           "timer",
                                          "group-empty", "ready",     "heartbeat-late", "unhealthy",
                                          "adopt",       "deps-ready", "memory",        "job-stuck" };
    (void)state;

    assert_int_equal(ARRAY_SIZE(states), SVC__MAX);
    assert_int_equal(ARRAY_SIZE(events), SVC_EV__MAX);
    for (int i = 0; i < SVC__MAX; i++)
        assert_string_equal(svc_state_name((enum svc_state)i), states[i]);
    for (int i = 0; i < SVC_EV__MAX; i++)
        assert_string_equal(svc_event_name((enum svc_event)i), events[i]);
    assert_string_equal(svc_state_name(SVC__MAX), "invalid");
    assert_string_equal(svc_state_name(SVC_INVALID), "invalid");
    assert_string_equal(svc_event_name(SVC_EV__MAX), "invalid");
    assert_string_equal(svc_event_name(SVC_EV_INVALID), "invalid");

    assert_string_equal(svc_restart_name(SVC_RESTART_ALWAYS), "always");
    assert_string_equal(svc_restart_name(SVC_RESTART_ON_FAILURE), "on-failure");
    assert_string_equal(svc_restart_name(SVC_RESTART_NEVER), "never");
    assert_string_equal(svc_restart_name(SVC_RESTART__MAX), "invalid");
    assert_string_equal(svc_restart_name(SVC_RESTART_INVALID), "invalid");
}

static void
restart_from_name(void **state)
{
    static const char *const bad[] = { "",          "Always", "ALWAYS", "on_failure",
                                       "onfailure", "never ", " never", "no",
                                       "invalid",   "alway",  "alwayss" };
    (void)state;

    assert_int_equal(svc_restart_from_name("always"), SVC_RESTART_ALWAYS);
    assert_int_equal(svc_restart_from_name("on-failure"), SVC_RESTART_ON_FAILURE);
    assert_int_equal(svc_restart_from_name("never"), SVC_RESTART_NEVER);
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
        assert_int_equal(svc_restart_from_name(bad[i]), SVC_RESTART_INVALID);
    /* Round trip. */
    for (int r = 0; r < SVC_RESTART__MAX; r++)
        assert_int_equal(svc_restart_from_name(svc_restart_name((enum svc_restart)r)), r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_cell_of_the_table),
        cmocka_unit_test(start_from_stopped),
        cmocka_unit_test(start_with_zero_start_ms_goes_running),
        cmocka_unit_test(starting_timer_resets_quick_failures),
        cmocka_unit_test(quick_exits_back_off_exponentially),
        cmocka_unit_test(quick_exits_without_backoff),
        cmocka_unit_test(running_exit_respawns_and_kills_leftovers),
        cmocka_unit_test(restart_policies),
        cmocka_unit_test(exited_then_start),
        cmocka_unit_test(yoyo_goes_fatal),
        cmocka_unit_test(yoyo_counts_liveness_restarts),
        cmocka_unit_test(memory_restarts_with_cause_memory),
        cmocka_unit_test(fatal_exit_code_goes_fatal_at_once),
        cmocka_unit_test(yoyo_spread_restarts_survive),
        cmocka_unit_test(fatal_start_resets_tally),
        cmocka_unit_test(spawn_retry_backs_off_at_least_100ms),
        cmocka_unit_test(spawn_failed_goes_fatal),
        cmocka_unit_test(last_exit_only_after_an_exit),
        cmocka_unit_test(stop_escalation),
        cmocka_unit_test(stopping_exit_group_gone_stops),
        cmocka_unit_test(stopping_with_want_up_respawns),
        cmocka_unit_test(stopping_group_empty),
        cmocka_unit_test(backoff_stop_cancels_timer),
        cmocka_unit_test(should_restart_truth_table),
        cmocka_unit_test(has_process),
        cmocka_unit_test(wait_ready_gates_running),
        cmocka_unit_test(wait_ready_start_timeout),
        cmocka_unit_test(heartbeat_late_restarts),
        cmocka_unit_test(stop_during_heartbeat_restart),
        cmocka_unit_test(start_waits_for_dependencies),
        cmocka_unit_test(stop_while_waiting),
        cmocka_unit_test(restart_does_not_wait_for_dependencies),
        cmocka_unit_test(names),
        cmocka_unit_test(restart_from_name),
    };

    return cmocka_run_group_tests_name("svc", tests, NULL, NULL);
}

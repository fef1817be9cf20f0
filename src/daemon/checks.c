/*
 * checks: the supervisor's side of probes (probe.c).
 *
 * Readiness: while an instance is starting and its program has a `ready`
 * probe, one attempt every `interval` until the first pass, which makes it
 * running (start_timeout bounds the wait, in svc.c). Health: once running
 * (and start_period after the spawn), one attempt every `interval`;
 * `failures` in a row mark it failing (unhealthy for /health) and restart
 * it. With idle_only an instance that beat within the interval is not
 * checked at all: a busy worker is never falsely failed (Hero's ping of
 * idle workers). At most one attempt per instance is in flight.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "core/tmpl.h"
#include "core/util.h"
#include "os/spawn.h"
#include "daemon/supervisor_int.h"
#include "daemon/checks.h"
#include "daemon/liveness.h"

static struct instance *
run_instance(struct probe_run *run)
{
    return container_of(run, struct instance, probe);
}

static void
schedule(struct instance *in, int64_t delay_ms)
{
    (void)timer_arm(&in->sup->timers, &in->check_timer, util_now_ms() + delay_ms);
}

static const struct probe_cfg *
current_probe(const struct instance *in)
{
    const struct program_cfg *pc = in->prog->cfg;

    if (in->svc.state == SVC_STARTING && pc->ready_probe.kind != PROBE_NONE && !in->ready)
        return &pc->ready_probe;
    if (in->svc.state == SVC_RUNNING && pc->health.kind != PROBE_NONE)
        return &pc->health;
    return NULL;
}

/* Drops a command probe's pid from the map once probe.c has seen it reaped. */
static void
forget_pid(struct instance *in)
{
    if (in->probe_pid && in->probe.pid == 0) {
        (void)pidmap_del(&in->sup->probe_pids, in->probe_pid);
        in->probe_pid = 0;
    }
}

static void
attempt_done(struct probe_run *run, bool passed, const char *why)
{
    struct instance *in = run_instance(run);
    const struct program_cfg *pc = in->prog->cfg;
    bool readiness =
        in->svc.state == SVC_STARTING && !in->ready && pc->ready_probe.kind != PROBE_NONE;
    const struct probe_cfg *pr = readiness ? &pc->ready_probe : &pc->health;

    if (readiness) {
        if (passed) {
            static char cause[32];
            in->ready = true;
            (void)snprintf(cause, sizeof(cause), "%s probe passed", probe_kind_name(pr->kind));
            in->svc.ready_cause = cause;
            svc_dispatch(&in->svc, SVC_EV_READY, util_now_ms());
            if (pc->health.kind != PROBE_NONE)
                schedule(in, pc->health.interval_ms);
        } else {
            log_debug("%s: readiness %s probe: %s", in->label, probe_kind_name(pr->kind), why);
            schedule(in, pr->interval_ms);
        }
        return;
    }
    if (in->svc.state != SVC_RUNNING)
        return;
    if (passed) {
        log_debug("%s: health %s check passed", in->label, probe_kind_name(pr->kind));
        if (in->check_failing || in->check_failures)
            inst_log(LOG_LVL_INFO, in, "health check passing again");
        in->check_failures = 0;
        in->check_failing = false;
    } else {
        in->check_failures++;
        in->check_failures_total++;
        inst_log(LOG_LVL_WARN, in, "health check failed (%u of %u): %s %s", in->check_failures,
                 pr->failures, probe_kind_name(pr->kind), why);
        if (in->check_failures >= pr->failures) {
            in->check_failing = true;
            in->check_failures = 0;
            svc_dispatch(&in->svc, SVC_EV_UNHEALTHY, util_now_ms());
            return; /* stopping: the next process gets a fresh schedule */
        }
    }
    schedule(in, pr->interval_ms);
}

static int
start_command(struct instance *in, const struct probe_cfg *pr, const struct tmpl_vars *vars)
{
    char *argv[CFG_MAX_ARGS + 1] = { 0 }, *owned[CFG_MAX_ARGS] = { 0 };
    char path[4096];
    struct spawn_result res;
    enum spawn_step step;
    int r = 0;

    for (size_t i = 0; i < pr->argc && r == 0; i++) {
        bool oom;
        owned[i] = tmpl_expand(pr->argv[i], vars, &oom);
        if (oom)
            r = -ENOMEM;
        argv[i] = owned[i] ? owned[i] : pr->argv[i];
    }
    if (r == 0)
        r = spawn_resolve(argv[0], NULL, path, sizeof(path));
    if (r == 0)
        r = spawn_process(&(struct spawn_req){ .path = path,
                                               .argv = argv,
                                               .envp = in->prog->env_base,
                                               .stdin_fd = -1,
                                               .stdout_fd = -1,
                                               .stderr_fd = -1,
                                               .keep_fd = -1,
                                               .quiet = true,
                                               /* a check can do no more than its program */
                                               .identity = &in->prog->cfg->identity },
                          &res, &step);
    for (size_t i = 0; i < pr->argc; i++)
        free(owned[i]);
    if (r < 0)
        return r;
    in->probe_pid = res.pid;
    if (pidmap_put(&in->sup->probe_pids, res.pid, in) < 0)
        in->probe_pid = 0;
    return probe_start_command(&in->probe, &in->sup->loop, &in->sup->timers, res.pid, res.pidfd,
                               pr->timeout_ms);
}

static void
check_timer_fired(struct timer *t, int64_t now_ms)
{
    struct instance *in = container_of(t, struct instance, check_timer);
    const struct probe_cfg *pr = current_probe(in);
    struct tmpl_vars vars = { .name = in->prog->cfg->name,
                              .instance = in->index,
                              .port = in->port };
    struct probe_addr addr;
    int r;

    (void)now_ms;
    if (!pr) {
        /* starting by start_seconds with a health check to come: look again later */
        if (in->svc.state == SVC_STARTING && in->prog->cfg->health.kind != PROBE_NONE)
            schedule(in, in->prog->cfg->health.interval_ms);
        return;
    }
    if (in->probe.busy) {
        schedule(in, pr->interval_ms); /* a timed-out command still draining */
        return;
    }
    if (pr == &in->prog->cfg->health && pr->idle_only) {
        int64_t now_ns = util_now_ns(), last = liveness_last_beat_ns(in, now_ns);
        if (last && now_ns - last < pr->interval_ms * 1000000) {
            in->check_failures = 0; /* busy polling: alive, and not to be disturbed */
            schedule(in, pr->interval_ms);
            return;
        }
    }
    if (pr->kind == PROBE_COMMAND) {
        r = start_command(in, pr, &vars);
    } else {
        bool oom;
        char *target = tmpl_expand(pr->target, &vars, &oom);
        const char *t_ = target ? target : pr->target;
        r = oom ? -ENOMEM
                : (pr->kind == PROBE_TCP ? probe_parse_tcp(t_, &addr)
                                         : probe_parse_http(t_, &addr));
        free(target);
        if (r == 0)
            r = probe_start_net(&in->probe, &in->sup->loop, &in->sup->timers, pr->kind, &addr,
                                pr->timeout_ms);
    }
    if (r < 0) {
        in->probe.reported = false;
        (void)snprintf(in->probe.why, sizeof(in->probe.why), "cannot start: %s", strerror(-r));
        attempt_done(&in->probe, false, in->probe.why);
    }
}

static void
deadline_fired(struct timer *t, int64_t now_ms)
{
    struct probe_run *run = container_of(t, struct probe_run, deadline);
    struct instance *in = run_instance(run);

    (void)now_ms;
    probe_expired(run, &in->sup->loop, &in->sup->timers);
}

/* The attempt's socket or pidfd is ready. */
static void
probe_source_ready(struct loop_source *src, uint32_t events)
{
    struct probe_run *run = container_of(src, struct probe_run, src);
    struct supervisor *sup = run_instance(run)->sup;

    (void)events;
    probe_ready(run, &sup->loop, &sup->timers);
    forget_pid(run_instance(run));
}

void
checks_init(struct instance *in)
{
    probe_run_init(&in->probe, attempt_done, deadline_fired, probe_source_ready);
    timer_init(&in->check_timer, check_timer_fired);
}

void
checks_spawned(struct instance *in)
{
    const struct program_cfg *pc = in->prog->cfg;

    in->check_failures = 0;
    in->check_failing = false;
    if (pc->ready_probe.kind != PROBE_NONE)
        schedule(in, pc->ready_probe.interval_ms);
    else if (pc->health.kind != PROBE_NONE)
        schedule(in, pc->health.start_period_ms > pc->health.interval_ms
                         ? pc->health.start_period_ms
                         : pc->health.interval_ms);
}

void
checks_gone(struct instance *in)
{
    timer_cancel(&in->sup->timers, &in->check_timer);
    if (in->probe.busy)
        probe_cancel(&in->probe, &in->sup->loop, &in->sup->timers);
    forget_pid(in);
}

bool
checks_reaped(struct supervisor *sup, const siginfo_t *info)
{
    struct instance *in = pidmap_get(&sup->probe_pids, info->si_pid);

    if (!in)
        return false;
    probe_reaped(&in->probe, &sup->loop, &sup->timers, info->si_code, info->si_status);
    forget_pid(in);
    if (in->index >= in->prog->want)
        pool_settle_scale(in->prog); /* a slot being scaled away waited for its probe */
    return true;
}

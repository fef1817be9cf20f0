/*
 * deps: waiting instances and the shutdown order. See deps.h.
 */
#include "daemon/deps.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "daemon/pool.h"
#include "daemon/supervisor_int.h"
#include "os/log.h"

/* program.waiting_for: room for a few dependencies; more are cut with "...". */
#define WAITING_FOR_MAX 512

enum verdict { DEP_READY, DEP_PENDING, DEP_FAILED };

static enum verdict
instance_verdict(const struct instance *in)
{
    const struct svc_policy *policy = &in->prog->cfg->policy;

    if (in->svc.state == SVC_RUNNING) /* a one-shot is done when it exited, not while it runs */
        return policy->restart == SVC_RESTART_NEVER ? DEP_PENDING : DEP_READY;
    if (in->svc.state == SVC_EXITED)
        return in->svc.has_exit && svc_exit_succeeded(policy, &in->svc.last_exit) ? DEP_READY
                                                                                  : DEP_FAILED;
    return in->svc.state == SVC_FATAL ? DEP_FAILED : DEP_PENDING;
}

/* The worst of prog's instances in use, and (not ready) the first that is that. */
static enum verdict
program_verdict(const struct program *prog, const struct instance **culprit)
{
    enum verdict worst = DEP_READY;

    *culprit = NULL;
    for (unsigned i = 0; i < prog->want && i < prog->ninstances; i++) {
        enum verdict v = instance_verdict(&prog->instances[i]);
        if (v > worst) {
            worst = v;
            *culprit = &prog->instances[i];
        }
    }
    return worst;
}

/* The program prog's j-th `after` names; NULL if it has left the pool (nothing to wait for). */
static const struct program *
dependency(const struct program *prog, size_t j)
{
    const char *name = prog->cfg->after[j];

    return pool_find_program(prog->pool, name, strlen(name));
}

/* Every program prog starts after is ready. */
static bool
program_deps_ready(const struct program *prog)
{
    for (size_t j = 0; j < prog->cfg->nafter; j++) {
        const struct program *dep = dependency(prog, j);
        const struct instance *culprit;

        if (dep && program_verdict(dep, &culprit) != DEP_READY)
            return false;
    }
    return true;
}

bool
deps_ready(struct instance *in)
{
    return program_deps_ready(in->prog);
}

void
deps_changed(struct instance *in)
{
    struct deps *d = &in->sup->deps;
    bool was = in->state_from == SVC_WAITING, is = in->svc.state == SVC_WAITING;

    if (is && !was)
        d->nwaiting++;
    else if (was && !is)
        d->nwaiting--;
    d->changed = true;
}

void
deps_reconfigured(struct supervisor *sup)
{
    sup->deps.changed = true;
}

/* "redis (redis:0 starting); migrate (migrate:0 failed: exit code 1)" into prog->waiting_for. */
static bool
describe(struct program *prog)
{
    char *buf = prog->waiting_for;
    size_t len = 0;
    bool failed = false;

    buf[0] = '\0';
    for (size_t j = 0; j < prog->cfg->nafter && len < WAITING_FOR_MAX; j++) {
        const struct program *dep = dependency(prog, j);
        const struct instance *who;
        enum verdict v = dep ? program_verdict(dep, &who) : DEP_READY;
        char how[48] = "";
        int n;

        if (v == DEP_READY)
            continue;
        if (v == DEP_FAILED && who->svc.state == SVC_EXITED) {
            const struct svc_exit *e = &who->svc.last_exit;
            if (!e->known)
                (void)snprintf(how, sizeof(how), "failed: how it ended is unknown");
            else if (e->signaled)
                (void)snprintf(how, sizeof(how), "failed: killed by signal %s",
                               util_signal_name(e->value));
            else
                (void)snprintf(how, sizeof(how), "failed: exit code %d", e->value);
        } else {
            (void)snprintf(how, sizeof(how), "%s", svc_state_name(who->svc.state));
        }
        failed |= v == DEP_FAILED;
        n = snprintf(buf + len, WAITING_FOR_MAX - len, "%s%s (%s %s)", len ? "; " : "",
                     dep->cfg->name, who->label, how);
        if (n < 0 || (size_t)n >= WAITING_FOR_MAX - len) {
            (void)snprintf(buf + WAITING_FOR_MAX - 4, 4, "...");
            break;
        }
        len += (size_t)n;
    }
    return failed;
}

/*
 * prog has waiting instances: start them if what they wait for is ready,
 * else say what it is (logged when it first waits, and when a dependency
 * fails or recovers).
 */
static void
look_at(struct program *prog)
{
    bool failed = false, ready;

    if (!prog->waiting_for && !(prog->waiting_for = malloc(WAITING_FOR_MAX)))
        log_warnx("%s: out of memory describing what it waits for: /status will not say, "
                  "ignoring (it still starts once that is ready)",
                  prog->cfg->name);
    if (prog->waiting_for) {
        failed = describe(prog);
        ready = !prog->waiting_for[0];
    } else {
        ready = program_deps_ready(prog);
    }
    if (ready) {
        for (unsigned i = 0; i < prog->ninstances; i++)
            if (prog->instances[i].svc.state == SVC_WAITING)
                svc_dispatch(&prog->instances[i].svc, SVC_EV_DEPS_READY, util_now_ms());
        prog->waiting_logged = false;
        return;
    }
    if (prog->waiting_for && (!prog->waiting_logged || failed != prog->waiting_failed)) {
        if (failed)
            log_warnx("%s waits for %s: it will not start until that is fixed (a start, a "
                      "reload)",
                      prog->cfg->name, prog->waiting_for);
        else
            log_info("%s waits for %s", prog->cfg->name, prog->waiting_for);
        prog->waiting_logged = true;
        prog->waiting_failed = failed;
    }
}

static bool
has_waiting(const struct program *prog)
{
    for (unsigned i = 0; i < prog->ninstances; i++)
        if (prog->instances[i].svc.state == SVC_WAITING)
            return true;
    return false;
}

/* Any process left in a program at level >= level. */
static bool
level_has_process(const struct supervisor *sup, unsigned level)
{
    for (size_t p = 0; p < sup->pool.nprograms; p++) {
        const struct program *prog = sup->pool.programs[p];
        if (prog->cfg->level < level)
            continue;
        for (unsigned i = 0; i < prog->ninstances; i++)
            if (svc_has_process(prog->instances[i].svc.state))
                return true;
    }
    return false;
}

static void
stop_level(struct supervisor *sup, unsigned level, bool say)
{
    char names[256];
    size_t len = 0;

    names[0] = '\0';
    for (size_t p = 0; say && p < sup->pool.nprograms; p++) {
        const char *name = sup->pool.programs[p]->cfg->name;
        int n;

        if (sup->pool.programs[p]->cfg->level == level && len < sizeof(names) &&
            (n = snprintf(names + len, sizeof(names) - len, "%s%s", len ? ", " : "", name)) > 0)
            len += (size_t)n;
    }
    if (names[0])
        log_info("stopping level %u: %s%s", level, names, len >= sizeof(names) ? "..." : "");
    for (size_t p = 0; p < sup->pool.nprograms; p++) {
        struct program *prog = sup->pool.programs[p];

        if (prog->cfg->level == level)
            for (unsigned i = 0; i < prog->ninstances; i++)
                if (!jobs_stop_when_idle(&prog->instances[i])) /* else it finishes its jobs first */
                    svc_dispatch(&prog->instances[i].svc, SVC_EV_STOP, util_now_ms());
    }
}

/* The next level down, once the ones above have no process left. */
static void
shutdown_step(struct supervisor *sup)
{
    struct deps *d = &sup->deps;
    bool levels = false;

    for (size_t p = 0; p < sup->pool.nprograms && !levels; p++)
        levels = sup->pool.programs[p]->cfg->level > 0;
    while (d->stop_level > 0 && !level_has_process(sup, d->stop_level)) {
        d->stop_level--;
        stop_level(sup, d->stop_level, levels);
    }
}

static void
stop_idle(struct instance *in, void *arg)
{
    (void)arg;
    if (!svc_has_process(in->svc.state))
        svc_dispatch(&in->svc, SVC_EV_STOP, util_now_ms());
}

void
deps_shutdown(struct supervisor *sup)
{
    struct deps *d = &sup->deps;
    unsigned top = 0;

    d->shutting_down = true;
    pool_for_each_instance(&sup->pool, stop_idle, NULL);
    for (size_t p = 0; p < sup->pool.nprograms; p++)
        if (sup->pool.programs[p]->cfg->level > top)
            top = sup->pool.programs[p]->cfg->level;
    d->stop_level = top + 1;
    shutdown_step(sup);
}

/*
 * Before the loop sleeps. A start can make its program ready at once (no
 * start_seconds), and that can free the next level: look again until a
 * pass starts nothing (at most one pass per level, plus one).
 */
static void
before_sleep(struct loop_hook *hook)
{
    struct supervisor *sup = container_of(hook, struct supervisor, deps.before_sleep);
    struct deps *d = &sup->deps;

    if (d->shutting_down) {
        shutdown_step(sup);
        return;
    }
    for (size_t pass = 0; d->changed && pass <= sup->pool.nprograms; pass++) {
        d->changed = false;
        if (d->nwaiting == 0)
            break;
        for (size_t p = 0; p < sup->pool.nprograms; p++)
            if (has_waiting(sup->pool.programs[p]))
                look_at(sup->pool.programs[p]);
    }
}

void
deps_setup(struct supervisor *sup)
{
    loop_add_before_sleep(&sup->loop, &sup->deps.before_sleep, before_sleep);
}

void
deps_done(struct supervisor *sup)
{
    for (size_t p = 0; sup->pool.programs && p < sup->pool.nprograms; p++) {
        free(sup->pool.programs[p]->waiting_for);
        sup->pool.programs[p]->waiting_for = NULL;
    }
}

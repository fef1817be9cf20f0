/*
 * reload: a new configuration and its plan, carried out. See reload.h.
 */
#include "daemon/reload.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/plan.h"
#include "core/util.h"
#include "os/afile.h"
#include "os/log.h"
#include "daemon/checks.h"
#include "daemon/deps.h"
#include "daemon/hooks.h"
#include "daemon/jobs.h"
#include "daemon/jobscale.h"
#include "daemon/launch.h"
#include "daemon/liveness.h"
#include "daemon/memwatch.h"
#include "daemon/persist.h"
#include "daemon/pool.h"
#include "daemon/supervisor_int.h"

/* One program's part of a plan that takes time. */
struct reload_prog {
    enum plan_action action;     /* PLAN_ROLL, PLAN_REMOVE or PLAN_REPLACE */
    struct program *prog;        /* the running one: rolled, or draining; NULL once gone */
    struct program *replacement; /* PLAN_REPLACE: starts once prog is gone; NULL once in */
    unsigned next, end;          /* PLAN_ROLL: slots [next, end) are not restarted yet */
    bool *inflight;              /* PLAN_ROLL: restarted, its new process not ready yet */
    unsigned *restarts;          /* PLAN_ROLL: svc.restarts when it was restarted by the roll */
    unsigned unavailable;        /* PLAN_ROLL: max_unavailable */
    bool finished;
};

struct reload {
    struct reload_prog *v;
    size_t n;
    struct config *retired; /* the configuration the plan replaced; removed programs borrow it */
    char verb[16];
};

bool
reload_running(const struct supervisor *sup)
{
    return sup->reload != NULL;
}

bool
reload_is_leaving(const struct supervisor *sup, const struct program *prog)
{
    for (size_t i = 0; sup->reload && i < sup->reload->n; i++)
        if (sup->reload->v[i].action != PLAN_ROLL && sup->reload->v[i].prog == prog)
            return true;
    return false;
}

/* --- telling the plan ----------------------------------------------------------------------- */

static void tell(struct supervisor *sup, const char *program, const char *action, const char *fmt,
                 ...) __attribute__((format(printf, 4, 5)));

/* One line in the log and one plan event in /events. */
static void
tell(struct supervisor *sup, const char *program, const char *action, const char *fmt, ...)
{
    char text[256];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    log_info("plan: %s", text);
    events_push_plan(&sup->events, util_unix_ms(), program, action, text);
}

static int
lines_of(const struct plan *p, struct reload_outcome *o)
{
    o->lines = calloc(p->nsteps ? p->nsteps : 1, sizeof(*o->lines));
    if (!o->lines)
        return -ENOMEM;
    for (size_t i = 0; i < p->nsteps; i++) {
        struct reload_line *l = &o->lines[i];
        (void)snprintf(l->program, sizeof(l->program), "%s", p->steps[i].name);
        (void)snprintf(l->action, sizeof(l->action), "%s", plan_action_name(p->steps[i].action));
        plan_step_text(&p->steps[i], l->text, sizeof(l->text));
    }
    o->nlines = p->nsteps;
    (void)snprintf(o->settings_now, sizeof(o->settings_now), "%s", p->settings_now.keys);
    (void)snprintf(o->settings_later, sizeof(o->settings_later), "%s", p->settings_later.keys);
    return 0;
}

void
reload_outcome_done(struct reload_outcome *o)
{
    free(o->lines);
    o->lines = NULL;
    o->nlines = 0;
}

/* --- the programs of the running configuration ------------------------------------------------ */

/* The pool's program running cfg's i-th program (outside a plan, each one is some program's). */
static struct program *
running(struct supervisor *sup, const struct config *cfg, size_t i)
{
    for (size_t p = 0; p < sup->pool.nprograms; p++)
        if (sup->pool.programs[p]->cfg == &cfg->programs[i])
            return sup->pool.programs[p];
    return NULL;
}

static size_t
pool_slots(const struct supervisor *sup)
{
    size_t n = 0;

    for (size_t p = 0; p < sup->pool.nprograms; p++)
        n += sup->pool.programs[p]->cfg->max_instances;
    return n;
}

/* A program a plan adds (or a replacement): made, with what can fail, before anything changes. */
static struct program *
program_made(struct supervisor *sup, const struct program_cfg *pc)
{
    struct program *prog = pool_program_new(&sup->pool, sup, pc);

    if (!prog)
        return NULL;
    if (launch_env_base(prog) < 0 || liveness_program_open(prog) < 0) {
        heartbeat_region_close(&prog->hb);
        pool_program_free(prog);
        return NULL;
    }
    return prog;
}

static void
program_unmade(struct program *prog)
{
    if (!prog)
        return;
    liveness_program_close(prog);
    jobscale_program_leaves(prog);
    jobs_program_leaves(prog);
    pool_program_free(prog);
}

static void
start_all(struct program *prog)
{
    int64_t now = util_now_ms();

    for (unsigned i = 0; i < prog->want && i < prog->ninstances; i++)
        svc_dispatch(&prog->instances[i].svc, SVC_EV_START, now);
}

/* True when key is one of d's changed keys ("a, b, c"). */
static bool
changed(const struct cfgdiff *d, const char *key)
{
    size_t n = strlen(key);

    for (const char *p = d->keys; (p = strstr(p, key)); p += n)
        if ((p == d->keys || p[-1] == ' ') && (p[n] == '\0' || p[n] == ','))
            return true;
    return false;
}

/* A continuing program now reads pc (equal but for what the step changes). */
static void
repoint(struct program *prog, const struct program_cfg *pc, char **env_base, size_t nenv_base,
        const struct cfgdiff *d)
{
    prog->cfg = pc;
    for (unsigned i = 0; i < pc->max_instances; i++)
        prog->instances[i].svc.policy = &pc->policy;
    free(prog->env_base);
    prog->env_base = env_base;
    prog->nenv_base = nenv_base;
    if (changed(d, "memory_max"))
        memwatch_program_changed(prog);
    /* Health checks are drover's own: the running processes get the new ones now. */
    if (changed(d, "health"))
        for (unsigned i = 0; i < prog->ninstances; i++) {
            struct instance *in = &prog->instances[i];
            if (!svc_has_process(in->svc.state) || in->svc.state == SVC_STOPPING)
                continue;
            checks_gone(in);
            if (pc->health.kind != PROBE_NONE)
                checks_spawned(in);
        }
}

/* What each program of the running configuration runs now (a `drover scale` is kept). */
static unsigned *
running_wants(struct supervisor *sup)
{
    unsigned *want = calloc(sup->cfg.nprograms ? sup->cfg.nprograms : 1, sizeof(*want));

    for (size_t i = 0; want && i < sup->cfg.nprograms; i++) {
        struct program *prog = running(sup, &sup->cfg, i);
        want[i] = prog ? prog->want : sup->cfg.programs[i].instances;
    }
    return want;
}

/* --- preparing: everything that can fail, before anything changes ------------------------------
 */

struct prepared {
    struct plan plan;
    struct program **made; /* per step: an added program or a replacement, else NULL */
    char ***env;           /* per step: a continuing program's new environment base */
    size_t *nenv;
    struct reload *state; /* when the plan takes time */
    struct config *retired;
};

static void
prepared_done(struct prepared *pr, bool committed)
{
    for (size_t i = 0; !committed && pr->made && i < pr->plan.nsteps; i++)
        program_unmade(pr->made[i]);
    for (size_t i = 0; !committed && pr->env && i < pr->plan.nsteps; i++)
        free(pr->env[i]);
    if (pr->state && !committed) {
        for (size_t i = 0; i < pr->state->n; i++)
            free(pr->state->v[i].inflight);
        free(pr->state->v);
        free(pr->state);
    }
    if (!committed)
        free(pr->retired);
    free(pr->made);
    free(pr->env);
    free(pr->nenv);
    plan_done(&pr->plan);
}

static int
prepare(struct supervisor *sup, const struct config *nc, struct prepared *pr)
{
    size_t slots = pool_slots(sup), nprog = sup->pool.nprograms, ntimed = 0;
    unsigned *want = running_wants(sup);
    int r = -ENOMEM;

    if (!want)
        return -ENOMEM;
    r = plan_compute(&sup->cfg, want, nc, &pr->plan);
    free(want);
    if (r < 0)
        return r;
    r = -ENOMEM;
    pr->made = calloc(pr->plan.nsteps + 1, sizeof(*pr->made));
    pr->env = calloc(pr->plan.nsteps + 1, sizeof(*pr->env));
    pr->nenv = calloc(pr->plan.nsteps + 1, sizeof(*pr->nenv));
    pr->retired = calloc(1, sizeof(*pr->retired));
    if (!pr->made || !pr->env || !pr->nenv || !pr->retired)
        return r;
    for (size_t i = 0; i < pr->plan.nsteps; i++) {
        const struct plan_step *s = &pr->plan.steps[i];
        const struct program_cfg *pc =
            s->new_index != PLAN_NONE ? &nc->programs[s->new_index] : NULL;

        switch (s->action) {
        case PLAN_ADD:
        case PLAN_REPLACE:
            if (!(pr->made[i] = program_made(sup, pc)))
                return r;
            pr->made[i]->want = s->to;
            pr->made[i]->ninstances = s->to;
            slots += pc->max_instances;
            nprog++;
            ntimed += s->action == PLAN_REPLACE;
            break;
        case PLAN_KEEP:
        case PLAN_UPDATE:
        case PLAN_SCALE:
        case PLAN_ROLL: {
            struct program tmp = { .cfg = pc };
            if (launch_env_base(&tmp) < 0)
                return r;
            pr->env[i] = tmp.env_base;
            pr->nenv[i] = tmp.nenv_base;
            ntimed += s->action == PLAN_ROLL;
            break;
        }
        case PLAN_REMOVE:
            ntimed++;
            break;
        case PLAN__MAX:
        case PLAN_INVALID:
            break;
        }
    }
    /* Room for the old and the new side by side while removed programs drain. */
    if (pool_reserve_programs(&sup->pool, nprog) < 0 ||
        timers_reserve(&sup->timers, supervisor_timers_needed(sup, slots, nprog)) < 0 ||
        pidmap_reserve(&sup->pids, slots) < 0 || pidmap_reserve(&sup->probe_pids, slots) < 0)
        return r;
    if (ntimed) {
        pr->state = calloc(1, sizeof(*pr->state));
        if (!pr->state || !(pr->state->v = calloc(ntimed, sizeof(*pr->state->v))))
            return r;
        for (size_t i = 0; i < pr->plan.nsteps; i++)
            if (pr->plan.steps[i].action == PLAN_ROLL) {
                struct reload_prog *e = &pr->state->v[pr->state->n++];
                unsigned n = pr->plan.steps[i].from < pr->plan.steps[i].to ? pr->plan.steps[i].from
                                                                           : pr->plan.steps[i].to;
                e->action = PLAN_ROLL;
                e->end = n;
                e->inflight = calloc(n ? n : 1, sizeof(*e->inflight));
                e->restarts = calloc(n ? n : 1, sizeof(*e->restarts));
                if (!e->inflight || !e->restarts)
                    return r;
            }
    }
    return 0;
}

/* --- committing: from here on nothing fails ----------------------------------------------------
 */

/* Settings that were bound or opened at start-up stay as they are until the next start. */
static void
keep_startup_settings(struct config *nc, struct config *old)
{
    char *s;
    uint16_t from = nc->port_from, to = nc->port_to;
    bool b;

    nc->port_from = old->port_from;
    nc->port_to = old->port_to;
    old->port_from = from;
    old->port_to = to;
    s = nc->dumpfile, nc->dumpfile = old->dumpfile, old->dumpfile = s;
    s = nc->http, nc->http = old->http, old->http = s;
    s = nc->control, nc->control = old->control, old->control = s;
    b = nc->adopt, nc->adopt = old->adopt, old->adopt = b;
    b = nc->control_off, nc->control_off = old->control_off, old->control_off = b;
    {
        /* The job channel and store were set up with these: they change at the next start. */
        struct jobs_cfg j = nc->jobs;

        nc->jobs = old->jobs;
        old->jobs = j;
    }
}

static void
commit(struct supervisor *sup, struct config *nc, struct prepared *pr)
{
    struct config *old = pr->retired;
    size_t k = 0;

    *old = sup->cfg;
    keep_startup_settings(nc, old);
    sup->cfg = *nc; /* the programs array moves with it: pointers into it stay valid */
    *nc = (struct config){ 0 };
    for (size_t i = 0; i < pr->plan.nsteps; i++) {
        const struct plan_step *s = &pr->plan.steps[i];
        struct program *prog = s->old_index != PLAN_NONE ? running(sup, old, s->old_index) : NULL;
        const struct program_cfg *pc =
            s->new_index != PLAN_NONE ? &sup->cfg.programs[s->new_index] : NULL;
        char line[256];

        plan_step_text(s, line, sizeof(line));
        if (s->action != PLAN_KEEP)
            tell(sup, s->name, plan_action_name(s->action), "%s", line);
        switch (s->action) {
        case PLAN_KEEP:
        case PLAN_UPDATE:
        case PLAN_SCALE:
        case PLAN_ROLL:
            repoint(prog, pc, pr->env[i], pr->nenv[i], &s->diff);
            pr->env[i] = NULL;
            if (s->to != prog->want)
                (void)pool_scale(&sup->pool, prog, s->to); /* within max_instances: the plan's */
            if (s->action == PLAN_ROLL) {
                struct reload_prog *e = &pr->state->v[k++];
                e->prog = prog;
                e->unavailable = pc->max_unavailable;
            }
            break;
        case PLAN_ADD:
            (void)pool_add_program(&sup->pool, pr->made[i]); /* room reserved */
            start_all(pr->made[i]);
            pr->made[i] = NULL;
            break;
        case PLAN_REMOVE:
        case PLAN_REPLACE: {
            struct reload_prog *e = &pr->state->v[pr->state->n++];
            e->action = s->action;
            e->prog = prog;
            e->replacement = pr->made[i];
            pr->made[i] = NULL;
            (void)pool_scale(&sup->pool, prog, 0);
            break;
        }
        case PLAN__MAX:
        case PLAN_INVALID:
            break;
        }
    }
    if (pr->plan.settings_now.keys[0])
        tell(sup, "", "settings", "applied now: %s", pr->plan.settings_now.keys);
    if (pr->plan.settings_later.keys[0])
        tell(sup, "", "settings", "take effect at the next start of drover: %s",
             pr->plan.settings_later.keys);
    hooks_reconfigured(&sup->hooks); /* the hooks the new configuration adds run */
    deps_reconfigured(sup);          /* what waiting instances wait for may have changed */
    jobs_reconfigured(sup);          /* which program takes which job type */
    jobscale_reconfigured(sup);      /* and which scales itself, by what policy */
    if (pr->state) {
        pr->state->retired = old;
        sup->reload = pr->state;
    } else {
        cfg_done(old); /* nothing borrows from it: every program reads the new one */
        free(old);
    }
    persist_changed(sup);
}

/* --- the request ------------------------------------------------------------------------------ */

/*
 * Removes the saved copy at path, and syncs its directory so that the copy
 * cannot come back after a crash and override what is in force. True if it
 * was there.
 */
static bool
remove_saved(const char *path)
{
    char dir[PATH_MAX];
    char *slash;
    int fd;

    if (unlink(path) < 0) {
        if (errno != ENOENT)
            log_warn("cannot remove %s", path);
        return false;
    }
    (void)snprintf(dir, sizeof(dir), "%s", path);
    slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        (void)snprintf(dir, sizeof(dir), ".");
    if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
        (void)fsync(fd);
        (void)close(fd);
    }
    return true;
}

static void
saved_path(const struct supervisor *sup, char *buf, size_t len)
{
    buf[0] = '\0';
    if (sup->dumpfile)
        (void)snprintf(buf, len, "%s%s", sup->dumpfile, RELOAD_SAVED_SUFFIX);
}

void
reload_forget_saved(struct supervisor *sup)
{
    char saved[PATH_MAX];

    saved_path(sup, saved, sizeof(saved));
    if (saved[0] && remove_saved(saved))
        log_info("removed %s, a configuration an earlier drover applied over the API: this start "
                 "is without --adopt, so its configuration is in force",
                 saved);
}

static void
refuse(struct reload_outcome *o, int code, const char *why)
{
    o->code = code;
    o->message = why;
}

void
reload_request(struct supervisor *sup, const struct reload_req *rq, struct reload_outcome *ret)
{
    struct config *nc = NULL;
    struct prepared pr = { 0 };
    char saved[PATH_MAX];
    int r;

    *ret = (struct reload_outcome){ .code = 200 };
    if (!sup->load_config)
        return refuse(ret, 500, "this drover cannot load a configuration");
    if (sup->shutting_down)
        return refuse(ret, 409, "drover is shutting down");
    if (sup->reload)
        return refuse(ret, 409,
                      "a plan is running (a rolling restart, or removed programs stopping): "
                      "nothing changed; try again once it is done (see /events)");
    if (!(nc = calloc(1, sizeof(*nc))))
        return refuse(ret, 500, "out of memory: nothing changed");
    r = sup->load_config(sup->load_config_arg, rq->text, rq->len, rq->source, nc, &ret->errs);
    if (r == -ENOENT) {
        free(nc);
        return refuse(ret, 409,
                      "the config came from stdin; use drover apply (or PUT /config) to send one");
    }
    if (r < 0) {
        free(nc);
        log_warnx("%s refused: the new configuration is invalid, nothing changed (%u error%s)",
                  rq->verb, ret->errs.count, ret->errs.count == 1 ? "" : "s");
        return refuse(ret, 400, "invalid configuration: nothing changed");
    }
    if (rq->dry_run) {
        unsigned *want = running_wants(sup);
        r = want ? plan_compute(&sup->cfg, want, nc, &pr.plan) : -ENOMEM;
        free(want);
        if (r == 0 && (r = lines_of(&pr.plan, ret)) == 0)
            log_info("%s --dry-run: %zu step%s, nothing changed", rq->verb, pr.plan.nsteps,
                     pr.plan.nsteps == 1 ? "" : "s");
        plan_done(&pr.plan);
        cfg_done(nc);
        free(nc);
        if (r < 0)
            refuse(ret, 500, "out of memory: nothing changed");
        return;
    }
    r = prepare(sup, nc, &pr);
    if (r == 0)
        r = lines_of(&pr.plan, ret);
    saved_path(sup, saved, sizeof(saved));
    if (r == 0 && rq->text && saved[0]) {
        int s = afile_save(saved, rq->text, rq->len);
        if (s < 0) {
            log_errorx("%s refused: cannot save the configuration to %s: %s; nothing changed",
                       rq->verb, saved, strerror(-s));
            prepared_done(&pr, false);
            reload_outcome_done(ret);
            cfg_done(nc);
            free(nc);
            return refuse(ret, 500,
                          "cannot save the configuration beside the dumpfile: "
                          "nothing changed (see drover's log)");
        }
        (void)snprintf(ret->saved, sizeof(ret->saved), "%s", saved);
    }
    if (r < 0) {
        prepared_done(&pr, false);
        reload_outcome_done(ret);
        cfg_done(nc);
        free(nc);
        return refuse(ret, 500, "out of memory: nothing changed");
    }
    log_info("%s: %s the new configuration (%zu program%s)", rq->verb,
             plan_is_empty(&pr.plan) ? "nothing changes with" : "carrying out", nc->nprograms,
             nc->nprograms == 1 ? "" : "s");
    if (!rq->text && saved[0] && remove_saved(saved))
        log_info("reload: removed %s, the file is in force again", saved);
    commit(sup, nc, &pr);
    ret->running = sup->reload != NULL;
    if (sup->reload)
        (void)snprintf(sup->reload->verb, sizeof(sup->reload->verb), "%s", rq->verb);
    prepared_done(&pr, true);
    free(nc);
}

/* --- the plan over time ----------------------------------------------------------------------- */

/*
 * One rolling restart's next moves: a restarted instance counts as
 * unavailable until its new process is running (RUNNING is ready: with a
 * `ready` rule, it passed it), and so does one on its way up for another
 * reason (starting, stopping); the next is restarted only while fewer than
 * max_unavailable are. A new process that fails (exits, goes to backoff or
 * fatal) halts the roll, so each wait ends within its own bounds
 * (start_seconds, start_timeout, stop_timeout) and a roll cannot wait for
 * ever, not even for a crash loop with no yo-yo limit.
 * An instance in backoff, waiting, exited with success or stopped by an
 * operator is not restarted: its next start reads the new configuration
 * anyway. A fatal one, or a one-shot that exited with a failure, is started
 * afresh: a new configuration is a new chance (a fixed migration runs
 * again, and what waits for it can start). When the roll halts, the rest
 * keep their old processes, and the log says so.
 */
/* Exited with a success code: a one-shot that did its job (or on-failure's clean exit). */
static bool
exited_well(const struct instance *in)
{
    return in->svc.has_exit && svc_exit_succeeded(in->svc.policy, &in->svc.last_exit);
}

/* The roll stops here: the instances not restarted yet keep their old processes. */
static void
halt(struct supervisor *sup, struct reload_prog *e, const struct instance *in, const char *why,
     unsigned end)
{
    struct program *prog = e->prog;

    if (e->next < end)
        tell(sup, prog->cfg->name, "halted",
             "\"%s\": rolling restart halted: %s %s with the new configuration; "
             "%u instance%s keep their old processes",
             prog->cfg->name, in->label, why, end - e->next, end - e->next == 1 ? "" : "s");
    e->next = end;
}

static unsigned
roll_once(struct supervisor *sup, struct reload_prog *e)
{
    struct program *prog = e->prog;
    int64_t now = util_now_ms();
    unsigned out = 0, moved = 0, end = e->end < prog->want ? e->end : prog->want;

    for (unsigned i = 0; i < e->end; i++) {
        struct instance *in = &prog->instances[i];
        if (!e->inflight[i])
            continue;
        if (i >= prog->ninstances || in->svc.state == SVC_RUNNING || in->svc.state == SVC_STOPPED ||
            in->svc.state == SVC_EXITED || in->svc.state == SVC_WAITING) {
            /* Ready; or done, stopped by an operator, scaled away; or waiting for its
               dependencies, with the new configuration when it starts. */
            e->inflight[i] = false;
        } else if (in->svc.state == SVC_FATAL) {
            e->inflight[i] = false;
            halt(sup, e, in, "went fatal", end);
        } else if (in->svc.state == SVC_BACKOFF || in->svc.restarts != e->restarts[i]) {
            /* Its new process failed (exited, or could not be spawned): waiting for it to be
               ready could last for ever (no yo-yo limit, a crash loop), and every later
               reload would be refused meanwhile. Its own restarts go on as always. */
            e->inflight[i] = false;
            halt(sup, e, in, "failed (exited again)", end);
        } else {
            out++;
        }
    }
    /*
     * Not ready for another reason (a slow start, a stop) counts too: at most
     * that many. Not one in backoff: a crash loop with no yo-yo limit would
     * hold the roll (and every later reload) for ever; it is caught between
     * its restarts instead.
     */
    for (unsigned i = 0; i < prog->ninstances && i < prog->want; i++) {
        enum svc_state st = prog->instances[i].svc.state;
        if ((i >= e->end || !e->inflight[i]) && (st == SVC_STARTING || st == SVC_STOPPING))
            out++;
    }
    while (out < e->unavailable && e->next < end) {
        struct instance *in = &prog->instances[e->next];
        enum svc_state st = in->svc.state;

        if (st == SVC_STARTING || st == SVC_RUNNING) {
            inst_log(LOG_LVL_INFO, in, "rolling restart (%u of %u)", e->next + 1, end);
            svc_dispatch(&in->svc, SVC_EV_STOP, now);
            svc_dispatch(&in->svc, SVC_EV_START, now); /* STOPPING keeps want_up: respawn */
            e->inflight[e->next] = true;
            e->restarts[e->next] = in->svc.restarts; /* a stop and a start are no restart */
            out++;
            moved++;
        } else if (st == SVC_FATAL || (st == SVC_EXITED && !exited_well(in))) {
            /* A new configuration is a new chance (as an operator's start: a fresh tally). */
            inst_log(LOG_LVL_INFO, in, "rolling restart (%u of %u): %s, started afresh",
                     e->next + 1, end, st == SVC_FATAL ? "fatal" : "failed");
            svc_dispatch(&in->svc, SVC_EV_START, now);
            e->inflight[e->next] = true;
            e->restarts[e->next] = in->svc.restarts;
            out++;
            moved++;
        }
        e->next++;
    }
    return moved;
}

static bool
roll(struct supervisor *sup, struct reload_prog *e)
{
    struct program *prog = e->prog;
    unsigned end = e->end < prog->want ? e->end : prog->want;

    /* A replacement may be ready at once (start_seconds 0): no event would wake us for it. */
    while (roll_once(sup, e) > 0)
        ;
    for (unsigned i = 0; i < e->end; i++)
        if (e->inflight[i])
            return false;
    if (e->next < end)
        return false;
    tell(sup, prog->cfg->name, "rolled", "\"%s\": rolling restart done", prog->cfg->name);
    return true;
}

/* A removed (or replaced) program with no slot left leaves the pool; its replacement comes in. */
static bool
drain(struct supervisor *sup, struct reload_prog *e)
{
    if (e->prog) {
        struct program *prog = e->prog;
        char name[CFG_NAME_MAX + 1];

        if (prog->ninstances > 0)
            return false;
        (void)snprintf(name, sizeof(name), "%s", prog->cfg->name);
        for (unsigned i = 0; i < prog->cfg->max_instances; i++)
            checks_gone(&prog->instances[i]);
        liveness_program_close(prog);
        jobscale_program_leaves(prog);
        jobs_program_leaves(prog);
        pool_remove_program(&sup->pool, prog);
        pool_program_free(prog);
        e->prog = NULL;
        tell(sup, name, "removed", "\"%s\": stopped, left the pool", name);
    }
    if (e->replacement) {
        struct program *prog = e->replacement;

        (void)pool_add_program(&sup->pool, prog); /* room reserved by prepare() */
        e->replacement = NULL;
        jobs_reconfigured(sup); /* the types it takes are its now */
        jobscale_reconfigured(sup);
        start_all(prog);
        tell(sup, prog->cfg->name, "started", "\"%s\": replacement started, %u instance%s",
             prog->cfg->name, prog->want, prog->want == 1 ? "" : "s");
        persist_changed(sup);
    }
    return true;
}

static void
free_state(struct reload *st)
{
    for (size_t i = 0; i < st->n; i++) {
        free(st->v[i].inflight);
        free(st->v[i].restarts);
        program_unmade(st->v[i].replacement);
    }
    free(st->v);
    if (st->retired) {
        cfg_done(st->retired);
        free(st->retired);
    }
    free(st);
}

bool
reload_instance_stale(const struct supervisor *sup, const struct instance *in)
{
    const struct reload *st = sup->reload;

    for (size_t i = 0; st && i < st->n; i++) {
        const struct reload_prog *e = &st->v[i];

        if (e->action != PLAN_ROLL || e->finished || e->prog != in->prog || in->index >= e->end)
            continue;
        return in->index >= e->next || (e->inflight[in->index] && in->svc.state == SVC_STOPPING);
    }
    return false;
}

void
reload_advance(struct supervisor *sup)
{
    struct reload *st = sup->reload;
    bool done = true;

    if (!st || sup->shutting_down)
        return;
    for (size_t i = 0; i < st->n; i++) {
        struct reload_prog *e = &st->v[i];
        if (!e->finished)
            e->finished = e->action == PLAN_ROLL ? roll(sup, e) : drain(sup, e);
        done &= e->finished;
    }
    if (!done)
        return;
    tell(sup, "", "done", "%s done", st->verb);
    sup->reload = NULL;
    free_state(st);
}

void
reload_done(struct supervisor *sup)
{
    struct reload *st = sup->reload;

    if (!st)
        return;
    sup->reload = NULL;
    /* Removed programs still in the pool were freed with it (they borrow st->retired). */
    for (size_t i = 0; i < st->n; i++)
        st->v[i].prog = NULL;
    free_state(st);
}

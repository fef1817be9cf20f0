/*
 * jobscale: queue-depth autoscaling. See jobscale.h.
 */
#include "daemon/jobscale.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/autoscale.h"
#include "core/util.h"
#include "daemon/jobs.h"
#include "daemon/pool.h"
#include "daemon/reload.h"
#include "daemon/supervisor_int.h"
#include "os/log.h"

struct jobscale {
    struct program *prog;
    struct autoscale_policy pol;
    struct autoscale window;
    struct timer timer;
    bool pinned;      /* an operator's scale holds */
    unsigned told;    /* while pinned: the want last logged as not followed; UINT_MAX none */
    unsigned desired; /* the last step's answer */
    uint64_t ups, downs;
};

static struct autoscale_policy
policy_of(const struct program_jobs_cfg *pj)
{
    return (struct autoscale_policy){
        .min = pj->autoscale_min,
        .max = pj->autoscale_max,
        .per_instance = pj->per_instance,
        .interval_ms = pj->autoscale_interval_ms,
        .down_after_ms = pj->down_after_ms,
    };
}

static void
step(struct jobscale *sc, int64_t now_ms)
{
    struct program *prog = sc->prog;
    struct autoscale_now now = { .current = prog->want };
    unsigned want, n;

    jobs_program_backlog(prog->sup, prog, &now.waiting, &now.in_flight);
    for (unsigned i = 0; i < prog->want && i < prog->ninstances; i++) {
        const struct instance *in = &prog->instances[i];

        if (in->svc.state != SVC_BACKOFF && in->svc.state != SVC_FATAL)
            now.counting++;
        if (in->svc.state == SVC_STARTING ||
            (in->svc.state == SVC_RUNNING && !in->ready && prog->cfg->policy.wait_ready))
            now.adding = true; /* not ready for jobs yet */
    }
    /* Only the top instances may go (pool_scale() stops slots from the top): those there
       that hold no job (or have no process), stopping at the first busy one. */
    for (unsigned i = prog->want; i > 0 && !jobs_instance_busy(&prog->instances[i - 1]); i--)
        now.idle++;
    want = autoscale_step(&sc->window, &sc->pol, &now, now_ms);
    if (sc->pinned && want != prog->want && want != sc->told) {
        sc->told = want;
        log_info("\"%s\": autoscale: the queue asks for %u instance%s; held at %u by a manual "
                 "scale (drover autoscale %s on)",
                 prog->cfg->name, want, want == 1 ? "" : "s", prog->want, prog->cfg->name);
    }
    sc->desired = want;
    if (sc->pinned || want == prog->want || reload_is_leaving(prog->sup, prog))
        return;
    n = prog->want;
    if (pool_scale(&prog->sup->pool, prog, want) < 0)
        return;
    if (want > n)
        sc->ups++;
    else
        sc->downs++;
    log_info("\"%s\": autoscale: %zu waiting, %zu held: %u instance%s (was %u)", prog->cfg->name,
             now.waiting, now.in_flight, want, want == 1 ? "" : "s", n);
}

static void
timer_fired(struct timer *t, int64_t now_ms)
{
    struct jobscale *sc = container_of(t, struct jobscale, timer);

    step(sc, now_ms);
    (void)timer_arm(&sc->prog->sup->timers, &sc->timer, now_ms + sc->pol.interval_ms);
}

static void
scale_free(struct program *prog)
{
    struct jobscale *sc = prog->scale;

    if (!sc)
        return;
    timer_cancel(&prog->sup->timers, &sc->timer);
    autoscale_done(&sc->window);
    free(sc);
    prog->scale = NULL;
}

static int
scale_new(struct program *prog)
{
    struct jobscale *sc = calloc(1, sizeof(*sc));

    if (!sc)
        return -ENOMEM;
    sc->prog = prog;
    sc->pol = policy_of(&prog->cfg->jobs);
    sc->desired = prog->want;
    if (autoscale_init(&sc->window, &sc->pol) < 0) {
        free(sc);
        return -ENOMEM;
    }
    timer_init(&sc->timer, timer_fired);
    prog->scale = sc;
    (void)timer_arm(&prog->sup->timers, &sc->timer, util_now_ms() + sc->pol.interval_ms);
    return 0;
}

void
jobscale_reconfigured(struct supervisor *sup)
{
    for (size_t p = 0; p < sup->pool.nprograms; p++) {
        struct program *prog = sup->pool.programs[p];
        const struct program_jobs_cfg *pj = &prog->cfg->jobs;
        bool wanted = sup->jobs && pj->enabled && pj->autoscale && !reload_is_leaving(sup, prog);

        if (prog->scale && wanted) {
            struct autoscale_policy pol = policy_of(pj);

            if (memcmp(&pol, &prog->scale->pol, sizeof(pol)) == 0)
                continue;
            scale_free(prog); /* its policy changed: a new window */
        } else if (prog->scale) {
            scale_free(prog);
        }
        if (wanted && scale_new(prog) < 0)
            log_warnx("\"%s\": no memory for its autoscaler: it keeps %u instances",
                      prog->cfg->name, prog->want);
    }
}

void
jobscale_program_leaves(struct program *prog)
{
    scale_free(prog);
}

void
jobscale_done(struct supervisor *sup)
{
    for (size_t p = 0; p < sup->pool.nprograms; p++)
        scale_free(sup->pool.programs[p]);
}

void
jobscale_pin(struct program *prog)
{
    if (prog->scale && !prog->scale->pinned) {
        prog->scale->pinned = true;
        prog->scale->told = UINT_MAX;
        log_info("\"%s\": autoscale paused by a manual scale, until `drover autoscale %s on`",
                 prog->cfg->name, prog->cfg->name);
    }
}

bool
jobscale_resume(struct program *prog)
{
    if (!prog->scale)
        return false;
    if (prog->scale->pinned)
        log_info("\"%s\": autoscale resumed", prog->cfg->name);
    prog->scale->pinned = false;
    return true;
}

void
jobscale_figures(const struct program *prog, struct jobscale_figures *ret)
{
    const struct jobscale *sc = prog->scale;

    *ret = (struct jobscale_figures){ .desired = prog->want };
    if (!sc)
        return;
    ret->enabled = true;
    ret->pinned = sc->pinned;
    ret->desired = sc->desired;
    ret->ups = sc->ups;
    ret->downs = sc->downs;
}

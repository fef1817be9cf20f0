/*
 * pool: programs and instances, their log line, lookups, scaling and
 * notifications. See pool.h.
 */
#include "daemon/pool.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "os/log.h"
#include "daemon/capture.h"

/* --- the instance's log line ------------------------------------------------------------------ */

/* "name:i pid=N port=N <message>": every instance line carries who it is about. */
void
inst_log(enum log_level level, const struct instance *in, const char *fmt, ...)
{
    char msg[1024], pid[24] = "", port[16] = "";
    va_list ap;

    if (level < log_threshold)
        return;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (in->pid)
        (void)snprintf(pid, sizeof(pid), " pid=%d", (int)in->pid);
    if (in->port)
        (void)snprintf(port, sizeof(port), " port=%u", in->port);
    log_emit(level, false, "%s%s%s %s", in->label, pid, port, msg);
}

/* --- notifications ---------------------------------------------------------------------------- */

int
pool_observe(struct pool *pool, unsigned changes, pool_observer_fn fn)
{
    if (pool->nobservers == POOL_MAX_OBSERVERS)
        return -ENOSPC;
    pool->observers[pool->nobservers].changes = changes;
    pool->observers[pool->nobservers].fn = fn;
    pool->nobservers++;
    return 0;
}

static void
deliver(struct instance *in, enum pool_change what)
{
    struct pool *pool = in->prog->pool;

    for (size_t i = 0; i < pool->nobservers; i++)
        if (pool->observers[i].changes & (1u << what))
            pool->observers[i].fn(in, what);
}

void
pool_notify(struct instance *in, enum pool_change what)
{
    if (in->svc.dispatching) {
        in->pending |= 1u << what; /* mid-action: the state is not stored yet */
        return;
    }
    deliver(in, what);
}

void
pool_settled(struct instance *in)
{
    /* In the order of enum pool_change: a process that went before the one that came. */
    for (int what = 0; what < POOL__MAX && in->pending; what++)
        if (in->pending & (1u << what)) {
            in->pending &= ~(1u << what);
            deliver(in, (enum pool_change)what);
        }
}

/* --- lookups ---------------------------------------------------------------------------------- */

struct program *
pool_find_program(struct pool *pool, const char *name, size_t len)
{
    for (size_t p = 0; p < pool->nprograms; p++)
        if (strlen(pool->programs[p]->cfg->name) == len &&
            memcmp(pool->programs[p]->cfg->name, name, len) == 0)
            return pool->programs[p];
    return NULL;
}

struct instance *
pool_find_instance(struct pool *pool, const char *program, unsigned index)
{
    struct program *prog = pool_find_program(pool, program, strlen(program));

    return prog && index < prog->ninstances ? &prog->instances[index] : NULL;
}

void
pool_for_each_instance(struct pool *pool, void (*fn)(struct instance *in, void *arg), void *arg)
{
    for (size_t p = 0; p < pool->nprograms; p++)
        for (unsigned i = 0; i < pool->programs[p]->ninstances; i++)
            fn(&pool->programs[p]->instances[i], arg);
}

/* --- programs that come and go (reload) ------------------------------------------------------ */

struct program *
pool_program_new(struct pool *pool, struct supervisor *sup, const struct program_cfg *pc)
{
    struct program *prog = calloc(1, sizeof(*prog));

    if (!prog)
        return NULL;
    prog->cfg = pc;
    prog->sup = sup;
    prog->pool = pool;
    prog->ninstances = prog->want = pc->instances;
    prog->hb = (struct heartbeat_region){ .fd = -1 };
    prog->instances = calloc(pc->max_instances, sizeof(*prog->instances));
    if (!prog->instances) {
        free(prog);
        return NULL;
    }
    for (unsigned i = 0; i < pc->max_instances; i++)
        pool->init_instance(&prog->instances[i], prog, i);
    return prog;
}

int
pool_reserve_programs(struct pool *pool, size_t n)
{
    struct program **v;

    if (n <= pool->programs_cap)
        return 0;
    v = realloc(pool->programs, n * sizeof(*v)); /* the programs themselves do not move */
    if (!v)
        return -ENOMEM;
    pool->programs = v;
    pool->programs_cap = n;
    return 0;
}

int
pool_add_program(struct pool *pool, struct program *prog)
{
    int r;

    if (pool->nprograms == pool->programs_cap &&
        (r = pool_reserve_programs(pool, pool->programs_cap ? 2 * pool->programs_cap : 8)) < 0)
        return r;
    pool->programs[pool->nprograms++] = prog;
    pool->ninstances += prog->ninstances;
    return 0;
}

void
pool_remove_program(struct pool *pool, struct program *prog)
{
    for (size_t p = 0; p < pool->nprograms; p++)
        if (pool->programs[p] == prog) {
            memmove(&pool->programs[p], &pool->programs[p + 1],
                    (pool->nprograms - p - 1) * sizeof(*pool->programs));
            pool->nprograms--;
            pool->ninstances -= prog->ninstances;
            return;
        }
}

void
pool_program_free(struct program *prog)
{
    if (!prog)
        return;
    if (prog->instances)
        for (unsigned i = 0; i < prog->cfg->max_instances; i++) {
            timer_cancel(prog->pool->timers, &prog->instances[i].timer);
            svc_done(&prog->instances[i].svc);
            free(prog->instances[i].argv);
            capture_free(&prog->instances[i]);
        }
    free(prog->instances);
    free(prog->env_base);
    free(prog->waiting_for);
    free(prog);
}

/* --- scale ------------------------------------------------------------------------------------ */

void
pool_settle_scale(struct program *prog)
{
    while (prog->ninstances > prog->want) {
        struct instance *top = &prog->instances[prog->ninstances - 1];
        if (svc_has_process(top->svc.state) || top->svc.state == SVC_BACKOFF || top->pid ||
            top->probe.busy) /* a timed-out command probe still draining */
            break;
        timer_cancel(prog->pool->timers, &top->timer);
        prog->ninstances--;
        prog->pool->ninstances--;
        log_info("\"%s\": %s left the pool (scaled to %u)", prog->cfg->name, top->label,
                 prog->want);
    }
}

int
pool_scale(struct pool *pool, struct program *prog, unsigned n)
{
    int64_t now = util_now_ms();
    unsigned old_want;

    if (n > prog->cfg->max_instances)
        return -ERANGE;
    pool_settle_scale(prog); /* a slot stopped earlier in this pass is gone before one is reused */
    log_info("\"%s\": scaling from %u to %u instance%s", prog->cfg->name, prog->want, n,
             n == 1 ? "" : "s");
    old_want = prog->want;
    prog->want = n;
    /* Slots that come into use start afresh: no counters from an earlier life. */
    for (unsigned i = prog->ninstances; i < n; i++) {
        struct instance *in = &prog->instances[i];
        free(in->argv); /* the rest of an earlier life is gone: pool_settle_scale() saw no
                           process */
        svc_done(&in->svc);
        {
            struct job_slot *jobs = in->jobs; /* daemon/jobs' (emptied when its process went) */

            *in = (struct instance){ 0 };
            in->jobs = jobs;
        }
        pool->init_instance(in, prog, i);
        prog->ninstances++;
        pool->ninstances++;
    }
    /* Only the slots the scale moves: an instance an operator stopped below n stays stopped. */
    for (unsigned i = old_want; i < n; i++)
        svc_dispatch(&prog->instances[i].svc, SVC_EV_START, now);
    for (unsigned i = n; i < prog->ninstances; i++)
        svc_dispatch(&prog->instances[i].svc, SVC_EV_STOP, now);
    pool_settle_scale(prog);
    return 0;
}

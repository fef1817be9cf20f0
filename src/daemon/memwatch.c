/*
 * memwatch: sampling process groups against memory_max. See memwatch.h.
 *
 * A sample: the instances of programs with memory_max that have a process
 * (their groups, sorted by pgid), one walk of /proc reading each process's
 * stat for its group, and for the members of a watched group its PSS (or
 * RSS). A process that goes mid-walk is skipped: it no longer uses memory.
 * Then each group's sum goes to its memcap; a verdict logs the figure and
 * the limit and dispatches MEMORY. The walk is O(processes on the host),
 * once a second, and only while some program asks for it.
 */
#include "daemon/memwatch.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "core/memcap.h"
#include "core/util.h"
#include "os/procfs.h"
#include "daemon/pool.h"
#include "daemon/supervisor_int.h"

static bool
watched(const struct instance *in)
{
    return in->prog->cfg->memory_max > 0 && svc_has_process(in->svc.state) && in->pgid > 1;
}

static void
arm(struct supervisor *sup)
{
    struct memwatch *mw = &sup->mem;

    if (!timer_armed(&mw->timer) &&
        timer_arm(&sup->timers, &mw->timer, util_now_ms() + MEMCAP_PERIOD_MS) < 0)
        log_warnx("cannot arm the memory_max sampler (timer heap full), retrying at the next "
                  "spawn");
}

static int
cmp_group(const void *a, const void *b)
{
    pid_t x = ((const struct memwatch_group *)a)->pgid,
          y = ((const struct memwatch_group *)b)->pgid;

    return x < y ? -1 : x > y;
}

/* The watched instances into mw->groups. Returns 0 or -ENOMEM. */
static int
collect(struct supervisor *sup)
{
    struct memwatch *mw = &sup->mem;

    mw->ngroups = 0;
    for (size_t p = 0; p < sup->pool.nprograms; p++) {
        struct program *prog = sup->pool.programs[p];

        if (prog->cfg->memory_max == 0)
            continue;
        for (unsigned i = 0; i < prog->ninstances; i++) {
            struct instance *in = &prog->instances[i];

            if (!watched(in))
                continue;
            if (mw->ngroups == mw->cap) {
                size_t cap = mw->cap ? mw->cap * 2 : 16;
                struct memwatch_group *v = realloc(mw->groups, cap * sizeof(*v));
                if (!v)
                    return -ENOMEM;
                mw->groups = v;
                mw->cap = cap;
            }
            mw->groups[mw->ngroups++] = (struct memwatch_group){ .pgid = in->pgid, .in = in };
        }
    }
    if (mw->ngroups > 1)
        qsort(mw->groups, mw->ngroups, sizeof(*mw->groups), cmp_group);
    return 0;
}

/* One process of /proc: its memory goes to its group's sum if that group is watched. */
static int
count_process(pid_t pid, void *arg)
{
    struct memwatch *mw = arg;
    struct memwatch_group key = { 0 }, *g;
    struct proc_stat st;
    uint64_t bytes;
    bool pss;

    if (proc_read_stat(pid, &st) < 0 || st.state == 'Z')
        return 0; /* gone, or a zombie: no memory of its own */
    key.pgid = st.pgid;
    g = bsearch(&key, mw->groups, mw->ngroups, sizeof(*mw->groups), cmp_group);
    if (!g || proc_read_memory(pid, &bytes, &pss) < 0)
        return 0;
    g->bytes += bytes;
    g->nproc++;
    g->rss |= !pss;
    return 0;
}

/* in's main process has not exited (its pidfd polls readable once it has). */
static bool
main_alive(const struct instance *in)
{
    struct pollfd p = { .fd = in->child.fd, .events = POLLIN };

    return in->child.fd >= 0 && poll(&p, 1, 0) == 0;
}

static void
judge(struct memwatch_group *g)
{
    struct instance *in = g->in;
    /* Stopping (for memory, or asked to): shown, but no verdict on a process on its way out. */
    uint64_t limit = in->svc.state == SVC_STOPPING ? 0 : in->prog->cfg->memory_max;

    if (g->nproc == 0) {
        /* The group went during the walk (its exit is being handled), or /proc hides it. */
        if (main_alive(in) && !in->memory_unreadable)
            inst_log(LOG_LVL_WARN, in,
                     "cannot read the memory of its process group %d in /proc (hidden, or not "
                     "mounted here): memory_max is not applied until it can be read (said once)",
                     (int)g->pgid);
        in->memory_unreadable |= main_alive(in);
        return;
    }
    if (in->memory_unreadable) {
        inst_log(LOG_LVL_INFO, in, "the memory of its process group %d can be read again",
                 (int)g->pgid);
        in->memory_unreadable = false;
    }
    if (!memcap_sample(&in->mem, g->bytes, limit))
        return;
    inst_log(LOG_LVL_WARN, in,
             "memory %llu bytes (%.1f MiB) above memory_max %llu (%.1f MiB) for %d samples in a "
             "row: %s of %u process%s in group %d",
             (unsigned long long)g->bytes, (double)g->bytes / (1024 * 1024),
             (unsigned long long)limit, (double)limit / (1024 * 1024), MEMCAP_OVER_IN_A_ROW,
             g->rss ? "RSS" : "PSS", g->nproc, g->nproc == 1 ? "" : "es", (int)g->pgid);
    svc_dispatch(&in->svc, SVC_EV_MEMORY, util_now_ms());
    if (!in->svc.give_up) /* a restart, as svc.restarts counts it; not a stop for good (yo-yo) */
        in->memory_restarts++;
}

static void
sample(struct timer *t, int64_t now_ms)
{
    struct supervisor *sup = container_of(t, struct supervisor, mem.timer);
    struct memwatch *mw = &sup->mem;
    int r;

    (void)now_ms;
    if (collect(sup) < 0) {
        if (!mw->oom_logged)
            log_warnx("cannot sample memory for memory_max: out of memory, retrying in 1 s");
        mw->oom_logged = true;
        arm(sup);
        return;
    }
    mw->oom_logged = false;
    if (mw->ngroups == 0)
        return; /* nothing to watch: no timer until a process that needs one appears */
    if ((r = proc_each_pid(count_process, mw)) < 0) {
        if (!mw->proc_failing)
            log_warnx("cannot read /proc for memory_max: %s; retrying every 1 s (said once)",
                      strerror(-r));
        mw->proc_failing = true;
        arm(sup);
        return;
    }
    if (mw->proc_failing)
        log_info("/proc can be read again: memory_max applies again");
    mw->proc_failing = false;
    /* Each verdict dispatches; no instance leaves or moves inside a dispatch (pool.h). */
    for (size_t i = 0; i < mw->ngroups; i++)
        judge(&mw->groups[i]);
    arm(sup);
}

void
memwatch_init(struct supervisor *sup)
{
    timer_init(&sup->mem.timer, sample);
}

void
memwatch_done(struct supervisor *sup)
{
    free(sup->mem.groups);
    sup->mem.groups = NULL;
    sup->mem.ngroups = sup->mem.cap = 0;
}

void
memwatch_spawned(struct instance *in)
{
    memcap_reset(&in->mem);
    in->memory_unreadable = false;
    if (in->prog->cfg->memory_max > 0)
        arm(in->sup);
}

void
memwatch_program_changed(struct program *prog)
{
    bool any = false;

    for (unsigned i = 0; i < prog->ninstances; i++) {
        struct instance *in = &prog->instances[i];

        in->mem.over = 0; /* a new limit: samples above the old one do not count */
        any |= watched(in);
    }
    if (any)
        arm(prog->sup);
}

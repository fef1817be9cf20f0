/*
 * persist: the supervisor's side of --dumpfile: writing the checkpoint
 * (coalesced, at least every interval, retried on failure) and, at start,
 * deciding what happens to an earlier drover's survivors (stop or adopt),
 * in two steps: persist_scan() only reads, persist_act() acts and cannot
 * fail, so everything that can fail at start-up goes between the two.
 * The codec is ckpt.c, the scanning and stopping recover.c.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/ckpt.h"
#include "core/util.h"
#include "os/afile.h"
#include "os/procfs.h"
#include "daemon/jobs.h"
#include "daemon/recover.h"
#include "daemon/reload.h"
#include "daemon/supervisor_int.h"
#include "daemon/persist.h"

#define CKPT_MIN_GAP_MS 100 /* coalesce bursts of changes into one write per 100 ms */
#define CKPT_RETRY_MS 1000

/* The absolute path goes into every child's environment, so it must not depend on our cwd. */
int
persist_setup(struct supervisor *sup)
{
    char generation[64];
    int r;

    if (sup->cfg.dumpfile[0] == '/') {
        sup->dumpfile = strdup(sup->cfg.dumpfile);
    } else {
        char *cwd = getcwd(NULL, 0);
        if (!cwd)
            return -errno;
        r = asprintf(&sup->dumpfile, "%s/%s", cwd, sup->cfg.dumpfile);
        free(cwd);
        if (r < 0)
            sup->dumpfile = NULL;
    }
    if (!sup->dumpfile)
        return -ENOMEM;
    if ((r = recover_generation(generation, sizeof(generation))) < 0)
        return r;
    (void)snprintf(sup->marker_env[0], sizeof(sup->marker_env[0]), "DROVER_DUMPFILE=%s",
                   sup->dumpfile);
    (void)snprintf(sup->marker_env[1], sizeof(sup->marker_env[1]), "DROVER_GENERATION=%s",
                   generation);
    return 0;
}

/* Writes the dumpfile now. Returns 0 or -errno (the previous file is then intact). */
int
persist_write(struct supervisor *sup)
{
    struct ckpt c = { .drover_pid = getpid(), .written_unix_ms = 0 };
    const char *own = sup->marker_env[1] + strlen("DROVER_GENERATION=");
    struct proc_stat st;
    char *data;
    size_t len, n = 0;
    int r;

    if ((r = proc_read_stat(getpid(), &st)) < 0)
        return r;
    c.drover_start_time = st.start_time;
    c.written_unix_ms = util_unix_ms();
    c.entries = calloc(sup->pool.ninstances ? sup->pool.ninstances : 1, sizeof(*c.entries));
    if (!c.entries)
        return -ENOMEM;
    for (size_t p = 0; p < sup->pool.nprograms; p++) {
        for (unsigned i = 0; i < sup->pool.programs[p]->ninstances; i++) {
            struct instance *in = &sup->pool.programs[p]->instances[i];

            if (in->pid <= 0)
                continue;
            /* Read once per process, off the spawn path. A process already gone is left out. */
            if (!in->start_time && proc_read_stat(in->pid, &st) == 0)
                in->start_time = st.start_time;
            if (!in->start_time)
                continue;
            /* Borrowed pointers: c is freed by hand below, not with ckpt_done(). */
            c.entries[n++] = (struct ckpt_entry){
                .program = (char *)in->prog->cfg->name,
                .instance = in->index,
                .pid = in->pid,
                .pgid = in->pgid,
                .start_time = in->start_time,
                .port = in->port,
                .argv = in->argv,
                .stale = reload_instance_stale(sup, in),
            };
            /* What the process carries: an adopted one keeps its spawner's generation. */
            (void)snprintf(c.entries[n - 1].generation, sizeof(c.entries[n - 1].generation), "%s",
                           in->adopted && in->generation[0] ? in->generation : own);
            if (jobs_token(in))
                (void)snprintf(c.entries[n - 1].jobs_token, sizeof(c.entries[n - 1].jobs_token),
                               "%s", jobs_token(in));
        }
    }
    c.nentries = n;
    /*
     * Every program's scale: a later drover with --adopt keeps it (down as
     * well as up). Not that of a program a reload is taking out (removed, or
     * replaced under the same name): its 0 is its way out, and would pass for
     * the scale of its replacement.
     */
    c.scales = calloc(sup->pool.nprograms ? sup->pool.nprograms : 1, sizeof(*c.scales));
    if (!c.scales) {
        free(c.entries);
        return -ENOMEM;
    }
    for (size_t p = 0; p < sup->pool.nprograms; p++)
        if (!reload_is_leaving(sup, sup->pool.programs[p]))
            c.scales[c.nscales++] = (struct ckpt_scale){
                .program = (char *)sup->pool.programs[p]->cfg->name, /* borrowed, as above */
                .instances = sup->pool.programs[p]->want,
                .configured = sup->pool.programs[p]->cfg->instances,
            };
    r = ckpt_pack(&c, &data, &len);
    free(c.entries);
    free(c.scales);
    if (r < 0)
        return r;
    r = afile_save(sup->dumpfile, data, len);
    free(data);
    return r;
}

void
persist_timer_fired(struct timer *t, int64_t now_ms)
{
    struct supervisor *sup = container_of(t, struct supervisor, ckpt_timer);
    int r = persist_write(sup);

    if (r < 0) {
        /* Keep supervising; the previous dumpfile stays valid. One line per failure streak. */
        if (!sup->ckpt_failing && r == -EEXIST)
            log_warnx("cannot write dumpfile %s: it exists and is not a regular file, which drover "
                      "never replaces; retrying every %d s",
                      sup->dumpfile, CKPT_RETRY_MS / 1000);
        else if (!sup->ckpt_failing)
            log_warnx("cannot write dumpfile %s: %s, retrying every %d s", sup->dumpfile,
                      strerror(-r), CKPT_RETRY_MS / 1000);
        sup->ckpt_failing = true;
        (void)timer_arm(&sup->timers, t, now_ms + CKPT_RETRY_MS);
        return;
    }
    if (sup->ckpt_failing)
        log_info("dumpfile %s written again", sup->dumpfile);
    sup->ckpt_failing = false;
    sup->ckpt_last_ms = now_ms;
    (void)timer_arm(&sup->timers, t, now_ms + sup->cfg.checkpoint_interval_ms);
}

/* Something a later drover must know changed: write soon, at most once per CKPT_MIN_GAP_MS. */
void
persist_changed(struct supervisor *sup)
{
    int64_t want;

    if (!sup->dumpfile || sup->ckpt_failing)
        return;
    want = util_now_ms();
    if (sup->ckpt_last_ms >= 0 && want < sup->ckpt_last_ms + CKPT_MIN_GAP_MS)
        want = sup->ckpt_last_ms + CKPT_MIN_GAP_MS;
    if (!timer_armed(&sup->ckpt_timer) || sup->ckpt_timer.deadline_ms > want)
        (void)timer_arm(&sup->timers, &sup->ckpt_timer, want);
}

/*
 * The slot a survivor claims: any below its program's max_instances, so
 * the survivors of a pool scaled up with `drover scale` are adopted too.
 */
static struct instance *
claimed_slot(struct supervisor *sup, const char *program, unsigned index)
{
    struct program *prog = pool_find_program(&sup->pool, program, strlen(program));

    return prog && index < prog->cfg->max_instances ? &prog->instances[index] : NULL;
}

/* An adopted slot beyond the configured count: the pool takes the earlier drover's scale. */
static void
grow_to(struct supervisor *sup, struct instance *in)
{
    struct program *prog = in->prog;

    if (in->index < prog->ninstances)
        return;
    sup->pool.ninstances += in->index + 1 - prog->ninstances;
    prog->ninstances = prog->want = in->index + 1;
}

/*
 * With --adopt, a slot goes only to the dumpfile's own record of it, once
 * recover.c verified that record (start time, marker and the recorded
 * generation), only if it still runs as the uid its program starts as now
 * (drover's, or the program's `user`: one that changed its uid since drover
 * spawned it, or whose program's user changed, is stopped and started
 * afresh: drover adopts nothing it could not have started), and only if its program still has
 * that slot and the recorded port is free in our range. A process the sweep found is ours by
 * uid and marker, so stopping it is safe, but what it claims to be
 * (DROVER_PROGRAM, DROVER_INSTANCE) is only its environment's word: it is
 * stopped and its slot starts fresh. Members of an adopted group stay with
 * it. Everything else is stopped.
 */
/*
 * The scale the dumpfile recorded for prog, if it did and the config's count
 * is still the one that scale was set against: an edited `instances` wins.
 */
static bool
recorded_scale(const struct survivors *s, const struct program *prog, unsigned *ret)
{
    for (size_t i = 0; i < s->nscales; i++)
        if (strcmp(s->scales[i].program, prog->cfg->name) == 0 &&
            s->scales[i].configured == prog->cfg->instances) {
            *ret = s->scales[i].instances < prog->cfg->max_instances ? s->scales[i].instances
                                                                     : prog->cfg->max_instances;
            return true;
        }
    return false;
}

/* With --adopt, each program takes the scale its earlier drover had, down as well as up. */
static void
take_recorded_scales(struct supervisor *sup, const struct survivors *s)
{
    for (size_t p = 0; p < sup->pool.nprograms; p++) {
        struct program *prog = sup->pool.programs[p];
        unsigned n;

        if (!recorded_scale(s, prog, &n))
            continue;
        sup->pool.ninstances = sup->pool.ninstances - prog->ninstances + n;
        prog->ninstances = prog->want = n;
    }
}

static void
decide_fates(struct supervisor *sup, struct survivors *s)
{
    for (size_t i = 0; i < s->n; i++)
        s->v[i].fate = SURVIVOR_STOP;
    if (!sup->cfg.adopt)
        return;
    take_recorded_scales(sup, s);
    for (size_t i = 0; i < s->n; i++) {
        struct survivor *sv = &s->v[i];
        struct instance *in;

        if (!sv->leader || !sv->from_dumpfile)
            continue;
        if (sv->stale) {
            /* Adopted, it would run the old configuration under the new one for good. */
            log_info("pid %d (%s:%u) still runs the configuration a rolling restart was "
                     "replacing when the earlier drover died: stopping it; its slot starts on "
                     "the configuration in force",
                     (int)sv->pid, sv->program, sv->instance);
            continue;
        }
        in = claimed_slot(sup, sv->program, sv->instance);
        if (!in || in->pid) {
            if (!in)
                log_info("pid %d (%s:%u): no such instance in the configuration, stopping it",
                         (int)sv->pid, sv->program, sv->instance);
            continue;
        }
        const struct cfg_identity *id = &in->prog->cfg->identity;
        uid_t want_uid = id->switch_to ? id->uid : geteuid();
        gid_t want_gid = id->switch_to ? id->gid : getegid();
        if (sv->uid != want_uid) {
            log_info("pid %d (%s:%u) runs as uid %u now, not as uid %u, which its program starts "
                     "as (it changed its uid, or the program's user changed): stopping it rather "
                     "than adopting it",
                     (int)sv->pid, sv->program, sv->instance, (unsigned)sv->uid,
                     (unsigned)want_uid);
            continue;
        }
        if (sv->gid != want_gid) {
            log_info("pid %d (%s:%u) runs as gid %u now, not as gid %u, which its program starts "
                     "as (it changed its gid, or the program's group changed): stopping it rather "
                     "than adopting it",
                     (int)sv->pid, sv->program, sv->instance, (unsigned)sv->gid,
                     (unsigned)want_gid);
            continue;
        }
        unsigned scale;
        if (recorded_scale(s, in->prog, &scale) && in->index >= scale) {
            /* Say one still stopping when the earlier drover died, after a scale down. */
            log_info("pid %d (%s:%u): beyond the scale of %u the earlier drover had, stopping it",
                     (int)sv->pid, sv->program, sv->instance, scale);
            continue;
        }
        if (in->prog->cfg->uses_port != (sv->port != 0)) {
            log_info("pid %d (%s:%u): the program %s {{port}} now, stopping it", (int)sv->pid,
                     sv->program, sv->instance, sv->port ? "no longer uses" : "uses");
            continue;
        }
        if (sv->port && ports_reserve(&sup->ports, sv->port) < 0) {
            log_info("pid %d (%s:%u): port %u does not fit the current port range, stopping it",
                     (int)sv->pid, sv->program, sv->instance, sv->port);
            continue;
        }
        sv->fate = SURVIVOR_ADOPT;
        in->pid = sv->pid; /* claims the slot; completed in adopt() */
        grow_to(sup, in);
    }
    for (size_t p = 0; p < sup->pool.nprograms; p++)
        if (sup->pool.programs[p]->want != sup->pool.programs[p]->cfg->instances)
            log_info("\"%s\": %u instances, the scale the earlier drover had (config: %u)",
                     sup->pool.programs[p]->cfg->name, sup->pool.programs[p]->want,
                     sup->pool.programs[p]->cfg->instances);
    for (size_t i = 0; i < s->n; i++) {
        struct survivor *sv = &s->v[i];
        if (sv->fate != SURVIVOR_STOP)
            continue;
        for (size_t k = 0; k < s->n; k++)
            if (s->v[k].fate == SURVIVOR_ADOPT && s->v[k].pgid == sv->pgid)
                sv->fate = SURVIVOR_KEEP; /* part of an adopted instance's group */
        if (sv->fate == SURVIVOR_STOP && sv->leader && !sv->from_dumpfile)
            log_info("pid %d (%s:%u) is not in the dumpfile: stopping it rather than adopting it",
                     (int)sv->pid, sv->program[0] ? sv->program : "?", sv->instance);
    }
}

/*
 * The notify socket an adopted worker sends to is the one its own drover
 * named; this drover's is the same for the same dumpfile, user and runtime
 * directory, but not after an upgrade from abstract names or with another
 * XDG_RUNTIME_DIR. Its datagrams then go nowhere: say so once.
 */
static void
warn_if_deaf(struct supervisor *sup, struct instance *in)
{
    const char *ours = sup->notify.fd >= 0 ? sup->notify_env + strlen("NOTIFY_SOCKET=") : NULL;
    char theirs[PATH_MAX];

    if (!ours || proc_environ_get(in->pid, "NOTIFY_SOCKET", theirs, sizeof(theirs)) < 0 ||
        strcmp(theirs, ours) == 0)
        return;
    inst_log(LOG_LVL_WARN, in,
             "sends its notify datagrams to %s, not to this drover's %s: its READY=1, "
             "STATUS= and WATCHDOG=1 will not arrive (its shared-memory beats do); "
             "restart it to give it this socket",
             util_one_line(theirs), ours);
}

static void
adopt(struct supervisor *sup, struct survivor *sv, int64_t now)
{
    struct instance *in = pool_find_instance(&sup->pool, sv->program, sv->instance);
    char age[32];

    in->pid = sv->pid;
    in->pgid = sv->pgid;
    in->port = sv->port;
    in->start_time = sv->start_time;
    in->adopted = true;
    _Static_assert(sizeof(in->generation) >= sizeof(sv->generation), "generation fits");
    (void)snprintf(in->generation, sizeof(in->generation), "%s", sv->generation);
    if (jobs_adopted(in, sv->jobs_token) < 0)
        inst_log(LOG_LVL_WARN, in, "no memory for its job channel: it cannot take jobs");
    in->group_foreign = true;
    in->spawned_ms = now - (proc_boot_now_ms() - proc_ticks_to_ms(sv->start_time));
    in->child.fd = sv->pidfd; /* ownership moves to the instance */
    if (loop_add(&sup->loop, &in->child) < 0)
        log_warn("%s: cannot watch the adopted pidfd", in->label);
    /*
     * In the pid map so that its notify datagrams are recognised. Its silence
     * counts from now: it beats into the previous drover's slots, which this
     * drover cannot see, so only its notify beats (READY/WATCHDOG) reach us.
     */
    if (pidmap_put(&sup->pids, in->pid, in) < 0)
        log_warnx("%s: pid map full", in->label);
    in->spawned_ns = util_now_ns();
    in->ready = true; /* it was running already */
    inst_log(LOG_LVL_INFO, in, "adopted from an earlier drover (up %s), running",
             util_format_duration(age, sizeof(age), now - in->spawned_ms));
    warn_if_deaf(sup, in);
    /* Through the table: stopped -> running, up since it started; then its observers hear. */
    svc_dispatch(&in->svc, SVC_EV_ADOPT, in->spawned_ms);
    pool_notify(in, POOL_ADOPTED);
}

/*
 * Recovery, read-only half: the dumpfile and /proc into *ret, logged as
 * found. Nothing is signalled and nothing written, so a start-up failure
 * after it leaves the survivors and their only record, the old dumpfile,
 * as they were. Returns 0, or -EBUSY when another drover still owns the
 * dumpfile (logged). *ret is to be given to persist_act() or recover_done().
 */
int
persist_scan(struct supervisor *sup, struct survivors *ret)
{
    uid_t *uids = calloc(sup->cfg.nprograms + 1, sizeof(*uids));
    size_t nuids = 0;
    int r;

    if (!uids) {
        log_errorx("recovery failed: %s; exiting with every survivor and the dumpfile untouched",
                   strerror(ENOMEM));
        *ret = (struct survivors){ 0 };
        return -ENOMEM;
    }
    uids[nuids++] = geteuid();
    for (size_t p = 0; p < sup->cfg.nprograms; p++)
        if (sup->cfg.programs[p].identity.switch_to)
            uids[nuids++] = sup->cfg.programs[p].identity.uid;
    r = recover_scan(sup->dumpfile, sup->marker_env[1] + strlen("DROVER_GENERATION="), uids, nuids,
                     ret);
    free(uids);

    if (r == -EBUSY) {
        log_errorx("dumpfile %s belongs to drover %d, which is still running: refusing to start "
                   "(two drovers must not fight over one pool)",
                   sup->dumpfile, (int)ret->old_drover);
        recover_done(ret);
        return r;
    }
    if (r < 0) {
        /* Out of memory at start-up: nothing was touched, so stop here rather than start twice. */
        log_errorx("recovery failed: %s; exiting with every survivor and the dumpfile untouched",
                   strerror(-r));
        recover_done(ret);
        return r;
    }
    return 0;
}

/* Recovery, acting half: stops or adopts what persist_scan() found. Cannot fail. */
void
persist_act(struct supervisor *sup, struct survivors *s)
{
    size_t adopted = 0;
    int64_t now = util_now_ms();

    decide_fates(sup, s);
    recover_stop(s, &sup->cfg);
    if (!sup->cfg.adopt)
        reload_forget_saved(sup);
    for (size_t i = 0; i < s->n; i++) {
        if (s->v[i].fate == SURVIVOR_ADOPT) {
            adopt(sup, &s->v[i], now);
            adopted++;
        }
    }
    if (adopted)
        log_info("adopted %zu instance%s", adopted, adopted == 1 ? "" : "s");
}

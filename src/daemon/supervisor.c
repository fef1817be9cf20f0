/*
 * supervisor: event dispatch, svc_ops effects, exits and shutdown.
 * See supervisor.h.
 */
#include "daemon/supervisor.h"
#include "daemon/supervisor_int.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"
#include "os/procfs.h"
#include "os/sig.h"
#include "os/spawn.h"
#include "daemon/capture.h"
#include "daemon/checks.h"
#include "daemon/hooks.h"
#include "daemon/deps.h"
#include "daemon/jobscale.h"
#include "daemon/launch.h"
#include "daemon/liveness.h"
#include "daemon/memwatch.h"
#include "daemon/persist.h"
#include "daemon/pool.h"
#include "daemon/recover.h"
#include "daemon/reload.h"

/* --- logging helpers ------------------------------------------------------------------------ */

/* --- svc_ops ------------------------------------------------------------------------------- */

static enum svc_spawn_result
op_spawn(struct svc *s)
{
    return launch_instance(svc_to_instance(s));
}

/*
 * A pgid number cannot be reused while any process is still in that group,
 * so probing it after the leader was reaped never reaches a stranger.
 */
struct pgid_list {
    pid_t *v;
    size_t n, cap;
};

static int
collect_live_pgid(pid_t pid, void *arg)
{
    struct pgid_list *l = arg;
    struct proc_stat st;

    if (proc_read_stat(pid, &st) < 0 || st.state == 'Z')
        return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        pid_t *v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = st.pgid;
    return 0;
}

static int
cmp_pid(const void *a, const void *b)
{
    pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

    return x < y ? -1 : x > y;
}

/*
 * Does a non-zombie process of pgid exist? One walk of /proc per loop
 * iteration at most, whatever the number of groups asked about: stopping
 * 1,000 adopted instances must not walk /proc 1,000 times.
 */
static bool
foreign_group_alive(struct supervisor *sup, pid_t pgid)
{
    if (sup->pgid_cache_iter != sup->loop_iter || !sup->pgid_cache_valid) {
        struct pgid_list l = { .v = sup->pgid_cache, .cap = sup->pgid_cache_cap };
        if (proc_each_pid(collect_live_pgid, &l) < 0) {
            sup->pgid_cache = l.v;
            sup->pgid_cache_cap = l.cap;
            sup->pgid_cache_valid = false;
            return true; /* unknown: assume alive, the stop timer settles it */
        }
        if (l.n > 1)
            qsort(l.v, l.n, sizeof(*l.v), cmp_pid);
        sup->pgid_cache = l.v;
        sup->pgid_cache_cap = l.cap;
        sup->pgid_cache_n = l.n;
        sup->pgid_cache_iter = sup->loop_iter;
        sup->pgid_cache_valid = true;
    }
    return sup->pgid_cache_n &&
           bsearch(&pgid, sup->pgid_cache, sup->pgid_cache_n, sizeof(pid_t), cmp_pid);
}

static bool
op_group_alive(struct svc *s)
{
    struct instance *in = svc_to_instance(s);

    if (in->pgid <= 1)
        return false;
    if (kill(-in->pgid, 0) < 0 && errno != EPERM)
        return false;
    if (!in->group_foreign)
        return true; /* our own descendants: zombies among them are reaped at once */
    /*
     * An adopted group's processes are not our children: an exited leader
     * stays a zombie until its parent (init) reaps it, and still counts for
     * kill(). Only a member that is not a zombie makes the group alive.
     */
    return foreign_group_alive(in->sup, in->pgid);
}

static void
op_signal_group(struct svc *s, int sig)
{
    struct instance *in = svc_to_instance(s);

    if (in->pgid <= 1)
        return;
    /*
     * During a shutdown, a SIGKILL that is not the program's own stop signal
     * makes it unclean, if it reaches a live process: an adopted group of
     * zombies that init has not reaped yet needed no killing.
     */
    if (sig == SIGKILL && in->sup->shutting_down && in->svc.policy->stop_signal != SIGKILL &&
        (in->svc.leader_alive || op_group_alive(s))) {
        in->sup->unclean_killed++;
        inst_log(LOG_LVL_WARN, in, "sending SIGKILL to process group %d: not a clean stop",
                 (int)in->pgid);
    }
    if (kill(-in->pgid, sig) < 0 && errno != ESRCH)
        inst_log(LOG_LVL_WARN, in, "cannot send %s to process group %d: %s", util_signal_name(sig),
                 (int)in->pgid, strerror(errno));
    else
        log_debug("%s: sent %s to process group %d", in->label, util_signal_name(sig),
                  (int)in->pgid);
}

static void
op_timer_arm(struct svc *s, int64_t delay_ms)
{
    struct instance *in = svc_to_instance(s);

    /* The heap holds one slot per instance, so this cannot fail. */
    (void)timer_arm(&in->sup->timers, &in->timer, util_now_ms() + delay_ms);
}

static void
op_timer_cancel(struct svc *s)
{
    struct instance *in = svc_to_instance(s);

    timer_cancel(&in->sup->timers, &in->timer);
}

/* The new state is stored: the notifications a spawn raised go out now (pool.h). */
static void
op_settled(struct svc *s)
{
    pool_settled(svc_to_instance(s));
}

static void
op_transition(struct svc *s, enum svc_state from, enum svc_state to, const char *cause)
{
    struct instance *in = svc_to_instance(s);
    char delay[32];

    if (to == SVC_FATAL && s->tally.count > 0 && strncmp(cause, "yo-yo", 5) == 0) {
        char window[32];
        inst_log(LOG_LVL_ERROR, in,
                 "%s -> fatal (yo-yo: more than %u restarts within %s; not restarting until asked)",
                 svc_state_name(from), s->policy->backoff.yoyo_limit,
                 util_format_duration(window, sizeof(window), s->policy->backoff.yoyo_window_ms));
    } else if (to == SVC_FATAL) {
        inst_log(LOG_LVL_ERROR, in, "%s -> fatal (%s; not restarting until asked)",
                 svc_state_name(from), cause);
    } else if (to == SVC_BACKOFF) {
        inst_log(LOG_LVL_INFO, in, "%s -> backoff (%s; retry in %s)", svc_state_name(from), cause,
                 util_format_duration(delay, sizeof(delay), s->next_delay_ms));
    } else {
        inst_log(LOG_LVL_INFO, in, "%s -> %s (%s)", svc_state_name(from), svc_state_name(to),
                 cause);
    }
    /* Each call is a change: a new state, or an exit and restart within the same one. Readers
       waiting for it (api's long-polls) see it before the loop sleeps. */
    events_push(&in->sup->events, util_unix_ms(), in->prog->cfg->name, in->index, in->pid, from, to,
                cause);
    in->state_from = from;
    pool_notify(in, POOL_STATE);
    /* Whether that ended a shutdown or let a scaled-away slot go: before_sleep() looks. */
}

static bool
op_deps_ready(struct svc *s)
{
    return deps_ready(svc_to_instance(s));
}

static const struct svc_ops instance_ops = {
    .spawn = op_spawn,
    .signal_group = op_signal_group,
    .group_alive = op_group_alive,
    .timer_arm = op_timer_arm,
    .timer_cancel = op_timer_cancel,
    .transition = op_transition,
    .settled = op_settled,
    .deps_ready = op_deps_ready,
};

/* --- exits ---------------------------------------------------------------------------------- */

/* info NULL: an adopted process ended; it was not our child, so how is unknown. */
static void
instance_reaped(struct instance *in, const siginfo_t *info)
{
    struct supervisor *sup = in->sup;
    int64_t now = util_now_ms();
    struct svc_exit how = { .known = true };
    bool expected;
    char ran[32];

    if (!info) {
        in->exits[3]++;
        how.known = false;
        inst_log(LOG_LVL_WARN, in, "exited after %s (status unknown: adopted, not drover's child)",
                 util_format_duration(ran, sizeof(ran), now - in->spawned_ms));
        goto forget;
    }
    how.signaled = info->si_code == CLD_KILLED || info->si_code == CLD_DUMPED;
    how.value = info->si_status;
    in->exits[how.signaled ? 2 : how.value ? 1 : 0]++;
    /* Dying of the signal we sent to stop it is the expected end, not a warning. */
    expected = in->svc.state == SVC_STOPPING &&
               (how.signaled ? how.value == in->svc.policy->stop_signal : how.value == 0);
    util_format_duration(ran, sizeof(ran), now - in->spawned_ms);
    if (how.signaled)
        inst_log(expected ? LOG_LVL_INFO : LOG_LVL_WARN, in, "killed by signal %s%s after %s",
                 util_signal_name(how.value), info->si_code == CLD_DUMPED ? " (core dumped)" : "",
                 ran);
    else
        inst_log(!svc_exit_succeeded(in->svc.policy, &how) && !expected ? LOG_LVL_WARN
                                                                        : LOG_LVL_INFO,
                 in, "exited with code %d after %s", how.value, ran);
forget:
    in->exit_how = how;
    pool_notify(in, POOL_GONE);
    loop_close(&sup->loop, &in->child);
    (void)pidmap_del(&sup->pids, in->pid);
    ports_release(&sup->ports, in->port);
    in->port = 0;
    in->pid = 0;
    in->adopted = false;
    svc_exited(&in->svc, &how, now);
}

/* The pidfd of an instance became readable: its process exited. */
static void
child_ready(struct loop_source *src, uint32_t events)
{
    struct instance *in = container_of(src, struct instance, child);
    siginfo_t info = { 0 };

    (void)events;
    if (waitid(P_PIDFD, (id_t)in->child.fd, &info, WEXITED | WNOHANG) < 0) {
        if (errno == ECHILD && in->adopted) {
            instance_reaped(in, NULL); /* a readable pidfd means it exited; its parent reaps it */
            return;
        }
        if (errno != ECHILD)
            inst_log(LOG_LVL_WARN, in, "waitid on pidfd failed: %s", strerror(errno));
        return;
    }
    if (info.si_pid == 0)
        return; /* stale event from a previous process of this slot */
    instance_reaped(in, &info);
}

/*
 * SIGCHLD: reap everything that has exited. As a subreaper we also inherit
 * orphaned grandchildren; they are reaped and logged, nothing more.
 */
static void
group_drained(struct instance *in, void *arg)
{
    (void)arg;
    if (in->svc.state == SVC_STOPPING && !in->svc.leader_alive && !op_group_alive(&in->svc))
        svc_dispatch(&in->svc, SVC_EV_GROUP_EMPTY, util_now_ms());
}

/*
 * Exits reaped per pass: the size of the epoll batch. Each reaped instance
 * may be respawned on the spot, so without a bound, instances that exit as
 * fast as they start (start_seconds 0, no yo-yo) kept the loop here for
 * good (FINDINGS B4). 64 spawns take a few ms on an idle machine (more
 * under load; the pidfd events of one epoll batch and due timers are
 * bounded alike, at 64 each); a pass that reaped that many
 * arms reap_timer with no delay, so the rest are reaped on the next pass,
 * after signals, HTTP and the control socket have had their turn.
 */
#define REAP_BATCH 64

static void
reap_all(struct supervisor *sup)
{
    bool descendant = false;

    for (unsigned n = 0;; n++) {
        siginfo_t info = { 0 };
        struct instance *in;

        if (n == REAP_BATCH) {
            /* The heap has room for it: supervisor_new() sizes it with spares. */
            (void)timer_arm(&sup->timers, &sup->reap_timer, util_now_ms());
            break;
        }
        if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG) < 0 || info.si_pid == 0)
            break;
        in = pidmap_get(&sup->pids, info.si_pid);
        if (in) {
            instance_reaped(in, &info);
        } else if (checks_reaped(sup, &info)) {
            continue; /* a command probe */
        } else if (hooks_reaped(&sup->hooks, &info)) {
            continue;
        } else {
            log_debug("reaped pid %d (a descendant, not an instance's main process)",
                      (int)info.si_pid);
            descendant = true;
        }
    }
    /* A stopping instance whose main process is gone may just have lost its last member. */
    if (descendant)
        pool_for_each_instance(&sup->pool, group_drained, NULL);
}

static void
reap_timer_fired(struct timer *t, int64_t now_ms)
{
    (void)now_ms;
    reap_all((struct supervisor *)((char *)t - offsetof(struct supervisor, reap_timer)));
}

/* --- shutdown ------------------------------------------------------------------------------- */

static void
mark_for_start(struct instance *in, void *arg)
{
    (void)arg;
    in->start_pending = !in->adopted;
}

/* The first start spawns for this long a pass, then serves the sockets. */
#define START_PASS_MS 10

/*
 * The first start, a pass of the loop at a time: each pass starts the
 * instances still waiting for it for about START_PASS_MS, so that /livez,
 * /readyz (503 until all are started) and the control socket are answered
 * while 10,000 instances start. Walks every instance each pass (a reload
 * may have changed the pool meanwhile; one it removed starts nothing).
 */
static void
start_some(struct timer *t, int64_t now_ms)
{
    struct supervisor *sup = container_of(t, struct supervisor, start_timer);
    int64_t t0 = util_now_ns();
    bool left = false;

    (void)now_ms;
    for (size_t p = 0; p < sup->pool.nprograms; p++) {
        struct program *prog = sup->pool.programs[p];

        for (unsigned i = 0; i < prog->ninstances; i++) {
            struct instance *in = &prog->instances[i];

            if (!in->start_pending)
                continue;
            if (sup->shutting_down) {
                in->start_pending = false; /* a stop came first: it never starts */
                continue;
            }
            if (left || util_now_ns() - t0 > START_PASS_MS * 1000000) {
                left = true;
                continue;
            }
            in->start_pending = false;
            svc_dispatch(&in->svc, SVC_EV_START, util_now_ms());
        }
    }
    if (left) {
        (void)timer_arm(&sup->timers, t, util_now_ms()); /* the next pass, after the sockets */
        return;
    }
    if (!sup->started) {
        sup->started = true;
        liveness_started(sup);
    }
}

static void
kill_one(struct instance *in, void *arg)
{
    (void)arg;
    if (svc_has_process(in->svc.state))
        op_signal_group(&in->svc, SIGKILL);
}

/*
 * Descendants that left their instance's process group (setsid, setpgid)
 * were reparented to us; at the very end they are killed too, so drover
 * never leaves an orphan behind.
 */
static unsigned
kill_stray_children_once(void)
{
    char path[64];
    unsigned killed = 0;
    FILE *f;
    int pid;

    (void)snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)getpid());
    f = fopen(path, "re");
    if (!f)
        return 0;
    while (fscanf(f, "%d", &pid) == 1) {
        struct proc_stat st;

        /* A zombie is listed too: it is reaped, not counted (nothing had to be killed). */
        if (proc_read_stat(pid, &st) == 0 && st.state == 'Z') {
            (void)waitpid(pid, NULL, WNOHANG);
            continue;
        }
        killed++;
        log_warnx("killing pid %d, a descendant that left its instance's process group", pid);
        /* SIGKILL cannot be caught: the wait is short, and then no zombie is left either. */
        if (kill(pid, SIGKILL) == 0)
            (void)waitpid(pid, NULL, 0);
    }
    (void)fclose(f);
    return killed;
}

/* Killing a stray hands us its own children; a few rounds catch whole subtrees. */
static unsigned
kill_stray_children(void)
{
    unsigned killed = 0, n;

    for (int round = 0; round < 16 && (n = kill_stray_children_once()) > 0; round++)
        killed += n;
    return killed;
}

static void
count_live(struct instance *in, void *arg)
{
    if (svc_has_process(in->svc.state))
        (*(size_t *)arg)++;
}

static void
check_shutdown_done(struct supervisor *sup)
{
    size_t live = 0;

    pool_for_each_instance(&sup->pool, count_live, &live);
    if (live == 0)
        hooks_close(&sup->hooks); /* the hooks of the last changes run, no later ones */
    /* The redis store's last transitions go out first, while its server answers. */
    if (live == 0 && !hooks_busy(&sup->hooks) && !jobs_busy(sup))
        sup->done = true;
}

/* A program that is fatal when drover stops failed: the exit code says so. */
static void
count_fatal(struct instance *in, void *arg)
{
    if (in->svc.state != SVC_FATAL)
        return;
    (*(unsigned *)arg)++;
    inst_log(LOG_LVL_WARN, in, "fatal when the shutdown began: not a clean stop");
}

/*
 * Stops every instance and exits once they are gone, as on SIGTERM; `why` is
 * logged. Dependents stop before their dependencies, level by level (deps.c).
 */
static void
supervisor_shutdown(struct supervisor *sup, const char *why)
{
    if (sup->shutting_down)
        return;
    log_info("%s: stopping all instances", why);
    pool_for_each_instance(&sup->pool, count_fatal, &sup->unclean_fatal);
    sup->shutting_down = true;
    liveness_stopping(sup);
    jobs_drain_all(sup); /* no more jobs go out; the workers hear DRAIN before their stop */
    deps_shutdown(sup);
    check_shutdown_done(sup);
}

static void
begin_shutdown(struct supervisor *sup, int sig)
{
    char why[32];

    if (sup->shutting_down) {
        log_warnx("received SIG%s again: killing every process group now", util_signal_name(sig));
        pool_for_each_instance(&sup->pool, kill_one, NULL);
        hooks_kill(&sup->hooks); /* reaped by the sweep: a hook stuck in the kernel waits no one */
        return;
    }
    (void)snprintf(why, sizeof(why), "received SIG%s", util_signal_name(sig));
    supervisor_shutdown(sup, why);
}

/* SIGHUP: the file again, as `drover reload`; what refuses it goes to the log. */
static void
hup_reload(struct supervisor *sup)
{
    struct reload_outcome o;

    log_info("received SIGHUP: reloading the configuration file");
    reload_request(sup, &(struct reload_req){ .verb = "reload (SIGHUP)" }, &o);
    if (o.code != 200)
        log_warnx("SIGHUP: reload refused: %s", o.message);
    for (char *line = o.errs.text, *end; o.code == 400 && *line; line = end + 1) {
        if (!(end = strchr(line, '\n')))
            break;
        log_warnx("SIGHUP: %.*s", (int)(end - line), line);
    }
    reload_outcome_done(&o);
}

/*
 * Reads the pending signals, a bounded number (more stay readable for the
 * next pass), and reaps once after them: reaping inside the read loop let
 * the SIGCHLD of respawned instances that died at once bring it back here
 * for ever.
 */
#define SIGNAL_BATCH 16

static void
signal_ready(struct loop_source *src, uint32_t events)
{
    struct supervisor *sup = container_of(src, struct supervisor, sig);
    struct signalfd_siginfo si;
    bool child = false;

    (void)events;
    for (int i = 0; i < SIGNAL_BATCH && read(sup->sig.fd, &si, sizeof(si)) == (ssize_t)sizeof(si);
         i++) {
        switch (si.ssi_signo) {
        case SIGCHLD:
            child = true;
            break;
        case SIGTERM:
        case SIGINT:
            begin_shutdown(sup, (int)si.ssi_signo);
            break;
        case SIGHUP:
            hup_reload(sup);
            break;
        default:
            if (sig_ends_process((int)si.ssi_signo)) {
                /* Read only as pid 1 (sig.h): end as its default action would have ended us. */
                sup->ended_by = (int)si.ssi_signo;
                sup->done = true;
                break;
            }
            log_info("received SIG%s: ignoring", util_signal_name((int)si.ssi_signo));
            break;
        }
    }
    if (child)
        reap_all(sup);
}

static void
instance_timer_fired(struct timer *t, int64_t now_ms)
{
    struct instance *in = (struct instance *)((char *)t - offsetof(struct instance, timer));

    svc_dispatch(&in->svc, SVC_EV_TIMER, now_ms);
}

/* --- scale --------------------------------------------------------------------------------- */

/* A slot on a zeroed struct instance: stopped, no process. */
static void
instance_init(struct instance *in, struct program *prog, unsigned index)
{
    svc_init(&in->svc, &prog->cfg->policy, &instance_ops);
    in->prog = prog;
    in->sup = prog->sup;
    in->index = index;
    in->child = loop_source(-1, child_ready, LOOP_PRIO_SUPERVISE);
    timer_init(&in->timer, instance_timer_fired);
    checks_init(in);
    (void)snprintf(in->label, sizeof(in->label), "%s:%u", prog->cfg->name, index);
}

/* --- set-up --------------------------------------------------------------------------------- */

static int
setup_signals(struct supervisor *sup)
{
    sigset_t mask;

    sig_handled(&mask); /* main() blocked them; read them here */
    sup->sig = loop_source(-1, signal_ready, LOOP_PRIO_SUPERVISE);
    sup->sig.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sup->sig.fd < 0)
        return -errno;
    return loop_add(&sup->loop, &sup->sig);
}

/* The log's reader has room again. */
static void
log_ready(struct loop_source *src, uint32_t events)
{
    (void)src;
    (void)events;
    log_flush();
}

/* Timers are due; what a full batch leaves waits for the next pass. */
static void
timers_ready(struct loop_source *src, uint32_t events)
{
    struct supervisor *sup = container_of(src, struct supervisor, timer_src);

    (void)events;
    (void)timers_run(&sup->timers, util_now_ms());
}

/*
 * log.c has lines waiting for its reader (fd >= 0), or none left (-1):
 * the loop watches the fd for room and calls log_flush(). Must not log.
 */
static int
log_watch(int fd, void *arg)
{
    struct supervisor *sup = arg;
    int r;

    if (fd < 0) {
        loop_del(&sup->loop, &sup->log_src);
        return 0;
    }
    if (sup->log_src.fd >= 0)
        return 0;
    sup->log_src = loop_source(fd, log_ready, LOOP_PRIO_SUPERVISE);
    if ((r = loop_add_events(&sup->loop, &sup->log_src, EPOLLOUT)) < 0)
        sup->log_src.fd = -1;
    return r;
}

/*
 * Before the loop sleeps, what the pass's state changes may have made true:
 * a shutdown with no process left is done, and slots scaled away with no
 * process left leave the pool. Here, not inside the change: the state
 * machine's actions never re-enter the supervisor.
 */
static void
before_sleep(struct loop_hook *hook)
{
    struct supervisor *sup = container_of(hook, struct supervisor, before_sleep);

    if (sup->shutting_down)
        check_shutdown_done(sup);
    for (size_t p = 0; p < sup->pool.nprograms; p++)
        if (sup->pool.programs[p]->ninstances > sup->pool.programs[p]->want)
            pool_settle_scale(sup->pool.programs[p]);
    reload_advance(sup); /* a roll's next instance, a removed program leaving */
}

/*
 * Who hears of a process that came or went (pool_notify()), in this order:
 * liveness (the slot's owner, the beat clock), checks (probes), the
 * checkpoint (a coalesced write), the memory_max sampler; and of each
 * state change: the hooks (first, so a change's own hook queues before
 * those of what it causes), then deps. Added once, at set-up.
 */
static void
liveness_observer(struct instance *in, enum pool_change what)
{
    (void)what;
    liveness_spawned(in);
}

static void
checks_observer(struct instance *in, enum pool_change what)
{
    if (what == POOL_GONE)
        checks_gone(in);
    else
        checks_spawned(in);
}

static void
checkpoint_observer(struct instance *in, enum pool_change what)
{
    (void)what;
    persist_changed(in->sup);
}

static void
memwatch_observer(struct instance *in, enum pool_change what)
{
    (void)what;
    memwatch_spawned(in);
}

static void
capture_observer(struct instance *in, enum pool_change what)
{
    (void)what;
    capture_adopted(in);
}

static void
deps_observer(struct instance *in, enum pool_change what)
{
    (void)what;
    deps_changed(in);
}

static void
watch_the_pool(struct pool *pool)
{
    /* Seven of POOL_MAX_OBSERVERS: these cannot fail. */
    (void)pool_observe(pool, 1u << POOL_SPAWNED, liveness_observer);
    (void)pool_observe(pool, 1u << POOL_SPAWNED | 1u << POOL_GONE | 1u << POOL_ADOPTED,
                       checks_observer);
    (void)pool_observe(pool, 1u << POOL_SPAWNED | 1u << POOL_GONE, checkpoint_observer);
    (void)pool_observe(pool, 1u << POOL_STATE | 1u << POOL_GONE, hooks_observer);
    (void)pool_observe(pool, 1u << POOL_STATE, deps_observer);
    (void)pool_observe(pool, 1u << POOL_SPAWNED | 1u << POOL_ADOPTED, memwatch_observer);
    (void)pool_observe(pool, 1u << POOL_ADOPTED, capture_observer);
}

struct supervisor *
supervisor_new(struct config *cfg, size_t extra_timers, int *ret_err)
{
    struct supervisor *sup = calloc(1, sizeof(*sup));
    size_t slots;
    int r = -ENOMEM;

    if (!sup)
        goto fail;
    sup->cfg = *cfg;
    *cfg = (struct config){ 0 };
    sup->loop.epfd = -1;
    sup->sig.fd = -1;
    sup->timers.fd = -1;
    sup->notify = loop_source(-1, NULL, LOOP_PRIO_SUPERVISE); /* liveness_setup() sets it */
    events_init(&sup->events);
    sup->start_unix = (double)util_unix_ms() / 1000;
    sup->pool.timers = &sup->timers;
    sup->pool.init_instance = instance_init;
    watch_the_pool(&sup->pool);
    for (size_t p = 0; p < sup->cfg.nprograms; p++) {
        struct program *prog = pool_program_new(&sup->pool, sup, &sup->cfg.programs[p]);

        if (!prog)
            goto fail;
        if (pool_add_program(&sup->pool, prog) < 0) {
            pool_program_free(prog);
            goto fail;
        }
        if (launch_env_base(prog) < 0)
            goto fail;
    }
    if ((r = ports_init(&sup->ports, sup->cfg.port_from, sup->cfg.port_to)) < 0)
        goto fail;
    slots = cfg_total_slots(&sup->cfg);
    pgidcache_init(&sup->senders);
    if ((r = pidmap_init(&sup->pids, slots)) < 0)
        goto fail;
    if ((r = pidmap_init(&sup->probe_pids, slots)) < 0)
        goto fail;
    if ((r = loop_init(&sup->loop)) < 0)
        goto fail;
    loop_add_before_sleep(&sup->loop, &sup->before_sleep, before_sleep); /* first: before api's */
    deps_setup(sup);              /* its starts are seen by api's long-polls in the same pass */
    if ((r = jobs_init(sup)) < 0) /* its dispatch too, and before api's hook, for the same reason */
        goto fail;
    sup->log_src = loop_source(-1, log_ready, LOOP_PRIO_SUPERVISE);
    log_set_watch(log_watch, sup);
    sup->extra_timers = extra_timers; /* kept: a reload that adds programs grows the heap */
    r = timers_init(&sup->timers, supervisor_timers_needed(sup, slots, sup->pool.nprograms));
    if (r < 0)
        goto fail;
    sup->timer_src = loop_source(sup->timers.fd, timers_ready, LOOP_PRIO_SUPERVISE);
    if ((r = loop_add(&sup->loop, &sup->timer_src)) < 0)
        goto fail;
    if ((r = setup_signals(sup)) < 0)
        goto fail;
    if ((r = spawn_init()) < 0)
        goto fail;
    sup->ckpt_last_ms = -1;
    timer_init(&sup->reap_timer, reap_timer_fired);
    timer_init(&sup->ckpt_timer, persist_timer_fired);
    memwatch_init(sup);
    if (sup->cfg.dumpfile && (r = persist_setup(sup)) < 0)
        goto fail;
    if ((r = hooks_init(&sup->hooks, &sup->cfg, &sup->pool, &sup->loop, &sup->timers)) < 0)
        goto fail;
    return sup;

fail:
    *ret_err = r;
    supervisor_free(sup);
    return NULL;
}

void
supervisor_set_config_loader(struct supervisor *sup, supervisor_config_loader fn, void *arg)
{
    sup->load_config = fn;
    sup->load_config_arg = arg;
}

void
supervisor_set_surfaces(struct supervisor *sup, const struct supervisor_surfaces *s)
{
    sup->surfaces = s;
}

/*
 * Everything that can fail comes before recovery touches a process: a
 * failure then exits 1 with the earlier drover's survivors running and
 * its dumpfile, their only record, unchanged (the first write comes after
 * recovery acted). From persist_act() on, nothing can fail.
 */
static int
start_up(struct supervisor *sup)
{
    struct survivors found = { 0 };
    int r;

    /* First: a control socket in use means another drover runs this pool; touch nothing. */
    if (sup->surfaces && sup->surfaces->open_control && (r = sup->surfaces->open_control(sup)) < 0)
        return r;
    /* Read-only; a live drover on the dumpfile is refused before its notify socket is. */
    if (sup->dumpfile && (r = persist_scan(sup, &found)) < 0)
        return r;
    if (sup->surfaces && sup->surfaces->open_http && (r = sup->surfaces->open_http(sup)) < 0)
        goto out;
    if ((r = liveness_setup(sup)) < 0)
        goto out;
    if ((r = jobs_open(sup)) < 0)
        goto out;
    jobscale_reconfigured(sup); /* the programs that scale by their queue */
    if (sup->dumpfile)
        persist_act(sup, &found);
    liveness_adopted(sup);
    jobs_recovered(sup); /* what adopted instances held stays theirs; the rest is lost */
    if (sup->dumpfile)
        persist_timer_fired(&sup->ckpt_timer, util_now_ms()); /* on record before the first spawn */
    pool_for_each_instance(&sup->pool, mark_for_start, NULL);
    timer_init(&sup->start_timer, start_some);
    start_some(&sup->start_timer, util_now_ms()); /* the first pass now; the rest from the loop */
out:
    recover_done(&found); /* closes the pidfds of what was not adopted */
    return r;
}

int
supervisor_run(struct supervisor *sup)
{
    int n;

    log_info("drover %d: supervising %zu program%s, %zu instance%s", (int)getpid(),
             sup->pool.nprograms, sup->pool.nprograms == 1 ? "" : "s", sup->pool.ninstances,
             sup->pool.ninstances == 1 ? "" : "s");
    if (start_up(sup) < 0)
        return 1;

    /* From now on, we must not die: failures are logged and retried. */
    while (!sup->done) {
        sup->loop_iter++;
        if (sup->shutdown_requested && !sup->shutting_down)
            supervisor_shutdown(sup, "shutdown requested by a control call");
        loop_before_sleep(&sup->loop); /* may arm timers: before they are synced */
        if (sup->done)
            break; /* the last instance of a shutdown is gone */
        if (timers_sync(&sup->timers) < 0)
            log_warn("cannot arm the timer, retrying on the next event");
        /* Supervision first, then HTTP and the control socket (loop.h's priorities). */
        n = loop_dispatch(&sup->loop);
        if (n < 0)
            log_warn("epoll_wait failed, retrying");
    }
    if (sup->ended_by) {
        /*
         * Outside a container this signal's default action would have ended
         * drover on the spot, its instances left running; the kernel drops it
         * for a namespace's init, so we end ourselves, stopping nothing. The
         * instances die with the namespace (or with supervisor_free()).
         */
        log_errorx("received SIG%s as pid 1, whose default action ends drover: exiting with "
                   "code %d without stopping the instances",
                   util_signal_name(sup->ended_by), 128 + sup->ended_by);
        return 128 + sup->ended_by;
    }
    hooks_stop(&sup->hooks); /* first: kill_stray_children() would take its pids from under it */
    reap_all(sup);           /* what has ended already is no stray to kill */
    sup->unclean_strays = kill_stray_children();
    reap_all(sup);
    if (sup->dumpfile) {
        int r = persist_write(sup);
        if (r < 0)
            log_errorx("cannot write the final dumpfile %s: %s", sup->dumpfile, strerror(-r));
    }
    if (sup->unclean_killed || sup->unclean_fatal || sup->unclean_strays) {
        log_warnx("all instances stopped, not cleanly (%u SIGKILL%s after a stop signal, %u "
                  "instance%s fatal, %u stray descendant%s killed): exiting with code %d",
                  sup->unclean_killed, sup->unclean_killed == 1 ? "" : "s", sup->unclean_fatal,
                  sup->unclean_fatal == 1 ? "" : "s", sup->unclean_strays,
                  sup->unclean_strays == 1 ? "" : "s", SUPERVISOR_EXIT_UNCLEAN);
        return SUPERVISOR_EXIT_UNCLEAN;
    }
    log_info("all instances stopped, exiting");
    return 0;
}

/*
 * Freeing an instance kills and reaps its process: nothing is left behind.
 * Except an adopted one: it is not our child, it ran before us and is on
 * record (the earlier dumpfile or ours) for the next drover to adopt, so it
 * is left running. Returns true if it was.
 */
static bool
instance_done(struct instance *in, struct supervisor *sup)
{
    bool left = in->pid > 0 && in->adopted;

    if (in->pid > 0 && !in->adopted) {
        op_signal_group(&in->svc, SIGKILL);
        (void)waitpid(in->pid, NULL, 0);
    }
    if (in->pid > 0) {
        (void)pidmap_del(&sup->pids, in->pid);
        in->pid = 0;
    }
    loop_close(&sup->loop, &in->child);
    return left; /* the rest goes with its program: pool_program_free() */
}

void
supervisor_free(struct supervisor *sup)
{
    if (!sup)
        return;
    log_set_watch(NULL, NULL); /* the loop goes: log.c flushes at each line, and at exit */
    if (sup->surfaces && sup->surfaces->close)
        sup->surfaces->close(sup);
    liveness_done(sup);
    jobscale_done(sup);
    jobs_done(sup);
    hooks_done(&sup->hooks);
    deps_done(sup);
    memwatch_done(sup);
    if (sup->pool.programs) {
        size_t left = 0;

        for (size_t p = 0; p < sup->pool.nprograms; p++) {
            struct program *prog = sup->pool.programs[p];
            for (unsigned i = 0; i < prog->cfg->max_instances; i++)
                if (instance_done(&prog->instances[i], sup)) {
                    capture_keep(&prog->instances[i]); /* its FIFOs, for the next drover */
                    left++;
                }
            pool_program_free(prog);
        }
        free(sup->pool.programs);
        if (left)
            log_warnx("leaving %zu adopted instance%s running for the next drover on %s", left,
                      left == 1 ? "" : "s", sup->dumpfile ? sup->dumpfile : "this dumpfile");
    }
    capture_dir_done(sup);
    reload_done(sup); /* after the programs that borrow its retired configuration */
    loop_close(&sup->loop, &sup->sig);
    timers_done(&sup->timers);
    loop_done(&sup->loop);
    pidmap_done(&sup->pids);
    pgidcache_done(&sup->senders);
    pidmap_done(&sup->probe_pids);
    ports_done(&sup->ports);
    cfg_done(&sup->cfg);
    events_done(&sup->events);
    free(sup->dumpfile);
    free(sup->pgid_cache);
    free(sup);
}

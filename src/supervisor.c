/*
 * supervisor: event dispatch, svc_ops effects, exits and shutdown.
 * See supervisor.h.
 */
#include "supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ckpt.h"
#include "log.h"
#include "pidmap.h"
#include "procfs.h"
#include "recover.h"
#include "ports.h"
#include "program.h"
#include "spawn.h"
#include "tmpl.h"
#include "util.h"

extern char **environ;

struct supervisor {
    struct config cfg;
    struct program *programs;
    size_t nprograms;
    size_t ninstances;
    struct loop loop;
    struct timers timers;
    struct ports ports;
    struct pidmap pids;
    struct loop_source sig;      /* LOOP_SIGNAL */
    struct loop_source timer_src; /* LOOP_TIMER, fd borrowed from timers */
    bool shutting_down;
    bool done;
    /* Checkpoint (--dumpfile); all unused when dumpfile is NULL. */
    char *dumpfile;              /* absolute path */
    char marker_env[2][PATH_MAX + 32]; /* DROVER_DUMPFILE=..., DROVER_GENERATION=... */
    struct timer ckpt_timer;
    int64_t ckpt_last_ms;        /* last successful write, -1 never */
    bool ckpt_failing;
};

#define CKPT_MIN_GAP_MS 100      /* coalesce bursts of changes into one write per 100 ms */
#define CKPT_RETRY_MS 1000

static void ckpt_changed(struct supervisor *sup);

/* Variables drover sets for its children, or that describe drover's own supervisor. */
static const char *const reserved_env[] = {
    "DROVER_PROGRAM", "DROVER_INSTANCE", "DROVER_PORT", "DROVER_DUMPFILE", "DROVER_GENERATION",
    "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID",
};

/* --- logging helpers ------------------------------------------------------------------------ */

static void inst_log(enum log_level level, const struct instance *in, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "name:i pid=N port=N <message>": every instance line carries who it is about. */
static void
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

/* --- svc_ops ------------------------------------------------------------------------------- */

static int
open_stdio(const struct instance *in, const char *tmpl, const struct tmpl_vars *vars, const char *cwd,
           bool for_input, int *ret_fd)
{
    char joined[PATH_MAX];
    const char *path;
    bool oom;
    char *expanded = tmpl_expand(tmpl, vars, &oom);
    int fd;

    if (oom)
        return -ENOMEM;
    path = expanded ? expanded : tmpl;
    if (cwd && path[0] != '/') {
        if (snprintf(joined, sizeof(joined), "%s/%s", cwd, path) >= (int)sizeof(joined)) {
            free(expanded);
            return -ENAMETOOLONG;
        }
        path = joined;
    }
    fd = for_input ? open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)
                   : open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0644);
    if (fd < 0) {
        int err = errno;
        inst_log(LOG_ERROR, in, "cannot open %s file \"%s\": %s",
                 for_input ? "input" : tmpl == in->prog->cfg->output ? "output" : "error", path,
                 strerror(err));
        free(expanded);
        return -err;
    }
    free(expanded);
    *ret_fd = fd;
    return 0;
}

struct spawn_buffers {
    char **argv;
    char **envp;
    char *cwd;
    char *owned[CFG_MAX_ARGS + CFG_MAX_ENV + 8]; /* expanded strings to free */
    size_t nowned;
    char drover_env[3][64];
    int fds[3];
};

static void
buffers_done(struct spawn_buffers *b)
{
    for (size_t i = 0; i < b->nowned; i++)
        free(b->owned[i]);
    free(b->argv);
    free(b->envp);
    for (int i = 0; i < 3; i++)
        if (b->fds[i] >= 0)
            (void)close(b->fds[i]);
}

/* Expands tmpl; returns the string to use (tmpl itself or an owned copy), NULL on OOM. */
static char *
expand_owned(struct spawn_buffers *b, const char *tmpl, const struct tmpl_vars *vars)
{
    bool oom;
    char *s = tmpl_expand(tmpl, vars, &oom);

    if (oom)
        return NULL;
    if (!s)
        return (char *)tmpl;
    b->owned[b->nowned++] = s;
    return s;
}

static int
build_spawn(struct instance *in, const struct tmpl_vars *vars, struct spawn_buffers *b)
{
    const struct program *prog = in->prog;
    const struct program_cfg *pc = prog->cfg;
    size_t n = 0;
    int r;

    b->argv = calloc(pc->argc + 1, sizeof(char *));
    b->envp = calloc(prog->nenv_base + 5 + pc->nenv + 1, sizeof(char *));
    if (!b->argv || !b->envp)
        return -ENOMEM;
    for (size_t i = 0; i < pc->argc; i++)
        if (!(b->argv[i] = expand_owned(b, pc->argv[i], vars)))
            return -ENOMEM;
    if (pc->cwd && !(b->cwd = expand_owned(b, pc->cwd, vars)))
        return -ENOMEM;

    memcpy(b->envp, prog->env_base, prog->nenv_base * sizeof(char *));
    n = prog->nenv_base;
    (void)snprintf(b->drover_env[0], sizeof(b->drover_env[0]), "DROVER_PROGRAM=%s", pc->name);
    (void)snprintf(b->drover_env[1], sizeof(b->drover_env[1]), "DROVER_INSTANCE=%u", in->index);
    b->envp[n++] = b->drover_env[0];
    b->envp[n++] = b->drover_env[1];
    if (in->port) {
        (void)snprintf(b->drover_env[2], sizeof(b->drover_env[2]), "DROVER_PORT=%u", in->port);
        b->envp[n++] = b->drover_env[2];
    }
    if (in->sup->dumpfile) {
        /* The marker a later drover finds this process by, even if no checkpoint named it. */
        b->envp[n++] = in->sup->marker_env[0];
        b->envp[n++] = in->sup->marker_env[1];
    }
    for (size_t i = 0; i < pc->nenv; i++) {
        char *value = expand_owned(b, pc->env[i].value, vars);
        char *kv;

        if (!value || asprintf(&kv, "%s=%s", pc->env[i].key, value) < 0)
            return -ENOMEM;
        b->owned[b->nowned++] = kv;
        b->envp[n++] = kv;
    }

    if (pc->input && (r = open_stdio(in, pc->input, vars, b->cwd, true, &b->fds[0])) < 0)
        return r;
    if (pc->output && (r = open_stdio(in, pc->output, vars, b->cwd, false, &b->fds[1])) < 0)
        return r;
    if (pc->error && (r = open_stdio(in, pc->error, vars, b->cwd, false, &b->fds[2])) < 0)
        return r;
    return 0;
}

/* One allocation holding the pointer array and the strings, for the checkpoint. */
static char **
argv_copy(char *const *argv)
{
    size_t n = 0, bytes = 0;
    char **copy, *w;

    for (; argv[n]; n++)
        bytes += strlen(argv[n]) + 1;
    copy = malloc((n + 1) * sizeof(char *) + bytes);
    if (!copy)
        return NULL;
    w = (char *)(copy + n + 1);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(argv[i]) + 1;
        memcpy(w, argv[i], len);
        copy[i] = w;
        w += len;
    }
    copy[n] = NULL;
    return copy;
}

static enum svc_spawn_result
op_spawn(struct svc *s)
{
    struct instance *in = svc_to_instance(s);
    struct supervisor *sup = in->sup;
    const struct program_cfg *pc = in->prog->cfg;
    struct spawn_buffers b = { .fds = { -1, -1, -1 } };
    struct spawn_result res;
    enum spawn_step step;
    char path[PATH_MAX];
    int r;

    if (pc->uses_port) {
        if (ports_take(&sup->ports, &in->port) < 0) {
            inst_log(LOG_WARN, in, "no free port in %u-%u (all %u in use)", sup->ports.from, sup->ports.to,
                     ports_size(&sup->ports));
            return SVC_SPAWN_RETRY;
        }
    }
    struct tmpl_vars vars = { .name = pc->name, .instance = in->index, .port = in->port };

    r = build_spawn(in, &vars, &b);
    if (r == -ENOMEM) {
        inst_log(LOG_ERROR, in, "out of memory preparing the command");
        goto retry;
    }
    if (r < 0)
        goto failed; /* open_stdio logged which file */
    r = spawn_resolve(b.argv[0], b.cwd, path, sizeof(path));
    if (r < 0) {
        inst_log(LOG_ERROR, in, "cannot find \"%s\" in PATH: %s", b.argv[0], strerror(-r));
        goto failed;
    }
    r = spawn_process(&(struct spawn_req){
                          .path = path,
                          .argv = b.argv,
                          .envp = b.envp,
                          .cwd = b.cwd,
                          .stdin_fd = b.fds[0],
                          .stdout_fd = b.fds[1],
                          .stderr_fd = b.fds[2],
                      },
                      &res, &step);
    if (r < 0) {
        if (step == SPAWN_STEP_NONE) {
            inst_log(LOG_ERROR, in, "cannot create a process: %s", strerror(-r));
            goto retry;
        }
        if (step == SPAWN_STEP_CHDIR)
            inst_log(LOG_ERROR, in, "cannot enter directory \"%s\": %s", b.cwd, strerror(-r));
        else
            inst_log(LOG_ERROR, in, "cannot %s \"%s\": %s", step == SPAWN_STEP_EXEC ? "execute" : "set up",
                     path, strerror(-r));
        goto failed;
    }
    free(in->argv);
    in->argv = in->sup->dumpfile ? argv_copy(b.argv) : NULL; /* NULL on OOM: the checkpoint says [] */
    buffers_done(&b);
    in->adopted = false;
    in->start_time = 0;
    in->pid = res.pid;
    in->pgid = res.pid; /* the child called setsid() */
    in->child.fd = res.pidfd;
    in->spawned_ms = util_now_ms();
    if (loop_add(&sup->loop, &in->child) < 0)
        log_warn("%s: cannot watch pidfd, relying on SIGCHLD", in->label);
    if (pidmap_put(&sup->pids, in->pid, in) < 0)
        log_warnx("%s: pid map full, exit of pid %d found through its pidfd only", in->label, (int)in->pid);
    inst_log(LOG_INFO, in, "spawned");
    ckpt_changed(sup);
    return SVC_SPAWN_OK;

retry:
    buffers_done(&b);
    ports_release(&sup->ports, in->port);
    in->port = 0;
    return SVC_SPAWN_RETRY;
failed:
    buffers_done(&b);
    ports_release(&sup->ports, in->port);
    in->port = 0;
    return SVC_SPAWN_FAILED;
}

static void
op_signal_group(struct svc *s, int sig)
{
    struct instance *in = svc_to_instance(s);

    if (in->pgid <= 1)
        return;
    if (kill(-in->pgid, sig) < 0 && errno != ESRCH)
        inst_log(LOG_WARN, in, "cannot send %s to process group %d: %s", util_signal_name(sig), (int)in->pgid,
                 strerror(errno));
    else
        log_debug("%s: sent %s to process group %d", in->label, util_signal_name(sig), (int)in->pgid);
}

/*
 * A pgid number cannot be reused while any process is still in that group,
 * so probing it after the leader was reaped never reaches a stranger.
 */
static bool
op_group_alive(struct svc *s)
{
    struct instance *in = svc_to_instance(s);

    if (in->pgid <= 1)
        return false;
    return kill(-in->pgid, 0) == 0 || errno == EPERM;
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

static void check_shutdown_done(struct supervisor *sup);

static void
op_transition(struct svc *s, enum svc_state from, enum svc_state to, const char *cause)
{
    struct instance *in = svc_to_instance(s);
    char delay[32];

    if (to == SVC_FATAL && s->tally.count > 0 && strncmp(cause, "yo-yo", 5) == 0) {
        char window[32];
        inst_log(LOG_ERROR, in, "%s -> fatal (yo-yo: more than %u restarts within %s; not restarting until asked)",
                 svc_state_name(from), s->policy->backoff.yoyo_limit,
                 util_format_duration(window, sizeof(window), s->policy->backoff.yoyo_window_ms));
    } else if (to == SVC_FATAL) {
        inst_log(LOG_ERROR, in, "%s -> fatal (%s; not restarting until asked)", svc_state_name(from), cause);
    } else if (to == SVC_BACKOFF) {
        inst_log(LOG_INFO, in, "%s -> backoff (%s; retry in %s)", svc_state_name(from), cause,
                 util_format_duration(delay, sizeof(delay), s->next_delay_ms));
    } else {
        inst_log(LOG_INFO, in, "%s -> %s (%s)", svc_state_name(from), svc_state_name(to), cause);
    }
    if (in->sup->shutting_down && !svc_has_process(to))
        check_shutdown_done(in->sup);
}

static const struct svc_ops instance_ops = {
    .spawn = op_spawn,
    .signal_group = op_signal_group,
    .group_alive = op_group_alive,
    .timer_arm = op_timer_arm,
    .timer_cancel = op_timer_cancel,
    .transition = op_transition,
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
        how.known = false;
        inst_log(LOG_WARN, in, "exited after %s (status unknown: adopted, not drover's child)",
                 util_format_duration(ran, sizeof(ran), now - in->spawned_ms));
        goto forget;
    }
    how.signaled = info->si_code == CLD_KILLED || info->si_code == CLD_DUMPED;
    how.value = info->si_status;
    /* Dying of the signal we sent to stop it is the expected end, not a warning. */
    expected = in->svc.state == SVC_STOPPING &&
               (how.signaled ? how.value == in->svc.policy->stop_signal : how.value == 0);
    util_format_duration(ran, sizeof(ran), now - in->spawned_ms);
    if (how.signaled)
        inst_log(expected ? LOG_INFO : LOG_WARN, in, "killed by signal %s%s after %s", util_signal_name(how.value),
                 info->si_code == CLD_DUMPED ? " (core dumped)" : "", ran);
    else
        inst_log(how.value && !expected ? LOG_WARN : LOG_INFO, in, "exited with code %d after %s", how.value, ran);
forget:
    loop_close(&sup->loop, &in->child);
    (void)pidmap_del(&sup->pids, in->pid);
    ports_release(&sup->ports, in->port);
    in->port = 0;
    in->pid = 0;
    in->adopted = false;
    ckpt_changed(sup);
    svc_exited(&in->svc, &how, now);
}

/* The pidfd of an instance became readable: its process exited. */
static void
child_ready(struct instance *in)
{
    siginfo_t info = { 0 };

    if (waitid(P_PIDFD, (id_t)in->child.fd, &info, WEXITED | WNOHANG) < 0) {
        if (errno == ECHILD && in->adopted) {
            instance_reaped(in, NULL); /* a readable pidfd means it exited; its parent reaps it */
            return;
        }
        if (errno != ECHILD)
            inst_log(LOG_WARN, in, "waitid on pidfd failed: %s", strerror(errno));
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

static void for_each_instance(struct supervisor *sup, void (*fn)(struct instance *in, void *arg), void *arg);

static void
reap_all(struct supervisor *sup)
{
    bool descendant = false;

    for (;;) {
        siginfo_t info = { 0 };
        struct instance *in;

        if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG) < 0 || info.si_pid == 0)
            break;
        in = pidmap_get(&sup->pids, info.si_pid);
        if (in) {
            instance_reaped(in, &info);
        } else {
            log_debug("reaped pid %d (a descendant, not an instance's main process)", (int)info.si_pid);
            descendant = true;
        }
    }
    /* A stopping instance whose main process is gone may just have lost its last member. */
    if (descendant)
        for_each_instance(sup, group_drained, NULL);
}

/* --- shutdown ------------------------------------------------------------------------------- */

static void
for_each_instance(struct supervisor *sup, void (*fn)(struct instance *in, void *arg), void *arg)
{
    for (size_t p = 0; p < sup->nprograms; p++)
        for (unsigned i = 0; i < sup->programs[p].ninstances; i++)
            fn(&sup->programs[p].instances[i], arg);
}

static void
dispatch_one(struct instance *in, void *arg)
{
    svc_dispatch(&in->svc, *(enum svc_event *)arg, util_now_ms());
}

static void
start_unless_adopted(struct instance *in, void *arg)
{
    if (!in->adopted)
        dispatch_one(in, arg);
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
static void
kill_stray_children(void)
{
    for (int round = 0; round < 16 && kill_stray_children_once() > 0; round++)
        ;
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

    for_each_instance(sup, count_live, &live);
    if (live == 0)
        sup->done = true;
}

static void
begin_shutdown(struct supervisor *sup, int sig)
{
    enum svc_event ev = SVC_EV_STOP;

    if (sup->shutting_down) {
        log_warnx("received SIG%s again: killing every process group now", util_signal_name(sig));
        for_each_instance(sup, kill_one, NULL);
        return;
    }
    log_info("received SIG%s: stopping all instances", util_signal_name(sig));
    sup->shutting_down = true;
    for_each_instance(sup, dispatch_one, &ev);
    check_shutdown_done(sup);
}

static void
signal_ready(struct supervisor *sup)
{
    struct signalfd_siginfo si;

    while (read(sup->sig.fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        switch (si.ssi_signo) {
        case SIGCHLD:
            reap_all(sup);
            break;
        case SIGTERM:
        case SIGINT:
            begin_shutdown(sup, (int)si.ssi_signo);
            break;
        default:
            log_info("received SIG%s: ignoring", util_signal_name((int)si.ssi_signo));
            break;
        }
    }
}

static void
instance_timer_fired(struct timer *t, int64_t now_ms)
{
    struct instance *in = (struct instance *)((char *)t - offsetof(struct instance, timer));

    svc_dispatch(&in->svc, SVC_EV_TIMER, now_ms);
}

/* --- checkpoint ----------------------------------------------------------------------------- */

/* Writes the dumpfile now. Returns 0 or -errno (the previous file is then intact). */
static int
ckpt_write(struct supervisor *sup)
{
    struct ckpt c = { .drover_pid = getpid(), .written_unix_ms = 0 };
    struct proc_stat st;
    struct timespec ts;
    char *data;
    size_t len, n = 0;
    int r;

    if ((r = proc_read_stat(getpid(), &st)) < 0)
        return r;
    c.drover_start_time = st.start_time;
    (void)clock_gettime(CLOCK_REALTIME, &ts);
    c.written_unix_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    c.entries = calloc(sup->ninstances ? sup->ninstances : 1, sizeof(*c.entries));
    if (!c.entries)
        return -ENOMEM;
    for (size_t p = 0; p < sup->nprograms; p++) {
        for (unsigned i = 0; i < sup->programs[p].ninstances; i++) {
            struct instance *in = &sup->programs[p].instances[i];

            if (in->pid <= 0)
                continue;
            /* Read once per process, off the spawn path. A process already gone is left out. */
            if (!in->start_time && proc_read_stat(in->pid, &st) == 0)
                in->start_time = st.start_time;
            if (!in->start_time)
                continue;
            /* Borrowed pointers: c is freed by hand below, not with ckpt_done(). */
            c.entries[n++] = (struct ckpt_entry){
                .program = (char *)in->prog->cfg->name, .instance = in->index, .pid = in->pid,
                .pgid = in->pgid, .start_time = in->start_time, .port = in->port, .argv = in->argv,
            };
        }
    }
    c.nentries = n;
    r = ckpt_pack(&c, &data, &len);
    free(c.entries);
    if (r < 0)
        return r;
    r = ckpt_save(sup->dumpfile, data, len);
    free(data);
    return r;
}

static void
ckpt_timer_fired(struct timer *t, int64_t now_ms)
{
    struct supervisor *sup = (struct supervisor *)((char *)t - offsetof(struct supervisor, ckpt_timer));
    int r = ckpt_write(sup);

    if (r < 0) {
        /* Keep supervising; the previous dumpfile stays valid. One line per failure streak. */
        if (!sup->ckpt_failing)
            log_warnx("cannot write dumpfile %s: %s, retrying every %d s", sup->dumpfile, strerror(-r),
                      CKPT_RETRY_MS / 1000);
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
static void
ckpt_changed(struct supervisor *sup)
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

/* --- recovery ------------------------------------------------------------------------------- */

static struct instance *
find_instance(struct supervisor *sup, const char *program, unsigned index)
{
    for (size_t p = 0; p < sup->nprograms; p++)
        if (strcmp(sup->programs[p].cfg->name, program) == 0)
            return index < sup->programs[p].ninstances ? &sup->programs[p].instances[index] : NULL;
    return NULL;
}

static int
by_start_time(const void *a, const void *b)
{
    const struct survivor *x = a, *y = b;

    return x->start_time < y->start_time ? -1 : x->start_time > y->start_time;
}

/*
 * With --adopt, each instance slot takes the earliest-started main process
 * claiming it (a descendant that made itself a group leader started later),
 * if its port is free in our range; its group members stay with it.
 * Everything else is stopped.
 */
static void
decide_fates(struct supervisor *sup, struct survivors *s)
{
    if (s->n > 1)
        qsort(s->v, s->n, sizeof(*s->v), by_start_time);
    for (size_t i = 0; i < s->n; i++)
        s->v[i].fate = SURVIVOR_STOP;
    if (!sup->cfg.adopt)
        return;
    for (size_t i = 0; i < s->n; i++) {
        struct survivor *sv = &s->v[i];
        struct instance *in;

        if (!sv->leader || !sv->program[0])
            continue;
        in = find_instance(sup, sv->program, sv->instance);
        if (!in || in->pid) {
            if (!in)
                log_info("pid %d (%s:%u): no such instance in the configuration, stopping it", (int)sv->pid,
                         sv->program, sv->instance);
            continue;
        }
        if (in->prog->cfg->uses_port != (sv->port != 0) ||
            (sv->port && ports_reserve(&sup->ports, sv->port) < 0)) {
            log_info("pid %d (%s:%u): port %u does not fit the current port range, stopping it", (int)sv->pid,
                     sv->program, sv->instance, sv->port);
            continue;
        }
        sv->fate = SURVIVOR_ADOPT;
        in->pid = sv->pid; /* claims the slot; completed in adopt() */
    }
    for (size_t i = 0; i < s->n; i++) {
        struct survivor *sv = &s->v[i];
        if (sv->fate != SURVIVOR_STOP)
            continue;
        for (size_t k = 0; k < s->n; k++)
            if (s->v[k].fate == SURVIVOR_ADOPT && s->v[k].pgid == sv->pgid)
                sv->fate = SURVIVOR_KEEP; /* part of an adopted instance's group */
    }
}

static void
adopt(struct supervisor *sup, struct survivor *sv, int64_t now)
{
    struct instance *in = find_instance(sup, sv->program, sv->instance);
    char age[32];

    in->pid = sv->pid;
    in->pgid = sv->pgid;
    in->port = sv->port;
    in->start_time = sv->start_time;
    in->adopted = true;
    in->spawned_ms = now - (proc_boot_now_ms() - proc_ticks_to_ms(sv->start_time));
    in->child.fd = sv->pidfd; /* ownership moves to the instance */
    if (loop_add(&sup->loop, &in->child) < 0)
        log_warn("%s: cannot watch the adopted pidfd", in->label);
    in->svc.state = SVC_RUNNING;
    in->svc.want_up = true;
    in->svc.leader_alive = true;
    in->svc.started_ms = in->spawned_ms;
    inst_log(LOG_INFO, in, "adopted from an earlier drover (up %s), running",
             util_format_duration(age, sizeof(age), now - in->spawned_ms));
}

/* Returns 0, or -EBUSY when another drover still owns the dumpfile. */
static int
recover(struct supervisor *sup)
{
    struct survivors s;
    size_t adopted = 0;
    int64_t now = util_now_ms();
    int r;

    r = recover_scan(sup->dumpfile, sup->marker_env[1] + strlen("DROVER_GENERATION="), &s);
    if (r == -EBUSY) {
        log_errorx("dumpfile %s belongs to drover %d, which is still running: refusing to start "
                   "(two drovers must not fight over one pool)", sup->dumpfile, (int)s.old_drover);
        recover_done(&s);
        return r;
    }
    if (r < 0) {
        log_errorx("recovery failed: %s; starting fresh", strerror(-r));
        recover_done(&s);
        return 0;
    }
    decide_fates(sup, &s);
    recover_stop(&s, &sup->cfg);
    for (size_t i = 0; i < s.n; i++) {
        if (s.v[i].fate == SURVIVOR_ADOPT) {
            adopt(sup, &s.v[i], now);
            adopted++;
        }
    }
    if (adopted)
        log_info("adopted %zu instance%s", adopted, adopted == 1 ? "" : "s");
    recover_done(&s);
    return 0;
}

/* --- set-up --------------------------------------------------------------------------------- */

static bool
env_key_is(const char *entry, const char *key)
{
    size_t n = strlen(key);

    return strncmp(entry, key, n) == 0 && entry[n] == '=';
}

/* drover's environment minus what the program sets itself or drover reserves. */
static int
program_env_base(struct program *prog)
{
    size_t n = 0, k = 0;

    while (environ && environ[n])
        n++;
    prog->env_base = calloc(n + 1, sizeof(char *));
    if (!prog->env_base)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        bool drop = false;
        for (size_t r = 0; r < ARRAY_SIZE(reserved_env) && !drop; r++)
            drop = env_key_is(environ[i], reserved_env[r]);
        for (size_t e = 0; e < prog->cfg->nenv && !drop; e++)
            drop = env_key_is(environ[i], prog->cfg->env[e].key);
        if (!drop)
            prog->env_base[k++] = environ[i];
    }
    prog->nenv_base = k;
    return 0;
}

static int
setup_signals(struct supervisor *sup)
{
    sigset_t mask;

    /* main() blocked these before anything else; read them here. */
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGUSR1);
    sup->sig = (struct loop_source){ .kind = LOOP_SIGNAL };
    sup->sig.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sup->sig.fd < 0)
        return -errno;
    return loop_add(&sup->loop, &sup->sig);
}

/* The absolute path goes into every child's environment, so it must not depend on our cwd. */
static int
setup_dumpfile(struct supervisor *sup)
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
    (void)snprintf(sup->marker_env[0], sizeof(sup->marker_env[0]), "DROVER_DUMPFILE=%s", sup->dumpfile);
    (void)snprintf(sup->marker_env[1], sizeof(sup->marker_env[1]), "DROVER_GENERATION=%s", generation);
    return 0;
}

struct supervisor *
supervisor_new(struct config *cfg, int *ret_err)
{
    struct supervisor *sup = calloc(1, sizeof(*sup));
    int r = -ENOMEM;

    if (!sup)
        goto fail;
    sup->cfg = *cfg;
    *cfg = (struct config){ 0 };
    sup->loop.epfd = -1;
    sup->sig.fd = -1;
    sup->timers.fd = -1;
    sup->ninstances = cfg_total_instances(&sup->cfg);
    sup->nprograms = sup->cfg.nprograms;
    sup->programs = calloc(sup->nprograms, sizeof(*sup->programs));
    if (!sup->programs)
        goto fail;
    for (size_t p = 0; p < sup->nprograms; p++) {
        struct program *prog = &sup->programs[p];

        prog->cfg = &sup->cfg.programs[p];
        prog->ninstances = prog->cfg->instances;
        prog->instances = calloc(prog->ninstances, sizeof(*prog->instances));
        if (!prog->instances || program_env_base(prog) < 0)
            goto fail;
        for (unsigned i = 0; i < prog->ninstances; i++) {
            struct instance *in = &prog->instances[i];

            svc_init(&in->svc, &prog->cfg->policy, &instance_ops);
            in->prog = prog;
            in->sup = sup;
            in->index = i;
            in->child = (struct loop_source){ .kind = LOOP_CHILD, .fd = -1 };
            timer_init(&in->timer, instance_timer_fired);
            (void)snprintf(in->label, sizeof(in->label), "%s:%u", prog->cfg->name, i);
        }
    }
    if ((r = ports_init(&sup->ports, sup->cfg.port_from, sup->cfg.port_to)) < 0)
        goto fail;
    if ((r = pidmap_init(&sup->pids, sup->ninstances)) < 0)
        goto fail;
    if ((r = loop_init(&sup->loop)) < 0)
        goto fail;
    if ((r = timers_init(&sup->timers, sup->ninstances + 8)) < 0)
        goto fail;
    sup->timer_src = (struct loop_source){ .kind = LOOP_TIMER, .fd = sup->timers.fd };
    if ((r = loop_add(&sup->loop, &sup->timer_src)) < 0)
        goto fail;
    if ((r = setup_signals(sup)) < 0)
        goto fail;
    if ((r = spawn_init()) < 0)
        goto fail;
    sup->ckpt_last_ms = -1;
    timer_init(&sup->ckpt_timer, ckpt_timer_fired);
    if (sup->cfg.dumpfile && (r = setup_dumpfile(sup)) < 0)
        goto fail;
    return sup;

fail:
    *ret_err = r;
    supervisor_free(sup);
    return NULL;
}

static void
dispatch(struct supervisor *sup, struct loop_source *src)
{
    if (src->fd < 0)
        return; /* closed earlier in this batch */
    switch (src->kind) {
    case LOOP_SIGNAL:
        signal_ready(sup);
        break;
    case LOOP_TIMER:
        timers_run(&sup->timers, util_now_ms());
        break;
    case LOOP_CHILD:
        child_ready((struct instance *)((char *)src - offsetof(struct instance, child)));
        break;
    case LOOP__MAX:
    case LOOP_INVALID:
        log_errorx("event for a source of unknown kind %d, ignoring", (int)src->kind);
        break;
    }
}

int
supervisor_run(struct supervisor *sup)
{
    enum svc_event start = SVC_EV_START;
    struct loop_source *ready[64];
    int n;

    log_info("drover %d: supervising %zu program%s, %zu instance%s", (int)getpid(), sup->nprograms,
             sup->nprograms == 1 ? "" : "s", sup->ninstances, sup->ninstances == 1 ? "" : "s");
    if (sup->dumpfile) {
        if (recover(sup) < 0)
            return 1;
        /* Record this generation before the first spawn. */
        ckpt_timer_fired(&sup->ckpt_timer, util_now_ms());
    }
    for_each_instance(sup, start_unless_adopted, &start);

    /* From now on, we must not die: failures are logged and retried. */
    while (!sup->done) {
        if (timers_sync(&sup->timers) < 0)
            log_warn("cannot arm the timer, retrying on the next event");
        n = loop_wait(&sup->loop, ready, (int)ARRAY_SIZE(ready));
        if (n < 0) {
            log_warn("epoll_wait failed, retrying");
            continue;
        }
        for (int i = 0; i < n; i++)
            dispatch(sup, ready[i]);
    }
    kill_stray_children();
    reap_all(sup);
    if (sup->dumpfile) {
        int r = ckpt_write(sup);
        if (r < 0)
            log_errorx("cannot write the final dumpfile %s: %s", sup->dumpfile, strerror(-r));
    }
    log_info("all instances stopped, exiting");
    return 0;
}

static void
instance_done(struct instance *in, void *arg)
{
    struct supervisor *sup = arg;

    if (in->pid > 0) {
        /* Freeing an instance kills and reaps its process: nothing is left behind. */
        op_signal_group(&in->svc, SIGKILL);
        (void)waitpid(in->pid, NULL, 0);
        (void)pidmap_del(&sup->pids, in->pid);
        in->pid = 0;
    }
    loop_close(&sup->loop, &in->child);
    svc_done(&in->svc);
    free(in->argv);
}

void
supervisor_free(struct supervisor *sup)
{
    if (!sup)
        return;
    if (sup->programs) {
        for (size_t p = 0; p < sup->nprograms; p++) {
            struct program *prog = &sup->programs[p];
            if (prog->instances)
                for (unsigned i = 0; i < prog->ninstances; i++)
                    instance_done(&prog->instances[i], sup);
            free(prog->instances);
            free(prog->env_base);
        }
        free(sup->programs);
    }
    loop_close(&sup->loop, &sup->sig);
    timers_done(&sup->timers);
    loop_done(&sup->loop);
    pidmap_done(&sup->pids);
    ports_done(&sup->ports);
    cfg_done(&sup->cfg);
    free(sup->dumpfile);
    free(sup);
}

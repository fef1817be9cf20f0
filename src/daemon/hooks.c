/*
 * hooks: running on_state_change and on_fatal, bounded. See hooks.h.
 */
#include "daemon/hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/tmpl.h"
#include "core/utf8.h"
#include "core/util.h"
#include "os/log.h"
#include "os/spawn.h"
#include "daemon/supervisor_int.h"

extern char **environ;

/*
 * Not passed on from drover's own environment: what hooks get from drover
 * (a stale DROVER_FROM of drover's own supervisor must not pass for this
 * event's), and what describes drover to its own supervisor (its
 * NOTIFY_SOCKET: a hook must not speak for drover; the markers another
 * drover finds its survivors by).
 */
static const char *const dropped_env[] = {
    "DROVER_PROGRAM",    "DROVER_INSTANCE",     "DROVER_PID",
    "DROVER_EVENT",      "DROVER_FROM",         "DROVER_TO",
    "DROVER_EXIT_CODE",  "DROVER_SIGNAL",       "DROVER_RESTARTS",
    "DROVER_CAUSE",      "DROVER_PORT",         "DROVER_DUMPFILE",
    "DROVER_GENERATION", "NOTIFY_SOCKET",       "WATCHDOG_USEC",
    "WATCHDOG_PID",      "DROVER_HEARTBEAT_FD", "DROVER_HEARTBEAT_SLOT",
};

/* The variables a hook gets: DROVER_PROGRAM ... DROVER_CAUSE. */
#define HOOK_VARS 10

/* Reads per readiness of a hook's pipe: a chatty hook cannot hold the loop. */
#define READS_PER_PASS 16

/* "hook on_fatal web:0" and the rest of a line about the hook itself. */
#define HOOK_FMT "hook %s %s:%u"
#define HOOK_ARGS(ev) cfg_hook_name((ev)->kind), (ev)->program, (ev)->index

static const char *
event_name(enum cfg_hook kind)
{
    return kind == CFG_HOOK_FATAL ? "fatal" : "state_change";
}

/* --- output ---------------------------------------------------------------------------------- */

/* One line of the hook's output, escaped (it is text from outside), with the hook's name. */
static void
emit_line(struct hook_run *run)
{
    char text[HOOKS_LINE_MAX * 4 + 1];
    size_t len = run->len;

    if (len && run->line[len - 1] == '\r')
        len--;
    (void)utf8_escape(run->line, len, text, sizeof(text), UTF8_ESCAPE_CONTROLS);
    log_info(HOOK_FMT ": %s", HOOK_ARGS(&run->ev), text);
    run->len = 0;
}

static void
take_output(struct hook_run *run, const char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (buf[i] == '\n') {
            emit_line(run);
            continue;
        }
        run->line[run->len++] = buf[i];
        if (run->len == sizeof(run->line))
            emit_line(run); /* a longer line goes out in pieces */
    }
}

/* The pipe is done with (EOF, or the hook is gone): the partial line out, the fd closed. */
static void
close_output(struct hook_run *run)
{
    if (run->len)
        emit_line(run);
    if (run->out.fd >= 0)
        loop_close(run->owner->loop, &run->out);
}

/*
 * Reads what the pipe holds, at most READS_PER_PASS times (a chatty hook
 * cannot hold the loop; the rest waits for the next pass). At EOF (the hook
 * and whatever it started closed it) or an error, the pipe is closed.
 */
static void
read_output(struct hook_run *run)
{
    char buf[4096];

    for (int i = 0; i < READS_PER_PASS && run->out.fd >= 0; i++) {
        ssize_t n = read(run->out.fd, buf, sizeof(buf));

        if (n > 0) {
            take_output(run, buf, (size_t)n);
            continue;
        }
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            return; /* still readable (EINTR) or not yet: the loop says when */
        if (n < 0)
            log_warn(HOOK_FMT ": cannot read its output", HOOK_ARGS(&run->ev));
        close_output(run);
    }
}

static void
output_ready(struct loop_source *src, uint32_t events)
{
    (void)events;
    read_output(container_of(src, struct hook_run, out));
}

/* --- running one ----------------------------------------------------------------------------- */

static bool
env_key_in_list(const char *entry)
{
    for (size_t i = 0; i < ARRAY_SIZE(dropped_env); i++) {
        size_t n = strlen(dropped_env[i]);
        if (strncmp(entry, dropped_env[i], n) == 0 && entry[n] == '=')
            return true;
    }
    return false;
}

/* The hook's environment: env_base, then the event's variables, formatted into vars. */
struct hook_env {
    char **envp;
    size_t n;
    char vars[HOOK_VARS][HOOKS_CAUSE_MAX + 32];
    size_t nvars;
};

static void add_var(struct hook_env *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
add_var(struct hook_env *e, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(e->vars[e->nvars], sizeof(e->vars[0]), fmt, ap);
    va_end(ap);
    e->envp[e->n++] = e->vars[e->nvars++];
}

static int
build_env(const struct hooks *h, const struct hook_event *ev, struct hook_env *e)
{
    e->envp = calloc(h->nenv_base + HOOK_VARS + 1, sizeof(char *));
    if (!e->envp)
        return -ENOMEM;
    memcpy(e->envp, h->env_base, h->nenv_base * sizeof(char *));
    e->n = h->nenv_base;
    add_var(e, "DROVER_PROGRAM=%s", ev->program);
    add_var(e, "DROVER_INSTANCE=%u", ev->index);
    if (ev->pid)
        add_var(e, "DROVER_PID=%d", (int)ev->pid);
    else
        add_var(e, "DROVER_PID=");
    add_var(e, "DROVER_EVENT=%s", event_name(ev->kind));
    add_var(e, "DROVER_FROM=%s", svc_state_name(ev->from));
    add_var(e, "DROVER_TO=%s", svc_state_name(ev->to));
    if (ev->has_exit && ev->last_exit.signaled)
        add_var(e, "DROVER_SIGNAL=%s", util_signal_name(ev->last_exit.value));
    else if (ev->has_exit)
        add_var(e, "DROVER_EXIT_CODE=%d", ev->last_exit.value);
    add_var(e, "DROVER_RESTARTS=%u", ev->restarts);
    add_var(e, "DROVER_CAUSE=%s", ev->cause);
    return 0;
}

/*
 * ev's command in the configuration in force now: NULL when a reload took
 * the hook away, or its program has left the pool.
 */
static const struct cfg_command *
command_of(const struct hooks *h, const struct hook_event *ev)
{
    const struct program *prog = pool_find_program(h->pool, ev->program, strlen(ev->program));

    return prog ? cfg_hook(h->cfg, prog->cfg, ev->kind) : NULL;
}

/*
 * Starts ev's command in the free slot run. Returns 0, or -errno with the
 * failure logged and counted (the slot stays free).
 */
static int
start_run(struct hooks *h, struct hook_run *run, const struct hook_event *ev)
{
    const struct cfg_command *cmd = command_of(h, ev);
    struct tmpl_vars vars = { .name = ev->program, .instance = ev->index, .port = ev->port };
    char *argv[CFG_MAX_ARGS + 1] = { 0 }, *owned[CFG_MAX_ARGS] = { 0 };
    struct hook_env env = { 0 };
    struct spawn_result res;
    enum spawn_step step = SPAWN_STEP_NONE;
    char path[PATH_MAX];
    int fds[2] = { -1, -1 };
    const char *what = "prepare";
    int r = 0;

    if (!cmd) {
        log_info(HOOK_FMT ": not run: the configuration in force has no such hook any more",
                 HOOK_ARGS(ev));
        return 0;
    }
    for (size_t i = 0; i < cmd->argc && r == 0; i++) {
        bool oom;
        owned[i] = tmpl_expand(cmd->argv[i], &vars, &oom);
        if (oom)
            r = -ENOMEM;
        argv[i] = owned[i] ? owned[i] : cmd->argv[i];
    }
    if (r == 0)
        r = build_env(h, ev, &env);
    if (r == 0 && (r = spawn_resolve(argv[0], NULL, path, sizeof(path))) < 0)
        what = "find";
    if (r == 0 && (pipe2(fds, O_CLOEXEC) < 0 || fcntl(fds[0], F_SETFL, O_NONBLOCK) < 0)) {
        r = -errno;
        what = "make the output pipe of";
    }
    if (r == 0) {
        r = spawn_process(&(struct spawn_req){ .path = path,
                                               .argv = argv,
                                               .envp = env.envp,
                                               .stdin_fd = -1,
                                               .stdout_fd = fds[1],
                                               .stderr_fd = fds[1],
                                               .keep_fd = -1 },
                          &res, &step);
        what = step == SPAWN_STEP_EXEC ? "execute" : "start";
    }
    if (fds[1] >= 0)
        (void)close(fds[1]); /* the hook has it: EOF once it (and what it started) is done */
    if (r < 0) {
        if (fds[0] >= 0)
            (void)close(fds[0]);
        h->failed++;
        log_warnx(HOOK_FMT ": failed: cannot %s \"%s\": %s", HOOK_ARGS(ev), what, argv[0],
                  strerror(-r));
    }
    for (size_t i = 0; i < cmd->argc; i++)
        free(owned[i]);
    free(env.envp);
    if (r < 0)
        return r;
    (void)close(res.pidfd); /* its exit comes through the SIGCHLD sweep, as a probe's does */
    run->ev = *ev;
    run->pid = res.pid;
    run->timed_out = false;
    run->len = 0;
    run->started_ms = util_now_ms();
    run->out = loop_source(fds[0], output_ready, LOOP_PRIO_SUPERVISE);
    if (loop_add(h->loop, &run->out) < 0) {
        log_warn(HOOK_FMT " pid=%d: cannot watch its output, discarding it", HOOK_ARGS(ev),
                 (int)run->pid);
        (void)close(fds[0]);
        run->out.fd = -1;
    }
    /* The heap has room for HOOKS_MAX_RUNNING of them: supervisor_new() sizes it so. */
    (void)timer_arm(h->timers, &run->timer, run->started_ms + ev->timeout_ms);
    h->nrunning++;
    h->started++;
    log_debug(HOOK_FMT " pid=%d: started (%s -> %s)", HOOK_ARGS(ev), (int)run->pid,
              svc_state_name(ev->from), svc_state_name(ev->to));
    return 0;
}

static struct hook_run *
free_slot(struct hooks *h)
{
    for (size_t i = 0; i < HOOKS_MAX_RUNNING; i++)
        if (h->runs[i].pid == 0)
            return &h->runs[i];
    return NULL;
}

/* Starts queued hooks, oldest first, while a slot is free. */
static void
pump(struct hooks *h)
{
    struct hook_run *run;

    while (!h->closed && h->nqueued > 0 && (run = free_slot(h))) {
        struct hook_event ev = h->queue[h->head];

        h->head = (h->head + 1) % HOOKS_QUEUE_MAX;
        h->nqueued--;
        (void)start_run(h, run, &ev);
    }
}

/* --- the queue ------------------------------------------------------------------------------- */

/* In a storm one line per HOOKS_DROP_LOG_MS, with what it left unsaid; force: now. */
static void
say_drops(struct hooks *h, const struct hook_event *ev, bool force)
{
    int64_t now = util_now_ms();

    if (!h->drops_unsaid || (!force && h->drop_said && now - h->drop_said_ms < HOOKS_DROP_LOG_MS))
        return;
    if (ev)
        log_warnx(HOOK_FMT ": not run, %d hooks wait already (the most); %llu dropped since the "
                           "last line like this (not logged one by one)",
                  HOOK_ARGS(ev), HOOKS_QUEUE_MAX, (unsigned long long)h->drops_unsaid);
    else
        log_warnx("hooks: %llu dropped since the last line about it, the queue being full",
                  (unsigned long long)h->drops_unsaid);
    h->drops_unsaid = 0;
    h->drop_said = true;
    h->drop_said_ms = now;
}

static void
submit(struct hooks *h, const struct hook_event *ev)
{
    struct hook_run *run;

    if (h->nqueued == 0 && (run = free_slot(h))) {
        (void)start_run(h, run, ev);
        return;
    }
    if (h->nqueued == HOOKS_QUEUE_MAX) {
        h->dropped++;
        h->drops_unsaid++;
        say_drops(h, ev, false);
        return;
    }
    h->queue[(h->head + h->nqueued) % HOOKS_QUEUE_MAX] = *ev;
    h->nqueued++;
}

/* What the hook's environment will say, taken now: the instance moves on. */
static void
capture(const struct instance *in, enum cfg_hook kind, struct hook_event *ev)
{
    const struct svc *s = &in->svc;

    *ev = (struct hook_event){
        .kind = kind,
        .timeout_ms = cfg_hook_timeout_ms(in->sup->hooks.cfg, in->prog->cfg),
        .index = in->index,
        .port = in->port,
        .pid = in->pid ? in->pid : in->last_pid,
        .from = in->state_from,
        .to = s->state,
        .has_exit = s->has_exit && s->last_exit.known,
        .last_exit = s->last_exit,
        .restarts = s->restarts,
    };
    (void)snprintf(ev->program, sizeof(ev->program), "%s", in->prog->cfg->name);
    (void)snprintf(ev->cause, sizeof(ev->cause), "%s", s->cause ? s->cause : "");
}

void
hooks_observer(struct instance *in, enum pool_change what)
{
    struct hooks *h = &in->sup->hooks;
    struct hook_event ev;

    if (!h->any || h->closed)
        return;
    if (what == POOL_GONE) {
        in->last_pid = in->pid; /* DROVER_PID of the changes that follow the reap */
        return;
    }
    if (what != POOL_STATE)
        return;
    if (cfg_hook(h->cfg, in->prog->cfg, CFG_HOOK_STATE_CHANGE)) {
        capture(in, CFG_HOOK_STATE_CHANGE, &ev);
        submit(h, &ev);
    }
    if (in->svc.state == SVC_FATAL && in->state_from != SVC_FATAL &&
        cfg_hook(h->cfg, in->prog->cfg, CFG_HOOK_FATAL)) {
        capture(in, CFG_HOOK_FATAL, &ev);
        submit(h, &ev);
    }
}

/* --- the end of one -------------------------------------------------------------------------- */

static void
timeout_fired(struct timer *t, int64_t now_ms)
{
    struct hook_run *run = container_of(t, struct hook_run, timer);
    struct hooks *h = run->owner;
    char after[32];

    /* Not reaped yet, so its group (it called setsid) cannot be anybody else's. */
    if (kill(-run->pid, SIGKILL) < 0 && errno != ESRCH)
        log_warn(HOOK_FMT " pid=%d: cannot kill its process group", HOOK_ARGS(&run->ev),
                 (int)run->pid);
    run->timed_out = true;
    h->timed_out++;
    h->failed++;
    log_warnx(HOOK_FMT " pid=%d: still running after %s (hook_timeout): killed with its process "
                       "group",
              HOOK_ARGS(&run->ev), (int)run->pid,
              util_format_duration(after, sizeof(after), now_ms - run->started_ms));
}

/* The hook's process was reaped (code, status as in siginfo_t): its output, its verdict. */
static void
finish(struct hooks *h, struct hook_run *run, int code, int status)
{
    bool signaled = code == CLD_KILLED || code == CLD_DUMPED;
    char ran[32];

    timer_cancel(h->timers, &run->timer);
    read_output(run); /* what it wrote before it ended; a descendant may keep the pipe open */
    close_output(run);
    util_format_duration(ran, sizeof(ran), util_now_ms() - run->started_ms);
    if (run->timed_out) {
        log_debug(HOOK_FMT " pid=%d: reaped after its timeout", HOOK_ARGS(&run->ev), (int)run->pid);
    } else if (!signaled && status == 0) {
        log_debug(HOOK_FMT " pid=%d: exited with code 0 after %s", HOOK_ARGS(&run->ev),
                  (int)run->pid, ran);
    } else {
        h->failed++;
        if (signaled)
            log_warnx(HOOK_FMT " pid=%d: failed: killed by signal %s after %s", HOOK_ARGS(&run->ev),
                      (int)run->pid, util_signal_name(status), ran);
        else
            log_warnx(HOOK_FMT " pid=%d: failed: exited with code %d after %s", HOOK_ARGS(&run->ev),
                      (int)run->pid, status, ran);
    }
    run->pid = 0;
    h->nrunning--;
}

bool
hooks_reaped(struct hooks *h, const siginfo_t *info)
{
    for (size_t i = 0; h->any && i < HOOKS_MAX_RUNNING; i++) {
        struct hook_run *run = &h->runs[i];

        if (run->pid && run->pid == info->si_pid) {
            finish(h, run, info->si_code, info->si_status);
            pump(h);
            return true;
        }
    }
    return false;
}

bool
hooks_busy(const struct hooks *h)
{
    return h->nrunning > 0;
}

void
hooks_close(struct hooks *h)
{
    if (!h->any || h->closed)
        return;
    h->closed = true;
    if (h->nqueued) {
        log_warnx("hooks: %zu queued not run: drover is exiting", h->nqueued);
        h->dropped += h->nqueued;
        h->nqueued = 0;
    }
    say_drops(h, NULL, true);
}

/* SIGKILL to a running hook's group, said once; its exit is then counted and not said again. */
static void
kill_run(struct hooks *h, struct hook_run *run)
{
    if (!run->timed_out) {
        log_warnx(HOOK_FMT " pid=%d: still running as drover exits: killed with its process "
                           "group",
                  HOOK_ARGS(&run->ev), (int)run->pid);
        h->failed++;
    }
    (void)kill(-run->pid, SIGKILL);
    run->timed_out = true; /* said: finish() adds no line of its own */
}

void
hooks_kill(struct hooks *h)
{
    if (!h->any)
        return;
    hooks_close(h);
    for (size_t i = 0; i < HOOKS_MAX_RUNNING; i++)
        if (h->runs[i].pid)
            kill_run(h, &h->runs[i]);
}

void
hooks_stop(struct hooks *h)
{
    if (!h->any)
        return;
    hooks_close(h);
    for (size_t i = 0; i < HOOKS_MAX_RUNNING; i++) {
        struct hook_run *run = &h->runs[i];
        siginfo_t info = { 0 };

        if (!run->pid)
            continue;
        kill_run(h, run);
        /* SIGKILLed, and SIGCHLD is blocked (read from the signalfd): a short wait, no EINTR.
           Only here, as drover exits after its loop: inside it, hooks_kill() waits for nothing. */
        while (waitid(P_PID, (id_t)run->pid, &info, WEXITED) < 0 && errno == EINTR)
            ;
        finish(h, run, info.si_code, info.si_status);
    }
}

/* --- set-up ---------------------------------------------------------------------------------- */

/* Some program of the configuration in force has a hook. */
static bool
configured(const struct config *cfg)
{
    for (size_t p = 0; p < cfg->nprograms; p++)
        for (int k = 0; k < CFG_HOOK__MAX; k++)
            if (cfg_hook(cfg, &cfg->programs[p], (enum cfg_hook)k))
                return true;
    return false;
}

/* The queue and the environment, once some program has a hook. Returns 0 or -ENOMEM. */
static int
enable(struct hooks *h)
{
    size_t n = 0;

    if (h->queue)
        return 0;
    while (environ && environ[n])
        n++;
    h->queue = calloc(HOOKS_QUEUE_MAX, sizeof(*h->queue));
    h->env_base = calloc(n + 1, sizeof(char *));
    if (!h->queue || !h->env_base) {
        free(h->queue);
        free(h->env_base);
        h->queue = NULL;
        h->env_base = NULL;
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        if (!env_key_in_list(environ[i]))
            h->env_base[h->nenv_base++] = environ[i];
    return 0;
}

int
hooks_init(struct hooks *h, const struct config *cfg, struct pool *pool, struct loop *loop,
           struct timers *timers)
{
    *h = (struct hooks){ .cfg = cfg, .pool = pool, .loop = loop, .timers = timers };
    for (size_t i = 0; i < HOOKS_MAX_RUNNING; i++) {
        h->runs[i].owner = h;
        h->runs[i].out = loop_source(-1, output_ready, LOOP_PRIO_SUPERVISE);
        timer_init(&h->runs[i].timer, timeout_fired);
    }
    if (!configured(cfg))
        return 0; /* nothing to run: nothing allocated, and the observer returns at once */
    if (enable(h) < 0)
        return -ENOMEM;
    h->any = true;
    return 0;
}

void
hooks_reconfigured(struct hooks *h)
{
    if (!configured(h->cfg))
        return; /* those queued or running go on; new changes find no hook (the observer) */
    if (enable(h) < 0) {
        log_warnx("hooks: out of memory: the hooks of the new configuration will not run");
        return;
    }
    h->any = true;
}

void
hooks_done(struct hooks *h)
{
    hooks_stop(h);
    free(h->queue);
    free(h->env_base);
    h->queue = NULL;
    h->env_base = NULL;
    h->any = false;
}

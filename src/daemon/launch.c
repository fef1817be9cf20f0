/*
 * launch: from "start this instance" to a running process: take a port,
 * expand the templates, build argv and the environment, open the stdio
 * files, resolve the program and spawn it; then register its pidfd.
 * Failures are logged here with the reason and classified for the state
 * machine (retry later or fatal).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/tmpl.h"
#include "core/util.h"
#include "os/identity.h"
#include "os/spawn.h"
#include "daemon/supervisor_int.h"
#include "daemon/launch.h"
#include "daemon/capture.h"

extern char **environ;

/* Variables drover sets for its children, or that describe drover's own supervisor. */
static const char *const reserved_env[] = {
    "DROVER_PROGRAM",        "DROVER_INSTANCE",         "DROVER_PORT",   "DROVER_DUMPFILE",
    "DROVER_GENERATION",     "NOTIFY_SOCKET",           "WATCHDOG_USEC", "WATCHDOG_PID",
    DROVER_ENV_HEARTBEAT_FD, DROVER_ENV_HEARTBEAT_SLOT,
};

static const char *
stdio_kind(const struct instance *in, const char *tmpl, bool for_input)
{
    return for_input ? "input" : tmpl == in->prog->cfg->output ? "output" : "error";
}

/*
 * As the program's user when it has one (os/identity.h): the user may open
 * only what it could open itself, and a file created belongs to it. -1 with
 * errno, as open().
 */
static int
open_as(const struct program_cfg *pc, const char *path, bool for_input)
{
    struct identity_fs fs;
    int fd, r = identity_fs_enter(&pc->identity, &fs);

    if (r < 0) {
        errno = -r; /* never as drover instead */
        return -1;
    }
    fd = for_input ? open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
                   : open(path, O_WRONLY | O_CREAT | O_APPEND | O_NONBLOCK | O_CLOEXEC | O_NOCTTY,
                          cfg_file_mode(pc));
    identity_fs_leave(&fs);
    return fd;
}

/*
 * Opens one of the child's stdio files. O_NONBLOCK, because the loop must
 * never wait in open(): a FIFO for output with no reader fails at once with
 * ENXIO (-EAGAIN here: the spawn is retried after a backoff, and the line
 * that says so is logged once per streak), one for input opens with no
 * writer. The flag is cleared again before the child gets the fd, so the
 * child's own reads and writes block as they always did.
 */
static int
open_stdio(struct instance *in, const char *tmpl, const struct tmpl_vars *vars, const char *cwd,
           bool for_input, int *ret_fd)
{
    char joined[PATH_MAX];
    const char *path;
    bool oom;
    char *expanded = tmpl_expand(tmpl, vars, &oom);
    struct stat st;
    int fd, fl, r;

    if (oom)
        return -ENOMEM;
    path = expanded ? expanded : tmpl;
    if (cwd && path[0] != '/') {
        if (snprintf(joined, sizeof(joined), "%s/%s", cwd, path) >= (int)sizeof(joined)) {
            r = -ENAMETOOLONG;
            inst_log(LOG_LVL_ERROR, in, "cannot open %s file \"%s\" in \"%s\": %s",
                     stdio_kind(in, tmpl, for_input), path, cwd, strerror(-r));
            goto done;
        }
        path = joined;
    }
    fd = open_as(in->prog->cfg, path, for_input);
    r = fd < 0 ? -errno : 0;
    if (r == -ENXIO && stat(path, &st) == 0 && S_ISFIFO(st.st_mode)) {
        if (!in->stdio_waiting)
            inst_log(LOG_LVL_WARN, in, "%s file \"%s\" is a FIFO with no reader; retrying",
                     stdio_kind(in, tmpl, for_input), path);
        else
            log_debug("%s: %s file \"%s\" still has no reader", in->label,
                      stdio_kind(in, tmpl, for_input), path);
        in->stdio_waiting = true;
        r = -EAGAIN;
        goto done;
    }
    if (r < 0) {
        inst_log(LOG_LVL_ERROR, in, "cannot open %s file \"%s\": %s%s",
                 stdio_kind(in, tmpl, for_input), path,
                 r == -ENXIO && stat(path, &st) == 0 && S_ISSOCK(st.st_mode)
                     ? "it is a socket, which cannot be opened as a file"
                     : strerror(-r),
                 identity_fs_note(&in->prog->cfg->identity, -r));
        goto done;
    }
    if ((fl = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
        r = -errno;
        inst_log(LOG_LVL_ERROR, in, "cannot make %s file \"%s\" blocking again: %s",
                 stdio_kind(in, tmpl, for_input), path, strerror(-r));
        (void)close(fd);
        goto done;
    }
    *ret_fd = fd;
done:
    free(expanded);
    return r;
}

/* Captured output/error (capture.c): the child's ends of its FIFOs, in fds[1] and fds[2]. */
static int
open_captured(struct instance *in, const struct tmpl_vars *vars, int fds[3])
{
    const struct program_cfg *pc = in->prog->cfg;
    int r;

    for (int k = 0; k < CFG_STREAM__MAX; k++)
        if (pc->capture[k].mode != CFG_CAPTURE_NONE &&
            (r = capture_child_fd(in, (enum cfg_stream)k, vars, &fds[1 + k])) < 0)
            return r == -ENOMEM ? r : -EIO; /* logged; -EIO: failed, not "no reader yet" */
    return 0;
}

struct spawn_buffers {
    char **argv;
    char **envp;
    char *cwd;
    char *owned[CFG_MAX_ARGS + CFG_MAX_ENV + 8]; /* expanded strings to free */
    size_t nowned;
    char drover_env[6][64];
    char watchdog_pid[32]; /* "WATCHDOG_PID=" + the child's pid */
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
    b->envp = calloc(prog->nenv_base + 10 + 5 + pc->nenv + 1, sizeof(char *));
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
    if (in->sup->notify.fd >= 0)
        b->envp[n++] = in->sup->notify_env;
    if (prog->hb.fd >= 0) {
        (void)snprintf(b->drover_env[3], sizeof(b->drover_env[3]), DROVER_ENV_HEARTBEAT_FD "=%d",
                       prog->hb.fd);
        (void)snprintf(b->drover_env[4], sizeof(b->drover_env[4]), DROVER_ENV_HEARTBEAT_SLOT "=%u",
                       in->index);
        b->envp[n++] = b->drover_env[3];
        b->envp[n++] = b->drover_env[4];
    }
    if (pc->heartbeat_timeout_ms) {
        /* systemd's watchdog variables, so sd_watchdog_enabled() workers beat on their own. */
        (void)snprintf(b->drover_env[5], sizeof(b->drover_env[5]), "WATCHDOG_USEC=%lld",
                       (long long)pc->heartbeat_timeout_ms * 1000);
        b->envp[n++] = b->drover_env[5];
        (void)snprintf(b->watchdog_pid, sizeof(b->watchdog_pid), "WATCHDOG_PID=");
        b->envp[n++] = b->watchdog_pid; /* the digits are written by the child */
    }
    if (in->sup->dumpfile) {
        /* The marker a later drover finds this process by, even if no checkpoint named it. */
        b->envp[n++] = in->sup->marker_env[0];
        b->envp[n++] = in->sup->marker_env[1];
    }
    jobs_spawn_env(in, b->envp, &n); /* DROVER_JOBS_*: a new token for this process */
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
    return open_captured(in, vars, b->fds);
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

enum svc_spawn_result
launch_instance(struct instance *in)
{
    struct supervisor *sup = in->sup;
    const struct program_cfg *pc = in->prog->cfg;
    struct spawn_buffers b = { .fds = { -1, -1, -1 } };
    struct spawn_result res;
    enum spawn_step step;
    char path[PATH_MAX];
    int r;

    if (pc->uses_port) {
        if (ports_take(&sup->ports, &in->port) < 0) {
            inst_log(LOG_LVL_WARN, in, "no free port in %u-%u (all %u in use)", sup->ports.from,
                     sup->ports.to, ports_size(&sup->ports));
            return SVC_SPAWN_RETRY;
        }
    }
    struct tmpl_vars vars = { .name = pc->name, .instance = in->index, .port = in->port };

    r = build_spawn(in, &vars, &b);
    if (r == -ENOMEM) {
        inst_log(LOG_LVL_ERROR, in, "out of memory preparing the command");
        goto retry;
    }
    if (r == -EAGAIN)
        goto retry; /* an output FIFO without a reader: open_stdio logged it */
    if (r < 0)
        goto failed; /* open_stdio logged which file */
    if (in->stdio_waiting) {
        in->stdio_waiting = false;
        inst_log(LOG_LVL_INFO, in, "the FIFO it writes to has a reader now");
    }
    if (in->prog->hb.slots)
        heartbeat_slot_reset(&in->prog->hb, in->index); /* before the child can beat */
    r = spawn_resolve(b.argv[0], b.cwd, path, sizeof(path));
    if (r < 0) {
        inst_log(LOG_LVL_ERROR, in, "cannot find \"%s\" in PATH: %s", b.argv[0], strerror(-r));
        goto failed;
    }
    struct spawn_rlimit limits[CFG_MAX_RLIMITS];
    for (size_t k = 0; k < pc->nrlimits; k++) {
        rlim_t v = pc->rlimits[k].value == CFG_RLIM_UNLIMITED ? RLIM_INFINITY
                                                              : (rlim_t)pc->rlimits[k].value;
        limits[k] = (struct spawn_rlimit){ .resource = pc->rlimits[k].resource,
                                           .lim = { .rlim_cur = v, .rlim_max = v } };
    }
    int64_t spawn_start_ns = util_now_ns();
    r = spawn_process(
        &(struct spawn_req){
            .path = path,
            .argv = b.argv,
            .envp = b.envp,
            .cwd = b.cwd,
            .stdin_fd = b.fds[0],
            .stdout_fd = b.fds[1],
            .stderr_fd = b.fds[2],
            .keep_fd = in->prog->hb.fd,
            .pid_env = pc->heartbeat_timeout_ms ? b.watchdog_pid + strlen("WATCHDOG_PID=") : NULL,
            .rlimits = limits,
            .nrlimits = pc->nrlimits,
            .umask_given = pc->umask_given,
            .umask = pc->umask,
            .nice_given = pc->nice_given,
            .nice = pc->nice,
            .identity = &pc->identity,
        },
        &res, &step);
    if (r < 0) {
        if (step == SPAWN_STEP_NONE && r != -EAGAIN) {
            /* Out of descriptors, every instance's every retry would say so: once per streak. */
            bool fds = r == -EMFILE || r == -ENFILE;
            if (!fds || sup->spawn_fd_failures++ == 0)
                inst_log(LOG_LVL_ERROR, in, "cannot create a process: %s%s", strerror(-r),
                         fds ? " (retrying; not logged again until a spawn succeeds)" : "");
            goto retry;
        }
        /*
         * Out of processes: clone(2) refused (the pid or thread limit), or
         * execve(2) did (the user's RLIMIT_NPROC, checked once the child is
         * that user). It clears when processes end: retried after a backoff,
         * said once per streak.
         */
        if (r == -EAGAIN && (step == SPAWN_STEP_NONE || step == SPAWN_STEP_EXEC)) {
            if (in->proc_refusals++ == 0) /* its user's limit, or the system's: per instance */
                inst_log(LOG_LVL_ERROR, in,
                         "cannot %s: %s (a process limit: the system's, or the user's "
                         "RLIMIT_NPROC; retrying; not logged again until a spawn succeeds)",
                         step == SPAWN_STEP_EXEC ? "execute it" : "create a process", strerror(-r));
            else
                log_debug("%s: spawn refused again for lack of processes (attempt %u)", in->label,
                          in->proc_refusals);
            goto retry;
        }
        if (step == SPAWN_STEP_CHDIR)
            inst_log(LOG_LVL_ERROR, in, "cannot enter directory \"%s\": %s", b.cwd, strerror(-r));
        else if (step == SPAWN_STEP_RLIMIT)
            inst_log(LOG_LVL_ERROR, in, "cannot set its rlimits: %s", strerror(-r));
        else if (step == SPAWN_STEP_IDENTITY)
            inst_log(LOG_LVL_ERROR, in, "cannot switch to uid %u gid %u: %s",
                     (unsigned)pc->identity.uid, (unsigned)pc->identity.gid, strerror(-r));
        else if (step == SPAWN_STEP_NICE)
            inst_log(LOG_LVL_ERROR, in, "cannot set its nice value to %d: %s", pc->nice,
                     strerror(-r));
        else
            inst_log(LOG_LVL_ERROR, in, "cannot %s \"%s\": %s",
                     step == SPAWN_STEP_EXEC ? "execute" : "set up", path, strerror(-r));
        goto failed;
    }
    metrics_observe(&sup->spawn_hist, (double)(util_now_ns() - spawn_start_ns) / 1e9);
    free(in->argv);
    in->argv =
        in->sup->dumpfile ? argv_copy(b.argv) : NULL; /* NULL on OOM: the checkpoint says [] */
    buffers_done(&b);
    in->adopted = false;
    in->group_foreign = false;
    in->start_time = 0;
    in->pid = res.pid;
    in->pgid = res.pid; /* the child called setsid() */
    in->child.fd = res.pidfd;
    in->spawned_ms = util_now_ms();
    if (loop_add(&sup->loop, &in->child) < 0)
        log_warn("%s: cannot watch pidfd, relying on SIGCHLD", in->label);
    if (pidmap_put(&sup->pids, in->pid, in) < 0)
        log_warnx("%s: pid map full, exit of pid %d found through its pidfd only", in->label,
                  (int)in->pid);
    inst_log(LOG_LVL_INFO, in, "spawned");
    if (sup->spawn_fd_failures) {
        log_info("spawning works again, after %llu attempts that found no free descriptor",
                 (unsigned long long)sup->spawn_fd_failures);
        sup->spawn_fd_failures = 0;
    }
    if (in->proc_refusals) {
        inst_log(LOG_LVL_INFO, in, "spawned, after %u attempts refused for lack of processes",
                 in->proc_refusals);
        in->proc_refusals = 0;
    }
    pool_notify(in, POOL_SPAWNED); /* observers hear of it once the new state is stored */
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

static bool
env_key_is(const char *entry, const char *key)
{
    size_t n = strlen(key);

    return strncmp(entry, key, n) == 0 && entry[n] == '=';
}

/* drover's environment minus what the program sets itself or drover reserves. */
int
launch_env_base(struct program *prog)
{
    const struct cfg_identity *id = &prog->cfg->identity;
    size_t n = 0, k = 0;

    while (environ && environ[n])
        n++;
    prog->env_base = calloc(n + CFG_ENV__MAX + 1, sizeof(char *));
    if (!prog->env_base)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        bool drop = false;
        for (size_t r = 0; r < ARRAY_SIZE(reserved_env) && !drop; r++)
            drop = env_key_is(environ[i], reserved_env[r]);
        for (size_t r = 0; jobs_reserved_env[r] && !drop; r++)
            drop = env_key_is(environ[i], jobs_reserved_env[r]);
        for (size_t e = 0; e < prog->cfg->nenv && !drop; e++)
            drop = env_key_is(environ[i], prog->cfg->env[e].key);
        /* A child that runs as `user` has that user's HOME, USER and LOGNAME, not drover's. */
        for (int v = 0; v < CFG_ENV__MAX && !drop; v++)
            drop = id->env[v] && env_key_is(environ[i], cfg_identity_env_names[v]);
        if (!drop)
            prog->env_base[k++] = environ[i];
    }
    for (int v = 0; v < CFG_ENV__MAX; v++) {
        bool own = false; /* the program's `env` names it: that value wins */
        for (size_t e = 0; e < prog->cfg->nenv && id->env[v] && !own; e++)
            own = strcmp(cfg_identity_env_names[v], prog->cfg->env[e].key) == 0;
        if (id->env[v] && !own)
            prog->env_base[k++] = id->env[v];
    }
    prog->nenv_base = k;
    return 0;
}

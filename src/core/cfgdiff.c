/*
 * cfgdiff: key-by-key comparison of configurations. See cfgdiff.h.
 */
#include "core/cfgdiff.h"

#include <stdio.h>
#include <string.h>

#include "core/util.h"

static bool
str_same(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static bool
argv_same(char *const *a, size_t na, char *const *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (!str_same(a[i], b[i]))
            return false;
    return true;
}

static bool
probe_same(const struct probe_cfg *a, const struct probe_cfg *b)
{
    return a->kind == b->kind && str_same(a->target, b->target) &&
           argv_same(a->argv, a->argc, b->argv, b->argc) && a->interval_ms == b->interval_ms &&
           a->timeout_ms == b->timeout_ms && a->failures == b->failures &&
           a->start_period_ms == b->start_period_ms && a->idle_only == b->idle_only;
}

/* An effect if the fields differ, else CFGDIFF_SAME. */
#define DIFFERS(cond, effect) ((cond) ? (effect) : CFGDIFF_SAME)

typedef enum cfgdiff_effect (*program_cmp)(const struct program_cfg *a,
                                           const struct program_cfg *b);

static enum cfgdiff_effect
cmp_command(const struct program_cfg *a, const struct program_cfg *b)
{
    return DIFFERS(!argv_same(a->argv, a->argc, b->argv, b->argc), CFGDIFF_RESTART);
}

static enum cfgdiff_effect
cmp_input(const struct program_cfg *a, const struct program_cfg *b)
{
    return DIFFERS(!str_same(a->input, b->input), CFGDIFF_RESTART);
}

static bool
capture_same(const struct cfg_capture *a, const struct cfg_capture *b)
{
    return a->mode == b->mode && str_same(a->file, b->file) && a->max_size == b->max_size &&
           a->backups == b->backups && a->tail_lines == b->tail_lines;
}

/*
 * A path is the child's own fd and a capture is a FIFO the child holds: only a
 * new process has the new one, and a capture's file is opened at each spawn.
 */
static enum cfgdiff_effect
cmp_output(const struct program_cfg *a, const struct program_cfg *b)
{
    return DIFFERS(!str_same(a->output, b->output) ||
                       !capture_same(&a->capture[CFG_STREAM_OUT], &b->capture[CFG_STREAM_OUT]),
                   CFGDIFF_RESTART);
}

static enum cfgdiff_effect
cmp_error(const struct program_cfg *a, const struct program_cfg *b)
{
    return DIFFERS(!str_same(a->error, b->error) ||
                       !capture_same(&a->capture[CFG_STREAM_ERR], &b->capture[CFG_STREAM_ERR]),
                   CFGDIFF_RESTART);
}

/* The identity of a program: plan.c matches by it, a new name is a removal and an addition. */
static enum cfgdiff_effect
cmp_name(const struct program_cfg *a, const struct program_cfg *b)
{
    return DIFFERS(!str_same(a->name, b->name), CFGDIFF_REPLACE);
}

static enum cfgdiff_effect
cmp_instances(const struct program_cfg *a, const struct program_cfg *b)
{
    return DIFFERS(a->instances != b->instances, CFGDIFF_SCALE);
}

static enum cfgdiff_effect
cmp_env(const struct program_cfg *a, const struct program_cfg *b)
{
    if (a->nenv != b->nenv)
        return CFGDIFF_RESTART;
    for (size_t i = 0; i < a->nenv; i++)
        if (!str_same(a->env[i].key, b->env[i].key) || !str_same(a->env[i].value, b->env[i].value))
            return CFGDIFF_RESTART;
    return CFGDIFF_SAME;
}

static enum cfgdiff_effect
cmp_cwd(const struct program_cfg *a, const struct program_cfg *b)
{
    return DIFFERS(!str_same(a->cwd, b->cwd), CFGDIFF_RESTART);
}

/* Policy keys are drover's decisions about a process, read when they are taken: live. */
static enum cfgdiff_effect
cmp_restart(const struct program_cfg *a, const struct program_cfg *b)
{
    return DIFFERS(a->policy.restart != b->policy.restart, CFGDIFF_LIVE);
}

static enum cfgdiff_effect
cmp_stop_signal(const struct program_cfg *a, const struct program_cfg *b)
{
    return DIFFERS(a->policy.stop_signal != b->policy.stop_signal, CFGDIFF_LIVE);
}

static enum cfgdiff_effect
cmp_stop_timeout(const struct program_cfg *a, const struct program_cfg *b)
{
    return DIFFERS(a->policy.stop_timeout_ms != b->policy.stop_timeout_ms, CFGDIFF_LIVE);
}

static enum cfgdiff_effect
cmp_start_seconds(const struct program_cfg *a, const struct program_cfg *b)
{
    return DIFFERS(a->policy.start_ms != b->policy.start_ms, CFGDIFF_LIVE);
}

static enum cfgdiff_effect
cmp_backoff(const struct program_cfg *a, const struct program_cfg *b)
{
    return DIFFERS(a->policy.backoff.initial_ms != b->policy.backoff.initial_ms ||
                       a->policy.backoff.max_ms != b->policy.backoff.max_ms,
                   CFGDIFF_LIVE);
}

static enum cfgdiff_effect
cmp_yoyo(const struct program_cfg *a, const struct program_cfg *b)
{
    return DIFFERS(a->policy.backoff.yoyo_limit != b->policy.backoff.yoyo_limit ||
                       a->policy.backoff.yoyo_window_ms != b->policy.backoff.yoyo_window_ms,
                   CFGDIFF_LIVE);
}

/* How a start is judged: a new rule is proven by starting through it. */
static enum cfgdiff_effect
cmp_ready(const struct program_cfg *a, const struct program_cfg *b)
{
    return DIFFERS(!probe_same(&a->ready_probe, &b->ready_probe) ||
                       a->policy.wait_ready != b->policy.wait_ready,
                   CFGDIFF_RESTART);
}

static enum cfgdiff_effect
cmp_start_timeout(const struct program_cfg *a, const struct program_cfg *b)
{
    return DIFFERS(a->policy.start_timeout_ms != b->policy.start_timeout_ms, CFGDIFF_LIVE);
}

/* The timeout is in the process's environment (WATCHDOG_USEC); the action is drover's. */
static enum cfgdiff_effect
cmp_heartbeat(const struct program_cfg *a, const struct program_cfg *b)
{
    if (a->heartbeat_timeout_ms != b->heartbeat_timeout_ms)
        return CFGDIFF_RESTART;
    return DIFFERS(a->heartbeat_restart != b->heartbeat_restart, CFGDIFF_LIVE);
}

/* Health checks are drover's: rescheduled in place (a {{port}} the process lacks aside). */
static enum cfgdiff_effect
cmp_health(const struct program_cfg *a, const struct program_cfg *b)
{
    return DIFFERS(!probe_same(&a->health, &b->health), CFGDIFF_LIVE);
}

static enum cfgdiff_effect
cmp_silence(const struct program_cfg *a, const struct program_cfg *b)
{
    return DIFFERS(a->silence_ms != b->silence_ms, CFGDIFF_LIVE);
}

static enum cfgdiff_effect
cmp_max_silent(const struct program_cfg *a, const struct program_cfg *b)
{
    return DIFFERS(a->max_silent != b->max_silent, CFGDIFF_LIVE);
}

/* The slots are allocated once (pool.h): other slots, another program. */
static enum cfgdiff_effect
cmp_max_instances(const struct program_cfg *a, const struct program_cfg *b)
{
    return DIFFERS(a->max_instances != b->max_instances, CFGDIFF_REPLACE);
}

static enum cfgdiff_effect
cmp_success_codes(const struct program_cfg *a, const struct program_cfg *b)
{
    return DIFFERS(a->policy.success_codes_given != b->policy.success_codes_given ||
                       memcmp(a->policy.success_codes, b->policy.success_codes,
                              sizeof(a->policy.success_codes)) != 0,
                   CFGDIFF_LIVE);
}

static enum cfgdiff_effect
cmp_fatal_codes(const struct program_cfg *a, const struct program_cfg *b)
{
    return DIFFERS(
        memcmp(a->policy.fatal_codes, b->policy.fatal_codes, sizeof(a->policy.fatal_codes)) != 0,
        CFGDIFF_LIVE);
}

static enum cfgdiff_effect
cmp_max_unavailable(const struct program_cfg *a, const struct program_cfg *b)
{
    return DIFFERS(a->max_unavailable != b->max_unavailable, CFGDIFF_LIVE);
}

static bool
command_same(const struct cfg_command *a, const struct cfg_command *b)
{
    return a->given == b->given && argv_same(a->argv, a->argc, b->argv, b->argc);
}

/* Hooks are drover's to run: the next one runs the new command. */
static enum cfgdiff_effect
cmp_on_state_change(const struct program_cfg *a, const struct program_cfg *b)
{
    return DIFFERS(
        !command_same(&a->hooks[CFG_HOOK_STATE_CHANGE], &b->hooks[CFG_HOOK_STATE_CHANGE]),
        CFGDIFF_LIVE);
}

static enum cfgdiff_effect
cmp_on_fatal(const struct program_cfg *a, const struct program_cfg *b)
{
    return DIFFERS(!command_same(&a->hooks[CFG_HOOK_FATAL], &b->hooks[CFG_HOOK_FATAL]),
                   CFGDIFF_LIVE);
}

static enum cfgdiff_effect
cmp_hook_timeout(const struct program_cfg *a, const struct program_cfg *b)
{
    return DIFFERS(a->hook_timeout_ms != b->hook_timeout_ms, CFGDIFF_LIVE);
}

/* Set in the child before exec: only a new process has them. */
/*
 * The names as written and what they resolved to (os/identity, at config
 * check): the same name may stand for another uid after /etc/passwd changed.
 */
static enum cfgdiff_effect
cmp_identity(const struct cfg_identity *a, const struct cfg_identity *b, const char *an,
             const char *bn)
{
    if (!str_same(an, bn) || a->switch_to != b->switch_to || a->uid != b->uid || a->gid != b->gid ||
        a->ngroups != b->ngroups)
        return CFGDIFF_RESTART;
    for (size_t i = 0; i < a->ngroups; i++)
        if (a->groups[i] != b->groups[i])
            return CFGDIFF_RESTART;
    return CFGDIFF_SAME;
}

static enum cfgdiff_effect
cmp_user(const struct program_cfg *a, const struct program_cfg *b)
{
    return cmp_identity(&a->identity, &b->identity, a->identity.user, b->identity.user);
}

static enum cfgdiff_effect
cmp_group(const struct program_cfg *a, const struct program_cfg *b)
{
    return cmp_identity(&a->identity, &b->identity, a->identity.group, b->identity.group);
}

static enum cfgdiff_effect
cmp_rlimits(const struct program_cfg *a, const struct program_cfg *b)
{
    if (a->nrlimits != b->nrlimits)
        return CFGDIFF_RESTART;
    for (size_t i = 0; i < a->nrlimits; i++)
        if (a->rlimits[i].resource != b->rlimits[i].resource ||
            a->rlimits[i].value != b->rlimits[i].value)
            return CFGDIFF_RESTART;
    return CFGDIFF_SAME;
}

/* Read at each sample (daemon/memwatch.c): running processes are not touched. */
static enum cfgdiff_effect
cmp_memory_max(const struct program_cfg *a, const struct program_cfg *b)
{
    return DIFFERS(a->memory_max != b->memory_max, CFGDIFF_LIVE);
}

static enum cfgdiff_effect
cmp_umask(const struct program_cfg *a, const struct program_cfg *b)
{
    return DIFFERS(a->umask_given != b->umask_given || a->umask != b->umask, CFGDIFF_RESTART);
}

static enum cfgdiff_effect
cmp_nice(const struct program_cfg *a, const struct program_cfg *b)
{
    return DIFFERS(a->nice_given != b->nice_given || a->nice != b->nice, CFGDIFF_RESTART);
}

/* The order of the next start (deps.c): running processes are not touched. */
static enum cfgdiff_effect
cmp_after(const struct program_cfg *a, const struct program_cfg *b)
{
    return DIFFERS(!argv_same(a->after, a->nafter, b->after, b->nafter), CFGDIFF_LIVE);
}

/*
 * What the instances were told at spawn (DROVER_JOBS_TYPES, _CONCURRENCY) and
 * what their jobs are judged by: a program's `jobs` changed restarts it, as
 * another program key does, so no instance runs under settings it was not
 * started with. Every field of struct program_jobs_cfg is compared.
 */
static bool
jobs_same(const struct program_jobs_cfg *x, const struct program_jobs_cfg *y)
{
    if (x->enabled != y->enabled || !argv_same(x->types, x->ntypes, y->types, y->ntypes) ||
        x->concurrency != y->concurrency)
        return false;
    if (x->timeout_ms != y->timeout_ms || x->cancel_grace_ms != y->cancel_grace_ms ||
        x->attempts != y->attempts || x->max_worker_kills != y->max_worker_kills ||
        x->dispatch != y->dispatch)
        return false;
    if (x->backoff_initial_ms != y->backoff_initial_ms || x->backoff_max_ms != y->backoff_max_ms ||
        x->backoff_factor != y->backoff_factor || x->backoff_jitter != y->backoff_jitter)
        return false;
    if (x->ping != y->ping || x->ping_idle_ms != y->ping_idle_ms ||
        x->ping_timeout_ms != y->ping_timeout_ms || x->ping_failures != y->ping_failures)
        return false;
    return x->autoscale == y->autoscale && x->autoscale_min == y->autoscale_min &&
           x->autoscale_max == y->autoscale_max && x->per_instance == y->per_instance &&
           x->autoscale_interval_ms == y->autoscale_interval_ms &&
           x->down_after_ms == y->down_after_ms;
}

static enum cfgdiff_effect
cmp_jobs(const struct program_cfg *a, const struct program_cfg *b)
{
    return DIFFERS(!jobs_same(&a->jobs, &b->jobs), CFGDIFF_RESTART);
}

/*
 * One row per key of cfg.c's program_keys, the strongest effect its change
 * can take (for docs and the test), and its comparison.
 */
static const struct {
    const char *key;
    enum cfgdiff_effect most;
    program_cmp cmp;
} program_rows[] = {
    { "command", CFGDIFF_RESTART, cmp_command },
    { "input", CFGDIFF_RESTART, cmp_input },
    { "output", CFGDIFF_RESTART, cmp_output },
    { "error", CFGDIFF_RESTART, cmp_error },
    { "name", CFGDIFF_REPLACE, cmp_name },
    { "instances", CFGDIFF_SCALE, cmp_instances },
    { "env", CFGDIFF_RESTART, cmp_env },
    { "cwd", CFGDIFF_RESTART, cmp_cwd },
    { "user", CFGDIFF_RESTART, cmp_user },
    { "group", CFGDIFF_RESTART, cmp_group },
    { "restart", CFGDIFF_LIVE, cmp_restart },
    { "stop_signal", CFGDIFF_LIVE, cmp_stop_signal },
    { "stop_timeout", CFGDIFF_LIVE, cmp_stop_timeout },
    { "start_seconds", CFGDIFF_LIVE, cmp_start_seconds },
    { "backoff", CFGDIFF_LIVE, cmp_backoff },
    { "yoyo", CFGDIFF_LIVE, cmp_yoyo },
    { "ready", CFGDIFF_RESTART, cmp_ready },
    { "start_timeout", CFGDIFF_LIVE, cmp_start_timeout },
    { "heartbeat", CFGDIFF_RESTART, cmp_heartbeat },
    { "health", CFGDIFF_LIVE, cmp_health },
    { "silence", CFGDIFF_LIVE, cmp_silence },
    { "max_silent", CFGDIFF_LIVE, cmp_max_silent },
    { "max_instances", CFGDIFF_REPLACE, cmp_max_instances },
    { "success_exit_codes", CFGDIFF_LIVE, cmp_success_codes },
    { "fatal_exit_codes", CFGDIFF_LIVE, cmp_fatal_codes },
    { "max_unavailable", CFGDIFF_LIVE, cmp_max_unavailable },
    { "on_state_change", CFGDIFF_LIVE, cmp_on_state_change },
    { "on_fatal", CFGDIFF_LIVE, cmp_on_fatal },
    { "hook_timeout", CFGDIFF_LIVE, cmp_hook_timeout },
    { "after", CFGDIFF_LIVE, cmp_after },
    { "rlimits", CFGDIFF_RESTART, cmp_rlimits },
    { "memory_max", CFGDIFF_LIVE, cmp_memory_max },
    { "umask", CFGDIFF_RESTART, cmp_umask },
    { "nice", CFGDIFF_RESTART, cmp_nice },
    { "jobs", CFGDIFF_RESTART, cmp_jobs },
};

static void
note(struct cfgdiff *d, const char *key, enum cfgdiff_effect e)
{
    size_t len = strlen(d->keys);

    if (e == CFGDIFF_SAME)
        return;
    d->effects |= 1u << e;
    if (e > d->worst)
        d->worst = e;
    if (len + strlen(key) + 3 < sizeof(d->keys))
        (void)snprintf(d->keys + len, sizeof(d->keys) - len, "%s%s", len ? ", " : "", key);
}

void
cfgdiff_program(const struct program_cfg *a, const struct program_cfg *b, struct cfgdiff *ret)
{
    *ret = (struct cfgdiff){ .worst = CFGDIFF_SAME };
    for (size_t i = 0; i < ARRAY_SIZE(program_rows); i++)
        note(ret, program_rows[i].key, program_rows[i].cmp(a, b));
    /* A port the running processes were not given (say a health check on {{port}} now). */
    if (a->uses_port != b->uses_port)
        note(ret, "{{port}}", CFGDIFF_RESTART);
}

enum cfgdiff_effect
cfgdiff_program_key_effect(const char *key)
{
    for (size_t i = 0; i < ARRAY_SIZE(program_rows); i++)
        if (strcmp(program_rows[i].key, key) == 0)
            return program_rows[i].most;
    return CFGDIFF_INVALID;
}

/* --- top-level settings --------------------------------------------------------------------- */

static bool
set_programs(const struct config *a, const struct config *b)
{
    (void)a;
    (void)b;
    return true; /* the programs are the plan's, not a setting */
}

static bool
set_port_range(const struct config *a, const struct config *b)
{
    return a->port_from == b->port_from && a->port_to == b->port_to;
}

static bool
set_dumpfile(const struct config *a, const struct config *b)
{
    return str_same(a->dumpfile, b->dumpfile);
}

static bool
set_checkpoint_interval(const struct config *a, const struct config *b)
{
    return a->checkpoint_interval_ms == b->checkpoint_interval_ms;
}

static bool
set_adopt(const struct config *a, const struct config *b)
{
    return a->adopt == b->adopt;
}

static bool
set_http(const struct config *a, const struct config *b)
{
    return str_same(a->http, b->http);
}

static bool
set_http_token(const struct config *a, const struct config *b)
{
    return str_same(a->http_token, b->http_token);
}

static bool
set_control(const struct config *a, const struct config *b)
{
    return str_same(a->control, b->control) && a->control_off == b->control_off;
}

static bool
set_max_silent(const struct config *a, const struct config *b)
{
    return a->max_silent == b->max_silent;
}

static bool
set_silence(const struct config *a, const struct config *b)
{
    return a->silence_ms == b->silence_ms;
}

static bool
set_on_state_change(const struct config *a, const struct config *b)
{
    return command_same(&a->hooks[CFG_HOOK_STATE_CHANGE], &b->hooks[CFG_HOOK_STATE_CHANGE]);
}

static bool
set_on_fatal(const struct config *a, const struct config *b)
{
    return command_same(&a->hooks[CFG_HOOK_FATAL], &b->hooks[CFG_HOOK_FATAL]);
}

static bool
set_hook_timeout(const struct config *a, const struct config *b)
{
    return a->hook_timeout_ms == b->hook_timeout_ms;
}

/*
 * The job store and its socket are opened at start-up, and the dispatcher's
 * limits (max_payload sizes the channel's buffers) are bound to them: the
 * whole object waits for the next start, as `control` and `http` do. Only
 * what is in force counts: `"jobs": {}` and no `jobs` are the same.
 */
static bool
set_jobs(const struct config *a, const struct config *b)
{
    const struct jobs_cfg *x = &a->jobs, *y = &b->jobs;

    return x->store == y->store && str_same(x->dir, y->dir) && str_same(x->socket, y->socket) &&
           x->fsync == y->fsync && x->result_ttl_ms == y->result_ttl_ms &&
           x->failed_ttl_ms == y->failed_ttl_ms && x->max_finished == y->max_finished &&
           x->max_payload == y->max_payload && x->max_queued_bytes == y->max_queued_bytes &&
           str_same(x->redis.url_text, y->redis.url_text) &&
           str_same(x->redis.prefix, y->redis.prefix) && str_same(x->redis.node, y->redis.node) &&
           str_same(x->redis.queue_key, y->redis.queue_key) &&
           x->redis.node_ttl_ms == y->redis.node_ttl_ms &&
           str_same(x->redis.password_file, y->redis.password_file);
}

/*
 * One row per key of cfg.c's settings_keys. What drover reads each time
 * (/health's defaults, the checkpoint's interval, the token of the next
 * request) is applied now; what was bound or opened at start-up (sockets,
 * the dumpfile, the port range) waits for the next start.
 */
static const struct {
    const char *key;
    enum cfgdiff_when when;
    bool (*same)(const struct config *a, const struct config *b);
} settings_rows[] = {
    { "programs", CFGDIFF_NOW, set_programs },
    { "port_range", CFGDIFF_NEXT_START, set_port_range },
    { "dumpfile", CFGDIFF_NEXT_START, set_dumpfile },
    { "checkpoint_interval", CFGDIFF_NOW, set_checkpoint_interval },
    { "adopt", CFGDIFF_NEXT_START, set_adopt },
    { "http", CFGDIFF_NEXT_START, set_http },
    { "http_token", CFGDIFF_NOW, set_http_token },
    { "control", CFGDIFF_NEXT_START, set_control },
    { "max_silent", CFGDIFF_NOW, set_max_silent },
    { "silence", CFGDIFF_NOW, set_silence },
    { "on_state_change", CFGDIFF_NOW, set_on_state_change },
    { "on_fatal", CFGDIFF_NOW, set_on_fatal },
    { "hook_timeout", CFGDIFF_NOW, set_hook_timeout },
    { "jobs", CFGDIFF_NEXT_START, set_jobs },
};

void
cfgdiff_settings(const struct config *a, const struct config *b, struct cfgdiff *ret_now,
                 struct cfgdiff *ret_later)
{
    *ret_now = (struct cfgdiff){ .worst = CFGDIFF_SAME };
    *ret_later = (struct cfgdiff){ .worst = CFGDIFF_SAME };
    for (size_t i = 0; i < ARRAY_SIZE(settings_rows); i++)
        if (!settings_rows[i].same(a, b))
            note(settings_rows[i].when == CFGDIFF_NOW ? ret_now : ret_later, settings_rows[i].key,
                 CFGDIFF_LIVE);
}

enum cfgdiff_when
cfgdiff_settings_key_when(const char *key)
{
    for (size_t i = 0; i < ARRAY_SIZE(settings_rows); i++)
        if (strcmp(settings_rows[i].key, key) == 0)
            return settings_rows[i].when;
    return CFGDIFF_WHEN__MAX;
}

const char *
cfgdiff_effect_name(enum cfgdiff_effect e)
{
    static const char *const names[CFGDIFF__MAX] = {
        [CFGDIFF_SAME] = "same",       [CFGDIFF_LIVE] = "live",       [CFGDIFF_SCALE] = "scale",
        [CFGDIFF_RESTART] = "restart", [CFGDIFF_REPLACE] = "replace",
    };

    return e >= 0 && e < CFGDIFF__MAX ? names[e] : "?";
}

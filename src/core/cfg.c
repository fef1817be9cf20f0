/*
 * cfg: JSON -> struct config with precise errors. See cfg.h. The schema:
 * one key table per section (the machinery, and where errors point, is
 * core/schema's).
 */
#include "core/cfg.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/un.h>

#include "core/cfg_jobs.h"
#include "core/depgraph.h"
#include "core/schema.h"
#include "core/tmpl.h"
#include "core/utf8.h"
#include "core/util.h"

/* Program defaults; docs/config.md lists them. */
#define DEFAULT_STOP_TIMEOUT_MS 10000
#define DEFAULT_START_MS 1000
#define DEFAULT_BACKOFF_INITIAL_MS 100
#define DEFAULT_BACKOFF_MAX_MS 30000
#define DEFAULT_YOYO_LIMIT 5
#define DEFAULT_YOYO_WINDOW_MS 60000
#define DEFAULT_START_TIMEOUT_MS 90000 /* systemd's TimeoutStartSec */

void
cfg_error(struct cfg_errors *errs, const char *fmt, ...)
{
    va_list ap;
    size_t room = sizeof(errs->text) - errs->len;
    int n;

    errs->count++;
    if (room < 2)
        return;
    va_start(ap, fmt);
    n = vsnprintf(errs->text + errs->len, room - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= room - 1)
        n = (int)(room - 2);
    errs->len += (size_t)n;
    errs->text[errs->len++] = '\n';
    errs->text[errs->len] = '\0';
}

/* A string that may hold placeholders. */
static int
get_template(struct schema_ctx *c, const json_t *v, bool allow_empty, bool *uses_port, char **ret)
{
    char err[160];
    char *s;
    int r = schema_string(c, v, allow_empty, &s);

    if (r < 0)
        return r;
    if (tmpl_check(s, uses_port, err, sizeof(err)) < 0) {
        schema_error(c, false, "%s", err);
        free(s);
        return -EINVAL;
    }
    *ret = s;
    return 0;
}

/* A key with this flag exists only where schema_parse_keys() is given it in allow. */
#define KEY_HEALTH 1u /* a probe key of "health", not of "ready" */
/* Handlers of cfg's own; target is the field (an offsetof() in the table). */

static int
key_instances(struct schema_ctx *c, const json_t *val, void *target)
{
    return schema_uint(c, val, 1, CFG_MAX_INSTANCES, target);
}

/* The pool's and a program's silence (T of /health). */
static int
key_silence(struct schema_ctx *c, const json_t *val, void *target)
{
    return schema_duration_min(c, val, 1, "silence", target);
}

/* A list of exit codes, 0 to 255, into a 256-bit set (svc_code_in()). */
static int
get_exit_codes(struct schema_ctx *c, const json_t *v, uint64_t set[4])
{
    int r = 0;

    if (!json_is_array(v)) {
        schema_error(c, false, "expected a list of exit codes (integers from 0 to 255), got %s",
                     schema_kind(v));
        return -EINVAL;
    }
    memset(set, 0, 4 * sizeof(set[0]));
    for (size_t i = 0; i < json_array_size(v); i++) {
        unsigned code;

        schema_push_index(c, i);
        if (schema_uint(c, json_array_get(v, i), 0, 255, &code) < 0)
            r = -EINVAL;
        else
            set[code / 64] |= (uint64_t)1 << (code % 64);
        schema_pop(c);
    }
    return r;
}

static int
program_success_codes(struct schema_ctx *c, const json_t *val, void *target)
{
    struct program_cfg *p = target;

    p->policy.success_codes_given = true;
    return get_exit_codes(c, val, p->policy.success_codes);
}

static int
program_fatal_codes(struct schema_ctx *c, const json_t *val, void *target)
{
    return get_exit_codes(c, val, ((struct program_cfg *)target)->policy.fatal_codes);
}

/* --- programs ------------------------------------------------------------------------------- */

static bool
valid_name(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > CFG_NAME_MAX)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("_.-", *s))
            return false;
    return true;
}

/* target: a struct program_cfg (its argv, argc, uses_port). */
static int
parse_command(struct schema_ctx *c, const json_t *v, void *target)
{
    struct program_cfg *p = target;
    size_t n, i;
    int r = 0;

    if (!json_is_array(v)) {
        schema_error(c, false, "expected a list of strings (program and arguments), got %s",
                     schema_kind(v));
        return -EINVAL;
    }
    n = json_array_size(v);
    if (n == 0) {
        schema_error(c, false, "command is empty: expected at least the program to run");
        return -EINVAL;
    }
    if (n > CFG_MAX_ARGS) {
        schema_error(c, false, "more than %d arguments", CFG_MAX_ARGS);
        return -EINVAL;
    }
    p->argv = calloc(n + 1, sizeof(char *));
    if (!p->argv) {
        schema_error(c, false, "out of memory");
        return -ENOMEM;
    }
    for (i = 0; i < n; i++) {
        schema_push_index(c, i);
        if (get_template(c, json_array_get(v, i), i > 0, &p->uses_port, &p->argv[i]) < 0)
            r = -EINVAL;
        schema_pop(c);
    }
    p->argc = n;
    return r;
}

/* Free-form names, so no table. target: a struct program_cfg. */
static int
parse_env(struct schema_ctx *c, const json_t *v, void *target)
{
    struct program_cfg *p = target;
    const char *key;
    json_t *val;
    size_t i = 0;
    int r = 0;

    if (!schema_require_object(c, v, "environment variables"))
        return -EINVAL;
    if (json_object_size(v) > CFG_MAX_ENV) {
        schema_error(c, false, "more than %d environment variables", CFG_MAX_ENV);
        return -EINVAL;
    }
    p->env = calloc(json_object_size(v) + 1, sizeof(*p->env));
    if (!p->env) {
        schema_error(c, false, "out of memory");
        return -ENOMEM;
    }
    json_object_foreach((json_t *)v, key, val)
    {
        schema_push_key(c, key);
        if (!*key || strchr(key, '=')) {
            schema_error(c, true,
                         "environment variable names must be non-empty and contain no '='");
            r = -EINVAL;
        } else if (get_template(c, val, true, &p->uses_port, &p->env[i].value) == 0) {
            p->env[i].key = strdup(key);
            if (!p->env[i].key) {
                schema_error(c, false, "out of memory");
                r = -ENOMEM;
            }
            i++;
        } else {
            r = -EINVAL;
        }
        schema_pop(c);
    }
    p->nenv = i;
    return r;
}

static const struct schema_key backoff_keys[] = {
    { "initial", schema_key_duration, offsetof(struct backoff_policy, initial_ms), 0 },
    { "max", schema_key_duration, offsetof(struct backoff_policy, max_ms), 0 },
};

/* target: a struct backoff_policy. */
static int
parse_backoff(struct schema_ctx *c, const json_t *v, void *target)
{
    struct backoff_policy *b = target;

    if (!schema_require_keys(c, v, "backoff settings", backoff_keys, ARRAY_SIZE(backoff_keys), ""))
        return -EINVAL;
    if (schema_parse_keys(c, v, backoff_keys, ARRAY_SIZE(backoff_keys), 0, b, NULL) < 0)
        return -EINVAL;
    if (b->max_ms < b->initial_ms) {
        schema_error(c, false, "backoff max (%lld ms) is below initial (%lld ms)",
                     (long long)b->max_ms, (long long)b->initial_ms);
        return -EINVAL;
    }
    return 0;
}

static int
yoyo_restarts(struct schema_ctx *c, const json_t *val, void *target)
{
    return schema_uint(c, val, 0, BACKOFF_YOYO_LIMIT_MAX, target);
}

static const struct schema_key yoyo_keys[] = {
    { "restarts", yoyo_restarts, offsetof(struct backoff_policy, yoyo_limit), 0 },
    { "window", schema_key_duration, offsetof(struct backoff_policy, yoyo_window_ms), 0 },
};

/* target: a struct backoff_policy. */
static int
parse_yoyo(struct schema_ctx *c, const json_t *v, void *target)
{
    struct backoff_policy *b = target;

    if (json_is_false(v)) {
        b->yoyo_limit = 0;
        return 0;
    }
    if (!schema_require_keys(c, v, "yo-yo limits", yoyo_keys, ARRAY_SIZE(yoyo_keys), " or false"))
        return -EINVAL;
    return schema_parse_keys(c, v, yoyo_keys, ARRAY_SIZE(yoyo_keys), 0, b, NULL);
}

static void
probe_cfg_done(struct probe_cfg *pr)
{
    free(pr->target);
    for (size_t i = 0; pr->argv && i < pr->argc; i++)
        free(pr->argv[i]);
    free(pr->argv);
    pr->target = NULL;
    pr->argv = NULL;
    pr->argc = 0;
}

/* Probe handlers: target is the struct probe_cfg, or a field of it (an offsetof() in the table). */

/* "tcp" or "http"; a second kind is an error in parse_probe(), so keep nothing of the first. */
static int
probe_address(struct schema_ctx *c, const json_t *val, struct probe_cfg *pr, enum probe_kind kind)
{
    struct tmpl_vars vars = { .name = "x", .instance = 0, .port = 1 };
    struct probe_addr addr;
    char *probe_target = NULL;
    bool oom;
    int r;

    probe_cfg_done(pr);
    pr->kind = kind;
    r = get_template(c, val, false, &pr->uses_port, &pr->target);
    if (r == 0) {
        /* Check the shape now, with a stand-in port: a typo is a config error. */
        char *expanded = tmpl_expand(pr->target, &vars, &oom);
        probe_target = expanded ? expanded : pr->target;
        if ((kind == PROBE_TCP ? probe_parse_tcp(probe_target, &addr)
                               : probe_parse_http(probe_target, &addr)) < 0) {
            schema_error(c, false,
                         kind == PROBE_TCP
                             ? "expected \"HOST:PORT\" with a numeric address or localhost"
                             : "expected \"http://HOST[:PORT]/PATH\" with a numeric address or "
                               "localhost");
            r = -EINVAL;
        }
        free(expanded);
    }
    return r;
}

static int
probe_tcp(struct schema_ctx *c, const json_t *val, void *target)
{
    return probe_address(c, val, target, PROBE_TCP);
}

static int
probe_http(struct schema_ctx *c, const json_t *val, void *target)
{
    return probe_address(c, val, target, PROBE_HTTP);
}

static int
probe_command(struct schema_ctx *c, const json_t *val, void *target)
{
    struct probe_cfg *pr = target;
    struct program_cfg tmp = { 0 };
    int r;

    probe_cfg_done(pr);
    pr->kind = PROBE_COMMAND;
    r = parse_command(c, val, &tmp);
    pr->argv = tmp.argv;
    pr->argc = tmp.argc;
    pr->uses_port |= tmp.uses_port;
    return r;
}

/*
 * on_fatal, on_state_change, at the top level and in a program: a command
 * (argv, never a shell), or null for none (a program's null turns the top
 * level's off for it). target: the struct cfg_command.
 */
static int
key_hook(struct schema_ctx *c, const json_t *val, void *target)
{
    struct cfg_command *cmd = target;
    struct program_cfg tmp = { 0 };
    int r;

    cmd->given = true;
    if (json_is_null(val))
        return 0;
    r = parse_command(c, val, &tmp);
    cmd->argv = tmp.argv;
    cmd->argc = tmp.argc;
    return r;
}

static int
key_hook_timeout(struct schema_ctx *c, const json_t *val, void *target)
{
    return schema_duration_min(c, val, 1, "hook_timeout", target);
}

static int
probe_interval(struct schema_ctx *c, const json_t *val, void *target)
{
    return schema_duration_min(c, val, 10, "interval", target);
}

static int
probe_timeout(struct schema_ctx *c, const json_t *val, void *target)
{
    return schema_duration_min(c, val, 1, "timeout", target);
}

static int
probe_failures(struct schema_ctx *c, const json_t *val, void *target)
{
    return schema_uint(c, val, 1, 100, target);
}

static const struct schema_key probe_keys[] = {
    { "tcp", probe_tcp, 0, SCHEMA_COUNTED }, /* the kinds: one of them */
    { "http", probe_http, 0, SCHEMA_COUNTED },
    { "command", probe_command, 0, SCHEMA_COUNTED },
    { "interval", probe_interval, offsetof(struct probe_cfg, interval_ms), 0 },
    { "timeout", probe_timeout, offsetof(struct probe_cfg, timeout_ms), 0 },
    { "failures", probe_failures, offsetof(struct probe_cfg, failures), KEY_HEALTH },
    { "start_period", schema_key_duration, offsetof(struct probe_cfg, start_period_ms),
      KEY_HEALTH },
    { "idle_only", schema_key_bool, offsetof(struct probe_cfg, idle_only), KEY_HEALTH },
};

/* A probe object: one of tcp/http/command, plus timings (and health-only keys). */
static int
parse_probe(struct schema_ctx *c, const json_t *v, struct probe_cfg *pr, bool health)
{
    unsigned allow = health ? KEY_HEALTH : 0, kinds;

    *pr = (struct probe_cfg){
        .interval_ms = health ? 10000 : 200,
        .timeout_ms = health ? 2000 : 1000,
        .failures = 3,
    };
    if (!schema_require_object(
            c, v,
            health ? "a health check {\"tcp\"|\"http\"|\"command\", ...}"
                   : "\"exec\", \"notify\" or a probe {\"tcp\"|\"http\"|\"command\", ...}"))
        return -EINVAL;
    if (schema_parse_keys(c, v, probe_keys, ARRAY_SIZE(probe_keys), allow, pr, &kinds) < 0)
        return -EINVAL;
    if (kinds != 1) {
        schema_error(c, false, "expected exactly one of \"tcp\", \"http\" or \"command\"");
        return -EINVAL;
    }
    return 0;
}

/* Program handlers: target is the struct program_cfg, or a field (an offsetof() in the table). */

static int
heartbeat_timeout(struct schema_ctx *c, const json_t *val, void *target)
{
    return schema_duration_min(c, val, 10, "heartbeat timeout", target);
}

static int
heartbeat_action(struct schema_ctx *c, const json_t *val, void *target)
{
    struct program_cfg *p = target;
    const char *a = json_is_string(val) ? json_string_value(val) : "";

    if (strcmp(a, "restart") != 0 && strcmp(a, "none") != 0) {
        schema_error(c, false, "expected \"restart\" or \"none\"");
        return -EINVAL;
    }
    p->heartbeat_restart = a[0] == 'r';
    return 0;
}

static const struct schema_key heartbeat_keys[] = {
    { "timeout", heartbeat_timeout, offsetof(struct program_cfg, heartbeat_timeout_ms),
      SCHEMA_COUNTED },
    { "action", heartbeat_action, 0, 0 },
};

/* target: a struct program_cfg. */
static int
parse_heartbeat(struct schema_ctx *c, const json_t *v, void *target)
{
    unsigned required;

    if (!schema_require_keys(c, v, "heartbeat settings", heartbeat_keys, ARRAY_SIZE(heartbeat_keys),
                             ""))
        return -EINVAL;
    if (schema_parse_keys(c, v, heartbeat_keys, ARRAY_SIZE(heartbeat_keys), 0, target, &required) <
        0)
        return -EINVAL;
    if (!required) {
        schema_error(c, false, "missing \"timeout\" (a duration such as \"30s\")");
        return -EINVAL;
    }
    return 0;
}

/* input, output, error: a path template, or null for the default. */
static int
program_stdio(struct schema_ctx *c, const json_t *val, struct program_cfg *p, char **slot)
{
    if (json_is_null(val))
        return 0;
    return get_template(c, val, false, &p->uses_port, slot);
}

static int
program_input(struct schema_ctx *c, const json_t *val, void *target)
{
    struct program_cfg *p = target;

    return program_stdio(c, val, p, &p->input);
}

/* capture.max_size: a size string ("10MB") or a number of bytes, above 0. */
static int
capture_max_size(struct schema_ctx *c, const json_t *val, void *target)
{
    uint64_t *size = target;
    const char *s = json_is_string(val) ? json_string_value(val) : NULL;

    if (json_is_integer(val) && json_integer_value(val) > 0) {
        *size = (uint64_t)json_integer_value(val);
        return 0;
    }
    if (s && util_parse_size(s, size) == 0 && *size > 0)
        return 0;
    if (s)
        schema_error(c, false,
                     "expected a size above 0 such as \"10MB\" or a number of bytes, got \"%s\"",
                     s);
    else
        schema_error(c, false,
                     "expected a size above 0 such as \"10MB\" or a number of bytes, got %s",
                     schema_kind(val));
    return -EINVAL;
}

static int
capture_backups(struct schema_ctx *c, const json_t *val, void *target)
{
    return schema_uint(c, val, 0, CFG_CAPTURE_MAX_BACKUPS, target);
}

static int
capture_tail_lines(struct schema_ctx *c, const json_t *val, void *target)
{
    return schema_uint(c, val, 0, CFG_CAPTURE_MAX_TAIL, target);
}

/* The template goes to a scratch flag: {{port}} in a log file's name does not take a port. */
static int
capture_file(struct schema_ctx *c, const json_t *val, void *target)
{
    bool uses_port = false;

    return get_template(c, val, false, &uses_port, target);
}

static const struct schema_key capture_keys[] = {
    { "file", capture_file, offsetof(struct cfg_capture, file), SCHEMA_COUNTED }, /* required */
    { "max_size", capture_max_size, offsetof(struct cfg_capture, max_size), 0 },
    { "backups", capture_backups, offsetof(struct cfg_capture, backups), 0 },
    { "tail_lines", capture_tail_lines, offsetof(struct cfg_capture, tail_lines), 0 },
};

/*
 * output, error: a path (the child's own fd, not captured), "drover" (captured to drover's
 * stderr), an object (captured to a rotated file), or null for the default.
 */
static int
program_capturable(struct schema_ctx *c, const json_t *val, struct program_cfg *p, char **slot,
                   struct cfg_capture *cap)
{
    unsigned required;

    *cap = (struct cfg_capture){ .backups = CFG_CAPTURE_DEFAULT_BACKUPS,
                                 .tail_lines = CFG_CAPTURE_DEFAULT_TAIL };
    if (json_is_string(val) && strcmp(json_string_value(val), "drover") == 0) {
        cap->mode = CFG_CAPTURE_DROVER;
        return 0;
    }
    if (!json_is_object(val))
        return program_stdio(c, val, p, slot);
    if (schema_parse_keys(c, val, capture_keys, ARRAY_SIZE(capture_keys), 0, cap, &required) < 0)
        return -EINVAL;
    if (!required) {
        schema_error(c, false,
                     "missing \"file\" (a path template such as \"{{name}}-{{instance}}.log\")");
        return -EINVAL;
    }
    cap->mode = CFG_CAPTURE_FILE;
    return 0;
}

static int
program_output(struct schema_ctx *c, const json_t *val, void *target)
{
    struct program_cfg *p = target;

    return program_capturable(c, val, p, &p->output, &p->capture[CFG_STREAM_OUT]);
}

static int
program_error(struct schema_ctx *c, const json_t *val, void *target)
{
    struct program_cfg *p = target;

    return program_capturable(c, val, p, &p->error, &p->capture[CFG_STREAM_ERR]);
}

static int
program_name(struct schema_ctx *c, const json_t *val, void *target)
{
    struct program_cfg *p = target;

    if (schema_string(c, val, false, &p->name) < 0)
        return -EINVAL;
    if (strcmp(p->name, "all") == 0) {
        schema_error(c, false,
                     "the name \"all\" is reserved (control calls use it for every program)");
        return -EINVAL;
    }
    if (!valid_name(p->name)) {
        schema_error(c, false, "names use letters, digits, '_', '.', '-' (at most %d), got \"%s\"",
                     CFG_NAME_MAX, p->name);
        return -EINVAL;
    }
    return 0;
}

static int
program_cwd(struct schema_ctx *c, const json_t *val, void *target)
{
    struct program_cfg *p = target;

    return get_template(c, val, false, &p->uses_port, &p->cwd);
}

const char *const cfg_identity_env_names[CFG_ENV__MAX] = {
    [CFG_ENV_HOME] = "HOME",
    [CFG_ENV_USER] = "USER",
    [CFG_ENV_LOGNAME] = "LOGNAME",
};

/*
 * `user`, `group`: a name (looked up at config check, os/identity.c) or a
 * number, as a JSON integer or a string of digits, as chown(1) takes them.
 */
static int
get_identity_name(struct schema_ctx *c, const json_t *val, const char *what, char **ret,
                  char **ret_at)
{
    char *s;

    if (json_is_integer(val)) {
        if (json_integer_value(val) < 0 || json_integer_value(val) >= 0xffffffffLL) {
            schema_error(c, false, "expected a %s name or a number from 0 to 4294967294", what);
            return -EINVAL;
        }
        char num[24];

        (void)snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(val));
        s = strdup(num);
        if (!s)
            return -ENOMEM;
    } else if (!json_is_string(val)) {
        schema_error(c, false, "expected a %s name or a number, got %s", what, schema_kind(val));
        return -EINVAL;
    } else if (schema_string(c, val, false, &s) < 0) {
        return -EINVAL;
    }
    if (strlen(s) > CFG_NAME_MAX * 4 || s[strcspn(s, ":/\n")] != '\0') {
        schema_error(c, false, "\"%s\" is not a %s name", s, what);
        free(s);
        return -EINVAL;
    }
    *ret_at = schema_where(c);
    if (!*ret_at) {
        free(s);
        return -ENOMEM;
    }
    *ret = s;
    return 0;
}

static int
program_user(struct schema_ctx *c, const json_t *val, void *target)
{
    struct cfg_identity *id = &((struct program_cfg *)target)->identity;

    return get_identity_name(c, val, "user", &id->user, &id->user_at);
}

static int
program_group(struct schema_ctx *c, const json_t *val, void *target)
{
    struct cfg_identity *id = &((struct program_cfg *)target)->identity;

    return get_identity_name(c, val, "group", &id->group, &id->group_at);
}

static int
program_restart(struct schema_ctx *c, const json_t *val, void *target)
{
    struct program_cfg *p = target;

    p->policy.restart =
        json_is_string(val) ? svc_restart_from_name(json_string_value(val)) : SVC_RESTART_INVALID;
    if (p->policy.restart == SVC_RESTART_INVALID) {
        schema_error(c, false, "expected \"always\", \"on-failure\" or \"never\"");
        return -EINVAL;
    }
    return 0;
}

static int
program_ready(struct schema_ctx *c, const json_t *val, void *target)
{
    struct program_cfg *p = target;
    const char *how = json_is_string(val) ? json_string_value(val) : "";
    int r;

    if (json_is_object(val)) {
        r = parse_probe(c, val, &p->ready_probe, false);
        p->policy.wait_ready = true;
        p->uses_port |= p->ready_probe.uses_port;
        return r;
    }
    if (strcmp(how, "exec") != 0 && strcmp(how, "notify") != 0) {
        schema_error(c, false,
                     "expected \"exec\" (up for start_seconds), \"notify\" (READY=1) "
                     "or a probe {\"tcp\"|\"http\"|\"command\": ...}");
        return -EINVAL;
    }
    p->policy.wait_ready = how[0] == 'n';
    return 0;
}

static int
program_health(struct schema_ctx *c, const json_t *val, void *target)
{
    struct program_cfg *p = target;
    int r = parse_probe(c, val, &p->health, true);

    p->uses_port |= p->health.uses_port;
    return r;
}

static int
program_max_silent(struct schema_ctx *c, const json_t *val, void *target)
{
    struct program_cfg *p = target;
    unsigned x;

    if (schema_uint(c, val, 0, CFG_MAX_TOTAL_INSTANCES, &x) < 0)
        return -EINVAL;
    p->max_silent = (int)x;
    return 0;
}

/*
 * `rlimits` names, as prlimit(1) and systemd's Limit*= have them, with what
 * their value counts: the units a string may be given in.
 */
enum rlimit_unit { RLIM_COUNT, RLIM_BYTES, RLIM_SECONDS, RLIM_MICROSECONDS };

static const struct {
    const char *name;
    int resource;
    enum rlimit_unit unit;
} rlimit_names[] = {
    { "as", RLIMIT_AS, RLIM_BYTES },
    { "core", RLIMIT_CORE, RLIM_BYTES },
    { "cpu", RLIMIT_CPU, RLIM_SECONDS },
    { "data", RLIMIT_DATA, RLIM_BYTES },
    { "fsize", RLIMIT_FSIZE, RLIM_BYTES },
    { "locks", RLIMIT_LOCKS, RLIM_COUNT },
    { "memlock", RLIMIT_MEMLOCK, RLIM_BYTES },
    { "msgqueue", RLIMIT_MSGQUEUE, RLIM_BYTES },
    { "nice", RLIMIT_NICE, RLIM_COUNT },
    { "nofile", RLIMIT_NOFILE, RLIM_COUNT },
    { "nproc", RLIMIT_NPROC, RLIM_COUNT },
    { "rss", RLIMIT_RSS, RLIM_BYTES },
    { "rtprio", RLIMIT_RTPRIO, RLIM_COUNT },
    { "rttime", RLIMIT_RTTIME, RLIM_MICROSECONDS },
    { "sigpending", RLIMIT_SIGPENDING, RLIM_COUNT },
    { "stack", RLIMIT_STACK, RLIM_BYTES },
};

/* One value: a whole number, "unlimited", or a size ("2GB") / a duration ("60s") by its unit. */
static int
get_rlimit_value(struct schema_ctx *c, const json_t *v, enum rlimit_unit unit, uint64_t *ret)
{
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    static const char *const expected[] = {
        [RLIM_COUNT] = "a whole number or \"unlimited\"",
        [RLIM_BYTES] = "a number of bytes, a size such as \"512MB\", or \"unlimited\"",
        [RLIM_SECONDS] = "a number of seconds, a duration such as \"60s\", or \"unlimited\"",
        [RLIM_MICROSECONDS] = "a number of microseconds, a duration such as \"500ms\", or "
                              "\"unlimited\"",
    };
    int64_t ms;

    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *ret = (uint64_t)json_integer_value(v);
        return 0;
    }
    if (s && strcmp(s, "unlimited") == 0) {
        *ret = CFG_RLIM_UNLIMITED;
        return 0;
    }
    if (s && unit == RLIM_BYTES && util_parse_size(s, ret) == 0)
        return 0;
    if (s && (unit == RLIM_SECONDS || unit == RLIM_MICROSECONDS) &&
        util_parse_duration_ms(s, &ms) == 0) {
        /* A CPU limit in whole seconds, rounded up: "1500ms" is not cut to 1 s. */
        *ret = unit == RLIM_SECONDS ? (uint64_t)(ms + 999) / 1000 : (uint64_t)ms * 1000;
        return 0;
    }
    if (s)
        schema_error(c, false, "expected %s, got \"%s\"", expected[unit], s);
    else
        schema_error(c, false, "expected %s, got %s", expected[unit], schema_kind(v));
    return -EINVAL;
}

/* target: a struct program_cfg. Names from rlimit_names; each value to both soft and hard. */
static int
program_rlimits(struct schema_ctx *c, const json_t *val, void *target)
{
    struct program_cfg *p = target;
    const char *name;
    json_t *v;
    int r = 0;

    if (!json_is_object(val)) {
        schema_error(c, false, "expected an object of limits, such as {\"nofile\": 4096}, got %s",
                     schema_kind(val));
        return -EINVAL;
    }
    json_object_foreach((json_t *)val, name, v)
    {
        size_t k = 0;

        schema_push_key(c, name);
        while (k < ARRAY_SIZE(rlimit_names) && strcmp(rlimit_names[k].name, name) != 0)
            k++;
        if (k == ARRAY_SIZE(rlimit_names)) {
            schema_error(c, true,
                         "unknown limit \"%s\" (known: as, core, cpu, data, fsize, locks, memlock, "
                         "msgqueue, nice, nofile, nproc, rss, rtprio, rttime, sigpending, stack)",
                         name);
            r = -EINVAL;
        } else if (get_rlimit_value(c, v, rlimit_names[k].unit, &p->rlimits[p->nrlimits].value) <
                   0) {
            r = -EINVAL;
        } else {
            p->rlimits[p->nrlimits].resource = rlimit_names[k].resource;
            p->rlimits[p->nrlimits].name = rlimit_names[k].name;
            p->nrlimits++; /* JSON_REJECT_DUPLICATES: each name once, at most 16 */
        }
        schema_pop(c);
    }
    return r;
}

/* `memory_max`: a whole number of bytes or a size ("512MB", "1GiB"), more than 0. */
static int
program_memory_max(struct schema_ctx *c, const json_t *val, void *target)
{
    struct program_cfg *p = target;
    const char *s = json_is_string(val) ? json_string_value(val) : NULL;
    uint64_t v = 0;

    if (json_is_integer(val) && json_integer_value(val) > 0) {
        p->memory_max = (uint64_t)json_integer_value(val);
        return 0;
    }
    if (s && util_parse_size(s, &v) == 0 && v > 0) {
        p->memory_max = v;
        return 0;
    }
    if (s)
        schema_error(
            c, false,
            "expected a number of bytes more than 0 or a size such as \"512MB\", got \"%s\"", s);
    else if (json_is_integer(val))
        schema_error(c, false,
                     "expected a number of bytes more than 0 or a size such as \"512MB\", got %lld",
                     (long long)json_integer_value(val));
    else
        schema_error(c, false,
                     "expected a number of bytes more than 0 or a size such as \"512MB\", got %s",
                     schema_kind(val));
    return -EINVAL;
}

/* An octal string ("027", "0o027") or a number 0 to 511 (0777). */
static int
program_umask(struct schema_ctx *c, const json_t *val, void *target)
{
    struct program_cfg *p = target;
    const char *s = json_is_string(val) ? json_string_value(val) : NULL;
    long v = -1;

    if (json_is_integer(val) && json_integer_value(val) >= 0 && json_integer_value(val) <= 0777)
        v = (long)json_integer_value(val);
    if (s) {
        const char *d = strncmp(s, "0o", 2) == 0 ? s + 2 : s;

        if (*d && strspn(d, "01234567") == strlen(d) && strlen(d) <= 4) {
            v = strtol(d, NULL, 8);
            if (v > 0777)
                v = -1;
        }
    }
    if (v < 0) {
        schema_error(c, false,
                     "expected a umask: an octal string from \"000\" to \"777\", such as "
                     "\"027\"");
        return -EINVAL;
    }
    p->umask = (unsigned)v;
    p->umask_given = true;
    return 0;
}

static int
program_nice(struct schema_ctx *c, const json_t *val, void *target)
{
    struct program_cfg *p = target;

    if (!json_is_integer(val) || json_integer_value(val) < -20 || json_integer_value(val) > 19) {
        schema_error(c, false, "expected a nice value, an integer from -20 to 19");
        return -EINVAL;
    }
    p->nice = (int)json_integer_value(val);
    p->nice_given = true;
    return 0;
}

/* A list of program names, each valid and named once; what they name is checked later. */
static int
program_after(struct schema_ctx *c, const json_t *val, void *target)
{
    struct program_cfg *p = target;
    size_t n;
    int r = 0;

    if (!json_is_array(val)) {
        schema_error(c, false, "expected a list of program names, got %s", schema_kind(val));
        return -EINVAL;
    }
    n = json_array_size(val);
    if (n > CFG_MAX_PROGRAMS) {
        schema_error(c, false, "more than %d programs", CFG_MAX_PROGRAMS);
        return -EINVAL;
    }
    p->after = calloc(n ? n : 1, sizeof(*p->after));
    p->after_index = calloc(n ? n : 1, sizeof(*p->after_index));
    if (!p->after || !p->after_index) {
        schema_error(c, false, "out of memory");
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        schema_push_index(c, i);
        if (schema_string(c, json_array_get(val, i), false, &p->after[p->nafter]) < 0) {
            r = -EINVAL;
        } else if (!valid_name(p->after[p->nafter])) {
            schema_error(c, false, "\"%s\" is not a program name (1 to %d of A-Z a-z 0-9 _ . -)",
                         p->after[p->nafter], CFG_NAME_MAX);
            free(p->after[p->nafter]);
            r = -EINVAL;
        } else {
            bool again = false;
            for (size_t k = 0; k < p->nafter; k++)
                again |= strcmp(p->after[k], p->after[p->nafter]) == 0;
            if (again) {
                schema_error(c, false, "\"%s\" is listed twice", p->after[p->nafter]);
                free(p->after[p->nafter]);
                r = -EINVAL;
            } else {
                p->nafter++;
            }
        }
        schema_pop(c);
    }
    return r;
}

static int
program_max_unavailable(struct schema_ctx *c, const json_t *val, void *target)
{
    return schema_uint(c, val, 1, CFG_MAX_INSTANCES, target);
}

/* core/cfgdiff.c has one row per key of this table (its unit test checks): add both. */
static const struct schema_key program_keys[] = {
    { "command", parse_command, 0, SCHEMA_COUNTED }, /* required */
    { "input", program_input, 0, 0 },
    { "output", program_output, 0, 0 },
    { "error", program_error, 0, 0 },
    { "name", program_name, 0, 0 },
    { "instances", key_instances, offsetof(struct program_cfg, instances), 0 },
    { "env", parse_env, 0, 0 },
    { "cwd", program_cwd, 0, 0 },
    { "user", program_user, 0, 0 },
    { "group", program_group, 0, 0 },
    { "restart", program_restart, 0, 0 },
    { "stop_signal", schema_key_signal, offsetof(struct program_cfg, policy.stop_signal), 0 },
    { "stop_timeout", schema_key_duration, offsetof(struct program_cfg, policy.stop_timeout_ms),
      0 },
    { "start_seconds", schema_key_duration, offsetof(struct program_cfg, policy.start_ms), 0 },
    { "backoff", parse_backoff, offsetof(struct program_cfg, policy.backoff), 0 },
    { "yoyo", parse_yoyo, offsetof(struct program_cfg, policy.backoff), 0 },
    { "ready", program_ready, 0, 0 },
    { "start_timeout", schema_key_duration, offsetof(struct program_cfg, policy.start_timeout_ms),
      0 },
    { "heartbeat", parse_heartbeat, 0, 0 },
    { "health", program_health, 0, 0 },
    { "silence", key_silence, offsetof(struct program_cfg, silence_ms), 0 },
    { "max_silent", program_max_silent, 0, 0 },
    { "max_instances", key_instances, offsetof(struct program_cfg, max_instances), 0 },
    { "success_exit_codes", program_success_codes, 0, 0 },
    { "fatal_exit_codes", program_fatal_codes, 0, 0 },
    { "on_state_change", key_hook, offsetof(struct program_cfg, hooks[CFG_HOOK_STATE_CHANGE]), 0 },
    { "on_fatal", key_hook, offsetof(struct program_cfg, hooks[CFG_HOOK_FATAL]), 0 },
    { "hook_timeout", key_hook_timeout, offsetof(struct program_cfg, hook_timeout_ms), 0 },
    { "after", program_after, 0, 0 },
    { "rlimits", program_rlimits, 0, 0 },
    { "memory_max", program_memory_max, 0, 0 },
    { "umask", program_umask, 0, 0 },
    { "nice", program_nice, 0, 0 },
    { "max_unavailable", program_max_unavailable, offsetof(struct program_cfg, max_unavailable),
      0 },
    { "jobs", cfg_program_jobs_parse, offsetof(struct program_cfg, jobs), 0 },
};

static int
parse_program(struct schema_ctx *c, const json_t *v, struct program_cfg *p)
{
    unsigned required;
    int r;

    *p = (struct program_cfg){
        .instances = 1,
        .max_unavailable = 1,
        .silence_ms = -1,
        .max_silent = -1,
        .heartbeat_restart = true,
        .hook_timeout_ms = -1,
        .policy = {
            .restart = SVC_RESTART_ALWAYS,
            .stop_signal = SIGTERM,
            .stop_timeout_ms = DEFAULT_STOP_TIMEOUT_MS,
            .start_ms = DEFAULT_START_MS,
            .start_timeout_ms = DEFAULT_START_TIMEOUT_MS,
            .backoff = {
                .initial_ms = DEFAULT_BACKOFF_INITIAL_MS,
                .max_ms = DEFAULT_BACKOFF_MAX_MS,
                .yoyo_limit = DEFAULT_YOYO_LIMIT,
                .yoyo_window_ms = DEFAULT_YOYO_WINDOW_MS,
            },
        },
    };
    cfg_program_jobs_defaults(&p->jobs);
    if (!schema_require_object(c, v, "a program"))
        return -EINVAL;
    r = schema_parse_keys(c, v, program_keys, ARRAY_SIZE(program_keys), 0, p, &required);
    if (!required) {
        schema_error(c, false, "missing \"command\" (a list: program and arguments)");
        r = -EINVAL;
    }
    if (p->max_instances == 0) {
        p->max_instances =
            p->instances > CFG_DEFAULT_MAX_INSTANCES ? p->instances : CFG_DEFAULT_MAX_INSTANCES;
    } else if (p->max_instances < p->instances) {
        schema_error(c, false, "max_instances (%u) is less than instances (%u)", p->max_instances,
                     p->instances);
        r = -EINVAL;
    }
    for (int code = 0; code < 256; code++)
        if (svc_code_in(p->policy.fatal_codes, code) &&
            (p->policy.success_codes_given ? svc_code_in(p->policy.success_codes, code)
                                           : code == 0)) {
            schema_push_key(c, "fatal_exit_codes");
            schema_error(c, false, "exit code %d is a success code too (success_exit_codes%s)",
                         code, p->policy.success_codes_given ? "" : " is [0] by default");
            schema_pop(c);
            r = -EINVAL;
            break;
        }
    return r;
}

/* basename of command[0], made a valid name. */
static char *
default_name(const char *argv0)
{
    const char *base = strrchr(argv0, '/');
    char *name;

    base = base ? base + 1 : argv0;
    if (!*base)
        base = "program";
    /* Room for the longest suffix, "-1000" (CFG_MAX_PROGRAMS repeats), within CFG_NAME_MAX. */
    name = strndup(base, CFG_NAME_MAX - 5);
    if (!name)
        return NULL;
    for (char *q = name; *q; q++)
        if (!isalnum((unsigned char)*q) && !strchr("_.-", *q))
            *q = '_';
    if (strcmp(name, "all") == 0)
        name[2] = '_'; /* "al_": "all" names every program in control calls */
    return name;
}

/*
 * The names taken so far, for assign_names(): an open-addressing hash set
 * of borrowed strings, sized once for every program so it never rehashes
 * (entry pointers stay valid). Each entry also keeps, for the default names
 * built on it as a base, the next "-N" suffix to try: suffixes below it are
 * all taken, and names are never given back, so each try starts there.
 */
struct name_entry {
    const char *name; /* NULL: empty */
    unsigned next_suffix;
};

struct name_set {
    struct name_entry *v;
    size_t mask;
};

static int
name_set_init(struct name_set *set, size_t n)
{
    size_t cap = 16;

    while (cap < 2 * n)
        cap *= 2;
    set->v = calloc(cap, sizeof(*set->v));
    set->mask = cap - 1;
    return set->v ? 0 : -ENOMEM;
}

/* The entry for name, or the empty one where it would go. */
static struct name_entry *
name_slot(const struct name_set *set, const char *name)
{
    size_t i = (size_t)util_hash_str(name) & set->mask;

    while (set->v[i].name && strcmp(set->v[i].name, name) != 0)
        i = (i + 1) & set->mask;
    return &set->v[i];
}

/* Explicit names must be unique; default names get -2, -3, ... on repeats. */
static int
assign_names(struct schema_ctx *c, struct config *cfg, bool list_form)
{
    struct name_set taken;
    int r = 0;

    if (name_set_init(&taken, cfg->nprograms) < 0)
        return -ENOMEM;
    for (size_t i = 0; i < cfg->nprograms; i++) {
        struct program_cfg *p = &cfg->programs[i];
        struct name_entry *e;

        if (!p->name)
            continue;
        e = name_slot(&taken, p->name);
        if (!e->name) {
            e->name = p->name;
            continue;
        }
        schema_at_top(c);
        if (!list_form)
            schema_push_key(c, "programs");
        schema_push_index(c, i);
        schema_push_key(c, "name");
        schema_error(c, false, "duplicate program name \"%s\"", p->name);
        r = -EINVAL;
    }
    /* In config order, so an earlier program gets the lower suffix; explicit names all win. */
    for (size_t i = 0; i < cfg->nprograms && r == 0; i++) {
        struct program_cfg *p = &cfg->programs[i];
        struct name_entry *base_entry, *e;
        char *base;

        if (p->name)
            continue;
        base = default_name(p->argv[0]);
        if (!base) {
            r = -ENOMEM;
            break;
        }
        base_entry = name_slot(&taken, base);
        if (!base_entry->name) {
            p->name = base;
            base_entry->name = base;
            continue;
        }
        /* Among CFG_MAX_PROGRAMS + 1 suffixes one is free (pigeonhole). */
        for (unsigned n = base_entry->next_suffix ? base_entry->next_suffix : 2;
             n <= CFG_MAX_PROGRAMS + 1; n++) {
            char candidate[CFG_NAME_MAX + 1];

            (void)snprintf(candidate, sizeof(candidate), "%s-%u", base, n);
            e = name_slot(&taken, candidate);
            if (e->name)
                continue;
            p->name = strdup(candidate);
            e->name = p->name;
            base_entry->next_suffix = n + 1;
            break;
        }
        free(base);
        if (!p->name) {
            r = -ENOMEM;
            break;
        }
    }
    free(taken.v);
    return r;
}

/* The path of programs[i].after[j] (the index j unless NONE) for an error. */
#define AFTER_WHOLE ((size_t)-1)

static void
at_after(struct schema_ctx *c, bool list_form, size_t i, size_t j)
{
    schema_at_top(c);
    if (!list_form)
        schema_push_key(c, "programs");
    schema_push_index(c, i);
    schema_push_key(c, "after");
    if (j != AFTER_WHOLE)
        schema_push_index(c, j);
}

/* "a -> b -> c -> a", shortened in the middle past what a message holds. */
static void
format_cycle(const struct config *cfg, const size_t *cycle, size_t n, char *buf, size_t size)
{
    size_t len = 0;

    buf[0] = '\0';
    for (size_t k = 0; k <= n; k++) {
        const char *name = cfg->programs[cycle[k % n]].name;
        int w;

        if (k > 0 && k < n && len + strlen(name) + 2 * CFG_NAME_MAX + 32 > size) {
            /* Room only for the end: say how many were left out. */
            w = snprintf(buf + len, size - len, " -> ... (%zu more)", n - k);
            len += w > 0 ? (size_t)w : 0;
            k = n - 1;
            continue;
        }
        w = snprintf(buf + len, size - len, "%s%s", k ? " -> " : "", name);
        if (w < 0 || (size_t)w >= size - len)
            break;
        len += (size_t)w;
    }
}

/*
 * Each `after` name to the index of the program it names, and each program
 * its level (depgraph.h). An unknown name, or a cycle, is an error at the
 * `after` that names it; a cycle's error names all of it.
 */
static int
order_programs(struct schema_ctx *c, struct config *cfg, bool list_form)
{
    struct depgraph_node *nodes = calloc(cfg->nprograms, sizeof(*nodes));
    unsigned *level = calloc(cfg->nprograms, sizeof(*level));
    size_t *cycle = calloc(cfg->nprograms, sizeof(*cycle)), ncycle = 0;
    int r = 0;

    if (!nodes || !level || !cycle) {
        r = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < cfg->nprograms; i++) {
        struct program_cfg *p = &cfg->programs[i];

        for (size_t j = 0; j < p->nafter; j++) {
            size_t k = 0;

            while (k < cfg->nprograms && strcmp(cfg->programs[k].name, p->after[j]) != 0)
                k++;
            if (k == cfg->nprograms) {
                at_after(c, list_form, i, j);
                schema_error(c, false, "unknown program \"%s\" (no program has that name)",
                             p->after[j]);
                r = -EINVAL;
            }
            p->after_index[j] = k;
        }
        nodes[i] = (struct depgraph_node){ .after = p->after_index, .nafter = p->nafter };
    }
    if (r == 0) {
        r = depgraph_levels(nodes, cfg->nprograms, level, cycle, &ncycle);
        if (r == -ELOOP) {
            char text[400];

            format_cycle(cfg, cycle, ncycle, text, sizeof(text));
            at_after(c, list_form, cycle[0], AFTER_WHOLE);
            schema_error(c, false, "dependency cycle: %s", text);
            r = -EINVAL;
        }
    }
    for (size_t i = 0; i < cfg->nprograms && r == 0; i++)
        cfg->programs[i].level = level[i];
out:
    free(nodes);
    free(level);
    free(cycle);
    return r;
}

/* The list; target: a struct config. */
static int
parse_programs(struct schema_ctx *c, const json_t *v, void *target)
{
    struct config *cfg = target;
    size_t n;
    size_t total = 0;
    int r = 0;

    if (!json_is_array(v)) {
        schema_error(c, false, "expected a list of programs, got %s", schema_kind(v));
        return -EINVAL;
    }
    n = json_array_size(v);
    if (n == 0) {
        schema_error(c, false, "no programs: expected at least one");
        return -EINVAL;
    }
    if (n > CFG_MAX_PROGRAMS) {
        schema_error(c, false, "more than %d programs", CFG_MAX_PROGRAMS);
        return -EINVAL;
    }
    cfg->programs = calloc(n, sizeof(*cfg->programs));
    if (!cfg->programs) {
        schema_error(c, false, "out of memory");
        return -ENOMEM;
    }
    cfg->nprograms = n;
    for (size_t i = 0; i < n; i++) {
        schema_push_index(c, i);
        if (parse_program(c, json_array_get(v, i), &cfg->programs[i]) < 0)
            r = -EINVAL;
        total += cfg->programs[i].max_instances;
        schema_pop(c);
    }
    if (r == 0 && total > CFG_MAX_TOTAL_INSTANCES) {
        schema_error(c, false,
                     "%zu instance slots (max_instances) in all, more than the limit of %d", total,
                     CFG_MAX_TOTAL_INSTANCES);
        r = -EINVAL;
    }
    return r;
}

/* Settings handlers: target is the struct config, or a field (an offsetof() in the table). */

static int
settings_port_range(struct schema_ctx *c, const json_t *val, void *target)
{
    struct config *cfg = target;

    if (!json_is_string(val) ||
        util_parse_port_range(json_string_value(val), &cfg->port_from, &cfg->port_to) < 0) {
        schema_error(c, false, "expected a port range \"FROM-TO\" with 1 <= FROM <= TO <= 65535");
        return -EINVAL;
    }
    return 0;
}

static int
settings_checkpoint_interval(struct schema_ctx *c, const json_t *val, void *target)
{
    return schema_duration_min(c, val, 100, "checkpoint_interval", target);
}

static int
settings_http(struct schema_ctx *c, const json_t *val, void *target)
{
    struct config *cfg = target;
    struct probe_addr addr;

    free(cfg->http);
    cfg->http = NULL;
    if (schema_string(c, val, false, &cfg->http) < 0)
        return -EINVAL;
    if (probe_parse_tcp(cfg->http, &addr) < 0) {
        schema_error(c, false,
                     "expected \"ADDR:PORT\" with a numeric address, such as \"127.0.0.1:8080\"");
        return -EINVAL;
    }
    return 0;
}

static int
settings_http_token(struct schema_ctx *c, const json_t *val, void *target)
{
    struct config *cfg = target;
    const char *problem;

    free(cfg->http_token);
    cfg->http_token = NULL;
    if (schema_string(c, val, false, &cfg->http_token) < 0)
        return -EINVAL;
    if ((problem = cfg_token_problem(cfg->http_token))) {
        schema_error(c, false, "%s", problem);
        return -EINVAL;
    }
    return 0;
}

static int
settings_control(struct schema_ctx *c, const json_t *val, void *target)
{
    struct config *cfg = target;

    free(cfg->control);
    cfg->control = NULL;
    cfg->control_off = json_is_false(val);
    if (cfg->control_off)
        return 0;
    if (!json_is_string(val)) {
        schema_error(c, false, "expected a socket path, or false for no control socket, got %s",
                     schema_kind(val));
        return -EINVAL;
    }
    return schema_string(c, val, false, &cfg->control) < 0 ? -EINVAL : 0;
}

static int
settings_max_silent(struct schema_ctx *c, const json_t *val, void *target)
{
    return schema_uint(c, val, 0, CFG_MAX_TOTAL_INSTANCES, target);
}

/* core/cfgdiff.c has one row per key of this table too. */
static const struct schema_key settings_keys[] = {
    { "programs", parse_programs, 0, SCHEMA_COUNTED }, /* required */
    { "port_range", settings_port_range, 0, 0 },
    { "dumpfile", schema_key_string, offsetof(struct config, dumpfile), 0 },
    { "checkpoint_interval", settings_checkpoint_interval,
      offsetof(struct config, checkpoint_interval_ms), 0 },
    { "adopt", schema_key_bool, offsetof(struct config, adopt), 0 },
    { "http", settings_http, 0, 0 },
    { "http_token", settings_http_token, 0, 0 },
    { "control", settings_control, 0, 0 },
    { "max_silent", settings_max_silent, offsetof(struct config, max_silent), 0 },
    { "silence", key_silence, offsetof(struct config, silence_ms), 0 },
    { "on_state_change", key_hook, offsetof(struct config, hooks[CFG_HOOK_STATE_CHANGE]), 0 },
    { "on_fatal", key_hook, offsetof(struct config, hooks[CFG_HOOK_FATAL]), 0 },
    { "hook_timeout", key_hook_timeout, offsetof(struct config, hook_timeout_ms), 0 },
    { "jobs", cfg_jobs_parse, offsetof(struct config, jobs), 0 },
};

static int
parse_settings(struct schema_ctx *c, const json_t *root, struct config *cfg)
{
    unsigned required;
    int r = schema_parse_keys(c, root, settings_keys, ARRAY_SIZE(settings_keys), 0, cfg, &required);

    if (!required) {
        schema_error(c, false, "missing \"programs\" (a list of programs)");
        r = -EINVAL;
    }
    return r;
}

/* --- jansson's syntax errors in drover's words ---------------------------------------------- */

/* jansson's message before " near '...'" starts with prefix. */
static bool
jansson_says(const json_error_t *e, const char *prefix)
{
    return strncmp(e->text, prefix, strlen(prefix)) == 0;
}

/*
 * The text jansson quotes in "... near 'TEXT'" (the token it stopped at),
 * escaped for one line; "" when it quotes nothing ("near end of file").
 */
static void
jansson_near(const json_error_t *e, char *out, size_t size)
{
    const char *p = strstr(e->text, " near '");
    size_t n;

    out[0] = '\0';
    if (!p)
        return;
    p += strlen(" near '");
    n = strlen(p);
    if (n < 2 || p[n - 1] != '\'')
        return; /* cut by jansson's 160-byte limit: better no context than half of one */
    (void)utf8_escape(p, n - 1, out, size, UTF8_ESCAPE_CONTROLS);
}

/* The byte jansson stopped at (its position counts it) is a NUL. */
static bool
stopped_at_nul(const json_error_t *e, const char *text, size_t len)
{
    return e->position >= 1 && (size_t)e->position <= len && text[e->position - 1] == '\0';
}

static bool
only_blanks(const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!strchr(" \t\r\n", text[i]) || !text[i])
            return false;
    return true;
}

/* The rules behind json_error_invalid_syntax, by the start of jansson's message. */
static const struct {
    const char *jansson, *ours;
} syntax_words[] = {
    { "unexpected newline", "a line break inside a string (write it as \\n)" },
    { "control character 0x0 ", "a NUL byte inside a string" },
    { "invalid escape",
      "an invalid escape in a string (valid: \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)" },
    { "invalid Unicode escape", "an invalid \\uXXXX escape" },
    { "invalid Unicode '", "a \\u escape of half a UTF-16 surrogate pair" },
    { "string or '}' expected", "expected a key in double quotes or '}'" },
    { "':' expected", "expected ':' after the key" },
    { "'}' expected", "expected ',' or '}'" },
    { "']' expected", "expected ',' or ']'" },
    { "invalid token",
      "not a JSON value (strings need double quotes; true, false, null are lower case)" },
    { "unexpected token", "expected a value" },
    { "'[' or '{' expected", "the document must be a list or an object" },
};

/*
 * What went wrong, for json_loadb(JSON_REJECT_DUPLICATES): one wording per
 * json_error_code it can set (and per message, for the many syntax rules
 * behind json_error_invalid_syntax). jansson's own text is kept only for
 * codes it cannot set here, so nothing is ever lost. Pure.
 */
static void
json_problem(const json_error_t *e, const char *text, size_t len, char *buf, size_t size)
{
    char near[JSON_ERROR_TEXT_LENGTH * 4];
    const char *what = NULL;
    unsigned byte;

    jansson_near(e, near, sizeof(near));
    switch (json_error_code(e)) {
    case json_error_end_of_input_expected:
        if (!near[0] && stopped_at_nul(e, text, len)) {
            (void)snprintf(buf, size, "a NUL byte after the document");
            return;
        }
        what = "text after the document";
        break;
    case json_error_premature_end_of_input:
        if (stopped_at_nul(e, text, len)) {
            (void)snprintf(buf, size, "a NUL byte inside the document");
            return;
        }
        if (only_blanks(text, len)) {
            (void)snprintf(buf, size, "the configuration is empty (expected a list or an object)");
            return;
        }
        if (jansson_says(e, "premature end of input"))
            what = "the document ends inside a string";
        else if (jansson_says(e, "']' expected"))
            what = "the document ends too early: a ']' is missing";
        else if (jansson_says(e, "'}' expected"))
            what = "the document ends too early: a '}' is missing";
        else
            what = "the document ends too early";
        break;
    case json_error_invalid_utf8:
        if (sscanf(e->text, "unable to decode byte 0x%x", &byte) == 1) {
            (void)snprintf(buf, size, "not valid UTF-8: byte 0x%02x%s%s%s", byte,
                           near[0] ? " (after '" : "", near, near[0] ? "')" : "");
            return;
        }
        what = "not valid UTF-8";
        break;
    case json_error_null_character:
        what = "strings may not contain \\u0000";
        break;
    case json_error_null_byte_in_key:
        what = "keys may not contain \\u0000";
        break;
    case json_error_duplicate_key:
        if (near[0]) {
            (void)snprintf(buf, size, "duplicate key %s", near);
            return;
        }
        what = "duplicate key";
        break;
    case json_error_numeric_overflow:
        what = jansson_says(e, "too big integer") ? "an integer too large for 64 bits"
                                                  : "a number too large for a double";
        break;
    case json_error_stack_overflow:
        what = "lists and objects nested too deeply";
        break;
    case json_error_out_of_memory:
        what = "out of memory";
        break;
    case json_error_invalid_syntax:
        if (sscanf(e->text, "control character 0x%x", &byte) == 1 && byte != 0) {
            (void)snprintf(buf, size,
                           "control character 0x%02x inside a string (write it as \\u%04x)%s%s%s",
                           byte, byte, near[0] ? " (near '" : "", near, near[0] ? "')" : "");
            return;
        }
        if (jansson_says(e, "'[' or '{' expected") && len >= 3 &&
            memcmp(text, "\xef\xbb\xbf", 3) == 0) {
            what = "a byte order mark before the document (save it as UTF-8 without one)";
            near[0] = '\0'; /* the mark itself: invisible */
            break;
        }
        for (size_t i = 0; i < ARRAY_SIZE(syntax_words) && !what; i++)
            if (jansson_says(e, syntax_words[i].jansson))
                what = syntax_words[i].ours;
        break;
    case json_error_unknown:
    case json_error_cannot_open_file:
    case json_error_invalid_argument:
    case json_error_invalid_format:
    case json_error_wrong_type:
    case json_error_null_value:
    case json_error_item_not_found:
    case json_error_index_out_of_range:
        break; /* not set by json_loadb() on a buffer: jansson's text below */
    }
    if (!what) {
        char own[JSON_ERROR_TEXT_LENGTH * 4];
        (void)utf8_escape(e->text, strlen(e->text), own, sizeof(own), UTF8_ESCAPE_CONTROLS);
        (void)snprintf(buf, size, "%s", own[0] ? own : "cannot parse it");
        return;
    }
    (void)snprintf(buf, size, "%s%s%s%s", what, near[0] ? " (near '" : "", near,
                   near[0] ? "')" : "");
}

int
cfg_parse(const char *text, size_t len, const char *source, struct config *ret,
          struct cfg_errors *errs)
{
    struct schema_ctx c = { .text = text, .len = len, .source = source, .errs = errs };
    struct config cfg = { .checkpoint_interval_ms = CFG_DEFAULT_CHECKPOINT_INTERVAL_MS,
                          .silence_ms = CFG_DEFAULT_SILENCE_MS,
                          .hook_timeout_ms = CFG_DEFAULT_HOOK_TIMEOUT_MS };
    json_error_t jerr;
    json_t *root;
    int r;

    cfg_jobs_defaults(&cfg.jobs);
    if (len > CFG_MAX_BYTES) {
        cfg_error(errs, "%s: configuration is larger than %d bytes", source, CFG_MAX_BYTES);
        return -EINVAL;
    }
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        char problem[2 * JSON_ERROR_TEXT_LENGTH * 4];

        json_problem(&jerr, text, len, problem, sizeof(problem));
        /* jansson says column 0 before the first character (an empty file). */
        cfg_error(errs, "%s:%d:%d: invalid JSON: %s", source, jerr.line,
                  jerr.column > 0 ? jerr.column : 1, problem);
        return -EINVAL;
    }
    if (json_is_array(root)) {
        r = parse_programs(&c, root, &cfg);
        if (r == 0)
            r = assign_names(&c, &cfg, true);
        if (r == 0)
            r = order_programs(&c, &cfg, true);
    } else {
        r = parse_settings(&c, root, &cfg);
        if (r == 0)
            r = assign_names(&c, &cfg, false);
        if (r == 0)
            r = order_programs(&c, &cfg, false);
    }
    /* After the names: a program without `types` takes its name, perhaps a default one. */
    if (r == 0)
        r = cfg_jobs_check(&c, &cfg);
    json_decref(root);
    if (r < 0 || c.nerrors > 0) {
        if (r == -ENOMEM && c.nerrors == 0)
            cfg_error(errs, "%s: out of memory", source);
        cfg_done(&cfg);
        return -EINVAL;
    }
    *ret = cfg;
    return 0;
}

int
cfg_finish(const struct config *cfg, struct cfg_errors *errs)
{
    int r = 0;

    for (size_t i = 0; i < cfg->nprograms; i++) {
        const struct program_cfg *p = &cfg->programs[i];
        if (p->uses_port && !cfg->port_from) {
            cfg_error(errs,
                      "program \"%s\" uses {{port}} but no port range is set "
                      "(use --port-range=FROM-TO or \"port_range\")",
                      p->name);
            r = -EINVAL;
        }
    }
    if (cfg->control && strlen(cfg->control) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        cfg_error(errs, "control socket path \"%s\" is longer than %zu bytes", cfg->control,
                  sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
        r = -EINVAL;
    }
    if (cfg->adopt && !cfg->dumpfile) {
        cfg_error(errs, "adopting needs a dumpfile to find the survivors in (use --dumpfile=PATH)");
        r = -EINVAL;
    }
    return r;
}

size_t
cfg_total_slots(const struct config *cfg)
{
    size_t total = 0;

    for (size_t i = 0; i < cfg->nprograms; i++)
        total += cfg->programs[i].max_instances;
    return total;
}

const char *
cfg_token_problem(const char *token)
{
    size_t len = strlen(token);

    if (len < CFG_TOKEN_MIN || len > CFG_TOKEN_MAX)
        return "a bearer token has 16 to 256 characters";
    /* RFC 6750 b64token: what can follow "Bearer " unquoted. */
    if (strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/=") !=
        len)
        return "a bearer token uses letters, digits and -._~+/= only";
    return NULL;
}

size_t
cfg_total_instances(const struct config *cfg)
{
    size_t total = 0;

    for (size_t i = 0; i < cfg->nprograms; i++)
        total += cfg->programs[i].instances;
    return total;
}

static void
command_done(struct cfg_command *cmd)
{
    for (size_t i = 0; cmd->argv && i < cmd->argc; i++)
        free(cmd->argv[i]);
    free(cmd->argv);
    *cmd = (struct cfg_command){ 0 };
}

void
cfg_identity_done(struct cfg_identity *id)
{
    free(id->user);
    free(id->group);
    free(id->user_at);
    free(id->group_at);
    free(id->groups);
    for (int k = 0; k < CFG_ENV__MAX; k++)
        free(id->env[k]);
    *id = (struct cfg_identity){ 0 };
}

static void
program_done(struct program_cfg *p)
{
    for (int k = 0; k < CFG_HOOK__MAX; k++)
        command_done(&p->hooks[k]);
    free(p->name);
    if (p->argv)
        for (size_t i = 0; i < p->argc; i++)
            free(p->argv[i]);
    free(p->argv);
    free(p->input);
    free(p->output);
    free(p->error);
    for (int k = 0; k < CFG_STREAM__MAX; k++)
        free(p->capture[k].file);
    if (p->env)
        for (size_t i = 0; i < p->nenv; i++) {
            free(p->env[i].key);
            free(p->env[i].value);
        }
    free(p->env);
    free(p->cwd);
    cfg_identity_done(&p->identity);
    if (p->after)
        for (size_t i = 0; i < p->nafter; i++)
            free(p->after[i]);
    free(p->after);
    free(p->after_index);
    probe_cfg_done(&p->ready_probe);
    probe_cfg_done(&p->health);
    cfg_program_jobs_done(&p->jobs);
}

void
cfg_done(struct config *cfg)
{
    for (size_t i = 0; i < cfg->nprograms; i++)
        program_done(&cfg->programs[i]);
    free(cfg->programs);
    free(cfg->dumpfile);
    free(cfg->http);
    free(cfg->http_token);
    free(cfg->control);
    for (int k = 0; k < CFG_HOOK__MAX; k++)
        command_done(&cfg->hooks[k]);
    cfg_jobs_done(&cfg->jobs);
    *cfg = (struct config){ 0 };
}

const struct cfg_command *
cfg_hook(const struct config *cfg, const struct program_cfg *p, enum cfg_hook kind)
{
    const struct cfg_command *cmd = p->hooks[kind].given ? &p->hooks[kind] : &cfg->hooks[kind];

    return cmd->argc ? cmd : NULL;
}

int64_t
cfg_hook_timeout_ms(const struct config *cfg, const struct program_cfg *p)
{
    return p->hook_timeout_ms >= 0 ? p->hook_timeout_ms : cfg->hook_timeout_ms;
}

const char *
cfg_hook_name(enum cfg_hook kind)
{
    return kind == CFG_HOOK_FATAL ? "on_fatal" : "on_state_change";
}

const char *
cfg_program_key(size_t i)
{
    return i < ARRAY_SIZE(program_keys) ? program_keys[i].name : NULL;
}

const char *
cfg_settings_key(size_t i)
{
    return i < ARRAY_SIZE(settings_keys) ? settings_keys[i].name : NULL;
}

bool
cfg_name_valid(const char *name)
{
    return valid_name(name);
}

/*
 * cli_main: `drover COMMAND ...`: argv, requests, output, exit codes. See cli_main.h.
 */
#include "cli/cli_main.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "core/cfg.h"
#include "core/utf8.h"
#include "core/util.h"
#include "os/rundir.h"
#include "cli/cli.h"
#include "cli/cli_io.h"
#include "cli/cli_jobs.h"
#include "cli/cli_render.h"

#define MAX_POSITIONAL 8
/* Long-poll wait of `events --follow`, in seconds (the daemon allows up to 60). */
#define FOLLOW_WAIT_S 30

enum {
    OPT_JSON = 1 << 0,
    OPT_FOLLOW = 1 << 1,
    OPT_SINCE = 1 << 2,
    OPT_MAX_SILENT = 1 << 3,
    OPT_SILENCE = 1 << 4,
    OPT_WAIT = 1 << 5,
    OPT_DRY_RUN = 1 << 6,
    OPT_LINES = 1 << 7,
    OPT_STREAM = 1 << 8,
    OPT_COUNT = 9, /* the options above: option_names has one entry each */
};

struct args {
    const char *control;
    const char *since, *max_silent, *silence;
    const char *lines, *stream; /* logs: -n N; "stdout", "stderr" or "both" */
    bool help;
    unsigned given;                      /* OPT_* seen */
    const char *first_option[OPT_COUNT]; /* as typed, by option_names index */
    const char *pos[MAX_POSITIONAL];
    int npos;
    char label[256]; /* "stop web": how error lines name the command */
    const char *sock;
};

struct verb {
    const char *name;
    const char *synopsis;
    const char *summary; /* for the command list */
    const char *help;
    int min_args, max_args; /* after the verb */
    unsigned opts;
    int (*run)(const struct args *a);
};

static int run_status(const struct args *a);
static int run_action(const struct args *a);
static int run_scale(const struct args *a);
static int run_autoscale(const struct args *a);
static int run_signal(const struct args *a);
static int run_events(const struct args *a);
static int run_health(const struct args *a);
static int run_shutdown(const struct args *a);
static int run_reload(const struct args *a);
static int run_apply(const struct args *a);
static int run_logs(const struct args *a);

static const struct verb verbs[] = {
    { "status", "status [NAME] [--json]", "every instance, as a table (or JSON)",
      "Show every instance (or NAME's): state, pid, port, uptime, restarts, last exit and\n"
      "status text. --json prints the daemon's JSON answer instead of the table.\n",
      0, 1, OPT_JSON, run_status },
    { "start", "start NAME|all", "start instances",
      "Start NAME's instances; prints each one's new state.\n", 1, 1, 0, run_action },
    { "stop", "stop NAME|all", "stop instances",
      "Stop NAME's instances; prints each one's new state.\n", 1, 1, 0, run_action },
    { "restart", "restart NAME|all", "restart instances",
      "Restart NAME's instances; prints each one's new state.\n", 1, 1, 0, run_action },
    { "scale", "scale PROGRAM N", "run N instances of PROGRAM",
      "Run N instances of PROGRAM. A program with jobs.autoscale keeps N until\n"
      "`autoscale PROGRAM on`.\n",
      2, 2, 0, run_scale },
    { "autoscale", "autoscale PROGRAM on", "let PROGRAM's queue set its count again",
      "After a manual scale, PROGRAM's job queue sets its instance count again\n"
      "(jobs.autoscale); prints its instances.\n",
      2, 2, 0, run_autoscale },
    { "signal", "signal NAME SIG", "send a signal to instances",
      "Send SIG (HUP, SIGHUP, 1, ...) to NAME's instances; prints each one's state.\n", 2, 2, 0,
      run_signal },
    { "events", "events [--follow] [--since SEQ]", "state changes, or wait for more",
      "Print the state changes the daemon keeps, one per line, oldest first. --since SEQ\n"
      "starts at sequence number SEQ; --follow then waits for more until SIGINT or SIGTERM.\n",
      0, 0, OPT_FOLLOW | OPT_SINCE, run_events },
    { "logs", "logs NAME [-n N] [-f] [--stdout|--stderr|--both]", "captured output's last lines",
      "Print the last N (default 100) lines drover keeps of NAME's captured output (a program,\n"
      "its lines merged in the order they were read and each after \"name:index | \", or\n"
      "PROGRAM:INDEX), stdout and stderr both unless --stdout or --stderr; -f then prints\n"
      "new lines as they come until SIGINT or SIGTERM. Bytes that are not UTF-8 show as \\xHH.\n",
      1, 1, OPT_LINES | OPT_FOLLOW | OPT_STREAM, run_logs },
    { "health", "health [--max-silent X] [--silence T] [PROGRAM]",
      "exit 0 healthy, 1 unhealthy: a probe",
      "Judge the pool (or PROGRAM): an instance is unhealthy when silent beyond T, failing\n"
      "its checks, or not running when it should; healthy when at most X are unhealthy.\n"
      "Defaults are the configuration's. Exit 0 healthy, 1 unhealthy: an exec probe.\n",
      0, 1, OPT_MAX_SILENT | OPT_SILENCE, run_health },
    { "shutdown", "shutdown [--wait]", "stop everything; the daemon exits",
      "Stop every instance; then the daemon exits. --wait returns only once it has exited\n"
      "(SIGINT or SIGTERM stops waiting, exit 1).\n",
      0, 0, OPT_WAIT, run_shutdown },
    { "reload", "reload [--dry-run]", "re-read the configuration file and apply it",
      "Re-read the configuration file the daemon was started with and carry out the plan:\n"
      "added programs start, removed ones stop, a changed count scales, other changes\n"
      "restart one instance at a time. Prints the plan; --dry-run changes nothing.\n"
      "(The same as SIGHUP. A configuration read from stdin cannot be re-read: use apply.)\n",
      0, 0, OPT_DRY_RUN, run_reload },
    { "apply", "apply [--dry-run] FILE|-", "send a new configuration and apply it",
      "Send the configuration in FILE (- : standard input) to the daemon, which carries out\n"
      "the plan as for reload. Prints the plan; --dry-run changes nothing. An invalid\n"
      "configuration changes nothing: its errors are printed, exit 2.\n",
      1, 1, OPT_DRY_RUN, run_apply },
    { "help", "help [COMMAND]", "this text, or one command's", "This text, or COMMAND's.\n", 0, 1,
      0, NULL },
};

static const struct {
    unsigned bit;
    const char *name;
} option_names[] = {
    { OPT_JSON, "--json" },       { OPT_FOLLOW, "--follow" },
    { OPT_SINCE, "--since" },     { OPT_MAX_SILENT, "--max-silent" },
    { OPT_SILENCE, "--silence" }, { OPT_WAIT, "--wait" },
    { OPT_DRY_RUN, "--dry-run" }, { OPT_LINES, "-n" },
    { OPT_STREAM, "--stdout" },
};
_Static_assert(ARRAY_SIZE(option_names) == OPT_COUNT, "one name per option, first_option fits");

static const struct verb *
find_verb(const char *name)
{
    for (size_t i = 0; name && i < ARRAY_SIZE(verbs); i++)
        if (strcmp(verbs[i].name, name) == 0)
            return &verbs[i];
    return NULL;
}

bool
cli_is_verb(const char *arg)
{
    return find_verb(arg) != NULL || cli_jobs_is_verb(arg);
}

bool
cli_is_command(int argc, char **argv)
{
    if (argc > 1 && cli_is_verb(argv[1]))
        return true;
    if (argc > 2 && strncmp(argv[1], "--control=", 10) == 0 && cli_is_verb(argv[2]))
        return true;
    return argc > 3 && strcmp(argv[1], "--control") == 0 && cli_is_verb(argv[3]);
}

static void
usage(FILE *f)
{
    fprintf(f, "usage: drover [--control PATH] COMMAND [ARGS]\n\n");
    for (size_t i = 0; i < ARRAY_SIZE(verbs); i++) {
        if (strlen(verbs[i].synopsis) <= 32)
            fprintf(f, "  %-32s  %s\n", verbs[i].synopsis, verbs[i].summary);
        else
            fprintf(f, "  %s\n  %-32s  %s\n", verbs[i].synopsis, "", verbs[i].summary);
    }
    cli_jobs_usage(f);
    fprintf(f, "\n"
               "NAME is PROGRAM, PROGRAM:INDEX or all. `drover help COMMAND` tells more.\n"
               "--control PATH: the daemon's control socket; default $DROVER_CONTROL, else\n"
               "/run/drover.sock for root, else $XDG_RUNTIME_DIR/drover.sock, else\n"
               "/tmp/drover-UID/drover.sock.\n"
               "Exit codes: 0 ok, 1 refused or failed (health: unhealthy), 2 usage error or\n"
               "unknown name, 3 daemon unreachable, 124 a job wait timed out. See docs/cli.md.\n");
}

static void
verb_usage(FILE *f, const struct verb *v)
{
    fprintf(f, "usage: drover [--control PATH] %s\n\n%s", v->synopsis, v->help);
    if (v->min_args > 0 && strstr(v->synopsis, "NAME"))
        fprintf(f, "NAME is %s.\n",
                v->run == run_logs ? "PROGRAM or PROGRAM:INDEX" : "PROGRAM, PROGRAM:INDEX or all");
}

static int usage_error(const struct args *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
usage_error(const struct args *a, const char *fmt, ...)
{
    const char *verb = a->npos > 0 && find_verb(a->pos[0]) ? a->pos[0] : NULL;
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = cli_usage_error(verb, verb, fmt, ap);
    va_end(ap);
    return rc;
}

/* Writes text to stdout and flushes; 1 (with a message) when stdout fails. */
static int
emit(const char *text)
{
    return cli_emit(text, strlen(text));
}

static const char *
option_value(int argc, char **argv, int *i, const char *arg, const char *name)
{
    size_t n = strlen(name);

    if (strncmp(arg, name, n) == 0 && arg[n] == '=')
        return arg + n + 1;
    if (strcmp(arg, name) == 0 && *i + 1 < argc)
        return argv[++*i];
    return NULL;
}

static bool
is_option(const char *arg, const char *name)
{
    size_t n = strlen(name);

    return strncmp(arg, name, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

static void
mark(struct args *a, unsigned bit, const char *arg)
{
    for (size_t i = 0; i < ARRAY_SIZE(option_names); i++)
        if (option_names[i].bit == bit && !a->first_option[i])
            a->first_option[i] = arg;
    a->given |= bit;
}

/* Options may come anywhere, before or after the verb; "--" ends them. */
static int
parse_args(int argc, char **argv, struct args *a)
{
    bool options = true;
    int extra = 0;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *v;

        if (options && strcmp(arg, "--") == 0) {
            options = false;
        } else if (options && arg[0] == '-' && arg[1] != '\0') {
            if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
                a->help = true;
            } else if (strcmp(arg, "--json") == 0) {
                mark(a, OPT_JSON, arg);
            } else if (strcmp(arg, "--wait") == 0) {
                mark(a, OPT_WAIT, arg);
            } else if (strcmp(arg, "--dry-run") == 0) {
                mark(a, OPT_DRY_RUN, arg);
            } else if (strcmp(arg, "-f") == 0 || strcmp(arg, "--follow") == 0) {
                mark(a, OPT_FOLLOW, arg);
            } else if (strcmp(arg, "--stdout") == 0 || strcmp(arg, "--stderr") == 0 ||
                       strcmp(arg, "--both") == 0) {
                if (a->stream && strcmp(a->stream, arg + 2) != 0)
                    return usage_error(a, "--stdout, --stderr and --both exclude each other");
                a->stream = arg + 2;
                mark(a, OPT_STREAM, arg);
            } else if (strcmp(arg, "-n") == 0 || is_option(arg, "--lines")) {
                if (!(v = option_value(argc, argv, &i, arg, arg[1] == 'n' ? "-n" : "--lines")))
                    return usage_error(a, "option '-n' needs a number of lines");
                a->lines = v;
                mark(a, OPT_LINES, "-n");
            } else if (is_option(arg, "--control")) {
                if (!(v = option_value(argc, argv, &i, arg, "--control")) || !*v)
                    return usage_error(a, "option '--control' needs a socket path");
                a->control = v;
            } else if (is_option(arg, "--since")) {
                if (!(v = option_value(argc, argv, &i, arg, "--since")))
                    return usage_error(a, "option '--since' needs a sequence number");
                a->since = v;
                mark(a, OPT_SINCE, "--since");
            } else if (is_option(arg, "--max-silent")) {
                if (!(v = option_value(argc, argv, &i, arg, "--max-silent")))
                    return usage_error(a, "option '--max-silent' needs a number");
                a->max_silent = v;
                mark(a, OPT_MAX_SILENT, "--max-silent");
            } else if (is_option(arg, "--silence")) {
                if (!(v = option_value(argc, argv, &i, arg, "--silence")))
                    return usage_error(a, "option '--silence' needs a duration");
                a->silence = v;
                mark(a, OPT_SILENCE, "--silence");
            } else {
                return usage_error(a, "unknown option '%s'", arg);
            }
        } else if (a->npos < MAX_POSITIONAL) {
            a->pos[a->npos++] = arg;
        } else {
            extra++;
        }
    }
    return extra ? usage_error(a, "too many arguments") : 0;
}

/*
 * PROGRAM or PROGRAM:INDEX, with PROGRAM a name a config may give (so what
 * no drover can know is refused here, exit 2, before any request): the
 * program into program (len bytes, at least CFG_NAME_MAX + 1) and
 * *ret_index (-1: none).
 */
static bool
program_name(const char *name, char *program, size_t len, long *ret_index)
{
    return cli_split_name(name, program, len, ret_index) == 0 && cfg_name_valid(program);
}

/* NAME: "all", PROGRAM or PROGRAM:INDEX. */
static bool
valid_name(const char *name)
{
    char program[CFG_NAME_MAX + 1];
    long index;

    return strcmp(name, "all") == 0 || program_name(name, program, sizeof(program), &index);
}

/* The usage error for a NAME (or PROGRAM) that is not one (usage_error() escapes it): exit 2. */
static int
bad_name(const struct args *a, const char *what, const char *name, const char *expected)
{
    return usage_error(a,
                       "bad %s '%s': not a valid name: expected %s (a program name has 1 to %d "
                       "letters, digits, '_', '.' or '-')",
                       what, name, expected, CFG_NAME_MAX);
}

/*
 * A PROGRAM argument (scale, autoscale): a program name, not "all" nor
 * PROGRAM:INDEX, into program (len bytes, at least CFG_NAME_MAX + 1).
 * Returns 0, or the usage error's exit code.
 */
static int
program_arg(const struct args *a, const char *arg, char *program, size_t len)
{
    long index;

    if (!program_name(arg, program, len, &index))
        return bad_name(a, "PROGRAM", arg, "a program name");
    if (strcmp(arg, "all") == 0 || index >= 0)
        return usage_error(a, "bad PROGRAM '%s': expected a program name", arg);
    return 0;
}

/* One exchange; on failure prints one line and returns the exit code (or -EINTR). */
static int
exchange(const struct args *a, const char *method, const char *target,
         const struct cli_request_opts *o, struct cli_response *res)
{
    char err[CLI_ERR_MAX];
    int r = cli_request(a->sock, method, target, o, res, err, sizeof(err));

    if (r == 0 || r == -EINTR)
        return r;
    if (cli_unreachable(r)) {
        fprintf(stderr, "drover: %s\n", err);
        return CLI_EXIT_UNREACHABLE;
    }
    fprintf(stderr, "drover: %s: %s\n", a->label, err);
    return CLI_EXIT_FAILED;
}

/* An error answer: one line with the daemon's reason; 2 for 400/404 (what was typed), else 1. */
static int
answer_error(const struct args *a, const struct cli_response *res)
{
    char msg[CLI_ERR_MAX];

    cli_error_text(res->code, res->body, res->body_len, msg, sizeof(msg));
    fprintf(stderr, "drover: %s: %s\n", a->label, msg);
    return res->code == 400 || res->code == 404 ? CLI_EXIT_USAGE : CLI_EXIT_FAILED;
}

/* A GET that must answer 200: 0 with *res to release, or the exit code (-EINTR), said. */
static int
get_ok(const struct args *a, const char *target, const struct cli_request_opts *o,
       struct cli_response *res)
{
    int rc = exchange(a, "GET", target, o, res);

    if (rc != 0)
        return rc;
    if (res->code != 200) {
        rc = answer_error(a, res);
        cli_response_done(res);
        return rc;
    }
    return 0;
}

/* A rendered answer to stdout, or the renderer's error: exit 0 or 1. */
static int
emit_rendered(const struct args *a, char *text, const char *err)
{
    int rc;

    if (!text) {
        fprintf(stderr, "drover: %s: %s\n", a->label, err);
        return CLI_EXIT_FAILED;
    }
    rc = emit(text);
    free(text);
    return rc;
}

static int
request(const struct args *a, const char *method, const char *target, struct cli_response *res)
{
    return exchange(a, method, target, &(struct cli_request_opts){ .timeout_ms = CLI_TIMEOUT_MS },
                    res);
}

static int
run_status(const struct args *a)
{
    const char *name = a->npos > 1 && strcmp(a->pos[1], "all") != 0 ? a->pos[1] : NULL;
    char program[CFG_NAME_MAX + 1], enc[512], target[600], err[CLI_ERR_MAX];
    struct cli_response res = { 0 };
    long index = -1;
    int rc;

    err[0] = '\0';
    if (name && !program_name(name, program, sizeof(program), &index))
        return bad_name(a, "NAME", name, "PROGRAM, PROGRAM:INDEX or all");
    if (name && !cli_url_encode(program, enc, sizeof(enc)))
        return usage_error(a, "NAME too long");
    (void)snprintf(target, sizeof(target), "/status%s%s", name ? "/" : "", name ? enc : "");
    rc = request(a, "GET", target, &res);
    if (rc != 0)
        return rc;
    if (res.code != 200) {
        rc = answer_error(a, &res);
    } else if (!(a->given & OPT_JSON)) {
        rc = emit_rendered(a, cli_render_status(res.body, res.body_len, name, err, sizeof(err)),
                           err);
    } else if (index >= 0) {
        /* the program's answer reduced to the one instance, same shape */
        rc = emit_rendered(
            a, cli_filter_status_json(res.body, res.body_len, name, err, sizeof(err)), err);
        if (rc == 0)
            rc = emit("\n");
    } else {
        rc = emit(res.body);
        if (rc == 0 && (res.body_len == 0 || res.body[res.body_len - 1] != '\n'))
            rc = emit("\n");
    }
    /* As a 404 from the daemon for stop/start: what was typed names nothing (exit 2). */
    if (rc == CLI_EXIT_FAILED && index >= 0 && strncmp(err, "no such instance", 16) == 0)
        rc = CLI_EXIT_USAGE;
    cli_response_done(&res);
    return rc;
}

/* POST target; a 2xx answer is rendered as one line per instance. */
static int
post_action(const struct args *a, const char *target)
{
    struct cli_response res = { 0 };
    char err[CLI_ERR_MAX];
    int rc = request(a, "POST", target, &res);

    if (rc != 0)
        return rc;
    if (res.code / 100 != 2)
        rc = answer_error(a, &res);
    else
        rc = emit_rendered(a, cli_render_action(res.body, res.body_len, err, sizeof(err)), err);
    cli_response_done(&res);
    return rc;
}

static int
run_action(const struct args *a)
{
    char enc[512], target[600];

    if (!valid_name(a->pos[1]))
        return bad_name(a, "NAME", a->pos[1], "PROGRAM, PROGRAM:INDEX or all");
    if (!cli_url_encode(a->pos[1], enc, sizeof(enc)))
        return usage_error(a, "NAME too long");
    (void)snprintf(target, sizeof(target), "/%s/%s", a->pos[0], enc);
    return post_action(a, target);
}

static int
run_scale(const struct args *a)
{
    const char *n = a->pos[2];
    char program[CFG_NAME_MAX + 1], enc[512], target[600];
    int rc;

    if ((rc = program_arg(a, a->pos[1], program, sizeof(program))) != 0)
        return rc;
    if (!*n || strspn(n, "0123456789") != strlen(n) || strlen(n) > 7)
        return usage_error(a, "bad instance count '%s': expected a whole number", n);
    if (!cli_url_encode(program, enc, sizeof(enc)))
        return usage_error(a, "PROGRAM too long");
    (void)snprintf(target, sizeof(target), "/scale/%s?instances=%s", enc, n);
    return post_action(a, target);
}

static int
run_autoscale(const struct args *a)
{
    char program[CFG_NAME_MAX + 1], enc[512], target[600];
    int rc;

    if ((rc = program_arg(a, a->pos[1], program, sizeof(program))) != 0)
        return rc;
    if (strcmp(a->pos[2], "on") != 0)
        return usage_error(a, "bad '%s': expected on (a manual scale turns it off)", a->pos[2]);
    if (!cli_url_encode(program, enc, sizeof(enc)))
        return usage_error(a, "PROGRAM too long");
    (void)snprintf(target, sizeof(target), "/autoscale/%s", enc);
    return post_action(a, target);
}

/* A plan answer (reload, apply): the plan; a refused configuration: its errors, exit 2. */
static int
plan_answer(const struct args *a, const struct cli_response *res)
{
    char err[CLI_ERR_MAX];
    char *text;

    if (res->code == 200)
        return emit_rendered(a, cli_render_plan(res->body, res->body_len, err, sizeof(err)), err);
    if (res->code == 400 &&
        (text = cli_render_config_errors(res->body, res->body_len, err, sizeof(err)))) {
        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
            fprintf(stderr, "drover: %s\n", line);
        free(text);
    }
    return answer_error(a, res);
}

static int
run_reload(const struct args *a)
{
    struct cli_response res = { 0 };
    int rc = request(a, "POST", a->given & OPT_DRY_RUN ? "/reload?dry_run=1" : "/reload", &res);

    if (rc != 0)
        return rc;
    rc = plan_answer(a, &res);
    cli_response_done(&res);
    return rc;
}

/* Reads FILE (or stdin for "-"), at most CFG_MAX_BYTES + 1 bytes (the daemon says if too big). */
static int
read_input(const char *path, char **ret_text, size_t *ret_len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
    size_t cap = CFG_MAX_BYTES + 2, len;
    char *text;

    if (!f)
        return -errno;
    if (!(text = malloc(cap))) {
        if (f != stdin)
            (void)fclose(f);
        return -ENOMEM;
    }
    len = fread(text, 1, cap - 1, f);
    if (ferror(f)) {
        int r = -EIO;
        free(text);
        if (f != stdin)
            (void)fclose(f);
        return r;
    }
    if (f != stdin)
        (void)fclose(f);
    text[len] = '\0';
    *ret_text = text;
    *ret_len = len;
    return 0;
}

static int
run_apply(const struct args *a)
{
    const char *path = a->pos[1];
    const char *source = strcmp(path, "-") == 0 ? "<stdin>" : path;
    char enc[1024], target[1200];
    struct cli_response res = { 0 };
    char *text = NULL;
    size_t len = 0;
    int rc;

    if ((rc = read_input(path, &text, &len)) < 0) {
        fprintf(stderr, "drover: %s: cannot read %s: %s\n", a->label, source, strerror(-rc));
        return CLI_EXIT_USAGE;
    }
    if (strlen(source) > 256 || !cli_url_encode(source, enc, sizeof(enc))) {
        free(text);
        return usage_error(a, "FILE name too long");
    }
    (void)snprintf(target, sizeof(target), "/apply?source=%s%s", enc,
                   a->given & OPT_DRY_RUN ? "&dry_run=1" : "");
    rc = exchange(
        a, "POST", target,
        &(struct cli_request_opts){ .timeout_ms = CLI_TIMEOUT_MS, .body = text, .body_len = len },
        &res);
    free(text);
    if (rc != 0)
        return rc;
    rc = plan_answer(a, &res);
    cli_response_done(&res);
    return rc;
}

static int
run_signal(const struct args *a)
{
    char enc[512], sig_enc[64], target[700];
    int sig;

    if (!valid_name(a->pos[1]))
        return bad_name(a, "NAME", a->pos[1], "PROGRAM, PROGRAM:INDEX or all");
    if (util_parse_signal(a->pos[2], &sig) < 0)
        return usage_error(a, "bad signal '%s': expected a name (HUP, SIGHUP) or a number",
                           a->pos[2]);
    if (!cli_url_encode(a->pos[1], enc, sizeof(enc)) ||
        !cli_url_encode(util_signal_name(sig), sig_enc, sizeof(sig_enc)))
        return usage_error(a, "NAME too long");
    (void)snprintf(target, sizeof(target), "/signal/%s?signal=%s", enc, sig_enc);
    return post_action(a, target);
}

static int
run_shutdown(const struct args *a)
{
    struct cli_request_opts o = { .timeout_ms = CLI_TIMEOUT_MS, .want_pidfd = true };
    struct cli_response res = { .peer_pidfd = -1 };
    struct pollfd p = { .events = POLLIN };
    struct cli_stop_signals st;
    char err[CLI_ERR_MAX];
    int rc, r;

    if (!(a->given & OPT_WAIT))
        return post_action(a, "/shutdown");
    /* The daemon's pidfd is opened on connect, while it surely runs: no reused pid is awaited. */
    if ((rc = exchange(a, "POST", "/shutdown", &o, &res)) != 0)
        return rc;
    if (res.code == 409) {
        /* Already shutting down (say a second `shutdown --wait`): wait all the same. */
        printf("already shutting down\n");
        rc = CLI_EXIT_OK;
    } else if (res.code / 100 != 2) {
        rc = answer_error(a, &res);
        cli_response_done(&res);
        return rc;
    } else {
        rc = emit_rendered(a, cli_render_action(res.body, res.body_len, err, sizeof(err)), err);
    }
    /* No deadline: a shutdown takes as long as the slowest stop_timeout (as systemctl stop). */
    cli_stop_signals_catch(&st);
    p.fd = res.peer_pidfd;
    r = ppoll(&p, 1, NULL, &st.wait_mask); /* EINTR: a stop signal, the only one let through */
    cli_stop_signals_restore(&st);
    if (r > 0 && rc == CLI_EXIT_OK)
        printf("daemon exited (pid %ld)\n", (long)res.peer_pid);
    else if (r <= 0) {
        fprintf(stderr,
                "drover: %s: stopped waiting; the daemon (pid %ld) is still shutting down\n",
                a->label, (long)res.peer_pid);
        rc = CLI_EXIT_FAILED;
    }
    cli_response_done(&res);
    return rc;
}

/*
 * One /events exchange: prints the events, warns on a gap. Returns 0 and
 * *next, -EINTR when a stop signal arrived, or an exit code.
 */
static int
events_once(const struct args *a, uint64_t since, int wait_s, const sigset_t *mask, uint64_t *next)
{
    struct cli_response res = { 0 };
    char target[96], err[CLI_ERR_MAX], *text;
    bool gap = false;
    int rc;

    if (wait_s > 0)
        (void)snprintf(target, sizeof(target), "/events?since=%llu&wait=%d",
                       (unsigned long long)since, wait_s);
    else
        (void)snprintf(target, sizeof(target), "/events?since=%llu", (unsigned long long)since);
    rc = get_ok(a, target,
                &(struct cli_request_opts){ .timeout_ms = CLI_TIMEOUT_MS + wait_s * 1000,
                                            .wait_mask = mask },
                &res);
    if (rc != 0)
        return rc;
    text = cli_render_events(res.body, res.body_len, next, &gap, err, sizeof(err));
    cli_response_done(&res);
    if (text && gap) {
        (void)fflush(stdout);
        fprintf(stderr,
                "drover: events: warning: fell behind: changes from seq %llu up to the oldest "
                "kept were dropped; 'drover status' shows the whole state\n",
                (unsigned long long)since);
    }
    return emit_rendered(a, text, err);
}

static int
run_events(const struct args *a)
{
    const char *s = a->since;
    struct cli_stop_signals st;
    uint64_t since = 0, next = 0;
    int rc;

    if (s && (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 18))
        return usage_error(a, "bad --since '%s': expected a sequence number", s);
    if (s)
        since = strtoull(s, NULL, 10);
    if (!(a->given & OPT_FOLLOW)) {
        rc = events_once(a, since, 0, NULL, &next);
        return rc == -EINTR ? CLI_EXIT_OK : rc;
    }
    /* A stop signal ends the next wait with EINTR, and we exit 0. */
    cli_stop_signals_catch(&st);
    rc = events_once(a, since, 0, &st.wait_mask, &next);
    while (rc == 0) {
        since = next;
        rc = events_once(a, since, FOLLOW_WAIT_S, &st.wait_mask, &next);
    }
    cli_stop_signals_restore(&st);
    return rc == -EINTR ? CLI_EXIT_OK : rc;
}

/* How often `logs -f` asks for new lines (it is a poll: the daemon keeps them in its rings). */
#define LOGS_POLL_MS 200

/* One /logs exchange: prints the lines. Returns 0 and *next, -EINTR on a stop signal, or a code. */
static int
logs_once(const struct args *a, const char *query, bool prefix, uint64_t since,
          const sigset_t *mask, uint64_t *next)
{
    struct cli_response res = { 0 };
    char target[1024], err[CLI_ERR_MAX], *text;
    int rc;

    (void)snprintf(target, sizeof(target), "%s&since=%llu", query, (unsigned long long)since);
    rc =
        get_ok(a, target,
               &(struct cli_request_opts){ .timeout_ms = CLI_TIMEOUT_MS, .wait_mask = mask }, &res);
    if (rc != 0)
        return rc;
    text = cli_render_logs(res.body, res.body_len, prefix, next, err, sizeof(err));
    cli_response_done(&res);
    rc = emit_rendered(a, text, err);
    (void)fflush(stdout);
    return rc;
}

static int
run_logs(const struct args *a)
{
    char program[CFG_NAME_MAX + 1], enc[256], query[1024];
    const char *n = a->lines ? a->lines : "100";
    struct cli_stop_signals st;
    uint64_t next = 0, since;
    long index;
    int rc;

    if (!program_name(a->pos[1], program, sizeof(program), &index))
        return bad_name(a, "name", a->pos[1], "PROGRAM or PROGRAM:INDEX");
    if (!*n || strspn(n, "0123456789") != strlen(n) || strlen(n) > 5 || atoi(n) < 1 ||
        atoi(n) > 10000)
        return usage_error(a, "bad -n '%s': expected a number of lines from 1 to 10000", n);
    if (!cli_url_encode(a->pos[1], enc, sizeof(enc)))
        return usage_error(a, "name too long");
    (void)snprintf(query, sizeof(query), "/logs/%s?lines=%s&stream=%s", enc, n,
                   a->stream ? a->stream : "both");
    if (!(a->given & OPT_FOLLOW)) {
        rc = logs_once(a, query, index < 0, 0, NULL, &next);
        return rc == -EINTR ? CLI_EXIT_OK : rc;
    }
    /* Follow: ask for what came after the last line shown, every LOGS_POLL_MS, until a signal. */
    cli_stop_signals_catch(&st);
    rc = logs_once(a, query, index < 0, 0, &st.wait_mask, &next);
    while (rc == 0) {
        struct timespec ts = { .tv_sec = 0, .tv_nsec = LOGS_POLL_MS * 1000000L };
        if (ppoll(NULL, 0, &ts, &st.wait_mask) < 0 && errno == EINTR) {
            rc = -EINTR;
            break;
        }
        since = next;
        /* Each poll takes at most 10000 lines: a flood is shown as fast as the daemon reads it. */
        (void)snprintf(query, sizeof(query), "/logs/%s?lines=10000&stream=%s", enc,
                       a->stream ? a->stream : "both");
        rc = logs_once(a, query, index < 0, since, &st.wait_mask, &next);
    }
    cli_stop_signals_restore(&st);
    return rc == -EINTR ? CLI_EXIT_OK : rc;
}

static int
run_health(const struct args *a)
{
    const char *name = a->npos > 1 && strcmp(a->pos[1], "all") != 0 ? a->pos[1] : NULL;
    char program[CFG_NAME_MAX + 1], query[1800] = "", target[1900], err[CLI_ERR_MAX];
    struct cli_response res = { 0 };
    bool healthy = false;
    long index;
    int rc;

    if (name && !program_name(name, program, sizeof(program), &index))
        return bad_name(a, "PROGRAM", name, "a program name");
    if (name && index >= 0)
        return usage_error(a,
                           "bad PROGRAM '%s': expected a program name (health judges "
                           "programs, not instances)",
                           name);
    if (!cli_add_query(query, sizeof(query), "max_silent", a->max_silent) ||
        !cli_add_query(query, sizeof(query), "silence", a->silence) ||
        !cli_add_query(query, sizeof(query), "program", name))
        return usage_error(a, "an argument is too long");
    (void)snprintf(target, sizeof(target), "/health%s", query);
    rc = request(a, "GET", target, &res);
    if (rc != 0)
        return rc;
    if (res.code == 200 || res.code == 503) {
        char *text = cli_render_health(res.body, res.body_len, &healthy, err, sizeof(err));

        rc = emit_rendered(a, text, err);
        if (rc == 0 && (res.code != 200 || !healthy))
            rc = CLI_EXIT_FAILED;
        if (!text && res.code == 503)
            rc = CLI_EXIT_FAILED;
    } else {
        rc = answer_error(a, &res);
    }
    cli_response_done(&res);
    return rc;
}

/* The first word that is not an option (nor --control's value), from argv[from]; NULL if none. */
static int
first_word(int argc, char **argv, int from)
{
    for (int i = from; i < argc; i++) {
        if (strcmp(argv[i], "--control") == 0)
            i++;
        else if (strcmp(argv[i], "--") == 0)
            return i + 1 < argc ? i + 1 : -1;
        else if (argv[i][0] != '-' || argv[i][1] == '\0')
            return i;
    }
    return -1;
}

int
cli_main(int argc, char **argv)
{
    struct args a = { 0 };
    const struct verb *v;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* what a socket can be bound to */
    size_t n;
    int w = first_word(argc, argv, 1), rc;

    /* The jobs verbs have options of their own: cli_jobs parses their command lines. */
    if (w > 0 && cli_jobs_is_verb(argv[w]))
        return cli_jobs_main(argc, argv);
    if (w > 0 && strcmp(argv[w], "help") == 0 && w + 1 < argc && cli_jobs_is_verb(argv[w + 1])) {
        cli_jobs_help(stdout, argv[w + 1], w + 2 < argc ? argv[w + 2] : NULL);
        return CLI_EXIT_OK;
    }
    if ((rc = parse_args(argc, argv, &a)) != 0)
        return rc;
    v = a.npos > 0 ? find_verb(a.pos[0]) : NULL;
    if (!v) {
        if (a.npos > 0) {
            char shown[4 * 256 + 1];

            (void)utf8_escape(a.pos[0], strnlen(a.pos[0], 256), shown, sizeof(shown),
                              UTF8_ESCAPE_CONTROLS);
            fprintf(stderr, "drover: unknown command '%s'\n", shown);
        } else
            fprintf(stderr, "drover: no command given\n");
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (!v->run) { /* help [COMMAND] */
        const struct verb *about = a.npos > 1 ? find_verb(a.pos[1]) : NULL;

        if (a.npos > 2 || (a.npos > 1 && !about))
            return usage_error(&a, "unknown command '%s'", a.pos[a.npos - 1]);
        if (about && about->run)
            verb_usage(stdout, about);
        else
            usage(stdout);
        return CLI_EXIT_OK;
    }
    if (a.help) {
        verb_usage(stdout, v);
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < ARRAY_SIZE(option_names); i++)
        if ((a.given & option_names[i].bit) && !(v->opts & option_names[i].bit))
            return usage_error(&a, "option '%s' does not apply to '%s'", a.first_option[i],
                               v->name);
    if (a.npos - 1 < v->min_args)
        return usage_error(&a, "missing argument; usage: drover %s", v->synopsis);
    if (a.npos - 1 > v->max_args)
        return usage_error(&a, "too many arguments; usage: drover %s", v->synopsis);
    a.sock = rundir_socket_path(a.control, path, sizeof(path));
    if (!a.sock)
        return usage_error(&a, "the control socket path is too long (at most %zu bytes)",
                           sizeof(path) - 1);
    n = (size_t)snprintf(a.label, sizeof(a.label), "%s", v->name);
    for (int i = 1; i < a.npos && n < sizeof(a.label); i++)
        n += (size_t)snprintf(a.label + n, sizeof(a.label) - n, " %s", a.pos[i]);
    util_one_line(a.label);
    return v->run(&a);
}

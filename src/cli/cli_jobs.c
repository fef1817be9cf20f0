/*
 * cli_jobs: `drover job ...`, `drover queues`, `drover run`. See cli_jobs.h.
 */
#include "cli/cli_jobs.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "core/utf8.h"
#include "core/util.h"
#include "os/rundir.h"
#include "cli/cli.h"
#include "cli/cli_io.h"
#include "cli/cli_jobs_render.h"
#include "cli/cli_main.h"

#define MAX_POS 8
#define MAX_ENV 64
/* The daemon parks a wait at most this long; longer waits ask again. */
#define WAIT_STEP_S 60
/* `--wait` alone. */
#define WAIT_DEFAULT_MS 60000
/* `job events --follow` parks each request this long. */
#define EVENTS_WAIT_S 30
/* Largest payload read from a file or stdin; the daemon's own limit is usually far lower (413). */
#define PAYLOAD_MAX ((size_t)16 << 20)
/* `job list` without --limit. */
#define LIST_DEFAULT 100
#define LIST_MAX 100000

enum {
    O_PAYLOAD = 1 << 0,
    O_PAYLOAD_FILE = 1 << 1,
    O_ID = 1 << 2,
    O_TIMEOUT = 1 << 3,
    O_ATTEMPTS = 1 << 4,
    O_PRIORITY = 1 << 5,
    O_DELAY = 1 << 6,
    O_ENV = 1 << 7,
    O_WAIT = 1 << 8,
    O_JSON = 1 << 9,
    O_STATE = 1 << 10,
    O_TYPE = 1 << 11,
    O_LIMIT = 1 << 12,
    O_FOLLOW = 1 << 13,
    O_SINCE = 1 << 14,
};

static const struct {
    unsigned bit;
    const char *name;
    bool value; /* takes a value (--x V or --x=V) */
} options[] = {
    { O_PAYLOAD, "--payload", true },
    { O_PAYLOAD_FILE, "--payload-file", true },
    { O_ID, "--id", true },
    { O_TIMEOUT, "--timeout", true },
    { O_ATTEMPTS, "--attempts", true },
    { O_PRIORITY, "--priority", true },
    { O_DELAY, "--delay", true },
    { O_ENV, "--env", true },
    { O_WAIT, "--wait", false },
    { O_JSON, "--json", false },
    { O_STATE, "--state", true },
    { O_TYPE, "--type", true },
    { O_LIMIT, "--limit", true },
    { O_FOLLOW, "--follow", false },
    { O_SINCE, "--since", true },
};

struct jargs {
    const char *control;
    const char *value[ARRAY_SIZE(options)]; /* by options index; --wait=D's D */
    unsigned given;
    const char *env[MAX_ENV];
    size_t nenv;
    bool help;
    const char *pos[MAX_POS];
    int npos;
    const char *sock;
    const sigset_t *wait_mask; /* non-NULL: a stop signal ends a wait (-EINTR) */
    char cmd[256];             /* "job get": what `drover help` takes */
    char label[256];           /* "job get ID": how error lines name the command */
};

#define SUBMIT_OPTS                                                                                \
    (O_PAYLOAD | O_PAYLOAD_FILE | O_ID | O_TIMEOUT | O_ATTEMPTS | O_PRIORITY | O_DELAY | O_ENV)

struct sub {
    const char *verb, *sub; /* sub NULL: the verb alone */
    const char *synopsis, *summary, *help;
    int min_args, max_args; /* after verb (and sub) */
    unsigned opts;
    int (*run)(struct jargs *a);
};

static int run_submit(struct jargs *a);
static int run_get(struct jargs *a);
static int run_wait(struct jargs *a);
static int run_list(struct jargs *a);
static int run_change(struct jargs *a);
static int run_events(struct jargs *a);
static int run_queues(struct jargs *a);
static int run_run(struct jargs *a);

static const struct sub subs[] = {
    { "job", "submit",
      "job submit TYPE [--payload S | --payload-file F | -] [--id K] [--timeout D] [--attempts N]\n"
      "             [--priority P] [--delay D] [--env K=V]... [--wait[=D]] [--json]",
      "queue a job; prints its id",
      "Queue a job of TYPE with the payload S, the contents of F, or standard input (-);\n"
      "none: an empty payload is not sent. --id K makes the submit idempotent (the same K and\n"
      "payload again answer the existing job). --timeout D bounds each attempt, --attempts N\n"
      "the tries, --priority P (0-9, higher first) the order, --delay D the start. --env K=V\n"
      "is handed to the worker with the job. Prints the job's id; --wait[=D] (default 60s)\n"
      "waits for the end and prints the result as `drover run` does (exit 1 failed, 124 not\n"
      "done in time); --json prints the job's JSON instead.\n",
      1, 2, SUBMIT_OPTS | O_WAIT | O_JSON, run_submit },
    { "job", "get", "job get ID [--json]", "a job's state, result, error and history",
      "Show job ID: type, state, attempt/max, instance, times, error, progress, result\n"
      "(text, or its size when binary), then its history. --json prints the job's JSON.\n",
      1, 1, O_JSON, run_get },
    { "job", "wait", "job wait ID [--timeout D] [--json]", "wait for a job to end",
      "Wait until job ID ends, then show it as `job get` does. Exit 0 success, 1 failed or\n"
      "cancelled, 124 when D (default: no limit) passes first.\n",
      1, 1, O_TIMEOUT | O_JSON, run_wait },
    { "job", "list", "job list [--state S] [--type T] [--limit N] [--json]",
      "jobs, newest first, as a table",
      "List jobs, newest first (ID TYPE STATE ATTEMPT INSTANCE AGE), at most N (default 100),\n"
      "only in state S or of type T if given. --json prints {\"jobs\": [...]}.\n",
      0, 0, O_STATE | O_TYPE | O_LIMIT | O_JSON, run_list },
    { "job", "cancel", "job cancel ID", "cancel a job that has not ended",
      "Cancel job ID (a running one is asked to stop, then stopped). Exit 1 if it has ended.\n", 1,
      1, O_JSON, run_change },
    { "job", "retry", "job retry ID", "queue a failed or cancelled job again",
      "Queue job ID again, its attempts reset. Exit 1 unless it failed or was cancelled.\n", 1, 1,
      O_JSON, run_change },
    { "job", "rm", "job rm ID", "forget an ended job",
      "Remove job ID and its result. Exit 1 if it has not ended.\n", 1, 1, 0, run_change },
    { "job", "events", "job events [--follow] [--since SEQ]", "job state changes",
      "Print the job state changes the daemon keeps, one per line: time, id, type,\n"
      "from -> to, attempt, instance, cause. --since SEQ starts there; --follow waits for\n"
      "more until interrupted. A warning says when changes were dropped.\n",
      0, 0, O_FOLLOW | O_SINCE, run_events },
    { "queues", NULL, "queues [--json]", "per job type: depth, rates, instances",
      "Per job type: the program serving it, jobs waiting, delayed, in retry wait and\n"
      "running, the oldest waiting one's age, done and failed in the last minute, and its\n"
      "instances: running, idle, busy, desired.\n",
      0, 0, O_JSON, run_queues },
    { "run", NULL,
      "run TYPE [PAYLOAD|-] [--timeout D] [--id K] [--priority P] [--attempts N] [--env K=V]...",
      "submit a job and wait: its result on stdout",
      "Submit a job of TYPE (payload PAYLOAD, or standard input for -) and wait for its end:\n"
      "the result's bytes on stdout exactly; if it failed or was cancelled its error on stderr,\n"
      "exit 1. No time limit unless --timeout D (then exit 124 when it passes first; the job\n"
      "goes on).\n",
      1, 2, O_PAYLOAD_FILE | O_ID | O_TIMEOUT | O_ATTEMPTS | O_PRIORITY | O_ENV, run_run },
};

bool
cli_jobs_is_verb(const char *arg)
{
    return arg && (!strcmp(arg, "job") || !strcmp(arg, "queues") || !strcmp(arg, "run"));
}

void
cli_jobs_usage(FILE *f)
{
    for (size_t i = 0; i < ARRAY_SIZE(subs); i++) {
        const char *nl = strchr(subs[i].synopsis, '\n');
        int len = nl ? (int)(nl - subs[i].synopsis) : (int)strlen(subs[i].synopsis);

        if (len <= 32 && !nl)
            fprintf(f, "  %-32s  %s\n", subs[i].synopsis, subs[i].summary);
        else
            fprintf(f, "  %.*s%s\n  %-32s  %s\n", len, subs[i].synopsis, nl ? " ..." : "", "",
                    subs[i].summary);
    }
}

static const struct sub *
find_sub(const char *verb, const char *sub)
{
    for (size_t i = 0; verb && i < ARRAY_SIZE(subs); i++)
        if (!strcmp(subs[i].verb, verb) && (!subs[i].sub || (sub && !strcmp(subs[i].sub, sub))))
            return &subs[i];
    return NULL;
}

static void
sub_usage(FILE *f, const struct sub *s)
{
    fprintf(f, "usage: drover [--control PATH] %s\n\n%s", s->synopsis, s->help);
    if (s->opts & (O_TIMEOUT | O_DELAY | O_WAIT))
        fprintf(f, "D is a duration: 500ms, 30s, 5m, 1h, or seconds.\n");
}

void
cli_jobs_help(FILE *f, const char *verb, const char *sub)
{
    const struct sub *s = find_sub(verb, sub);

    if (s) {
        sub_usage(f, s);
        return;
    }
    fprintf(f, "usage: drover [--control PATH] job COMMAND [ARGS]\n\n");
    for (size_t i = 0; i < ARRAY_SIZE(subs); i++)
        if (!strcmp(subs[i].verb, "job"))
            fprintf(f, "  job %-10s %s\n", subs[i].sub, subs[i].summary);
    fprintf(f, "\n`drover help job COMMAND` tells more. Exit codes: 0 ok, 1 failed, cancelled or\n"
               "refused, 2 usage error, 3 daemon unreachable, 124 a wait timed out.\n");
}

static int usage_error(const struct jargs *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
usage_error(const struct jargs *a, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = cli_usage_error(a->label, a->cmd, fmt, ap);
    va_end(ap);
    return rc;
}

/* Options anywhere, "--" ends them; "-" is a positional (stdin). */
static int
parse(int argc, char **argv, struct jargs *a)
{
    bool opts = true;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        size_t k;

        if (opts && !strcmp(arg, "--")) {
            opts = false;
            continue;
        }
        if (!opts || arg[0] != '-' || arg[1] == '\0') {
            if (a->npos == MAX_POS)
                return usage_error(a, "too many arguments");
            a->pos[a->npos++] = arg;
            continue;
        }
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            a->help = true;
            continue;
        }
        if (!strcmp(arg, "-f")) {
            a->given |= O_FOLLOW;
            continue;
        }
        if (!strncmp(arg, "--control", 9) && (arg[9] == '\0' || arg[9] == '=')) {
            a->control = arg[9] == '=' ? arg + 10 : i + 1 < argc ? argv[++i] : NULL;
            if (!a->control || !*a->control)
                return usage_error(a, "option '--control' needs a socket path");
            continue;
        }
        for (k = 0; k < ARRAY_SIZE(options); k++) {
            size_t n = strlen(options[k].name);

            if (strncmp(arg, options[k].name, n) == 0 && (arg[n] == '\0' || arg[n] == '='))
                break;
        }
        if (k == ARRAY_SIZE(options))
            return usage_error(a, "unknown option '%s'", arg);
        {
            size_t n = strlen(options[k].name);
            const char *v = arg[n] == '=' ? arg + n + 1 : NULL;

            if (options[k].value && !v) {
                if (i + 1 >= argc)
                    return usage_error(a, "option '%s' needs a value", options[k].name);
                v = argv[++i];
            }
            if (!options[k].value && v && options[k].bit != O_WAIT)
                return usage_error(a, "option '%s' takes no value", options[k].name);
            if (options[k].bit == O_ENV) {
                if (a->nenv == MAX_ENV)
                    return usage_error(a, "at most %d --env options", MAX_ENV);
                a->env[a->nenv++] = v;
            } else if ((a->given & options[k].bit) && options[k].value) {
                return usage_error(a, "option '%s' given twice", options[k].name);
            }
            a->given |= options[k].bit;
            a->value[k] = v;
        }
    }
    return 0;
}

static const char *
value_of(const struct jargs *a, unsigned bit)
{
    for (size_t k = 0; k < ARRAY_SIZE(options); k++)
        if (options[k].bit == bit)
            return a->value[k];
    return NULL;
}

static const char *
name_of(unsigned bit)
{
    for (size_t k = 0; k < ARRAY_SIZE(options); k++)
        if (options[k].bit == bit)
            return options[k].name;
    return "?";
}

/* A duration option into *ret_ms: 0, or the usage error's exit code. */
static int
duration_opt(const struct jargs *a, unsigned bit, int64_t *ret_ms)
{
    const char *v = value_of(a, bit);
    int64_t ms;

    if (util_parse_duration_ms(v, &ms) < 0)
        return usage_error(a, "bad %s '%s': expected a duration (500ms, 30s, 5m, 1h) up to 30 days",
                           name_of(bit), v);
    *ret_ms = ms;
    return 0;
}

/* A whole number option in [lo, hi] into *ret: 0, or the usage error's exit code. */
static int
number_opt(const struct jargs *a, unsigned bit, long lo, long hi, long *ret)
{
    const char *v = value_of(a, bit);
    char *end;
    long n;

    errno = 0;
    n = strtol(v, &end, 10);
    if (!*v || *end || errno || n < lo || n > hi || strspn(v, "0123456789") != strlen(v))
        return usage_error(a, "bad %s '%s': expected a whole number from %ld to %ld", name_of(bit),
                           v, lo, hi);
    *ret = n;
    return 0;
}

static int
bad_id(const struct jargs *a, const char *id)
{
    return usage_error(a, "bad job ID '%s': expected 1 to %d letters, digits, '.', '_', ':' or '-'",
                       id, CLI_JOB_ID_MAX);
}

/* One exchange; on failure one line and the exit code. */
static int
exchange(const struct jargs *a, const char *method, const char *target, int wait_s,
         const char *body, struct cli_response *res)
{
    struct cli_request_opts o = { .timeout_ms = CLI_TIMEOUT_MS + wait_s * 1000,
                                  .body = body,
                                  .body_len = body ? strlen(body) : 0,
                                  .wait_mask = a->wait_mask };
    char err[CLI_ERR_MAX];
    int r = cli_request(a->sock, method, target, &o, res, err, sizeof(err));

    if (r == 0 || r == -EINTR)
        return r;
    fprintf(stderr, "drover: %s%s%s\n", cli_unreachable(r) ? "" : a->label,
            cli_unreachable(r) ? "" : ": ", err);
    return cli_unreachable(r) ? CLI_EXIT_UNREACHABLE : CLI_EXIT_FAILED;
}

/* An error answer: its line on stderr; exit 1 (the daemon refused). */
static int
answer_error(const struct jargs *a, const struct cli_response *res)
{
    char msg[CLI_ERR_MAX];

    cli_job_error_text(res->code, res->body, res->body_len, msg, sizeof(msg));
    fprintf(stderr, "drover: %s: %s\n", a->label, msg);
    return CLI_EXIT_FAILED;
}

/* The body as JSON output: as sent, with a newline. */
static int
emit_json(const struct cli_response *res)
{
    int rc = cli_emit(res->body, res->body_len);

    if (rc == 0 && (res->body_len == 0 || res->body[res->body_len - 1] != '\n'))
        rc = cli_emit("\n", 1);
    return rc;
}

static int
emit_text(const struct jargs *a, char *text, const char *err)
{
    int rc;

    if (!text) {
        fprintf(stderr, "drover: %s: %s\n", a->label, err);
        return CLI_EXIT_FAILED;
    }
    rc = cli_emit(text, strlen(text));
    free(text);
    return rc;
}

/* A 200 answer as its JSON (--json) or render's text, else the daemon's error. Releases *res. */
static int
show_answer(const struct jargs *a, struct cli_response *res,
            char *(*render)(const char *body, size_t body_len, char *err, size_t errlen))
{
    char err[CLI_ERR_MAX];
    int rc;

    if (res->code != 200)
        rc = answer_error(a, res);
    else if (a->given & O_JSON)
        rc = emit_json(res);
    else
        rc = emit_text(a, render(res->body, res->body_len, err, sizeof(err)), err);
    cli_response_done(res);
    return rc;
}

/*
 * An answer that must be a job: code_ok says its status is one the caller
 * takes, else the daemon's error is said; a body that is no job is said too.
 * Returns 0 with *ret the job without its result (the body stays in *res),
 * or the exit code with *res released.
 */
static int
job_answer(const struct jargs *a, struct cli_response *res, bool code_ok,
           struct cli_job_outcome *ret)
{
    char err[CLI_ERR_MAX];
    int rc;

    if (!code_ok) {
        rc = answer_error(a, res);
        cli_response_done(res);
        return rc;
    }
    if (cli_job_outcome_parse(res->body, res->body_len, ret, err, sizeof(err)) < 0) {
        fprintf(stderr, "drover: %s: %s\n", a->label, err);
        cli_response_done(res);
        return CLI_EXIT_FAILED;
    }
    cli_job_outcome_done(ret);
    return 0;
}

/*
 * Waits for job id to end: GET /jobs/ID?wait=S until 200 with a terminal
 * state or timeout_ms (< 0: none) passes. first may already hold an answer
 * (a 202 from POST /jobs?wait). Returns 0 with *res the final answer, 124
 * after a timeout (said), or an exit code (said).
 */
static int
wait_job(const struct jargs *a, const char *id, int64_t timeout_ms, struct cli_response *res)
{
    int64_t deadline = timeout_ms >= 0 ? util_now_ms() + timeout_ms : -1;
    char target[64 + 3 * CLI_JOB_ID_MAX], enc[3 * CLI_JOB_ID_MAX + 1];
    char state[32] = "?";

    if (!cli_url_encode(id, enc, sizeof(enc)))
        return bad_id(a, id);
    for (;;) {
        int64_t left = deadline < 0 ? WAIT_STEP_S * 1000 : deadline - util_now_ms();
        long wait_s = left <= 0 ? 0 : (long)((left + 999) / 1000);
        struct cli_job_outcome o;
        int rc;

        if (wait_s > WAIT_STEP_S)
            wait_s = WAIT_STEP_S;
        (void)snprintf(target, sizeof(target), "/jobs/%s?wait=%ld", enc, wait_s);
        if ((rc = exchange(a, "GET", target, (int)wait_s, NULL, res)) != 0)
            return rc;
        if ((rc = job_answer(a, res, res->code == 200 || res->code == 202, &o)) != 0)
            return rc;
        (void)snprintf(state, sizeof(state), "%s", o.state);
        if (o.terminal)
            return 0;
        cli_response_done(res);
        if (deadline >= 0 && util_now_ms() >= deadline)
            break;
    }
    fprintf(stderr, "drover: %s: job %s is still %s after %s; it goes on\n", a->label, id, state,
            value_of(a, O_TIMEOUT) ? value_of(a, O_TIMEOUT)
            : value_of(a, O_WAIT)  ? value_of(a, O_WAIT)
                                   : "60s");
    return CLI_EXIT_WAIT_TIMEOUT;
}

/* An ended job as `run` shows it: the result's bytes on stdout, or the error on stderr, exit 1. */
static int
show_outcome(const struct jargs *a, const struct cli_response *res)
{
    struct cli_job_outcome o;
    char err[CLI_ERR_MAX];
    int rc;

    if (cli_job_outcome_parse(res->body, res->body_len, &o, err, sizeof(err)) < 0) {
        fprintf(stderr, "drover: %s: %s\n", a->label, err);
        return CLI_EXIT_FAILED;
    }
    if (o.success) {
        rc = cli_emit(o.result ? (const void *)o.result : "", o.result_len);
    } else {
        fprintf(stderr, "drover: %s: job %s %s: %s\n", a->label, o.id, o.state, o.error);
        rc = CLI_EXIT_FAILED;
    }
    cli_job_outcome_done(&o);
    return rc;
}

/* Reads F (or stdin for "-") whole, at most PAYLOAD_MAX bytes. */
static int
read_payload(const char *path, char **ret, size_t *ret_len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
    size_t len = 0, cap = 65536;
    char *p = NULL, *q;
    int r = 0;

    if (!f)
        return -errno;
    for (;;) {
        size_t n;

        if (len == cap || !p) {
            cap = p ? cap * 2 : cap;
            if (cap > PAYLOAD_MAX + 1)
                cap = PAYLOAD_MAX + 1;
            if (!(q = realloc(p, cap + 1))) {
                r = -ENOMEM;
                break;
            }
            p = q;
        }
        n = fread(p + len, 1, cap - len, f);
        len += n;
        if (len > PAYLOAD_MAX) {
            r = -EFBIG;
            break;
        }
        if (n == 0) {
            if (ferror(f))
                r = -EIO;
            break;
        }
    }
    if (f != stdin)
        (void)fclose(f);
    if (r < 0) {
        free(p);
        return r;
    }
    p[len] = '\0';
    *ret = p;
    *ret_len = len;
    return 0;
}

/*
 * The POST /jobs body from the options; positional payload at pos[at] (or
 * "-"). Returns the body (malloc'ed) or NULL having said why (*rc the code).
 */
static char *
submit_body(const struct jargs *a, int at, int *rc)
{
    struct cli_job_submit s = { .type = a->pos[at - 1],
                                .priority = -1,
                                .delay_ms = -1,
                                .timeout_ms = -1,
                                .attempts = -1,
                                .env = a->env,
                                .nenv = a->nenv };
    const char *file = value_of(a, O_PAYLOAD_FILE), *arg = a->npos > at ? a->pos[at] : NULL;
    char *data = NULL, *body, err[CLI_ERR_MAX];
    int sources = !!(a->given & O_PAYLOAD) + !!file + !!arg;
    long n;

    *rc = CLI_EXIT_USAGE;
    if (!utf8_valid(s.type, strlen(s.type)) || !*s.type || strlen(s.type) > 128) {
        (void)usage_error(a, "bad TYPE '%s': expected a job type's name", s.type);
        return NULL;
    }
    if (sources > 1) {
        (void)usage_error(a, "give the payload once: --payload, --payload-file or an argument");
        return NULL;
    }
    if (a->given & O_ID && !cli_job_id_valid(s.id = value_of(a, O_ID))) {
        (void)bad_id(a, s.id);
        return NULL;
    }
    if (a->given & O_PRIORITY) {
        if ((*rc = number_opt(a, O_PRIORITY, 0, 9, &n)) != 0)
            return NULL;
        s.priority = (int)n;
    }
    if (a->given & O_ATTEMPTS) {
        if ((*rc = number_opt(a, O_ATTEMPTS, 1, 1000, &n)) != 0)
            return NULL;
        s.attempts = (int)n;
    }
    if (a->given & O_DELAY && (*rc = duration_opt(a, O_DELAY, &s.delay_ms)) != 0)
        return NULL;
    /* run's --timeout bounds the wait, not the job */
    if (a->given & O_TIMEOUT && strcmp(a->pos[0], "run") != 0 &&
        (*rc = duration_opt(a, O_TIMEOUT, &s.timeout_ms)) != 0)
        return NULL;
    *rc = CLI_EXIT_USAGE;
    if (arg && strcmp(arg, "-") != 0) {
        s.payload = arg;
        s.payload_len = strlen(arg);
    } else if (a->given & O_PAYLOAD) {
        s.payload = value_of(a, O_PAYLOAD);
        s.payload_len = strlen(s.payload);
    } else if (file || arg) {
        const char *path = file ? file : "-";
        int r = read_payload(path, &data, &s.payload_len);

        if (r < 0) {
            fprintf(stderr, "drover: %s: cannot read the payload from %s: %s\n", a->label,
                    strcmp(path, "-") ? path : "standard input",
                    r == -EFBIG ? "larger than 16 MiB" : strerror(-r));
            *rc = CLI_EXIT_FAILED;
            return NULL;
        }
        s.payload = data;
    }
    body = cli_job_submit_body(&s, err, sizeof(err));
    if (!body) {
        (void)usage_error(a, "%s", err);
        if (!strcmp(err, "out of memory"))
            *rc = CLI_EXIT_FAILED;
    }
    free(data);
    return body;
}

/*
 * POST /jobs (?wait when wait_ms >= 0, -2 meaning no limit), then the
 * waiting. Returns 0 with *res the final answer (to release), or a code.
 */
static int
submit(struct jargs *a, int payload_at, int64_t wait_ms, struct cli_response *res)
{
    char target[64];
    struct cli_job_outcome o;
    long wait_s = 0;
    int rc;
    char *body = submit_body(a, payload_at, &rc);

    if (!body)
        return rc;
    if (wait_ms != -1) {
        wait_s = wait_ms < 0 ? WAIT_STEP_S : (long)((wait_ms + 999) / 1000);
        if (wait_s > WAIT_STEP_S)
            wait_s = WAIT_STEP_S;
        (void)snprintf(target, sizeof(target), "/jobs?wait=%ld", wait_s);
    } else {
        (void)snprintf(target, sizeof(target), "/jobs");
    }
    rc = exchange(a, "POST", target, (int)wait_s, body, res);
    free(body);
    if (rc != 0)
        return rc;
    if ((rc = job_answer(
             a, res, res->code == 200 || res->code == 201 || (res->code == 202 && wait_ms != -1),
             &o)) != 0)
        return rc;
    if (wait_ms == -1 || o.terminal)
        return 0;
    cli_response_done(res);
    /* The daemon parked the first part; the rest of the wait asks again. */
    return wait_job(a, o.id,
                    wait_ms < 0               ? -1
                    : wait_ms > wait_s * 1000 ? wait_ms - wait_s * 1000
                                              : 0,
                    res);
}

static int
run_submit(struct jargs *a)
{
    struct cli_response res = { 0 };
    int64_t wait_ms = -1;
    int rc;

    if (a->given & O_WAIT) {
        if (!value_of(a, O_WAIT))
            wait_ms = WAIT_DEFAULT_MS;
        else if ((rc = duration_opt(a, O_WAIT, &wait_ms)) != 0)
            return rc;
    }
    if ((rc = submit(a, 3, wait_ms, &res)) != 0)
        return rc;
    if (a->given & O_JSON) {
        rc = emit_json(&res);
        if (rc == 0 && wait_ms != -1) {
            struct cli_job_outcome o;
            char err[CLI_ERR_MAX];

            if (cli_job_outcome_parse(res.body, res.body_len, &o, err, sizeof(err)) == 0) {
                rc = o.success ? CLI_EXIT_OK : CLI_EXIT_FAILED;
                cli_job_outcome_done(&o);
            }
        }
    } else if (wait_ms != -1) {
        rc = show_outcome(a, &res);
    } else {
        struct cli_job_outcome o;
        char err[CLI_ERR_MAX];

        (void)cli_job_outcome_parse(res.body, res.body_len, &o, err, sizeof(err));
        rc = cli_emit(o.id, strlen(o.id));
        if (rc == 0)
            rc = cli_emit("\n", 1);
        cli_job_outcome_done(&o);
    }
    cli_response_done(&res);
    return rc;
}

static int
run_run(struct jargs *a)
{
    struct cli_response res = { 0 };
    int64_t wait_ms = -2; /* no limit */
    int rc;

    if (a->given & O_TIMEOUT && (rc = duration_opt(a, O_TIMEOUT, &wait_ms)) != 0)
        return rc;
    if ((rc = submit(a, 2, wait_ms, &res)) != 0)
        return rc;
    rc = show_outcome(a, &res);
    cli_response_done(&res);
    return rc;
}

/* The URL-encoded ID argument into target "/jobs/ID%s"; 0 or the usage error's code. */
static int
job_target(const struct jargs *a, const char *suffix, char *target, size_t len)
{
    char enc[3 * CLI_JOB_ID_MAX + 1];
    const char *id = a->pos[2];

    if (!cli_job_id_valid(id) || !cli_url_encode(id, enc, sizeof(enc)))
        return bad_id(a, id);
    (void)snprintf(target, len, "/jobs/%s%s", enc, suffix);
    return 0;
}

static int
run_get(struct jargs *a)
{
    char target[3 * CLI_JOB_ID_MAX + 32];
    struct cli_response res = { 0 };
    int rc;

    if ((rc = job_target(a, "", target, sizeof(target))) != 0)
        return rc;
    if ((rc = exchange(a, "GET", target, 0, NULL, &res)) != 0)
        return rc;
    return show_answer(a, &res, cli_render_job);
}

static int
run_wait(struct jargs *a)
{
    char target[3 * CLI_JOB_ID_MAX + 32], err[CLI_ERR_MAX];
    struct cli_response res = { 0 };
    struct cli_job_outcome o;
    int64_t timeout_ms = -1;
    int rc;

    if ((rc = job_target(a, "", target, sizeof(target))) != 0)
        return rc;
    if (a->given & O_TIMEOUT && (rc = duration_opt(a, O_TIMEOUT, &timeout_ms)) != 0)
        return rc;
    if ((rc = wait_job(a, a->pos[2], timeout_ms, &res)) != 0)
        return rc;
    if (a->given & O_JSON)
        rc = emit_json(&res);
    else
        rc = emit_text(a, cli_render_job(res.body, res.body_len, err, sizeof(err)), err);
    if (rc == 0 && cli_job_outcome_parse(res.body, res.body_len, &o, err, sizeof(err)) == 0) {
        rc = o.success ? CLI_EXIT_OK : CLI_EXIT_FAILED;
        cli_job_outcome_done(&o);
    }
    cli_response_done(&res);
    return rc;
}

static int
run_list(struct jargs *a)
{
    json_t *all = json_array(), *wrap = NULL;
    char *after = NULL, *text = NULL, err[CLI_ERR_MAX], num[32];
    long limit = LIST_DEFAULT;
    int rc = 0;

    if (!all)
        return CLI_EXIT_FAILED;
    if (a->given & O_LIMIT && (rc = number_opt(a, O_LIMIT, 1, LIST_MAX, &limit)) != 0)
        goto done;
    for (;;) {
        struct cli_response res = { 0 };
        char target[2048] = "/jobs";
        char *next = NULL;
        size_t before = json_array_size(all);

        (void)snprintf(num, sizeof(num), "%ld", limit - (long)before);
        if (!cli_add_query(target, sizeof(target), "state", value_of(a, O_STATE)) ||
            !cli_add_query(target, sizeof(target), "type", value_of(a, O_TYPE)) ||
            !cli_add_query(target, sizeof(target), "limit", num) ||
            !cli_add_query(target, sizeof(target), "after", after)) {
            rc = usage_error(a, "an argument is too long");
            goto done;
        }
        if ((rc = exchange(a, "GET", target, 0, NULL, &res)) != 0)
            goto done;
        if (res.code != 200) {
            rc = answer_error(a, &res);
            cli_response_done(&res);
            goto done;
        }
        rc = cli_job_list_page(res.body, res.body_len, all, (size_t)limit, &next, err, sizeof(err));
        cli_response_done(&res);
        if (rc < 0) {
            fprintf(stderr, "drover: %s: %s\n", a->label, err);
            rc = CLI_EXIT_FAILED;
            goto done;
        }
        rc = 0;
        free(after);
        after = next;
        /* no next page, enough, or a page that added nothing (a daemon going round) */
        if (!after || json_array_size(all) >= (size_t)limit || json_array_size(all) == before)
            break;
    }
    if (!(wrap = json_pack("{s:O}", "jobs", all)) ||
        !(text = json_dumps(wrap, JSON_COMPACT | JSON_REAL_PRECISION(15)))) {
        fprintf(stderr, "drover: %s: out of memory\n", a->label);
        rc = CLI_EXIT_FAILED;
        goto done;
    }
    if (a->given & O_JSON) {
        rc = cli_emit(text, strlen(text));
        if (rc == 0)
            rc = cli_emit("\n", 1);
    } else {
        rc = emit_text(a, cli_render_job_list(text, strlen(text), util_unix_ms(), err, sizeof(err)),
                       err);
    }
done:
    free(text);
    free(after);
    json_decref(wrap);
    json_decref(all);
    return rc;
}

static int
run_change(struct jargs *a)
{
    const char *sub = a->pos[1];
    bool rm = !strcmp(sub, "rm");
    char target[3 * CLI_JOB_ID_MAX + 32], err[CLI_ERR_MAX], line[CLI_JOB_ID_MAX + 64];
    struct cli_response res = { 0 };
    struct cli_job_outcome o;
    int rc;

    if ((rc = job_target(a,
                         rm                       ? ""
                         : !strcmp(sub, "cancel") ? "/cancel"
                                                  : "/retry",
                         target, sizeof(target))) != 0)
        return rc;
    if ((rc = exchange(a, rm ? "DELETE" : "POST", target, 0, NULL, &res)) != 0)
        return rc;
    if (res.code != 200) {
        rc = answer_error(a, &res);
    } else if (a->given & O_JSON) {
        rc = emit_json(&res);
    } else if (rm) {
        (void)snprintf(line, sizeof(line), "job %s removed\n", a->pos[2]);
        rc = cli_emit(line, strlen(line));
    } else if (cli_job_outcome_parse(res.body, res.body_len, &o, err, sizeof(err)) < 0) {
        fprintf(stderr, "drover: %s: %s\n", a->label, err);
        rc = CLI_EXIT_FAILED;
    } else {
        (void)snprintf(line, sizeof(line), "job %s: %s\n", o.id, o.state);
        cli_job_outcome_done(&o);
        rc = cli_emit(line, strlen(line));
    }
    cli_response_done(&res);
    return rc;
}

static int
events_once(const struct jargs *a, uint64_t since, int wait_s, uint64_t *next)
{
    struct cli_response res = { 0 };
    char target[96], err[CLI_ERR_MAX], *text;
    bool gap = false;
    int rc;

    (void)snprintf(target, sizeof(target), "/jobs/events?since=%llu", (unsigned long long)since);
    if (wait_s > 0)
        (void)snprintf(target + strlen(target), sizeof(target) - strlen(target), "&wait=%d",
                       wait_s);
    if ((rc = exchange(a, "GET", target, wait_s, NULL, &res)) != 0)
        return rc;
    if (res.code != 200) {
        rc = answer_error(a, &res);
        cli_response_done(&res);
        return rc;
    }
    text = cli_render_job_events(res.body, res.body_len, next, &gap, err, sizeof(err));
    cli_response_done(&res);
    if (text && gap) {
        (void)fflush(stdout);
        fprintf(stderr,
                "drover: %s: warning: fell behind: job changes from seq %llu up to the oldest "
                "kept were dropped; 'drover job list' shows the jobs\n",
                a->label, (unsigned long long)since);
    }
    return emit_text(a, text, err);
}

static int
run_events(struct jargs *a)
{
    const char *s = value_of(a, O_SINCE);
    struct cli_stop_signals st;
    uint64_t since = 0, next = 0;
    int rc;

    if (s && (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 18))
        return usage_error(a, "bad --since '%s': expected a sequence number", s);
    if (s)
        since = strtoull(s, NULL, 10);
    if (!(a->given & O_FOLLOW)) {
        rc = events_once(a, since, 0, &next);
        return rc == -EINTR ? CLI_EXIT_OK : rc;
    }
    /* A stop signal ends the next wait with EINTR, and we exit 0, as `events --follow`. */
    cli_stop_signals_catch(&st);
    a->wait_mask = &st.wait_mask;
    rc = events_once(a, since, 0, &next);
    while (rc == 0) {
        since = next;
        rc = events_once(a, since, EVENTS_WAIT_S, &next);
    }
    a->wait_mask = NULL;
    cli_stop_signals_restore(&st);
    return rc == -EINTR ? CLI_EXIT_OK : rc;
}

static int
run_queues(struct jargs *a)
{
    struct cli_response res = { 0 };
    int rc = exchange(a, "GET", "/queues", 0, NULL, &res);

    if (rc != 0)
        return rc;
    return show_answer(a, &res, cli_render_queues);
}

int
cli_jobs_main(int argc, char **argv)
{
    struct jargs a = { 0 };
    const struct sub *s;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    int rc = parse(argc, argv, &a), skip;
    size_t n;

    if (rc != 0)
        return rc;
    s = a.npos > 0 ? find_sub(a.pos[0], a.npos > 1 ? a.pos[1] : NULL) : NULL;
    if (!s) {
        if (a.npos > 0 && !strcmp(a.pos[0], "job") && (a.npos == 1 || a.help)) {
            cli_jobs_help(a.help ? stdout : stderr, "job", NULL);
            return a.help ? CLI_EXIT_OK : CLI_EXIT_USAGE;
        }
        (void)snprintf(a.label, sizeof(a.label), "job");
        (void)snprintf(a.cmd, sizeof(a.cmd), "job");
        return usage_error(&a, "unknown command 'job %s'", a.npos > 1 ? a.pos[1] : "");
    }
    skip = s->sub ? 2 : 1;
    n = (size_t)snprintf(a.label, sizeof(a.label), "%s%s%s", s->verb, s->sub ? " " : "",
                         s->sub ? s->sub : "");
    (void)snprintf(a.cmd, sizeof(a.cmd), "%s", a.label);
    if (a.help) {
        sub_usage(stdout, s);
        return CLI_EXIT_OK;
    }
    for (size_t k = 0; k < ARRAY_SIZE(options); k++)
        if ((a.given & options[k].bit) && !(s->opts & options[k].bit))
            return usage_error(&a, "option '%s' does not apply to '%s'", options[k].name, a.label);
    if (a.npos - skip < s->min_args || a.npos - skip > s->max_args) {
        char syn[512];
        size_t k = 0;

        /* the synopsis on one line */
        for (const char *p = s->synopsis; *p && k + 1 < sizeof(syn); p++)
            if (*p != '\n' && !(*p == ' ' && k > 0 && syn[k - 1] == ' '))
                syn[k++] = *p == '\n' ? ' ' : *p;
            else if (*p == '\n')
                syn[k++] = ' ';
        syn[k] = '\0';
        return usage_error(&a, "%s; usage: drover %s",
                           a.npos - skip < s->min_args ? "missing argument" : "too many arguments",
                           syn);
    }
    if (!(a.sock = rundir_socket_path(a.control, path, sizeof(path))))
        return usage_error(&a, "the control socket path is too long (at most %zu bytes)",
                           sizeof(path) - 1);
    for (int i = skip; i < a.npos && n < sizeof(a.label); i++)
        n += (size_t)snprintf(a.label + n, sizeof(a.label) - n, " %.64s", a.pos[i]);
    util_one_line(a.label);
    return s->run(&a);
}

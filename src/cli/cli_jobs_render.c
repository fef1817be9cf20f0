/*
 * cli_jobs_render: the jobs answers turned into the CLI's text, and the POST
 * /jobs body. Pure. See cli_jobs_render.h.
 */
#include "cli/cli_jobs_render.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/base64.h"
#include "core/utf8.h"
#include "core/util.h"
#include "cli/cli.h"
#include "cli/cli_render.h"
#include "cli/cli_text.h"

/* A text result is shown inline up to this many bytes (escaped), then cut with "...". */
#define RESULT_SHOWN_MAX 200

static const char *
str_of(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* Text from the daemon for one terminal line: controls and invalid bytes as \xHH. */
static char *
shown(const char *s, char *buf, size_t len)
{
    if (!s)
        s = "?";
    (void)utf8_escape(s, strlen(s), buf, len, UTF8_ESCAPE_CONTROLS);
    return buf;
}

bool
cli_job_id_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;

    if (n < 1 || n > CLI_JOB_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("._:-", s[i]))
            return false;
    return true;
}

bool
cli_job_state_terminal(const char *state)
{
    return state &&
           (!strcmp(state, "success") || !strcmp(state, "failed") || !strcmp(state, "cancelled"));
}

static json_t *
seconds_of(int64_t ms)
{
    return ms % 1000 == 0 ? json_integer(ms / 1000) : json_real((double)ms / 1000.0);
}

char *
cli_job_submit_body(const struct cli_job_submit *s, char *err, size_t errlen)
{
    json_t *o = json_object(), *env = NULL;
    char *b64 = NULL, *out = NULL;
    int r = o ? 0 : -1;

    if (r == 0)
        r = json_object_set_new(o, "type", json_string(s->type));
    if (r == 0 && s->payload && utf8_valid(s->payload, s->payload_len)) {
        r = json_object_set_new(o, "payload", json_stringn(s->payload, s->payload_len));
    } else if (r == 0 && s->payload) {
        if (!(b64 = malloc(base64_encoded_len(s->payload_len) + 1)))
            r = -1;
        else {
            base64_encode(s->payload, s->payload_len, b64);
            r = json_object_set_new(o, "payload_b64", json_string(b64));
        }
    }
    if (r == 0 && s->id)
        r = json_object_set_new(o, "id", json_string(s->id));
    if (r == 0 && s->priority >= 0)
        r = json_object_set_new(o, "priority", json_integer(s->priority));
    if (r == 0 && s->delay_ms >= 0)
        r = json_object_set_new(o, "delay", seconds_of(s->delay_ms));
    if (r == 0 && s->timeout_ms >= 0)
        r = json_object_set_new(o, "timeout", seconds_of(s->timeout_ms));
    if (r == 0 && s->attempts >= 0)
        r = json_object_set_new(o, "attempts", json_integer(s->attempts));
    if (r == 0 && s->nenv > 0) {
        if (!(env = json_object()) || json_object_set(o, "env", env) < 0)
            r = -1;
        for (size_t i = 0; r == 0 && i < s->nenv; i++) {
            const char *eq = strchr(s->env[i], '=');
            char key[256];

            if (!eq || eq == s->env[i] || (size_t)(eq - s->env[i]) >= sizeof(key) ||
                !utf8_valid(s->env[i], strlen(s->env[i]))) {
                (void)snprintf(err, errlen, "bad --env '%.200s': expected KEY=VALUE", s->env[i]);
                goto done;
            }
            memcpy(key, s->env[i], (size_t)(eq - s->env[i]));
            key[eq - s->env[i]] = '\0';
            r = json_object_set_new(env, key, json_string(eq + 1));
        }
    }
    if (r == 0)
        out = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(15));
    if (!out)
        (void)snprintf(err, errlen, "out of memory");
done:
    json_decref(env);
    json_decref(o);
    free(b64);
    return out;
}

/* "result" (text) or "result_b64" (bytes) into malloc'ed bytes; 0 none, 1 some, -1 malformed. */
static int
result_bytes(const json_t *j, unsigned char **ret, size_t *ret_len)
{
    const json_t *t = json_object_get(j, "result"), *b = json_object_get(j, "result_b64");
    unsigned char *p;
    long n;

    if (json_is_string(t)) {
        size_t len = json_string_length(t);

        if (!(p = malloc(len + 1)))
            return -1;
        memcpy(p, json_string_value(t), len);
        p[len] = '\0';
        *ret = p;
        *ret_len = len;
        return 1;
    }
    if (json_is_string(b)) {
        size_t len = json_string_length(b);

        if (!(p = malloc(len / 4 * 3 + 1)))
            return -1;
        if ((n = base64_decode(json_string_value(b), len, p)) < 0) {
            free(p);
            return -1;
        }
        p[n] = '\0';
        *ret = p;
        *ret_len = (size_t)n;
        return 1;
    }
    return (t && !json_is_null(t)) || (b && !json_is_null(b)) ? -1 : 0;
}

/* "CODE: message" of a job's error, one line; "" when it has none. */
static char *
error_line(const json_t *j, char *buf, size_t len)
{
    const json_t *e = json_object_get(j, "error");
    const char *code = str_of(e, "code"), *msg = str_of(e, "message");
    const char *sig = str_of(e, "signal");
    char c[160], m[400];
    int n;

    buf[0] = '\0';
    if (!json_is_object(e))
        return buf;
    n = snprintf(buf, len, "%s%s%s", code ? shown(code, c, sizeof(c)) : "",
                 code && msg && *msg ? ": " : "", msg ? shown(msg, m, sizeof(m)) : "");
    if (sig && n >= 0 && (size_t)n < len)
        (void)snprintf(buf + n, len - (size_t)n, " (signal %s)", shown(sig, c, sizeof(c)));
    return buf;
}

int
cli_job_outcome_parse(const char *body, size_t body_len, struct cli_job_outcome *ret, char *err,
                      size_t errlen)
{
    json_t *j = cli_text_load_object(body, body_len, "job", err, errlen);
    const char *id = j ? str_of(j, "id") : NULL, *state = j ? str_of(j, "state") : NULL;
    struct cli_job_outcome o = { 0 };
    int r;

    if (!j)
        return -EPROTO;
    /* both are printed and the id goes into the next request: only what they can be */
    if (!cli_job_id_valid(id) || !state || !*state || strlen(state) >= sizeof(o.state) ||
        strspn(state, "abcdefghijklmnopqrstuvwxyz_-") != strlen(state)) {
        (void)snprintf(err, errlen, "malformed job answer: no valid \"id\" or \"state\"");
        json_decref(j);
        return -EPROTO;
    }
    (void)snprintf(o.id, sizeof(o.id), "%s", id);
    (void)snprintf(o.state, sizeof(o.state), "%s", state);
    o.terminal = cli_job_state_terminal(state);
    o.success = strcmp(state, "success") == 0;
    if ((r = result_bytes(j, &o.result, &o.result_len)) < 0) {
        (void)snprintf(err, errlen, "malformed job answer: a bad \"result\" or \"result_b64\"");
        json_decref(j);
        return -EPROTO;
    }
    error_line(j, o.error, sizeof(o.error));
    if (o.terminal && !o.success && !o.error[0])
        (void)snprintf(o.error, sizeof(o.error), "%s", state);
    json_decref(j);
    *ret = o;
    return 0;
}

void
cli_job_outcome_done(struct cli_job_outcome *o)
{
    free(o->result);
    o->result = NULL;
}

/* "2026-11-23T10:00:00.123Z" (UTC); "-" for null or absent. */
static char *
time_text(const json_t *v, char *buf, size_t len)
{
    long long ms;
    time_t t;
    struct tm tm;
    char day[40];

    if (!json_is_integer(v)) {
        (void)snprintf(buf, len, "%s", !v || json_is_null(v) ? "-" : "?");
        return buf;
    }
    ms = (long long)json_integer_value(v);
    if (ms < 0 || ms > 253402300799999LL) { /* year 9999 */
        (void)snprintf(buf, len, "?");
        return buf;
    }
    t = (time_t)(ms / 1000);
    if (!gmtime_r(&t, &tm) || !strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm))
        (void)snprintf(buf, len, "?");
    else
        (void)snprintf(buf, len, "%s.%03dZ", day, (int)(ms % 1000));
    return buf;
}

/* An instance: "prog:1" (a string) or a number; "-" for null or absent. */
static char *
instance_text(const json_t *v, char *buf, size_t len)
{
    if (json_is_string(v))
        return shown(json_string_value(v), buf, len);
    if (json_is_integer(v))
        (void)snprintf(buf, len, "%lld", (long long)json_integer_value(v));
    else
        (void)snprintf(buf, len, "%s", !v || json_is_null(v) ? "-" : "?");
    return buf;
}

static long long
int_of(const json_t *o, const char *key)
{
    return (long long)json_integer_value(json_object_get(o, key));
}

/* "A/M" */
static char *
attempt_text(const json_t *j, char *buf, size_t len)
{
    (void)snprintf(buf, len, "%lld/%lld", int_of(j, "attempt"), int_of(j, "max_attempts"));
    return buf;
}

static void
result_line(struct cli_text *b, const json_t *j)
{
    const json_t *t = json_object_get(j, "result"), *r64 = json_object_get(j, "result_b64");
    char buf[4 * RESULT_SHOWN_MAX + 8];

    if (json_is_string(t)) {
        size_t n = json_string_length(t);
        size_t w = utf8_escape(json_string_value(t), n, buf, sizeof(buf) / 4, UTF8_ESCAPE_CONTROLS);

        cli_text_printf(b, "result:    %s%s", buf, w >= sizeof(buf) / 4 ? "..." : "");
        cli_text_printf(b, " (%zu bytes)\n", n);
    } else if (json_is_string(r64)) {
        size_t n = json_string_length(r64);
        long bytes = -1;
        unsigned char *p = malloc(n / 4 * 3 + 1);

        if (p)
            bytes = base64_decode(json_string_value(r64), n, p);
        free(p);
        if (bytes >= 0)
            cli_text_printf(b, "result:    (%ld bytes, binary)\n", bytes);
        else
            cli_text_printf(b, "result:    ? (bad result_b64)\n");
    } else {
        cli_text_printf(b, "result:    -\n");
    }
}

char *
cli_render_job(const char *body, size_t body_len, char *err, size_t errlen)
{
    json_t *j = cli_text_load_object(body, body_len, "job", err, errlen);
    const json_t *hist = j ? json_object_get(j, "history") : NULL, *h;
    const json_t *prog = j ? json_object_get(j, "progress") : NULL;
    const char *id = j ? str_of(j, "id") : NULL, *state = j ? str_of(j, "state") : NULL;
    char a[160], c[160], d[160], t1[64], t2[64], t3[64], line[1024];
    struct cli_text b = { 0 };
    size_t i;

    if (!j)
        return NULL;
    if (!id || !state || !json_is_string(json_object_get(j, "type")) ||
        (hist && !json_is_array(hist))) {
        (void)snprintf(err, errlen, "malformed job answer: no \"id\", \"type\" or \"state\"");
        json_decref(j);
        return NULL;
    }
    cli_text_printf(&b, "id:        %s\n", shown(id, a, sizeof(a)));
    cli_text_printf(&b, "type:      %s\n", shown(str_of(j, "type"), a, sizeof(a)));
    cli_text_printf(&b, "state:     %s", shown(state, a, sizeof(a)));
    if (str_of(j, "hero_status") || str_of(j, "funcx_state"))
        cli_text_printf(&b, " (hero %s, funcx %s)", shown(str_of(j, "hero_status"), c, sizeof(c)),
                        shown(str_of(j, "funcx_state"), d, sizeof(d)));
    cli_text_printf(&b, "\n");
    cli_text_printf(&b, "attempt:   %s\n", attempt_text(j, a, sizeof(a)));
    cli_text_printf(&b, "priority:  %lld\n", int_of(j, "priority"));
    cli_text_printf(&b, "instance:  %s\n",
                    instance_text(json_object_get(j, "instance"), a, sizeof(a)));
    cli_text_printf(&b, "created:   %s\n",
                    time_text(json_object_get(j, "created_ms"), t1, sizeof(t1)));
    cli_text_printf(&b, "started:   %s\n",
                    time_text(json_object_get(j, "started_ms"), t2, sizeof(t2)));
    cli_text_printf(&b, "finished:  %s",
                    time_text(json_object_get(j, "finished_ms"), t3, sizeof(t3)));
    if (json_is_integer(json_object_get(j, "started_ms")) &&
        json_is_integer(json_object_get(j, "finished_ms"))) {
        long long took = int_of(j, "finished_ms") - int_of(j, "started_ms");

        if (took >= 0)
            cli_text_printf(&b, " (took %s)",
                            cli_format_seconds((double)took / 1000.0, a, sizeof(a)));
    }
    cli_text_printf(&b, "\n");
    if (json_is_integer(json_object_get(j, "timeout_ms")) && int_of(j, "timeout_ms") > 0)
        cli_text_printf(&b, "timeout:   %s\n",
                        cli_format_seconds((double)int_of(j, "timeout_ms") / 1000.0, a, sizeof(a)));
    if (str_of(j, "caller_id"))
        cli_text_printf(&b, "caller:    %s\n", shown(str_of(j, "caller_id"), a, sizeof(a)));
    if (str_of(j, "context_id"))
        cli_text_printf(&b, "context:   %s\n", shown(str_of(j, "context_id"), a, sizeof(a)));
    cli_text_printf(&b, "error:     %s\n", *error_line(j, line, sizeof(line)) ? line : "-");
    if (json_is_object(prog) && json_is_integer(json_object_get(prog, "pct"))) {
        const char *m = str_of(prog, "message");

        cli_text_printf(&b, "progress:  %lld%%%s%s\n", int_of(prog, "pct"), m && *m ? " " : "",
                        m && *m ? shown(m, line, sizeof(line)) : "");
    } else {
        cli_text_printf(&b, "progress:  -\n");
    }
    result_line(&b, j);
    if (json_array_size(hist) > 0)
        cli_text_printf(&b, "history:\n");
    json_array_foreach(hist, i, h)
    {
        const char *code = str_of(h, "error_code"), *sig = str_of(h, "signal");
        const char *cause = str_of(h, "cause");

        if (!json_is_object(h)) {
            (void)snprintf(err, errlen, "malformed job answer: a history entry is not an object");
            cli_text_done(&b);
            json_decref(j);
            return NULL;
        }
        cli_text_printf(
            &b, "  %s  %-11s %-6s", time_text(json_object_get(h, "time_ms"), t1, sizeof(t1)),
            shown(str_of(h, "state"), a, sizeof(a)), shown(str_of(h, "actor"), c, sizeof(c)));
        if (cause && *cause)
            cli_text_printf(&b, "  %s", shown(cause, line, sizeof(line)));
        if (code)
            cli_text_printf(&b, "  [%s]", shown(code, d, sizeof(d)));
        if (sig)
            cli_text_printf(&b, "  (signal %s)", shown(sig, d, sizeof(d)));
        /* the padding of the last column is not for the eye */
        while (b.p && b.len > 0 && b.p[b.len - 1] == ' ')
            b.p[--b.len] = '\0';
        cli_text_printf(&b, "\n");
    }
    json_decref(j);
    return cli_text_take(&b, err, errlen);
}

int
cli_job_list_page(const char *body, size_t body_len, struct json_t *into, size_t max,
                  char **ret_next_after, char *err, size_t errlen)
{
    json_t *j = cli_text_load_object(body, body_len, "job list", err, errlen);
    const json_t *jobs = j ? json_object_get(j, "jobs") : NULL, *job;
    const json_t *next = j ? json_object_get(j, "next_after") : NULL;
    char *after = NULL;
    size_t i;

    if (!j)
        return -EPROTO;
    if (!json_is_array(jobs) || (next && !json_is_null(next) && !json_is_string(next))) {
        (void)snprintf(err, errlen,
                       "malformed job list answer: no \"jobs\" list or \"next_after\"");
        json_decref(j);
        return -EPROTO;
    }
    json_array_foreach(jobs, i, job)
    {
        if (!json_is_object(job)) {
            (void)snprintf(err, errlen, "malformed job list answer: a job is not an object");
            json_decref(j);
            return -EPROTO;
        }
        if (json_array_size(into) < max && json_array_append((json_t *)into, (json_t *)job) < 0) {
            (void)snprintf(err, errlen, "out of memory");
            json_decref(j);
            return -ENOMEM;
        }
    }
    if (json_is_string(next) && !(after = strdup(json_string_value(next)))) {
        (void)snprintf(err, errlen, "out of memory");
        json_decref(j);
        return -ENOMEM;
    }
    json_decref(j);
    *ret_next_after = after;
    return 0;
}

#define MAX_COLS 16
#define CELL_MAX 160

/* A table built row by row: cells kept, widths measured, printed at the end. */
struct table {
    size_t ncol, nrow, cap;
    char (*cells)[MAX_COLS][CELL_MAX];
    size_t w[MAX_COLS];
    bool oom;
};

static char *
table_cell(struct table *t, size_t row, size_t col)
{
    return t->cells[row][col];
}

/* A new row (cells ""), or -1 on out of memory. */
static long
table_row(struct table *t)
{
    if (t->oom)
        return -1;
    if (t->nrow == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        void *p = realloc(t->cells, cap * sizeof(*t->cells));

        if (!p) {
            t->oom = true;
            return -1;
        }
        t->cells = p;
        t->cap = cap;
    }
    memset(t->cells[t->nrow], 0, sizeof(*t->cells));
    return (long)t->nrow++;
}

static void
table_set(struct table *t, long row, size_t col, const char *s)
{
    char *c;

    if (row < 0)
        return;
    c = table_cell(t, (size_t)row, col);
    (void)utf8_escape(s ? s : "?", s ? strlen(s) : 1, c, CELL_MAX, UTF8_ESCAPE_CONTROLS);
    if (cli_text_width(c) > t->w[col])
        t->w[col] = cli_text_width(c);
}

static char *
table_take(struct table *t, char *err, size_t errlen)
{
    struct cli_text b = { 0 };

    for (size_t r = 0; r < t->nrow && !t->oom; r++) {
        for (size_t c = 0; c + 1 < t->ncol; c++) {
            const char *s = table_cell(t, r, c);
            cli_text_printf(&b, "%s%*s  ", s, (int)(t->w[c] - cli_text_width(s)), "");
        }
        cli_text_printf(&b, "%s\n", table_cell(t, r, t->ncol - 1));
    }
    free(t->cells);
    t->cells = NULL;
    if (t->oom) {
        cli_text_done(&b);
        (void)snprintf(err, errlen, "out of memory");
        return NULL;
    }
    return cli_text_take(&b, err, errlen);
}

static void
table_head(struct table *t, const char *const *names, size_t n)
{
    long r = table_row(t);

    t->ncol = n;
    for (size_t c = 0; c < n; c++)
        table_set(t, r, c, names[c]);
}

/* "12s", "5m", "3h", "2d": how long ago, coarse; "-" when unknown. */
static char *
age_text(const json_t *created, int64_t now_ms, char *buf, size_t len)
{
    long long s;

    if (!json_is_integer(created)) {
        (void)snprintf(buf, len, "-");
        return buf;
    }
    s = (now_ms - (long long)json_integer_value(created)) / 1000;
    if (s < 0)
        s = 0;
    if (s < 120)
        (void)snprintf(buf, len, "%llds", s);
    else if (s < 7200)
        (void)snprintf(buf, len, "%lldm", s / 60);
    else if (s < 172800)
        (void)snprintf(buf, len, "%lldh", s / 3600);
    else
        (void)snprintf(buf, len, "%lldd", s / 86400);
    return buf;
}

char *
cli_render_job_list(const char *body, size_t body_len, int64_t now_ms, char *err, size_t errlen)
{
    static const char *const head[] = { "ID", "TYPE", "STATE", "ATTEMPT", "INSTANCE", "AGE" };
    json_t *j = cli_text_load_object(body, body_len, "job list", err, errlen);
    const json_t *jobs = j ? json_object_get(j, "jobs") : NULL, *job;
    struct table t = { 0 };
    char buf[CELL_MAX];
    size_t i;

    if (!j)
        return NULL;
    if (!json_is_array(jobs)) {
        (void)snprintf(err, errlen, "malformed job list answer: no \"jobs\" list");
        json_decref(j);
        return NULL;
    }
    table_head(&t, head, ARRAY_SIZE(head));
    json_array_foreach(jobs, i, job)
    {
        long r = table_row(&t);

        if (!json_is_object(job) || !str_of(job, "id")) {
            (void)snprintf(err, errlen, "malformed job list answer: a job without an \"id\"");
            free(t.cells);
            json_decref(j);
            return NULL;
        }
        table_set(&t, r, 0, str_of(job, "id"));
        table_set(&t, r, 1, str_of(job, "type"));
        table_set(&t, r, 2, str_of(job, "state"));
        table_set(&t, r, 3, attempt_text(job, buf, sizeof(buf)));
        table_set(&t, r, 4, instance_text(json_object_get(job, "instance"), buf, sizeof(buf)));
        table_set(&t, r, 5, age_text(json_object_get(job, "created_ms"), now_ms, buf, sizeof(buf)));
    }
    json_decref(j);
    return table_take(&t, err, errlen);
}

/* A count member as text; "?" when it is not an integer. */
static char *
count_text(const json_t *o, const char *key, char *buf, size_t len)
{
    const json_t *v = json_object_get(o, key);

    if (json_is_integer(v))
        (void)snprintf(buf, len, "%lld", (long long)json_integer_value(v));
    else
        (void)snprintf(buf, len, "%s", !v || json_is_null(v) ? "-" : "?");
    return buf;
}

char *
cli_render_queues(const char *body, size_t body_len, char *err, size_t errlen)
{
    /* The redis store adds the cluster's figures: SHARED on the shared queue, HELD by any
       node, HERE by this one. */
    static const char *const head[] = { "TYPE",      "PROGRAM",   "WAITING", "DELAYED",
                                        "RETRY",     "RUNNING",   "OLDEST",  "DONE/1m",
                                        "FAILED/1m", "INSTANCES", "IDLE",    "BUSY",
                                        "DESIRED",   "SHARED",    "HELD",    "HERE" };
    static const char *const counts[] = { "waiting", "delayed", "retry_wait", "running",
                                          NULL,      "done_1m", "failed_1m",  "instances",
                                          "idle",    "busy",    "desired" };
    static const char *const cluster[] = { "waiting", "in_flight", "this_node" };
    json_t *j = cli_text_load_object(body, body_len, "queues", err, errlen);
    const json_t *types = j ? json_object_get(j, "types") : NULL, *q;
    const json_t *store = j ? json_object_get(j, "store") : NULL;
    bool redis = str_of(store, "kind") && strcmp(str_of(store, "kind"), "redis") == 0;
    struct table t = { 0 };
    struct cli_text b = { 0 };
    char buf[CELL_MAX], *tab, *out;
    size_t i;

    if (!j)
        return NULL;
    if (!json_is_array(types)) {
        (void)snprintf(err, errlen, "malformed queues answer: no \"types\" list");
        json_decref(j);
        return NULL;
    }
    table_head(&t, head, ARRAY_SIZE(head) - (redis ? 0 : ARRAY_SIZE(cluster)));
    json_array_foreach(types, i, q)
    {
        long r = table_row(&t);
        const json_t *old = json_object_get(q, "oldest_waiting_s");

        if (!json_is_object(q) || !str_of(q, "type")) {
            (void)snprintf(err, errlen, "malformed queues answer: a queue without a \"type\"");
            free(t.cells);
            json_decref(j);
            return NULL;
        }
        table_set(&t, r, 0, str_of(q, "type"));
        table_set(&t, r, 1, str_of(q, "program") ? str_of(q, "program") : "-");
        for (size_t c = 0; c < ARRAY_SIZE(counts); c++) {
            if (counts[c])
                table_set(&t, r, 2 + c, count_text(q, counts[c], buf, sizeof(buf)));
            else if (json_is_number(old))
                table_set(&t, r, 2 + c,
                          cli_format_seconds(json_number_value(old), buf, sizeof(buf)));
            else
                table_set(&t, r, 2 + c, "-");
        }
        for (size_t c = 0; redis && c < ARRAY_SIZE(cluster); c++)
            table_set(&t, r, 2 + ARRAY_SIZE(counts) + c,
                      count_text(json_object_get(q, "cluster"), cluster[c], buf, sizeof(buf)));
    }
    if (redis) {
        const json_t *nodes = json_object_get(store, "nodes");

        cli_text_printf(&b, "store redis, node %s: %s",
                        shown(str_of(store, "node"), buf, sizeof(buf)),
                        json_is_true(json_object_get(store, "up")) ? "up" : "UNREACHABLE");
        if (json_is_integer(nodes))
            cli_text_printf(
                &b, ", %lld node%s in the cluster, %lld job%s delayed or waiting to retry",
                (long long)json_integer_value(nodes), json_integer_value(nodes) == 1 ? "" : "s",
                (long long)json_integer_value(json_object_get(store, "retry_wait")),
                json_integer_value(json_object_get(store, "retry_wait")) == 1 ? "" : "s");
        cli_text_printf(&b, "\n");
    }
    json_decref(j);
    if (!(tab = table_take(&t, err, errlen))) {
        cli_text_done(&b);
        return NULL;
    }
    cli_text_printf(&b, "%s", tab);
    free(tab);
    out = cli_text_take(&b, err, errlen);
    return out;
}

char *
cli_render_job_events(const char *body, size_t body_len, uint64_t *ret_next, bool *ret_gap,
                      char *err, size_t errlen)
{
    json_t *j = cli_text_load_object(body, body_len, "job events", err, errlen);
    const json_t *events = j ? json_object_get(j, "events") : NULL, *ev;
    const json_t *next = j ? json_object_get(j, "next") : NULL;
    struct cli_text b = { 0 };
    char t[64], id[CELL_MAX], ty[CELL_MAX], from[64], to[64], inst[CELL_MAX], cause[400];
    char *out;
    size_t i;

    if (!j)
        return NULL;
    if (!json_is_array(events) || !json_is_integer(next) || json_integer_value(next) < 0) {
        (void)snprintf(err, errlen, "malformed job events answer: no \"events\" list or \"next\"");
        json_decref(j);
        return NULL;
    }
    json_array_foreach(events, i, ev)
    {
        const char *c;

        if (!json_is_object(ev)) {
            (void)snprintf(err, errlen, "malformed job events answer: an event is not an object");
            cli_text_done(&b);
            json_decref(j);
            return NULL;
        }
        c = str_of(ev, "cause");
        cli_text_printf(&b, "%s  %s  %s  %s -> %s  attempt %lld  %s",
                        time_text(json_object_get(ev, "time_ms"), t, sizeof(t)),
                        shown(str_of(ev, "id"), id, sizeof(id)),
                        shown(str_of(ev, "type"), ty, sizeof(ty)),
                        str_of(ev, "from") ? shown(str_of(ev, "from"), from, sizeof(from)) : "-",
                        shown(str_of(ev, "to"), to, sizeof(to)), int_of(ev, "attempt"),
                        instance_text(json_object_get(ev, "instance"), inst, sizeof(inst)));
        if (c && *c)
            cli_text_printf(&b, "  (%s)", shown(c, cause, sizeof(cause)));
        cli_text_printf(&b, "\n");
    }
    out = cli_text_take(&b, err, errlen);
    if (out) {
        *ret_next = (uint64_t)json_integer_value(next);
        *ret_gap = json_is_true(json_object_get(j, "gap"));
    }
    json_decref(j);
    return out;
}

char *
cli_job_error_text(int code, const char *body, size_t body_len, char *buf, size_t len)
{
    json_t *j = body_len ? json_loadb(body, body_len, 0, NULL) : NULL;
    const char *field = j ? str_of(j, "field") : NULL;
    char f[160];
    size_t n;

    cli_error_text(code, body, body_len, buf, len);
    n = strlen(buf);
    if (field && n < len)
        (void)snprintf(buf + n, len - n, " (field '%s')", shown(field, f, sizeof(f)));
    json_decref(j);
    return util_one_line(buf);
}

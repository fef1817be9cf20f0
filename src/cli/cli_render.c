/*
 * cli_render: the daemon's JSON answers turned into the CLI's text. Pure. See cli_render.h.
 */
#include "cli/cli_render.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/util.h"
#include "cli/cli.h"
#include "cli/cli_text.h"

/* STATUS column: longer texts are cut to this many characters, "..." included. */
#define STATUS_TEXT_MAX 48

/* A string member, or NULL when absent or not a string. */
static const char *
str_of(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

char *
cli_error_text(int code, const char *body, size_t body_len, char *buf, size_t len)
{
    static const char *const subjects[] = { "name", "target", "program", "instance" };
    json_t *j = body_len ? json_loadb(body, body_len, 0, NULL) : NULL;
    const char *error = j ? str_of(j, "error") : NULL;
    struct cli_text b = { 0 };

    if (!error) {
        size_t n = body_len < 200 ? body_len : 200;

        while (n > 0 && isspace((unsigned char)body[n - 1]))
            n--;
        cli_text_printf(&b, "HTTP %d", code);
        if (n)
            cli_text_printf(&b, ": %.*s", (int)n, body);
    } else {
        const char *param = str_of(j, "parameter"), *value = str_of(j, "value");
        const char *expected = str_of(j, "expected"), *hint = str_of(j, "hint");

        cli_text_printf(&b, "%s", error);
        if (param) {
            cli_text_printf(&b, " %s", param);
            if (value)
                cli_text_printf(&b, "='%s'", value);
        } else if (code == 404) { /* "no such program": say which */
            for (size_t i = 0; i < ARRAY_SIZE(subjects); i++) {
                const char *s = str_of(j, subjects[i]);

                if (s && *s && !strstr(error, s)) {
                    cli_text_printf(&b, " '%s'", s);
                    break;
                }
            }
        }
        if (expected)
            cli_text_printf(&b, ": expected %s", expected);
        if (hint)
            cli_text_printf(&b, " (%s)", hint);
    }
    json_decref(j);
    (void)snprintf(buf, len, "%s", b.oom || !b.p ? "out of memory" : b.p);
    cli_text_done(&b);
    return util_one_line(buf);
}

char *
cli_format_uptime(double seconds, char *buf, size_t len)
{
    unsigned long long s, d;

    if (!isfinite(seconds) || seconds < 0 || seconds > 1e15) {
        (void)snprintf(buf, len, "-");
        return buf;
    }
    s = (unsigned long long)seconds;
    d = s / 86400;
    s %= 86400;
    if (d)
        (void)snprintf(buf, len, "%llud %llu:%02llu:%02llu", d, s / 3600, s / 60 % 60, s % 60);
    else
        (void)snprintf(buf, len, "%llu:%02llu:%02llu", s / 3600, s / 60 % 60, s % 60);
    return buf;
}

/* A JSON integer as text, "-" for null or absent, "?" for anything else. */
static char *
int_or_dash(const json_t *v, char *buf, size_t len)
{
    if (json_is_integer(v))
        (void)snprintf(buf, len, "%lld", (long long)json_integer_value(v));
    else
        (void)snprintf(buf, len, "%s", !v || json_is_null(v) ? "-" : "?");
    return buf;
}

/* last_exit: "-", "exit N", "SIGKILL", "unknown". */
static char *
exit_text(const json_t *v, char *buf, size_t len)
{
    const char *sig = str_of(v, "signal");

    if (!v || json_is_null(v))
        (void)snprintf(buf, len, "-");
    else if (json_is_integer(json_object_get(v, "code")))
        (void)snprintf(buf, len, "exit %lld",
                       (long long)json_integer_value(json_object_get(v, "code")));
    else if (sig)
        (void)snprintf(buf, len, "%s%s", strncmp(sig, "SIG", 3) == 0 ? "" : "SIG", sig);
    else if (json_is_true(json_object_get(v, "unknown")))
        (void)snprintf(buf, len, "unknown");
    else
        (void)snprintf(buf, len, "?");
    return util_one_line(buf);
}

/* Cuts s (UTF-8) to at most max characters, the last three being "..." when cut. */
static void
truncate_chars(char *s, size_t max)
{
    size_t chars = 0, cut = 0;

    for (size_t i = 0; s[i]; i++) {
        if (((unsigned char)s[i] & 0xC0) == 0x80)
            continue; /* a continuation byte: same character */
        if (chars == max - 3)
            cut = i;
        if (++chars > max) {
            while (cut > 0 && s[cut - 1] == ' ')
                cut--;
            memcpy(s + cut, "...", 4);
            return;
        }
    }
}

/* STATUS column: "not ready", "adopted" and the STATUS= text, or "-". */
static char *
status_text(const json_t *inst, char *buf, size_t len)
{
    const char *state = str_of(inst, "state"), *text = str_of(inst, "status");
    const json_t *ready = json_object_get(inst, "ready");
    struct cli_text b = { 0 };
    const char *sep = "";

    if (state && (!strcmp(state, "starting") || !strcmp(state, "running")) &&
        json_is_false(ready)) {
        cli_text_printf(&b, "not ready");
        sep = ", ";
    }
    if (str_of(inst, "waiting_for")) {
        cli_text_printf(&b, "waiting for %s", str_of(inst, "waiting_for"));
        sep = ", ";
    }
    if (json_is_true(json_object_get(inst, "adopted"))) {
        cli_text_printf(&b, "%sadopted", sep);
        sep = ", ";
    }
    if (text && *text)
        cli_text_printf(&b, "%s%s", sep, text);
    (void)snprintf(buf, len, "%s", b.oom ? "?" : b.p ? b.p : "-");
    cli_text_done(&b);
    util_one_line(buf);
    truncate_chars(buf, STATUS_TEXT_MAX);
    return buf;
}

/* An instance's index: its "instance" member, -1 if absent. */
static long long
index_of(const json_t *inst)
{
    const json_t *v = json_object_get(inst, "instance");

    return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

enum {
    COL_NAME,
    COL_STATE,
    COL_PID,
    COL_PORT,
    COL_UPTIME,
    COL_RESTARTS,
    COL_EXIT,
    COL_STATUS,
    NCOL
};

/* Room for STATUS_TEXT_MAX + 1 four-byte characters, so a cut is always seen. */
struct row {
    char col[NCOL][STATUS_TEXT_MAX * 4 + 8];
};

static void
fill_row(struct row *r, const char *program, const json_t *inst)
{
    const char *state = str_of(inst, "state");
    const json_t *up = json_object_get(inst, "uptime_seconds");
    size_t i;

    (void)snprintf(r->col[COL_NAME], sizeof(r->col[0]), "%s:%lld",
                   str_of(inst, "program") ? str_of(inst, "program") : program, index_of(inst));
    (void)snprintf(r->col[COL_STATE], sizeof(r->col[0]), "%s", state ? state : "?");
    for (i = 0; r->col[COL_STATE][i]; i++)
        r->col[COL_STATE][i] = (char)toupper((unsigned char)r->col[COL_STATE][i]);
    int_or_dash(json_object_get(inst, "pid"), r->col[COL_PID], sizeof(r->col[0]));
    int_or_dash(json_object_get(inst, "port"), r->col[COL_PORT], sizeof(r->col[0]));
    if (json_is_number(up))
        cli_format_uptime(json_number_value(up), r->col[COL_UPTIME], sizeof(r->col[0]));
    else
        (void)snprintf(r->col[COL_UPTIME], sizeof(r->col[0]), "-");
    int_or_dash(json_object_get(inst, "restarts"), r->col[COL_RESTARTS], sizeof(r->col[0]));
    exit_text(json_object_get(inst, "last_exit"), r->col[COL_EXIT], sizeof(r->col[0]));
    status_text(inst, r->col[COL_STATUS], sizeof(r->col[0]));
    util_one_line(r->col[COL_NAME]);
    util_one_line(r->col[COL_STATE]);
}

static const struct row table_head = { { "NAME", "STATE", "PID", "PORT", "UPTIME", "RESTARTS",
                                         "LAST EXIT", "STATUS" } };

static void
print_row(struct cli_text *b, const struct row *r, const size_t *w)
{
    for (int c = 0; c < NCOL - 1; c++)
        cli_text_printf(b, "%s%*s  ", r->col[c], (int)(w[c] - cli_text_width(r->col[c])), "");
    cli_text_printf(b, "%s\n", r->col[NCOL - 1]);
}

/*
 * Two passes over the selected instances, widths then lines, so no row is
 * kept: 100,000 instances cost one struct row, not 100,000.
 */
static char *
render_table(const json_t *const *picked, const char *const *names, size_t n, char *err,
             size_t errlen)
{
    struct row *r = malloc(sizeof(*r));
    size_t w[NCOL];
    struct cli_text b = { 0 };

    if (!r) {
        (void)snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (int c = 0; c < NCOL; c++)
        w[c] = cli_text_width(table_head.col[c]);
    for (size_t i = 0; i < n; i++) {
        fill_row(r, names[i], picked[i]);
        for (int c = 0; c < NCOL; c++)
            if (cli_text_width(r->col[c]) > w[c])
                w[c] = cli_text_width(r->col[c]);
    }
    print_row(&b, &table_head, w);
    for (size_t i = 0; i < n; i++) {
        fill_row(r, names[i], picked[i]);
        print_row(&b, r, w);
    }
    free(r);
    return cli_text_take(&b, err, errlen);
}

/*
 * The instances filter selects, in the body's order: every instance (filter
 * NULL or "all"), a program's, or one ("prog:i"). *ret_picked and
 * *ret_names (borrowed from programs) are malloc'ed, NULL when there are
 * none. Returns the count, or -1 with err for a malformed body, a bad filter
 * or an unknown program or instance.
 */
static long
select_instances(const json_t *programs, const char *filter, const json_t ***ret_picked,
                 const char ***ret_names, char *err, size_t errlen)
{
    char want[128] = "";
    long index = -1;
    size_t n = 0, cap = 0;
    const char *key;
    const json_t **picked = NULL;
    const char **names = NULL;
    json_t *list;
    bool program_seen = false;

    if (filter && strcmp(filter, "all") != 0 &&
        cli_split_name(filter, want, sizeof(want), &index) < 0) {
        (void)snprintf(err, errlen, "bad instance name '%s'", filter);
        return -1;
    }
    json_object_foreach((json_t *)programs, key, list)
    {
        size_t i;
        json_t *inst;

        if (!json_is_array(list)) {
            (void)snprintf(err, errlen, "malformed status answer: '%s' is not a list", key);
            goto fail;
        }
        if (want[0] && strcmp(key, want) != 0)
            continue;
        program_seen = true;
        json_array_foreach(list, i, inst)
        {
            if (!json_is_object(inst)) {
                (void)snprintf(err, errlen, "malformed status answer: an instance of '%s'", key);
                goto fail;
            }
            if (index >= 0 && index_of(inst) != index)
                continue;
            if (n == cap) {
                const json_t **p;
                const char **q;

                cap = cap ? cap * 2 : 64;
                p = realloc(picked, cap * sizeof(*picked));
                if (p)
                    picked = p;
                q = realloc(names, cap * sizeof(*names));
                if (q)
                    names = q;
                if (!p || !q) {
                    (void)snprintf(err, errlen, "out of memory");
                    goto fail;
                }
            }
            picked[n] = inst;
            names[n++] = key;
        }
    }
    if (want[0] && !program_seen) {
        (void)snprintf(err, errlen, "no such program '%s'", want);
        goto fail;
    }
    if (index >= 0 && n == 0) {
        (void)snprintf(err, errlen, "no such instance '%s'", filter);
        goto fail;
    }
    *ret_picked = picked;
    *ret_names = names;
    return (long)n;
fail:
    free(picked);
    free(names);
    return -1;
}

static const json_t *
programs_of(const json_t *j, char *err, size_t errlen)
{
    const json_t *programs = json_object_get(j, "programs");

    if (!json_is_object(programs))
        (void)snprintf(err, errlen, "malformed status answer: no \"programs\" object");
    return json_is_object(programs) ? programs : NULL;
}

char *
cli_render_status(const char *body, size_t body_len, const char *filter, char *err, size_t errlen)
{
    json_t *j = cli_text_load_object(body, body_len, "status", err, errlen);
    const json_t *programs = j ? programs_of(j, err, errlen) : NULL;
    const json_t **picked = NULL;
    const char **names = NULL;
    char *out = NULL;
    long n;

    if (programs) {
        n = select_instances(programs, filter, &picked, &names, err, errlen);
        if (n >= 0)
            out = render_table(picked, names, (size_t)n, err, errlen);
    }
    free(picked);
    free(names);
    json_decref(j);
    return out;
}

char *
cli_filter_status_json(const char *body, size_t body_len, const char *filter, char *err,
                       size_t errlen)
{
    json_t *j = cli_text_load_object(body, body_len, "status", err, errlen);
    const json_t *programs = j ? programs_of(j, err, errlen) : NULL;
    json_t *out_programs = json_object(), *out = json_pack("{s:O}", "programs", out_programs);
    const json_t **picked = NULL;
    const char **names = NULL;
    char *text = NULL;
    long n = -1;

    if (programs)
        n = select_instances(programs, filter, &picked, &names, err, errlen);
    for (long i = 0; i < n; i++) {
        json_t *list = json_object_get(out_programs, names[i]);

        if (!list) {
            list = json_array();
            if (json_object_set_new(out_programs, names[i], list) < 0)
                list = NULL;
        }
        if (!list || json_array_append(list, (json_t *)picked[i]) < 0) {
            n = -1;
            (void)snprintf(err, errlen, "out of memory");
        }
    }
    if (n >= 0) {
        text = out ? json_dumps(out, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
        if (!text)
            (void)snprintf(err, errlen, "out of memory");
    }
    free(picked);
    free(names);
    json_decref(out_programs);
    json_decref(out);
    json_decref(j);
    return text;
}

/* "2026-11-23T10:00:00.123Z" (UTC). */
static char *
format_time_ms(long long ms, char *buf, size_t len)
{
    time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int frac = (int)(ms - (long long)t * 1000);
    struct tm tm;
    char day[40];

    if (!gmtime_r(&t, &tm) || !strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm))
        (void)snprintf(buf, len, "?");
    else
        (void)snprintf(buf, len, "%s.%03dZ", day, frac);
    return buf;
}

/*
 * An answer {KEY: [...], "next": SEQ} (events, logs): the parsed object (the
 * caller's to json_decref) with *ret_list and *ret_next in it, or NULL with err.
 */
static json_t *
load_list(const char *body, size_t body_len, const char *what, const char *key,
          const json_t **ret_list, const json_t **ret_next, char *err, size_t errlen)
{
    json_t *j = cli_text_load_object(body, body_len, what, err, errlen);
    const json_t *list = j ? json_object_get(j, key) : NULL;
    const json_t *next = j ? json_object_get(j, "next") : NULL;

    if (!j)
        return NULL;
    if (!json_is_array(list) || !json_is_integer(next) || json_integer_value(next) < 0) {
        (void)snprintf(err, errlen, "malformed %s answer: no \"%s\" list or \"next\"", what, key);
        json_decref(j);
        return NULL;
    }
    *ret_list = list;
    *ret_next = next;
    return j;
}

char *
cli_render_events(const char *body, size_t body_len, uint64_t *ret_next, bool *ret_gap, char *err,
                  size_t errlen)
{
    const json_t *events, *next, *ev;
    json_t *j = load_list(body, body_len, "events", "events", &events, &next, err, errlen);
    struct cli_text b = { 0 };
    char *out = NULL;
    size_t i;

    if (!j)
        return NULL;
    json_array_foreach(events, i, ev)
    {
        char when[64], cause[256], name[160];
        const char *from = str_of(ev, "from"), *to = str_of(ev, "to"), *c = str_of(ev, "cause");
        const json_t *pid = json_object_get(ev, "pid");

        if (!json_is_object(ev)) {
            (void)snprintf(err, errlen, "malformed events answer: an event is not an object");
            goto done;
        }
        format_time_ms((long long)json_integer_value(json_object_get(ev, "time_ms")), when,
                       sizeof(when));
        if (str_of(ev, "kind") && strcmp(str_of(ev, "kind"), "plan") == 0) {
            char detail[320];
            (void)snprintf(detail, sizeof(detail), "%s",
                           str_of(ev, "detail") ? str_of(ev, "detail") : "?");
            cli_text_printf(&b, "%s  plan  %s\n", when, util_one_line(detail));
            continue;
        }
        (void)snprintf(name, sizeof(name), "%s:%lld",
                       str_of(ev, "program") ? str_of(ev, "program") : "?", index_of(ev));
        util_one_line(name);
        cli_text_printf(&b, "%s  %s  %s -> %s", when, name, from ? from : "?", to ? to : "?");
        if (c && *c) {
            (void)snprintf(cause, sizeof(cause), "%s", c);
            cli_text_printf(&b, "  (%s)", util_one_line(cause));
        }
        if (json_is_integer(pid))
            cli_text_printf(&b, "  pid %lld", (long long)json_integer_value(pid));
        cli_text_printf(&b, "\n");
    }
    out = cli_text_take(&b, err, errlen);
    if (!out)
        goto done;
    *ret_next = (uint64_t)json_integer_value(next);
    *ret_gap = json_is_true(json_object_get(j, "gap"));
done:
    cli_text_done(&b);
    json_decref(j);
    return out;
}

/*
 * A captured line as the terminal is to see it: what a program printed must
 * not drive root's terminal, so control characters but tab (C0, DEL, and
 * C1 as U+0080..U+009F) are written \xHH, as the daemon writes invalid bytes.
 */
static void
sb_term_text(struct cli_text *b, const char *text)
{
    const unsigned char *p = (const unsigned char *)text, *run = p;

    for (; *p; p++) {
        bool c0 = (*p < 0x20 && *p != '\t') || *p == 0x7f;
        bool c1 = *p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f;

        if (!c0 && !c1)
            continue;
        cli_text_printf(b, "%.*s", (int)(p - run), (const char *)run);
        if (c1)
            cli_text_printf(b, "\\xc2\\x%02x", *++p);
        else
            cli_text_printf(b, "\\x%02x", *p);
        run = p + 1;
    }
    cli_text_printf(b, "%s", (const char *)run);
}

char *
cli_render_logs(const char *body, size_t body_len, bool prefix, uint64_t *ret_next, char *err,
                size_t errlen)
{
    const json_t *lines, *next, *l;
    json_t *j = load_list(body, body_len, "logs", "lines", &lines, &next, err, errlen);
    const char *program = j ? str_of(j, "program") : NULL;
    struct cli_text b = { 0 };
    char *out = NULL;
    size_t i;

    if (!j)
        return NULL;
    json_array_foreach(lines, i, l)
    {
        const char *text = str_of(l, "text");

        if (!json_is_object(l) || !text) {
            (void)snprintf(err, errlen, "malformed logs answer: a line without text");
            goto done;
        }
        /* The text is the daemon's, escaped: valid UTF-8, invalid bytes as \xHH. */
        if (prefix)
            cli_text_printf(&b, "%s:%lld | ", program ? program : "?", index_of(l));
        sb_term_text(&b, text);
        cli_text_printf(&b, "\n");
    }
    out = cli_text_take(&b, err, errlen);
    if (!out)
        goto done;
    *ret_next = (uint64_t)json_integer_value(next);
done:
    cli_text_done(&b);
    json_decref(j);
    return out;
}

static long long
count_of(const json_t *counts, const char *key)
{
    return (long long)json_integer_value(json_object_get(counts, key));
}

char *
cli_render_health(const char *body, size_t body_len, bool *ret_healthy, char *err, size_t errlen)
{
    json_t *j = cli_text_load_object(body, body_len, "health", err, errlen);
    const json_t *healthy = j ? json_object_get(j, "healthy") : NULL;
    const json_t *counts = j ? json_object_get(j, "counts") : NULL;
    const json_t *th = j ? json_object_get(j, "thresholds") : NULL;
    const json_t *list = j ? json_object_get(j, "unhealthy_instances") : NULL, *inst;
    const json_t *silence = json_object_get(th, "silence_seconds");
    const char *program = j ? str_of(j, "program") : NULL;
    struct cli_text b = { 0 };
    char *out = NULL, tbuf[64];
    size_t i;

    if (!j)
        return NULL;
    if (!json_is_boolean(healthy) || !json_is_object(counts)) {
        (void)snprintf(err, errlen, "malformed health answer: no \"healthy\" or \"counts\"");
        goto done;
    }
    cli_text_printf(&b, "%s: ", json_is_true(healthy) ? "healthy" : "unhealthy");
    if (program) {
        char p[128];

        (void)snprintf(p, sizeof(p), "%s", program);
        cli_text_printf(&b, "program %s, ", util_one_line(p));
    }
    cli_text_printf(
        &b, "%lld instances: %lld running, %lld silent, %lld failing, %lld backoff, %lld fatal",
        count_of(counts, "instances"), count_of(counts, "running"), count_of(counts, "silent"),
        count_of(counts, "failing"), count_of(counts, "backoff"), count_of(counts, "fatal"));
    cli_text_printf(&b, "; %lld unhealthy", count_of(counts, "unhealthy"));
    if (json_is_integer(json_object_get(th, "max_silent")))
        cli_text_printf(&b, ", at most %lld allowed",
                        (long long)json_integer_value(json_object_get(th, "max_silent")));
    if (json_is_number(silence))
        cli_text_printf(&b, " (silence %s)",
                        cli_format_seconds(json_number_value(silence), tbuf, sizeof(tbuf)));
    cli_text_printf(&b, "\n");
    json_array_foreach(list, i, inst)
    {
        const char *reason = str_of(inst, "reason"), *state = str_of(inst, "state");
        const json_t *pid = json_object_get(inst, "pid"), *port = json_object_get(inst, "port");
        const json_t *silent = json_object_get(inst, "silent_seconds");
        const json_t *last = json_object_get(inst, "last_exit");
        char line[512], name[160];

        (void)snprintf(name, sizeof(name), "%s:%lld",
                       str_of(inst, "program") ? str_of(inst, "program") : "?", index_of(inst));
        (void)snprintf(line, sizeof(line), "  %s: %s (%s", name, reason ? reason : "unhealthy",
                       state ? state : "?");
        cli_text_printf(&b, "%s", util_one_line(line));
        if (json_is_integer(pid))
            cli_text_printf(&b, ", pid %lld", (long long)json_integer_value(pid));
        if (json_is_integer(port))
            cli_text_printf(&b, ", port %lld", (long long)json_integer_value(port));
        if (json_is_number(silent))
            cli_text_printf(&b, ", silent for %s",
                            cli_format_seconds(json_number_value(silent), tbuf, sizeof(tbuf)));
        if (last && !json_is_null(last))
            cli_text_printf(&b, ", last exit: %s", exit_text(last, tbuf, sizeof(tbuf)));
        cli_text_printf(&b, ")\n");
    }
    out = cli_text_take(&b, err, errlen);
    if (out)
        *ret_healthy = json_is_true(healthy);
done:
    cli_text_done(&b);
    json_decref(j);
    return out;
}

char *
cli_render_action(const char *body, size_t body_len, char *err, size_t errlen)
{
    json_t *j = cli_text_load_object(body, body_len, "action", err, errlen);
    const char *action = j ? str_of(j, "action") : NULL, *target = j ? str_of(j, "target") : NULL;
    const json_t *list = j ? json_object_get(j, "instances") : NULL, *inst;
    const json_t *from = j ? json_object_get(j, "from") : NULL;
    const json_t *to = j ? json_object_get(j, "to") : NULL;
    struct cli_text b = { 0 };
    char *out = NULL, line[512];
    size_t i;

    if (!j)
        return NULL;
    if (!action || (list && !json_is_array(list))) {
        (void)snprintf(err, errlen, "malformed action answer: no \"action\"");
        goto done;
    }
    if (!strcmp(action, "shutdown")) {
        cli_text_printf(&b, "shutting down: every instance is being stopped, then drover exits\n");
    } else if (json_is_integer(from) && json_is_integer(to)) {
        (void)snprintf(line, sizeof(line), "%s: %lld -> %lld instances", target ? target : "?",
                       (long long)json_integer_value(from), (long long)json_integer_value(to));
        cli_text_printf(&b, "%s\n", util_one_line(line));
    } else if (json_array_size(list) == 0) {
        (void)snprintf(line, sizeof(line), "%s %s: no instance affected", action,
                       target ? target : "?");
        cli_text_printf(&b, "%s\n", util_one_line(line));
    }
    json_array_foreach(list, i, inst)
    {
        const char *name = str_of(inst, "name"), *state = str_of(inst, "state");
        const json_t *pid = json_object_get(inst, "pid");

        (void)snprintf(line, sizeof(line), "%s: %s", name ? name : "?", state ? state : "?");
        cli_text_printf(&b, "%s", util_one_line(line));
        if (json_is_integer(pid))
            cli_text_printf(&b, " (pid %lld)", (long long)json_integer_value(pid));
        cli_text_printf(&b, "\n");
    }
    out = cli_text_take(&b, err, errlen);
done:
    cli_text_done(&b);
    json_decref(j);
    return out;
}

char *
cli_render_plan(const char *body, size_t body_len, char *err, size_t errlen)
{
    json_t *j = cli_text_load_object(body, body_len, "plan", err, errlen);
    const json_t *plan = j ? json_object_get(j, "plan") : NULL, *step;
    const char *now = j ? str_of(j, "settings_now") : NULL;
    const char *later = j ? str_of(j, "settings_next_start") : NULL;
    const char *saved = j ? str_of(j, "saved") : NULL;
    bool dry = j && json_is_true(json_object_get(j, "dry_run"));
    struct cli_text b = { 0 };
    char *out = NULL;
    size_t i;

    if (!j)
        return NULL;
    if (!json_is_array(plan)) {
        (void)snprintf(err, errlen, "malformed answer: no \"plan\" list");
        goto done;
    }
    cli_text_printf(&b, "%s\n", dry ? "plan (dry run: nothing changed):" : "plan:");
    json_array_foreach(plan, i, step)
    {
        char detail[320];
        (void)snprintf(detail, sizeof(detail), "%s",
                       str_of(step, "detail") ? str_of(step, "detail") : "?");
        cli_text_printf(&b, "  %s\n", util_one_line(detail));
    }
    if (now && *now)
        cli_text_printf(&b, "settings applied now: %s\n", now);
    if (later && *later)
        cli_text_printf(&b, "settings that take effect at the next start of drover: %s\n", later);
    if (saved)
        cli_text_printf(&b, "saved to %s (drover --adopt resumes it)\n", saved);
    if (json_is_true(json_object_get(j, "running")))
        cli_text_printf(&b,
                        "the plan goes on in the daemon: drover events --follow shows its steps\n");
    out = cli_text_take(&b, err, errlen);
done:
    cli_text_done(&b);
    json_decref(j);
    return out;
}

char *
cli_render_config_errors(const char *body, size_t body_len, char *err, size_t errlen)
{
    json_t *j = cli_text_load_object(body, body_len, "errors", err, errlen);
    const json_t *list = j ? json_object_get(j, "errors") : NULL, *line;
    struct cli_text b = { 0 };
    char *out = NULL;
    size_t i;

    if (!j)
        return NULL;
    if (!json_is_array(list) || json_array_size(list) == 0) {
        (void)snprintf(err, errlen, "no errors listed");
        goto done;
    }
    json_array_foreach(list, i, line)
    {
        char text[1024];
        (void)snprintf(text, sizeof(text), "%s",
                       json_is_string(line) ? json_string_value(line) : "?");
        cli_text_printf(&b, "%s\n", util_one_line(text));
    }
    out = cli_text_take(&b, err, errlen);
done:
    cli_text_done(&b);
    json_decref(j);
    return out;
}

/*
 * cli_jobs_render: the jobs answers of the daemon (GET /jobs/ID, GET /jobs,
 * GET /queues, GET /jobs/events) as the CLI prints them, the outcome of a
 * job for `drover run`, and the body of POST /jobs.
 *
 * Pure: no I/O, no logging, no state; the clock is a parameter (now_ms), so
 * every renderer is checked against tests/golden/job_* without a daemon.
 * Bodies are borrowed and need not be NUL-terminated. Renderers return
 * malloc'ed text the caller frees, or NULL with a one-line reason in err
 * (malformed JSON, a missing or mistyped member, out of memory); ret_*
 * out-parameters are written on success only.
 */
#ifndef DROVER_CLI_JOBS_RENDER_H
#define DROVER_CLI_JOBS_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_t; /* jansson's */

/* Longest job id: the caller's key [A-Za-z0-9._:-]{1,128}, or a UUID. */
#define CLI_JOB_ID_MAX 128

/* Is s a job id the daemon can know: 1 to CLI_JOB_ID_MAX of [A-Za-z0-9._:-]? */
bool cli_job_id_valid(const char *s);

/* Is state one a job never leaves (success, failed, cancelled)? */
bool cli_job_state_terminal(const char *state);

/* What POST /jobs carries; negative numbers and NULL pointers are left out of the body. */
struct cli_job_submit {
    const char *type;
    const void *payload; /* NULL: none; UTF-8 goes as "payload", other bytes as "payload_b64" */
    size_t payload_len;
    const char *id;
    int priority;           /* 0..9, -1: the daemon's default */
    int64_t delay_ms;       /* -1: none; sent as seconds, a JSON number */
    int64_t timeout_ms;     /* -1: the type's; sent as seconds */
    int attempts;           /* -1: the type's */
    const char *const *env; /* nenv "KEY=VALUE" strings */
    size_t nenv;
};

/* The JSON body of POST /jobs (compact, malloc'ed), or NULL with err (a bad "KEY=VALUE", OOM). */
char *cli_job_submit_body(const struct cli_job_submit *s, char *err, size_t errlen);

/* A job answer reduced to what `drover run` and `job wait` act on. */
struct cli_job_outcome {
    char id[CLI_JOB_ID_MAX + 1];
    char state[32];
    bool terminal, success;
    unsigned char *result; /* malloc'ed (NUL-terminated for convenience), NULL when none */
    size_t result_len;
    char error[512]; /* failed/cancelled: "CODE: message", one line; else "" */
};

/* Parses a job JSON answer. Returns 0, or -EPROTO (malformed) / -ENOMEM with err. */
int cli_job_outcome_parse(const char *body, size_t body_len, struct cli_job_outcome *ret, char *err,
                          size_t errlen);
void cli_job_outcome_done(struct cli_job_outcome *o);

/* GET /jobs/ID: aligned "key: value" lines, then the history. */
char *cli_render_job(const char *body, size_t body_len, char *err, size_t errlen);

/*
 * The "jobs" of a GET /jobs page appended to into (a JSON array the caller
 * owns), at most max of them; *ret_next_after gets "next_after" (malloc'ed;
 * NULL when null). Returns 0, or -EPROTO/-ENOMEM with err.
 */
int cli_job_list_page(const char *body, size_t body_len, struct json_t *into, size_t max,
                      char **ret_next_after, char *err, size_t errlen);

/*
 * A table ID TYPE STATE ATTEMPT INSTANCE AGE of the body {"jobs":[...]};
 * AGE counts from created_ms to now_ms.
 */
char *cli_render_job_list(const char *body, size_t body_len, int64_t now_ms, char *err,
                          size_t errlen);

/* GET /queues: a table, one row per type. */
char *cli_render_queues(const char *body, size_t body_len, char *err, size_t errlen);

/*
 * GET /jobs/events: one line per delta ("" when none); *ret_next the seq to
 * ask for next, *ret_gap true when deltas were dropped before the oldest kept.
 */
char *cli_render_job_events(const char *body, size_t body_len, uint64_t *ret_next, bool *ret_gap,
                            char *err, size_t errlen);

/* An error answer's line: "error" (and its "field"), else "HTTP CODE ...". Returns buf. */
char *cli_job_error_text(int code, const char *body, size_t body_len, char *buf, size_t len);

#endif

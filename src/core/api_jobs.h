/*
 * api_jobs: the job answers and requests of the HTTP API (docs/jobs-http.md),
 * as pure functions, like core/api's.
 *
 * api_job_submit_parse() reads a POST /jobs body into a struct job_submit
 * that owns its strings, with one 400 (or 413) answer naming the field that
 * is wrong; the list, queue and delta answers are built from what the
 * dispatcher holds (core/jobq, core/jobevents). No I/O, no logging; bodies
 * are malloc'ed, the caller frees.
 */
#ifndef DROVER_API_JOBS_H
#define DROVER_API_JOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/api.h"
#include "core/job.h"
#include "core/jobq.h"

#define API_JOB_ENV_MAX_BYTES 1024 /* keys and values of one job's env: it fits a frame line */
#define API_JOBS_LIST_DEFAULT 100
#define API_JOBS_LIST_MAX 1000
#define API_JOB_WAIT_MAX_MS 60000

/* A POST /jobs body, parsed. Every pointer is owned (job_submit_done() frees). */
struct job_submit {
    char *type;
    uint8_t *payload; /* never NULL once parsed: "" for none */
    size_t payload_len;
    char *id;           /* NULL: drover draws a UUID */
    unsigned priority;  /* 0..9 */
    int64_t delay_ms;   /* 0: now */
    int64_t timeout_ms; /* -1: the program's; 0: none */
    unsigned attempts;  /* 0: the program's */
    char *caller_id, *context_id;
    char **env; /* "KEY=VALUE" */
    size_t nenv;
};

/*
 * Parses body (len bytes, not NUL-terminated necessarily): a JSON object with
 * "type" (required), "payload" (a string, or any other JSON value, sent as
 * its compact text) or "payload_b64", "id", "priority", "delay" and "timeout"
 * (seconds as a number, or a duration string "5m"), "attempts", "caller_id",
 * "context_id", "env" (an object of strings). Unknown keys are refused.
 * 0, or -EINVAL with *ret_err the answer (400; 413 for a payload beyond
 * max_payload); *ret is then empty.
 */
int api_job_submit_parse(const char *body, size_t len, uint64_t max_payload, struct job_submit *ret,
                         struct api_answer *ret_err);
void job_submit_done(struct job_submit *s);

/* True for an id a client may give: 1-128 of A-Z a-z 0-9 . _ : - and not "events". */
bool api_job_id_valid(const char *id);

/* wait= on POST /jobs and GET /jobs/ID: seconds or a duration, at most 60 s. NULL: 0. */
struct api_answer api_job_wait_query(const char *wait, int64_t *ret_ms);

/* GET /jobs?state=&type=&limit=&after= */
struct api_jobs_list_query {
    bool by_state;
    enum job_state state;
    const char *type; /* NULL: all; borrowed from the query */
    size_t limit;
    bool has_after; /* after=CREATED_MS:ID, the next_after of the page before */
    int64_t after_created_ms;
    char after_id[JOBQ_ID_MAX + 1];
};
struct api_answer api_jobs_list_query(const char *state, const char *type, const char *limit,
                                      const char *after, struct api_jobs_list_query *ret);
/*
 * The jobs of q that match, newest first (by created time, then id), at most
 * limit, brief (no payload, result or history), and next_after: the cursor
 * of the next page, or null when this was the last.
 */
struct api_answer api_jobs_list(const struct jobq *q, const struct api_jobs_list_query *query);

/* One type's line of GET /queues. */
struct api_queue {
    const char *type, *program;
    size_t waiting, delayed, retry_wait, dispatched, running;
    double oldest_waiting_s; /* shown as null when nothing waits */
    uint64_t done_1m, failed_1m;
    unsigned instances, idle, busy, desired;
    /* The redis store, once read: the type's backlog across the cluster. */
    bool cluster;
    long long cluster_waiting; /* on the shared queue; -1: its key holds no list */
    size_t cluster_in_flight;  /* held by any node */
    size_t cluster_here;       /* of them, by this node */
};
/* Where the jobs are kept, for /queues' "store". */
struct api_queues_store {
    const char *kind; /* "file", "memory" or "redis" */
    const char *node; /* redis: this node's name; NULL otherwise */
    bool up, known;   /* redis: it answers; the cluster's figures were read */
    unsigned nodes;   /* redis: drovers in the cluster */
    uint64_t retry_wait;
};
struct api_answer api_queues(const struct api_queue *q, size_t n, const struct api_queues_store *s);

struct jobevents;
/* GET /jobs/events: the deltas from since on (at most JOBEVENTS_ANSWER_MAX), next, gap. */
struct api_answer api_job_events(const struct jobevents *e, uint64_t since);

#endif

/*
 * api: the HTTP API's answers, as pure functions of a snapshot.
 *
 * http.c takes a snapshot of the instances (struct api_instance, strings
 * borrowed from the supervisor for the duration of the call) and asks here
 * for the status code and JSON body. Query values are parsed and bounded
 * here too, and so is the request itself: the limits of a request target,
 * and the checks of a path or a value as decoded (no NUL, valid UTF-8).
 * Every text from the request that an answer echoes is escaped (invalid
 * bytes and NUL as \xHH, utf8.h), so no answer loses a key to it. No I/O,
 * no logging; bodies are malloc'ed, the caller frees.
 */
#ifndef DROVER_API_H
#define DROVER_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/svc.h"

struct api_instance {
    const char *program;
    unsigned index;
    pid_t pid;     /* 0: none */
    uint16_t port; /* 0: none */
    enum svc_state state;
    bool want_up;
    bool ready;
    bool adopted;
    bool check_failing;
    int64_t silent_ms; /* since the last beat (or spawn); -1 when it does not beat */
    int64_t up_ms;     /* time since the current process started; -1 none */
    unsigned restarts;
    bool has_exit;
    struct svc_exit last_exit;
    const char *status;         /* STATUS= text, "" none */
    const char *waiting_for;    /* waiting: what for ("redis (redis:0 starting)"); else NULL */
    uint64_t exits[4];          /* by reason: exit 0, exit non-zero, signal, unknown (/metrics) */
    int64_t default_silence_ms; /* T for this instance when the query gives none */
    uint64_t check_failures_total;
    uint64_t heartbeat_future_total; /* slot times from the future, clamped (/metrics) */
    /* memory_max: 0 none, and then the rest is not shown. */
    uint64_t memory_max;
    uint64_t memory_samples; /* of the current process; 0: memory_bytes not known */
    uint64_t memory_bytes;   /* the last sample of its process group */
    uint64_t memory_restarts;
    uint64_t output_lines_total;   /* captured lines read, both streams (/metrics) */
    uint64_t output_dropped_total; /* of those, not written: disk full, stderr not read */
    /* Jobs (takes_jobs: its program has `jobs`; the rest is not shown otherwise). */
    bool takes_jobs;
    const char *const *jobs_held; /* the ids of the jobs it holds, njobs_held of them */
    size_t njobs_held;
    int64_t idle_ms;     /* asked for work and holds none, this long; -1: not idle */
    int64_t last_job_ms; /* Unix ms of the last job given to it; 0 none */
    uint64_t jobs_done, jobs_failed;
    uint64_t pings_passed, pings_failed; /* ping jobs answered in time, not */
};

struct api_answer {
    int code;   /* HTTP status */
    char *body; /* JSON, malloc'ed; NULL on out of memory */
};

struct json_t;
/*
 * code with body (taken over) as compact JSON; a NULL body or a failed dump
 * is a 500 with no body (the caller says so: it cannot tell why json_pack
 * failed).
 */
struct api_answer api_json(int code, struct json_t *body);
/* A JSON string of the len bytes at s, each invalid byte and NUL as \xHH; NULL: out of memory. */
struct json_t *api_text(const char *s, size_t len);
/* code {"error": msg, key: value (escaped)}; key NULL: {"error": msg}. */
struct api_answer api_error(int code, const char *msg, const char *key, const char *value);
/* 400 {"error": "bad query parameter", "parameter", "expected"[, "value" (escaped)]}. */
struct api_answer api_bad_param(const char *param, const char *value, const char *expected);

/*
 * Limits of a request target (the path and query as sent): what
 * libmicrohttpd's 32 KiB connection pool always has room for (see
 * http_conn.c). Beyond them the request is answered 414 or 400.
 */
#define API_URI_MAX 8192  /* bytes */
#define API_PARAMS_MAX 64 /* query parameters: the '&'-separated pieces */

/* What api_uri_check() finds in a raw request target. */
enum {
    API_URI_TOO_LONG = 1u << 0,        /* more than API_URI_MAX bytes */
    API_URI_TOO_MANY_PARAMS = 1u << 1, /* more than API_PARAMS_MAX parameters */
    API_URI_PATH_NUL = 1u << 2,        /* an encoded NUL (%00) in the path */
};
/* The problems of the raw (not yet decoded) request target uri, 0 for none; NULL has none. */
unsigned api_uri_check(const char *uri);
/* The answer to a request with those problems (not 0): 414 or 400, with path (decoded) escaped. */
struct api_answer api_uri_answer(unsigned problems, const char *path);
/* The decoded path: code 0 when it is valid UTF-8, else 400 "... not valid UTF-8". */
struct api_answer api_check_path(const char *path);
/*
 * A query value as decoded, len bytes at value (NULL: absent, fine): code 0
 * when fine, else 400 naming param: "contains a NUL byte" or "not valid UTF-8".
 */
struct api_answer api_check_param(const char *param, const char *value, size_t len);

/*
 * GET /health?max_silent=X&silence=T[&program=P]. Query values may be NULL
 * (absent). A bad value gives 400 naming the parameter. P is a configured
 * program (the caller answers 404 for others); with no instance (scaled to
 * 0) it is healthy. Without the query's values X is default_max_silent and
 * each instance is judged by its own default T; default_silence_ms (P's, or
 * the pool's) is the T the body reports.
 */
struct api_answer api_health(const struct api_instance *v, size_t n, const char *max_silent,
                             const char *silence, const char *program, unsigned default_max_silent,
                             int64_t default_silence_ms);

/* GET /status (program NULL) or /status/PROGRAM, a configured one (the caller answers 404 for
 * others); one scaled to 0 has an empty list. */
struct api_answer api_status(const struct api_instance *v, size_t n, const char *program);

struct event;
/* GET /events: the given events (oldest first), the sequence to ask from next, and the gap flag. */
struct api_answer api_events(const struct event *const *ev, size_t n, uint64_t next, bool gap);
/* Parses since= (a sequence number) and wait= (seconds, at most 60). 400 answer on error, code 0 if
 * fine. */
struct api_answer api_events_query(const char *since, const char *wait, uint64_t *ret_since,
                                   int64_t *ret_wait_ms);

/* One captured line for GET /logs (daemon/capture.h's, as the answer shows it). */
struct api_log_line {
    uint64_t seq;
    int64_t unix_ms;
    const char *text; /* len bytes, any bytes: escaped in the answer */
    size_t len;
    unsigned instance;
    int stream; /* enum cfg_stream */
    bool cut;   /* cut at the line cap: the next line of its stream continues it */
};

#define API_LOGS_DEFAULT_LINES 100
#define API_LOGS_MAX_LINES 10000

/*
 * GET /logs/NAME's query: lines= (1 to API_LOGS_MAX_LINES), stream=
 * (stdout, stderr, both: a mask of 1u << CFG_STREAM_*) and since= (a
 * sequence number: the lines from it on, for following). 400 answer on
 * error, code 0 if fine.
 */
struct api_answer api_logs_query(const char *lines, const char *stream, const char *since,
                                 size_t *ret_lines, unsigned *ret_mask, uint64_t *ret_since);
/* {"program", "lines": [{seq, time_ms, instance, stream, text, cut}], "next"}. */
struct api_answer api_logs(const char *program, const struct api_log_line *l, size_t n,
                           uint64_t next);

/*
 * GET /readyz: 200 when the initial start is done, every wanted instance is
 * running and the job store takes jobs (store_down NULL; else why not, as
 * "job_store").
 */
struct api_answer api_readyz(const struct api_instance *v, size_t n, bool started,
                             const char *store_down);

#endif

/*
 * drover/worker.h: the worker side of drover's heartbeats and jobs. The
 * only public header.
 *
 * A worker calls drover_beat() at every poll of its queue, whether or not
 * work came: a starving worker is not a sick one. A beat is a clock read
 * (vDSO, no system call) and two stores into a 64-byte slot of memory shared
 * with drover; nothing is allocated and nothing blocks. drover_ready() and
 * drover_status() speak the systemd notify protocol to $NOTIFY_SOCKET, so
 * the same worker also runs under systemd.
 *
 * Everything is a harmless no-op when the process was not started by
 * drover: drover_open() then still gives a usable handle and returns 1.
 * No globals, no logging; functions return 0 / -errno.
 *
 * Jobs (JOBS.md §6.4, docs/jobs-worker.md): a program with `jobs` in its
 * config is given a job channel, and drover_job_next() is its loop. All of
 * its memory is allocated by drover_open(): one buffer of
 * DROVER_JOBS_MAX_PAYLOAD bytes per slot (DROVER_JOBS_CONCURRENCY slots),
 * nothing per job. A handle is used by one thread at a time.
 */
#ifndef DROVER_WORKER_H
#define DROVER_WORKER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Environment variables drover sets for the heartbeat channel. */
#define DROVER_ENV_HEARTBEAT_FD "DROVER_HEARTBEAT_FD"
#define DROVER_ENV_HEARTBEAT_SLOT "DROVER_HEARTBEAT_SLOT"

/*
 * One slot per instance, one cache line. Fields written by the worker and
 * by drover never share a writer. All times are CLOCK_MONOTONIC nanoseconds.
 */
struct drover_slot {
    uint64_t last_beat_ns;       /* worker: time of the last beat, 0 never */
    uint64_t beats;              /* worker: number of beats */
    uint64_t tasks_done;         /* worker */
    uint64_t tasks_failed;       /* worker */
    uint64_t supervisor_beat_ns; /* drover: when drover last looked (its own heartbeat) */
    uint64_t supervisor_pid;     /* drover */
    uint64_t owner_pid;          /* drover: the main pid this slot belongs to */
    uint64_t reserved;
};

typedef struct drover_worker drover_worker;

/*
 * 0: under drover; 1: not under drover (a no-op handle); -errno (then *ret
 * is NULL), e.g. -EINVAL for a DROVER_JOBS_* variable that is not a number.
 */
int drover_open(drover_worker **ret);
void drover_close(drover_worker *w);

/* The heartbeat: one clock read, two stores, no system call. */
void drover_beat(drover_worker *w);
void drover_task_done(drover_worker *w);
void drover_task_failed(drover_worker *w);

/* READY=1 (the worker is up), STATUS=text, STOPPING=1, over the notify socket. */
int drover_ready(drover_worker *w);
int drover_status(drover_worker *w, const char *text);
int drover_stopping(drover_worker *w);

/*
 * Is the supervisor still there? 1 when drover looked at the slot within
 * max_age_ns, 0 when not, -ENOENT when not under drover. drover looks at
 * least every second while any instance has a heartbeat timeout.
 */
int drover_supervisor_alive(const drover_worker *w, uint64_t max_age_ns);

/* Environment variables drover sets for the job channel (besides DROVER_PROGRAM, DROVER_INSTANCE).
 */
#define DROVER_ENV_JOBS_SOCKET "DROVER_JOBS_SOCKET"
#define DROVER_ENV_JOBS_TOKEN "DROVER_JOBS_TOKEN"
#define DROVER_ENV_JOBS_TYPES "DROVER_JOBS_TYPES"
#define DROVER_ENV_JOBS_CONCURRENCY "DROVER_JOBS_CONCURRENCY"
#define DROVER_ENV_JOBS_MAX_PAYLOAD "DROVER_JOBS_MAX_PAYLOAD"

/*
 * A job drover handed to this process. Every pointer is borrowed from the
 * handle and valid until drover_job_done() or drover_job_fail() for this
 * job (then its slot takes the next job). payload is len bytes, not
 * NUL-terminated; deadline_ms is Unix time in ms, 0 for none; env is the
 * job's own variables (POST /jobs "env"), "KEY=VALUE" lines separated by
 * '\n', NULL for none: drover does not put them in the process's environment.
 */
typedef struct {
    const char *id;
    const char *type;
    unsigned attempt; /* 1 for the first try */
    const void *payload;
    size_t len;
    int64_t deadline_ms;
    const char *env;
} drover_job;

/*
 * The job loop. Waits up to timeout_ms (-1: for ever, 0: not at all) for a
 * job and returns 1 with *j filled. Meanwhile it beats (drover_beat(), at
 * least once a second while it waits), connects (the first call) or
 * reconnects, asks drover for as many jobs as there are free slots (WANT),
 * and answers drover's PING itself. Returns
 *   1            a job, in *j (written only then)
 *   0            none within timeout_ms
 *   -ESHUTDOWN   drover sent DRAIN and this process holds no job: exit 0,
 *                which drover takes as a clean stop
 *   -ENOTCONN    not under drover with jobs (no DROVER_JOBS_SOCKET)
 *   -EPERM       drover refused this process (BYE answering HELLO: wrong
 *                token, or not the instance's process); final
 *   -errno       poll() failed
 * The channel going away (EOF: drover restarted, or it dropped us) is not
 * an error: held jobs are kept, and the library reconnects with a backoff
 * of 50 ms doubling to 1 s, naming them in its HELLO (running=ID:A,...).
 */
int drover_job_next(drover_worker *w, drover_job *j, int timeout_ms);

/*
 * The job succeeded with res (len bytes, at most DROVER_JOBS_MAX_PAYLOAD;
 * res may point into j->payload). 0 also when the channel is down: the
 * result is then kept in the job's slot and sent once reconnected.
 * -ENOENT: j is not a job this process runs (already answered?),
 * -EMSGSIZE: len too large, -ENOTCONN: not under drover with jobs.
 */
int drover_job_done(drover_worker *w, const drover_job *j, const void *res, size_t len);

/*
 * The job failed with msg (NULL for none; cut at DROVER_JOBS_MAX_PAYLOAD).
 * retry_ms: -1 never retry, 0 retry after the program's backoff, > 0 retry
 * after that many ms; drover retries only while attempts are left. Returns
 * as drover_job_done(), and -EINVAL for retry_ms < -1.
 */
int drover_job_fail(drover_worker *w, const drover_job *j, const char *msg, int retry_ms);
/* The same with the failure's code, shown as the job's error.code (drover_job_fail() says
   "error"): 1 to 64 of A-Z a-z 0-9 _ . : -, else -EINVAL. */
int drover_job_fail_code(drover_worker *w, const drover_job *j, const char *code, const char *msg,
                         int retry_ms);

/*
 * Progress for /jobs/ID: pct 0..100 (-EINVAL above) and an optional
 * message. Best effort: -ENOTCONN while the channel is down (it is not kept
 * for later), -ENOENT as drover_job_done().
 */
int drover_job_progress(drover_worker *w, const drover_job *j, unsigned pct, const char *msg);

/*
 * 1 once drover sent CANCEL for j (its deadline passed, or a client
 * cancelled it), else 0; reads the channel without waiting, and beats.
 * Cancelling is cooperative: answer with drover_job_fail() soon, drover
 * stops the process after the program's cancel_grace. -ENOENT, -ENOTCONN
 * as drover_job_done().
 */
int drover_job_cancelled(drover_worker *w, const drover_job *j);

/*
 * A descriptor for a caller's own poll/epoll loop: when it is readable, call
 * drover_job_next(w, j, 0). It stays the same for the handle's life (an
 * epoll set holding the channel's socket, and a timer that makes it
 * readable when a reconnect is due), and is readable at once after
 * drover_open() so that the first call connects. Beat on your own timer in
 * such a loop. -ENOTCONN when not under drover with jobs.
 */
int drover_jobs_fd(const drover_worker *w);

#ifdef __cplusplus
}
#endif

#endif

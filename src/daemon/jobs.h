/*
 * jobs: the dispatcher (JOBS.md §6, docs/jobs.md). It owns every job of
 * this drover (core/jobq + core/jobrec), the type → program map, the job
 * channel (daemon/jobchan) and each instance's side of it (struct
 * job_slot: its token, its connection, its credit and the jobs it holds),
 * the job timers (deadlines, cancel grace, the due heap), the job delta
 * ring behind /jobs/events, and the counters of /metrics.
 *
 * A job goes to an instance only when that instance is live (running, not
 * stopping), ready, not silent, said HELLO with its token and asked for work
 * (WANT); so drover always knows which instance holds which job. When an
 * instance's process is gone (the pool's POOL_GONE), what it held is lost
 * at once (JOB_EV_LOST, with the signal that ended it): a dispatched job goes
 * back to the front of its queue, a running one is retried or failed.
 * Dispatch itself runs before the loop sleeps, for the types something
 * happened to, never inside another module's callback.
 */
#ifndef DROVER_JOBS_H
#define DROVER_JOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/jobrec.h"
#include "core/metrics.h"
#include "os/timer.h"
#include "daemon/redisstore.h"

struct supervisor;
struct instance;
struct program;
struct jobs;
struct jobchan;

#define JOBS_TOKEN_HEX 32

/* An instance's side of the job channel (in->jobs), for programs with `jobs`. */
struct job_slot {
    struct instance *in;
    char token[JOBS_TOKEN_HEX + 1]; /* its current process's, drawn at each spawn */
    char env[6][160];               /* DROVER_JOBS_* for the spawn, but the types: */
    char *types_env;                /* "DROVER_JOBS_TYPES=a,b", as its process was told */
    unsigned *types;                /* those types (jobq indices): what it may be given */
    size_t ntypes;
    struct jobchan *conn;  /* NULL: not connected */
    unsigned credit;       /* jobs it asked for and has not been given */
    struct jobrec **held;  /* concurrency entries; nheld used */
    const char **held_ids; /* their ids, for /status (jobs_instance_figures()) */
    unsigned nheld;
    unsigned cap;          /* held's room: the concurrency it was made for */
    bool draining;         /* DRAIN sent: no more jobs */
    int64_t idle_since_ms; /* 0: holds a job, or never asked */
    int64_t last_job_ms;   /* the last dispatch to it, 0 none */
    int64_t lost_conn_ms;  /* its channel closed while its process runs: when; 0 connected */
    int64_t stop_at_ms; /* a shutdown waits for its jobs until then (Unix ms); 0: no stop put off */
    uint64_t jobs_done, jobs_failed;
    /* Ping jobs (JOBS.md §6.8): an idle instance is asked PING, and must answer PONG. */
    char ping_id[24];       /* the outstanding ping's id; "" none */
    int64_t ping_sent_ms;   /* when it went; 0 none outstanding */
    int64_t ping_from_ms;   /* idle time counts from here too: the last ping's answer */
    unsigned ping_failures; /* in a row */
    uint64_t pings_passed, pings_failed, pings_sent;
    struct timer
        timer; /* the earliest of its jobs' deadlines and graces, a reconnect wait, a ping */
};

/* What a client submits (api/http_jobs.c fills it from POST /jobs). */
struct jobs_submit {
    const char *type;
    const uint8_t *payload;
    size_t payload_len;
    const char *id; /* NULL: drover draws a UUID */
    unsigned priority;
    int64_t delay_ms;
    int64_t timeout_ms; /* -1: the program's */
    unsigned attempts;  /* 0: the program's */
    const char *caller_id, *context_id;
    char *const *env; /* "K=V" */
    size_t nenv;
};

/* What jobs_submit() did, as the HTTP status it answers with. */
enum jobs_submit_result {
    JOBS_SUBMIT_NEW = 201,
    JOBS_SUBMIT_SAME = 200,        /* the same id with the same payload: that job */
    JOBS_SUBMIT_CONFLICT = 409,    /* the same id, another payload */
    JOBS_SUBMIT_NO_TYPE = 404,     /* no program takes this type */
    JOBS_SUBMIT_FULL = 429,        /* max_queued_bytes reached */
    JOBS_SUBMIT_TOO_LARGE = 413,   /* beyond max_payload */
    JOBS_SUBMIT_CLOSED = 503,      /* shutting down */
    JOBS_SUBMIT_STORING = 202,     /* the redis store: *ret is a copy for the answer (the caller
                                      frees it), stored once jobs_journal_wait() says so */
    JOBS_SUBMIT_UNAVAILABLE = 502, /* the redis store is unreachable (jobs_store_down() says why) */
};

/* Set-up, from supervisor_new(): nothing when no program takes jobs. Logs; 0 or -errno. */
int jobs_init(struct supervisor *sup);
/*
 * With jobs.store "file" it also opens the store and reads it back: jobs
 * go where their state says, and those an instance held when drover stopped
 * wait for jobs_recovered().
 */
/* The job socket (start-up, after the run directory exists). Logs; 0 or -errno. */
int jobs_open(struct supervisor *sup);
void jobs_done(struct supervisor *sup);
/*
 * Recovery is over (adopted instances are in the pool): a job an instance
 * held when drover stopped stays held by it when it was adopted, and it has
 * JOBCHAN_HELLO_MS to reconnect with running=ID:ATTEMPT; else it is lost
 * (dispatched: queued again at the front; running: the attempt counts).
 */
void jobs_recovered(struct supervisor *sup);
/* recover.c: in was adopted; token is its process's DROVER_JOBS_TOKEN (the dumpfile's). */
int jobs_adopted(struct instance *in, const char *token);
/* persist.c: in's process's token, for the dumpfile; NULL none. */
const char *jobs_token(const struct instance *in);
/* The timers the dispatcher may arm at once, for supervisor_timers_needed(). */
struct config;
size_t jobs_timers_needed(const struct config *cfg, size_t slots);

/* launch.c: the DROVER_JOBS_* strings for in's next process (a new token), appended at envp[*n]. */
void jobs_spawn_env(struct instance *in, char **envp, size_t *n);
/* The variables a program must not set itself. */
extern const char *const jobs_reserved_env[];

/*
 * A reload changed the configuration (reload.c, after its commit and when a
 * replacement joins the pool): each type goes to the program in force that
 * takes it now, and its waiting jobs may go out. Types added to a drover
 * that took no jobs at its start are not taken until the next start (logged).
 */
void jobs_reconfigured(struct supervisor *sup);
/* prog leaves the pool (before pool_program_free()): its types and its instances' slots go. */
void jobs_program_leaves(struct program *prog);

/* Shutdown began: every connected instance gets DRAIN; nothing is dispatched any more. */
void jobs_drain_all(struct supervisor *sup);
/*
 * prog's queue, over the types it takes: jobs waiting (due now), and
 * dispatched or running. With the redis store, the cluster's: waiting on
 * the shared queues, and held by any node (redisstore_depth()).
 */
void jobs_program_backlog(struct supervisor *sup, const struct program *prog, size_t *ret_waiting,
                          size_t *ret_in_flight);
/* in holds jobs (a stop waits for them, up to its stop_timeout). */
bool jobs_instance_busy(const struct instance *in);
/*
 * A shutdown stops in: when it holds jobs, its stop is put off until it has
 * finished them (it was sent DRAIN) or its stop_timeout has passed, and true
 * is returned; false: stop it now.
 */
bool jobs_stop_when_idle(struct instance *in);

/* --- what api/ asks ----------------------------------------------------------------------- */

bool jobs_enabled(const struct supervisor *sup);
enum jobs_submit_result jobs_submit(struct supervisor *sup, const struct jobs_submit *s,
                                    struct jobrec **ret);
struct jobrec *jobs_find(struct supervisor *sup, const char *id);
/*
 * The last journal line's seq (a submit's, read right after it); 0: nothing
 * to wait for. With the redis store, the last submit's ticket.
 */
uint64_t jobs_journal_seq(const struct supervisor *sup);
/*
 * seq is on disk (the redis store: the server wrote it): 1; not yet: 0; the
 * journal cannot write (the server is gone): -1 with *ret_err why.
 */
int jobs_journal_wait(const struct supervisor *sup, uint64_t seq, const char **ret_err);
/* The status a stored submit answers: code, or with the redis store what the server said. */
int jobs_stored_code(const struct supervisor *sup, uint64_t seq, int code);
/* The redis store has transitions its server has not answered yet (a shutdown waits). */
bool jobs_busy(const struct supervisor *sup);
/* NULL: the store is fine; else why it takes no submits (the redis store unreachable). */
const char *jobs_store_down(const struct supervisor *sup);
struct redisstore_figures;
/* The redis store's figures; false: not that store. */
bool jobs_redis_figures(const struct supervisor *sup, struct redisstore_figures *ret);
/*
 * The redis store: GET /jobs/ID of a job this node does not hold reads its
 * hash (redisstore_lookup(), redisstore_looked_up()). -1 with *ret_err: not
 * this store, or it is unreachable.
 */
int jobs_lookup(struct supervisor *sup, const char *id, uint64_t *ret_ticket, const char **ret_err);
int jobs_looked_up(const struct supervisor *sup, uint64_t ticket,
                   const struct herojob_field **ret_fields, size_t *ret_n, const char **ret_err);
/* The redis store's node name; NULL: another store. */
const char *jobs_redis_node(const struct supervisor *sup);
const char *jobs_type_name(struct supervisor *sup, const struct jobrec *r);
/* 200, 409 (not in a state that can), with *ret_err a static reason. */
int jobs_cancel(struct supervisor *sup, struct jobrec *r, const char **ret_err);
int jobs_retry(struct supervisor *sup, struct jobrec *r, const char **ret_err);
int jobs_remove(struct supervisor *sup, struct jobrec *r, const char **ret_err);
/* Changes long-polls wait for: it grows with every job delta. */
uint64_t jobs_change_seq(const struct supervisor *sup);
struct jobq *jobs_queue(struct supervisor *sup);
struct jobevents *jobs_events(struct supervisor *sup);

/* /queues, per type. */
struct jobs_type_figures {
    const char *type, *program;
    struct program *prog; /* the one that takes it; NULL: none (a reload removed it) */
    size_t state[JOB__MAX];
    double oldest_waiting_s;
    uint64_t done_1m, failed_1m;
    unsigned instances, idle, busy, desired;
    bool cluster; /* the redis store read the cluster's backlog of it: depth */
    struct redisstore_depth depth;
};
size_t jobs_ntypes(struct supervisor *sup);
void jobs_type_figures(struct supervisor *sup, size_t type, int64_t now_ms,
                       struct jobs_type_figures *ret);

/* in's side for /status: whether it takes jobs, and what it holds (valid for this loop pass). */
struct jobs_instance_figures {
    bool takes_jobs;
    const char *const *held;
    size_t nheld;
    int64_t idle_ms; /* -1: not idle */
    int64_t last_job_ms;
    uint64_t done, failed;
    uint64_t pings_passed, pings_failed;
};
void jobs_instance_figures(const struct instance *in, int64_t now_unix_ms,
                           struct jobs_instance_figures *ret);

/* Counters of one type. */
struct jobs_counters {
    uint64_t submitted;
    uint64_t finished[4]; /* success, failed, cancelled, poison */
    uint64_t retries[3];  /* error, timeout, worker_lost */
    uint64_t stale_results;
};
/* /metrics: one type's figures (histograms borrowed until the next loop pass). */
void jobs_metrics(struct supervisor *sup, size_t type, int64_t now_unix_ms,
                  struct metrics_job_type *ret);
void jobs_channel_counters(struct supervisor *sup, uint64_t *ret_malformed, uint64_t *ret_refused);

#endif

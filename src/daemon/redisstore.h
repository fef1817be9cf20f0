/*
 * redisstore: the Redis store of the dispatcher (jobs.store "redis",
 * JOBS.md §6.7, docs/jobs-redis.md). Drovers on many machines share one
 * Redis: a job is Hero's hash PREFIX:job:ID, its id waits on its type's
 * list (jobs.redis.queue_key), and each drover takes ids from there only
 * while one of its instances has room for one. It owns:
 *
 * - the connections (os/redisconn): one for commands, and one per type that
 *   waits (BLMOVE Q Q RIGHT RIGHT: a peek that blocks and takes nothing) for
 *   its queue to have an id, which the command connection then claims;
 * - the outbox: every command in order, sent when the server answers and
 *   kept until it replied. A job's transitions (started, finished, to be
 *   retried, given back) wait there through an outage and go in order when
 *   the server is back; claims, beats and sweeps are only sent while up;
 * - this node's liveness (drover:node:NODE, PX node_ttl, refreshed every
 *   node_ttl/3, with a token: a second drover with the same node name
 *   waits instead of taking the first one's jobs) and the sweep (every
 *   node_ttl, requeue_node for every other node in drover:nodes), and the
 *   retry zset's timer (retry_due);
 * - the submits of this drover's own clients (POST /jobs), answered once
 *   the server wrote them (a ticket, like the file store's journal seq).
 *
 * It runs the Lua scripts of core/redis_scripts by EVALSHA (loaded at each
 * connect, before anything else is sent; EVAL when the server lost them),
 * and reads the hashes with core/herojob. The jobs themselves, once taken,
 * are daemon/jobs.c's: it runs them as any other, and tells the store each
 * transition (redisstore_changed()).
 */
#ifndef DROVER_REDISSTORE_H
#define DROVER_REDISSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/cfg_jobs.h"
#include "core/herojob.h"
#include "core/job.h"
#include "core/jobrec.h"
#include "os/loop.h"
#include "os/timer.h"

struct redisstore;

/* What the store asks of the dispatcher (arg: its own). */
struct redisstore_ops {
    /* How many more jobs of type (a jobq index) this node would start now. */
    unsigned (*room)(void *arg, unsigned type);
    /* The program settings a job of type falls back on; false: no program takes it now. */
    bool (*defaults)(void *arg, unsigned type, struct herojob_defaults *ret);
    /*
     * A job was taken for this node: r (jobrec_new(), read from its hash,
     * state unset) is the dispatcher's now, at attempt. -1: it could not
     * keep it (it frees r; the store gives the job back).
     */
    int (*taken)(void *arg, unsigned type, struct jobrec *r, unsigned attempt);
    /* A submit was answered, the server went up or down: wake who waits on it. */
    void (*changed)(void *arg);
    /* A job was lost to this node (its result was fenced out): counted per type. */
    void (*stale)(void *arg, unsigned type);
    /* This drover has a job of this id (the orphan check leaves it in the inflight list). */
    bool (*holds)(void *arg, const char *id);
};

/* Figures for /metrics and /queues. */
struct redisstore_figures {
    bool up;            /* the command connection answers, its scripts loaded */
    bool joined;        /* this node is in the cluster: it takes jobs */
    double rtt_s;       /* the last PING's round trip; -1 none */
    size_t outbox;      /* commands not answered yet */
    size_t transitions; /* of them, job transitions (kept through an outage) */
    uint64_t bad_jobs;  /* ids taken whose hash was unusable: failed or dropped with a reason */
    uint64_t requeued;  /* jobs of dead nodes this node sent back to their queues */
    uint64_t reconnects;
    bool depth_known;    /* the cluster's figures below (and redisstore_depth()) were read */
    unsigned nodes;      /* drovers in drover:nodes */
    uint64_t retry_wait; /* jobs of every type in drover:retry: retries and delayed submits */
};

/* One type's backlog across the cluster (read every second while joined). */
struct redisstore_depth {
    long long waiting; /* ids on its queue (LLEN); -1: the key holds no list */
    size_t in_flight;  /* held by a node (claimed or running), every node */
    size_t here;       /* of them, by this node */
};

/*
 * Sets the store up for types (names by jobq index; ntypes of them) and
 * connects. outage_dir: the outage journal's directory (made 0700 when
 * missing; its parent must exist), whose updates left by an earlier drover
 * go to the server first; NULL: what an outage holds back is kept in
 * memory only. Logs what is wrong; 0 or -errno.
 */
int redisstore_open(struct redisstore **ret, struct loop *loop, struct timers *timers,
                    const struct jobs_cfg *cfg, const char *const *types, size_t ntypes,
                    const char *outage_dir, const struct redisstore_ops *ops, void *arg);
/* Before the loop sleeps: the outage journal's lines go to disk (or it empties, all sent). */
void redisstore_flush(struct redisstore *rs);
/* Disconnects and frees. What was not sent is logged (its jobs come back by the sweep). */
void redisstore_close(struct redisstore *rs);

/* Room may have changed for type: take what fits (before the loop sleeps). */
void redisstore_fetch(struct redisstore *rs, unsigned type);

/* Claims of type out (the dispatcher counts them against its room). */
unsigned redisstore_claiming(const struct redisstore *rs, unsigned type);

/* r, a job the store gave, changed state from `from` (daemon/jobs.c's apply_step()). */
void redisstore_changed(struct redisstore *rs, const struct jobrec *r, const char *type,
                        enum job_state from);
/* r, waiting here, goes back to its queue (drover stops): next in line, attempt unchanged. */
void redisstore_release(struct redisstore *rs, const struct jobrec *r, const char *type);

/*
 * A submit of this node's client: r's hash is written and its id pushed on
 * the type's queue, delay_ms after now (0: at once). *ret_ticket is what
 * redisstore_submitted() answers by. 0, or -1 with *ret_err (the store is
 * unreachable).
 */
int redisstore_submit(struct redisstore *rs, const struct jobrec *r, const char *type,
                      int64_t delay_ms, uint64_t *ret_ticket, const char **ret_err);
/*
 * The answer to ticket: 1 with *ret_code 201 (written), 200 (that job is
 * there already) or 409 (another job has the id); 0 not yet; -1 lost, with
 * *ret_err.
 */
int redisstore_submitted(const struct redisstore *rs, uint64_t ticket, int *ret_code,
                         const char **ret_err);

/*
 * GET /jobs/ID of a job this node does not hold: its hash is read
 * (HGETALL). *ret_ticket is what redisstore_looked_up() answers by. 0, or
 * -1 with *ret_err (the store is unreachable).
 */
int redisstore_lookup(struct redisstore *rs, const char *id, uint64_t *ret_ticket,
                      const char **ret_err);
/*
 * The hash read for ticket: 1 with its fields (*ret_n 0: no such job),
 * valid until the next lookup or the store's close; 0 not yet; -1 lost,
 * with *ret_err.
 */
int redisstore_looked_up(const struct redisstore *rs, uint64_t ticket,
                         const struct herojob_field **ret_fields, size_t *ret_n,
                         const char **ret_err);

/* NULL: up; else why not (for /readyz and 503s). */
const char *redisstore_down_reason(const struct redisstore *rs);
/* Transitions not yet written (a shutdown waits for them, while the server answers). */
bool redisstore_busy(const struct redisstore *rs);
void redisstore_figures(const struct redisstore *rs, struct redisstore_figures *ret);
/* type's backlog across the cluster; false: not read since the server came up. */
bool redisstore_depth(const struct redisstore *rs, unsigned type, struct redisstore_depth *ret);
/* This node's name in the cluster ({{hostname}} expanded). */
const char *redisstore_node(const struct redisstore *rs);

#endif

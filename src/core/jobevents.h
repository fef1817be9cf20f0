/*
 * jobevents: the bounded ring of job deltas behind GET /jobs/events (the
 * funcX principle: changes only, each with a sequence number, and a way
 * back to the whole picture, GET /jobs).
 *
 * Pure. Every state change of a job is one event: its id, type, the states
 * from and to (from JOB_INVALID for a submit), the attempt, the instance
 * and the cause. The ring keeps the last JOBEVENTS_RING; a reader that asks
 * for older ones is told it fell behind (a gap). The ring is allocated by
 * jobevents_init(), only when some program takes jobs.
 */
#ifndef DROVER_JOBEVENTS_H
#define DROVER_JOBEVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/cfg_jobs.h"
#include "core/job.h"
#include "core/jobq.h"
#include "core/jobrec.h"

#define JOBEVENTS_RING 4096       /* about 1.3 MiB: each event copies its id */
#define JOBEVENTS_ANSWER_MAX 1000 /* events in one answer; `next` says where to go on */

struct jobevent {
    uint64_t seq;
    int64_t time_ms; /* Unix ms */
    char id[JOBQ_ID_MAX + 1];
    char type[CFG_JOBS_TYPE_MAX + 1];
    enum job_state from, to; /* from JOB_INVALID: the submit */
    unsigned attempt;
    char instance[JOBREC_INSTANCE_MAX]; /* "" none */
    const char *cause;                  /* static (core/job's), NULL none */
};

struct jobevents {
    struct jobevent *ring; /* JOBEVENTS_RING of them */
    uint64_t next_seq;     /* the sequence number the next event gets; starts at 1 */
};

/* 0 or -ENOMEM. */
int jobevents_init(struct jobevents *e);
void jobevents_done(struct jobevents *e);
void jobevents_push(struct jobevents *e, int64_t time_ms, const char *id, const char *type,
                    enum job_state from, enum job_state to, unsigned attempt, const char *instance,
                    const char *cause);
/* Is there an event with seq >= since (a long-poll's wait is over)? */
bool jobevents_has_since(const struct jobevents *e, uint64_t since);
/*
 * The retained events with seq >= since, oldest first, at most max, as
 * borrowed pointers into the ring (valid until the next push). Returns the
 * count; *ret_gap is true when events between since and the oldest retained
 * one were dropped.
 */
size_t jobevents_since(const struct jobevents *e, uint64_t since, const struct jobevent **ret,
                       size_t max, bool *ret_gap);

#endif

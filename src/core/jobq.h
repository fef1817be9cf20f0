/*
 * jobq: where the jobs of one drover live in memory (JOBS.md §6.7): an id
 * hash over every job, one queue per type and priority of the waiting ones
 * (higher priority first, first in first out within one), a min-heap of
 * the delayed and retry_wait ones by due time, and the finished ones in the
 * order they finished (for result_ttl and max_finished eviction), with a
 * count per type and state (the queue depth /queues and /metrics show).
 *
 * Pure: no I/O, no clock. The owner allocates each struct jobq_job, drives
 * its state with core/job, and tells jobq where it belongs now
 * (jobq_place); jobq never frees a job but in jobq_free(). Every operation
 * is O(1) or O(log n) but jobq_find, which is O(1) on average.
 *
 * Ids are a client's choice: the id hash is SipHash-2-4 under a key the
 * owner draws at random (core/siphash), so nobody can pick ids that all
 * land in one bucket.
 */
#ifndef DROVER_JOBQ_H
#define DROVER_JOBQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/job.h"
#include "core/siphash.h"

#define JOBQ_PRIORITIES 10 /* 0..9, higher first */
#define JOBQ_ID_MAX 128

/* Where a job is kept, which follows from its state. */
enum jobq_place {
    JOBQ_NOWHERE,  /* being created or removed */
    JOBQ_QUEUED,   /* waiting: in its type's queue */
    JOBQ_DUE_HEAP, /* delayed or retry_wait: in the heap by due_ms */
    JOBQ_HELD,     /* dispatched or running: an instance holds it */
    JOBQ_FINISHED, /* terminal: in the finished list */
};

struct jobq_job {
    struct job sm;
    char id[JOBQ_ID_MAX + 1];
    unsigned type;     /* index from jobq_type() */
    unsigned priority; /* 0..9 */
    void *owner;       /* the daemon's: payload, result, instance... */
    /* jobq's own links; the owner leaves them alone. */
    enum jobq_place place;
    enum job_state counted; /* the state it is counted under */
    struct jobq_job *hnext;
    struct jobq_job *prev, *next; /* its queue or the finished list */
    size_t heap_index;
    int64_t due_ms;
};

struct jobq;

/* key: SIPHASH_KEY_BYTES random bytes (getrandom), for the id hash. */
struct jobq *jobq_new(const uint8_t key[SIPHASH_KEY_BYTES]);
/* Frees jobq and every job in it, each given to free_job first (may be NULL). */
void jobq_free(struct jobq *q, void (*free_job)(struct jobq_job *j));

/* The index of type, added when new; -ENOMEM, -E2BIG beyond 4096 types. */
int jobq_type(struct jobq *q, const char *type);
const char *jobq_type_name(const struct jobq *q, unsigned type);
size_t jobq_ntypes(const struct jobq *q);

/* Adds j (id, type, priority, sm set) to the hash; -EEXIST for a known id, -ENOMEM. */
int jobq_add(struct jobq *q, struct jobq_job *j);
struct jobq_job *jobq_find(const struct jobq *q, const char *id);
/* Takes j out of everything; the caller frees it. */
void jobq_remove(struct jobq *q, struct jobq_job *j);

/*
 * Puts j where its state (j->sm.state) says, and recounts it: waiting into
 * its queue (at the front when front, else the back), delayed/retry_wait
 * into the heap at due_ms, held, or finished (at the end of the list).
 */
int jobq_place(struct jobq *q, struct jobq_job *j, bool front, int64_t due_ms);

/* The next waiting job of type (highest priority, oldest), taken out of its queue; NULL: none. */
struct jobq_job *jobq_pop(struct jobq *q, unsigned type);
/* The same without taking it. */
struct jobq_job *jobq_peek(const struct jobq *q, unsigned type);

/* The delayed or retry_wait job due first, if due at now_ms, taken out of the heap; else NULL. */
struct jobq_job *jobq_pop_due(struct jobq *q, int64_t now_ms);
/* When the next one is due; INT64_MAX: none. */
int64_t jobq_next_due(const struct jobq *q);

/* The job that finished first (the eviction candidate); NULL: none. */
struct jobq_job *jobq_oldest_finished(const struct jobq *q);

/* How many jobs of type are in state; all jobs; finished ones. */
size_t jobq_count(const struct jobq *q, unsigned type, enum job_state st);
size_t jobq_size(const struct jobq *q);
size_t jobq_nfinished(const struct jobq *q);

/* Every job, in no order; f returns nonzero to stop (that value is returned). */
int jobq_each(const struct jobq *q, int (*f)(struct jobq_job *j, void *arg), void *arg);

#endif

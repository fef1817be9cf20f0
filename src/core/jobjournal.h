/*
 * jobjournal: the lines of the file store's journal (JOBS.md §6.7,
 * docs/jobs.md#durability), written and read back.
 *
 * Pure. One JSON object per line, compact, "\n"-terminated (JSON escapes
 * every control character, so a line never holds a newline of its own):
 *
 *   {"seq":N,"t":MS,"op":"new","id":...,"type":...,  the whole job: what was
 *    "payload"|"payload_b64":..., ..., state fields}  submitted, and its state
 *   {"seq":N,"t":MS,"op":"st","id":..., state fields} a transition
 *   {"seq":N,"t":MS,"op":"rm","id":...}               removed (DELETE, eviction)
 *   {"seq":N,"t":MS,"op":"snapshot","jobs":N}         a compacted segment's first line:
 *                                                     the "new" lines of every job follow
 *
 * The state fields are all a transition can change (state, attempt, times,
 * instance, result, error, progress, the latest history entry), so a
 * replay overwrites rather than adds up. Causes and error codes are kept by
 * name and read back as core/job's static texts; a history entry keeps
 * their indices (job.c's table only grows at its end).
 */
#ifndef DROVER_JOBJOURNAL_H
#define DROVER_JOBJOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/jobrec.h"

#define JOBJOURNAL_TYPE_MAX 64

enum jobjournal_op {
    JOBJOURNAL_NEW,
    JOBJOURNAL_STATE,
    JOBJOURNAL_REMOVE,
    JOBJOURNAL_SNAPSHOT,
};

/* A line's text, malloc'ed and "\n"-terminated, its length in *len; NULL: no memory. */
char *jobjournal_new_line(const struct jobrec *r, const char *type, uint64_t seq, int64_t t_ms,
                          size_t *len);
char *jobjournal_state_line(const struct jobrec *r, uint64_t seq, int64_t t_ms, size_t *len);
char *jobjournal_remove_line(const char *id, uint64_t seq, int64_t t_ms, size_t *len);
char *jobjournal_snapshot_line(size_t njobs, uint64_t seq, int64_t t_ms, size_t *len);

/* One line read back. */
struct jobjournal_entry {
    enum jobjournal_op op;
    uint64_t seq;
    int64_t time_ms;
    size_t njobs;                       /* SNAPSHOT */
    char id[JOBQ_ID_MAX + 1];           /* NEW, STATE, REMOVE */
    char type[JOBJOURNAL_TYPE_MAX + 1]; /* NEW */
    struct jobrec *rec; /* NEW: the job (q.type unset; order its "order", else seq); STATE: its
                           state fields only; the caller's to free (jobrec_free), NULL otherwise */
};

/*
 * Reads one line (len bytes, without its "\n") into e. 0, or -1 with err
 * saying what is wrong ("field \"attempt\": ..."), and nothing owned;
 * -ENOMEM-like failures are -1 too, with "out of memory".
 */
int jobjournal_decode(const char *line, size_t len, struct jobjournal_entry *e, char *err,
                      size_t errsize);

/* Moves a STATE entry's fields (st) onto dst, the job they are of; st keeps nothing to free. */
void jobjournal_apply_state(struct jobrec *dst, struct jobrec *st);

#endif

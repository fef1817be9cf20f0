/*
 * jobevents: ring of job deltas. See jobevents.h.
 */
#include "core/jobevents.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

int
jobevents_init(struct jobevents *e)
{
    e->next_seq = 1;
    e->ring = calloc(JOBEVENTS_RING, sizeof(*e->ring));
    return e->ring ? 0 : -ENOMEM;
}

void
jobevents_done(struct jobevents *e)
{
    free(e->ring);
    e->ring = NULL;
}

void
jobevents_push(struct jobevents *e, int64_t time_ms, const char *id, const char *type,
               enum job_state from, enum job_state to, unsigned attempt, const char *instance,
               const char *cause)
{
    struct jobevent *ev;

    if (!e->ring)
        return;
    ev = &e->ring[e->next_seq % JOBEVENTS_RING];
    ev->seq = e->next_seq++;
    ev->time_ms = time_ms;
    ev->from = from;
    ev->to = to;
    ev->attempt = attempt;
    ev->cause = cause;
    (void)snprintf(ev->id, sizeof(ev->id), "%s", id);
    (void)snprintf(ev->type, sizeof(ev->type), "%s", type ? type : "");
    (void)snprintf(ev->instance, sizeof(ev->instance), "%s", instance ? instance : "");
}

bool
jobevents_has_since(const struct jobevents *e, uint64_t since)
{
    return e->next_seq > (since ? since : 1);
}

size_t
jobevents_since(const struct jobevents *e, uint64_t since, const struct jobevent **ret, size_t max,
                bool *ret_gap)
{
    size_t n = 0;

    since = util_ring_first(e->next_seq, JOBEVENTS_RING, since, ret_gap);
    if (!e->ring)
        return 0;
    for (uint64_t s = since; s < e->next_seq && n < max; s++)
        ret[n++] = &e->ring[s % JOBEVENTS_RING];
    return n;
}

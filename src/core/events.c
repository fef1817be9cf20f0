/*
 * events: ring of state changes. See events.h.
 */
#include "core/events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

void
events_init(struct events *e)
{
    memset(e, 0, sizeof(*e));
    e->next_seq = 1;
}

void
events_done(struct events *e)
{
    for (size_t i = 0; i < EVENTS_RING; i++) {
        free(e->ring[i].detail);
        e->ring[i].detail = NULL;
    }
}

/* The slot the next event goes to, emptied of what the one it replaces owned. */
static struct event *
next_slot(struct events *e)
{
    struct event *ev = &e->ring[e->next_seq % EVENTS_RING];

    free(ev->detail);
    return ev;
}

void
events_push(struct events *e, int64_t unix_ms, const char *program, unsigned instance, pid_t pid,
            enum svc_state from, enum svc_state to, const char *cause)
{
    struct event *ev = next_slot(e);

    *ev = (struct event){
        .seq = e->next_seq++,
        .unix_ms = unix_ms,
        .instance = instance,
        .pid = pid,
        .from = from,
        .to = to,
    };
    (void)snprintf(ev->program, sizeof(ev->program), "%s", program);
    (void)snprintf(ev->cause, sizeof(ev->cause), "%s", cause ? cause : "");
}

void
events_push_plan(struct events *e, int64_t unix_ms, const char *program, const char *action,
                 const char *detail)
{
    struct event *ev = next_slot(e);

    *ev = (struct event){
        .kind = EVENT_PLAN, .seq = e->next_seq++, .unix_ms = unix_ms, .detail = strdup(detail)
    };
    (void)snprintf(ev->program, sizeof(ev->program), "%s", program);
    (void)snprintf(ev->cause, sizeof(ev->cause), "%s", action);
}

size_t
events_since(const struct events *e, uint64_t since, const struct event **ret, size_t max,
             bool *ret_gap)
{
    size_t n = 0;

    since = util_ring_first(e->next_seq, EVENTS_RING, since, ret_gap);
    for (uint64_t s = since; s < e->next_seq && n < max; s++)
        ret[n++] = &e->ring[s % EVENTS_RING];
    return n;
}

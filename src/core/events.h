/*
 * events: the bounded ring of state changes behind GET /events.
 *
 * Pure. Every change of an instance's state, and every step of a reload's
 * plan (EVENT_PLAN), is one event with a sequence
 * number (1, 2, 3, ...). The ring keeps the last EVENTS_RING; a reader that
 * asks for events older than that is told it fell behind (a gap) and
 * should read /status for the whole picture (the funcX delta principle:
 * changes only, and a way back to the full state).
 */
#ifndef DROVER_EVENTS_H
#define DROVER_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/cfg.h"
#include "core/svc.h"

#define EVENTS_RING 1024

/* A state change of an instance, or a step of a reload's plan (the program's, no instance). */
enum event_kind {
    EVENT_STATE,
    EVENT_PLAN,
    EVENT__MAX,
};

struct event {
    enum event_kind kind;
    uint64_t seq;
    int64_t unix_ms;
    char program[CFG_NAME_MAX + 1];
    unsigned instance;
    pid_t pid;
    enum svc_state from, to;
    char cause[96]; /* EVENT_PLAN: the plan's action ("roll", "remove", "done") */
    /*
     * EVENT_PLAN: the step as the log says it, owned by the ring (NULL: none,
     * or no memory). Allocated, not an array in every slot: plan steps are
     * rare, and a fixed 224 bytes would add 224 KiB to a ring of state changes.
     */
    char *detail;
};

struct events {
    struct event ring[EVENTS_RING];
    uint64_t next_seq; /* the sequence number the next event gets; starts at 1 */
};

void events_init(struct events *e);
/* Frees what the ring owns (plan details). */
void events_done(struct events *e);
void events_push(struct events *e, int64_t unix_ms, const char *program, unsigned instance,
                 pid_t pid, enum svc_state from, enum svc_state to, const char *cause);
/* A plan step: program "" for the plan as a whole. */
void events_push_plan(struct events *e, int64_t unix_ms, const char *program, const char *action,
                      const char *detail);

/*
 * The retained events with seq >= since, oldest first, at most max, as
 * borrowed pointers into the ring (valid until the next push). Returns the
 * count; *ret_gap is true when events between since and the oldest
 * retained one were dropped.
 */
size_t events_since(const struct events *e, uint64_t since, const struct event **ret, size_t max,
                    bool *ret_gap);

#endif

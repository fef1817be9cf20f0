/*
 * deps: the order of a pool, from the programs' `after` lists (levels in
 * core/depgraph.h, resolved by cfg).
 *
 * Owns when a waiting instance starts: the state machine asks deps_ready()
 * before a start, and an instance that must wait goes `waiting`; deps hears
 * of every state change (a POOL_STATE observer, deps_changed()) and, before
 * the loop sleeps, starts the waiting instances whose dependencies are now
 * ready, and writes what the others wait for (program.waiting_for, shown by
 * /status). Owns the shutdown order too: dependents stop before their
 * dependencies, one level at a time, each level's programs together.
 *
 * A program is ready when every instance in use is: running (up for
 * start_seconds, or ready by its `ready` rule), or exited with a success
 * code. A `restart: "never"` program is ready only once it exited with a
 * success code (a one-shot: a migration); running is not enough. One
 * instance fatal, or exited with a failure, makes the program failed, and
 * its dependents wait until an operator fixes it (a start, a reload).
 */
#ifndef DROVER_DEPS_H
#define DROVER_DEPS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/svc.h"
#include "os/loop.h"

struct supervisor;
struct instance;

struct deps {
    struct loop_hook before_sleep;
    size_t nwaiting;     /* instances in SVC_WAITING, all programs */
    bool changed;        /* a state changed since the last look */
    bool shutting_down;  /* stopping level by level */
    unsigned stop_level; /* the level being stopped; levels above it are stopped */
};

/* Registers the before-sleep look on sup's loop. */
void deps_setup(struct supervisor *sup);
void deps_done(struct supervisor *sup);

/* The state machine's deps_ready(): every program in's program starts after is ready. */
bool deps_ready(struct instance *in);
/* A state changed (POOL_STATE): in->state_from is the one it left. */
void deps_changed(struct instance *in);

/* The configuration changed (a reload): waiting instances look again at what they wait for. */
void deps_reconfigured(struct supervisor *sup);

/*
 * Begins a shutdown: what has no process stops now (nothing waiting starts
 * any more), and the top level is asked to stop; the levels below follow,
 * from the before-sleep look, once the ones above have no process left.
 */
void deps_shutdown(struct supervisor *sup);

#endif

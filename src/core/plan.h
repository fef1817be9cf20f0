/*
 * plan: what a reload does to the running pool, program by program, from
 * the configuration in force and a new one (docs/lifecycle.md, "Reload
 * and apply").
 *
 * Pure. Programs are matched by name. A removed program stops; an added one
 * starts; a changed `instances` only scales; a change a process must see
 * restarts the program's instances one at a time (a roll, at most
 * max_unavailable not ready at once); a change of the slots
 * (max_instances) replaces the program: every instance stops, then the new
 * ones start. A change drover alone reads is applied in place. The plan
 * borrows names from both configurations: it lives no longer than they do.
 */
#ifndef DROVER_PLAN_H
#define DROVER_PLAN_H

#include <stddef.h>

#include "core/cfg.h"
#include "core/cfgdiff.h"

enum plan_action {
    PLAN_KEEP,    /* unchanged */
    PLAN_UPDATE,  /* only what drover reads changed: in place */
    PLAN_SCALE,   /* only the instance count (and perhaps what drover reads) */
    PLAN_ROLL,    /* a rolling restart (and a scale first when the count changed too) */
    PLAN_REPLACE, /* stop every instance, then start the new program */
    PLAN_ADD,
    PLAN_REMOVE,
    PLAN__MAX,
    PLAN_INVALID = -1,
};

#define PLAN_NONE ((size_t)-1)

struct plan_step {
    enum plan_action action;
    const char *name;     /* borrowed from one of the configurations */
    size_t old_index;     /* in the running config's programs, PLAN_NONE when added */
    size_t new_index;     /* in the new config's programs, PLAN_NONE when removed */
    unsigned from, to;    /* instances (the running count asked for, the new one) */
    unsigned unavailable; /* PLAN_ROLL: max_unavailable of the new config */
    struct cfgdiff diff;  /* what changed (empty for ADD and REMOVE) */
};

struct plan {
    struct plan_step *steps; /* removals first, then the new config's order */
    size_t nsteps;
    struct cfgdiff settings_now;   /* top-level keys applied now */
    struct cfgdiff settings_later; /* top-level keys that wait for the next start */
};

/*
 * The plan from old (running; running_want[i] the instances program i runs
 * now, NULL: its configured count) to new. Returns 0 or -ENOMEM.
 */
int plan_compute(const struct config *old, const unsigned *running_want, const struct config *new,
                 struct plan *ret);
void plan_done(struct plan *p);

/* True when the plan changes nothing that needs a step to run (only KEEP and UPDATE). */
bool plan_is_instant(const struct plan *p);
/* True when the plan changes nothing at all. */
bool plan_is_empty(const struct plan *p);

/* One step as a line: `"web": roll 3 instances one at a time (changed: command)`. */
void plan_step_text(const struct plan_step *s, char *buf, size_t len);

const char *plan_action_name(enum plan_action a);

#endif

/*
 * cfgdiff: what changed between two configurations, key by key, and what
 * each change asks of a running pool (a reload, docs/lifecycle.md).
 *
 * Pure. One row per key of cfg.c's program table (and of its top-level
 * table): the key, and a comparison that says what its change takes.
 * tests/unit/core/test_cfgdiff.c fails when a key of cfg.c has no row here
 * or no mutation case there, so a new key cannot be forgotten. Programs are
 * matched by name by the caller (plan.c); a name is identity, never a change.
 */
#ifndef DROVER_CFGDIFF_H
#define DROVER_CFGDIFF_H

#include <stdbool.h>
#include <stddef.h>

#include "core/cfg.h"

/* What a program's change takes, mildest first: a diff reports the strongest. */
enum cfgdiff_effect {
    CFGDIFF_SAME,    /* nothing changed */
    CFGDIFF_LIVE,    /* only drover's view changes: updated in place, processes untouched */
    CFGDIFF_SCALE,   /* the instance count: pool_scale() */
    CFGDIFF_RESTART, /* the processes must change: a rolling restart */
    CFGDIFF_REPLACE, /* the slots must change (max_instances): every instance restarts */
    CFGDIFF__MAX,
    CFGDIFF_INVALID = -1,
};

/* What a top-level setting's change takes. */
enum cfgdiff_when {
    CFGDIFF_NOW,        /* applied to the running drover */
    CFGDIFF_NEXT_START, /* takes effect at the next start of drover */
    CFGDIFF_WHEN__MAX,
};

struct cfgdiff {
    unsigned effects;          /* bits 1u << CFGDIFF_* of every changed key */
    enum cfgdiff_effect worst; /* the strongest of them; CFGDIFF_SAME when none */
    char keys[256];            /* the changed keys, "command, env", cut short if long */
};

/* Compares program a (running) with b (new), same name. */
void cfgdiff_program(const struct program_cfg *a, const struct program_cfg *b, struct cfgdiff *ret);

/* The top-level settings that changed: now (applied live) and later (next start). */
void cfgdiff_settings(const struct config *a, const struct config *b, struct cfgdiff *ret_now,
                      struct cfgdiff *ret_later);

/* The row of a program key (cfg_program_key()), CFGDIFF_INVALID if it has none. */
enum cfgdiff_effect cfgdiff_program_key_effect(const char *key);
/* The row of a top-level key, CFGDIFF_WHEN__MAX if it has none. */
enum cfgdiff_when cfgdiff_settings_key_when(const char *key);

const char *cfgdiff_effect_name(enum cfgdiff_effect e);

#endif

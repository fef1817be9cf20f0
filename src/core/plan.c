/*
 * plan: a reload's steps from two configurations. See plan.h.
 */
#include "core/plan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

static size_t
find(const struct config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nprograms; i++)
        if (strcmp(cfg->programs[i].name, name) == 0)
            return i;
    return PLAN_NONE;
}

static enum plan_action
action_of(const struct cfgdiff *d)
{
    switch (d->worst) {
    case CFGDIFF_SAME:
        return PLAN_KEEP;
    case CFGDIFF_LIVE:
        return PLAN_UPDATE;
    case CFGDIFF_SCALE:
        return PLAN_SCALE;
    case CFGDIFF_RESTART:
        return PLAN_ROLL;
    case CFGDIFF_REPLACE:
    case CFGDIFF__MAX:
    case CFGDIFF_INVALID:
        break;
    }
    return PLAN_REPLACE;
}

int
plan_compute(const struct config *old, const unsigned *running_want, const struct config *new,
             struct plan *ret)
{
    struct plan p = { 0 };

    p.steps = calloc(old->nprograms + new->nprograms + 1, sizeof(*p.steps));
    if (!p.steps)
        return -ENOMEM;
    for (size_t i = 0; i < old->nprograms; i++) {
        const struct program_cfg *pc = &old->programs[i];
        if (find(new, pc->name) != PLAN_NONE)
            continue;
        p.steps[p.nsteps++] = (struct plan_step){
            .action = PLAN_REMOVE,
            .name = pc->name,
            .old_index = i,
            .new_index = PLAN_NONE,
            .from = running_want ? running_want[i] : pc->instances,
        };
    }
    for (size_t j = 0; j < new->nprograms; j++) {
        const struct program_cfg *nc = &new->programs[j];
        size_t i = find(old, nc->name);
        struct plan_step *s = &p.steps[p.nsteps++];

        *s = (struct plan_step){
            .action = PLAN_ADD,
            .name = nc->name,
            .old_index = i,
            .new_index = j,
            .to = nc->instances,
            .unavailable = nc->max_unavailable,
        };
        if (i == PLAN_NONE)
            continue;
        s->from = running_want ? running_want[i] : old->programs[i].instances;
        cfgdiff_program(&old->programs[i], nc, &s->diff);
        s->action = action_of(&s->diff);
        /* The count in force is what `drover scale` set: a config that still says the same
           leaves that scale alone, as a config that never mentions it. */
        if (!(s->diff.effects & 1u << CFGDIFF_SCALE) && s->from <= nc->max_instances)
            s->to = s->from;
    }
    cfgdiff_settings(old, new, &p.settings_now, &p.settings_later);
    *ret = p;
    return 0;
}

void
plan_done(struct plan *p)
{
    free(p->steps);
    *p = (struct plan){ 0 };
}

bool
plan_is_instant(const struct plan *p)
{
    for (size_t i = 0; i < p->nsteps; i++)
        if (p->steps[i].action != PLAN_KEEP && p->steps[i].action != PLAN_UPDATE)
            return false;
    return true;
}

bool
plan_is_empty(const struct plan *p)
{
    for (size_t i = 0; i < p->nsteps; i++)
        if (p->steps[i].action != PLAN_KEEP)
            return false;
    return !p->settings_now.keys[0] && !p->settings_later.keys[0];
}

static const char *
plural(unsigned n)
{
    return n == 1 ? "" : "s";
}

void
plan_step_text(const struct plan_step *s, char *buf, size_t len)
{
    char scale[64] = "", changed[300] = "";

    if (s->diff.keys[0])
        (void)snprintf(changed, sizeof(changed), " (changed: %s)", s->diff.keys);
    if (s->from != s->to)
        (void)snprintf(scale, sizeof(scale), ", scaled from %u to %u first", s->from, s->to);
    switch (s->action) {
    case PLAN_KEEP:
        (void)snprintf(buf, len, "\"%s\": unchanged, %u instance%s keep running", s->name, s->to,
                       plural(s->to));
        return;
    case PLAN_UPDATE:
        (void)snprintf(buf, len, "\"%s\": updated in place, no restart%s", s->name, changed);
        return;
    case PLAN_SCALE:
        (void)snprintf(buf, len, "\"%s\": scale from %u to %u instance%s%s", s->name, s->from,
                       s->to, plural(s->to), changed);
        return;
    case PLAN_ROLL: {
        unsigned n = s->from < s->to ? s->from : s->to;
        (void)snprintf(buf, len,
                       "\"%s\": rolling restart of %u instance%s, at most %u not ready at once%s%s",
                       s->name, n, plural(n), s->unavailable, scale, changed);
        return;
    }
    case PLAN_REPLACE:
        (void)snprintf(buf, len,
                       "\"%s\": replaced: all %u instance%s stop, then %u start (new slots)%s",
                       s->name, s->from, plural(s->from), s->to, changed);
        return;
    case PLAN_ADD:
        (void)snprintf(buf, len, "\"%s\": added, %u instance%s start", s->name, s->to,
                       plural(s->to));
        return;
    case PLAN_REMOVE:
        (void)snprintf(buf, len, "\"%s\": removed, %u instance%s stop and leave the pool", s->name,
                       s->from, plural(s->from));
        return;
    case PLAN__MAX:
    case PLAN_INVALID:
        break;
    }
    (void)snprintf(buf, len, "\"%s\": ?", s->name);
}

const char *
plan_action_name(enum plan_action a)
{
    static const char *const names[PLAN__MAX] = {
        [PLAN_KEEP] = "keep",     [PLAN_UPDATE] = "update",   [PLAN_SCALE] = "scale",
        [PLAN_ROLL] = "roll",     [PLAN_REPLACE] = "replace", [PLAN_ADD] = "add",
        [PLAN_REMOVE] = "remove",
    };

    return a >= 0 && a < PLAN__MAX ? names[a] : "?";
}

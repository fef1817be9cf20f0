/*
 * reload: a new configuration for the running pool, and the plan that
 * carries it out (docs/lifecycle.md, "Reload and apply").
 *
 * reload_request() reads the file again (reload, SIGHUP) or takes a text
 * (apply, PUT /config), parses it as at start-up (the supervisor's config
 * loader, main.c's), computes the plan (core/plan.c) and, unless a dry run,
 * carries out what can be done at once: added programs start, a count
 * scales, changes drover alone reads are applied in place. What takes time
 * runs from the loop (reload_advance(), before each sleep): rolling
 * restarts, one instance after another, at most max_unavailable not ready;
 * removed (and replaced) programs draining out of the pool. While it runs,
 * another request is refused. An invalid configuration changes nothing.
 *
 * Ownership: the configuration in force is sup->cfg; the one it replaced
 * stays alive, retired, while a program borrows from it (a removed one
 * draining), and is freed when the plan is done. A configuration applied
 * over the API is saved beside the dumpfile (RELOAD_SAVED_SUFFIX), and a
 * reload from the file removes that copy.
 */
#ifndef DROVER_RELOAD_H
#define DROVER_RELOAD_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/cfg.h"

struct supervisor;
struct program;
struct instance;

/* DUMPFILE + this: the configuration last applied over the API, resumed by --adopt. */
#define RELOAD_SAVED_SUFFIX ".config.json"

struct reload_req {
    const char *verb; /* "reload" or "apply", for the log and the answer */
    const char *text; /* the new configuration; NULL: the file drover was started with */
    size_t len;
    const char *source; /* the text's name in error lines: a file name, "<stdin>", "<api>" */
    bool dry_run;       /* compute and tell the plan, change nothing */
};

/* One step of the plan, as told (the names are copies: the answer outlives the plan). */
struct reload_line {
    char program[CFG_NAME_MAX + 1];
    char action[16];
    char text[256];
};

struct reload_outcome {
    int code;                  /* 200 done (or dry run), 400 invalid, 409 refused, 500 failed */
    const char *message;       /* 409 and 500: why; a static string */
    struct cfg_errors errs;    /* 400: the configuration's errors, one per line */
    struct reload_line *lines; /* 200: every program's step */
    size_t nlines;
    char settings_now[256];   /* top-level keys applied now */
    char settings_later[256]; /* top-level keys that wait for the next start */
    bool running;             /* steps go on after the answer (a roll, a drain) */
    char saved[PATH_MAX];     /* where the configuration was saved, "" if not */
};

/* Carries out rq; *ret is filled (reload_outcome_done() releases it). Logs. */
void reload_request(struct supervisor *sup, const struct reload_req *rq,
                    struct reload_outcome *ret);
void reload_outcome_done(struct reload_outcome *o);

/*
 * A start without --adopt: the configuration saved beside the dumpfile by an
 * earlier life is stale (this start's is in force), so it is removed, lest a
 * later --adopt resume it. Logged.
 */
void reload_forget_saved(struct supervisor *sup);

/* True while a plan runs. */
bool reload_running(const struct supervisor *sup);
/*
 * True for an instance whose process runs the configuration the running
 * plan replaces: its program is being rolled and the roll has not reached
 * it (or is stopping its old process). For the checkpoint: a later drover
 * does not adopt it under the new configuration.
 */
bool reload_instance_stale(const struct supervisor *sup, const struct instance *in);

/* True for a program the running plan removes (or replaces): it is leaving the pool. */
bool reload_is_leaving(const struct supervisor *sup, const struct program *prog);
/* The running plan's next steps; the loop calls it before sleeping. */
void reload_advance(struct supervisor *sup);
/* At the end (supervisor_free(), after the pool's programs): the rest of a plan. */
void reload_done(struct supervisor *sup);

#endif

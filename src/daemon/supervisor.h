/*
 * supervisor: the glue between the event loop and the instances.
 *
 * Owns the config, the programs and instances, the loop, the timers, the
 * port allocator and the pid map, and implements the effects the state
 * machine asks for (svc_ops): spawn, signal a process group, timers. One
 * thread; every callback runs from supervisor_run().
 */
#ifndef DROVER_SUPERVISOR_H
#define DROVER_SUPERVISOR_H

#include <stddef.h>

#include "core/cfg.h"

struct supervisor;

/*
 * Takes *cfg (leaves it zeroed). extra_timers: room in the timer heap for
 * what the surfaces arm. Returns NULL with *ret_err = -errno on failure.
 */
struct supervisor *supervisor_new(struct config *cfg, size_t extra_timers, int *ret_err);

/*
 * What serves the pool from above (api/: HTTP and the control socket). The
 * supervisor calls them at their moment in its start-up and at the end, and
 * knows nothing else of them, so no call points up. Any may be NULL.
 */
struct supervisor_surfaces {
    /* First, before anything else: -errno when another drover runs this pool (refuse). */
    int (*open_control)(struct supervisor *sup);
    /* After the dumpfile was read, before recovery touches a process: -errno refuses. */
    int (*open_http)(struct supervisor *sup);
    /* At the end (supervisor_free()): answers still queued go out, then all closes. */
    void (*close)(struct supervisor *sup);
};

/* Set before supervisor_run(); s is borrowed. */
void supervisor_set_surfaces(struct supervisor *sup, const struct supervisor_surfaces *s);

/*
 * Where a reload's configuration comes from (main.c: it knows the file and
 * the command line). Parses text (NULL: reads the file drover was started
 * with, source then ignored) into *ret, the command line's overrides applied
 * and cfg_finish() passed, as at start-up. Returns 0; -EINVAL with errs
 * filled; -ENOENT when text is NULL and the configuration came from stdin.
 */
typedef int (*supervisor_config_loader)(void *arg, const char *text, size_t len, const char *source,
                                        struct config *ret, struct cfg_errors *errs);

/* Set before supervisor_run(); without one, reload and apply are refused. */
void supervisor_set_config_loader(struct supervisor *sup, supervisor_config_loader fn, void *arg);

/*
 * A shutdown stopped every instance, but not cleanly: one had to be
 * SIGKILLed after its stop_timeout, one was fatal when the shutdown began,
 * or a descendant that had left its instance's group was killed at the end
 * (docs/exit-codes.md). 0 is a clean one; 1 and 2 are start-up failures.
 */
#define SUPERVISOR_EXIT_UNCLEAN 4

/*
 * Starts every instance and runs until a shutdown (SIGTERM, SIGINT) has
 * stopped them all. Returns the process exit code: 0, SUPERVISOR_EXIT_UNCLEAN,
 * 1 when start-up failed, or as pid 1, 128 + the signal that would have ended
 * drover outside a container (sig_ends_process()).
 */
int supervisor_run(struct supervisor *sup);

/* Frees everything; any process still running is killed (group) and reaped. */
void supervisor_free(struct supervisor *sup);

#endif

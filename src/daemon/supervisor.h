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

#include "core/cfg.h"

struct supervisor;

/* Takes *cfg (leaves it zeroed). Returns NULL with *ret_err = -errno on failure. */
struct supervisor *supervisor_new(struct config *cfg, int *ret_err);

/*
 * Starts every instance and runs until a shutdown (SIGTERM, SIGINT) has
 * stopped them all. Returns the process exit code.
 */
int supervisor_run(struct supervisor *sup);

/* Frees everything; any process still running is killed (group) and reaped. */
void supervisor_free(struct supervisor *sup);

#endif

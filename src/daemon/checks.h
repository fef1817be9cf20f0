/*
 * checks: readiness probes and health checks: scheduling the attempts of
 * os/probe per instance, failures -> restart. Hears of spawns and exits from
 * the pool.
 */
#ifndef DROVER_CHECKS_H
#define DROVER_CHECKS_H

#include <signal.h>
#include <stdbool.h>

struct supervisor;
struct instance;
struct program;

void checks_init(struct instance *in);
void checks_spawned(struct instance *in); /* a new process: schedule its first attempt */
void checks_gone(struct instance *in);    /* its process is gone: cancel everything */
bool checks_reaped(struct supervisor *sup,
                   const siginfo_t *info); /* true if the pid was a probe's */

#endif

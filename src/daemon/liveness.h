/*
 * liveness: the notify socket (datagrams from workers, each checked against
 * the instance it claims to be), the heartbeat slots, silence, and drover's
 * own READY/WATCHDOG to its supervisor. Hears of spawns from the pool.
 */
#ifndef DROVER_LIVENESS_H
#define DROVER_LIVENESS_H

#include <stdint.h>
#include <sys/types.h>

struct supervisor;
struct instance;
struct program;

int liveness_setup(struct supervisor *sup);    /* before recovery acts: what can fail */
void liveness_adopted(struct supervisor *sup); /* after: earlier slots, watch the adopted */
void liveness_done(struct supervisor *sup);
/* A program's heartbeat slots and silence timer: at set-up, or when a reload adds it. Logs. */
int liveness_program_open(struct program *prog);
void liveness_program_close(struct program *prog); /* it leaves the pool (a reload removed it) */
void liveness_spawned(struct instance *in);        /* after a spawn: slot owner, beat clock */
void liveness_started(struct supervisor *sup);     /* the initial start is done: READY=1 upward */
void liveness_stopping(struct supervisor *sup);    /* shutdown began: STOPPING=1 upward */

/*
 * 0: never beat. now_ns: a CLOCK_MONOTONIC reading of the caller's, at most
 * a moment old. A slot time from the future counts when first seen (and is
 * recorded), so the result can be a little later than now_ns.
 */
int64_t liveness_last_beat_ns(struct instance *in, int64_t now_ns);

/* A beat of in at now_ns from another source than notify (a job channel frame). */
void liveness_beat(struct instance *in, int64_t now_ns);
/* The instance a process belongs to: its main process, or one of its group; NULL none. */
struct instance *liveness_find_sender(struct supervisor *sup, pid_t pid);

#endif

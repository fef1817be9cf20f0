/*
 * memcap: the memory_max verdict for one instance, from its samples.
 *
 * Pure. daemon/memwatch.c samples a process group's memory once a second
 * and hands each figure here; a group above its limit for MEMCAP_OVER_IN_A_ROW
 * samples in a row is to be restarted, so one short peak (a burst, a fork
 * that has not yet exec'ed) is forgiven. A sample at or below the limit
 * starts the count again. Reset for each new process.
 */
#ifndef DROVER_MEMCAP_H
#define DROVER_MEMCAP_H

#include <stdbool.h>
#include <stdint.h>

#define MEMCAP_OVER_IN_A_ROW 2
#define MEMCAP_PERIOD_MS 1000 /* the sample period: fixed, not configurable */

struct memcap {
    uint64_t bytes;   /* the last sample, valid when samples > 0 */
    uint64_t samples; /* taken of the current process */
    unsigned over;    /* samples in a row above the limit */
};

/* A new process: no sample yet. */
void memcap_reset(struct memcap *m);

/*
 * Records a sample of bytes against limit (0: none, never over). True when
 * this is the MEMCAP_OVER_IN_A_ROW-th sample in a row above the limit: the
 * caller restarts the instance; the count starts again from 0.
 */
bool memcap_sample(struct memcap *m, uint64_t bytes, uint64_t limit);

#endif

/*
 * heartbeat: drover's side of the shared-memory beats.
 *
 * One memfd per program holding one struct drover_slot (include/drover/
 * worker.h) per instance. Each child inherits the fd (its number and its
 * slot index in DROVER_HEARTBEAT_FD / DROVER_HEARTBEAT_SLOT); a worker maps
 * it and beats with plain stores. A program's mapping holds only its own
 * instances, so no worker can write another program's slots. drover reads
 * the slots whenever it looks (heartbeat_last_beat) and writes only its
 * own fields. No logging.
 */
#ifndef DROVER_HEARTBEAT_H
#define DROVER_HEARTBEAT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "drover/worker.h"

struct heartbeat_region {
    int fd; /* memfd, close-on-exec in drover; -1 none */
    struct drover_slot *slots;
    size_t nslots;
    size_t map_len;
};

/* Creates a region of nslots slots. Returns 0 or -errno. */
int heartbeat_region_open(struct heartbeat_region *r, const char *name, size_t nslots);
void heartbeat_region_close(struct heartbeat_region *r);

/*
 * Takes over an existing region (an earlier drover's, reopened through an
 * adopted worker's /proc/PID/fd/N; takes fd). It must hold nslots slots.
 * Returns 0 or -errno (fd closed).
 */
int heartbeat_region_adopt(struct heartbeat_region *r, int fd, size_t nslots);

/* Before a spawn: the worker's fields are zeroed, so no beat of the old process counts. */
void heartbeat_slot_reset(struct heartbeat_region *r, size_t slot);
/* After the spawn: the slot belongs to owner. */
void heartbeat_slot_own(struct heartbeat_region *r, size_t slot, pid_t owner);

/* The worker's last beat (CLOCK_MONOTONIC ns), 0 if it never beat. */
uint64_t heartbeat_last_beat(const struct heartbeat_region *r, size_t slot);

/* drover's own heartbeat, seen by drover_supervisor_alive(). */
void heartbeat_supervisor_tick(struct heartbeat_region *r, uint64_t now_ns);

#endif

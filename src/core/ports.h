/*
 * ports: the --port-range allocator.
 *
 * Pure. Each start of an instance that uses {{port}} takes the next free port
 * after the one handed out last (round robin with wrap), so a restart lands on
 * a new port while the old one drains. A port stays taken until released;
 * it is never handed out twice. The bitmap is allocated once at start-up.
 */
#ifndef DROVER_PORTS_H
#define DROVER_PORTS_H

#include <stddef.h>
#include <stdint.h>

struct ports {
    uint16_t from, to; /* inclusive range; from == 0 means "no range configured" */
    uint32_t cursor;   /* offset from `from` of the next candidate */
    uint32_t in_use;   /* number of ports taken */
    uint64_t *bits;    /* one bit per port of the range */
};

/* Returns 0 or -ENOMEM. from == 0 initialises an empty allocator (every take fails). */
int ports_init(struct ports *p, uint16_t from, uint16_t to);
void ports_done(struct ports *p);

/* Takes the next free port. Returns 0, or -ENOSPC when every port is in use or no range is set. */
int ports_take(struct ports *p, uint16_t *ret_port);

/*
 * Marks a specific port as taken (adoption) and moves the round-robin cursor
 * past it if it lies ahead. Returns 0, -ERANGE outside the range, -EBUSY if taken.
 */
int ports_reserve(struct ports *p, uint16_t port);

/* Releases a taken port; releasing a free or foreign port is a no-op. */
void ports_release(struct ports *p, uint16_t port);

/* Number of ports in the range. */
uint32_t ports_size(const struct ports *p);

#endif

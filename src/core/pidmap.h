/*
 * pidmap: pid -> owner lookup for the SIGCHLD sweep, which reaps with
 * waitid(P_ALL) and must find the instance a pid belongs to.
 *
 * Pure. Open addressing with linear probing and backward-shift deletion,
 * sized at start-up to at least twice the most pids it will hold, and grown
 * (pidmap_reserve()) when a reload adds programs.
 * Values are borrowed.
 */
#ifndef DROVER_PIDMAP_H
#define DROVER_PIDMAP_H

#include <stddef.h>
#include <sys/types.h>

struct pidmap_slot {
    pid_t pid; /* 0: empty */
    void *value;
};

struct pidmap {
    struct pidmap_slot *slots;
    size_t mask; /* capacity - 1, capacity a power of two */
    size_t len;
};

/*
 * max_entries: the most pids ever held at once. The table is sized to a power
 * of two at least twice that and is full at half its size, so at least
 * max_entries always fit. Returns 0 or -ENOMEM.
 */
int pidmap_init(struct pidmap *m, size_t max_entries);
/*
 * Makes room for max_entries (a reload adds programs): the entries move to
 * a bigger table. Returns 0, or -ENOMEM with m unchanged.
 */
int pidmap_reserve(struct pidmap *m, size_t max_entries);
void pidmap_done(struct pidmap *m);
/* Returns 0, -EEXIST (also when full), -ENOSPC when half the table is used, -EINVAL for pid <= 0.
 */
int pidmap_put(struct pidmap *m, pid_t pid, void *value);
void *pidmap_get(const struct pidmap *m, pid_t pid);
/* Returns the removed value or NULL. */
void *pidmap_del(struct pidmap *m, pid_t pid);

#endif

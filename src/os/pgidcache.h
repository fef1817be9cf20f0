/*
 * pgidcache: the process group of a pid, for notify senders that are not an
 * instance's main process (systemd-notify, a worker's helper): read from
 * /proc/PID/stat once, then from memory for as long as that very process
 * lives.
 *
 * Exact against pid reuse: each entry holds a pidfd of the process it was
 * read for (opened before the read, and checked alive after it, so the read
 * is that process's), and a hit is trusted only while a poll of the pidfd
 * says the process has not exited. A pid whose process died is read again.
 * A fixed table, direct-mapped by pid (PGIDCACHE_SIZE entries, one
 * descriptor each): a pid that lands on a taken entry takes its place. The
 * group is the one read when the process was first seen: a process that
 * moves to another group later (setpgid) keeps its first one here, as a
 * member of an instance's old generation is still refused once the
 * instance has a new group.
 */
#ifndef DROVER_PGIDCACHE_H
#define DROVER_PGIDCACHE_H

#include <stdint.h>
#include <sys/types.h>

#define PGIDCACHE_SIZE 256 /* a power of two */

struct pgidcache {
    struct pgidcache_entry {
        pid_t pid; /* 0: free */
        pid_t pgid;
        int fd; /* the pidfd */
    } e[PGIDCACHE_SIZE];
    uint64_t hits, misses; /* for the benchmarks */
};

void pgidcache_init(struct pgidcache *c);
/* Closes every descriptor. */
void pgidcache_done(struct pgidcache *c);
/* pid's process group now. -ESRCH: gone (or a zombie); other -errno: /proc unreadable. */
int pgidcache_get(struct pgidcache *c, pid_t pid, pid_t *ret_pgid);

#endif

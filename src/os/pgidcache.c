/*
 * pgidcache: a pid's process group, kept while its process lives. See pgidcache.h.
 */
#include "os/pgidcache.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/pidfd.h>
#include <unistd.h>

#include "os/procfs.h"

void
pgidcache_init(struct pgidcache *c)
{
    memset(c, 0, sizeof(*c));
    for (unsigned i = 0; i < PGIDCACHE_SIZE; i++)
        c->e[i].fd = -1;
}

static void
drop(struct pgidcache_entry *e)
{
    if (e->fd >= 0)
        (void)close(e->fd);
    e->pid = 0;
    e->fd = -1;
}

void
pgidcache_done(struct pgidcache *c)
{
    for (unsigned i = 0; i < PGIDCACHE_SIZE; i++)
        drop(&c->e[i]);
}

/* The process behind fd has not exited (a pidfd polls readable once it has). */
static int
alive(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };

    return poll(&p, 1, 0) == 0;
}

static unsigned
slot_of(pid_t pid)
{
    return ((unsigned)pid * 2654435761u) & (PGIDCACHE_SIZE - 1);
}

int
pgidcache_get(struct pgidcache *c, pid_t pid, pid_t *ret_pgid)
{
    struct pgidcache_entry *e = &c->e[slot_of(pid)];
    struct proc_stat st;
    int fd, r;

    if (e->pid == pid && alive(e->fd)) {
        c->hits++;
        *ret_pgid = e->pgid;
        return 0;
    }
    c->misses++;
    if (e->pid)
        drop(e); /* its process is gone, or another pid has the place */
    if ((fd = pidfd_open(pid, 0)) < 0)
        return -errno;
    if ((r = proc_read_stat(pid, &st)) < 0 || st.state == 'Z' || !alive(fd)) {
        (void)close(fd);
        return r < 0 ? r : -ESRCH;
    }
    /* Read after the pidfd was open, and it still lives: the stat is that process's. */
    *e = (struct pgidcache_entry){ .pid = pid, .pgid = st.pgid, .fd = fd };
    *ret_pgid = st.pgid;
    return 0;
}

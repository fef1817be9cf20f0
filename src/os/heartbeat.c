/*
 * heartbeat: memfd-backed slot regions. See heartbeat.h.
 */
#include "os/heartbeat.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int
heartbeat_region_open(struct heartbeat_region *r, const char *name, size_t nslots)
{
    long page = sysconf(_SC_PAGESIZE);
    size_t len = nslots * sizeof(struct drover_slot);

    *r = (struct heartbeat_region){ .fd = -1 };
    if (page <= 0)
        page = 4096;
    len = (len + (size_t)page - 1) / (size_t)page * (size_t)page;
    /* Sealed against shrinking: a worker must not be able to make drover's reads fault. */
    r->fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (r->fd < 0)
        return -errno;
    if (ftruncate(r->fd, (off_t)len) < 0 ||
        fcntl(r->fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
        goto fail;
    r->slots = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
    if (r->slots == MAP_FAILED) {
        r->slots = NULL;
        goto fail;
    }
    r->nslots = nslots;
    r->map_len = len;
    return 0;
fail:;
    int err = -errno;
    heartbeat_region_close(r);
    return err;
}

int
heartbeat_region_adopt(struct heartbeat_region *r, int fd, size_t nslots)
{
    struct stat st;
    int seals;

    *r = (struct heartbeat_region){ .fd = fd };
    /* Only a sealed memfd of the right size: a worker must not be able to shrink it under us. */
    seals = fcntl(fd, F_GET_SEALS);
    if (fstat(fd, &st) < 0 || seals < 0 || !(seals & F_SEAL_SHRINK) ||
        (size_t)st.st_size < nslots * sizeof(struct drover_slot)) {
        heartbeat_region_close(r);
        return -EINVAL;
    }
    r->slots = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (r->slots == MAP_FAILED) {
        int err = -errno;
        r->slots = NULL;
        heartbeat_region_close(r);
        return err;
    }
    r->nslots = nslots;
    r->map_len = (size_t)st.st_size;
    return 0;
}

void
heartbeat_region_close(struct heartbeat_region *r)
{
    if (r->slots)
        (void)munmap(r->slots, r->map_len);
    if (r->fd >= 0)
        (void)close(r->fd);
    *r = (struct heartbeat_region){ .fd = -1 };
}

void
heartbeat_slot_reset(struct heartbeat_region *r, size_t slot)
{
    struct drover_slot *s = &r->slots[slot];

    __atomic_store_n(&s->last_beat_ns, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&s->beats, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&s->tasks_done, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&s->tasks_failed, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&s->supervisor_pid, (uint64_t)getpid(), __ATOMIC_RELAXED);
    __atomic_store_n(&s->owner_pid, 0, __ATOMIC_RELEASE);
}

void
heartbeat_slot_own(struct heartbeat_region *r, size_t slot, pid_t owner)
{
    __atomic_store_n(&r->slots[slot].owner_pid, (uint64_t)owner, __ATOMIC_RELEASE);
}

uint64_t
heartbeat_last_beat(const struct heartbeat_region *r, size_t slot)
{
    return __atomic_load_n(&r->slots[slot].last_beat_ns, __ATOMIC_ACQUIRE);
}

void
heartbeat_supervisor_tick(struct heartbeat_region *r, uint64_t now_ns)
{
    for (size_t i = 0; i < r->nslots; i++)
        __atomic_store_n(&r->slots[i].supervisor_beat_ns, now_ns, __ATOMIC_RELEASE);
}

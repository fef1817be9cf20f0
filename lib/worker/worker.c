/*
 * worker: the C worker library behind include/drover/worker.h: the
 * heartbeat slot and the notify socket; the job channel is jobs.c.
 * Allocations at drover_open() only, none afterwards; no logging.
 */
#include "drover/worker.h"
#include "worker_int.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

_Static_assert(sizeof(struct drover_slot) == 64, "a slot is one cache line");

static uint64_t
now_ns(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int
parse_uint(const char *s, unsigned long *ret)
{
    char *end;

    if (!s || !*s)
        return -ENOENT;
    errno = 0;
    *ret = strtoul(s, &end, 10);
    return errno || *end ? -EINVAL : 0;
}

static int
open_slot(struct drover_worker *w)
{
    unsigned long fd, index;
    struct stat st;
    int r;

    if ((r = parse_uint(getenv(DROVER_ENV_HEARTBEAT_FD), &fd)) < 0)
        return r;
    if ((r = parse_uint(getenv(DROVER_ENV_HEARTBEAT_SLOT), &index)) < 0)
        return r;
    if (fstat((int)fd, &st) < 0)
        return -errno;
    if ((index + 1) * sizeof(struct drover_slot) > (size_t)st.st_size)
        return -ERANGE;
    w->map = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, (int)fd, 0);
    if (w->map == MAP_FAILED) {
        w->map = NULL;
        return -errno;
    }
    w->map_len = (size_t)st.st_size;
    w->slot = (struct drover_slot *)w->map + index;
    return 0;
}

static int
open_notify(struct drover_worker *w)
{
    const char *name = getenv("NOTIFY_SOCKET");
    size_t n;

    if (!name || !*name)
        return -ENOENT;
    n = strlen(name);
    if (n >= sizeof(w->notify_addr.sun_path))
        return -ENAMETOOLONG;
    w->notify_addr = (struct sockaddr_un){ .sun_family = AF_UNIX };
    memcpy(w->notify_addr.sun_path, name, n);
    if (name[0] == '@')
        w->notify_addr.sun_path[0] = '\0';
    w->notify_len =
        (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (name[0] == '@' ? 0 : 1));
    w->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    return w->notify_fd < 0 ? -errno : 0;
}

int
drover_open(drover_worker **ret)
{
    struct drover_worker *w = calloc(1, sizeof(*w));
    int rs, rn, rj, r;

    if (!w) {
        *ret = NULL;
        return -ENOMEM;
    }
    w->notify_fd = -1;
    rs = open_slot(w);
    rn = open_notify(w);
    rj = worker_jobs_open(w);
    r = rs < 0 && rs != -ENOENT   ? rs
        : rn < 0 && rn != -ENOENT ? rn
        : rj < 0 && rj != -ENOENT ? rj
                                  : 0;
    if (r < 0) {
        drover_close(w); /* as worker.h says: on error nothing is left, *ret is NULL */
        *ret = NULL;
        return r;
    }
    *ret = w;
    /* 1: not under drover, calls are no-ops */
    return rs == -ENOENT && rn == -ENOENT && rj == -ENOENT ? 1 : 0;
}

void
drover_close(drover_worker *w)
{
    if (!w)
        return;
    if (w->map)
        (void)munmap(w->map, w->map_len);
    if (w->notify_fd >= 0)
        (void)close(w->notify_fd);
    worker_jobs_free(w->jobs);
    free(w);
}

void
drover_beat(drover_worker *w)
{
    struct drover_slot *s = w ? w->slot : NULL;

    if (!s)
        return;
    /* One writer per field: a plain load and an atomic store suffice, no locked instruction. */
    __atomic_store_n(&s->beats, __atomic_load_n(&s->beats, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
    __atomic_store_n(&s->last_beat_ns, now_ns(), __ATOMIC_RELEASE);
}

static void
bump(uint64_t *field)
{
    __atomic_store_n(field, __atomic_load_n(field, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
}

void
drover_task_done(drover_worker *w)
{
    if (w && w->slot)
        bump(&w->slot->tasks_done);
}

void
drover_task_failed(drover_worker *w)
{
    if (w && w->slot)
        bump(&w->slot->tasks_failed);
}

static int
send_text(drover_worker *w, const char *text)
{
    if (!w || w->notify_fd < 0)
        return 0;
    if (sendto(w->notify_fd, text, strlen(text), MSG_NOSIGNAL | MSG_DONTWAIT,
               (struct sockaddr *)&w->notify_addr, w->notify_len) < 0)
        return -errno;
    return 0;
}

int
drover_ready(drover_worker *w)
{
    return send_text(w, "READY=1");
}

int
drover_stopping(drover_worker *w)
{
    return send_text(w, "STOPPING=1");
}

int
drover_status(drover_worker *w, const char *text)
{
    char buf[300];

    if (strchr(text, '\n'))
        return -EINVAL; /* one line: a newline would start another assignment */
    if (snprintf(buf, sizeof(buf), "STATUS=%s", text) >= (int)sizeof(buf))
        return -E2BIG;
    return send_text(w, buf);
}

int
drover_supervisor_alive(const drover_worker *w, uint64_t max_age_ns)
{
    uint64_t seen;

    if (!w || !w->slot)
        return -ENOENT;
    seen = __atomic_load_n(&w->slot->supervisor_beat_ns, __ATOMIC_ACQUIRE);
    return seen && now_ns() - seen <= max_age_ns ? 1 : 0;
}

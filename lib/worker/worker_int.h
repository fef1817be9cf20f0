/*
 * worker_int: what the files of lib/worker share; not installed. The
 * public surface is include/drover/worker.h only.
 *
 * struct drover_worker is allocated once by drover_open() (worker.c); its
 * job side, struct worker_jobs (jobs.c), is allocated with it when drover
 * gave the process a job channel, and freed by drover_close(). One thread
 * uses a handle at a time; nothing here is global.
 */
#ifndef DROVER_WORKER_INT_H
#define DROVER_WORKER_INT_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "drover/worker.h"

struct worker_jobs;

struct drover_worker {
    struct drover_slot *slot; /* NULL: no heartbeat channel */
    void *map;
    size_t map_len;
    int notify_fd; /* -1: no notify socket */
    struct sockaddr_un notify_addr;
    socklen_t notify_len;
    struct worker_jobs *jobs; /* NULL: no job channel (no DROVER_JOBS_SOCKET) */
};

/*
 * Reads DROVER_JOBS_* and allocates the job side with its slot buffers
 * (connecting waits for the first drover_job_next()). -ENOENT when there is
 * no DROVER_JOBS_SOCKET, -EINVAL/-ENAMETOOLONG for a bad environment,
 * -ENOMEM.
 */
int worker_jobs_open(struct drover_worker *w);
/* Closes the channel and frees the job side; accepts NULL. */
void worker_jobs_free(struct worker_jobs *j);

#endif

/*
 * drover/worker.h: the worker side of drover's heartbeats. The only public
 * header.
 *
 * A worker calls drover_beat() at every poll of its queue, whether or not
 * work came: a starving worker is not a sick one. A beat is a clock read
 * (vDSO, no system call) and two stores into a 64-byte slot of memory shared
 * with drover; nothing is allocated and nothing blocks. drover_ready() and
 * drover_status() speak the systemd notify protocol to $NOTIFY_SOCKET, so
 * the same worker also runs under systemd.
 *
 * Everything is a harmless no-op when the process was not started by
 * drover: drover_open() then still gives a usable handle and returns 1.
 * No globals, no logging; functions return 0 / -errno.
 */
#ifndef DROVER_WORKER_H
#define DROVER_WORKER_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Environment variables drover sets for the heartbeat channel. */
#define DROVER_ENV_HEARTBEAT_FD "DROVER_HEARTBEAT_FD"
#define DROVER_ENV_HEARTBEAT_SLOT "DROVER_HEARTBEAT_SLOT"

/*
 * One slot per instance, one cache line. Fields written by the worker and
 * by drover never share a writer. All times are CLOCK_MONOTONIC nanoseconds.
 */
struct drover_slot {
    uint64_t last_beat_ns;       /* worker: time of the last beat, 0 never */
    uint64_t beats;              /* worker: number of beats */
    uint64_t tasks_done;         /* worker */
    uint64_t tasks_failed;       /* worker */
    uint64_t supervisor_beat_ns; /* drover: when drover last looked (its own heartbeat) */
    uint64_t supervisor_pid;     /* drover */
    uint64_t owner_pid;          /* drover: the main pid this slot belongs to */
    uint64_t reserved;
};

typedef struct drover_worker drover_worker;

/* 0: under drover; 1: not under drover (a no-op handle); -errno (then *ret is NULL). */
int drover_open(drover_worker **ret);
void drover_close(drover_worker *w);

/* The heartbeat: one clock read, two stores, no system call. */
void drover_beat(drover_worker *w);
void drover_task_done(drover_worker *w);
void drover_task_failed(drover_worker *w);

/* READY=1 (the worker is up), STATUS=text, STOPPING=1, over the notify socket. */
int drover_ready(drover_worker *w);
int drover_status(drover_worker *w, const char *text);
int drover_stopping(drover_worker *w);

/*
 * Is the supervisor still there? 1 when drover looked at the slot within
 * max_age_ns, 0 when not, -ENOENT when not under drover. drover looks at
 * least every second while any instance has a heartbeat timeout.
 */
int drover_supervisor_alive(const drover_worker *w, uint64_t max_age_ns);

#ifdef __cplusplus
}
#endif

#endif

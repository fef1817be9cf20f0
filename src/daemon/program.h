/*
 * program: the runtime model, programs and their instances.
 *
 * A struct program is one entry of the config (borrowed program_cfg) with
 * its array of instances. A struct instance is one supervised process slot:
 * its state machine (svc), its current process (pid, pidfd, process group),
 * its port and its timer. Instances are allocated once at start-up and
 * never move, so pointers to them (pidmap, loop sources, timers) stay valid.
 * Owned by struct supervisor; only supervisor.c changes them.
 */
#ifndef DROVER_PROGRAM_H
#define DROVER_PROGRAM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/cfg.h"
#include "core/svc.h"
#include "os/heartbeat.h"
#include "os/loop.h"
#include "os/notify.h"
#include "os/probe.h"
#include "os/timer.h"

struct supervisor;
struct program;

/* STATUS= text as kept: escaped, where each byte may become the four characters \xHH. */
#define INSTANCE_STATUS_BYTES (NOTIFY_STATUS_MAX * 4 + 1)

struct instance {
    struct svc svc; /* first: svc_to_instance() relies on it */
    struct program *prog;
    struct supervisor *sup;
    unsigned index;
    pid_t pid;                /* main process, 0 when none */
    pid_t pgid;               /* its process group; kept after the reap to kill leftovers */
    struct loop_source child; /* LOOP_CHILD: the pidfd, fd -1 when none */
    uint16_t port;            /* 0 when none */
    struct timer timer;
    int64_t spawned_ms;
    bool adopted;        /* taken over from an earlier drover: not our child, exit status unknown */
    bool group_foreign;  /* its process group is not made of our children (adopted); kept past the
                            exit */
    uint64_t start_time; /* kernel start time of pid, read lazily for the checkpoint; 0 unknown */
    char **argv;         /* the current process's expanded argv, one allocation; NULL if unknown */
    bool stdio_waiting;  /* launch.c: an output FIFO had no reader at the last try (said once) */
    char generation[32]; /* adopted: the DROVER_GENERATION it carries, for the checkpoint */
    /* Liveness (liveness.c). Beat times are CLOCK_MONOTONIC ns; 0 never. */
    int64_t spawned_ns;
    int64_t last_notify_beat_ns;        /* READY=1 or WATCHDOG=1 */
    bool silent;                        /* past the heartbeat timeout, not yet beaten again */
    int64_t silent_since_ns;            /* the last beat before the silence */
    bool ready;                         /* said READY=1 */
    bool said_stopping;                 /* said STOPPING=1 */
    int notify_errno;                   /* last ERRNO=, 0 none */
    uint64_t hb_future_raw;             /* the last slot time from the future seen, 0 none */
    int64_t hb_future_seen_ns;          /* when it was first seen: the beat it counts as */
    bool hb_future_logged;              /* said so once for this process */
    uint64_t hb_future_total;           /* /metrics: slot times from the future, all processes */
    char status[INSTANCE_STATUS_BYTES]; /* last STATUS= text, escaped */
    /* Probes (checks.c). */
    struct probe_run probe;   /* the attempt in flight, readiness or health */
    struct timer check_timer; /* the next attempt */
    pid_t probe_pid;          /* a command probe's pid while it is in sup->probe_pids */
    unsigned check_failures;  /* consecutive failed health checks */
    bool check_failing;       /* `failures` reached: counts as unhealthy */
    /* Counters for /metrics. */
    uint64_t exits[4]; /* exit 0, exit non-zero, signal, unknown (adopted) */
    uint64_t check_failures_total;
    char label[CFG_NAME_MAX + 12]; /* "name:index" for logs */
};

struct program {
    const struct program_cfg *cfg; /* borrowed from the supervisor's config */
    struct instance *instances;    /* cfg->max_instances slots, allocated once */
    unsigned ninstances;           /* slots in use: [0, ninstances) are shown and supervised */
    unsigned want;                 /* the scale asked for; slots [want, ninstances) are draining */
    char **env_base; /* drover's environment minus what this program sets; borrowed strings */
    size_t nenv_base;
    struct heartbeat_region hb; /* one slot per instance, inherited by each child */
    struct timer hb_timer;      /* next silence check, when heartbeat_timeout_ms is set */
    struct supervisor *sup;
};

static inline struct instance *
svc_to_instance(struct svc *s)
{
    return (struct instance *)s;
}

#endif

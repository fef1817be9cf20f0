/*
 * supervisor_int: the supervisor object, struct supervisor: the pool, the
 * loop, the timers, the ports, the pid maps and each service's state. The
 * daemon's modules (daemon/) and the surfaces above them (api/) include it;
 * main.c uses supervisor.h only. Each module's functions are in its own
 * header (pool.h, launch.h, liveness.h, checks.h, persist.h).
 */
#ifndef DROVER_SUPERVISOR_INT_H
#define DROVER_SUPERVISOR_INT_H

#include <limits.h>
#include <stdbool.h>
#include <signal.h>
#include <stdint.h>

#include "core/cfg.h"
#include "core/events.h"
#include "core/metrics.h"
#include "core/pidmap.h"
#include "core/ports.h"
#include "core/svc.h"
#include "os/log.h"
#include "os/loop.h"
#include "os/pgidcache.h"
#include "os/timer.h"
#include "daemon/hooks.h"
#include "daemon/jobs.h"
#include "daemon/deps.h"
#include "daemon/memwatch.h"
#include "daemon/pool.h"
#include "daemon/supervisor.h"

struct supervisor {
    struct config cfg;
    struct pool pool; /* the programs and their instances */
    struct loop loop;
    struct timers timers;
    struct ports ports;
    struct pidmap pids;
    struct pgidcache senders;     /* liveness.c: the process groups of notify senders */
    struct pidmap probe_pids;     /* command probes: pid -> instance */
    struct loop_source sig;       /* the signalfd */
    struct loop_source timer_src; /* the timerfd, borrowed from timers */
    struct timer reap_timer;      /* another reap_all() pass: the last one reaped a full batch */
    struct loop_source log_src;   /* the log's fd while lines wait for room (borrowed), else -1 */
    bool shutting_down;
    bool done;
    /* What made a shutdown not clean (supervisor_run()'s exit code): see docs/exit-codes.md. */
    unsigned unclean_killed; /* instances SIGKILLed after their stop_timeout */
    unsigned unclean_fatal;  /* instances fatal when the shutdown began */
    unsigned unclean_strays; /* descendants outside any instance's group, killed at the end */
    int ended_by;            /* as pid 1: the signal that would have ended drover, else 0 */
    /* Checkpoint (--dumpfile); all unused when dumpfile is NULL. */
    char *dumpfile;                    /* absolute path */
    char marker_env[2][PATH_MAX + 32]; /* DROVER_DUMPFILE=..., DROVER_GENERATION=... */
    struct timer ckpt_timer;
    struct timer start_timer; /* the first start, a pass at a time (start_some) */
    int64_t ckpt_last_ms;     /* last successful write, -1 never */
    bool ckpt_failing;
    /* Liveness (liveness.c): the notify socket and drover's own notifications upward. */
    struct loop_source notify; /* the notify socket (liveness.c) */
    char notify_env[128];      /* "NOTIFY_SOCKET=PATH" for children */
    uint64_t notify_accepted, notify_foreign, notify_malformed;
    bool up_notify;                      /* drover itself has a NOTIFY_SOCKET */
    bool started;                        /* the initial start is done (/readyz) */
    struct metrics_histogram spawn_hist; /* /metrics: clone to exec */
    uint64_t spawn_fd_failures;          /* spawns refused for lack of descriptors (launch.c) */
    struct events events;                /* /events: the last EVENTS_RING state changes */
    double start_unix;                   /* when drover started, seconds since the epoch */
    /* What serves the pool from above (api/), known only through these calls. */
    const struct supervisor_surfaces *surfaces; /* NULL: none */
    struct http_api *api;                       /* api/'s state; opaque here */
    bool shutdown_requested; /* by a control call: begins once its answer is out */
    /* Live pgids from one /proc walk, valid for one loop iteration (adopted groups). */
    uint64_t loop_iter;
    pid_t *pgid_cache;
    size_t pgid_cache_n, pgid_cache_cap;
    uint64_t pgid_cache_iter;
    bool pgid_cache_valid;
    int64_t up_watchdog_ms; /* 0: no watchdog of our own */
    struct timer up_timer;
    struct loop_hook before_sleep; /* the end of a shutdown, scale settling */
    struct hooks hooks;            /* on_state_change, on_fatal (hooks.c) */
    struct deps deps;              /* waiting instances, the shutdown order (deps.c) */
    struct memwatch mem;           /* memory_max sampling (memwatch.c) */
    /* Reload and apply (reload.c). */
    size_t extra_timers; /* the surfaces' room in the timer heap, kept when it grows */
    supervisor_config_loader load_config;
    void *load_config_arg;
    struct reload *reload; /* the plan running, NULL when none */
    struct jobs *jobs;     /* jobs.c: the dispatcher; NULL when no program takes jobs */
    uint64_t jobs_change;  /* jobs.c: grows with every change of a job (long-polls wait for it) */
    uint64_t jobs_synced;  /* jobs.c: grows when the journal synced more (parked submits wait) */
    uint64_t capture_seq;  /* capture.c: the last captured line's sequence number, all streams */
    bool capture_dir_made; /* capture.c: the FIFO directory was made (removed at exit if empty) */
};

/* Room the timer heap needs for slots instance slots of nprograms programs. */
static inline size_t
supervisor_timers_needed(const struct supervisor *sup, size_t slots, size_t nprograms)
{
    /* Per slot: its own timer, its check timer, its probe's deadline; per program: silence;
       the hooks' timeouts; the memory_max sampler; the job timers; an autoscaler each. */
    return 3 * slots + nprograms + sup->extra_timers + HOOKS_MAX_RUNNING + 1 + 8 + 1 /* start */ +
           jobs_timers_needed(&sup->cfg, slots) + nprograms /* autoscalers */;
}

#endif

/*
 * pool: the runtime model, programs and their instances, and what happens
 * to them: the instance log line, lookups, scaling, and the notifications
 * other modules observe.
 *
 * A struct program is one entry of the config (borrowed program_cfg) with
 * its array of instances. A struct instance is one supervised process slot:
 * its state machine (svc), its current process (pid, pidfd, process group),
 * its port and its timer. A program's instances are allocated once, when
 * the program is made, and never move, so pointers to them (pidmap, loop
 * sources, timers) stay valid; programs are allocated one by one, so a
 * reload that adds or removes one moves none of the others.
 * The pool is embedded in struct supervisor. Each daemon module writes the
 * instance fields of its own section (launch: the process; liveness: the
 * beats; checks: the probes); a state only changes through svc_dispatch().
 *
 * Notifications: pool_notify() tells the observers the supervisor added at
 * set-up that an instance's process appeared or went, or that its state
 * changed. One raised inside a
 * state-machine action (a spawn) is queued, and delivered once the new
 * state is stored (pool_settled(), from svc_ops.settled), so an observer
 * always sees the state the instance is in, never the one it is leaving.
 * Observers are called in the order they were added.
 */
#ifndef DROVER_POOL_H
#define DROVER_POOL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/cfg.h"
#include "core/memcap.h"
#include "core/svc.h"
#include "os/heartbeat.h"
#include "os/log.h"
#include "os/loop.h"
#include "os/notify.h"
#include "os/probe.h"
#include "os/timer.h"

struct supervisor;
struct program;
struct pool;
struct capture;

/* What pool_notify() reports; bits of instance.pending. */
enum pool_change {
    POOL_GONE,    /* its process was reaped (or an adopted one ended) */
    POOL_SPAWNED, /* a new process runs */
    POOL_ADOPTED, /* an earlier drover's process was taken over */
    POOL_STATE,   /* its state changed, or it exited and restarted within one (state_from) */
    POOL__MAX,
};

/* STATUS= text as kept: escaped, where each byte may become the four characters \xHH. */
#define INSTANCE_STATUS_BYTES (NOTIFY_STATUS_MAX * 4 + 1)

struct instance {
    struct svc svc; /* first: svc_to_instance() relies on it */
    struct program *prog;
    struct supervisor *sup;
    unsigned index;
    pid_t pid;                /* main process, 0 when none */
    pid_t pgid;               /* its process group; kept after the reap to kill leftovers */
    pid_t last_pid;           /* hooks.c: the last process's pid, kept past its reap (DROVER_PID) */
    uint16_t port;            /* 0 when none */
    struct loop_source child; /* the pidfd, fd -1 when none */
    struct timer timer;
    int64_t spawned_ms;
    bool adopted;        /* taken over from an earlier drover: not our child, exit status unknown */
    bool start_pending;  /* the first start has not reached it yet (supervisor.c, start_some) */
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
    uint8_t pending;                    /* pool_change bits raised mid-action, not delivered */
    enum svc_state state_from;          /* POOL_STATE: the state it left (svc.cause says why) */
    uint64_t hb_future_total;           /* /metrics: slot times from the future, all processes */
    char status[INSTANCE_STATUS_BYTES]; /* last STATUS= text, escaped */
    /* Probes (checks.c). */
    struct probe_run probe;   /* the attempt in flight, readiness or health */
    struct timer check_timer; /* the next attempt */
    pid_t probe_pid;          /* a command probe's pid while it is in sup->probe_pids */
    unsigned check_failures;  /* consecutive failed health checks */
    bool check_failing;       /* `failures` reached: counts as unhealthy */
    /* Memory (memwatch.c): the current process group's samples, against memory_max. */
    struct memcap mem;
    uint64_t memory_restarts; /* restarts for memory_max, all processes */
    bool memory_unreadable;   /* its process lives but /proc shows none of its group: said */
    unsigned proc_refusals;   /* spawns in a row refused for lack of processes (EAGAIN): said */
    /* Counters for /metrics. */
    uint64_t exits[4]; /* exit 0, exit non-zero, signal, unknown (adopted) */
    uint64_t check_failures_total;
    char label[CFG_NAME_MAX + 12]; /* "name:index" for logs */
    struct capture *capture;       /* capture.c: its captured streams; NULL none yet */
    struct job_slot *jobs;         /* jobs.c: its job channel side; NULL: its program takes none */
    struct svc_exit exit_how;      /* how the process POOL_GONE reports ended (observers) */
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
    /* Dependencies (deps.c): what its waiting instances wait for, "" none; NULL until needed. */
    char *waiting_for;
    bool waiting_logged;    /* said once, until it starts */
    bool waiting_failed;    /* what it waits for has failed (as last said) */
    struct jobscale *scale; /* jobscale.c: its autoscaler; NULL: it has none */
    struct supervisor *sup;
    struct pool *pool;
};

typedef void (*pool_observer_fn)(struct instance *in, enum pool_change what);

#define POOL_MAX_OBSERVERS 8

struct pool {
    struct program **programs; /* each allocated alone: a program never moves */
    size_t nprograms, programs_cap;
    size_t ninstances;     /* slots in use, all programs */
    struct timers *timers; /* borrowed: a slot that leaves the pool cancels its timer */
    /* A slot that comes into use (a scale up) gets its set-up from the owner. */
    void (*init_instance)(struct instance *in, struct program *prog, unsigned index);
    struct {
        unsigned changes; /* bits of enum pool_change */
        pool_observer_fn fn;
    } observers[POOL_MAX_OBSERVERS];
    size_t nobservers;
};

/* Adds an observer of the changes (bits of 1u << POOL_*). Returns 0 or -ENOSPC. */
int pool_observe(struct pool *pool, unsigned changes, pool_observer_fn fn);
/* Tells the observers, now or (inside an action of in's state machine) once it has settled. */
void pool_notify(struct instance *in, enum pool_change what);
/* in's state machine settled (svc_ops.settled): what was queued is delivered. */
void pool_settled(struct instance *in);

/* "name:i pid=N port=N <message>": every instance line carries who it is about. */
void inst_log(enum log_level level, const struct instance *in, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void pool_for_each_instance(struct pool *pool, void (*fn)(struct instance *in, void *arg),
                            void *arg);
/* The program named by the len bytes at name (not NUL-terminated), or NULL. */
struct program *pool_find_program(struct pool *pool, const char *name, size_t len);
/* The slot program:index in use, or NULL. */
struct instance *pool_find_instance(struct pool *pool, const char *program, unsigned index);

/*
 * A program's runtime model for pc (borrowed: it must outlive the program),
 * its max_instances slots set up by init_instance, stopped; not in the pool
 * yet. NULL when out of memory. A program is allocated alone and never moves.
 */
struct program *pool_program_new(struct pool *pool, struct supervisor *sup,
                                 const struct program_cfg *pc);
/* Room for n programs, so that pool_add_program() then cannot fail. Returns 0 or -ENOMEM. */
int pool_reserve_programs(struct pool *pool, size_t n);
/* Puts prog in the pool (last) / takes it out (it then has no process left). 0 or -ENOMEM. */
int pool_add_program(struct pool *pool, struct program *prog);
void pool_remove_program(struct pool *pool, struct program *prog);
/* Frees a program out of the pool, with no process left (NULL is fine). */
void pool_program_free(struct program *prog);

/*
 * Scales prog to n instances: new slots start, slots beyond n stop and
 * leave the pool once their process is gone. Returns 0 or -ERANGE.
 */
int pool_scale(struct pool *pool, struct program *prog, unsigned n);
/* Draining slots at the top that have no process any more leave the pool. */
void pool_settle_scale(struct program *prog);

static inline struct instance *
svc_to_instance(struct svc *s)
{
    return (struct instance *)s;
}

#endif

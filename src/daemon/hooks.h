/*
 * hooks: on_state_change and on_fatal (docs/lifecycle.md#hooks), the
 * commands that tell the layer above what became of an instance.
 *
 * A pool observer (hooks_observer(), added by the supervisor) hears of each
 * state change and captures, at once, what the hook's environment says
 * (DROVER_PID and the rest change with the next event). At most
 * HOOKS_MAX_RUNNING hooks run at a time; the others wait in a FIFO of
 * HOOKS_QUEUE_MAX, and past it a hook is dropped, counted, and logged (one
 * line per HOOKS_DROP_LOG_MS in a storm, not one per drop). Each hook runs
 * in its own session and process group, with stdout and stderr on a pipe
 * the loop reads: each line becomes one log line "hook on_fatal web:0:
 * LINE". A hook still running at its timeout is SIGKILLed with its group.
 * A failure (exit non-zero, a signal, a timeout, a failed exec) is one
 * warning and nothing else: hooks are not supervised and never restart.
 *
 * A queued hook keeps its program's name, not its command: the command is
 * looked up when it starts, in the configuration in force then, so a reload
 * that changes or removes a hook (or the program) never leaves the queue
 * borrowing from a configuration that is gone.
 *
 * Exits come through the supervisor's SIGCHLD sweep (hooks_reaped()), as
 * command probes' do. Once a shutdown has stopped the last instance,
 * hooks_close() drops the queue and nothing starts any more; the supervisor
 * waits for the hooks still running (hooks_busy(), each bounded by its
 * timeout), and hooks_stop() kills and reaps whatever is left when drover
 * exits (a second SIGTERM, a failed start-up), so none is left behind.
 */
#ifndef DROVER_HOOKS_H
#define DROVER_HOOKS_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/cfg.h"
#include "core/svc.h"
#include "os/loop.h"
#include "os/timer.h"
#include "daemon/pool.h"

#define HOOKS_MAX_RUNNING 4
#define HOOKS_QUEUE_MAX 256
#define HOOKS_LINE_MAX 512      /* bytes of output per log line; a longer line is split */
#define HOOKS_DROP_LOG_MS 10000 /* in a storm of drops, one line per this long */
#define HOOKS_CAUSE_MAX 128

/* One hook to run: the command and what happened, as it was when it happened. */
struct hook_event {
    enum cfg_hook kind; /* its command is looked up when it starts (command_of()) */
    int64_t timeout_ms;
    char program[CFG_NAME_MAX + 1];
    unsigned index;
    uint16_t port;
    pid_t pid; /* 0: none */
    enum svc_state from, to;
    bool has_exit; /* a process of the instance has ended, and how is known: last_exit */
    struct svc_exit last_exit;
    unsigned restarts;
    char cause[HOOKS_CAUSE_MAX];
};

/* A hook that runs. */
struct hook_run {
    struct hooks *owner;
    pid_t pid;              /* 0: the slot is free */
    struct loop_source out; /* the read end of its stdout and stderr; fd -1 at EOF */
    struct timer timer;     /* its timeout */
    bool timed_out;         /* killed at its timeout (said so): its exit is not logged again */
    int64_t started_ms;
    struct hook_event ev;
    char line[HOOKS_LINE_MAX]; /* the output line read so far */
    size_t len;
};

struct hooks {
    bool any;                 /* some program has a hook; nothing below is allocated otherwise */
    bool closed;              /* the shutdown finished: nothing starts any more */
    const struct config *cfg; /* borrowed: the configuration in force (a reload swaps it) */
    struct pool *pool;        /* borrowed: a hook's program is looked up by name */
    struct loop *loop;        /* borrowed */
    struct timers *timers;    /* borrowed: HOOKS_MAX_RUNNING timers at most */
    struct hook_run runs[HOOKS_MAX_RUNNING];
    size_t nrunning;
    struct hook_event *queue; /* ring of HOOKS_QUEUE_MAX */
    size_t head, nqueued;
    char **env_base; /* drover's environment minus the variables hooks get; borrowed strings */
    size_t nenv_base;
    /* For /metrics. */
    uint64_t started, failed, timed_out, dropped;
    /* Drops not logged yet, and when the last line about drops was. */
    uint64_t drops_unsaid;
    bool drop_said;
    int64_t drop_said_ms;
};

/* Before anything is observed; cfg, pool, loop and timers are borrowed. Returns 0 or -ENOMEM. */
int hooks_init(struct hooks *h, const struct config *cfg, struct pool *pool, struct loop *loop,
               struct timers *timers);
/* The configuration in force changed (a reload): hooks it adds run from now on. */
void hooks_reconfigured(struct hooks *h);
/* The pool observer of POOL_STATE and POOL_GONE (pool.h). */
void hooks_observer(struct instance *in, enum pool_change what);
/* True if info is a hook's exit (the SIGCHLD sweep reaped it). */
bool hooks_reaped(struct hooks *h, const siginfo_t *info);
/* True while a hook runs. */
bool hooks_busy(const struct hooks *h);
/* The last instance of a shutdown is gone: nothing starts any more, the queue is dropped. */
void hooks_close(struct hooks *h);
/* hooks_close(), and hooks still running are SIGKILLed (with their group); the SIGCHLD sweep
   reaps them. Never waits: for the loop (a second SIGTERM). */
void hooks_kill(struct hooks *h);
/* hooks_close(), and hooks still running are SIGKILLed (with their group) and reaped here:
   for the end, after the loop. */
void hooks_stop(struct hooks *h);
/* hooks_stop() if not done, then frees; accepts a struct never initialised (zeroed). */
void hooks_done(struct hooks *h);

#endif

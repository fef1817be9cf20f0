/*
 * supervisor_int: what supervisor.c, launch.c and persist.c share: the
 * supervisor object and a few helpers. Not for other modules; they use
 * supervisor.h.
 */
#ifndef DROVER_SUPERVISOR_INT_H
#define DROVER_SUPERVISOR_INT_H

#include <limits.h>
#include <stdbool.h>
#include <signal.h>
#include <stdint.h>

#include "cfg.h"
#include "events.h"
#include "log.h"
#include "metrics.h"
#include "loop.h"
#include "pidmap.h"
#include "ports.h"
#include "program.h"
#include "svc.h"
#include "timer.h"

struct supervisor {
    struct config cfg;
    struct program *programs;
    size_t nprograms;
    size_t ninstances;
    struct loop loop;
    struct timers timers;
    struct ports ports;
    struct pidmap pids;
    struct pidmap probe_pids;     /* command probes: pid -> instance */
    struct loop_source sig;       /* LOOP_SIGNAL */
    struct loop_source timer_src; /* LOOP_TIMER, fd borrowed from timers */
    bool shutting_down;
    bool done;
    /* Checkpoint (--dumpfile); all unused when dumpfile is NULL. */
    char *dumpfile;                    /* absolute path */
    char marker_env[2][PATH_MAX + 32]; /* DROVER_DUMPFILE=..., DROVER_GENERATION=... */
    struct timer ckpt_timer;
    int64_t ckpt_last_ms; /* last successful write, -1 never */
    bool ckpt_failing;
    /* Liveness (liveness.c): the notify socket and drover's own notifications upward. */
    struct loop_source notify; /* LOOP_NOTIFY */
    char notify_env[128];      /* "NOTIFY_SOCKET=@..." for children */
    uint64_t notify_accepted, notify_foreign, notify_malformed;
    bool up_notify;                      /* drover itself has a NOTIFY_SOCKET */
    bool started;                        /* the initial start is done (/readyz) */
    struct metrics_histogram spawn_hist; /* /metrics: clone to exec */
    struct events events;                /* /events: the last EVENTS_RING state changes */
    struct http_waiter *waiters;         /* /events long-polls suspended until a change */
    double start_unix;                   /* when drover started, seconds since the epoch */
    /* HTTP API (http.c). */
    struct MHD_Daemon *http;
    struct loop_source http_src; /* LOOP_HTTP: MHD's epoll fd */
    struct timer http_timer;
    bool http_resumed; /* a long-poll was resumed: run MHD before sleeping */
    /* Live pgids from one /proc walk, valid for one loop iteration (adopted groups). */
    uint64_t loop_iter;
    pid_t *pgid_cache;
    size_t pgid_cache_n, pgid_cache_cap;
    uint64_t pgid_cache_iter;
    bool pgid_cache_valid;
    int64_t up_watchdog_ms; /* 0: no watchdog of our own */
    struct timer up_timer;
};

/* "name:i pid=N port=N <message>": every instance line carries who it is about. */
void supervisor_inst_log(enum log_level level, const struct instance *in, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void supervisor_for_each_instance(struct supervisor *sup,
                                  void (*fn)(struct instance *in, void *arg), void *arg);
/* The instance slot program:index, or NULL. */
struct instance *supervisor_find_instance(struct supervisor *sup, const char *program,
                                          unsigned index);

/* launch.c: everything between "start this instance" and a running process. */
enum svc_spawn_result launch_instance(struct instance *in);
/* drover's environment minus what prog sets or drover reserves; at start-up. Returns 0 or -ENOMEM.
 */
int launch_env_base(struct program *prog);

/* liveness.c: notify socket, heartbeat slots, silence, drover's own READY/WATCHDOG. */
int liveness_setup(struct supervisor *sup);
void liveness_done(struct supervisor *sup);
void liveness_notify_ready(struct supervisor *sup); /* the notify socket is readable */
void liveness_spawned(struct instance *in);         /* after a spawn: slot owner, beat clock */
void liveness_started(struct supervisor *sup);      /* the initial start is done: READY=1 upward */
void liveness_stopping(struct supervisor *sup);     /* shutdown began: STOPPING=1 upward */

int64_t liveness_last_beat_ns(const struct instance *in); /* 0: never beat */

/* http.c: the HTTP API in our loop. */
#define HTTP_MAX_CONNECTIONS 256
#define HTTP_MAX_WAITERS HTTP_MAX_CONNECTIONS
struct MHD_Daemon;
void http_init(struct supervisor *sup);
int http_start(struct supervisor *sup, const char *where);
void http_ready(struct supervisor *sup);
void http_before_sleep(struct supervisor *sup);
void http_stop(struct supervisor *sup);
void http_events_changed(struct supervisor *sup); /* a new event: wake the long-polls */

/* checks.c: readiness probes and health checks. */
void checks_init(struct instance *in);
void checks_spawned(struct instance *in); /* a new process: schedule its first attempt */
void checks_gone(struct instance *in);    /* its process is gone: cancel everything */
void checks_probe_ready(struct supervisor *sup, struct loop_source *src);
bool checks_reaped(struct supervisor *sup,
                   const siginfo_t *info); /* true if the pid was a probe's */

/* persist.c: the checkpoint and recovery from it (all no-ops without a dumpfile). */
int persist_setup(struct supervisor *sup);
int persist_recover(struct supervisor *sup);
void persist_changed(struct supervisor *sup);
int persist_write(struct supervisor *sup);
void persist_timer_fired(struct timer *t, int64_t now_ms);

#endif

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

#include "core/cfg.h"
#include "core/events.h"
#include "core/metrics.h"
#include "core/pidmap.h"
#include "core/ports.h"
#include "core/svc.h"
#include "os/log.h"
#include "os/loop.h"
#include "os/timer.h"
#include "daemon/program.h"

/* One libmicrohttpd daemon in our loop (http.c). */
#define HTTP_MAX_CONNECTIONS 256
enum http_kind { HTTP_TCP, HTTP_CONTROL, HTTP__MAX, HTTP_INVALID = -1 };
struct MHD_Daemon;
struct api_instance;
struct http_server {
    struct supervisor *sup;
    struct MHD_Daemon *mhd; /* NULL: not serving */
    struct loop_source src; /* LOOP_HTTP: MHD's epoll fd */
    struct timer timer;     /* MHD's next own deadline */
    bool resumed;           /* a long-poll was resumed: run MHD before sleeping */
    enum http_kind kind;    /* HTTP_CONTROL: the unix socket, where control calls need no token */
    /* http_conn.c's: the listening socket, the connection slots, the parked long-polls. */
    struct http_conns *conns;
};

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
    struct timer reap_timer;      /* another reap_all() pass: the last one reaped a full batch */
    struct loop_source log_src;   /* LOOP_LOG while log lines wait for room; fd borrowed, else -1 */
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
    char notify_env[128];      /* "NOTIFY_SOCKET=PATH" for children */
    uint64_t notify_accepted, notify_foreign, notify_malformed;
    bool up_notify;                      /* drover itself has a NOTIFY_SOCKET */
    bool started;                        /* the initial start is done (/readyz) */
    struct metrics_histogram spawn_hist; /* /metrics: clone to exec */
    uint64_t spawn_fd_failures;          /* spawns refused for lack of descriptors (launch.c) */
    struct events events;                /* /events: the last EVENTS_RING state changes */
    double start_unix;                   /* when drover started, seconds since the epoch */
    /* HTTP API (http.c) on TCP and on the control socket (ctl.c). */
    struct http_server http[HTTP__MAX];
    struct api_instance *snapshot; /* http.c's view of the instances, reused */
    uint64_t snapshot_iter;        /* the loop_iter it was taken in; 0: stale */
    char *ctl_path;                /* the control socket, NULL: none */
    int ctl_lock_fd;               /* held while we own ctl_path; -1 none */
    bool shutdown_requested;       /* by a control call: begins once its answer is out */
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
/* The program named by the len bytes at name (not NUL-terminated), or NULL. */
struct program *supervisor_find_program(struct supervisor *sup, const char *name, size_t len);
/* The instance slot program:index, or NULL. */
struct instance *supervisor_find_instance(struct supervisor *sup, const char *program,
                                          unsigned index);

/*
 * Sets prog's scale to n (at most max_instances): new slots start, the
 * highest ones beyond n are stopped gracefully and leave the pool once their
 * process group is gone. Returns 0 or -ERANGE.
 */
int supervisor_scale(struct supervisor *sup, struct program *prog, unsigned n);
/* Draining slots at the top of prog with nothing left running leave the pool. */
void supervisor_settle_scale(struct program *prog);
/* Stops every instance and exits once they are gone, as on SIGTERM; `why` is logged. */
void supervisor_shutdown(struct supervisor *sup, const char *why);

/* launch.c: everything between "start this instance" and a running process. */
enum svc_spawn_result launch_instance(struct instance *in);
/* drover's environment minus what prog sets or drover reserves; at start-up. Returns 0 or -ENOMEM.
 */
int launch_env_base(struct program *prog);

/* liveness.c: notify socket, heartbeat slots, silence, drover's own READY/WATCHDOG. */
int liveness_setup(struct supervisor *sup);    /* before recovery acts: what can fail */
void liveness_adopted(struct supervisor *sup); /* after: earlier slots, watch the adopted */
void liveness_done(struct supervisor *sup);
void liveness_notify_ready(struct supervisor *sup); /* the notify socket is readable */
void liveness_spawned(struct instance *in);         /* after a spawn: slot owner, beat clock */
void liveness_started(struct supervisor *sup);      /* the initial start is done: READY=1 upward */
void liveness_stopping(struct supervisor *sup);     /* shutdown began: STOPPING=1 upward */

/*
 * 0: never beat. now_ns: a CLOCK_MONOTONIC reading of the caller's, at most
 * a moment old. A slot time from the future counts when first seen (and is
 * recorded), so the result can be a little later than now_ns.
 */
int64_t liveness_last_beat_ns(struct instance *in, int64_t now_ns);

/* http.c: the HTTP API in our loop. */
#define HTTP_MAX_WAITERS (HTTP_MAX_CONNECTIONS / 2) /* parked /events long-polls, per server */
/* Timers of the HTTP servers: per server one per long-poll, MHD's, the request deadline, a retry.
 */
#define HTTP_TIMERS (HTTP__MAX * (HTTP_MAX_WAITERS + 3))
void http_init(struct supervisor *sup);
int http_start(struct supervisor *sup, const char *where);
/* Serves the API on the listening control socket fd (taken over), control calls allowed. */
int http_start_control(struct supervisor *sup, int fd);
void http_ready(struct http_server *srv);
void http_before_sleep(struct supervisor *sup);
void http_stop(struct supervisor *sup);
void http_events_changed(struct supervisor *sup); /* a new event: wake the long-polls */
void http_socket_ready(struct supervisor *sup, struct loop_source *src); /* http_conn.c */

/* checks.c: readiness probes and health checks. */
void checks_init(struct instance *in);
void checks_spawned(struct instance *in); /* a new process: schedule its first attempt */
void checks_gone(struct instance *in);    /* its process is gone: cancel everything */
void checks_probe_ready(struct supervisor *sup, struct loop_source *src);
bool checks_reaped(struct supervisor *sup,
                   const siginfo_t *info); /* true if the pid was a probe's */

/* persist.c: the checkpoint and recovery from it (all no-ops without a dumpfile). */
struct survivors;
int persist_setup(struct supervisor *sup);
int persist_scan(struct supervisor *sup, struct survivors *ret); /* reads only */
void persist_act(struct supervisor *sup, struct survivors *s);   /* stops or adopts */
void persist_changed(struct supervisor *sup);
int persist_write(struct supervisor *sup);
void persist_timer_fired(struct timer *t, int64_t now_ms);

#endif

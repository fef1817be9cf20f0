/*
 * http: the daemon's surfaces, the HTTP API on TCP (--http) and on the
 * control socket (api/control.c), libmicrohttpd in drover's one epoll loop.
 *
 * main.c attaches it to a supervisor (http_attach) and hands the
 * supervisor http_surfaces, through which it opens and closes them in its
 * start-up order; nothing in daemon/ calls here. Its own work before the
 * loop sleeps (MHD's deadlines, resumed long-polls, waking the long-polls
 * when events were added) is a before-sleep hook of the loop, so it never
 * runs inside a supervision callback.
 *
 * The api layer's modules (http.c, http_conn.c, control.c) share this header;
 * the state is struct http_api, which only they read.
 */
#ifndef DROVER_HTTP_H
#define DROVER_HTTP_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

#include "os/loop.h"
#include "os/timer.h"

struct supervisor;
struct MHD_Daemon;
struct api_instance;

/* One libmicrohttpd daemon in our loop. */
#define HTTP_MAX_CONNECTIONS 256
#define HTTP_MAX_WAITERS (HTTP_MAX_CONNECTIONS / 2) /* parked /events long-polls, per server */
enum http_kind { HTTP_TCP, HTTP_CONTROL, HTTP__MAX, HTTP_INVALID = -1 };
/* Timers of the HTTP servers: per server one per long-poll, MHD's, the request deadline, a retry.
 */
#define HTTP_TIMERS (HTTP__MAX * (HTTP_MAX_WAITERS + 3))

struct http_server {
    struct supervisor *sup;
    struct MHD_Daemon *mhd; /* NULL: not serving */
    struct loop_source src; /* MHD's epoll fd */
    struct timer timer;     /* MHD's next own deadline */
    bool resumed;           /* a long-poll was resumed: run MHD before sleeping */
    enum http_kind kind;    /* HTTP_CONTROL: the unix socket, where control calls need no token */
    /* http_conn.c's: the listening socket, the connection slots, the parked long-polls. */
    struct http_conns *conns;
};

struct http_api {
    struct http_server server[HTTP__MAX];
    struct api_instance *snapshot; /* the instances as answers show them, reused */
    size_t snapshot_cap;           /* its room; a reload that adds programs makes it grow */
    uint64_t snapshot_iter;        /* the loop_iter it was taken in; 0: stale */
    uint64_t woken_seq;            /* the events' next_seq when the long-polls were last woken */
    uint64_t woken_jobs;           /* sup->jobs_change when the job long-polls were last woken */
    uint64_t woken_synced;         /* sup->jobs_synced when the parked submits were last woken */
    char *ctl_path;                /* the control socket, NULL: none */
    int ctl_lock_fd;               /* held while we own ctl_path; -1 none */
    struct loop_hook before_sleep;
    struct supervisor *sup;
};

/* Gives sup its API state and before-sleep hook. Returns 0 or -ENOMEM. */
int http_attach(struct supervisor *sup);

/* For the modules that serve part of the API (http_jobs.c), as http.c answers. */
struct api_answer;
/* Queues a's JSON body (taken over; NULL: a 500 saying it could not be built) as a.code. */
enum MHD_Result http_reply_answer(struct MHD_Connection *conn, struct api_answer a);
/*
 * The value of query parameter name as MHD decoded it, or NULL when absent (or
 * given without '='). One with a NUL or not valid UTF-8 sets *bad to its
 * 400 answer (a caller checks bad->code after its lookups: the first
 * problem wins) and gives NULL.
 */
const char *http_param(struct MHD_Connection *conn, const char *name, struct api_answer *bad);

/* What the supervisor calls (daemon/supervisor.h's struct supervisor_surfaces). */
extern const struct supervisor_surfaces http_surfaces;

#endif

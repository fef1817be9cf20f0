/*
 * http_conn: the connections of drover's two HTTP servers (http.c): how
 * they are accepted, limited and watched. http.c answers requests; this
 * module owns everything about the sockets under them.
 *
 * - Accepting: we accept ourselves and hand each connection to
 *   libmicrohttpd (MHD_USE_NO_LISTEN_SOCKET, MHD_add_connection). Out of
 *   descriptors, MHD's own accept stops listening for good in our external
 *   loop (it re-adds its listening socket only in a later MHD_run, which no
 *   event brings), or spins when it has no connection. Instead, each server
 *   keeps a reserve descriptor that it gives up for the one accept that
 *   needs it, so the operator still gets in (drover status, drover scale);
 *   further connections wait in the backlog, retried every second, until a
 *   descriptor is free and the reserve is taken back. Logged once per streak.
 * - Limits: at most HTTP_MAX_CONNECTIONS per server (beyond, clients wait
 *   in the backlog) and, over TCP, HTTP_MAX_PER_ADDRESS from one address
 *   (MHD refuses the rest), so one client cannot take every slot.
 * - Slots: one struct http_conn per connection, allocated with the server,
 *   holding its current request's state: the problems its raw request
 *   target showed (api_uri_check), whether its head is complete, and a
 *   parked /events long-poll's wait. MHD's request context (*req_cls) is
 *   the slot.
 * - The request deadline: over TCP a request, head and body, must be in
 *   within HTTP_REQUEST_TIMEOUT_MS of the accept or of the previous answer
 *   on the connection. MHD's idle timeout restarts on every byte, so a
 *   client that trickles its head or its body (slowloris) would hold its
 *   slot for ever. Late ones
 *   are cut with shutdown(2), which MHD reads as EOF and closes cleanly.
 * - Parked long-polls: at most HTTP_MAX_WAITERS per server. A suspended MHD
 *   connection is not polled by MHD, so its socket is watched in our epoll
 *   (EPOLLRDHUP) and resumed at once when the client hangs up: MHD then
 *   answers into the void and closes it, freeing the slot.
 *
 * Runs in drover's loop only; logs its own failures. Header comments in
 * http.c say how requests use the slot.
 */
#ifndef DROVER_HTTP_CONN_H
#define DROVER_HTTP_CONN_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

#include "os/loop.h"
#include "os/timer.h"

/* Over TCP, from the accept (or the previous answer) to a whole request: head and body. */
#define HTTP_REQUEST_TIMEOUT_MS 5000
/*
 * Connections from one address over TCP: half the slots, so a single
 * client never takes them all, and twice the 64 of bench/http_load.py's
 * wrk with room for the probes beside it.
 */
#define HTTP_MAX_PER_ADDRESS 128
/* Accepts per readiness of a listening socket: the loop goes on to other work in between. */
#define HTTP_ACCEPT_BATCH 32

struct http_server;
struct http_conns;

struct http_link {
    struct http_link *prev, *next; /* both NULL: on no list */
};

enum http_park_kind {
    HTTP_PARK_EVENTS,     /* GET /events */
    HTTP_PARK_JOB,        /* GET /jobs/ID?wait=, POST /jobs?wait= */
    HTTP_PARK_JOB_EVENTS, /* GET /jobs/events?wait= */
    HTTP_PARK_JOB_SYNC,   /* POST /jobs: its journal line is not on disk yet (c->since: its seq) */
};

struct http_conn {
    struct http_conns *owner;
    struct MHD_Connection *mhd; /* NULL: the slot is free */
    int fd;                     /* MHD's socket, borrowed */
    /* The request being read or answered (one at a time on a connection). */
    unsigned uri_problems; /* API_URI_* of its raw target */
    char *raw_path;        /* with API_URI_PATH_NUL: the path as sent (MHD's is cut at the NUL) */
    bool head_done;        /* the handler has seen its head */
    bool wants_body;       /* a configuration call (PUT /config, /apply): its body is kept */
    char *body;            /* the body kept so far (malloc'ed), at most CFG_MAX_BYTES + 1 */
    size_t body_len;
    bool body_lost; /* out of memory while keeping it: the call answers 500 */
    /* Waiting for a whole request (TCP): on owner's list, in deadline order. */
    int64_t request_due_ms;
    struct http_link head_link;
    /* A parked long-poll: /events, or a job's (http_jobs.c). */
    enum http_park_kind park_kind;
    char *park_id;           /* HTTP_PARK_JOB: the job's id (malloc'ed) */
    int64_t park_until_ms;   /* the end of its whole wait (CLOCK_MONOTONIC ms) */
    int park_code;           /* HTTP_PARK_JOB: the status it answers when the job finished (200) */
    int64_t park_wait_ms;    /* HTTP_PARK_JOB_SYNC: the submit's ?wait, once it is on disk */
    struct json_t *park_job; /* HTTP_PARK_JOB_SYNC with the redis store: the job to answer with
                                once the server wrote it (its record is not kept here) */
    uint64_t park_lookup;    /* HTTP_PARK_JOB_SYNC with the redis store, GET /jobs/ID of a job
                                held elsewhere: the hash read's ticket; 0 none */
    bool park_looking;       /* such a wait: a read out (park_lookup), or the next one due */
    int64_t park_read_until_ms; /* the read out: the server answers by then */
    int64_t park_reread_ms;     /* ?wait on a job not ended: when its hash is read again */
    size_t body_max;            /* what keep_body() keeps: CFG_MAX_BYTES, or a job's */
    bool parked;                /* suspended in MHD, its socket watched */
    bool woken;                 /* resumed: the handler answers now */
    uint64_t since;             /* http.c's: where the poll reads from */
    struct timer wait_timer;    /* the end of its wait */
    struct http_link park_link;
    struct loop_source peer; /* fd while parked, for its hang-up; fd -1 otherwise */
    struct http_conn *next_free;
};

/*
 * Sets up srv's connections on listen_fd (a listening, non-blocking socket,
 * taken over: closed on failure too) once srv->mhd runs; request_timeout_ms 0
 * means no request deadline. Logs; returns 0 or -errno.
 */
int http_conns_start(struct http_server *srv, int listen_fd, int64_t request_timeout_ms);
/* After MHD_stop_daemon(): closes the listening socket and the reserve, frees the slots. */
void http_conns_free(struct http_server *srv);

/* MHD's callbacks (cls: the struct http_server). */
void http_conn_notify(void *cls, struct MHD_Connection *mhd, void **socket_context,
                      enum MHD_ConnectionNotificationCode code);
void *http_conn_uri(void *cls, const char *uri, struct MHD_Connection *mhd);
void http_conn_completed(void *cls, struct MHD_Connection *mhd, void **req_cls,
                         enum MHD_RequestTerminationCode why);

/* MHD_run() for srv, then what a run may have changed: room for the reserve, or to accept. */
void http_conns_run(struct http_server *srv);

/* The handler has c's whole request, head and body: its request deadline is met. */
void http_conn_request_in(struct http_conn *c);
/*
 * Parks c's request (the handler then returns MHD_YES) until
 * http_conn_wake_all(), wait_ms, or the client's hang-up; it is then
 * resumed with c->woken set. -EBUSY: HTTP_MAX_WAITERS are parked already,
 * answer now; -ESHUTDOWN: drover stops (http_conn_stop_parking()), answer
 * now; other -errno: cannot watch it, answer now.
 */
int http_conn_park(struct http_conn *c, int64_t wait_ms);
/* Why c could not park, for its answer: "drover is shutting down", or too many wait. */
const char *http_conn_no_wait(const struct http_conn *c);
/* Resumes every long-poll parked on srv. */
void http_conn_wake_all(struct http_server *srv);
/*
 * drover stops: every parked long-poll is resumed, and none parks again
 * (each answers with what it has), so that MHD can stop: it aborts the
 * process when a connection is still suspended.
 */
void http_conn_stop_parking(struct http_server *srv);
/* Resumes the parked long-polls of one kind. */
void http_conn_wake_kind(struct http_server *srv, enum http_park_kind kind);

#endif

/*
 * jobchan: the worker job channel's transport (JOBS.md §6.4,
 * docs/jobs.md): one listening AF_UNIX stream socket that every instance of
 * a program with `jobs` is told of (DROVER_JOBS_SOCKET), and its
 * connections: non-blocking reads into one buffer per connection, frames cut
 * by core/jobframe, writes queued while the worker is slow to read.
 *
 * A connection means nothing until its first frame, HELLO, names an
 * instance, carries the token drover gave that process, and comes from a
 * process of the instance's group (SO_PEERCRED, as the notify socket's
 * sender check); daemon/jobs decides that (jobchan_ops.hello) and owns the
 * conversation afterwards. Until then a connection is bounded: at most
 * JOBCHAN_MAX_PENDING of them, each closed if HELLO does not come within
 * JOBCHAN_HELLO_MS. A connection whose frames cannot be parsed, or whose
 * worker does not read what drover writes (JOBCHAN_OUT_MAX), is closed with
 * one log line that says why.
 */
#ifndef DROVER_JOBCHAN_H
#define DROVER_JOBCHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/jobframe.h"
#include "os/loop.h"
#include "os/timer.h"

#define JOBCHAN_MAX_PENDING 64 /* connections that have not said HELLO yet */
#define JOBCHAN_HELLO_MS 5000  /* from accept to HELLO */
#define JOBCHAN_READ_BUDGET 64 /* frames taken from one connection per readiness */

struct jobchan;
struct jobchan_server;

struct jobchan_ops {
    /*
     * The first frame of c, a HELLO from pid: returns the owner's pointer for
     * c (set as c->owner) or NULL with reason filled (answered BYE reason=,
     * then closed).
     */
    void *(*hello)(struct jobchan_server *s, struct jobchan *c, const struct jobframe *f, pid_t pid,
                   char *reason, size_t size);
    /* A frame after HELLO (the frame and its body are valid during the call only). */
    void (*frame)(struct jobchan *c, const struct jobframe *f);
    /* c, welcomed, is closing (EOF, an error, or jobchan_close()): its owner lets go of it. */
    void (*closed)(struct jobchan *c);
};

struct jobchan {
    struct jobchan_server *srv;
    struct loop_source src;
    pid_t pid;   /* SO_PEERCRED at accept */
    void *owner; /* NULL until HELLO was accepted */
    int64_t accepted_ms;
    uint8_t *in;
    size_t in_len, in_cap;
    uint8_t *out;
    size_t out_off, out_len, out_cap;
    bool writing; /* EPOLLOUT watched */
    bool closing; /* BYE queued: closed once written */
    bool broken;  /* the worker does not read: closed by the sweep timer */
    bool more;    /* frames left in `in` when the read budget ran out: the sweep takes them */
    struct jobchan *prev, *next;
};

struct jobchan_server {
    struct loop *loop;
    struct timers *timers;
    struct loop_source listen;
    const struct jobchan_ops *ops;
    void *arg;
    char *path;
    size_t max_body;       /* the largest body a worker may send (max_payload) */
    size_t out_max;        /* queued output beyond which a connection is closed */
    struct jobchan *conns; /* all of them */
    struct jobchan *dead;  /* closed, freed by jobchan_reap() */
    unsigned npending;
    struct timer sweep; /* HELLO deadlines, broken connections */
    uint64_t malformed, refused;
};

/*
 * Binds and listens at path (mode 0600, or 0666 with others: workers that
 * run as another user connect too, and HELLO's token and sender check are
 * then the only gate; a stale socket there is replaced, never a live one or
 * another file), watched by loop. Logs; returns 0 or -errno.
 */
int jobchan_listen(struct jobchan_server *s, struct loop *loop, struct timers *timers,
                   const char *path, bool others, size_t max_body, const struct jobchan_ops *ops,
                   void *arg);
/* A reload gave jobs to a program of another user: the socket becomes 0666 (logged). */
void jobchan_allow_others(struct jobchan_server *s);
/* Frees the connections closed since the last call: call it outside the loop's callbacks. */
void jobchan_reap(struct jobchan_server *s);
/* Closes every connection (ops.closed for welcomed ones), the socket, and removes its file. */
void jobchan_server_done(struct jobchan_server *s);

/*
 * Queues a frame: line (len bytes, newline included) and, when body is not
 * NULL, body_len bytes and "\n". -ENOBUFS when the worker has not read
 * out_max bytes already: the connection is then closed, from a timer
 * (ops.closed never runs inside the caller).
 */
int jobchan_send(struct jobchan *c, const char *line, size_t len, const void *body,
                 size_t body_len);
/* Formats verb with kv (core/jobframe) and queues it; as jobchan_send(). */
int jobchan_sendf(struct jobchan *c, enum jobframe_verb verb, const char *const *kv, size_t nkv,
                  const void *body, size_t body_len);
/* Closes c now: ops.closed is called for a welcomed one. */
void jobchan_close(struct jobchan *c, const char *why);

#endif

/*
 * redisconn: one connection to the Redis store's server that keeps itself
 * up (JOBS.md §6.7, issue 15): connect (os/redisloop: on drover's loop),
 * AUTH with the password from its file when there is one, SELECT the URL's
 * database, then it is up; PING every ping_ms measures the round trip.
 * Lost, it reconnects with a capped exponential backoff, and says so in the
 * log once when it goes down and once when it is back, never once per try;
 * an outage ends (the backoff starts afresh) only once it has stayed up for
 * REDISCONN_STABLE_MS, so a server that drops every connection at once is
 * not hammered. A connect not up within REDISCONN_CONNECT_MS, or a PING
 * unanswered for 3 x ping_ms, is dropped and tried again: a server that
 * went silent (a host gone without a reset) is noticed.
 *
 * Its owner (the Redis store) is told through ops: up (commands may go on
 * ctx now) and down (every callback of the old context has run; why says
 * what happened).
 */
#ifndef DROVER_REDISCONN_H
#define DROVER_REDISCONN_H

#include <stdbool.h>
#include <stdint.h>

#include "core/redisurl.h"
#include "os/loop.h"
#include "os/redisloop.h"
#include "os/timer.h"

#define REDISCONN_BACKOFF_MIN_MS 100
#define REDISCONN_BACKOFF_MAX_MS 5000
#define REDISCONN_CONNECT_MS 5000 /* connect, AUTH, SELECT and the first PING, in all */
#define REDISCONN_STABLE_MS 5000  /* up this long, an outage is over (backoff, log) */
#define REDISCONN_PASSWORD_MAX 512

struct redisconn;

struct redisconn_ops {
    void (*up)(struct redisconn *rc);
    void (*down)(struct redisconn *rc, const char *why);
};

struct redisconn {
    /* Given. */
    struct loop *loop;
    struct timers *timers;
    struct redis_url url;
    char password[REDISCONN_PASSWORD_MAX + 1]; /* "" none */
    int64_t ping_ms;
    const struct redisconn_ops *ops;
    void *arg;
    bool quiet; /* set after init: its owner says in the log what an outage means (one line for
                   several connections) */
    /* Its own. */
    struct redisloop rl;
    redisAsyncContext *ac; /* NULL: not connected (or freed) */
    bool up;
    bool stopping;
    int64_t backoff_ms;
    unsigned failures;     /* tries since it was last up */
    int64_t down_since_ms; /* 0: up, or never down */
    int64_t ping_sent_ns;  /* 0: no PING outstanding */
    int64_t up_since_ms;
    bool said_back;      /* this outage's "answers again" is logged */
    bool abort;          /* a command could not be queued: dropped from the timer */
    bool timer_failed;   /* no room in the timer heap: said once */
    double rtt_ms;       /* the last PING's; -1 none yet */
    uint64_t ups, downs; /* times it came up, went down (for tests and /metrics) */
    char last_error[256];
    struct timer timer; /* the next connect try, or the next PING */
};

/*
 * Sets rc up (nothing connects yet). password_file: NULL, or a file whose
 * first line is the password (read now: a bad one is an error here, at
 * start, not a reconnect loop). 0, or -1 with err set.
 */
int redisconn_init(struct redisconn *rc, struct loop *loop, struct timers *timers,
                   const struct redis_url *url, const char *password_file, int64_t ping_ms,
                   const struct redisconn_ops *ops, void *arg, char *err, size_t errsize);
/* Connects now (and for ever after, until redisconn_done()). */
void redisconn_start(struct redisconn *rc);
/* Disconnects (it may be started again); the down callback is not called. Safe from
   inside ops->up and ops->down. */
void redisconn_done(struct redisconn *rc);
/*
 * Drops the connection soon (from the loop, not inside the hiredis callback
 * this may run in) and reconnects with the backoff, as if the server had
 * gone: the down callback is called with why. For a server that answers
 * but cannot take writes now (OOM, READONLY after a failover, LOADING).
 */
void redisconn_reset(struct redisconn *rc, const char *why);
/* The context while up; NULL otherwise. */
redisAsyncContext *redisconn_ctx(const struct redisconn *rc);
/* "unix:PATH" or "HOST:PORT/DB", for messages. */
const char *redisconn_where(const struct redisconn *rc, char *buf, size_t size);

#endif

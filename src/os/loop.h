/*
 * loop: the epoll owner.
 *
 * Every registered object embeds a struct loop_source that carries its own
 * callback and priority (as redis's aeCreateFileEvent and sd-event do), so
 * the loop knows none of its clients. Sources are borrowed and live in their
 * owners; a callback finds its owner with container_of(). Each pass serves
 * the ready sources of LOOP_PRIO_SUPERVISE first, then LOOP_PRIO_SERVE: an
 * exit or a timer in the same batch as HTTP clients is handled before their
 * requests are answered.
 *
 * A callback may close another source in the same batch: closing sets fd to
 * -1, and the dispatcher skips events whose source fd is -1 (no object is
 * freed while the loop runs). A source can also be registered again within
 * one batch (an instance's next pidfd, an HTTP slot's next parked client), so
 * a callback must tolerate an event that was meant for the source's earlier
 * fd: child_ready() and peer_ready() check before they act.
 *
 * Before-sleep hooks run, in the order they were added, before each wait
 * (redis's beforeSleep): work that must not run inside another module's
 * callback (waking long-polls, settling a scale, the end of a shutdown).
 */
#ifndef DROVER_LOOP_H
#define DROVER_LOOP_H

#include <stdint.h>

enum loop_prio {
    LOOP_PRIO_SUPERVISE, /* signals, timers, exits, notify datagrams, probes, the log */
    LOOP_PRIO_SERVE,     /* HTTP and the control socket */
    LOOP_PRIO__MAX,
};

struct loop_source;
/* The source is ready; events is the epoll mask (EPOLLIN, EPOLLOUT, EPOLLRDHUP, ...). */
typedef void (*loop_fn)(struct loop_source *src, uint32_t events);

struct loop_source {
    loop_fn fn;
    int fd;
    enum loop_prio prio;
};

/* A source not registered yet (fd -1 until its owner has one). */
static inline struct loop_source
loop_source(int fd, loop_fn fn, enum loop_prio prio)
{
    return (struct loop_source){ .fd = fd, .fn = fn, .prio = prio };
}

struct loop_hook;
typedef void (*loop_hook_fn)(struct loop_hook *hook);

struct loop_hook {
    loop_hook_fn fn;
    struct loop_hook *next; /* the loop's list */
};

struct loop {
    int epfd;
    struct loop_hook *hooks; /* before-sleep, in the order added */
};

int loop_init(struct loop *l);
void loop_done(struct loop *l);
/* Registers src for EPOLLIN. Returns 0 or -errno. */
int loop_add(struct loop *l, struct loop_source *src);
/* Registers src for the given epoll events, or changes them. Return 0 or -errno. */
int loop_add_events(struct loop *l, struct loop_source *src, uint32_t events);
int loop_mod_events(struct loop *l, struct loop_source *src, uint32_t events);
/* Unregisters src and closes its fd, setting it to -1. */
void loop_close(struct loop *l, struct loop_source *src);
/* Unregisters src without closing its fd (borrowed from its owner), setting it to -1. */
void loop_del(struct loop *l, struct loop_source *src);
/* Adds a before-sleep hook (borrowed; it stays until loop_done()). */
void loop_add_before_sleep(struct loop *l, struct loop_hook *hook, loop_hook_fn fn);
/* Runs the before-sleep hooks, in the order they were added. */
void loop_before_sleep(struct loop *l);
/*
 * Waits for events (forever) and calls the ready sources' callbacks, by
 * priority. Returns the number of events, 0 on EINTR, or -errno.
 */
int loop_dispatch(struct loop *l);

#endif

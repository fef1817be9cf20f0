/*
 * loop: the epoll owner.
 *
 * Every registered object starts with a struct loop_source whose `kind`
 * tag the dispatcher (supervisor.c) switches on. Sources are borrowed and
 * live in their owners. A callback may close another source in the same
 * batch: closing sets fd to -1, and the dispatcher skips events whose
 * source fd is -1 (no object is freed while the loop runs). A source can
 * also be registered again within one batch (an instance's next pidfd, an
 * HTTP slot's next parked client), so a handler must tolerate an event
 * that was meant for the source's earlier fd: child_ready() and
 * peer_ready() check before they act.
 */
#ifndef DROVER_LOOP_H
#define DROVER_LOOP_H

#include <stdint.h>

enum loop_kind {
    LOOP_SIGNAL, /* the signalfd */
    LOOP_TIMER,  /* the timerfd of struct timers */
    LOOP_CHILD,  /* an instance's pidfd */
    LOOP_NOTIFY, /* the notify socket (liveness.c) */
    LOOP_PROBE,  /* a probe attempt's socket or command pidfd (probe.c) */
    LOOP_HTTP,   /* libmicrohttpd's epoll fd (http.c) */
    LOOP_SOCKET, /* an HTTP server's listening socket, or a parked client's (http_conn.c) */
    LOOP_LOG,    /* the log's fd, for EPOLLOUT while lines wait (log.c; fd borrowed) */
    LOOP__MAX,
    LOOP_INVALID = -1,
};

struct loop_source {
    enum loop_kind kind;
    int fd;
};

struct loop {
    int epfd;
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
/* Waits for events (timeout -1: forever). Returns the count, 0 on EINTR, or -errno. */
int loop_wait(struct loop *l, struct loop_source **ret_ready, int max);

#endif

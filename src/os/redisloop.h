/*
 * redisloop: a hiredis asynchronous context on drover's own epoll loop
 * (JOBS.md §6.7: no second thread, no second loop). hiredis asks for read
 * and write interest through its adapter hooks (ev.addRead, delRead,
 * addWrite, delWrite, cleanup); each becomes the epoll events of one
 * loop_source on the context's socket, and readiness is handed back to
 * redisAsyncHandleRead/Write. The jobs' Redis store builds on it.
 *
 * hiredis owns the socket and closes it: cleanup (called when the context
 * is freed, after its disconnect callback) only takes it off the loop, and
 * the struct is then detached (ac NULL) and may be attached again to a new
 * context, which is how a reconnect works.
 */
#ifndef DROVER_REDISLOOP_H
#define DROVER_REDISLOOP_H

#include <hiredis/async.h>
#include <stdbool.h>
#include <stdint.h>

#include "os/loop.h"

struct redisloop {
    struct loop *loop;
    struct loop_source src; /* the context's socket, borrowed */
    redisAsyncContext *ac;  /* NULL: detached */
    uint32_t events;        /* what hiredis asked for: EPOLLIN, EPOLLOUT */
    bool registered;
};

/*
 * Puts ac (just made by redisAsyncConnect*, without error) on loop; rl is
 * zeroed before its first use, and detached (ac NULL) for each later one.
 * 0, or -errno (-EINVAL: rl or ac is attached already).
 */
int redisloop_attach(struct redisloop *rl, struct loop *loop, redisAsyncContext *ac);
/*
 * Takes rl's context off the loop and forgets it now, before its owner
 * frees it: hiredis may free a context later than asked (after the
 * callback it was asked from), and by then rl may hold a new one.
 */
void redisloop_detach(struct redisloop *rl);

#endif

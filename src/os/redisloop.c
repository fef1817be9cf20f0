/*
 * redisloop: hiredis on drover's loop. See redisloop.h.
 */
#include "os/redisloop.h"

#include <errno.h>
#include <sys/epoll.h>

#include "core/util.h"

/* The epoll events hiredis wants now; the socket registered on first need. */
static void
update(struct redisloop *rl, uint32_t events)
{
    if (!rl->ac || events == rl->events)
        return;
    rl->events = events;
    if (rl->registered)
        (void)loop_mod_events(rl->loop, &rl->src, events); /* registered at attach */
}

/* hiredis's four interest hooks: one epoll bit on or off each. */
static void
add_read(void *data)
{
    update(data, ((struct redisloop *)data)->events | EPOLLIN);
}

static void
del_read(void *data)
{
    update(data, ((struct redisloop *)data)->events & ~(uint32_t)EPOLLIN);
}

static void
add_write(void *data)
{
    update(data, ((struct redisloop *)data)->events | EPOLLOUT);
}

static void
del_write(void *data)
{
    update(data, ((struct redisloop *)data)->events & ~(uint32_t)EPOLLOUT);
}

/* The context is being freed: off the loop (hiredis closes the socket itself). */
static void
cleanup(void *data)
{
    struct redisloop *rl = data;

    if (rl->registered)
        loop_del(rl->loop, &rl->src);
    rl->registered = false;
    rl->events = 0;
    rl->ac = NULL;
}

static void
ready(struct loop_source *src, uint32_t events)
{
    struct redisloop *rl = container_of(src, struct redisloop, src);

    /* A hang-up or an error is read: hiredis learns of it there and disconnects. */
    if (rl->ac && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        redisAsyncHandleRead(rl->ac);
    if (rl->ac && (events & EPOLLOUT)) /* the read may have freed the context */
        redisAsyncHandleWrite(rl->ac);
}

int
redisloop_attach(struct redisloop *rl, struct loop *loop, redisAsyncContext *ac)
{
    int r;

    if (!ac || ac->err || ac->ev.data || rl->ac)
        return -EINVAL;
    *rl = (struct redisloop){ .loop = loop, .ac = ac, .events = EPOLLOUT };
    rl->src = loop_source(ac->c.fd, ready, LOOP_PRIO_SERVE);
    /* The connect completes when the socket is writable. */
    if ((r = loop_add_events(loop, &rl->src, EPOLLOUT)) < 0) {
        rl->ac = NULL;
        return r;
    }
    rl->registered = true;
    ac->ev.data = rl;
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
    return 0;
}

void
redisloop_detach(struct redisloop *rl)
{
    redisAsyncContext *ac = rl->ac;

    if (!ac)
        return;
    ac->ev.data = NULL;
    ac->ev.addRead = ac->ev.delRead = ac->ev.addWrite = ac->ev.delWrite = NULL;
    ac->ev.cleanup = NULL;
    cleanup(rl);
}

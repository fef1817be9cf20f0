/*
 * loop: epoll registration and waiting. See loop.h.
 */
#include "os/loop.h"

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#define LOOP_BATCH 64

int
loop_init(struct loop *l)
{
    l->hooks = NULL;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    return l->epfd < 0 ? -errno : 0;
}

void
loop_done(struct loop *l)
{
    if (l->epfd >= 0)
        (void)close(l->epfd);
    l->epfd = -1;
    l->hooks = NULL;
}

int
loop_add_events(struct loop *l, struct loop_source *src, uint32_t events)
{
    struct epoll_event ev = { .events = events, .data.ptr = src };

    return epoll_ctl(l->epfd, EPOLL_CTL_ADD, src->fd, &ev) < 0 ? -errno : 0;
}

int
loop_mod_events(struct loop *l, struct loop_source *src, uint32_t events)
{
    struct epoll_event ev = { .events = events, .data.ptr = src };

    return epoll_ctl(l->epfd, EPOLL_CTL_MOD, src->fd, &ev) < 0 ? -errno : 0;
}

int
loop_add(struct loop *l, struct loop_source *src)
{
    return loop_add_events(l, src, EPOLLIN);
}

void
loop_del(struct loop *l, struct loop_source *src)
{
    int saved_errno = errno;

    if (src->fd < 0)
        return;
    (void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, src->fd, NULL);
    src->fd = -1;
    errno = saved_errno;
}

void
loop_close(struct loop *l, struct loop_source *src)
{
    int saved_errno = errno, fd = src->fd;

    /* close() alone would do for a fd nobody dup'ed, but say it explicitly. */
    loop_del(l, src);
    if (fd >= 0)
        (void)close(fd);
    errno = saved_errno;
}

void
loop_add_before_sleep(struct loop *l, struct loop_hook *hook, loop_hook_fn fn)
{
    struct loop_hook **tail = &l->hooks;

    while (*tail)
        tail = &(*tail)->next;
    *hook = (struct loop_hook){ .fn = fn };
    *tail = hook;
}

void
loop_before_sleep(struct loop *l)
{
    for (struct loop_hook *h = l->hooks; h; h = h->next)
        h->fn(h);
}

int
loop_dispatch(struct loop *l)
{
    struct epoll_event evs[LOOP_BATCH];
    int n = epoll_wait(l->epfd, evs, LOOP_BATCH, -1);

    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    for (int prio = 0; prio < LOOP_PRIO__MAX; prio++)
        for (int i = 0; i < n; i++) {
            struct loop_source *src = evs[i].data.ptr;

            /* fd -1: closed earlier in this batch */
            if ((int)src->prio == prio && src->fd >= 0)
                src->fn(src, evs[i].events);
        }
    return n;
}

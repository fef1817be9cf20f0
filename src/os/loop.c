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
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    return l->epfd < 0 ? -errno : 0;
}

void
loop_done(struct loop *l)
{
    if (l->epfd >= 0)
        (void)close(l->epfd);
    l->epfd = -1;
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

int
loop_wait(struct loop *l, struct loop_source **ret_ready, int max)
{
    struct epoll_event evs[LOOP_BATCH];
    int n;

    if (max > LOOP_BATCH)
        max = LOOP_BATCH;
    n = epoll_wait(l->epfd, evs, max, -1);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; i++)
        ret_ready[i] = evs[i].data.ptr;
    return n;
}

/*
 * notify: sd_notify datagrams in and out. See notify.h.
 */
#include "os/notify.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "os/sockfile.h"

static int
fill_addr(const char *name, struct sockaddr_un *sa, socklen_t *ret_len)
{
    size_t n = strlen(name);

    *sa = (struct sockaddr_un){ .sun_family = AF_UNIX };
    if (n == 0 || n >= sizeof(sa->sun_path))
        return -ENAMETOOLONG;
    memcpy(sa->sun_path, name, n);
    if (name[0] == '@')
        sa->sun_path[0] = '\0'; /* abstract: no file, and the length counts exactly */
    *ret_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (name[0] == '@' ? 0 : 1));
    return 0;
}

int
notify_open(const char *name)
{
    struct sockaddr_un sa;
    socklen_t salen;
    mode_t old_mask;
    int fd, one = 1, r;

    if ((r = fill_addr(name, &sa, &salen)) < 0)
        return r;
    /* A stale socket file is replaced; a live one is someone else's and stays. */
    if (name[0] != '@' && (r = sockfile_clear(name, SOCK_DGRAM)) < 0)
        return r;
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0) {
        r = -errno;
        goto fail;
    }
    /*
     * Born 0622: a worker that dropped privileges (setpriv, gosu) must still
     * reach it. Nobody else can bind or remove the name (rundir.h), and a
     * datagram counts only for the instance its sender's credentials name.
     */
    old_mask = umask(0155);
    r = bind(fd, (struct sockaddr *)&sa, salen) < 0 ? -errno : 0;
    umask(old_mask);
    if (r < 0)
        goto fail;
    return fd;
fail:
    (void)close(fd);
    return r;
}

ssize_t
notify_recv(int fd, char *buf, size_t size, pid_t *ret_pid)
{
    union {
        struct cmsghdr align;
        char space[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * 16)];
    } control;
    struct iovec iov = { .iov_base = buf, .iov_len = size };
    struct msghdr msg = {
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = &control,
        .msg_controllen = sizeof(control),
    };
    const struct ucred *cred = NULL;
    ssize_t n;

    n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0)
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET)
            continue;
        if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len == CMSG_LEN(sizeof(struct ucred))) {
            cred = (const struct ucred *)(void *)CMSG_DATA(c);
        } else if (c->cmsg_type == SCM_RIGHTS) {
            /* We store no descriptors (FDSTORE): never keep what a sender passed. */
            size_t nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            int *fds = (int *)(void *)CMSG_DATA(c);
            for (size_t i = 0; i < nfds; i++)
                (void)close(fds[i]);
        }
    }
    if (msg.msg_flags & MSG_TRUNC)
        return -EMSGSIZE;
    if (!cred || cred->pid <= 0)
        return -EPROTO;
    *ret_pid = cred->pid;
    return n;
}

int
notify_send(const char *text)
{
    const char *name = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa;
    socklen_t salen;
    int fd, r;

    if (!name || !*name)
        return 1;
    if ((r = fill_addr(name, &sa, &salen)) < 0)
        return r;
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    r = sendto(fd, text, strlen(text), MSG_NOSIGNAL | MSG_DONTWAIT, (struct sockaddr *)&sa, salen) <
                0
            ? -errno
            : 0;
    (void)close(fd);
    return r;
}

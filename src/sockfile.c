/*
 * sockfile: telling a stale socket file from a live one. See sockfile.h.
 */
#include "sockfile.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int
sockfile_clear(const char *path, int type)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct stat st;
    int fd, r;

    if (strlen(path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISSOCK(st.st_mode))
        return -EEXIST; /* connect() would say ECONNREFUSED for it: ask lstat first */
    /* Non-blocking: a full backlog must not stall start-up (EAGAIN then means served). */
    fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
        r = -EADDRINUSE;
    else if (errno == EAGAIN || errno == EINPROGRESS || errno == EPROTOTYPE)
        r = -EADDRINUSE; /* a full backlog, or a socket of the other type: someone has it */
    else if (errno == ECONNREFUSED)
        r = unlink(path) < 0 && errno != ENOENT ? -errno : 0; /* nobody bound: stale */
    else
        r = -errno;
    (void)close(fd);
    return r;
}

/*
 * sockfile: telling a stale socket file from a live one. See sockfile.h.
 */
#include "os/sockfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
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

int
sockfile_lock_dir(const char *dir)
{
    char path[PATH_MAX];
    int fd;

    if (snprintf(path, sizeof(path), "%s/.lock", dir) >= (int)sizeof(path))
        return -ENAMETOOLONG;
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -errno;
    while (flock(fd, LOCK_EX) < 0) {
        if (errno != EINTR) {
            int r = -errno;
            (void)close(fd);
            return r;
        }
    }
    return fd;
}

unsigned
sockfile_sweep(const char *dir, const char *prefix, const char *suffix, const char *keep, int type)
{
    size_t plen = strlen(prefix), slen = strlen(suffix);
    unsigned removed = 0;
    struct dirent *e;
    DIR *d = opendir(dir);

    if (!d)
        return 0;
    /* Bounded: a directory of a few sockets, not a place to spend start-up in. */
    for (unsigned seen = 0; (e = readdir(d)) && seen < 4096; seen++) {
        char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
        size_t n = strlen(e->d_name);
        int len;

        if (n < plen + slen || strncmp(e->d_name, prefix, plen) != 0 ||
            strcmp(e->d_name + n - slen, suffix) != 0)
            continue;
        len = snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (len > 0 && (size_t)len < sizeof(path) && (!keep || strcmp(path, keep) != 0) &&
            lstat(path, &(struct stat){ 0 }) == 0 && sockfile_clear(path, type) == 0)
            removed++;
    }
    (void)closedir(d);
    return removed;
}

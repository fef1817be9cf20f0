/*
 * rundir: drover's private runtime directory. See rundir.h.
 */
#include "os/rundir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *
rundir_path(char *buf, size_t len)
{
    return runpath_dir(geteuid(), getenv("XDG_RUNTIME_DIR"), buf, len);
}

int
rundir_check(const char *dir, char *err, size_t errlen)
{
    uid_t euid = geteuid();
    struct stat st;

    /* lstat: a symbolic link is refused, whatever it points to (it could be repointed). */
    if (lstat(dir, &st) < 0) {
        int r = -errno;

        if (r != -ENOENT)
            (void)snprintf(err, errlen, "cannot inspect drover's runtime directory %s: %s", dir,
                           strerror(-r));
        return r;
    }
    if (!S_ISDIR(st.st_mode) || st.st_uid != euid || (st.st_mode & 022) != 0) {
        (void)snprintf(err, errlen,
                       "drover's runtime directory %s is %s owned by uid %lu with mode %04o, not "
                       "a directory owned by uid %lu that only it can write to (someone else may "
                       "have created it first): refusing to use it",
                       dir,
                       S_ISLNK(st.st_mode)   ? "a symbolic link"
                       : S_ISDIR(st.st_mode) ? "a directory"
                                             : "a file",
                       (unsigned long)st.st_uid, (unsigned)(st.st_mode & 07777),
                       (unsigned long)euid);
        return -EPERM;
    }
    return 0;
}

/*
 * Ours, checked: others may reach what is in it (an older drover made it
 * 0700, which keeps out workers that dropped privileges). Through an fd of
 * the directory itself, never a name that could be swapped meanwhile. A
 * failure leaves it as it is: only those workers are the worse for it.
 */
static void
reachable(const char *dir)
{
    struct stat st;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

    if (fd < 0)
        return;
    if (fstat(fd, &st) == 0 && st.st_uid == geteuid() && (st.st_mode & 011) != 011)
        (void)fchmod(fd, (st.st_mode & 07777) | 011);
    (void)close(fd);
}

int
rundir_make(const char *dir, char *err, size_t errlen)
{
    int r;

    if (mkdir(dir, 0711) == 0) {
        /*
         * Ours, just made: only the umask could have taken bits away. Nobody
         * else can swap it (a sticky /tmp, a root-only /run, our own
         * XDG_RUNTIME_DIR), so chmod by name is safe here.
         */
        if (chmod(dir, 0711) < 0) {
            r = -errno;
            (void)snprintf(err, errlen, "cannot set the mode of drover's runtime directory %s: %s",
                           dir, strerror(-r));
            return r;
        }
    } else if (errno != EEXIST) {
        r = -errno;
        (void)snprintf(err, errlen, "cannot create drover's runtime directory %s: %s", dir,
                       strerror(-r));
        return r;
    }
    r = rundir_check(dir, err, errlen);
    if (r == -ENOENT) /* removed between mkdir and lstat */
        (void)snprintf(err, errlen, "drover's runtime directory %s disappeared as it was created",
                       dir);
    if (r == 0)
        reachable(dir);
    return r;
}

const char *
rundir_socket_path(const char *flag, char *buf, size_t len)
{
    return runpath_socket(flag, getenv("DROVER_CONTROL"), geteuid(), getenv("XDG_RUNTIME_DIR"), buf,
                          len);
}

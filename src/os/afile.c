/*
 * afile: atomic replacement and trusted reading of a small file. See afile.h.
 */
#include "os/afile.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"

static int
write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* "NAME.tmp-" and 16 random hex digits: a fresh name each try, never one planted in advance. */
static void
temp_name(char *buf, size_t size, const char *base)
{
    static uint64_t counter;
    uint64_t x;

    /* Unpredictable where getrandom works; unique in any case (O_EXCL/linkat refuse clashes). */
    if (getrandom(&x, sizeof(x), GRND_NONBLOCK) != (ssize_t)sizeof(x))
        x = ((uint64_t)getpid() << 32) ^ (uint64_t)util_now_ns() ^ ++counter;
    (void)snprintf(buf, size, "%s.tmp-%016" PRIx64, base, x);
}

#define TEMP_TRIES 16
#define TEMP_SUFFIX_LEN (sizeof(".tmp-") - 1 + 16)

/*
 * Gives the anonymous O_TMPFILE fd a name in dfd. linkat() never replaces
 * anything: a name that exists, a symbolic link included, gives EEXIST and
 * another name is tried. Through /proc/self/fd with AT_SYMLINK_FOLLOW,
 * because AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH.
 */
static int
link_temp(int fd, int dfd, const char *base, char *ret_name, size_t size)
{
    char proc[64];

    (void)snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    for (int i = 0; i < TEMP_TRIES; i++) {
        temp_name(ret_name, size, base);
        if (linkat(AT_FDCWD, proc, dfd, ret_name, AT_SYMLINK_FOLLOW) == 0)
            return 0;
        if (errno != EEXIST)
            return -errno;
    }
    return -EEXIST;
}

/* Where O_TMPFILE is not supported: a new file, never an existing one or a link. */
static int
create_temp(int dfd, const char *base, char *ret_name, size_t size, int *ret_fd)
{
    for (int i = 0; i < TEMP_TRIES; i++) {
        int fd;

        temp_name(ret_name, size, base);
        fd = openat(dfd, ret_name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0) {
            *ret_fd = fd;
            return 0;
        }
        if (errno != EEXIST)
            return -errno;
    }
    return -EEXIST;
}

/*
 * The data goes into a file no other name refers to (O_TMPFILE, or a fresh
 * O_EXCL name), so a symbolic link planted at any name in the directory is
 * never followed, and nothing but the dumpfile's own entry is ever replaced.
 * All names are relative to the directory opened once, so the steps cannot
 * be sent elsewhere by a rename of a parent between them.
 */
/* Nothing, or a regular file: what a save may put its file in place of. */
static bool
replaceable(int dfd, const char *base)
{
    struct stat st;

    if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT;
    return S_ISREG(st.st_mode);
}

int
afile_save(const char *path, const char *data, size_t len)
{
    char dir[PATH_MAX], tmp[NAME_MAX + 1];
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
    bool named = false;
    int fd = -1, dfd, r;

    if (!*base)
        return -EISDIR;
    if (!slash)
        (void)snprintf(dir, sizeof(dir), ".");
    else if (slash == path)
        (void)snprintf(dir, sizeof(dir), "/");
    else if (snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path) >= (int)sizeof(dir))
        return -ENAMETOOLONG;
    if (strlen(base) + TEMP_SUFFIX_LEN > NAME_MAX)
        return -ENAMETOOLONG;
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    fd = openat(dfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
        if ((r = create_temp(dfd, base, tmp, sizeof(tmp), &fd)) < 0)
            goto out;
        named = true;
    } else if (fd < 0) {
        r = -errno;
        goto out;
    }
    r = write_all(fd, data, len);
    if (r == 0 && fsync(fd) < 0)
        r = -errno;
    if (r == 0 && !named && (r = link_temp(fd, dfd, base, tmp, sizeof(tmp))) == 0)
        named = true;
    /* Checked last, just before the rename: what is there now is what would be replaced. */
    if (r == 0 && !replaceable(dfd, base))
        r = -EEXIST;
    if (r == 0 && renameat(dfd, tmp, dfd, base) < 0)
        r = -errno;
    if (r < 0 && named)
        (void)unlinkat(dfd, tmp, 0);
    /* The rename is durable only once the directory entry is. */
    if (r == 0 && fsync(dfd) < 0)
        r = -errno;
out:
    if (fd >= 0 && close(fd) < 0 && r == 0)
        r = -errno;
    (void)close(dfd);
    return r;
}

static const char *
file_kind(mode_t mode)
{
    switch (mode & S_IFMT) {
    case S_IFDIR:
        return "a directory";
    case S_IFIFO:
        return "a FIFO";
    case S_IFCHR:
        return "a character device";
    case S_IFBLK:
        return "a block device";
    case S_IFSOCK:
        return "a socket";
    default:
        return "not a file";
    }
}

/*
 * Whoever can write the dumpfile chooses which processes drover stops or
 * adopts, so only a regular file that drover's own user owns and nobody
 * else may write is read at all.
 */
static int
untrusted(const struct stat *st, char *err, size_t errsize)
{
    if (S_ISLNK(st->st_mode)) {
        (void)snprintf(err, errsize, "is a symbolic link");
        return -EPERM;
    }
    if (!S_ISREG(st->st_mode)) {
        (void)snprintf(err, errsize, "is not a regular file (%s)", file_kind(st->st_mode));
        return -EPERM;
    }
    if (st->st_uid != geteuid()) {
        (void)snprintf(err, errsize, "is owned by uid %u, not by drover's uid %u",
                       (unsigned)st->st_uid, (unsigned)geteuid());
        return -EPERM;
    }
    if (st->st_mode & (S_IWGRP | S_IWOTH)) {
        (void)snprintf(err, errsize, "is writable by group/others (mode %04o)",
                       (unsigned)(st->st_mode & 07777));
        return -EPERM;
    }
    return 0;
}

int
afile_load(const char *path, size_t max_bytes, char **ret_data, size_t *ret_len, char *err,
           size_t errsize)
{
    struct stat lst, st;
    char *buf = NULL;
    size_t len = 0;
    int fd = -1, r;

    /* lstat first: a device or FIFO is refused without being opened (opening one can block). */
    if (lstat(path, &lst) < 0) {
        r = -errno;
        (void)snprintf(err, errsize, "cannot be read (%s)", strerror(-r));
        return r;
    }
    if ((r = untrusted(&lst, err, errsize)) < 0)
        return r;
    /* Swapped for something else since the lstat: the same checks on what was opened. */
    fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        r = -errno;
        if (r == -ELOOP)
            (void)snprintf(err, errsize, "is a symbolic link");
        else
            (void)snprintf(err, errsize, "cannot be read (%s)", strerror(-r));
        return r == -ELOOP ? -EPERM : r;
    }
    if (fstat(fd, &st) < 0) {
        r = -errno;
        (void)snprintf(err, errsize, "cannot be read (%s)", strerror(-r));
        goto out;
    }
    if ((r = untrusted(&st, err, errsize)) < 0)
        goto out;
    if ((uint64_t)st.st_size > max_bytes) {
        if (max_bytes >= (1u << 20) && max_bytes % (1u << 20) == 0)
            (void)snprintf(err, errsize, "is larger than %zu MiB", max_bytes >> 20);
        else
            (void)snprintf(err, errsize, "is larger than %zu bytes", max_bytes);
        r = -EFBIG;
        goto out;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        (void)snprintf(err, errsize, "cannot be read (out of memory)");
        r = -ENOMEM;
        goto out;
    }
    while (len < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = -errno;
            (void)snprintf(err, errsize, "cannot be read (%s)", strerror(-r));
            goto out;
        }
        if (n == 0)
            break; /* shrank under us: parse what we have */
        len += (size_t)n;
    }
    buf[len] = '\0';
    *ret_data = buf;
    *ret_len = len;
    buf = NULL;
    r = 0;
out:
    free(buf);
    (void)close(fd);
    return r;
}

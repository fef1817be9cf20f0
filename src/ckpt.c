/*
 * ckpt: checkpoint codec and atomic file replacement. See ckpt.h.
 */
#include "ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static json_t *
pack_entry(const struct ckpt_entry *e)
{
    json_t *o = json_object(), *argv = json_array();

    if (!o || !argv) {
        json_decref(o);
        json_decref(argv);
        return NULL;
    }
    for (char **a = e->argv; a && *a; a++)
        if (json_array_append_new(argv, json_string(*a)) < 0)
            goto fail;
    if (json_object_set_new(o, "program", json_string(e->program)) < 0 ||
        json_object_set_new(o, "instance", json_integer(e->instance)) < 0 ||
        json_object_set_new(o, "pid", json_integer(e->pid)) < 0 ||
        json_object_set_new(o, "pgid", json_integer(e->pgid)) < 0 ||
        json_object_set_new(o, "start_time", json_integer((json_int_t)e->start_time)) < 0 ||
        json_object_set_new(o, "port", e->port ? json_integer(e->port) : json_null()) < 0 ||
        json_object_set_new(o, "generation", json_string(e->generation)) < 0 ||
        json_object_set_new(o, "argv", argv) < 0)
        goto fail_argv_owned;
    return o;
fail:
    json_decref(argv);
fail_argv_owned:
    json_decref(o);
    return NULL;
}

int
ckpt_pack(const struct ckpt *c, char **ret_data, size_t *ret_len)
{
    json_t *root = json_object(), *drover = json_object(), *list = json_array();
    char when[40];
    struct tm tm;
    time_t secs = (time_t)(c->written_unix_ms / 1000);
    char *text;

    if (!root || !drover || !list)
        goto fail;
    (void)gmtime_r(&secs, &tm);
    (void)strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    (void)snprintf(when + strlen(when), sizeof(when) - strlen(when), ".%03dZ",
                   (int)(c->written_unix_ms % 1000));
    for (size_t i = 0; i < c->nentries; i++) {
        json_t *e = pack_entry(&c->entries[i]);
        if (!e || json_array_append_new(list, e) < 0)
            goto fail;
    }
    if (json_object_set_new(drover, "pid", json_integer(c->drover_pid)) < 0 ||
        json_object_set_new(drover, "start_time", json_integer((json_int_t)c->drover_start_time)) <
            0)
        goto fail;
    if (json_object_set_new(root, "format", json_string("drover-checkpoint")) < 0 ||
        json_object_set_new(root, "version", json_integer(CKPT_VERSION)) < 0 ||
        json_object_set(root, "drover", drover) < 0 ||
        json_object_set_new(root, "written_at", json_string(when)) < 0 ||
        json_object_set(root, "instances", list) < 0)
        goto fail;
    json_decref(drover);
    json_decref(list);
    text = json_dumps(root, JSON_INDENT(1) | JSON_COMPACT);
    json_decref(root);
    if (!text)
        return -ENOMEM;
    *ret_len = strlen(text);
    *ret_data = text;
    return 0;
fail:
    json_decref(root);
    json_decref(drover);
    json_decref(list);
    return -ENOMEM;
}

static int
get_int(const json_t *o, const char *key, long long min, long long max, long long *ret, char *err,
        size_t errsize, const char *where)
{
    const json_t *v = json_object_get(o, key);

    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        (void)snprintf(err, errsize, "%s: \"%s\" must be an integer from %lld to %lld", where, key,
                       min, max);
        return -EINVAL;
    }
    *ret = json_integer_value(v);
    return 0;
}

int
ckpt_parse_generation(const char *s, pid_t *ret_pid, uint64_t *ret_start_time)
{
    const char *dot = strchr(s, '.');
    unsigned long long pid = 0, start = 0;
    size_t n;

    if (!dot || dot == s || !dot[1] || strlen(s) >= CKPT_GENERATION_SIZE)
        return -EINVAL;
    /* Digits only (strtoull alone takes signs and blanks); lengths keep both in range. */
    n = (size_t)(dot - s);
    if (n > 10 || strspn(s, "0123456789") != n || strlen(dot + 1) > 20 ||
        strspn(dot + 1, "0123456789") != strlen(dot + 1))
        return -EINVAL;
    errno = 0;
    pid = strtoull(s, NULL, 10);
    start = strtoull(dot + 1, NULL, 10);
    if (errno || pid < 1 || pid > INT_MAX)
        return -EINVAL;
    *ret_pid = (pid_t)pid;
    *ret_start_time = start;
    return 0;
}

static int
unpack_entry(const json_t *o, size_t i, int version, const struct ckpt *c, struct ckpt_entry *e,
             char *err, size_t errsize)
{
    char where[32];
    const json_t *program = json_object_get(o, "program"), *port = json_object_get(o, "port");
    const json_t *argv = json_object_get(o, "argv"), *generation = json_object_get(o, "generation");
    long long v;
    pid_t gpid;
    uint64_t gstart;

    (void)snprintf(where, sizeof(where), "instances[%zu]", i);
    if (!json_is_object(o)) {
        (void)snprintf(err, errsize, "%s: expected an object", where);
        return -EINVAL;
    }
    if (!json_is_string(program) || json_string_length(program) == 0) {
        (void)snprintf(err, errsize, "%s: \"program\" must be a non-empty string", where);
        return -EINVAL;
    }
    if (!(e->program = strdup(json_string_value(program))))
        return -ENOMEM;
    if (get_int(o, "instance", 0, 1000000, &v, err, errsize, where) < 0)
        return -EINVAL;
    e->instance = (unsigned)v;
    if (get_int(o, "pid", 1, INT_MAX, &v, err, errsize, where) < 0)
        return -EINVAL;
    e->pid = (pid_t)v;
    if (get_int(o, "pgid", 1, INT_MAX, &v, err, errsize, where) < 0)
        return -EINVAL;
    e->pgid = (pid_t)v;
    if (get_int(o, "start_time", 0, LLONG_MAX, &v, err, errsize, where) < 0)
        return -EINVAL;
    e->start_time = (uint64_t)v;
    if (json_is_integer(port) && json_integer_value(port) > 0 &&
        json_integer_value(port) <= 65535) {
        e->port = (uint16_t)json_integer_value(port);
    } else if (port && !json_is_null(port)) {
        (void)snprintf(err, errsize, "%s: \"port\" must be null or an integer from 1 to 65535",
                       where);
        return -EINVAL;
    }
    if (version == 1) {
        /* Before the field existed, every entry was taken for its file's drover's child. */
        (void)snprintf(e->generation, sizeof(e->generation), "%d.%" PRIu64, (int)c->drover_pid,
                       c->drover_start_time);
    } else if (!json_is_string(generation) ||
               ckpt_parse_generation(json_string_value(generation), &gpid, &gstart) < 0) {
        (void)snprintf(err, errsize, "%s: \"generation\" must be a string \"PID.STARTTIME\"",
                       where);
        return -EINVAL;
    } else {
        (void)snprintf(e->generation, sizeof(e->generation), "%s", json_string_value(generation));
    }
    if (json_is_array(argv)) {
        size_t n = json_array_size(argv);
        e->argv = calloc(n + 1, sizeof(char *));
        if (!e->argv)
            return -ENOMEM;
        for (size_t k = 0; k < n; k++) {
            const json_t *a = json_array_get(argv, k);
            if (!json_is_string(a)) {
                (void)snprintf(err, errsize, "%s: \"argv\" must be a list of strings", where);
                return -EINVAL;
            }
            if (!(e->argv[k] = strdup(json_string_value(a))))
                return -ENOMEM;
        }
    }
    return 0;
}

int
ckpt_unpack(const char *data, size_t len, struct ckpt *ret, char *err, size_t errsize)
{
    struct ckpt c = { 0 };
    json_error_t jerr;
    json_t *root, *drover, *list;
    long long v;
    int r = -EINVAL, version;

    if (len == 0) {
        (void)snprintf(err, errsize, "empty file");
        return -EINVAL;
    }
    root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        (void)snprintf(err, errsize, "line %d, column %d: %s", jerr.line, jerr.column,
                       util_one_line(jerr.text));
        return -EINVAL;
    }
    if (!json_is_object(root) || !json_is_string(json_object_get(root, "format")) ||
        strcmp(json_string_value(json_object_get(root, "format")), "drover-checkpoint") != 0) {
        (void)snprintf(err, errsize,
                       "not a drover checkpoint (no \"format\": \"drover-checkpoint\")");
        goto out;
    }
    if (!json_is_integer(json_object_get(root, "version")) ||
        json_integer_value(json_object_get(root, "version")) < 1 ||
        json_integer_value(json_object_get(root, "version")) > CKPT_VERSION) {
        (void)snprintf(err, errsize, "unsupported version (this drover reads versions 1 to %d)",
                       CKPT_VERSION);
        goto out;
    }
    version = (int)json_integer_value(json_object_get(root, "version"));
    drover = json_object_get(root, "drover");
    if (!json_is_object(drover) ||
        get_int(drover, "pid", 1, INT_MAX, &v, err, errsize, "drover") < 0)
        goto bad_drover;
    c.drover_pid = (pid_t)v;
    if (get_int(drover, "start_time", 0, LLONG_MAX, &v, err, errsize, "drover") < 0)
        goto bad_drover;
    c.drover_start_time = (uint64_t)v;
    list = json_object_get(root, "instances");
    if (!json_is_array(list)) {
        (void)snprintf(err, errsize, "\"instances\" must be a list");
        goto out;
    }
    c.nentries = json_array_size(list);
    c.entries = calloc(c.nentries ? c.nentries : 1, sizeof(*c.entries));
    if (!c.entries) {
        r = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < c.nentries; i++) {
        int er = unpack_entry(json_array_get(list, i), i, version, &c, &c.entries[i], err, errsize);
        if (er < 0) {
            if (er == -ENOMEM)
                (void)snprintf(err, errsize, "out of memory");
            goto out;
        }
    }
    json_decref(root);
    *ret = c;
    return 0;
bad_drover:
    if (!json_is_object(drover))
        (void)snprintf(err, errsize, "\"drover\" must be an object with pid and start_time");
out:
    json_decref(root);
    ckpt_done(&c);
    return r;
}

void
ckpt_done(struct ckpt *c)
{
    for (size_t i = 0; c->entries && i < c->nentries; i++) {
        free(c->entries[i].program);
        for (char **a = c->entries[i].argv; a && *a; a++)
            free(*a);
        free(c->entries[i].argv);
    }
    free(c->entries);
    *c = (struct ckpt){ 0 };
}

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
ckpt_save(const char *path, const char *data, size_t len)
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
ckpt_load(const char *path, char **ret_data, size_t *ret_len, char *err, size_t errsize)
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
    if (st.st_size > CKPT_MAX_BYTES) {
        (void)snprintf(err, errsize, "is larger than %d MiB", CKPT_MAX_BYTES >> 20);
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

/*
 * capture: captured output, FIFO to lines to file or stderr. See capture.h.
 */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/lineasm.h"
#include "core/tailring.h"
#include "core/util.h"
#include "os/identity.h"
#include "os/rundir.h"
#include "daemon/supervisor_int.h"
#include "daemon/capture.h"

/* Freed per pass of a rotated-out file (doom()). */
#define DOOMED_STEP (4 << 20)

/*
 * The lines one stream reads in one pass, on their way to the file or to
 * drover's stderr: one buffer for all, as every pass of a stream writes
 * (or drops) what it buffered before it returns.
 * Room: a read's worth and the longest line.
 */
#define WBUF_BYTES (CAPTURE_READ_BUDGET + LINEASM_MAX + 1)
static char wbuf[WBUF_BYTES];

struct capture_stream {
    struct loop_source src; /* the FIFO, drover's O_RDWR end; fd -1 none */
    struct instance *in;
    enum cfg_stream which;
    char fifo[PATH_MAX];
    struct lineasm la;
    struct tailring ring;
    /* CFG_CAPTURE_FILE */
    char path[PATH_MAX]; /* the file, expanded; "" none */
    int file_fd;
    uint64_t file_size;
    int doomed_fd;       /* the oldest backup, unlinked, freed a step at a time; -1 none */
    size_t wlen, wlines; /* in wbuf: lines this pass, written before the pass ends */
    bool failing;        /* the last write failed: lines are dropped, retried at retry_ms */
    int64_t retry_ms;    /* CLOCK_MONOTONIC */
    uint64_t dropped_streak;
    /* CFG_CAPTURE_DROVER: whether the last line was dropped (said once per streak). */
    bool stderr_dropping;
    bool shared_said; /* "another stream writes that file" was logged; once per streak */
    struct capture_counts counts;
};

struct capture {
    struct capture_stream s[CFG_STREAM__MAX];
    bool keep; /* its process outlives us: the FIFOs stay for the next drover */
};

static const char *const stream_suffix[CFG_STREAM__MAX] = { "out", "err" };
static const char *const stream_name[CFG_STREAM__MAX] = { "output", "error" };

static const struct cfg_capture *
stream_cfg(const struct capture_stream *cs)
{
    return &cs->in->prog->cfg->capture[cs->which];
}

/*
 * The out-pidN directories of drovers without a dumpfile that died without
 * removing theirs (SIGKILL, a crash): nobody can adopt those FIFOs, and
 * their children hold their own descriptors, so the names can go. Only
 * FIFOs of ours are removed; a directory with anything else in it stays.
 * A pid that is alive now (maybe another process) keeps its directory. A
 * drover in another pid namespace that shares this runtime directory looks
 * dead from here: its FIFO names go, which neither it nor its children
 * notice (both hold descriptors, and a new child's end is reopened through
 * /proc/self/fd, not the name); still, give each pid namespace its own /run
 * (docs/deploy.md says so).
 */
static void
sweep_dead_pid_dirs(const char *rundir)
{
    DIR *d = opendir(rundir);
    struct dirent *e;

    if (!d)
        return;
    while ((e = readdir(d))) {
        char path[PATH_MAX], *end;
        long pid;
        struct stat st;
        DIR *sub;
        struct dirent *f;

        if (strncmp(e->d_name, "out-pid", 7) != 0)
            continue;
        pid = strtol(e->d_name + 7, &end, 10);
        if (*end || pid <= 0 || pid == (long)getpid() || pid > INT32_MAX ||
            kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        if (snprintf(path, sizeof(path), "%s/%s", rundir, e->d_name) >= (int)sizeof(path) ||
            lstat(path, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid())
            continue;
        if (!(sub = opendir(path)))
            continue;
        while ((f = readdir(sub)))
            if (fstatat(dirfd(sub), f->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                S_ISFIFO(st.st_mode) && st.st_uid == geteuid())
                (void)unlinkat(dirfd(sub), f->d_name, 0);
        (void)closedir(sub);
        if (rmdir(path) == 0)
            log_info("captured output: removed %s, left by drover %ld, which is gone", path, pid);
    }
    (void)closedir(d);
}

/*
 * drover's FIFO directory, made on first use: one per dumpfile (so a
 * drover restarted on it finds its FIFOs again), else one per drover pid.
 */
/* Its name in the runtime directory dir: out-HASH of the dumpfile's path, else out-pidPID. */
static bool
fifo_dir_name(const struct supervisor *sup, const char *dir, char *buf, size_t len)
{
    int n = sup->dumpfile ? snprintf(buf, len, "%s/out-%016llx", dir,
                                     (unsigned long long)util_hash_str(sup->dumpfile))
                          : snprintf(buf, len, "%s/out-pid%d", dir, (int)getpid());

    return n >= 0 && (size_t)n < len;
}

static int
fifo_dir(struct supervisor *sup, char *buf, size_t len)
{
    char dir[PATH_MAX], err[RUNDIR_ERR_MAX];
    struct stat st;
    int r;

    if (!rundir_path(dir, sizeof(dir)))
        return -ENAMETOOLONG;
    if ((r = rundir_make(dir, err, sizeof(err))) < 0) {
        log_errorx("captured output: %s", err);
        return r;
    }
    if (!fifo_dir_name(sup, dir, buf, len))
        return -ENAMETOOLONG;
    if (!sup->dumpfile && !sup->capture_dir_made)
        sweep_dead_pid_dirs(dir);
    if (mkdir(buf, 0700) < 0 && errno != EEXIST)
        return -errno;
    sup->capture_dir_made = true;
    if (lstat(buf, &st) < 0)
        return -errno;
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 0077))
        return -EPERM;
    return 0;
}

void
capture_dir_done(struct supervisor *sup)
{
    char dir[PATH_MAX], path[PATH_MAX + 32];

    if (!sup->capture_seq && !sup->capture_dir_made)
        return;
    if (!rundir_path(dir, sizeof(dir)) || !fifo_dir_name(sup, dir, path, sizeof(path)))
        return;
    (void)rmdir(path); /* ENOTEMPTY: FIFOs kept for the next drover stay, and so does it */
}

static int fifo_path(struct capture_stream *cs);
static void stream_ready(struct loop_source *src, uint32_t events);
static void on_line(void *arg, const char *line, size_t len, unsigned flags);
static void wflush(struct capture_stream *cs);
static void sflush(struct capture_stream *cs);

/*
 * drover's end of the FIFO at cs->fifo. reuse (an adopted process writes
 * into it): the FIFO there must be ours, a FIFO and not a link, or it is
 * refused. Otherwise whatever FIFO of ours is there is stale (an earlier
 * drover's, its writers stopped): it goes and a new one is made.
 */
static int
fifo_open(struct capture_stream *cs, bool reuse)
{
    struct stat st;
    bool exists = lstat(cs->fifo, &st) == 0;
    int fd, r;

    if (!exists && errno != ENOENT)
        return -errno;
    if (exists && !(S_ISFIFO(st.st_mode) && st.st_uid == geteuid()))
        return -EEXIST; /* a planted file, a link: never opened, never removed */
    if (exists && !reuse) {
        if (unlink(cs->fifo) < 0)
            return -errno;
        exists = false;
    }
    if (!exists && mkfifo(cs->fifo, 0600) < 0)
        return -errno;
    fd = open(cs->fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    /* Checked again on what was opened: nothing was swapped in between. */
    if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode) || st.st_uid != geteuid()) {
        r = -EEXIST;
        (void)close(fd);
        return r;
    }
    (void)fcntl(fd, F_SETPIPE_SZ, CAPTURE_PIPE_SIZE); /* best effort: a smaller pipe works */
    cs->src = loop_source(fd, stream_ready, LOOP_PRIO_SUPERVISE);
    if ((r = loop_add(&cs->in->sup->loop, &cs->src)) < 0) {
        loop_close(&cs->in->sup->loop, &cs->src);
        return r;
    }
    return 0;
}

static struct capture *
capture_get(struct instance *in)
{
    if (!in->capture) {
        in->capture = calloc(1, sizeof(*in->capture));
        if (!in->capture)
            return NULL;
        for (int k = 0; k < CFG_STREAM__MAX; k++) {
            struct capture_stream *cs = &in->capture->s[k];
            cs->src = loop_source(-1, stream_ready, LOOP_PRIO_SUPERVISE);
            cs->in = in;
            cs->which = (enum cfg_stream)k;
            cs->file_fd = -1;
            cs->doomed_fd = -1;
            lineasm_init(&cs->la);
        }
    }
    return in->capture;
}

/*
 * The stream of another slot (or the other stream of this one) that writes
 * the file st is; NULL: none. Two streams appending to one file would each
 * count its size alone, rotate it under the other, and cut the other's lines
 * when a short write is cut back.
 */
static const struct capture_stream *
file_writer(const struct capture_stream *self, const struct stat *st)
{
    const struct pool *pool = &self->in->sup->pool;
    struct stat other;

    for (size_t p = 0; p < pool->nprograms; p++)
        for (unsigned i = 0; i < pool->programs[p]->ninstances; i++) {
            const struct capture *cap = pool->programs[p]->instances[i].capture;

            for (int k = 0; cap && k < CFG_STREAM__MAX; k++) {
                const struct capture_stream *cs = &cap->s[k];

                if (cs != self && cs->file_fd >= 0 && fstat(cs->file_fd, &other) == 0 &&
                    other.st_dev == st->st_dev && other.st_ino == st->st_ino)
                    return cs;
            }
        }
    return NULL;
}

/* The stream's FIFO, ring and buffer, once for the slot. Logs what fails. */
static int
stream_setup(struct capture_stream *cs, bool reuse)
{
    struct instance *in = cs->in;
    const struct cfg_capture *cc = stream_cfg(cs);
    int r;

    /* A reload may have changed tail_lines: the ring is made again (its lines go). */
    if (cs->ring.nmax != cc->tail_lines) {
        tailring_done(&cs->ring);
        if (cc->tail_lines && tailring_init(&cs->ring, cc->tail_lines, TAILRING_BYTES) < 0)
            inst_log(LOG_LVL_ERROR, in, "out of memory for its last %s lines; not kept",
                     stream_name[cs->which]);
    }
    if (cs->src.fd >= 0)
        return 0;
    if ((r = fifo_path(cs)) < 0)
        return r;
    if ((r = fifo_open(cs, reuse)) < 0) {
        inst_log(LOG_LVL_ERROR, in, "cannot open its %s FIFO \"%s\": %s", stream_name[cs->which],
                 cs->fifo,
                 r == -EEXIST ? "something else is there (not a FIFO of ours); refused"
                              : strerror(-r));
        return r;
    }
    return 0;
}

/* (Re)opens the stream's file at the expanded template, relative to the program's cwd. */
static int
file_open(struct capture_stream *cs, const struct tmpl_vars *vars)
{
    struct instance *in = cs->in;
    const struct program_cfg *pc = in->prog->cfg;
    bool oom;
    char *file = tmpl_expand(stream_cfg(cs)->file, vars, &oom);
    char *cwd = pc->cwd ? tmpl_expand(pc->cwd, vars, &oom) : NULL;
    const char *f = file ? file : stream_cfg(cs)->file, *d = cwd ? cwd : pc->cwd;
    struct identity_fs fs;
    struct stat st;
    int n, r = 0;

    if (oom) {
        r = -ENOMEM;
        goto done;
    }
    if (cs->file_fd >= 0)
        (void)close(cs->file_fd);
    cs->file_fd = -1;
    n = d && f[0] != '/' ? snprintf(cs->path, sizeof(cs->path), "%s/%s", d, f)
                         : snprintf(cs->path, sizeof(cs->path), "%s", f);
    if (n < 0 || (size_t)n >= sizeof(cs->path)) {
        r = -ENAMETOOLONG;
        goto done;
    }
    /* The user's file, opened with the user's rights; never as drover instead. */
    if ((r = identity_fs_enter(&pc->identity, &fs)) < 0)
        goto done;
    cs->file_fd = open(cs->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
                       cfg_file_mode(pc));
    identity_fs_leave(&fs);
    if (cs->file_fd < 0) {
        r = -errno;
        goto done;
    }
    cs->file_size = fstat(cs->file_fd, &st) == 0 ? (uint64_t)st.st_size : 0;
    const struct capture_stream *other = fstat(cs->file_fd, &st) == 0 ? file_writer(cs, &st) : NULL;
    if (other && !cs->shared_said)
        inst_log(LOG_LVL_ERROR, in,
                 "cannot capture its %s to \"%s\": %s:%u writes its %s there already; give "
                 "each stream of each instance its own file ({{instance}} in \"file\")",
                 stream_name[cs->which], cs->path, other->in->prog->cfg->name, other->in->index,
                 stream_name[other->which]);
    cs->shared_said = other != NULL;
    if (other) {
        (void)close(cs->file_fd);
        cs->file_fd = -1;
        r = -EBUSY; /* said */
    }
done:
    free(file);
    free(cwd);
    return r;
}

int
capture_child_fd(struct instance *in, enum cfg_stream k, const struct tmpl_vars *vars, int *ret_fd)
{
    struct capture *cap = capture_get(in);
    struct capture_stream *cs;
    char self[64];
    int fd, r;

    if (!cap) {
        inst_log(LOG_LVL_ERROR, in, "out of memory capturing its %s", stream_name[k]);
        return -ENOMEM;
    }
    cs = &cap->s[k];
    if ((r = stream_setup(cs, false)) < 0)
        return r;
    if (stream_cfg(cs)->mode == CFG_CAPTURE_FILE && (r = file_open(cs, vars)) < 0) {
        if (r == -EBUSY)
            return -EIO; /* logged: another stream writes that file */
        /*
         * Its directory went away, the disk is full, a mount is missing: the
         * instance starts anyway, and its lines are read and dropped (kept in
         * the ring for /logs) until the file opens again, tried every
         * CAPTURE_RETRY_MS; said once, and again when it works.
         */
        if (!cs->failing)
            inst_log(LOG_LVL_ERROR, in,
                     "cannot open %s file \"%s\": %s%s; dropping its lines, retrying every %d s",
                     stream_name[k], cs->path[0] ? cs->path : stream_cfg(cs)->file, strerror(-r),
                     identity_fs_note(&in->prog->cfg->identity, -r), CAPTURE_RETRY_MS / 1000);
        cs->failing = true;
        cs->retry_ms = util_now_ms() + CAPTURE_RETRY_MS;
    }
    /*
     * A new process's first line starts a line: what the last one left in the
     * pipe is read now, and its unfinished line goes as it is.
     */
    if (cs->src.fd >= 0) {
        int pending = 0;

        /* All of it (the pipe holds at most 1 MiB: at most 16 budgets), so none is the new one's.
         */
        for (int pass = 0; pass < (CAPTURE_PIPE_SIZE / CAPTURE_READ_BUDGET) + 1; pass++) {
            stream_ready(&cs->src, 0);
            if (ioctl(cs->src.fd, FIONREAD, &pending) < 0 || pending <= 0)
                break;
        }
        lineasm_flush(&cs->la, on_line, cs);
        if (stream_cfg(cs)->mode == CFG_CAPTURE_FILE)
            wflush(cs);
        else
            sflush(cs);
    }
    if (stream_cfg(cs)->mode != CFG_CAPTURE_FILE && cs->file_fd >= 0) {
        (void)close(cs->file_fd); /* captured to a file before a reload: no more */
        cs->file_fd = -1;
    }
    /*
     * The child's end: the pipe drover holds, opened again through
     * /proc/self/fd (a description of its own, blocking, and the very pipe
     * whatever the name now points to); by its name without /proc.
     */
    (void)snprintf(self, sizeof(self), "/proc/self/fd/%d", cs->src.fd);
    fd = open(self, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        fd = open(cs->fifo, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        r = -errno;
        inst_log(LOG_LVL_ERROR, in, "cannot open its %s FIFO \"%s\" for it: %s", stream_name[k],
                 cs->fifo, strerror(-r));
        return r;
    }
    *ret_fd = fd;
    return 0;
}

/* The path stream k's FIFO has for in, into cs->fifo. Logs what fails. */
static int
fifo_path(struct capture_stream *cs)
{
    struct instance *in = cs->in;
    char dir[PATH_MAX];
    int r;

    if ((r = fifo_dir(in->sup, dir, sizeof(dir))) < 0) {
        inst_log(LOG_LVL_ERROR, in, "cannot make the directory of its %s FIFO: %s",
                 stream_name[cs->which], strerror(-r));
        return r;
    }
    if (snprintf(cs->fifo, sizeof(cs->fifo), "%s/%s-%u.%s", dir, in->prog->cfg->name, in->index,
                 stream_suffix[cs->which]) >= (int)sizeof(cs->fifo))
        return -ENAMETOOLONG;
    return 0;
}

/*
 * Each captured stream's FIFO again. Also one the configuration no longer
 * captures, if the earlier drover left one: the process still writes into
 * it, and would block for good once its pipe is full, so it is read
 * (and dropped, counted) until the process is replaced.
 */
void
capture_adopted(struct instance *in)
{
    const struct program_cfg *pc = in->prog->cfg;
    struct tmpl_vars vars = { .name = pc->name, .instance = in->index, .port = in->port };

    for (int k = 0; k < CFG_STREAM__MAX; k++) {
        struct capture *cap;
        struct capture_stream *cs;
        struct stat st;
        int r;

        if (!(cap = capture_get(in))) {
            inst_log(LOG_LVL_ERROR, in, "out of memory capturing its %s", stream_name[k]);
            return;
        }
        cs = &cap->s[k];
        if (pc->capture[k].mode == CFG_CAPTURE_NONE) {
            if (cs->src.fd >= 0 || fifo_path(cs) < 0 || lstat(cs->fifo, &st) < 0 ||
                !S_ISFIFO(st.st_mode) || st.st_uid != geteuid())
                continue;
            if (stream_setup(cs, true) == 0)
                inst_log(LOG_LVL_WARN, in,
                         "its %s goes to \"%s\", which the configuration no longer captures: "
                         "read and dropped until it restarts",
                         stream_name[k], cs->fifo);
            continue;
        }
        if (stream_setup(cs, true) < 0)
            continue; /* logged; its writes block once the pipe is full, they do not fail */
        if (pc->capture[k].mode == CFG_CAPTURE_FILE && (r = file_open(cs, &vars)) < 0 &&
            r != -EBUSY)
            inst_log(LOG_LVL_ERROR, in, "cannot open %s file \"%s\": %s%s", stream_name[k],
                     cs->path[0] ? cs->path : pc->capture[k].file, strerror(-r),
                     identity_fs_note(&pc->identity, -r));
        inst_log(LOG_LVL_INFO, in, "reading its %s again from \"%s\"", stream_name[k], cs->fifo);
    }
}

void
capture_keep(struct instance *in)
{
    if (in->capture)
        in->capture->keep = true;
}

void
capture_free(struct instance *in)
{
    struct capture *cap = in->capture;

    if (!cap)
        return;
    for (int k = 0; k < CFG_STREAM__MAX; k++) {
        struct capture_stream *cs = &cap->s[k];
        if (cs->src.fd >= 0) {
            struct stat mine, there;
            /* Only the FIFO we hold: a program that replaced this one may have made its own. */
            bool same = fstat(cs->src.fd, &mine) == 0 && lstat(cs->fifo, &there) == 0 &&
                        mine.st_ino == there.st_ino && mine.st_dev == there.st_dev;
            loop_close(&in->sup->loop, &cs->src);
            if (!cap->keep && same)
                (void)unlink(cs->fifo);
        }
        if (cs->file_fd >= 0)
            (void)close(cs->file_fd);
        if (cs->doomed_fd >= 0)
            (void)close(cs->doomed_fd);
        tailring_done(&cs->ring);
    }
    free(cap);
    in->capture = NULL;
}

/* --- the file: rotation, a full disk --------------------------------------------------------- */

/*
 * The oldest file goes without a stall: its name is removed at once, but
 * its blocks are freed DOOMED_STEP at a time, one step per pass that reads
 * the stream (shrink_doomed()), as freeing a large file's pages in one
 * unlink takes the loop tens of ms (BENCHMARKS.md#14-output-flood).
 */
static void
doom(struct capture_stream *cs, const char *path)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);

    if (fd >= 0 && cs->doomed_fd >= 0)
        (void)close(cs->doomed_fd); /* the one before, at once: rotations outran the steps */
    if (fd >= 0)
        cs->doomed_fd = fd;
    if (unlink(path) < 0 && errno != ENOENT)
        inst_log(LOG_LVL_WARN, cs->in, "cannot remove \"%s\": %s; ignoring", path, strerror(errno));
}

static void
shrink_doomed(struct capture_stream *cs)
{
    struct stat st;

    if (cs->doomed_fd < 0)
        return;
    if (fstat(cs->doomed_fd, &st) < 0 || st.st_size <= DOOMED_STEP ||
        ftruncate(cs->doomed_fd, st.st_size - DOOMED_STEP) < 0) {
        (void)close(cs->doomed_fd);
        cs->doomed_fd = -1;
    }
}

/*
 * path.N-1 -> path.N ... path -> path.1 (the oldest dropped), then a new path,
 * all as the program's user when it has one (os/identity.h). Logs failures.
 */
static void
rotate(struct capture_stream *cs)
{
    unsigned backups = stream_cfg(cs)->backups;
    char from[PATH_MAX + 16], to[PATH_MAX + 16];
    struct identity_fs fs;
    int r = identity_fs_enter(&cs->in->prog->cfg->identity, &fs);

    if (r < 0) { /* out of memory: the file grows on, and the next line tries again */
        inst_log(LOG_LVL_WARN, cs->in, "cannot rotate %s file \"%s\": %s", stream_name[cs->which],
                 cs->path, strerror(-r));
        return;
    }
    (void)close(cs->file_fd);
    cs->file_fd = -1;
    if (backups == 0) {
        doom(cs, cs->path);
    } else {
        /*
         * The oldest goes first, so no rename below replaces a file: ext4
         * (auto_da_alloc) writes back a file renamed over another before the
         * rename returns, 100 ms and more for a large log (BENCHMARKS.md).
         */
        (void)snprintf(to, sizeof(to), "%s.%u", cs->path, backups);
        doom(cs, to);
        for (unsigned i = backups; i > 1; i--) {
            (void)snprintf(from, sizeof(from), "%s.%u", cs->path, i - 1);
            (void)snprintf(to, sizeof(to), "%s.%u", cs->path, i);
            if (rename(from, to) < 0 && errno != ENOENT)
                inst_log(LOG_LVL_WARN, cs->in, "cannot rename \"%s\" to \"%s\": %s; ignoring", from,
                         to, strerror(errno));
        }
        (void)snprintf(to, sizeof(to), "%s.1", cs->path);
        if (rename(cs->path, to) < 0 && errno != ENOENT)
            inst_log(LOG_LVL_WARN, cs->in, "cannot rename \"%s\" to \"%s\": %s; ignoring", cs->path,
                     to, strerror(errno));
    }
    cs->file_fd = open(cs->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
                       cfg_file_mode(cs->in->prog->cfg));
    identity_fs_leave(&fs); /* keeps errno */
    cs->file_size = 0;
    if (cs->file_fd < 0) {
        cs->failing = true;
        cs->retry_ms = util_now_ms() + CAPTURE_RETRY_MS;
        inst_log(LOG_LVL_ERROR, cs->in,
                 "cannot open %s file \"%s\" after rotating it: %s; dropping lines, retrying in "
                 "%d s",
                 stream_name[cs->which], cs->path, strerror(errno), CAPTURE_RETRY_MS / 1000);
    }
}

static void
drop_buffered(struct capture_stream *cs)
{
    cs->counts.dropped += cs->wlines;
    cs->dropped_streak += cs->wlines;
    cs->wlen = cs->wlines = 0;
}

/*
 * Writes the buffered lines. A failure (ENOSPC) is said once: the lines are
 * dropped and counted, anything half-written is cut off again (no line is
 * left split), and the next try is CAPTURE_RETRY_MS later; the first write
 * that works again says so, with how many lines were lost.
 */
static void
wflush(struct capture_stream *cs)
{
    size_t done = 0;
    int err = 0;

    if (!cs->wlen)
        return;
    if (cs->failing && util_now_ms() < cs->retry_ms) {
        drop_buffered(cs);
        return;
    }
    if (cs->file_fd < 0) {
        const struct program_cfg *pc = cs->in->prog->cfg;
        struct tmpl_vars vars = { .name = pc->name,
                                  .instance = cs->in->index,
                                  .port = cs->in->port };
        int r = file_open(cs, &vars);
        if (r < 0)
            err = -r;
    }
    while (!err && done < cs->wlen) {
        ssize_t w = write(cs->file_fd, wbuf + done, cs->wlen - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            err = w < 0 ? errno : ENOSPC;
        else
            done += (size_t)w;
    }
    if (err) {
        if (done && cs->file_fd >= 0)
            if (ftruncate(cs->file_fd, (off_t)cs->file_size) < 0) /* no half line left behind */
                log_debug("%s: cannot cut \"%s\" back: %s", cs->in->label, cs->path,
                          strerror(errno));
        if (!cs->failing && err != EBUSY) /* EBUSY: file_open() said whose file it is */
            inst_log(LOG_LVL_ERROR, cs->in,
                     "cannot write %s file \"%s\": %s; dropping lines, retrying every %d s",
                     stream_name[cs->which], cs->path, strerror(err), CAPTURE_RETRY_MS / 1000);
        cs->failing = true;
        cs->retry_ms = util_now_ms() + CAPTURE_RETRY_MS;
        drop_buffered(cs);
        return;
    }
    cs->file_size += done;
    if (cs->failing) {
        inst_log(LOG_LVL_INFO, cs->in, "writing %s file \"%s\" again (%llu lines were dropped)",
                 stream_name[cs->which], cs->path, (unsigned long long)cs->dropped_streak);
        cs->failing = false;
        cs->dropped_streak = 0;
    }
    cs->wlen = cs->wlines = 0;
}

static void
to_file(struct capture_stream *cs, const char *line, size_t len)
{
    uint64_t max = stream_cfg(cs)->max_size;
    uint64_t size = cs->file_size + cs->wlen;

    if (cs->failing && util_now_ms() < cs->retry_ms) {
        cs->counts.dropped++;
        cs->dropped_streak++;
        return;
    }
    /* Rotated before the line that would pass max_size: a line is never split across files. */
    if (max && size > 0 && size + len + 1 > max) {
        wflush(cs);
        if (cs->file_fd >= 0 && !cs->failing && cs->file_size > 0)
            rotate(cs);
    }
    if (cs->wlen + len + 1 > WBUF_BYTES)
        wflush(cs);
    memcpy(wbuf + cs->wlen, line, len);
    wbuf[cs->wlen + len] = '\n';
    cs->wlen += len + 1;
    cs->wlines++;
}

/* The "drover" target's batch: whole lines, one write of at most PIPE_BUF (log.h). */
static void
sflush(struct capture_stream *cs)
{
    if (cs->wlen && !log_passthrough(wbuf, cs->wlen))
        cs->counts.dropped += cs->wlines;
    cs->wlen = cs->wlines = 0;
}

/*
 * "name:index | line" through log.c's buffer: a stderr that is not read
 * drops (counted), never waits. Lines are batched up to PIPE_BUF bytes: one
 * write(2) per batch, not per line, and never a line split between two.
 */
static void
to_stderr(struct capture_stream *cs, const char *line, size_t len)
{
    size_t label = strlen(cs->in->label), need = label + 3 + len + 1;
    char *w;

    if (cs->wlen + need > PIPE_BUF)
        sflush(cs);
    if (need > WBUF_BYTES)
        return; /* cannot happen: a line is at most LINEASM_MAX */
    w = wbuf + cs->wlen;
    memcpy(w, cs->in->label, label);
    memcpy(w + label, " | ", 3);
    memcpy(w + label + 3, line, len);
    w[label + 3 + len] = '\n';
    cs->wlen += need;
    cs->wlines++;
    if (cs->wlen > PIPE_BUF) /* one long line alone */
        sflush(cs);
}

static void
on_line(void *arg, const char *line, size_t len, unsigned flags)
{
    struct capture_stream *cs = arg;
    struct supervisor *sup = cs->in->sup;
    uint64_t seq = ++sup->capture_seq;

    cs->counts.lines++;
    if (flags & LINEASM_CUT)
        cs->counts.cut++;
    if (cs->ring.buf)
        tailring_push(&cs->ring, seq, util_unix_ms(), line, len, flags);
    if (stream_cfg(cs)->mode == CFG_CAPTURE_FILE)
        to_file(cs, line, len);
    else if (stream_cfg(cs)->mode == CFG_CAPTURE_DROVER)
        to_stderr(cs, line, len);
    else
        cs->counts.dropped++; /* an adopted process's FIFO the configuration no longer has */
}

/* The FIFO has bytes: up to CAPTURE_READ_BUDGET of them this pass; the rest waits in the pipe. */
static void
stream_ready(struct loop_source *src, uint32_t events)
{
    struct capture_stream *cs = container_of(src, struct capture_stream, src);
    static char buf[16384];
    size_t got = 0;

    (void)events;
    assert(cs->wlen == 0); /* the last pass wrote what it had */
    while (got < CAPTURE_READ_BUDGET && cs->src.fd >= 0) {
        ssize_t n = read(cs->src.fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* EAGAIN: empty. 0 cannot happen: we hold a writer's end ourselves */
        got += (size_t)n;
        lineasm_feed(&cs->la, buf, (size_t)n, on_line, cs);
    }
    if (stream_cfg(cs)->mode == CFG_CAPTURE_FILE)
        wflush(cs);
    else
        sflush(cs);
    shrink_doomed(cs);
}

/* --- reading the rings ------------------------------------------------------------------------ */

/*
 * A k-way merge over the rings (each in seq order), so a request costs what
 * it answers, not what is kept: a cursor per ring in a heap, walking back
 * from the newest (the last max lines) or on from since.
 */
struct cursor {
    const struct tailring *t;
    size_t j; /* the line of t it is at */
    unsigned index;
    enum cfg_stream stream;
};

static uint64_t
cursor_seq(const struct cursor *c)
{
    return tailring_at(c->t, c->j)->seq;
}

/* Heap order: the newest first when backward, else the oldest. */
static bool
before(const struct cursor *a, const struct cursor *b, bool backward)
{
    return backward ? cursor_seq(a) > cursor_seq(b) : cursor_seq(a) < cursor_seq(b);
}

static void
sift_down(struct cursor *h, size_t n, size_t i, bool backward)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        struct cursor tmp;

        if (l < n && before(&h[l], &h[m], backward))
            m = l;
        if (r < n && before(&h[r], &h[m], backward))
            m = r;
        if (m == i)
            return;
        tmp = h[i];
        h[i] = h[m];
        h[m] = tmp;
        i = m;
    }
}

/* The first line of t with seq >= since (t->n when none). */
static size_t
first_from(const struct tailring *t, uint64_t since)
{
    size_t lo = 0, hi = t->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (tailring_at(t, mid)->seq < since)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

ssize_t
capture_lines(struct program *prog, long index, unsigned mask, size_t max, uint64_t since,
              struct capture_line **ret, uint64_t *ret_next)
{
    bool backward = since == 0;
    struct cursor *heap = calloc((size_t)prog->ninstances * CFG_STREAM__MAX + 1, sizeof(*heap));
    struct capture_line *out = calloc(max ? max : 1, sizeof(*out));
    size_t nheap = 0, n = 0;

    if (!heap || !out) {
        free(heap);
        free(out);
        return -ENOMEM;
    }
    for (unsigned i = 0; i < prog->ninstances; i++) {
        const struct capture *cap = prog->instances[i].capture;

        if (!cap || (index >= 0 && (unsigned)index != i))
            continue;
        for (int k = 0; k < CFG_STREAM__MAX; k++) {
            const struct tailring *t = &cap->s[k].ring;
            size_t j;

            if (!(mask & (1u << k)) || t->n == 0)
                continue;
            j = backward ? t->n - 1 : first_from(t, since);
            if (j == t->n)
                continue; /* nothing from since on */
            heap[nheap++] =
                (struct cursor){ .t = t, .j = j, .index = i, .stream = (enum cfg_stream)k };
        }
    }
    for (size_t i = nheap; i-- > 0;)
        sift_down(heap, nheap, i, backward);
    while (nheap && n < max) {
        struct cursor *c = &heap[0];
        const struct tailring_line *l = tailring_at(c->t, c->j);

        out[n++] = (struct capture_line){ .seq = l->seq,
                                          .unix_ms = l->unix_ms,
                                          .text = tailring_text(c->t, l),
                                          .len = l->len,
                                          .index = c->index,
                                          .stream = c->stream,
                                          .cut = (l->flags & LINEASM_CUT) != 0 };
        if (backward ? c->j == 0 : c->j + 1 == c->t->n)
            heap[0] = heap[--nheap]; /* this ring is done */
        else
            c->j = backward ? c->j - 1 : c->j + 1;
        sift_down(heap, nheap, 0, backward);
    }
    free(heap);
    if (backward) /* newest first: turn it back into read order */
        for (size_t a = 0, b = n ? n - 1 : 0; a < b; a++, b--) {
            struct capture_line tmp = out[a];

            out[a] = out[b];
            out[b] = tmp;
        }
    *ret_next = n ? out[n - 1].seq + 1 : since ? since : prog->sup->capture_seq + 1;
    *ret = out;
    return (ssize_t)n;
}

void
capture_counts(const struct instance *in, struct capture_counts *ret)
{
    *ret = (struct capture_counts){ 0 };
    if (!in->capture)
        return;
    for (int k = 0; k < CFG_STREAM__MAX; k++) {
        ret->lines += in->capture->s[k].counts.lines;
        ret->dropped += in->capture->s[k].counts.dropped;
        ret->cut += in->capture->s[k].counts.cut;
    }
}

/*
 * journal: an append-only log made durable by group commit. See journal.h.
 *
 * The helper thread shares one request with the loop's thread, under mu:
 * the loop posts "sync fd up to seq" (and, once, a compaction's finish);
 * the thread takes it, does the system calls with mu released, then
 * publishes done (or the failure) and writes the eventfd. Requests posted
 * while the thread works merge into one: that is the group commit.
 */
#include "os/journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util.h"
#include "os/log.h"

/* A compaction's finish, done by the thread after the new segment is synced. */
struct finish {
    char tmp[64], final[64];     /* names in dir */
    int old_fd;                  /* the segment appends went to before */
    uint64_t drop_from, drop_to; /* segments removed after the rename */
};

struct journal {
    char dir[PATH_MAX];
    int dirfd;
    bool sync;
    struct loop *loop;
    struct timers *timers;
    struct loop_source done_src; /* the eventfd */
    struct timer group_timer;
    journal_synced_fn synced_fn;
    void *synced_arg;
    /* The loop thread's. */
    int fd;           /* the segment appends go to */
    uint64_t segment; /* its number */
    uint64_t first;   /* the lowest live segment */
    char *buf;        /* lines not written yet */
    size_t len, cap;
    uint64_t buf_seq;     /* the highest seq in buf */
    uint64_t written_seq; /* the highest seq written */
    uint64_t posted_seq;  /* the highest seq asked of the thread */
    bool urgent;          /* a line written or buffered wants its sync now */
    uint64_t synced;
    uint64_t bytes, snapshot_bytes;
    char err[JOURNAL_ERR_MAX];
    uint64_t err_seq; /* a write failed with lines up to it buffered: err holds until synced */
    bool broken;      /* a sync failed: never trusted again (see sync_failed()) */
    uint64_t compact_after; /* bytes: a failed compaction is not tried again before */
    bool compacting;
    int old_fd;
    struct finish fin; /* a compaction whose finish is not confirmed yet */
    bool fin_pending;
    uint64_t fin_gen;        /* compactions so far: the thread does each one's finish once */
    uint64_t fin_posted_gen; /* the finish asked of the thread (again after a failure) */
    /* Shared with the thread, under mu. */
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool posted, stop;
    uint64_t want_seq;
    int want_fd;
    uint64_t want_fin_gen; /* 0: no finish asked */
    uint64_t done_seq;
    uint64_t fin_done_gen; /* the last finish done */
    int fail_errno;
    const char *fail_what;
};

static void
set_err(struct journal *j, const char *what, int e)
{
    char msg[JOURNAL_ERR_MAX];

    (void)snprintf(msg, sizeof(msg), "%s in %.200s: %s", what, j->dir, strerror(e));
    if (strcmp(msg, j->err) != 0) /* said once, not at every pass while it lasts */
        log_errorx("job journal: %s", msg);
    (void)snprintf(j->err, sizeof(j->err), "%s", msg);
}

/* --- the helper thread ----------------------------------------------------------------------- */

static void
finish_compaction(struct journal *j, const struct finish *f, const char **what, int *e)
{
    char name[64];

    if (renameat(j->dirfd, f->tmp, j->dirfd, f->final) < 0) {
        *what = "rename of the compacted segment";
        *e = errno;
        return;
    }
    if (fsync(j->dirfd) < 0) {
        *what = "fsync of the directory";
        *e = errno;
        return;
    }
    for (uint64_t n = f->drop_from; n <= f->drop_to; n++) {
        (void)snprintf(name, sizeof(name), "journal.%" PRIu64, n);
        (void)unlinkat(j->dirfd, name, 0); /* left behind: the next open removes it */
    }
    (void)close(f->old_fd);
}

static void *
sync_thread(void *arg)
{
    struct journal *j = arg;
    uint64_t one = 1;

    (void)pthread_mutex_lock(&j->mu);
    for (;;) {
        while (!j->posted && !j->stop)
            (void)pthread_cond_wait(&j->cv, &j->mu);
        if (!j->posted)
            break;
        uint64_t seq = j->want_seq, gen = j->want_fin_gen;
        int fd = j->want_fd;
        bool fin = gen > j->fin_done_gen; /* a request merged after it was done asks no more */
        struct finish f = j->fin;
        const char *what = NULL;
        int e = 0;

        j->posted = false;
        (void)pthread_mutex_unlock(&j->mu);
        if (fin ? fsync(fd) < 0 : (j->sync && fdatasync(fd) < 0)) {
            what = fin ? "fsync of the compacted segment" : "fdatasync";
            e = errno;
        }
        if (fin && !e)
            finish_compaction(j, &f, &what, &e);
        (void)pthread_mutex_lock(&j->mu);
        if (e) {
            j->fail_errno = e;
            j->fail_what = what;
        } else {
            if (seq > j->done_seq)
                j->done_seq = seq;
            if (fin)
                j->fin_done_gen = gen;
        }
        (void)pthread_mutex_unlock(&j->mu);
        if (write(j->done_src.fd, &one, sizeof(one)) < 0) {
            /* cannot be: an eventfd only refuses a write that would overflow its counter */
        }
        (void)pthread_mutex_lock(&j->mu);
    }
    (void)pthread_mutex_unlock(&j->mu);
    return NULL;
}

/* Asks the thread to sync what is written (and to finish a compaction). */
static void
post(struct journal *j)
{
    (void)pthread_mutex_lock(&j->mu);
    j->want_seq = j->written_seq;
    j->want_fd = j->fd;
    j->want_fin_gen = j->fin_pending ? j->fin_gen : 0;
    if (j->fin_pending)
        j->fin_posted_gen = j->fin_gen;
    j->posted = true;
    (void)pthread_cond_signal(&j->cv);
    (void)pthread_mutex_unlock(&j->mu);
    j->posted_seq = j->written_seq;
    j->urgent = false;
    if (j->timers)
        timer_cancel(j->timers, &j->group_timer);
}

static void
done_ready(struct loop_source *src, uint32_t events)
{
    struct journal *j = container_of(src, struct journal, done_src);
    uint64_t n;
    int e;
    const char *what;
    (void)events;

    if (read(src->fd, &n, sizeof(n)) < 0) {
        /* EAGAIN: a wake-up already read; what it said is under mu either way */
    }
    (void)pthread_mutex_lock(&j->mu);
    if (j->done_seq > j->synced)
        j->synced = j->done_seq;
    e = j->fail_errno;
    what = j->fail_what;
    j->fail_errno = 0;
    if (j->fin_pending && j->fin_done_gen == j->fin_gen)
        j->fin_pending = false;
    (void)pthread_mutex_unlock(&j->mu);
    if (e) {
        /*
         * After a failed fsync Linux may have dropped the dirty pages and reports the
         * error once: a retry that "succeeds" proves nothing (PostgreSQL's fsyncgate).
         * So the journal is never trusted again: lines are still written (a crash of
         * drover alone loses nothing written), but no sync is asked, and every submit
         * is answered 503 until drover is restarted on a disk that works.
         */
        char what_s[160];

        (void)snprintf(what_s, sizeof(what_s),
                       "%s failed, so what is on disk is unknown: no submit is answered as "
                       "durable until drover restarts; the error was",
                       what);
        j->broken = true;
        j->err[0] = '\0';
        set_err(j, what_s, e);
        if (j->timers)
            timer_cancel(j->timers, &j->group_timer);
    } else if (j->err[0] && !j->broken && j->synced >= j->err_seq) {
        j->err[0] = '\0'; /* the lines a write failed on are on disk now */
    }
    j->synced_fn(j->synced_arg);
}

static void
group_timer_fired(struct timer *t, int64_t now_ms)
{
    struct journal *j = container_of(t, struct journal, group_timer);
    (void)now_ms;

    if (j->broken)
        return;
    if (j->len) { /* a write failed: try it again */
        journal_flush(j);
        return;
    }
    if (j->sync && (j->written_seq > j->synced || j->fin_pending))
        post(j);
}

/* --- appending ------------------------------------------------------------------------------- */

int
journal_append(struct journal *j, const char *line, size_t len, uint64_t seq, bool urgent)
{
    if (j->len + len > j->cap) {
        size_t cap = j->cap ? j->cap : 64 * 1024;
        char *b;

        while (cap < j->len + len)
            cap *= 2;
        if (!(b = realloc(j->buf, cap)))
            return -ENOMEM;
        j->buf = b;
        j->cap = cap;
    }
    memcpy(j->buf + j->len, line, len);
    j->len += len;
    if (seq > j->buf_seq)
        j->buf_seq = seq;
    j->urgent |= urgent;
    return 0;
}

/* Writes buf to fd; what is not written stays. 0 or -errno. */
static int
write_out(struct journal *j)
{
    size_t off = 0;
    int r = 0;

    while (off < j->len) {
        ssize_t n = write(j->fd, j->buf + off, j->len - off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            r = n < 0 ? -errno : -EIO;
            break;
        }
        off += (size_t)n;
    }
    j->bytes += off;
    memmove(j->buf, j->buf + off, j->len - off);
    j->len -= off;
    if (!j->len && j->buf_seq > j->written_seq)
        j->written_seq = j->buf_seq;
    if (j->cap > 1024 * 1024 && j->len < j->cap / 4) { /* a snapshot's room is given back */
        char *b = realloc(j->buf, j->len > 64 * 1024 ? j->len : 64 * 1024);

        if (b) {
            j->buf = b;
            j->cap = j->len > 64 * 1024 ? j->len : 64 * 1024;
        }
    }
    return r;
}

void
journal_flush(struct journal *j)
{
    int r;

    if (!j || j->compacting)
        return;
    if (j->len && (r = write_out(j)) < 0) {
        if (!j->broken) {
            set_err(j, "write", -r);
            j->err_seq = j->buf_seq;
        }
        j->synced_fn(j->synced_arg); /* waiters learn of it */
        if (j->timers && !timer_armed(&j->group_timer))
            (void)timer_arm(j->timers, &j->group_timer, util_now_ms() + JOURNAL_GROUP_MS);
        return;
    }
    bool fin_due = j->fin_pending && j->fin_posted_gen != j->fin_gen;

    if (j->broken)
        return;
    if (j->err[0] && j->err_seq <= j->written_seq && !j->sync)
        j->err[0] = '\0'; /* fsync "never": written again is all there is */
    if (!j->sync && !fin_due) {
        if (!j->fin_pending)
            j->synced = j->written_seq; /* fsync "never": written is all there is */
        return;
    }
    if (j->written_seq <= j->posted_seq && !fin_due)
        return;
    if (j->urgent || fin_due)
        post(j);
    else if (j->timers && !timer_armed(&j->group_timer))
        (void)timer_arm(j->timers, &j->group_timer, util_now_ms() + JOURNAL_GROUP_MS);
}

uint64_t
journal_synced(const struct journal *j)
{
    return j->synced;
}

const char *
journal_error(const struct journal *j)
{
    return j->err[0] ? j->err : NULL;
}

uint64_t
journal_bytes(const struct journal *j)
{
    return j->bytes;
}

/* --- compaction ------------------------------------------------------------------------------ */

bool
journal_wants_compaction(const struct journal *j)
{
    if (j->compacting || j->fin_pending || j->broken || j->bytes < j->compact_after)
        return false;
    /* Growth since the snapshot: a snapshot past 64 MiB must not make every pass compact. */
    return j->bytes - j->snapshot_bytes > JOURNAL_COMPACT_BYTES ||
           (j->bytes > JOURNAL_COMPACT_MIN_BYTES && j->bytes > 2 * j->snapshot_bytes);
}

int
journal_compact_begin(struct journal *j)
{
    char name[64];
    int fd, r;

    if (j->compacting || j->fin_pending)
        return -EBUSY;
    j->compact_after = j->bytes + JOURNAL_COMPACT_MIN_BYTES; /* after a failure: not at once */
    if (j->len && (r = write_out(j)) < 0) {
        set_err(j, "write", -r);
        j->err_seq = j->buf_seq;
        return r;
    }
    (void)snprintf(name, sizeof(name), "journal.%" PRIu64 ".tmp", j->segment + 1);
    fd = openat(j->dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        r = -errno;
        log_warn("job journal: cannot create %s/%s for a compaction", j->dir, name);
        return r;
    }
    j->old_fd = j->fd;
    j->fd = fd;
    j->compacting = true;
    return 0;
}

void
journal_compact_end(struct journal *j, bool ok)
{
    char name[64];
    int r = 0;

    if (!j->compacting)
        return;
    j->compacting = false;
    if (ok) {
        uint64_t before = j->bytes;

        r = write_out(j);
        j->snapshot_bytes = j->bytes - before;
    }
    if (!ok || r < 0) {
        if (r < 0)
            log_errorx("job journal: writing the compacted segment in %.200s: %s: the old "
                       "segments are kept",
                       j->dir, strerror(-r));
        j->len = 0; /* the snapshot's lines: the old segments hold all of it */
        (void)close(j->fd);
        (void)snprintf(name, sizeof(name), "journal.%" PRIu64 ".tmp", j->segment + 1);
        (void)unlinkat(j->dirfd, name, 0);
        j->fd = j->old_fd;
        j->old_fd = -1;
        return;
    }
    j->bytes = j->snapshot_bytes;
    j->compact_after = 0;
    (void)pthread_mutex_lock(&j->mu); /* the thread copies fin under mu */
    j->fin = (struct finish){ .old_fd = j->old_fd, .drop_from = j->first, .drop_to = j->segment };
    (void)snprintf(j->fin.tmp, sizeof(j->fin.tmp), "journal.%" PRIu64 ".tmp", j->segment + 1);
    (void)snprintf(j->fin.final, sizeof(j->fin.final), "journal.%" PRIu64, j->segment + 1);
    (void)pthread_mutex_unlock(&j->mu);
    j->old_fd = -1;
    j->segment++;
    j->first = j->segment;
    j->fin_pending = true;
    j->fin_gen++;
    post(j);
    log_info("job journal compacted: %" PRIu64 " bytes in %s/%s", j->snapshot_bytes, j->dir,
             j->fin.final);
}

/* --- opening --------------------------------------------------------------------------------- */

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* "journal.N" → N, and tmp when ".tmp" follows; 0: not a segment's name. */
static uint64_t
segment_number(const char *name, bool *tmp)
{
    const char *p = name + 8;
    uint64_t n = 0;

    *tmp = false;
    if (strncmp(name, "journal.", 8) != 0 || *p < '1' || *p > '9')
        return 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (n > UINT64_MAX / 10 - 1)
            return 0;
        n = n * 10 + (uint64_t)(*p - '0');
    }
    if (strcmp(p, ".tmp") == 0)
        *tmp = true;
    else if (*p)
        return 0;
    return n;
}

/* Reads the file name in dir whole (trusted: regular, ours) into *buf (malloc'ed). */
static int
read_file(struct journal *j, const char *name, char **buf, size_t *len, char *err, size_t errsize)
{
    struct stat st;
    int fd;
    size_t off = 0;

    if ((fd = openat(j->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)) < 0) {
        int r = -errno;

        (void)snprintf(err, errsize, "%s/%s: %s", j->dir, name, strerror(errno));
        return r;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
        (st.st_mode & 022)) {
        (void)snprintf(err, errsize,
                       "%s/%s is not a regular file owned by uid %u and writable by it alone: "
                       "not reading it",
                       j->dir, name, (unsigned)geteuid());
        (void)close(fd);
        return -EPERM;
    }
    if (!(*buf = malloc((size_t)st.st_size + 1))) {
        (void)close(fd);
        return -ENOMEM;
    }
    while (off < (size_t)st.st_size) {
        ssize_t r = read(fd, *buf + off, (size_t)st.st_size - off);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) { /* an error, or shorter than it said: never taken for a torn line */
            int e = r < 0 ? errno : EIO;

            (void)snprintf(err, errsize, "reading %s/%s: %s", j->dir, name, strerror(e));
            (void)close(fd);
            free(*buf);
            *buf = NULL;
            return -e;
        }
        off += (size_t)r;
    }
    (void)close(fd);
    *len = off;
    return 0;
}

static int
read_segment(struct journal *j, uint64_t n, char **buf, size_t *len, char *err, size_t errsize)
{
    char name[64];

    (void)snprintf(name, sizeof(name), "journal.%" PRIu64, n);
    return read_file(j, name, buf, len, err, errsize);
}

/* Segment n's first line says it is a snapshot (a snapshot line is short: 4 KiB is room). */
static bool
starts_with_snapshot(struct journal *j, uint64_t n, journal_is_snapshot_fn is_snapshot)
{
    char name[64], buf[4096], *nl;
    ssize_t len;
    int fd;

    (void)snprintf(name, sizeof(name), "journal.%" PRIu64, n);
    if ((fd = openat(j->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)) < 0)
        return false;
    len = pread(fd, buf, sizeof(buf), 0);
    (void)close(fd);
    nl = len > 0 ? memchr(buf, '\n', (size_t)len) : NULL;
    return nl && is_snapshot(buf, (size_t)(nl - buf)) >= 0;
}

/*
 * A compaction's .tmp that drover died before renaming: complete when its
 * snapshot line is followed by all the lines it announces, and then it is
 * the journal (lines written after the snapshot went only there), so it is
 * renamed now; else it never finished and is removed (the old segments hold
 * everything). true: kept as journal.n.
 */
static bool
settle_tmp(struct journal *j, const char *tmp, uint64_t n, journal_is_snapshot_fn is_snapshot)
{
    char *buf = NULL, err[256], final[64], *nl;
    size_t len = 0, lines = 0;
    long want = -1;

    if (read_file(j, tmp, &buf, &len, err, sizeof(err)) == 0 && (nl = memchr(buf, '\n', len))) {
        want = is_snapshot(buf, (size_t)(nl - buf));
        for (char *p = nl + 1; want >= 0 && (p = memchr(p, '\n', len - (size_t)(p - buf))); p++)
            lines++;
    }
    free(buf);
    (void)snprintf(final, sizeof(final), "journal.%" PRIu64, n);
    if (want >= 0 && lines >= (size_t)want && renameat(j->dirfd, tmp, j->dirfd, final) == 0 &&
        fsync(j->dirfd) == 0) {
        log_info("job journal: %s/%s is a whole compaction drover died before renaming: "
                 "it is %s now",
                 j->dir, tmp, final);
        return true;
    }
    log_info("job journal: removing %s/%s, a compaction that never finished", j->dir, tmp);
    (void)unlinkat(j->dirfd, tmp, 0);
    return false;
}

static int
replay_segment(struct journal *j, uint64_t n, journal_line_fn fn, void *arg, char *err,
               size_t errsize)
{
    char *buf = NULL, name[64];
    size_t len = 0, off = 0, lineno = 0;
    int r = read_segment(j, n, &buf, &len, err, errsize);

    if (r < 0)
        return r;
    (void)snprintf(name, sizeof(name), "journal.%" PRIu64, n);
    while (off < len) {
        char *nl = memchr(buf + off, '\n', len - off);

        if (!nl) {
            int fd = openat(j->dirfd, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);

            log_warnx("job journal %s/%s:%zu: the last line is torn (%zu bytes without its "
                      "newline: drover stopped while writing it): dropped",
                      j->dir, name, lineno + 1, len - off);
            if (fd < 0 || ftruncate(fd, (off_t)off) < 0 || fsync(fd) < 0) {
                /* Left there, the next line would be glued to it: refuse to go on. */
                r = -errno;
                (void)snprintf(err, errsize, "cannot cut the torn last line of %s/%s: %s", j->dir,
                               name, strerror(errno));
                if (fd >= 0)
                    (void)close(fd);
                free(buf);
                return r;
            }
            (void)close(fd);
            len = off;
            break;
        }
        lineno++;
        fn(arg, buf + off, (size_t)(nl - (buf + off)), name, lineno);
        off = (size_t)(nl - buf) + 1;
    }
    free(buf);
    j->bytes += len;
    return 0;
}

static int
check_dir(struct journal *j, char *err, size_t errsize)
{
    struct stat st;

    /* mkdir -p: the state directory's parents (~/.local/state) may not exist yet. */
    for (char *p = strchr(j->dir + 1, '/'); p; p = strchr(p + 1, '/')) {
        *p = '\0';
        if (mkdir(j->dir, 0700) < 0 && errno != EEXIST) {
            int r = -errno;

            (void)snprintf(err, errsize, "cannot make %s: %s", j->dir, strerror(errno));
            *p = '/';
            return r;
        }
        *p = '/';
    }
    if (mkdir(j->dir, 0700) < 0 && errno != EEXIST) {
        int r = -errno;

        (void)snprintf(err, errsize, "cannot make the job store's directory %s: %s", j->dir,
                       strerror(errno));
        return r;
    }
    if ((j->dirfd = open(j->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
        int r = -errno;

        (void)snprintf(err, errsize, "cannot open the job store's directory %s: %s%s", j->dir,
                       strerror(errno), errno == ELOOP ? " (a symbolic link is refused)" : "");
        return r;
    }
    if (flock(j->dirfd, LOCK_EX | LOCK_NB) < 0) {
        int r = -errno;

        (void)snprintf(err, errsize,
                       "the job store %s is in use by another drover (it holds the directory's "
                       "lock): one store, one drover",
                       j->dir);
        return r == -EWOULDBLOCK ? -EBUSY : r;
    }
    if (fstat(j->dirfd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 022)) {
        (void)snprintf(err, errsize,
                       "the job store's directory %s is not owned by uid %u, or is writable by "
                       "group or others: not trusting it",
                       j->dir, (unsigned)geteuid());
        return -EPERM;
    }
    return 0;
}

static int
replay_all(struct journal *j, journal_is_snapshot_fn is_snapshot, journal_line_fn fn, void *arg,
           char *err, size_t errsize)
{
    DIR *d = fdopendir(dup(j->dirfd));
    struct dirent *de;
    uint64_t *segs = NULL, base = 0;
    size_t nsegs = 0, cap = 0;
    int r = 0;

    if (!d) {
        (void)snprintf(err, errsize, "cannot list %s: %s", j->dir, strerror(errno));
        return -errno;
    }
    while ((de = readdir(d))) {
        bool tmp;
        uint64_t n = segment_number(de->d_name, &tmp);

        if (!n)
            continue;
        if (tmp && !settle_tmp(j, de->d_name, n, is_snapshot))
            continue;
        if (nsegs == cap) {
            uint64_t *s = realloc(segs, (cap = cap ? cap * 2 : 8) * sizeof(*segs));

            if (!s) {
                r = -ENOMEM;
                break;
            }
            segs = s;
        }
        segs[nsegs++] = n;
    }
    (void)closedir(d);
    if (r < 0) {
        free(segs);
        (void)snprintf(err, errsize, "out of memory listing %s", j->dir);
        return r;
    }
    if (nsegs)
        qsort(segs, nsegs, sizeof(*segs), cmp_u64);
    for (size_t i = 1; i < nsegs;) /* a renamed .tmp may be listed under its new name too */
        if (segs[i] == segs[i - 1])
            memmove(&segs[i], &segs[i + 1], (--nsegs - i) * sizeof(*segs));
        else
            i++;
    bool snapshot = false;

    for (size_t i = nsegs; i-- > 0 && !base;)
        if ((snapshot = starts_with_snapshot(j, segs[i], is_snapshot)))
            base = segs[i];
    if (!base && nsegs)
        base = segs[0];
    for (size_t i = 0; i < nsegs && r == 0; i++) {
        char name[64];

        if (segs[i] < base) {
            (void)snprintf(name, sizeof(name), "journal.%" PRIu64, segs[i]);
            log_info("job journal: removing %s/%s, older than the snapshot in journal.%" PRIu64,
                     j->dir, name, base);
            (void)unlinkat(j->dirfd, name, 0);
            continue;
        }
        r = replay_segment(j, segs[i], fn, arg, err, errsize);
    }
    j->first = base ? base : 1;
    j->segment = nsegs ? segs[nsegs - 1] : 1;
    if (snapshot)
        j->snapshot_bytes = j->bytes;
    free(segs);
    return r;
}

int
journal_open(struct journal **ret, const char *dir, bool sync, struct loop *loop,
             struct timers *timers, journal_is_snapshot_fn is_snapshot, journal_line_fn fn,
             void *arg, journal_synced_fn synced, void *synced_arg, char *err, size_t errsize)
{
    struct journal *j = calloc(1, sizeof(*j));
    char name[64];
    int r;

    *ret = NULL;
    if (!j) {
        (void)snprintf(err, errsize, "out of memory");
        return -ENOMEM;
    }
    j->dirfd = j->fd = j->old_fd = -1;
    j->done_src = loop_source(-1, done_ready, LOOP_PRIO_SERVE);
    j->sync = sync;
    j->loop = loop;
    j->timers = timers;
    j->synced_fn = synced;
    j->synced_arg = synced_arg;
    timer_init(&j->group_timer, group_timer_fired);
    (void)pthread_mutex_init(&j->mu, NULL);
    (void)pthread_cond_init(&j->cv, NULL);
    if (snprintf(j->dir, sizeof(j->dir), "%s", dir) >= (int)sizeof(j->dir)) {
        (void)snprintf(err, errsize, "the job store's directory is too long a path");
        r = -ENAMETOOLONG;
        goto fail;
    }
    if ((r = check_dir(j, err, errsize)) < 0 ||
        (r = replay_all(j, is_snapshot, fn, arg, err, errsize)) < 0)
        goto fail;
    (void)snprintf(name, sizeof(name), "journal.%" PRIu64, j->segment);
    j->fd = openat(j->dirfd, name, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (j->fd < 0 || fsync(j->dirfd) < 0) {
        r = -errno;
        (void)snprintf(err, errsize, "cannot open %s/%s for writing: %s", j->dir, name,
                       strerror(errno));
        goto fail;
    }
    if ((j->done_src.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0 ||
        (r = loop_add(loop, &j->done_src)) < 0) {
        r = j->done_src.fd < 0 ? -errno : r;
        (void)snprintf(err, errsize, "cannot make the journal's eventfd: %s", strerror(-r));
        goto fail;
    }
    if ((r = pthread_create(&j->thread, NULL, sync_thread, j)) != 0) {
        (void)snprintf(err, errsize, "cannot start the journal's sync thread: %s", strerror(r));
        r = -r;
        goto fail;
    }
    j->thread_started = true;
    *ret = j;
    return 0;
fail:
    journal_close(j);
    return r;
}

void
journal_close(struct journal *j)
{
    if (!j)
        return;
    if (j->thread_started) {
        journal_flush(j);
        if (j->written_seq > j->posted_seq || j->fin_pending)
            post(j);
        (void)pthread_mutex_lock(&j->mu);
        j->stop = true;
        (void)pthread_cond_signal(&j->cv);
        (void)pthread_mutex_unlock(&j->mu);
        (void)pthread_join(j->thread, NULL); /* it takes what is posted before it stops */
        if (j->fin_pending && j->fin_done_gen == j->fin_gen)
            j->fin_pending = false; /* the thread closed the old segment */
        if (j->fail_errno)
            set_err(j, j->fail_what, j->fail_errno);
        else if (j->len)
            log_errorx("job journal: %zu bytes could not be written to %s before drover stopped",
                       j->len, j->dir);
    }
    if (j->timers)
        timer_cancel(j->timers, &j->group_timer);
    if (j->done_src.fd >= 0)
        loop_close(j->loop, &j->done_src);
    if (j->fd >= 0)
        (void)close(j->fd);
    if (j->old_fd >= 0)
        (void)close(j->old_fd);
    if (j->fin_pending && j->fin.old_fd >= 0)
        (void)close(j->fin.old_fd); /* its finish did not happen: the next open sees the .tmp */
    if (j->dirfd >= 0)
        (void)close(j->dirfd);
    (void)pthread_cond_destroy(&j->cv);
    (void)pthread_mutex_destroy(&j->mu);
    free(j->buf);
    free(j);
}

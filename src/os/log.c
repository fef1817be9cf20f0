/*
 * log: formatting and writing of log lines, never waiting for the reader.
 * See log.h.
 */
#include "os/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum log_level log_threshold = LOG_LVL_INFO;

enum sink {
    SINK_WRITE, /* write(2): a regular file, or a description of our own that does not block */
    SINK_SEND,  /* send(MSG_DONTWAIT): a socket, whose description may be shared */
    SINK_POLL,  /* write(2) after poll() says there is room: no description of our own */
};

static int out_fd = 2;
static enum sink sink = SINK_WRITE;
static bool exit_hook;

/* Lines the reader has not taken yet: pend[pend_off, pend_off + pend_len), whole lines. */
static char pend[LOG_PENDING_MAX];
static size_t pend_off, pend_len;
static unsigned long long dropped_full;   /* the buffer was full */
static unsigned long long dropped_failed; /* the write failed (no reader any more, disk full) */
/* Every line ever dropped: never reset (the two above are, once reported). */
static unsigned long long dropped_ever;
static int failed_errno;

static int (*watch_fn)(int fd, void *arg);
static void *watch_arg;
static bool watched; /* watch_fn took out_fd: the loop calls log_flush() when there is room */

static const char *const level_names[LOG_LVL__MAX] = {
    [LOG_LVL_DEBUG] = "debug",
    [LOG_LVL_INFO] = "info",
    [LOG_LVL_WARN] = "warn",
    [LOG_LVL_ERROR] = "error",
};

static bool
room_now(void)
{
    struct pollfd p = { .fd = out_fd, .events = POLLOUT };

    /* POLLERR (no reader any more) counts: the write then says what is wrong. */
    return poll(&p, 1, 0) == 1;
}

static ssize_t
raw_write(const char *p, size_t n)
{
    for (;;) {
        ssize_t w;

        if (sink == SINK_SEND) {
            w = send(out_fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        } else if (sink == SINK_POLL && !room_now()) {
            errno = EAGAIN;
            return -1;
        } else {
            w = write(out_fd, p, n);
        }
        if (w >= 0 || errno != EINTR)
            return w;
    }
}

static bool
would_block(int err)
{
    return err == EAGAIN || err == EWOULDBLOCK;
}

static void
set_watched(bool want)
{
    if (!watch_fn || want == watched)
        return;
    if (want) {
        watched = watch_fn(out_fd, watch_arg) == 0;
    } else {
        (void)watch_fn(-1, watch_arg);
        watched = false;
    }
}

/* Appends whole lines, if they fit. */
static bool
pend_add(const char *p, size_t n)
{
    if (pend_off + pend_len + n > sizeof(pend) && pend_off > 0) {
        memmove(pend, pend + pend_off, pend_len);
        pend_off = 0;
    }
    if (pend_len + n > sizeof(pend))
        return false;
    memcpy(pend + pend_off + pend_len, p, n);
    pend_len += n;
    return true;
}

static void
write_failed(unsigned long long lines, int err)
{
    dropped_failed += lines;
    dropped_ever += lines;
    failed_errno = err;
}

/* The lines lost are said once the log takes lines again. */
static void
report_drops(void)
{
    unsigned long long full = dropped_full, failed = dropped_failed;

    if (!full && !failed)
        return;
    dropped_full = dropped_failed = 0;
    if (full)
        log_emit(LOG_LVL_WARN, false,
                 "log: %llu line%s dropped while the log reader was not reading", full,
                 full == 1 ? "" : "s");
    if (failed)
        log_emit(LOG_LVL_WARN, false, "log: %llu line%s dropped: cannot write the log: %s", failed,
                 failed == 1 ? "" : "s", strerror(failed_errno));
}

/* The next write: whole lines, at most PIPE_BUF bytes, so a pipe takes it in one piece. */
static size_t
chunk_len(void)
{
    const char *nl;

    if (pend_len <= PIPE_BUF)
        return pend_len;
    nl = memrchr(pend + pend_off, '\n', PIPE_BUF);
    return nl ? (size_t)(nl - (pend + pend_off)) + 1 : PIPE_BUF;
}

void
log_flush(void)
{
    while (pend_len > 0) {
        ssize_t w = raw_write(pend + pend_off, chunk_len());

        if (w < 0 && would_block(errno)) {
            set_watched(true);
            return;
        }
        if (w < 0) {
            unsigned long long lines = 0;

            for (size_t i = 0; i < pend_len; i++)
                lines += pend[pend_off + i] == '\n';
            write_failed(lines, errno);
            pend_len = 0;
            break;
        }
        pend_off += (size_t)w;
        pend_len -= (size_t)w;
    }
    pend_off = 0;
    set_watched(false);
    report_drops();
}

static void
out(const char *line, size_t len)
{
    ssize_t w;

    if (pend_len > 0 && !watched)
        log_flush(); /* nobody watches the fd for us: try again at each line */
    if (pend_len > 0) {
        if (!pend_add(line, len)) {
            dropped_full++; /* whole lines only: the log stays readable */
            dropped_ever++;
        }
        return;
    }
    w = raw_write(line, len);
    if (w == (ssize_t)len) {
        report_drops();
        return;
    }
    if (w < 0 && !would_block(errno)) {
        write_failed(1, errno);
        return;
    }
    /* The rest of this line (all of it if nothing was taken) fits: the buffer is empty. */
    (void)pend_add(line + (w > 0 ? w : 0), len - (size_t)(w > 0 ? w : 0));
    set_watched(true);
}

bool
log_passthrough(const char *line, size_t len)
{
    unsigned long long before = dropped_ever;

    /* Not dropped_full + dropped_failed: a write that works reports and resets them. */
    out(line, len);
    return dropped_ever == before;
}

static int64_t
now_ms(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* At exit: what is pending gets LOG_EXIT_WAIT_MS to go out; then it is lost, but we exit. */
static void
flush_at_exit(void)
{
    int64_t deadline = now_ms() + LOG_EXIT_WAIT_MS;

    watch_fn = NULL; /* the loop is gone */
    watched = false;
    for (;;) {
        struct pollfd p = { .fd = out_fd, .events = POLLOUT };
        int64_t left;

        log_flush();
        left = deadline - now_ms();
        if (pend_len == 0 || left <= 0)
            return;
        (void)poll(&p, 1, (int)left);
    }
}

static void
use_fd(int fd, bool ours, enum log_level threshold)
{
    struct stat st;

    out_fd = fd;
    sink = SINK_WRITE;
    log_threshold = threshold;
    if (!exit_hook)
        exit_hook = atexit(flush_at_exit) == 0;
    if (fstat(fd, &st) < 0 || S_ISREG(st.st_mode))
        return; /* a regular file never waits for a reader */
    if (S_ISSOCK(st.st_mode)) {
        sink = SINK_SEND;
        return;
    }
    if (!ours) {
        /*
         * A pipe, FIFO or terminal shared with the children: a description
         * of our own can be non-blocking without changing theirs.
         */
        char path[32];
        int priv;

        (void)snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        priv = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (priv >= 0) {
            out_fd = priv;
            return;
        }
        /* No /proc, or the FIFO's reader is gone: look before each write instead. */
        sink = SINK_POLL;
    }
}

void
log_init(int fd, enum log_level threshold)
{
    use_fd(fd, false, threshold);
}

int
log_open(const char *path, enum log_level threshold)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0644);
    struct stat st;

    if (fd < 0 && errno == ENXIO && stat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        return -ESOCKTNOSUPPORT; /* ENXIO too, but not the FIFO case callers explain */
    if (fd < 0)
        return -errno;
    use_fd(fd, true, threshold); /* ours alone: non-blocking itself */
    return 0;
}

void
log_set_watch(int (*watch)(int fd, void *arg), void *arg)
{
    watch_fn = watch;
    watch_arg = arg;
    watched = false;
    if (pend_len > 0)
        set_watched(true);
}

static void
vemit(enum log_level level, int saved_errno, const char *fmt, va_list ap)
{
    char line[2048];
    struct timespec ts;
    struct tm tm;
    size_t len;
    int n;

    (void)clock_gettime(CLOCK_REALTIME, &ts);
    (void)gmtime_r(&ts.tv_sec, &tm);
    len = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    n = snprintf(line + len, sizeof(line) - len, ".%03ldZ %-5s ", ts.tv_nsec / 1000000,
                 level_names[level]);
    len += n > 0 ? (size_t)n : 0;
    n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
    len += n > 0 ? (size_t)n : 0;
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    if (saved_errno >= 0) {
        n = snprintf(line + len, sizeof(line) - len, ": %s", strerror(saved_errno));
        len += n > 0 ? (size_t)n : 0;
        if (len > sizeof(line) - 2)
            len = sizeof(line) - 2;
    }
    line[len++] = '\n';
    out(line, len);
}

void
log_emit(enum log_level level, bool with_errno, const char *fmt, ...)
{
    int saved_errno = errno;
    va_list ap;

    if (level < log_threshold)
        return;
    va_start(ap, fmt);
    vemit(level, with_errno ? saved_errno : -1, fmt, ap);
    va_end(ap);
    errno = saved_errno;
}

void
log_fatal(bool with_errno, const char *fmt, ...)
{
    int saved_errno = errno;
    va_list ap;

    va_start(ap, fmt);
    vemit(LOG_LVL_ERROR, with_errno ? saved_errno : -1, fmt, ap);
    va_end(ap);
    exit(1);
}

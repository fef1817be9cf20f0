/*
 * log: formatting and writing of log lines. See log.h.
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum log_level log_threshold = LOG_INFO;
static int log_fd = 2;

static const char *const level_names[LOG__MAX] = {
    [LOG_DEBUG] = "debug",
    [LOG_INFO] = "info",
    [LOG_WARN] = "warn",
    [LOG_ERROR] = "error",
};

void
log_init(int fd, enum log_level threshold)
{
    log_fd = fd;
    log_threshold = threshold;
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
    /* A failed log write has nowhere to be reported; supervision goes on. */
    (void)!write(log_fd, line, len);
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
    vemit(LOG_ERROR, with_errno ? saved_errno : -1, fmt, ap);
    va_end(ap);
    exit(1);
}

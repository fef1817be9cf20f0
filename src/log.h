/*
 * log: one line per event, timestamped, to stderr or a --log file.
 *
 * OpenBSD vocabulary: log_warn() appends strerror(errno), log_warnx() does
 * not; fatal()/fatalx() likewise and exit(1), and are only for start-up.
 * The level is checked before any formatting. A line is written with one
 * write(2) so concurrent writers never interleave mid-line.
 */
#ifndef DROVER_LOG_H
#define DROVER_LOG_H

#include <stdbool.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG__MAX, LOG_INVALID = -1 };

extern enum log_level log_threshold;

/* Where lines go (borrowed fd, default 2) and the lowest level written. */
void log_init(int fd, enum log_level threshold);

void log_emit(enum log_level level, bool with_errno, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
_Noreturn void log_fatal(bool with_errno, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (log_threshold <= LOG_DEBUG)                                                            \
            log_emit(LOG_DEBUG, false, __VA_ARGS__);                                               \
    } while (0)
#define log_info(...)                                                                              \
    do {                                                                                           \
        if (log_threshold <= LOG_INFO)                                                             \
            log_emit(LOG_INFO, false, __VA_ARGS__);                                                \
    } while (0)
#define log_warn(...) log_emit(LOG_WARN, true, __VA_ARGS__)
#define log_warnx(...) log_emit(LOG_WARN, false, __VA_ARGS__)
#define log_error(...) log_emit(LOG_ERROR, true, __VA_ARGS__)
#define log_errorx(...) log_emit(LOG_ERROR, false, __VA_ARGS__)
#define fatal(...) log_fatal(true, __VA_ARGS__)
#define fatalx(...) log_fatal(false, __VA_ARGS__)

#endif

/*
 * log: one line per event, timestamped, to stderr or a --log file.
 *
 * OpenBSD vocabulary: log_warn() appends strerror(errno), log_warnx() does
 * not; fatal()/fatalx() likewise and exit(1), and are only for start-up.
 * The level is checked before any formatting.
 *
 * Owns the log's destination and never blocks on it: a reader of drover's
 * stderr (a pipe, a FIFO, a terminal, journald's stream socket) or of a
 * --log FIFO that stops reading must not stop supervision. Lines are
 * written without waiting; what cannot be written yet waits, in order, in
 * a bounded buffer (LOG_PENDING_MAX); when that is full, whole lines are
 * dropped and counted, and once the buffer is out one line says how many.
 * Each write is whole lines of at most PIPE_BUF bytes, so lines never
 * interleave mid-line with the children's output to the same pipe.
 *
 * The description shared with the children (instances without "output"
 * inherit drover's stderr) keeps its flags, so the children's own writes
 * still block as they expect: drover writes through a private,
 * non-blocking description of the same pipe, FIFO or terminal (opened
 * through /proc/self/fd), with send(MSG_DONTWAIT) to a socket, and
 * directly to a regular file, which never waits for a reader.
 *
 * No loop knowledge: whoever owns the loop registers a watch, told the fd
 * to wait for writability while lines are pending (and -1 when none are),
 * and calls log_flush() when it is writable. At exit, what is pending gets
 * a short bounded wait (LOG_EXIT_WAIT_MS), never more.
 */
#ifndef DROVER_LOG_H
#define DROVER_LOG_H

#include <stdbool.h>
#include <stddef.h>

#define LOG_PENDING_MAX (256 * 1024) /* bytes waiting for a slow reader */
#define LOG_EXIT_WAIT_MS 500

enum log_level {
    LOG_LVL_DEBUG,
    LOG_LVL_INFO,
    LOG_LVL_WARN,
    LOG_LVL_ERROR,
    LOG_LVL__MAX,
    LOG_LVL_INVALID = -1
};

extern enum log_level log_threshold;

/* Lines go to fd (borrowed, default 2; its flags are left alone), threshold and up. */
void log_init(int fd, enum log_level threshold);
/*
 * Lines go to path, opened for appending (created 0644) without waiting.
 * Returns 0 or -errno; -ENXIO: a FIFO nobody reads yet; -ESOCKTNOSUPPORT: a socket.
 */
int log_open(const char *path, enum log_level threshold);

/*
 * watch(fd, arg) is called when lines start waiting (fd: wait until it is
 * writable, then call log_flush()) and watch(-1, arg) when none are left;
 * it returns 0 or -errno (then log.c tries again at its next line). It must
 * not log. NULL: no watch (at teardown; log.c then flushes at each line).
 */
void log_set_watch(int (*watch)(int fd, void *arg), void *arg);
/* Writes what is pending, as much as the reader takes now. */
void log_flush(void);

/*
 * Someone else's line (a captured child's "name:index | text\n"), written as
 * it is, through the same buffer as drover's own. Returns false when it was
 * dropped (the buffer is full: the reader is not reading).
 */
bool log_passthrough(const char *line, size_t len);

void log_emit(enum log_level level, bool with_errno, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
_Noreturn void log_fatal(bool with_errno, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (log_threshold <= LOG_LVL_DEBUG)                                                        \
            log_emit(LOG_LVL_DEBUG, false, __VA_ARGS__);                                           \
    } while (0)
#define log_info(...)                                                                              \
    do {                                                                                           \
        if (log_threshold <= LOG_LVL_INFO)                                                         \
            log_emit(LOG_LVL_INFO, false, __VA_ARGS__);                                            \
    } while (0)
#define log_warn(...) log_emit(LOG_LVL_WARN, true, __VA_ARGS__)
#define log_warnx(...) log_emit(LOG_LVL_WARN, false, __VA_ARGS__)
#define log_error(...) log_emit(LOG_LVL_ERROR, true, __VA_ARGS__)
#define log_errorx(...) log_emit(LOG_LVL_ERROR, false, __VA_ARGS__)
#define fatal(...) log_fatal(true, __VA_ARGS__)
#define fatalx(...) log_fatal(false, __VA_ARGS__)

#endif

/*
 * cli_io: what the two command runners (cli_main.c, cli_jobs.c) share with
 * the process around them: the usage-error lines on stderr, writes to
 * stdout that say when they fail, and SIGINT/SIGTERM while a command waits.
 *
 * Not pure: stdio, the signal mask and dispositions. Not thread-safe (the
 * CLI is the whole process). Nothing here exits; the exit codes returned
 * are cli_main.h's.
 */
#ifndef DROVER_CLI_IO_H
#define DROVER_CLI_IO_H

#include <signal.h>
#include <stdarg.h>
#include <stddef.h>

/*
 * "drover: [PREFIX: ]MESSAGE" and "Try 'drover help[ CMD]'." on stderr, the
 * message (fmt, ap; up to 2047 bytes) with bytes that are not UTF-8, and
 * controls, as \xHH: it quotes what was typed. prefix and cmd may be NULL
 * or "". Returns CLI_EXIT_USAGE.
 */
int cli_usage_error(const char *prefix, const char *cmd, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Writes n bytes to stdout and flushes: CLI_EXIT_OK, or CLI_EXIT_FAILED with a message. */
int cli_emit(const void *p, size_t n);

/* SIGINT and SIGTERM while the CLI waits: what they were, to put back. */
struct cli_stop_signals {
    struct sigaction old_int, old_term;
    sigset_t saved;     /* the mask before */
    sigset_t wait_mask; /* for ppoll(): the stop signals let through */
};

/*
 * SIGINT and SIGTERM stay blocked except inside ppoll(st->wait_mask), so one
 * arriving at any point ends the next wait with EINTR, never mid-line. One
 * the shell set to be ignored (a background job) stays ignored.
 */
void cli_stop_signals_catch(struct cli_stop_signals *st);
void cli_stop_signals_restore(const struct cli_stop_signals *st);

#endif

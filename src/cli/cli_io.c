/*
 * cli_io: usage errors, stdout writes and stop signals for the CLI's commands. See cli_io.h.
 */
#include "cli/cli_io.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/utf8.h"
#include "cli/cli_main.h"

int
cli_usage_error(const char *prefix, const char *cmd, const char *fmt, va_list ap)
{
    char msg[2048], shown[4 * sizeof(msg)];
    bool pre = prefix && *prefix, sub = cmd && *cmd;
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);

    (void)utf8_escape(msg,
                      n < 0                     ? 0
                      : (size_t)n < sizeof(msg) ? (size_t)n
                                                : sizeof(msg) - 1,
                      shown, sizeof(shown), UTF8_ESCAPE_CONTROLS);
    fprintf(stderr, "drover: %s%s%s\n", pre ? prefix : "", pre ? ": " : "", shown);
    fprintf(stderr, "Try 'drover help%s%s'.\n", sub ? " " : "", sub ? cmd : "");
    return CLI_EXIT_USAGE;
}

int
cli_emit(const void *p, size_t n)
{
    if ((n && fwrite(p, 1, n, stdout) != n) || fflush(stdout) == EOF) {
        fprintf(stderr, "drover: cannot write to standard output: %s\n", strerror(errno));
        return CLI_EXIT_FAILED;
    }
    return CLI_EXIT_OK;
}

static void
on_stop_signal(int sig)
{
    (void)sig; /* only there so ppoll() returns EINTR */
}

void
cli_stop_signals_catch(struct cli_stop_signals *st)
{
    struct sigaction sa = { .sa_handler = on_stop_signal };
    sigset_t block;

    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigemptyset(&sa.sa_mask);
    (void)sigprocmask(SIG_BLOCK, &block, &st->saved);
    st->wait_mask = st->saved;
    sigdelset(&st->wait_mask, SIGINT);
    sigdelset(&st->wait_mask, SIGTERM);
    (void)sigaction(SIGINT, NULL, &st->old_int);
    (void)sigaction(SIGTERM, NULL, &st->old_term);
    if (st->old_int.sa_handler != SIG_IGN)
        (void)sigaction(SIGINT, &sa, NULL);
    if (st->old_term.sa_handler != SIG_IGN)
        (void)sigaction(SIGTERM, &sa, NULL);
}

void
cli_stop_signals_restore(const struct cli_stop_signals *st)
{
    (void)sigaction(SIGINT, &st->old_int, NULL);
    (void)sigaction(SIGTERM, &st->old_term, NULL);
    (void)sigprocmask(SIG_SETMASK, &st->saved, NULL);
}

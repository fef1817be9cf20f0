/*
 * sig: the one list of signals drover handles itself (through a signalfd):
 * SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR1. main() blocks them once the
 * configuration is loaded; the supervisor reads them from a signalfd; each
 * child unblocks everything before exec (spawn.c).
 */
#ifndef DROVER_SIG_H
#define DROVER_SIG_H

#include <signal.h>

/* Fills *ret with the handled signals. */
void sig_handled(sigset_t *ret);

/* Blocks the handled signals and ignores SIGPIPE (writes to gone peers fail with EPIPE instead). */
void sig_block_handled(void);

#endif

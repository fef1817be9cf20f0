/*
 * sig: the one list of signals drover handles itself (through a signalfd):
 * SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR1, and as pid 1 of a pid
 * namespace (a container's init) also the signals whose default action
 * would end it (sig_ends_process()). main() blocks them once the
 * configuration is loaded; the supervisor reads them from a signalfd; each
 * child unblocks everything before exec (spawn.c).
 */
#ifndef DROVER_SIG_H
#define DROVER_SIG_H

#include <signal.h>
#include <stdbool.h>

/* Fills *ret with the handled signals (more when we are pid 1: see sig_ends_process()). */
void sig_handled(sigset_t *ret);

/* Blocks the handled signals and ignores SIGPIPE (writes to gone peers fail with EPIPE instead). */
void sig_block_handled(void);

/*
 * Is sig one that, left at its default, would end drover outside a
 * container (SIGQUIT, SIGUSR2, SIGALRM, ...), and that drover does not
 * handle otherwise? The kernel drops such a signal sent to a pid
 * namespace's init, so as pid 1 drover reads them, and ends as it would
 * have (supervisor.c).
 */
bool sig_ends_process(int sig);

#endif

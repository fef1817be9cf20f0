/*
 * cli_jobs: the jobs verbs of the `drover` client: `job submit|get|wait|list|
 * cancel|retry|rm|events`, `queues` and `run`. Their own argv (the options
 * are theirs), requests over the control socket (cli.h), output through
 * cli_jobs_render.h, exit codes.
 *
 * cli_main() hands a command line over when cli_jobs_is_verb() says its
 * verb is one of these. Exit codes: 0 ok, 1 the job failed or was
 * cancelled, or the daemon refused (any 4xx), or a malformed answer; 2
 * usage; 3 unreachable; 124 a wait timed out. Output on stdout, errors on
 * stderr as "drover: ..." lines. Not thread-safe (it is the whole process).
 */
#ifndef DROVER_CLI_JOBS_H
#define DROVER_CLI_JOBS_H

#include <stdbool.h>
#include <stdio.h>

#define CLI_EXIT_WAIT_TIMEOUT 124

/* True for "job", "queues" and "run". */
bool cli_jobs_is_verb(const char *arg);

/* The lines `drover help` lists for these verbs. */
void cli_jobs_usage(FILE *f);

/* `drover help VERB` for one of them (VERB may be "job submit" split as verb, sub). */
void cli_jobs_help(FILE *f, const char *verb, const char *sub);

/* Runs the command in argv (argv[0] the program name, --control anywhere); the exit code. */
int cli_jobs_main(int argc, char **argv);

#endif

/*
 * cli_main: the `drover COMMAND` client: argv, one request over the control
 * socket (cli.h), output and exit codes; no logic of its own.
 *
 * main() hands over when cli_is_command(argc, argv) says the command
 * line is a CLI command. Output goes to stdout, errors to stderr as one
 * "drover: ..." line each (not through log.c). Exit codes (docs/cli.md):
 * 0 ok, 1 refused, failed or unhealthy, 2 usage error or a 400/404 answer
 * about what was typed, 3 daemon unreachable. The jobs verbs (job, queues,
 * run) are cli_jobs.h's: cli_main() hands their command lines over whole.
 */
#ifndef DROVER_CLI_MAIN_H
#define DROVER_CLI_MAIN_H

#include <stdbool.h>

enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAILED = 1,
    CLI_EXIT_USAGE = 2,
    CLI_EXIT_UNREACHABLE = 3,
};

/* True for a CLI verb: status start stop ... help, and the jobs verbs (cli_jobs.h). */
bool cli_is_verb(const char *arg);

/*
 * True when argv is a CLI command line, for main() to hand over: argv[1] is
 * a verb, or argv[1..] is "--control PATH" or "--control=PATH" followed by
 * a verb. Anything else is the daemon's.
 */
bool cli_is_command(int argc, char **argv);

/* Runs the command in argv (argv[0] is the program name); returns the exit code. */
int cli_main(int argc, char **argv);

#endif

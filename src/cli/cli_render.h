/*
 * cli_render: the daemon's answers as the CLI prints them. The renderers
 * take a JSON body (borrowed; it need not be NUL-terminated) and return
 * malloc'ed text the caller frees, or NULL with a one-line reason in err
 * (malformed JSON, a missing member, an unknown instance, out of memory);
 * cli_error_text() and cli_format_uptime() fill the caller's buffer instead.
 *
 * Pure: no I/O, no logging, no state, so the output is checked against the
 * golden files in tests/golden/ (tests/unit/test_cli.c) without a daemon.
 * Fetching the body is cli.h's business; printing it and picking the exit
 * code, cli_main.c's. ret_* out-parameters are written on success only, err
 * on failure only.
 */
#ifndef DROVER_CLI_RENDER_H
#define DROVER_CLI_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The one-line message for an error answer: the body's "error" text with the
 * name, parameter, value and expectation it gives, else "HTTP CODE" and the
 * start of the body. Returns buf.
 */
char *cli_error_text(int code, const char *body, size_t body_len, char *buf, size_t len);

/* "0:00:12", "12:03:04", "3d 4:05:06"; "-" for a negative or non-finite value. Returns buf. */
char *cli_format_uptime(double seconds, char *buf, size_t len);

/*
 * GET /status rendered as a table (NAME STATE PID PORT UPTIME RESTARTS LAST EXIT
 * STATUS). filter "prog:i" keeps only that instance; NULL, "all" or "prog"
 * keep everything in the body. NULL with err on malformed JSON or an unknown
 * instance.
 */
char *cli_render_status(const char *body, size_t body_len, const char *filter, char *err,
                        size_t errlen);
/* The /status body reduced to instance "prog:i" (same shape), compact JSON. */
char *cli_filter_status_json(const char *body, size_t body_len, const char *filter, char *err,
                             size_t errlen);

/*
 * GET /events: one line per event ("" when there are none). *ret_next gets
 * "next", *ret_gap the gap flag (events between the asked-for sequence and
 * the oldest kept were dropped).
 */
char *cli_render_events(const char *body, size_t body_len, uint64_t *ret_next, bool *ret_gap,
                        char *err, size_t errlen);

/* GET /health: a summary line, then one line per unhealthy instance. *ret_healthy: the verdict. */
/*
 * GET /logs/NAME's answer: each line's text, after "program:index | " when
 * prefix is set (NAME is a whole program); *ret_next the seq to follow from.
 */
char *cli_render_logs(const char *body, size_t body_len, bool prefix, uint64_t *ret_next, char *err,
                      size_t errlen);
char *cli_render_health(const char *body, size_t body_len, bool *ret_healthy, char *err,
                        size_t errlen);

/* POST start/stop/restart/signal/scale/shutdown: one line per affected instance. */
char *cli_render_action(const char *body, size_t body_len, char *err, size_t errlen);

/* reload and apply: the plan, one line per program, then the settings and what goes on. */
char *cli_render_plan(const char *body, size_t body_len, char *err, size_t errlen);
/* A refused configuration (400): its errors, one per line as the daemon gives them; NULL if none.
 */
char *cli_render_config_errors(const char *body, size_t body_len, char *err, size_t errlen);

#endif

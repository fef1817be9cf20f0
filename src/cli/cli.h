/*
 * cli: the client side of the control socket: where the socket is, one
 * HTTP/1.0 request over it, and the answer split into status and body.
 *
 * Two layers, kept apart so the first is unit-tested without a daemon
 * (tests/unit/test_cli.c):
 *   - pure helpers: socket path precedence, URL encoding, NAME splitting,
 *     response parsing (status line, headers, body), durations as text;
 *   - the transport, cli_request(): connect, send, read to EOF, bounded in
 *     time (poll with a deadline) and in size (CLI_RESPONSE_MAX).
 * Turning an answer's JSON body into text is cli_render's (cli_render.h).
 * Nothing here logs or exits; cli_main.c prints and picks the exit code.
 * Pointer parameters are borrowed; err buffers are written on failure only.
 */
#ifndef DROVER_CLI_H
#define DROVER_CLI_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Largest answer read from the daemon (/status of 100,000 instances is about 30 MiB). */
#define CLI_RESPONSE_MAX ((size_t)64 << 20)
/* Connect + request + answer must finish within this; a long poll adds its wait. */
#define CLI_TIMEOUT_MS 10000
#define CLI_ERR_MAX 512

/*
 * Percent-encodes s for a path segment or a query value: everything except
 * A-Z a-z 0-9 - . _ ~ and ':' becomes %XX. Returns buf, or NULL if it does
 * not fit.
 */
char *cli_url_encode(const char *s, char *buf, size_t len);
/* Appends "?key=value" or "&key=value" (value URL-encoded) to the target q (len bytes of
   room); a NULL value adds nothing. False when it does not fit. */
bool cli_add_query(char *q, size_t len, const char *key, const char *value);

/*
 * Splits NAME ("web", "web:3", "all") into the program part (copied to
 * ret_program) and the instance index (-1 when there is none). Returns 0, or
 * -EINVAL for an empty program part, a bad index ("web:", "web:x", "web:-1",
 * above 9999999) or a program part that does not fit.
 */
int cli_split_name(const char *name, char *ret_program, size_t len, long *ret_index);

/*
 * Splits an HTTP/1.x answer: status line, headers up to the empty line, body.
 * The body is borrowed from buf. A Content-Length header must match the body
 * length; Transfer-Encoding is refused (we speak HTTP/1.0). Returns 0 or
 * -EPROTO with the reason in err.
 */
int cli_parse_response(const char *buf, size_t len, int *ret_code, const char **ret_body,
                       size_t *ret_body_len, char *err, size_t errlen);

/* Seconds as "30s", "0.3s", "1.204s" (milliseconds, no trailing zeros), "?" if not finite. */
char *cli_format_seconds(double seconds, char *buf, size_t len);

/* One request's answer. raw is malloc'ed; body points into it and is NUL-terminated. */
struct cli_response {
    int code;
    char *raw;
    size_t raw_len;
    const char *body;
    size_t body_len;
    pid_t peer_pid; /* the daemon's pid (SO_PEERCRED) */
    int peer_pidfd; /* with want_pidfd: a pidfd of it, opened on connect, before the request; else
                       -1 */
};

/* Frees raw and closes peer_pidfd. */
void cli_response_done(struct cli_response *r);

struct cli_request_opts {
    int timeout_ms;            /* the whole exchange; <= 0: CLI_TIMEOUT_MS */
    size_t max_bytes;          /* 0: CLI_RESPONSE_MAX */
    const sigset_t *wait_mask; /* non-NULL: wait with ppoll(mask) so a blocked signal interrupts */
    bool want_pidfd;           /* also open a pidfd of the daemon (SO_PEERCRED's pid), on connect */
    const char *body;          /* non-NULL: sent after the head (Content-Length: body_len) */
    size_t body_len;
};

/*
 * Sends "METHOD TARGET HTTP/1.0" to the unix socket at path and reads the
 * answer to EOF. A path directly in drover's runtime directory is used only
 * if that directory is ours (rundir_check()); the peer must run as our
 * effective uid or as root (SO_PEERCRED), whatever the path. Returns 0 with
 * *ret filled, or:
 *   -EPERM       refused: the directory or the peer is someone else's (unreachable)
 *   -ENOENT, -ECONNREFUSED, -EACCES, ... connect failed (unreachable)
 *   -ETIMEDOUT   no complete answer within the timeout (unreachable)
 *   -ECONNRESET  the daemon closed the connection without answering (unreachable)
 *   -EPROTO      a malformed answer (status line, headers, Content-Length)
 *   -EFBIG       the answer exceeded max_bytes
 *   -EINTR       a signal arrived while waiting with wait_mask
 *   -ENOMEM
 * err gets one line saying what happened, naming the path.
 */
int cli_request(const char *path, const char *method, const char *target,
                const struct cli_request_opts *opts, struct cli_response *ret, char *err,
                size_t errlen);

/* True for the errors of cli_request() that mean "the daemon is not reachable" (exit 3). */
bool cli_unreachable(int r);

#endif

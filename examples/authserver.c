/*
 * authserver - example backend for drover's README (the time-service pool).
 *
 * A minimal single-threaded HTTP/1.0 server on 127.0.0.1:PORT that answers
 * every request with "200 OK" and the body "authserver ok".  With --log=FILE
 * it appends one line per request to FILE:
 *     <UTC ISO 8601 time> <peer ip>:<peer port> <request line, or ->
 * Exits 0 on SIGTERM/SIGINT, 1 if it cannot bind or open the log, 2 on bad
 * usage.
 *
 * Usage: authserver --port=N [--log=FILE]
 */
#include <fcntl.h>

#include "httpd_tiny.h"

static const char *prog = "authserver";

static const char usage_text[] = "authserver --port=N [--log=FILE]";

static void
handle(int cfd, const char *req, size_t len, const struct sockaddr_in *peer,
       void *ctx)
{
    int logfd = *(int *)ctx;

    (void)len;
    if (logfd >= 0) {
        char when[32], addr[INET_ADDRSTRLEN], reqline[512], line[640];
        int n;

        httpd_utc_timestamp(when, sizeof(when));
        if (inet_ntop(AF_INET, &peer->sin_addr, addr, sizeof(addr)) == NULL)
            snprintf(addr, sizeof(addr), "?");
        if (httpd_first_line(req, reqline, sizeof(reqline)) == 0)
            snprintf(reqline, sizeof(reqline), "-");
        n = snprintf(line, sizeof(line), "%s %s:%u %s\n", when, addr,
                     (unsigned)ntohs(peer->sin_port), reqline);
        if (n > 0 && (size_t)n < sizeof(line)) {
            /* one write() per line: O_APPEND keeps lines whole */
            if (write(logfd, line, (size_t)n) < 0)
                fprintf(stderr, "%s: log write: %s\n", prog, strerror(errno));
        }
    }
    httpd_respond(cfd, 200, "OK", "authserver ok\n");
}

int
main(int argc, char **argv)
{
    const char *port_arg = NULL;
    const char *log_path = NULL;
    int port, bound, lfd;
    int logfd = -1;
    int i;

    for (i = 1; i < argc; i++) {
        const char *v;

        if (strcmp(argv[i], "--help") == 0) {
            printf("usage: %s\n", usage_text);
            return 0;
        } else if ((v = httpd_opt_value(prog, argc, argv, &i, "--port"))) {
            port_arg = v;
        } else if ((v = httpd_opt_value(prog, argc, argv, &i, "--log"))) {
            log_path = v;
        } else {
            httpd_usage_error(prog, usage_text, "unknown argument '%s'",
                              argv[i]);
        }
    }
    if (port_arg == NULL)
        httpd_usage_error(prog, usage_text, "--port is required");
    if (httpd_parse_port(port_arg, 0, &port) < 0)
        httpd_usage_error(prog, usage_text, "invalid port '%s'",
                          port_arg);
    if (log_path != NULL && log_path[0] == '\0')
        httpd_usage_error(prog, usage_text, "--log needs a file name");

    if (log_path != NULL) {
        logfd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
                     0644);
        if (logfd < 0) {
            fprintf(stderr, "%s: cannot open log %s: %s\n",
                    prog, log_path, strerror(errno));
            return 1;
        }
    }

    lfd = httpd_listen(prog, port, &bound);
    printf("%s listening on 127.0.0.1:%d\n", prog, bound);
    fflush(stdout);

    return httpd_serve(prog, lfd, handle, &logfd);
}

/*
 * timeserver - example backend for drover's README (the time-service pool).
 *
 * A minimal single-threaded HTTP/1.0 server on 127.0.0.1:PORT.  "GET /"
 * answers 200 with the current UTC time in ISO 8601 ("2026-11-23T11:31:00Z"),
 * any other method or path answers 404, a request without a request line
 * (e.g. nothing sent before the 2 s timeout) answers 400.  --authport is not
 * used for anything; it is only echoed in the startup line.
 * Exits 0 on SIGTERM/SIGINT, 1 if it cannot bind, 2 on bad usage.
 *
 * Usage: timeserver --port=N [--authport=N]
 */
#include "httpd_tiny.h"

static const char *prog = "timeserver";

static const char usage_text[] = "timeserver --port=N [--authport=N]";

static void
handle(int cfd, const char *req, size_t len, const struct sockaddr_in *peer,
       void *ctx)
{
    char line[512], body[40];
    char *method, *target, *save = NULL;

    (void)len;
    (void)peer;
    (void)ctx;
    httpd_first_line(req, line, sizeof(line));
    method = strtok_r(line, " ", &save);
    target = method ? strtok_r(NULL, " ", &save) : NULL;
    if (method == NULL || target == NULL) {
        httpd_respond(cfd, 400, "Bad Request", "bad request\n");
    } else if (strcmp(method, "GET") == 0 && strcmp(target, "/") == 0) {
        httpd_utc_timestamp(body, sizeof(body) - 1);
        strcat(body, "\n");
        httpd_respond(cfd, 200, "OK", body);
    } else {
        httpd_respond(cfd, 404, "Not Found", "not found\n");
    }
}

int
main(int argc, char **argv)
{
    const char *port_arg = NULL;
    const char *authport_arg = NULL;
    int port, authport = 0, bound, lfd;
    int i;

    for (i = 1; i < argc; i++) {
        const char *v;

        if (strcmp(argv[i], "--help") == 0) {
            printf("usage: %s\n", usage_text);
            return 0;
        } else if ((v = httpd_opt_value(prog, argc, argv, &i, "--port"))) {
            port_arg = v;
        } else if ((v = httpd_opt_value(prog, argc, argv, &i,
                                        "--authport"))) {
            authport_arg = v;
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
    if (authport_arg != NULL && httpd_parse_port(authport_arg, 1,
                                                 &authport) < 0)
        httpd_usage_error(prog, usage_text, "invalid auth port '%s'",
                          authport_arg);

    lfd = httpd_listen(prog, port, &bound);
    if (authport_arg != NULL)
        printf("%s listening on 127.0.0.1:%d (authport %d)\n",
               prog, bound, authport);
    else
        printf("%s listening on 127.0.0.1:%d\n", prog, bound);
    fflush(stdout);

    return httpd_serve(prog, lfd, handle, NULL);
}

/*
 * probe_spec: what a probe is, as the configuration says it: its kind, its
 * settings, its address parsed to a socket address, and the status-line
 * parser for an HTTP answer. Pure: no system calls, no logging, no globals;
 * unit-tested (test_probe_spec) and fuzzed (fuzz_probe_spec). os/probe runs
 * the attempts.
 *
 * Addresses are numeric (IPv4, IPv6, or "localhost"): no DNS lookup can stall
 * supervision.
 */
#ifndef DROVER_PROBE_SPEC_H
#define DROVER_PROBE_SPEC_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum probe_kind {
    PROBE_NONE,
    PROBE_TCP,
    PROBE_HTTP,
    PROBE_COMMAND,
    PROBE__MAX,
    PROBE_INVALID = -1
};

struct probe_cfg {
    enum probe_kind kind;
    char *target; /* tcp "HOST:PORT", http "http://HOST[:PORT]/PATH"; templates */
    char **argv;  /* command: templates, NULL-terminated */
    size_t argc;
    bool uses_port; /* a template mentions {{port}} */
    int64_t interval_ms;
    int64_t timeout_ms;
    unsigned failures;       /* health: consecutive failures before a restart */
    int64_t start_period_ms; /* health: no checks this long after the start */
    bool idle_only;          /* health: only check instances that have not beaten for an interval */
};

struct probe_addr {
    struct sockaddr_storage sa;
    socklen_t len;
    char host[64];  /* as written, for the Host: header */
    char path[256]; /* http */
};

/* "HOST:PORT", HOST numeric or localhost, IPv6 in brackets. Returns 0 or -EINVAL. */
int probe_parse_tcp(const char *s, struct probe_addr *ret);
/* "http://HOST[:PORT][/PATH]". Returns 0 or -EINVAL. */
int probe_parse_http(const char *s, struct probe_addr *ret);
/* The status code of an HTTP status line ("HTTP/1.1 200 OK"), or -EINVAL. */
int probe_parse_status(const char *line, size_t len);

/*
 * The request an http probe sends for a: "GET PATH HTTP/1.0" and a Host
 * header as RFC 7230 writes it (an IPv6 address in brackets, the port unless
 * it is 80). Returns its length, or -ENOSPC when it does not fit in len.
 */
int probe_http_request(const struct probe_addr *a, char *buf, size_t len);

const char *probe_kind_name(enum probe_kind k);

#endif

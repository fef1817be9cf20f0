/*
 * fuzz_probe_spec: the probe parsers. probe_parse_tcp() and
 * probe_parse_http() on a NUL-terminated copy of the input (cut at
 * CFG_MAX_STRING, the longest config string), probe_parse_status() on the
 * input itself, not NUL-terminated, as os/probe hands it a received buffer.
 *
 * A refusal is -EINVAL and leaves the out-parameter as it was. An accepted
 * address is an AF_INET or AF_INET6 socket address of its size with a port
 * that is not 0, host[] and path[] are NUL-terminated, host is a non-empty
 * piece of the input, and the port is the input's last digits (tcp) or 80
 * when the http target names none. Formatting the address back and parsing
 * that gives the same address. The http path is the input's from its first
 * '/' after the scheme ("/" when there is none), with nothing in it that
 * could break the request line; the hostport before it, when tcp accepts
 * it, is the same address.
 */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cfg.h"
#include "core/probe_spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SENTINEL 0xa5

static void
fill_sentinel(struct probe_addr *a)
{
    memset(a, SENTINEL, sizeof(*a));
}

static int
untouched(const struct probe_addr *a)
{
    const unsigned char *p = (const unsigned char *)a;

    for (size_t i = 0; i < sizeof(*a); i++)
        if (p[i] != SENTINEL)
            return 0;
    return 1;
}

static int
same_addr(const struct probe_addr *a, const struct probe_addr *b)
{
    return a->len == b->len && memcmp(&a->sa, &b->sa, a->len) == 0;
}

static uint16_t
port_of(const struct probe_addr *a)
{
    if (a->sa.ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)&a->sa)->sin_port);
    return ntohs(((const struct sockaddr_in6 *)&a->sa)->sin6_port);
}

/* What holds for every accepted address, of either parser. */
static void
check_addr(const char *s, const struct probe_addr *a)
{
    struct probe_addr again;
    char text[INET6_ADDRSTRLEN], back[INET6_ADDRSTRLEN + 16];
    const void *raw;

    if (a->sa.ss_family == AF_INET) {
        assert(a->len == sizeof(struct sockaddr_in));
        raw = &((const struct sockaddr_in *)&a->sa)->sin_addr;
    } else {
        assert(a->sa.ss_family == AF_INET6);
        assert(a->len == sizeof(struct sockaddr_in6));
        raw = &((const struct sockaddr_in6 *)&a->sa)->sin6_addr;
    }
    assert(port_of(a) != 0);
    assert(memchr(a->host, '\0', sizeof(a->host)) && a->host[0] != '\0');
    assert(memchr(a->path, '\0', sizeof(a->path)));
    assert(strstr(s, a->host));

    /* The address written out numerically reads back as itself. */
    assert(inet_ntop(a->sa.ss_family, raw, text, sizeof(text)));
    (void)snprintf(back, sizeof(back), a->sa.ss_family == AF_INET ? "%s:%u" : "[%s]:%u", text,
                   (unsigned)port_of(a));
    fill_sentinel(&again);
    assert(probe_parse_tcp(back, &again) == 0);
    assert(same_addr(a, &again));
}

static void
check_tcp(const char *s)
{
    struct probe_addr a;
    const char *colon;
    int r;

    fill_sentinel(&a);
    r = probe_parse_tcp(s, &a);
    assert(r == 0 || r == -EINVAL);
    if (r < 0) {
        assert(untouched(&a));
        return;
    }
    check_addr(s, &a);
    assert(a.path[0] == '\0');
    /* The port is always written, after the last ':', one to five digits. */
    colon = strrchr(s, ':');
    assert(colon && strlen(colon + 1) >= 1 && strlen(colon + 1) <= 5);
    assert(strspn(colon + 1, "0123456789") == strlen(colon + 1));
    assert(strtoul(colon + 1, NULL, 10) == port_of(&a));
}

static void
check_http(const char *s)
{
    struct probe_addr a, t;
    const char *hp = s + 7, *slash;
    char *hostport;
    size_t hplen;
    int r, rt;

    fill_sentinel(&a);
    r = probe_parse_http(s, &a);
    assert(r == 0 || r == -EINVAL);
    if (strncmp(s, "http://", 7) != 0) {
        assert(r == -EINVAL && untouched(&a));
        return;
    }
    slash = strchr(hp, '/');
    hplen = slash ? (size_t)(slash - hp) : strlen(hp);
    hostport = strndup(hp, hplen);
    if (!hostport)
        return;
    fill_sentinel(&t);
    rt = probe_parse_tcp(hostport, &t);
    assert(rt == 0 || rt == -EINVAL);

    if (r < 0) {
        assert(untouched(&a));
        if (rt == 0) {
            /* A hostport tcp takes with a path http refuses: the path is why. */
            size_t plen, i = 0;
            assert(slash);
            plen = strlen(slash);
            while (i < plen && (unsigned char)slash[i] > ' ' && slash[i] != 0x7f)
                i++;
            assert(plen >= sizeof(a.path) || i < plen);
        }
        free(hostport);
        return;
    }
    check_addr(s, &a);
    assert(strlen(a.path) < sizeof(a.path));
    assert(strcmp(a.path, slash ? slash : "/") == 0);
    for (const char *p = a.path; *p; p++)
        assert((unsigned char)*p > ' ' && *p != 0x7f);
    if (rt == 0) {
        /* The port was written: the same address tcp gives. */
        assert(same_addr(&a, &t));
        assert(strcmp(a.host, t.host) == 0);
    } else {
        /* Refused by tcp, taken by http: only because no port was written. */
        assert(port_of(&a) == 80);
    }
    /* Every accepted address gives a whole request in os/probe's 512-byte buffer. */
    {
        char req[512];
        int n = probe_http_request(&a, req, sizeof(req));

        assert(n > 0 && (size_t)n == strlen(req) && strncmp(req, "GET /", 5) == 0);
    }
    free(hostport);
}

static void
check_status(const char *line, size_t len)
{
    int code = probe_parse_status(line, len);

    assert(code == -EINVAL || (code >= 100 && code <= 999));
    if (code < 0)
        return;
    assert(len >= 12 && memcmp(line, "HTTP/1.", 7) == 0 && line[8] == ' ');
    assert(code == (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0'));
    /* The first 12 bytes decide. */
    assert(probe_parse_status(line, 12) == code);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n = size > CFG_MAX_STRING ? CFG_MAX_STRING : size;
    char *s = malloc(n + 1);

    if (!s)
        return 0;
    memcpy(s, data, n);
    s[n] = '\0';
    check_tcp(s);
    check_http(s);
    free(s);
    check_status((const char *)data, size);
    return 0;
}

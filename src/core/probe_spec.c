/*
 * probe_spec: probe addresses and HTTP status lines. See probe_spec.h.
 */
#include "core/probe_spec.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
parse_port(const char *s, size_t n, uint16_t *ret)
{
    unsigned long v = 0;

    if (n == 0 || n > 5)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -EINVAL;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v < 1 || v > 65535)
        return -EINVAL;
    *ret = (uint16_t)v;
    return 0;
}

static int
fill_addr(const char *host, size_t hlen, uint16_t port, struct probe_addr *a)
{
    char h[64];
    struct sockaddr_in *in4 = (struct sockaddr_in *)&a->sa;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a->sa;

    if (hlen == 0 || hlen >= sizeof(h))
        return -EINVAL;
    memcpy(h, host, hlen);
    h[hlen] = '\0';
    memcpy(a->host, h, hlen + 1);
    memset(&a->sa, 0, sizeof(a->sa));
    if (strcmp(h, "localhost") == 0)
        (void)snprintf(h, sizeof(h), "127.0.0.1");
    if (inet_pton(AF_INET, h, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(port);
        a->len = sizeof(*in4);
        return 0;
    }
    if (inet_pton(AF_INET6, h, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        a->len = sizeof(*in6);
        return 0;
    }
    return -EINVAL; /* names other than localhost would need DNS, which could block */
}

/* "HOST:PORT" or "[V6]:PORT" within s[0..n). */
static int
parse_hostport(const char *s, size_t n, uint16_t default_port, struct probe_addr *a)
{
    const char *colon;
    uint16_t port = default_port;

    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close)
            return -EINVAL;
        if ((size_t)(close + 1 - s) < n) {
            if (close[1] != ':' || parse_port(close + 2, n - (size_t)(close + 2 - s), &port) < 0)
                return -EINVAL;
        } else if (!default_port) {
            return -EINVAL;
        }
        return fill_addr(s + 1, (size_t)(close - s - 1), port, a);
    }
    colon = memrchr(s, ':', n);
    if (colon) {
        if (parse_port(colon + 1, n - (size_t)(colon + 1 - s), &port) < 0)
            return -EINVAL;
        n = (size_t)(colon - s);
    } else if (!default_port) {
        return -EINVAL;
    }
    return fill_addr(s, n, port, a);
}

int
probe_parse_tcp(const char *s, struct probe_addr *ret)
{
    struct probe_addr a = { 0 };
    int r = parse_hostport(s, strlen(s), 0, &a);

    if (r < 0)
        return r;
    *ret = a;
    return 0;
}

int
probe_parse_http(const char *s, struct probe_addr *ret)
{
    struct probe_addr a = { 0 };
    const char *hp, *slash;
    size_t plen;
    int r;

    if (strncmp(s, "http://", 7) != 0)
        return -EINVAL;
    hp = s + 7;
    slash = strchr(hp, '/');
    r = parse_hostport(hp, slash ? (size_t)(slash - hp) : strlen(hp), 80, &a);
    if (r < 0)
        return r;
    if (!slash)
        slash = "/";
    plen = strlen(slash);
    if (plen >= sizeof(a.path))
        return -EINVAL;
    for (size_t i = 0; i < plen; i++)
        if ((unsigned char)slash[i] <= ' ' || slash[i] == 0x7f)
            return -EINVAL; /* it goes into a request line */
    memcpy(a.path, slash, plen + 1);
    *ret = a;
    return 0;
}

int
probe_parse_status(const char *line, size_t len)
{
    int code = 0;

    /* "HTTP/1.x NNN" */
    if (len < 12 || strncmp(line, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)line[7]) ||
        line[8] != ' ')
        return -EINVAL;
    for (int i = 9; i < 12; i++) {
        if (!isdigit((unsigned char)line[i]))
            return -EINVAL;
        code = code * 10 + (line[i] - '0');
    }
    if (len > 12 && line[12] != ' ' && line[12] != '\r' && line[12] != '\n')
        return -EINVAL;
    return code >= 100 ? code : -EINVAL;
}

const char *
probe_kind_name(enum probe_kind k)
{
    switch (k) {
    case PROBE_NONE:
        return "none";
    case PROBE_TCP:
        return "tcp";
    case PROBE_HTTP:
        return "http";
    case PROBE_COMMAND:
        return "command";
    case PROBE__MAX:
    case PROBE_INVALID:
        break;
    }
    return "invalid";
}

int
probe_http_request(const struct probe_addr *a, char *buf, size_t len)
{
    const struct sockaddr_in *in4 = (const struct sockaddr_in *)&a->sa;
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->sa;
    bool v6 = a->sa.ss_family == AF_INET6;
    unsigned port = ntohs(v6 ? in6->sin6_port : in4->sin_port);
    char portpart[8] = "";
    int n;

    if (port != 80)
        (void)snprintf(portpart, sizeof(portpart), ":%u", port);
    n = snprintf(buf, len,
                 "GET %s HTTP/1.0\r\nHost: %s%s%s%s\r\nUser-Agent: drover\r\nConnection: "
                 "close\r\n\r\n",
                 a->path, v6 ? "[" : "", a->host, v6 ? "]" : "", portpart);
    return n < 0 || (size_t)n >= len ? -ENOSPC : n;
}

/*
 * redisurl: the Redis store's URL. See redisurl.h.
 */
#include "core/redisurl.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

static int
bad(char *err, size_t errsize, const char *text, const char *why)
{
    (void)snprintf(err, errsize, "\"%.120s\": %s", text, why);
    return -1;
}

/* digits [s, e) as a number in [min, max]; -1 when not. */
static long
number(const char *s, const char *e, long min, long max)
{
    long v = 0;

    if (s == e || e - s > 9)
        return -1;
    for (const char *p = s; p < e; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
    }
    return v < min || v > max ? -1 : v;
}

static bool
host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
}

int
redis_url_parse(const char *text, struct redis_url *u, char *err, size_t errsize)
{
    const char *p, *host, *host_end, *end;
    long v;

    memset(u, 0, sizeof(*u));
    if (strncmp(text, "unix:", 5) == 0) {
        size_t n = strlen(text + 5);

        if (n == 0)
            return bad(err, errsize, text, "unix: needs a socket path (unix:/run/redis.sock)");
        if (n > REDISURL_PATH_MAX)
            return bad(err, errsize, text, "the socket path is longer than 107 bytes");
        if (strchr(text + 5, '?') || strchr(text + 5, '#'))
            return bad(err, errsize, text, "a unix: URL takes a path only");
        u->unix_socket = true;
        memcpy(u->path, text + 5, n + 1);
        return 0;
    }
    if (strncmp(text, "redis://", 8) != 0)
        return bad(err, errsize, text,
                   "must be unix:PATH or redis://HOST[:PORT][/DB] (rediss:// is not supported)");
    p = text + 8;
    end = p + strcspn(p, "/");
    if (memchr(p, '@', (size_t)(end - p)))
        return bad(err, errsize, text,
                   "no user or password in the URL (ps and /status would show it): give "
                   "jobs.redis.password_file");
    if (*p == '[') {
        host = p + 1;
        if (!(host_end = memchr(host, ']', (size_t)(end - host))) || host_end == host)
            return bad(err, errsize, text, "an IPv6 host is written [ADDRESS]");
        {
            char addr[64];
            struct in6_addr a6;

            if ((size_t)(host_end - host) >= sizeof(addr))
                return bad(err, errsize, text, "not an IPv6 address in the brackets");
            memcpy(addr, host, (size_t)(host_end - host));
            addr[host_end - host] = '\0';
            if (inet_pton(AF_INET6, addr, &a6) != 1)
                return bad(err, errsize, text, "not an IPv6 address in the brackets");
        }
        p = host_end + 1;
    } else {
        host = p;
        while (p < end && *p != ':')
            p++;
        host_end = p;
        if (host_end == host)
            return bad(err, errsize, text, "the host is missing (redis://HOST:PORT)");
        for (const char *q = host; q < host_end; q++)
            if (!host_char(*q))
                return bad(err, errsize, text, "a host has only letters, digits, '-', '.' and '_'");
        /* Each dot-separated label: 1 to 63 characters, not starting or ending with '-'. */
        for (const char *l = host; l < host_end;) {
            const char *le = memchr(l, '.', (size_t)(host_end - l));

            if (!le)
                le = host_end;
            if (le == l || le - l > 63 || *l == '-' || le[-1] == '-')
                return bad(err, errsize, text,
                           "each part of a host name has 1 to 63 characters, not starting or "
                           "ending with '-'");
            if (le < host_end && le + 1 == host_end)
                return bad(err, errsize, text, "a host name does not end with '.'");
            l = le < host_end ? le + 1 : host_end;
        }
    }
    if ((size_t)(host_end - host) > REDISURL_HOST_MAX)
        return bad(err, errsize, text, "the host is longer than 253 bytes");
    memcpy(u->host, host, (size_t)(host_end - host));
    u->port = 6379;
    if (p < end && *p == ':') {
        if ((v = number(p + 1, end, 1, 65535)) < 0)
            return bad(err, errsize, text, "the port must be a number from 1 to 65535");
        u->port = (uint16_t)v;
    } else if (p != end) {
        return bad(err, errsize, text, "after the host comes :PORT or /DB");
    }
    if (*end == '/' && end[1] != '\0') {
        const char *dbe = end + 1 + strlen(end + 1);

        if ((v = number(end + 1, dbe, 0, REDISURL_DB_MAX)) < 0)
            return bad(err, errsize, text, "the database must be a number (redis://HOST:PORT/0)");
        u->db = (unsigned)v;
    }
    return 0;
}

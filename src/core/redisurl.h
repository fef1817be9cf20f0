/*
 * redisurl: the jobs.redis.url of the Redis store (JOBS.md §6.7, issue 15):
 * "unix:PATH" (a socket, the default of a local redis-server), or
 * "redis://HOST[:PORT][/DB]" (HOST a name, an IPv4 address, or an IPv6 one
 * in brackets; PORT 6379 by default; DB 0 by default; a unix socket is
 * database 0). A password never
 * goes in the URL, where /status, logs and ps would show it: it comes from
 * a file (jobs.redis.password_file), and a URL with user info is refused.
 *
 * Pure (inet_pton reads the brackets' address; no system call); fuzzed
 * (tests/fuzz/fuzz_redisurl.c).
 */
#ifndef DROVER_REDISURL_H
#define DROVER_REDISURL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REDISURL_PATH_MAX 107 /* sun_path, without its NUL */
#define REDISURL_HOST_MAX 253 /* a DNS name's most */
#define REDISURL_DB_MAX 1000000

struct redis_url {
    bool unix_socket;
    char path[REDISURL_PATH_MAX + 1]; /* unix_socket: as given (relative or absolute) */
    char host[REDISURL_HOST_MAX + 1]; /* else: without brackets */
    uint16_t port;
    unsigned db;
};

/* Reads text into u. 0, or -1 with err saying what is wrong and where. */
int redis_url_parse(const char *text, struct redis_url *u, char *err, size_t errsize);

#endif

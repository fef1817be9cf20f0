/*
 * fuzz_redisurl: redis_url_parse() over the input as a jobs.redis.url.
 *
 * Accepted: a socket path of 1 to 107 bytes, or a host of 1 to 253 bytes
 * without '@', '/' or brackets and a port from 1. Refused: an error text.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/redisurl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1), err[256] = "";
    struct redis_url u;

    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    if (redis_url_parse(text, &u, err, sizeof(err)) < 0) {
        assert(err[0]);
    } else if (u.unix_socket) {
        assert(strlen(u.path) >= 1 && strlen(u.path) <= REDISURL_PATH_MAX);
    } else {
        assert(strlen(u.host) >= 1 && strlen(u.host) <= REDISURL_HOST_MAX);
        assert(!strpbrk(u.host, "@/[]") && u.port >= 1 && u.db <= REDISURL_DB_MAX);
    }
    free(text);
    return 0;
}

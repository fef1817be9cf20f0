/*
 * test_redisurl: every form of jobs.redis.url, and each way one is refused
 * with the reason it names.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "core/redisurl.h"

static void
accepted(void **state)
{
    static const struct {
        const char *text;
        bool unix_socket;
        const char *where; /* path or host */
        uint16_t port;
        unsigned db;
    } cases[] = {
        { "unix:/run/redis/redis.sock", true, "/run/redis/redis.sock", 0, 0 },
        { "unix:redis.sock", true, "redis.sock", 0, 0 },
        { "redis://127.0.0.1", false, "127.0.0.1", 6379, 0 },
        { "redis://redis.default.svc:6380", false, "redis.default.svc", 6380, 0 },
        { "redis://redis:6379/3", false, "redis", 6379, 3 },
        { "redis://redis/2", false, "redis", 6379, 2 },
        { "redis://redis/", false, "redis", 6379, 0 },
        { "redis://[::1]:7000/1", false, "::1", 7000, 1 },
        { "redis://[fe80::1]", false, "fe80::1", 6379, 0 },
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        struct redis_url u;
        char err[256] = "";

        if (redis_url_parse(cases[i].text, &u, err, sizeof(err)) != 0)
            fail_msg("%s refused: %s", cases[i].text, err);
        assert_int_equal(u.unix_socket, cases[i].unix_socket);
        assert_string_equal(u.unix_socket ? u.path : u.host, cases[i].where);
        assert_int_equal(u.port, cases[i].port);
        assert_int_equal(u.db, cases[i].db);
    }
}

static void
refused(void **state)
{
    static const struct {
        const char *text, *says;
    } cases[] = {
        { "unix:", "needs a socket path" },
        { "unix:/a/b?db=1", "a path only" },
        { "http://redis:6379", "must be unix:PATH or redis://" },
        { "rediss://redis:6379", "rediss:// is not supported" },
        { "redis://", "the host is missing" },
        { "redis://:6379", "the host is missing" },
        { "redis://:secret@redis:6379", "no user or password" },
        { "redis://user:secret@redis", "no user or password" },
        { "redis://redis:0", "the port must be" },
        { "redis://redis:65536", "the port must be" },
        { "redis://redis:63x9", "the port must be" },
        { "redis://redis:", "the port must be" },
        { "redis://redis/x", "the database must be" },
        { "redis://redis/1/2", "the database must be" },
        { "redis://red is", "a host has only" },
        { "redis://[::1", "[ADDRESS]" },
        { "redis://[]:1", "[ADDRESS]" },
        { "redis://[::g]", "not an IPv6 address" },
        { "redis://[:]", "not an IPv6 address" },
        { "redis://[1.2.3.4]", "not an IPv6 address" },
        { "redis://-", "each part of a host name" },
        { "redis://a..b", "each part of a host name" },
        { "redis://redis.", "does not end with" },
        { "redis://[::1]x", "after the host" },
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        struct redis_url u;
        char err[256] = "";

        if (redis_url_parse(cases[i].text, &u, err, sizeof(err)) == 0)
            fail_msg("%s was accepted", cases[i].text);
        if (!strstr(err, cases[i].says))
            fail_msg("%s: \"%s\" does not say %s", cases[i].text, err, cases[i].says);
    }
}

static void
long_parts(void **state)
{
    char text[400], err[256];
    struct redis_url u;
    (void)state;

    memset(text, 0, sizeof(text));
    memcpy(text, "unix:/", 6);
    memset(text + 6, 'a', 106); /* 107 bytes of path: the most */
    assert_int_equal(redis_url_parse(text, &u, err, sizeof(err)), 0);
    text[6 + 106] = 'a';
    assert_int_equal(redis_url_parse(text, &u, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "longer than 107"));
    memset(text, 0, sizeof(text));
    memcpy(text, "redis://", 8);
    memset(text + 8, 'h', 254);
    for (size_t i = 8 + 50; i < 8 + 254; i += 51)
        text[i] = '.'; /* labels of 50: only the whole length is wrong */
    assert_int_equal(redis_url_parse(text, &u, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "longer than 253"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepted),
        cmocka_unit_test(refused),
        cmocka_unit_test(long_parts),
    };

    return cmocka_run_group_tests_name("redisurl", tests, NULL, NULL);
}

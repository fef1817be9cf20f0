/*
 * test_redisloop: hiredis on drover's loop against a real redis-server
 * (tests/unit/os/redis_fixture.h): the connect completes, binary-safe
 * commands in argv form are answered in order, and when the server is
 * killed (by its pid) the disconnect callback runs and the context is taken
 * off the loop.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>

#include "os/redisloop.h"
#include "redis_fixture.h"

static struct redis_fixture fx;

struct run {
    int connected; /* 0 not yet, 1 ok, -1 failed */
    bool disconnected;
    int replies;
    char got[64];
    size_t got_len;
};

static struct run r;

static bool
is_connected(void *arg)
{
    (void)arg;
    return r.connected != 0;
}

static bool
two_replies(void *arg)
{
    (void)arg;
    return r.replies >= 2;
}

static bool
is_disconnected(void *arg)
{
    (void)arg;
    return r.disconnected;
}

static void
on_connect(const redisAsyncContext *ac, int status)
{
    (void)ac;
    r.connected = status == REDIS_OK ? 1 : -1;
}

static void
on_disconnect(const redisAsyncContext *ac, int status)
{
    (void)ac;
    (void)status;
    r.disconnected = true;
}

static void
on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    redisReply *rep = reply;
    (void)ac;
    (void)privdata;

    r.replies++;
    if (rep && rep->type == REDIS_REPLY_STRING && (size_t)rep->len <= sizeof(r.got)) {
        memcpy(r.got, rep->str, (size_t)rep->len);
        r.got_len = (size_t)rep->len;
    }
}

static int
setup(void **state)
{
    (void)state;
    return redis_fixture_init(&fx, NULL);
}

static int
teardown(void **state)
{
    (void)state;
    redis_fixture_done(&fx);
    return 0;
}

static void
commands_and_a_server_death(void **state)
{
    struct redisloop rl = { 0 };
    redisAsyncContext *ac;
    static const char value[] = { 'a', '\0', '\n', (char)0xff, 'z' };
    const char *set[] = { "SET", "drover:test", value };
    size_t set_len[] = { 3, 11, sizeof(value) };
    const char *get[] = { "GET", "drover:test" };
    size_t get_len[] = { 3, 11 };
    (void)state;

    ac = redisAsyncConnectUnix(fx.sock);
    assert_non_null(ac);
    assert_int_equal(ac->err, 0);
    assert_int_equal(redisloop_attach(&rl, &fx.loop, ac), 0);
    assert_int_equal(redisloop_attach(&rl, &fx.loop, ac), -EINVAL); /* attached already */
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    redis_fixture_run_until(&fx, is_connected, NULL, "the connect callback");
    assert_int_equal(r.connected, 1);

    /* argv form: a value with NUL, newline and a non-UTF-8 byte comes back whole. */
    assert_int_equal(redisAsyncCommandArgv(ac, on_reply, NULL, 3, set, set_len), REDIS_OK);
    assert_int_equal(redisAsyncCommandArgv(ac, on_reply, NULL, 2, get, get_len), REDIS_OK);
    redis_fixture_run_until(&fx, two_replies, NULL, "the SET and GET replies");
    assert_int_equal(r.got_len, sizeof(value));
    assert_memory_equal(r.got, value, sizeof(value));

    /* The server dies: hiredis reads the hang-up, calls back, and the context leaves the loop. */
    redis_fixture_server_kill(&fx);
    redis_fixture_run_until(&fx, is_disconnected, NULL,
                            "the disconnect callback after redis-server was killed");
    assert_null(rl.ac);
    assert_false(rl.registered);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(commands_and_a_server_death),
    };

    return cmocka_run_group_tests_name("redisloop", tests, setup, teardown);
}

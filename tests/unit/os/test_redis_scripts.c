/*
 * test_redis_scripts: the Redis store's Lua scripts (core/redis_scripts.c)
 * run by a real redis-server (tests/unit/os/redis_fixture.h), over hiredis's
 * blocking API: the fence of complete (another node's or attempt's result
 * changes nothing), requeue_node (a live node is left alone; a dead one's
 * dispatched and running jobs go back once, its last-attempt job fails with
 * its reply, a second run finds nothing), retry_due (only what is due), and
 * EVALSHA after SCRIPT LOAD, with NOSCRIPT for an unknown sha (the store's
 * cue to EVAL).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <hiredis/hiredis.h>

#include "core/redis_scripts.h"
#include "redis_fixture.h"

static struct redis_fixture fx;
static redisContext *c;

/* A command from its words (up to NULL); the reply, which the caller frees. */
static redisReply *
vcmd(const char *first, va_list ap)
{
    const char *argv[32];
    int argc = 0;
    redisReply *r;

    for (const char *a = first; a && argc < 32; a = va_arg(ap, const char *))
        argv[argc++] = a;
    r = redisCommandArgv(c, argc, argv, NULL);
    assert_non_null(r);
    return r;
}

static redisReply *
cmd(const char *first, ...)
{
    va_list ap;
    redisReply *r;

    va_start(ap, first);
    r = vcmd(first, ap);
    va_end(ap);
    return r;
}

/* The same, for an integer reply (anything else fails, with the error it got). */
static long long
cmd_int(const char *first, ...)
{
    va_list ap;
    redisReply *r;
    long long v;

    va_start(ap, first);
    r = vcmd(first, ap);
    va_end(ap);
    if (r->type != REDIS_REPLY_INTEGER)
        fail_msg("%s: not an integer reply (type %d: %s)", first, r->type,
                 r->type == REDIS_REPLY_ERROR ? r->str : "");
    v = r->integer;
    freeReplyObject(r);
    return v;
}

static void
expect_field(const char *key, const char *field, const char *want)
{
    redisReply *r = cmd("HGET", key, field, NULL);

    if (!want) {
        assert_int_equal(r->type, REDIS_REPLY_NIL);
    } else {
        if (r->type != REDIS_REPLY_STRING)
            fail_msg("%s %s: no value, want %s", key, field, want);
        assert_string_equal(r->str, want);
    }
    freeReplyObject(r);
}

static void
expect_list(const char *key, const char *const *want, size_t n)
{
    redisReply *r = cmd("LRANGE", key, "0", "-1", NULL);

    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    if (r->elements != n)
        fail_msg("%s holds %zu, want %zu", key, r->elements, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(r->element[i]->str, want[i]);
    freeReplyObject(r);
}

static int
setup(void **state)
{
    struct timeval tv = { REDIS_WAIT_MS / 1000, 0 };
    (void)state;

    if (redis_fixture_init(&fx, NULL) < 0)
        return -1;
    c = redisConnectUnixWithTimeout(fx.sock, tv);
    return c && !c->err ? 0 : -1;
}

static int
teardown(void **state)
{
    (void)state;
    if (c)
        redisFree(c);
    redis_fixture_done(&fx);
    return 0;
}

static void
complete_is_fenced_by_owner_and_attempt(void **state)
{
    static const char *const other[] = { "j0" };
    (void)state;

    freeReplyObject(cmd("FLUSHALL", NULL));
    freeReplyObject(cmd("HSET", "hero:job:j1", "drover_owner", "n1", "drover_attempt", "2",
                        "status", "started", NULL));
    freeReplyObject(cmd("LPUSH", "drover:inflight:n1", "j1", "j0", NULL));
    /* A late result of attempt 1, and one from another node: nothing changes. */
    assert_int_equal(cmd_int("EVAL", redis_script_complete, "3", "hero:job:j1",
                             "drover:inflight:n1", "hero:q:reply:j1", "j1", "1", "n1", "success",
                             "late", "", "2026-12-03T00:00:00Z", "1000", "0", NULL),
                     0);
    assert_int_equal(cmd_int("EVAL", redis_script_complete, "3", "hero:job:j1",
                             "drover:inflight:n2", "hero:q:reply:j1", "j1", "2", "n2", "success",
                             "other node", "", "2026-12-03T00:00:00Z", "1000", "0", NULL),
                     0);
    expect_field("hero:job:j1", "status", "started");
    assert_int_equal(cmd_int("LLEN", "hero:q:reply:j1", NULL), 0);
    /* The owner's own attempt: written, out of inflight, replied, expiring. */
    assert_int_equal(cmd_int("EVAL", redis_script_complete, "3", "hero:job:j1",
                             "drover:inflight:n1", "hero:q:reply:j1", "j1", "2", "n1", "success",
                             "the output", "", "2026-12-03T00:00:01Z", "1001", "3600", NULL),
                     1);
    expect_field("hero:job:j1", "status", "finished");
    expect_field("hero:job:j1", "output", "the output");
    expect_field("hero:job:j1", "drover_state", "success");
    expect_field("hero:job:j1", "drover_owner", "");
    expect_list("drover:inflight:n1", other, 1);
    expect_list("hero:q:reply:j1", (const char *const[]){ "the output" }, 1);
    assert_true(cmd_int("TTL", "hero:job:j1", NULL) > 0);
    /* Once finished, the same result again is stale too: the owner is gone. */
    assert_int_equal(cmd_int("EVAL", redis_script_complete, "3", "hero:job:j1",
                             "drover:inflight:n1", "hero:q:reply:j1", "j1", "2", "n1", "failed", "",
                             "again", "2026-12-03T00:00:02Z", "1002", "0", NULL),
                     0);
    expect_field("hero:job:j1", "status", "finished");
}

static void
requeue_node_takes_a_dead_nodes_jobs_back_once(void **state)
{
    static const char *const queue[] = { "queued", "d", "r" };
    (void)state;

    freeReplyObject(cmd("FLUSHALL", NULL));
    freeReplyObject(cmd("LPUSH", "hero:q:work:type:osis", "queued", NULL));
    freeReplyObject(cmd("HSET", "hero:job:d", "drover_state", "dispatched", "drover_attempt", "1",
                        "drover_max_attempts", "3", "drover_owner", "n1", "drover_queue",
                        "hero:q:work:type:osis", NULL));
    freeReplyObject(cmd("HSET", "hero:job:r", "drover_state", "running", "drover_attempt", "1",
                        "drover_max_attempts", "3", "drover_owner", "n1", "drover_queue",
                        "hero:q:work:type:osis", NULL));
    freeReplyObject(cmd("HSET", "hero:job:x", "drover_state", "running", "drover_attempt", "3",
                        "drover_max_attempts", "3", "drover_owner", "n1", "drover_queue",
                        "hero:q:work:type:osis", NULL));
    freeReplyObject(cmd("HSET", "hero:job:t", "drover_state", "success", NULL));
    /* BLMOVE ... LEFT puts the newest on the left: d was taken first, t last. */
    freeReplyObject(cmd("LPUSH", "drover:inflight:n1", "d", "r", "x", "t", NULL));
    freeReplyObject(cmd("SET", "drover:node:n1", "alive", "PX", "60000", NULL));
    assert_int_equal(cmd_int("EVAL", redis_script_requeue_node, "2", "drover:node:n1",
                             "drover:inflight:n1", "hero", "5000", NULL),
                     -1); /* alive: left alone */
    assert_int_equal(cmd_int("LLEN", "drover:inflight:n1", NULL), 4);
    freeReplyObject(cmd("DEL", "drover:node:n1", NULL));
    assert_int_equal(cmd_int("EVAL", redis_script_requeue_node, "2", "drover:node:n1",
                             "drover:inflight:n1", "hero", "5000", NULL),
                     4);
    /* d and r are next in line (the tail), in the order they were taken. */
    expect_list("hero:q:work:type:osis", queue, 3);
    expect_field("hero:job:d", "drover_attempt", "1"); /* never ran: not counted */
    expect_field("hero:job:r", "drover_attempt", "2"); /* ran: counted */
    expect_field("hero:job:r", "drover_owner", "");
    expect_field("hero:job:x", "drover_state", "failed");
    expect_field("hero:job:x", "status", "error");
    assert_int_equal(cmd_int("LLEN", "hero:q:reply:x", NULL), 1);
    expect_field("hero:job:t", "drover_state", "success");
    assert_int_equal(cmd_int("LLEN", "drover:inflight:n1", NULL), 0);
    /* Run by every node: the second finds nothing, so nothing goes back twice. */
    assert_int_equal(cmd_int("EVAL", redis_script_requeue_node, "2", "drover:node:n1",
                             "drover:inflight:n1", "hero", "5001", NULL),
                     0);
    assert_int_equal(cmd_int("LLEN", "hero:q:work:type:osis", NULL), 3);
}

static void
retry_due_moves_only_what_is_due(void **state)
{
    static const char *const queue[] = { "b", "a" };
    (void)state;

    freeReplyObject(cmd("FLUSHALL", NULL));
    for (const char *const *id = (const char *const[]){ "a", "b", "c", NULL }; *id; id++) {
        char key[32];

        (void)snprintf(key, sizeof(key), "hero:job:%s", *id);
        freeReplyObject(cmd("HSET", key, "drover_state", "retry_wait", "drover_queue",
                            "hero:q:work:type:sal", NULL));
    }
    freeReplyObject(cmd("ZADD", "drover:retry", "100", "a", "200", "b", "5000", "c", NULL));
    assert_int_equal(
        cmd_int("EVAL", redis_script_retry_due, "1", "drover:retry", "hero", "1000", "100", NULL),
        2);
    expect_list("hero:q:work:type:sal", queue, 2); /* to the back, a first */
    expect_field("hero:job:a", "drover_state", "waiting");
    expect_field("hero:job:c", "drover_state", "retry_wait");
    assert_int_equal(cmd_int("ZCARD", "drover:retry", NULL), 1);
}

static void
evalsha_after_load_and_noscript_before(void **state)
{
    redisReply *r;
    char sha[64];
    (void)state;

    freeReplyObject(cmd("FLUSHALL", NULL));
    freeReplyObject(cmd("SCRIPT", "FLUSH", NULL));
    r = cmd("EVALSHA", "0000000000000000000000000000000000000000", "1", "drover:retry", "hero", "1",
            "1", NULL);
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    assert_non_null(strstr(r->str, "NOSCRIPT"));
    freeReplyObject(r);
    r = cmd("SCRIPT", "LOAD", redis_script_retry_due, NULL);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    (void)snprintf(sha, sizeof(sha), "%s", r->str);
    freeReplyObject(r);
    assert_int_equal(cmd_int("EVALSHA", sha, "1", "drover:retry", "hero", "1", "1", NULL), 0);
    /* The other two compile too (a syntax error would show here, not on a node). */
    for (const char *const *s =
             (const char *const[]){ redis_script_complete, redis_script_requeue_node, NULL };
         *s; s++) {
        r = cmd("SCRIPT", "LOAD", *s, NULL);
        if (r->type != REDIS_REPLY_STRING)
            fail_msg("SCRIPT LOAD refused: %s", r->type == REDIS_REPLY_ERROR ? r->str : "?");
        freeReplyObject(r);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(complete_is_fenced_by_owner_and_attempt),
        cmocka_unit_test(requeue_node_takes_a_dead_nodes_jobs_back_once),
        cmocka_unit_test(retry_due_moves_only_what_is_due),
        cmocka_unit_test(evalsha_after_load_and_noscript_before),
    };

    return cmocka_run_group_tests_name("redis_scripts", tests, setup, teardown);
}

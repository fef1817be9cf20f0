/*
 * test_redis_scripts: the Redis store's Lua scripts (core/redis_scripts.c)
 * run by a real redis-server (tests/unit/os/redis_fixture.h), over hiredis's
 * blocking API: claim (the queue's tail to the inflight head, made this
 * node's; a missing or wrong-typed hash refused with its reply, another
 * node's job and a finished one left alone, a finished one sent back run
 * anew), the fence of start, retry, release and complete (another node's or
 * attempt's call changes nothing), retry on to retry_due and claim, release
 * putting the job next in line, submit (new once, the same again a no-op,
 * another job's id refused), node_beat (a node name held by one token),
 * unclaim (an id in the inflight list this node does not hold goes back),
 * requeue_node (a live node is left alone; a dead one's
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

#define QUEUE "hero:q:work:type:osis"
#define INFLIGHT "drover:inflight:n1"
#define RETRY "drover:retry"
#define NOW "2026-12-03T00:00:00.000Z"

/* claim by node n1 from QUEUE: the reply, which the caller frees. */
static redisReply *
claim(void)
{
    return cmd("EVAL", redis_script_claim, "2", QUEUE, INFLIGHT, "hero", "n1", NOW, "600", NULL);
}

/* A claim's reply is {id, why, ...}: fails unless it is, for this id and why. */
static void
expect_claim(const redisReply *r, const char *id, const char *why)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3)
        fail_msg("claim of %s: not a 3-element array (type %d: %s)", id, r->type,
                 r->type == REDIS_REPLY_ERROR ? r->str : "");
    assert_int_equal(r->element[0]->type, REDIS_REPLY_STRING);
    assert_string_equal(r->element[0]->str, id);
    assert_int_equal(r->element[1]->type, REDIS_REPLY_STRING);
    assert_string_equal(r->element[1]->str, why);
}

/* A field of an "ok" claim's HGETALL, or NULL. */
static const char *
claim_field(const redisReply *r, const char *name)
{
    const redisReply *h = r->element[2];

    assert_int_equal(h->type, REDIS_REPLY_ARRAY);
    for (size_t i = 0; i + 1 < h->elements; i += 2)
        if (strcmp(h->element[i]->str, name) == 0)
            return h->element[i + 1]->str;
    return NULL;
}

/* Claims the next id, which must be id and taken ("ok"). */
static void
expect_claimed(const char *id)
{
    redisReply *r = claim();

    expect_claim(r, id, "ok");
    freeReplyObject(r);
}

/* claim's third element for a refused id is a text (why) that holds says. */
static void
expect_refused(const char *id, const char *why, const char *says)
{
    redisReply *r = claim();

    expect_claim(r, id, why);
    assert_int_equal(r->element[2]->type, REDIS_REPLY_STRING);
    if (!strstr(r->element[2]->str, says))
        fail_msg("claim of %s: \"%s\" does not say \"%s\"", id, r->element[2]->str, says);
    freeReplyObject(r);
}

static void
expect_absent(const char *key, const char *field)
{
    expect_field(key, field, NULL);
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
    freeReplyObject(cmd("ZADD", "drover:nodes", "1", "n1", NULL));
    assert_int_equal(cmd_int("EVAL", redis_script_requeue_node, "3", "drover:node:n1",
                             "drover:inflight:n1", "drover:nodes", "hero", "5000", "600",
                             "n1", NULL),
                     -1); /* alive: left alone */
    assert_int_equal(cmd_int("LLEN", "drover:inflight:n1", NULL), 4);
    assert_int_equal(cmd_int("ZCARD", "drover:nodes", NULL), 1);
    freeReplyObject(cmd("DEL", "drover:node:n1", NULL));
    assert_int_equal(cmd_int("EVAL", redis_script_requeue_node, "3", "drover:node:n1",
                             "drover:inflight:n1", "drover:nodes", "hero", "5000", "600",
                             "n1", NULL),
                     4);
    /* d and r are next in line (the tail), in the order they were taken. */
    expect_list("hero:q:work:type:osis", queue, 3);
    expect_field("hero:job:d", "drover_attempt", "1"); /* never ran: not counted */
    expect_field("hero:job:r", "drover_attempt", "2"); /* ran: counted */
    expect_field("hero:job:r", "drover_owner", "");
    expect_field("hero:job:x", "drover_state", "failed");
    expect_field("hero:job:x", "status", "error");
    assert_int_equal(cmd_int("LLEN", "hero:q:reply:x", NULL), 1);
    assert_true(cmd_int("TTL", "hero:job:x", NULL) > 0); /* failed_ttl: it expires */
    assert_true(cmd_int("TTL", "hero:q:reply:x", NULL) > 0);
    {
        redisReply *r = cmd("ZSCORE", "drover:nodes", "n1", NULL);

        assert_int_equal(r->type, REDIS_REPLY_NIL); /* out of drover:nodes, in the same step */
        freeReplyObject(r);
    }
    expect_field("hero:job:t", "drover_state", "success");
    assert_int_equal(cmd_int("LLEN", "drover:inflight:n1", NULL), 0);
    /* Run by every node: the second finds nothing, so nothing goes back twice. */
    assert_int_equal(cmd_int("EVAL", redis_script_requeue_node, "3", "drover:node:n1",
                             "drover:inflight:n1", "drover:nodes", "hero", "5001", "600",
                             "n1", NULL),
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
    /* Due, but a client pushed it meanwhile and a node runs it: only dropped from the set. */
    freeReplyObject(cmd("HSET", "hero:job:c", "drover_state", "running", "drover_owner", "n2",
                        NULL));
    assert_int_equal(
        cmd_int("EVAL", redis_script_retry_due, "1", "drover:retry", "hero", "9000", "100", NULL),
        1);
    expect_list("hero:q:work:type:sal", queue, 2);
    expect_field("hero:job:c", "drover_state", "running");
    assert_int_equal(cmd_int("ZCARD", "drover:retry", NULL), 0);
}

/* depth's row for queue i (from 0): {waiting, in flight, here}. */
static void
expect_depth(const redisReply *r, size_t i, long long waiting, long long in_flight,
             long long here)
{
    const redisReply *q = r->element[2 + i];

    assert_int_equal(q->type, REDIS_REPLY_ARRAY);
    assert_int_equal(q->elements, 3);
    assert_int_equal(q->element[0]->integer, waiting);
    assert_int_equal(q->element[1]->integer, in_flight);
    assert_int_equal(q->element[2]->integer, here);
}

static void
depth_counts_waiting_and_held_per_queue_across_nodes(void **state)
{
    redisReply *r;
    (void)state;

    freeReplyObject(cmd("FLUSHALL", NULL));
    freeReplyObject(cmd("LPUSH", QUEUE, "w1", "w2", "w3", NULL));
    freeReplyObject(cmd("SET", "hero:q:work:type:v", "not a list", NULL));
    freeReplyObject(cmd("ZADD", "drover:nodes", "1", "n1", "2", "n2", NULL));
    freeReplyObject(cmd("ZADD", RETRY, "1", "r1", NULL));
    /* n1 holds a1 (osis); n2 holds b1, b2 (osis) and b3 (sal); "gone" has no hash any more. */
    freeReplyObject(cmd("RPUSH", INFLIGHT, "a1", "gone", NULL));
    freeReplyObject(cmd("RPUSH", "drover:inflight:n2", "b1", "b2", "b3", NULL));
    freeReplyObject(cmd("HSET", "hero:job:a1", "drover_queue", QUEUE, NULL));
    freeReplyObject(cmd("HSET", "hero:job:b1", "drover_queue", QUEUE, NULL));
    freeReplyObject(cmd("HSET", "hero:job:b2", "drover_queue", QUEUE, NULL));
    freeReplyObject(cmd("HSET", "hero:job:b3", "drover_queue", "hero:q:work:type:sal", NULL));
    r = cmd("EVAL", redis_script_depth, "5", "drover:nodes", RETRY, QUEUE, "hero:q:work:type:sal",
            "hero:q:work:type:v", "hero", "n1", "1000", NULL);
    if (r->type != REDIS_REPLY_ARRAY)
        fail_msg("depth: type %d %s", r->type, r->type == REDIS_REPLY_ERROR ? r->str : "");
    assert_int_equal(r->elements, 5);
    assert_int_equal(r->element[0]->integer, 2); /* nodes */
    assert_int_equal(r->element[1]->integer, 1); /* retry_wait */
    expect_depth(r, 0, 3, 3, 1);
    expect_depth(r, 1, 0, 1, 0);
    expect_depth(r, 2, -1, 0, 0); /* its key holds a string: -1, and the others still count */
    freeReplyObject(r);
}

static void
claim_of_an_empty_queue_is_nil(void **state)
{
    redisReply *r;
    (void)state;

    freeReplyObject(cmd("FLUSHALL", NULL));
    r = claim();
    assert_int_equal(r->type, REDIS_REPLY_NIL);
    freeReplyObject(r);
    assert_int_equal(cmd_int("EXISTS", INFLIGHT, NULL), 0);
}

static void
claim_takes_the_tail_and_owns_the_job(void **state)
{
    redisReply *r;
    (void)state;

    freeReplyObject(cmd("FLUSHALL", NULL));
    freeReplyObject(cmd("HSET", "hero:job:a", "script", "echo a", "status", "dispatched", NULL));
    freeReplyObject(cmd("HSET", "hero:job:b", "script", "echo b", "drover_attempt", "2",
                        "drover_max_attempts", "3", NULL));
    freeReplyObject(cmd("LPUSH", QUEUE, "a", NULL)); /* producers LPUSH: a is the oldest */
    freeReplyObject(cmd("LPUSH", QUEUE, "b", NULL));
    freeReplyObject(cmd("LPUSH", INFLIGHT, "z", NULL));
    r = claim();
    expect_claim(r, "a", "ok");
    assert_string_equal(claim_field(r, "script"), "echo a");
    assert_string_equal(claim_field(r, "drover_state"), "dispatched");
    assert_string_equal(claim_field(r, "drover_owner"), "n1");
    assert_string_equal(claim_field(r, "drover_attempt"), "1"); /* absent: the first */
    assert_string_equal(claim_field(r, "drover_queue"), QUEUE);
    assert_string_equal(claim_field(r, "updated_at"), NOW);
    freeReplyObject(r);
    /* The reply is what the hash now holds. */
    expect_field("hero:job:a", "drover_state", "dispatched");
    expect_field("hero:job:a", "drover_owner", "n1");
    expect_field("hero:job:a", "drover_attempt", "1");
    expect_field("hero:job:a", "drover_queue", QUEUE);
    expect_list(QUEUE, (const char *const[]){ "b" }, 1);
    expect_list(INFLIGHT, (const char *const[]){ "a", "z" }, 2); /* to the head */
    /* A job with an attempt keeps it (and its max). */
    r = claim();
    expect_claim(r, "b", "ok");
    assert_string_equal(claim_field(r, "drover_attempt"), "2");
    assert_string_equal(claim_field(r, "drover_max_attempts"), "3");
    freeReplyObject(r);
    expect_list(INFLIGHT, (const char *const[]){ "b", "a", "z" }, 3);
    assert_int_equal(cmd_int("EXISTS", QUEUE, NULL), 0);
    r = claim();
    assert_int_equal(r->type, REDIS_REPLY_NIL);
    freeReplyObject(r);
}

static void
claim_is_fifo_with_lpush_producers(void **state)
{
    static const char *const ids[] = { "j1", "j2", "j3", "j4" };
    (void)state;

    freeReplyObject(cmd("FLUSHALL", NULL));
    for (size_t i = 0; i < 4; i++) {
        char key[32];

        (void)snprintf(key, sizeof(key), "hero:job:%s", ids[i]);
        freeReplyObject(cmd("HSET", key, "script", ids[i], NULL));
        freeReplyObject(cmd("LPUSH", QUEUE, ids[i], NULL));
    }
    for (size_t i = 0; i < 4; i++)
        expect_claimed(ids[i]);
    expect_list(INFLIGHT, (const char *const[]){ "j4", "j3", "j2", "j1" }, 4);
}

static void
claim_refuses_an_id_without_a_job_hash(void **state)
{
    (void)state;

    freeReplyObject(cmd("FLUSHALL", NULL));
    freeReplyObject(cmd("LPUSH", INFLIGHT, "held", NULL));
    freeReplyObject(cmd("SET", "hero:job:str", "not a hash", NULL));
    freeReplyObject(cmd("LPUSH", QUEUE, "gone", "str", NULL));
    expect_refused("gone", "bad", "no job hash at hero:job:gone");
    expect_list("hero:q:reply:gone", (const char *const[]){ "no job hash at hero:job:gone" }, 1);
    expect_list(INFLIGHT, (const char *const[]){ "held" }, 1);
    expect_refused("str", "bad", "string");
    expect_list("hero:q:reply:str",
                (const char *const[]){ "the key hero:job:str holds a string, not a job hash" }, 1);
    expect_list(INFLIGHT, (const char *const[]){ "held" }, 1);
    assert_int_equal(cmd_int("EXISTS", QUEUE, NULL), 0);
    /* Nothing was written at either key. */
    assert_int_equal(cmd_int("EXISTS", "hero:job:gone", NULL), 0);
    {
        redisReply *r = cmd("GET", "hero:job:str", NULL);

        assert_int_equal(r->type, REDIS_REPLY_STRING);
        assert_string_equal(r->str, "not a hash");
        freeReplyObject(r);
    }
}

static void
claim_leaves_another_nodes_job_alone(void **state)
{
    (void)state;

    freeReplyObject(cmd("FLUSHALL", NULL));
    freeReplyObject(cmd("HSET", "hero:job:run", "script", "s", "drover_state", "running",
                        "drover_owner", "n2", "drover_attempt", "1", "status", "started", NULL));
    freeReplyObject(cmd("HSET", "hero:job:disp", "script", "s", "drover_state", "dispatched",
                        "drover_owner", "n3", "drover_attempt", "2", NULL));
    freeReplyObject(cmd("LPUSH", QUEUE, "run", "disp", NULL));
    expect_refused("run", "owned", "n2");
    expect_refused("disp", "owned", "n3");
    assert_int_equal(cmd_int("EXISTS", INFLIGHT, NULL), 0);
    /* This node's own running job, its id pushed twice: not taken again (its state stays). */
    freeReplyObject(cmd("HSET", "hero:job:mine", "script", "s", "drover_state", "running",
                        "drover_owner", "n1", "drover_attempt", "1", NULL));
    freeReplyObject(cmd("RPUSH", INFLIGHT, "mine", NULL));
    freeReplyObject(cmd("LPUSH", QUEUE, "mine", NULL));
    expect_refused("mine", "owned", "n1");
    expect_field("hero:job:mine", "drover_state", "running");
    expect_list(INFLIGHT, (const char *const[]){ "mine" }, 1);
    expect_field("hero:job:run", "drover_owner", "n2");
    expect_field("hero:job:run", "drover_state", "running");
    expect_field("hero:job:run", "status", "started");
    expect_field("hero:job:disp", "drover_owner", "n3");
    expect_field("hero:job:disp", "drover_attempt", "2");
    assert_int_equal(cmd_int("EXISTS", "hero:q:reply:run", NULL), 0);
}

static void
claim_skips_a_finished_job_unless_sent_back(void **state)
{
    redisReply *r;
    (void)state;

    freeReplyObject(cmd("FLUSHALL", NULL));
    freeReplyObject(cmd("HSET", "hero:job:done", "script", "s", "drover_state", "success", "status",
                        "finished", "drover_owner", "", "drover_attempt", "2", NULL));
    freeReplyObject(cmd("HSET", "hero:job:again", "script", "s", "drover_state", "failed", "status",
                        "dispatched", "drover_owner", "", "drover_attempt", "3",
                        "drover_max_attempts", "3", "drover_error_code", "exit_1",
                        "drover_finished_ms", "1000", NULL));
    freeReplyObject(cmd("LPUSH", QUEUE, "done", "again", NULL));
    expect_refused("done", "finished", "success");
    assert_int_equal(cmd_int("EXISTS", INFLIGHT, NULL), 0);
    expect_field("hero:job:done", "drover_state", "success");
    expect_field("hero:job:done", "status", "finished");
    expect_field("hero:job:done", "drover_attempt", "2");
    /* Its client set status back to dispatched: a new run, from attempt 1. */
    r = claim();
    expect_claim(r, "again", "ok");
    assert_string_equal(claim_field(r, "drover_attempt"), "1");
    assert_null(claim_field(r, "drover_max_attempts"));
    freeReplyObject(r);
    expect_field("hero:job:again", "drover_state", "dispatched");
    expect_field("hero:job:again", "drover_owner", "n1");
    expect_field("hero:job:again", "drover_attempt", "1");
    expect_absent("hero:job:again", "drover_max_attempts");
    expect_absent("hero:job:again", "drover_error_code");
    expect_absent("hero:job:again", "drover_finished_ms");
    expect_list(INFLIGHT, (const char *const[]){ "again" }, 1);
}

static void
claim_normalises_an_attempt_it_cannot_read(void **state)
{
    static const struct {
        const char *given, *want;
    } cases[] = {
        { "abc", "1" }, { "0", "1" },  { "-2", "1" },      { "2.5", "1" },
        { "", "1" },    { "02", "2" }, { "1000001", "1" }, { "1000000", "1000000" },
        { "3", "3" },
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        redisReply *r;

        freeReplyObject(cmd("FLUSHALL", NULL));
        freeReplyObject(
            cmd("HSET", "hero:job:j", "script", "s", "drover_attempt", cases[i].given, NULL));
        freeReplyObject(cmd("LPUSH", QUEUE, "j", NULL));
        r = claim();
        expect_claim(r, "j", "ok");
        if (strcmp(claim_field(r, "drover_attempt"), cases[i].want) != 0)
            fail_msg("drover_attempt \"%s\" claimed as \"%s\", want \"%s\"", cases[i].given,
                     claim_field(r, "drover_attempt"), cases[i].want);
        freeReplyObject(r);
        expect_field("hero:job:j", "drover_attempt", cases[i].want);
    }
}

/* A job n1 holds, dispatched with this attempt, in INFLIGHT after "other". */
static void
held_job(const char *id, const char *attempt)
{
    char key[64];

    (void)snprintf(key, sizeof(key), "hero:job:%s", id);
    freeReplyObject(cmd("FLUSHALL", NULL));
    freeReplyObject(cmd("HSET", key, "script", "s", "status", "dispatched", "drover_state",
                        "dispatched", "drover_owner", "n1", "drover_attempt", attempt,
                        "drover_queue", QUEUE, "updated_at", "before", NULL));
    freeReplyObject(cmd("LPUSH", INFLIGHT, "other", id, NULL));
}

static void
start_is_fenced_by_owner_and_attempt(void **state)
{
    (void)state;

    held_job("j", "2");
    assert_int_equal(
        cmd_int("EVAL", redis_script_start, "1", "hero:job:j", "n2", "2", NOW, "osis:0", "3", "99000", NULL), 0);
    assert_int_equal(
        cmd_int("EVAL", redis_script_start, "1", "hero:job:j", "n1", "1", NOW, "osis:0", "3", "99000", NULL), 0);
    assert_int_equal(
        cmd_int("EVAL", redis_script_start, "1", "hero:job:nope", "n1", "2", NOW, "osis:0", "3", "99000", NULL),
        0);
    expect_field("hero:job:j", "status", "dispatched");
    expect_field("hero:job:j", "drover_state", "dispatched");
    expect_field("hero:job:j", "updated_at", "before");
    expect_absent("hero:job:j", "actor_id");
    expect_absent("hero:job:j", "worker_id");
    expect_absent("hero:job:j", "drover_max_attempts");
    assert_int_equal(cmd_int("EXISTS", "hero:job:nope", NULL), 0);
    assert_int_equal(
        cmd_int("EVAL", redis_script_start, "1", "hero:job:j", "n1", "2", NOW, "osis:3", "3", "99000", NULL),
        1);
    expect_field("hero:job:j", "status", "started");
    expect_field("hero:job:j", "drover_state", "running");
    expect_field("hero:job:j", "actor_id", "osis:3");
    expect_field("hero:job:j", "worker_id", "osis:3");
    expect_field("hero:job:j", "updated_at", NOW);
    expect_field("hero:job:j", "drover_owner", "n1");
    expect_field("hero:job:j", "drover_attempt", "2");
    expect_field("hero:job:j", "drover_max_attempts", "3"); /* what a requeue reads */
    expect_field("hero:job:j", "drover_deadline_ms", "99000");
}

static long long
retry(const char *attempt, const char *node)
{
    return cmd_int("EVAL", redis_script_retry, "3", "hero:job:j", INFLIGHT, RETRY, "j", attempt,
                   node, "2", "5000", "it broke", "exit_1", NOW, NULL);
}

static void
retry_is_fenced_then_due_then_claimed(void **state)
{
    redisReply *r;
    (void)state;

    held_job("j", "1");
    freeReplyObject(
        cmd("HSET", "hero:job:j", "drover_state", "running", "status", "started", NULL));
    assert_int_equal(retry("1", "n2"), 0);
    assert_int_equal(retry("2", "n1"), 0);
    expect_field("hero:job:j", "drover_state", "running");
    expect_field("hero:job:j", "drover_owner", "n1");
    expect_field("hero:job:j", "drover_attempt", "1");
    expect_absent("hero:job:j", "error");
    assert_int_equal(cmd_int("EXISTS", RETRY, NULL), 0);
    expect_list(INFLIGHT, (const char *const[]){ "j", "other" }, 2);
    assert_int_equal(retry("1", "n1"), 1);
    expect_field("hero:job:j", "drover_state", "retry_wait");
    expect_field("hero:job:j", "drover_owner", "");
    expect_field("hero:job:j", "drover_attempt", "2");
    expect_field("hero:job:j", "status", "dispatched");
    expect_field("hero:job:j", "error", "it broke");
    expect_field("hero:job:j", "drover_error_code", "exit_1");
    expect_field("hero:job:j", "updated_at", NOW);
    expect_list(INFLIGHT, (const char *const[]){ "other" }, 1);
    r = cmd("ZSCORE", RETRY, "j", NULL);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_string_equal(r->str, "5000");
    freeReplyObject(r);
    /* Nobody's now: the same call again is fenced. */
    assert_int_equal(retry("1", "n1"), 0);
    assert_int_equal(cmd_int("ZCARD", RETRY, NULL), 1);
    /* Not due yet, then due: back in its queue for any node, at the attempt it is due for. */
    assert_int_equal(
        cmd_int("EVAL", redis_script_retry_due, "1", RETRY, "hero", "4999", "100", NULL), 0);
    assert_int_equal(cmd_int("EXISTS", QUEUE, NULL), 0);
    assert_int_equal(
        cmd_int("EVAL", redis_script_retry_due, "1", RETRY, "hero", "5001", "100", NULL), 1);
    expect_list(QUEUE, (const char *const[]){ "j" }, 1);
    expect_field("hero:job:j", "drover_state", "waiting");
    assert_int_equal(cmd_int("ZCARD", RETRY, NULL), 0);
    r = claim();
    expect_claim(r, "j", "ok");
    assert_string_equal(claim_field(r, "drover_attempt"), "2");
    assert_string_equal(claim_field(r, "drover_owner"), "n1");
    freeReplyObject(r);
}

static long long
release(const char *attempt, const char *node)
{
    return cmd_int("EVAL", redis_script_release, "3", "hero:job:j", INFLIGHT, QUEUE, "j", attempt,
                   node, NOW, NULL);
}

static void
release_is_fenced_and_puts_the_job_next_in_line(void **state)
{
    (void)state;

    held_job("j", "1");
    freeReplyObject(cmd("HSET", "hero:job:later", "script", "s", NULL));
    freeReplyObject(cmd("LPUSH", QUEUE, "later", NULL));
    assert_int_equal(release("1", "n2"), 0);
    assert_int_equal(release("2", "n1"), 0);
    expect_field("hero:job:j", "drover_owner", "n1");
    expect_field("hero:job:j", "drover_state", "dispatched");
    expect_field("hero:job:j", "updated_at", "before");
    expect_list(QUEUE, (const char *const[]){ "later" }, 1);
    expect_list(INFLIGHT, (const char *const[]){ "j", "other" }, 2);
    assert_int_equal(release("1", "n1"), 1);
    expect_field("hero:job:j", "drover_state", "waiting");
    expect_field("hero:job:j", "drover_owner", "");
    expect_field("hero:job:j", "drover_attempt", "1"); /* never started: not counted */
    expect_field("hero:job:j", "status", "dispatched");
    expect_field("hero:job:j", "updated_at", NOW);
    expect_list(QUEUE, (const char *const[]){ "later", "j" }, 2);
    expect_list(INFLIGHT, (const char *const[]){ "other" }, 1);
    assert_int_equal(release("1", "n1"), 0); /* nobody's now */
    assert_int_equal(cmd_int("LLEN", QUEUE, NULL), 2);
    expect_claimed("j"); /* next in line */
    expect_claimed("later");
}

static long long
unclaim(const char *id, const char *node)
{
    return cmd_int("EVAL", redis_script_unclaim, "1", INFLIGHT, "hero", "7000", id, node, "600",
                   NULL);
}

static void
unclaim_sends_back_only_this_nodes_job(void **state)
{
    (void)state;

    /* Not in the inflight list: nothing. */
    held_job("j", "1");
    assert_int_equal(unclaim("absent", "n1"), 0);
    expect_list(INFLIGHT, (const char *const[]){ "j", "other" }, 2);
    /* In the list but another node's now: only dropped from the list. */
    freeReplyObject(cmd("HSET", "hero:job:j", "drover_owner", "n2", NULL));
    assert_int_equal(unclaim("j", "n1"), 0);
    expect_list(INFLIGHT, (const char *const[]){ "other" }, 1);
    expect_field("hero:job:j", "drover_owner", "n2");
    expect_field("hero:job:j", "drover_state", "dispatched");
    assert_int_equal(cmd_int("EXISTS", QUEUE, NULL), 0);
    /* Taken, not started: next in line, attempt unchanged. */
    held_job("j", "1");
    freeReplyObject(cmd("LPUSH", QUEUE, "later", NULL));
    assert_int_equal(unclaim("j", "n1"), 1);
    expect_list(INFLIGHT, (const char *const[]){ "other" }, 1);
    expect_list(QUEUE, (const char *const[]){ "later", "j" }, 2);
    expect_field("hero:job:j", "drover_state", "waiting");
    expect_field("hero:job:j", "drover_owner", "");
    expect_field("hero:job:j", "drover_attempt", "1");
    expect_field("hero:job:j", "status", "dispatched");
    /* Running with attempts left: its attempt counts. */
    held_job("j", "1");
    freeReplyObject(
        cmd("HSET", "hero:job:j", "drover_state", "running", "drover_max_attempts", "2", NULL));
    assert_int_equal(unclaim("j", "n1"), 1);
    expect_list(QUEUE, (const char *const[]){ "j" }, 1);
    expect_field("hero:job:j", "drover_attempt", "2");
    expect_field("hero:job:j", "drover_error_code", "worker_lost");
    /* Running its last attempt: failed, with its reply. */
    held_job("j", "2");
    freeReplyObject(
        cmd("HSET", "hero:job:j", "drover_state", "running", "drover_max_attempts", "2", NULL));
    assert_int_equal(unclaim("j", "n1"), 1);
    assert_int_equal(cmd_int("EXISTS", QUEUE, NULL), 0);
    expect_field("hero:job:j", "drover_state", "failed");
    expect_field("hero:job:j", "status", "error");
    expect_field("hero:job:j", "drover_finished_ms", "7000");
    expect_list("hero:q:reply:j",
                (const char *const[]){ "its node was lost with attempt 2 of 2 running" }, 1);
    expect_list(INFLIGHT, (const char *const[]){ "other" }, 1);
}

static long long
submit(const char *id, const char *type, const char *payload)
{
    char key[64];

    (void)snprintf(key, sizeof(key), "hero:job:%s", id);
    return cmd_int("EVAL", redis_script_submit, "3", key, QUEUE, RETRY, id, type, payload, "0",
                   "timeout", "30", "status", "dispatched", "drover_max_attempts", "2", NULL);
}

static void
submit_writes_a_new_job_once(void **state)
{
    (void)state;

    freeReplyObject(cmd("FLUSHALL", NULL));
    assert_int_equal(submit("j", "osis", "print(1)"), 1);
    expect_field("hero:job:j", "id", "j");
    expect_field("hero:job:j", "script_type", "osis");
    expect_field("hero:job:j", "script", "print(1)");
    expect_field("hero:job:j", "timeout", "30");
    expect_field("hero:job:j", "status", "dispatched");
    expect_field("hero:job:j", "drover_max_attempts", "2");
    assert_int_equal(cmd_int("HLEN", "hero:job:j", NULL), 6);
    expect_list(QUEUE, (const char *const[]){ "j" }, 1);
    /* The same again: nothing written, nothing pushed. */
    freeReplyObject(cmd("HSET", "hero:job:j", "status", "started", NULL));
    assert_int_equal(submit("j", "osis", "print(1)"), 0);
    expect_field("hero:job:j", "status", "started");
    expect_list(QUEUE, (const char *const[]){ "j" }, 1);
    /* The same id for another job. */
    assert_int_equal(submit("j", "osis", "print(2)"), -1);
    assert_int_equal(submit("j", "sal", "print(1)"), -1);
    expect_field("hero:job:j", "script", "print(1)");
    expect_field("hero:job:j", "script_type", "osis");
    expect_list(QUEUE, (const char *const[]){ "j" }, 1);
    /* A key of another type is not a job to overwrite. */
    freeReplyObject(cmd("SET", "hero:job:s", "x", NULL));
    assert_int_equal(submit("s", "osis", "print(1)"), -1);
    {
        redisReply *r = cmd("TYPE", "hero:job:s", NULL);

        assert_string_equal(r->str, "string");
        freeReplyObject(r);
    }
    /* A second new one goes behind the first (LPUSH), so claim takes j first. */
    assert_int_equal(submit("k", "osis", "print(3)"), 1);
    expect_list(QUEUE, (const char *const[]){ "k", "j" }, 2);
    freeReplyObject(cmd("HSET", "hero:job:j", "status", "dispatched", NULL));
    expect_claimed("j");
    /* Without extra pairs. */
    assert_int_equal(cmd_int("EVAL", redis_script_submit, "3", "hero:job:m", QUEUE, RETRY, "m",
                             "osis", "p", "0", NULL),
                     1);
    assert_int_equal(cmd_int("HLEN", "hero:job:m", NULL), 3);
    /* Delayed: in the retry zset until due, then queued by retry_due like a retry. */
    assert_int_equal(cmd_int("EVAL", redis_script_submit, "3", "hero:job:d", QUEUE, RETRY, "d",
                             "osis", "p", "5000", "status", "dispatched", NULL),
                     1);
    expect_field("hero:job:d", "drover_state", "delayed");
    expect_field("hero:job:d", "drover_queue", QUEUE);
    expect_list(QUEUE, (const char *const[]){ "m", "k" }, 2);
    {
        redisReply *r = cmd("ZSCORE", RETRY, "d", NULL);

        assert_string_equal(r->str, "5000"); /* due then */
        freeReplyObject(r);
    }
    assert_int_equal(
        cmd_int("EVAL", redis_script_retry_due, "1", RETRY, "hero", "4999", "100", NULL), 0);
    assert_int_equal(
        cmd_int("EVAL", redis_script_retry_due, "1", RETRY, "hero", "5000", "100", NULL), 1);
    expect_field("hero:job:d", "drover_state", "waiting");
    expect_list(QUEUE, (const char *const[]){ "d", "m", "k" }, 3);
}

static void
node_beat_holds_the_name_for_its_token(void **state)
{
    redisReply *r;
    long long pttl;
    (void)state;

    freeReplyObject(cmd("FLUSHALL", NULL));
    assert_int_equal(
        cmd_int("EVAL", redis_script_node_beat, "1", "drover:node:n1", "tok-a", "30000", NULL), 1);
    pttl = cmd_int("PTTL", "drover:node:n1", NULL);
    assert_true(pttl > 0 && pttl <= 30000);
    /* The same drover again: renewed, with the new ttl. */
    assert_int_equal(
        cmd_int("EVAL", redis_script_node_beat, "1", "drover:node:n1", "tok-a", "90000", NULL), 1);
    pttl = cmd_int("PTTL", "drover:node:n1", NULL);
    assert_true(pttl > 30000 && pttl <= 90000);
    /* Another drover with the same node name: refused, nothing changed. */
    assert_int_equal(
        cmd_int("EVAL", redis_script_node_beat, "1", "drover:node:n1", "tok-b", "1000", NULL), 0);
    r = cmd("GET", "drover:node:n1", NULL);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_string_equal(r->str, "tok-a");
    freeReplyObject(r);
    pttl = cmd_int("PTTL", "drover:node:n1", NULL);
    assert_true(pttl > 30000);
    /* Once it expired (here: deleted), the other may take it. */
    freeReplyObject(cmd("DEL", "drover:node:n1", NULL));
    assert_int_equal(
        cmd_int("EVAL", redis_script_node_beat, "1", "drover:node:n1", "tok-b", "1000", NULL), 1);
    r = cmd("GET", "drover:node:n1", NULL);
    assert_string_equal(r->str, "tok-b");
    freeReplyObject(r);
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
    /* The others compile too (a syntax error would show here, not on a node). */
    for (const char *const *s =
             (const char *const[]){ redis_script_complete, redis_script_requeue_node,
                                    redis_script_claim, redis_script_start, redis_script_retry,
                                    redis_script_release, redis_script_submit,
                                    redis_script_node_beat, redis_script_unclaim,
                                    redis_script_retry_due, redis_script_depth, NULL };
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
        cmocka_unit_test(claim_of_an_empty_queue_is_nil),
        cmocka_unit_test(claim_takes_the_tail_and_owns_the_job),
        cmocka_unit_test(claim_is_fifo_with_lpush_producers),
        cmocka_unit_test(claim_refuses_an_id_without_a_job_hash),
        cmocka_unit_test(claim_leaves_another_nodes_job_alone),
        cmocka_unit_test(claim_skips_a_finished_job_unless_sent_back),
        cmocka_unit_test(claim_normalises_an_attempt_it_cannot_read),
        cmocka_unit_test(start_is_fenced_by_owner_and_attempt),
        cmocka_unit_test(retry_is_fenced_then_due_then_claimed),
        cmocka_unit_test(release_is_fenced_and_puts_the_job_next_in_line),
        cmocka_unit_test(unclaim_sends_back_only_this_nodes_job),
        cmocka_unit_test(submit_writes_a_new_job_once),
        cmocka_unit_test(node_beat_holds_the_name_for_its_token),
        cmocka_unit_test(complete_is_fenced_by_owner_and_attempt),
        cmocka_unit_test(requeue_node_takes_a_dead_nodes_jobs_back_once),
        cmocka_unit_test(retry_due_moves_only_what_is_due),
        cmocka_unit_test(depth_counts_waiting_and_held_per_queue_across_nodes),
        cmocka_unit_test(evalsha_after_load_and_noscript_before),
    };

    return cmocka_run_group_tests_name("redis_scripts", tests, setup, teardown);
}

/*
 * test_cfg_jobs: the `jobs` sections of the configuration (core/cfg_jobs.c,
 * wired by core/cfg.c). The defaults; every key set, at the top level and in
 * a program, in both forms; the checks across programs (the default type,
 * one program per type, autoscale within max_instances); and one case per
 * error class, each reported once as "SOURCE:LINE:COL: PATH: message" at the
 * offending value (or key). Every parsed config is released with cfg_done()
 * so that ASan sees any leak.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cfg.h"
#include "core/cfg_jobs.h"

/* --- helpers ---------------------------------------------------------------------------------- */

static struct cfg_errors errs;

static void
parse_ok(const char *text, struct config *cfg)
{
    memset(&errs, 0, sizeof(errs));
    if (cfg_parse(text, strlen(text), "x.json", cfg, &errs) != 0)
        print_error("unexpected errors: %s", errs.text);
    assert_int_equal(errs.count, 0);
}

/* Parses text, which must fail (leaving *cfg alone); returns the number of errors. */
static unsigned
parse_fails(const char *text)
{
    struct config cfg = { .nprograms = 12345 };

    memset(&errs, 0, sizeof(errs));
    assert_int_equal(cfg_parse(text, strlen(text), "x.json", &cfg, &errs), -EINVAL);
    assert_int_equal(cfg.nprograms, 12345);
    assert_null(cfg.programs);
    assert_true(errs.count >= 1);
    return errs.count;
}

/*
 * text (one line) fails with exactly one error, "x.json:1:COL: path: ..."
 * containing phrase, COL being where `at` (which occurs once in text) starts.
 */
static void
one_error(const char *text, const char *at, const char *path, const char *phrase)
{
    const char *pos = strstr(text, at);
    char prefix[256];
    unsigned n;

    if (!pos || strstr(pos + 1, at))
        fail_msg("%s: \"%s\" must occur once", text, at);
    (void)snprintf(prefix, sizeof(prefix), "x.json:1:%d: %s: ", (int)(pos - text) + 1, path);
    n = parse_fails(text);
    if (n != 1 || strncmp(errs.text, prefix, strlen(prefix)) != 0 || !strstr(errs.text, phrase))
        print_error("input: %s\nwanted: %s...%s\n   got: %s", text, prefix, phrase, errs.text);
    assert_int_equal(n, 1);
    assert_int_equal(strncmp(errs.text, prefix, strlen(prefix)), 0);
    assert_non_null(strstr(errs.text, phrase));
    assert_ptr_equal(strchr(errs.text, '\n'), errs.text + errs.len - 1);
}

/* A config of one program "w" whose `jobs` is the object given, and the top level's members. */
static void
program_jobs(char *buf, size_t size, const char *jobs, const char *top)
{
    (void)snprintf(buf, size,
                   "{\"programs\": [{\"name\": \"w\", \"command\": [\"w\"], \"jobs\": %s}]%s%s}",
                   jobs, *top ? ", " : "", top);
}

/* --- valid configurations --------------------------------------------------------------------- */

static void
defaults_without_jobs(void **state)
{
    struct config cfg;

    (void)state;
    parse_ok("{\"programs\": [{\"command\": [\"a\"]}]}", &cfg);
    assert_false(cfg.jobs.given);
    assert_int_equal(cfg.jobs.store, JOBS_STORE_FILE);
    assert_null(cfg.jobs.dir);
    assert_null(cfg.jobs.socket);
    assert_int_equal(cfg.jobs.fsync, JOBS_FSYNC_SUBMIT);
    assert_int_equal(cfg.jobs.result_ttl_ms, 3600 * 1000);
    assert_int_equal(cfg.jobs.failed_ttl_ms, 7 * 86400 * 1000LL);
    assert_int_equal(cfg.jobs.max_finished, 10000);
    assert_int_equal(cfg.jobs.max_payload, 1024 * 1024);
    assert_int_equal(cfg.jobs.max_queued_bytes, 256ull * 1024 * 1024);
    assert_false(cfg.programs[0].jobs.enabled);
    assert_null(cfg.programs[0].jobs.types);
    assert_int_equal(cfg.programs[0].jobs.ntypes, 0);
    cfg_done(&cfg);

    /* The list form: the top level's defaults too. */
    parse_ok("[{\"command\": [\"a\"]}]", &cfg);
    assert_false(cfg.jobs.given);
    assert_int_equal(cfg.jobs.max_payload, CFG_JOBS_DEFAULT_MAX_PAYLOAD);
    cfg_done(&cfg);
}

static void
program_defaults(void **state)
{
    struct config cfg;
    const struct program_jobs_cfg *pj;

    (void)state;
    parse_ok("{\"programs\": [{\"name\": \"resize\", \"command\": [\"a\"], \"jobs\": {}}]}", &cfg);
    pj = &cfg.programs[0].jobs;
    assert_true(pj->enabled);
    assert_int_equal(pj->ntypes, 1);
    assert_string_equal(pj->types[0], "resize");
    assert_int_equal(pj->concurrency, 1);
    assert_int_equal(pj->timeout_ms, 5 * 60 * 1000);
    assert_int_equal(pj->cancel_grace_ms, 10000);
    assert_int_equal(pj->attempts, 3);
    assert_int_equal(pj->backoff_initial_ms, 1000);
    assert_int_equal(pj->backoff_max_ms, 5 * 60 * 1000);
    assert_true(pj->backoff_factor == 2.0);
    assert_true(pj->backoff_jitter == 0.2);
    assert_int_equal(pj->max_worker_kills, 2);
    assert_int_equal(pj->dispatch, JOBS_DISPATCH_PACK);
    assert_true(pj->ping);
    assert_int_equal(pj->ping_idle_ms, 10 * 60 * 1000);
    assert_int_equal(pj->ping_timeout_ms, 5000);
    assert_int_equal(pj->ping_failures, 3);
    assert_false(pj->autoscale);
    /* Resolved for every program with jobs: max_instances (16 by default) and concurrency. */
    assert_int_equal(pj->autoscale_min, 1);
    assert_int_equal(pj->autoscale_max, 16);
    assert_int_equal(pj->per_instance, 1);
    assert_int_equal(pj->autoscale_interval_ms, 2000);
    assert_int_equal(pj->down_after_ms, 5 * 60 * 1000);
    /* A program's jobs work without the top-level object. */
    assert_false(cfg.jobs.given);
    cfg_done(&cfg);
}

static void
top_level_every_key(void **state)
{
    struct config cfg;

    (void)state;
    parse_ok("{\"programs\": [{\"command\": [\"a\"]}],"
             " \"jobs\": {\"store\": \"memory\", \"dir\": \"q\", \"fsync\": \"always\","
             " \"result_ttl\": \"2h\", \"failed_ttl\": \"1d\", \"max_finished\": 5,"
             " \"max_payload\": \"2MiB\", \"max_queued_bytes\": 8388608,"
             " \"socket\": \"/run/drover-jobs.sock\"}}",
             &cfg);
    assert_true(cfg.jobs.given);
    assert_int_equal(cfg.jobs.store, JOBS_STORE_MEMORY);
    assert_string_equal(cfg.jobs.dir, "q");
    assert_int_equal(cfg.jobs.fsync, JOBS_FSYNC_ALWAYS);
    assert_int_equal(cfg.jobs.result_ttl_ms, 2 * 3600 * 1000);
    assert_int_equal(cfg.jobs.failed_ttl_ms, 86400 * 1000);
    assert_int_equal(cfg.jobs.max_finished, 5);
    assert_int_equal(cfg.jobs.max_payload, 2 * 1024 * 1024);
    assert_int_equal(cfg.jobs.max_queued_bytes, 8 * 1024 * 1024);
    assert_string_equal(cfg.jobs.socket, "/run/drover-jobs.sock");
    cfg_done(&cfg);

    /* The other spellings: each store, fsync, sizes as numbers and with units. */
    parse_ok("{\"programs\": [{\"command\": [\"a\"]}], \"jobs\": {\"store\": \"file\","
             " \"fsync\": \"never\", \"max_payload\": 1, \"max_queued_bytes\": \"1KB\","
             " \"result_ttl\": 1, \"failed_ttl\": \"30d\"}}",
             &cfg);
    assert_int_equal(cfg.jobs.store, JOBS_STORE_FILE);
    assert_int_equal(cfg.jobs.fsync, JOBS_FSYNC_NEVER);
    assert_int_equal(cfg.jobs.max_payload, 1);
    assert_int_equal(cfg.jobs.max_queued_bytes, 1024);
    assert_int_equal(cfg.jobs.failed_ttl_ms, 30 * 86400 * 1000LL);
    cfg_done(&cfg);

    /* The redis store: every key, then the defaults. */
    parse_ok("{\"programs\": [{\"command\": [\"a\"]}], \"jobs\": {\"store\": \"redis\","
             " \"redis\": {\"url\": \"redis://[::1]:7000/3\", \"prefix\": \"h2\","
             " \"node\": \"m-{{hostname}}\", \"queue_key\": \"{{prefix}}:job:actor_queue:{{type}}\","
             " \"node_ttl\": \"3s\", \"password_file\": \"/etc/drover/redis.pass\"}}}",
             &cfg);
    assert_int_equal(cfg.jobs.store, JOBS_STORE_REDIS);
    assert_true(cfg.jobs.redis.given);
    assert_string_equal(cfg.jobs.redis.url_text, "redis://[::1]:7000/3");
    assert_string_equal(cfg.jobs.redis.url.host, "::1");
    assert_int_equal(cfg.jobs.redis.url.port, 7000);
    assert_int_equal(cfg.jobs.redis.url.db, 3);
    assert_string_equal(cfg_jobs_redis_prefix(&cfg.jobs.redis), "h2");
    assert_string_equal(cfg_jobs_redis_node(&cfg.jobs.redis), "m-{{hostname}}");
    assert_string_equal(cfg_jobs_redis_queue_key(&cfg.jobs.redis),
                        "{{prefix}}:job:actor_queue:{{type}}");
    assert_int_equal(cfg.jobs.redis.node_ttl_ms, 3000);
    assert_string_equal(cfg.jobs.redis.password_file, "/etc/drover/redis.pass");
    cfg_done(&cfg);
    parse_ok("{\"programs\": [{\"command\": [\"a\"]}], \"jobs\": {\"store\": \"redis\","
             " \"redis\": {\"url\": \"unix:/run/redis.sock\"}}}",
             &cfg);
    assert_true(cfg.jobs.redis.url.unix_socket);
    assert_string_equal(cfg.jobs.redis.url.path, "/run/redis.sock");
    assert_string_equal(cfg_jobs_redis_prefix(&cfg.jobs.redis), "hero");
    assert_string_equal(cfg_jobs_redis_node(&cfg.jobs.redis), "{{hostname}}");
    assert_string_equal(cfg_jobs_redis_queue_key(&cfg.jobs.redis), "{{prefix}}:q:work:type:{{type}}");
    assert_int_equal(cfg.jobs.redis.node_ttl_ms, CFG_JOBS_REDIS_DEFAULT_NODE_TTL_MS);
    assert_null(cfg.jobs.redis.password_file);
    cfg_done(&cfg);

    /* TTLs in days, whole or not; the upper bound is the durations' own, 30 days. */
    parse_ok("{\"programs\": [{\"command\": [\"a\"]}], \"jobs\": {\"result_ttl\": \"1.5d\","
             " \"failed_ttl\": \"7d\"}}",
             &cfg);
    assert_int_equal(cfg.jobs.result_ttl_ms, 36 * 3600 * 1000);
    assert_int_equal(cfg.jobs.failed_ttl_ms, 7 * 86400 * 1000LL);
    cfg_done(&cfg);

    parse_ok("{\"programs\": [{\"command\": [\"a\"]}], \"jobs\": {\"fsync\": \"submit\","
             " \"max_payload\": \"64MiB\"}}",
             &cfg);
    assert_int_equal(cfg.jobs.max_payload, CFG_JOBS_MAX_MAX_PAYLOAD);
    assert_int_equal(cfg.jobs.fsync, JOBS_FSYNC_SUBMIT);
    cfg_done(&cfg);
}

static void
program_every_key(void **state)
{
    struct config cfg;
    const struct program_jobs_cfg *pj;

    (void)state;
    parse_ok("{\"programs\": [{\"name\": \"w\", \"command\": [\"a\"], \"max_instances\": 20,"
             " \"jobs\": {\"types\": [\"osis\", \"v.2_x-y\"], \"concurrency\": 4,"
             " \"timeout\": \"90s\", \"cancel_grace\": 0, \"attempts\": 7,"
             " \"backoff\": {\"initial\": \"250ms\", \"factor\": 1.5, \"max\": \"1m\","
             " \"jitter\": 0}, \"max_worker_kills\": 0, \"dispatch\": \"spread\","
             " \"ping\": {\"idle\": \"30s\", \"timeout\": \"2s\", \"failures\": 5},"
             " \"autoscale\": {\"min\": 0, \"max\": 20, \"per_instance\": 8,"
             " \"interval\": \"500ms\", \"down_after\": \"1m\"}}}]}",
             &cfg);
    pj = &cfg.programs[0].jobs;
    assert_true(pj->enabled);
    assert_int_equal(pj->ntypes, 2);
    assert_string_equal(pj->types[0], "osis");
    assert_string_equal(pj->types[1], "v.2_x-y");
    assert_int_equal(pj->concurrency, 4);
    assert_int_equal(pj->timeout_ms, 90000);
    assert_int_equal(pj->cancel_grace_ms, 0);
    assert_int_equal(pj->attempts, 7);
    assert_int_equal(pj->backoff_initial_ms, 250);
    assert_true(pj->backoff_factor == 1.5);
    assert_int_equal(pj->backoff_max_ms, 60000);
    assert_true(pj->backoff_jitter == 0);
    assert_int_equal(pj->max_worker_kills, 0);
    assert_int_equal(pj->dispatch, JOBS_DISPATCH_SPREAD);
    assert_true(pj->ping);
    assert_int_equal(pj->ping_idle_ms, 30000);
    assert_int_equal(pj->ping_timeout_ms, 2000);
    assert_int_equal(pj->ping_failures, 5);
    assert_true(pj->autoscale);
    assert_int_equal(pj->autoscale_min, 0);
    assert_int_equal(pj->autoscale_max, 20);
    assert_int_equal(pj->per_instance, 8);
    assert_int_equal(pj->autoscale_interval_ms, 500);
    assert_int_equal(pj->down_after_ms, 60000);
    cfg_done(&cfg);
}

static void
ping_and_autoscale_forms(void **state)
{
    struct config cfg;
    const struct program_jobs_cfg *pj;

    (void)state;
    parse_ok("[{\"name\": \"a\", \"command\": [\"a\"], \"jobs\": {\"ping\": false}},"
             " {\"name\": \"b\", \"command\": [\"b\"], \"jobs\": {\"ping\": true,"
             " \"autoscale\": false}},"
             " {\"name\": \"c\", \"command\": [\"c\"], \"max_instances\": 40,"
             " \"jobs\": {\"concurrency\": 3, \"ping\": {}, \"autoscale\": {}}},"
             " {\"name\": \"d\", \"command\": [\"d\"], \"jobs\": {\"autoscale\": {\"max\": 1}}}]",
             &cfg);
    assert_false(cfg.programs[0].jobs.ping);
    assert_true(cfg.programs[1].jobs.ping);
    assert_false(cfg.programs[1].jobs.autoscale);
    pj = &cfg.programs[2].jobs;
    assert_true(pj->ping);
    assert_int_equal(pj->ping_idle_ms, CFG_JOBS_DEFAULT_PING_IDLE_MS);
    assert_true(pj->autoscale);
    /* Not given: max is max_instances, per_instance is concurrency. */
    assert_int_equal(pj->autoscale_min, 1);
    assert_int_equal(pj->autoscale_max, 40);
    assert_int_equal(pj->per_instance, 3);
    assert_int_equal(cfg.programs[3].jobs.autoscale_max, 1);
    cfg_done(&cfg);
}

/* The default type is the program's name, a made-up one too (after cfg.c's assign_names()). */
static void
default_type_is_the_name(void **state)
{
    struct config cfg;

    (void)state;
    parse_ok("[{\"command\": [\"/usr/bin/worker\"], \"jobs\": {}},"
             " {\"command\": [\"/opt/worker\"], \"jobs\": {}},"
             " {\"command\": [\"/bin/other\"]}]",
             &cfg);
    assert_string_equal(cfg.programs[0].jobs.types[0], "worker");
    assert_string_equal(cfg.programs[1].jobs.types[0], "worker-2");
    assert_false(cfg.programs[2].jobs.enabled);
    cfg_done(&cfg);

    /* Explicit types and another program's name by default do not clash when they differ. */
    parse_ok(
        "{\"programs\": [{\"name\": \"a\", \"command\": [\"a\"], \"jobs\": {\"types\": [\"b2\"]}},"
        " {\"name\": \"b\", \"command\": [\"b\"], \"jobs\": {}}]}",
        &cfg);
    assert_string_equal(cfg.programs[0].jobs.types[0], "b2");
    assert_string_equal(cfg.programs[1].jobs.types[0], "b");
    cfg_done(&cfg);
}

/* Many programs with many types: the set of types taken is a hash, never full. */
static void
many_types(void **state)
{
    size_t size = 1 << 20, len = 0;
    char *text = malloc(size);
    struct config cfg;

    (void)state;
    assert_non_null(text);
    len += (size_t)snprintf(text + len, size - len, "[");
    for (int p = 0; p < 200; p++) {
        len += (size_t)snprintf(text + len, size - len,
                                "%s{\"name\": \"p%d\", \"command\": [\"x\"], \"max_instances\": 1,"
                                " \"jobs\": {\"types\": [",
                                p ? ", " : "", p);
        for (int t = 0; t < CFG_JOBS_MAX_TYPES; t++)
            len += (size_t)snprintf(text + len, size - len, "%s\"t%d-%d\"", t ? ", " : "", p, t);
        len += (size_t)snprintf(text + len, size - len, "]}}");
    }
    (void)snprintf(text + len, size - len, "]");
    parse_ok(text, &cfg);
    assert_int_equal(cfg.programs[199].jobs.ntypes, CFG_JOBS_MAX_TYPES);
    assert_string_equal(cfg.programs[199].jobs.types[63], "t199-63");
    cfg_done(&cfg);
    free(text);
}

static void
names(void **state)
{
    (void)state;
    assert_string_equal(jobs_store_name(JOBS_STORE_FILE), "file");
    assert_string_equal(jobs_store_name(JOBS_STORE_MEMORY), "memory");
    assert_string_equal(jobs_store_name(JOBS_STORE_REDIS), "redis");
    assert_string_equal(jobs_store_name(JOBS_STORE_INVALID), "?");
    assert_string_equal(jobs_store_name(JOBS_STORE__MAX), "?");
    assert_string_equal(jobs_fsync_name(JOBS_FSYNC_SUBMIT), "submit");
    assert_string_equal(jobs_fsync_name(JOBS_FSYNC_ALWAYS), "always");
    assert_string_equal(jobs_fsync_name(JOBS_FSYNC_NEVER), "never");
    assert_string_equal(jobs_fsync_name(JOBS_FSYNC_INVALID), "?");
    assert_string_equal(jobs_dispatch_name(JOBS_DISPATCH_PACK), "pack");
    assert_string_equal(jobs_dispatch_name(JOBS_DISPATCH_SPREAD), "spread");
    assert_string_equal(jobs_dispatch_name(JOBS_DISPATCH__MAX), "?");
}

/* x_done() on what defaults made, and twice: nothing to free, nothing freed twice. */
static void
done_is_safe(void **state)
{
    struct jobs_cfg jc;
    struct program_jobs_cfg pj;

    (void)state;
    cfg_jobs_defaults(&jc);
    cfg_program_jobs_defaults(&pj);
    cfg_jobs_done(&jc);
    cfg_jobs_done(&jc);
    cfg_program_jobs_done(&pj);
    cfg_program_jobs_done(&pj);
    assert_null(pj.types);
    assert_null(jc.dir);
}

/* --- errors: the top level -------------------------------------------------------------------- */

static void
top_level_errors(void **state)
{
    static const struct {
        const char *jobs; /* the top-level `jobs` value */
        const char *at, *path, *phrase;
    } cases[] = {
        { "[]", "[]", "jobs", "expected job store settings {\"store\", \"dir\"" },
        { "{\"stor\": 1}", "\"stor\"", "jobs.stor",
          "unknown key \"stor\" (known: store, dir, fsync, result_ttl, failed_ttl, max_finished, "
          "max_payload, max_queued_bytes, socket, redis)" },
        { "{\"store\": \"redis\"}", "\"redis\"", "jobs.store",
          "the redis store needs jobs.redis.url (\"unix:PATH\" or \"redis://HOST[:PORT][/DB]\")" },
        { "{\"store\": \"redis\", \"redis\": {}}", "{}", "jobs.redis",
          "the redis store needs jobs.redis.url" },
        { "{\"redis\": {\"url\": \"unix:r.sock\"}}", "\"redis\"", "jobs.redis",
          "jobs.redis is for store \"redis\", and the store is \"file\"" },
        { "{\"store\": \"redis\", \"redis\": []}", "[]", "jobs.redis",
          "expected Redis store settings {\"url\", \"prefix\"" },
        { "{\"store\": \"redis\", \"redis\": {\"url\": \"unix:r\", \"host\": 1}}", "\"host\"",
          "jobs.redis.host", "unknown key \"host\" (known: url, prefix, node, queue_key, node_ttl, "
          "password_file)" },
        { "{\"store\": \"redis\", \"redis\": {\"url\": \"redis://u:p@h\"}}", "\"redis://u:p@h\"",
          "jobs.redis.url", "password" },
        { "{\"store\": \"redis\", \"redis\": {\"url\": \"http://h\"}}", "\"http://h\"",
          "jobs.redis.url", "unix:" },
        { "{\"store\": \"redis\", \"redis\": {\"url\": \"unix:r\", \"prefix\": \"a b\"}}",
          "\"a b\"", "jobs.redis.prefix", "character 2 is not printable ASCII" },
        { "{\"store\": \"redis\", \"redis\": {\"url\": \"unix:r\", \"prefix\": \"\"}}", "\"\"",
          "jobs.redis.prefix", "expected a non-empty string" },
        { "{\"store\": \"redis\", \"redis\": {\"url\": \"unix:r\", \"node\": \"{{host}}\"}}",
          "\"{{host}}\"", "jobs.redis.node",
          "unknown placeholder \"{{host}}\" (expected {{hostname}})" },
        { "{\"store\": \"redis\", \"redis\": {\"url\": \"unix:r\", \"queue_key\": \"q:all\"}}",
          "\"q:all\"", "jobs.redis.queue_key", "no {{type}}: every type would share one queue" },
        { "{\"store\": \"redis\", \"redis\": {\"url\": \"unix:r\", \"queue_key\": \"q:{{type\"}}",
          "\"q:{{type\"", "jobs.redis.queue_key", "\"{{\" at character 3 is not closed" },
        { "{\"store\": \"redis\", \"redis\": {\"url\": \"unix:r\", \"queue_key\": \"{{id}}{{type}}\"}}",
          "\"{{id}}{{type}}\"", "jobs.redis.queue_key",
          "unknown placeholder \"{{id}}\" (expected {{prefix}} or {{type}})" },
        { "{\"store\": \"redis\", \"redis\": {\"url\": \"unix:r\", \"node_ttl\": \"500ms\"}}",
          "\"500ms\"", "jobs.redis.node_ttl", "node_ttl must be at least 1000ms" },
        { "{\"store\": \"redis\", \"redis\": {\"url\": \"unix:r\", \"node_ttl\": \"2h\"}}",
          "\"2h\"", "jobs.redis.node_ttl", "node_ttl is at most 1h" },
        { "{\"store\": \"redis\", \"redis\": {\"url\": \"unix:r\", \"password_file\": \"p\"}}",
          "\"p\"", "jobs.redis.password_file", "expected an absolute path, got \"p\"" },
        { "{\"store\": \"disk\"}", "\"disk\"", "jobs.store",
          "expected \"file\", \"memory\" or \"redis\", got \"disk\"" },
        { "{\"store\": 1}", "1}", "jobs.store",
          "expected \"file\", \"memory\" or \"redis\", got an integer" },
        { "{\"dir\": \"\"}", "\"\"", "jobs.dir", "expected a non-empty string" },
        { "{\"fsync\": \"sometimes\"}", "\"sometimes\"", "jobs.fsync",
          "expected \"submit\", \"always\" or \"never\", got \"sometimes\"" },
        { "{\"result_ttl\": \"500ms\"}", "\"500ms\"", "jobs.result_ttl",
          "result_ttl must be at least 1000ms" },
        { "{\"failed_ttl\": \"31d\"}", "\"31d\"", "jobs.failed_ttl",
          "duration out of range (0 to 30 days)" },
        { "{\"failed_ttl\": \"d\"}", "\"d\"", "jobs.failed_ttl", "expected a duration" },
        { "{\"failed_ttl\": \"1hd\"}", "\"1hd\"", "jobs.failed_ttl", "expected a duration" },
        { "{\"result_ttl\": \"0d\"}", "\"0d\"", "jobs.result_ttl",
          "result_ttl must be at least 1000ms" },
        { "{\"max_finished\": 0}", "0}", "jobs.max_finished",
          "expected an integer from 1 to 1000000, got 0" },
        { "{\"max_payload\": \"65MiB\"}", "\"65MiB\"", "jobs.max_payload",
          "size out of range (1 byte to 64 MiB), got 68157440 bytes" },
        { "{\"max_payload\": 0}", "0}", "jobs.max_payload",
          "size out of range (1 byte to 64 MiB)" },
        { "{\"max_payload\": -1}", "-1", "jobs.max_payload", "got -1" },
        { "{\"max_payload\": \"1XB\"}", "\"1XB\"", "jobs.max_payload",
          "expected a size such as \"1MiB\" or a number of bytes (1 byte to 64 MiB), got \"1XB\"" },
        { "{\"max_payload\": 1.5}", "1.5", "jobs.max_payload", "got a number" },
        { "{\"max_queued_bytes\": \"2TiB\"}", "\"2TiB\"", "jobs.max_queued_bytes",
          "(1 byte to 1 TiB)" },
        { "{\"max_payload\": \"2MiB\", \"max_queued_bytes\": \"1MiB\"}", "\"1MiB\"",
          "jobs.max_queued_bytes",
          "max_queued_bytes (1048576) is below max_payload (2097152): a job of the largest "
          "payload could never be queued" },
        { "{\"socket\": \"jobs.sock\"}", "\"jobs.sock\"", "jobs.socket",
          "expected an absolute path" },
        { "{\"socket\": false}", "false", "jobs.socket", "expected a string, got a boolean" },
    };
    char text[1024];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        (void)snprintf(text, sizeof(text), "{\"programs\": [{\"command\": [\"a\"]}], \"jobs\": %s}",
                       cases[i].jobs);
        one_error(text, cases[i].at, cases[i].path, cases[i].phrase);
    }
}

static void
socket_too_long(void **state)
{
    char path[200], text[512];

    (void)state;
    memset(path, 'a', sizeof(path) - 1);
    path[0] = '/';
    path[108] = '\0'; /* 108 bytes: one more than sun_path holds with its NUL */
    (void)snprintf(text, sizeof(text),
                   "{\"programs\": [{\"command\": [\"a\"]}], \"jobs\": {\"socket\": \"%s\"}}",
                   path);
    one_error(text, "\"/aaa", "jobs.socket", "a socket path has at most 107 bytes, this one 108");
    path[107] = '\0';
    (void)snprintf(text, sizeof(text),
                   "{\"programs\": [{\"command\": [\"a\"]}], \"jobs\": {\"socket\": \"%s\"}}",
                   path);
    {
        struct config cfg;

        parse_ok(text, &cfg);
        assert_int_equal(strlen(cfg.jobs.socket), 107);
        cfg_done(&cfg);
    }
}

/* --- errors: a program's ---------------------------------------------------------------------- */

static void
program_errors(void **state)
{
    static const struct {
        const char *jobs; /* program w's `jobs` value */
        const char *at, *path, *phrase;
    } cases[] = {
        { "true", "true", "programs[0].jobs", "expected job settings {\"types\", \"concurrency\"" },
        { "{\"type\": [\"a\"]}", "\"type\"", "programs[0].jobs.type",
          "unknown key \"type\" (known: types, concurrency, timeout, cancel_grace, attempts, "
          "backoff, max_worker_kills, dispatch, ping, autoscale)" },
        { "{\"types\": \"a\"}", "\"a\"", "programs[0].jobs.types",
          "expected a list of type names, got a string" },
        { "{\"types\": []}", "[]", "programs[0].jobs.types", "no types: expected at least one" },
        { "{\"types\": [\"ok\", \"a b\"]}", "\"a b\"", "programs[0].jobs.types[1]",
          "\"a b\" is not a type name (1 to 64 of A-Z a-z 0-9 _ . -)" },
        { "{\"types\": [\"ok\", 7]}", "7", "programs[0].jobs.types[1]", "expected a string" },
        { "{\"types\": [\"a\", \"b\", \"a\"]}", "\"a\"]", "programs[0].jobs.types[2]",
          "\"a\" is listed twice" },
        { "{\"concurrency\": 0}", "0}", "programs[0].jobs.concurrency",
          "expected an integer from 1 to 1024, got 0" },
        { "{\"concurrency\": 1025}", "1025", "programs[0].jobs.concurrency",
          "expected an integer from 1 to 1024, got 1025" },
        { "{\"timeout\": \"soon\"}", "\"soon\"", "programs[0].jobs.timeout",
          "expected a duration" },
        { "{\"cancel_grace\": -1}", "-1", "programs[0].jobs.cancel_grace",
          "duration out of range" },
        { "{\"attempts\": 0}", "0}", "programs[0].jobs.attempts",
          "expected an integer from 1 to 1000, got 0" },
        { "{\"max_worker_kills\": 1001}", "1001", "programs[0].jobs.max_worker_kills",
          "expected an integer from 0 to 1000" },
        { "{\"dispatch\": \"random\"}", "\"random\"", "programs[0].jobs.dispatch",
          "expected \"pack\" or \"spread\", got \"random\"" },
        { "{\"backoff\": 5}", "5}", "programs[0].jobs.backoff",
          "expected retry backoff settings {\"initial\", \"factor\", \"max\", \"jitter\"}" },
        { "{\"backoff\": {\"maximum\": 5}}", "\"maximum\"", "programs[0].jobs.backoff.maximum",
          "unknown key \"maximum\" (known: initial, factor, max, jitter)" },
        { "{\"backoff\": {\"factor\": 0.5}}", "0.5", "programs[0].jobs.backoff.factor",
          "expected a number from 1 to 100, got 0.5" },
        { "{\"backoff\": {\"factor\": \"2\"}}", "\"2\"", "programs[0].jobs.backoff.factor",
          "expected a number from 1 to 100, got a string" },
        { "{\"backoff\": {\"jitter\": 1.5}}", "1.5", "programs[0].jobs.backoff.jitter",
          "expected a number from 0 to 1, got 1.5" },
        { "{\"backoff\": {\"initial\": \"10s\", \"max\": \"5s\"}}", "{\"initial\"",
          "programs[0].jobs.backoff", "backoff max (5000 ms) is below initial (10000 ms)" },
        { "{\"ping\": \"yes\"}", "\"yes\"", "programs[0].jobs.ping",
          "expected ping settings {\"idle\", \"timeout\", \"failures\"} or false" },
        { "{\"ping\": {\"every\": 1}}", "\"every\"", "programs[0].jobs.ping.every",
          "unknown key \"every\" (known: idle, timeout, failures)" },
        { "{\"ping\": {\"idle\": \"10ms\"}}", "\"10ms\"", "programs[0].jobs.ping.idle",
          "idle must be at least 1000ms" },
        { "{\"ping\": {\"timeout\": 0}}", "0}", "programs[0].jobs.ping.timeout",
          "timeout must be positive" },
        { "{\"ping\": {\"failures\": 0}}", "0}", "programs[0].jobs.ping.failures",
          "expected an integer from 1 to 100, got 0" },
        { "{\"autoscale\": true}", "true", "programs[0].jobs.autoscale",
          "expected autoscale settings {\"min\", \"max\", \"per_instance\", \"interval\", "
          "\"down_after\"} or false" },
        { "{\"autoscale\": {\"maximum\": 3}}", "\"maximum\"", "programs[0].jobs.autoscale.maximum",
          "unknown key \"maximum\" (known: min, max, per_instance, interval, down_after)" },
        { "{\"autoscale\": {\"max\": 0}}", "0}", "programs[0].jobs.autoscale.max",
          "expected an integer from 1 to 10000, got 0" },
        { "{\"autoscale\": {\"per_instance\": 0}}", "0}", "programs[0].jobs.autoscale.per_instance",
          "expected an integer from 1 to 100000, got 0" },
        { "{\"autoscale\": {\"interval\": \"10ms\"}}", "\"10ms\"",
          "programs[0].jobs.autoscale.interval", "interval must be at least 100ms" },
        { "{\"autoscale\": {\"down_after\": []}}", "[]", "programs[0].jobs.autoscale.down_after",
          "expected a duration" },
        /* The checks after every program is read: max_instances is 16 by default. */
        { "{\"autoscale\": {\"max\": 17}}", "17", "programs[0].jobs.autoscale.max",
          "autoscale max (17) is above max_instances (16)" },
        { "{\"autoscale\": {\"min\": 5, \"max\": 4}}", "5,", "programs[0].jobs.autoscale.min",
          "autoscale min (5) is above max (4)" },
        { "{\"autoscale\": {\"min\": 17}}", "17", "programs[0].jobs.autoscale.min",
          "autoscale min (17) is above max, which is max_instances by default (16)" },
    };
    char text[1024];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        program_jobs(text, sizeof(text), cases[i].jobs, "");
        one_error(text, cases[i].at, cases[i].path, cases[i].phrase);
    }
}

static void
too_many_types(void **state)
{
    char text[4096];
    size_t len = 0;

    (void)state;
    len += (size_t)snprintf(text + len, sizeof(text) - len,
                            "[{\"command\": [\"w\"], \"jobs\": {\"types\": [");
    for (int t = 0; t <= CFG_JOBS_MAX_TYPES; t++)
        len += (size_t)snprintf(text + len, sizeof(text) - len, "%s\"t%d\"", t ? ", " : "", t);
    (void)snprintf(text + len, sizeof(text) - len, "]}}]");
    one_error(text, "[\"t0\"", "[0].jobs.types", "more than 64 types");
}

/* In the list form the path has no "programs", and the positions still point right. */
static void
list_form_errors(void **state)
{
    (void)state;
    one_error("[{\"command\": [\"a\"]}, {\"command\": [\"b\"], \"jobs\": {\"attempts\": \"x\"}}]",
              "\"x\"", "[1].jobs.attempts", "expected an integer from 1 to 1000, got a string");
    one_error("[{\"name\": \"a\", \"command\": [\"a\"], \"jobs\": {\"types\": [\"t\"]}},"
              " {\"name\": \"b\", \"command\": [\"b\"], \"jobs\": {\"types\": [\"u\", \"t\"]}}]",
              "\"t\"]}}]", "[1].jobs.types[1]",
              "type \"t\" is taken by program \"a\" too: one program per type");
    one_error("[{\"name\": \"a\", \"command\": [\"a\"], \"max_instances\": 2,"
              " \"jobs\": {\"autoscale\": {\"max\": 3}}}]",
              "3}", "[0].jobs.autoscale.max", "autoscale max (3) is above max_instances (2)");
}

/* One program per type: the second is the error, whether its type was given or its name. */
static void
type_taken_twice(void **state)
{
    (void)state;
    one_error("{\"programs\": [{\"name\": \"a\", \"command\": [\"a\"], \"jobs\": {}},"
              " {\"name\": \"b\", \"command\": [\"b\"], \"jobs\": {\"types\": [\"x\", \"a\"]}}]}",
              "\"a\"]}}]}", "programs[1].jobs.types[1]",
              "type \"a\" is taken by program \"a\" too: one program per type");
    /* The second takes its name by default: the error is at its `jobs`. */
    one_error(
        "{\"programs\": [{\"name\": \"a\", \"command\": [\"a\"], \"jobs\": {\"types\": [\"b\"]}},"
        " {\"name\": \"b\", \"command\": [\"b\"], \"jobs\": {\"concurrency\": 2}}]}",
        "{\"concurrency\"", "programs[1].jobs",
        "type \"b\" (the program's name: it has no \"types\") is taken by program \"a\" too");
    /* A program without `jobs` takes no type, so its name clashes with nothing. */
    {
        struct config cfg;

        parse_ok("{\"programs\": [{\"name\": \"a\", \"command\": [\"a\"]},"
                 " {\"name\": \"b\", \"command\": [\"b\"], \"jobs\": {\"types\": [\"a\"]}}]}",
                 &cfg);
        cfg_done(&cfg);
    }
    /* Three programs on one type: two errors, each at the later one. */
    assert_int_equal(parse_fails("[{\"name\": \"a\", \"command\": [\"a\"], \"jobs\": {}},"
                                 " {\"name\": \"b\", \"command\": [\"b\"],"
                                 " \"jobs\": {\"types\": [\"a\"]}},"
                                 " {\"name\": \"c\", \"command\": [\"c\"],"
                                 " \"jobs\": {\"types\": [\"a\"]}}]"),
                     2);
    assert_non_null(strstr(errs.text, "[1].jobs.types[0]: type \"a\" is taken by program \"a\""));
    assert_non_null(strstr(errs.text, "[2].jobs.types[0]: type \"a\" is taken by program \"a\""));
}

/* Every error of one object is reported, and a position on another line says its line. */
static void
all_errors_at_once(void **state)
{
    (void)state;
    assert_int_equal(parse_fails("{\"programs\": [{\"command\": [\"a\"],\n"
                                 "  \"jobs\": {\"concurrency\": 0,\n"
                                 "           \"dispatch\": \"x\", \"bogus\": 1}}],\n"
                                 " \"jobs\": {\"store\": \"disk\", \"fsync\": 3}}"),
                     5);
    assert_non_null(strstr(errs.text, "x.json:2:27: programs[0].jobs.concurrency: "));
    assert_non_null(strstr(errs.text, "x.json:3:24: programs[0].jobs.dispatch: "));
    assert_non_null(strstr(errs.text, "x.json:3:29: programs[0].jobs.bogus: unknown key"));
    assert_non_null(strstr(errs.text, "x.json:4:20: jobs.store: expected \"file\""));
    assert_non_null(strstr(errs.text, "x.json:4:37: jobs.fsync: "));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_without_jobs),
        cmocka_unit_test(program_defaults),
        cmocka_unit_test(top_level_every_key),
        cmocka_unit_test(program_every_key),
        cmocka_unit_test(ping_and_autoscale_forms),
        cmocka_unit_test(default_type_is_the_name),
        cmocka_unit_test(many_types),
        cmocka_unit_test(names),
        cmocka_unit_test(done_is_safe),
        cmocka_unit_test(top_level_errors),
        cmocka_unit_test(socket_too_long),
        cmocka_unit_test(program_errors),
        cmocka_unit_test(too_many_types),
        cmocka_unit_test(list_form_errors),
        cmocka_unit_test(type_taken_twice),
        cmocka_unit_test(all_errors_at_once),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

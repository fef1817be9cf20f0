/*
 * test_api: the HTTP answers as pure functions: /health thresholds and
 * counts, each bad parameter, the program filter, /status and /readyz;
 * the checks of a request (target limits, NUL, UTF-8) and the escaping of
 * echoed input; GET /logs's query and answer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/api.h"

static struct api_instance pool[] = {
    { .program = "w", .index = 0, .pid = 10, .state = SVC_RUNNING, .want_up = true, .ready = true,
      .silent_ms = 100, .up_ms = 5000, .status = "polling" },
    { .program = "w", .index = 1, .pid = 11, .state = SVC_RUNNING, .want_up = true, .ready = true,
      .silent_ms = 9000, .up_ms = 5000, .status = "" },
    { .program = "db", .index = 0, .pid = 0, .state = SVC_FATAL, .want_up = true, .silent_ms = -1, .up_ms = -1,
      .has_exit = true, .last_exit = { .known = true, .signaled = true, .value = 9 }, .restarts = 5,
      .status = "" },
};

static json_t *parse(struct api_answer a, int want_code);

/* memory_max: the fields are there for its instances only; null before the first sample. */
static void
status_memory(void **state)
{
    struct api_instance v[] = {
        { .program = "m", .index = 0, .pid = 10, .state = SVC_RUNNING, .silent_ms = -1, .up_ms = 1,
          .status = "", .memory_max = 64 << 20, .memory_samples = 3, .memory_bytes = 1234567,
          .memory_restarts = 2 },
        { .program = "m", .index = 1, .pid = 11, .state = SVC_STARTING, .silent_ms = -1, .up_ms = 1,
          .status = "", .memory_max = 64 << 20 },
        { .program = "p", .index = 0, .pid = 12, .state = SVC_RUNNING, .silent_ms = -1, .up_ms = 1,
          .status = "" },
    };
    json_t *j, *m0, *m1, *p0;
    (void)state;

    j = parse(api_status(v, 3, NULL), 200);
    m0 = json_array_get(json_object_get(json_object_get(j, "programs"), "m"), 0);
    m1 = json_array_get(json_object_get(json_object_get(j, "programs"), "m"), 1);
    p0 = json_array_get(json_object_get(json_object_get(j, "programs"), "p"), 0);
    assert_int_equal(json_integer_value(json_object_get(m0, "memory_bytes")), 1234567);
    assert_int_equal(json_integer_value(json_object_get(m0, "memory_max_bytes")), 64 << 20);
    assert_int_equal(json_integer_value(json_object_get(m0, "memory_samples")), 3);
    assert_int_equal(json_integer_value(json_object_get(m0, "memory_restarts")), 2);
    assert_true(json_is_null(json_object_get(m1, "memory_bytes")));
    assert_int_equal(json_integer_value(json_object_get(m1, "memory_samples")), 0);
    assert_null(json_object_get(p0, "memory_bytes"));
    assert_null(json_object_get(p0, "memory_max_bytes"));
    json_decref(j);
}

static json_t *
parse(struct api_answer a, int want_code)
{
    json_t *j;

    assert_int_equal(a.code, want_code);
    assert_non_null(a.body);
    j = json_loads(a.body, 0, NULL);
    assert_non_null(j);
    free(a.body);
    return j;
}

static void
health_thresholds(void **state)
{
    json_t *j;
    (void)state;

    /* Defaults: X = 0, T = 30 s: the fatal db is unhealthy, the 9 s silence is not. */
    j = parse(api_health(pool, 3, NULL, NULL, NULL, 0, 30000), 503);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "counts"), "unhealthy")), 1);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(j, "unhealthy_instances"), 0), "reason")),
                        "not running");
    json_decref(j);
    /* T = 5 s: w:1 is silent too; X = 2 tolerates both. */
    j = parse(api_health(pool, 3, "2", "5s", NULL, 0, 30000), 200);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "counts"), "silent")), 1);
    assert_true(json_is_true(json_object_get(j, "healthy")));
    json_decref(j);
    j = parse(api_health(pool, 3, "1", "5s", NULL, 0, 30000), 503);
    json_decref(j);
    /* program filter: w alone is healthy with T = 30 s. */
    j = parse(api_health(pool, 3, "0", NULL, "w", 0, 30000), 200);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "counts"), "instances")), 2);
    json_decref(j);
    /* A configured program with no instance (scaled to 0): healthy, nothing counted. */
    j = parse(api_health(pool, 3, "0", NULL, "nope", 0, 30000), 200);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "counts"), "instances")), 0);
    json_decref(j);
}

/* Defaults from the config: X from the caller of api_health, T per instance; the query wins. */
static void
health_config_defaults(void **state)
{
    struct api_instance v[3];
    json_t *j;
    (void)state;

    memcpy(v, pool, sizeof(v));
    v[1].default_silence_ms = 5000; /* w's program says 5 s: w:1 (9 s) is silent */
    j = parse(api_health(v, 3, NULL, NULL, "w", 0, 5000), 503);
    /* The body reports the T it was given for the scope, not a built-in one. */
    assert_true(json_real_value(json_object_get(json_object_get(j, "thresholds"), "silence_seconds")) ==
                5.0);
    json_decref(j);
    j = parse(api_health(v, 3, NULL, NULL, "w", 1, 30000), 200); /* and its max_silent 1 tolerates it */
    json_decref(j);
    j = parse(api_health(v, 3, NULL, "60s", "w", 0, 30000), 200); /* the query's T wins */
    json_decref(j);
}

static void
health_bad_parameters(void **state)
{
    static const struct {
        const char *max_silent, *silence, *param;
    } bad[] = {
        { "-1", NULL, "max_silent" }, { "x", NULL, "max_silent" },   { "", NULL, "max_silent" },
        { "1.5", NULL, "max_silent" }, { "99999999", NULL, "max_silent" }, { NULL, "abc", "silence" },
        { NULL, "-3s", "silence" },   { NULL, "", "silence" },      { NULL, "999999999999", "silence" },
    };
    (void)state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *j = parse(api_health(pool, 3, bad[i].max_silent, bad[i].silence, NULL, 0, 30000), 400);
        assert_string_equal(json_string_value(json_object_get(j, "parameter")), bad[i].param);
        json_decref(j);
    }
}

static void
status_and_readyz(void **state)
{
    json_t *j, *w, *db;
    (void)state;

    j = parse(api_status(pool, 3, NULL), 200);
    w = json_object_get(json_object_get(j, "programs"), "w");
    db = json_array_get(json_object_get(json_object_get(j, "programs"), "db"), 0);
    assert_int_equal(json_array_size(w), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(w, 0), "status")), "polling");
    assert_true(json_is_null(json_object_get(db, "pid")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(db, "last_exit"), "signal")), "KILL");
    assert_int_equal(json_integer_value(json_object_get(db, "restarts")), 5);
    json_decref(j);
    j = parse(api_status(pool, 3, "db"), 200);
    assert_int_equal(json_object_size(json_object_get(j, "programs")), 1);
    json_decref(j);
    j = parse(api_status(pool, 3, "zz"), 200); /* configured, scaled to 0: an empty list */
    assert_int_equal(json_array_size(json_object_get(json_object_get(j, "programs"), "zz")), 0);
    json_decref(j);
    j = parse(api_readyz(pool, 3, true, NULL), 503); /* db wants to run and is fatal */
    assert_int_equal(json_array_size(json_object_get(j, "not_ready")), 1);
    assert_null(json_object_get(j, "job_store"));
    json_decref(j);
    j = parse(api_readyz(pool, 2, true, NULL), 200);
    json_decref(j);
    j = parse(api_readyz(pool, 2, false, NULL), 503); /* initial start not done */
    json_decref(j);
    j = parse(api_readyz(pool, 2, true, "Connection refused"), 503); /* the redis store is down */
    assert_false(json_is_true(json_object_get(j, "ready")));
    assert_string_equal(json_string_value(json_object_get(j, "job_store")),
                        "the job store (Redis) is unreachable: Connection refused");
    json_decref(j);
}

/* The raw target's limits: length, '&'-separated pieces, an encoded NUL in the path only. */
static void
uri_check(void **state)
{
    char *big = malloc(API_URI_MAX + 2), *many = malloc(4 * API_PARAMS_MAX + 16);
    size_t n = 0;
    (void)state;

    assert_int_equal(api_uri_check(NULL), 0);
    assert_int_equal(api_uri_check("/health?max_silent=1&silence=5s"), 0);
    assert_int_equal(api_uri_check("/livez?"), 0);
    assert_int_equal(api_uri_check("/livez%00junk"), API_URI_PATH_NUL);
    assert_int_equal(api_uri_check("/stop/w%00"), API_URI_PATH_NUL);
    assert_int_equal(api_uri_check("/livez%0"), 0);
    assert_int_equal(api_uri_check("/livez%10%20"), 0);
    assert_int_equal(api_uri_check("/signal/w?signal=HUP%00KILL"), 0); /* values: checked decoded */
    /* API_PARAMS_MAX pieces pass, one more does not; empty pieces count, as MHD stores them. */
    n = (size_t)sprintf(many, "/livez?a");
    for (int i = 1; i < API_PARAMS_MAX; i++)
        n += (size_t)sprintf(many + n, "&a");
    assert_int_equal(api_uri_check(many), 0);
    (void)sprintf(many + n, "&");
    assert_int_equal(api_uri_check(many), 0); /* a trailing '&' adds none */
    (void)sprintf(many + n, "&a");
    assert_int_equal(api_uri_check(many), API_URI_TOO_MANY_PARAMS);
    memset(many, '&', 3 * API_PARAMS_MAX);
    many[0] = '/';
    many[1] = '?';
    many[3 * API_PARAMS_MAX] = '\0';
    assert_int_equal(api_uri_check(many), API_URI_TOO_MANY_PARAMS);
    /* API_URI_MAX bytes pass, one more does not, path or query alike. */
    memset(big, 'x', API_URI_MAX + 1);
    big[0] = '/';
    big[API_URI_MAX] = '\0';
    assert_int_equal(api_uri_check(big), 0);
    big[API_URI_MAX] = 'x';
    big[API_URI_MAX + 1] = '\0';
    assert_int_equal(api_uri_check(big), API_URI_TOO_LONG);
    big[10] = '?';
    assert_int_equal(api_uri_check(big), API_URI_TOO_LONG);
    free(big);
    free(many);
}

static void
uri_answer(void **state)
{
    json_t *j;
    (void)state;

    j = parse(api_uri_answer(API_URI_TOO_MANY_PARAMS, "/livez"), 400);
    assert_string_equal(json_string_value(json_object_get(j, "error")),
                        "bad request: too many parameters (at most 64)");
    assert_string_equal(json_string_value(json_object_get(j, "path")), "/livez");
    json_decref(j);
    j = parse(api_uri_answer(API_URI_TOO_LONG | API_URI_TOO_MANY_PARAMS, "/x"), 414);
    assert_string_equal(json_string_value(json_object_get(j, "error")),
                        "URI too long (at most 8192 bytes)");
    json_decref(j);
    j = parse(api_uri_answer(API_URI_PATH_NUL, "/livez"), 400);
    assert_non_null(strstr(json_string_value(json_object_get(j, "error")), "NUL byte"));
    json_decref(j);
}

/* A decoded path or value that is not valid UTF-8 or has a NUL: 400, and the echo keeps its key. */
static void
checks_escape_what_they_echo(void **state)
{
    json_t *j;
    struct api_answer a;
    (void)state;

    assert_int_equal(api_check_path("/status/w").code, 0);
    assert_int_equal(api_check_path("/status/caf\xc3\xa9").code, 0);
    j = parse(api_check_path("/status/\xff"), 400);
    assert_string_equal(json_string_value(json_object_get(j, "error")),
                        "bad request: the path is not valid UTF-8");
    assert_string_equal(json_string_value(json_object_get(j, "path")), "/status/\\xff");
    json_decref(j);

    assert_int_equal(api_check_param("signal", NULL, 0).code, 0);
    assert_int_equal(api_check_param("signal", "HUP", 3).code, 0);
    assert_int_equal(api_check_param("signal", "", 0).code, 0);
    j = parse(api_check_param("signal", "HUP\0KILL", 8), 400);
    assert_string_equal(json_string_value(json_object_get(j, "error")),
                        "bad query parameter: contains a NUL byte");
    assert_string_equal(json_string_value(json_object_get(j, "parameter")), "signal");
    assert_string_equal(json_string_value(json_object_get(j, "value")), "HUP\\x00KILL");
    json_decref(j);
    j = parse(api_check_param("program", "\xff\xfe", 2), 400);
    assert_string_equal(json_string_value(json_object_get(j, "error")),
                        "bad query parameter: not valid UTF-8");
    assert_string_equal(json_string_value(json_object_get(j, "value")), "\\xff\\xfe");
    json_decref(j);

    /* Echoes elsewhere: escaped, never dropped. */
    j = parse(api_bad_param("instances", "3\xff", "a number"), 400);
    assert_string_equal(json_string_value(json_object_get(j, "value")), "3\\xff");
    json_decref(j);
    j = parse(api_error(404, "no such program", "program", "w\xc0"), 404);
    assert_string_equal(json_string_value(json_object_get(j, "program")), "w\\xc0");
    json_decref(j);
    j = parse(api_health(pool, 3, NULL, NULL, "\xff", 0, 30000), 200);
    assert_string_equal(json_string_value(json_object_get(j, "program")), "\\xff");
    json_decref(j);
    /* Only an unbuildable body is a 500, and then with no body: the caller says what. */
    a = api_json(201, NULL);
    assert_int_equal(a.code, 500);
    assert_null(a.body);
}

/* GET /logs: the query's defaults, ranges and streams; each line with its fields, escaped. */
static void
logs_query_and_answer(void **state)
{
    const struct api_log_line lines[] = {
        { .seq = 7, .unix_ms = 1000, .text = "ok \xff end", .len = 8, .instance = 1, .stream = 0 },
        { .seq = 9, .unix_ms = 1001, .text = "a\0b", .len = 3, .instance = 0, .stream = 1,
          .cut = true },
    };
    size_t n;
    unsigned mask;
    uint64_t since;
    json_t *j, *l;
    (void)state;

    assert_int_equal(api_logs_query(NULL, NULL, NULL, &n, &mask, &since).code, 0);
    assert_int_equal(n, API_LOGS_DEFAULT_LINES);
    assert_int_equal(mask, 3);
    assert_true(since == 0);
    assert_int_equal(api_logs_query("10000", "stderr", "42", &n, &mask, &since).code, 0);
    assert_int_equal(n, 10000);
    assert_int_equal(mask, 2);
    assert_true(since == 42);
    assert_int_equal(api_logs_query("1", "stdout", NULL, &n, &mask, &since).code, 0);
    assert_int_equal(mask, 1);
    assert_int_equal(api_logs_query("1", "both", NULL, &n, &mask, &since).code, 0);
    assert_int_equal(mask, 3);
    const char *bad_lines[] = { "0", "10001", "", "-1", "1x", "99999999" };
    for (size_t i = 0; i < sizeof(bad_lines) / sizeof(bad_lines[0]); i++) {
        j = parse(api_logs_query(bad_lines[i], NULL, NULL, &n, &mask, &since), 400);
        assert_string_equal(json_string_value(json_object_get(j, "parameter")), "lines");
        json_decref(j);
    }
    j = parse(api_logs_query(NULL, "all", NULL, &n, &mask, &since), 400);
    assert_string_equal(json_string_value(json_object_get(j, "parameter")), "stream");
    json_decref(j);
    j = parse(api_logs_query(NULL, NULL, "x", &n, &mask, &since), 400);
    assert_string_equal(json_string_value(json_object_get(j, "parameter")), "since");
    json_decref(j);

    j = parse(api_logs("w", lines, 2, 10), 200);
    assert_string_equal(json_string_value(json_object_get(j, "program")), "w");
    assert_int_equal(json_integer_value(json_object_get(j, "next")), 10);
    l = json_array_get(json_object_get(j, "lines"), 0);
    assert_int_equal(json_integer_value(json_object_get(l, "seq")), 7);
    assert_int_equal(json_integer_value(json_object_get(l, "time_ms")), 1000);
    assert_int_equal(json_integer_value(json_object_get(l, "instance")), 1);
    assert_string_equal(json_string_value(json_object_get(l, "stream")), "stdout");
    assert_string_equal(json_string_value(json_object_get(l, "text")), "ok \\xff end");
    assert_true(json_is_false(json_object_get(l, "cut")));
    l = json_array_get(json_object_get(j, "lines"), 1);
    assert_string_equal(json_string_value(json_object_get(l, "stream")), "stderr");
    assert_string_equal(json_string_value(json_object_get(l, "text")), "a\\x00b");
    assert_true(json_is_true(json_object_get(l, "cut")));
    json_decref(j);
    j = parse(api_logs("w", NULL, 0, 1), 200);
    assert_int_equal(json_array_size(json_object_get(j, "lines")), 0);
    json_decref(j);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(health_thresholds),
        cmocka_unit_test(health_config_defaults),
        cmocka_unit_test(health_bad_parameters),
        cmocka_unit_test(status_and_readyz),
        cmocka_unit_test(status_memory),
        cmocka_unit_test(uri_check),
        cmocka_unit_test(uri_answer),
        cmocka_unit_test(checks_escape_what_they_echo),
        cmocka_unit_test(logs_query_and_answer),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

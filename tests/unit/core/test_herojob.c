/*
 * test_herojob: a Hero job hash read into a drover record (core/herojob.c):
 * Hero's fields as its clients write them (script, timeout seconds, retries,
 * env_vars, caller_id, context_id), drover's own winning over them, what an
 * absent or empty field means, each way a hash is refused with the field it
 * names, the ids drover can name a job by, and Hero's ISO 8601 times.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/herojob.h"

#define MAX_FIELDS 80

static const struct herojob_defaults defaults = {
    .timeout_ms = 60000,
    .attempts = 2,
    .max_attempts = 5,
    .max_payload = 16,
};

struct read {
    int rc;
    struct jobrec *r;
    unsigned attempt;
    char err[512];
};

/* herojob_read() of id and the C-string name, value pairs in kv (up to NULL). */
static struct read
read_kv(const char *id, const char *const *kv)
{
    struct herojob_field f[MAX_FIELDS];
    struct read out = { .attempt = 12345 };
    size_t n = 0;

    for (; kv[0] && n < MAX_FIELDS; kv += 2, n++)
        f[n] = (struct herojob_field){
            .name = kv[0],
            .name_len = strlen(kv[0]),
            .value = kv[1],
            .value_len = strlen(kv[1]),
        };
    out.r = jobrec_new();
    assert_non_null(out.r);
    out.rc = herojob_read(id, strlen(id), f, n, &defaults, out.r, &out.attempt, out.err,
                          sizeof(out.err));
    return out;
}

/* The same, for a hash that must be read: fails with the error it got. */
static struct read
read_ok(const char *id, const char *const *kv)
{
    struct read out = read_kv(id, kv);

    if (out.rc != 0)
        fail_msg("%s refused: %s", id, out.err);
    return out;
}

static void
good_hash_fills_the_record(void **state)
{
    struct read x = read_ok("job-1", (const char *const[]){
                                         "script",
                                         "print('hi')", /* the payload */
                                         "timeout",
                                         "30", /* seconds */
                                         "retries",
                                         "2", /* after the first */
                                         "env_vars",
                                         "{\"A\":\"1\"}", /* JSON object */
                                         "caller_id",
                                         "caller-7", /* labels */
                                         "context_id",
                                         "ctx-9", /* ... */
                                         "drover_attempt",
                                         "2", /* the one out */
                                         "status",
                                         "dispatched", /* ignored */
                                         NULL,
                                     });
    (void)state;

    assert_string_equal(x.r->q.id, "job-1");
    assert_int_equal(x.r->payload_len, strlen("print('hi')"));
    assert_memory_equal(x.r->payload, "print('hi')", x.r->payload_len);
    assert_int_equal(x.r->timeout_ms, 30000);
    assert_int_equal(x.r->max_attempts, 3);
    assert_int_equal(x.r->nenv, 1);
    assert_string_equal(x.r->env[0], "A=1");
    assert_string_equal(x.r->caller_id, "caller-7");
    assert_string_equal(x.r->context_id, "ctx-9");
    assert_true(x.r->idempotent);
    assert_int_equal(x.attempt, 2);
    jobrec_free(x.r);
}

static void
payload_of_max_payload_bytes_and_binary_safe_fields(void **state)
{
    /* Exactly max_payload bytes is fine, and bytes after a field's C string do not count. */
    struct herojob_field f[] = {
        { .name = "script", .name_len = 6, .value = "0123456789abcdef", .value_len = 16 },
        { .name = "timeoutX", .name_len = 7, .value = "5", .value_len = 1 }, /* "timeout" */
    };
    struct jobrec *r = jobrec_new();
    unsigned attempt = 0;
    char err[256] = "";
    (void)state;

    assert_non_null(r);
    if (herojob_read("j", 1, f, 2, &defaults, r, &attempt, err, sizeof(err)) != 0)
        fail_msg("refused: %s", err);
    assert_int_equal(r->payload_len, 16);
    assert_memory_equal(r->payload, "0123456789abcdef", 16);
    assert_int_equal(r->timeout_ms, 5000);
    assert_int_equal(attempt, 1);
    jobrec_free(r);
}

static void
drover_max_attempts_wins_over_retries(void **state)
{
    struct read x = read_ok("j", (const char *const[]){ "script", "s", "retries", "1",
                                                        "drover_max_attempts", "4", NULL });
    (void)state;

    assert_int_equal(x.r->max_attempts, 4);
    jobrec_free(x.r);
    /* 0 or empty: not given, so retries counts. */
    x = read_ok("j", (const char *const[]){ "script", "s", "retries", "1", "drover_max_attempts",
                                            "0", NULL });
    assert_int_equal(x.r->max_attempts, 2);
    jobrec_free(x.r);
    x = read_ok("j", (const char *const[]){ "script", "s", "retries", "0", "drover_max_attempts",
                                            "", NULL });
    assert_int_equal(x.r->max_attempts, 1);
    jobrec_free(x.r);
    /* The limits themselves are allowed. */
    x = read_ok("j", (const char *const[]){ "script", "s", "retries", "4", NULL });
    assert_int_equal(x.r->max_attempts, 5);
    jobrec_free(x.r);
    x = read_ok("j", (const char *const[]){ "script", "s", "drover_max_attempts", "5",
                                            "drover_attempt", "5", NULL });
    assert_int_equal(x.r->max_attempts, 5);
    assert_int_equal(x.attempt, 5);
    jobrec_free(x.r);
}

static void
defaults_when_fields_are_absent_or_empty(void **state)
{
    const char *const *const hashes[] = {
        (const char *const[]){ "script", "s", NULL },
        (const char *const[]){ "script", "s", "timeout", "", "retries", "", "env_vars", "",
                               "caller_id", "", "context_id", "", "drover_attempt", "",
                               "drover_max_attempts", "", NULL },
        (const char *const[]){ "script", "s", "timeout", "0", "drover_attempt", "0", NULL },
    };
    (void)state;

    for (size_t i = 0; i < sizeof(hashes) / sizeof(*hashes); i++) {
        struct read x = read_ok("j", hashes[i]);

        assert_int_equal(x.r->timeout_ms, defaults.timeout_ms);
        assert_int_equal(x.r->max_attempts, defaults.attempts);
        assert_int_equal(x.attempt, 1);
        assert_int_equal(x.r->nenv, 0);
        assert_null(x.r->env);
        assert_null(x.r->caller_id);
        assert_null(x.r->context_id);
        jobrec_free(x.r);
    }
}

static void
empty_script_is_an_empty_payload(void **state)
{
    struct read x = read_ok("j", (const char *const[]){ "script", "", NULL });
    (void)state;

    assert_int_equal(x.r->payload_len, 0);
    jobrec_free(x.r);
}

static void
labels_that_are_not_short_text_are_left_out(void **state)
{
    char long_id[JOBREC_CALLER_MAX + 2];
    struct read x;
    (void)state;

    memset(long_id, 'c', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0'; /* JOBREC_CALLER_MAX + 1 bytes */
    x = read_ok("j", (const char *const[]){ "script", "s", "caller_id", long_id, "context_id",
                                            "\xff", NULL });
    assert_null(x.r->caller_id);
    assert_null(x.r->context_id);
    jobrec_free(x.r);
    long_id[JOBREC_CALLER_MAX] = '\0'; /* exactly the most */
    x = read_ok("j", (const char *const[]){ "script", "s", "caller_id", long_id, NULL });
    assert_string_equal(x.r->caller_id, long_id);
    jobrec_free(x.r);
}

static void
env_vars_in_order_of_the_object(void **state)
{
    struct read x = read_ok(
        "j", (const char *const[]){ "script", "s", "env_vars",
                                    "{\"PATH_X\":\"/bin\",\"_u\":\"\",\"b2\":\"x=y\"}", NULL });
    (void)state;

    assert_int_equal(x.r->nenv, 3);
    assert_string_equal(x.r->env[0], "PATH_X=/bin");
    assert_string_equal(x.r->env[1], "_u=");
    assert_string_equal(x.r->env[2], "b2=x=y");
    jobrec_free(x.r);
}

static void
refused_naming_the_field(void **state)
{
    static const struct {
        const char *id;
        const char *kv[9];
        const char *says, *also;
    } cases[] = {
        { "j", { "timeout", "30", NULL }, "has no field script", NULL },
        { "j", { "script", "\xff\xfe", NULL }, "UTF-8", "byte 1" },
        { "j", { "script", "ab\xff", NULL }, "UTF-8", "byte 3" },
        { "j", { "script", "a\xed\xa0\x80", NULL }, "UTF-8", "byte 2" }, /* a surrogate */
        { "j",
          { "script", "0123456789abcdefg", NULL },
          "field script has 17 bytes, more than jobs.max_payload (16)",
          NULL },
        { "j",
          { "script", "s", "timeout", "abc", NULL },
          "field timeout is not a whole number from 0 to 2592000",
          NULL },
        { "j",
          { "script", "s", "timeout", "-1", NULL },
          "field timeout is not a whole number",
          NULL },
        { "j",
          { "script", "s", "timeout", "1e3", NULL },
          "field timeout is not a whole number",
          NULL },
        { "j",
          { "script", "s", "timeout", " 1", NULL },
          "field timeout is not a whole number",
          NULL },
        { "j", { "script", "s", "timeout", "2592001", NULL }, "from 0 to 2592000", NULL },
        { "j",
          { "script", "s", "timeout", "99999999999999999999999", NULL },
          "field timeout is not a whole number",
          NULL },
        { "j",
          { "script", "s", "retries", "5", NULL },
          "field retries is not a whole number from 0 to 4",
          NULL },
        { "j",
          { "script", "s", "drover_max_attempts", "6", NULL },
          "field drover_max_attempts is not a whole number from 0 to 5",
          NULL },
        { "j",
          { "script", "s", "drover_attempt", "x", NULL },
          "field drover_attempt is not a whole number from 0 to 5",
          NULL },
        { "j",
          { "script", "s", "retries", "1", "drover_attempt", "3", NULL },
          "attempt 3 is past the job's 2 attempts",
          NULL },
        { "j",
          { "script", "s", "drover_attempt", "3", NULL },
          "attempt 3 is past the job's 2 attempts", /* defaults.attempts */
          NULL },
        { "j",
          { "script", "s", "env_vars", "A=1", NULL },
          "field env_vars is not a JSON object: ",
          NULL },
        { "j",
          { "script", "s", "env_vars", "[\"A=1\"]", NULL },
          "field env_vars is not a JSON object",
          NULL },
        { "j",
          { "script", "s", "env_vars", "\"A\"", NULL },
          "field env_vars is not a JSON object",
          NULL },
        { "j",
          { "script", "s", "env_vars", "{\"A\":\"1\",\"A\":\"2\"}", NULL },
          "field env_vars is not a JSON object: ",
          NULL },
        { "j",
          { "script", "s", "env_vars", "{\"A\":1}", NULL },
          "field env_vars: \"A\" is not NAME",
          NULL },
        { "j",
          { "script", "s", "env_vars", "{\"A\":null}", NULL },
          "field env_vars: \"A\" is not NAME",
          NULL },
        { "j",
          { "script", "s", "env_vars", "{\"OK\":\"1\",\"1A\":\"x\"}", NULL },
          "field env_vars: \"1A\" is not NAME",
          NULL },
        { "j",
          { "script", "s", "env_vars", "{\"A-B\":\"x\"}", NULL },
          "field env_vars: \"A-B\" is not NAME",
          NULL },
        { "j",
          { "script", "s", "env_vars", "{\"\":\"x\"}", NULL },
          "field env_vars: \"\" is not NAME",
          NULL },
        { "j",
          { "script", "s", "env_vars", "{\"A\":\"x\\ny\"}", NULL },
          "field env_vars: \"A\" is not NAME (A-Z a-z 0-9 _) with a string value on one line",
          NULL },
        { "", { "script", "s", NULL }, "the id is not 1 to 128 of A-Z a-z 0-9 . _ : -", NULL },
        { "a b", { "script", "s", NULL }, "the id is not 1 to 128", NULL },
        { "a/b", { "script", "s", NULL }, "the id is not 1 to 128", NULL },
        { "j\xc3\xa9", { "script", "s", NULL }, "the id is not 1 to 128", NULL },
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        struct read x = read_kv(cases[i].id, cases[i].kv);

        if (x.rc != -1)
            fail_msg("case %zu (%s=%s): got %d, want -1", i, cases[i].kv[0], cases[i].kv[1], x.rc);
        if (!strstr(x.err, cases[i].says) || (cases[i].also && !strstr(x.err, cases[i].also)))
            fail_msg("case %zu: \"%s\" does not say \"%s\"%s%s", i, x.err, cases[i].says,
                     cases[i].also ? " and " : "", cases[i].also ? cases[i].also : "");
        jobrec_free(x.r);
    }
}

static void
too_many_env_vars(void **state)
{
    char json[64 * 16 + 32];
    size_t o = 0;
    struct read x;
    (void)state;

    o += (size_t)snprintf(json + o, sizeof(json) - o, "{");
    for (int i = 0; i <= JOBREC_MAX_ENV; i++)
        o += (size_t)snprintf(json + o, sizeof(json) - o, "%s\"V%d\":\"x\"", i ? "," : "", i);
    (void)snprintf(json + o, sizeof(json) - o, "}");
    x = read_kv("j", (const char *const[]){ "script", "s", "env_vars", json, NULL });
    assert_int_equal(x.rc, -1);
    assert_non_null(strstr(x.err, "field env_vars has 65 variables, at most 64"));
    jobrec_free(x.r);
    /* One fewer is fine. */
    (void)snprintf(strstr(json, ",\"V64\""), 3, "}");
    x = read_ok("j", (const char *const[]){ "script", "s", "env_vars", json, NULL });
    assert_int_equal(x.r->nenv, JOBREC_MAX_ENV);
    assert_string_equal(x.r->env[63], "V63=x");
    jobrec_free(x.r);
}

static void
id_valid(void **state)
{
    char id[JOBQ_ID_MAX + 2];
    (void)state;

    memset(id, 'a', sizeof(id) - 1);
    id[sizeof(id) - 1] = '\0';
    assert_false(herojob_id_valid(id, JOBQ_ID_MAX + 1)); /* 129 */
    assert_true(herojob_id_valid(id, JOBQ_ID_MAX));      /* 128 */
    assert_true(herojob_id_valid("a", 1));
    assert_false(herojob_id_valid("", 0));
    assert_true(herojob_id_valid("Az09._:-", 8));
    assert_false(herojob_id_valid("a b", 3));
    assert_false(herojob_id_valid("a/b", 3));
    assert_false(herojob_id_valid("a\0b", 3));
    assert_false(herojob_id_valid("a\nb", 3));
    assert_false(herojob_id_valid("a*", 2));
    assert_false(herojob_id_valid("\xc3\xa9", 2));
    /* Only len bytes count. */
    assert_true(herojob_id_valid("ab/", 2));
}

static void
id_of_the_most_bytes_is_read_and_one_more_refused(void **state)
{
    char id[JOBQ_ID_MAX + 2];
    struct read x;
    (void)state;

    memset(id, 'x', sizeof(id) - 1);
    id[sizeof(id) - 1] = '\0'; /* 129 */
    x = read_kv(id, (const char *const[]){ "script", "s", NULL });
    assert_int_equal(x.rc, -1);
    assert_non_null(strstr(x.err, "the id is not 1 to 128"));
    jobrec_free(x.r);
    id[JOBQ_ID_MAX] = '\0'; /* 128 */
    x = read_ok(id, (const char *const[]){ "script", "s", NULL });
    assert_string_equal(x.r->q.id, id);
    jobrec_free(x.r);
}

static void
iso8601(void **state)
{
    static const struct {
        int64_t ms;
        const char *want;
    } cases[] = {
        { 0, "1970-01-01T00:00:00.000Z" },
        { 999, "1970-01-01T00:00:00.999Z" },
        { 1000, "1970-01-01T00:00:01.000Z" },
        { 1796324682873, "2026-12-03T19:04:42.873Z" },
        { 951782400007, "2000-02-29T00:00:00.007Z" },
        { 253402300799999, "9999-12-31T23:59:59.999Z" },
    };
    char buf[HEROJOB_ISO_MAX];
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        memset(buf, 'X', sizeof(buf));
        assert_ptr_equal(herojob_iso8601(cases[i].ms, buf), buf);
        assert_string_equal(buf, cases[i].want);
    }
}

/* herojob_to_json() of the C-string name, value pairs in kv (up to NULL). */
static json_t *
json_of_kv(const char *id, const char *const *kv)
{
    struct herojob_field f[MAX_FIELDS];
    size_t n = 0;
    json_t *j;

    for (; kv[0] && n < MAX_FIELDS; kv += 2, n++)
        f[n] = (struct herojob_field){ kv[0], kv[1], strlen(kv[0]), strlen(kv[1]) };
    j = herojob_to_json(id, f, n);
    assert_non_null(j);
    return j;
}

static const char *
str(const json_t *j, const char *key)
{
    return json_string_value(json_object_get(j, key));
}

static void
a_hash_as_json_for_get_jobs_id(void **state)
{
    json_t *j;
    struct herojob_field bin[] = { { "output", "\xff\x01", 6, 2 } };
    (void)state;

    j = json_of_kv("j1", (const char *const[]){ "script", "echo x", "script_type", "osis",
                                                "status", "started", "drover_state", "running",
                                                "drover_attempt", "2", "drover_max_attempts",
                                                "3", "drover_owner", "n2", "actor_id", "w:0@n2",
                                                "created_at", "2026-12-07T00:00:00.000Z",
                                                "drover_finished_ms", "oops", NULL });
    assert_string_equal(str(j, "id"), "j1");
    assert_string_equal(str(j, "type"), "osis");
    assert_string_equal(str(j, "state"), "running");
    assert_string_equal(str(j, "hero_status"), "started");
    assert_int_equal(json_integer_value(json_object_get(j, "attempt")), 2);
    assert_int_equal(json_integer_value(json_object_get(j, "max_attempts")), 3);
    assert_string_equal(str(j, "node"), "n2");
    assert_string_equal(str(j, "instance"), "w:0@n2");
    assert_string_equal(str(j, "payload"), "echo x");
    assert_true(json_is_null(json_object_get(j, "result")));
    assert_true(json_is_null(json_object_get(j, "finished_ms"))); /* not a number: null */
    assert_string_equal(str(j, "store"), "redis");
    json_decref(j);
    /* Hero's status alone gives the state; drover_owner "" is nobody. */
    j = json_of_kv("j2", (const char *const[]){ "status", "error", "error", "it broke",
                                                "drover_owner", "", NULL });
    assert_string_equal(str(j, "state"), "failed");
    assert_true(json_is_null(json_object_get(j, "node")));
    assert_string_equal(str(j, "error"), "it broke");
    assert_true(json_is_null(json_object_get(j, "type")));
    json_decref(j);
    /* A result that is not text is base64. */
    j = herojob_to_json("j3", bin, 1);
    assert_non_null(j);
    assert_true(json_is_null(json_object_get(j, "result")));
    assert_string_equal(str(j, "result_b64"), "/wE=");
    assert_true(json_is_null(json_object_get(j, "state")));
    json_decref(j);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(good_hash_fills_the_record),
        cmocka_unit_test(payload_of_max_payload_bytes_and_binary_safe_fields),
        cmocka_unit_test(drover_max_attempts_wins_over_retries),
        cmocka_unit_test(defaults_when_fields_are_absent_or_empty),
        cmocka_unit_test(empty_script_is_an_empty_payload),
        cmocka_unit_test(labels_that_are_not_short_text_are_left_out),
        cmocka_unit_test(env_vars_in_order_of_the_object),
        cmocka_unit_test(refused_naming_the_field),
        cmocka_unit_test(too_many_env_vars),
        cmocka_unit_test(id_valid),
        cmocka_unit_test(id_of_the_most_bytes_is_read_and_one_more_refused),
        cmocka_unit_test(iso8601),
        cmocka_unit_test(a_hash_as_json_for_get_jobs_id),
    };

    return cmocka_run_group_tests_name("herojob", tests, NULL, NULL);
}

/*
 * test_jobwire: the worker library's framing (lib/worker/jobwire.c) against
 * the daemon's, src/core/jobframe.c, the authority (both are compiled into
 * this binary): every line the worker formats, with every byte value in a
 * value, is a frame jobframe_parse() accepts with the same values, and
 * jobwire_parse() reads jobframe_format()'s lines back; malformed lines are
 * refused by both; every truncation of a line is refused or shorter.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "core/jobframe.h"
#include "jobwire.h"

static struct jobframe jf; /* 4 KiB: not on the stack */

static void
worker_lines_parse_in_drover(void **state)
{
    char value[256], line[JOBWIRE_LINE_MAX + 1], err[160];
    const char *kv[] = {
        "id", "job:1.a", "attempt", "3", "retry", "no", "code", value, "len", "0"
    };
    size_t used = 0;
    int n;
    (void)state;

    /* Every byte value but NUL, in one value. */
    for (int i = 1; i < 256; i++)
        value[i - 1] = (char)i;
    value[255] = '\0';
    n = jobwire_format(line, sizeof(line), "FAIL", kv, 10);
    assert_true(n > 0);
    assert_int_equal((size_t)n, strlen(line));
    /* len=0 with its body: the empty body and its newline. */
    line[n] = '\n';
    assert_int_equal(
        jobframe_parse((const uint8_t *)line, (size_t)n + 1, 16, &jf, &used, err, sizeof(err)), 1);
    assert_int_equal(used, (size_t)n + 1);
    assert_int_equal(jf.verb, JOBFRAME_FAIL);
    assert_string_equal(jobframe_get(&jf, "code"), value);
    assert_string_equal(jobframe_get(&jf, "id"), "job:1.a");
    /* Only [A-Za-z0-9._~:,@/+-] goes as it is, as drover writes. */
    for (int i = 0; i < n - 1; i++)
        assert_true(
            strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~:,@/+-% =",
                   line[i]) != NULL);
}

static void
drover_lines_parse_in_the_worker(void **state)
{
    char value[256], line[JOBFRAME_LINE_MAX + 1];
    const char *kv[] = {
        "id", value, "attempt", "7", "type", "t x", "deadline_ms", "0", "len", "5"
    };
    struct jobwire_frame f;
    uint64_t v;
    int n;
    (void)state;

    for (int i = 1; i < 256; i++)
        value[i - 1] = (char)i;
    value[255] = '\0';
    n = jobframe_format(line, sizeof(line), JOBFRAME_JOB, kv, 10);
    assert_true(n > 0);
    assert_int_equal(jobwire_parse(line, (size_t)n - 1, &f), 0);
    assert_string_equal(f.verb, "JOB");
    assert_int_equal(f.nargs, 5);
    assert_string_equal(jobwire_get(&f, "id"), value);
    assert_string_equal(jobwire_get(&f, "type"), "t x");
    assert_int_equal(jobwire_get_u64(&f, "attempt", UINT32_MAX, &v), 0);
    assert_int_equal(v, 7);
    assert_int_equal(jobwire_get_u64(&f, "len", 4, &v), -EINVAL); /* above max */
    assert_null(jobwire_get(&f, "env"));
}

static void
malformed_lines_are_refused_by_both(void **state)
{
    static const char *const bad[] = {
        "",
        " PING id=1",
        "PING  id=1",
        "PING id=1 ",
        "PING id",
        "PING =1",
        "PING Id=1",
        "PING id=%",
        "PING id=%4",
        "PING id=%zz",
        "PING id=%00",
        "PING id=a b=1 b=2",
        "PING id=\x7f",
        "PING id=\x01",
    };
    char line[64], err[160];
    struct jobwire_frame f;
    size_t used;
    (void)state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t n = strlen(bad[i]);

        memcpy(line, bad[i], n);
        line[n] = '\n';
        assert_int_equal(
            jobframe_parse((const uint8_t *)line, n + 1, 16, &jf, &used, err, sizeof(err)),
            -EINVAL);
        memcpy(line, bad[i], n);
        line[n] = '\n';
        if (jobwire_parse(line, n, &f) == 0)
            fail_msg("jobwire accepted \"%s\"", bad[i]);
    }
}

static void
numbers_have_one_spelling(void **state)
{
    char line[128];
    struct jobwire_frame f;
    uint64_t v;
    (void)state;

    strcpy(line, "X a=0 b=01 c=-1 d=18446744073709551616 e=9223372036854775807 f=");
    assert_int_equal(jobwire_parse(line, strlen(line), &f), 0);
    assert_int_equal(jobwire_get_u64(&f, "a", 10, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(jobwire_get_u64(&f, "b", 10, &v), -EINVAL);
    assert_int_equal(jobwire_get_u64(&f, "c", 10, &v), -EINVAL);
    assert_int_equal(jobwire_get_u64(&f, "d", UINT64_MAX, &v), -EINVAL);
    assert_int_equal(jobwire_get_u64(&f, "e", INT64_MAX, &v), 0); /* deadline_ms's range */
    assert_true(v == INT64_MAX);
    assert_int_equal(jobwire_get_u64(&f, "e", INT64_MAX - 1, &v), -EINVAL);
    assert_int_equal(jobwire_get_u64(&f, "f", 10, &v), -EINVAL);
    assert_int_equal(jobwire_get_u64(&f, "g", 10, &v), -EINVAL);
}

static void
format_is_bounded(void **state)
{
    static char big[JOBWIRE_LINE_MAX], line[JOBWIRE_LINE_MAX + 8];
    const char *kv[] = { "id", big };
    char small[8];
    (void)state;

    /* A value that fits only unencoded, and one that fits only in a larger buffer. */
    memset(big, 'a', JOBWIRE_LINE_MAX - 10);
    big[JOBWIRE_LINE_MAX - 10] = '\0';
    assert_int_equal(jobwire_format(line, sizeof(line), "PONG", kv, 2), JOBWIRE_LINE_MAX - 1);
    big[0] = ' ';
    assert_int_equal(jobwire_format(line, sizeof(line), "PONG", kv, 2), -ENOSPC);
    assert_int_equal(jobwire_format(small, sizeof(small), "DRAIN", NULL, 0), 6);
    assert_int_equal(jobwire_format(small, sizeof(small), "WELCOME", NULL, 0), -ENOSPC);
    assert_int_equal(jobwire_format(small, sizeof(small), "X", kv, 1), -EINVAL);
}

static void
every_prefix_of_a_line_parses_or_is_refused(void **state)
{
    const char *kv[] = { "id", "a b%c", "attempt", "12", "pct", "100" };
    char full[256], line[256];
    struct jobwire_frame f;
    int n = jobwire_format(full, sizeof(full), "PROGRESS", kv, 6);
    (void)state;

    assert_true(n > 0);
    for (int k = 0; k < n; k++) { /* bounded: never reads past k, under ASan */
        memcpy(line, full, (size_t)k);
        line[k] = '\n';
        if (jobwire_parse(line, (size_t)k, &f) == 0)
            assert_true(f.nargs <= 3);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(worker_lines_parse_in_drover),
        cmocka_unit_test(drover_lines_parse_in_the_worker),
        cmocka_unit_test(malformed_lines_are_refused_by_both),
        cmocka_unit_test(numbers_have_one_spelling),
        cmocka_unit_test(format_is_bounded),
        cmocka_unit_test(every_prefix_of_a_line_parses_or_is_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

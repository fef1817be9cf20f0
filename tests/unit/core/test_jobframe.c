/*
 * test_jobframe: the job channel's framing (src/core/jobframe.c): frames
 * with and without bodies, one after another in one buffer, incomplete
 * lines and bodies (need more, nothing used), percent-decoding, and each
 * refusal with its message; formatting and the round trip.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/jobframe.h"

static struct jobframe f;
static char err[256];

static int
parse(const char *s, size_t *used)
{
    err[0] = '\0';
    return jobframe_parse((const uint8_t *)s, strlen(s), 1024, &f, used, err, sizeof(err));
}

static void
refused(const char *s, const char *want)
{
    size_t used = 12345;

    if (parse(s, &used) != -EINVAL || !strstr(err, want))
        print_error("input: %s\nwant: %s\n got: %s\n", s, want, err);
    assert_int_equal(parse(s, &used), -EINVAL);
    assert_non_null(strstr(err, want));
    assert_int_equal(used, 12345);
}

static void
frames_one_after_another(void **state)
{
    const char *in = "HELLO v=1 program=w instance=3 token=t0k running=j1:2\n"
                     "DONE id=j1 attempt=2 len=5\nhe\nlo\n"
                     "WANT n=2\n";
    size_t used, off = 0;
    uint64_t n;
    (void)state;

    assert_int_equal(parse(in, &used), 1);
    assert_int_equal(f.verb, JOBFRAME_HELLO);
    assert_string_equal(jobframe_get(&f, "program"), "w");
    assert_string_equal(jobframe_get(&f, "running"), "j1:2"); /* optional keys are kept */
    assert_int_equal(jobframe_get_u64(&f, "instance", 100, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(jobframe_get_u64(&f, "instance", 2, &n), -EINVAL);
    assert_null(jobframe_get(&f, "nope"));
    assert_false(f.has_body);
    off += used;
    assert_int_equal(parse(in + off, &used), 1);
    assert_int_equal(f.verb, JOBFRAME_DONE);
    assert_true(f.has_body);
    assert_int_equal(f.body_len, 5);
    assert_memory_equal(f.body, "he\nlo", 5); /* a body may hold newlines */
    assert_int_equal(used, strlen("DONE id=j1 attempt=2 len=5\nhe\nlo\n"));
    off += used;
    assert_int_equal(parse(in + off, &used), 1);
    assert_int_equal(f.verb, JOBFRAME_WANT);
    off += used;
    assert_int_equal(off, strlen(in));
}

static void
incomplete_needs_more(void **state)
{
    size_t used = 777;
    (void)state;

    assert_int_equal(parse("", &used), 0);
    assert_int_equal(parse("WANT n=1", &used), 0);
    assert_int_equal(parse("DONE id=a attempt=1 len=4\nab", &used), 0);
    assert_int_equal(parse("DONE id=a attempt=1 len=4\nabcd", &used), 0); /* its newline too */
    assert_int_equal(used, 777);
    assert_int_equal(parse("DONE id=a attempt=1 len=0\n\n", &used), 1);
    assert_int_equal(f.body_len, 0);
    assert_true(f.has_body);
}

static void
values_are_percent_decoded(void **state)
{
    size_t used;
    (void)state;

    assert_int_equal(parse("FAIL id=a%20b attempt=1 retry=after:500 code=x%3dy%25 msg=%C3%A9\n",
                           &used), 1);
    assert_string_equal(jobframe_get(&f, "id"), "a b");
    assert_string_equal(jobframe_get(&f, "code"), "x=y%");
    assert_string_equal(jobframe_get(&f, "msg"), "\xc3\xa9");
    assert_int_equal(f.args[4].value_len, 2);
    assert_int_equal(parse("START id=k=v attempt=1\n", &used), 1); /* '=' after the first is data */
    assert_string_equal(jobframe_get(&f, "id"), "k=v");
}

static void
refusals_say_what(void **state)
{
    char longline[JOBFRAME_LINE_MAX + 10];
    (void)state;

    refused("\n", "an empty line");
    refused("FOO x=1\n", "unknown verb \"FOO\"");
    refused("\x01\xff\n", "unknown verb \"\\x01\\xff\"");
    refused("WANT  n=1\n", "an empty field");
    refused("WANT n=1 \n", "an empty field");
    refused("WANT n\n", "field \"n\" is not key=value");
    refused("WANT N=1\n", "\"N\" is not a key");
    refused("WANT n=1 n=2\n", "key \"n\" given twice");
    refused("WANT\n", "WANT without n=");
    refused("WANT n=-1\n", "WANT: n=-1 is not a whole number from 0 to 1000000");
    refused("WANT n=01\n", "is not a whole number");
    refused("START id= attempt=1\n", "START: id= is empty");
    refused("START id=%0 attempt=1\n", "'%' not followed by two hex digits");
    refused("START id=%zz attempt=1\n", "'%' not followed by two hex digits");
    refused("START id=%00 attempt=1\n", "%00 (a NUL byte)");
    refused("START id=\xc3\xa9 attempt=1\n", "byte 0xc3 must be percent-encoded");
    refused("START id=a\tb attempt=1\n", "byte 0x09 must be percent-encoded");
    refused("DONE id=a attempt=1\n", "DONE without len=");
    refused("DONE id=a attempt=1 len=2000\n", "len=2000 is not a whole number from 0 to 1024");
    refused("DONE id=a attempt=1 len=2\nabc\n", "the 2 bytes of len= are not followed by a newline");
    refused("WANT n=1 a=1 b=1 c=1 d=1 e=1 f=1 g=1 h=1 i=1 j=1 k=1 l=1 m=1 o=1 p=1 q=1\n",
            "more than 16 fields");
    memset(longline, 'a', sizeof(longline) - 1);
    longline[sizeof(longline) - 1] = '\0';
    memcpy(longline, "WANT n=", 7);
    refused(longline, "a line longer than 4095 bytes");
}

static void
format_and_round_trip(void **state)
{
    char buf[JOBFRAME_LINE_MAX + 1];
    const char *kv[] = { "id", "a b/é", "attempt", "2", "type", "osis", "deadline_ms", "0",
                         "len", "3" };
    size_t used;
    (void)state;

    int n = jobframe_format(buf, sizeof(buf), JOBFRAME_JOB, kv, 10);
    assert_string_equal(buf, "JOB id=a%20b/%C3%A9 attempt=2 type=osis deadline_ms=0 len=3\n");
    assert_int_equal(n, (int)strlen(buf));
    strcat(buf, "xyz\n");
    assert_int_equal(parse(buf, &used), 1);
    assert_string_equal(jobframe_get(&f, "id"), "a b/é");
    assert_memory_equal(f.body, "xyz", 3);
    assert_int_equal(jobframe_format(buf, sizeof(buf), JOBFRAME_DRAIN, NULL, 0), 6);
    assert_string_equal(buf, "DRAIN\n");
    assert_int_equal(jobframe_format(buf, 5, JOBFRAME_DRAIN, NULL, 0), -ENOSPC);
    assert_int_equal(jobframe_format(buf, sizeof(buf), JOBFRAME__MAX, NULL, 0), -EINVAL);
    assert_int_equal(jobframe_format(buf, sizeof(buf), JOBFRAME_PING, kv, 1), -EINVAL);
    /* Too long for a line, whatever the buffer. */
    static char big[JOBFRAME_LINE_MAX];
    memset(big, 'x', sizeof(big) - 1);
    const char *kvbig[] = { "id", big };
    static char huge[2 * JOBFRAME_LINE_MAX];
    assert_int_equal(jobframe_format(huge, sizeof(huge), JOBFRAME_PING, kvbig, 2), -ENOSPC);
    for (int v = 0; v < JOBFRAME__MAX; v++)
        assert_string_not_equal(jobframe_verb_name(v), "invalid");
    assert_string_equal(jobframe_verb_name(JOBFRAME_INVALID), "invalid");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(frames_one_after_another),
        cmocka_unit_test(incomplete_needs_more),
        cmocka_unit_test(values_are_percent_decoded),
        cmocka_unit_test(refusals_say_what),
        cmocka_unit_test(format_and_round_trip),
    };

    return cmocka_run_group_tests_name("jobframe", tests, NULL, NULL);
}

/*
 * test_redisoutbox: the redis store's outage journal lines (core/redisoutbox):
 * an update's words come back byte for byte, the snapshot line is one, and
 * each kind of bad line is refused with what is wrong.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/redisoutbox.h"

static void
an_update_round_trips_byte_for_byte(void **state)
{
    const char *words[] = { "3", "hero:job:j1", "drover:inflight:n1", "\xff\x00\n\"bin" };
    size_t lens[] = { 1, 11, 18, 8 };
    struct redisoutbox_line l;
    char err[256];
    size_t len;
    char *line;
    (void)state;

    line = redisoutbox_encode(REDISOUTBOX_COMPLETE, 7, "j1", words, lens, 4, &len);
    assert_non_null(line);
    assert_int_equal(len, strlen(line));
    assert_true(line[len - 1] == '\n');
    assert_null(memchr(line, '\n', len - 1)); /* one line */
    assert_int_equal(redisoutbox_decode(line, len - 1, &l, err, sizeof(err)), 0);
    assert_int_equal(l.op, REDISOUTBOX_COMPLETE);
    assert_int_equal(l.type, 7);
    assert_string_equal(l.id, "j1");
    assert_int_equal(l.nwords, 4);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(l.lens[i], lens[i]);
        assert_memory_equal(l.words[i], words[i], lens[i]);
    }
    redisoutbox_free(&l);
    free(line);
}

static void
the_snapshot_line_is_one(void **state)
{
    struct redisoutbox_line l;
    char err[256];
    size_t len;
    const char *line = redisoutbox_snapshot_line(&len);
    (void)state;

    assert_int_equal(redisoutbox_decode(line, len - 1, &l, err, sizeof(err)), 0);
    assert_int_equal(l.op, REDISOUTBOX_SNAPSHOT);
    redisoutbox_free(&l);
    assert_null(redisoutbox_encode(REDISOUTBOX_SNAPSHOT, 0, "x", NULL, NULL, 0, &len));
}

static void
bad_lines_are_refused_saying_what(void **state)
{
    static const struct {
        const char *line, *err;
    } cases[] = {
        { "{\"op\":", "not JSON" },
        { "[1]", "not an object with a string \"op\"" },
        { "{\"op\":\"st\"}", "\"op\" is not start" },
        { "{\"op\":\"start\",\"type\":-1,\"id\":\"j\",\"words\":[\"MQ==\"]}", "\"type\" is not" },
        { "{\"op\":\"start\",\"type\":0,\"id\":\"\",\"words\":[\"MQ==\"]}", "\"id\" is not" },
        { "{\"op\":\"start\",\"type\":0,\"id\":\"j\",\"words\":[]}", "\"words\" is not" },
        { "{\"op\":\"start\",\"type\":0,\"id\":\"j\",\"words\":[1]}", "\"words\" is not" },
        { "{\"op\":\"start\",\"type\":0,\"id\":\"j\",\"words\":[\"MQ==\",\"M\"]}",
          "word 2 is not base64" },
        { "{\"op\":\"start\",\"op\":\"start\"}", "not JSON" }, /* a duplicate key */
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct redisoutbox_line l;
        char err[256] = "";

        if (redisoutbox_decode(cases[i].line, strlen(cases[i].line), &l, err, sizeof(err)) == 0)
            fail_msg("%s: read, want \"%s\"", cases[i].line, cases[i].err);
        if (!strstr(err, cases[i].err))
            fail_msg("%s: \"%s\", want \"%s\"", cases[i].line, err, cases[i].err);
        assert_null(l.block);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(an_update_round_trips_byte_for_byte),
        cmocka_unit_test(the_snapshot_line_is_one),
        cmocka_unit_test(bad_lines_are_refused_saying_what),
    };

    return cmocka_run_group_tests_name("redisoutbox", tests, NULL, NULL);
}

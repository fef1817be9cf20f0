/*
 * test_ctlreq: a control call's path, target and count (core/ctlreq): each
 * verb and its target, the three kinds of target, and the spellings that
 * are refused so that no two name one instance.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "core/ctlreq.h"

static void
paths_give_the_verb_and_its_target(void **state)
{
    const char *target = "?";
    (void)state;

    assert_int_equal(ctlreq_parse_url("/restart/web:2", &target), CTLREQ_RESTART);
    assert_string_equal(target, "web:2");
    assert_int_equal(ctlreq_parse_url("/shutdown", &target), CTLREQ_SHUTDOWN);
    assert_string_equal(target, "");
    assert_int_equal(ctlreq_parse_url("/autoscale/w", &target), CTLREQ_AUTOSCALE);
    assert_int_equal(ctlreq_parse_url("/config", &target), CTLREQ_CONFIG);
    for (int v = 0; v < CTLREQ__MAX; v++) {
        char url[64] = "/";

        strcat(url, ctlreq_verb_name((enum ctlreq_verb)v));
        assert_int_equal(ctlreq_parse_url(url, &target), v);
    }
    /* Not control calls: a longer word, no slash, another path. */
    assert_int_equal(ctlreq_parse_url("/starts", &target), CTLREQ_NONE);
    assert_int_equal(ctlreq_parse_url("start", &target), CTLREQ_NONE);
    assert_int_equal(ctlreq_parse_url("/status", &target), CTLREQ_NONE);
    assert_int_equal(ctlreq_parse_url("", &target), CTLREQ_NONE);
    assert_string_equal(ctlreq_verb_name(CTLREQ_NONE), "");
}

static void
targets_of_three_kinds(void **state)
{
    struct ctlreq_target t;
    (void)state;

    assert_true(ctlreq_parse_target("all", &t));
    assert_int_equal(t.kind, CTLREQ_ALL);
    assert_true(ctlreq_parse_target("web", &t));
    assert_int_equal(t.kind, CTLREQ_PROGRAM);
    assert_int_equal(t.name_len, 3);
    assert_true(ctlreq_parse_target("web:12", &t));
    assert_int_equal(t.kind, CTLREQ_INSTANCE);
    assert_int_equal(t.name_len, 3);
    assert_memory_equal(t.name, "web", 3);
    assert_int_equal(t.index, 12);
    assert_true(ctlreq_parse_target("web:0", &t));
    assert_int_equal(t.index, 0);
    assert_true(ctlreq_parse_target("web:999999999", &t));
    assert_int_equal(t.index, CTLREQ_NUMBER_MAX);
}

static void
one_spelling_per_instance(void **state)
{
    static const char *const refused[] = {
        "web:", "web:01", "web: 1", "web:+1", "web:-1", "web:1 ", "web:1x", "web:0x1",
        "web:1000000000", "web:1:2",
    };
    struct ctlreq_target t;
    (void)state;

    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        if (ctlreq_parse_target(refused[i], &t))
            fail_msg("%s: read as index %u", refused[i], t.index);
}

static void
counts_are_digits_only(void **state)
{
    unsigned n = 7;
    (void)state;

    assert_true(ctlreq_parse_count("0", &n));
    assert_int_equal(n, 0);
    assert_true(ctlreq_parse_count("16", &n));
    assert_int_equal(n, 16);
    assert_false(ctlreq_parse_count(NULL, &n));
    assert_false(ctlreq_parse_count("", &n));
    assert_false(ctlreq_parse_count("-1", &n));
    assert_false(ctlreq_parse_count(" 2", &n));
    assert_false(ctlreq_parse_count("02", &n));
    assert_false(ctlreq_parse_count("4294967296", &n));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(paths_give_the_verb_and_its_target),
        cmocka_unit_test(targets_of_three_kinds),
        cmocka_unit_test(one_spelling_per_instance),
        cmocka_unit_test(counts_are_digits_only),
    };

    return cmocka_run_group_tests_name("ctlreq", tests, NULL, NULL);
}

/*
 * test_utf8: what counts as valid UTF-8 (jansson's rules), and escaping
 * that keeps every byte: valid text unchanged, each invalid byte as \xHH,
 * never a cut escape or character.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <string.h>

#include "core/utf8.h"
#include "core/util.h"

static void
valid_and_invalid_sequences(void **state)
{
    static const struct {
        const char *s;
        bool valid;
    } cases[] = {
        { "", true },
        { "plain ascii", true },
        { "caf\xc3\xa9", true },            /* é */
        { "\xe2\x82\xac", true },           /* € */
        { "\xf0\x9f\x98\x80", true },       /* U+1F600 */
        { "\xf4\x8f\xbf\xbf", true },       /* U+10FFFF, the last one */
        { "caf\xe9", false },               /* Latin-1 é */
        { "\xff\xfe", false },
        { "\x80", false },                  /* a lone continuation byte */
        { "\xc0\xaf", false },              /* overlong '/' */
        { "\xe0\x80\xaf", false },          /* overlong '/' in three bytes */
        { "\xf0\x80\x80\xaf", false },      /* ... and in four */
        { "\xed\xa0\x80", false },          /* U+D800, a surrogate */
        { "\xf4\x90\x80\x80", false },      /* U+110000 */
        { "\xe2\x82", false },              /* cut short */
        { "\xc3", false },
    };
    (void)state;

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        size_t len = strlen(cases[i].s);
        json_t *j = json_stringn(cases[i].s, len);

        assert_int_equal(utf8_valid(cases[i].s, len), cases[i].valid);
        assert_int_equal(j != NULL, cases[i].valid); /* the same verdict as jansson's */
        json_decref(j);
    }
    assert_false(utf8_valid("a\0b", 3)); /* NUL: valid for jansson's json_stringn, not for us */
}

static void
escape_keeps_every_byte(void **state)
{
    char out[64];
    (void)state;

    assert_int_equal(utf8_escape("caf\xc3\xa9", 5, out, sizeof(out), 0), 5);
    assert_string_equal(out, "caf\xc3\xa9");
    assert_int_equal(utf8_escape("caf\xe9 \xff\xfe", 7, out, sizeof(out), 0), 3 + 4 + 1 + 8);
    assert_string_equal(out, "caf\\xe9 \\xff\\xfe");
    /* A NUL is escaped too, so the result is one C string. */
    assert_int_equal(utf8_escape("a\0b", 3, out, sizeof(out), 0), 6);
    assert_string_equal(out, "a\\x00b");
    /* Control characters only with the flag. */
    assert_int_equal(utf8_escape("\x1b[2J\x07", 5, out, sizeof(out), 0), 5);
    assert_int_equal(utf8_escape("\x1b[2J\x07", 5, out, sizeof(out), UTF8_ESCAPE_CONTROLS), 11);
    assert_string_equal(out, "\\x1b[2J\\x07");
    assert_true(utf8_valid(out, strlen(out)));
}

static void
escape_never_cuts_a_piece(void **state)
{
    const char *in = "ab\xe2\x82\xac\xff";
    char out[16];
    (void)state;

    /* Needs 2 + 3 + 4 = 9; each smaller buffer holds whole pieces only. */
    for (size_t size = 0; size <= 10; size++) {
        memset(out, 'Z', sizeof(out));
        assert_int_equal(utf8_escape(in, strlen(in), out, size, 0), 9);
        if (size == 0) {
            assert_int_equal(out[0], 'Z'); /* nothing written */
            continue;
        }
        assert_true(utf8_valid(out, strlen(out)));
        assert_true(strlen(out) < size);
        assert_memory_equal(out, "ab\xe2\x82\xac\\xff", strlen(out));
        assert_true(strlen(out) == (size > 9 ? 9 : size > 5 ? 5 : size > 2 ? 2 : size - 1));
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_and_invalid_sequences),
        cmocka_unit_test(escape_keeps_every_byte),
        cmocka_unit_test(escape_never_cuts_a_piece),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_lineasm: lines out of bytes in, whatever the reads' boundaries: every
 * input split at every byte gives the same lines; a line past LINEASM_MAX is
 * cut into LINEASM_MAX pieces flagged LINEASM_CUT and loses no byte; a line of
 * exactly LINEASM_MAX stays whole; flush hands over the unfinished line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/lineasm.h"

/* What the callback saw: the lines joined by '\n' ('\r' after a cut piece), and their count. */
struct seen {
    char *text;
    size_t len, cap;
    size_t lines, cut;
    size_t longest;
};

static void
add(struct seen *s, const char *p, size_t n)
{
    if (s->len + n + 1 > s->cap) {
        s->cap = (s->len + n + 1) * 2;
        s->text = realloc(s->text, s->cap);
        assert_non_null(s->text);
    }
    memcpy(s->text + s->len, p, n);
    s->len += n;
}

static void
on_line(void *arg, const char *line, size_t len, unsigned flags)
{
    struct seen *s = arg;

    assert_true(len <= LINEASM_MAX);
    add(s, line, len);
    add(s, flags & LINEASM_CUT ? "\r" : "\n", 1);
    s->lines++;
    s->cut += (flags & LINEASM_CUT) != 0;
    if (len > s->longest)
        s->longest = len;
}

static struct lineasm la;

static void
feed_split(const char *in, size_t n, size_t at, struct seen *s)
{
    *s = (struct seen){ 0 };
    lineasm_init(&la);
    lineasm_feed(&la, in, at, on_line, s);
    lineasm_feed(&la, in + at, n - at, on_line, s);
}

static void
split_at_every_byte(void **state)
{
    static const char in[] = "one\ntwo\n\nthree \xff\x00 bytes\nunfinished";
    size_t n = sizeof(in) - 1;
    struct seen whole, s;

    (void)state;
    feed_split(in, n, n, &whole);
    assert_int_equal(whole.lines, 4);
    assert_int_equal(whole.len, n - strlen("unfinished"));
    assert_memory_equal(whole.text, in, whole.len);
    for (size_t at = 0; at <= n; at++) {
        feed_split(in, n, at, &s);
        assert_int_equal(s.lines, whole.lines);
        assert_memory_equal(s.text, whole.text, whole.len);
        free(s.text);
    }
    lineasm_flush(&la, on_line, &whole);
    assert_int_equal(whole.lines, 5);
    assert_memory_equal(whole.text + whole.len - 11, "unfinished\n", 11);
    lineasm_flush(&la, on_line, &whole); /* nothing left */
    assert_int_equal(whole.lines, 5);
    free(whole.text);
}

static void
long_lines_are_cut(void **state)
{
    size_t n = 3 * LINEASM_MAX + 10;
    char *in = malloc(n + 2);
    struct seen s;

    (void)state;
    assert_non_null(in);
    for (size_t i = 0; i < n; i++)
        in[i] = (char)('a' + i % 26);
    in[n] = '\n';
    in[n + 1] = 'x';
    for (size_t at = 0; at <= n + 2; at += 997) {
        feed_split(in, n + 2, at, &s);
        assert_int_equal(s.lines, 4); /* three cut pieces, then the rest */
        assert_int_equal(s.cut, 3);
        assert_int_equal(s.longest, LINEASM_MAX);
        /* No byte lost: the pieces joined again are the line. */
        size_t k = 0;
        for (size_t i = 0; i < s.len; i++)
            if (s.text[i] != '\r' && s.text[i] != '\n')
                assert_int_equal(s.text[i], in[k++]);
        assert_int_equal(k, n);
        free(s.text);
    }
    free(in);
}

static void
exactly_max_stays_whole(void **state)
{
    char *in = malloc(LINEASM_MAX + 1);
    struct seen s;

    (void)state;
    assert_non_null(in);
    memset(in, 'z', LINEASM_MAX);
    in[LINEASM_MAX] = '\n';
    for (size_t at = 0; at <= LINEASM_MAX + 1; at += LINEASM_MAX / 4) {
        feed_split(in, LINEASM_MAX + 1, at, &s);
        assert_int_equal(s.lines, 1);
        assert_int_equal(s.cut, 0);
        assert_int_equal(s.longest, LINEASM_MAX);
        free(s.text);
    }
    feed_split(in, LINEASM_MAX + 1, LINEASM_MAX, &s); /* the '\n' alone in the second read */
    assert_int_equal(s.lines, 1);
    assert_int_equal(s.cut, 0);
    free(s.text);
    free(in);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(split_at_every_byte),
        cmocka_unit_test(long_lines_are_cut),
        cmocka_unit_test(exactly_max_stays_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

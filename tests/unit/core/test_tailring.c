/*
 * test_tailring: the ring keeps a run of the newest lines, text intact, at
 * most nmax lines and cap bytes; the newest always; empty lines and a line
 * of cap bytes; against a model over many random pushes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/tailring.h"

/* Line seq's text: its number, then filler up to len bytes. */
static size_t
line_text(uint64_t seq, size_t len, char *buf)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (char)('A' + (seq * 7 + i) % 26);
    return len;
}

static void
check_ring(const struct tailring *t, uint64_t newest, const size_t *lens, size_t nmax, size_t cap)
{
    char want[4096];
    size_t bytes = 0;

    assert_true(t->n >= 1 && t->n <= nmax);
    for (size_t i = 0; i < t->n; i++) {
        const struct tailring_line *l = tailring_at(t, i);
        uint64_t seq = newest - (t->n - 1 - i); /* consecutive, ending at the newest */
        assert_true(l->seq == seq);
        assert_int_equal(l->len, lens[seq]);
        line_text(seq, l->len, want);
        assert_memory_equal(tailring_text(t, l), want, l->len);
        assert_true(l->off + l->len <= cap);
        bytes += l->len;
    }
    assert_true(bytes <= cap);
}

static void
random_pushes(void **state)
{
    static size_t lens[20000];
    char text[4096];
    struct tailring t;
    const size_t shapes[][2] = { { 5, 100 }, { 200, 4096 }, { 1, 64 }, { 50, 1000 } };

    (void)state;
    srand(13);
    for (size_t k = 0; k < sizeof(shapes) / sizeof(shapes[0]); k++) {
        size_t nmax = shapes[k][0], cap = shapes[k][1];

        assert_int_equal(tailring_init(&t, nmax, cap), 0);
        for (uint64_t seq = 0; seq < 20000; seq++) {
            size_t len = (size_t)rand() % (rand() % 8 == 0 ? cap + 1 : cap / 4 + 1);
            lens[seq] = len;
            tailring_push(&t, seq, 0, text, line_text(seq, len, text), 0);
            check_ring(&t, seq, lens, nmax, cap);
        }
        tailring_done(&t);
    }
}

static void
counts_and_bytes(void **state)
{
    struct tailring t;
    char big[300];

    (void)state;
    assert_int_equal(tailring_init(&t, 3, 100), 0);
    for (uint64_t i = 0; i < 5; i++)
        tailring_push(&t, i, 0, "ab", 2, 0);
    assert_int_equal(t.n, 3); /* the line count caps */
    assert_true(tailring_at(&t, 0)->seq == 2);
    tailring_push(&t, 9, 0, "", 0, 1);
    assert_int_equal(t.n, 3);
    assert_int_equal(tailring_at(&t, 2)->len, 0);
    assert_int_equal(tailring_at(&t, 2)->flags, 1);
    memset(big, 'x', sizeof(big));
    tailring_push(&t, 10, 0, big, sizeof(big), 0); /* longer than the ring: cut to it, alone */
    assert_int_equal(t.n, 1);
    assert_int_equal(tailring_at(&t, 0)->len, 100);
    tailring_done(&t);
    tailring_done(&t); /* twice is fine */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(random_pushes),
        cmocka_unit_test(counts_and_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

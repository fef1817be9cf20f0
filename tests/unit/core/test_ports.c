/*
 * test_ports: the round-robin port allocator (src/ports.c). Order of
 * hand-out, wrap-around, never handing out a taken port, exhaustion and
 * recovery, reserve/release rules (and the cursor moving past reserved
 * ports), the single-port and empty allocators, and the full 1-65535 range.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/ports.h"

static uint16_t
take(struct ports *p)
{
    uint16_t port = 0;

    assert_int_equal(ports_take(p, &port), 0);
    assert_true(port >= p->from && port <= p->to);
    return port;
}

static void
take_fails(struct ports *p)
{
    uint16_t port = 4242;

    assert_int_equal(ports_take(p, &port), -ENOSPC);
    assert_int_equal(port, 4242);
}

static void
round_robin_order(void **state)
{
    struct ports p;
    (void)state;

    assert_int_equal(ports_init(&p, 9100, 9104), 0);
    assert_int_equal(ports_size(&p), 5);
    for (uint16_t want = 9100; want <= 9104; want++)
        assert_int_equal(take(&p), want);
    assert_int_equal(p.in_use, 5);
    ports_done(&p);
}

/* A released port is not handed out again until the cursor comes round to it. */
static void
release_does_not_rewind(void **state)
{
    struct ports p;
    (void)state;

    assert_int_equal(ports_init(&p, 9100, 9103), 0);
    assert_int_equal(take(&p), 9100);
    ports_release(&p, 9100);
    assert_int_equal(take(&p), 9101);
    ports_release(&p, 9101);
    assert_int_equal(take(&p), 9102);
    assert_int_equal(take(&p), 9103);
    /* Wrap: 9100 and 9101 are free again. */
    assert_int_equal(take(&p), 9100);
    assert_int_equal(take(&p), 9101);
    assert_int_equal(p.in_use, 4);
    ports_done(&p);
}

static void
wrap_skips_taken_ports(void **state)
{
    struct ports p;
    (void)state;

    assert_int_equal(ports_init(&p, 10, 14), 0);
    for (int i = 0; i < 5; i++)
        (void)take(&p);
    ports_release(&p, 12);
    ports_release(&p, 10);
    /* Cursor is back at 10 after the wrap; 10 is free. */
    assert_int_equal(take(&p), 10);
    /* 11 is taken, so the next one is 12. */
    assert_int_equal(take(&p), 12);
    take_fails(&p);
    ports_done(&p);
}

/* Randomised: whatever happens, a port held is never handed out again. */
static void
never_hands_out_a_taken_port(void **state)
{
    enum { FROM = 20000, TO = 20063, N = TO - FROM + 1 };
    bool held[N] = { false };
    unsigned nheld = 0;
    uint32_t seed = 12345;
    struct ports p;
    (void)state;

    assert_int_equal(ports_init(&p, FROM, TO), 0);
    for (int step = 0; step < 20000; step++) {
        seed = seed * 1103515245u + 12345u;
        if ((seed >> 16) % 3 != 0) {
            uint16_t port = 0;
            int r = ports_take(&p, &port);

            if (nheld == N) {
                assert_int_equal(r, -ENOSPC);
                continue;
            }
            assert_int_equal(r, 0);
            assert_true(port >= FROM && port <= TO);
            assert_false(held[port - FROM]);
            held[port - FROM] = true;
            nheld++;
        } else {
            unsigned victim = (seed >> 8) % N;

            if (held[victim]) {
                held[victim] = false;
                nheld--;
            }
            ports_release(&p, (uint16_t)(FROM + victim));
        }
        assert_int_equal(p.in_use, nheld);
    }
    ports_done(&p);
}

static void
exhaustion_and_recovery(void **state)
{
    struct ports p;
    (void)state;

    assert_int_equal(ports_init(&p, 5000, 5002), 0);
    assert_int_equal(take(&p), 5000);
    assert_int_equal(take(&p), 5001);
    assert_int_equal(take(&p), 5002);
    take_fails(&p);
    take_fails(&p);
    ports_release(&p, 5001);
    assert_int_equal(take(&p), 5001);
    take_fails(&p);
    ports_done(&p);
}

static void
reserve_rules(void **state)
{
    struct ports p;
    (void)state;

    assert_int_equal(ports_init(&p, 100, 104), 0);
    assert_int_equal(ports_reserve(&p, 102), 0);
    assert_int_equal(p.in_use, 1);
    assert_int_equal(ports_reserve(&p, 102), -EBUSY);
    assert_int_equal(ports_reserve(&p, 99), -ERANGE);
    assert_int_equal(ports_reserve(&p, 105), -ERANGE);
    assert_int_equal(ports_reserve(&p, 0), -ERANGE);
    assert_int_equal(ports_reserve(&p, 65535), -ERANGE);
    assert_int_equal(p.in_use, 1);
    /* Edges of the range are inside it. */
    assert_int_equal(ports_reserve(&p, 100), 0);
    assert_int_equal(ports_reserve(&p, 104), 0);
    assert_int_equal(p.in_use, 3);
    /* take skips reserved ports and does not hand them out (the cursor wrapped after 104). */
    assert_int_equal(take(&p), 101);
    assert_int_equal(take(&p), 103);
    take_fails(&p);
    /* A taken port cannot be reserved either. */
    assert_int_equal(ports_reserve(&p, 101), -EBUSY);
    ports_release(&p, 102);
    assert_int_equal(ports_reserve(&p, 102), 0);
    ports_done(&p);
}

/* Adoption: round robin continues after the highest reserved port, as if it had been taken last. */
static void
reserve_moves_cursor_forward(void **state)
{
    struct ports p;
    (void)state;

    assert_int_equal(ports_init(&p, 100, 109), 0);
    assert_int_equal(ports_reserve(&p, 105), 0);
    assert_int_equal(take(&p), 106);
    /* A port behind the cursor does not pull it back. */
    assert_int_equal(ports_reserve(&p, 101), 0);
    assert_int_equal(take(&p), 107);
    /* Reserving the last port wraps the cursor to the start. */
    assert_int_equal(ports_reserve(&p, 109), 0);
    assert_int_equal(take(&p), 100);
    assert_int_equal(take(&p), 102);
    /* Failed reserves leave the cursor alone. */
    assert_int_equal(ports_reserve(&p, 109), -EBUSY);
    assert_int_equal(ports_reserve(&p, 110), -ERANGE);
    assert_int_equal(take(&p), 103);
    ports_done(&p);
}

static void
release_free_or_foreign_is_noop(void **state)
{
    struct ports p;
    (void)state;

    assert_int_equal(ports_init(&p, 100, 103), 0);
    assert_int_equal(take(&p), 100);
    ports_release(&p, 101); /* free */
    ports_release(&p, 99);  /* below */
    ports_release(&p, 104); /* above */
    ports_release(&p, 0);
    assert_int_equal(p.in_use, 1);
    ports_release(&p, 100);
    assert_int_equal(p.in_use, 0);
    ports_release(&p, 100); /* twice */
    assert_int_equal(p.in_use, 0);
    /* The bitmap agrees: every port can be handed out once more. */
    for (int i = 0; i < 4; i++)
        (void)take(&p);
    take_fails(&p);
    ports_done(&p);
}

static void
single_port_range(void **state)
{
    struct ports p;
    (void)state;

    assert_int_equal(ports_init(&p, 8080, 8080), 0);
    assert_int_equal(ports_size(&p), 1);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(take(&p), 8080);
        take_fails(&p);
        ports_release(&p, 8080);
    }
    assert_int_equal(ports_reserve(&p, 8080), 0);
    take_fails(&p);
    ports_done(&p);
}

static void
no_range_always_fails(void **state)
{
    struct ports p;
    (void)state;

    assert_int_equal(ports_init(&p, 0, 0), 0);
    assert_int_equal(ports_size(&p), 0);
    take_fails(&p);
    assert_int_equal(ports_reserve(&p, 1), -ERANGE);
    assert_int_equal(ports_reserve(&p, 0), -ERANGE);
    ports_release(&p, 1);
    take_fails(&p);
    ports_done(&p);
    /* from == 0 means "no range" whatever `to` says. */
    assert_int_equal(ports_init(&p, 0, 100), 0);
    assert_int_equal(ports_size(&p), 0);
    take_fails(&p);
    ports_done(&p);
}

static void
full_range_take_all_then_fail(void **state)
{
    struct ports p;
    (void)state;

    assert_int_equal(ports_init(&p, 1, 65535), 0);
    assert_int_equal(ports_size(&p), 65535);
    for (uint32_t want = 1; want <= 65535; want++) {
        uint16_t port = 0;

        assert_int_equal(ports_take(&p, &port), 0);
        if (port != want)
            assert_int_equal(port, want);
    }
    assert_int_equal(p.in_use, 65535);
    take_fails(&p);
    assert_int_equal(ports_reserve(&p, 65535), -EBUSY);
    ports_release(&p, 65535);
    assert_int_equal(take(&p), 65535);
    ports_release(&p, 1);
    assert_int_equal(take(&p), 1);
    take_fails(&p);
    ports_done(&p);
}

static void
done_resets(void **state)
{
    struct ports p;
    (void)state;

    assert_int_equal(ports_init(&p, 10, 20), 0);
    (void)take(&p);
    ports_done(&p);
    assert_null(p.bits);
    assert_int_equal(p.from, 0);
    assert_int_equal(p.in_use, 0);
    take_fails(&p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_robin_order),
        cmocka_unit_test(release_does_not_rewind),
        cmocka_unit_test(wrap_skips_taken_ports),
        cmocka_unit_test(never_hands_out_a_taken_port),
        cmocka_unit_test(exhaustion_and_recovery),
        cmocka_unit_test(reserve_rules),
        cmocka_unit_test(reserve_moves_cursor_forward),
        cmocka_unit_test(release_free_or_foreign_is_noop),
        cmocka_unit_test(single_port_range),
        cmocka_unit_test(no_range_always_fails),
        cmocka_unit_test(full_range_take_all_then_fail),
        cmocka_unit_test(done_resets),
    };

    return cmocka_run_group_tests_name("ports", tests, NULL, NULL);
}

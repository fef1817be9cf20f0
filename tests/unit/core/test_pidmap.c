/*
 * test_pidmap: the pid -> owner hash (src/pidmap.c). put/get/del, -EEXIST,
 * -ENOSPC past half the capacity, a long random run (fixed seed) checked
 * against a plain array model, and backward-shift deletion keeping every
 * other key reachable, including probe runs that wrap past the last slot.
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

#include "core/pidmap.h"

static uint32_t
rnd(uint32_t *seed)
{
    /* xorshift32: deterministic on every libc. */
    uint32_t x = *seed;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *seed = x;
    return x;
}

static size_t
capacity(const struct pidmap *m)
{
    return m->mask + 1;
}

/* Occupied slots counted from the table itself. */
static size_t
count_slots(const struct pidmap *m)
{
    size_t n = 0;

    for (size_t i = 0; i < capacity(m); i++)
        n += m->slots[i].pid != 0;
    return n;
}

static void
put_get_del(void **state)
{
    struct pidmap m;
    int a, b, c;
    (void)state;

    assert_int_equal(pidmap_init(&m, 4), 0);
    assert_null(pidmap_get(&m, 100));
    assert_int_equal(pidmap_put(&m, 100, &a), 0);
    assert_int_equal(pidmap_put(&m, 200, &b), 0);
    assert_int_equal(pidmap_put(&m, 4194304, &c), 0); /* pid_max on 64-bit Linux */
    assert_int_equal(m.len, 3);
    assert_ptr_equal(pidmap_get(&m, 100), &a);
    assert_ptr_equal(pidmap_get(&m, 200), &b);
    assert_ptr_equal(pidmap_get(&m, 4194304), &c);
    assert_null(pidmap_get(&m, 300));
    assert_ptr_equal(pidmap_del(&m, 200), &b);
    assert_null(pidmap_get(&m, 200));
    assert_null(pidmap_del(&m, 200));
    assert_int_equal(m.len, 2);
    assert_ptr_equal(pidmap_get(&m, 100), &a);
    assert_ptr_equal(pidmap_get(&m, 4194304), &c);
    /* A NULL value is stored like any other (get cannot tell, del returns it). */
    assert_int_equal(pidmap_put(&m, 7, NULL), 0);
    assert_int_equal(m.len, 3);
    assert_int_equal(pidmap_put(&m, 7, &a), -EEXIST);
    assert_null(pidmap_del(&m, 7));
    assert_int_equal(m.len, 2);
    assert_int_equal(count_slots(&m), 2);
    pidmap_done(&m);
    assert_null(m.slots);
}

static void
put_existing_is_eexist(void **state)
{
    struct pidmap m;
    int a, b;
    (void)state;

    assert_int_equal(pidmap_init(&m, 8), 0);
    assert_int_equal(pidmap_put(&m, 42, &a), 0);
    assert_int_equal(pidmap_put(&m, 42, &b), -EEXIST);
    /* The first value stays. */
    assert_ptr_equal(pidmap_get(&m, 42), &a);
    assert_int_equal(m.len, 1);
    assert_ptr_equal(pidmap_del(&m, 42), &a);
    /* Once deleted it can be put again. */
    assert_int_equal(pidmap_put(&m, 42, &b), 0);
    assert_ptr_equal(pidmap_get(&m, 42), &b);
    pidmap_done(&m);
}

static void
capacity_is_power_of_two_at_least_twice(void **state)
{
    static const size_t wants[] = { 0, 1, 7, 8, 9, 100, 1000, 5000 };
    (void)state;

    for (size_t i = 0; i < sizeof(wants) / sizeof(wants[0]); i++) {
        struct pidmap m;
        size_t cap;

        assert_int_equal(pidmap_init(&m, wants[i]), 0);
        cap = capacity(&m);
        assert_int_equal(cap & (cap - 1), 0);
        assert_true(cap >= 2 * wants[i]);
        assert_true(cap >= 16);
        assert_int_equal(m.len, 0);
        assert_int_equal(count_slots(&m), 0);
        pidmap_done(&m);
    }
}

static void
full_at_half_capacity(void **state)
{
    struct pidmap m;
    size_t half;
    int v;
    (void)state;

    assert_int_equal(pidmap_init(&m, 8), 0);
    half = capacity(&m) / 2;
    assert_true(half >= 8);
    for (size_t i = 0; i < half; i++)
        assert_int_equal(pidmap_put(&m, (pid_t)(1000 + i), &v), 0);
    assert_int_equal(pidmap_put(&m, 5000, &v), -ENOSPC);
    assert_int_equal(m.len, half);
    assert_null(pidmap_get(&m, 5000));
    /* One deletion makes room for exactly one more. */
    assert_ptr_equal(pidmap_del(&m, 1000), &v);
    assert_int_equal(pidmap_put(&m, 5000, &v), 0);
    assert_int_equal(pidmap_put(&m, 5001, &v), -ENOSPC);
    for (size_t i = 1; i < half; i++)
        assert_ptr_equal(pidmap_get(&m, (pid_t)(1000 + i)), &v);
    assert_ptr_equal(pidmap_get(&m, 5000), &v);
    pidmap_done(&m);
}

/* Random put/get/del against an array model, fixed seed, with a verification sweep. */
static void
random_ops_match_model(void **state)
{
    enum { MAXPID = 3000, MAXENT = 500, STEPS = 200000 };
    static int values[MAXPID + 1];
    static bool present[MAXPID + 1];
    struct pidmap m;
    size_t len = 0, half;
    uint32_t seed = 0xC0FFEEu;
    (void)state;

    memset(present, 0, sizeof(present));
    assert_int_equal(pidmap_init(&m, MAXENT), 0);
    half = capacity(&m) / 2;
    for (int step = 0; step < STEPS; step++) {
        pid_t pid = (pid_t)(rnd(&seed) % MAXPID + 1);
        uint32_t op = rnd(&seed) % 10;

        if (op < 5) {
            int r = pidmap_put(&m, pid, &values[pid]);
            int want = present[pid] ? -EEXIST : len >= half ? -ENOSPC : 0;

            assert_int_equal(r, want);
            if (r == 0) {
                present[pid] = true;
                len++;
            }
        } else if (op < 8) {
            void *got = pidmap_del(&m, pid);

            assert_ptr_equal(got, present[pid] ? &values[pid] : NULL);
            if (present[pid]) {
                present[pid] = false;
                len--;
            }
        } else {
            assert_ptr_equal(pidmap_get(&m, pid), present[pid] ? &values[pid] : NULL);
        }
        assert_int_equal(m.len, len);
        if (step % 1000 == 0) {
            assert_int_equal(count_slots(&m), len);
            for (pid_t p = 1; p <= MAXPID; p++)
                assert_ptr_equal(pidmap_get(&m, p), present[p] ? &values[p] : NULL);
        }
    }
    pidmap_done(&m);
}

/*
 * Small table, dense: fill to the limit with random pids, then delete them
 * in random order; after each deletion every remaining key must be found
 * and every deleted key gone. Long clusters and wrap-around are common here.
 */
static void
deletion_keeps_others_reachable(void **state)
{
    uint32_t seed = 424242u;
    (void)state;

    for (int trial = 0; trial < 3000; trial++) {
        struct pidmap m;
        pid_t keys[8];
        int vals[8];
        size_t n;

        assert_int_equal(pidmap_init(&m, 8), 0);
        n = capacity(&m) / 2;
        assert_int_equal(n, 8);
        for (size_t i = 0; i < n; i++) {
            pid_t pid;
            do
                pid = (pid_t)(rnd(&seed) % 100000 + 1);
            while (pidmap_get(&m, pid));
            keys[i] = pid;
            assert_int_equal(pidmap_put(&m, pid, &vals[i]), 0);
        }
        /* Fisher-Yates shuffle of the deletion order. */
        for (size_t i = n - 1; i > 0; i--) {
            size_t k = rnd(&seed) % (i + 1);
            pid_t tk = keys[i];

            keys[i] = keys[k];
            keys[k] = tk;
        }
        for (size_t d = 0; d < n; d++) {
            void *v = pidmap_del(&m, keys[d]);

            assert_non_null(v);
            assert_null(pidmap_get(&m, keys[d]));
            for (size_t k = d + 1; k < n; k++)
                assert_non_null(pidmap_get(&m, keys[k]));
            assert_int_equal(m.len, n - d - 1);
            assert_int_equal(count_slots(&m), n - d - 1);
        }
        pidmap_done(&m);
    }
}

/* Home slot of pid in a table of m's size: where it lands when alone. */
static size_t
home_of(pid_t pid, size_t max_entries)
{
    struct pidmap m;
    size_t home = (size_t)-1;
    int v;

    assert_int_equal(pidmap_init(&m, max_entries), 0);
    assert_int_equal(pidmap_put(&m, pid, &v), 0);
    for (size_t i = 0; i < capacity(&m); i++)
        if (m.slots[i].pid == pid)
            home = i;
    pidmap_done(&m);
    return home;
}

/*
 * A hand-built collision chain that wraps: three pids whose home is the last
 * slot and two whose home is slot 0. Deleting the chain's head must pull the
 * wrapped entries back (backward shift) so that they stay reachable.
 */
static void
backward_shift_across_wrap(void **state)
{
    pid_t last[3], first[2];
    size_t nl = 0, nf = 0;
    struct pidmap m;
    int v[5];
    (void)state;

    for (pid_t pid = 1; pid < 1000000 && (nl < 3 || nf < 2); pid++) {
        size_t h = home_of(pid, 8);
        if (h == 15 && nl < 3)
            last[nl++] = pid;
        else if (h == 0 && nf < 2)
            first[nf++] = pid;
    }
    assert_int_equal(nl, 3);
    assert_int_equal(nf, 2);

    assert_int_equal(pidmap_init(&m, 8), 0);
    assert_int_equal(capacity(&m), 16);
    /* last[0] at 15, last[1] at 0, last[2] at 1, first[0] at 2, first[1] at 3. */
    assert_int_equal(pidmap_put(&m, last[0], &v[0]), 0);
    assert_int_equal(pidmap_put(&m, last[1], &v[1]), 0);
    assert_int_equal(pidmap_put(&m, last[2], &v[2]), 0);
    assert_int_equal(pidmap_put(&m, first[0], &v[3]), 0);
    assert_int_equal(pidmap_put(&m, first[1], &v[4]), 0);
    assert_int_equal(m.slots[15].pid, last[0]);
    assert_int_equal(m.slots[0].pid, last[1]);
    assert_int_equal(m.slots[3].pid, first[1]);

    assert_ptr_equal(pidmap_del(&m, last[0]), &v[0]);
    /* Everything moved one slot back, towards its home. */
    assert_int_equal(m.slots[15].pid, last[1]);
    assert_int_equal(m.slots[0].pid, last[2]);
    assert_int_equal(m.slots[1].pid, first[0]);
    assert_int_equal(m.slots[2].pid, first[1]);
    assert_int_equal(m.slots[3].pid, 0);
    assert_ptr_equal(pidmap_get(&m, last[1]), &v[1]);
    assert_ptr_equal(pidmap_get(&m, last[2]), &v[2]);
    assert_ptr_equal(pidmap_get(&m, first[0]), &v[3]);
    assert_ptr_equal(pidmap_get(&m, first[1]), &v[4]);

    /* Deleting a home-0 entry must not move a home-0 entry before its home. */
    assert_ptr_equal(pidmap_del(&m, first[0]), &v[3]);
    assert_ptr_equal(pidmap_get(&m, first[1]), &v[4]);
    assert_ptr_equal(pidmap_get(&m, last[1]), &v[1]);
    assert_ptr_equal(pidmap_get(&m, last[2]), &v[2]);
    assert_int_equal(m.len, 3);
    assert_int_equal(count_slots(&m), 3);
    pidmap_done(&m);
}

/* A key whose home is later than the hole must stay put; only keys that probed past it move. */
static void
backward_shift_keeps_entries_at_home(void **state)
{
    pid_t at4[2], at6 = 0;
    size_t n4 = 0;
    struct pidmap m;
    int v[3];
    (void)state;

    for (pid_t pid = 1; pid < 1000000 && (n4 < 2 || !at6); pid++) {
        size_t h = home_of(pid, 8);
        if (h == 4 && n4 < 2)
            at4[n4++] = pid;
        else if (h == 6 && !at6)
            at6 = pid;
    }
    assert_int_equal(n4, 2);
    assert_true(at6 != 0);

    assert_int_equal(pidmap_init(&m, 8), 0);
    /* at4[0] at 4, at4[1] at 5, at6 (home 6) at 6: one contiguous run. */
    assert_int_equal(pidmap_put(&m, at4[0], &v[0]), 0);
    assert_int_equal(pidmap_put(&m, at4[1], &v[1]), 0);
    assert_int_equal(pidmap_put(&m, at6, &v[2]), 0);
    assert_ptr_equal(pidmap_del(&m, at4[0]), &v[0]);
    assert_int_equal(m.slots[4].pid, at4[1]);
    assert_int_equal(m.slots[5].pid, 0);
    assert_int_equal(m.slots[6].pid, at6);
    assert_ptr_equal(pidmap_get(&m, at4[1]), &v[1]);
    assert_ptr_equal(pidmap_get(&m, at6), &v[2]);
    pidmap_done(&m);
}

/* Re-inserting after many deletions leaves no tombstones behind: the table never fills up. */
static void
churn_does_not_fill(void **state)
{
    struct pidmap m;
    int v;
    (void)state;

    assert_int_equal(pidmap_init(&m, 4), 0);
    for (pid_t pid = 1; pid < 200000; pid++) {
        assert_int_equal(pidmap_put(&m, pid, &v), 0);
        if (pid > 3)
            assert_ptr_equal(pidmap_del(&m, pid - 3), &v);
    }
    assert_int_equal(m.len, 3);
    assert_int_equal(count_slots(&m), 3);
    pidmap_done(&m);
}

/*
 * Regression: pid 0 marks an empty slot, and pidmap_del(m, 0) used to
 * "remove" the first empty slot it probed, wrapping len on an empty map.
 */
static void
del_and_put_pid_zero(void **state)
{
    struct pidmap m;
    int v;
    (void)state;

    assert_int_equal(pidmap_init(&m, 4), 0);
    assert_null(pidmap_del(&m, 0));
    assert_int_equal(m.len, 0);
    assert_int_equal(pidmap_put(&m, 0, &v), -EINVAL);
    assert_int_equal(pidmap_put(&m, -3, &v), -EINVAL);
    assert_int_equal(pidmap_put(&m, 1, &v), 0);
    pidmap_done(&m);
}

/* A reload adds programs: the table grows, every entry still found, and a smaller ask is a no-op.
 */
static void
reserve_grows_and_keeps(void **state)
{
    struct pidmap m;
    static int values[100];
    size_t mask;
    (void)state;

    assert_int_equal(pidmap_init(&m, 8), 0); /* 16 slots, full at half */
    for (int i = 0; i < 8; i++)
        assert_int_equal(pidmap_put(&m, 1000 + i, &values[i]), 0);
    assert_int_equal(pidmap_put(&m, 2000, &values[99]), -ENOSPC);
    mask = m.mask;
    assert_int_equal(pidmap_reserve(&m, 2), 0);
    assert_int_equal(m.mask, mask);
    assert_int_equal(pidmap_reserve(&m, 100), 0);
    assert_true(m.mask + 1 >= 200);
    assert_int_equal(m.len, 8);
    for (int i = 0; i < 8; i++)
        assert_ptr_equal(pidmap_get(&m, 1000 + i), &values[i]);
    for (int i = 8; i < 100; i++)
        assert_int_equal(pidmap_put(&m, 1000 + i, &values[i]), 0);
    for (int i = 0; i < 100; i++)
        assert_ptr_equal(pidmap_del(&m, 1000 + i), &values[i]);
    assert_int_equal(m.len, 0);
    pidmap_done(&m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(put_get_del),
        cmocka_unit_test(put_existing_is_eexist),
        cmocka_unit_test(capacity_is_power_of_two_at_least_twice),
        cmocka_unit_test(full_at_half_capacity),
        cmocka_unit_test(random_ops_match_model),
        cmocka_unit_test(deletion_keeps_others_reachable),
        cmocka_unit_test(backward_shift_across_wrap),
        cmocka_unit_test(backward_shift_keeps_entries_at_home),
        cmocka_unit_test(churn_does_not_fill),
        cmocka_unit_test(del_and_put_pid_zero),
        cmocka_unit_test(reserve_grows_and_keeps),
    };

    return cmocka_run_group_tests_name("pidmap", tests, NULL, NULL);
}

/*
 * test_pgidcache: a pid's process group from the cache, against real
 * children: read once and then kept, read again once its process died (a
 * reused pid is never taken for the old process), and -ESRCH for a pid with
 * no process.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "os/pgidcache.h"

/* A child in its own process group, paused until killed. */
static pid_t
child_in_own_group(void)
{
    pid_t pid = fork();

    if (pid == 0) {
        (void)setpgid(0, 0);
        for (;;)
            pause();
    }
    assert_true(pid > 0);
    (void)setpgid(pid, pid); /* either side may win the race; both set the same */
    return pid;
}

static void
kill_and_reap(pid_t pid)
{
    assert_int_equal(kill(pid, SIGKILL), 0);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
}

static void
read_once_then_kept(void **state)
{
    struct pgidcache c;
    pid_t pid = child_in_own_group(), pgid = 0;
    (void)state;

    pgidcache_init(&c);
    assert_int_equal(pgidcache_get(&c, pid, &pgid), 0);
    assert_int_equal(pgid, pid);
    assert_int_equal(c.misses, 1);
    for (int i = 0; i < 100; i++) {
        pgid = 0;
        assert_int_equal(pgidcache_get(&c, pid, &pgid), 0);
        assert_int_equal(pgid, pid);
    }
    assert_int_equal(c.hits, 100);
    assert_int_equal(c.misses, 1);
    kill_and_reap(pid);
    pgidcache_done(&c);
}

static void
a_dead_process_is_never_answered_from_memory(void **state)
{
    struct pgidcache c;
    pid_t pid = child_in_own_group(), pgid = 0;
    (void)state;

    pgidcache_init(&c);
    assert_int_equal(pgidcache_get(&c, pid, &pgid), 0);
    kill_and_reap(pid);
    /* Its pidfd says it exited: the entry is not trusted, and the pid has no process now. */
    assert_int_equal(pgidcache_get(&c, pid, &pgid), -ESRCH);
    assert_int_equal(c.hits, 0);
    assert_int_equal(c.misses, 2);
    pgidcache_done(&c);
}

static void
a_zombie_is_gone(void **state)
{
    struct pgidcache c;
    pid_t pid = child_in_own_group(), pgid = 0;
    siginfo_t si;
    (void)state;

    pgidcache_init(&c);
    assert_int_equal(kill(pid, SIGKILL), 0);
    assert_int_equal(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0); /* dead, not reaped */
    assert_int_equal(pgidcache_get(&c, pid, &pgid), -ESRCH);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    pgidcache_done(&c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(read_once_then_kept),
        cmocka_unit_test(a_dead_process_is_never_answered_from_memory),
        cmocka_unit_test(a_zombie_is_gone),
    };

    return cmocka_run_group_tests_name("pgidcache", tests, NULL, NULL);
}

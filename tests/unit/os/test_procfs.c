/*
 * test_procfs: parsing /proc/PID/stat (including hostile comm fields) and
 * reading stat and environ of real processes (ours and a child's).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/util.h"
#include "os/procfs.h"

static void
parse_plain_and_hostile_comm(void **state)
{
    struct proc_stat st;
    const char *tail = " 4194560 10 0 0 0 1 2 3 4 20 0 1 0 424242 1000 10 18446744073709551615";

    (void)state;
    char line[512];
    (void)snprintf(line, sizeof(line), "123 (sleeper) S 1 123 120 0 -1%s", tail);
    assert_int_equal(proc_parse_stat(line, &st), 0);
    assert_int_equal(st.state, 'S');
    assert_int_equal(st.ppid, 1);
    assert_int_equal(st.pgid, 123);
    assert_int_equal(st.sid, 120);
    assert_int_equal(st.start_time, 424242);
    /* A comm with spaces and ") S 9 9 9" inside must not shift the fields. */
    (void)snprintf(line, sizeof(line), "7 (a) S 9 9 9 b)) Z 2 7 7 0 -1%s", tail);
    assert_int_equal(proc_parse_stat(line, &st), 0);
    assert_int_equal(st.state, 'Z');
    assert_int_equal(st.ppid, 2);
    assert_int_equal(st.start_time, 424242);
    assert_int_equal(proc_parse_stat("no parenthesis here", &st), -EINVAL);
    assert_int_equal(proc_parse_stat("1 (x) S 1 2", &st), -EINVAL);
}

static void
read_own_stat(void **state)
{
    struct proc_stat st;

    (void)state;
    assert_int_equal(proc_read_stat(getpid(), &st), 0);
    assert_int_equal(st.pgid, getpgrp());
    assert_int_equal(st.ppid, getppid());
    assert_true(st.start_time > 0);
    assert_true(proc_ticks_to_ms(st.start_time) <= proc_boot_now_ms());
    assert_int_equal(proc_read_stat(0x3ffffffe, &st), -ESRCH);
}

/* The sleep read_child_environ spawned, until it is reaped: its teardown kills it by pid. */
static pid_t environ_child;

static int
kill_environ_child(void **state)
{
    (void)state;
    if (environ_child > 0) {
        (void)kill(environ_child, SIGKILL);
        (void)waitpid(environ_child, NULL, 0);
        environ_child = 0;
    }
    return 0;
}

/* Bounds the wait for the new image's environment (a millisecond or so): only against a hang. */
#define ENVIRON_WAIT_MS 10000

static void
read_child_environ(void **state)
{
    char *argv[] = { "sleep", "30", NULL };
    char *envp[] = { "A=1", "DROVER_PROGRAM=worker", "EMPTY=", NULL };
    char buf[64], tiny[4];
    posix_spawn_file_actions_t fa;
    int64_t deadline;
    pid_t pid;
    int r;

    (void)state;
    /* Its stdout and stderr are not the test's: a leftover sleep never holds the output pipe. */
    assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
    assert_int_equal(posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0), 0);
    assert_int_equal(posix_spawn_file_actions_adddup2(&fa, 1, 2), 0);
    assert_int_equal(posix_spawnp(&pid, "sleep", &fa, NULL, argv, envp), 0);
    environ_child = pid;
    posix_spawn_file_actions_destroy(&fa);
    /*
     * The kernel wakes a vfork parent before the new image's environment is
     * in place, so /proc/PID/environ can read empty for a moment: wait for
     * it (bounded), as for any condition.
     */
    deadline = util_now_ms() + ENVIRON_WAIT_MS;
    while ((r = proc_environ_get(pid, "A", buf, sizeof(buf))) == -ENOENT) {
        if (util_now_ms() > deadline)
            fail_msg("the environment of the spawned sleep (pid %d) did not show A=1 in "
                     "/proc/%d/environ within %d s",
                     (int)pid, (int)pid, ENVIRON_WAIT_MS / 1000);
        (void)usleep(1000);
    }
    assert_int_equal(r, 0);
    assert_string_equal(buf, "1");
    assert_int_equal(proc_environ_get(pid, "DROVER_PROGRAM", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "worker");
    assert_int_equal(proc_environ_get(pid, "EMPTY", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "");
    assert_int_equal(proc_environ_get(pid, "DROVER", buf, sizeof(buf)), -ENOENT); /* prefix only */
    assert_int_equal(proc_environ_get(pid, "MISSING", buf, sizeof(buf)), -ENOENT);
    assert_int_equal(proc_environ_get(pid, "DROVER_PROGRAM", tiny, sizeof(tiny)), -ENAMETOOLONG);
    (void)kill(pid, SIGKILL);
    (void)waitpid(pid, NULL, 0);
    environ_child = 0;
    assert_int_equal(proc_environ_get(pid, "A", buf, sizeof(buf)), -ESRCH);
}

static void
parse_status_uid(void **state)
{
    uid_t uid = 7;

    (void)state;
    assert_int_equal(proc_parse_status_uid("Name:\tsleep\nUmask:\t0022\nState:\tS (sleeping)\n"
                                           "Uid:\t65534\t0\t0\t0\nGid:\t0\t0\t0\t0\n", &uid), 0);
    assert_int_equal(uid, 65534); /* the real uid, not the effective one */
    assert_int_equal(proc_parse_status_uid("Uid:\t0\t1000\t0\t0\n", &uid), 0);
    assert_int_equal(uid, 0);
    assert_int_equal(proc_parse_status_uid("Name:\tx\nUid:\t4294967295\t0\t0\t0\n", &uid), 0);
    assert_true(uid == (uid_t)4294967295u);
    /* A comm "Uid:\t0" is on the Name: line (the kernel escapes newlines in it), not a line of its own. */
    assert_int_equal(proc_parse_status_uid("Name:\tUid:\t0\nUid:\t42\t0\t0\t0\n", &uid), 0);
    assert_int_equal(uid, 42);
    assert_int_equal(proc_parse_status_uid("Name:\tx\n", &uid), -EINVAL);
    assert_int_equal(proc_parse_status_uid("Name:\tx\nUid:\t\n", &uid), -EINVAL);
    assert_int_equal(proc_parse_status_uid("Name:\tx\nUid:\t-1\t0\n", &uid), -EINVAL);
    assert_int_equal(proc_parse_status_uid("Name:\tx\nUid:\t4294967296\t0\n", &uid), -EINVAL);
    assert_int_equal(proc_parse_status_uid("Name:\tx\nUid:\t12x\t0\n", &uid), -EINVAL);
}

static void
read_own_ids(void **state)
{
    uid_t uid;
    gid_t gid;

    (void)state;
    assert_int_equal(proc_read_ids(getpid(), &uid, &gid), 0);
    assert_int_equal(uid, getuid());
    assert_int_equal(gid, getgid());
    assert_int_equal(proc_read_ids(0x3ffffffe, &uid, &gid), -ESRCH);
}

static void
parse_memory(void **state)
{
    uint64_t v = 7;

    (void)state;
    assert_int_equal(proc_parse_pss_kb("55d0a0000000-7ffd00000000 ---p 00000000 00:00 0 [rollup]\n"
                                       "Rss:                2048 kB\nPss:                1234 kB\n"
                                       "Pss_Anon:            999 kB\n", &v), 0);
    assert_true(v == 1234);
    /* Pss_Anon: before Pss: is not it. */
    assert_int_equal(proc_parse_pss_kb("Rss: 9 kB\nPss_Anon: 5 kB\nPss: 8 kB\n", &v), 0);
    assert_true(v == 8);
    assert_int_equal(proc_parse_pss_kb("Pss:\t42 kB\n", &v), 0);
    assert_true(v == 42);
    assert_int_equal(proc_parse_pss_kb("Rss: 9 kB\nPss_Anon: 5 kB\n", &v), -EINVAL);
    assert_int_equal(proc_parse_pss_kb("Rss: 9 kB\nPss: kB\n", &v), -EINVAL);
    assert_int_equal(proc_parse_pss_kb("", &v), -EINVAL);
    /* A cut text (the process went mid-read) is not a smaller figure. */
    assert_int_equal(proc_parse_pss_kb("Rss: 9 kB\nPss: 12", &v), -EINVAL);
    assert_int_equal(proc_parse_statm_rss("10744 15", &v), -EINVAL);
    assert_int_equal(proc_parse_statm_rss("10744 1530 1102 202 0 1111 0\n", &v), 0);
    assert_true(v == 1530);
    assert_int_equal(proc_parse_statm_rss("0 0 0 0 0 0 0\n", &v), 0);
    assert_true(v == 0);
    assert_int_equal(proc_parse_statm_rss("10744", &v), -EINVAL);
    assert_int_equal(proc_parse_statm_rss("10744 ", &v), -EINVAL);
    assert_int_equal(proc_parse_statm_rss("", &v), -EINVAL);
    assert_int_equal(proc_parse_statm_rss("12 x3 4\n", &v), -EINVAL);
}

/* Our own memory: PSS or RSS, more than nothing; a pid that is not there is gone. */
static void
read_own_memory(void **state)
{
    uint64_t bytes = 0;
    bool pss;

    (void)state;
    assert_int_equal(proc_read_memory(getpid(), &bytes, &pss), 0);
    assert_true(bytes > 0);
    assert_int_equal(proc_read_memory(0x3ffffffe, &bytes, &pss), -ESRCH);
}

static int
find_self(pid_t pid, void *arg)
{
    if (pid == getpid())
        *(int *)arg += 1;
    return 0;
}

static int
stop_early(pid_t pid, void *arg)
{
    (void)pid;
    (*(int *)arg)++;
    return -EINTR;
}

static void
walk_proc(void **state)
{
    int seen = 0, calls = 0;

    (void)state;
    assert_int_equal(proc_each_pid(find_self, &seen), 0);
    assert_int_equal(seen, 1);
    assert_int_equal(proc_each_pid(stop_early, &calls), -EINTR);
    assert_int_equal(calls, 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_plain_and_hostile_comm),
        cmocka_unit_test(read_own_stat),
        cmocka_unit_test(parse_status_uid),
        cmocka_unit_test(read_own_ids),
        cmocka_unit_test_teardown(read_child_environ, kill_environ_child),
        cmocka_unit_test(walk_proc),
        cmocka_unit_test(parse_memory),
        cmocka_unit_test(read_own_memory),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

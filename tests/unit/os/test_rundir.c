/*
 * test_rundir: drover's private runtime directory (where it is: test_runpath):
 * rundir_make()/rundir_check() on real directories in a temporary one: made 0711, kept when ours, refused with
 * one line naming path, owner and mode when it is a symbolic link, a file,
 * open to others, or (as root) someone else's.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "os/rundir.h"

static char tmp_dir[] = "/tmp/test_rundir.XXXXXX";

static void
path_in(char *buf, size_t len, const char *name)
{
    (void)snprintf(buf, len, "%s/%s", tmp_dir, name);
}

static void
make_and_keep(void **state)
{
    char dir[128], err[RUNDIR_ERR_MAX] = "";
    struct stat st;
    mode_t old = umask(0777); /* even a umask that takes every bit leaves it 0711 */
    (void)state;

    path_in(dir, sizeof(dir), "fresh");
    assert_int_equal(rundir_check(dir, err, sizeof(err)), -ENOENT);
    assert_string_equal(err, ""); /* absent is not an error to report */
    assert_int_equal(rundir_make(dir, err, sizeof(err)), 0);
    umask(old);
    assert_int_equal(lstat(dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0711);
    assert_int_equal(st.st_uid, geteuid());
    /* Ours already: made again is kept as it is, and checks out. */
    assert_int_equal(rundir_make(dir, err, sizeof(err)), 0);
    assert_int_equal(rundir_check(dir, err, sizeof(err)), 0);
    /* One an older drover made 0700 becomes reachable (not listable) for others. */
    assert_int_equal(chmod(dir, 0700), 0);
    assert_int_equal(rundir_make(dir, err, sizeof(err)), 0);
    assert_int_equal(lstat(dir, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0711);
    assert_int_equal(chmod(dir, 0755), 0); /* systemd's RuntimeDirectory= default: kept */
    assert_int_equal(rundir_make(dir, err, sizeof(err)), 0);
    assert_int_equal(lstat(dir, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0755);
    assert_int_equal(rmdir(dir), 0);
}

static void
expect_refused(const char *dir, const char *what)
{
    char err[RUNDIR_ERR_MAX], want[RUNDIR_ERR_MAX];

    (void)snprintf(want, sizeof(want),
                   "drover's runtime directory %s is %s, not a directory owned by uid %lu that only "
                   "it can write to (someone else may have created it first): refusing to use it",
                   dir, what, (unsigned long)geteuid());
    assert_int_equal(rundir_check(dir, err, sizeof(err)), -EPERM);
    assert_string_equal(err, want);
    assert_int_equal(rundir_make(dir, err, sizeof(err)), -EPERM);
    assert_string_equal(err, want);
}

static void
refused(void **state)
{
    char dir[128], target[PATH_MAX], what[128];
    unsigned long me = (unsigned long)geteuid();
    struct stat st;
    int fd;
    (void)state;

    path_in(dir, sizeof(dir), "open");
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(chmod(dir, 0777), 0);
    (void)snprintf(what, sizeof(what), "a directory owned by uid %lu with mode 0777", me);
    expect_refused(dir, what);
    assert_int_equal(chmod(dir, 0770), 0); /* a group can write: others too */
    (void)snprintf(what, sizeof(what), "a directory owned by uid %lu with mode 0770", me);
    expect_refused(dir, what);
    assert_int_equal(chmod(dir, 0703), 0);
    (void)snprintf(what, sizeof(what), "a directory owned by uid %lu with mode 0703", me);
    expect_refused(dir, what);
    /* Only the owner can create or remove names: listing or reaching it changes nothing. */
    static const mode_t fine[] = { 0700, 0711, 0755, 01700 };
    for (size_t i = 0; i < sizeof(fine) / sizeof(fine[0]); i++) {
        assert_int_equal(chmod(dir, fine[i]), 0);
        assert_int_equal(rundir_check(dir, what, sizeof(what)), 0);
    }

    /* A link to a directory that would pass: refused, it could be repointed. */
    (void)snprintf(target, sizeof(target), "%s", dir);
    path_in(dir, sizeof(dir), "link");
    assert_int_equal(symlink(target, dir), 0);
    assert_int_equal(lstat(dir, &st), 0);
    (void)snprintf(what, sizeof(what), "a symbolic link owned by uid %lu with mode %04o", me,
                   (unsigned)(st.st_mode & 07777));
    expect_refused(dir, what);
    assert_int_equal(unlink(dir), 0);

    path_in(dir, sizeof(dir), "file");
    fd = open(dir, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
    assert_true(fd >= 0);
    close(fd);
    (void)snprintf(what, sizeof(what), "a file owned by uid %lu with mode 0700", me);
    expect_refused(dir, what);
    assert_int_equal(unlink(dir), 0);

    if (geteuid() == 0) { /* someone else's, with the right mode: still not ours */
        path_in(dir, sizeof(dir), "theirs");
        assert_int_equal(mkdir(dir, 0700), 0);
        assert_int_equal(chown(dir, 65534, 65534), 0);
        expect_refused(dir, "a directory owned by uid 65534 with mode 0700");
        assert_int_equal(rmdir(dir), 0);
    }
    assert_int_equal(rmdir(target), 0);
}

static void
cannot_make(void **state)
{
    char dir[128], err[RUNDIR_ERR_MAX], want[RUNDIR_ERR_MAX];
    (void)state;

    path_in(dir, sizeof(dir), "missing-parent/drover");
    assert_int_equal(rundir_make(dir, err, sizeof(err)), -ENOENT);
    (void)snprintf(want, sizeof(want), "cannot create drover's runtime directory %s: %s", dir,
                   strerror(ENOENT));
    assert_string_equal(err, want);
}

static int
setup_group(void **state)
{
    (void)state;
    return mkdtemp(tmp_dir) ? 0 : -1;
}

static int
teardown_group(void **state)
{
    (void)state;
    return rmdir(tmp_dir);
}

/* rundir_socket_path() reads the environment at each call. */
static void
socket_path_reads_the_environment(void **state)
{
    char buf[128];
    (void)state;

    setenv("DROVER_CONTROL", "/x/from-env.sock", 1);
    assert_string_equal(rundir_socket_path(NULL, buf, sizeof(buf)), "/x/from-env.sock");
    assert_string_equal(rundir_socket_path("/x/f", buf, sizeof(buf)), "/x/f");
    unsetenv("DROVER_CONTROL");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(make_and_keep),
        cmocka_unit_test(refused), cmocka_unit_test(socket_path_reads_the_environment),      cmocka_unit_test(cannot_make),
    };

    return cmocka_run_group_tests(tests, setup_group, teardown_group);
}

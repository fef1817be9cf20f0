/*
 * test_sockfile: sockfile_clear() on real sockets in a temporary directory:
 * nothing there, a stale socket (removed), a live one of either type, one
 * whose backlog is full (kept), and what is not a socket (kept).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "os/sockfile.h"

static char tmp_dir[] = "/tmp/test_sockfile.XXXXXX";
static char path[sizeof(((struct sockaddr_un *)0)->sun_path)];

/* A socket of type bound at path (listening for a stream one); its fd. */
static int
bound(int type, int backlog)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    if (type == SOCK_STREAM)
        assert_int_equal(listen(fd, backlog), 0);
    return fd;
}

static bool
exists(void)
{
    struct stat st;

    return lstat(path, &st) == 0;
}

static void
nothing_there(void **state)
{
    (void)state;
    assert_int_equal(sockfile_clear(path, SOCK_STREAM), 0);
    assert_false(exists());
}

static void
stale_is_removed(void **state)
{
    (void)state;
    for (int type = SOCK_STREAM; type <= SOCK_DGRAM; type++) {
        close(bound(type, 8)); /* the file outlives its socket */
        assert_true(exists());
        assert_int_equal(sockfile_clear(path, type), 0);
        assert_false(exists());
    }
}

static void
live_is_kept(void **state)
{
    static const int types[][2] = {
        { SOCK_STREAM, SOCK_STREAM },
        { SOCK_DGRAM, SOCK_DGRAM },
        { SOCK_DGRAM, SOCK_STREAM }, /* another type: EPROTOTYPE, someone is bound */
        { SOCK_STREAM, SOCK_DGRAM },
    };
    (void)state;

    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        int fd = bound(types[i][0], 8);

        assert_int_equal(sockfile_clear(path, types[i][1]), -EADDRINUSE);
        assert_true(exists());
        close(fd);
        assert_int_equal(unlink(path), 0);
    }
}

static void
full_backlog_is_live(void **state)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd = bound(SOCK_STREAM, 0), waiting[16], n = 0;
    (void)state;

    memcpy(sa.sun_path, path, strlen(path) + 1);
    /* Fill the backlog: a non-blocking connect then fails with EAGAIN. */
    for (; n < 16; n++) {
        waiting[n] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        assert_true(waiting[n] >= 0);
        if (connect(waiting[n], (struct sockaddr *)&sa, sizeof(sa)) < 0) {
            assert_int_equal(errno, EAGAIN);
            n++;
            break;
        }
    }
    assert_int_equal(sockfile_clear(path, SOCK_STREAM), -EADDRINUSE);
    assert_true(exists());
    for (int i = 0; i < n; i++)
        close(waiting[i]);
    close(fd);
    assert_int_equal(unlink(path), 0);
}

static void
not_a_socket_is_kept(void **state)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    (void)state;

    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(sockfile_clear(path, SOCK_STREAM), -EEXIST);
    assert_true(exists());
    assert_int_equal(unlink(path), 0);
    /* A symbolic link, even to a stale socket: bind() would not follow it either. */
    assert_int_equal(symlink("/nonexistent", path), 0);
    assert_int_equal(sockfile_clear(path, SOCK_DGRAM), -EEXIST);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(sockfile_clear(path, SOCK_STREAM), -EEXIST);
    assert_int_equal(rmdir(path), 0);
}

static void
too_long(void **state)
{
    char longer[sizeof(path) + 1];
    (void)state;

    memset(longer, 'x', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    longer[0] = '/';
    assert_int_equal(sockfile_clear(longer, SOCK_STREAM), -ENAMETOOLONG);
}

static int
setup_group(void **state)
{
    (void)state;
    if (!mkdtemp(tmp_dir))
        return -1;
    (void)snprintf(path, sizeof(path), "%s/s.sock", tmp_dir);
    return 0;
}

static int
teardown_group(void **state)
{
    (void)state;
    (void)unlink(path);
    return rmdir(tmp_dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nothing_there),        cmocka_unit_test(stale_is_removed),
        cmocka_unit_test(live_is_kept),         cmocka_unit_test(full_backlog_is_live),
        cmocka_unit_test(not_a_socket_is_kept), cmocka_unit_test(too_long),
    };

    return cmocka_run_group_tests(tests, setup_group, teardown_group);
}

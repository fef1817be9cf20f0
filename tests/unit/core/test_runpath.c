/*
 * test_runpath: where drover's run directory and control socket are, for
 * each uid and environment; never a cut path; what lies directly in a dir.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>
#include <sys/types.h>

#include "core/runpath.h"

static void
dir_pick(void **state)
{
    static const struct {
        uid_t euid;
        const char *xdg, *want;
    } cases[] = {
        { 0, NULL, "/run/drover" },
        { 0, "/run/user/0", "/run/drover" }, /* root ignores XDG, as for the control socket */
        { 1000, "/run/user/1000", "/run/user/1000/drover" },
        { 1000, "/run/user/1000//", "/run/user/1000/drover" },
        { 1000, "/", "/drover" },
        { 1000, "", "/tmp/drover-1000" }, /* empty means unset */
        { 1000, NULL, "/tmp/drover-1000" },
        { 65534, NULL, "/tmp/drover-65534" },
    };
    char buf[64];
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *got = runpath_dir(cases[i].euid, cases[i].xdg, buf, sizeof(buf));
        assert_non_null(got);
        assert_string_equal(got, cases[i].want);
    }
    /* Too long for the buffer: NULL, never a cut path. */
    assert_null(runpath_dir(1000, NULL, buf, strlen("/tmp/drover-1000")));
    assert_non_null(runpath_dir(1000, NULL, buf, strlen("/tmp/drover-1000") + 1));
}

static void
holds(void **state)
{
    (void)state;
    assert_true(runpath_holds("/tmp/drover-1000", "/tmp/drover-1000/drover.sock"));
    assert_false(runpath_holds("/tmp/drover-1000", "/tmp/drover-1000.sock"));
    assert_false(runpath_holds("/tmp/drover-1000", "/tmp/drover-10000/drover.sock"));
    assert_false(runpath_holds("/tmp/drover-1000", "/tmp/drover-1000/"));
    assert_false(runpath_holds("/tmp/drover-1000", "/tmp/drover-1000/sub/x.sock"));
    assert_false(runpath_holds("/tmp/drover-1000", "/tmp/drover-1000"));
    assert_false(runpath_holds("/tmp/drover-1000", "drover.sock"));
}

static void
socket_path_precedence(void **state)
{
    static const struct {
        const char *flag, *env, *xdg;
        uid_t euid;
        const char *want;
    } cases[] = {
        { "/x/flag.sock", "/x/env.sock", "/run/user/1000", 1000, "/x/flag.sock" },
        { "/x/flag.sock", NULL, NULL, 0, "/x/flag.sock" },
        { NULL, "/x/env.sock", "/run/user/1000", 0, "/x/env.sock" },
        { "", "/x/env.sock", NULL, 1000, "/x/env.sock" },        /* an empty flag is no flag */
        { NULL, "", "/run/user/1000", 0, "/run/drover.sock" },   /* an empty env is unset */
        { NULL, NULL, "/run/user/1000", 0, "/run/drover.sock" }, /* root ignores XDG */
        { NULL, NULL, "/run/user/1000", 1000, "/run/user/1000/drover.sock" },
        { NULL, NULL, "/run/user/1000//", 1000, "/run/user/1000/drover.sock" },
        { NULL, NULL, "/", 1000, "/drover.sock" },
        /* Never /tmp/NAME, which anyone may create first: inside a directory of ours. */
        { NULL, NULL, "", 1000, "/tmp/drover-1000/drover.sock" },
        { NULL, NULL, NULL, 65534, "/tmp/drover-65534/drover.sock" },
        { NULL, NULL, NULL, 4294967294U, "/tmp/drover-4294967294/drover.sock" },
    };
    char buf[128];
    size_t n;
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *got = runpath_socket(cases[i].flag, cases[i].env, cases[i].euid, cases[i].xdg,
                                         buf, sizeof(buf));
        assert_non_null(got);
        assert_string_equal(got, cases[i].want);
    }
    /* Too long for the buffer: NULL, never a cut path. */
    assert_null(runpath_socket(NULL, NULL, 1000, NULL, buf, 10));
    n = strlen("/tmp/drover-1000/drover.sock");
    assert_null(runpath_socket(NULL, NULL, 1000, NULL, buf, n));
    assert_non_null(runpath_socket(NULL, NULL, 1000, NULL, buf, n + 1));
    assert_null(runpath_socket("/abc", NULL, 0, NULL, buf, 4));
    assert_non_null(runpath_socket("/abc", NULL, 0, NULL, buf, 5));
}

static void
state_dir_pick(void **state)
{
    char buf[64];
    (void)state;

    assert_string_equal(
        runpath_state_dir(1000, "/srv/st:/srv/other", "/x", "/home/u", buf, sizeof(buf)),
        "/srv/st");
    assert_string_equal(runpath_state_dir(0, NULL, "/x", "/root", buf, sizeof(buf)),
                        "/var/lib/drover");
    assert_string_equal(runpath_state_dir(1000, "", "/home/u/.st", "/home/u", buf, sizeof(buf)),
                        "/home/u/.st/drover");
    assert_string_equal(runpath_state_dir(1000, NULL, "relative", "/home/u", buf, sizeof(buf)),
                        "/home/u/.local/state/drover");
    assert_null(runpath_state_dir(1000, NULL, NULL, NULL, buf, sizeof(buf)));
    assert_null(runpath_state_dir(1000, NULL, NULL, "relative", buf, sizeof(buf)));
    assert_null(
        runpath_state_dir(1000, NULL, NULL, "/a/very/long/home/directory/name/here/x", buf, 16));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dir_pick),
        cmocka_unit_test(holds),
        cmocka_unit_test(state_dir_pick),
        cmocka_unit_test(socket_path_precedence),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

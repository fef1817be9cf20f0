/*
 * test_redisconn: a connection that keeps itself up, against a real
 * redis-server with a password (tests/unit/os/redis_fixture.h): it AUTHs
 * with the password file's first line and comes up; the server killed, it
 * goes down once and keeps trying; the server back, it comes up again by
 * itself. A wrong password keeps it down, saying AUTH was refused; a
 * password file others may read is refused at init.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "os/redisconn.h"
#include "redis_fixture.h"

#define PASSWORD "s3cret-for-redisconn"

static struct redis_fixture fx;
static unsigned ups, downs;
static char down_why[300];
static bool stop_when_up; /* went_up() calls redisconn_done() from inside hiredis's callback */

static void
went_up(struct redisconn *rc)
{
    ups++;
    if (stop_when_up) {
        stop_when_up = false;
        redisconn_done(rc);
    }
}

static void
went_down(struct redisconn *rc, const char *why)
{
    (void)rc;
    downs++;
    (void)snprintf(down_why, sizeof(down_why), "%s", why);
}

static const struct redisconn_ops ops = { .up = went_up, .down = went_down };

static bool
is_up(void *arg)
{
    return ((struct redisconn *)arg)->up;
}

static bool
is_down_and_retrying(void *arg)
{
    struct redisconn *rc = arg;

    return !rc->up && rc->failures >= 2;
}

static bool
stopped_in_up(void *arg)
{
    struct redisconn *rc = arg;

    return !stop_when_up && !rc->up && !rc->ac;
}

static bool
dropped_unanswered(void *arg)
{
    struct redisconn *rc = arg;

    return strstr(rc->last_error, "not up within") != NULL && rc->failures >= 1;
}

static bool
auth_refused(void *arg)
{
    struct redisconn *rc = arg;

    return strstr(rc->last_error, "AUTH refused") != NULL && rc->failures >= 1;
}

static void
password_bytes(const char *path, const char *bytes, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, bytes, len), (ssize_t)len);
    assert_int_equal(fchmod(fd, mode), 0);
    assert_int_equal(close(fd), 0);
}

static void
password_file(const char *path, const char *text, mode_t mode)
{
    password_bytes(path, text, strlen(text), mode);
}

static int
setup(void **state)
{
    (void)state;
    return redis_fixture_init(&fx, PASSWORD);
}

static int
teardown(void **state)
{
    char path[200];
    (void)state;

    (void)snprintf(path, sizeof(path), "%s/password", fx.dir);
    (void)unlink(path);
    redis_fixture_done(&fx);
    return 0;
}

static void
up_down_and_up_again(void **state)
{
    struct redisconn rc;
    struct redis_url url = { .unix_socket = true };
    char path[200], err[256];
    (void)state;

    (void)snprintf(url.path, sizeof(url.path), "%s", fx.sock);
    (void)snprintf(path, sizeof(path), "%s/password", fx.dir);
    password_file(path, PASSWORD "\n", 0600);
    assert_int_equal(
        redisconn_init(&rc, &fx.loop, &fx.timers, &url, path, 50, &ops, NULL, err, sizeof(err)), 0);
    assert_null(redisconn_ctx(&rc));
    redisconn_start(&rc);
    redis_fixture_run_until(&fx, is_up, &rc, "the connection coming up (AUTH, PING)");
    assert_int_equal(ups, 1);
    assert_non_null(redisconn_ctx(&rc));
    assert_true(rc.rtt_ms >= 0);

    redis_fixture_server_kill(&fx);
    redis_fixture_run_until(&fx, is_down_and_retrying, &rc,
                            "the connection down after the server was killed, trying again");
    assert_int_equal(downs, 1); /* once, however many tries */
    assert_null(redisconn_ctx(&rc));
    assert_true(down_why[0]);

    assert_int_equal(redis_fixture_server_start(&fx, PASSWORD), 0);
    redis_fixture_run_until(&fx, is_up, &rc, "the connection up again once the server was back");
    assert_int_equal(ups, 2);
    assert_int_equal(downs, 1);
    assert_true(rc.said_back); /* "answers again" said once for this outage */

    /* Stopped from inside its own up callback (a reload, say), then started again. */
    redisconn_done(&rc);
    assert_null(redisconn_ctx(&rc));
    stop_when_up = true;
    redisconn_start(&rc);
    redis_fixture_run_until(&fx, stopped_in_up, &rc, "the up callback stopping it");
    redisconn_start(&rc);
    redis_fixture_run_until(&fx, is_up, &rc, "up again after a stop from inside its callback");
    assert_int_equal(ups, 4);
    redisconn_done(&rc);
}

/* A socket that takes connections and never answers: connect is up to REDISCONN_CONNECT_MS. */
static void
a_server_that_never_answers_is_dropped_and_tried_again(void **state)
{
    struct redisconn rc;
    struct redis_url url = { .unix_socket = true };
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    char err[256];
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    (void)state;

    assert_true(fd >= 0);
    (void)snprintf(url.path, sizeof(url.path), "%s/mute.sock", fx.dir);
    (void)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", url.path);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 8), 0);
    assert_int_equal(
        redisconn_init(&rc, &fx.loop, &fx.timers, &url, NULL, 50, &ops, NULL, err, sizeof(err)), 0);
    redisconn_start(&rc);
    redis_fixture_run_until(&fx, dropped_unanswered, &rc,
                            "a connection that got no answer dropped and tried again");
    assert_false(rc.up);
    redisconn_done(&rc);
    assert_int_equal(close(fd), 0);
    assert_int_equal(unlink(url.path), 0);
}

static void
a_wrong_password_keeps_it_down_and_says_why(void **state)
{
    struct redisconn rc;
    struct redis_url url = { .unix_socket = true };
    char path[200], err[256];
    unsigned before = ups;
    (void)state;

    (void)snprintf(url.path, sizeof(url.path), "%s", fx.sock);
    (void)snprintf(path, sizeof(path), "%s/password", fx.dir);
    password_file(path, "not-the-password\n", 0600);
    assert_int_equal(
        redisconn_init(&rc, &fx.loop, &fx.timers, &url, path, 50, &ops, NULL, err, sizeof(err)), 0);
    redisconn_start(&rc);
    redis_fixture_run_until(&fx, auth_refused, &rc, "AUTH refused with the wrong password");
    assert_false(rc.up);
    assert_int_equal(ups, before);
    redisconn_done(&rc);

    password_file(path, PASSWORD "\n", 0644); /* others may read it: never trusted */
    assert_int_equal(
        redisconn_init(&rc, &fx.loop, &fx.timers, &url, path, 50, &ops, NULL, err, sizeof(err)),
        -1);
    assert_non_null(strstr(err, "the redis password file"));
    password_bytes(path, "abc\0def\n", 8, 0600); /* a NUL in the first line: refused, not "abc" */
    assert_int_equal(
        redisconn_init(&rc, &fx.loop, &fx.timers, &url, path, 50, &ops, NULL, err, sizeof(err)),
        -1);
    assert_non_null(strstr(err, "first line must be a password"));
    password_file(path, "\n", 0600);
    assert_int_equal(
        redisconn_init(&rc, &fx.loop, &fx.timers, &url, path, 50, &ops, NULL, err, sizeof(err)),
        -1);
    assert_non_null(strstr(err, "first line must be a password"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(up_down_and_up_again),
        cmocka_unit_test(a_wrong_password_keeps_it_down_and_says_why),
        cmocka_unit_test(a_server_that_never_answers_is_dropped_and_tried_again),
    };

    return cmocka_run_group_tests_name("redisconn", tests, setup, teardown);
}

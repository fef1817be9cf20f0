/*
 * test_redisloop: hiredis on drover's loop against a real redis-server
 * (Debian's, started here on a unix socket in a temp dir, no TCP port, no
 * persistence): the connect completes, binary-safe commands in argv form
 * are answered in order, and when the server is killed (by its pid) the
 * disconnect callback runs and the context is taken off the loop. A
 * missing redis-server fails the test, naming it. Every wait is bounded by
 * WAIT_MS and says what did not happen.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "os/loop.h"
#include "os/redisloop.h"

#define WAIT_MS 20000 /* a local redis-server answers in well under a millisecond */
#define REDIS_SERVER "/usr/bin/redis-server"

static char dir[] = "/tmp/drover-redisloop-XXXXXX";
static char sock[256];
static pid_t server;

struct run {
    struct loop loop;
    struct loop_source deadline;
    bool timed_out;
    int connected; /* 0 not yet, 1 ok, -1 failed */
    bool disconnected;
    int replies;
    char got[64];
    size_t got_len;
};

static struct run *current;

static void
deadline_fired(struct loop_source *src, uint32_t events)
{
    uint64_t n;
    (void)events;

    if (read(src->fd, &n, sizeof(n)) < 0) {
        /* nothing: the flag is what counts */
    }
    current->timed_out = true;
}

/* Dispatches until done(r) or WAIT_MS; fails naming what did not happen. */
static void
run_until(struct run *r, bool (*done)(const struct run *r), const char *what)
{
    struct itimerspec its = { .it_value = { .tv_sec = WAIT_MS / 1000 } };

    assert_int_equal(timerfd_settime(r->deadline.fd, 0, &its, NULL), 0);
    r->timed_out = false;
    while (!done(r) && !r->timed_out)
        assert_true(loop_dispatch(&r->loop) >= 0);
    if (!done(r))
        fail_msg("within %d ms: %s did not happen", WAIT_MS, what);
}

static bool
is_connected(const struct run *r)
{
    return r->connected != 0;
}

static bool
two_replies(const struct run *r)
{
    return r->replies >= 2;
}

static bool
is_disconnected(const struct run *r)
{
    return r->disconnected;
}

static void
on_connect(const redisAsyncContext *ac, int status)
{
    (void)ac;
    current->connected = status == REDIS_OK ? 1 : -1;
}

static void
on_disconnect(const redisAsyncContext *ac, int status)
{
    (void)ac;
    (void)status;
    current->disconnected = true;
}

static void
on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    redisReply *rep = reply;
    (void)ac;
    (void)privdata;

    current->replies++;
    if (rep && rep->type == REDIS_REPLY_STRING && (size_t)rep->len <= sizeof(current->got)) {
        memcpy(current->got, rep->str, (size_t)rep->len);
        current->got_len = (size_t)rep->len;
    }
}

static int
start_server(void **state)
{
    char logfile[300];
    struct timespec pause = { 0, 10 * 1000 * 1000 };
    struct stat st;
    (void)state;

    if (access(REDIS_SERVER, X_OK) != 0) {
        fprintf(stderr, "test_redisloop: %s is missing (apt install redis-server)\n", REDIS_SERVER);
        return -1;
    }
    if (!mkdtemp(dir))
        return -1;
    (void)snprintf(sock, sizeof(sock), "%s/redis.sock", dir);
    (void)snprintf(logfile, sizeof(logfile), "%s/redis.log", dir);
    server = fork();
    if (server == 0) {
        execl(REDIS_SERVER, REDIS_SERVER, "--port", "0", "--unixsocket", sock, "--save", "",
              "--appendonly", "no", "--dir", dir, "--logfile", logfile, "--loglevel", "warning",
              (char *)NULL);
        _exit(127);
    }
    if (server < 0)
        return -1;
    for (int i = 0; i < WAIT_MS / 10 && stat(sock, &st) != 0; i++)
        (void)nanosleep(&pause, NULL);
    if (stat(sock, &st) != 0) {
        fprintf(stderr, "test_redisloop: redis-server made no socket %s within %d ms\n", sock,
                WAIT_MS);
        return -1;
    }
    return 0;
}

static int
stop_server(void **state)
{
    char path[300];
    (void)state;

    if (server > 0) {
        (void)kill(server, SIGKILL);
        (void)waitpid(server, NULL, 0);
    }
    (void)unlink(sock);
    (void)snprintf(path, sizeof(path), "%s/redis.log", dir);
    (void)unlink(path);
    (void)rmdir(dir);
    return 0;
}

static void
commands_and_a_server_death(void **state)
{
    struct run r = { 0 };
    struct redisloop rl;
    redisAsyncContext *ac;
    static const char value[] = { 'a', '\0', '\n', (char)0xff, 'z' };
    const char *set[] = { "SET", "drover:test", value };
    size_t set_len[] = { 3, 11, sizeof(value) };
    const char *get[] = { "GET", "drover:test" };
    size_t get_len[] = { 3, 11 };
    (void)state;

    current = &r;
    assert_int_equal(loop_init(&r.loop), 0);
    r.deadline = loop_source(timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK),
                             deadline_fired, LOOP_PRIO_SUPERVISE);
    assert_true(r.deadline.fd >= 0);
    assert_int_equal(loop_add(&r.loop, &r.deadline), 0);

    ac = redisAsyncConnectUnix(sock);
    assert_non_null(ac);
    assert_int_equal(ac->err, 0);
    assert_int_equal(redisloop_attach(&rl, &r.loop, ac), 0);
    assert_int_equal(redisloop_attach(&rl, &r.loop, ac), -EINVAL); /* attached already */
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    run_until(&r, is_connected, "the connect callback");
    assert_int_equal(r.connected, 1);

    /* argv form: a value with NUL, newline and a non-UTF-8 byte comes back whole. */
    assert_int_equal(redisAsyncCommandArgv(ac, on_reply, NULL, 3, set, set_len), REDIS_OK);
    assert_int_equal(redisAsyncCommandArgv(ac, on_reply, NULL, 2, get, get_len), REDIS_OK);
    run_until(&r, two_replies, "the SET and GET replies");
    assert_int_equal(r.got_len, sizeof(value));
    assert_memory_equal(r.got, value, sizeof(value));

    /* The server dies: hiredis reads the hang-up, calls back, and the context leaves the loop. */
    assert_int_equal(kill(server, SIGKILL), 0);
    assert_int_equal(waitpid(server, NULL, 0), server);
    server = 0;
    run_until(&r, is_disconnected, "the disconnect callback after redis-server was killed");
    assert_null(rl.ac);
    assert_false(rl.registered);
    loop_close(&r.loop, &r.deadline);
    loop_done(&r.loop);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(commands_and_a_server_death),
    };

    return cmocka_run_group_tests_name("redisloop", tests, start_server, stop_server);
}

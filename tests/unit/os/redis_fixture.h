/*
 * redis_fixture: a real redis-server for the os tests that talk to one
 * (Debian's, on a unix socket in a temp dir: no TCP port, no persistence),
 * started, killed by its pid and started again on the same socket; and a
 * loop with timers whose waits are bounded by REDIS_WAIT_MS, failing with
 * what did not happen. Header-only: each test includes it once.
 */
#ifndef DROVER_TEST_REDIS_FIXTURE_H
#define DROVER_TEST_REDIS_FIXTURE_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"
#include "os/loop.h"
#include "os/timer.h"

#define REDIS_WAIT_MS 20000 /* a local redis-server answers in well under a millisecond */
#define REDIS_SERVER "/usr/bin/redis-server"

struct redis_fixture {
    char dir[64];
    char sock[96];
    pid_t pid;
    struct loop loop;
    struct timers timers;
    struct loop_source timer_src, deadline;
    struct loop_hook sync_hook;
    bool timed_out;
};

static struct redis_fixture *redis_fx;

/* Starts redis-server (password: NULL none); 0, or -1 with the reason on stderr. */
static int
redis_fixture_server_start(struct redis_fixture *fx, const char *password)
{
    char logfile[200];
    struct timespec pause = { 0, 10 * 1000 * 1000 };
    struct stat st;

    if (access(REDIS_SERVER, X_OK) != 0) {
        fprintf(stderr, "redis fixture: %s is missing (apt install redis-server)\n", REDIS_SERVER);
        return -1;
    }
    (void)snprintf(logfile, sizeof(logfile), "%s/redis.log", fx->dir);
    (void)unlink(fx->sock);
    fx->pid = fork();
    if (fx->pid == 0) {
        execl(REDIS_SERVER, REDIS_SERVER, "--port", "0", "--unixsocket", fx->sock, "--save", "",
              "--appendonly", "no", "--dir", fx->dir, "--logfile", logfile, "--loglevel", "warning",
              "--requirepass", password ? password : "", (char *)NULL);
        _exit(127);
    }
    if (fx->pid < 0)
        return -1;
    for (int i = 0; i < REDIS_WAIT_MS / 10 && stat(fx->sock, &st) != 0; i++)
        (void)nanosleep(&pause, NULL);
    if (stat(fx->sock, &st) != 0) {
        fprintf(stderr, "redis fixture: redis-server made no socket %s within %d ms\n", fx->sock,
                REDIS_WAIT_MS);
        return -1;
    }
    return 0;
}

static void
redis_fixture_server_kill(struct redis_fixture *fx)
{
    if (fx->pid > 0) {
        (void)kill(fx->pid, SIGKILL);
        (void)waitpid(fx->pid, NULL, 0);
    }
    fx->pid = 0;
}

static void
redis_fixture_deadline(struct loop_source *src, uint32_t events)
{
    uint64_t n;
    (void)events;

    if (read(src->fd, &n, sizeof(n)) < 0) {
        /* the flag is what counts */
    }
    redis_fx->timed_out = true;
}

static void
redis_fixture_timers_ready(struct loop_source *src, uint32_t events)
{
    (void)src;
    (void)events;
    (void)timers_run(&redis_fx->timers, util_now_ms());
}

static void
redis_fixture_sync(struct loop_hook *hook)
{
    (void)hook;
    (void)timers_sync(&redis_fx->timers);
}

/* A temp dir, a loop with timers; then the server (password NULL: none). */
static int
redis_fixture_init(struct redis_fixture *fx, const char *password)
{
    memset(fx, 0, sizeof(*fx));
    redis_fx = fx;
    (void)snprintf(fx->dir, sizeof(fx->dir), "/tmp/drover-redis-XXXXXX");
    if (!mkdtemp(fx->dir))
        return -1;
    (void)snprintf(fx->sock, sizeof(fx->sock), "%s/redis.sock", fx->dir);
    if (loop_init(&fx->loop) < 0 || timers_init(&fx->timers, 16) < 0)
        return -1;
    fx->timer_src = loop_source(fx->timers.fd, redis_fixture_timers_ready, LOOP_PRIO_SUPERVISE);
    fx->deadline = loop_source(timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK),
                               redis_fixture_deadline, LOOP_PRIO_SUPERVISE);
    if (fx->deadline.fd < 0 || loop_add(&fx->loop, &fx->timer_src) < 0 ||
        loop_add(&fx->loop, &fx->deadline) < 0)
        return -1;
    loop_add_before_sleep(&fx->loop, &fx->sync_hook, redis_fixture_sync);
    return redis_fixture_server_start(fx, password);
}

static void
redis_fixture_done(struct redis_fixture *fx)
{
    char path[200];

    redis_fixture_server_kill(fx);
    (void)unlink(fx->sock);
    (void)snprintf(path, sizeof(path), "%s/redis.log", fx->dir);
    (void)unlink(path);
    (void)rmdir(fx->dir);
}

/* Dispatches until done(arg) or REDIS_WAIT_MS; fails naming what did not happen. */
__attribute__((unused)) static void
redis_fixture_run_until(struct redis_fixture *fx, bool (*done)(void *arg), void *arg,
                        const char *what)
{
    struct itimerspec its = { .it_value = { .tv_sec = REDIS_WAIT_MS / 1000 } };

    assert_int_equal(timerfd_settime(fx->deadline.fd, 0, &its, NULL), 0);
    fx->timed_out = false;
    while (!done(arg) && !fx->timed_out) {
        loop_before_sleep(&fx->loop);
        assert_true(loop_dispatch(&fx->loop) >= 0);
    }
    if (!done(arg))
        fail_msg("within %d ms: %s did not happen", REDIS_WAIT_MS, what);
}

#endif

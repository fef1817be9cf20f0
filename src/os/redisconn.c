/*
 * redisconn: a Redis connection that keeps itself up. See redisconn.h.
 *
 * Setting up a connection is a chain of replies: AUTH (when a password was
 * given), SELECT (when the URL names a database other than 0), PING; the
 * PING's reply makes it up. Any failure on the way disconnects it, and the
 * disconnect (or the failed connect) arms the next try.
 *
 * redisAsyncConnect() resolves a host name with getaddrinfo(), which may
 * block: an IP address or a unix socket never does.
 */
#include "os/redisconn.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/util.h"
#include "os/afile.h"
#include "os/log.h"

enum step { STEP_AUTH, STEP_SELECT, STEP_PING, STEP_KEEPALIVE };

const char *
redisconn_where(const struct redisconn *rc, char *buf, size_t size)
{
    if (rc->url.unix_socket)
        (void)snprintf(buf, size, "unix:%s", rc->url.path);
    else
        (void)snprintf(buf, size, strchr(rc->url.host, ':') ? "[%s]:%u/%u" : "%s:%u/%u",
                       rc->url.host, (unsigned)rc->url.port, rc->url.db);
    return buf;
}

static void
arm(struct redisconn *rc, int64_t at_ms)
{
    if (timer_arm(rc->timers, &rc->timer, at_ms) < 0 && !rc->timer_failed) {
        rc->timer_failed = true;
        log_errorx("no room in the timer heap for the redis connection: it stops retrying");
    }
}

/* A try failed (why): say so once per outage, and try again after the backoff. */
static void
retry_later(struct redisconn *rc, const char *why)
{
    char where[300];

    if (rc->stopping)
        return;
    if (why != rc->last_error)
        (void)snprintf(rc->last_error, sizeof(rc->last_error), "%s", why);
    rc->failures++;
    if (!rc->down_since_ms) {
        rc->down_since_ms = util_now_ms();
        if (!rc->quiet)
            log_warnx("redis at %s is unreachable (%s): retrying every %d ms to %d ms until it "
                      "answers (said once)",
                      redisconn_where(rc, where, sizeof(where)), why, REDISCONN_BACKOFF_MIN_MS,
                      REDISCONN_BACKOFF_MAX_MS);
    }
    arm(rc, util_now_ms() + rc->backoff_ms);
    rc->backoff_ms = rc->backoff_ms * 2 > REDISCONN_BACKOFF_MAX_MS ? REDISCONN_BACKOFF_MAX_MS
                                                                   : rc->backoff_ms * 2;
}

static void
became_up(struct redisconn *rc)
{
    char where[300];

    if (rc->down_since_ms && !rc->said_back) {
        if (!rc->quiet)
            log_info("redis at %s answers again, after %.1f s and %u failed tr%s",
                     redisconn_where(rc, where, sizeof(where)),
                     (double)(util_now_ms() - rc->down_since_ms) / 1000, rc->failures,
                     rc->failures == 1 ? "y" : "ies");
        rc->said_back = true;
    }
    rc->up = true;
    rc->up_since_ms = util_now_ms();
    rc->ups++;
    arm(rc, util_now_ms() + rc->ping_ms);
    if (rc->ops && rc->ops->up)
        rc->ops->up(rc);
}

static void send_step(struct redisconn *rc, enum step st);

static void
on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct redisconn *rc = ac->data;
    redisReply *rep = reply;
    enum step st = (enum step)(intptr_t)privdata;
    char why[200];

    if (!rc || !rep)
        return; /* the context is going: its disconnect says the rest */
    if (rep->type == REDIS_REPLY_ERROR) {
        (void)snprintf(why, sizeof(why), "%s refused: %.120s",
                       st == STEP_AUTH     ? "AUTH"
                       : st == STEP_SELECT ? "SELECT"
                                           : "PING",
                       rep->str);
        (void)snprintf(rc->last_error, sizeof(rc->last_error), "%s", why);
        redisAsyncDisconnect(ac);
        return;
    }
    switch (st) {
    case STEP_AUTH:
        send_step(rc, rc->url.db ? STEP_SELECT : STEP_PING);
        return;
    case STEP_SELECT:
        send_step(rc, STEP_PING);
        return;
    case STEP_PING:
        rc->rtt_ms = (double)(util_now_ns() - rc->ping_sent_ns) / 1e6;
        rc->ping_sent_ns = 0;
        became_up(rc);
        return;
    case STEP_KEEPALIVE:
        rc->rtt_ms = (double)(util_now_ns() - rc->ping_sent_ns) / 1e6;
        rc->ping_sent_ns = 0;
        return;
    }
}

static void
send_step(struct redisconn *rc, enum step st)
{
    char db[16];
    const char *argv[2] = { NULL, NULL };
    size_t argvlen[2];
    int argc = 1;

    switch (st) {
    case STEP_AUTH:
        argv[0] = "AUTH";
        argv[1] = rc->password;
        argc = 2;
        break;
    case STEP_SELECT:
        (void)snprintf(db, sizeof(db), "%u", rc->url.db);
        argv[0] = "SELECT";
        argv[1] = db;
        argc = 2;
        break;
    case STEP_PING:
    case STEP_KEEPALIVE:
        argv[0] = "PING";
        rc->ping_sent_ns = util_now_ns();
        break;
    }
    for (int i = 0; i < argc; i++)
        argvlen[i] = strlen(argv[i]);
    if (redisAsyncCommandArgv(rc->ac, on_reply, (void *)(intptr_t)st, argc, argv, argvlen) !=
        REDIS_OK) {
        /* Not freed here: this may run inside hiredis's own connect handling. */
        (void)snprintf(rc->last_error, sizeof(rc->last_error), "a command could not be queued");
        rc->abort = true;
        arm(rc, util_now_ms());
    }
}

static void
on_connect(const redisAsyncContext *ac, int status)
{
    struct redisconn *rc = ac->data;

    if (!rc)
        return;
    if (status != REDIS_OK) { /* hiredis frees ac when this returns */
        rc->ac = NULL;
        retry_later(rc, ac->errstr[0] ? ac->errstr : "connect failed");
        return;
    }
    send_step(rc, rc->password[0] ? STEP_AUTH : rc->url.db ? STEP_SELECT : STEP_PING);
}

/* The connection is gone (why): the owner told when it was up, and the next try armed. */
static void
lost(struct redisconn *rc, bool was_up, const char *why)
{
    if (was_up) {
        rc->downs++;
        if (rc->ops && rc->ops->down)
            rc->ops->down(rc, why);
    }
    timer_cancel(rc->timers, &rc->timer);
    retry_later(rc, why);
}

static void
on_disconnect(const redisAsyncContext *ac, int status)
{
    struct redisconn *rc = ac->data;
    bool was_up;
    char why[300];

    if (!rc)
        return;
    was_up = rc->up;
    rc->ac = NULL;
    rc->up = false;
    rc->ping_sent_ns = 0;
    if (rc->stopping)
        return;
    (void)snprintf(why, sizeof(why), "%s",
                   status == REDIS_OK && rc->last_error[0] ? rc->last_error
                   : ac->errstr[0]                         ? ac->errstr
                                                           : "connection closed");
    lost(rc, was_up, why);
}

/* Drops the connection from the loop (never from inside a hiredis callback) and retries. */
static void
drop(struct redisconn *rc, const char *why)
{
    redisAsyncContext *ac = rc->ac;
    bool was_up = rc->up;

    rc->ac = NULL;
    rc->up = false;
    rc->ping_sent_ns = 0;
    rc->abort = false;
    if (ac) {
        ac->data = NULL; /* its pending replies' callbacks see none */
        ac->onDisconnect = NULL;
        redisloop_detach(&rc->rl);
        redisAsyncFree(ac);
    }
    if (!rc->stopping)
        lost(rc, was_up, why);
}

static void
connect_now(struct redisconn *rc)
{
    redisAsyncContext *ac = rc->url.unix_socket ? redisAsyncConnectUnix(rc->url.path)
                                                : redisAsyncConnect(rc->url.host, rc->url.port);

    rc->last_error[0] = '\0';
    if (!ac || ac->err || redisloop_attach(&rc->rl, rc->loop, ac) < 0) {
        char why[200];

        (void)snprintf(why, sizeof(why), "%s", ac && ac->errstr[0] ? ac->errstr : "no memory");
        if (ac)
            redisAsyncFree(ac);
        retry_later(rc, why);
        return;
    }
    ac->data = rc;
    rc->ac = ac;
    (void)redisAsyncSetConnectCallback(ac, on_connect);
    (void)redisAsyncSetDisconnectCallback(ac, on_disconnect);
    arm(rc, util_now_ms() + REDISCONN_CONNECT_MS); /* up by then, or dropped */
}

static void
timer_fired(struct timer *t, int64_t now_ms)
{
    struct redisconn *rc = container_of(t, struct redisconn, timer);

    if (rc->stopping)
        return;
    if (rc->abort) {
        drop(rc, rc->last_error);
        return;
    }
    if (!rc->ac) {
        connect_now(rc);
        return;
    }
    if (!rc->up) {
        drop(rc, "not up within 5 s of connecting (no answer to AUTH, SELECT or PING)");
        return;
    }
    if (rc->ping_sent_ns && util_now_ns() - rc->ping_sent_ns > 3 * rc->ping_ms * 1000000) {
        drop(rc, "no answer to PING within 3 x its interval");
        return;
    }
    if (rc->down_since_ms && now_ms - rc->up_since_ms >= REDISCONN_STABLE_MS) {
        rc->down_since_ms = 0; /* the outage is over: the next one is logged, backoff afresh */
        rc->said_back = false;
        rc->failures = 0;
        rc->backoff_ms = REDISCONN_BACKOFF_MIN_MS;
    }
    if (!rc->ping_sent_ns)
        send_step(rc, STEP_KEEPALIVE);
    arm(rc, now_ms + rc->ping_ms);
}

int
redisconn_init(struct redisconn *rc, struct loop *loop, struct timers *timers,
               const struct redis_url *url, const char *password_file, int64_t ping_ms,
               const struct redisconn_ops *ops, void *arg, char *err, size_t errsize)
{
    *rc = (struct redisconn){ .loop = loop,
                              .timers = timers,
                              .url = *url,
                              .ping_ms = ping_ms > 0 ? ping_ms : 1000,
                              .ops = ops,
                              .arg = arg,
                              .backoff_ms = REDISCONN_BACKOFF_MIN_MS,
                              .rtt_ms = -1 };
    timer_init(&rc->timer, timer_fired);
    if (password_file) {
        char *data = NULL, why[256];
        size_t len = 0, n;

        struct stat st;

        /* afile_load() checks the owner, links and writers; a secret wants no readers either. */
        if (stat(password_file, &st) == 0 && (st.st_mode & 077)) {
            (void)snprintf(err, errsize,
                           "the redis password file %s may be read by group or others (mode "
                           "0%o): make it 0600",
                           password_file, (unsigned)(st.st_mode & 0777));
            return -1;
        }
        if (afile_load(password_file, REDISCONN_PASSWORD_MAX + 2, &data, &len, why, sizeof(why)) <
            0) {
            (void)snprintf(err, errsize, "the redis password file %s %s", password_file, why);
            return -1;
        }
        {
            const char *nl = memchr(data, '\n', len), *cr = memchr(data, '\r', len);

            n = nl ? (size_t)(nl - data) : len;
            if (cr && (size_t)(cr - data) < n)
                n = (size_t)(cr - data);
        }
        if (n == 0 || n > REDISCONN_PASSWORD_MAX || memchr(data, '\0', n)) {
            explicit_bzero(data, len);
            (void)snprintf(err, errsize,
                           "the redis password file %s: its first line must be a password of 1 "
                           "to %d bytes",
                           password_file, REDISCONN_PASSWORD_MAX);
            free(data);
            return -1;
        }
        memcpy(rc->password, data, n);
        rc->password[n] = '\0';
        explicit_bzero(data, len);
        free(data);
    }
    return 0;
}

void
redisconn_start(struct redisconn *rc)
{
    rc->stopping = false;
    if (!rc->ac)
        connect_now(rc);
}

void
redisconn_done(struct redisconn *rc)
{
    rc->stopping = true;
    timer_cancel(rc->timers, &rc->timer);
    drop(rc, "stopped"); /* detached first: hiredis may free it after the callback we are in */
}

void
redisconn_reset(struct redisconn *rc, const char *why)
{
    if (!rc->ac || rc->abort || rc->stopping)
        return;
    (void)snprintf(rc->last_error, sizeof(rc->last_error), "%s", why);
    rc->abort = true;
    arm(rc, util_now_ms());
}

redisAsyncContext *
redisconn_ctx(const struct redisconn *rc)
{
    return rc->up ? rc->ac : NULL;
}

/*
 * jobs: the worker side of drover's job channel (JOBS.md §6.4,
 * docs/jobs-worker.md), behind the drover_job_* calls of worker.h.
 *
 * One AF_UNIX stream connection to $DROVER_JOBS_SOCKET, opened at the first
 * drover_job_next(). Memory is allocated once, in drover_open(): the handle
 * with a line buffer each way, and one buffer of max_payload bytes per slot
 * (DROVER_JOBS_CONCURRENCY slots). A JOB's payload is read straight into a
 * free slot's buffer; a result that cannot be sent at once (the channel is
 * down) is kept in that same buffer until the library has reconnected, so
 * nothing is allocated per job.
 *
 * The channel: DOWN -> connect, HELLO -> HELLO_SENT -> WELCOME -> READY.
 * EOF, a write error or a frame drover should not have sent -> DOWN, and a
 * new connection after a backoff (50 ms doubling to 1 s), whose HELLO names
 * the jobs still held (running=ID:A,...); drover keeps them for 5 s. A BYE
 * answering HELLO is final: drover refused this process.
 *
 * drover_jobs_fd() is an epoll set that holds the socket while there is one
 * and a timerfd armed for the next connect while there is not, so a
 * caller's loop has one descriptor that stays the same across reconnects.
 *
 * Writes are whole frames, waiting at most SEND_WAIT_MS for room: drover
 * reads its sockets from its loop, so waiting means it is stuck, and the
 * channel is then dropped and redone. No logging, no globals, -errno.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "drover/worker.h"
#include "jobwire.h"
#include "worker_int.h"

#define ID_MAX 128 /* JOBQ_ID_MAX */
#define TYPE_MAX 255
#define ENV_MAX 1152   /* a job's env: drover sends at most 1024 bytes and a newline each */
#define CODE_MAX 64    /* a failure's code: 1 to 64 of A-Z a-z 0-9 _ . : - */
#define SLOTS_MAX 1024 /* a sane bound on DROVER_JOBS_CONCURRENCY */
#define PAYLOAD_DEFAULT (1024 * 1024) /* DROVER_JOBS_MAX_PAYLOAD absent: drover's default */
#define SEND_WAIT_MS 10000
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 1000
#define BEAT_MS 1000 /* the longest wait between two beats while idle */

enum slot_state {
    SLOT_FREE,
    SLOT_RECV,    /* its JOB line came, the payload is coming */
    SLOT_QUEUED,  /* received, not handed out yet */
    SLOT_RUNNING, /* handed out by drover_job_next() */
    SLOT_RESULT,  /* finished while the channel was down: the result waits in buf */
};

struct slot {
    enum slot_state state;
    bool cancelled;
    bool result_fail; /* SLOT_RESULT: FAIL (buf holds the message), else DONE */
    int retry_ms;
    unsigned attempt;
    int64_t deadline_ms;
    size_t len; /* of the payload, then of the result */
    uint8_t *buf;
    char id[ID_MAX + 1];
    char type[TYPE_MAX + 1];
    char env[ENV_MAX + 1];   /* "KEY=VALUE" lines; "" none */
    char code[CODE_MAX + 1]; /* the FAIL's code */
};

enum chan_state { CHAN_DOWN, CHAN_HELLO_SENT, CHAN_READY };
enum rx_mode { RX_LINE, RX_BODY, RX_NL };

struct worker_jobs {
    int fd;       /* -1: not connected */
    int epoll_fd; /* drover_jobs_fd(): fd and timer_fd */
    int timer_fd; /* readable when a connect is due */
    enum chan_state state;
    bool refused; /* BYE answered our HELLO: no more tries */
    bool draining;
    unsigned asked; /* credits given by WANT that no JOB used yet */
    unsigned nslots;
    size_t max_payload;
    int64_t retry_at_ms; /* CLOCK_MONOTONIC: the next connect, while DOWN */
    unsigned backoff_ms;
    struct sockaddr_un addr;
    socklen_t addr_len;
    char program[256];
    char instance[16];
    char token[256];
    /* input: lines in rx; a body goes into rx_slot's buffer (NULL: skipped) */
    enum rx_mode rx_mode;
    struct slot *rx_slot;
    size_t rx_need, rx_got, rx_off, rx_len;
    char rx[2 * JOBWIRE_LINE_MAX];
    char tx[JOBWIRE_LINE_MAX + 1];
    struct slot slots[];
};

static int64_t
mono_ms(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
env_uint(const char *name, unsigned long max, unsigned long dflt, unsigned long *ret)
{
    const char *s = getenv(name);
    unsigned long v;
    char *end;

    if (!s || !*s) {
        *ret = dflt;
        return 0;
    }
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || *end || s[0] == '-' || v == 0 || v > max)
        return -EINVAL;
    *ret = v;
    return 0;
}

static int
env_copy(const char *name, char *buf, size_t size)
{
    const char *s = getenv(name);

    if (!s || !*s)
        return -EINVAL;
    if (strlen(s) >= size)
        return -ENAMETOOLONG;
    memcpy(buf, s, strlen(s) + 1);
    return 0;
}

/* The timer of drover_jobs_fd(): readable from at_ms (CLOCK_MONOTONIC) on; -1 disarms it. */
static void
arm_timer(struct worker_jobs *j, int64_t at_ms)
{
    struct itimerspec its = { .it_value = { .tv_sec = at_ms / 1000,
                                            .tv_nsec = (at_ms % 1000) * 1000000 + 1 } };

    if (at_ms < 0)
        its.it_value = (struct timespec){ 0 };
    (void)timerfd_settime(j->timer_fd, at_ms < 0 ? 0 : TFD_TIMER_ABSTIME, &its, NULL);
}

int
worker_jobs_open(struct drover_worker *w)
{
    const char *path = getenv(DROVER_ENV_JOBS_SOCKET);
    unsigned long nslots, max_payload;
    struct worker_jobs *j;
    int r;

    if (!path || !*path)
        return -ENOENT;
    if ((r = env_uint(DROVER_ENV_JOBS_CONCURRENCY, SLOTS_MAX, 1, &nslots)) < 0 ||
        (r = env_uint(DROVER_ENV_JOBS_MAX_PAYLOAD, SIZE_MAX / SLOTS_MAX, PAYLOAD_DEFAULT,
                      &max_payload)) < 0)
        return r;
    if (strlen(path) >= sizeof(j->addr.sun_path))
        return -ENAMETOOLONG;
    if (!(j = calloc(1, sizeof(*j) + nslots * sizeof(j->slots[0]))))
        return -ENOMEM;
    j->fd = j->epoll_fd = j->timer_fd = -1;
    j->nslots = (unsigned)nslots;
    j->max_payload = max_payload;
    if ((r = env_copy("DROVER_PROGRAM", j->program, sizeof(j->program))) < 0 ||
        (r = env_copy("DROVER_INSTANCE", j->instance, sizeof(j->instance))) < 0 ||
        (r = env_copy(DROVER_ENV_JOBS_TOKEN, j->token, sizeof(j->token))) < 0)
        goto fail;
    j->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    j->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (j->epoll_fd < 0 || j->timer_fd < 0 ||
        epoll_ctl(j->epoll_fd, EPOLL_CTL_ADD, j->timer_fd,
                  &(struct epoll_event){ .events = EPOLLIN }) < 0) {
        r = -errno;
        goto fail;
    }
    for (unsigned i = 0; i < j->nslots; i++)
        if (!(j->slots[i].buf = malloc(max_payload))) {
            r = -ENOMEM;
            goto fail;
        }
    j->addr.sun_family = AF_UNIX;
    memcpy(j->addr.sun_path, path, strlen(path) + 1);
    j->addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
    arm_timer(j, 0); /* the first connect is due now: a caller's loop calls drover_job_next() */
    w->jobs = j;
    return 0;
fail:
    worker_jobs_free(j);
    return r;
}

void
worker_jobs_free(struct worker_jobs *j)
{
    if (!j)
        return;
    if (j->fd >= 0)
        (void)close(j->fd);
    if (j->epoll_fd >= 0)
        (void)close(j->epoll_fd);
    if (j->timer_fd >= 0)
        (void)close(j->timer_fd);
    for (unsigned i = 0; i < j->nslots; i++)
        free(j->slots[i].buf);
    free(j);
}

/* --- the connection --------------------------------------------------------------------------- */

static void
chan_down(struct worker_jobs *j)
{
    int saved = errno;

    if (j->fd >= 0)
        (void)close(j->fd);
    j->fd = -1;
    j->state = CHAN_DOWN;
    j->asked = 0;
    j->rx_mode = RX_LINE;
    j->rx_slot = NULL;
    j->rx_off = j->rx_len = 0;
    for (unsigned i = 0; i < j->nslots; i++)
        if (j->slots[i].state == SLOT_RECV)
            j->slots[i].state = SLOT_FREE; /* half a payload: drover dispatches it again */
    j->backoff_ms = !j->backoff_ms                       ? BACKOFF_MIN_MS
                    : j->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
                                                         : j->backoff_ms * 2;
    j->retry_at_ms = mono_ms() + j->backoff_ms;
    arm_timer(j, j->refused ? -1 : j->retry_at_ms);
    errno = saved;
}

/* Writes all of p, waiting for room at most SEND_WAIT_MS in all. */
static int
send_all(struct worker_jobs *j, const void *p, size_t n, int more)
{
    const uint8_t *b = p;
    int64_t until = mono_ms() + SEND_WAIT_MS;

    while (n) {
        ssize_t k = send(j->fd, b, n, MSG_NOSIGNAL | MSG_DONTWAIT | more);

        if (k > 0) {
            b += k;
            n -= (size_t)k;
        } else if (k < 0 && errno == EAGAIN) {
            struct pollfd pfd = { .fd = j->fd, .events = POLLOUT };
            int64_t left = until - mono_ms();

            if (left <= 0)
                return -ETIMEDOUT;
            if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
                return -errno;
        } else if (k < 0 && errno != EINTR) {
            return -errno;
        }
    }
    return 0;
}

/*
 * Sends one frame: verb with kv, then, when body is not NULL, len= (added
 * here) and the body. A failure takes the channel down: the peer may hold
 * half a frame.
 */
static int
send_frame(struct worker_jobs *j, const char *verb, const char **kv, size_t nkv, const void *body,
           size_t len)
{
    char lenbuf[24];
    int n, r;

    if (j->fd < 0)
        return -ENOTCONN;
    if (body) {
        (void)snprintf(lenbuf, sizeof(lenbuf), "%zu", len);
        kv[nkv++] = "len";
        kv[nkv++] = lenbuf;
    }
    if ((n = jobwire_format(j->tx, sizeof(j->tx), verb, kv, nkv)) < 0)
        return n;
    r = send_all(j, j->tx, (size_t)n, body ? MSG_MORE : 0);
    if (r == 0 && body && len)
        r = send_all(j, body, len, MSG_MORE);
    if (r == 0 && body)
        r = send_all(j, "\n", 1, 0);
    if (r < 0)
        chan_down(j);
    return r;
}

static bool
held(const struct slot *s)
{
    return s->state == SLOT_QUEUED || s->state == SLOT_RUNNING || s->state == SLOT_RESULT;
}

/* A connection and its HELLO, naming what this process still holds. */
static int
chan_up(struct worker_jobs *j)
{
    char running[JOBWIRE_LINE_MAX / 2];
    const char *kv[12] = { "v",        "1",         "program", j->program,
                           "instance", j->instance, "token",   j->token };
    size_t nkv = 8, rlen = 0;
    int r;

    j->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (j->fd < 0) {
        r = -errno;
        chan_down(j);
        return r;
    }
    arm_timer(j, -1);
    if (connect(j->fd, (struct sockaddr *)&j->addr, j->addr_len) < 0 ||
        epoll_ctl(j->epoll_fd, EPOLL_CTL_ADD, j->fd, &(struct epoll_event){ .events = EPOLLIN }) <
            0) {
        r = -errno;
        chan_down(j);
        return r;
    }
    running[0] = '\0';
    for (unsigned i = 0; i < j->nslots; i++) {
        const struct slot *s = &j->slots[i];
        int n;

        if (!held(s))
            continue;
        /* Best effort: what does not fit in the line is not named, and drover counts it lost. */
        n = snprintf(running + rlen, sizeof(running) - rlen, "%s%s:%u", rlen ? "," : "", s->id,
                     s->attempt);
        if (n < 0 || (size_t)n >= sizeof(running) - rlen) {
            running[rlen] = '\0';
            break;
        }
        rlen += (size_t)n;
    }
    if (rlen) {
        kv[nkv++] = "running";
        kv[nkv++] = running;
    }
    if ((r = send_frame(j, "HELLO", kv, nkv, NULL, 0)) < 0)
        return r;
    j->state = CHAN_HELLO_SENT;
    return 0;
}

static struct slot *
find(struct worker_jobs *j, const char *id, unsigned attempt, bool any_held)
{
    for (unsigned i = 0; i < j->nslots; i++) {
        struct slot *s = &j->slots[i];

        if ((any_held ? held(s) || s->state == SLOT_RECV : s->state == SLOT_RUNNING) &&
            s->attempt == attempt && strcmp(s->id, id) == 0)
            return s;
    }
    return NULL;
}

static int
send_result(struct worker_jobs *j, struct slot *s, bool fail, int retry_ms, const void *body,
            size_t len)
{
    char att[16], retry[24];
    const char *kv[12] = { "id", s->id, "attempt", att };
    size_t nkv = 4;

    (void)snprintf(att, sizeof(att), "%u", s->attempt);
    if (!fail)
        return send_frame(j, "DONE", kv, nkv, body, len);
    if (retry_ms < 0)
        (void)snprintf(retry, sizeof(retry), "no");
    else if (retry_ms == 0)
        (void)snprintf(retry, sizeof(retry), "auto");
    else
        (void)snprintf(retry, sizeof(retry), "after:%d", retry_ms);
    kv[nkv++] = "retry";
    kv[nkv++] = retry;
    kv[nkv++] = "code";
    kv[nkv++] = s->code[0] ? s->code : "error";
    return send_frame(j, "FAIL", kv, nkv, body, len);
}

/* WELCOME: results kept while the channel was down go now. */
static void
flush_results(struct worker_jobs *j)
{
    for (unsigned i = 0; i < j->nslots && j->state == CHAN_READY; i++) {
        struct slot *s = &j->slots[i];

        if (s->state == SLOT_RESULT &&
            send_result(j, s, s->result_fail, s->retry_ms, s->buf, s->len) == 0)
            s->state = SLOT_FREE;
    }
}

/* --- input ------------------------------------------------------------------------------------ */

static int
on_job(struct worker_jobs *j, const struct jobwire_frame *f)
{
    const char *id = jobwire_get(f, "id"), *type = jobwire_get(f, "type"),
               *env = jobwire_get(f, "env");
    uint64_t attempt, deadline;
    struct slot *s = NULL;

    if (!id || !type || !*id || strlen(id) > ID_MAX || strlen(type) > TYPE_MAX ||
        (env && strlen(env) > ENV_MAX) || jobwire_get_u64(f, "attempt", UINT32_MAX, &attempt) < 0 ||
        jobwire_get_u64(f, "deadline_ms", INT64_MAX, &deadline) < 0)
        return -EPROTO;
    for (unsigned i = 0; i < j->nslots && !s; i++)
        if (j->slots[i].state == SLOT_FREE)
            s = &j->slots[i];
    if (j->asked)
        j->asked--;
    j->rx_slot = s; /* NULL: more jobs than credits, which drover never sends; skipped */
    if (s) {
        *s = (struct slot){ .state = SLOT_RECV,
                            .attempt = (unsigned)attempt,
                            .deadline_ms = (int64_t)deadline,
                            .buf = s->buf };
        memcpy(s->id, id, strlen(id) + 1);
        memcpy(s->type, type, strlen(type) + 1);
        if (env)
            memcpy(s->env, env, strlen(env) + 1);
    }
    return 0;
}

/* One line from drover (line[len] is its '\n'). -EPROTO when the channel must be redone. */
static int
on_line(struct worker_jobs *j, char *line, size_t len)
{
    struct jobwire_frame f;
    const char *v;
    uint64_t body = 0, n;
    bool has_body;
    int r;

    if (jobwire_parse(line, len, &f) < 0)
        return -EPROTO;
    has_body = jobwire_get(&f, "len") != NULL;
    if (has_body && jobwire_get_u64(&f, "len", j->max_payload, &body) < 0)
        return -EPROTO; /* drover's bodies are bounded as ours: by max_payload */
    j->rx_slot = NULL;
    if (strcmp(f.verb, "WELCOME") == 0) {
        if (j->state != CHAN_HELLO_SENT)
            return -EPROTO;
        j->state = CHAN_READY;
        j->backoff_ms = 0;
        j->asked = 0;
        flush_results(j);
    } else if (strcmp(f.verb, "BYE") == 0) {
        if (j->state == CHAN_HELLO_SENT)
            j->refused = true; /* wrong token, wrong process: retrying cannot help */
        return -EPROTO;
    } else if (strcmp(f.verb, "JOB") == 0) {
        if (j->state != CHAN_READY || !has_body || (r = on_job(j, &f)) < 0)
            return -EPROTO;
    } else if (strcmp(f.verb, "PING") == 0) {
        const char *kv[4] = { "id", jobwire_get(&f, "id") };

        if (!kv[1])
            return -EPROTO;
        (void)send_frame(j, "PONG", kv, 2, NULL, 0); /* a failure took the channel down */
    } else if (strcmp(f.verb, "CANCEL") == 0) {
        struct slot *s;

        if (!(v = jobwire_get(&f, "id")) || jobwire_get_u64(&f, "attempt", UINT32_MAX, &n) < 0)
            return -EPROTO;
        if ((s = find(j, v, (unsigned)n, true)))
            s->cancelled = true;
    } else if (strcmp(f.verb, "DRAIN") == 0) {
        j->draining = true;
    } /* another verb: a newer drover's; its body, if any, is skipped */
    if (has_body && j->fd >= 0) {
        j->rx_mode = RX_BODY;
        j->rx_need = (size_t)body;
        j->rx_got = 0;
    }
    return 0;
}

/* Takes the frames in rx[rx_off..rx_len); -EPROTO as on_line(). */
static int
take_input(struct worker_jobs *j)
{
    while (j->fd >= 0 && j->rx_off < j->rx_len) {
        char *p = j->rx + j->rx_off;
        size_t have = j->rx_len - j->rx_off, k;
        char *nl;
        int r;

        switch (j->rx_mode) {
        case RX_LINE:
            if (!(nl = memchr(p, '\n', have))) {
                if (have >= JOBWIRE_LINE_MAX)
                    return -EPROTO;
                goto compact;
            }
            j->rx_off += (size_t)(nl - p) + 1;
            if ((r = on_line(j, p, (size_t)(nl - p))) < 0)
                return r;
            break;
        case RX_BODY:
            k = have < j->rx_need ? have : j->rx_need;
            if (j->rx_slot)
                memcpy(j->rx_slot->buf + j->rx_got, p, k);
            j->rx_got += k;
            j->rx_need -= k;
            j->rx_off += k;
            if (!j->rx_need)
                j->rx_mode = RX_NL;
            break;
        case RX_NL:
            if (*p != '\n')
                return -EPROTO;
            j->rx_off++;
            j->rx_mode = RX_LINE;
            if (j->rx_slot) {
                j->rx_slot->len = j->rx_got;
                j->rx_slot->state = SLOT_QUEUED;
                j->rx_slot = NULL;
            }
            break;
        }
    }
compact:
    if (j->fd >= 0 && j->rx_off) {
        memmove(j->rx, j->rx + j->rx_off, j->rx_len - j->rx_off);
        j->rx_len -= j->rx_off;
        j->rx_off = 0;
    }
    return 0;
}

/* Reads what drover sent, without waiting; connects first when that is due. */
static void
pump(struct worker_jobs *j)
{
    if (j->fd < 0 && !j->refused && mono_ms() >= j->retry_at_ms)
        (void)chan_up(j);
    while (j->fd >= 0) {
        /* A payload with nothing of it buffered is read straight into its slot. */
        bool direct = j->rx_mode == RX_BODY && j->rx_len == 0 && j->rx_slot && j->rx_need;
        ssize_t n;

        if (direct)
            n = recv(j->fd, j->rx_slot->buf + j->rx_got, j->rx_need, MSG_DONTWAIT);
        else
            n = recv(j->fd, j->rx + j->rx_len, sizeof(j->rx) - j->rx_len, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            chan_down(j); /* EOF or an error: keep the jobs, reconnect */
            return;
        }
        if (direct) {
            j->rx_got += (size_t)n;
            j->rx_need -= (size_t)n;
            if (!j->rx_need)
                j->rx_mode = RX_NL;
            continue;
        }
        j->rx_len += (size_t)n;
        if (take_input(j) < 0)
            chan_down(j);
    }
}

/* --- the calls of worker.h -------------------------------------------------------------------- */

/* The slot of a job w holds into *ret: 0, -ENOTCONN (w has no job channel) or -ENOENT. */
static int
slot_of(drover_worker *w, const drover_job *job, struct slot **ret)
{
    struct slot *s;

    if (!w || !w->jobs)
        return -ENOTCONN;
    if (!job || !job->id || !(s = find(w->jobs, job->id, job->attempt, false)))
        return -ENOENT;
    *ret = s;
    return 0;
}

static unsigned
slots_used(const struct worker_jobs *j)
{
    unsigned n = 0;

    for (unsigned i = 0; i < j->nslots; i++)
        n += j->slots[i].state != SLOT_FREE;
    return n;
}

int
drover_job_next(drover_worker *w, drover_job *ret, int timeout_ms)
{
    struct worker_jobs *j = w ? w->jobs : NULL;
    int64_t until = mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);

    if (!j)
        return -ENOTCONN;
    for (;;) {
        struct pollfd pfd = { .fd = j->epoll_fd, .events = POLLIN };
        int64_t now, wait;

        drover_beat(w);
        pump(j);
        if (j->refused)
            return -EPERM;
        for (unsigned i = 0; i < j->nslots; i++) {
            struct slot *s = &j->slots[i];
            char att[16];
            const char *kv[6] = { "id", s->id, "attempt", att };

            if (s->state != SLOT_QUEUED)
                continue;
            s->state = SLOT_RUNNING;
            (void)snprintf(att, sizeof(att), "%u", s->attempt);
            if (j->state == CHAN_READY)
                (void)send_frame(j, "START", kv, 4, NULL, 0); /* running, in /jobs/ID */
            *ret = (drover_job){ .id = s->id,
                                 .type = s->type,
                                 .attempt = s->attempt,
                                 .payload = s->buf,
                                 .len = s->len,
                                 .deadline_ms = s->deadline_ms,
                                 .env = s->env[0] ? s->env : NULL };
            return 1;
        }
        if (j->draining && slots_used(j) == 0)
            return -ESHUTDOWN;
        if (j->state == CHAN_READY && !j->draining && slots_used(j) + j->asked < j->nslots) {
            char n[16];
            const char *kv[4] = { "n", n };
            unsigned want = j->nslots - slots_used(j) - j->asked;

            (void)snprintf(n, sizeof(n), "%u", want);
            if (send_frame(j, "WANT", kv, 2, NULL, 0) == 0)
                j->asked += want;
            continue; /* a failure took the channel down: pump() sees to it */
        }
        now = mono_ms();
        if (timeout_ms >= 0 && now >= until)
            return 0;
        wait = timeout_ms < 0 ? BEAT_MS : until - now;
        if (w->slot && wait > BEAT_MS)
            wait = BEAT_MS; /* an idle worker keeps beating: a starving worker is not a sick one */
        /* The socket's input, or the reconnect timer: both are in the epoll set. */
        if (poll(&pfd, 1, (int)wait) < 0 && errno != EINTR)
            return -errno;
    }
}

/*
 * A DONE (fail false) or FAIL result of slot s: sent now when the channel is
 * up, else kept in the slot until WELCOME (body may be the payload itself,
 * which lives in the slot's buffer). Returns 0.
 */
static int
finish(struct worker_jobs *j, struct slot *s, bool fail, int retry_ms, const void *body, size_t len)
{
    if (j->state == CHAN_READY && send_result(j, s, fail, retry_ms, body ? body : "", len) == 0) {
        s->state = SLOT_FREE;
        return 0;
    }
    if (len)
        memmove(s->buf, body, len);
    s->len = len;
    s->result_fail = fail;
    s->retry_ms = retry_ms;
    s->state = SLOT_RESULT;
    pump(j);
    return 0;
}

int
drover_job_done(drover_worker *w, const drover_job *job, const void *res, size_t len)
{
    struct worker_jobs *j = w ? w->jobs : NULL;
    struct slot *s;
    int r;

    if ((r = slot_of(w, job, &s)) < 0)
        return r;
    if (len > j->max_payload)
        return -EMSGSIZE;
    if (len && !res)
        return -EINVAL;
    return finish(j, s, false, 0, res, len);
}

int
drover_job_fail(drover_worker *w, const drover_job *job, const char *msg, int retry_ms)
{
    return drover_job_fail_code(w, job, "error", msg, retry_ms);
}

int
drover_job_fail_code(drover_worker *w, const drover_job *job, const char *code, const char *msg,
                     int retry_ms)
{
    struct worker_jobs *j = w ? w->jobs : NULL;
    size_t len = msg ? strlen(msg) : 0, clen = code ? strlen(code) : 0;
    struct slot *s;
    int r;

    if ((r = slot_of(w, job, &s)) < 0)
        return r;
    if (retry_ms < -1 || clen < 1 || clen > CODE_MAX ||
        strspn(code, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-") != clen)
        return -EINVAL;
    memcpy(s->code, code, clen + 1);
    if (len > j->max_payload)
        len = j->max_payload; /* a message is for people: a cut one still says something */
    return finish(j, s, true, retry_ms, msg, len);
}

int
drover_job_progress(drover_worker *w, const drover_job *job, unsigned pct, const char *msg)
{
    struct worker_jobs *j = w ? w->jobs : NULL;
    char att[16], p[8];
    const char *kv[10];
    size_t len = msg ? strlen(msg) : 0;
    struct slot *s;
    int r;

    if ((r = slot_of(w, job, &s)) < 0)
        return r;
    if (pct > 100)
        return -EINVAL;
    drover_beat(w);
    pump(j);
    if (j->state != CHAN_READY)
        return -ENOTCONN; /* progress is not kept for later: the next one says more */
    (void)snprintf(att, sizeof(att), "%u", s->attempt);
    (void)snprintf(p, sizeof(p), "%u", pct);
    kv[0] = "id";
    kv[1] = s->id;
    kv[2] = "attempt";
    kv[3] = att;
    kv[4] = "pct";
    kv[5] = p;
    return send_frame(j, "PROGRESS", kv, 6, msg, len > j->max_payload ? j->max_payload : len);
}

int
drover_job_cancelled(drover_worker *w, const drover_job *job)
{
    struct slot *s;
    int r;

    if ((r = slot_of(w, job, &s)) < 0)
        return r;
    drover_beat(w);
    pump(w->jobs);
    return s->cancelled ? 1 : 0;
}

int
drover_jobs_fd(const drover_worker *w)
{
    if (!w || !w->jobs)
        return -ENOTCONN;
    return w->jobs->epoll_fd;
}

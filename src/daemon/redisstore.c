/*
 * redisstore: the Redis store. See redisstore.h.
 *
 * The outbox is a list in the order commands were made; those sent form
 * its head, and hiredis answers them in that order. A connection lost
 * drops what cannot wait (claims, beats, sweeps: made again when it is
 * back, and a claim whose answer was lost is found in this node's inflight
 * list by the orphan check) and keeps a job's transitions, sent again first.
 * Every transition script is fenced by node and attempt, so one that ran
 * before the connection dropped and runs again changes nothing the second
 * time (it answers 0, not counted as stale then).
 */
#include "daemon/redisstore.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <hiredis/async.h>

#include "core/redis_scripts.h"
#include "core/redisoutbox.h"
#include "core/util.h"
#include "os/journal.h"
#include "os/log.h"
#include "os/redisconn.h"

#define NODE_MAX 200
#define CLAIMS_MAX 16          /* claims of one type out at once */
#define PEEK_TIMEOUT "1"       /* s: a peek's BLMOVE answers nil then, and is made again */
#define BLOCKING_PING_MS 2000  /* > the peek's timeout: its PING waits behind it */
#define COMMAND_PING_MS 1000   /* the round trip of /metrics, and a silent server noticed */
#define RETRY_DUE_MS 500       /* how often the retry zset is looked at */
#define RETRY_DUE_BATCH "100"  /* ids moved at once */
#define DEPTH_MS 1000          /* how often the cluster's backlog is read (/queues, autoscale) */
#define DEPTH_HELD_MAX "1000"  /* ids read of one node's inflight list for it */
#define DEPTH_BATCH 32         /* queues read by one depth script (its words fit ARGS_MAX) */
#define TICKETS 4096           /* submit answers kept for their HTTP wait */
#define LOOKUPS 64             /* GET /jobs/ID hashes read for their HTTP wait */
#define TRANSITIONS_SAID 10000 /* an outage's transitions: a warning at this many waiting */

enum script {
    S_CLAIM,
    S_START,
    S_COMPLETE,
    S_RETRY,
    S_RELEASE,
    S_SUBMIT,
    S_BEAT,
    S_REQUEUE,
    S_UNCLAIM,
    S_RETRY_DUE,
    S_DEPTH,
    S__MAX,
    S_NONE = -1,
};

static const char *const script_text[S__MAX] = {
    [S_CLAIM] = redis_script_claim,       [S_START] = redis_script_start,
    [S_COMPLETE] = redis_script_complete, [S_RETRY] = redis_script_retry,
    [S_RELEASE] = redis_script_release,   [S_SUBMIT] = redis_script_submit,
    [S_BEAT] = redis_script_node_beat,    [S_REQUEUE] = redis_script_requeue_node,
    [S_UNCLAIM] = redis_script_unclaim,   [S_RETRY_DUE] = redis_script_retry_due,
    [S_DEPTH] = redis_script_depth,
};

enum kind {
    K_LOAD,     /* SCRIPT LOAD: arg is the script's index */
    K_CLAIM,    /* type */
    K_START,    /* a transition (kept): type, arg the job id */
    K_COMPLETE, /* kept */
    K_RETRY,    /* kept */
    K_RELEASE,  /* kept */
    K_SUBMIT,   /* ticket */
    K_LOOKUP,   /* HGETALL of a job's hash for GET /jobs/ID: ticket */
    K_BEAT,
    K_NODES,    /* ZRANGE drover:nodes */
    K_REQUEUE,  /* arg the node */
    K_INFLIGHT, /* LRANGE of this node's inflight list: the orphan check */
    K_UNCLAIM,
    K_RETRY_DUE,
    K_DEPTH, /* the cluster's backlog */
    K_PLAIN, /* a reply nobody reads (ZADD, ZREM) */
};

struct cmd {
    struct cmd *prev, *next;
    enum kind kind;
    enum script script;
    bool sent;
    bool eval;      /* sent as EVAL: the server did not know the sha */
    bool resent;    /* sent again after a lost connection */
    bool journaled; /* a transition in the outage journal (written while the server was away) */
    unsigned type;
    uint64_t ticket;
    char arg[NODE_MAX + 1];
    int argc;
    const char **argv; /* [0] and [1] are set at sending for a script: EVALSHA sha, or EVAL */
    size_t *argvlen;
};

struct rtype {
    struct redisstore *rs;
    char *name;
    char *queue;
    struct redisconn blk; /* the peek's */
    bool peeking;
    bool empty;           /* the last claim found nothing: peek before claiming again */
    unsigned claiming;    /* claims out */
    int64_t paused_until; /* its queue key holds no list: not fetched until then (mono ms) */
    bool said_bad_queue;
    struct redisstore_depth depth; /* the last K_DEPTH's figures for its queue */
};

struct redisstore {
    struct loop *loop;
    struct timers *timers;
    const struct jobs_cfg *cfg;
    const struct redisstore_ops *ops;
    void *arg;
    char prefix[CFG_JOBS_REDIS_KEY_MAX + 1];
    char node[NODE_MAX + 1];
    char token[33];
    char node_key[NODE_MAX + 32], inflight_key[NODE_MAX + 32];
    char failed_ttl[24]; /* jobs.failed_ttl in seconds, for the scripts that fail a job */
    struct redisconn conn;
    bool scripts_ready; /* this connection has every script loaded */
    unsigned loads_out;
    char sha[S__MAX][41];
    bool joined;       /* the node key is this drover's, and the orphan check is done */
    bool joining;      /* the orphan check is out */
    bool said_waiting; /* "another drover holds the node name" said for this wait */
    bool was_joined;   /* joined before: a lost node key is said as such */
    struct cmd *head, *tail, *first_unsent;
    size_t ncmds, ntransitions;
    bool said_backlog;
    struct journal *outage; /* the outage journal (jobs.dir/redis-outbox); NULL: memory only */
    bool outage_dirty;      /* it holds lines since its last (empty) snapshot */
    size_t njournaled;      /* commands in the outbox that are in it, not answered yet */
    bool said_outage_failed;
    char outage_dir[PATH_MAX];
    struct rtype *types;
    size_t ntypes;
    struct timer beat_timer, sweep_timer, retry_timer, depth_timer;
    unsigned depth_out; /* K_DEPTH batches out: one round at a time */
    bool depth_known;   /* a whole round answered since this connection came up */
    unsigned nodes;     /* drover:nodes, as the last K_DEPTH read it */
    uint64_t retry_wait;
    uint64_t next_ticket;
    struct {
        uint64_t ticket;
        int code; /* 201, 200, 409, or -1 lost */
    } answers[TICKETS];
    struct lookup {
        uint64_t ticket;
        int state;                    /* 0 out, 1 read, -1 lost with the connection */
        struct herojob_field *fields; /* one malloc: the fields, then their bytes */
        size_t n;
    } lookups[LOOKUPS];
    char down_reason[512];
    uint64_t bad_jobs, requeued, reconnects;
};

/* --- the outbox --------------------------------------------------------------------------------
 */

/* Up to this many words for one command. */
#define ARGS_MAX 40

struct args {
    const char *v[ARGS_MAX];
    size_t len[ARGS_MAX];
    int n;
};

static void
arg_bytes(struct args *a, const void *bytes, size_t len)
{
    if (a->n < ARGS_MAX) {
        a->v[a->n] = bytes ? bytes : "";
        a->len[a->n++] = bytes ? len : 0;
    }
}

static void
arg_str(struct args *a, const char *s)
{
    arg_bytes(a, s, strlen(s));
}

static bool
is_transition(enum kind k)
{
    return k == K_START || k == K_COMPLETE || k == K_RETRY || k == K_RELEASE;
}

static void send_one(struct redisstore *rs, struct cmd *c);

static bool
server_up(const struct redisstore *rs)
{
    return redisconn_ctx(&rs->conn) && rs->scripts_ready;
}

static enum redisoutbox_op
outage_op(enum kind k)
{
    return k == K_START      ? REDISOUTBOX_START
           : k == K_COMPLETE ? REDISOUTBOX_COMPLETE
           : k == K_RETRY    ? REDISOUTBOX_RETRY
                             : REDISOUTBOX_RELEASE;
}

/* A transition the server may never have seen goes to the outage journal (once). */
static void
outage_write(struct redisstore *rs, struct cmd *c)
{
    char *line;
    size_t len;

    if (!rs->outage || c->journaled || !is_transition(c->kind))
        return;
    c->journaled = true;
    rs->njournaled++;
    line = redisoutbox_encode(outage_op(c->kind), c->type, c->arg, c->argv + 2, c->argvlen + 2,
                              (size_t)c->argc - 2, &len);
    if (!line || journal_append(rs->outage, line, len, 0, false) < 0) {
        if (!rs->said_outage_failed)
            log_warnx("redis store: an update of job %s could not be kept in %s (out of memory): "
                      "it waits in memory only (said once)",
                      c->arg, rs->outage_dir);
        rs->said_outage_failed = true;
    }
    free(line);
    rs->outage_dirty = true;
}

/* Sends what is not sent yet, in order, while the server answers and knows the scripts. */
static void
pump(struct redisstore *rs)
{
    if (!redisconn_ctx(&rs->conn) || !rs->scripts_ready)
        return;
    while (rs->first_unsent) {
        struct cmd *c = rs->first_unsent;

        rs->first_unsent = c->next;
        send_one(rs, c);
    }
}

/*
 * A command into the outbox (a copy of its words), sent at once when it can
 * be. A script's words follow "EVALSHA sha", which sending fills in. NULL:
 * no memory (logged by the caller's effect: a transition lost is said).
 */
static struct cmd *
push(struct redisstore *rs, enum kind kind, enum script script, const struct args *a)
{
    int argc = a->n + (script != S_NONE ? 2 : 0);
    size_t bytes = sizeof(struct cmd) + (size_t)argc * (sizeof(char *) + sizeof(size_t));
    struct cmd *c;
    char *p;

    for (int i = 0; i < a->n; i++)
        bytes += a->len[i] + 1;
    if (!(c = calloc(1, bytes)))
        return NULL;
    c->kind = kind;
    c->script = script;
    c->argc = argc;
    c->argv = (const char **)(c + 1);
    c->argvlen = (size_t *)(c->argv + argc);
    p = (char *)(c->argvlen + argc);
    for (int i = 0, k = script != S_NONE ? 2 : 0; i < a->n; i++, k++) {
        memcpy(p, a->v[i], a->len[i]);
        p[a->len[i]] = '\0';
        c->argv[k] = p;
        c->argvlen[k] = a->len[i];
        p += a->len[i] + 1;
    }
    c->prev = rs->tail;
    if (rs->tail)
        rs->tail->next = c;
    else
        rs->head = c;
    rs->tail = c;
    if (!rs->first_unsent)
        rs->first_unsent = c;
    rs->ncmds++;
    if (is_transition(kind) && ++rs->ntransitions >= TRANSITIONS_SAID && !rs->said_backlog) {
        rs->said_backlog = true;
        log_warnx("redis store: %zu job transitions wait for the server (in order, %s)",
                  rs->ntransitions, rs->outage ? rs->outage_dir : "in memory only");
    }
    pump(rs);
    return c;
}

/* A transition into the outbox: kept on disk too while the server is away. */
static struct cmd *
push_transition(struct redisstore *rs, enum kind kind, enum script script, const struct args *a,
                unsigned type, const char *id)
{
    bool up = server_up(rs);
    struct cmd *c = push(rs, kind, script, a);

    if (c) {
        c->type = type;
        (void)snprintf(c->arg, sizeof(c->arg), "%s", id);
        if (!up)
            outage_write(rs, c);
    }
    return c;
}

static void
unlink_cmd(struct redisstore *rs, struct cmd *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        rs->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        rs->tail = c->prev;
    if (rs->first_unsent == c)
        rs->first_unsent = c->next;
    rs->ncmds--;
    if (is_transition(c->kind) && rs->ntransitions)
        rs->ntransitions--;
    if (c->journaled && rs->njournaled)
        rs->njournaled--;
    free(c);
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata);

static void
send_one(struct redisstore *rs, struct cmd *c)
{
    redisAsyncContext *ac = redisconn_ctx(&rs->conn);

    if (c->script != S_NONE) {
        c->argv[0] = c->eval ? "EVAL" : "EVALSHA";
        c->argvlen[0] = strlen(c->argv[0]);
        c->argv[1] = c->eval ? script_text[c->script] : rs->sha[c->script];
        c->argvlen[1] = strlen(c->argv[1]);
    }
    if (c->sent)
        c->resent = true;
    c->sent = true;
    if (redisAsyncCommandArgv(ac, on_reply, c, c->argc, c->argv, c->argvlen) != REDIS_OK) {
        /* Only when the context is going: the connection's down says the rest. */
        c->sent = false;
    }
}

/* --- job keys --------------------------------------------------------------------------------- */

static void
job_key(const struct redisstore *rs, const char *id, size_t len, char *buf, size_t size)
{
    (void)snprintf(buf, size, "%s:job:%.*s", rs->prefix, (int)len, id);
}

static void
reply_key(const struct redisstore *rs, const char *id, char *buf, size_t size)
{
    (void)snprintf(buf, size, "%s:q:reply:%s", rs->prefix, id);
}

/* "2" from 2, into buf. */
static const char *
num(char *buf, size_t size, long long v)
{
    (void)snprintf(buf, size, "%lld", v);
    return buf;
}

/* --- what a claim brought --------------------------------------------------------------------- */

/* A job this node just claimed and cannot keep goes back to its queue (requeue_one), untouched. */
static void
give_back_claimed(struct redisstore *rs, unsigned type, const char *id, size_t id_len,
                  const char *why)
{
    struct args a = { .n = 0 };
    char now[24], shown[JOBQ_ID_MAX + 1];
    struct cmd *c;

    (void)snprintf(shown, sizeof(shown), "%.*s", (int)id_len, id);
    log_warnx("redis store: job %s goes back to its queue: %s", shown, why);
    arg_str(&a, "1");
    arg_str(&a, rs->inflight_key);
    arg_str(&a, rs->prefix);
    arg_str(&a, num(now, sizeof(now), util_unix_ms()));
    arg_bytes(&a, id, id_len);
    arg_str(&a, rs->node);
    arg_str(&a, rs->failed_ttl);
    if ((c = push(rs, K_UNCLAIM, S_UNCLAIM, &a))) {
        c->type = type;
        (void)snprintf(c->arg, sizeof(c->arg), "%s", shown);
    }
}

/* Fails a job this node just claimed and cannot run (its hash is wrong): why is the error. */
static void
fail_claimed(struct redisstore *rs, unsigned type, const char *id, size_t id_len,
             const char *attempt, size_t attempt_len, const char *why)
{
    char shown[JOBQ_ID_MAX + 1];

    char h[CFG_JOBS_REDIS_KEY_MAX + JOBQ_ID_MAX + 512], rep[sizeof(h)], iso[HEROJOB_ISO_MAX],
        fin[24], ttl[24];
    struct args a = { .n = 0 };

    job_key(rs, id, id_len, h, sizeof(h));
    (void)snprintf(rep, sizeof(rep), "%s:q:reply:%.*s", rs->prefix, (int)id_len, id);
    arg_str(&a, "3");
    arg_str(&a, h);
    arg_str(&a, rs->inflight_key);
    arg_str(&a, rep);
    arg_bytes(&a, id, id_len);
    arg_bytes(&a, attempt, attempt_len);
    arg_str(&a, rs->node);
    arg_str(&a, "failed");
    arg_str(&a, "");
    arg_str(&a, why);
    arg_str(&a, herojob_iso8601(util_unix_ms(), iso));
    arg_str(&a, num(fin, sizeof(fin), util_unix_ms()));
    arg_str(&a, num(ttl, sizeof(ttl), rs->cfg->failed_ttl_ms / 1000));
    (void)snprintf(shown, sizeof(shown), "%.*s", (int)id_len, id);
    (void)push_transition(rs, K_COMPLETE, S_COMPLETE, &a, type, shown);
}

static void
claimed(struct redisstore *rs, struct rtype *t, const redisReply *rep)
{
    const redisReply *id = rep->element[0], *what = rep->element[1], *more = rep->element[2];
    struct herojob_field f[64];
    size_t n = 0;
    const char *attempt = "1";
    size_t attempt_len = 1;
    struct herojob_defaults d;
    struct jobrec *r;
    unsigned at = 1, type = (unsigned)(t - rs->types);
    char err[512], shown[64];

    if (id->type != REDIS_REPLY_STRING || what->type != REDIS_REPLY_STRING)
        return;
    (void)snprintf(shown, sizeof(shown), "%.*s", (int)(id->len > 48 ? 48 : id->len), id->str);
    if (strcmp(what->str, "ok") != 0) {
        const char *text = more->type == REDIS_REPLY_STRING ? more->str : "";

        if (strcmp(what->str, "bad") == 0) {
            rs->bad_jobs++;
            log_warnx("redis store: job %s from %s not taken: %s (said on its reply list)", shown,
                      t->queue, text);
        } else if (strcmp(what->str, "owned") == 0) {
            log_warnx("redis store: job %s from %s not taken: node %s runs it (its id was "
                      "pushed twice)",
                      shown, t->queue, text);
        } else {
            log_info("redis store: job %s from %s not taken: it ended %s (set its status back to "
                     "dispatched to run it again)",
                     shown, t->queue, text);
        }
        return;
    }
    if (more->type != REDIS_REPLY_ARRAY)
        return;
    for (size_t i = 0; i + 1 < more->elements && n < sizeof(f) / sizeof(f[0]); i += 2) {
        const redisReply *k = more->element[i], *v = more->element[i + 1];

        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        f[n++] = (struct herojob_field){ k->str, v->str, k->len, v->len };
        if (k->len == 14 && memcmp(k->str, "drover_attempt", 14) == 0) {
            attempt = v->str;
            attempt_len = v->len;
        }
    }
    if (!rs->ops->defaults(rs->arg, type, &d)) {
        give_back_claimed(rs, type, id->str, id->len,
                          "no program of this drover takes its type any more");
        return;
    }
    if (!(r = jobrec_new())) {
        give_back_claimed(rs, type, id->str, id->len, "out of memory");
        return;
    }
    if (herojob_read(id->str, id->len, f, n, &d, r, &at, err, sizeof(err)) < 0) {
        jobrec_free(r);
        rs->bad_jobs++;
        log_warnx("redis store: job %s from %s failed: %s", shown, t->queue, err);
        fail_claimed(rs, type, id->str, id->len, attempt, attempt_len, err);
        return;
    }
    if (rs->ops->taken(rs->arg, type, r, at) < 0)
        give_back_claimed(rs, type, id->str, id->len,
                          "this node could not keep it (out of memory)");
}

/* --- replies ---------------------------------------------------------------------------------- */

static void join_check(struct redisstore *rs);
static void beat(struct redisstore *rs);

static void
answer_ticket(struct redisstore *rs, uint64_t ticket, int code)
{
    rs->answers[ticket % TICKETS].ticket = ticket;
    rs->answers[ticket % TICKETS].code = code;
    rs->ops->changed(rs->arg);
}

static void
lookup_done(struct redisstore *rs, uint64_t ticket, int state, const redisReply *rep)
{
    struct lookup *l = &rs->lookups[ticket % LOOKUPS];
    size_t n = 0, bytes = 0;
    char *p;

    if (l->ticket != ticket)
        return; /* a later lookup took the place */
    free(l->fields);
    l->fields = NULL;
    l->n = 0;
    l->state = state;
    if (state > 0 && rep && rep->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i + 1 < rep->elements; i += 2)
            if (rep->element[i]->type == REDIS_REPLY_STRING &&
                rep->element[i + 1]->type == REDIS_REPLY_STRING) {
                n++;
                bytes += rep->element[i]->len + rep->element[i + 1]->len + 2;
            }
        if (n && !(l->fields = malloc(n * sizeof(*l->fields) + bytes))) {
            l->state = -1;
            n = 0;
        }
        p = (char *)(l->fields + n);
        for (size_t i = 0; n && i + 1 < rep->elements; i += 2) {
            const redisReply *k = rep->element[i], *v = rep->element[i + 1];

            if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
                continue;
            l->fields[l->n] = (struct herojob_field){ .name = p, .name_len = k->len };
            memcpy(p, k->str, k->len);
            p[k->len] = '\0';
            p += k->len + 1;
            l->fields[l->n].value = p;
            l->fields[l->n].value_len = v->len;
            memcpy(p, v->str, v->len);
            p[v->len] = '\0';
            p += v->len + 1;
            l->n++;
        }
    } else if (state > 0) {
        l->state = -1; /* an error reply: the key holds no hash */
    }
    rs->ops->changed(rs->arg);
}

static void
nodes_listed(struct redisstore *rs, const redisReply *rep)
{
    char key[NODE_MAX + 32], inflight[NODE_MAX + 32], now[24];

    for (size_t i = 0; i < rep->elements; i++) {
        const redisReply *n = rep->element[i];
        struct args a = { .n = 0 };
        struct cmd *c;

        if (n->type != REDIS_REPLY_STRING || n->len > NODE_MAX || strcmp(n->str, rs->node) == 0)
            continue;
        (void)snprintf(key, sizeof(key), "drover:node:%s", n->str);
        (void)snprintf(inflight, sizeof(inflight), "drover:inflight:%s", n->str);
        arg_str(&a, "3");
        arg_str(&a, key);
        arg_str(&a, inflight);
        arg_str(&a, "drover:nodes");
        arg_str(&a, rs->prefix);
        arg_str(&a, num(now, sizeof(now), util_unix_ms()));
        arg_str(&a, rs->failed_ttl);
        arg_str(&a, n->str);
        if ((c = push(rs, K_REQUEUE, S_REQUEUE, &a)))
            (void)snprintf(c->arg, sizeof(c->arg), "%s", n->str);
    }
}

static void
node_requeued(struct redisstore *rs, const struct cmd *c, long long n)
{
    if (n <= 0)
        return; /* alive, or gone with nothing held (the script took it out of drover:nodes) */
    rs->requeued += (uint64_t)n;
    log_warnx("redis store: node %s stopped answering (drover:node:%s expired): %lld of its "
              "jobs went back on their queues",
              c->arg, c->arg, n);
}

/* The orphan check: ids in this node's inflight list that it does not hold go back. */
static void
inflight_listed(struct redisstore *rs, const redisReply *rep)
{
    char now[24];
    size_t orphans = 0;

    for (size_t i = 0; i < rep->elements; i++) {
        const redisReply *id = rep->element[i];
        struct args a = { .n = 0 };
        char buf[JOBQ_ID_MAX + 1];

        if (id->type != REDIS_REPLY_STRING)
            continue;
        if (herojob_id_valid(id->str, id->len)) {
            memcpy(buf, id->str, id->len);
            buf[id->len] = '\0';
            if (rs->ops->holds && rs->ops->holds(rs->arg, buf))
                continue;
        }
        arg_str(&a, "1");
        arg_str(&a, rs->inflight_key);
        arg_str(&a, rs->prefix);
        arg_str(&a, num(now, sizeof(now), util_unix_ms()));
        arg_bytes(&a, id->str, id->len);
        arg_str(&a, rs->node);
        arg_str(&a, rs->failed_ttl);
        (void)push(rs, K_UNCLAIM, S_UNCLAIM, &a);
        orphans++;
    }
    if (orphans)
        log_info("redis store: %zu job%s in drover:inflight:%s that this drover does not hold "
                 "(taken before a restart or a lost connection) went back on their queues",
                 orphans, orphans == 1 ? "" : "s", rs->node);
    rs->joined = true;
    rs->joining = false;
    rs->was_joined = true;
    rs->said_waiting = false;
    log_info("redis store: node %s joined the cluster at %s", rs->node,
             rs->conn.url.unix_socket ? rs->conn.url.path : rs->conn.url.host);
    /* The nodes that died while this one was away: swept now, not a node_ttl later. */
    (void)timer_arm(rs->timers, &rs->sweep_timer, util_now_ms());
    (void)timer_arm(rs->timers, &rs->depth_timer, util_now_ms());
    rs->ops->changed(rs->arg);
}

static void
beat_answered(struct redisstore *rs, long long v)
{
    if (v == 1) {
        if (!rs->joined)
            join_check(rs);
        return;
    }
    if (rs->joined)
        log_errorx("redis store: drover:node:%s is another drover's now (the same node name on "
                   "two machines?): this one takes no more jobs until it is free",
                   rs->node);
    else if (!rs->said_waiting)
        log_warnx("redis store: drover:node:%s is held by another drover (the same node name), "
                  "or by this one's run that stopped less than node_ttl ago: jobs are taken once "
                  "it expires (checked every %lld ms)",
                  rs->node, (long long)rs->cfg->redis.node_ttl_ms / 3);
    rs->said_waiting = true;
    rs->joined = false;
}

/* An error a server gives while it cannot take writes for now: the write is tried again. */
static bool
transient_error(const char *e)
{
    static const char *const now[] = { "OOM",        "READONLY", "LOADING",    "BUSY",
                                       "MASTERDOWN", "TRYAGAIN", "NOREPLICAS", "CLUSTERDOWN" };

    for (size_t i = 0; i < sizeof(now) / sizeof(now[0]); i++)
        if (strncmp(e, now[i], strlen(now[i])) == 0 &&
            (e[strlen(now[i])] == ' ' || e[strlen(now[i])] == '\0'))
            return true;
    return false;
}

/*
 * A transition's answer. false: it is kept (the server cannot write now:
 * the connection is reset, and it goes again, in order, after the others).
 */
static bool
transition_answered(struct redisstore *rs, const struct cmd *c, const redisReply *rep)
{
    if (rep->type == REDIS_REPLY_ERROR && transient_error(rep->str)) {
        char why[300];

        (void)snprintf(why, sizeof(why), "the server cannot write now (%.200s)", rep->str);
        redisconn_reset(&rs->conn, why);
        return false;
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        log_warnx("redis store: job %s: the server refused its update: %.200s", c->arg, rep->str);
        return true;
    }
    if (rep->type == REDIS_REPLY_INTEGER && rep->integer == 0 && !c->resent &&
        c->kind == K_COMPLETE) {
        log_info("redis store: job %s: its result came after another node took it over "
                 "(fenced out, not written)",
                 c->arg);
        if (rs->ops->stale)
            rs->ops->stale(rs->arg, c->type);
    }
    return true;
}

static long long
int_of(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
}

/*
 * A depth script's answer for the batch of types from first on: {nodes,
 * retry_wait, {waiting, in_flight, here} per type}.
 */
static void
depth_read(struct redisstore *rs, size_t first, const redisReply *rep)
{
    size_t n = rs->ntypes - first < DEPTH_BATCH ? rs->ntypes - first : DEPTH_BATCH;

    if (first >= rs->ntypes || rep->elements != 2 + n)
        return;
    rs->nodes = (unsigned)int_of(rep->element[0]);
    rs->retry_wait = (uint64_t)int_of(rep->element[1]);
    for (size_t i = 0; i < n; i++) {
        const redisReply *q = rep->element[2 + i];

        if (q->type != REDIS_REPLY_ARRAY || q->elements != 3)
            return;
        rs->types[first + i].depth = (struct redisstore_depth){
            .waiting = int_of(q->element[0]),
            .in_flight = (size_t)int_of(q->element[1]),
            .here = (size_t)int_of(q->element[2]),
        };
    }
    if (rs->depth_out == 0)
        rs->depth_known = true; /* the round's last batch */
}

static void
on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct redisconn *conn = ac->data;
    struct redisstore *rs = conn ? conn->arg : NULL;
    struct cmd *c = privdata;
    redisReply *rep = reply;

    if (!rs || !rep)
        return; /* the connection is going: its down callback keeps or drops c */
    if (rep->type == REDIS_REPLY_ERROR && c->script != S_NONE && !c->eval &&
        strncmp(rep->str, "NOSCRIPT", 8) == 0) {
        c->eval = true;  /* the server forgot it (SCRIPT FLUSH, a failover): its text then */
        c->sent = false; /* it never ran: not a resend */
        send_one(rs, c);
        return;
    }
    switch (c->kind) {
    case K_LOAD:
        if (rep->type == REDIS_REPLY_STRING && rep->len == 40) {
            memcpy(rs->sha[c->ticket], rep->str, 40);
            rs->sha[c->ticket][40] = '\0';
        } else {
            log_warnx("redis store: SCRIPT LOAD refused (%.200s): scripts go as EVAL",
                      rep->type == REDIS_REPLY_ERROR ? rep->str : "an unexpected reply");
        }
        if (rs->loads_out && --rs->loads_out == 0) {
            rs->scripts_ready = true;
            unlink_cmd(rs, c);
            pump(rs); /* transitions kept through the outage, in order */
            beat(rs); /* its answer joins */
            rs->ops->changed(rs->arg);
            return;
        }
        break;
    case K_CLAIM: {
        struct rtype *t = &rs->types[c->type];

        if (t->claiming)
            t->claiming--;
        if (rep->type == REDIS_REPLY_NIL) {
            t->empty = true;
        } else if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 3) {
            claimed(rs, t, rep);
        } else if (rep->type == REDIS_REPLY_ERROR) {
            t->empty = true;
            t->paused_until = util_now_ms() + rs->cfg->redis.node_ttl_ms / 3;
            if (!t->said_bad_queue)
                log_warnx("redis store: type %s: taking from %s failed (%.200s): tried again "
                          "every %lld ms, the other types go on (said once)",
                          t->name, t->queue, rep->str, (long long)rs->cfg->redis.node_ttl_ms / 3);
            t->said_bad_queue = true;
        }
        break;
    }
    case K_START:
    case K_COMPLETE:
    case K_RETRY:
    case K_RELEASE:
        if (!transition_answered(rs, c, rep))
            return; /* kept: the reset's down callback keeps it for the next connection */
        break;
    case K_SUBMIT:
        answer_ticket(rs, c->ticket,
                      rep->type != REDIS_REPLY_INTEGER ? -1
                      : rep->integer == 1              ? 201
                      : rep->integer == 0              ? (c->resent ? 201 : 200)
                                                       : 409);
        if (rep->type == REDIS_REPLY_ERROR)
            log_warnx("redis store: a submit was refused: %.200s", rep->str);
        break;
    case K_LOOKUP:
        lookup_done(rs, c->ticket, 1, rep);
        break;
    case K_BEAT:
        if (rep->type == REDIS_REPLY_INTEGER)
            beat_answered(rs, rep->integer);
        else if (rep->type == REDIS_REPLY_ERROR)
            log_warnx("redis store: the node beat was refused: %.200s", rep->str);
        break;
    case K_NODES:
        if (rep->type == REDIS_REPLY_ARRAY)
            nodes_listed(rs, rep);
        break;
    case K_REQUEUE:
        if (rep->type == REDIS_REPLY_INTEGER)
            node_requeued(rs, c, rep->integer);
        else if (rep->type == REDIS_REPLY_ERROR)
            log_warnx("redis store: requeueing node %s failed: %.200s", c->arg, rep->str);
        break;
    case K_INFLIGHT:
        if (rep->type == REDIS_REPLY_ARRAY)
            inflight_listed(rs, rep);
        break;
    case K_RETRY_DUE:
        if (rep->type == REDIS_REPLY_INTEGER && rep->integer >= atoi(RETRY_DUE_BATCH))
            (void)timer_arm(rs->timers, &rs->retry_timer, util_now_ms());
        break;
    case K_DEPTH:
        if (rs->depth_out)
            rs->depth_out--;
        if (rep->type == REDIS_REPLY_ARRAY)
            depth_read(rs, c->type, rep);
        else if (rep->type == REDIS_REPLY_ERROR)
            log_warnx("redis store: reading the queues' depth failed: %.200s", rep->str);
        break;
    case K_UNCLAIM:
    case K_PLAIN:
        if (rep->type == REDIS_REPLY_ERROR)
            log_warnx("redis store: %.200s", rep->str);
        break;
    }
    unlink_cmd(rs, c);
}

/* --- joining, beats, sweeps ------------------------------------------------------------------- */

static void
beat(struct redisstore *rs)
{
    struct args a = { .n = 0 }, z = { .n = 0 };
    char ttl[24], now[24];

    arg_str(&a, "1");
    arg_str(&a, rs->node_key);
    arg_str(&a, rs->token);
    arg_str(&a, num(ttl, sizeof(ttl), rs->cfg->redis.node_ttl_ms));
    (void)push(rs, K_BEAT, S_BEAT, &a);
    if (rs->joined) {
        arg_str(&z, "ZADD");
        arg_str(&z, "drover:nodes");
        arg_str(&z, num(now, sizeof(now), util_unix_ms()));
        arg_str(&z, rs->node);
        (void)push(rs, K_PLAIN, S_NONE, &z);
    }
}

/* The node key is this drover's: what the inflight list holds that it does not is sent back. */
static void
join_check(struct redisstore *rs)
{
    struct args a = { .n = 0 }, z = { .n = 0 };
    char now[24];

    if (rs->joined || rs->joining || !rs->scripts_ready)
        return;
    rs->joining = true;
    arg_str(&z, "ZADD");
    arg_str(&z, "drover:nodes");
    arg_str(&z, num(now, sizeof(now), util_unix_ms()));
    arg_str(&z, rs->node);
    (void)push(rs, K_PLAIN, S_NONE, &z);
    arg_str(&a, "LRANGE");
    arg_str(&a, rs->inflight_key);
    arg_str(&a, "0");
    arg_str(&a, "-1");
    (void)push(rs, K_INFLIGHT, S_NONE, &a);
}

static void
beat_fired(struct timer *t, int64_t now_ms)
{
    struct redisstore *rs = container_of(t, struct redisstore, beat_timer);

    if (rs->scripts_ready)
        beat(rs);
    (void)timer_arm(rs->timers, t, now_ms + rs->cfg->redis.node_ttl_ms / 3);
}

static void
sweep_fired(struct timer *t, int64_t now_ms)
{
    struct redisstore *rs = container_of(t, struct redisstore, sweep_timer);
    struct args a = { .n = 0 };

    if (rs->joined) {
        arg_str(&a, "ZRANGE");
        arg_str(&a, "drover:nodes");
        arg_str(&a, "0");
        arg_str(&a, "-1");
        (void)push(rs, K_NODES, S_NONE, &a);
    }
    (void)timer_arm(rs->timers, t, now_ms + rs->cfg->redis.node_ttl_ms);
}

static void
retry_fired(struct timer *t, int64_t now_ms)
{
    struct redisstore *rs = container_of(t, struct redisstore, retry_timer);
    struct args a = { .n = 0 };
    char now[24];

    if (rs->joined) {
        arg_str(&a, "1");
        arg_str(&a, "drover:retry");
        arg_str(&a, rs->prefix);
        arg_str(&a, num(now, sizeof(now), util_unix_ms()));
        arg_str(&a, RETRY_DUE_BATCH);
        (void)push(rs, K_RETRY_DUE, S_RETRY_DUE, &a);
    }
    (void)timer_arm(rs->timers, t, now_ms + RETRY_DUE_MS);
}

/* A round of depth scripts, DEPTH_BATCH queues each, unless the last round is still out. */
static void
depth_fired(struct timer *t, int64_t now_ms)
{
    struct redisstore *rs = container_of(t, struct redisstore, depth_timer);
    bool round = rs->joined && rs->depth_out == 0;

    for (size_t first = 0; round && first < rs->ntypes; first += DEPTH_BATCH) {
        size_t n = rs->ntypes - first < DEPTH_BATCH ? rs->ntypes - first : DEPTH_BATCH;
        struct args a = { .n = 0 };
        char nkeys[24];
        struct cmd *c;

        arg_str(&a, num(nkeys, sizeof(nkeys), (long long)(2 + n)));
        arg_str(&a, "drover:nodes");
        arg_str(&a, "drover:retry");
        for (size_t i = first; i < first + n; i++)
            arg_str(&a, rs->types[i].queue);
        arg_str(&a, rs->prefix);
        arg_str(&a, rs->node);
        arg_str(&a, DEPTH_HELD_MAX);
        if (!(c = push(rs, K_DEPTH, S_DEPTH, &a)))
            break;
        c->type = (unsigned)first;
        rs->depth_out++;
    }
    (void)timer_arm(rs->timers, t, now_ms + DEPTH_MS);
}

/* --- the connections ------------------------------------------------------------------------- */

static void
conn_up(struct redisconn *conn)
{
    struct redisstore *rs = conn->arg;

    rs->down_reason[0] = '\0';
    rs->scripts_ready = false;
    rs->loads_out = 0;
    /* Before anything else: the scripts, so that what follows finds them. */
    for (int s = 0; s < S__MAX; s++) {
        struct args a = { .n = 0 };
        struct cmd *c;

        arg_str(&a, "SCRIPT");
        arg_str(&a, "LOAD");
        arg_str(&a, script_text[s]);
        if (!(c = calloc(1, sizeof(*c) + 3 * (sizeof(char *) + sizeof(size_t)))))
            continue;
        c->kind = K_LOAD;
        c->script = S_NONE;
        c->ticket = (uint64_t)s;
        c->argc = 3;
        c->argv = (const char **)(c + 1);
        c->argvlen = (size_t *)(c->argv + 3);
        for (int i = 0; i < 3; i++) {
            c->argv[i] = a.v[i]; /* static texts */
            c->argvlen[i] = a.len[i];
        }
        /* At the head: sent now, ahead of the transitions kept through the outage. */
        c->next = rs->head;
        if (rs->head)
            rs->head->prev = c;
        else
            rs->tail = c;
        rs->head = c;
        rs->ncmds++;
        c->sent = true;
        rs->loads_out++;
        if (redisAsyncCommandArgv(redisconn_ctx(conn), on_reply, c, 3, c->argv, c->argvlen) !=
            REDIS_OK)
            c->sent = false;
    }
    if (!rs->loads_out)
        rs->scripts_ready = true;
}

/* Every callback of the old context has run (with no reply): keep the transitions, drop the rest.
 */
static void
conn_down(struct redisconn *conn, const char *why)
{
    struct redisstore *rs = conn->arg;
    struct cmd *c = rs->head, *next;

    (void)snprintf(rs->down_reason, sizeof(rs->down_reason), "%s", why);
    rs->scripts_ready = false;
    rs->loads_out = 0;
    if (rs->joined)
        rs->reconnects++;
    rs->joined = false;
    rs->joining = false;
    rs->said_waiting = false;
    rs->depth_out = false;
    rs->depth_known = false;
    for (size_t i = 0; i < rs->ntypes; i++) {
        rs->types[i].claiming = 0;
        rs->types[i].empty = false;
    }
    for (; c; c = next) {
        next = c->next;
        if (is_transition(c->kind)) {
            c->eval = false;     /* the next server may know the sha */
            outage_write(rs, c); /* it waits for the server: on disk too */
            continue;
        }
        if (c->kind == K_SUBMIT && c->sent)
            rs->answers[c->ticket % TICKETS].ticket = c->ticket,
                                    rs->answers[c->ticket % TICKETS].code = -1;
        else if (c->kind == K_SUBMIT)
            continue; /* not sent yet: it goes when the server is back */
        if (c->kind == K_LOOKUP)
            lookup_done(rs, c->ticket, -1, NULL);
        unlink_cmd(rs, c);
    }
    rs->first_unsent = rs->head;
    rs->ops->changed(rs->arg);
}

static const struct redisconn_ops conn_ops = { conn_up, conn_down };

static void
blk_up(struct redisconn *conn)
{
    struct rtype *t = conn->arg;

    t->peeking = false;
}

static void
blk_down(struct redisconn *conn, const char *why)
{
    struct rtype *t = conn->arg;

    (void)why;
    t->peeking = false;
}

static const struct redisconn_ops blk_ops = { blk_up, blk_down };

static void
peeked(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct rtype *t = privdata;
    redisReply *rep = reply;

    (void)ac;
    if (!rep)
        return; /* blk_down clears peeking */
    t->peeking = false;
    t->empty = false;
    if (rep->type == REDIS_REPLY_ERROR) {
        t->paused_until = util_now_ms() + t->rs->cfg->redis.node_ttl_ms / 3;
        if (!t->said_bad_queue)
            log_warnx("redis store: type %s: waiting on %s failed (%.200s): tried again every "
                      "%lld ms, the other types go on (said once)",
                      t->name, t->queue, rep->str, (long long)t->rs->cfg->redis.node_ttl_ms / 3);
        t->said_bad_queue = true;
    }
    t->rs->ops->changed(t->rs->arg);
}

static void
peek(struct rtype *t)
{
    redisAsyncContext *ac = redisconn_ctx(&t->blk);
    const char *argv[] = { "BLMOVE", t->queue, t->queue, "RIGHT", "RIGHT", PEEK_TIMEOUT };
    size_t len[] = { 6, strlen(t->queue), strlen(t->queue), 5, 5, strlen(PEEK_TIMEOUT) };

    if (!ac || t->peeking)
        return;
    if (redisAsyncCommandArgv(ac, peeked, t, 6, argv, len) == REDIS_OK)
        t->peeking = true;
}

/* --- what the dispatcher calls ---------------------------------------------------------------- */

void
redisstore_fetch(struct redisstore *rs, unsigned type)
{
    struct rtype *t;
    unsigned room;

    if (!rs || type >= rs->ntypes || !rs->joined)
        return;
    t = &rs->types[type];
    if (t->paused_until && util_now_ms() < t->paused_until)
        return;
    t->paused_until = 0;
    room = rs->ops->room(rs->arg, type); /* the claims out are counted in it already */
    if (room == 0)
        return;
    if (t->empty) {
        peek(t);
        return;
    }
    for (unsigned i = 0; i < room && t->claiming < CLAIMS_MAX; i++) {
        struct args a = { .n = 0 };
        char iso[HEROJOB_ISO_MAX];
        struct cmd *c;

        arg_str(&a, "2");
        arg_str(&a, t->queue);
        arg_str(&a, rs->inflight_key);
        arg_str(&a, rs->prefix);
        arg_str(&a, rs->node);
        arg_str(&a, herojob_iso8601(util_unix_ms(), iso));
        arg_str(&a, rs->failed_ttl);
        if (!(c = push(rs, K_CLAIM, S_CLAIM, &a)))
            return;
        c->type = type;
        t->claiming++;
    }
}

unsigned
redisstore_claiming(const struct redisstore *rs, unsigned type)
{
    return rs && type < rs->ntypes ? rs->types[type].claiming : 0;
}

static void
actor_of(const struct redisstore *rs, const struct jobrec *r, char *buf, size_t size)
{
    (void)snprintf(buf, size, "%s@%s", r->instance[0] ? r->instance : "-", rs->node);
}

void
redisstore_changed(struct redisstore *rs, const struct jobrec *r, const char *type,
                   enum job_state from)
{
    const struct job *sm = &r->q.sm;
    char h[CFG_JOBS_REDIS_KEY_MAX + JOBQ_ID_MAX + 16], rep[sizeof(h)], att[16], next[16],
        iso[HEROJOB_ISO_MAX], n1[24], n2[24], actor[JOBREC_INSTANCE_MAX + NODE_MAX + 2];
    struct args a = { .n = 0 };
    enum kind kind;
    enum script script;

    (void)type;
    if (!rs || sm->state == from)
        return;
    job_key(rs, r->q.id, strlen(r->q.id), h, sizeof(h));
    herojob_iso8601(util_unix_ms(), iso);
    switch (sm->state) {
    case JOB_RUNNING:
        kind = K_START, script = S_START;
        actor_of(rs, r, actor, sizeof(actor));
        arg_str(&a, "1");
        arg_str(&a, h);
        arg_str(&a, rs->node);
        arg_str(&a, num(att, sizeof(att), sm->attempt));
        arg_str(&a, iso);
        arg_str(&a, actor);
        arg_str(&a, num(n1, sizeof(n1), r->max_attempts));
        arg_str(&a, num(n2, sizeof(n2), r->timeout_ms > 0 ? util_unix_ms() + r->timeout_ms : 0));
        break;
    case JOB_SUCCESS:
    case JOB_FAILED:
    case JOB_CANCELLED: {
        const char *state = sm->state == JOB_SUCCESS  ? "success"
                            : sm->state == JOB_FAILED ? "failed"
                                                      : "cancelled";
        const char *err = r->error_message             ? r->error_message
                          : sm->error_code             ? sm->error_code
                          : sm->state == JOB_CANCELLED ? "cancelled"
                                                       : "";
        int64_t ttl = sm->state == JOB_SUCCESS ? rs->cfg->result_ttl_ms : rs->cfg->failed_ttl_ms;

        kind = K_COMPLETE, script = S_COMPLETE;
        reply_key(rs, r->q.id, rep, sizeof(rep));
        arg_str(&a, "3");
        arg_str(&a, h);
        arg_str(&a, rs->inflight_key);
        arg_str(&a, rep);
        arg_str(&a, r->q.id);
        arg_str(&a, num(att, sizeof(att), sm->attempt));
        arg_str(&a, rs->node);
        arg_str(&a, state);
        arg_bytes(&a, r->result, r->result_len);
        arg_str(&a, err);
        arg_str(&a, iso);
        arg_str(&a, num(n1, sizeof(n1), sm->finished_ms));
        arg_str(&a, num(n2, sizeof(n2), ttl / 1000));
        break;
    }
    case JOB_RETRY_WAIT:
        kind = K_RETRY, script = S_RETRY;
        arg_str(&a, "3");
        arg_str(&a, h);
        arg_str(&a, rs->inflight_key);
        arg_str(&a, "drover:retry");
        arg_str(&a, r->q.id);
        arg_str(&a, num(att, sizeof(att), sm->attempt > 1 ? sm->attempt - 1 : 1));
        arg_str(&a, rs->node);
        arg_str(&a, num(next, sizeof(next), sm->attempt));
        arg_str(&a, num(n1, sizeof(n1), sm->retry_at_ms));
        arg_str(&a, r->error_message ? r->error_message : "");
        arg_str(&a, sm->error_code ? sm->error_code : "error");
        arg_str(&a, iso);
        break;
    case JOB_WAITING:
    case JOB_DELAYED:
    case JOB_DISPATCHED:
    case JOB__MAX:
    case JOB_INVALID:
    default:
        return; /* dispatched, or back to waiting here: still this node's, nothing to say */
    }
    if (!push_transition(rs, kind, script, &a, r->q.type, r->q.id))
        log_errorx("redis store: job %s: out of memory for its update: it is requeued by the "
                   "sweep once this node stops",
                   r->q.id);
}

void
redisstore_release(struct redisstore *rs, const struct jobrec *r, const char *type)
{
    char h[CFG_JOBS_REDIS_KEY_MAX + JOBQ_ID_MAX + 16], att[16], iso[HEROJOB_ISO_MAX];
    struct args a = { .n = 0 };
    const char *queue = NULL;

    for (size_t i = 0; i < rs->ntypes; i++)
        if (strcmp(rs->types[i].name, type) == 0)
            queue = rs->types[i].queue;
    if (!queue)
        return;
    job_key(rs, r->q.id, strlen(r->q.id), h, sizeof(h));
    arg_str(&a, "3");
    arg_str(&a, h);
    arg_str(&a, rs->inflight_key);
    arg_str(&a, queue);
    arg_str(&a, r->q.id);
    arg_str(&a, num(att, sizeof(att), r->q.sm.attempt));
    arg_str(&a, rs->node);
    arg_str(&a, herojob_iso8601(util_unix_ms(), iso));
    (void)push_transition(rs, K_RELEASE, S_RELEASE, &a, r->q.type, r->q.id);
}

/* --- the outage journal ------------------------------------------------------------------------
 */

static long
outage_is_snapshot(const char *line, size_t len)
{
    struct redisoutbox_line l;
    char err[128];

    bool snapshot;

    if (redisoutbox_decode(line, len, &l, err, sizeof(err)) < 0)
        return -1;
    snapshot = l.op == REDISOUTBOX_SNAPSHOT;
    redisoutbox_free(&l);
    return snapshot ? 0 : -1;
}

/* A line of the journal a previous drover left: its update goes out first, once connected. */
static void
outage_replay(void *arg, const char *line, size_t len, const char *file, size_t lineno)
{
    static const enum kind kinds[] = { [REDISOUTBOX_START] = K_START,
                                       [REDISOUTBOX_COMPLETE] = K_COMPLETE,
                                       [REDISOUTBOX_RETRY] = K_RETRY,
                                       [REDISOUTBOX_RELEASE] = K_RELEASE };
    static const enum script scripts[] = { [REDISOUTBOX_START] = S_START,
                                           [REDISOUTBOX_COMPLETE] = S_COMPLETE,
                                           [REDISOUTBOX_RETRY] = S_RETRY,
                                           [REDISOUTBOX_RELEASE] = S_RELEASE };
    struct redisstore *rs = arg;
    struct redisoutbox_line l;
    struct args a = { .n = 0 };
    struct cmd *c;
    char err[256];

    if (redisoutbox_decode(line, len, &l, err, sizeof(err)) < 0) {
        log_errorx("redis store: %s/%s:%zu: %s: line skipped", rs->outage_dir, file, lineno, err);
        return;
    }
    if (l.op == REDISOUTBOX_SNAPSHOT)
        return;
    for (size_t i = 0; i < l.nwords; i++)
        arg_bytes(&a, l.words[i], l.lens[i]);
    if ((c = push(rs, kinds[l.op], scripts[l.op], &a))) {
        c->type = l.type < rs->ntypes ? l.type : 0;
        c->journaled = true;
        rs->njournaled++;
        c->resent = true; /* it may have been written before the crash: a fence is no news */
        (void)snprintf(c->arg, sizeof(c->arg), "%s", l.id);
        rs->outage_dirty = true;
    }
    redisoutbox_free(&l);
}

static void
outage_synced(void *arg)
{
    (void)arg;
}

/* dir (jobs.dir, "redis-outbox" by default): the journal of updates an outage holds back.
   NULL dir: memory only. */
static void
outage_open(struct redisstore *rs, const char *dir)
{
    char err[JOURNAL_ERR_MAX];
    size_t before = rs->ntransitions;

    if (!dir) {
        log_warnx("redis store: no directory for the outage journal (jobs.dir, or a dumpfile "
                  "or a state directory): updates an outage holds back are kept in memory "
                  "only, and lost if drover dies before Redis is back");
        return;
    }
    (void)snprintf(rs->outage_dir, sizeof(rs->outage_dir), "%s", dir);
    if (journal_open(&rs->outage, rs->outage_dir, true, rs->loop, rs->timers, outage_is_snapshot,
                     outage_replay, rs, outage_synced, rs, err, sizeof(err)) < 0) {
        log_warnx("redis store: the outage journal: %s: updates an outage holds back are kept in "
                  "memory only",
                  err);
        rs->outage = NULL;
        return;
    }
    if (rs->ntransitions > before)
        log_info("redis store: %zu job updates an earlier drover could not send (%s) go to "
                 "Redis first",
                 rs->ntransitions - before, rs->outage_dir);
}

/* Before the loop sleeps: the journal's lines are written; once all are answered, it empties. */
void
redisstore_flush(struct redisstore *rs)
{
    size_t len;
    const char *snap;

    if (!rs || !rs->outage)
        return;
    /* Every journaled update answered (others may be out: they were sent while up). */
    if (rs->outage_dirty && rs->njournaled == 0 && journal_compact_begin(rs->outage) == 0) {
        snap = redisoutbox_snapshot_line(&len);
        (void)journal_append(rs->outage, snap, len, 0, false);
        journal_compact_end(rs->outage, true);
        rs->outage_dirty = false;
    }
    journal_flush(rs->outage);
}

static char *
env_json(const struct jobrec *r)
{
    json_t *o = json_object();
    char *s;

    for (size_t i = 0; o && i < r->nenv; i++) {
        const char *eq = strchr(r->env[i], '=');
        char name[256];

        if (!eq || (size_t)(eq - r->env[i]) >= sizeof(name))
            continue;
        memcpy(name, r->env[i], (size_t)(eq - r->env[i]));
        name[eq - r->env[i]] = '\0';
        json_object_set_new(o, name, json_string(eq + 1));
    }
    s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

int
redisstore_submit(struct redisstore *rs, const struct jobrec *r, const char *type, int64_t delay_ms,
                  uint64_t *ret_ticket, const char **ret_err)
{
    char h[CFG_JOBS_REDIS_KEY_MAX + JOBQ_ID_MAX + 16], timeout[24], retries[16], max[16],
        iso[HEROJOB_ISO_MAX], due[24];
    const char *queue = NULL;
    struct args a = { .n = 0 };
    struct cmd *c;
    char *env;

    if (!redisconn_ctx(&rs->conn) || !rs->scripts_ready) {
        *ret_err = redisstore_down_reason(rs);
        return -1;
    }
    for (size_t i = 0; i < rs->ntypes; i++)
        if (strcmp(rs->types[i].name, type) == 0)
            queue = rs->types[i].queue;
    if (!queue) {
        *ret_err = "no queue for this type";
        return -1;
    }
    env = env_json(r);
    job_key(rs, r->q.id, strlen(r->q.id), h, sizeof(h));
    herojob_iso8601(util_unix_ms(), iso);
    arg_str(&a, "3");
    arg_str(&a, h);
    arg_str(&a, queue);
    arg_str(&a, "drover:retry"); /* a delayed job waits there, as a retry does */
    arg_str(&a, r->q.id);
    arg_str(&a, type);
    arg_bytes(&a, r->payload, r->payload_len);
    arg_str(&a, num(due, sizeof(due), delay_ms > 0 ? util_unix_ms() + delay_ms : 0));
    arg_str(&a, "status");
    arg_str(&a, "dispatched");
    arg_str(&a, "timeout");
    arg_str(&a, num(timeout, sizeof(timeout), (r->timeout_ms + 999) / 1000));
    arg_str(&a, "retries");
    arg_str(&a, num(retries, sizeof(retries), r->max_attempts ? r->max_attempts - 1 : 0));
    arg_str(&a, "drover_max_attempts");
    arg_str(&a, num(max, sizeof(max), r->max_attempts));
    arg_str(&a, "concurrent");
    arg_str(&a, "false");
    arg_str(&a, "created_at");
    arg_str(&a, iso);
    arg_str(&a, "updated_at");
    arg_str(&a, iso);
    arg_str(&a, "drover_state");
    arg_str(&a, "waiting");
    arg_str(&a, "drover_queue");
    arg_str(&a, queue);
    arg_str(&a, "caller_id");
    arg_str(&a, r->caller_id ? r->caller_id : "");
    arg_str(&a, "context_id");
    arg_str(&a, r->context_id ? r->context_id : "");
    arg_str(&a, "env_vars");
    arg_str(&a, env ? env : "{}");
    c = push(rs, K_SUBMIT, S_SUBMIT, &a);
    free(env);
    if (!c) {
        *ret_err = "out of memory";
        return -1;
    }
    c->ticket = ++rs->next_ticket;
    (void)snprintf(c->arg, sizeof(c->arg), "%s", r->q.id);
    *ret_ticket = c->ticket;
    return 0;
}

int
redisstore_lookup(struct redisstore *rs, const char *id, uint64_t *ret_ticket, const char **ret_err)
{
    char h[CFG_JOBS_REDIS_KEY_MAX + JOBQ_ID_MAX + 16];
    struct args a = { .n = 0 };
    struct lookup *l;
    struct cmd *c;

    if (!redisconn_ctx(&rs->conn) || !rs->scripts_ready) {
        *ret_err = redisstore_down_reason(rs);
        return -1;
    }
    job_key(rs, id, strlen(id), h, sizeof(h));
    arg_str(&a, "HGETALL");
    arg_str(&a, h);
    if (!(c = push(rs, K_LOOKUP, S_NONE, &a))) {
        *ret_err = "out of memory";
        return -1;
    }
    c->ticket = ++rs->next_ticket;
    (void)snprintf(c->arg, sizeof(c->arg), "%s", id);
    l = &rs->lookups[c->ticket % LOOKUPS];
    free(l->fields);
    *l = (struct lookup){ .ticket = c->ticket };
    *ret_ticket = c->ticket;
    return 0;
}

int
redisstore_looked_up(const struct redisstore *rs, uint64_t ticket,
                     const struct herojob_field **ret_fields, size_t *ret_n, const char **ret_err)
{
    const struct lookup *l = &rs->lookups[ticket % LOOKUPS];

    if (l->ticket != ticket) {
        *ret_err = "its answer is no longer known (too many lookups since)";
        return -1;
    }
    if (l->state < 0) {
        *ret_err = "the Redis connection was lost before the server answered, or the key holds no "
                   "hash";
        return -1;
    }
    *ret_fields = l->fields;
    *ret_n = l->n;
    return l->state;
}

int
redisstore_submitted(const struct redisstore *rs, uint64_t ticket, int *ret_code,
                     const char **ret_err)
{
    if (rs->answers[ticket % TICKETS].ticket == ticket) {
        *ret_code = rs->answers[ticket % TICKETS].code;
        if (*ret_code > 0)
            return 1;
        *ret_err = "the Redis connection was lost before the server answered: the job may or "
                   "may not be stored; submit again with the same id to learn which";
        return -1;
    }
    if (ticket + TICKETS <= rs->next_ticket) {
        *ret_err = "its answer is no longer known (too many submits since)";
        return -1;
    }
    return 0;
}

const char *
redisstore_down_reason(const struct redisstore *rs)
{
    if (redisconn_ctx(&rs->conn) && rs->scripts_ready)
        return NULL;
    return rs->down_reason[0] ? rs->down_reason : "not connected yet";
}

bool
redisstore_busy(const struct redisstore *rs)
{
    return rs && rs->ntransitions > 0 && redisconn_ctx(&rs->conn);
}

void
redisstore_figures(const struct redisstore *rs, struct redisstore_figures *ret)
{
    *ret = (struct redisstore_figures){
        .up = redisconn_ctx(&rs->conn) && rs->scripts_ready,
        .joined = rs->joined,
        .rtt_s = rs->conn.rtt_ms >= 0 ? rs->conn.rtt_ms / 1000 : -1,
        .outbox = rs->ncmds,
        .transitions = rs->ntransitions,
        .bad_jobs = rs->bad_jobs,
        .requeued = rs->requeued,
        .reconnects = rs->reconnects,
        .depth_known = rs->depth_known,
        .nodes = rs->nodes,
        .retry_wait = rs->retry_wait,
    };
}

bool
redisstore_depth(const struct redisstore *rs, unsigned type, struct redisstore_depth *ret)
{
    if (!rs->depth_known || type >= rs->ntypes)
        return false;
    *ret = rs->types[type].depth;
    return true;
}

const char *
redisstore_node(const struct redisstore *rs)
{
    return rs->node;
}

/* --- set-up ----------------------------------------------------------------------------------- */

/* tmpl with {{name}} replaced by value (only those): a copy, or NULL (no memory, too long). */
static char *
expand(const char *tmpl, const char *const *names, const char *const *values, size_t n)
{
    char out[1024];
    size_t len = 0;

    for (const char *p = tmpl; *p;) {
        bool done = false;

        for (size_t k = 0; k < n && !done; k++) {
            size_t nl = strlen(names[k]);

            if (strncmp(p, "{{", 2) == 0 && strncmp(p + 2, names[k], nl) == 0 &&
                strncmp(p + 2 + nl, "}}", 2) == 0) {
                size_t vl = strlen(values[k]);

                if (len + vl >= sizeof(out))
                    return NULL;
                memcpy(out + len, values[k], vl);
                len += vl;
                p += nl + 4;
                done = true;
            }
        }
        if (!done) {
            if (len + 1 >= sizeof(out))
                return NULL;
            out[len++] = *p++;
        }
    }
    out[len] = '\0';
    return strdup(out);
}

static bool
node_name_valid(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > NODE_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= ' ' || s[i] > '~')
            return false;
    return true;
}

int
redisstore_open(struct redisstore **ret, struct loop *loop, struct timers *timers,
                const struct jobs_cfg *cfg, const char *const *types, size_t ntypes,
                const char *outage_dir, const struct redisstore_ops *ops, void *arg)
{
    const struct jobs_redis_cfg *rc = &cfg->redis;
    struct redisstore *rs = calloc(1, sizeof(*rs));
    char host[256] = "", err[512];
    uint8_t tok[16];
    char *node;

    *ret = NULL;
    if (!rs)
        return -ENOMEM;
    rs->loop = loop;
    rs->timers = timers;
    rs->cfg = cfg;
    rs->ops = ops;
    rs->arg = arg;
    rs->first_unsent = NULL;
    (void)snprintf(rs->prefix, sizeof(rs->prefix), "%s", cfg_jobs_redis_prefix(rc));
    if (gethostname(host, sizeof(host) - 1) < 0)
        (void)snprintf(host, sizeof(host), "localhost");
    {
        const char *names[] = { "hostname" }, *values[] = { host };

        node = expand(cfg_jobs_redis_node(rc), names, values, 1);
    }
    if (!node || !node_name_valid(node)) {
        log_errorx("jobs.redis.node: \"%s\" (from \"%s\") is not 1 to %d printable characters "
                   "without spaces",
                   node ? node : "?", cfg_jobs_redis_node(rc), NODE_MAX);
        free(node);
        free(rs);
        return -EINVAL;
    }
    (void)snprintf(rs->node, sizeof(rs->node), "%s", node);
    free(node);
    (void)snprintf(rs->node_key, sizeof(rs->node_key), "drover:node:%s", rs->node);
    (void)snprintf(rs->inflight_key, sizeof(rs->inflight_key), "drover:inflight:%s", rs->node);
    (void)snprintf(rs->failed_ttl, sizeof(rs->failed_ttl), "%lld",
                   (long long)(cfg->failed_ttl_ms + 999) / 1000);
    if (getrandom(tok, sizeof(tok), 0) != (ssize_t)sizeof(tok)) {
        free(rs);
        return -EIO;
    }
    for (size_t i = 0; i < sizeof(tok); i++)
        (void)sprintf(rs->token + 2 * i, "%02x", tok[i]);
    if (redisconn_init(&rs->conn, loop, timers, &rc->url, rc->password_file, COMMAND_PING_MS,
                       &conn_ops, rs, err, sizeof(err)) < 0) {
        log_errorx("jobs.redis: %s", err);
        free(rs);
        return -EINVAL;
    }
    if (ntypes && !(rs->types = calloc(ntypes, sizeof(*rs->types)))) {
        free(rs);
        return -ENOMEM;
    }
    /* Before anything can fail: redisstore_close() cancels them. */
    timer_init(&rs->beat_timer, beat_fired);
    timer_init(&rs->sweep_timer, sweep_fired);
    timer_init(&rs->retry_timer, retry_fired);
    timer_init(&rs->depth_timer, depth_fired);
    for (size_t i = 0; i < ntypes; i++) {
        struct rtype *t = &rs->types[i];
        const char *names[] = { "prefix", "type" }, *values[] = { rs->prefix, types[i] };
        int r = -ENOMEM;

        t->rs = rs;
        if ((t->name = strdup(types[i])) &&
            !(t->queue = expand(cfg_jobs_redis_queue_key(rc), names, values, 2))) {
            log_errorx("jobs.redis.queue_key for type %s is longer than 1023 bytes", types[i]);
            r = -EINVAL;
        }
        if (!t->name || !t->queue ||
            redisconn_init(&t->blk, loop, timers, &rc->url, rc->password_file, BLOCKING_PING_MS,
                           &blk_ops, t, err, sizeof(err)) < 0) {
            free(t->name);
            free(t->queue);
            redisstore_close(rs); /* the types before this one are set up: rs->ntypes of them */
            return r;
        }
        t->blk.quiet = true;
        rs->ntypes = i + 1;
    }
    outage_open(rs, outage_dir); /* its updates queue before anything is sent */
    redisconn_start(&rs->conn);
    for (size_t i = 0; i < ntypes; i++)
        redisconn_start(&rs->types[i].blk);
    (void)timer_arm(timers, &rs->beat_timer, util_now_ms() + 50);
    (void)timer_arm(timers, &rs->sweep_timer, util_now_ms() + rc->node_ttl_ms);
    (void)timer_arm(timers, &rs->retry_timer, util_now_ms() + RETRY_DUE_MS);
    (void)timer_arm(timers, &rs->depth_timer, util_now_ms() + DEPTH_MS / 4);
    log_info("redis store: node %s, queues %s%s (jobs.redis.queue_key), node_ttl %lld ms", rs->node,
             ntypes ? rs->types[0].queue : "none", ntypes > 1 ? ", ..." : "",
             (long long)rc->node_ttl_ms);
    *ret = rs;
    return 0;
}

void
redisstore_close(struct redisstore *rs)
{
    if (!rs)
        return;
    for (struct cmd *c = rs->head; c; c = c->next)
        outage_write(rs, c); /* not answered: the next start sends them */
    redisstore_flush(rs);    /* all answered: the journal empties */
    if (rs->ntransitions && rs->outage)
        log_warnx("redis store: %zu job updates were not written (the server did not answer in "
                  "time): kept in %s, the next start of drover sends them",
                  rs->ntransitions, rs->outage_dir);
    else if (rs->ntransitions)
        log_warnx("redis store: %zu job updates were not written (the server did not answer in "
                  "time): their jobs go back on their queues once drover:node:%s expires",
                  rs->ntransitions, rs->node);
    journal_close(rs->outage);
    timer_cancel(rs->timers, &rs->beat_timer);
    timer_cancel(rs->timers, &rs->sweep_timer);
    timer_cancel(rs->timers, &rs->retry_timer);
    timer_cancel(rs->timers, &rs->depth_timer);
    redisconn_done(&rs->conn);
    for (size_t i = 0; i < rs->ntypes; i++) {
        redisconn_done(&rs->types[i].blk);
        free(rs->types[i].name);
        free(rs->types[i].queue);
    }
    while (rs->head)
        unlink_cmd(rs, rs->head);
    for (size_t i = 0; i < LOOKUPS; i++)
        free(rs->lookups[i].fields);
    free(rs->types);
    free(rs);
}

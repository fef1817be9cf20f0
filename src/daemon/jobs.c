/*
 * jobs: the dispatcher (jobs.h).
 *
 * Times: a job's own times (created, started, deadline, run_at) are Unix ms,
 * since jobs are shown to clients and handed to workers (deadline_ms) as
 * such; the timers that act on them run on CLOCK_MONOTONIC (os/timer), and
 * each is armed at "now + (the Unix time - the Unix now)".
 */
#include "daemon/jobs.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "core/jobevents.h"
#include "core/jobframe.h"
#include "core/jobjournal.h"
#include "core/jobq.h"
#include "core/util.h"
#include "os/journal.h"
#include "os/log.h"
#include "os/rundir.h"
#include "daemon/jobchan.h"
#include "daemon/liveness.h"
#include "daemon/pool.h"
#include "daemon/redisstore.h"
#include "daemon/supervisor_int.h"

const char *const jobs_reserved_env[] = {
    "DROVER_JOBS_SOCKET",      "DROVER_JOBS_TOKEN",       "DROVER_JOBS_TYPES",
    "DROVER_JOBS_CONCURRENCY", "DROVER_JOBS_MAX_PAYLOAD", NULL,
};

#define RATE_BUCKETS 60 /* done_1m, failed_1m: one bucket per second */

struct type_info {
    struct program *prog; /* the program that takes it; NULL once a reload removed it */
    bool dirty;           /* something happened that may let a job go out */
    int64_t bucket_s[RATE_BUCKETS];
    uint32_t done[RATE_BUCKETS], failed[RATE_BUCKETS];
    struct jobs_counters c;
    struct metrics_job_histogram wait, run;
};

struct jobs {
    struct supervisor *sup;
    struct jobq *q;
    struct jobchan_server chan;
    bool chan_open;
    struct type_info *types; /* by jobq type index */
    size_t ntypes;
    bool dirty;
    bool draining;
    struct jobevents events;
    struct timer due_timer; /* the due heap's first, and finished jobs' TTL */
    struct loop_hook before_sleep;
    uint64_t queued_bytes;
    char socket_env[PATH_MAX + 32];
    /* The file store (jobs.store "file"): NULL for "memory". */
    struct journal *journal;
    uint64_t seq;                  /* the last journal line's */
    bool mute_journal;             /* a step whose line its caller writes (a submit's "new") */
    bool mute_redis;               /* a step the redis store made itself (a job taken) */
    bool journal_failed;           /* a line could not be made (no memory): said once */
    uint64_t failed_seq;           /* the last line that could not be made */
    char dir[PATH_MAX];            /* its directory */
    struct jobrec **held_at_start; /* dispatched or running when drover stopped (jobs_recovered) */
    size_t nheld_at_start;
    /* The redis store (jobs.store "redis"): NULL otherwise. Every job here came from it. */
    struct redisstore *redis;
    char (*handed_back)[JOBQ_ID_MAX + 1]; /* retries the cluster takes: forgotten here */
    size_t nhanded_back, handed_back_cap;
    uint64_t last_ticket; /* the last submit's (jobs_journal_seq()) */
};

static struct jobs *
J(const struct supervisor *sup)
{
    return sup->jobs;
}

bool
jobs_enabled(const struct supervisor *sup)
{
    return sup->jobs != NULL;
}

size_t
jobs_timers_needed(const struct config *cfg, size_t slots)
{
    size_t types = 0;

    if (cfg->jobs.store != JOBS_STORE_REDIS)
        return slots + 3; /* a timer per slot, the due timer, the channel's sweep, the journal's */
    for (size_t p = 0; p < cfg->nprograms; p++)
        types += cfg->programs[p].jobs.enabled ? cfg->programs[p].jobs.ntypes : 0;
    /* The redis store: its beat, sweep, retry and depth timers, a connection's each (one per
       type), the outage journal's. */
    return slots + 3 + 4 + 1 + types + 1;
}

static struct job_slot *
slot_of(const struct instance *in)
{
    return in->jobs;
}

static const struct program_jobs_cfg *
pjc(const struct instance *in)
{
    return &in->prog->cfg->jobs;
}

static struct job_policy
policy_of(const struct program *prog)
{
    const struct program_jobs_cfg *c = &prog->cfg->jobs;

    return (struct job_policy){
        .max_attempts = c->attempts,
        .max_worker_kills = c->max_worker_kills,
        .cancel_grace_ms = c->cancel_grace_ms,
        .backoff_initial_ms = c->backoff_initial_ms,
        .backoff_max_ms = c->backoff_max_ms,
        .backoff_factor = c->backoff_factor,
        .backoff_jitter = c->backoff_jitter,
    };
}

static double
jitter_u(void)
{
    uint32_t x = 0;

    if (getrandom(&x, sizeof(x), GRND_NONBLOCK) != (ssize_t)sizeof(x))
        x = (uint32_t)util_now_ns();
    return (double)x / 4294967296.0;
}

/* A monotonic timer deadline for the Unix time unix_ms. */
static int64_t
mono_at(int64_t unix_ms)
{
    int64_t d = unix_ms - util_unix_ms();

    if (d < 0)
        d = 0;
    return util_now_ms() + d;
}

static void
mark_dirty(struct jobs *js, unsigned type)
{
    if (type < js->ntypes)
        js->types[type].dirty = true;
    js->dirty = true;
}

static void
count_finish(struct jobs *js, struct jobrec *r)
{
    struct type_info *t = &js->types[r->q.type];
    int64_t s = util_unix_ms() / 1000; /* jobs_type_figures() reads it on the same clock */
    size_t b = (size_t)(s % RATE_BUCKETS);
    bool ok = r->q.sm.state == JOB_SUCCESS;

    if (t->bucket_s[b] != s) {
        t->bucket_s[b] = s;
        t->done[b] = t->failed[b] = 0;
    }
    if (ok)
        t->done[b]++;
    else if (r->q.sm.state == JOB_FAILED)
        t->failed[b]++;
    if (ok)
        t->c.finished[0]++;
    else if (r->q.sm.state == JOB_CANCELLED)
        t->c.finished[2]++;
    else if (r->q.sm.error_code && strcmp(r->q.sm.error_code, "poison") == 0)
        t->c.finished[3]++;
    else
        t->c.finished[1]++;
}

static void
push_event(struct jobs *js, struct jobrec *r, enum job_state from)
{
    jobevents_push(&js->events, util_unix_ms(), r->q.id, jobq_type_name(js->q, r->q.type), from,
                   r->q.sm.state, r->q.sm.attempt, r->instance, r->q.sm.cause);
}

static void arm_due(struct jobs *js);
static void slot_arm(struct job_slot *s);
static void compact(struct jobs *js);

/* --- the journal (jobs.store "file") ------------------------------------------------------------
 */

static void
journal_put(struct jobs *js, char *line, size_t len, bool urgent)
{
    if (!line || journal_append(js->journal, line, len, js->seq, urgent) < 0) {
        js->failed_seq = js->seq; /* a submit waiting for this line is told it is not on disk */
        if (!js->journal_failed)
            log_errorx("job journal: out of memory making a line: a restart now may not see "
                       "the latest changes of some jobs");
        js->journal_failed = true;
    }
    free(line);
}

/* r's state changed (a step, a dispatch): its "st" line; urgent with fsync "always". */
static void
journal_state(struct jobs *js, const struct jobrec *r)
{
    size_t len = 0;
    char *line;

    if (!js->journal || js->mute_journal)
        return;
    js->seq++;
    line = jobjournal_state_line(r, js->seq, util_unix_ms(), &len);
    journal_put(js, line, len, js->sup->cfg.jobs.fsync == JOBS_FSYNC_ALWAYS);
}

/* r is new (urgent: its submit is answered once it is on disk), or gone. */
static void
journal_new(struct jobs *js, const struct jobrec *r, bool urgent)
{
    size_t len = 0;
    char *line;

    if (!js->journal)
        return;
    js->seq++;
    line = jobjournal_new_line(r, jobq_type_name(js->q, r->q.type), js->seq, util_unix_ms(), &len);
    journal_put(js, line, len, urgent);
}

static void
journal_removed(struct jobs *js, const struct jobrec *r)
{
    size_t len = 0;
    char *line;

    if (!js->journal)
        return;
    js->seq++;
    line = jobjournal_remove_line(r->q.id, js->seq, util_unix_ms(), &len);
    journal_put(js, line, len, false);
}

/* Drops r for good: out of the queue, a "rm" line, freed. */
static void
forget(struct jobs *js, struct jobrec *r)
{
    journal_removed(js, r);
    jobq_remove(js->q, &r->q);
    jobrec_free(r);
}

/* --- holding ------------------------------------------------------------------------------- */

static void
hold(struct job_slot *s, struct jobrec *r)
{
    s->held[s->nheld++] = r;
    s->idle_since_ms = 0;
    s->ping_id[0] = '\0'; /* busy instances are not pinged: a job's timeout covers them */
    s->ping_sent_ms = 0;
    s->ping_failures = 0;
    r->q.owner = s;
}

static void
release(struct job_slot *s, struct jobrec *r)
{
    for (unsigned i = 0; i < s->nheld; i++)
        if (s->held[i] == r) {
            s->held[i] = s->held[--s->nheld];
            break;
        }
    r->q.owner = NULL;
    r->deadline_ms = 0;
    if (!s->nheld && s->credit) {
        s->idle_since_ms = util_unix_ms();
        slot_arm(s); /* its ping is due from now */
    }
    if (!s->nheld && s->stop_at_ms) {
        s->stop_at_ms = 0;
        inst_log(LOG_LVL_INFO, s->in, "finished its jobs: stopping it");
        svc_dispatch(&s->in->svc, SVC_EV_STOP, util_now_ms());
    }
}

static void
evict_finished(struct jobs *js)
{
    struct jobq_job *old;

    while (jobq_nfinished(js->q) > js->sup->cfg.jobs.max_finished &&
           (old = jobq_oldest_finished(js->q))) {
        forget(js, jobq_job_to_rec(old));
    }
}

/*
 * With the redis store, a retry is the cluster's (retry_due queues it for
 * any node when due): r is forgotten here before the loop sleeps, not now,
 * since the step's caller may still look at it.
 */
static void
hand_back(struct jobs *js, const struct jobrec *r)
{
    if (js->nhanded_back == js->handed_back_cap) {
        size_t cap = js->handed_back_cap ? 2 * js->handed_back_cap : 16;
        void *p = realloc(js->handed_back, cap * sizeof(*js->handed_back));

        if (!p)
            return; /* it retries here instead: its attempt is fenced either way */
        js->handed_back = p;
        js->handed_back_cap = cap;
    }
    (void)snprintf(js->handed_back[js->nhanded_back++], JOBQ_ID_MAX + 1, "%s", r->q.id);
}

static void
forget_handed_back(struct jobs *js)
{
    for (size_t i = 0; i < js->nhanded_back; i++) {
        struct jobq_job *q = jobq_find(js->q, js->handed_back[i]);

        if (q && q->sm.state == JOB_RETRY_WAIT) {
            struct jobrec *r = jobq_job_to_rec(q);

            js->queued_bytes -=
                js->queued_bytes >= r->payload_len ? r->payload_len : js->queued_bytes;
            forget(js, r);
            js->sup->jobs_change++;
        }
    }
    if (js->nhanded_back)
        arm_due(js);
    js->nhanded_back = 0;
}

/*
 * The effects of a step (core/job) on r: where it goes, what is written,
 * which timer. s: the slot that holds it (NULL: none).
 */
static void
apply_step(struct jobs *js, struct jobrec *r, struct job_slot *s, struct job_step st)
{
    struct jobq_job *q = &r->q;
    unsigned fx = st.effects;
    int64_t now = util_unix_ms();

    if (!st.accepted)
        return;
    js->sup->jobs_change++;
    if ((fx & JOB_FX_RELEASE) && s) {
        release(s, r);
        if (q->sm.state != JOB_SUCCESS && q->sm.error_code && st.to == JOB_FAILED)
            s->jobs_failed++;
        mark_dirty(js, q->type); /* its credit may take another */
    }
    if (st.to == JOB_RETRY_WAIT && q->sm.error_code) {
        struct jobs_counters *c = &js->types[q->type].c;

        if (strcmp(q->sm.error_code, "timeout") == 0)
            c->retries[1]++;
        else if (strcmp(q->sm.error_code, "worker_lost") == 0)
            c->retries[2]++;
        else
            c->retries[0]++;
    }
    if (job_state_held(st.from) && !job_state_held(st.to) && r->dispatched_ms)
        metrics_job_observe(&js->types[q->type].run, (double)(now - r->dispatched_ms) / 1000);
    if (fx & JOB_FX_QUEUE_FRONT || fx & JOB_FX_QUEUE_BACK) {
        (void)jobq_place(js->q, q, fx & JOB_FX_QUEUE_FRONT, 0);
        mark_dirty(js, q->type);
    }
    if (fx & JOB_FX_ARM_DUE) {
        (void)jobq_place(js->q, q, false,
                         q->sm.state == JOB_DELAYED ? q->sm.run_at_ms : q->sm.retry_at_ms);
        arm_due(js);
    }
    if (fx & JOB_FX_UNQUEUE)
        (void)jobq_place(js->q, q, false, 0);
    if (fx & JOB_FX_FINISHED) {
        if (fx & JOB_FX_RELEASE && s && st.to == JOB_SUCCESS)
            s->jobs_done++;
        (void)jobq_place(js->q, q, false, 0);
        js->queued_bytes -= js->queued_bytes >= r->payload_len ? r->payload_len : js->queued_bytes;
        count_finish(js, r);
        arm_due(js);
    }
    if ((fx & JOB_FX_SEND_CANCEL) && s && s->conn) {
        char att[16];
        const char *kv[] = { "id", q->id, "attempt", att };

        (void)snprintf(att, sizeof(att), "%u", q->sm.attempt);
        (void)jobchan_sendf(s->conn, JOBFRAME_CANCEL, kv, 4, NULL, 0);
    }
    if ((fx & JOB_FX_ARM_GRACE) && s) {
        r->deadline_ms = now + pjc(s->in)->cancel_grace_ms;
        slot_arm(s);
    }
    if ((fx & JOB_FX_STOP_INSTANCE) && s) {
        inst_log(LOG_LVL_WARN, s->in,
                 "job %s gave no answer to CANCEL within %lld ms: restarting it", q->id,
                 (long long)pjc(s->in)->cancel_grace_ms);
        svc_dispatch(&s->in->svc, SVC_EV_JOB_STUCK, util_now_ms());
    }
    if (st.from != st.to && !(fx & (JOB_FX_QUEUE_FRONT | JOB_FX_QUEUE_BACK | JOB_FX_ARM_DUE |
                                    JOB_FX_UNQUEUE | JOB_FX_FINISHED)))
        (void)jobq_place(js->q, q, false, 0); /* dispatched → running: counted as such */
    if (st.from != st.to || (fx & JOB_FX_FINISHED))
        push_event(js, r, st.from);
    journal_state(js, r);
    if (js->redis && !js->mute_redis && st.from != st.to) {
        redisstore_changed(js->redis, r, jobq_type_name(js->q, q->type), st.from);
        if (st.to == JOB_RETRY_WAIT)
            hand_back(js, r);
    }
    if (fx & JOB_FX_FINISHED)
        evict_finished(js);
}

static void
step(struct jobs *js, struct jobrec *r, struct job_slot *s, const struct job_input *in)
{
    struct program *prog = js->types[r->q.type].prog;
    struct job_policy pol =
        prog ? policy_of(prog) : (struct job_policy){ .max_attempts = 1, .backoff_factor = 1 };

    pol.max_attempts = r->max_attempts; /* the submit's `attempts`, else the program's */

    apply_step(js, r, s, job_step(&r->q.sm, &pol, in, util_unix_ms()));
}

/* --- the slot's timer: deadlines, graces, a reconnect wait --------------------------------------
 */

/*
 * When in's next ping is sent, or its outstanding one fails (Unix ms);
 * INT64_MAX: none (pings off, not connected, draining, holding jobs, or not
 * asking for work).
 */
static int64_t
ping_due_ms(const struct job_slot *s)
{
    const struct program_jobs_cfg *pj = pjc(s->in);
    int64_t from;

    if (!pj->ping || !s->conn || s->draining || s->nheld || !s->idle_since_ms)
        return INT64_MAX;
    if (s->ping_sent_ms)
        return s->ping_sent_ms + pj->ping_timeout_ms;
    from = s->ping_from_ms > s->idle_since_ms ? s->ping_from_ms : s->idle_since_ms;
    return from + pj->ping_idle_ms;
}

/* The outstanding ping was answered (pass) or was not in time (fail); 3 in a row restart it. */
static void
ping_result(struct job_slot *s, bool passed, int64_t now)
{
    const struct program_jobs_cfg *pj = pjc(s->in);

    s->ping_id[0] = '\0';
    s->ping_sent_ms = 0;
    if (passed) {
        s->pings_passed++;
        s->ping_failures = 0;
        s->ping_from_ms = now;
        return;
    }
    s->pings_failed++;
    s->ping_failures++;
    s->ping_from_ms = now - pj->ping_idle_ms; /* the next one goes at once */
    inst_log(LOG_LVL_WARN, s->in, "no PONG within %lld ms (%u of %u in a row)",
             (long long)pj->ping_timeout_ms, s->ping_failures, pj->ping_failures);
    if (s->ping_failures >= pj->ping_failures) {
        s->ping_failures = 0;
        s->ping_from_ms = now;
        inst_log(LOG_LVL_WARN, s->in,
                 "idle, and its job loop did not answer %u pings: restarting it",
                 pj->ping_failures);
        svc_dispatch(&s->in->svc, SVC_EV_JOB_STUCK, util_now_ms());
    }
}

static void
ping_send(struct job_slot *s, int64_t now)
{
    const char *kv[2] = { "id", s->ping_id };

    (void)snprintf(s->ping_id, sizeof(s->ping_id), "ping-%" PRIu64, ++s->pings_sent);
    s->ping_sent_ms = now;
    (void)jobchan_sendf(s->conn, JOBFRAME_PING, kv, 2, NULL, 0);
}

static void
slot_arm(struct job_slot *s)
{
    struct timers *ts = &s->in->sup->timers;
    int64_t next = INT64_MAX;

    for (unsigned i = 0; i < s->nheld; i++)
        if (s->held[i]->deadline_ms && s->held[i]->deadline_ms < next)
            next = s->held[i]->deadline_ms;
    if (s->lost_conn_ms && s->nheld && s->lost_conn_ms + JOBCHAN_HELLO_MS < next)
        next = s->lost_conn_ms + JOBCHAN_HELLO_MS;
    if (s->stop_at_ms && s->stop_at_ms < next)
        next = s->stop_at_ms;
    if (ping_due_ms(s) < next)
        next = ping_due_ms(s);
    if (next == INT64_MAX)
        timer_cancel(ts, &s->timer);
    else
        (void)timer_arm(ts, &s->timer, mono_at(next));
}

static void
slot_timer_fired(struct timer *t, int64_t now_ms)
{
    struct job_slot *s = container_of(t, struct job_slot, timer);
    struct jobs *js = J(s->in->sup);
    int64_t now = util_unix_ms();

    (void)now_ms;
    if (s->stop_at_ms && now >= s->stop_at_ms) {
        s->stop_at_ms = 0;
        inst_log(LOG_LVL_WARN, s->in,
                 "still holds %u job%s at its stop_timeout after DRAIN: stopping it", s->nheld,
                 s->nheld == 1 ? "" : "s");
        svc_dispatch(&s->in->svc, SVC_EV_STOP, util_now_ms());
    }
    if (s->lost_conn_ms && s->nheld && now >= s->lost_conn_ms + JOBCHAN_HELLO_MS && s->in->pid) {
        s->lost_conn_ms = 0;
        inst_log(LOG_LVL_WARN, s->in,
                 "its job channel closed and it did not reconnect within %d ms while holding "
                 "%u job%s: restarting it",
                 JOBCHAN_HELLO_MS, s->nheld, s->nheld == 1 ? "" : "s");
        svc_dispatch(&s->in->svc, SVC_EV_JOB_STUCK, util_now_ms());
        return;
    }
    if (ping_due_ms(s) <= now) {
        if (s->ping_sent_ms)
            ping_result(s, false, now);
        if (s->in->svc.state == SVC_STARTING || s->in->svc.state == SVC_RUNNING) {
            if (ping_due_ms(s) <= now)
                ping_send(s, now);
        }
    }
    /* Each due job once: a step can release it (the array changes), so restart the scan. */
    for (bool again = true; again;) {
        again = false;
        for (unsigned i = 0; i < s->nheld; i++) {
            struct jobrec *r = s->held[i];
            struct job_input in = { .actor = JOB_ACTOR_DROVER, .jitter_u = jitter_u() };

            if (!r->deadline_ms || r->deadline_ms > now)
                continue;
            r->deadline_ms = 0;
            in.event = r->q.sm.stopping == JOB_STOPPING_NONE ? JOB_EV_DEADLINE : JOB_EV_GRACE_OVER;
            if (in.event == JOB_EV_DEADLINE)
                inst_log(LOG_LVL_WARN, s->in, "job %s attempt %u passed its timeout: CANCEL sent",
                         r->q.id, r->q.sm.attempt);
            step(js, r, s, &in);
            again = true;
            break;
        }
    }
    slot_arm(s);
}

/* --- the due heap and finished jobs' TTL ------------------------------------------------------ */

static int64_t
ttl_end(struct jobs *js, struct jobrec *r)
{
    int64_t ttl = r->q.sm.state == JOB_SUCCESS ? js->sup->cfg.jobs.result_ttl_ms
                                               : js->sup->cfg.jobs.failed_ttl_ms;

    return r->q.sm.finished_ms + ttl;
}

static void
arm_due(struct jobs *js)
{
    int64_t next = jobq_next_due(js->q);
    struct jobq_job *old = jobq_oldest_finished(js->q);

    if (old && ttl_end(js, jobq_job_to_rec(old)) < next)
        next = ttl_end(js, jobq_job_to_rec(old));
    if (next == INT64_MAX)
        timer_cancel(&js->sup->timers, &js->due_timer);
    else
        (void)timer_arm(&js->sup->timers, &js->due_timer, mono_at(next));
}

static void
due_fired(struct timer *t, int64_t now_ms)
{
    struct jobs *js = container_of(t, struct jobs, due_timer);
    int64_t now = util_unix_ms();
    struct jobq_job *q;

    (void)now_ms;
    for (int k = 0; k < 256 && (q = jobq_pop_due(js->q, now)); k++) {
        struct job_input in = { .event = JOB_EV_DUE, .actor = JOB_ACTOR_DROVER };

        step(js, jobq_job_to_rec(q), NULL, &in);
    }
    for (int k = 0;
         k < 256 && (q = jobq_oldest_finished(js->q)) && ttl_end(js, jobq_job_to_rec(q)) <= now;
         k++) {
        forget(js, jobq_job_to_rec(q));
        js->sup->jobs_change++;
    }
    arm_due(js);
}

/* --- dispatch ------------------------------------------------------------------------------------
 */

/* in may be given a job now. */
/* Its process was told it takes type (a rolling reload may have changed the program's). */
static bool
slot_takes(const struct job_slot *s, unsigned type)
{
    for (size_t i = 0; i < s->ntypes; i++)
        if (s->types[i] == type)
            return true;
    return false;
}

static bool
can_take(const struct instance *in, unsigned type)
{
    const struct job_slot *s = slot_of(in);

    if (!s || !s->conn || !s->credit || s->draining || !in->pid || in->silent ||
        !slot_takes(s, type) || s->nheld >= s->cap)
        return false;
    if (in->svc.state != SVC_RUNNING && in->svc.state != SVC_STARTING)
        return false;
    /* A program that does not wait for READY=1 is ready for jobs once its worker says HELLO. */
    return in->ready || !in->prog->cfg->policy.wait_ready;
}

/* The instance of prog the next job of type goes to: pack (most recently busy first) or spread. */
static struct job_slot *
choose(struct program *prog, unsigned type)
{
    struct job_slot *best = NULL;
    bool pack = prog->cfg->jobs.dispatch == JOBS_DISPATCH_PACK;

    for (unsigned i = 0; i < prog->ninstances; i++) {
        struct job_slot *s = slot_of(&prog->instances[i]);

        if (!can_take(&prog->instances[i], type))
            continue;
        if (!best) {
            best = s;
        } else if (pack) {
            if (s->nheld > best->nheld ||
                (s->nheld == best->nheld && s->last_job_ms > best->last_job_ms))
                best = s;
        } else if (s->nheld < best->nheld ||
                   (s->nheld == best->nheld && s->last_job_ms < best->last_job_ms)) {
            best = s;
        }
    }
    return best;
}

static void
send_job(struct jobs *js, struct job_slot *s, struct jobrec *r)
{
    char att[16], dl[24], *env = NULL;
    const char *kv[12] = { "id",          r->q.id, "attempt",
                           att,           "type",  jobq_type_name(js->q, r->q.type),
                           "deadline_ms", dl,      "len",
                           NULL };
    char len[24];
    size_t nkv = 10, envlen = 0;

    (void)snprintf(att, sizeof(att), "%u", r->q.sm.attempt);
    (void)snprintf(dl, sizeof(dl), "%" PRId64, r->deadline_ms);
    (void)snprintf(len, sizeof(len), "%zu", r->payload_len);
    kv[9] = len;
    for (size_t i = 0; i < r->nenv; i++)
        envlen += strlen(r->env[i]) + 1;
    if (r->nenv && (env = malloc(envlen + 1))) {
        char *p = env;

        for (size_t i = 0; i < r->nenv; i++)
            p += sprintf(p, "%s%s", i ? "\n" : "", r->env[i]);
        kv[nkv++] = "env";
        kv[nkv++] = env;
    }
    if (jobchan_sendf(s->conn, JOBFRAME_JOB, kv, nkv, r->payload ? r->payload : (const uint8_t *)"",
                      r->payload_len) == -ENOSPC &&
        env) {
        /* env made the line too long: it goes without it, and the worker is told in the log. */
        inst_log(LOG_LVL_WARN, s->in, "job %s: its env does not fit in a frame line; sent without",
                 r->q.id);
        (void)jobchan_sendf(s->conn, JOBFRAME_JOB, kv, 10,
                            r->payload ? r->payload : (const uint8_t *)"", r->payload_len);
    }
    free(env);
}

static void
dispatch_type(struct jobs *js, unsigned type)
{
    struct program *prog = js->types[type].prog;
    struct job_slot *s;

    if (!prog)
        return;
    while (jobq_peek(js->q, type) && (s = choose(prog, type))) {
        struct jobrec *r = jobq_job_to_rec(jobq_pop(js->q, type));
        struct job_input in = { .event = JOB_EV_DISPATCH, .actor = JOB_ACTOR_DROVER };
        int64_t timeout = r->timeout_ms;
        struct job_step st;

        s->credit--;
        hold(s, r);
        (void)snprintf(r->instance, sizeof(r->instance), "%s", s->in->label);
        s->last_job_ms = util_unix_ms();
        metrics_job_observe(
            &js->types[type].wait,
            (double)(s->last_job_ms - (r->q.sm.retry_at_ms > r->q.sm.run_at_ms ? r->q.sm.retry_at_ms
                                       : r->q.sm.run_at_ms > r->q.sm.created_ms
                                           ? r->q.sm.run_at_ms
                                           : r->q.sm.created_ms)) /
                1000);
        r->dispatched_ms = s->last_job_ms;
        st = job_step(&r->q.sm, &(struct job_policy){ .max_attempts = r->max_attempts }, &in,
                      s->last_job_ms);
        (void)jobq_place(js->q, &r->q, false, 0);
        r->deadline_ms =
            timeout > 0 && (st.effects & JOB_FX_ARM_DEADLINE) ? s->last_job_ms + timeout : 0;
        js->sup->jobs_change++;
        send_job(js, s, r);
        push_event(js, r, st.from);
        journal_state(js, r);
        slot_arm(s);
    }
}

static void
before_sleep(struct loop_hook *hook)
{
    struct jobs *js = container_of(hook, struct jobs, before_sleep);

    if (js->chan_open)
        jobchan_reap(&js->chan); /* connections closed in this pass: no callback holds them now */
    if (js->dirty && !js->draining) {
        js->dirty = false;
        for (unsigned t = 0; t < js->ntypes; t++)
            if (js->types[t].dirty) {
                js->types[t].dirty = false;
                dispatch_type(js, t);
            }
    }
    if (js->journal && journal_wants_compaction(js->journal))
        compact(js);
    journal_flush(js->journal); /* this pass's lines, and their sync (now for a submit) */
    if (js->redis) {
        forget_handed_back(js);
        for (unsigned t = 0; t < js->ntypes && !js->draining; t++)
            redisstore_fetch(js->redis, t);
        redisstore_flush(js->redis);
    }
}

/* --- the channel
 * ----------------------------------------------------------------------------------- */

/* running=ID:A,...: the jobs it says it holds; the ones drover had it hold stay, others are lost.
 */
static void
reattach(struct jobs *js, struct job_slot *s, const char *running)
{
    for (unsigned i = 0; i < s->nheld;) {
        struct jobrec *r = s->held[i];
        char key[JOBQ_ID_MAX + 24];
        const char *p = running;
        bool listed = false;
        size_t n = (size_t)snprintf(key, sizeof(key), "%s:%u", r->q.id, r->q.sm.attempt);

        while (p && *p && !listed) {
            const char *e = strchr(p, ',');
            size_t len = e ? (size_t)(e - p) : strlen(p);

            listed = len == n && memcmp(p, key, n) == 0;
            p = e ? e + 1 : NULL;
        }
        if (listed) {
            if (r->q.sm.stopping != JOB_STOPPING_NONE) { /* asked before the channel broke */
                char att[16];
                const char *kv[] = { "id", r->q.id, "attempt", att };

                (void)snprintf(att, sizeof(att), "%u", r->q.sm.attempt);
                (void)jobchan_sendf(s->conn, JOBFRAME_CANCEL, kv, 4, NULL, 0);
                if (!r->deadline_ms)
                    r->deadline_ms = util_unix_ms() + pjc(s->in)->cancel_grace_ms;
            }
            i++;
            continue;
        }
        struct job_input in = { .event = JOB_EV_LOST,
                                .actor = JOB_ACTOR_DROVER,
                                .jitter_u = jitter_u() };
        inst_log(LOG_LVL_WARN, s->in, "reconnected without job %s attempt %u: it is lost", r->q.id,
                 r->q.sm.attempt);
        step(js, r, s, &in); /* releases it: i now holds another */
        if (i < s->nheld && s->held[i] == r)
            release(s, r); /* the table refused it: never keep it held by nobody */
    }
}

static void *
on_hello(struct jobchan_server *srv, struct jobchan *c, const struct jobframe *f, pid_t pid,
         char *reason, size_t size)
{
    struct jobs *js = srv->arg;
    struct supervisor *sup = js->sup;
    const char *prog = jobframe_get(f, "program"), *token = jobframe_get(f, "token"),
               *v = jobframe_get(f, "v");
    uint64_t index;
    struct instance *in;
    struct job_slot *s;
    const char *kv[] = { "v", "1" };

    if (!v || strcmp(v, "1") != 0) {
        (void)snprintf(reason, size, "protocol version %s is not known (v=1 is)", v ? v : "(none)");
        return NULL;
    }
    if (!prog || !token || jobframe_get_u64(f, "instance", UINT32_MAX, &index) < 0) {
        (void)snprintf(reason, size, "HELLO needs program=, instance= and token=");
        return NULL;
    }
    in = pool_find_instance(&sup->pool, prog, (unsigned)index);
    s = in ? slot_of(in) : NULL;
    if (!s || !in->pid) {
        (void)snprintf(reason, size, "no instance %.64s:%u takes jobs", prog, (unsigned)index);
        return NULL;
    }
    if (!util_secret_equal(token, s->token) || liveness_find_sender(sup, pid) != in) {
        (void)snprintf(reason, size, "pid %d is not %s's process, or its token is wrong", (int)pid,
                       in->label);
        return NULL;
    }
    if (s->conn) {
        /* Its own process with its token: the old connection is one it left (its hang-up may
           not have been read yet). The new one takes over; running= says what it still has. */
        inst_log(LOG_LVL_INFO, in, "job channel: a new connection replaces the old one");
        jobchan_close(s->conn, "replaced by a new HELLO");
    }
    s->conn = c;
    s->lost_conn_ms = 0;
    s->credit = 0;
    liveness_beat(in, util_now_ns());
    (void)jobchan_sendf(c, JOBFRAME_WELCOME, kv, 2, NULL, 0);
    reattach(js, s, jobframe_get(f, "running"));
    if (js->draining) {
        s->draining = true;
        (void)jobchan_sendf(c, JOBFRAME_DRAIN, NULL, 0, NULL, 0);
    }
    slot_arm(s);
    inst_log(LOG_LVL_DEBUG, in, "job channel connected");
    return s;
}

static struct jobrec *
frame_job(struct jobs *js, struct job_slot *s, const struct jobframe *f, const char **ret_why)
{
    const char *id = jobframe_get(f, "id");
    uint64_t attempt;
    struct jobq_job *q;

    *ret_why = NULL;
    if (!id || jobframe_get_u64(f, "attempt", UINT32_MAX, &attempt) < 0)
        return NULL;
    q = jobq_find(js->q, id);
    if (!q || q->owner != s || job_frame_is_stale(&q->sm, (unsigned)attempt)) {
        if (q && q->type < js->ntypes)
            js->types[q->type].c.stale_results++;
        *ret_why = "stale";
        return NULL;
    }
    return jobq_job_to_rec(q);
}

static void
on_frame(struct jobchan *c, const struct jobframe *f)
{
    struct job_slot *s = c->owner;
    struct jobs *js = J(s->in->sup);
    struct job_input in = { .actor = JOB_ACTOR_WORKER, .jitter_u = jitter_u() };
    const char *why;
    struct jobrec *r;
    uint64_t n;

    liveness_beat(s->in, util_now_ns()); /* every frame is a beat */
    switch (f->verb) {
    case JOBFRAME_WANT:
        if (jobframe_get_u64(f, "n", UINT32_MAX, &n) < 0)
            return;
        {
            /* What its process was told (held's room), not what a reload has made it since. */
            unsigned room = s->cap > s->nheld ? s->cap - s->nheld : 0;
            s->credit = s->credit + n > room ? room : s->credit + (unsigned)n;
        }
        if (s->credit && !s->nheld && !s->idle_since_ms) {
            s->idle_since_ms = util_unix_ms();
            slot_arm(s); /* its ping is due from now */
        }
        for (size_t t = 0; t < pjc(s->in)->ntypes; t++) {
            int ti = jobq_type(js->q, pjc(s->in)->types[t]);
            if (ti >= 0)
                mark_dirty(js, (unsigned)ti);
        }
        return;
    case JOBFRAME_START:
    case JOBFRAME_PROGRESS:
        if (!(r = frame_job(js, s, f, &why)))
            return;
        if (f->verb == JOBFRAME_PROGRESS && jobframe_get_u64(f, "pct", 100, &n) == 0)
            (void)jobrec_set_progress(r, (unsigned)n, f->has_body ? (const char *)f->body : "",
                                      f->has_body ? f->body_len : 0);
        if (r->q.sm.state == JOB_DISPATCHED) {
            in.event = JOB_EV_STARTED;
            step(js, r, s, &in);
        } else {
            js->sup->jobs_change++; /* progress: a waiter on GET /jobs/ID?wait sees it */
        }
        return;
    case JOBFRAME_DONE:
        if (!(r = frame_job(js, s, f, &why))) {
            if (why)
                inst_log(LOG_LVL_INFO, s->in, "dropped a late result for job %s (stale attempt)",
                         jobframe_get(f, "id"));
            return;
        }
        if (jobrec_set_result(r, f->body, f->body_len) < 0) {
            inst_log(LOG_LVL_WARN, s->in, "job %s: no memory for its result", r->q.id);
            return;
        }
        in.event = JOB_EV_DONE;
        step(js, r, s, &in);
        return;
    case JOBFRAME_FAIL: {
        const char *retry = jobframe_get(f, "retry");

        if (!(r = frame_job(js, s, f, &why)))
            return;
        in.event = JOB_EV_FAIL;
        in.retry = JOB_RETRY_AUTO;
        if (retry && strcmp(retry, "no") == 0) {
            in.retry = JOB_RETRY_NO;
        } else if (retry && strncmp(retry, "after:", 6) == 0) {
            char *end;
            long long ms = strtoll(retry + 6, &end, 10);

            in.retry = JOB_RETRY_AFTER;
            in.retry_after_ms = *end || ms < 0 ? 0 : ms;
        }
        (void)jobrec_set_error(r, f->has_body ? (const char *)f->body : "",
                               f->has_body ? f->body_len : 0);
        if (jobrec_set_fail_code(r, jobframe_get(f, "code")) == -EINVAL)
            inst_log(LOG_LVL_INFO, s->in,
                     "job %s: FAIL code= is not 1 to 64 of A-Z a-z 0-9 _ . : -; "
                     "shown as \"error\"",
                     r->q.id);
        step(js, r, s, &in);
        return;
    }
    case JOBFRAME_PONG: {
        const char *id = jobframe_get(f, "id");

        if (s->ping_sent_ms && id && strcmp(id, s->ping_id) == 0) {
            ping_result(s, true, util_unix_ms());
            slot_arm(s);
        }
        return; /* a late PONG, for a ping already failed or forgotten: the next one tells */
    }
    case JOBFRAME_HELLO: /* a second HELLO, or drover's own frames from a worker */
    case JOBFRAME_WELCOME:
    case JOBFRAME_BYE:
    case JOBFRAME_JOB:
    case JOBFRAME_PING:
    case JOBFRAME_CANCEL:
    case JOBFRAME_DRAIN:
    case JOBFRAME__MAX:
    case JOBFRAME_INVALID:
        inst_log(LOG_LVL_WARN, s->in, "job channel: %s is not a worker's frame; ignored",
                 jobframe_verb_name(f->verb));
        return;
    }
}

static void
on_closed(struct jobchan *c)
{
    struct job_slot *s = c->owner;

    s->conn = NULL;
    s->credit = 0;
    s->idle_since_ms = 0;
    s->ping_id[0] = '\0';
    s->ping_sent_ms = 0;
    if (s->in->pid && s->nheld) {
        s->lost_conn_ms = util_unix_ms(); /* it may reconnect with running= */
        inst_log(LOG_LVL_WARN, s->in,
                 "job channel closed while it holds %u job%s: waiting %d ms for it to reconnect",
                 s->nheld, s->nheld == 1 ? "" : "s", JOBCHAN_HELLO_MS);
    }
    slot_arm(s);
}

static const struct jobchan_ops chan_ops = {
    .hello = on_hello,
    .frame = on_frame,
    .closed = on_closed,
};

/* --- the pool's notifications
 * ---------------------------------------------------------------------- */

/* in's process is gone: what it held is lost, with the signal that ended it. */
static void
instance_gone(struct instance *in)
{
    struct job_slot *s = slot_of(in);
    struct jobs *js = J(in->sup);
    int sig = in->exit_how.known && in->exit_how.signaled ? in->exit_how.value : 0;

    if (!s)
        return;
    s->stop_at_ms = 0; /* nothing left to stop: release() must not ask for it */
    if (s->conn)
        jobchan_close(s->conn, "its process is gone");
    while (s->nheld) {
        struct jobrec *r = s->held[0];
        struct job_input ji = {
            .event = JOB_EV_LOST, .actor = JOB_ACTOR_DROVER, .signal = sig, .jitter_u = jitter_u()
        };

        inst_log(LOG_LVL_WARN, in, "job %s attempt %u lost with its process%s%s", r->q.id,
                 r->q.sm.attempt, sig ? ": killed by SIG" : "", sig ? util_signal_name(sig) : "");
        step(js, r, s, &ji);
        if (s->nheld && s->held[0] == r)
            release(s, r); /* the table refused it: never keep it held by nobody */
    }
    s->credit = 0;
    s->draining = false;
    s->lost_conn_ms = 0;
    s->stop_at_ms = 0;
    s->idle_since_ms = 0;
    s->ping_id[0] = '\0';
    s->ping_sent_ms = 0;
    s->ping_from_ms = 0;
    s->ping_failures = 0; /* the next process starts afresh */
    timer_cancel(&in->sup->timers, &s->timer);
}

static void
jobs_observer(struct instance *in, enum pool_change what)
{
    if (what == POOL_GONE)
        instance_gone(in);
    else if (what == POOL_STATE && in->sup->jobs && slot_of(in))
        in->sup->jobs->dirty = true; /* ready, running: it may take work now */
}

/* in's side of the channel, gone with its slot (drover stops, or its program leaves). */
static void
slot_free(struct instance *in)
{
    struct job_slot *s = in->jobs;

    if (!s)
        return;
    if (s->conn)
        jobchan_close(s->conn, "its instance left the pool");
    timer_cancel(&in->sup->timers, &s->timer);
    free(s->held);
    free(s->held_ids);
    free(s->types_env);
    free(s->types);
    free(s);
    in->jobs = NULL;
}

static struct job_slot *
slot_new(struct instance *in)
{
    struct job_slot *s = calloc(1, sizeof(*s));

    if (!s || !(s->held = calloc(pjc(in)->concurrency, sizeof(*s->held))) ||
        !(s->held_ids = calloc(pjc(in)->concurrency, sizeof(*s->held_ids)))) {
        if (s)
            free(s->held);
        free(s);
        return NULL;
    }
    s->cap = pjc(in)->concurrency;
    s->in = in;
    timer_init(&s->timer, slot_timer_fired);
    return s;
}

/* The types s's next process is told, as its DROVER_JOBS_TYPES and as jobq indices. */
static int
spawn_types(struct jobs *js, struct job_slot *s, const struct program_jobs_cfg *pj)
{
    size_t len = sizeof("DROVER_JOBS_TYPES=");
    char *env;
    unsigned *types;

    for (size_t t = 0; t < pj->ntypes; t++)
        len += strlen(pj->types[t]) + 1;
    if (!(env = malloc(len)) || !(types = calloc(pj->ntypes ? pj->ntypes : 1, sizeof(*types)))) {
        free(env);
        return -ENOMEM;
    }
    len = (size_t)sprintf(env, "DROVER_JOBS_TYPES=");
    for (size_t t = 0; t < pj->ntypes; t++) {
        int ti = jobq_type(js->q, pj->types[t]);

        len += (size_t)sprintf(env + len, "%s%s", t ? "," : "", pj->types[t]);
        types[t] = ti < 0 ? UINT_MAX : (unsigned)ti;
    }
    free(s->types_env);
    free(s->types);
    s->types_env = env;
    s->types = types;
    s->ntypes = pj->ntypes;
    return 0;
}

void
jobs_spawn_env(struct instance *in, char **envp, size_t *n)
{
    struct jobs *js = J(in->sup);
    struct job_slot *s;
    uint8_t raw[JOBS_TOKEN_HEX / 2];

    if (!js || !in->prog->cfg->jobs.enabled)
        return;
    if (in->jobs && in->jobs->cap != pjc(in)->concurrency && !in->jobs->nheld)
        slot_free(in); /* a reload changed its concurrency: the next process gets a new slot */
    if (!in->jobs && !(in->jobs = slot_new(in)))
        return; /* no memory: it runs without jobs, and can never say HELLO */
    s = in->jobs;
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
        for (size_t i = 0; i < sizeof(raw); i++)
            raw[i] = (uint8_t)(util_now_ns() >> (i % 8));
    for (size_t i = 0; i < sizeof(raw); i++)
        (void)snprintf(s->token + 2 * i, 3, "%02x", raw[i]);
    (void)snprintf(s->env[0], sizeof(s->env[0]), "DROVER_JOBS_TOKEN=%s", s->token);
    if (spawn_types(js, s, pjc(in)) < 0)
        return; /* no memory: it runs without jobs, and can never say HELLO */
    (void)snprintf(s->env[2], sizeof(s->env[2]), "DROVER_JOBS_CONCURRENCY=%u",
                   pjc(in)->concurrency);
    (void)snprintf(s->env[3], sizeof(s->env[3]), "DROVER_JOBS_MAX_PAYLOAD=%" PRIu64,
                   in->sup->cfg.jobs.max_payload);
    envp[(*n)++] = js->socket_env;
    envp[(*n)++] = s->types_env;
    for (int i = 0; i < 4; i++)
        if (i != 1)
            envp[(*n)++] = s->env[i];
}

bool
jobs_stop_when_idle(struct instance *in)
{
    struct job_slot *s = slot_of(in);

    if (!s || !s->nheld || !in->pid || s->stop_at_ms)
        return s && s->stop_at_ms;
    s->stop_at_ms = util_unix_ms() + in->svc.policy->stop_timeout_ms;
    inst_log(LOG_LVL_INFO, in, "holds %u job%s: stopping it once %s done (at most %lld ms)",
             s->nheld, s->nheld == 1 ? "" : "s", s->nheld == 1 ? "it is" : "they are",
             (long long)in->svc.policy->stop_timeout_ms);
    slot_arm(s);
    return true;
}

void
jobs_program_backlog(struct supervisor *sup, const struct program *prog, size_t *ret_waiting,
                     size_t *ret_in_flight)
{
    struct jobs *js = J(sup);

    *ret_waiting = *ret_in_flight = 0;
    for (size_t t = 0; js && t < js->ntypes; t++) {
        struct redisstore_depth d;

        if (js->types[t].prog != prog)
            continue;
        /* The redis store: the cluster's backlog, which every node's program scales to (each
           capped by its own max), once the store has read it; this node's own until then. */
        if (js->redis && redisstore_depth(js->redis, (unsigned)t, &d)) {
            *ret_waiting += d.waiting > 0 ? (size_t)d.waiting : 0;
            *ret_in_flight += d.in_flight;
            continue;
        }
        *ret_waiting += jobq_count(js->q, (unsigned)t, JOB_WAITING);
        *ret_in_flight += jobq_count(js->q, (unsigned)t, JOB_DISPATCHED) +
                          jobq_count(js->q, (unsigned)t, JOB_RUNNING);
    }
}

bool
jobs_instance_busy(const struct instance *in)
{
    return in->jobs && slot_of(in)->nheld > 0;
}

void
jobs_drain_all(struct supervisor *sup)
{
    struct jobs *js = J(sup);

    if (!js || js->draining)
        return;
    js->draining = true;
    /* The redis store: what waits here goes back to its queue for the other nodes now. */
    for (unsigned t = 0; js->redis && t < js->ntypes; t++) {
        struct jobq_job *q;
        size_t n = 0;

        while ((q = jobq_pop(js->q, t))) {
            struct jobrec *r = jobq_job_to_rec(q);

            redisstore_release(js->redis, r, jobq_type_name(js->q, t));
            js->queued_bytes -=
                js->queued_bytes >= r->payload_len ? r->payload_len : js->queued_bytes;
            forget(js, r);
            n++;
        }
        if (n)
            log_info("redis store: %zu waiting job%s of type %s went back on the queue", n,
                     n == 1 ? "" : "s", jobq_type_name(js->q, t));
    }
    for (size_t p = 0; p < sup->pool.nprograms; p++) {
        struct program *prog = sup->pool.programs[p];

        for (unsigned i = 0; i < prog->ninstances; i++) {
            struct job_slot *s = slot_of(&prog->instances[i]);

            if (s && s->conn && !s->draining) {
                s->draining = true;
                (void)jobchan_sendf(s->conn, JOBFRAME_DRAIN, NULL, 0, NULL, 0);
            }
        }
    }
}

/* --- set-up ------------------------------------------------------------------------------------
 */

/* A program of the configuration in force (one a reload removes keeps the retired one's). */
static bool
in_force(const struct supervisor *sup, const struct program *prog)
{
    return prog->cfg >= sup->cfg.programs && prog->cfg < sup->cfg.programs + sup->cfg.nprograms;
}

/* Each type to the program in force that takes it (config checks make it one), the rest NULL. */
static int
map_types(struct jobs *js)
{
    struct supervisor *sup = js->sup;

    for (size_t t = 0; t < js->ntypes; t++)
        js->types[t].prog = NULL;
    for (size_t p = 0; p < sup->pool.nprograms; p++) {
        struct program *prog = sup->pool.programs[p];

        for (size_t t = 0;
             in_force(sup, prog) && prog->cfg->jobs.enabled && t < prog->cfg->jobs.ntypes; t++) {
            int ti = jobq_type(js->q, prog->cfg->jobs.types[t]);
            struct type_info *ty;

            if (ti < 0)
                return ti;
            if ((size_t)ti >= js->ntypes) {
                if (!(ty = realloc(js->types, ((size_t)ti + 1) * sizeof(*ty))))
                    return -ENOMEM;
                js->types = ty;
                memset(&js->types[js->ntypes], 0, ((size_t)ti + 1 - js->ntypes) * sizeof(*ty));
                js->ntypes = (size_t)ti + 1;
            }
            js->types[ti].prog = prog;
            js->types[ti].dirty = true; /* its waiting jobs may go out now */
        }
    }
    if (jobq_ntypes(js->q) > js->ntypes) { /* types only the journal had: no program takes them */
        size_t n = jobq_ntypes(js->q);
        struct type_info *ty = realloc(js->types, n * sizeof(*ty));

        if (!ty)
            return -ENOMEM;
        js->types = ty;
        memset(&js->types[js->ntypes], 0, (n - js->ntypes) * sizeof(*ty));
        for (size_t t = js->ntypes; t < n; t++)
            log_warnx("job store: type %s has jobs, but no program takes it: they wait",
                      jobq_type_name(js->q, (unsigned)t));
        js->ntypes = n;
    }
    js->dirty = true;
    return 0;
}

/* --- the file store: replay at start, compaction -------------------------------------------- */

static char replay_dead; /* q.owner of a replayed job a later line removed or replaced */

struct replay {
    struct jobs *js;
    struct jobrec **order; /* every "new" line's job, dead ones too, in the journal's order */
    size_t n, cap;
    size_t bad;
    bool oom;
    int type_err; /* a job's type could not be kept (-E2BIG, -ENOMEM): drover does not start */
};

static long
is_snapshot_line(const char *line, size_t len)
{
    struct jobjournal_entry e;
    char err[128];

    if (jobjournal_decode(line, len, &e, err, sizeof(err)) < 0)
        return -1;
    jobrec_free(e.rec);
    return e.op == JOBJOURNAL_SNAPSHOT && e.njobs <= LONG_MAX ? (long)e.njobs : -1;
}

static void
replay_drop(struct replay *rp, struct jobq_job *q)
{
    jobq_remove(rp->js->q, q);
    q->owner = &replay_dead; /* freed at the end, with the order array */
}

static void
replay_line(void *arg, const char *line, size_t len, const char *file, size_t lineno)
{
    struct replay *rp = arg;
    struct jobs *js = rp->js;
    struct jobjournal_entry e;
    char err[256];
    struct jobq_job *q;
    int ti;

    if (jobjournal_decode(line, len, &e, err, sizeof(err)) < 0) {
        log_errorx("job journal %s/%s:%zu: %s: line skipped", js->dir, file, lineno, err);
        rp->bad++;
        return;
    }
    if (e.seq > js->seq)
        js->seq = e.seq;
    q = e.op == JOBJOURNAL_SNAPSHOT ? NULL : jobq_find(js->q, e.id);
    switch (e.op) {
    case JOBJOURNAL_SNAPSHOT:
        return;
    case JOBJOURNAL_REMOVE:
        if (q)
            replay_drop(rp, q);
        return;
    case JOBJOURNAL_STATE:
        if (q)
            jobjournal_apply_state(jobq_job_to_rec(q), e.rec);
        else
            log_warnx("job journal %s:%zu: a transition of job %s, which it never added: skipped",
                      file, lineno, e.id);
        jobrec_free(e.rec);
        return;
    case JOBJOURNAL_NEW:
        break;
    }
    if (q)
        replay_drop(rp, q); /* a snapshot's, or a retried id's: the latest "new" wins */
    if (rp->n == rp->cap) {
        size_t cap = rp->cap ? rp->cap * 2 : 1024;
        struct jobrec **o = realloc(rp->order, cap * sizeof(*o));

        if (!o) {
            rp->oom = true;
            jobrec_free(e.rec);
            return;
        }
        rp->order = o;
        rp->cap = cap;
    }
    if ((ti = jobq_type(js->q, e.type)) < 0) {
        if (!rp->type_err)
            log_errorx("job journal %s/%s:%zu: job %s of type %s: %s", js->dir, file, lineno, e.id,
                       e.type,
                       ti == -E2BIG ? "more job types than drover keeps (4096)" : "out of memory");
        rp->type_err = ti;
        jobrec_free(e.rec);
        return;
    }
    e.rec->q.type = (unsigned)ti;
    if (jobq_add(js->q, &e.rec->q) < 0) {
        rp->oom = true;
        jobrec_free(e.rec);
        return;
    }
    rp->order[rp->n++] = e.rec;
}

static int
by_order(const void *a, const void *b)
{
    const struct jobrec *x = *(struct jobrec *const *)a, *y = *(struct jobrec *const *)b;

    return x->order < y->order ? -1 : x->order > y->order;
}

/*
 * After the replay: each job where its state says, in submit order. A job
 * an instance held when drover stopped waits for jobs_recovered(): its
 * instance may be adopted and reconnect.
 */
static int
replay_place(struct jobs *js, struct replay *rp)
{
    size_t counts[JOB__MAX] = { 0 };

    if (rp->n)
        qsort(rp->order, rp->n, sizeof(*rp->order), by_order);
    if (!(js->held_at_start = calloc(rp->n ? rp->n : 1, sizeof(*js->held_at_start))))
        return -ENOMEM;
    for (size_t i = 0; i < rp->n; i++) {
        struct jobrec *r = rp->order[i];
        struct job *j = &r->q.sm;

        if (r->q.owner == &replay_dead) {
            jobrec_free(r);
            continue;
        }
        counts[j->state]++;
        if (!job_state_held(j->state))
            j->stopping = JOB_STOPPING_NONE;
        r->deadline_ms = 0; /* jobs_recovered() sets a held one's again */
        if (j->state == JOB_DELAYED || j->state == JOB_RETRY_WAIT)
            (void)jobq_place(js->q, &r->q, false,
                             j->state == JOB_DELAYED ? j->run_at_ms : j->retry_at_ms);
        else
            (void)jobq_place(js->q, &r->q, false, 0);
        if (job_state_held(j->state))
            js->held_at_start[js->nheld_at_start++] = r;
        if (!job_state_terminal(j->state))
            js->queued_bytes += r->payload_len;
    }
    log_info("job journal: %zu waiting, %zu delayed, %zu retry_wait, %zu dispatched, %zu "
             "running, %zu finished job%s read from %s",
             counts[JOB_WAITING], counts[JOB_DELAYED], counts[JOB_RETRY_WAIT],
             counts[JOB_DISPATCHED], counts[JOB_RUNNING],
             counts[JOB_SUCCESS] + counts[JOB_FAILED] + counts[JOB_CANCELLED],
             jobq_size(js->q) == 1 ? "" : "s", js->dir);
    return 0;
}

static void
journal_synced_cb(void *arg)
{
    struct jobs *js = arg;

    js->sup->jobs_synced++; /* submits parked on their sync look again, and only they */
}

/*
 * The store's directory: jobs.dir (else "jobs"; the redis store's outage
 * journal: "redis-outbox"), relative to the dumpfile's directory, else the
 * state's.
 */
static int
store_dir(struct supervisor *sup, char *buf, size_t size)
{
    bool redis = sup->cfg.jobs.store == JOBS_STORE_REDIS;
    const char *dir = sup->cfg.jobs.dir ? sup->cfg.jobs.dir : redis ? "redis-outbox" : "jobs";
    char base[PATH_MAX];
    int n;

    if (dir[0] == '/') {
        n = snprintf(buf, size, "%s", dir);
    } else if (sup->cfg.dumpfile) { /* read before persist_setup() made it absolute */
        const char *d = sup->cfg.dumpfile, *slash = strrchr(d, '/');

        if (slash)
            n = snprintf(buf, size, "%.*s/%s", (int)(slash - d), d, dir);
        else
            n = snprintf(buf, size, "%s", dir);
    } else {
        if (!runpath_state_dir(geteuid(), getenv("STATE_DIRECTORY"), getenv("XDG_STATE_HOME"),
                               getenv("HOME"), base, sizeof(base))) {
            if (!redis)
                log_errorx("jobs.store is \"file\" without a dumpfile, and drover has no state "
                           "directory (no $STATE_DIRECTORY, $XDG_STATE_HOME or $HOME): give "
                           "jobs.dir an absolute path, --dumpfile, or \"store\": \"memory\"");
            return -ENOENT;
        }
        n = snprintf(buf, size, "%s/%s", base, dir);
    }
    return n > 0 && (size_t)n < size ? 0 : -ENAMETOOLONG;
}

static int
store_open(struct jobs *js)
{
    struct supervisor *sup = js->sup;
    struct replay rp = { .js = js };
    char err[JOURNAL_ERR_MAX + PATH_MAX];
    int r;

    if ((r = store_dir(sup, js->dir, sizeof(js->dir))) < 0)
        return r;
    r = journal_open(&js->journal, js->dir, sup->cfg.jobs.fsync != JOBS_FSYNC_NEVER, &sup->loop,
                     &sup->timers, is_snapshot_line, replay_line, &rp, journal_synced_cb, js, err,
                     sizeof(err));
    if (r < 0) {
        log_errorx("job store: %s", err);
    } else if (rp.oom || rp.type_err) {
        if (rp.oom)
            log_errorx("job store: out of memory reading %s", js->dir);
        r = rp.oom ? -ENOMEM : rp.type_err;
    } else {
        r = replay_place(js, &rp);
        if (rp.bad)
            log_errorx("job journal %s: %zu line%s could not be read (above): the jobs they "
                       "changed may show an older state",
                       js->dir, rp.bad, rp.bad == 1 ? "" : "s");
    }
    if (r < 0)
        for (size_t i = 0; i < rp.n; i++)
            if (rp.order[i]->q.owner == &replay_dead)
                jobrec_free(rp.order[i]); /* the live ones are the queue's: jobs_done frees them */
    free(rp.order);
    return r;
}

static int
snapshot_one(struct jobq_job *q, void *arg)
{
    journal_new(arg, jobq_job_to_rec(q), false);
    return 0;
}

/* Every live job as a "new" line after a snapshot line, into a new segment (os/journal). */
static void
compact(struct jobs *js)
{
    size_t len = 0;
    char *line;

    if (journal_compact_begin(js->journal) < 0)
        return;
    js->journal_failed = false;
    js->seq++;
    line = jobjournal_snapshot_line(jobq_size(js->q), js->seq, util_unix_ms(), &len);
    journal_put(js, line, len, false);
    (void)jobq_each(js->q, snapshot_one, js);
    journal_compact_end(js->journal, !js->journal_failed);
}

void
jobs_recovered(struct supervisor *sup)
{
    struct jobs *js = J(sup);
    int64_t now = util_unix_ms();

    if (!js)
        return;
    for (size_t i = 0; i < js->nheld_at_start; i++) {
        struct jobrec *r = js->held_at_start[i];
        char prog[JOBREC_INSTANCE_MAX];
        const char *colon = strrchr(r->instance, ':');
        struct instance *in = NULL;
        struct job_slot *s;

        if (colon && (size_t)(colon - r->instance) < sizeof(prog)) {
            (void)snprintf(prog, sizeof(prog), "%.*s", (int)(colon - r->instance), r->instance);
            in = pool_find_instance(&sup->pool, prog, (unsigned)strtoul(colon + 1, NULL, 10));
        }
        s = in && in->adopted && in->pid ? slot_of(in) : NULL;
        if (s && s->nheld < s->cap && job_state_held(r->q.sm.state)) {
            int64_t from = r->q.sm.started_ms ? r->q.sm.started_ms : r->dispatched_ms;

            hold(s, r);
            /* Its timeout runs on (a CANCEL that was out is asked again once it reconnects). */
            if (r->q.sm.stopping == JOB_STOPPING_NONE && r->timeout_ms > 0 && from)
                r->deadline_ms = from + r->timeout_ms;
            s->lost_conn_ms = now; /* it has JOBCHAN_HELLO_MS to say HELLO running=ID:ATTEMPT */
            slot_arm(s);
            inst_log(LOG_LVL_INFO, in,
                     "adopted with job %s attempt %u: waiting for it to "
                     "reconnect",
                     r->q.id, r->q.sm.attempt);
            continue;
        }
        log_warnx("job %s attempt %u was %s on %s when drover stopped, and that instance was not "
                  "adopted: %s",
                  r->q.id, r->q.sm.attempt, job_state_name(r->q.sm.state),
                  r->instance[0] ? r->instance : "(none)",
                  r->q.sm.state == JOB_DISPATCHED ? "queued again at the front"
                                                  : "the attempt counts as lost");
        step(js, r, NULL,
             &(struct job_input){
                 .event = JOB_EV_LOST, .actor = JOB_ACTOR_DROVER, .jitter_u = jitter_u() });
    }
    free(js->held_at_start);
    js->held_at_start = NULL;
    js->nheld_at_start = 0;
    evict_finished(js);
    arm_due(js);
    js->dirty = true;
    for (size_t t = 0; t < js->ntypes; t++)
        js->types[t].dirty = true;
}

int
jobs_adopted(struct instance *in, const char *token)
{
    struct jobs *js = J(in->sup);
    struct job_slot *s;

    if (!js || !in->prog->cfg->jobs.enabled || !token || strlen(token) != JOBS_TOKEN_HEX)
        return 0;
    if (!in->jobs && !(in->jobs = slot_new(in)))
        return -ENOMEM;
    s = in->jobs;
    (void)snprintf(s->token, sizeof(s->token), "%s", token);
    return spawn_types(js, s, pjc(in));
}

const char *
jobs_token(const struct instance *in)
{
    return in->jobs && in->jobs->token[0] ? in->jobs->token : NULL;
}

uint64_t
jobs_journal_seq(const struct supervisor *sup)
{
    if (J(sup) && J(sup)->redis)
        return J(sup)->last_ticket;
    if (!J(sup) || !J(sup)->journal || sup->cfg.jobs.fsync == JOBS_FSYNC_NEVER)
        return 0; /* "never": answered once written, not synced */
    return J(sup)->seq;
}

int
jobs_journal_wait(const struct supervisor *sup, uint64_t seq, const char **ret_err)
{
    struct jobs *js = J(sup);

    *ret_err = NULL;
    if (js && js->redis) {
        int code;

        return redisstore_submitted(js->redis, seq, &code, ret_err);
    }
    if (js && js->journal && seq && seq == js->failed_seq) {
        *ret_err = "out of memory making its journal line";
        return -1;
    }
    if (!js || !js->journal || journal_synced(js->journal) >= seq)
        return 1;
    if ((*ret_err = journal_error(js->journal)))
        return -1;
    return 0;
}

int
jobs_stored_code(const struct supervisor *sup, uint64_t seq, int code)
{
    const char *err;
    int stored = code;

    if (J(sup) && J(sup)->redis && redisstore_submitted(J(sup)->redis, seq, &stored, &err) <= 0)
        return code;
    return stored;
}

/* --- the redis store's side ------------------------------------------------------------------- */

/* Jobs of prog's types waiting here, and claims out for them: what its free credit is for. */
static unsigned
store_room(void *arg, unsigned type)
{
    struct jobs *js = arg;
    struct program *prog = type < js->ntypes ? js->types[type].prog : NULL;
    size_t want = 0, have = 0;

    if (!prog || js->draining || js->sup->shutting_down)
        return 0;
    for (unsigned i = 0; i < prog->ninstances; i++) {
        struct instance *in = &prog->instances[i];
        struct job_slot *s = slot_of(in);

        if (s && can_take(in, type))
            want += s->credit < s->cap - s->nheld ? s->credit : s->cap - s->nheld;
    }
    for (size_t t = 0; t < js->ntypes; t++)
        if (js->types[t].prog == prog)
            have += jobq_count(js->q, (unsigned)t, JOB_WAITING) +
                    redisstore_claiming(js->redis, (unsigned)t);
    return want > have ? (unsigned)(want - have) : 0;
}

static bool
store_defaults(void *arg, unsigned type, struct herojob_defaults *ret)
{
    struct jobs *js = arg;
    struct program *prog = type < js->ntypes ? js->types[type].prog : NULL;

    if (!prog)
        return false;
    *ret = (struct herojob_defaults){
        .timeout_ms = prog->cfg->jobs.timeout_ms,
        .attempts = prog->cfg->jobs.attempts,
        .max_attempts = CFG_JOBS_MAX_ATTEMPTS,
        .max_payload = js->sup->cfg.jobs.max_payload,
    };
    return true;
}

static int
store_taken(void *arg, unsigned type, struct jobrec *r, unsigned attempt)
{
    struct jobs *js = arg;
    struct jobq_job *old = jobq_find(js->q, r->q.id);
    int64_t now = util_unix_ms();
    struct job_step st;

    if (old && job_state_terminal(old->sm.state)) {
        forget(js, jobq_job_to_rec(old)); /* an earlier run of the id, finished here: this one */
    } else if (old) {
        /* Held here already (its id pushed twice while it runs): this copy is dropped. */
        log_warnx("redis store: job %s was taken again while this node runs it: the second "
                  "copy is dropped",
                  r->q.id);
        jobrec_free(r);
        return 0;
    }
    r->q.type = type;
    if (jobq_add(js->q, &r->q) < 0) {
        jobrec_free(r);
        return -1;
    }
    js->queued_bytes += r->payload_len;
    js->types[type].c.submitted++;
    st = job_submit(&r->q.sm, 0, now);
    r->q.sm.attempt = attempt;
    js->mute_redis = true; /* taken: the store knows */
    apply_step(js, r, NULL, st);
    js->mute_redis = false;
    return 0;
}

static void
store_changed(void *arg)
{
    struct jobs *js = arg;

    js->sup->jobs_synced++; /* parked submits look again */
    js->dirty = true;
}

static void
store_stale(void *arg, unsigned type)
{
    struct jobs *js = arg;

    if (type < js->ntypes)
        js->types[type].c.stale_results++;
}

static bool
store_holds(void *arg, const char *id)
{
    return jobq_find(((struct jobs *)arg)->q, id) != NULL;
}

static const struct redisstore_ops store_ops = {
    .room = store_room,
    .defaults = store_defaults,
    .taken = store_taken,
    .changed = store_changed,
    .stale = store_stale,
    .holds = store_holds,
};

static int
redis_open(struct jobs *js)
{
    const char **names = calloc(js->ntypes ? js->ntypes : 1, sizeof(*names));
    int r;

    if (!names)
        return -ENOMEM;
    for (size_t t = 0; t < js->ntypes; t++)
        names[t] = jobq_type_name(js->q, (unsigned)t);
    /* Its outage journal: where the file store's would be (none: memory only, said). */
    r = redisstore_open(
        &js->redis, &js->sup->loop, &js->sup->timers, &js->sup->cfg.jobs, names, js->ntypes,
        store_dir(js->sup, js->dir, sizeof(js->dir)) == 0 ? js->dir : NULL, &store_ops, js);
    free(names);
    return r;
}

bool
jobs_busy(const struct supervisor *sup)
{
    return J(sup) && redisstore_busy(J(sup)->redis);
}

const char *
jobs_store_down(const struct supervisor *sup)
{
    return J(sup) && J(sup)->redis ? redisstore_down_reason(J(sup)->redis) : NULL;
}

bool
jobs_redis_figures(const struct supervisor *sup, struct redisstore_figures *ret)
{
    if (!J(sup) || !J(sup)->redis)
        return false;
    redisstore_figures(J(sup)->redis, ret);
    return true;
}

int
jobs_lookup(struct supervisor *sup, const char *id, uint64_t *ret_ticket, const char **ret_err)
{
    if (!J(sup) || !J(sup)->redis) {
        *ret_err = "not the redis store";
        return -1;
    }
    return redisstore_lookup(J(sup)->redis, id, ret_ticket, ret_err);
}

int
jobs_looked_up(const struct supervisor *sup, uint64_t ticket,
               const struct herojob_field **ret_fields, size_t *ret_n, const char **ret_err)
{
    if (!J(sup) || !J(sup)->redis) {
        *ret_err = "not the redis store";
        return -1;
    }
    return redisstore_looked_up(J(sup)->redis, ticket, ret_fields, ret_n, ret_err);
}

const char *
jobs_redis_node(const struct supervisor *sup)
{
    return J(sup) && J(sup)->redis ? redisstore_node(J(sup)->redis) : NULL;
}

int
jobs_init(struct supervisor *sup)
{
    struct jobs *js;
    uint8_t key[SIPHASH_KEY_BYTES];
    bool any = false;
    int r;

    for (size_t p = 0; p < sup->cfg.nprograms; p++)
        any |= sup->cfg.programs[p].jobs.enabled;
    if (!any)
        return 0;
    if (!(js = calloc(1, sizeof(*js))))
        return -ENOMEM;
    if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key)) {
        free(js);
        return -EIO;
    }
    js->sup = sup;
    sup->jobs = js;
    if (!(js->q = jobq_new(key)) || jobevents_init(&js->events) < 0)
        return -ENOMEM;
    timer_init(&js->due_timer, due_fired);
    if (sup->cfg.jobs.store == JOBS_STORE_FILE && (r = store_open(js)) < 0)
        return r;
    if ((r = map_types(js)) < 0)
        return r;
    if (pool_observe(&sup->pool, 1u << POOL_GONE | 1u << POOL_STATE, jobs_observer) < 0)
        return -ENOSPC;
    loop_add_before_sleep(&sup->loop, &js->before_sleep, before_sleep);
    return 0;
}

/* A program that takes jobs runs as another user than drover: its workers must connect too. */
static bool
workers_of_other_users(const struct supervisor *sup)
{
    for (size_t p = 0; p < sup->cfg.nprograms; p++) {
        const struct program_cfg *pc = &sup->cfg.programs[p];

        if (pc->jobs.enabled && pc->identity.switch_to && pc->identity.uid != geteuid())
            return true;
    }
    return false;
}

int
jobs_open(struct supervisor *sup)
{
    struct jobs *js = J(sup);
    const struct jobs_cfg *jc = &sup->cfg.jobs;
    char path[PATH_MAX], dir[PATH_MAX];
    int r;

    if (!js)
        return 0;
    if (jc->socket && jc->socket[0] == '/') {
        (void)snprintf(path, sizeof(path), "%s", jc->socket);
    } else {
        if (!rundir_path(dir, sizeof(dir)))
            return -ENAMETOOLONG;
        int n = sup->dumpfile ? snprintf(path, sizeof(path), "%s/jobs-%016" PRIx64 ".sock", dir,
                                         util_hash_str(sup->dumpfile))
                              : snprintf(path, sizeof(path), "%s/jobs-%d.sock", dir, (int)getpid());

        if (n < 0 || (size_t)n >= sizeof(path))
            return -ENAMETOOLONG;
    }
    r = jobchan_listen(&js->chan, &sup->loop, &sup->timers, path, workers_of_other_users(sup),
                       jc->max_payload, &chan_ops, js);
    if (r < 0)
        return r;
    js->chan_open = true;
    (void)snprintf(js->socket_env, sizeof(js->socket_env), "DROVER_JOBS_SOCKET=%s", path);
    log_info("job channel listening on %s", path);
    /* Here, not in jobs_init(): its connections need the timer heap. */
    if (sup->cfg.jobs.store == JOBS_STORE_REDIS && (r = redis_open(js)) < 0)
        return r;
    return 0;
}

static void
free_rec(struct jobq_job *q)
{
    jobrec_free(jobq_job_to_rec(q));
}

void
jobs_done(struct supervisor *sup)
{
    struct jobs *js = J(sup);

    if (!js)
        return;
    if (js->chan_open)
        jobchan_server_done(&js->chan);
    journal_close(js->journal); /* the last lines, synced */
    redisstore_close(js->redis);
    free(js->handed_back);
    free(js->held_at_start);
    for (size_t p = 0; p < sup->pool.nprograms; p++) {
        struct program *prog = sup->pool.programs[p];

        for (unsigned i = 0; i < prog->cfg->max_instances; i++)
            slot_free(&prog->instances[i]);
    }
    timer_cancel(&sup->timers, &js->due_timer);
    if (js->q)
        jobq_free(js->q, free_rec);
    jobevents_done(&js->events);
    free(js->types);
    free(js);
    sup->jobs = NULL;
}

void
jobs_reconfigured(struct supervisor *sup)
{
    struct jobs *js = J(sup);
    bool any = false;

    if (!js) {
        for (size_t p = 0; p < sup->cfg.nprograms; p++)
            any |= sup->cfg.programs[p].jobs.enabled;
        if (any)
            log_warnx("a reload gave a program `jobs`, but drover took no jobs at its start: "
                      "they are taken from the next start of drover");
        return;
    }
    if (js->chan_open && workers_of_other_users(sup))
        jobchan_allow_others(&js->chan);
    if (map_types(js) < 0)
        log_warnx("out of memory while mapping job types after a reload: some types have no "
                  "program until the next reload");
}

void
jobs_program_leaves(struct program *prog)
{
    struct jobs *js = J(prog->sup);

    if (!js || !prog->instances)
        return;
    for (size_t t = 0; t < js->ntypes; t++)
        if (js->types[t].prog == prog)
            js->types[t].prog = NULL;
    for (unsigned i = 0; i < prog->cfg->max_instances; i++)
        slot_free(&prog->instances[i]);
}

/* --- what api/ asks ----------------------------------------------------------------------------
 */

static bool
id_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '.' || ch == '_' || ch == ':' || ch == '-';
}

static void
new_uuid(char *buf)
{
    uint8_t b[16];

    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
        memset(b, 0, sizeof(b));
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    (void)sprintf(buf, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
                  b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
                  b[14], b[15]);
}

static char *
dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/*
 * A new record of s, not queued: its id drawn when s has none (one no job
 * here has). NULL: no memory.
 */
static struct jobrec *
rec_of_submit(const struct jobs *js, const struct jobs_submit *s, const struct program *prog,
              unsigned type)
{
    struct jobrec *r = jobrec_new();

    if (!r)
        return NULL;
    if (s->id) {
        (void)snprintf(r->q.id, sizeof(r->q.id), "%s", s->id);
        r->idempotent = true;
    } else {
        do
            new_uuid(r->q.id);
        while (jobq_find(js->q, r->q.id));
    }
    r->q.type = type;
    r->q.priority = s->priority > 9 ? 9 : s->priority;
    r->timeout_ms = s->timeout_ms >= 0 ? s->timeout_ms : prog->cfg->jobs.timeout_ms;
    r->max_attempts = s->attempts ? s->attempts : prog->cfg->jobs.attempts;
    if (s->payload_len && !(r->payload = malloc(s->payload_len)))
        goto oom;
    if (s->payload_len)
        memcpy(r->payload, s->payload, s->payload_len);
    r->payload_len = s->payload_len;
    if ((s->caller_id && !(r->caller_id = strdup(s->caller_id))) ||
        (s->context_id && !(r->context_id = strdup(s->context_id))))
        goto oom;
    if (s->nenv) {
        if (!(r->env = calloc(s->nenv, sizeof(char *))))
            goto oom;
        for (size_t i = 0; i < s->nenv; i++)
            if (!(r->env[r->nenv++] = dup_or_null(s->env[i])))
                goto oom;
    }
    return r;
oom:
    jobrec_free(r);
    return NULL;
}

/*
 * The redis store: the job goes to the server (its hash and its queue), not
 * here; any node may take it. *ret is a copy to answer with.
 */
static enum jobs_submit_result
submit_to_redis(struct jobs *js, const struct jobs_submit *s, const struct program *prog,
                unsigned type, struct jobrec **ret)
{
    struct jobrec *r;
    const char *err;
    uint64_t ticket;

    if (redisstore_down_reason(js->redis))
        return JOBS_SUBMIT_UNAVAILABLE;
    if (!(r = rec_of_submit(js, s, prog, type)))
        return JOBS_SUBMIT_FULL;
    if (redisstore_submit(js->redis, r, jobq_type_name(js->q, type), s->delay_ms, &ticket, &err) <
        0) {
        jobrec_free(r);
        return JOBS_SUBMIT_UNAVAILABLE;
    }
    js->last_ticket = ticket;
    (void)job_submit(&r->q.sm, s->delay_ms > 0 ? util_unix_ms() + s->delay_ms : 0,
                     util_unix_ms()); /* the answer's copy: waiting, or delayed */
    *ret = r;
    return JOBS_SUBMIT_STORING;
}

enum jobs_submit_result
jobs_submit(struct supervisor *sup, const struct jobs_submit *s, struct jobrec **ret)
{
    struct jobs *js = J(sup);
    struct jobq_job *old;
    struct program *prog;
    struct jobrec *r;
    struct job_step st;
    int ti;
    int64_t now = util_unix_ms();

    *ret = NULL;
    if (sup->shutting_down || js->draining)
        return JOBS_SUBMIT_CLOSED;
    ti = jobq_type(js->q, s->type);
    if (ti < 0 || (size_t)ti >= js->ntypes || !(prog = js->types[ti].prog))
        return JOBS_SUBMIT_NO_TYPE;
    if (s->payload_len > sup->cfg.jobs.max_payload)
        return JOBS_SUBMIT_TOO_LARGE;
    if (js->redis)
        return submit_to_redis(js, s, prog, (unsigned)ti, ret);
    if (s->id) {
        for (const char *p = s->id; *p; p++)
            if (!id_char(*p))
                return JOBS_SUBMIT_CONFLICT; /* api checked: cannot be */
        if ((old = jobq_find(js->q, s->id))) {
            struct jobrec *o = jobq_job_to_rec(old);

            *ret = o;
            return o->payload_len == s->payload_len &&
                           (!s->payload_len ||
                            memcmp(o->payload, s->payload, s->payload_len) == 0) &&
                           old->type == (unsigned)ti
                       ? JOBS_SUBMIT_SAME
                       : JOBS_SUBMIT_CONFLICT;
        }
    }
    if (js->queued_bytes + s->payload_len > sup->cfg.jobs.max_queued_bytes)
        return JOBS_SUBMIT_FULL;
    if (!(r = rec_of_submit(js, s, prog, (unsigned)ti)))
        return JOBS_SUBMIT_FULL;
    if (jobq_add(js->q, &r->q) < 0)
        goto oom;
    js->queued_bytes += r->payload_len; /* max_queued_bytes: payloads of unfinished jobs */
    js->types[ti].c.submitted++;
    st = job_submit(&r->q.sm, s->delay_ms > 0 ? now + s->delay_ms : 0, now);
    r->order = js->seq + 1; /* its "new" line's */
    journal_new(js, r, sup->cfg.jobs.fsync != JOBS_FSYNC_NEVER);
    js->mute_journal = true; /* its "new" line holds the state the step gave */
    apply_step(js, r, NULL, st);
    js->mute_journal = false;
    *ret = r;
    return JOBS_SUBMIT_NEW;
oom:
    jobrec_free(r);
    return JOBS_SUBMIT_FULL;
}

struct jobrec *
jobs_find(struct supervisor *sup, const char *id)
{
    struct jobq_job *q = J(sup) ? jobq_find(J(sup)->q, id) : NULL;

    return q ? jobq_job_to_rec(q) : NULL;
}

const char *
jobs_type_name(struct supervisor *sup, const struct jobrec *r)
{
    return jobq_type_name(J(sup)->q, r->q.type);
}

int
jobs_cancel(struct supervisor *sup, struct jobrec *r, const char **ret_err)
{
    struct job_input in = { .event = JOB_EV_CANCEL, .actor = JOB_ACTOR_API };
    struct job_slot *s = r->q.owner;

    if (job_state_terminal(r->q.sm.state)) {
        *ret_err = "the job has finished already";
        return 409;
    }
    if (job_state_held(r->q.sm.state) && r->q.sm.stopping == JOB_STOPPING_CANCEL) {
        *ret_err = NULL;
        return 200; /* asked already: the worker has it */
    }
    step(J(sup), r, job_state_held(r->q.sm.state) ? s : NULL, &in);
    return 200;
}

int
jobs_retry(struct supervisor *sup, struct jobrec *r, const char **ret_err)
{
    struct job_input in = { .event = JOB_EV_RETRY, .actor = JOB_ACTOR_API };
    struct jobs *js = J(sup);

    if (r->q.sm.state != JOB_FAILED && r->q.sm.state != JOB_CANCELLED) {
        *ret_err = "only a failed or cancelled job can be retried";
        return 409;
    }
    if (js->redis) {
        *ret_err = "with the redis store, a job runs again when its id is pushed on its queue "
                   "with its hash's status set to dispatched";
        return 409;
    }
    if (js->queued_bytes + r->payload_len > sup->cfg.jobs.max_queued_bytes) {
        *ret_err = "the store is full (max_queued_bytes)";
        return 429;
    }
    js->queued_bytes += r->payload_len;
    step(js, r, NULL, &in);
    return 200;
}

int
jobs_remove(struct supervisor *sup, struct jobrec *r, const char **ret_err)
{
    if (!job_state_terminal(r->q.sm.state)) {
        *ret_err = "only a finished job can be removed: cancel it first";
        return 409;
    }
    forget(J(sup), r);
    sup->jobs_change++;
    arm_due(J(sup));
    return 200;
}

uint64_t
jobs_change_seq(const struct supervisor *sup)
{
    return sup->jobs_change;
}

struct jobq *
jobs_queue(struct supervisor *sup)
{
    return J(sup) ? J(sup)->q : NULL;
}

struct jobevents *
jobs_events(struct supervisor *sup)
{
    return J(sup) ? &J(sup)->events : NULL;
}

size_t
jobs_ntypes(struct supervisor *sup)
{
    return J(sup) ? J(sup)->ntypes : 0;
}

static int
oldest_waiting(struct jobq_job *q, void *arg)
{
    int64_t *ret = ((int64_t **)arg)[0];
    unsigned type = (unsigned)(uintptr_t)((int64_t **)arg)[1];

    if (q->type == type && q->sm.state == JOB_WAITING && (!*ret || q->sm.created_ms < *ret))
        *ret = q->sm.created_ms;
    return 0;
}

void
jobs_type_figures(struct supervisor *sup, size_t type, int64_t now_ms,
                  struct jobs_type_figures *ret)
{
    struct jobs *js = J(sup);
    struct type_info *t = &js->types[type];
    struct jobq_job *head = jobq_peek(js->q, (unsigned)type);
    int64_t s = now_ms / 1000, oldest = 0;

    *ret = (struct jobs_type_figures){ .type = jobq_type_name(js->q, (unsigned)type),
                                       .program = t->prog ? t->prog->cfg->name : NULL,
                                       .prog = t->prog };
    for (int st = 0; st < JOB__MAX; st++)
        ret->state[st] = jobq_count(js->q, (unsigned)type, (enum job_state)st);
    ret->cluster = js->redis && redisstore_depth(js->redis, (unsigned)type, &ret->depth);
    if (head) {
        /* The head of the queue is the oldest of the highest priority; a walk finds the oldest. */
        void *arg[2] = { &oldest, (void *)(uintptr_t)type };
        if (ret->state[JOB_WAITING] <= 4096)
            (void)jobq_each(js->q, oldest_waiting, arg);
        else
            oldest = head->sm.created_ms;
        ret->oldest_waiting_s = oldest ? (double)(now_ms - oldest) / 1000 : 0;
    }
    for (int b = 0; b < RATE_BUCKETS; b++)
        if (t->bucket_s[b] > s - RATE_BUCKETS) {
            ret->done_1m += t->done[b];
            ret->failed_1m += t->failed[b];
        }
    if (t->prog) {
        ret->desired = t->prog->want;
        for (unsigned i = 0; i < t->prog->ninstances; i++) {
            struct job_slot *sl = slot_of(&t->prog->instances[i]);

            if (!t->prog->instances[i].pid)
                continue;
            ret->instances++;
            if (sl && sl->nheld)
                ret->busy++;
            else if (sl && sl->conn && sl->credit)
                ret->idle++;
        }
    }
}

void
jobs_instance_figures(const struct instance *in, int64_t now_unix_ms,
                      struct jobs_instance_figures *ret)
{
    struct job_slot *s = slot_of(in);

    *ret = (struct jobs_instance_figures){ .idle_ms = -1 };
    if (!in->sup->jobs || !in->prog->cfg->jobs.enabled)
        return;
    ret->takes_jobs = true;
    if (!s)
        return;
    for (unsigned i = 0; i < s->nheld; i++)
        s->held_ids[i] = s->held[i]->q.id;
    ret->held = s->held_ids;
    ret->nheld = s->nheld;
    ret->idle_ms = s->idle_since_ms && s->conn && !s->nheld ? now_unix_ms - s->idle_since_ms : -1;
    ret->last_job_ms = s->last_job_ms;
    ret->done = s->jobs_done;
    ret->failed = s->jobs_failed;
    ret->pings_passed = s->pings_passed;
    ret->pings_failed = s->pings_failed;
}

void
jobs_metrics(struct supervisor *sup, size_t type, int64_t now_unix_ms, struct metrics_job_type *ret)
{
    struct jobs *js = J(sup);
    struct type_info *t = &js->types[type];
    struct jobs_type_figures f;

    jobs_type_figures(sup, type, now_unix_ms, &f);
    *ret = (struct metrics_job_type){
        .type = f.type,
        .oldest_waiting_s = f.oldest_waiting_s,
        .submitted = t->c.submitted,
        .stale_results = t->c.stale_results,
        .wait = &t->wait,
        .run = &t->run,
    };
    memcpy(ret->state, f.state, sizeof(ret->state));
    memcpy(ret->finished, t->c.finished, sizeof(ret->finished));
    memcpy(ret->retries, t->c.retries, sizeof(ret->retries));
}

void
jobs_channel_counters(struct supervisor *sup, uint64_t *ret_malformed, uint64_t *ret_refused)
{
    struct jobs *js = J(sup);

    *ret_malformed = js && js->chan_open ? js->chan.malformed : 0;
    *ret_refused = js && js->chan_open ? js->chan.refused : 0;
}

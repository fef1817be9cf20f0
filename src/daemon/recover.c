/*
 * recover: scanning for and stopping a previous drover's processes.
 * See recover.h; docs/checkpoint.md states the rules.
 */
#include "daemon/recover.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <unistd.h>

#include "core/util.h"
#include "os/afile.h"
#include "os/log.h"
#include "os/procfs.h"

#define KILL_WAIT_MS 5000

int
recover_generation(char *buf, size_t size)
{
    struct proc_stat st;
    int r = proc_read_stat(getpid(), &st);

    if (r < 0)
        return r;
    (void)snprintf(buf, size, "%d.%" PRIu64, (int)getpid(), st.start_time);
    return 0;
}

static struct survivor *
add(struct survivors *s)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        struct survivor *v = realloc(s->v, cap * sizeof(*v));
        if (!v)
            return NULL;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n] = (struct survivor){ .pidfd = -1 };
    return &s->v[s->n++];
}

static bool
drover_alive(pid_t pid, uint64_t start_time)
{
    struct proc_stat st;

    return pid != getpid() && proc_read_stat(pid, &st) == 0 && st.start_time == start_time &&
           st.state != 'Z';
}

/*
 * What a process is to us. Only VERDICT_OURS is ever signalled or adopted:
 * a process that carries this dumpfile's marker and the generation of a
 * drover that is gone, and, when the sweep found it, runs as drover's uid
 * or as a `user` the configuration starts a program as (a process of that
 * user that copied the marker can only get its own processes stopped).
 * Anything else is left alone, because a pid, a start time (public in
 * /proc) and an environment are all things someone else could have chosen.
 * A record of the (trusted) dumpfile is not held to the uid: it names pid
 * and start time of a process that drover itself spawned, which may have
 * changed its uid since (setpriv, gosu); such a one is stopped, not
 * adopted (persist.c).
 */
enum verdict {
    VERDICT_OURS,
    VERDICT_GONE,
    VERDICT_RECYCLED,    /* the pid belongs to a process with another start time */
    VERDICT_UNSAFE,      /* pid <= 1 or drover itself: never */
    VERDICT_NO_MARKER,   /* not this dumpfile's DROVER_DUMPFILE, or not the expected generation */
    VERDICT_OTHER_UID,   /* carries the marker, but runs as a user drover starts nothing as */
    VERDICT_UNREADABLE,  /* drover's uid, but its environment cannot be read (not dumpable) */
    VERDICT_LIVE_DROVER, /* its generation's drover is alive (or is us) */
    VERDICT__MAX,
    VERDICT_INVALID = -1
};

struct scan {
    struct survivors *s;
    const char *dumpfile;
    const char *own_generation;
    pid_t *seen;       /* pids the dumpfile named, whatever their verdict: the sweep skips them */
    const uid_t *uids; /* drover's euid and every configured `user`: who our children run as */
    size_t nuids;
    size_t nseen, capseen;
};

struct examined {
    int pidfd;
    struct proc_stat st; /* read after the pidfd was opened and the environment was read */
    uid_t uid;
    gid_t gid;
    bool marked; /* carries this dumpfile's DROVER_DUMPFILE */
    char generation[CKPT_GENERATION_SIZE];
    pid_t generation_pid;
};

static bool
uid_ours(const struct scan *sc, uid_t uid)
{
    for (size_t i = 0; i < sc->nuids; i++)
        if (sc->uids[i] == uid)
            return true;
    return false;
}

/*
 * Is pid one of ours (see enum verdict)? A pidfd is opened first, so once
 * the start time read after everything else still matches, the uid and the
 * environment read belong to the process the pidfd refers to. want_start
 * NULL: whatever pid is now (the sweep). want_generation NULL: any generation.
 * any_uid: a record's process, held to the marker and generation only (see
 * enum verdict). On VERDICT_OURS the pidfd moves to ret; ret->uid and
 * ret->generation are filled as far as they were read, for the caller.
 */
static enum verdict
examine(const struct scan *sc, pid_t pid, const uint64_t *want_start, const char *want_generation,
        bool any_uid, struct examined *ret)
{
    struct proc_stat st, again;
    char value[PATH_MAX + 1];
    uint64_t gstart;
    enum verdict v;
    int fd, r;

    if (pid <= 1 || pid == getpid())
        return VERDICT_UNSAFE;
    fd = pidfd_open(pid, 0);
    if (fd < 0)
        return VERDICT_GONE;
    if (proc_read_stat(pid, &st) < 0 || st.state == 'Z') {
        v = VERDICT_GONE;
        goto out;
    }
    if (want_start && st.start_time != *want_start) {
        v = VERDICT_RECYCLED;
        goto out;
    }
    v = VERDICT_NO_MARKER;
    r = proc_environ_get(pid, "DROVER_DUMPFILE", value, sizeof(value));
    if (r == -ESRCH) {
        v = VERDICT_GONE;
        goto out;
    }
    ret->marked = r == 0 && strcmp(value, sc->dumpfile) == 0;
    /* Unreadable (another user's, or not dumpable; drover not root): say which. */
    if (!ret->marked && r != -EACCES && r != -EPERM)
        goto out;
    if (proc_read_ids(pid, &ret->uid, &ret->gid) < 0) {
        v = VERDICT_GONE;
        goto out;
    }
    if (!uid_ours(sc, ret->uid) && (!any_uid || !ret->marked)) {
        v = VERDICT_OTHER_UID;
        goto out;
    }
    if (!ret->marked) {
        v = VERDICT_UNREADABLE; /* r was -EACCES or -EPERM: it may be ours, nobody can tell */
        goto out;
    }
    if (proc_environ_get(pid, "DROVER_GENERATION", ret->generation, sizeof(ret->generation)) < 0 ||
        ckpt_parse_generation(ret->generation, &ret->generation_pid, &gstart) < 0) {
        ret->generation[0] = '\0';
        goto out;
    }
    if (want_generation && strcmp(ret->generation, want_generation) != 0)
        goto out;
    if (strcmp(ret->generation, sc->own_generation) == 0 ||
        drover_alive(ret->generation_pid, gstart)) {
        v = VERDICT_LIVE_DROVER;
        goto out;
    }
    /* Last: if the pid had been reused while we read, the start time would differ now. */
    if (proc_read_stat(pid, &again) < 0 || again.state == 'Z' ||
        again.start_time != st.start_time) {
        v = VERDICT_GONE;
        goto out;
    }
    ret->pidfd = fd;
    ret->st = again;
    return VERDICT_OURS;
out:
    (void)close(fd);
    return v;
}

static bool
seen(const struct scan *sc, pid_t pid)
{
    for (size_t i = 0; i < sc->nseen; i++)
        if (sc->seen[i] == pid)
            return true;
    return false;
}

static int
mark_seen(struct scan *sc, pid_t pid)
{
    if (sc->nseen == sc->capseen) {
        size_t cap = sc->capseen ? sc->capseen * 2 : 64;
        pid_t *v = realloc(sc->seen, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        sc->seen = v;
        sc->capseen = cap;
    }
    sc->seen[sc->nseen++] = pid;
    return 0;
}

/* Says why a record of the dumpfile is not acted on. */
static void
log_refused_record(const struct ckpt_entry *e, enum verdict v, const struct examined *x)
{
    switch (v) {
    case VERDICT_UNSAFE:
        log_warnx("%s:%u: the dumpfile names pid %d, process group %d: drover never signals a "
                  "pid or process group <= 1, its own or its own process group; ignoring the "
                  "record",
                  e->program, e->instance, (int)e->pid, (int)e->pgid);
        break;
    case VERDICT_GONE:
        log_info("%s:%u pid %d is gone", e->program, e->instance, (int)e->pid);
        break;
    case VERDICT_RECYCLED:
        log_info("%s:%u pid %d now belongs to another process (start time differs): not this "
                 "record's process; the process-table sweep decides",
                 e->program, e->instance, (int)e->pid);
        break;
    case VERDICT_NO_MARKER:
        log_info("%s:%u pid %d does not carry this dumpfile's DROVER_DUMPFILE and "
                 "DROVER_GENERATION=%s: not this record's process; the process-table sweep decides",
                 e->program, e->instance, (int)e->pid, e->generation);
        break;
    case VERDICT_OTHER_UID:
        log_warnx("%s:%u pid %d runs as uid %u, neither drover's uid %u nor a configured user's, "
                  "and its environment cannot be read: not ours as far as drover can tell, "
                  "leaving it alone",
                  e->program, e->instance, (int)e->pid, (unsigned)x->uid, (unsigned)geteuid());
        break;
    case VERDICT_UNREADABLE:
        log_warnx("%s:%u pid %d: its environment cannot be read (not dumpable: it called "
                  "prctl(PR_SET_DUMPABLE, 0) or exec'd a set-id program), so drover cannot tell "
                  "whether it is that instance; leaving it running (stop it by hand: kill %d)",
                  e->program, e->instance, (int)e->pid, (int)e->pid);
        break;
    case VERDICT_LIVE_DROVER:
        log_warnx("%s:%u pid %d belongs to drover %s, which is alive: leaving it alone", e->program,
                  e->instance, (int)e->pid, x->generation);
        break;
    case VERDICT_OURS:
    case VERDICT__MAX:
    case VERDICT_INVALID:
        break;
    }
}

static int
scan_dumpfile(struct scan *sc)
{
    struct survivors *s = sc->s;
    struct ckpt c;
    char *data, err[256];
    size_t len;
    int r;

    r = afile_load(sc->dumpfile, CKPT_MAX_BYTES, &data, &len, err, sizeof(err));
    if (r == -ENOENT) {
        log_info("dumpfile %s does not exist yet: nothing to recover from it", sc->dumpfile);
        return 0;
    }
    if (r < 0) {
        log_warnx("dumpfile %s %s%s; recovering from the process table only", sc->dumpfile, err,
                  r == -EPERM ? ": not trusting it" : "");
        return 0;
    }
    r = ckpt_unpack(data, len, &c, err, sizeof(err));
    free(data);
    if (r < 0) {
        log_warnx("dumpfile %s is unusable (%s); recovering from the process table only",
                  sc->dumpfile, err);
        return 0;
    }
    if (drover_alive(c.drover_pid, c.drover_start_time)) {
        s->old_drover = c.drover_pid;
        ckpt_done(&c);
        return -EBUSY;
    }
    s->old_drover = c.drover_pid;
    s->scales = c.scales; /* ownership moves: ckpt_done() below leaves them */
    s->nscales = c.nscales;
    c.scales = NULL;
    c.nscales = 0;
    log_info("dumpfile %s: drover %d is gone, checking the %zu instance%s it recorded",
             sc->dumpfile, (int)c.drover_pid, c.nentries, c.nentries == 1 ? "" : "s");
    for (size_t i = 0; i < c.nentries; i++) {
        const struct ckpt_entry *e = &c.entries[i];
        struct examined x = { .pidfd = -1 };
        struct survivor *sv;
        enum verdict v;

        if (seen(sc, e->pid))
            continue;
        /* A group is signalled as a whole: the recorded one must be neither init's nor ours. */
        v = e->pgid <= 1 || e->pgid == getpgrp()
                ? VERDICT_UNSAFE
                : examine(sc, e->pid, &e->start_time, e->generation, true, &x);
        /*
         * Settled: the sweep skips it. A process that is not this record's
         * (another start time, another generation: say one an earlier drover
         * had adopted) is the sweep's to judge, like any other.
         */
        if (v != VERDICT_RECYCLED && v != VERDICT_NO_MARKER && mark_seen(sc, e->pid) < 0) {
            if (v == VERDICT_OURS)
                (void)close(x.pidfd);
            ckpt_done(&c);
            return -ENOMEM;
        }
        if (v != VERDICT_OURS) {
            log_refused_record(e, v, &x);
            continue;
        }
        if (!(sv = add(s))) {
            (void)close(x.pidfd);
            ckpt_done(&c);
            return -ENOMEM;
        }
        *sv = (struct survivor){
            .pid = e->pid,
            .pidfd = x.pidfd,
            .pgid = x.st.pgid,
            .start_time = e->start_time,
            /* Its group now (read after the pidfd was opened) must be the recorded one. */
            .leader = e->pid == e->pgid && x.st.pgid == e->pgid,
            .from_dumpfile = true,
            .uid = x.uid,
            .gid = x.gid,
            .instance = e->instance,
            .port = e->port,
            .stale = e->stale,
        };
        (void)snprintf(sv->program, sizeof(sv->program), "%s", e->program);
        (void)snprintf(sv->generation, sizeof(sv->generation), "%s", x.generation);
        (void)snprintf(sv->jobs_token, sizeof(sv->jobs_token), "%s", e->jobs_token);
        if (e->pid == e->pgid && !sv->leader)
            log_info("%s:%u pid %d left its process group %d: only the process itself will be "
                     "signalled",
                     e->program, e->instance, (int)e->pid, (int)e->pgid);
    }
    ckpt_done(&c);
    return 0;
}

static int
sweep_one(pid_t pid, void *arg)
{
    struct scan *sc = arg;
    struct examined x = { .pidfd = -1 };
    struct survivor *sv;
    char num[16];
    enum verdict v;

    if (seen(sc, pid))
        return 0;
    v = examine(sc, pid, 0, NULL, false, &x);
    if (v == VERDICT_OTHER_UID && x.marked) {
        log_warnx("pid %d carries this dumpfile's marker but runs as uid %u, neither drover's uid "
                  "%u nor a configured user's: not ours, leaving it alone",
                  (int)pid, (unsigned)x.uid, (unsigned)geteuid());
        return 0;
    }
    if (v == VERDICT_LIVE_DROVER && strcmp(x.generation, sc->own_generation) != 0) {
        log_warnx("pid %d belongs to drover %d, which is alive and uses the same dumpfile: leaving "
                  "it alone",
                  (int)pid, (int)x.generation_pid);
        return 0;
    }
    if (v != VERDICT_OURS)
        return 0;
    if (!(sv = add(sc->s))) {
        (void)close(x.pidfd);
        return -ENOMEM;
    }
    *sv = (struct survivor){
        .pid = pid,
        .pidfd = x.pidfd,
        .pgid = x.st.pgid,
        .start_time = x.st.start_time,
        .leader = pid == x.st.pgid,
        .uid = x.uid,
        .gid = x.gid,
    };
    (void)snprintf(sv->generation, sizeof(sv->generation), "%s", x.generation);
    /*
     * Names are at most CFG_NAME_MAX; a longer value is not one of ours and
     * stays unknown. For the stop signal and the log only: what the
     * environment claims never decides what is adopted (docs/checkpoint.md).
     */
    if (proc_environ_get(pid, "DROVER_PROGRAM", sv->program, sizeof(sv->program)) < 0)
        sv->program[0] = '\0';
    if (proc_environ_get(pid, "DROVER_INSTANCE", num, sizeof(num)) == 0)
        sv->instance = (unsigned)strtoul(num, NULL, 10);
    if (sv->leader)
        log_info("pid %d (%s:%u), main process of an earlier drover's instance, found in the "
                 "process table%s",
                 (int)pid, sv->program[0] ? sv->program : "?", sv->instance,
                 sc->s->old_drover ? " (spawned after the last checkpoint)" : "");
    else
        log_info("pid %d (%s:%u), a descendant of an earlier drover's instance, found in the "
                 "process table",
                 (int)pid, sv->program[0] ? sv->program : "?", sv->instance);
    return 0;
}

int
recover_scan(const char *dumpfile, const char *own_generation, const uid_t *uids, size_t nuids,
             struct survivors *ret)
{
    struct scan sc = { .s = ret,
                       .dumpfile = dumpfile,
                       .own_generation = own_generation,
                       .uids = uids,
                       .nuids = nuids };
    int r;

    *ret = (struct survivors){ 0 };
    r = scan_dumpfile(&sc);
    if (r == 0) {
        r = proc_each_pid(sweep_one, &sc);
        if (r < 0 && r != -ENOMEM) {
            log_warnx("cannot walk /proc: %s; only the dumpfile was used", strerror(-r));
            r = 0;
        }
    }
    free(sc.seen);
    return r;
}

static bool
exited(int pidfd)
{
    struct pollfd p = { .fd = pidfd, .events = POLLIN };

    return poll(&p, 1, 0) == 1;
}

/* Waits until every pidfd of a SURVIVOR_STOP is readable (the process exited) or the deadline
 * passes. */
static size_t
wait_all(struct survivors *s, int64_t deadline_ms)
{
    size_t alive;

    for (;;) {
        struct pollfd pfds[256];
        nfds_t n = 0;
        int64_t left;

        alive = 0;
        for (size_t i = 0; i < s->n; i++) {
            if (s->v[i].fate != SURVIVOR_STOP || s->v[i].pidfd < 0 || exited(s->v[i].pidfd))
                continue;
            alive++;
            if (n < ARRAY_SIZE(pfds))
                pfds[n++] = (struct pollfd){ .fd = s->v[i].pidfd, .events = POLLIN };
        }
        left = deadline_ms - util_now_ms();
        if (alive == 0 || left <= 0)
            return alive;
        (void)poll(pfds, n, (int)(left > 100 ? 100 : left));
    }
}

static const struct program_cfg *
find_program(const struct config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nprograms; i++)
        if (strcmp(cfg->programs[i].name, name) == 0)
            return &cfg->programs[i];
    return NULL;
}

static int
stop_signal(const struct config *cfg, const struct survivor *sv)
{
    const struct program_cfg *p = find_program(cfg, sv->program);

    return p ? p->policy.stop_signal : SIGTERM;
}

/*
 * The one place recovery sends a signal. Whatever a survivor's fields say,
 * nothing here reaches pid or process group <= 1, drover itself or its own
 * group. The group is addressed only while its leader is verifiably alive
 * and still its leader (pgid read again now): a group number cannot be
 * reused while its leader lives. Everything else goes through the pidfd.
 */
static bool
signal_survivor(const struct survivor *sv, int sig)
{
    struct proc_stat st;

    if (sv->pid <= 1 || sv->pid == getpid() || sv->pidfd < 0)
        return false;
    if (sv->leader && sv->pgid > 1 && sv->pgid == sv->pid && sv->pgid != getpgrp() &&
        !exited(sv->pidfd) && proc_read_stat(sv->pid, &st) == 0 &&
        st.start_time == sv->start_time && st.pgid == sv->pgid && kill(-sv->pgid, sig) == 0)
        return true;
    (void)pidfd_send_signal(sv->pidfd, sig, NULL, 0);
    return false;
}

static bool
group_signalled(const struct survivors *s, pid_t pgid)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].group_signalled && s->v[i].pgid == pgid)
            return true;
    return false;
}

/*
 * One signal to every survivor being stopped that has not exited, each
 * process once: a second SIGTERM is "stop now" to many programs. Leaders
 * first, through their group; then the others their group did not reach
 * (a member that has left it since is signalled on its own).
 */
static void
signal_round(struct survivors *s, const struct config *cfg, int sig_override)
{
    /* This round's groups only: a leader gone since the last round reached nobody now. */
    for (size_t i = 0; i < s->n; i++)
        s->v[i].group_signalled = false;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < s->n; i++) {
            struct survivor *sv = &s->v[i];
            struct proc_stat st;

            if (sv->fate != SURVIVOR_STOP || sv->leader != (pass == 0) || exited(sv->pidfd))
                continue;
            if (pass == 1 && proc_read_stat(sv->pid, &st) == 0 && st.pgid == sv->pgid &&
                group_signalled(s, sv->pgid))
                continue;
            sv->group_signalled =
                signal_survivor(sv, sig_override ? sig_override : stop_signal(cfg, sv));
        }
    }
}

void
recover_stop(struct survivors *s, const struct config *cfg)
{
    int64_t timeout = 0;
    size_t nstop = 0, left;

    for (size_t i = 0; i < s->n; i++) {
        struct survivor *sv = &s->v[i];
        const struct program_cfg *p;

        if (sv->fate != SURVIVOR_STOP)
            continue;
        p = find_program(cfg, sv->program);
        if (p && p->policy.stop_timeout_ms > timeout)
            timeout = p->policy.stop_timeout_ms;
        else if (!p && timeout < 10000)
            timeout = 10000;
        log_info("stopping pid %d (%s:%u) left by an earlier drover with SIG%s", (int)sv->pid,
                 sv->program[0] ? sv->program : "?", sv->instance,
                 util_signal_name(stop_signal(cfg, sv)));
        nstop++;
    }
    if (nstop == 0)
        return;
    signal_round(s, cfg, 0);
    left = wait_all(s, util_now_ms() + timeout);
    if (left > 0) {
        log_warnx(
            "%zu process%s of an earlier drover still running after the stop timeout: SIGKILL",
            left, left == 1 ? "" : "es");
        signal_round(s, cfg, SIGKILL);
        left = wait_all(s, util_now_ms() + KILL_WAIT_MS);
        if (left > 0)
            log_warnx("%zu process%s of an earlier drover did not die within %d ms of SIGKILL",
                      left, left == 1 ? "" : "es", KILL_WAIT_MS);
    }
    log_info("stopped %zu process%s left by an earlier drover", nstop - left,
             nstop - left == 1 ? "" : "es");
}

void
recover_done(struct survivors *s)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].pidfd >= 0 && s->v[i].fate != SURVIVOR_ADOPT)
            (void)close(s->v[i].pidfd);
    free(s->v);
    for (size_t i = 0; i < s->nscales; i++)
        free(s->scales[i].program);
    free(s->scales);
    *s = (struct survivors){ 0 };
}

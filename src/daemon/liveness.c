/*
 * liveness: is each worker alive and polling, and is drover?
 *
 * Owns the notify socket (sd_notify datagrams from workers, each checked
 * against the instance it claims to be), the per-program heartbeat slot
 * regions, the silence check, and drover's own READY/WATCHDOG/STOPPING to
 * its supervisor. A beat is READY=1 or WATCHDOG=1 on the socket, or a store
 * into the worker's slot; the later of the two counts.
 *
 * The silence check costs nothing while nobody configured a heartbeat
 * timeout. With one, each program has one timer set to the earliest moment
 * one of its instances could turn silent (capped at 1 s, which is also how
 * often drover marks itself alive in the slots), so a silence is noticed
 * when it happens, not at the next tick of a poll.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/utf8.h"
#include "core/util.h"
#include "os/notify.h"
#include "os/procfs.h"
#include "os/rundir.h"
#include "os/sockfile.h"
#include "daemon/supervisor_int.h"
#include "daemon/liveness.h"

#define NOTIFY_ENV_PREFIX "NOTIFY_SOCKET="
#define NOTIFY_BATCH 512        /* datagrams per wake-up, so one flood cannot starve the loop */
#define SUPERVISOR_TICK_MS 1000 /* drover's own beat in the slots, while anyone watches */

static void hb_timer_fired(struct timer *t, int64_t now_ms);
static void hb_scan(struct program *prog, int64_t now_ns);
static void up_timer_fired(struct timer *t, int64_t now_ms);

static void notify_ready(struct loop_source *src, uint32_t events);

/*
 * The notify socket: a file in drover's private runtime directory (rundir.h),
 * so no other user can bind its name first or read the workers' datagrams.
 * The name is stable for a given dumpfile, so adopted workers, whose
 * NOTIFY_SOCKET was set by the previous drover, reach this one. Logs;
 * returns 0 or -errno.
 */
static int
socket_name(const struct supervisor *sup, char *buf, size_t size)
{
    char dir[PATH_MAX], err[RUNDIR_ERR_MAX];
    int n, r;

    if (!rundir_path(dir, sizeof(dir))) {
        log_errorx("drover's runtime directory ($XDG_RUNTIME_DIR/drover) is longer than %zu bytes",
                   sizeof(dir) - 1);
        return -ENAMETOOLONG;
    }
    if ((r = rundir_make(dir, err, sizeof(err))) < 0) {
        log_errorx("%s", err);
        return r;
    }
    if (sup->dumpfile)
        n = snprintf(buf, size, "%s/notify-%016" PRIx64 ".sock", dir, util_hash_str(sup->dumpfile));
    else
        n = snprintf(buf, size, "%s/notify-%d.sock", dir, (int)getpid());
    if (n < 0 || (size_t)n >= size) {
        log_errorx("the notify socket path %s/notify-....sock is longer than %zu bytes (a socket's "
                   "limit): give drover a shorter XDG_RUNTIME_DIR",
                   dir, size - 1);
        return -ENAMETOOLONG;
    }
    return 0;
}

/*
 * Binds the notify socket at name, in drover's runtime directory, under the
 * directory's lock (sockfile.h: no other drover of our user clears or binds
 * there meanwhile). A drover killed by SIGKILL leaves its socket file
 * behind: every notify socket there that nobody is bound to is removed
 * while the lock is held; a live one is another drover's and stays.
 * Returns the fd or -errno (not logged).
 */
static int
bind_notify(const char *name)
{
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
    const char *slash = strrchr(name, '/');
    unsigned swept;
    int lock, fd;

    if (!slash || slash == name || (size_t)(slash - name) >= sizeof(dir))
        return notify_open(name);
    (void)snprintf(dir, sizeof(dir), "%.*s", (int)(slash - name), name);
    lock = sockfile_lock_dir(dir);
    if (lock < 0)
        return lock;
    fd = notify_open(name);
    swept = fd >= 0 ? sockfile_sweep(dir, "notify-", ".sock", name, SOCK_DGRAM) : 0;
    (void)close(lock);
    if (swept)
        log_debug("removed %u stale notify socket%s from %s", swept, swept == 1 ? "" : "s", dir);
    return fd;
}

static void
setup_upward(struct supervisor *sup)
{
    const char *ns = getenv("NOTIFY_SOCKET"), *usec = getenv("WATCHDOG_USEC");
    const char *wpid = getenv("WATCHDOG_PID");

    sup->up_notify = ns && *ns;
    timer_init(&sup->up_timer, up_timer_fired);
    if (!sup->up_notify || !usec)
        return;
    /* As sd_watchdog_enabled(): a WATCHDOG_PID naming another process means not us. */
    if (wpid && strtol(wpid, NULL, 10) != (long)getpid())
        return;
    /* As sd_watchdog_enabled(): anything but a positive number of microseconds means off. */
    {
        char *end;
        long long us;

        errno = 0;
        us = strtoll(usec, &end, 10);
        if (errno || end == usec || *end || us <= 0) {
            log_warnx("WATCHDOG_USEC=\"%s\" is not a positive number of microseconds, ignoring it",
                      usec);
            return;
        }
        /* Half the period, as systemd advises; at least 1 ms. */
        sup->up_watchdog_ms = us / 2000 > 0 ? us / 2000 : 1;
    }
}

/*
 * Is fd what drover made as prog's slots: a memfd named "drover:NAME", and
 * not the region another program has now? The worker's environment said
 * which of its descriptors to look at, and a worker can rewrite its own
 * environment: without this, a program's user could hand drover (root)
 * another program's region, or anything else, to give its own instances.
 */
static bool
region_is_programs(const struct program *prog, int fd)
{
    char self[64], link[CFG_NAME_MAX + 64], want[CFG_NAME_MAX + 64];
    struct stat st, other;
    ssize_t n;

    (void)snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
    n = readlink(self, link, sizeof(link) - 1);
    if (n < 0)
        return false;
    link[n] = '\0';
    (void)snprintf(want, sizeof(want), "/memfd:drover:%s (deleted)", prog->cfg->name);
    if (strcmp(link, want) != 0 || fstat(fd, &st) < 0)
        return false;
    for (size_t p = 0; p < prog->sup->pool.nprograms; p++) {
        const struct program *q = prog->sup->pool.programs[p];

        if (q != prog && q->hb.fd >= 0 && fstat(q->hb.fd, &other) == 0 &&
            other.st_dev == st.st_dev && other.st_ino == st.st_ino)
            return false;
    }
    return true;
}

/*
 * Adopted workers beat into the previous drover's slots. Reopening that
 * memfd through one of them (/proc/PID/fd/N, N a number only) keeps their
 * beats visible; it replaces the fresh region, and new instances of the
 * program then share it. Returns true if taken over.
 */
static bool
adopt_region(struct program *prog)
{
    for (unsigned i = 0; i < prog->ninstances; i++) {
        struct instance *in = &prog->instances[i];
        struct heartbeat_region old;
        char num[16], path[64];
        int fd;

        if (!in->adopted ||
            proc_environ_get(in->pid, DROVER_ENV_HEARTBEAT_FD, num, sizeof(num)) < 0)
            continue;
        if (!num[0] || strspn(num, "0123456789") != strlen(num) || strlen(num) > 9) {
            inst_log(LOG_LVL_WARN, in,
                     "its " DROVER_ENV_HEARTBEAT_FD " is not a descriptor number; not adopting "
                     "heartbeat slots through it");
            continue;
        }
        (void)snprintf(path, sizeof(path), "/proc/%d/fd/%s", (int)in->pid, num);
        fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0)
            continue;
        if (!region_is_programs(prog, fd)) {
            inst_log(LOG_LVL_WARN, in,
                     "its descriptor %s is not this program's heartbeat slots; not adopting it",
                     num);
            (void)close(fd);
            continue;
        }
        if (heartbeat_region_adopt(&old, fd, prog->cfg->max_instances) < 0)
            continue;
        heartbeat_region_close(&prog->hb);
        prog->hb = old;
        log_info("%s: adopted the earlier drover's heartbeat slots", prog->cfg->name);
        return true;
    }
    return false;
}

/*
 * Everything here can fail, so it comes before recovery stops or adopts a
 * process: the notify socket and each program's fresh heartbeat region.
 */
int
liveness_setup(struct supervisor *sup)
{
    char name[sizeof(((struct sockaddr_un *)0)->sun_path)];
    int fd, r;

    if ((r = socket_name(sup, name, sizeof(name))) < 0)
        return r;
    fd = bind_notify(name);
    if (fd == -EADDRINUSE) {
        log_errorx("notify socket %s is in use by another drover (one with the same --dumpfile?)",
                   name);
        return fd;
    }
    if (fd < 0) {
        log_errorx("cannot bind the notify socket %s: %s", name,
                   fd == -EEXIST ? "it exists and is not a socket" : strerror(-fd));
        return fd;
    }
    /* Set together with the fd: liveness_done() removes the file it names. */
    (void)snprintf(sup->notify_env, sizeof(sup->notify_env), NOTIFY_ENV_PREFIX "%s", name);
    sup->notify = loop_source(fd, notify_ready, LOOP_PRIO_SUPERVISE);
    if ((r = loop_add(&sup->loop, &sup->notify)) < 0)
        return r;
    for (size_t p = 0; p < sup->pool.nprograms; p++)
        if ((r = liveness_program_open(sup->pool.programs[p])) < 0)
            return r;
    setup_upward(sup);
    log_debug("notify socket %s", name);
    return 0;
}

int
liveness_program_open(struct program *prog)
{
    char rname[CFG_NAME_MAX + 16];
    int r;

    timer_init(&prog->hb_timer, hb_timer_fired);
    (void)snprintf(rname, sizeof(rname), "drover:%s", prog->cfg->name);
    if ((r = heartbeat_region_open(&prog->hb, rname, prog->cfg->max_instances)) < 0)
        log_errorx("cannot create the heartbeat slots of \"%s\": %s", prog->cfg->name,
                   strerror(-r));
    return r;
}

void
liveness_program_close(struct program *prog)
{
    timer_cancel(&prog->sup->timers, &prog->hb_timer);
    heartbeat_region_close(&prog->hb);
}

/* After recovery: a program with adopted instances keeps their slots (else the fresh ones). */
void
liveness_adopted(struct supervisor *sup)
{
    for (size_t p = 0; p < sup->pool.nprograms; p++)
        (void)adopt_region(sup->pool.programs[p]);
    /* Adopted instances were never spawned here: start watching them now. */
    for (size_t p = 0; p < sup->pool.nprograms; p++)
        if (sup->pool.programs[p]->cfg->heartbeat_timeout_ms)
            hb_scan(sup->pool.programs[p], util_now_ns());
}

void
liveness_done(struct supervisor *sup)
{
    for (size_t p = 0; sup->pool.programs && p < sup->pool.nprograms; p++)
        heartbeat_region_close(&sup->pool.programs[p]->hb);
    /* Our socket file goes with us; one we could not bind was someone else's. */
    if (sup->notify.fd >= 0)
        (void)unlink(sup->notify_env + strlen(NOTIFY_ENV_PREFIX));
    loop_close(&sup->loop, &sup->notify);
}

/* --- silence ---------------------------------------------------------------------------------- */

/*
 * The slot's beat as drover counts it. A worker writes CLOCK_MONOTONIC
 * times, so a value later than now is not one (CLOCK_REALTIME, garbage):
 * taken as it is, it would hide every silence, or make one negative. A new
 * such value counts as a beat at the moment drover first sees it, the same
 * value seen again is no new beat, so a worker that stopped writing still
 * goes silent. now_ns is the caller's clock reading (one per scan or
 * snapshot, not one per instance: /health reads 1,000 slots); a value
 * past it is checked against a fresh reading, so a real beat stored since
 * is never taken for one from the future.
 */
static int64_t
slot_beat_ns(struct instance *in, int64_t now_ns)
{
    uint64_t raw = heartbeat_last_beat(&in->prog->hb, in->index);

    if (raw <= (uint64_t)now_ns)
        return (int64_t)raw;
    now_ns = util_now_ns();
    if (raw <= (uint64_t)now_ns)
        return (int64_t)raw;
    if (raw != in->hb_future_raw) {
        in->hb_future_raw = raw;
        in->hb_future_seen_ns = now_ns;
        in->hb_future_total++;
        if (!in->hb_future_logged) {
            in->hb_future_logged = true; /* once per process: it will do it again */
            inst_log(LOG_LVL_WARN, in,
                     "heartbeat slot holds a time %.3g s ahead of CLOCK_MONOTONIC (is "
                     "it using CLOCK_MONOTONIC?); counting it as a beat when seen",
                     (double)(raw - (uint64_t)now_ns) / 1e9);
        }
    }
    return in->hb_future_seen_ns;
}

int64_t
liveness_last_beat_ns(struct instance *in, int64_t now_ns)
{
    int64_t slot = in->prog->hb.slots ? slot_beat_ns(in, now_ns) : 0;

    return slot > in->last_notify_beat_ns ? slot : in->last_notify_beat_ns;
}

static void
beat_again(struct instance *in, int64_t now_ns)
{
    char d[32];

    in->silent = false;
    inst_log(LOG_LVL_INFO, in, "beating again after %s of silence",
             util_format_duration(d, sizeof(d), (now_ns - in->silent_since_ns) / 1000000));
}

static void
went_silent(struct instance *in, int64_t silent_ns)
{
    const struct program_cfg *pc = in->prog->cfg;
    char d[32], t[32];

    in->silent = true;
    in->silent_since_ns = util_now_ns() - silent_ns; /* its last beat (or its start) */
    inst_log(LOG_LVL_WARN, in, "silent for %s (heartbeat timeout %s)%s",
             util_format_duration(d, sizeof(d), silent_ns / 1000000),
             util_format_duration(t, sizeof(t), pc->heartbeat_timeout_ms),
             pc->heartbeat_restart ? ", restarting it" : "");
    if (pc->heartbeat_restart)
        svc_dispatch(&in->svc, SVC_EV_HB_LATE, util_now_ms());
}

/* Checks every instance of prog and sets the timer to the next moment one may go silent. */
static void
hb_scan(struct program *prog, int64_t now_ns)
{
    int64_t timeout_ns = prog->cfg->heartbeat_timeout_ms * 1000000;
    int64_t next = INT64_MAX;
    bool anyone = false;

    for (unsigned i = 0; i < prog->ninstances; i++) {
        struct instance *in = &prog->instances[i];
        int64_t ref;

        if (!in->pid || in->svc.state == SVC_STOPPING)
            continue;
        anyone = true;
        ref = liveness_last_beat_ns(in, now_ns);
        if (ref < in->spawned_ns)
            ref = in->spawned_ns; /* never beat (or a stale slot): silence counts from the start */
        if (now_ns >= ref + timeout_ns) {
            if (!in->silent)
                went_silent(in, now_ns - ref);
        } else {
            if (in->silent)
                beat_again(in, now_ns);
            if (ref + timeout_ns < next)
                next = ref + timeout_ns;
        }
    }
    if (!anyone)
        return; /* nothing to watch: no timer, no wake-ups */
    heartbeat_supervisor_tick(&prog->hb, (uint64_t)now_ns);
    /* In ms, rounded up (never fire just before the deadline), at most one tick away. */
    int64_t tick_ms = now_ns / 1000000 + SUPERVISOR_TICK_MS;
    int64_t next_ms = next == INT64_MAX ? tick_ms : (next + 999999) / 1000000;
    (void)timer_arm(&prog->sup->timers, &prog->hb_timer, next_ms < tick_ms ? next_ms : tick_ms);
}

static void
hb_timer_fired(struct timer *t, int64_t now_ms)
{
    struct program *prog = container_of(t, struct program, hb_timer);

    (void)now_ms;
    hb_scan(prog, util_now_ns());
}

void
liveness_spawned(struct instance *in)
{
    struct program *prog = in->prog;

    in->spawned_ns = util_now_ns();
    in->last_notify_beat_ns = 0;
    in->silent = in->ready = in->said_stopping = false;
    in->notify_errno = 0;
    in->status[0] = '\0';
    in->hb_future_raw = 0; /* the slot was zeroed before the spawn */
    in->hb_future_logged = false;
    if (prog->hb.slots)
        heartbeat_slot_own(&prog->hb, in->index, in->pid);
    /*
     * Watched from now: a scan when nobody was watched, else the timer is
     * brought forward if this one's silence would come before it (a
     * replacement's, while the timer waited a whole tick). Called once its
     * state is stored (pool.h), so the scan sees it starting, not stopping.
     */
    if (!prog->cfg->heartbeat_timeout_ms)
        return;
    /* Rounded up, as hb_scan() does: never fire just before the deadline. */
    int64_t silent_at_ms = in->spawned_ns / 1000000 + prog->cfg->heartbeat_timeout_ms + 1;
    if (!timer_armed(&prog->hb_timer))
        hb_scan(prog, in->spawned_ns);
    else if (silent_at_ms < prog->hb_timer.deadline_ms)
        (void)timer_arm(&prog->sup->timers, &prog->hb_timer, silent_at_ms);
}

/* --- the notify socket ------------------------------------------------------------------------ */

/* The instance a sender belongs to: its main process, or a process in its group. */
struct instance *
liveness_find_sender(struct supervisor *sup, pid_t pid)
{
    struct instance *in = pidmap_get(&sup->pids, pid);
    pid_t pgid;

    if (in)
        return in;
    /* systemd-notify and helpers run as children of the worker: same process group. */
    if (pgidcache_get(&sup->senders, pid, &pgid) < 0)
        return NULL;
    in = pidmap_get(&sup->pids, pgid);
    return in && in->pgid == pgid ? in : NULL;
}

void
liveness_beat(struct instance *in, int64_t now_ns)
{
    in->last_notify_beat_ns = now_ns;
    if (in->silent)
        beat_again(in, now_ns);
}

static void
apply(struct instance *in, const struct notify_msg *m, int64_t now_ns)
{
    const struct program_cfg *pc = in->prog->cfg;

    if (m->ready || m->watchdog) {
        in->last_notify_beat_ns = now_ns;
        if (in->silent)
            beat_again(in, now_ns);
    }
    if (m->has_status) {
        /*
         * Kept whole and shown safely: invalid UTF-8 (which JSON cannot carry)
         * and control characters (terminal escapes in a log or a CLI) become
         * \xHH. in->status has room for every byte escaped.
         */
        (void)utf8_escape(m->status, m->status_len, in->status, sizeof(in->status),
                          UTF8_ESCAPE_CONTROLS);
        log_debug("%s: status \"%s\"", in->label, in->status);
    }
    if (m->has_errno && m->errno_value != in->notify_errno) {
        in->notify_errno = m->errno_value;
        inst_log(LOG_LVL_INFO, in, "reports ERRNO=%d (%s)", m->errno_value,
                 strerror(m->errno_value));
    }
    if (m->stopping && !in->said_stopping) {
        in->said_stopping = true;
        inst_log(LOG_LVL_INFO, in, "says it is stopping (STOPPING=1)");
    }
    if (m->ready && !in->ready) {
        in->ready = true;
        in->svc.ready_cause = "READY=1";
        svc_dispatch(&in->svc, SVC_EV_READY, now_ns / 1000000);
    }
    if (m->watchdog_trigger) {
        inst_log(LOG_LVL_WARN, in, "reports a failure (WATCHDOG=trigger)%s",
                 pc->heartbeat_timeout_ms && pc->heartbeat_restart ? ", restarting it" : "");
        if (pc->heartbeat_timeout_ms && pc->heartbeat_restart)
            svc_dispatch(&in->svc, SVC_EV_HB_LATE, now_ns / 1000000);
    }
}

static void
notify_ready(struct loop_source *src, uint32_t events)
{
    struct supervisor *sup = container_of(src, struct supervisor, notify);
    char buf[NOTIFY_MAX_DATAGRAM + 1];

    (void)events;
    for (int i = 0; i < NOTIFY_BATCH; i++) {
        struct notify_msg m;
        struct instance *in;
        pid_t pid = 0;
        ssize_t n = notify_recv(sup->notify.fd, buf, sizeof(buf) - 1, &pid);

        if (n == -EAGAIN)
            return;
        if (n == -EMSGSIZE || n == -EPROTO) {
            sup->notify_malformed++;
            log_debug("notify: dropped a datagram (%s)", strerror((int)-n));
            continue;
        }
        if (n < 0) {
            log_warnx("notify: receive failed: %s, ignoring", strerror((int)-n));
            return;
        }
        in = liveness_find_sender(sup, pid);
        if (!in || !in->pid) {
            /* One worker must not beat for another, nor a stranger for anyone. */
            sup->notify_foreign++;
            log_debug("notify: dropped a datagram from pid %d, which belongs to no instance",
                      (int)pid);
            continue;
        }
        if (notify_parse(buf, (size_t)n, &m) < 0) {
            sup->notify_malformed++;
            log_debug("%s: malformed notify datagram from pid %d, ignoring", in->label, (int)pid);
            continue;
        }
        sup->notify_accepted++;
        apply(in, &m, util_now_ns());
    }
}

/* --- drover's own notifications --------------------------------------------------------------- */

static void
up_timer_fired(struct timer *t, int64_t now_ms)
{
    struct supervisor *sup = container_of(t, struct supervisor, up_timer);

    if (notify_send("WATCHDOG=1") < 0)
        log_debug("cannot send WATCHDOG=1 to our own supervisor");
    (void)timer_arm(&sup->timers, t, now_ms + sup->up_watchdog_ms);
}

void
liveness_started(struct supervisor *sup)
{
    char text[96];
    int r;

    if (!sup->up_notify)
        return;
    (void)snprintf(text, sizeof(text), "READY=1\nSTATUS=supervising %zu instance%s",
                   sup->pool.ninstances, sup->pool.ninstances == 1 ? "" : "s");
    if ((r = notify_send(text)) < 0)
        log_warnx("cannot send READY=1 to our own supervisor: %s", strerror(-r));
    if (sup->up_watchdog_ms)
        (void)timer_arm(&sup->timers, &sup->up_timer, util_now_ms() + sup->up_watchdog_ms);
}

void
liveness_stopping(struct supervisor *sup)
{
    if (sup->up_notify)
        (void)notify_send("STOPPING=1");
}

/*
 * recover: scanning for and stopping a previous drover's processes.
 * See recover.h; docs/checkpoint.md states the rules.
 */
#include "recover.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <unistd.h>

#include "ckpt.h"
#include "log.h"
#include "procfs.h"
#include "util.h"

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
known(const struct survivors *s, pid_t pid)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].pid == pid)
            return true;
    return false;
}

/* pidfd for pid if pid is still the process that started at start_time; -1 otherwise. */
static int
verified_pidfd(pid_t pid, uint64_t start_time)
{
    struct proc_stat st;
    int fd = pidfd_open(pid, 0);

    if (fd < 0)
        return -1;
    /* Checked after opening: if the pid had been recycled, the start time would differ. */
    if (proc_read_stat(pid, &st) < 0 || st.start_time != start_time || st.state == 'Z') {
        (void)close(fd);
        return -1;
    }
    return fd;
}

static bool
drover_alive(pid_t pid, uint64_t start_time)
{
    struct proc_stat st;

    return pid != getpid() && proc_read_stat(pid, &st) == 0 && st.start_time == start_time &&
           st.state != 'Z';
}

static int
scan_dumpfile(const char *dumpfile, struct survivors *s)
{
    struct ckpt c;
    char *data, err[256];
    size_t len;
    int r;

    r = ckpt_load(dumpfile, &data, &len, err, sizeof(err));
    if (r == -ENOENT) {
        log_info("dumpfile %s does not exist yet: nothing to recover from it", dumpfile);
        return 0;
    }
    if (r < 0) {
        log_warnx("dumpfile %s %s%s; recovering from the process table only", dumpfile, err,
                  r == -EPERM ? ": not trusting it" : "");
        return 0;
    }
    r = ckpt_unpack(data, len, &c, err, sizeof(err));
    free(data);
    if (r < 0) {
        log_warnx("dumpfile %s is unusable (%s); recovering from the process table only", dumpfile,
                  err);
        return 0;
    }
    if (drover_alive(c.drover_pid, c.drover_start_time)) {
        s->old_drover = c.drover_pid;
        ckpt_done(&c);
        return -EBUSY;
    }
    s->old_drover = c.drover_pid;
    log_info("dumpfile %s: drover %d is gone, checking the %zu instance%s it recorded", dumpfile,
             (int)c.drover_pid, c.nentries, c.nentries == 1 ? "" : "s");
    for (size_t i = 0; i < c.nentries; i++) {
        const struct ckpt_entry *e = &c.entries[i];
        struct survivor *sv;
        int fd;

        if (known(s, e->pid))
            continue;
        fd = verified_pidfd(e->pid, e->start_time);
        if (fd < 0) {
            struct proc_stat st;
            if (proc_read_stat(e->pid, &st) == 0 && st.start_time != e->start_time)
                log_info("%s:%u pid %d now belongs to another process (start time differs): "
                         "leaving it alone",
                         e->program, e->instance, (int)e->pid);
            else
                log_info("%s:%u pid %d is gone", e->program, e->instance, (int)e->pid);
            continue;
        }
        if (!(sv = add(s))) {
            (void)close(fd);
            ckpt_done(&c);
            return -ENOMEM;
        }
        *sv = (struct survivor){
            .pid = e->pid,
            .pidfd = fd,
            .pgid = e->pgid,
            .start_time = e->start_time,
            .leader = e->pid == e->pgid,
            .from_dumpfile = true,
            .instance = e->instance,
            .port = e->port,
        };
        (void)snprintf(sv->program, sizeof(sv->program), "%s", e->program);
        (void)snprintf(sv->generation, sizeof(sv->generation), "%s", e->generation);
    }
    ckpt_done(&c);
    return 0;
}

struct sweep {
    struct survivors *s;
    const char *dumpfile;
    const char *own_generation;
    int err;
};

static int
sweep_one(pid_t pid, void *arg)
{
    struct sweep *w = arg;
    char value[4096], generation[CKPT_GENERATION_SIZE], num[16];
    struct proc_stat before;
    struct survivor *sv;
    unsigned long long gstart;
    int gpid, fd;

    if (pid == getpid() || known(w->s, pid))
        return 0;
    if (proc_read_stat(pid, &before) < 0 || before.state == 'Z')
        return 0;
    if (proc_environ_get(pid, "DROVER_DUMPFILE", value, sizeof(value)) < 0 ||
        strcmp(value, w->dumpfile) != 0)
        return 0;
    if (proc_environ_get(pid, "DROVER_GENERATION", generation, sizeof(generation)) < 0 ||
        strcmp(generation, w->own_generation) == 0)
        return 0;
    if (sscanf(generation, "%d.%llu", &gpid, &gstart) == 2 && drover_alive(gpid, gstart)) {
        log_warnx("pid %d belongs to drover %d, which is alive and uses the same dumpfile: leaving "
                  "it alone",
                  (int)pid, gpid);
        return 0;
    }
    /* The environment we read belongs to the process the pidfd names only if the start time held.
     */
    fd = verified_pidfd(pid, before.start_time);
    if (fd < 0)
        return 0;
    if (!(sv = add(w->s))) {
        (void)close(fd);
        return -ENOMEM;
    }
    *sv = (struct survivor){
        .pid = pid,
        .pidfd = fd,
        .pgid = before.pgid,
        .start_time = before.start_time,
        .leader = pid == before.pgid,
    };
    (void)snprintf(sv->generation, sizeof(sv->generation), "%s", generation);
    /* Names are at most CFG_NAME_MAX; a longer value is not one of ours and stays unknown. */
    if (proc_environ_get(pid, "DROVER_PROGRAM", sv->program, sizeof(sv->program)) < 0)
        sv->program[0] = '\0';
    if (proc_environ_get(pid, "DROVER_INSTANCE", num, sizeof(num)) == 0)
        sv->instance = (unsigned)strtoul(num, NULL, 10);
    if (proc_environ_get(pid, "DROVER_PORT", num, sizeof(num)) == 0)
        sv->port = (uint16_t)strtoul(num, NULL, 10);
    if (sv->leader)
        log_info("pid %d (%s:%u), main process of an earlier drover's instance, found in the "
                 "process table%s",
                 (int)pid, sv->program[0] ? sv->program : "?", sv->instance,
                 w->s->old_drover ? " (spawned after the last checkpoint)" : "");
    else
        log_info("pid %d (%s:%u), a descendant of an earlier drover's instance, found in the "
                 "process table",
                 (int)pid, sv->program[0] ? sv->program : "?", sv->instance);
    return 0;
}

int
recover_scan(const char *dumpfile, const char *own_generation, struct survivors *ret)
{
    struct sweep w = { .s = ret, .dumpfile = dumpfile, .own_generation = own_generation };
    int r;

    *ret = (struct survivors){ 0 };
    r = scan_dumpfile(dumpfile, ret);
    if (r < 0)
        return r;
    r = proc_each_pid(sweep_one, &w);
    if (r == -ENOMEM)
        return r;
    if (r < 0)
        log_warnx("cannot walk /proc: %s; only the dumpfile was used", strerror(-r));
    return 0;
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

static void
signal_survivor(struct survivor *sv, int sig)
{
    /* The group is only addressed while its leader is verifiably alive: its pgid is then its own.
     */
    if (sv->leader && !exited(sv->pidfd))
        (void)kill(-sv->pgid, sig);
    (void)pidfd_send_signal(sv->pidfd, sig, NULL, 0);
}

static const struct program_cfg *
find_program(const struct config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nprograms; i++)
        if (strcmp(cfg->programs[i].name, name) == 0)
            return &cfg->programs[i];
    return NULL;
}

void
recover_stop(struct survivors *s, const struct config *cfg)
{
    int64_t timeout = 0;
    size_t nstop = 0, left;

    for (size_t i = 0; i < s->n; i++) {
        struct survivor *sv = &s->v[i];
        const struct program_cfg *p;
        int sig;

        if (sv->fate != SURVIVOR_STOP)
            continue;
        p = find_program(cfg, sv->program);
        sig = p ? p->policy.stop_signal : SIGTERM;
        if (p && p->policy.stop_timeout_ms > timeout)
            timeout = p->policy.stop_timeout_ms;
        else if (!p && timeout < 10000)
            timeout = 10000;
        log_info("stopping pid %d (%s:%u) left by an earlier drover with SIG%s", (int)sv->pid,
                 sv->program[0] ? sv->program : "?", sv->instance, util_signal_name(sig));
        signal_survivor(sv, sig);
        nstop++;
    }
    if (nstop == 0)
        return;
    left = wait_all(s, util_now_ms() + timeout);
    if (left > 0) {
        log_warnx(
            "%zu process%s of an earlier drover still running after the stop timeout: SIGKILL",
            left, left == 1 ? "" : "es");
        for (size_t i = 0; i < s->n; i++)
            if (s->v[i].fate == SURVIVOR_STOP && !exited(s->v[i].pidfd))
                signal_survivor(&s->v[i], SIGKILL);
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
    *s = (struct survivors){ 0 };
}

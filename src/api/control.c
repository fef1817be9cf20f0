/*
 * control: the control calls and the control socket. See control.h.
 */
#include "api/control.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/ctlreq.h"
#include "core/util.h"
#include "os/rundir.h"
#include "os/sockfile.h"
#include "daemon/jobscale.h"
#include "daemon/persist.h"
#include "daemon/reload.h"
#include "daemon/supervisor_int.h"
#include "api/http.h"

#define CONTROL_BACKLOG 64
#define CONTROL_LOCK_TRIES 50 /* 10 ms apart */

bool
control_is_call(const char *url)
{
    const char *target;

    return ctlreq_parse_url(url, &target) >= 0;
}

bool
control_takes_body(const char *url)
{
    const char *target;
    int verb = ctlreq_parse_url(url, &target);

    return verb == CTLREQ_APPLY || verb == CTLREQ_CONFIG;
}

const char *
control_method(const char *url)
{
    const char *target;

    return ctlreq_parse_url(url, &target) == CTLREQ_CONFIG ? "PUT" : "POST";
}

/* target is echoed escaped (http.c checks it is valid UTF-8, but this answer never loses it). */
static struct api_answer
fail(int code, const char *verb, const char *target, const char *msg)
{
    return api_json(code, json_pack("{s:s, s:s, s:o}", "error", msg, "action", verb, "target",
                                    api_text(target, strlen(target))));
}

/*
 * The instances target names, into v (room for every slot in use).
 * "all" and "PROGRAM" leave out slots being scaled away; "PROGRAM:INDEX"
 * names any slot in use. Returns the count, or -1 with *err filled.
 */
static long
resolve(struct supervisor *sup, const char *verb, const char *target, struct instance **v,
        struct api_answer *err)
{
    struct ctlreq_target t;
    struct program *prog;
    long n = 0;

    if (!ctlreq_parse_target(target, &t)) {
        *err = fail(404, verb, target, "no such instance");
        return -1;
    }
    if (t.kind == CTLREQ_ALL) {
        for (size_t p = 0; p < sup->pool.nprograms; p++)
            for (unsigned i = 0;
                 i < sup->pool.programs[p]->want && i < sup->pool.programs[p]->ninstances; i++)
                v[n++] = &sup->pool.programs[p]->instances[i];
        return n;
    }
    prog = pool_find_program(&sup->pool, t.name, t.name_len);
    if (!prog) {
        *err = fail(404, verb, target, "no such program");
        return -1;
    }
    if (t.kind == CTLREQ_INSTANCE) {
        if (t.index >= prog->ninstances) {
            *err = fail(404, verb, target, "no such instance");
            return -1;
        }
        v[0] = &prog->instances[t.index];
        return 1;
    }
    for (unsigned i = 0; i < prog->want && i < prog->ninstances; i++)
        v[n++] = &prog->instances[i];
    return n;
}

static json_t *
instance_json(const struct instance *in)
{
    json_t *o = json_pack("{s:s, s:s}", "name", in->label, "state", svc_state_name(in->svc.state));

    if (o)
        json_object_set_new(o, "pid", in->pid ? json_integer(in->pid) : json_null());
    return o;
}

static json_t *
instances_json(struct instance *const *v, long n)
{
    json_t *list = json_array();

    for (long i = 0; list && i < n; i++)
        json_array_append_new(list, instance_json(v[i]));
    return list;
}

static struct api_answer
done(const char *verb, const char *target, struct instance *const *v, long n)
{
    return api_json(200, json_pack("{s:s, s:s, s:o}", "action", verb, "target", target, "instances",
                                   instances_json(v, n)));
}

/* Sends sig to each main process (not the group, as supervisorctl does) through its pidfd. */
static struct api_answer
send_signal(const char *target, const char *signame, struct instance *const *v, long n)
{
    int sig, sent = 0;

    if (!signame || util_parse_signal(signame, &sig) < 0)
        return api_bad_param("signal", signame, "a signal such as HUP, SIGUSR1 or 10");
    for (long i = 0; i < n; i++) {
        struct instance *in = v[i];
        if (!in->pid || in->child.fd < 0)
            continue;
        if (pidfd_send_signal(in->child.fd, sig, NULL, 0) < 0) {
            if (errno != ESRCH)
                inst_log(LOG_LVL_WARN, in, "cannot send signal %s: %s", util_signal_name(sig),
                         strerror(errno));
            continue;
        }
        inst_log(LOG_LVL_INFO, in, "sent signal %s (control call)", util_signal_name(sig));
        sent++;
    }
    if (sent == 0)
        return fail(409, "signal", target, "no running process to signal");
    return done("signal", target, v, n);
}

/* {"action", "target", "from", "to", "instances"}: what a scale did. */
static struct api_answer
scale_answer(const char *action, const char *target, const struct program *prog, unsigned from)
{
    struct instance **v = calloc(prog->ninstances ? prog->ninstances : 1, sizeof(*v));
    json_t *body;

    if (!v)
        return (struct api_answer){ .code = 500 };
    for (unsigned i = 0; i < prog->ninstances; i++)
        v[i] = &prog->instances[i];
    body = json_pack("{s:s, s:s, s:i, s:i, s:o}", "action", action, "target", target, "from",
                     (json_int_t)from, "to", (json_int_t)prog->want, "instances",
                     instances_json(v, prog->ninstances));
    free(v);
    return api_json(200, body);
}

static struct api_answer
scale(struct supervisor *sup, const char *target, const char *count)
{
    struct program *prog = pool_find_program(&sup->pool, target, strlen(target));
    unsigned from, n;

    if (!prog)
        return fail(strchr(target, ':') ? 400 : 404, "scale", target,
                    strchr(target, ':') ? "scale takes a program, not an instance"
                                        : "no such program");
    if (reload_is_leaving(sup, prog))
        return fail(409, "scale", target, "this program is leaving the pool (a reload removed it)");
    if (!ctlreq_parse_count(count, &n) || n > prog->cfg->max_instances) {
        char expected[96];
        (void)snprintf(expected, sizeof(expected), "a number of instances, 0 to %u (max_instances)",
                       prog->cfg->max_instances);
        return api_bad_param("instances", count, expected);
    }
    from = prog->want;
    (void)pool_scale(&sup->pool, prog, n);
    jobscale_pin(prog);   /* an operator's count holds until `drover autoscale PROGRAM on` */
    persist_changed(sup); /* the scale is on record: a later drover with --adopt keeps it */
    return scale_answer("scale", target, prog, from);
}

/* Queue-depth autoscaling goes on for a program an operator scaled. */
static struct api_answer
autoscale_on(struct supervisor *sup, const char *target)
{
    struct program *prog = pool_find_program(&sup->pool, target, strlen(target));

    if (!prog)
        return fail(strchr(target, ':') ? 400 : 404, "autoscale", target,
                    strchr(target, ':') ? "autoscale takes a program, not an instance"
                                        : "no such program");
    if (!jobscale_resume(prog))
        return fail(409, "autoscale", target, "this program has no jobs.autoscale");
    return scale_answer("autoscale", target, prog, prog->want);
}

/* The plan as told: one entry per program, and the settings. */
static json_t *
outcome_json(const char *verb, bool dry_run, const struct reload_outcome *o)
{
    json_t *plan = json_array(), *body;

    for (size_t i = 0; plan && i < o->nlines; i++)
        json_array_append_new(plan,
                              json_pack("{s:s, s:s, s:s}", "program", o->lines[i].program, "action",
                                        o->lines[i].action, "detail", o->lines[i].text));
    body = json_pack("{s:s, s:b, s:o, s:s, s:s, s:b}", "action", verb, "dry_run", dry_run, "plan",
                     plan, "settings_now", o->settings_now, "settings_next_start",
                     o->settings_later, "running", o->running);
    if (body)
        json_object_set_new(body, "saved", o->saved[0] ? json_string(o->saved) : json_null());
    return body;
}

static json_t *
errors_json(const char *verb, const struct reload_outcome *o)
{
    json_t *list = json_array();
    const char *line = o->errs.text, *end;

    while (list && *line && (end = strchr(line, '\n'))) {
        json_array_append_new(list, api_text(line, (size_t)(end - line)));
        line = end + 1;
    }
    return json_pack("{s:s, s:s, s:o}", "error", o->message, "action", verb, "errors", list);
}

/* reload, apply and PUT /config: a new configuration, its plan (reload.h). */
static struct api_answer
config_call(struct supervisor *sup, int verb, const char *target,
            const struct control_params *params)
{
    const char *name = verb == CTLREQ_RELOAD ? "reload" : "apply";
    const char *dry = params->dry_run;
    struct reload_req rq = { .verb = name, .source = "<api>" };
    struct reload_outcome *o;
    struct api_answer a;

    if (*target)
        return fail(404, ctlreq_verb_name(verb), target, "this call takes no target");
    if (dry && strcmp(dry, "1") != 0 && strcmp(dry, "true") != 0 && strcmp(dry, "0") != 0 &&
        strcmp(dry, "false") != 0)
        return api_bad_param("dry_run", dry, "1 or true (a dry run), 0 or false");
    rq.dry_run = dry && (strcmp(dry, "1") == 0 || strcmp(dry, "true") == 0);
    if (verb != CTLREQ_RELOAD) {
        if (params->body_lost)
            return (struct api_answer){ .code = 500 };
        if (!params->body || params->body_len == 0)
            return fail(400, ctlreq_verb_name(verb), target,
                        "the new configuration (JSON) goes in the request body");
        rq.text = params->body;
        rq.len = params->body_len;
        if (verb == CTLREQ_APPLY && params->source) {
            if (!*params->source || strlen(params->source) > 256)
                return api_bad_param("source", params->source,
                                     "the configuration's name for error lines, 1 to 256 bytes");
            rq.source = params->source;
        }
    }
    if (!(o = calloc(1, sizeof(*o))))
        return (struct api_answer){ .code = 500 };
    reload_request(sup, &rq, o);
    if (o->code == 200)
        a = api_json(200, outcome_json(name, rq.dry_run, o));
    else if (o->code == 400)
        a = api_json(400, errors_json(name, o));
    else
        a = api_json(o->code, json_pack("{s:s, s:s}", "error", o->message, "action", name));
    reload_outcome_done(o);
    free(o);
    return a;
}

struct api_answer
control_call(struct supervisor *sup, const char *url, const struct control_params *params)
{
    const char *target;
    int verb = ctlreq_parse_url(url, &target);
    struct instance **v;
    struct api_answer a;
    long n;

    if (verb < 0)
        return fail(404, "", url, "no such control call");
    if (sup->shutting_down)
        return fail(409, ctlreq_verb_name(verb), target, "drover is shutting down");
    if (verb == CTLREQ_SHUTDOWN) {
        if (*target)
            return fail(404, "shutdown", target, "shutdown takes no target");
        sup->shutdown_requested = true; /* after this answer is out, see supervisor_run() */
        return api_json(200, json_pack("{s:s}", "action", "shutdown"));
    }
    if (verb == CTLREQ_RELOAD || verb == CTLREQ_APPLY || verb == CTLREQ_CONFIG)
        return config_call(sup, verb, target, params);
    if (!*target)
        return fail(404, ctlreq_verb_name(verb), target,
                    "missing target: all, PROGRAM or PROGRAM:INDEX in the path");
    if (verb == CTLREQ_SCALE)
        return scale(sup, target, params->instances);
    if (verb == CTLREQ_AUTOSCALE)
        return autoscale_on(sup, target);
    v = calloc(sup->pool.ninstances ? sup->pool.ninstances : 1, sizeof(*v));
    if (!v)
        return (struct api_answer){ .code = 500 };
    n = resolve(sup, ctlreq_verb_name(verb), target, v, &a);
    if (n < 0) {
        free(v);
        return a;
    }
    if (verb == CTLREQ_SIGNAL) {
        a = send_signal(target, params->signal, v, n);
        free(v);
        return a;
    }
    for (long i = 0; i < n; i++) {
        struct instance *in = v[i];
        int64_t now = util_now_ms();

        if (verb != CTLREQ_STOP && in->index >= in->prog->want) {
            a = fail(409, ctlreq_verb_name(verb), target,
                     "this instance is being scaled away (see scale)");
            free(v);
            return a;
        }
        /*
         * Restart is stop, then start once stopped (STOPPING keeps want_up for
         * it). A fatal instance has no process: its START alone is the fresh
         * start (yo-yo tally reset), as for `start`.
         */
        if (verb == CTLREQ_STOP || (verb == CTLREQ_RESTART && in->svc.state != SVC_FATAL))
            svc_dispatch(&in->svc, SVC_EV_STOP, now);
        if (verb == CTLREQ_START || verb == CTLREQ_RESTART)
            svc_dispatch(&in->svc, SVC_EV_START, now);
    }
    a = done(ctlreq_verb_name(verb), target, v, n);
    free(v);
    return a;
}

/* --- the socket ---------------------------------------------------------------------------- */

/*
 * The lock that makes path ours: PATH.lock, flock'ed for drover's lifetime.
 * A drover killed during a spawn leaves a child that holds a copy of the
 * lock until it execs (close-on-exec): microseconds, more on a loaded
 * machine, so a busy lock is retried for a moment. A lock file unlinked by
 * its exiting owner after we opened it is not the one on disk any more:
 * the inode check makes us open the current one. Logs; returns fd or -errno.
 */
static int
take_lock(const char *lock_path, const char *path)
{
    for (int tries = 0; tries <= CONTROL_LOCK_TRIES; tries++) {
        struct stat held, on_disk;
        int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        int r;

        if (fd < 0) {
            r = -errno;
            log_error("cannot create the control socket's lock file %s", lock_path);
            return r;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            if (fstat(fd, &held) == 0 && stat(lock_path, &on_disk) == 0 &&
                held.st_ino == on_disk.st_ino && held.st_dev == on_disk.st_dev)
                return fd;
        } else if (errno != EWOULDBLOCK) {
            r = -errno;
            log_error("cannot lock %s", lock_path);
            (void)close(fd);
            return r;
        }
        (void)close(fd);
        (void)nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
    }
    log_errorx("control socket %s belongs to a running drover (give this one its own with "
               "--control PATH, or --control off)",
               path);
    return -EADDRINUSE;
}

int
control_listen(const char *path, int *ret_lock_fd)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX }, tmp = { .sun_family = AF_UNIX };
    char lock_path[sizeof(addr.sun_path) + 8], dir[PATH_MAX], err[RUNDIR_ERR_MAX];
    mode_t old_mask;
    int lock_fd, fd, r;

    if (strlen(path) >= sizeof(addr.sun_path)) {
        log_errorx("control socket path %s is longer than %zu bytes", path,
                   sizeof(addr.sun_path) - 1);
        return -ENAMETOOLONG;
    }
    memcpy(addr.sun_path, path, strlen(path) + 1);
    /* The default for a user without XDG_RUNTIME_DIR: a directory of ours, never someone's. */
    if (rundir_path(dir, sizeof(dir)) && runpath_holds(dir, path) &&
        (r = rundir_make(dir, err, sizeof(err))) < 0) {
        log_errorx("%s", err);
        return r;
    }
    (void)snprintf(lock_path, sizeof(lock_path), "%s.lock", path);
    lock_fd = take_lock(lock_path, path);
    if (lock_fd < 0)
        return lock_fd;
    /*
     * No drover holds the lock, but the path may still be another program's
     * live socket (a typo such as --control /run/docker.sock): only a socket
     * nobody serves is replaced.
     */
    r = sockfile_clear(path, SOCK_STREAM);
    if (r == -EADDRINUSE) {
        log_errorx("control socket %s is in use by another program (not a drover with this "
                   "lock): not replacing it",
                   path);
        goto fail;
    }
    if (r == -EEXIST) {
        log_errorx("control socket path %s exists and is not a socket; not replacing it", path);
        goto fail;
    }
    if (r < 0) {
        log_errorx("control socket path %s: cannot tell whether the socket there is in use (%s); "
                   "not replacing it",
                   path, strerror(-r));
        goto fail;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        r = -errno;
        log_error("cannot create the control socket");
        goto fail;
    }
    /*
     * Bound and listening under a temporary name, then renamed into place: a
     * client that sees the path can connect (a socket file bound but not yet
     * listening refuses connections). The temporary name is ours under the
     * lock, so a stale one (a drover killed between bind and rename) goes.
     * A path too long for the suffix is bound where it is.
     */
    bool staged = strlen(path) + 2 < sizeof(tmp.sun_path);
    if (staged) {
        (void)snprintf(tmp.sun_path, sizeof(tmp.sun_path), "%s.~", path);
        (void)unlink(tmp.sun_path);
    }
    old_mask = umask(0177); /* born 0600: no window in which others could connect */
    r = bind(fd, (struct sockaddr *)(staged ? &tmp : &addr), sizeof(addr));
    umask(old_mask);
    if (r < 0 || listen(fd, CONTROL_BACKLOG) < 0 || (staged && rename(tmp.sun_path, path) < 0)) {
        r = -errno;
        log_error("cannot listen on the control socket %s", path);
        if (staged)
            (void)unlink(tmp.sun_path);
        (void)close(fd);
        goto fail;
    }
    *ret_lock_fd = lock_fd;
    return fd;

fail:
    (void)unlink(lock_path);
    (void)close(lock_fd);
    return r;
}

void
control_unlisten(const char *path, int lock_fd)
{
    char lock_path[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];

    if (lock_fd < 0)
        return;
    (void)snprintf(lock_path, sizeof(lock_path), "%s.lock", path);
    (void)unlink(path);
    (void)unlink(lock_path);
    (void)close(lock_fd);
}

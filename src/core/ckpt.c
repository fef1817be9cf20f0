/*
 * ckpt: checkpoint codec and atomic file replacement. See ckpt.h.
 */
#include "core/ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"

static json_t *
pack_entry(const struct ckpt_entry *e)
{
    json_t *o = json_object(), *argv = json_array();

    if (!o || !argv) {
        json_decref(o);
        json_decref(argv);
        return NULL;
    }
    for (char **a = e->argv; a && *a; a++)
        if (json_array_append_new(argv, json_string(*a)) < 0)
            goto fail;
    if (json_object_set_new(o, "program", json_string(e->program)) < 0 ||
        json_object_set_new(o, "instance", json_integer(e->instance)) < 0 ||
        json_object_set_new(o, "pid", json_integer(e->pid)) < 0 ||
        json_object_set_new(o, "pgid", json_integer(e->pgid)) < 0 ||
        json_object_set_new(o, "start_time", json_integer((json_int_t)e->start_time)) < 0 ||
        json_object_set_new(o, "port", e->port ? json_integer(e->port) : json_null()) < 0 ||
        json_object_set_new(o, "generation", json_string(e->generation)) < 0 ||
        json_object_set_new(o, "argv", argv) < 0 ||
        (e->stale && json_object_set_new(o, "stale", json_true()) < 0) ||
        (e->jobs_token[0] && json_object_set_new(o, "jobs_token", json_string(e->jobs_token)) < 0))
        goto fail_argv_owned;
    return o;
fail:
    json_decref(argv);
fail_argv_owned:
    json_decref(o);
    return NULL;
}

int
ckpt_pack(const struct ckpt *c, char **ret_data, size_t *ret_len)
{
    json_t *root = json_object(), *drover = json_object(), *list = json_array();
    json_t *scales = json_object();
    char when[40];
    struct tm tm;
    time_t secs = (time_t)(c->written_unix_ms / 1000);
    char *text;

    if (!root || !drover || !list || !scales)
        goto fail;
    for (size_t i = 0; i < c->nscales; i++)
        if (json_object_set_new(scales, c->scales[i].program,
                                json_pack("{s:i, s:i}", "instances",
                                          (json_int_t)c->scales[i].instances, "configured",
                                          (json_int_t)c->scales[i].configured)) < 0)
            goto fail;
    (void)gmtime_r(&secs, &tm);
    (void)strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    (void)snprintf(when + strlen(when), sizeof(when) - strlen(when), ".%03dZ",
                   (int)(c->written_unix_ms % 1000));
    for (size_t i = 0; i < c->nentries; i++) {
        json_t *e = pack_entry(&c->entries[i]);
        if (!e || json_array_append_new(list, e) < 0)
            goto fail;
    }
    if (json_object_set_new(drover, "pid", json_integer(c->drover_pid)) < 0 ||
        json_object_set_new(drover, "start_time", json_integer((json_int_t)c->drover_start_time)) <
            0)
        goto fail;
    if (json_object_set_new(root, "format", json_string("drover-checkpoint")) < 0 ||
        json_object_set_new(root, "version", json_integer(CKPT_VERSION)) < 0 ||
        json_object_set(root, "drover", drover) < 0 ||
        json_object_set_new(root, "written_at", json_string(when)) < 0 ||
        json_object_set(root, "instances", list) < 0 || json_object_set(root, "scales", scales) < 0)
        goto fail;
    json_decref(drover);
    json_decref(list);
    json_decref(scales);
    text = json_dumps(root, JSON_INDENT(1) | JSON_COMPACT);
    json_decref(root);
    if (!text)
        return -ENOMEM;
    *ret_len = strlen(text);
    *ret_data = text;
    return 0;
fail:
    json_decref(root);
    json_decref(drover);
    json_decref(list);
    json_decref(scales);
    return -ENOMEM;
}

static int
get_int(const json_t *o, const char *key, long long min, long long max, long long *ret, char *err,
        size_t errsize, const char *where)
{
    const json_t *v = json_object_get(o, key);

    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        (void)snprintf(err, errsize, "%s: \"%s\" must be an integer from %lld to %lld", where, key,
                       min, max);
        return -EINVAL;
    }
    *ret = json_integer_value(v);
    return 0;
}

int
ckpt_parse_generation(const char *s, pid_t *ret_pid, uint64_t *ret_start_time)
{
    const char *dot = strchr(s, '.');
    unsigned long long pid = 0, start = 0;
    size_t n;

    if (!dot || dot == s || !dot[1] || strlen(s) >= CKPT_GENERATION_SIZE)
        return -EINVAL;
    /* Digits only (strtoull alone takes signs and blanks); lengths keep both in range. */
    n = (size_t)(dot - s);
    if (n > 10 || strspn(s, "0123456789") != n || strlen(dot + 1) > 20 ||
        strspn(dot + 1, "0123456789") != strlen(dot + 1))
        return -EINVAL;
    errno = 0;
    pid = strtoull(s, NULL, 10);
    start = strtoull(dot + 1, NULL, 10);
    if (errno || pid < 1 || pid > INT_MAX)
        return -EINVAL;
    *ret_pid = (pid_t)pid;
    *ret_start_time = start;
    return 0;
}

static int
unpack_entry(const json_t *o, size_t i, int version, const struct ckpt *c, struct ckpt_entry *e,
             char *err, size_t errsize)
{
    char where[32];
    const json_t *program = json_object_get(o, "program"), *port = json_object_get(o, "port");
    const json_t *argv = json_object_get(o, "argv"), *generation = json_object_get(o, "generation");
    const json_t *stale = json_object_get(o, "stale"), *token = json_object_get(o, "jobs_token");
    long long v;
    pid_t gpid;
    uint64_t gstart;

    (void)snprintf(where, sizeof(where), "instances[%zu]", i);
    if (!json_is_object(o)) {
        (void)snprintf(err, errsize, "%s: expected an object", where);
        return -EINVAL;
    }
    if (!json_is_string(program) || json_string_length(program) == 0) {
        (void)snprintf(err, errsize, "%s: \"program\" must be a non-empty string", where);
        return -EINVAL;
    }
    if (!(e->program = strdup(json_string_value(program))))
        return -ENOMEM;
    if (get_int(o, "instance", 0, 1000000, &v, err, errsize, where) < 0)
        return -EINVAL;
    e->instance = (unsigned)v;
    if (get_int(o, "pid", 1, INT_MAX, &v, err, errsize, where) < 0)
        return -EINVAL;
    e->pid = (pid_t)v;
    if (get_int(o, "pgid", 1, INT_MAX, &v, err, errsize, where) < 0)
        return -EINVAL;
    e->pgid = (pid_t)v;
    if (get_int(o, "start_time", 0, LLONG_MAX, &v, err, errsize, where) < 0)
        return -EINVAL;
    e->start_time = (uint64_t)v;
    if (json_is_integer(port) && json_integer_value(port) > 0 &&
        json_integer_value(port) <= 65535) {
        e->port = (uint16_t)json_integer_value(port);
    } else if (port && !json_is_null(port)) {
        (void)snprintf(err, errsize, "%s: \"port\" must be null or an integer from 1 to 65535",
                       where);
        return -EINVAL;
    }
    if (stale && !json_is_boolean(stale)) {
        (void)snprintf(err, errsize, "%s: \"stale\" must be true or false", where);
        return -EINVAL;
    }
    e->stale = json_is_true(stale);
    if (token &&
        (!json_is_string(token) || json_string_length(token) != CKPT_JOBS_TOKEN_SIZE - 1 ||
         strspn(json_string_value(token), "0123456789abcdef") != CKPT_JOBS_TOKEN_SIZE - 1)) {
        (void)snprintf(err, errsize, "%s: \"jobs_token\" must be %d lowercase hex digits", where,
                       CKPT_JOBS_TOKEN_SIZE - 1);
        return -EINVAL;
    }
    if (token)
        (void)snprintf(e->jobs_token, sizeof(e->jobs_token), "%s", json_string_value(token));
    if (version == 1) {
        /* Before the field existed, every entry was taken for its file's drover's child. */
        (void)snprintf(e->generation, sizeof(e->generation), "%d.%" PRIu64, (int)c->drover_pid,
                       c->drover_start_time);
    } else if (!json_is_string(generation) ||
               ckpt_parse_generation(json_string_value(generation), &gpid, &gstart) < 0) {
        (void)snprintf(err, errsize, "%s: \"generation\" must be a string \"PID.STARTTIME\"",
                       where);
        return -EINVAL;
    } else {
        (void)snprintf(e->generation, sizeof(e->generation), "%s", json_string_value(generation));
    }
    if (json_is_array(argv)) {
        size_t n = json_array_size(argv);
        e->argv = calloc(n + 1, sizeof(char *));
        if (!e->argv)
            return -ENOMEM;
        for (size_t k = 0; k < n; k++) {
            const json_t *a = json_array_get(argv, k);
            if (!json_is_string(a)) {
                (void)snprintf(err, errsize, "%s: \"argv\" must be a list of strings", where);
                return -EINVAL;
            }
            if (!(e->argv[k] = strdup(json_string_value(a))))
                return -ENOMEM;
        }
    }
    return 0;
}

/* "scales": {"PROGRAM": N, ...}, optional. Returns 0, -EINVAL with the reason, or -ENOMEM. */
static int
unpack_scales(const json_t *o, struct ckpt *c, char *err, size_t errsize)
{
    const char *key;
    json_t *val;

    if (!o)
        return 0;
    if (!json_is_object(o)) {
        (void)snprintf(err, errsize, "\"scales\" must be an object of program: instances");
        return -EINVAL;
    }
    c->scales = calloc(json_object_size(o) ? json_object_size(o) : 1, sizeof(*c->scales));
    if (!c->scales) {
        (void)snprintf(err, errsize, "out of memory");
        return -ENOMEM;
    }
    json_object_foreach((json_t *)o, key, val)
    {
        struct ckpt_scale *s = &c->scales[c->nscales];
        long long n, conf;

        if (!json_is_object(val) ||
            get_int(val, "instances", 0, CKPT_MAX_SCALE, &n, err, errsize, "scales") < 0 ||
            get_int(val, "configured", 0, CKPT_MAX_SCALE, &conf, err, errsize, "scales") < 0) {
            if (!json_is_object(val))
                (void)snprintf(
                    err, errsize,
                    "every value of \"scales\" must be {\"instances\": N, \"configured\": N}");
            return -EINVAL;
        }
        if (!(s->program = strdup(key))) {
            (void)snprintf(err, errsize, "out of memory");
            return -ENOMEM;
        }
        s->instances = (unsigned)n;
        s->configured = (unsigned)conf;
        c->nscales++;
    }
    return 0;
}

int
ckpt_unpack(const char *data, size_t len, struct ckpt *ret, char *err, size_t errsize)
{
    struct ckpt c = { 0 };
    json_error_t jerr;
    json_t *root, *drover, *list;
    long long v;
    int r = -EINVAL, version;

    if (len == 0) {
        (void)snprintf(err, errsize, "empty file");
        return -EINVAL;
    }
    root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        (void)snprintf(err, errsize, "line %d, column %d: %s", jerr.line, jerr.column,
                       util_one_line(jerr.text));
        return -EINVAL;
    }
    if (!json_is_object(root) || !json_is_string(json_object_get(root, "format")) ||
        strcmp(json_string_value(json_object_get(root, "format")), "drover-checkpoint") != 0) {
        (void)snprintf(err, errsize,
                       "not a drover checkpoint (no \"format\": \"drover-checkpoint\")");
        goto out;
    }
    if (!json_is_integer(json_object_get(root, "version")) ||
        json_integer_value(json_object_get(root, "version")) < 1 ||
        json_integer_value(json_object_get(root, "version")) > CKPT_VERSION) {
        (void)snprintf(err, errsize, "unsupported version (this drover reads versions 1 to %d)",
                       CKPT_VERSION);
        goto out;
    }
    version = (int)json_integer_value(json_object_get(root, "version"));
    drover = json_object_get(root, "drover");
    if (!json_is_object(drover) ||
        get_int(drover, "pid", 1, INT_MAX, &v, err, errsize, "drover") < 0)
        goto bad_drover;
    c.drover_pid = (pid_t)v;
    if (get_int(drover, "start_time", 0, LLONG_MAX, &v, err, errsize, "drover") < 0)
        goto bad_drover;
    c.drover_start_time = (uint64_t)v;
    list = json_object_get(root, "instances");
    if (!json_is_array(list)) {
        (void)snprintf(err, errsize, "\"instances\" must be a list");
        goto out;
    }
    c.nentries = json_array_size(list);
    c.entries = calloc(c.nentries ? c.nentries : 1, sizeof(*c.entries));
    if (!c.entries) {
        r = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < c.nentries; i++) {
        int er = unpack_entry(json_array_get(list, i), i, version, &c, &c.entries[i], err, errsize);
        if (er < 0) {
            if (er == -ENOMEM)
                (void)snprintf(err, errsize, "out of memory");
            goto out;
        }
    }
    if ((r = unpack_scales(json_object_get(root, "scales"), &c, err, errsize)) < 0)
        goto out;
    json_decref(root);
    *ret = c;
    return 0;
bad_drover:
    if (!json_is_object(drover))
        (void)snprintf(err, errsize, "\"drover\" must be an object with pid and start_time");
out:
    json_decref(root);
    ckpt_done(&c);
    return r;
}

void
ckpt_done(struct ckpt *c)
{
    for (size_t i = 0; c->entries && i < c->nentries; i++) {
        free(c->entries[i].program);
        for (char **a = c->entries[i].argv; a && *a; a++)
            free(*a);
        free(c->entries[i].argv);
    }
    free(c->entries);
    for (size_t i = 0; c->scales && i < c->nscales; i++)
        free(c->scales[i].program);
    free(c->scales);
    *c = (struct ckpt){ 0 };
}

/*
 * identity: `user` and `group` to uid, gid and groups. See identity.h.
 */
#include "os/identity.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/cfg.h"

/* Entries of getpw*_r and getgr*_r land here; a group of many members needs room. */
#define NSS_BUF_MAX (1024 * 1024)

/* A string of digits, as chown(1) takes a number in place of a name. */
static bool
as_number(const char *s, unsigned long *ret)
{
    char *end;

    if (!*s || strspn(s, "0123456789") != strlen(s))
        return false;
    errno = 0;
    *ret = strtoul(s, &end, 10);
    return errno == 0 && *ret < 0xffffffffUL;
}

/* getpwnam_r, then getpwuid_r for a number; buf grows as NSS asks. 1: found, 0: not, -errno. */
static int
find_user(const char *name, struct passwd *pw, char **buf)
{
    size_t size = 4096;
    unsigned long num;
    bool numeric = as_number(name, &num);

    for (int by_uid = 0; by_uid <= (numeric ? 1 : 0); by_uid++)
        for (;;) {
            struct passwd *found = NULL;
            char *nb = realloc(*buf, size);
            int r;

            if (!nb)
                return -ENOMEM;
            *buf = nb;
            r = by_uid ? getpwuid_r((uid_t)num, pw, *buf, size, &found)
                       : getpwnam_r(name, pw, *buf, size, &found);
            if (r == ERANGE && size < NSS_BUF_MAX) {
                size *= 2;
                continue;
            }
            if (found)
                return 1;
            if (r != 0 && r != ENOENT && r != ESRCH)
                return -r;
            break;
        }
    return 0;
}

/* The same for groups; only the gid is kept. */
static int
find_group(const char *name, gid_t *ret_gid, char **buf)
{
    size_t size = 4096;
    unsigned long num;
    bool numeric = as_number(name, &num);

    for (;;) {
        struct group gr, *found = NULL;
        char *nb = realloc(*buf, size);
        int r;

        if (!nb)
            return -ENOMEM;
        *buf = nb;
        r = getgrnam_r(name, &gr, *buf, size, &found);
        if (r == ERANGE && size < NSS_BUF_MAX) {
            size *= 2;
            continue;
        }
        if (found) {
            *ret_gid = gr.gr_gid;
            return 1;
        }
        if (r != 0 && r != ENOENT && r != ESRCH)
            return -r;
        break;
    }
    if (!numeric)
        return 0;
    *ret_gid = (gid_t)num; /* a number needs no entry: the kernel takes any gid */
    return 1;
}

/* The groups of user's entries in the group database, gid among them. */
static int
user_groups(const char *user, gid_t gid, struct cfg_identity *id)
{
    int n = 32;

    for (;;) {
        gid_t *groups = malloc((size_t)n * sizeof(gid_t));
        int want = n;

        if (!groups)
            return -ENOMEM;
        if (getgrouplist(user, gid, groups, &want) >= 0) {
            id->groups = groups;
            id->ngroups = (size_t)want;
            return 0;
        }
        free(groups);
        if (want <= n || want > 65536)
            return -E2BIG;
        n = want;
    }
}

static int
set_env(struct cfg_identity *id, enum cfg_identity_env k, const char *value)
{
    return asprintf(&id->env[k], "%s=%s", cfg_identity_env_names[k], value) < 0 ? -ENOMEM : 0;
}

/* One program: 0, -EINVAL (errs says why), -ENOMEM. */
static int
resolve_one(struct cfg_identity *id, struct cfg_errors *errs, char **buf)
{
    struct passwd pw = { 0 };
    unsigned long num;
    int found = 0, r;

    id->uid = geteuid();
    id->gid = getegid();
    if (id->user) {
        found = find_user(id->user, &pw, buf);
        if (found < 0) {
            cfg_error(errs, "%s: cannot look up user \"%s\": %s", id->user_at, id->user,
                      strerror(-found));
            return -EINVAL;
        }
        if (found) {
            id->uid = pw.pw_uid;
            id->gid = pw.pw_gid;
        } else if (as_number(id->user, &num)) {
            if (!id->group) {
                cfg_error(errs,
                          "%s: uid %s has no entry in the user database, so it has no group: "
                          "give \"group\" too",
                          id->user_at, id->user);
                return -EINVAL;
            }
            id->uid = (uid_t)num;
        } else {
            cfg_error(errs, "%s: no user \"%s\" in the user database (getent passwd %s)",
                      id->user_at, id->user, id->user);
            return -EINVAL;
        }
    }
    if (id->group) {
        char *gbuf = NULL;
        r = find_group(id->group, &id->gid, &gbuf);
        free(gbuf);
        if (r <= 0) {
            if (r < 0)
                cfg_error(errs, "%s: cannot look up group \"%s\": %s", id->group_at, id->group,
                          strerror(-r));
            else
                cfg_error(errs, "%s: no group \"%s\" in the group database (getent group %s)",
                          id->group_at, id->group, id->group);
            return -EINVAL;
        }
    }
    if (geteuid() != 0) {
        if (id->uid == geteuid() && id->gid == getegid())
            return 0; /* drover's own: nothing to switch, and no privilege to do it with */
        cfg_error(errs,
                  "%s: drover runs as uid %u, not as root, so it cannot start a child as another "
                  "user or group: remove \"user\" and \"group\", or start drover as root",
                  id->user ? id->user_at : id->group_at, (unsigned)geteuid());
        return -EINVAL;
    }
    if (found)
        r = user_groups(pw.pw_name, id->gid, id);
    else {
        /* No entry, or no user: the one group, and none of drover's own. */
        id->groups = malloc(sizeof(gid_t));
        r = id->groups ? 0 : -ENOMEM;
        if (r == 0) {
            id->groups[0] = id->gid;
            id->ngroups = 1;
        }
    }
    if (r == -E2BIG) {
        cfg_error(errs, "%s: user \"%s\" is in too many groups", id->user_at, id->user);
        return -EINVAL;
    }
    if (r == 0 && id->user) {
        const char *name = found ? pw.pw_name : id->user;
        const char *home = found && pw.pw_dir && *pw.pw_dir ? pw.pw_dir : "/";

        if ((r = set_env(id, CFG_ENV_HOME, home)) == 0 &&
            (r = set_env(id, CFG_ENV_USER, name)) == 0)
            r = set_env(id, CFG_ENV_LOGNAME, name);
    }
    if (r == 0)
        id->switch_to = true;
    return r;
}

int
identity_resolve(struct config *cfg, struct cfg_errors *errs)
{
    char *buf = NULL;
    int ret = 0;

    for (size_t i = 0; i < cfg->nprograms; i++) {
        struct cfg_identity *id = &cfg->programs[i].identity;
        int r;

        if (!id->user && !id->group)
            continue;
        r = resolve_one(id, errs, &buf);
        if (r == -ENOMEM) {
            cfg_error(errs, "out of memory resolving users and groups");
            ret = -ENOMEM;
            break;
        }
        if (r < 0)
            ret = -EINVAL;
    }
    free(buf);
    return ret;
}

/* setgroups(2) for this thread only: glibc's wrapper would change every thread's groups. */
static int
thread_setgroups(size_t n, const gid_t *groups)
{
    return syscall(SYS_setgroups, n, groups) < 0 ? -errno : 0;
}

int
identity_fs_enter(const struct cfg_identity *id, struct identity_fs *saved)
{
    int n, r;

    *saved = (struct identity_fs){ 0 };
    if (!id->switch_to)
        return 0;
    n = getgroups(0, NULL);
    if (n < 0)
        return -errno;
    saved->groups = malloc(((size_t)n + 1) * sizeof(gid_t));
    if (!saved->groups)
        return -ENOMEM;
    saved->ngroups = getgroups(n, saved->groups);
    if (saved->ngroups < 0 || (r = thread_setgroups(id->ngroups, id->groups)) < 0) {
        r = saved->ngroups < 0 ? -errno : r;
        free(saved->groups);
        saved->groups = NULL;
        return r;
    }
    /* Group first: once the fsuid is not 0, changing the fsgid takes a capability we lost. */
    saved->gid = (gid_t)setfsgid(id->gid);
    saved->uid = (uid_t)setfsuid(id->uid);
    saved->switched = true;
    return 0;
}

void
identity_fs_leave(struct identity_fs *saved)
{
    int e = errno; /* the caller looks at the errno of what it did as the user */

    if (!saved->switched)
        return;
    (void)setfsuid(saved->uid);
    (void)setfsgid(saved->gid);
    (void)thread_setgroups((size_t)saved->ngroups, saved->groups);
    free(saved->groups);
    saved->groups = NULL;
    saved->switched = false;
    errno = e;
}

const char *
identity_fs_note(const struct cfg_identity *id, int err)
{
    static char note[300];

    if (!id->switch_to || (err != EACCES && err != EPERM))
        return "";
    if (id->user)
        (void)snprintf(note, sizeof(note), " (opened as user %s)", id->user);
    else
        (void)snprintf(note, sizeof(note), " (opened as group %s)", id->group);
    return note;
}

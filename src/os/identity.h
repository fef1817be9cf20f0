/*
 * identity: each program's `user` and `group` resolved against the user and
 * group databases (through NSS: /etc/passwd and /etc/group, or LDAP and the
 * like) at config check, at start-up and at each reload. So a user that does
 * not exist is a config error that names the key, not a spawn that fails
 * later; and the child, which makes only raw system calls (spawn.h), gets
 * plain numbers: uid, gid, the supplementary groups of the user's entry, and
 * the HOME, USER and LOGNAME it runs with.
 *
 * Switching needs root: a drover that is not root refuses the keys, saying
 * why, unless they name drover's own uid and gid.
 */
#ifndef DROVER_IDENTITY_H
#define DROVER_IDENTITY_H

#include <stdbool.h>
#include <sys/types.h>

struct config;
struct cfg_errors;
struct cfg_identity;

/*
 * Fills each program's identity (cfg.h, struct cfg_identity) from its
 * `user` and `group`. Returns 0, or -EINVAL with errs filled, one line a
 * key ("SOURCE:LINE:COL: programs[N].user: no user \"x\" ..."); -ENOMEM.
 */
int identity_resolve(struct config *cfg, struct cfg_errors *errs);

/*
 * The files drover opens for a program that runs as `user` (its input,
 * output and error, captured output and its rotation) are opened, created,
 * renamed and removed with the user's file-system identity: its uid and gid
 * as fsuid and fsgid, and its supplementary groups, for this thread only
 * (raw system calls; drover has one thread), between enter and leave. So
 * the kernel checks exactly the user's permissions, as if the child had
 * opened them: a user who can write the log directory cannot make drover
 * append to, truncate or read a file the user could not (a symbolic or hard
 * link to /etc/shadow, or to a file only root's group may write), and what
 * drover creates belongs to the user and its group. enter returns 0, or
 * -errno with nothing switched (then the caller must not go on as drover:
 * it fails the open); without a switch both calls do nothing.
 */
struct identity_fs {
    bool switched;
    uid_t uid;
    gid_t gid;
    gid_t *groups; /* drover's own, restored by leave */
    int ngroups;
};

int identity_fs_enter(const struct cfg_identity *id, struct identity_fs *saved);
void identity_fs_leave(struct identity_fs *saved);

/*
 * For an error line about such a file: " (opened as user NAME)" when err
 * (an errno) is a refusal and id switches, else "". Static storage.
 */
const char *identity_fs_note(const struct cfg_identity *id, int err);

#endif

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

struct config;
struct cfg_errors;

/*
 * Fills each program's identity (cfg.h, struct cfg_identity) from its
 * `user` and `group`. Returns 0, or -EINVAL with errs filled, one line a
 * key ("SOURCE:LINE:COL: programs[N].user: no user \"x\" ..."); -ENOMEM.
 */
int identity_resolve(struct config *cfg, struct cfg_errors *errs);

#endif

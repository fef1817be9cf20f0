/*
 * rundir: drover's private runtime directory, where its sockets live.
 *
 * /run/drover for root; $XDG_RUNTIME_DIR/drover for others when that is
 * set; else /tmp/drover-UID. Only drover's user may create or remove names
 * there, so nobody can bind a socket name first (a squat) or stand in for
 * drover (a spoof): the directory must be a real directory, not a symbolic
 * link, owned by the effective uid, and not writable by group or others.
 * drover makes it 0711: others may not list it, but may reach a socket in
 * it whose own mode lets them (the notify socket, for workers that drop
 * privileges; systemd's /run/systemd/notify works the same way), and a
 * RuntimeDirectory= that systemd made 0755 is fine too. A directory someone
 * else made first (in world-writable /tmp, say) is refused, never used.
 *
 * Where it is comes from core/runpath. rundir_make() and
 * rundir_check() do file-system calls and no logging: the daemon logs
 * their message, the CLI prints it. err buffers are written on failure only.
 */
#ifndef DROVER_RUNDIR_H
#define DROVER_RUNDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/runpath.h"

#define RUNDIR_ERR_MAX 512

/* The directory for this process (core/runpath.h): its effective uid and environment. */
const char *rundir_path(char *buf, size_t len);
/*
 * The control socket's path for this process: runpath_socket() with
 * $DROVER_CONTROL, $XDG_RUNTIME_DIR and the effective uid, read at each call.
 * The daemon's default and the CLI's. Returns buf, or NULL when it does not fit.
 */
const char *rundir_socket_path(const char *flag, char *buf, size_t len);

/*
 * Makes sure dir is ours: creates it (mode 0711) when it does not exist,
 * then checks it as rundir_check() does. Returns 0, or -errno with one
 * line in err naming the directory and what is wrong.
 */
int rundir_make(const char *dir, char *err, size_t errlen);

/*
 * Checks that dir is a directory (not a symbolic link) owned by the
 * effective uid that group and others cannot write. Returns 0; -ENOENT when it does not exist
 * (err not written); -EPERM when it exists but is not ours (err says whose
 * it is and its mode); or another -errno with err.
 */
int rundir_check(const char *dir, char *err, size_t errlen);

#endif

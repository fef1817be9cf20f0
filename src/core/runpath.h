/*
 * runpath: where drover's run-time files go, from the effective uid and the
 * environment's strings: the run directory (os/rundir makes and checks it)
 * and the control socket's default path, for the daemon and the CLI alike.
 * Pure: the caller reads the environment.
 */
#ifndef DROVER_RUNPATH_H
#define DROVER_RUNPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * The directory for euid, with $XDG_RUNTIME_DIR xdg (NULL or "" when unset;
 * root ignores it). Returns buf, or NULL when it does not fit in len bytes.
 */
const char *runpath_dir(uid_t euid, const char *xdg, char *buf, size_t len);
/*
 * drover's state directory, where the job store lives when there is no
 * dumpfile: $STATE_DIRECTORY (systemd's StateDirectory=; the first when it
 * lists several) if set; else /var/lib/drover for euid 0; else
 * $XDG_STATE_HOME/drover when that is absolute; else $HOME/.local/state/drover.
 * NULL: none of them (no HOME), or it does not fit in len bytes.
 */
const char *runpath_state_dir(uid_t euid, const char *state_directory, const char *xdg_state,
                              const char *home, char *buf, size_t len);
/* True when path names an entry directly inside dir ("DIR/NAME", NAME without '/'). */
bool runpath_holds(const char *dir, const char *path);

/*
 * The control socket's path: flag if non-NULL and non-empty; else env_control
 * (DROVER_CONTROL) if non-empty; else /run/drover.sock for euid 0; else
 * XDG_RUNTIME_DIR/drover.sock if xdg is non-empty; else
 * /tmp/drover-<euid>/drover.sock, in drover's runtime directory.
 * Pure. Returns buf, or NULL when the path does not fit in len bytes.
 */
const char *runpath_socket(const char *flag, const char *env_control, uid_t euid, const char *xdg,
                           char *buf, size_t len);

#endif

/*
 * runpath: the run directory's and the control socket's paths. See runpath.h.
 */
#include "core/runpath.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

const char *
runpath_dir(uid_t euid, const char *xdg, char *buf, size_t len)
{
    int n;

    if (euid == 0) {
        n = snprintf(buf, len, "/run/drover");
    } else if (xdg && *xdg) {
        size_t l = strlen(xdg);

        while (l > 0 && xdg[l - 1] == '/') /* "/run/user/1000/" and "/" too */
            l--;
        n = snprintf(buf, len, "%.*s/drover", (int)(l > INT_MAX ? INT_MAX : l), xdg);
    } else {
        n = snprintf(buf, len, "/tmp/drover-%lu", (unsigned long)euid);
    }
    return n >= 0 && (size_t)n < len ? buf : NULL;
}

const char *
runpath_state_dir(uid_t euid, const char *state_directory, const char *xdg_state, const char *home,
                  char *buf, size_t len)
{
    int n;

    if (state_directory && *state_directory) {
        size_t l = strcspn(state_directory, ":"); /* systemd lists one per StateDirectory= */

        n = snprintf(buf, len, "%.*s", (int)(l > INT_MAX ? INT_MAX : l), state_directory);
    } else if (euid == 0) {
        n = snprintf(buf, len, "/var/lib/drover");
    } else if (xdg_state && xdg_state[0] == '/') {
        n = snprintf(buf, len, "%s/drover", xdg_state);
    } else if (home && home[0] == '/') {
        n = snprintf(buf, len, "%s/.local/state/drover", home);
    } else {
        return NULL;
    }
    return n > 0 && (size_t)n < len ? buf : NULL;
}

bool
runpath_holds(const char *dir, const char *path)
{
    size_t n = strlen(dir);

    return strncmp(path, dir, n) == 0 && path[n] == '/' && path[n + 1] != '\0' &&
           !strchr(path + n + 1, '/');
}

const char *
runpath_socket(const char *flag, const char *env_control, uid_t euid, const char *xdg, char *buf,
               size_t len)
{
    int n;

    if (flag && *flag) {
        n = snprintf(buf, len, "%s", flag);
    } else if (env_control && *env_control) {
        n = snprintf(buf, len, "%s", env_control);
    } else if (euid == 0) {
        n = snprintf(buf, len, "/run/drover.sock");
    } else if (xdg && *xdg) {
        size_t l = strlen(xdg);

        while (l > 0 && xdg[l - 1] == '/') /* as runpath_dir(): "/" gives "/drover.sock" */
            l--;
        n = snprintf(buf, len, "%.*s/drover.sock", (int)(l > INT_MAX ? INT_MAX : l), xdg);
    } else {
        /* Not /tmp/NAME itself, which any user can create first: a directory of ours (os/rundir.h).
         */
        char dir[64];

        n = snprintf(buf, len, "%s/drover.sock", runpath_dir(euid, NULL, dir, sizeof(dir)));
    }
    return n >= 0 && (size_t)n < len ? buf : NULL;
}

/*
 * control: the control calls: start, stop, restart, signal, scale, autoscale,
 * shutdown, reload, apply and PUT /config, and the unix socket they normally
 * arrive on.
 *
 * The control socket speaks the same HTTP API as --http (http.c serves
 * both); its file mode, 0600, is what allows the calls on it. Over TCP they
 * need the bearer token (http.c checks). Targets are "all", "PROGRAM" or
 * "PROGRAM:INDEX". Answers are JSON bodies shaped like the API's: 200 with
 * the affected instances and their states, or 4xx with {"error": ...}.
 */
#ifndef DROVER_CONTROL_H
#define DROVER_CONTROL_H

#include <stdbool.h>

#include "core/api.h"

struct supervisor;

/* The parameters of a control call; NULL when absent. */
struct control_params {
    const char *signal;    /* /signal/NAME?signal=HUP */
    const char *instances; /* /scale/PROGRAM?instances=N */
    const char *dry_run;   /* /reload, /apply, /config: ?dry_run=1 */
    const char *source;    /* /apply?source=NAME: the file name error lines give */
    const char *body;      /* /apply, /config: the request body (a configuration) */
    size_t body_len;
    bool body_lost; /* the body could not be kept (out of memory) */
};

/* True for the paths of control calls, whatever their target. */
bool control_is_call(const char *url);
/* True for the calls whose body is a configuration (/apply, /config). */
bool control_takes_body(const char *url);
/* The method a control call takes: "PUT" for /config, "POST" for the rest. */
const char *control_method(const char *url);

/* Performs the control call at url (control_is_call() is true) and answers it. */
struct api_answer control_call(struct supervisor *sup, const char *url,
                               const struct control_params *params);

/*
 * Binds the control socket at path, mode 0600, listening. A lock file
 * (path + ".lock") held for drover's lifetime tells a running drover from a
 * stale socket left by a crash, which is replaced; a socket another program
 * still serves is never replaced, nor a file that is not a socket. A path
 * directly in drover's runtime directory (the default of a user without
 * XDG_RUNTIME_DIR) gets that directory made or checked first (rundir.h).
 * Logs its errors. Returns the listening descriptor and *ret_lock_fd, or
 * -errno.
 */
int control_listen(const char *path, int *ret_lock_fd);

/* Removes the socket and the lock file, and releases the lock. */
void control_unlisten(const char *path, int lock_fd);

#endif

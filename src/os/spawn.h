/*
 * spawn: start one process without copying drover's address space.
 *
 * clone(CLONE_VM | CLONE_VFORK | CLONE_PIDFD): the child runs on a small
 * stack of its own inside our memory while we are suspended, sets itself
 * up (new session and process group, signal mask and dispositions reset,
 * stdio, cwd) and execs. Any failure is written as {step, errno} to a
 * close-on-exec pipe and the child _exit(127)s; we read the pipe when clone
 * returns, so an exec failure is an error here, never a fake "exited 127".
 * The child only makes async-signal-safe calls.
 *
 * Not reentrant (one static child stack); drover is single-threaded.
 */
#ifndef DROVER_SPAWN_H
#define DROVER_SPAWN_H

#include <stdbool.h>
#include <sys/resource.h>
#include <sys/types.h>

struct cfg_identity;

/* A resource limit the child sets on itself before exec. */
struct spawn_rlimit {
    int resource; /* RLIMIT_* */
    struct rlimit lim;
};

struct spawn_req {
    const char *path; /* resolved executable (spawn_resolve) */
    char *const *argv;
    char *const *envp;
    const char *cwd; /* NULL: inherit */
    int stdin_fd;    /* -1: /dev/null */
    int stdout_fd;   /* -1: inherit */
    int stderr_fd;   /* -1: inherit */
    int keep_fd;     /* -1, or a close-on-exec fd the child keeps open under the same number */
    char *pid_env;   /* NULL, or >= 12 bytes the child fills with its pid in decimal */
    bool quiet;      /* stdout and stderr to /dev/null instead of drover's */
    const struct spawn_rlimit *rlimits; /* set after drover's own RLIMIT_NOFILE is given back */
    size_t nrlimits;
    bool umask_given; /* else drover's umask, inherited */
    unsigned umask;
    bool nice_given; /* else drover's nice value, inherited */
    int nice;
    /* The program's `user`/`group` (os/identity): become them before exec; NULL: drover's. */
    const struct cfg_identity *identity;
};

/*
 * drover raises its own RLIMIT_NOFILE (one pidfd per instance); children get
 * back the limit drover was started with. Call before raising it.
 */
void spawn_set_child_nofile(const struct rlimit *lim);

enum spawn_step {
    SPAWN_STEP_NONE,
    SPAWN_STEP_SETUP,
    SPAWN_STEP_CHDIR,
    SPAWN_STEP_EXEC,
    SPAWN_STEP_RLIMIT,
    SPAWN_STEP_NICE,
    SPAWN_STEP_IDENTITY
};

struct spawn_result {
    pid_t pid;
    int pidfd;
};

/*
 * One-time set-up (child stack, /dev/null, error pipe), after drover's own
 * signal dispositions are final: the signals ignored at that point are the
 * ones each child resets. Returns 0 or -errno.
 */
int spawn_init(void);

/*
 * Starts the process. Returns 0 and fills *ret, or -errno; on failure
 * *ret_step (if not NULL) says which step failed (SPAWN_STEP_NONE: clone itself).
 */
int spawn_process(const struct spawn_req *req, struct spawn_result *ret, enum spawn_step *ret_step);

/*
 * Finds the executable for argv0 the way execvp would: names with a '/' are
 * taken as they are (relative to cwd, which the child enters before exec);
 * bare names are searched in $PATH. Returns 0 with the path in buf, or -errno
 * (ENOENT, EACCES, ENAMETOOLONG).
 */
int spawn_resolve(const char *argv0, const char *cwd, char *buf, size_t size);

const char *spawn_step_name(enum spawn_step step);

struct config;
struct cfg_errors;
/*
 * Each program's `rlimits` against drover's own hard limits: a child cannot
 * raise its hard limit above its parent's (without CAP_SYS_RESOURCE, and
 * then not past what the kernel allows), so a value above is refused at
 * config check rather than failing every spawn. Returns 0 or -EINVAL with
 * errs filled, one line a limit.
 */
int spawn_check_rlimits(const struct config *cfg, struct cfg_errors *errs);

#endif

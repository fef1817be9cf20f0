/*
 * spawn: vfork-style process creation with a pidfd and an error pipe.
 * See spawn.h.
 */
#include "os/spawn.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/cfg.h"

/* Enough for the child's few frames, also under AddressSanitizer. Pages untouched stay unmapped. */
#define CHILD_STACK_SIZE (256 * 1024)

struct child_error {
    int step;
    int err;
};

struct child_args {
    const struct spawn_req *req;
};

/* The kernel's struct sigaction for rt_sigaction(2), not libc's. */
struct kernel_sigaction {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)(void);
    uint64_t mask;
};

static char *child_stack;
/*
 * Signals ignored at start-up (SIGPIPE by us, others inherited from whoever
 * started drover, glibc's reserved 32 and 33 included): ignored dispositions
 * survive exec, so each child resets exactly these to the default.
 */
static int ignored_signals[64];
static int nignored;
static struct rlimit child_nofile;
static bool child_nofile_set;
static int devnull_fd = -1;
static int err_pipe[2] = { -1, -1 };

void
spawn_set_child_nofile(const struct rlimit *lim)
{
    child_nofile = *lim;
    child_nofile_set = true;
}

static void
find_ignored_signals(void)
{
    nignored = 0;
    for (int sig = 1;
         sig <= 64 && nignored < (int)(sizeof(ignored_signals) / sizeof(*ignored_signals)); sig++) {
        struct kernel_sigaction old;
        /* Raw, because glibc's sigaction() refuses 32 and 33. */
        if (sig == SIGKILL || sig == SIGSTOP ||
            syscall(SYS_rt_sigaction, sig, NULL, &old, sizeof(uint64_t)) < 0)
            continue;
        if (old.handler == SIG_IGN)
            ignored_signals[nignored++] = sig;
    }
}

int
spawn_init(void)
{
    find_ignored_signals();
    child_stack = mmap(NULL, CHILD_STACK_SIZE, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (child_stack == MAP_FAILED) {
        child_stack = NULL;
        return -errno;
    }
    devnull_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull_fd < 0)
        return -errno;
    if (pipe2(err_pipe, O_CLOEXEC) < 0)
        return -errno;
    /* Only we read it, right after clone returns; never block there. */
    if (fcntl(err_pipe[0], F_SETFL, O_NONBLOCK) < 0)
        return -errno;
    return 0;
}

/*
 * Child side. It runs on child_stack inside our memory while we are
 * suspended, so it makes raw system calls only: no libc wrapper that could
 * touch shared state (errno aside), no sanitizer interceptor, and the
 * functions are not instrumented (ASan would mistake the foreign stack).
 */
#define CHILD_CODE __attribute__((no_sanitize("address", "undefined"), noinline))

CHILD_CODE __attribute__((noreturn)) static void
child_fail(int step)
{
    struct child_error e = { .step = step, .err = errno };

    (void)syscall(SYS_write, err_pipe[1], &e, sizeof(e));
    for (;;)
        (void)syscall(SYS_exit_group, 127);
}

/* fd onto target; a fd that is already the target must lose close-on-exec. */
CHILD_CODE static long
move_fd(int fd, int target)
{
    if (fd == target)
        return syscall(SYS_fcntl, fd, F_SETFD, 0);
    return syscall(SYS_dup3, fd, target, 0);
}

/* Decimal digits of pid into buf (room for 11 + NUL): WATCHDOG_PID is known only here. */
CHILD_CODE static void
format_pid(char *buf, long pid)
{
    char digits[12];
    int n = 0, i = 0;

    do {
        digits[n++] = (char)('0' + pid % 10);
        pid /= 10;
    } while (pid > 0 && n < 11);
    while (n > 0)
        buf[i++] = digits[--n];
    buf[i] = '\0';
}

CHILD_CODE static int
child_main(void *arg)
{
    const struct spawn_req *req = ((struct child_args *)arg)->req;
    struct kernel_sigaction dfl = { .handler = SIG_DFL };
    uint64_t none = 0;

    /* drover installs no handlers, so ignored signals are all that differ from the defaults. */
    for (int i = 0; i < nignored; i++)
        if (syscall(SYS_rt_sigaction, ignored_signals[i], &dfl, NULL, sizeof(uint64_t)) < 0)
            child_fail(SPAWN_STEP_SETUP);
    if (syscall(SYS_setsid) < 0)
        child_fail(SPAWN_STEP_SETUP);
    if (move_fd(req->stdin_fd >= 0 ? req->stdin_fd : devnull_fd, 0) < 0)
        child_fail(SPAWN_STEP_SETUP);
    if (req->quiet && (move_fd(devnull_fd, 1) < 0 || move_fd(devnull_fd, 2) < 0))
        child_fail(SPAWN_STEP_SETUP);
    if (req->stdout_fd >= 0 && move_fd(req->stdout_fd, 1) < 0)
        child_fail(SPAWN_STEP_SETUP);
    if (req->stderr_fd >= 0 && move_fd(req->stderr_fd, 2) < 0)
        child_fail(SPAWN_STEP_SETUP);
    if (req->keep_fd >= 0 && syscall(SYS_fcntl, req->keep_fd, F_SETFD, 0) < 0)
        child_fail(SPAWN_STEP_SETUP);
    if (req->pid_env)
        format_pid(req->pid_env, syscall(SYS_getpid));
    if (child_nofile_set && syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &child_nofile, NULL) < 0)
        child_fail(SPAWN_STEP_SETUP);
    for (size_t i = 0; i < req->nrlimits; i++)
        if (syscall(SYS_prlimit64, 0, req->rlimits[i].resource, &req->rlimits[i].lim, NULL) < 0)
            child_fail(SPAWN_STEP_RLIMIT);
    if (req->umask_given)
        (void)syscall(SYS_umask, req->umask);
    /* Of itself (who 0). A negative value takes privilege, or RLIMIT_NICE. */
    if (req->nice_given && syscall(SYS_setpriority, PRIO_PROCESS, 0, req->nice) < 0)
        child_fail(SPAWN_STEP_NICE);
    /*
     * After the limits and the nice value, which may need root; before chdir,
     * so the directory is entered with the user's rights. Groups first: once
     * the uid is dropped they cannot be changed. Raw calls act on this process
     * alone, which is what a child sharing our memory must do (glibc's setuid()
     * would signal our threads to follow).
     */
    if (req->identity && req->identity->switch_to &&
        (syscall(SYS_setgroups, req->identity->ngroups, req->identity->groups) < 0 ||
         syscall(SYS_setgid, req->identity->gid) < 0 ||
         syscall(SYS_setuid, req->identity->uid) < 0))
        child_fail(SPAWN_STEP_IDENTITY);
    if (req->cwd && syscall(SYS_chdir, req->cwd) < 0)
        child_fail(SPAWN_STEP_CHDIR);
    /* Unblock last: a signal sent to the new group now simply acts on the child. */
    if (syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof(none)) < 0)
        child_fail(SPAWN_STEP_SETUP);
    (void)syscall(SYS_execve, req->path, req->argv, req->envp);
    child_fail(SPAWN_STEP_EXEC);
    return 127;
}

int
spawn_process(const struct spawn_req *req, struct spawn_result *ret, enum spawn_step *ret_step)
{
    struct child_args args = { .req = req };
    struct child_error e;
    int pidfd = -1;
    pid_t pid;
    ssize_t n;

    pid = clone(child_main, child_stack + CHILD_STACK_SIZE,
                CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, &args, &pidfd);
    if (pid < 0) {
        if (ret_step)
            *ret_step = SPAWN_STEP_NONE;
        return -errno;
    }
    /* CLONE_VFORK: the child has exec'd or exited by now. */
    n = read(err_pipe[0], &e, sizeof(e));
    if (n == (ssize_t)sizeof(e)) {
        siginfo_t info;
        /* It is a zombie or about to be one: this wait is immediate. */
        (void)waitid(P_PIDFD, (id_t)pidfd, &info, WEXITED);
        (void)close(pidfd);
        if (ret_step)
            *ret_step = e.step;
        return -e.err;
    }
    ret->pid = pid;
    ret->pidfd = pidfd;
    return 0;
}

int
spawn_resolve(const char *argv0, const char *cwd, char *buf, size_t size)
{
    const char *path, *p;
    int best = -ENOENT;

    (void)cwd; /* relative names are resolved by the child after chdir */
    if (strchr(argv0, '/')) {
        if (strlen(argv0) >= size)
            return -ENAMETOOLONG;
        memcpy(buf, argv0, strlen(argv0) + 1);
        return 0;
    }
    path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    for (p = path;; p++) {
        const char *colon = strchrnul(p, ':');
        size_t dirlen = (size_t)(colon - p);
        int n = snprintf(buf, size, "%.*s%s%s", (int)dirlen, p, dirlen ? "/" : "", argv0);

        if (n > 0 && (size_t)n < size) {
            if (access(buf, X_OK) == 0)
                return 0;
            if (errno == EACCES)
                best = -EACCES;
        }
        if (!*colon)
            break;
        p = colon;
    }
    return best;
}

/* "4096", "unlimited". */
static const char *
rlim_text(uint64_t v, char *buf, size_t size)
{
    if (v == CFG_RLIM_UNLIMITED || v == (uint64_t)RLIM_INFINITY)
        return "unlimited";
    (void)snprintf(buf, size, "%llu", (unsigned long long)v);
    return buf;
}

int
spawn_check_rlimits(const struct config *cfg, struct cfg_errors *errs)
{
    int r = 0;

    for (size_t p = 0; p < cfg->nprograms; p++)
        for (size_t k = 0; k < cfg->programs[p].nrlimits; k++) {
            const struct cfg_rlimit *l = &cfg->programs[p].rlimits[k];
            struct rlimit own;
            char want[24], hard[24];
            uint64_t max;

            if (getrlimit(l->resource, &own) < 0)
                continue; /* the kernel will say at the spawn */
            max = own.rlim_max == RLIM_INFINITY ? CFG_RLIM_UNLIMITED : (uint64_t)own.rlim_max;
            if (l->value <= max)
                continue;
            cfg_error(errs,
                      "program \"%s\": rlimits.%s is %s, above the hard limit drover runs with "
                      "(%s): a child cannot raise it; raise drover's own (LimitNOFILE= and the "
                      "like in its unit, or prlimit) or lower the value",
                      cfg->programs[p].name, l->name, rlim_text(l->value, want, sizeof(want)),
                      rlim_text(max, hard, sizeof(hard)));
            r = -EINVAL;
        }
    return r;
}

const char *
spawn_step_name(enum spawn_step step)
{
    switch (step) {
    case SPAWN_STEP_NONE:
        return "clone";
    case SPAWN_STEP_SETUP:
        return "set-up";
    case SPAWN_STEP_CHDIR:
        return "chdir";
    case SPAWN_STEP_EXEC:
        return "exec";
    case SPAWN_STEP_RLIMIT:
        return "setrlimit";
    case SPAWN_STEP_NICE:
        return "setpriority";
    case SPAWN_STEP_IDENTITY:
        return "setuid";
    }
    return "unknown";
}

/*
 * sleeper - test fixture: a process that runs until it is killed.
 *
 *   sleeper [--ignore-term] [--exit-on-term-after-ms MS] [--pidfile FILE]
 *           [--grandchild FILE] [--echo-env NAME]... [--print-cwd]
 *           [--print-argv]
 *
 * --ignore-term            SIGTERM is set to SIG_IGN (also for the grandchild)
 * --exit-on-term-after-ms  on SIGTERM wait MS, then exit 0 (grandchild too)
 * --print-argv             print "argv[i]=..." for every element
 * --print-cwd              print "cwd=PATH"
 * --echo-env NAME          print "NAME=value" or "NAME unset" (repeatable)
 * --grandchild FILE        fork one child that also sleeps forever (same
 *                          SIGTERM disposition) and write its pid to FILE
 * --pidfile FILE           write our own pid to FILE
 *
 * Order at start: SIGTERM disposition, output (argv, cwd, env; flushed),
 * grandchild + its pidfile, own pidfile last - so once FILE exists the
 * process is fully set up.  Pidfiles are written as FILE.tmp then renamed.
 * Without the TERM flags the inherited SIGTERM disposition is left as is.
 * Flags may be "--flag VALUE" or "--flag=VALUE".  Bad usage: exit 2.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ENV 64

static const char *prog = "sleeper";
static volatile sig_atomic_t got_term;

static void
usage_error(const char *msg, const char *arg)
{
    fprintf(stderr, "%s: %s%s\n"
            "usage: %s [--ignore-term] [--exit-on-term-after-ms MS]"
            " [--pidfile FILE] [--grandchild FILE] [--echo-env NAME]..."
            " [--print-cwd] [--print-argv]\n",
            prog, msg, arg, prog);
    exit(2);
}

/* "--name VALUE" or "--name=VALUE" at argv[*i]; NULL if not this flag. */
static const char *
opt_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);

    if (strncmp(argv[*i], name, n) != 0)
        return NULL;
    if (argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (argv[*i][n] != '\0')
        return NULL;
    if (*i + 1 >= argc)
        usage_error("missing value for ", name);
    *i += 1;
    return argv[*i];
}

static long
parse_ms(const char *s)
{
    char *end;
    long v;

    if (s[0] < '0' || s[0] > '9')
        usage_error("invalid milliseconds: ", s);
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > 86400000L)
        usage_error("invalid milliseconds: ", s);
    return v;
}

static const char *
nonempty(const char *v, const char *flag)
{
    if (v[0] == '\0')
        usage_error("empty value for ", flag);
    return v;
}

static void
write_pidfile(const char *path, pid_t pid)
{
    char tmp[4096], buf[32];
    int fd, n;

    n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        fprintf(stderr, "%s: pidfile path too long\n", prog);
        exit(1);
    }
    n = snprintf(buf, sizeof(buf), "%ld\n", (long)pid);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, buf, (size_t)n) != n || close(fd) < 0
        || rename(tmp, path) < 0) {
        fprintf(stderr, "%s: cannot write pidfile %s: %s\n",
                prog, path, strerror(errno));
        exit(1);
    }
}

static void
on_term(int sig)
{
    (void)sig;
    got_term = 1;
}

/* Never returns.  term_ms < 0: plain pause loop; else exit 0 after TERM. */
static void
run_forever(long term_ms)
{
    sigset_t block, waitmask;
    struct timespec ts;

    if (term_ms < 0) {
        for (;;)
            pause();
    }
    /* SIGTERM is blocked outside sigsuspend(), so no wakeup is lost */
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, &waitmask);
    sigdelset(&waitmask, SIGTERM);
    while (!got_term)
        sigsuspend(&waitmask);
    ts.tv_sec = term_ms / 1000;
    ts.tv_nsec = (term_ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
    exit(0);
}

int
main(int argc, char **argv)
{
    const char *pidfile = NULL, *gcfile = NULL;
    const char *envs[MAX_ENV];
    int nenv = 0, ignore_term = 0, print_cwd = 0, print_argv = 0;
    long term_ms = -1;
    int i;

    for (i = 1; i < argc; i++) {
        const char *v;

        if (strcmp(argv[i], "--ignore-term") == 0) {
            ignore_term = 1;
        } else if (strcmp(argv[i], "--print-cwd") == 0) {
            print_cwd = 1;
        } else if (strcmp(argv[i], "--print-argv") == 0) {
            print_argv = 1;
        } else if ((v = opt_value(argc, argv, &i, "--pidfile"))) {
            pidfile = nonempty(v, "--pidfile");
        } else if ((v = opt_value(argc, argv, &i, "--grandchild"))) {
            gcfile = nonempty(v, "--grandchild");
        } else if ((v = opt_value(argc, argv, &i,
                                  "--exit-on-term-after-ms"))) {
            term_ms = parse_ms(v);
        } else if ((v = opt_value(argc, argv, &i, "--echo-env"))) {
            if (nenv == MAX_ENV)
                usage_error("too many --echo-env", "");
            envs[nenv++] = nonempty(v, "--echo-env");
        } else {
            usage_error("unknown argument: ", argv[i]);
        }
    }
    if (ignore_term && term_ms >= 0)
        usage_error("--ignore-term and --exit-on-term-after-ms conflict", "");

    if (ignore_term) {
        signal(SIGTERM, SIG_IGN);
    } else if (term_ms >= 0) {
        struct sigaction sa;

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_term;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, NULL);
    }

    if (print_argv) {
        for (i = 0; i < argc; i++)
            printf("argv[%d]=%s\n", i, argv[i]);
    }
    if (print_cwd) {
        char *cwd = getcwd(NULL, 0);

        if (cwd != NULL)
            printf("cwd=%s\n", cwd);
        else
            printf("cwd=(error: %s)\n", strerror(errno));
        free(cwd);
    }
    for (i = 0; i < nenv; i++) {
        const char *val = getenv(envs[i]);

        if (val != NULL)
            printf("%s=%s\n", envs[i], val);
        else
            printf("%s unset\n", envs[i]);
    }
    fflush(stdout);

    if (gcfile != NULL) {
        pid_t child = fork();

        if (child < 0) {
            fprintf(stderr, "%s: fork: %s\n", prog, strerror(errno));
            return 1;
        }
        if (child == 0)
            run_forever(term_ms);
        /* auto-reap the grandchild if it is killed while we live on */
        signal(SIGCHLD, SIG_IGN);
        waitpid(child, NULL, WNOHANG);
        write_pidfile(gcfile, child);
    }
    if (pidfile != NULL)
        write_pidfile(pidfile, getpid());

    run_forever(term_ms);
    return 0;
}

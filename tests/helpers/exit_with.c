/*
 * exit_with - test fixture: terminate in a chosen way.
 *
 *   exit_with [--after-ms MS] [--pidfile FILE] CODE
 *   exit_with [--after-ms MS] [--pidfile FILE] --signal N
 *
 * CODE (0..255): exit(CODE).  --signal N (1..64): reset N to SIG_DFL,
 * unblock it, set RLIMIT_CORE to 0 (no core files in test dirs) and
 * raise(N); if still alive afterwards (N's default action is to ignore, or
 * stop-then-continue) _exit(125).  --pidfile writes our pid first (FILE.tmp
 * then rename), --after-ms then sleeps MS before exiting/raising.
 * Flags may be given as "--flag VALUE" or "--flag=VALUE", in any order.
 * Bad usage: message on stderr, exit 2.  Pidfile failure: exit 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static const char *prog = "exit_with";

static void
usage_error(const char *msg, const char *arg)
{
    fprintf(stderr, "%s: %s%s\n"
            "usage: %s [--after-ms MS] [--pidfile FILE] (CODE | --signal N)\n",
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

/* Strict unsigned decimal in [0, max]. */
static long
parse_num(const char *s, long max, const char *what)
{
    char *end;
    long v;

    if (s[0] < '0' || s[0] > '9')
        usage_error(what, s);
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > max)
        usage_error(what, s);
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
sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

int
main(int argc, char **argv)
{
    const char *pidfile = NULL;
    long after_ms = 0, code = -1, sig = -1;
    int i;

    for (i = 1; i < argc; i++) {
        const char *v;

        if ((v = opt_value(argc, argv, &i, "--after-ms"))) {
            after_ms = parse_num(v, 86400000L, "invalid --after-ms: ");
        } else if ((v = opt_value(argc, argv, &i, "--pidfile"))) {
            if (v[0] == '\0')
                usage_error("empty --pidfile", "");
            pidfile = v;
        } else if ((v = opt_value(argc, argv, &i, "--signal"))) {
            if (sig >= 0 || code >= 0)
                usage_error("give exactly one of CODE or --signal", "");
            sig = parse_num(v, 64, "invalid signal number: ");
            if (sig < 1)
                usage_error("invalid signal number: ", v);
        } else if (argv[i][0] == '-') {
            usage_error("unknown flag: ", argv[i]);
        } else {
            if (sig >= 0 || code >= 0)
                usage_error("give exactly one of CODE or --signal", "");
            code = parse_num(argv[i], 255, "invalid exit code: ");
        }
    }
    if (sig < 0 && code < 0)
        usage_error("give exactly one of CODE or --signal", "");

    if (pidfile != NULL)
        write_pidfile(pidfile, getpid());
    if (after_ms > 0)
        sleep_ms(after_ms);

    if (sig > 0) {
        struct rlimit nocore = { 0, 0 };
        sigset_t set;

        fflush(NULL);
        setrlimit(RLIMIT_CORE, &nocore);
        signal((int)sig, SIG_DFL);      /* fails harmlessly for KILL/STOP */
        sigemptyset(&set);
        sigaddset(&set, (int)sig);
        sigprocmask(SIG_UNBLOCK, &set, NULL);
        raise((int)sig);
        _exit(125);
    }
    exit((int)code);
}

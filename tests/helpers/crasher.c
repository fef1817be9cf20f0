/*
 * crasher - test fixture for crash-loop / restart-backoff tests.
 *
 *   crasher --count-file FILE [--ok-after N]
 *
 * Appends one line (its pid) to FILE (created if missing, O_APPEND, one
 * write), then counts the lines in FILE, i.e. how many times it has been
 * started.  With --ok-after N and count >= N it stays up in a pause() loop
 * until killed; otherwise it exits 3 at once.  Flags may be "--flag VALUE"
 * or "--flag=VALUE".  Bad usage: exit 2.  Cannot use FILE: exit 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *prog = "crasher";

static void
usage_error(const char *msg, const char *arg)
{
    fprintf(stderr, "%s: %s%s\n"
            "usage: %s --count-file FILE [--ok-after N]\n",
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

static void
fail(const char *what, const char *path)
{
    fprintf(stderr, "%s: %s %s: %s\n", prog, what, path, strerror(errno));
    exit(1);
}

int
main(int argc, char **argv)
{
    const char *path = NULL;
    long ok_after = -1, count = 0;
    char buf[4096];
    ssize_t n;
    int fd, len, i;

    for (i = 1; i < argc; i++) {
        const char *v;

        if ((v = opt_value(argc, argv, &i, "--count-file"))) {
            if (v[0] == '\0')
                usage_error("empty --count-file", "");
            path = v;
        } else if ((v = opt_value(argc, argv, &i, "--ok-after"))) {
            char *end;

            if (v[0] < '0' || v[0] > '9')
                usage_error("invalid --ok-after: ", v);
            errno = 0;
            ok_after = strtol(v, &end, 10);
            if (errno != 0 || *end != '\0')
                usage_error("invalid --ok-after: ", v);
        } else {
            usage_error("unknown argument: ", argv[i]);
        }
    }
    if (path == NULL)
        usage_error("--count-file is required", "");

    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        fail("cannot open", path);
    len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
    if (write(fd, buf, (size_t)len) != len)
        fail("cannot append to", path);
    close(fd);

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        fail("cannot read", path);
    while ((n = read(fd, buf, sizeof(buf))) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fail("cannot read", path);
        }
        for (i = 0; i < n; i++)
            count += buf[i] == '\n';
    }
    close(fd);

    if (ok_after >= 0 && count >= ok_after) {
        for (;;)
            pause();
    }
    return 3;
}

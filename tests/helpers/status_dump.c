/*
 * status_dump - test fixture: report the execution environment a process
 * was started with, then stay alive for inspection.
 *
 *   status_dump [--exit]
 *
 * Writes to stdout, in this order:
 *   - the full content of /proc/self/status (Sig*, Cap*, Uid, NoNewPrivs...)
 *   - "cwd=PATH"
 *   - "fd=N -> TARGET" for every open fd, ascending (the directory fd used
 *     to list /proc/self/fd is not reported)
 *   - "pgid=N sid=N pid=N ppid=N"
 * then flushes and closes stdout (a reader sees EOF) and sleeps in a pause()
 * loop until killed; with --exit it exits 0 instead.  It deliberately does
 * not touch signal dispositions or the signal mask, since those are what is
 * being inspected.  Bad usage: exit 2.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *prog = "status_dump";

static void
dump_proc_status(void)
{
    char buf[4096];
    ssize_t n;
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        fprintf(stderr, "%s: /proc/self/status: %s\n", prog, strerror(errno));
        return;
    }
    while ((n = read(fd, buf, sizeof(buf))) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        fwrite(buf, 1, (size_t)n, stdout);
    }
    close(fd);
}

static int
cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;

    return (x > y) - (x < y);
}

static void
dump_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    int *fds = NULL;
    size_t nfds = 0, cap = 0, k;
    int self;

    if (d == NULL) {
        fprintf(stderr, "%s: /proc/self/fd: %s\n", prog, strerror(errno));
        return;
    }
    self = dirfd(d);
    while ((de = readdir(d)) != NULL) {
        char *end;
        long fd;

        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        fd = strtol(de->d_name, &end, 10);
        if (*end != '\0' || fd == self)
            continue;
        if (nfds == cap) {
            int *grown;

            cap = cap ? cap * 2 : 64;
            grown = realloc(fds, cap * sizeof(*fds));
            if (grown == NULL)
                break;
            fds = grown;
        }
        fds[nfds++] = (int)fd;
    }
    closedir(d);

    qsort(fds, nfds, sizeof(*fds), cmp_int);
    for (k = 0; k < nfds; k++) {
        char path[64], target[4096];
        ssize_t n;

        snprintf(path, sizeof(path), "/proc/self/fd/%d", fds[k]);
        n = readlink(path, target, sizeof(target) - 1);
        if (n < 0)
            snprintf(target, sizeof(target), "(unreadable: %s)",
                     strerror(errno));
        else
            target[n] = '\0';
        printf("fd=%d -> %s\n", fds[k], target);
    }
    free(fds);
}

int
main(int argc, char **argv)
{
    int do_exit = 0;
    char *cwd;
    int i;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--exit") == 0) {
            do_exit = 1;
        } else {
            fprintf(stderr, "%s: unknown argument: %s\n"
                    "usage: %s [--exit]\n", prog, argv[i], prog);
            return 2;
        }
    }

    dump_proc_status();
    fflush(stdout);

    cwd = getcwd(NULL, 0);
    if (cwd != NULL)
        printf("cwd=%s\n", cwd);
    else
        printf("cwd=(error: %s)\n", strerror(errno));
    free(cwd);

    dump_fds();

    printf("pgid=%ld sid=%ld pid=%ld ppid=%ld\n", (long)getpgrp(),
           (long)getsid(0), (long)getpid(), (long)getppid());
    fflush(stdout);
    fclose(stdout);

    if (do_exit)
        return 0;
    for (;;)
        pause();
}

/*
 * replay: a plain main for the fuzz harnesses, so that every corpus (seeds
 * and past crashers) runs in `make check` under gcc, with or without the
 * sanitizers, and no libFuzzer. Model: systemd's src/fuzz/fuzz-main.c.
 *
 *   replay_TARGET FILE|DIR...
 *
 * Each FILE, and each regular file directly in each DIR (dot files skipped,
 * in name order), goes once through LLVMFuzzerTestOneInput(). A crash or an
 * assertion aborts the run, naming the input on stderr first; otherwise it
 * prints "replay: N inputs OK" and exits 0. Each input is copied into a
 * buffer of exactly its size, so ASan sees any read past its end.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Replay inputs are corpus files, not bulk data; libFuzzer runs use -max_len=65536. */
#define REPLAY_MAX_BYTES (16 * 1024 * 1024)

/* Returns 0 or -errno; -EFBIG above REPLAY_MAX_BYTES. */
static int
read_file(const char *path, uint8_t **ret_data, size_t *ret_len)
{
    struct stat st;
    uint8_t *buf;
    size_t len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;

    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0) {
        r = -errno;
        goto out;
    }
    if (st.st_size > REPLAY_MAX_BYTES) {
        r = -EFBIG;
        goto out;
    }
    /* Exactly st_size bytes (malloc(0) may return NULL, hence the 1). */
    buf = malloc(st.st_size ? (size_t)st.st_size : 1);
    if (!buf) {
        r = -ENOMEM;
        goto out;
    }
    while (len < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            r = n < 0 ? -errno : 0;
            if (r == 0)
                break; /* shrank under us */
            free(buf);
            goto out;
        }
        len += (size_t)n;
    }
    *ret_data = buf;
    *ret_len = len;
out:
    (void)close(fd);
    return r;
}

static int
run_one(const char *path)
{
    uint8_t *data = NULL;
    size_t len = 0;
    int r = read_file(path, &data, &len);

    if (r < 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(-r));
        return r;
    }
    /* Named before the run: if the harness aborts, this is the last line. */
    fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
    (void)LLVMFuzzerTestOneInput(data, len);
    free(data);
    return 0;
}

static int
skip_dot(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

/* Runs the regular files directly in dir; returns how many, or -1. */
static int
run_dir(const char *dir)
{
    struct dirent **names;
    int n = scandir(dir, &names, skip_dot, alphasort), ran = 0;

    if (n < 0) {
        fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    for (int i = 0; i < n; i++) {
        char path[4096];
        struct stat st;

        if (ran < 0) {
            /* an earlier file failed: only free the rest */
        } else if (snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name) >=
                   (int)sizeof(path)) {
            fprintf(stderr, "replay: %s/%s: %s\n", dir, names[i]->d_name, strerror(ENAMETOOLONG));
            ran = -1;
        } else if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
            /* subdirectories and the like are not inputs */
        } else if (run_one(path) < 0) {
            ran = -1;
        } else {
            ran++;
        }
        free(names[i]);
    }
    free(names);
    return ran;
}

int
main(int argc, char **argv)
{
    unsigned total = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        struct stat st;

        if (stat(argv[i], &st) < 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            return 1;
        }
        if (S_ISDIR(st.st_mode)) {
            int n = run_dir(argv[i]);
            if (n < 0)
                return 1;
            total += (unsigned)n;
        } else {
            if (run_one(argv[i]) < 0)
                return 1;
            total++;
        }
    }
    printf("replay: %u inputs OK\n", total);
    return 0;
}

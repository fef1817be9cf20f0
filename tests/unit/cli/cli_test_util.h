/*
 * cli_test_util: what the CLI's unit tests (test_cli.c, test_cli_jobs.c)
 * share: a file read whole, and the golden files of tests/golden/.
 *
 * DROVER_GOLDEN_DIR overrides where the golden files are (default: next to
 * this file, ../../golden). DROVER_UPDATE_GOLDEN=1 makes check_golden()
 * rewrite the .out files instead of comparing; review the diff before
 * committing. Include it once per test binary, after <cmocka.h> (its
 * checks are cmocka's); everything here is static to that binary.
 */
#ifndef DROVER_CLI_TEST_UTIL_H
#define DROVER_CLI_TEST_UTIL_H

#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char golden_dir[PATH_MAX];

/* The whole file (at most 1 MiB), NUL-terminated and malloc'ed, or NULL. */
static __attribute__((unused)) char *
slurp(const char *path, size_t *ret_len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) < 0 || (n = ftell(f)) < 0 || n > (1 << 20) ||
        fseek(f, 0, SEEK_SET) < 0) {
        fclose(f);
        return NULL;
    }
    buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        if (ret_len)
            *ret_len = (size_t)n;
    }
    return buf;
}

static __attribute__((unused)) char *
golden_path(const char *name, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/%s", golden_dir, name);

    assert_true(n > 0 && (size_t)n < len);
    return buf;
}

/* Compares got with NAME (or writes it under DROVER_UPDATE_GOLDEN=1). */
static __attribute__((unused)) void
check_golden(const char *name, const char *got)
{
    char path[PATH_MAX], *want;
    const char *update = getenv("DROVER_UPDATE_GOLDEN");
    bool same;

    golden_path(name, path, sizeof(path));
    if (update && strcmp(update, "1") == 0) {
        FILE *f = fopen(path, "w");

        assert_non_null(f);
        assert_int_equal(fputs(got, f) >= 0, 1);
        assert_int_equal(fclose(f), 0);
        return;
    }
    want = slurp(path, NULL);
    if (!want)
        fail_msg("cannot read golden file %s (set DROVER_GOLDEN_DIR?)", path);
    same = strcmp(want, got) == 0;
    if (!same)
        print_error("golden %s differs.\n--- want\n%s--- got\n%s---\n", name, want, got);
    free(want);
    assert_true(same);
}

/*
 * A group's set-up: golden_dir found, tmp_dir (a mkdtemp() template) made,
 * SIGPIPE ignored (the fakes write to clients that may be gone). 0 or -1.
 */
static __attribute__((unused)) int
cli_test_setup(char *tmp_dir)
{
    const char *dir = getenv("DROVER_GOLDEN_DIR");
    char here[PATH_MAX - 16], *slash;

    if (dir) {
        (void)snprintf(golden_dir, sizeof(golden_dir), "%s", dir);
    } else {
        (void)snprintf(here, sizeof(here), "%s", __FILE__);
        slash = strrchr(here, '/');
        if (slash)
            *slash = '\0';
        else
            (void)snprintf(here, sizeof(here), ".");
        (void)snprintf(golden_dir, sizeof(golden_dir), "%s/../../golden", here);
    }
    if (!mkdtemp(tmp_dir))
        return -1;
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

#endif

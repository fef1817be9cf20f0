/*
 * test_afile: atomic replacement and trusted reading on a temp dir: a failed
 * write keeps the old file, no temporary is left behind, planted symbolic
 * links are never followed, a device, FIFO, link or directory is never
 * replaced, and what cannot be trusted is never read.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "os/afile.h"

#define MAX (64 * 1024 * 1024) /* the checkpoint's bound */

static char tmpdir[64];

static int
make_tmpdir(void **state)
{
    (void)state;
    (void)snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_afile.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int
remove_tmpdir(void **state)
{
    char cmd[128];

    (void)state;
    (void)snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* The names in tmpdir other than those given (NULL-terminated), comma-separated, or "". */
static char *
other_names(const char *const *expected)
{
    static char out[1024];
    DIR *d = opendir(tmpdir);
    struct dirent *e;

    assert_non_null(d);
    out[0] = '\0';
    while ((e = readdir(d))) {
        bool known = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
        for (const char *const *x = expected; *x && !known; x++)
            known = !strcmp(e->d_name, *x);
        if (!known)
            (void)snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s",
                           out[0] ? "," : "", e->d_name);
    }
    (void)closedir(d);
    return out;
}

static void
save_then_load(void **state)
{
    const char *const only[] = { "dump.json", NULL };
    char path[128], *data, *back, err[256];
    size_t len, blen;

    (void)state;
    (void)snprintf(path, sizeof(path), "%s/dump.json", tmpdir);
    data = strdup("{\"version\": 2, \"instances\": []}\n");
    assert_non_null(data);
    len = strlen(data);
    assert_int_equal(afile_save(path, data, len), 0);
    assert_int_equal(afile_load(path, MAX, &back, &blen, err, sizeof(err)), 0);
    assert_int_equal(blen, len);
    assert_memory_equal(back, data, len);
    free(back);
    /* Replacing it leaves no temp file behind. */
    assert_int_equal(afile_save(path, "{}", 2), 0);
    assert_int_equal(afile_load(path, MAX, &back, &blen, err, sizeof(err)), 0);
    assert_int_equal(blen, 2);
    free(back);
    assert_string_equal(other_names(only), "");
    free(data);
}

static void
clear_tmpdir(void)
{
    assert_int_equal(remove_tmpdir(NULL), 0);
    assert_int_equal(mkdir(tmpdir, 0700), 0);
}

static void
expect_content(const char *path, const char *want)
{
    char buf[256] = "";
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    assert_true(fd >= 0);
    n = read(fd, buf, sizeof(buf) - 1);
    (void)close(fd);
    assert_true(n >= 0);
    buf[n] = '\0';
    assert_string_equal(buf, want);
}

/* A write that fails half-way (here: RLIMIT_FSIZE) leaves the old file and no temporary. */
static void
failed_save_keeps_the_old_file(void **state)
{
    const char *const only[] = { "keep.json", NULL };
    struct rlimit saved, small = { .rlim_cur = 4, .rlim_max = RLIM_INFINITY };
    char path[128];

    (void)state;
    clear_tmpdir();
    (void)snprintf(path, sizeof(path), "%s/keep.json", tmpdir);
    assert_int_equal(afile_save(path, "old", 3), 0);
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
    small.rlim_max = saved.rlim_max;
    (void)signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    assert_int_equal(afile_save(path, "newnewnew", 9), -EFBIG);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
    (void)signal(SIGXFSZ, SIG_DFL);
    expect_content(path, "old");
    assert_string_equal(other_names(only), "");
}

/* A rename that fails (a directory in the way) takes its temporary name back. */
static void
failed_rename_leaves_no_temporary(void **state)
{
    const char *const only[] = { "dir.json", NULL };
    char path[128], inner[160];

    (void)state;
    clear_tmpdir();
    (void)snprintf(path, sizeof(path), "%s/dir.json", tmpdir);
    (void)snprintf(inner, sizeof(inner), "%s/x", path);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(mkdir(inner, 0700), 0);
    assert_int_equal(afile_save(path, "new", 3), -EEXIST); /* a directory is never replaced */
    assert_string_equal(other_names(only), "");
    assert_int_equal(rmdir(inner), 0);
    assert_int_equal(rmdir(path), 0);
}

/*
 * B3: a symbolic link planted at the old temporary name (or at the dumpfile's
 * own name) is never followed: its target keeps its content, and the link
 * at PATH.tmp is left as it was. A link at the dumpfile's name is not
 * replaced either (nor is any other non-regular file, see below).
 */
static void
planted_symlinks_are_never_followed(void **state)
{
    const char *const names[] = { "dump.json", "dump.json.tmp", "victim", NULL };
    char path[128], tmp[140], victim[128], target[128];
    struct stat st;
    ssize_t n;

    (void)state;
    clear_tmpdir();
    (void)snprintf(path, sizeof(path), "%s/dump.json", tmpdir);
    (void)snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    (void)snprintf(victim, sizeof(victim), "%s/victim", tmpdir);
    assert_int_equal(afile_save(victim, "precious", 8), 0);
    assert_int_equal(symlink(victim, tmp), 0);
    assert_int_equal(afile_save(path, "checkpoint", 10), 0);
    expect_content(victim, "precious");
    expect_content(path, "checkpoint");
    n = readlink(tmp, target, sizeof(target) - 1);
    assert_true(n > 0);
    target[n] = '\0';
    assert_string_equal(target, victim);
    assert_string_equal(other_names(names), "");
    /* The dumpfile itself a link: neither followed nor replaced, and no temporary left. */
    assert_int_equal(unlink(path), 0);
    assert_int_equal(symlink(victim, path), 0);
    assert_int_equal(afile_save(path, "again", 5), -EEXIST);
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    expect_content(victim, "precious");
    assert_string_equal(other_names(names), "");
}

/*
 * A device or FIFO at the dumpfile's path is never replaced: as root,
 * --dumpfile /dev/null by mistake once replaced the system's /dev/null with
 * a checkpoint. The save fails with -EEXIST and leaves nothing behind.
 */
static void
non_regular_files_are_never_replaced(void **state)
{
    const char *const names[] = { "dump.json", NULL };
    char path[128];
    struct stat st;

    (void)state;
    clear_tmpdir();
    (void)snprintf(path, sizeof(path), "%s/dump.json", tmpdir);
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_int_equal(afile_save(path, "x", 1), -EEXIST);
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    assert_string_equal(other_names(names), "");
    assert_int_equal(unlink(path), 0);
    if (geteuid() == 0) {
        assert_int_equal(mknod(path, S_IFCHR | 0600, makedev(1, 5)), 0); /* /dev/zero's numbers */
        assert_int_equal(afile_save(path, "x", 1), -EEXIST);
        assert_int_equal(lstat(path, &st), 0);
        assert_true(S_ISCHR(st.st_mode));
        assert_string_equal(other_names(names), "");
        assert_int_equal(unlink(path), 0);
    }
}

static void
save_into_missing_directory(void **state)
{
    char path[128], *back, err[256];
    size_t blen;

    (void)state;
    (void)snprintf(path, sizeof(path), "%s/no/such/dir/dump.json", tmpdir);
    assert_int_equal(afile_save(path, "x", 1), -ENOENT);
    assert_int_equal(afile_load(path, MAX, &back, &blen, err, sizeof(err)), -ENOENT);
    assert_string_equal(err, "cannot be read (No such file or directory)");
}

static void
expect_untrusted(const char *path, const char *reason)
{
    char *back = NULL, err[256] = "";
    size_t blen;

    assert_int_equal(afile_load(path, MAX, &back, &blen, err, sizeof(err)), -EPERM);
    assert_null(back);
    if (strcmp(err, reason) != 0)
        fail_msg("%s: expected \"%s\", got \"%s\"", path, reason, err);
}

/*
 * Whoever writes the dumpfile picks what drover stops: only a regular file of
 * drover's own uid that nobody else may write is read, and nothing blocks.
 */
static void
load_refuses_what_it_cannot_trust(void **state)
{
    char path[128], link[140], *back, err[256], reason[96];
    size_t blen;

    (void)state;
    (void)snprintf(path, sizeof(path), "%s/trust.json", tmpdir);
    assert_int_equal(afile_save(path, "{}", 2), 0);
    assert_int_equal(afile_load(path, MAX, &back, &blen, err, sizeof(err)), 0);
    free(back);
    assert_int_equal(chmod(path, 0666), 0);
    expect_untrusted(path, "is writable by group/others (mode 0666)");
    assert_int_equal(chmod(path, 0620), 0);
    expect_untrusted(path, "is writable by group/others (mode 0620)");
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(afile_load(path, MAX, &back, &blen, err, sizeof(err)), 0);
    free(back);
    if (geteuid() == 0) {
        assert_int_equal(chown(path, 65534, 65534), 0);
        expect_untrusted(path, "is owned by uid 65534, not by drover's uid 0");
    } else {
        (void)snprintf(reason, sizeof(reason), "is owned by uid 0, not by drover's uid %u",
                       (unsigned)geteuid());
        expect_untrusted("/etc/passwd", reason);
    }
    (void)snprintf(link, sizeof(link), "%s/link.json", tmpdir);
    assert_int_equal(symlink(path, link), 0);
    expect_untrusted(link, "is a symbolic link");
    expect_untrusted("/dev/null", "is not a regular file (a character device)");
    expect_untrusted(tmpdir, "is not a regular file (a directory)");
    /* A FIFO without a writer: a blocking open would never return. */
    (void)snprintf(path, sizeof(path), "%s/fifo.json", tmpdir);
    assert_int_equal(mkfifo(path, 0600), 0);
    expect_untrusted(path, "is not a regular file (a FIFO)");
}


/* A file above the caller's bound is refused unread, with the bound in the words. */
static void
load_refuses_a_file_above_the_bound(void **state)
{
    char path[128], *back = NULL, err[256] = "";
    size_t blen;
    char big[2 * 1024 * 1024];

    (void)state;
    clear_tmpdir();
    (void)snprintf(path, sizeof(path), "%s/big.json", tmpdir);
    memset(big, 'x', sizeof(big));
    assert_int_equal(afile_save(path, big, sizeof(big)), 0);
    assert_int_equal(afile_load(path, 1024 * 1024, &back, &blen, err, sizeof(err)), -EFBIG);
    assert_null(back);
    assert_string_equal(err, "is larger than 1 MiB");
    assert_int_equal(afile_load(path, 514, &back, &blen, err, sizeof(err)), -EFBIG);
    assert_string_equal(err, "is larger than 514 bytes"); /* not "0 MiB" */
    assert_int_equal(afile_load(path, sizeof(big), &back, &blen, err, sizeof(err)), 0);
    assert_int_equal(blen, sizeof(big));
    free(back);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(save_then_load),
        cmocka_unit_test(failed_save_keeps_the_old_file),
        cmocka_unit_test(failed_rename_leaves_no_temporary),
        cmocka_unit_test(planted_symlinks_are_never_followed),
        cmocka_unit_test(non_regular_files_are_never_replaced),
        cmocka_unit_test(save_into_missing_directory),
        cmocka_unit_test(load_refuses_what_it_cannot_trust),
        cmocka_unit_test(load_refuses_a_file_above_the_bound),
    };

    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}

/*
 * test_ckpt: the checkpoint codec (pack/unpack round trip, every truncation
 * length, each malformed field) and the atomic save/load on a temp dir.
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

#include "ckpt.h"

static char *argv0[] = { "./bin/timeserver", "--port=9100", "quote\"and\\back", "ünï", NULL };
static char *argv1[] = { NULL };

static struct ckpt_entry sample_entries[] = {
    { .program = "timeserver", .instance = 0, .pid = 1234, .pgid = 1234, .start_time = 987654321,
      .port = 9100, .argv = argv0, .generation = "42.123456" },
    /* Adopted across a crash: it carries the generation of the drover that spawned it. */
    { .program = "auth", .instance = 7, .pid = 99, .pgid = 99, .start_time = 1, .port = 0, .argv = argv1,
      .generation = "2147483647.18446744073709551615" },
    { .program = "x", .instance = 2, .pid = 2147483647, .pgid = 5, .start_time = 0, .port = 65535,
      .argv = NULL, .generation = "1.0" },
};

static const struct ckpt sample = {
    .drover_pid = 42, .drover_start_time = 123456, .written_unix_ms = 1795434660123,
    .entries = sample_entries, .nentries = 3,
};

static void
pack_sample(char **data, size_t *len)
{
    assert_int_equal(ckpt_pack(&sample, data, len), 0);
    assert_true(*len > 0);
}

static void
round_trip(void **state)
{
    struct ckpt c;
    char *data, err[256] = "";
    size_t len;

    (void)state;
    pack_sample(&data, &len);
    assert_non_null(strstr(data, "\"written_at\":\"2026-11-23T"));
    assert_non_null(strstr(data, "\"version\":2,"));
    assert_int_equal(ckpt_unpack(data, len, &c, err, sizeof(err)), 0);
    assert_int_equal(c.drover_pid, 42);
    assert_int_equal(c.drover_start_time, 123456);
    assert_int_equal(c.nentries, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(c.entries[i].program, sample_entries[i].program);
        assert_int_equal(c.entries[i].instance, sample_entries[i].instance);
        assert_int_equal(c.entries[i].pid, sample_entries[i].pid);
        assert_int_equal(c.entries[i].pgid, sample_entries[i].pgid);
        assert_int_equal(c.entries[i].start_time, sample_entries[i].start_time);
        assert_int_equal(c.entries[i].port, sample_entries[i].port);
        assert_string_equal(c.entries[i].generation, sample_entries[i].generation);
    }
    for (size_t k = 0; argv0[k]; k++)
        assert_string_equal(c.entries[0].argv[k], argv0[k]);
    assert_null(c.entries[0].argv[4]);
    assert_null(c.entries[1].argv[0]);
    assert_null(c.entries[2].argv[0]); /* NULL packs as [] */
    ckpt_done(&c);
    free(data);
}

static void
empty_pool(void **state)
{
    struct ckpt in = { .drover_pid = 1, .drover_start_time = 2 }, out;
    char *data, err[256];
    size_t len;

    (void)state;
    assert_int_equal(ckpt_pack(&in, &data, &len), 0);
    assert_int_equal(ckpt_unpack(data, len, &out, err, sizeof(err)), 0);
    assert_int_equal(out.nentries, 0);
    ckpt_done(&out);
    free(data);
}

/* Every proper prefix of a checkpoint is refused with a reason, never accepted or crashed on. */
static void
every_truncation_fails_cleanly(void **state)
{
    char *data;
    size_t len;

    (void)state;
    pack_sample(&data, &len);
    for (size_t n = 0; n < len; n++) {
        struct ckpt c = { .drover_pid = -1 };
        char err[256] = "";
        char *copy = malloc(n + 1);

        assert_non_null(copy);
        memcpy(copy, data, n); /* a separate allocation, so ASan sees any read past n */
        if (n < len && strspn(data + n, " \n\t") == len - n) {
            free(copy);
            continue; /* only whitespace was cut: still the whole document */
        }
        assert_int_equal(ckpt_unpack(copy, n, &c, err, sizeof(err)), -EINVAL);
        assert_true(strlen(err) > 0);
        assert_int_equal(c.drover_pid, -1); /* untouched on failure */
        free(copy);
    }
    free(data);
}

static void
expect_refused(const char *text, const char *reason)
{
    struct ckpt c;
    char err[256] = "";

    assert_int_equal(ckpt_unpack(text, strlen(text), &c, err, sizeof(err)), -EINVAL);
    if (!strstr(err, reason))
        fail_msg("for %s\nexpected a reason containing \"%s\", got \"%s\"", text, reason, err);
}

#define HEAD "{\"format\":\"drover-checkpoint\",\"version\":1,\"drover\":{\"pid\":5,\"start_time\":6},"
#define HEAD2 "{\"format\":\"drover-checkpoint\",\"version\":2,\"drover\":{\"pid\":5,\"start_time\":6},"
#define ENTRY2 "\"program\":\"a\",\"instance\":0,\"pid\":4,\"pgid\":4,\"start_time\":1"

static void
malformed_fields(void **state)
{
    (void)state;
    expect_refused("", "empty file");
    expect_refused("[1]", "not a drover checkpoint");
    expect_refused("{\"format\":\"other\",\"version\":1}", "not a drover checkpoint");
    expect_refused("{\"format\":\"drover-checkpoint\",\"version\":3}", "unsupported version");
    expect_refused("{\"format\":\"drover-checkpoint\",\"version\":0}", "unsupported version");
    /* Version 2 names each entry's generation; one that is missing or not PID.STARTTIME is refused. */
    expect_refused(HEAD2 "\"instances\":[{" ENTRY2 "}]}", "instances[0]: \"generation\" must be a string");
    expect_refused(HEAD2 "\"instances\":[{" ENTRY2 ",\"generation\":7}]}", "\"generation\"");
    expect_refused(HEAD2 "\"instances\":[{" ENTRY2 ",\"generation\":\"0.5\"}]}", "\"generation\"");
    expect_refused(HEAD2 "\"instances\":[{" ENTRY2 ",\"generation\":\"-3.5\"}]}", "\"generation\"");
    expect_refused("{\"format\":\"drover-checkpoint\",\"version\":\"1\"}", "unsupported version");
    expect_refused("{\"format\":\"drover-checkpoint\",\"version\":1,\"drover\":3}", "\"drover\" must be an object");
    expect_refused("{\"format\":\"drover-checkpoint\",\"version\":1,\"drover\":{\"pid\":0,\"start_time\":6}}",
                   "\"pid\" must be an integer");
    expect_refused("{\"format\":\"drover-checkpoint\",\"version\":1,\"drover\":{\"pid\":5}}", "\"start_time\"");
    expect_refused(HEAD "\"instances\":{}}", "\"instances\" must be a list");
    expect_refused(HEAD "\"instances\":[3]}", "instances[0]");
    expect_refused(HEAD "\"instances\":[{\"program\":\"\",\"instance\":0,\"pid\":1,\"pgid\":1,\"start_time\":1}]}",
                   "\"program\" must be a non-empty string");
    expect_refused(HEAD "\"instances\":[{\"program\":\"a\",\"instance\":-1,\"pid\":1,\"pgid\":1,\"start_time\":1}]}",
                   "\"instance\"");
    expect_refused(HEAD "\"instances\":[{\"program\":\"a\",\"instance\":0,\"pid\":-4,\"pgid\":1,\"start_time\":1}]}",
                   "instances[0]: \"pid\"");
    expect_refused(HEAD "\"instances\":[{\"program\":\"a\",\"instance\":0,\"pid\":4,\"start_time\":1}]}",
                   "\"pgid\"");
    expect_refused(HEAD "\"instances\":[{\"program\":\"a\",\"instance\":0,\"pid\":4,\"pgid\":4,\"start_time\":1,"
                        "\"port\":70000}]}",
                   "\"port\" must be null or an integer");
    expect_refused(HEAD "\"instances\":[{\"program\":\"a\",\"instance\":0,\"pid\":4,\"pgid\":4,\"start_time\":1,"
                        "\"argv\":[1]}]}",
                   "\"argv\" must be a list of strings");
    expect_refused("{\"format\":\"drover-checkpoint\",\"format\":\"x\"}", "duplicate");
}

static void
unknown_fields_are_ignored(void **state)
{
    const char *text = HEAD "\"future\":[1,2],\"instances\":[{\"program\":\"a\",\"instance\":0,\"pid\":4,"
                            "\"pgid\":4,\"start_time\":1,\"port\":null,\"extra\":true}]}";
    struct ckpt c;
    char err[256];

    (void)state;
    assert_int_equal(ckpt_unpack(text, strlen(text), &c, err, sizeof(err)), 0);
    assert_int_equal(c.nentries, 1);
    assert_int_equal(c.entries[0].port, 0);
    assert_null(c.entries[0].argv);
    ckpt_done(&c);
}

/* A version-1 file has no generation per entry: each is its file's drover's. */
static void
version_1_entries_get_the_file_drovers_generation(void **state)
{
    const char *text = HEAD "\"instances\":[{\"program\":\"a\",\"instance\":0,\"pid\":4,\"pgid\":4,"
                            "\"start_time\":1,\"generation\":\"ignored\"}]}";
    struct ckpt c;
    char err[256];

    (void)state;
    assert_int_equal(ckpt_unpack(text, strlen(text), &c, err, sizeof(err)), 0);
    assert_int_equal(c.nentries, 1);
    assert_string_equal(c.entries[0].generation, "5.6");
    ckpt_done(&c);
}

static void
parse_generation(void **state)
{
    static const char *const bad[] = {
        "", ".", "1.", ".1", "1", "0.1", "a.1", "1.a", "+1.1", " 1.1", "1.1 ", "1.-1", "1..1",
        "1.1.1", "2147483648.1", "12345678901.1", "1.184467440737095516150", "1.18446744073709551616",
    };
    pid_t pid;
    uint64_t start;

    (void)state;
    assert_int_equal(ckpt_parse_generation("12045.141060", &pid, &start), 0);
    assert_int_equal(pid, 12045);
    assert_int_equal(start, 141060);
    assert_int_equal(ckpt_parse_generation("2147483647.18446744073709551615", &pid, &start), 0);
    assert_int_equal(pid, 2147483647);
    assert_true(start == UINT64_MAX);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (ckpt_parse_generation(bad[i], &pid, &start) != -EINVAL)
            fail_msg("\"%s\" was accepted", bad[i]);
}

static char tmpdir[64];

static int
make_tmpdir(void **state)
{
    (void)state;
    (void)snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_ckpt.XXXXXX");
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
    pack_sample(&data, &len);
    assert_int_equal(ckpt_save(path, data, len), 0);
    assert_int_equal(ckpt_load(path, &back, &blen, err, sizeof(err)), 0);
    assert_int_equal(blen, len);
    assert_memory_equal(back, data, len);
    free(back);
    /* Replacing it leaves no temp file behind. */
    assert_int_equal(ckpt_save(path, "{}", 2), 0);
    assert_int_equal(ckpt_load(path, &back, &blen, err, sizeof(err)), 0);
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
    assert_int_equal(ckpt_save(path, "old", 3), 0);
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
    small.rlim_max = saved.rlim_max;
    (void)signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    assert_int_equal(ckpt_save(path, "newnewnew", 9), -EFBIG);
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
    assert_int_equal(ckpt_save(path, "new", 3), -EEXIST); /* a directory is never replaced */
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
    assert_int_equal(ckpt_save(victim, "precious", 8), 0);
    assert_int_equal(symlink(victim, tmp), 0);
    assert_int_equal(ckpt_save(path, "checkpoint", 10), 0);
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
    assert_int_equal(ckpt_save(path, "again", 5), -EEXIST);
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
    assert_int_equal(ckpt_save(path, "x", 1), -EEXIST);
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    assert_string_equal(other_names(names), "");
    assert_int_equal(unlink(path), 0);
    if (geteuid() == 0) {
        assert_int_equal(mknod(path, S_IFCHR | 0600, makedev(1, 5)), 0); /* /dev/zero's numbers */
        assert_int_equal(ckpt_save(path, "x", 1), -EEXIST);
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
    assert_int_equal(ckpt_save(path, "x", 1), -ENOENT);
    assert_int_equal(ckpt_load(path, &back, &blen, err, sizeof(err)), -ENOENT);
    assert_string_equal(err, "cannot be read (No such file or directory)");
}

static void
expect_untrusted(const char *path, const char *reason)
{
    char *back = NULL, err[256] = "";
    size_t blen;

    assert_int_equal(ckpt_load(path, &back, &blen, err, sizeof(err)), -EPERM);
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
    assert_int_equal(ckpt_save(path, "{}", 2), 0);
    assert_int_equal(ckpt_load(path, &back, &blen, err, sizeof(err)), 0);
    free(back);
    assert_int_equal(chmod(path, 0666), 0);
    expect_untrusted(path, "is writable by group/others (mode 0666)");
    assert_int_equal(chmod(path, 0620), 0);
    expect_untrusted(path, "is writable by group/others (mode 0620)");
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(ckpt_load(path, &back, &blen, err, sizeof(err)), 0);
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

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(empty_pool),
        cmocka_unit_test(every_truncation_fails_cleanly),
        cmocka_unit_test(malformed_fields),
        cmocka_unit_test(unknown_fields_are_ignored),
        cmocka_unit_test(version_1_entries_get_the_file_drovers_generation),
        cmocka_unit_test(parse_generation),
        cmocka_unit_test(save_then_load),
        cmocka_unit_test(failed_save_keeps_the_old_file),
        cmocka_unit_test(failed_rename_leaves_no_temporary),
        cmocka_unit_test(planted_symlinks_are_never_followed),
        cmocka_unit_test(non_regular_files_are_never_replaced),
        cmocka_unit_test(save_into_missing_directory),
        cmocka_unit_test(load_refuses_what_it_cannot_trust),
    };

    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}

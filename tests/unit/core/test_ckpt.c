/*
 * test_ckpt: the checkpoint codec (pack/unpack round trip, every truncation
 * length, each malformed field). test_afile tests the file's save and load.
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

#include "core/ckpt.h"

static char *argv0[] = { "./bin/timeserver", "--port=9100", "quote\"and\\back", "ünï", NULL };
static char *argv1[] = { NULL };

static struct ckpt_entry sample_entries[] = {
    { .program = "timeserver", .instance = 0, .pid = 1234, .pgid = 1234, .start_time = 987654321,
      .port = 9100, .argv = argv0, .generation = "42.123456",
      .jobs_token = "0123456789abcdef0123456789abcdef" }, /* a worker of a program with jobs */
    /* Adopted across a crash: it carries the generation of the drover that spawned it. */
    { .program = "auth", .instance = 7, .pid = 99, .pgid = 99, .start_time = 1, .port = 0, .argv = argv1,
      .generation = "2147483647.18446744073709551615" },
    { .program = "x", .instance = 2, .pid = 2147483647, .pgid = 5, .start_time = 0, .port = 65535,
      .argv = NULL, .generation = "1.0", .stale = true }, /* a roll had not reached it */
};

static struct ckpt_scale sample_scales[] = {
    { .program = "timeserver", .instances = 1, .configured = 3 }, /* scaled down */
    { .program = "idle", .instances = 0, .configured = 0 },
    { .program = "ünï", .instances = 1000000, .configured = 7 },
};

static const struct ckpt sample = {
    .drover_pid = 42, .drover_start_time = 123456, .written_unix_ms = 1795434660123,
    .entries = sample_entries, .nentries = 3, .scales = sample_scales, .nscales = 3,
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
        assert_int_equal(c.entries[i].stale, sample_entries[i].stale);
        assert_string_equal(c.entries[i].jobs_token, sample_entries[i].jobs_token);
    }
    for (size_t k = 0; argv0[k]; k++)
        assert_string_equal(c.entries[0].argv[k], argv0[k]);
    assert_null(c.entries[0].argv[4]);
    assert_null(c.entries[1].argv[0]);
    assert_null(c.entries[2].argv[0]); /* NULL packs as [] */
    /* Every program's scale (kept in key order, as written) */
    assert_int_equal(c.nscales, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(c.scales[i].program, sample_scales[i].program);
        assert_int_equal(c.scales[i].instances, sample_scales[i].instances);
        assert_int_equal(c.scales[i].configured, sample_scales[i].configured);
    }
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
    expect_refused(HEAD2 "\"instances\":[{" ENTRY2 ",\"generation\":\"1.2\",\"stale\":1}]}",
                   "instances[0]: \"stale\" must be true or false");
    expect_refused(HEAD2 "\"instances\":[{" ENTRY2 ",\"generation\":\"1.2\",\"jobs_token\":\"ABC\"}]}",
                   "instances[0]: \"jobs_token\" must be 32 lowercase hex digits");
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

/* A file written before scales were recorded has none; bad scales are refused. */
static void
scales_are_optional_and_checked(void **state)
{
    struct ckpt c;
    char err[256] = "";
    const char *old = HEAD "\"instances\":[]}";
    (void)state;

    assert_int_equal(ckpt_unpack(old, strlen(old), &c, err, sizeof(err)), 0);
    assert_int_equal(c.nscales, 0);
    ckpt_done(&c);
    expect_refused(HEAD "\"instances\":[],\"scales\":[1]}", "\"scales\" must be an object");
    expect_refused(HEAD "\"instances\":[],\"scales\":{\"a\":3}}", "must be {\"instances\": N, \"configured\": N}");
    expect_refused(HEAD "\"instances\":[],\"scales\":{\"a\":{\"instances\":-1,\"configured\":1}}}",
                   "scales: \"instances\" must be an integer from 0 to 1000000");
    expect_refused(HEAD "\"instances\":[],\"scales\":{\"a\":{\"instances\":1000001,\"configured\":1}}}",
                   "from 0 to 1000000");
    expect_refused(HEAD "\"instances\":[],\"scales\":{\"a\":{\"instances\":1}}}",
                   "scales: \"configured\" must be an integer");
    expect_refused(HEAD "\"instances\":[],\"scales\":{\"a\":{\"instances\":\"1\",\"configured\":1}}}",
                   "\"instances\" must be an integer");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(scales_are_optional_and_checked),
        cmocka_unit_test(empty_pool),
        cmocka_unit_test(every_truncation_fails_cleanly),
        cmocka_unit_test(malformed_fields),
        cmocka_unit_test(unknown_fields_are_ignored),
        cmocka_unit_test(version_1_entries_get_the_file_drovers_generation),
        cmocka_unit_test(parse_generation),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_util: the pure helpers of src/util.c. Duration strings and JSON
 * seconds (units, fractions, syntax rejects, the 30-day cap), signal names
 * and numbers (every named signal round trips), "FROM-TO" port ranges, and
 * util_format_duration. The clock readers get a monotonicity check only.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

#define SENTINEL_MS ((int64_t)-7777)

/* Parses s and returns the result code; *ms keeps SENTINEL_MS unless written. */
static int
dur(const char *s, int64_t *ms)
{
    *ms = SENTINEL_MS;
    return util_parse_duration_ms(s, ms);
}

/* Sizes: digits and a unit of 1024s; nothing else, nothing past UINT64_MAX. */
static void
size_units(void **state)
{
    static const struct {
        const char *s;
        uint64_t v;
    } ok[] = {
        { "0", 0 },
        { "512", 512 },
        { "512B", 512 },
        { "1K", 1024 },
        { "1kb", 1024 },
        { "1KiB", 1024 },
        { "10MB", 10485760 },
        { "2G", 2147483648ull },
        { "1t", 1099511627776ull },
        { "18446744073709551615", UINT64_MAX },
    };
    static const char *const bad[] = { "",     "K",  "1.5G", " 1G", "1 G",
                                       "1GBB", "1X", "-1",   "1Gi", "0x10" };
    uint64_t v;
    (void)state;

    for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
        v = 7;
        if (util_parse_size(ok[i].s, &v) != 0 || v != ok[i].v)
            fail_msg("\"%s\": got %llu", ok[i].s, (unsigned long long)v);
    }
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
        if (util_parse_size(bad[i], &v) != -EINVAL)
            fail_msg("\"%s\" was taken", bad[i]);
    assert_int_equal(util_parse_size("18446744073709551616", &v), -ERANGE);
    assert_int_equal(util_parse_size("16777216T", &v), -ERANGE);
    assert_int_equal(util_parse_size(NULL, &v), -EINVAL);
}

static void
duration_accepts_units(void **state)
{
    static const struct {
        const char *s;
        int64_t ms;
    } ok[] = {
        { "500ms", 500 },
        { "10s", 10000 },
        { "2m", 120000 },
        { "1h", 3600000 },
        { "5", 5000 },
        { "0.25", 250 },
        { "0", 0 },
        { "0ms", 0 },
        { "1.5s", 1500 },
        { ".5", 500 },
        { "5.", 5000 },
        { "0.001", 1 },
        { "1.5ms", 2 },
        { "0.5m", 30000 },
        { "007s", 7000 },
        { "1000ms", 1000 },
        { "720h", UTIL_DURATION_MAX_MS },
        { "2592000", UTIL_DURATION_MAX_MS },
        { "43200m", UTIL_DURATION_MAX_MS },
        { "2592000000ms", UTIL_DURATION_MAX_MS },
    };
    (void)state;

    for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
        int64_t ms;
        int r = dur(ok[i].s, &ms);

        if (r != 0 || ms != ok[i].ms)
            print_error("\"%s\": r=%d ms=%lld, want %lld\n", ok[i].s, r, (long long)ms,
                        (long long)ok[i].ms);
        assert_int_equal(r, 0);
        assert_int_equal(ms, ok[i].ms);
    }
}

static void
duration_rejects_syntax(void **state)
{
    static const char *const bad[] = {
        "",    "ms", "10x", "-1",  "1e3", " 5",       "5 ", ".",    "0x10",  "nan",
        "inf", "s",  "5 s", "5S",  "5MS", "1.2.3",    "+5", "5sec", "1m30s", "5\n",
        "1,5", "h",  "..5", "5..", "0x",  "Infinity", "-0", "1e",   "5ss",   "\t5",
    };
    (void)state;

    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        int64_t ms;
        int r = dur(bad[i], &ms);

        if (r != -EINVAL)
            print_error("\"%s\": r=%d, want -EINVAL\n", bad[i], r);
        assert_int_equal(r, -EINVAL);
        assert_int_equal(ms, SENTINEL_MS);
    }
    assert_int_equal(util_parse_duration_ms(NULL, &(int64_t){ 0 }), -EINVAL);
}

static void
duration_rejects_above_30_days(void **state)
{
    static const char *const big[] = {
        "721h", "2592000.001", "2592001", "43201m", "2592000001ms", "99999999999999", "1000000h",
    };
    (void)state;

    for (size_t i = 0; i < ARRAY_SIZE(big); i++) {
        int64_t ms;
        int r = dur(big[i], &ms);

        if (r != -ERANGE)
            print_error("\"%s\": r=%d, want -ERANGE\n", big[i], r);
        assert_int_equal(r, -ERANGE);
        assert_int_equal(ms, SENTINEL_MS);
    }
}

static void
seconds_to_ms_converts_and_rounds(void **state)
{
    int64_t ms = SENTINEL_MS;
    (void)state;

    assert_int_equal(util_seconds_to_ms(0, &ms), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(util_seconds_to_ms(0.25, &ms), 0);
    assert_int_equal(ms, 250);
    assert_int_equal(util_seconds_to_ms(10, &ms), 0);
    assert_int_equal(ms, 10000);
    assert_int_equal(util_seconds_to_ms(1.0005, &ms), 0);
    assert_true(ms == 1000 || ms == 1001);
    assert_int_equal(util_seconds_to_ms(0.0014, &ms), 0);
    assert_int_equal(ms, 1);
    assert_int_equal(util_seconds_to_ms(2592000.0, &ms), 0);
    assert_int_equal(ms, UTIL_DURATION_MAX_MS);
    assert_int_equal(util_seconds_to_ms(-0.0, &ms), 0);
    assert_int_equal(ms, 0);
}

static void
seconds_to_ms_rejects_out_of_range(void **state)
{
    static const double bad[] = { -1, -0.001, -1e300, 2592000.01, 1e300 };
    int64_t ms = SENTINEL_MS;
    (void)state;

    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        assert_int_equal(util_seconds_to_ms(bad[i], &ms), -ERANGE);
        assert_int_equal(ms, SENTINEL_MS);
    }
    assert_int_equal(util_seconds_to_ms(NAN, &ms), -ERANGE);
    assert_int_equal(util_seconds_to_ms(-NAN, &ms), -ERANGE);
    assert_int_equal(util_seconds_to_ms(INFINITY, &ms), -ERANGE);
    assert_int_equal(util_seconds_to_ms(-INFINITY, &ms), -ERANGE);
    assert_int_equal(ms, SENTINEL_MS);
}

static void
signal_parse_accepts(void **state)
{
    static const struct {
        const char *s;
        int sig;
    } ok[] = {
        { "TERM", SIGTERM },    { "SIGTERM", SIGTERM },
        { "term", SIGTERM },    { "sigterm", SIGTERM },
        { "SigTerm", SIGTERM }, { "15", SIGTERM },
        { "KILL", SIGKILL },    { "9", SIGKILL },
        { "HUP", SIGHUP },      { "SIGINT", SIGINT },
        { "quit", SIGQUIT },    { "USR1", SIGUSR1 },
        { "usr2", SIGUSR2 },    { "SIGCHLD", SIGCHLD },
        { "WINCH", SIGWINCH },  { "1", 1 },
        { "015", SIGTERM },
    };
    (void)state;

    for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
        int sig = -1;
        int r = util_parse_signal(ok[i].s, &sig);

        if (r != 0 || sig != ok[i].sig)
            print_error("\"%s\": r=%d sig=%d, want %d\n", ok[i].s, r, sig, ok[i].sig);
        assert_int_equal(r, 0);
        assert_int_equal(sig, ok[i].sig);
    }
}

static void
signal_parse_numbers_up_to_sigrtmax(void **state)
{
    char buf[16];
    int sig = -1;
    (void)state;

    (void)snprintf(buf, sizeof(buf), "%d", SIGRTMAX);
    assert_int_equal(util_parse_signal(buf, &sig), 0);
    assert_int_equal(sig, SIGRTMAX);
    (void)snprintf(buf, sizeof(buf), "%d", SIGRTMAX + 1);
    sig = -1;
    assert_int_equal(util_parse_signal(buf, &sig), -EINVAL);
    assert_int_equal(sig, -1);
}

static void
signal_parse_rejects(void **state)
{
    static const char *const bad[] = {
        "",      "FOO", "0",   "99",     "15x",        "SIG",   "SIGFOO", " TERM",
        "TERM ", "-15", "+15", "SIG+15", "SIGSIGTERM", "TERMX", "1.5",    "99999999999999999999",
        "00",
    };
    (void)state;

    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        int sig = -1;
        int r = util_parse_signal(bad[i], &sig);

        if (r != -EINVAL)
            print_error("\"%s\": r=%d, want -EINVAL\n", bad[i], r);
        assert_int_equal(r, -EINVAL);
        assert_int_equal(sig, -1);
    }
    assert_int_equal(util_parse_signal(NULL, &(int){ 0 }), -EINVAL);
}

/* Signals without a name print as "SIG34"; that form parses back, for every number. */
static void
signal_numbers_round_trip(void **state)
{
    int sig = 0;
    (void)state;

    assert_int_equal(util_parse_signal("SIG15", &sig), 0);
    assert_int_equal(sig, 15);
    for (int n = 1; n <= SIGRTMAX; n++) {
        assert_int_equal(util_parse_signal(util_signal_name(n), &sig), 0);
        assert_int_equal(sig, n);
    }
}

/* Every classic signal 1..31 has a name on Linux; each must parse back in all spellings. */
static void
signal_name_round_trip(void **state)
{
    (void)state;

    for (int sig = 1; sig < 32; sig++) {
        const char *name = util_signal_name(sig);
        char with_sig[48], lower[32];
        int back = -1;

        assert_non_null(name);
        /* A real name, not the "SIG<number>" fallback. */
        assert_true(strlen(name) > 0 && strlen(name) < sizeof(lower));
        assert_int_equal(strncmp(name, "SIG", 3) == 0, 0);
        for (size_t i = 0; i <= strlen(name); i++)
            lower[i] = (char)tolower((unsigned char)name[i]);
        (void)snprintf(with_sig, sizeof(with_sig), "SIG%s", name);

        assert_int_equal(util_parse_signal(name, &back), 0);
        assert_int_equal(back, sig);
        back = -1;
        assert_int_equal(util_parse_signal(with_sig, &back), 0);
        assert_int_equal(back, sig);
        back = -1;
        assert_int_equal(util_parse_signal(lower, &back), 0);
        assert_int_equal(back, sig);
    }
    /* Spot checks that the names are the conventional ones. */
    assert_string_equal(util_signal_name(SIGTERM), "TERM");
    assert_string_equal(util_signal_name(SIGKILL), "KILL");
    assert_string_equal(util_signal_name(SIGHUP), "HUP");
    assert_string_equal(util_signal_name(SIGCHLD), "CHLD");
    assert_string_equal(util_signal_name(SIGIO), "IO");
}

static void
signal_name_fallback(void **state)
{
    char want[16];
    (void)state;

    (void)snprintf(want, sizeof(want), "SIG%d", SIGRTMIN + 1);
    assert_string_equal(util_signal_name(SIGRTMIN + 1), want);
    assert_string_equal(util_signal_name(0), "SIG0");
    assert_string_equal(util_signal_name(64), "SIG64"); /* Linux has no signal above 64 */
    assert_string_equal(util_signal_name(-3), "SIG?");
    assert_string_equal(util_signal_name(1000), "SIG?");
}

static void
port_range_accepts(void **state)
{
    static const struct {
        const char *s;
        uint16_t from, to;
    } ok[] = {
        { "9100-9199", 9100, 9199 }, { "1-65535", 1, 65535 },         { "5-5", 5, 5 },
        { "00001-00002", 1, 2 },     { "65535-65535", 65535, 65535 },
    };
    (void)state;

    for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
        uint16_t from = 7, to = 7;

        assert_int_equal(util_parse_port_range(ok[i].s, &from, &to), 0);
        assert_int_equal(from, ok[i].from);
        assert_int_equal(to, ok[i].to);
    }
}

static void
port_range_rejects(void **state)
{
    static const char *const bad[] = {
        "0-10", "10-5",     "9100",       "9100-",       "-9100",
        "a-b",  "1-65536",  "9100-9199x", "+1-2",        "",
        "-",    "1-2-3",    " 1-2",       "1-2 ",        "1 -2",
        "1- 2", "000001-2", "1-000002",   "65536-65537", "99999-99999",
        "0-0",  "1--2",     "0x10-0x20",  "6-5",         "65535-65534",
    };
    (void)state;

    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        uint16_t from = 7, to = 7;
        int r = util_parse_port_range(bad[i], &from, &to);

        if (r != -EINVAL)
            print_error("\"%s\": r=%d, want -EINVAL\n", bad[i], r);
        assert_int_equal(r, -EINVAL);
        assert_int_equal(from, 7);
        assert_int_equal(to, 7);
    }
    assert_int_equal(util_parse_port_range(NULL, &(uint16_t){ 0 }, &(uint16_t){ 0 }), -EINVAL);
}

static void
format_duration_values(void **state)
{
    static const struct {
        int64_t ms;
        const char *want;
    } cases[] = {
        { 0, "0.000s" },
        { 1, "0.001s" },
        { 999, "0.999s" },
        { 1000, "1.000s" },
        { 1234, "1.234s" },
        { 60000, "60.000s" },
        { -1, "-0.001s" },
        { -1500, "-1.500s" },
        { UTIL_DURATION_MAX_MS, "2592000.000s" },
        { INT64_MAX, "9223372036854775.807s" },
    };
    (void)state;

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char buf[64];

        memset(buf, 'x', sizeof(buf));
        assert_ptr_equal(util_format_duration(buf, sizeof(buf), cases[i].ms), buf);
        assert_string_equal(buf, cases[i].want);
    }
}

static void
format_duration_truncates(void **state)
{
    char buf[8];
    (void)state;

    memset(buf, 'x', sizeof(buf));
    assert_ptr_equal(util_format_duration(buf, 4, 1234), buf);
    assert_string_equal(buf, "1.2");
    assert_int_equal(buf[4], 'x');
}

static void
clocks_are_monotonic(void **state)
{
    int64_t ns1, ns2, ms1, ms2;
    (void)state;

    ns1 = util_now_ns();
    ms1 = util_now_ms();
    ns2 = util_now_ns();
    ms2 = util_now_ms();
    assert_true(ns1 > 0);
    assert_true(ns2 >= ns1);
    assert_true(ms2 >= ms1);
    assert_true(ms1 >= ns1 / 1000000);
    assert_true(ms1 <= ns2 / 1000000);
}

/* FNV-1a's published test vectors: the hash of "", "a" and "foobar". */
static void
hash_str_is_fnv1a(void **state)
{
    (void)state;
    assert_true(util_hash_str("") == UINT64_C(0xcbf29ce484222325));
    assert_true(util_hash_str("a") == UINT64_C(0xaf63dc4c8601ec8c));
    assert_true(util_hash_str("foobar") == UINT64_C(0x85944171f73967e8));
}

static void
secret_equal_compares_every_byte_and_the_length(void **state)
{
    (void)state;
    assert_true(util_secret_equal("s3cret-token", "s3cret-token"));
    assert_false(util_secret_equal("x3cret-token", "s3cret-token")); /* first byte */
    assert_false(util_secret_equal("s3cret-tokeN", "s3cret-token")); /* last byte */
    assert_false(util_secret_equal("s3cret-toke", "s3cret-token"));  /* a prefix */
    assert_false(util_secret_equal("s3cret-token!", "s3cret-token")); /* longer */
    assert_false(util_secret_equal("", "s3cret-token"));
    assert_false(util_secret_equal(NULL, "s3cret-token"));
    assert_true(util_secret_equal("", ""));
    /* A NUL in the given text ends it: no byte after it can make up a match. */
    assert_false(util_secret_equal("s3cret\0token", "s3cret-token"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(size_units),
        cmocka_unit_test(duration_accepts_units),
        cmocka_unit_test(duration_rejects_syntax),
        cmocka_unit_test(duration_rejects_above_30_days),
        cmocka_unit_test(seconds_to_ms_converts_and_rounds),
        cmocka_unit_test(seconds_to_ms_rejects_out_of_range),
        cmocka_unit_test(signal_parse_accepts),
        cmocka_unit_test(signal_parse_numbers_up_to_sigrtmax),
        cmocka_unit_test(signal_parse_rejects),
        cmocka_unit_test(signal_name_round_trip),
        cmocka_unit_test(signal_numbers_round_trip),
        cmocka_unit_test(signal_name_fallback),
        cmocka_unit_test(port_range_accepts),
        cmocka_unit_test(port_range_rejects),
        cmocka_unit_test(format_duration_values),
        cmocka_unit_test(format_duration_truncates),
        cmocka_unit_test(clocks_are_monotonic),
        cmocka_unit_test(hash_str_is_fnv1a),
        cmocka_unit_test(secret_equal_compares_every_byte_and_the_length),
    };

    return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}

/*
 * test_cfg: JSON configuration parsing and validation (src/cfg.c). One test
 * per error class, each checking that cfg_parse() returns -EINVAL, leaves
 * the output alone, and reports "SOURCE:LINE:COL: JSON.PATH: message" with
 * the position of the offending value (or key); then the valid forms: the
 * time-service list, the object form with every key set, the defaults,
 * cfg_finish() and the error collector. Every parsed config is released
 * with cfg_done() so that ASan sees any leak.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/cfg.h"
#include "core/util.h"

/* --- helpers ---------------------------------------------------------------------------------- */

static struct cfg_errors errs;

static const struct config untouched = { .nprograms = 12345, .port_from = 4321 };

/* Parses the len bytes at text, which must fail; returns the number of error lines. */
static unsigned
parse_fails_n(const char *text, size_t len)
{
    struct config cfg = untouched;

    memset(&errs, 0, sizeof(errs));
    assert_int_equal(cfg_parse(text, len, "x.json", &cfg, &errs), -EINVAL);
    /* ret untouched on failure. */
    assert_int_equal(cfg.nprograms, untouched.nprograms);
    assert_int_equal(cfg.port_from, untouched.port_from);
    assert_null(cfg.programs);
    assert_true(errs.count >= 1);
    assert_true(errs.len > 0 && errs.len < sizeof(errs.text));
    assert_int_equal(errs.text[errs.len - 1], '\n');
    assert_int_equal(strlen(errs.text), errs.len);
    return errs.count;
}

static unsigned
parse_fails(const char *text)
{
    return parse_fails_n(text, strlen(text));
}

/* The collected errors contain `want` (printed on failure). */
static void
has(const char *want)
{
    if (!strstr(errs.text, want))
        print_error("wanted: %s\n   got: %s", want, errs.text);
    assert_non_null(strstr(errs.text, want));
}

/* Exactly one error, starting with `prefix` ("x.json:L:C: path: ") and containing `phrase`. */
static void
one_error(const char *text, const char *prefix, const char *phrase)
{
    unsigned n = parse_fails(text);

    if (n != 1 || strncmp(errs.text, prefix, strlen(prefix)) != 0)
        print_error("input: %s\nwanted prefix: %s\n          got: %s", text, prefix, errs.text);
    assert_int_equal(n, 1);
    assert_int_equal(strncmp(errs.text, prefix, strlen(prefix)), 0);
    has(phrase);
    /* One line. */
    assert_ptr_equal(strchr(errs.text, '\n'), errs.text + errs.len - 1);
}

static void
parse_ok(const char *text, struct config *cfg)
{
    memset(&errs, 0, sizeof(errs));
    if (cfg_parse(text, strlen(text), "x.json", cfg, &errs) != 0)
        print_error("unexpected errors: %s", errs.text);
    assert_int_equal(errs.count, 0);
    assert_int_equal(errs.len, 0);
}

static const struct env_cfg *
env_get(const struct program_cfg *p, const char *key)
{
    for (size_t i = 0; i < p->nenv; i++)
        if (strcmp(p->env[i].key, key) == 0)
            return &p->env[i];
    return NULL;
}

/* --- errors ----------------------------------------------------------------------------------- */

static void
invalid_json(void **state)
{
    (void)state;

    one_error("{\n"
              "  \"programs\": [\n"
              "    {\"command\": [\"a\"],,}\n"
              "  ]\n"
              "}\n",
              "x.json:3:", "invalid JSON");
    one_error("[\n {\"command\": [\"a\"]}\n", "x.json:3:", "invalid JSON");
    one_error("", "x.json:", "invalid JSON");
    one_error("\"just a string\"", "x.json:1:", "invalid JSON");
    one_error("[{\"command\": [\"a\"]}] trailing", "x.json:1:", "invalid JSON");
    /* jansson refuses \u0000 in strings: a config cannot smuggle a NUL into argv. */
    one_error("[{\"command\": [\"a\\u0000b\"]}]", "x.json:1:", "invalid JSON");
}

/*
 * jansson's messages are not passed on as they are ("end of file expected
 * near end of file" for a NUL after the document, "\u0000 is not allowed
 * without JSON_ALLOW_NUL"): each json_error_code json_loadb() can set has
 * drover's own wording, with the position kept.
 */
static void
invalid_json_in_our_words(void **state)
{
    static const struct {
        const char *text;
        size_t len; /* 0: strlen(text) */
        const char *error;
    } cases[] = {
#define RAW(s) s, sizeof(s) - 1
        { RAW("[{\"command\":[\"/bin/true\"]}]\0garbage"),
          "x.json:1:28: invalid JSON: a NUL byte after the document\n" },
        { "[{\"command\":[\"a\"]}] trailing", 0,
          "x.json:1:28: invalid JSON: text after the document (near 'trailing')\n" },
        { "[{\"command\":[\"/bin/true\\u0000x\"]}]", 0,
          "x.json:1:31: invalid JSON: strings may not contain \\u0000 (near "
          "'\"/bin/true\\u0000x\"')\n" },
        { "[{\"comm\\u0000and\":[\"a\"]}]", 0,
          "x.json:1:17: invalid JSON: keys may not contain \\u0000 (near '\"comm\\u0000and\"')\n" },
        { "[{\"command\":[\"caf\xe9\"]}]", 0,
          "x.json:1:17: invalid JSON: not valid UTF-8: byte 0xe9 (after '\"caf')\n" },
        { "[\xff]", 0, "x.json:1:1: invalid JSON: not valid UTF-8: byte 0xff\n" },
        { "[{\"command\":[\"a\"]}", 0,
          "x.json:1:18: invalid JSON: the document ends too early: a ']' is missing\n" },
        { "{\"programs\":[]", 0,
          "x.json:1:14: invalid JSON: the document ends too early: a '}' is missing\n" },
        { "[{\"command\":[\"/bin/tr", 0,
          "x.json:1:21: invalid JSON: the document ends inside a string (near '\"/bin/tr')\n" },
        { "[{\"command\":", 0, "x.json:1:12: invalid JSON: the document ends too early\n" },
        { "", 0,
          "x.json:1:1: invalid JSON: the configuration is empty (expected a list or an object)\n" },
        { " \n\t", 0,
          "x.json:2:1: invalid JSON: the configuration is empty (expected a list or an object)\n" },
        { RAW("[\0]"), "x.json:1:2: invalid JSON: a NUL byte inside the document\n" },
        { RAW("[\"a\0b\"]"),
          "x.json:1:3: invalid JSON: a NUL byte inside a string (near '\"a')\n" },
        { "[\"a\nb\"]", 0,
          "x.json:1:3: invalid JSON: a line break inside a string (write it as \\n) (near "
          "'\"a')\n" },
        { "[\"a\tb\"]", 0,
          "x.json:1:3: invalid JSON: control character 0x09 inside a string (write it as "
          "\\u0009) (near '\"a')\n" },
        { "[\"a\\qb\"]", 0,
          "x.json:1:5: invalid JSON: an invalid escape in a string (valid: \\\" \\\\ \\/ \\b \\f "
          "\\n \\r \\t \\uXXXX) (near '\"a\\q')\n" },
        { "[\"a\\uD800\"]", 0,
          "x.json:1:10: invalid JSON: a \\u escape of half a UTF-16 surrogate pair (near "
          "'\"a\\uD800\"')\n" },
        { "{\"a\":1,}", 0,
          "x.json:1:8: invalid JSON: expected a key in double quotes or '}' (near '}')\n" },
        { "{'a':1}", 0,
          "x.json:1:2: invalid JSON: expected a key in double quotes or '}' (near ''')\n" },
        { "{\"a\" 1}", 0, "x.json:1:6: invalid JSON: expected ':' after the key (near '1')\n" },
        { "{\"a\":1 \"b\":2}", 0,
          "x.json:1:10: invalid JSON: expected ',' or '}' (near '\"b\"')\n" },
        { "[1 2]", 0, "x.json:1:4: invalid JSON: expected ',' or ']' (near '2')\n" },
        { "{\"a\":yes}", 0,
          "x.json:1:8: invalid JSON: not a JSON value (strings need double quotes; true, false, "
          "null are lower case) (near 'yes')\n" },
        { "{\"a\":}", 0, "x.json:1:6: invalid JSON: expected a value (near '}')\n" },
        { "\"x\"", 0,
          "x.json:1:3: invalid JSON: the document must be a list or an object (near '\"x\"')\n" },
        { "\xef\xbb\xbf[]", 0,
          "x.json:1:1: invalid JSON: a byte order mark before the document (save it as UTF-8 "
          "without one)\n" },
        { "{\"a\":1,\"a\":2}", 0, "x.json:1:10: invalid JSON: duplicate key \"a\"\n" },
        { "[123456789012345678901234567890]", 0,
          "x.json:1:31: invalid JSON: an integer too large for 64 bits\n" },
        { "[1e999]", 0,
          "x.json:1:6: invalid JSON: a number too large for a double (near '1e999')\n" },
#undef RAW
    };
    char deep[4096];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].text);

        assert_int_equal(parse_fails_n(cases[i].text, len), 1);
        if (strcmp(errs.text, cases[i].error) != 0)
            print_error("case %zu\nwanted: %s   got: %s", i, cases[i].error, errs.text);
        assert_string_equal(errs.text, cases[i].error);
    }
    memset(deep, '[', sizeof(deep));
    assert_int_equal(parse_fails_n(deep, sizeof(deep)), 1);
    has("invalid JSON: lists and objects nested too deeply (near '[')\n");
}

static void
duplicate_json_keys(void **state)
{
    (void)state;

    one_error("[{\"command\": [\"a\"],\n  \"instances\": 1, \"instances\": 2}]",
              "x.json:2:", "invalid JSON");
    has("duplicate");
    one_error("{\"programs\": [{\"command\": [\"a\"]}], \"programs\": []}",
              "x.json:1:", "duplicate");
}

static void
wrong_type_command(void **state)
{
    (void)state;

    one_error("[{\"command\": \"./bin/a --x\"}]", "x.json:1:14: [0].command: ",
              "expected a list of strings (program and arguments), got a string");
    one_error("[{\"command\": [\"a\", 5]}]",
              "x.json:1:20: [0].command[1]: ", "expected a string, got an integer");
    one_error("[{\"command\": [\"a\", null]}]",
              "x.json:1:20: [0].command[1]: ", "expected a string, got null");
}

static void
wrong_type_instances(void **state)
{
    (void)state;

    one_error("{\"programs\": [\n"
              "  {\"command\": [\"a\"],\n"
              "   \"instances\": \"3\"}\n"
              "]}",
              "x.json:3:17: programs[0].instances: ",
              "expected an integer from 1 to 10000, got a string");
    one_error("[{\"command\": [\"a\"], \"instances\": 2.0}]",
              "x.json:1:34: [0].instances: ", "got a number");
    one_error("[{\"command\": [\"a\"], \"instances\": true}]",
              "x.json:1:34: [0].instances: ", "got a boolean");
}

static void
wrong_type_env_value(void **state)
{
    (void)state;

    one_error("[{\"command\":[\"a\"],\"env\":{\"A\":1}}]",
              "x.json:1:30: [0].env.A: ", "expected a string, got an integer");
    one_error("[{\"command\":[\"a\"],\"env\":[\"A=1\"]}]",
              "x.json:1:25: [0].env: ", "expected environment variables (an object), got a list");
}

static void
wrong_type_stop_timeout(void **state)
{
    (void)state;

    one_error(
        "[{\"command\": [\"a\"], \"stop_timeout\": true}]", "x.json:1:37: [0].stop_timeout: ",
        "expected a duration (a string such as \"10s\" or a number of seconds), got a boolean");
    one_error("[{\"command\": [\"a\"], \"stop_timeout\": [10]}]",
              "x.json:1:37: [0].stop_timeout: ", "got a list");
}

static void
wrong_type_restart(void **state)
{
    (void)state;

    one_error("[{\"command\": [\"a\"], \"restart\": 1}]",
              "x.json:1:32: [0].restart: ", "expected \"always\", \"on-failure\" or \"never\"");
    one_error("[{\"command\": [\"a\"], \"restart\": \"sometimes\"}]",
              "x.json:1:32: [0].restart: ", "expected \"always\", \"on-failure\" or \"never\"");
    one_error("[{\"command\": [\"a\"], \"restart\": \"Always\"}]",
              "x.json:1:32: [0].restart: ", "\"on-failure\"");
}

static void
unknown_key_program(void **state)
{
    (void)state;

    /* The position is that of the key, not of its value. */
    one_error("[\n"
              "  {\"command\": [\"a\"],\n"
              "   \"bogus\": {\"deep\": [1, 2]}}\n"
              "]",
              "x.json:3:4: [0].bogus: ",
              "unknown key \"bogus\" (known: command, input, output, error, name,");
    one_error("{\"programs\": [{\"command\": [\"a\"], \"instance\": 2}]}",
              "x.json:1:34: programs[0].instance: ", "unknown key \"instance\"");
}

static void
unknown_key_top_level(void **state)
{
    (void)state;

    one_error(
        "{\n"
        " \"programs\": [{\"command\": [\"a\"]}],\n"
        " \"port_rnage\": \"9100-9199\"\n"
        "}",
        "x.json:3:2: port_rnage: ", "unknown key \"port_rnage\" (known: programs, port_range");
}

static void
empty_command(void **state)
{
    (void)state;

    one_error("[{\"command\": []}]", "x.json:1:14: [0].command: ", "command is empty");
    one_error("[{\"command\": [\"\"]}]",
              "x.json:1:15: [0].command[0]: ", "expected a non-empty string");
}

/* Later arguments may be empty strings. */
static void
empty_later_argument_is_fine(void **state)
{
    struct config cfg;
    (void)state;

    parse_ok("[{\"command\": [\"a\", \"\"]}]", &cfg);
    assert_int_equal(cfg.programs[0].argc, 2);
    assert_string_equal(cfg.programs[0].argv[1], "");
    cfg_done(&cfg);
}

static void
unknown_placeholder(void **state)
{
    (void)state;

    one_error("[{\"command\": [\"a\", \"--port={{prot}}\"]}]",
              "x.json:1:20: [0].command[1]: ", "unknown placeholder \"{{prot}}\"");
    one_error("[{\"command\": [\"a\"], \"env\": {\"P\": \"{{port\"}}]",
              "x.json:1:34: [0].env.P: ", "unknown placeholder \"{{port\"");
    one_error("[{\"command\": [\"a\"], \"output\": \"out/{{}}.log\"}]",
              "x.json:1:31: [0].output: ", "unknown placeholder \"{{}}\"");
    one_error("[{\"command\": [\"a\"], \"cwd\": \"/srv/{{nmae}}\"}]",
              "x.json:1:28: [0].cwd: ", "unknown placeholder \"{{nmae}}\"");
    one_error("[{\"command\": [\"{{Name}}\"]}]", "x.json:1:15: [0].command[0]: ", "{{Name}}");
}

static void
bad_duration(void **state)
{
    (void)state;

    one_error("[{\"command\": [\"a\"], \"stop_timeout\": \"10x\"}]",
              "x.json:1:37: [0].stop_timeout: ",
              "expected a duration such as \"500ms\", \"10s\", \"2m\" or seconds, got \"10x\"");
    one_error("[{\"command\": [\"a\"], \"start_seconds\": \"1 s\"}]",
              "x.json:1:38: [0].start_seconds: ", "got \"1 s\"");
    one_error("[{\"command\": [\"a\"], \"backoff\": {\"initial\": \"fast\"}}]",
              "x.json:1:44: [0].backoff.initial: ", "got \"fast\"");
    one_error("[{\"command\": [\"a\"], \"stop_timeout\": \"31d\"}]",
              "x.json:1:37: [0].stop_timeout: ", "\"31d\"");
    one_error("[{\"command\": [\"a\"], \"stop_timeout\": \"721h\"}]",
              "x.json:1:37: [0].stop_timeout: ", "duration out of range (0 to 30 days): \"721h\"");
    one_error(
        "[{\"command\": [\"a\"], \"stop_timeout\": 2592001}]",
        "x.json:1:37: [0].stop_timeout: ", "duration out of range (0 to 30 days), got 2.592e+06");
}

static void
negative_duration(void **state)
{
    (void)state;

    one_error("[{\"command\": [\"a\"], \"stop_timeout\": -1}]",
              "x.json:1:37: [0].stop_timeout: ", "duration out of range (0 to 30 days), got -1");
    one_error("[{\"command\": [\"a\"], \"start_seconds\": -0.5}]",
              "x.json:1:38: [0].start_seconds: ", "duration out of range (0 to 30 days), got -0.5");
    one_error("[{\"command\": [\"a\"], \"yoyo\": {\"window\": -60}}]",
              "x.json:1:40: [0].yoyo.window: ", "out of range");
    /* A negative duration string is a syntax error. */
    one_error("[{\"command\": [\"a\"], \"stop_timeout\": \"-1s\"}]",
              "x.json:1:37: [0].stop_timeout: ", "\"-1s\"");
}

static void
bad_stop_signal(void **state)
{
    (void)state;

    one_error("[{\"command\": [\"a\"], \"stop_signal\": \"FOO\"}]",
              "x.json:1:36: [0].stop_signal: ", "unknown or unusable signal \"FOO\"");
    /* KILL and STOP are refused in every spelling. */
    one_error("[{\"command\": [\"a\"], \"stop_signal\": \"KILL\"}]",
              "x.json:1:36: [0].stop_signal: ", "unknown or unusable signal \"KILL\"");
    one_error("[{\"command\": [\"a\"], \"stop_signal\": \"sigkill\"}]",
              "x.json:1:36: [0].stop_signal: ", "\"sigkill\"");
    one_error("[{\"command\": [\"a\"], \"stop_signal\": 9}]",
              "x.json:1:36: [0].stop_signal: ", "unknown or unusable signal \"9\"");
    one_error("[{\"command\": [\"a\"], \"stop_signal\": \"STOP\"}]",
              "x.json:1:36: [0].stop_signal: ", "\"STOP\"");
    one_error("[{\"command\": [\"a\"], \"stop_signal\": 19}]",
              "x.json:1:36: [0].stop_signal: ", "\"19\"");
    one_error("[{\"command\": [\"a\"], \"stop_signal\": 0}]",
              "x.json:1:36: [0].stop_signal: ", "\"0\"");
    one_error("[{\"command\": [\"a\"], \"stop_signal\": -15}]",
              "x.json:1:36: [0].stop_signal: ", "\"-15\"");
    one_error("[{\"command\": [\"a\"], \"stop_signal\": 1.5}]", "x.json:1:36: [0].stop_signal: ",
              "expected a signal name such as \"TERM\" or a number, got a number");
}

static void
bad_port_range(void **state)
{
    static const char *const bad[] = { "\"10-5\"", "\"0-10\"", "\"9100\"",      "\"1-65536\"",
                                       "9100",     "null",     "\"9100-9199x\"" };
    (void)state;

    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        char text[256];

        (void)snprintf(text, sizeof(text),
                       "{\"programs\": [{\"command\": [\"a\"]}], \"port_range\": %s}", bad[i]);
        one_error(text, "x.json:1:50: port_range: ",
                  "expected a port range \"FROM-TO\" with 1 <= FROM <= TO <= 65535");
    }
}

static void
duplicate_name(void **state)
{
    (void)state;

    one_error(
        "[{\"name\": \"a\", \"command\": [\"x\"]},\n {\"name\": \"a\", \"command\": [\"y\"]}]",
        "x.json:2:11: [1].name: ", "duplicate program name \"a\"");
    one_error("{\"programs\": [{\"name\": \"w\", \"command\": [\"x\"]}, {\"command\": [\"y\"]},"
              " {\"command\": [\"z\"], \"name\": \"w\"}]}",
              "x.json:1:95: programs[2].name: ", "duplicate program name \"w\"");
}

static void
bad_name(void **state)
{
    char text[256];
    (void)state;

    one_error("[{\"name\": \"a b\", \"command\": [\"x\"]}]", "x.json:1:11: [0].name: ",
              "names use letters, digits, '_', '.', '-' (at most 64), got \"a b\"");
    one_error("[{\"name\": \"\", \"command\": [\"x\"]}]",
              "x.json:1:11: [0].name: ", "expected a non-empty string");
    one_error("[{\"name\": \"a/b\", \"command\": [\"x\"]}]",
              "x.json:1:11: [0].name: ", "got \"a/b\"");
    /* 65 characters is one too many; 64 is fine. */
    (void)snprintf(text, sizeof(text), "[{\"name\": \"%065d\", \"command\": [\"x\"]}]", 0);
    one_error(text, "x.json:1:11: [0].name: ", "at most 64");
    (void)snprintf(text, sizeof(text), "[{\"name\": \"%064d\", \"command\": [\"x\"]}]", 0);
    {
        struct config cfg;

        parse_ok(text, &cfg);
        assert_int_equal(strlen(cfg.programs[0].name), 64);
        cfg_done(&cfg);
    }
}

static void
missing_command(void **state)
{
    (void)state;

    one_error("[{\"name\": \"x\"}]", "x.json:1:2: [0]: ", "missing \"command\"");
    one_error("[{\"command\": [\"a\"]},\n  {}]", "x.json:2:3: [1]: ", "missing \"command\"");
    one_error("[{\"command\": [\"a\"]}, 7]",
              "x.json:1:22: [1]: ", "expected a program (an object), got an integer");
}

static void
missing_or_empty_programs(void **state)
{
    (void)state;

    one_error("{}", "x.json:1:1: (top level): ", "missing \"programs\"");
    one_error("{\"port_range\": \"1-2\"}", "x.json:1:1: (top level): ", "missing \"programs\"");
    one_error("{\"programs\": []}",
              "x.json:1:14: programs: ", "no programs: expected at least one");
    one_error("[]", "x.json:1:1: (top level): ", "no programs: expected at least one");
    one_error("{\"programs\": {\"command\": [\"a\"]}}",
              "x.json:1:14: programs: ", "expected a list of programs, got an object");
}

static void
instances_out_of_range(void **state)
{
    (void)state;

    one_error("[{\"command\": [\"a\"], \"instances\": 0}]",
              "x.json:1:34: [0].instances: ", "expected an integer from 1 to 10000, got 0");
    one_error("[{\"command\": [\"a\"], \"instances\": 10001}]",
              "x.json:1:34: [0].instances: ", "expected an integer from 1 to 10000, got 10001");
    one_error("[{\"command\": [\"a\"], \"instances\": -1}]",
              "x.json:1:34: [0].instances: ", "got -1");
    one_error("[{\"command\": [\"a\"], \"instances\": 4294967297}]",
              "x.json:1:34: [0].instances: ", "got 4294967297");
}

static void
backoff_max_below_initial(void **state)
{
    (void)state;

    one_error("[{\"command\": [\"a\"], \"backoff\": {\"initial\": \"2s\", \"max\": \"1s\"}}]",
              "x.json:1:32: [0].backoff: ", "backoff max (1000 ms) is below initial (2000 ms)");
    /* Only initial given: compared with the default max (30 s). */
    one_error("[{\"command\": [\"a\"], \"backoff\": {\"initial\": \"1m\"}}]",
              "x.json:1:32: [0].backoff: ", "backoff max (30000 ms) is below initial (60000 ms)");
    one_error(
        "[{\"command\": [\"a\"], \"backoff\": {\"initial\": \"1s\", \"maximum\": \"2s\"}}]",
        "x.json:1:50: [0].backoff.maximum: ", "unknown key \"maximum\" (known: initial, max)");
    one_error("[{\"command\": [\"a\"], \"backoff\": 5}]",
              "x.json:1:32: [0].backoff: ", "got an integer");
}

static void
yoyo_errors(void **state)
{
    (void)state;

    one_error(
        "[{\"command\": [\"a\"], \"yoyo\": {\"restarts\": 3, \"windows\": \"1m\"}}]",
        "x.json:1:45: [0].yoyo.windows: ", "unknown key \"windows\" (known: restarts, window)");
    one_error("[{\"command\": [\"a\"], \"yoyo\": {\"restarts\": 1001}}]",
              "x.json:1:42: [0].yoyo.restarts: ", "expected an integer from 0 to 1000, got 1001");
    one_error("[{\"command\": [\"a\"], \"yoyo\": true}]", "x.json:1:29: [0].yoyo: ", "or false");
}

/* success_exit_codes replaces {0}; fatal_exit_codes is empty unless given; each code 0-255. */
static void
exit_codes(void **state)
{
    struct config cfg;
    const struct svc_policy *pol;
    (void)state;

    parse_ok("[{\"command\": [\"a\"]}, {\"command\": [\"b\"], \"success_exit_codes\": [0, 3, 255],"
             " \"fatal_exit_codes\": [2, 7]}]",
             &cfg);
    pol = &cfg.programs[0].policy;
    assert_false(pol->success_codes_given);
    for (int code = 0; code < 256; code++)
        assert_false(svc_code_in(pol->fatal_codes, code));
    pol = &cfg.programs[1].policy;
    assert_true(pol->success_codes_given);
    for (int code = 0; code < 256; code++) {
        assert_int_equal(svc_code_in(pol->success_codes, code),
                         code == 0 || code == 3 || code == 255);
        assert_int_equal(svc_code_in(pol->fatal_codes, code), code == 2 || code == 7);
    }
    cfg_done(&cfg);
    one_error(
        "[{\"command\": [\"a\"], \"fatal_exit_codes\": [2, 256]}]",
        "x.json:1:45: [0].fatal_exit_codes[1]: ", "expected an integer from 0 to 255, got 256");
    one_error("[{\"command\": [\"a\"], \"success_exit_codes\": 0}]",
              "x.json:1:43: [0].success_exit_codes: ",
              "expected a list of exit codes (integers from 0 to 255), got an integer");
    /* A code cannot be both: 0 is a success code unless success_exit_codes leaves it out. */
    one_error("[{\"command\": [\"a\"], \"fatal_exit_codes\": [0]}]",
              "x.json:1:41: [0].fatal_exit_codes: ",
              "exit code 0 is a success code too (success_exit_codes is [0] by default)");
    one_error(
        "[{\"command\": [\"a\"], \"success_exit_codes\": [0, 200], \"fatal_exit_codes\": [200]}]",
        "x.json:1:",
        "[0].fatal_exit_codes: exit code 200 is a success code too (success_exit_codes)");
    parse_ok("[{\"command\": [\"a\"], \"success_exit_codes\": [1], \"fatal_exit_codes\": [0]}]",
             &cfg);
    cfg_done(&cfg);
}

/*
 * on_fatal, on_state_change, hook_timeout: top level for every program, a
 * program's own key (null too) replacing it; argv kept as given.
 */
static void
hooks(void **state)
{
    struct config cfg;
    const struct cfg_command *cmd;
    (void)state;

    parse_ok("{\"on_fatal\": [\"page\", \"--on-call\"], \"on_state_change\": [\"tell\"],"
             " \"hook_timeout\": \"3s\", \"programs\": ["
             " {\"command\": [\"a\"]},"
             " {\"command\": [\"b\"], \"on_fatal\": [\"/bin/own\", \"x\"], \"hook_timeout\": 0.5},"
             " {\"command\": [\"c\"], \"on_state_change\": null}]}",
             &cfg);
    assert_int_equal(cfg.hook_timeout_ms, 3000);
    cmd = cfg_hook(&cfg, &cfg.programs[0], CFG_HOOK_FATAL);
    assert_non_null(cmd);
    assert_int_equal(cmd->argc, 2);
    assert_string_equal(cmd->argv[0], "page");
    assert_string_equal(cmd->argv[1], "--on-call");
    assert_null(cmd->argv[2]);
    assert_string_equal(cfg_hook(&cfg, &cfg.programs[0], CFG_HOOK_STATE_CHANGE)->argv[0], "tell");
    assert_int_equal(cfg_hook_timeout_ms(&cfg, &cfg.programs[0]), 3000);
    /* b's own on_fatal replaces the top level's; its on_state_change is the top level's. */
    assert_string_equal(cfg_hook(&cfg, &cfg.programs[1], CFG_HOOK_FATAL)->argv[0], "/bin/own");
    assert_string_equal(cfg_hook(&cfg, &cfg.programs[1], CFG_HOOK_STATE_CHANGE)->argv[0], "tell");
    assert_int_equal(cfg_hook_timeout_ms(&cfg, &cfg.programs[1]), 500);
    /* c's null: none for c. */
    assert_null(cfg_hook(&cfg, &cfg.programs[2], CFG_HOOK_STATE_CHANGE));
    assert_string_equal(cfg_hook(&cfg, &cfg.programs[2], CFG_HOOK_FATAL)->argv[0], "page");
    assert_string_equal(cfg_hook_name(CFG_HOOK_FATAL), "on_fatal");
    assert_string_equal(cfg_hook_name(CFG_HOOK_STATE_CHANGE), "on_state_change");
    cfg_done(&cfg);

    /* Defaults: no hook, 10 s; the list form has program keys only. */
    parse_ok("[{\"command\": [\"a\"], \"on_state_change\": [\"t\"]}]", &cfg);
    assert_null(cfg_hook(&cfg, &cfg.programs[0], CFG_HOOK_FATAL));
    assert_string_equal(cfg_hook(&cfg, &cfg.programs[0], CFG_HOOK_STATE_CHANGE)->argv[0], "t");
    assert_int_equal(cfg_hook_timeout_ms(&cfg, &cfg.programs[0]), 10000);
    cfg_done(&cfg);

    one_error("[{\"command\": [\"a\"], \"on_fatal\": \"page me\"}]", "x.json:1:33: [0].on_fatal: ",
              "expected a list of strings (program and arguments), got a string");
    one_error("{\"programs\": [{\"command\": [\"a\"]}], \"on_state_change\": []}",
              "x.json:1:55: on_state_change: ", "command is empty");
    one_error("[{\"command\": [\"a\"], \"on_fatal\": [\"p\", 3]}]",
              "x.json:1:39: [0].on_fatal[1]: ", "expected a string, got an integer");
    one_error("{\"programs\": [{\"command\": [\"a\"]}], \"hook_timeout\": \"0s\"}",
              "x.json:1:52: hook_timeout: ", "hook_timeout must be positive");
    one_error("[{\"command\": [\"a\"], \"hook_timeout\": \"soon\"}]",
              "x.json:1:37: [0].hook_timeout: ", "expected a duration");
}

/* `after`: names to indices, levels from the longest chain, default names usable. */
static void
after_orders_programs(void **state)
{
    struct config cfg;
    (void)state;

    parse_ok("{\"programs\": [{\"name\": \"web\", \"command\": [\"w\"], \"after\": [\"db\", "
             "\"migrate\"]},"
             " {\"name\": \"db\", \"command\": [\"d\"]},"
             " {\"name\": \"migrate\", \"command\": [\"m\"], \"after\": [\"db\"], \"restart\": "
             "\"never\"},"
             " {\"command\": [\"/bin/cache\"], \"after\": []}]}",
             &cfg);
    assert_int_equal(cfg.programs[0].nafter, 2);
    assert_string_equal(cfg.programs[0].after[0], "db");
    assert_int_equal(cfg.programs[0].after_index[0], 1);
    assert_int_equal(cfg.programs[0].after_index[1], 2);
    assert_int_equal(cfg.programs[0].level, 2);
    assert_int_equal(cfg.programs[1].level, 0);
    assert_int_equal(cfg.programs[2].level, 1);
    assert_int_equal(cfg.programs[3].nafter, 0);
    assert_int_equal(cfg.programs[3].level, 0);
    cfg_done(&cfg);
    /* A default name (the command's basename) can be named. */
    parse_ok("[{\"command\": [\"/usr/bin/redis-server\"]}, {\"command\": [\"w\"], \"after\": "
             "[\"redis-server\"]}]",
             &cfg);
    assert_int_equal(cfg.programs[1].after_index[0], 0);
    assert_int_equal(cfg.programs[1].level, 1);
    cfg_done(&cfg);
}

static void
after_errors(void **state)
{
    (void)state;

    one_error("[{\"command\": [\"a\"], \"after\": \"b\"}]",
              "x.json:1:30: [0].after: ", "expected a list of program names, got a string");
    one_error("[{\"command\": [\"a\"], \"after\": [\"no such\"]}]",
              "x.json:1:31: [0].after[0]: ", "\"no such\" is not a program name");
    one_error("[{\"name\": \"a\", \"command\": [\"a\"]}, {\"command\": [\"b\"], \"after\": [\"a\", "
              "\"a\"]}]",
              "x.json:1:", "[1].after[1]: \"a\" is listed twice");
    one_error("[{\"command\": [\"a\"], \"after\": [\"ghost\"]}]", "x.json:1:31: [0].after[0]: ",
              "unknown program \"ghost\" (no program has that name)");
    /* A cycle names all of it, in order, back to where it began. */
    one_error("{\"programs\": [{\"name\": \"a\", \"command\": [\"x\"], \"after\": [\"b\"]},\n"
              " {\"name\": \"b\", \"command\": [\"x\"], \"after\": [\"c\"]},\n"
              " {\"name\": \"c\", \"command\": [\"x\"], \"after\": [\"a\"]}]}",
              "x.json:1:", "programs[0].after: dependency cycle: a -> b -> c -> a");
    one_error("[{\"name\": \"solo\", \"command\": [\"x\"], \"after\": [\"solo\"]}]",
              "x.json:1:", "[0].after: dependency cycle: solo -> solo");
}

/* `rlimits`: names to RLIMIT_*, sizes and durations to the kernel's units, in text order. */
static void
rlimits(void **state)
{
    struct config cfg;
    const struct program_cfg *p;
    (void)state;

    parse_ok(
        "[{\"command\": [\"a\"], \"rlimits\": {\"nofile\": 4096, \"as\": \"2GB\", \"core\": 0,"
        " \"cpu\": \"1500ms\", \"nproc\": \"unlimited\", \"rttime\": \"2ms\", \"stack\": \"8M\"}}]",
        &cfg);
    p = &cfg.programs[0];
    assert_int_equal(p->nrlimits, 7);
    assert_int_equal(p->rlimits[0].resource, RLIMIT_NOFILE);
    assert_int_equal(p->rlimits[0].value, 4096);
    assert_string_equal(p->rlimits[0].name, "nofile");
    assert_int_equal(p->rlimits[1].resource, RLIMIT_AS);
    assert_true(p->rlimits[1].value == 2ull << 30);
    assert_int_equal(p->rlimits[2].value, 0);
    assert_int_equal(p->rlimits[3].value, 2); /* CPU seconds, rounded up */
    assert_true(p->rlimits[4].value == CFG_RLIM_UNLIMITED);
    assert_int_equal(p->rlimits[5].value, 2000); /* microseconds */
    assert_true(p->rlimits[6].value == 8ull << 20);
    cfg_done(&cfg);
    one_error("[{\"command\": [\"a\"], \"rlimits\": {\"nofiles\": 1}}]",
              "x.json:1:33: [0].rlimits.nofiles: ", "unknown limit \"nofiles\" (known: as, core");
    one_error(
        "[{\"command\": [\"a\"], \"rlimits\": {\"as\": \"2XB\"}}]", "x.json:1:",
        "[0].rlimits.as: expected a number of bytes, a size such as \"512MB\", or \"unlimited\", "
        "got \"2XB\"");
    one_error("[{\"command\": [\"a\"], \"rlimits\": {\"nofile\": -1}}]", "x.json:1:",
              "[0].rlimits.nofile: expected a whole number or \"unlimited\", got an integer");
    one_error("[{\"command\": [\"a\"], \"rlimits\": [4096]}]", "x.json:1:",
              "[0].rlimits: expected an object of limits, such as {\"nofile\": 4096}, got a list");
}

/* `memory_max`: bytes or a size (util_parse_size's units are powers of 1024); 0 is refused. */
static void
memory_max(void **state)
{
    struct config cfg;
    (void)state;

    parse_ok("[{\"command\": [\"a\"], \"memory_max\": \"512MB\"}, {\"command\": [\"b\"], "
             "\"memory_max\": \"1GiB\"}, {\"command\": [\"c\"], \"memory_max\": 1000000}, "
             "{\"command\": [\"d\"]}]",
             &cfg);
    assert_true(cfg.programs[0].memory_max == 512ull << 20);
    assert_true(cfg.programs[1].memory_max == 1ull << 30);
    assert_true(cfg.programs[2].memory_max == 1000000);
    assert_true(cfg.programs[3].memory_max == 0);
    cfg_done(&cfg);
    one_error("[{\"command\": [\"a\"], \"memory_max\": 0}]", "x.json:1:35: [0].memory_max: ",
              "expected a number of bytes more than 0 or a size such as \"512MB\", got 0");
    one_error("[{\"command\": [\"a\"], \"memory_max\": -5}]", "x.json:1:35: [0].memory_max: ",
              "got -5");
    one_error("[{\"command\": [\"a\"], \"memory_max\": \"0MB\"}]", "x.json:1:",
              "[0].memory_max: expected a number of bytes more than 0 or a size such as "
              "\"512MB\", got \"0MB\"");
    one_error("[{\"command\": [\"a\"], \"memory_max\": \"lots\"}]", "x.json:1:",
              "got \"lots\"");
    one_error("[{\"command\": [\"a\"], \"memory_max\": 1.5}]", "x.json:1:",
              "[0].memory_max: expected a number of bytes more than 0");
    one_error("[{\"command\": [\"a\"],\n \"memory_max\": \"64XB\"}]", "x.json:2:",
              "got \"64XB\"");
}

/* `output`/`error`: a path (not captured), "drover", or the object form with its defaults. */
static void
captured_output(void **state)
{
    struct config cfg;
    const struct program_cfg *p;
    (void)state;

    parse_ok("[{\"command\": [\"a\"], \"output\": {\"file\": \"out/{{name}}-{{instance}}.log\","
             " \"max_size\": \"10MB\", \"backups\": 3, \"tail_lines\": 50}, \"error\": \"drover\"}]",
             &cfg);
    p = &cfg.programs[0];
    assert_null(p->output);
    assert_null(p->error);
    assert_int_equal(p->capture[CFG_STREAM_OUT].mode, CFG_CAPTURE_FILE);
    assert_string_equal(p->capture[CFG_STREAM_OUT].file, "out/{{name}}-{{instance}}.log");
    assert_true(p->capture[CFG_STREAM_OUT].max_size == 10ull << 20);
    assert_int_equal(p->capture[CFG_STREAM_OUT].backups, 3);
    assert_int_equal(p->capture[CFG_STREAM_OUT].tail_lines, 50);
    assert_int_equal(p->capture[CFG_STREAM_ERR].mode, CFG_CAPTURE_DROVER);
    assert_int_equal(p->capture[CFG_STREAM_ERR].tail_lines, CFG_CAPTURE_DEFAULT_TAIL);
    cfg_done(&cfg);

    /* Defaults: no rotation, 5 backups, 200 lines; a plain path is not captured. */
    parse_ok("[{\"command\": [\"a\"], \"output\": {\"file\": \"o\", \"max_size\": 4096},"
             " \"error\": \"e.log\"}]",
             &cfg);
    p = &cfg.programs[0];
    assert_int_equal(p->capture[CFG_STREAM_OUT].max_size, 4096);
    assert_int_equal(p->capture[CFG_STREAM_OUT].backups, CFG_CAPTURE_DEFAULT_BACKUPS);
    assert_int_equal(p->capture[CFG_STREAM_OUT].tail_lines, CFG_CAPTURE_DEFAULT_TAIL);
    assert_int_equal(p->capture[CFG_STREAM_ERR].mode, CFG_CAPTURE_NONE);
    assert_string_equal(p->error, "e.log");
    cfg_done(&cfg);
    parse_ok("[{\"command\": [\"a\"], \"output\": {\"file\": \"o\"}}]", &cfg);
    assert_int_equal(cfg.programs[0].capture[CFG_STREAM_OUT].max_size, 0);
    assert_int_equal(cfg.programs[0].capture[CFG_STREAM_ERR].mode, CFG_CAPTURE_NONE);
    cfg_done(&cfg);

    one_error("[{\"command\": [\"a\"], \"output\": {\"max_size\": \"1MB\"}}]", "x.json:1:31: [0].output: ",
              "missing \"file\"");
    one_error("[{\"command\": [\"a\"], \"output\": {\"file\": \"o\", \"max_size\": \"1XB\"}}]",
              "x.json:1:57: [0].output.max_size: ",
              "expected a size above 0 such as \"10MB\" or a number of bytes, got \"1XB\"");
    one_error("[{\"command\": [\"a\"], \"output\": {\"file\": \"o\", \"max_size\": 0}}]",
              "x.json:1:57: [0].output.max_size: ", "got an integer");
    one_error("[{\"command\": [\"a\"], \"error\": {\"file\": \"o\", \"backups\": 101}}]",
              "x.json:1:55: [0].error.backups: ", "expected an integer from 0 to 100, got 101");
    one_error("[{\"command\": [\"a\"], \"error\": {\"file\": \"o\", \"tail_lines\": -1}}]",
              "x.json:1:", "[0].error.tail_lines: expected an integer from 0 to 10000");
    one_error("[{\"command\": [\"a\"], \"error\": {\"file\": \"o\", \"rotate\": 1}}]",
              "x.json:1:", "[0].error.rotate: unknown key \"rotate\" (known: file, max_size, backups");
    one_error("[{\"command\": [\"a\"], \"output\": {\"file\": \"{{nope}}\"}}]", "x.json:1:",
              "[0].output.file: ");
    one_error("[{\"command\": [\"a\"], \"output\": {\"file\": \"\"}}]", "x.json:1:",
              "[0].output.file: expected a non-empty string");
}

static void
umask_and_nice(void **state)
{
    struct config cfg;
    (void)state;

    parse_ok("[{\"command\": [\"a\"], \"umask\": \"027\", \"nice\": 10}, {\"command\": [\"b\"], "
             "\"umask\": \"0o777\", \"nice\": -20}, {\"command\": [\"c\"], \"umask\": 18}, "
             "{\"command\": [\"d\"]}]",
             &cfg);
    assert_true(cfg.programs[0].umask_given);
    assert_int_equal(cfg.programs[0].umask, 027);
    assert_int_equal(cfg.programs[0].nice, 10);
    assert_int_equal(cfg.programs[1].umask, 0777);
    assert_int_equal(cfg.programs[1].nice, -20);
    assert_int_equal(cfg.programs[2].umask, 022);
    assert_false(cfg.programs[2].nice_given);
    assert_false(cfg.programs[3].umask_given);
    cfg_done(&cfg);
    one_error("[{\"command\": [\"a\"], \"umask\": \"0789\"}]",
              "x.json:1:", "[0].umask: expected a umask: an octal string from \"000\" to \"777\"");
    one_error("[{\"command\": [\"a\"], \"umask\": 512}]",
              "x.json:1:", "[0].umask: expected a umask");
    one_error("[{\"command\": [\"a\"], \"nice\": 20}]",
              "x.json:1:", "[0].nice: expected a nice value, an integer from -20 to 19");
}

static void
user_and_group(void **state)
{
    struct config cfg;
    (void)state;

    parse_ok("[{\"command\": [\"a\"], \"user\": \"www-data\", \"group\": 33},\n"
             " {\"command\": [\"b\"], \"user\": 1000, \"group\": \"adm\"}, {\"command\": [\"c\"]}]",
             &cfg);
    assert_string_equal(cfg.programs[0].identity.user, "www-data");
    assert_string_equal(cfg.programs[0].identity.group, "33");
    assert_string_equal(cfg.programs[1].identity.user, "1000");
    assert_string_equal(cfg.programs[1].identity.group, "adm");
    assert_null(cfg.programs[2].identity.user);
    assert_null(cfg.programs[2].identity.group);
    /* Where each was written, for the errors of the lookup at config check. */
    assert_string_equal(cfg.programs[0].identity.user_at, "x.json:1:29: [0].user");
    assert_string_equal(cfg.programs[1].identity.group_at, "x.json:2:44: [1].group");
    assert_false(cfg.programs[0].identity.switch_to); /* resolving is os/identity's */
    cfg_done(&cfg);
    one_error("[{\"command\": [\"a\"], \"user\": -1}]", "x.json:1:",
              "[0].user: expected a user name or a number from 0 to 4294967294");
    one_error("[{\"command\": [\"a\"], \"group\": 4294967295}]", "x.json:1:",
              "[0].group: expected a group name or a number from 0 to 4294967294");
    one_error("[{\"command\": [\"a\"], \"user\": [\"root\"]}]", "x.json:1:",
              "[0].user: expected a user name or a number, got a list");
    one_error("[{\"command\": [\"a\"], \"user\": \"a:b\"}]", "x.json:1:",
              "[0].user: \"a:b\" is not a user name");
    one_error("[{\"command\": [\"a\"], \"group\": \"\"}]", "x.json:1:",
              "[0].group: expected a non-empty string");
}

static void
env_key_errors(void **state)
{
    (void)state;

    /* Positioned at the key. */
    one_error("[{\"command\": [\"a\"],\n \"env\": {\"OK\": \"1\", \"A=B\": \"x\"}}]",
              "x.json:2:21: [0].env.A=B: ",
              "environment variable names must be non-empty and contain no '='");
    one_error("[{\"command\": [\"a\"], \"env\": {\"\": \"x\"}}]",
              "x.json:1:29: [0].env.: ", "non-empty");
}

/* Positions count characters (not bytes) and skip over escapes and brackets inside strings. */
static void
positions_survive_tricky_text(void **state)
{
    (void)state;

    one_error("[{\"command\": [\"\xc3\xa9\xc3\xa9\", 1]}]",
              "x.json:1:21: [0].command[1]: ", "got an integer");
    one_error("[{\"command\": [\"a\\\"b\", 1]}]",
              "x.json:1:23: [0].command[1]: ", "got an integer");
    one_error("[{\"command\":[\"a\"],\"env\":{\"X\":\"[{\\\"}\"},\"backoff\":{\"initial\":1}},\n"
              "\t{\"command\":[\"b\"],\"instances\":-1}]",
              "x.json:2:31: [1].instances: ", "got -1");
    one_error("\r\n\r\n  [ {\"command\" : [ \"a\" ] , \"instances\" : \"x\" } ]",
              "x.json:3:42: [0].instances: ", "got a string");
}

static void
limits(void **state)
{
    size_t cap = 2 * 1024 * 1024, len = 0;
    char *text = malloc(cap);
    (void)state;

    assert_non_null(text);

    /* More than 1000 programs. */
    len = (size_t)snprintf(text, cap, "[");
    for (int i = 0; i < CFG_MAX_PROGRAMS + 1; i++)
        len += (size_t)snprintf(text + len, cap - len, "%s{\"command\": [\"a\"]}", i ? "," : "");
    (void)snprintf(text + len, cap - len, "]");
    one_error(text, "x.json:1:1: (top level): ", "more than 1000 programs");

    /* More than 256 arguments. */
    len = (size_t)snprintf(text, cap, "[{\"command\": [\"a\"");
    for (int i = 0; i < CFG_MAX_ARGS; i++)
        len += (size_t)snprintf(text + len, cap - len, ", \"x\"");
    (void)snprintf(text + len, cap - len, "]}]");
    one_error(text, "x.json:1:14: [0].command: ", "more than 256 arguments");

    /* More than 256 environment variables. */
    len = (size_t)snprintf(text, cap, "[{\"command\": [\"a\"], \"env\": {");
    for (int i = 0; i < CFG_MAX_ENV + 1; i++)
        len += (size_t)snprintf(text + len, cap - len, "%s\"V%d\": \"x\"", i ? ", " : "", i);
    (void)snprintf(text + len, cap - len, "}}]");
    one_error(text, "x.json:1:28: [0].env: ", "more than 256 environment variables");

    /* A string of 4097 bytes. */
    len = (size_t)snprintf(text, cap, "[{\"command\": [\"a\", \"");
    memset(text + len, 'y', CFG_MAX_STRING + 1);
    len += CFG_MAX_STRING + 1;
    (void)snprintf(text + len, cap - len, "\"]}]");
    one_error(text, "x.json:1:20: [0].command[1]: ", "string longer than 4096 bytes");

    /* 11 programs of 10000 instances: over the total of 100000. */
    len = (size_t)snprintf(text, cap, "[");
    for (int i = 0; i < 11; i++)
        len += (size_t)snprintf(text + len, cap - len,
                                "%s{\"command\": [\"a\"], \"instances\": 10000}", i ? "," : "");
    (void)snprintf(text + len, cap - len, "]");
    one_error(text, "x.json:1:1: (top level): ",
              "110000 instance slots (max_instances) in all, more than the limit of 100000");

    /* A document over 1 MiB is refused before parsing. */
    memset(text, ' ', CFG_MAX_BYTES + 1);
    memcpy(text, "[{\"command\": [\"a\"]}]", 20);
    {
        struct config cfg = untouched;

        memset(&errs, 0, sizeof(errs));
        assert_int_equal(cfg_parse(text, CFG_MAX_BYTES + 1, "big.json", &cfg, &errs), -EINVAL);
        assert_int_equal(cfg.nprograms, untouched.nprograms);
        has("big.json: configuration is larger than 1048576 bytes");
        /* Exactly 1 MiB is fine. */
        memset(&errs, 0, sizeof(errs));
        assert_int_equal(cfg_parse(text, CFG_MAX_BYTES, "big.json", &cfg, &errs), 0);
        assert_int_equal(cfg.nprograms, 1);
        cfg_done(&cfg);
    }
    free(text);
}

static void
multiple_errors_collected(void **state)
{
    unsigned n;
    (void)state;

    n = parse_fails(
        "{\n"
        " \"programs\": [\n"
        "  {\"command\": [], \"instances\": 0, \"stop_signal\": \"KILL\"},\n"
        "  {\"command\": [\"b\", \"{{prot}}\"], \"restart\": \"sometimes\", \"bogus\": 1}\n"
        " ],\n"
        " \"port_range\": \"5-1\",\n"
        " \"extra\": true\n"
        "}");
    assert_true(n >= 2);
    assert_int_equal(n, 8);
    has("x.json:3:15: programs[0].command: command is empty");
    has("x.json:3:32: programs[0].instances: ");
    has("x.json:3:50: programs[0].stop_signal: ");
    has("x.json:4:21: programs[1].command[1]: unknown placeholder");
    has("x.json:4:45: programs[1].restart: ");
    has("x.json:4:58: programs[1].bogus: unknown key");
    has("x.json:6:16: port_range: ");
    has("x.json:7:2: extra: unknown key");
}

/* The collector stops writing when full but keeps counting; the text stays terminated. */
static void
error_buffer_bounded(void **state)
{
    size_t cap = 256 * 1024, len;
    char *text = malloc(cap);
    (void)state;

    assert_non_null(text);
    len = (size_t)snprintf(text, cap, "[");
    for (int i = 0; i < 500; i++)
        len += (size_t)snprintf(text + len, cap - len, "%s{\"command\": [\"a\"], \"bogus%d\": 1}",
                                i ? "," : "", i);
    (void)snprintf(text + len, cap - len, "]");
    memset(&errs, 0, sizeof(errs));
    {
        struct config cfg = untouched;

        assert_int_equal(cfg_parse(text, strlen(text), "x.json", &cfg, &errs), -EINVAL);
    }
    assert_int_equal(errs.count, 500);
    assert_true(errs.len < sizeof(errs.text));
    assert_int_equal(strlen(errs.text), errs.len);
    has("x.json:1:21: [0].bogus0: unknown key \"bogus0\"");
    assert_null(strstr(errs.text, "bogus499"));
    free(text);

    /* cfg_error itself: lines accumulate until the buffer is full. */
    memset(&errs, 0, sizeof(errs));
    for (int i = 0; i < 10000; i++)
        cfg_error(&errs, "line %d", i);
    assert_int_equal(errs.count, 10000);
    assert_true(errs.len <= sizeof(errs.text) - 1);
    assert_int_equal(errs.text[errs.len], '\0');
    assert_int_equal(strncmp(errs.text, "line 0\nline 1\n", 14), 0);
}

/* --- valid configurations -----------------------------------------------------------------------
 */

/* A copy of examples/time-service.json. */
static const char time_service[] =
    "[\n"
    "  {\"command\": [\"./bin/authserver\", \"--port=9000\", \"--log=out/auth.log\"],\n"
    "   \"output\": \"out/auth.out\", \"error\": \"out/auth.err\"},\n"
    "  {\"command\": [\"./bin/timeserver\", \"--port={{port}}\", \"--authport=9000\"],\n"
    "   \"output\": \"out/time-1.out\", \"error\": \"out/time-1.err\"},\n"
    "  {\"command\": [\"./bin/timeserver\", \"--port={{port}}\", \"--authport=9000\"],\n"
    "   \"input\": null, \"output\": \"out/time-2.out\", \"error\": \"out/time-2.err\"}\n"
    "]\n";

static void
time_service_list_form(void **state)
{
    struct config cfg;
    const struct program_cfg *p;
    struct cfg_errors ferrs = { 0 };
    (void)state;

    parse_ok(time_service, &cfg);
    assert_int_equal(cfg.nprograms, 3);
    assert_int_equal(cfg.port_from, 0);
    assert_int_equal(cfg_total_instances(&cfg), 3);

    p = &cfg.programs[0];
    assert_string_equal(p->name, "authserver");
    assert_false(p->uses_port);
    assert_int_equal(p->argc, 3);
    assert_string_equal(p->argv[0], "./bin/authserver");
    assert_string_equal(p->argv[1], "--port=9000");
    assert_string_equal(p->argv[2], "--log=out/auth.log");
    assert_null(p->argv[3]);
    assert_null(p->input);
    assert_string_equal(p->output, "out/auth.out");
    assert_string_equal(p->error, "out/auth.err");
    assert_int_equal(p->instances, 1);

    p = &cfg.programs[1];
    assert_string_equal(p->name, "timeserver");
    assert_true(p->uses_port);
    assert_string_equal(p->argv[1], "--port={{port}}");
    assert_string_equal(p->output, "out/time-1.out");

    p = &cfg.programs[2];
    assert_string_equal(p->name, "timeserver-2");
    assert_true(p->uses_port);
    assert_null(p->input);
    assert_string_equal(p->error, "out/time-2.err");

    /* Without a port range the timeservers cannot start. */
    assert_int_equal(cfg_finish(&cfg, &ferrs), -EINVAL);
    assert_int_equal(ferrs.count, 2);
    assert_non_null(
        strstr(ferrs.text, "program \"timeserver\" uses {{port}} but no port range is set"));
    assert_non_null(strstr(ferrs.text, "program \"timeserver-2\" uses {{port}}"));
    assert_null(strstr(ferrs.text, "authserver"));

    /* With one (as --port-range would set it) they can. */
    cfg.port_from = 9100;
    cfg.port_to = 9199;
    memset(&ferrs, 0, sizeof(ferrs));
    assert_int_equal(cfg_finish(&cfg, &ferrs), 0);
    assert_int_equal(ferrs.count, 0);
    cfg_done(&cfg);
    assert_null(cfg.programs);
    assert_int_equal(cfg.nprograms, 0);
}

static void
object_form_every_key(void **state)
{
    static const char text[] =
        "{\n"
        " \"port_range\": \"9100-9199\",\n"
        " \"programs\": [{\n"
        "   \"name\": \"web\",\n"
        "   \"command\": [\"./bin/web\", \"--id={{instance}}\"],\n"
        "   \"input\": \"in/{{name}}.in\",\n"
        "   \"output\": \"out/{{name}}-{{instance}}.out\",\n"
        "   \"error\": \"out/{{name}}.err\",\n"
        "   \"instances\": 3,\n"
        "   \"env\": {\"MODE\": \"prod\", \"PORT\": \"{{port}}\", \"EMPTY\": \"\"},\n"
        "   \"cwd\": \"/srv/{{name}}\",\n"
        "   \"restart\": \"on-failure\",\n"
        "   \"stop_signal\": \"SIGINT\",\n"
        "   \"stop_timeout\": \"2.5s\",\n"
        "   \"start_seconds\": 0.5,\n"
        "   \"backoff\": {\"initial\": \"250ms\", \"max\": \"1m\"},\n"
        "   \"yoyo\": false\n"
        "  }, {\n"
        "   \"command\": [\"/usr/bin/worker\"],\n"
        "   \"restart\": \"never\",\n"
        "   \"stop_signal\": 3,\n"
        "   \"stop_timeout\": 7,\n"
        "   \"start_seconds\": \"0\",\n"
        "   \"backoff\": {\"max\": \"2h\"},\n"
        "   \"yoyo\": {\"restarts\": 9, \"window\": \"90s\"},\n"
        "   \"output\": null\n"
        "  }, {\n"
        "   \"command\": [\"x\"], \"restart\": \"always\", \"stop_signal\": \"hup\", \"yoyo\": "
        "{\"restarts\": 0}\n"
        " }]\n"
        "}\n";
    const struct program_cfg *p;
    const struct env_cfg *e;
    struct cfg_errors ferrs = { 0 };
    struct config cfg;
    (void)state;

    parse_ok(text, &cfg);
    assert_int_equal(cfg.port_from, 9100);
    assert_int_equal(cfg.port_to, 9199);
    assert_int_equal(cfg.nprograms, 3);
    assert_int_equal(cfg_total_instances(&cfg), 5);

    p = &cfg.programs[0];
    assert_string_equal(p->name, "web");
    assert_int_equal(p->argc, 2);
    assert_string_equal(p->argv[0], "./bin/web");
    assert_string_equal(p->argv[1], "--id={{instance}}");
    assert_null(p->argv[2]);
    assert_string_equal(p->input, "in/{{name}}.in");
    assert_string_equal(p->output, "out/{{name}}-{{instance}}.out");
    assert_string_equal(p->error, "out/{{name}}.err");
    assert_int_equal(p->instances, 3);
    assert_int_equal(p->nenv, 3);
    e = env_get(p, "MODE");
    assert_non_null(e);
    assert_string_equal(e->value, "prod");
    e = env_get(p, "PORT");
    assert_non_null(e);
    assert_string_equal(e->value, "{{port}}");
    e = env_get(p, "EMPTY");
    assert_non_null(e);
    assert_string_equal(e->value, "");
    /* {{port}} only in env still counts. */
    assert_true(p->uses_port);
    assert_string_equal(p->cwd, "/srv/{{name}}");
    assert_int_equal(p->policy.restart, SVC_RESTART_ON_FAILURE);
    assert_int_equal(p->policy.stop_signal, SIGINT);
    assert_int_equal(p->policy.stop_timeout_ms, 2500);
    assert_int_equal(p->policy.start_ms, 500);
    assert_int_equal(p->policy.backoff.initial_ms, 250);
    assert_int_equal(p->policy.backoff.max_ms, 60000);
    assert_int_equal(p->policy.backoff.yoyo_limit, 0);

    p = &cfg.programs[1];
    assert_string_equal(p->name, "worker");
    assert_false(p->uses_port);
    assert_null(p->output);
    assert_null(p->env);
    assert_int_equal(p->nenv, 0);
    assert_null(p->cwd);
    assert_int_equal(p->instances, 1);
    assert_int_equal(p->policy.restart, SVC_RESTART_NEVER);
    assert_int_equal(p->policy.stop_signal, SIGQUIT);
    assert_int_equal(p->policy.stop_timeout_ms, 7000);
    assert_int_equal(p->policy.start_ms, 0);
    assert_int_equal(p->policy.backoff.initial_ms, 100);
    assert_int_equal(p->policy.backoff.max_ms, 2 * 3600 * 1000);
    assert_int_equal(p->policy.backoff.yoyo_limit, 9);
    assert_int_equal(p->policy.backoff.yoyo_window_ms, 90000);

    p = &cfg.programs[2];
    assert_string_equal(p->name, "x");
    assert_int_equal(p->policy.restart, SVC_RESTART_ALWAYS);
    assert_int_equal(p->policy.stop_signal, SIGHUP);
    assert_int_equal(p->policy.backoff.yoyo_limit, 0);
    assert_int_equal(p->policy.backoff.yoyo_window_ms, 60000);

    assert_int_equal(cfg_finish(&cfg, &ferrs), 0);
    cfg_done(&cfg);
}

static void
defaults(void **state)
{
    struct config cfg;
    const struct program_cfg *p;
    (void)state;

    parse_ok("[{\"command\": [\"/opt/app/bin/my server!\"]}]", &cfg);
    assert_int_equal(cfg.nprograms, 1);
    assert_int_equal(cfg.port_from, 0);
    assert_int_equal(cfg.port_to, 0);
    p = &cfg.programs[0];
    /* Name: basename of command[0], made valid. */
    assert_string_equal(p->name, "my_server_");
    assert_int_equal(p->argc, 1);
    assert_null(p->argv[1]);
    assert_null(p->input);
    assert_null(p->output);
    assert_null(p->error);
    assert_null(p->cwd);
    assert_int_equal(p->nenv, 0);
    assert_int_equal(p->instances, 1);
    assert_false(p->uses_port);
    assert_int_equal(p->policy.start_ms, 1000);
    assert_int_equal(p->policy.stop_timeout_ms, 10000);
    assert_int_equal(p->policy.restart, SVC_RESTART_ALWAYS);
    assert_int_equal(p->policy.stop_signal, SIGTERM);
    assert_int_equal(p->policy.backoff.yoyo_limit, 5);
    assert_int_equal(p->policy.backoff.yoyo_window_ms, 60000);
    assert_int_equal(p->policy.backoff.initial_ms, 100);
    assert_int_equal(p->policy.backoff.max_ms, 30000);
    cfg_done(&cfg);
}

static void
default_names(void **state)
{
    struct config cfg;
    (void)state;

    /* A default name yields to an explicit one given later; repeats count up. */
    parse_ok("[{\"command\": [\"/x/a\"]}, {\"name\": \"a\", \"command\": [\"b\"]}, {\"command\": "
             "[\"./a\"]},"
             " {\"command\": [\"dir/\"]}, {\"name\": \"a-3\", \"command\": [\"c\"]}, {\"command\": "
             "[\"a\"]}]",
             &cfg);
    assert_int_equal(cfg.nprograms, 6);
    assert_string_equal(cfg.programs[0].name, "a-2");
    assert_string_equal(cfg.programs[1].name, "a");
    assert_string_equal(cfg.programs[2].name, "a-4");
    assert_string_equal(cfg.programs[3].name, "program");
    assert_string_equal(cfg.programs[4].name, "a-3");
    assert_string_equal(cfg.programs[5].name, "a-5");
    cfg_done(&cfg);
}

/* Durations in every accepted spelling, through the config. */
static void
duration_spellings(void **state)
{
    static const struct {
        const char *v;
        int64_t ms;
    } cases[] = {
        { "\"500ms\"", 500 }, { "\"10s\"", 10000 },
        { "\"2m\"", 120000 }, { "\"1h\"", 3600000 },
        { "\"5\"", 5000 },    { "\"0.25\"", 250 },
        { "0", 0 },           { "0.25", 250 },
        { "3", 3000 },        { "2592000", UTIL_DURATION_MAX_MS },
    };
    (void)state;

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char text[128];
        struct config cfg;

        (void)snprintf(text, sizeof(text), "[{\"command\": [\"a\"], \"stop_timeout\": %s}]",
                       cases[i].v);
        parse_ok(text, &cfg);
        assert_int_equal(cfg.programs[0].policy.stop_timeout_ms, cases[i].ms);
        cfg_done(&cfg);
    }
}

static void
finish_needs_port_range(void **state)
{
    struct cfg_errors ferrs = { 0 };
    struct config cfg;
    (void)state;

    parse_ok("[{\"name\": \"svc\", \"command\": [\"a\"], \"cwd\": \"/tmp/{{port}}\"}]", &cfg);
    assert_true(cfg.programs[0].uses_port);
    assert_int_equal(cfg_finish(&cfg, &ferrs), -EINVAL);
    assert_int_equal(ferrs.count, 1);
    assert_non_null(strstr(ferrs.text, "program \"svc\" uses {{port}} but no port range is set "
                                       "(use --port-range=FROM-TO or \"port_range\")"));
    cfg_done(&cfg);

    memset(&ferrs, 0, sizeof(ferrs));
    parse_ok("{\"port_range\": \"5-5\", \"programs\": [{\"command\": [\"a\", \"{{port}}\"]}]}",
             &cfg);
    assert_int_equal(cfg.port_from, 5);
    assert_int_equal(cfg.port_to, 5);
    assert_int_equal(cfg_finish(&cfg, &ferrs), 0);
    assert_int_equal(ferrs.count, 0);
    cfg_done(&cfg);

    /* A program without {{port}} needs no range. */
    memset(&ferrs, 0, sizeof(ferrs));
    parse_ok("[{\"command\": [\"a\", \"{{instance}}\", \"{{name}}\"]}]", &cfg);
    assert_false(cfg.programs[0].uses_port);
    assert_int_equal(cfg_finish(&cfg, &ferrs), 0);
    cfg_done(&cfg);
}

/*
 * Regression: default names were cut to 60 characters, so the 1000th
 * program with the same long basename needed "-1000", which truncated to a
 * taken name, and naming looped forever. (How long naming takes is
 * bench/config_check.py's business, not a test's.)
 */
static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
thousand_long_default_names(void **state)
{
    size_t cap = 200 * 1024, len;
    const char *names[CFG_MAX_PROGRAMS];
    char *text;
    struct config cfg;
    (void)state;

    text = malloc(cap);
    assert_non_null(text);
    len = (size_t)snprintf(text, cap, "[");
    for (int i = 0; i < CFG_MAX_PROGRAMS; i++)
        len += (size_t)snprintf(text + len, cap - len, "%s{\"command\": [\"/%060d\"]}",
                                i ? "," : "", 0);
    (void)snprintf(text + len, cap - len, "]");
    parse_ok(text, &cfg);
    assert_int_equal(cfg.nprograms, CFG_MAX_PROGRAMS);
    for (size_t i = 0; i < cfg.nprograms; i++)
        names[i] = cfg.programs[i].name;
    qsort(names, cfg.nprograms, sizeof(names[0]), cmp_str);
    for (size_t i = 1; i < cfg.nprograms; i++)
        assert_string_not_equal(names[i - 1], names[i]);
    assert_string_equal(cfg.programs[999].name + 59, "-1000"); /* cut to 59, then numbered */
    cfg_done(&cfg);
    free(text);
}

/*
 * The rule default names follow, written the slow and obvious way: for
 * each unnamed program in order, the first of base, base-2, base-3, ...
 * that no other program's name (explicit, or default given earlier) is.
 */
static void
reference_names(const char *const *explicit_names, const char *const *bases, size_t n,
                char (*out)[CFG_NAME_MAX + 1])
{
    for (size_t i = 0; i < n; i++)
        (void)snprintf(out[i], sizeof(out[i]), "%s", explicit_names[i] ? explicit_names[i] : "");
    for (size_t i = 0; i < n; i++) {
        if (explicit_names[i])
            continue;
        for (unsigned s = 1;; s++) {
            char cand[CFG_NAME_MAX + 1];
            bool clash = false;

            if (s == 1)
                (void)snprintf(cand, sizeof(cand), "%s", bases[i]);
            else
                (void)snprintf(cand, sizeof(cand), "%s-%u", bases[i], s);
            for (size_t k = 0; k < n && !clash; k++)
                clash = k != i && strcmp(out[k], cand) == 0;
            if (!clash) {
                (void)snprintf(out[i], sizeof(out[i]), "%s", cand);
                break;
            }
        }
    }
}

/*
 * Default names are exactly what the simple rule gives, for many mixes of
 * explicit names and repeated bases, bases that look like suffixed names
 * ("a-2") included, so the fast way never renames anyone's program.
 */
static void
default_names_follow_the_simple_rule(void **state)
{
    static const char *const pool[] = { "a", "a-2", "a-3", "a-2-2", "b", "a-10" };
    enum { N = 12 };
    unsigned seed = 12345;
    (void)state;

    for (int round = 0; round < 2000; round++) {
        const char *explicit_names[N], *bases[N];
        char want[N][CFG_NAME_MAX + 1], text[4096];
        size_t len = 0, n = 1 + (size_t)round % N;
        struct config cfg;
        bool dup = false;

        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            bases[i] = pool[(seed >> 16) % ARRAY_SIZE(pool)];
            seed = seed * 1103515245u + 12345u;
            explicit_names[i] =
                (seed >> 16) % 4 == 0 ? pool[(seed >> 20) % ARRAY_SIZE(pool)] : NULL;
            for (size_t k = 0; k < i && explicit_names[i]; k++)
                dup =
                    dup || (explicit_names[k] && strcmp(explicit_names[k], explicit_names[i]) == 0);
        }
        if (dup)
            continue; /* an error, tested in duplicate_name */
        len += (size_t)snprintf(text + len, sizeof(text) - len, "[");
        for (size_t i = 0; i < n; i++) {
            len += (size_t)snprintf(text + len, sizeof(text) - len, "%s{", i ? "," : "");
            if (explicit_names[i])
                len += (size_t)snprintf(text + len, sizeof(text) - len, "\"name\": \"%s\", ",
                                        explicit_names[i]);
            len += (size_t)snprintf(text + len, sizeof(text) - len, "\"command\": [\"/bin/%s\"]}",
                                    bases[i]);
        }
        (void)snprintf(text + len, sizeof(text) - len, "]");
        reference_names(explicit_names, bases, n, want);
        parse_ok(text, &cfg);
        assert_int_equal(cfg.nprograms, n);
        for (size_t i = 0; i < n; i++)
            assert_string_equal(cfg.programs[i].name, want[i]);
        cfg_done(&cfg);
    }
}

/* 999 such programs work, which shows the limit above is exactly the 1000th. */
static void
many_long_default_names(void **state)
{
    size_t cap = 200 * 1024, len;
    char *text = malloc(cap);
    struct config cfg;
    (void)state;

    assert_non_null(text);
    len = (size_t)snprintf(text, cap, "[");
    for (int i = 0; i < CFG_MAX_PROGRAMS - 1; i++)
        len += (size_t)snprintf(text + len, cap - len, "%s{\"command\": [\"/%070d\"]}",
                                i ? "," : "", 0);
    (void)snprintf(text + len, cap - len, "]");
    parse_ok(text, &cfg);
    assert_int_equal(cfg.nprograms, CFG_MAX_PROGRAMS - 1);
    /* Cut to 59 characters (room for "-1000"), then numbered. */
    assert_int_equal(strlen(cfg.programs[0].name), 59);
    assert_int_equal(strlen(cfg.programs[998].name), 63);
    assert_string_equal(cfg.programs[998].name + 59, "-999");
    assert_string_equal(cfg.programs[1].name + 59, "-2");
    cfg_done(&cfg);
    free(text);
}

/* max_instances: defaults to max(instances, 16); below instances is an error at the key. */
static void
max_instances(void **state)
{
    struct config cfg;

    (void)state;
    parse_ok("[{\"command\": [\"a\"], \"instances\": 3}, {\"command\": [\"b\"], \"instances\": 40},"
             " {\"command\": [\"c\"], \"instances\": 2, \"max_instances\": 5}]",
             &cfg);
    assert_int_equal(cfg.programs[0].max_instances, CFG_DEFAULT_MAX_INSTANCES);
    assert_int_equal(cfg.programs[1].max_instances, 40);
    assert_int_equal(cfg.programs[2].max_instances, 5);
    assert_int_equal(cfg_total_slots(&cfg), CFG_DEFAULT_MAX_INSTANCES + 40 + 5);
    assert_int_equal(cfg_total_instances(&cfg), 3 + 40 + 2);
    cfg_done(&cfg);
    one_error("[{\"command\": [\"a\"], \"instances\": 4, \"max_instances\": 2}]",
              "x.json:1:2: [0]: ", "max_instances (2) is less than instances (4)");
    one_error("[{\"command\": [\"a\"], \"max_instances\": 0}]",
              "x.json:1:38: [0].max_instances: ", "expected");
}

/* control: a path or false; http_token: judged by cfg_token_problem(). */
static void
control_and_token(void **state)
{
    struct config cfg;

    (void)state;
    parse_ok("{\"programs\": [{\"command\": [\"a\"]}], \"control\": \"/tmp/c.sock\","
             " \"http_token\": \"abcdefghijklmnop\"}",
             &cfg);
    assert_string_equal(cfg.control, "/tmp/c.sock");
    assert_false(cfg.control_off);
    assert_string_equal(cfg.http_token, "abcdefghijklmnop");
    cfg_done(&cfg);
    parse_ok("{\"programs\": [{\"command\": [\"a\"]}], \"control\": false}", &cfg);
    assert_null(cfg.control);
    assert_true(cfg.control_off);
    cfg_done(&cfg);
    one_error("[{\"command\": [\"a\"], \"name\": \"all\"}]",
              "x.json:1:29: [0].name: ", "the name \"all\" is reserved");
    parse_ok("[{\"command\": [\"/usr/bin/all\"]}]", &cfg);
    assert_string_equal(cfg.programs[0].name, "al_");
    cfg_done(&cfg);
    one_error("{\"programs\": [{\"command\": [\"a\"]}], \"control\": 7}", "x.json:1:47: control: ",
              "expected a socket path, or false for no control socket, got an integer");
    one_error("{\"programs\": [{\"command\": [\"a\"]}], \"http_token\": \"short\"}",
              "x.json:1:50: http_token: ", "16 to 256 characters");
    assert_null(cfg_token_problem("abcdefghijklmnop"));
    assert_null(cfg_token_problem("AZaz09-._~+/=AZaz09-._~+/="));
    assert_non_null(cfg_token_problem("abcdefghijklmno"));              /* 15 */
    assert_non_null(cfg_token_problem("abcdefghijklmnop qrst"));        /* a space */
    assert_non_null(cfg_token_problem("abcdefghijklmnop\"qrst"));       /* a quote */
    assert_non_null(cfg_token_problem("abcdefghijklmnopqrstuvwxyz\n")); /* a line end */
    {
        char long_token[CFG_TOKEN_MAX + 2];
        memset(long_token, 'a', sizeof(long_token) - 1);
        long_token[CFG_TOKEN_MAX + 1] = '\0';
        assert_non_null(cfg_token_problem(long_token));
        long_token[CFG_TOKEN_MAX] = '\0';
        assert_null(cfg_token_problem(long_token));
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(invalid_json),
        cmocka_unit_test(invalid_json_in_our_words),
        cmocka_unit_test(duplicate_json_keys),
        cmocka_unit_test(wrong_type_command),
        cmocka_unit_test(wrong_type_instances),
        cmocka_unit_test(wrong_type_env_value),
        cmocka_unit_test(wrong_type_stop_timeout),
        cmocka_unit_test(wrong_type_restart),
        cmocka_unit_test(unknown_key_program),
        cmocka_unit_test(unknown_key_top_level),
        cmocka_unit_test(empty_command),
        cmocka_unit_test(empty_later_argument_is_fine),
        cmocka_unit_test(unknown_placeholder),
        cmocka_unit_test(bad_duration),
        cmocka_unit_test(negative_duration),
        cmocka_unit_test(bad_stop_signal),
        cmocka_unit_test(bad_port_range),
        cmocka_unit_test(duplicate_name),
        cmocka_unit_test(bad_name),
        cmocka_unit_test(missing_command),
        cmocka_unit_test(missing_or_empty_programs),
        cmocka_unit_test(instances_out_of_range),
        cmocka_unit_test(backoff_max_below_initial),
        cmocka_unit_test(yoyo_errors),
        cmocka_unit_test(exit_codes),
        cmocka_unit_test(hooks),
        cmocka_unit_test(env_key_errors),
        cmocka_unit_test(positions_survive_tricky_text),
        cmocka_unit_test(limits),
        cmocka_unit_test(multiple_errors_collected),
        cmocka_unit_test(error_buffer_bounded),
        cmocka_unit_test(time_service_list_form),
        cmocka_unit_test(object_form_every_key),
        cmocka_unit_test(defaults),
        cmocka_unit_test(default_names),
        cmocka_unit_test(duration_spellings),
        cmocka_unit_test(finish_needs_port_range),
        cmocka_unit_test(many_long_default_names),
        cmocka_unit_test(thousand_long_default_names),
        cmocka_unit_test(default_names_follow_the_simple_rule),
        cmocka_unit_test(max_instances),
        cmocka_unit_test(after_orders_programs),
        cmocka_unit_test(after_errors),
        cmocka_unit_test(rlimits),
        cmocka_unit_test(memory_max),
        cmocka_unit_test(captured_output),
        cmocka_unit_test(umask_and_nice),
        cmocka_unit_test(user_and_group),
        cmocka_unit_test(control_and_token),
    };

    return cmocka_run_group_tests_name("cfg", tests, NULL, NULL);
}

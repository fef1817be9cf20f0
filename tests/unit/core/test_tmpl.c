/*
 * test_tmpl: placeholder checking and expansion (src/tmpl.c). tmpl_check
 * accepts the three known placeholders, reports {{port}} through
 * uses_port only, and rejects anything else with a message naming the bad
 * placeholder; tmpl_expand allocates only when a placeholder is present and
 * substitutes every occurrence while keeping the surrounding text.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/tmpl.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static void
check_accepts_known_placeholders(void **state)
{
    static const struct {
        const char *s;
        bool uses_port;
    } ok[] = {
        { "--port={{port}}", true },
        { "{{instance}}", false },
        { "{{name}}", false },
        { "plain text", false },
        { "", false },
        { "{{name}}-{{instance}}.log", false },
        { "{{name}}:{{port}}", true },
        { "{{port}}{{port}}", true },
        { "a}}b{c{{name}}", false },
        { "{ {port} }", false },
        { "{{port}}}", true },
        { "}}{{instance}}", false },
    };
    (void)state;

    for (size_t i = 0; i < ARRAY_LEN(ok); i++) {
        bool uses_port = false;
        char err[128] = "untouched";
        int r = tmpl_check(ok[i].s, &uses_port, err, sizeof(err));

        if (r != 0 || uses_port != ok[i].uses_port)
            print_error("\"%s\": r=%d uses_port=%d err=%s\n", ok[i].s, r, uses_port, err);
        assert_int_equal(r, 0);
        assert_int_equal(uses_port, ok[i].uses_port);
        assert_string_equal(err, "untouched");
    }
}

/* uses_port is only ever set, never cleared: one flag collects a whole program. */
static void
check_leaves_uses_port_alone(void **state)
{
    bool uses_port = true;
    char err[128];
    (void)state;

    assert_int_equal(tmpl_check("{{name}}", &uses_port, err, sizeof(err)), 0);
    assert_true(uses_port);
    assert_int_equal(tmpl_check("nothing", &uses_port, err, sizeof(err)), 0);
    assert_true(uses_port);
}

static void
check_rejects_and_names_the_placeholder(void **state)
{
    static const struct {
        const char *s;
        const char *shown; /* what the message must quote */
    } bad[] = {
        { "{{prot}}", "\"{{prot}}\"" },
        { "--port={{port", "\"{{port\"" },
        { "{{}}", "\"{{}}\"" },
        { "{{ port }}", "\"{{ port }}\"" },
        { "{{PORT}}", "\"{{PORT}}\"" },
        { "{{name}}-{{nmae}}", "\"{{nmae}}\"" },
        { "{{port}}{{", "\"{{\"" },
        { "{{{port}}}", "\"{{{port}}\"" },
        { "{{instances}}", "\"{{instances}}\"" },
    };
    (void)state;

    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        bool uses_port = false;
        char err[160] = "";
        int r = tmpl_check(bad[i].s, &uses_port, err, sizeof(err));

        if (r != -EINVAL || !strstr(err, bad[i].shown))
            print_error("\"%s\": r=%d err=%s\n", bad[i].s, r, err);
        assert_int_equal(r, -EINVAL);
        assert_non_null(strstr(err, bad[i].shown));
        assert_non_null(strstr(err, "unknown placeholder"));
        assert_null(strchr(err, '\n'));
        /* A failed check reports nothing about ports, even after a valid {{port}}. */
        assert_false(uses_port);
    }
}

static void
check_error_is_bounded(void **state)
{
    char s[200], err[160], small[12], want[64];
    bool uses_port = false;
    (void)state;

    /* A long bogus placeholder is quoted only up to 40 characters. */
    memcpy(s, "{{", 2);
    memset(s + 2, 'x', 100);
    memcpy(s + 102, "}}", 3);
    assert_int_equal(tmpl_check(s, &uses_port, err, sizeof(err)), -EINVAL);
    /* Expected quote: '"', "{{", 38 x, '"'. */
    want[0] = '"';
    memcpy(want + 1, "{{", 2);
    memset(want + 3, 'x', 38);
    memcpy(want + 41, "\"", 2);
    assert_non_null(strstr(err, want));
    memset(want, 'x', 39);
    want[39] = '\0';
    assert_null(strstr(err, want));

    /* A short buffer is filled and terminated, not overrun. */
    memset(small, 'Z', sizeof(small));
    assert_int_equal(tmpl_check("{{bad}}", &uses_port, small, 8), -EINVAL);
    assert_int_equal(strlen(small), 7);
    assert_int_equal(small[8], 'Z');
}

static char *
expand(const char *s, const char *name, unsigned instance, unsigned port)
{
    struct tmpl_vars vars = { .name = name, .instance = instance, .port = port };
    bool oom = true;
    char *out = tmpl_expand(s, &vars, &oom);

    assert_false(oom);
    return out;
}

static void
expand_returns_null_without_placeholder(void **state)
{
    static const char *const plain[] = { "", "./bin/timeserver", "--authport=9000", "a}}b",
                                         "{ {x} }" };
    (void)state;

    for (size_t i = 0; i < ARRAY_LEN(plain); i++)
        assert_null(expand(plain[i], "web", 1, 9100));
}

static void
expand_substitutes(void **state)
{
    static const struct {
        const char *s;
        const char *want;
    } cases[] = {
        { "--port={{port}}", "--port=9100" },
        { "{{instance}}", "3" },
        { "{{name}}", "web" },
        { "{{port}}:{{port}}:{{port}}", "9100:9100:9100" },
        { "{{name}}{{instance}}{{port}}", "web39100" },
        { "out/{{name}}-{{instance}}.log", "out/web-3.log" },
        { "pre {{name}} mid {{port}} post", "pre web mid 9100 post" },
        { "a}}b{c{{name}}", "a}}b{cweb" },
        { "{{port}}}", "9100}" },
        { "}}{{instance}}{", "}}3{" },
    };
    (void)state;

    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char *out = expand(cases[i].s, "web", 3, 9100);

        assert_non_null(out);
        assert_string_equal(out, cases[i].want);
        free(out);
    }
}

static void
expand_value_extremes(void **state)
{
    char *out;
    char want[64];
    (void)state;

    out = expand("{{port}}/{{instance}}", "x", 0, 0);
    assert_string_equal(out, "0/0");
    free(out);

    (void)snprintf(want, sizeof(want), "%u-%u", UINT_MAX, 65535u);
    out = expand("{{instance}}-{{port}}", "x", UINT_MAX, 65535);
    assert_string_equal(out, want);
    free(out);

    /* A value that looks like a placeholder is not expanded again. */
    out = expand("[{{name}}]", "{{port}}", 0, 9100);
    assert_string_equal(out, "[{{port}}]");
    free(out);

    /* An empty name leaves the text around it. */
    out = expand("a{{name}}b", "", 0, 1);
    assert_string_equal(out, "ab");
    free(out);

    /* {{name}} is never read when absent, so a NULL name is fine. */
    out = expand("{{port}}", NULL, 0, 80);
    assert_string_equal(out, "80");
    free(out);
}

/* A long template with many placeholders: the measuring pass must match the writing pass. */
static void
expand_long_template(void **state)
{
    char s[4096], want[8192];
    size_t sl = 0, wl = 0;
    char *out;
    (void)state;

    for (int i = 0; i < 300; i++) {
        sl += (size_t)snprintf(s + sl, sizeof(s) - sl, "%c{{port}}", 'a' + i % 26);
        wl += (size_t)snprintf(want + wl, sizeof(want) - wl, "%c12345", 'a' + i % 26);
    }
    out = expand(s, "n", 0, 12345);
    assert_non_null(out);
    assert_int_equal(strlen(out), wl);
    assert_string_equal(out, want);
    free(out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(check_accepts_known_placeholders),
        cmocka_unit_test(check_leaves_uses_port_alone),
        cmocka_unit_test(check_rejects_and_names_the_placeholder),
        cmocka_unit_test(check_error_is_bounded),
        cmocka_unit_test(expand_returns_null_without_placeholder),
        cmocka_unit_test(expand_substitutes),
        cmocka_unit_test(expand_value_extremes),
        cmocka_unit_test(expand_long_template),
    };

    return cmocka_run_group_tests_name("tmpl", tests, NULL, NULL);
}

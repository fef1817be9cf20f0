/*
 * test_cfgdiff: every program key of cfg.c's table has a row in cfgdiff.c
 * and a mutation case here (a new key without one fails this test), each
 * mutation is seen with the effect its row says; the top-level settings
 * likewise; and the plans made from the diffs (plan.c): keep, update,
 * scale, roll, replace, add, remove, and the texts they print.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cfg.h"
#include "core/cfgdiff.h"
#include "core/plan.h"
#include "core/util.h"

/* Parses a config, which must be valid. */
static void
parse(const char *text, struct config *ret)
{
    struct cfg_errors errs = { .len = 0 };
    int r = cfg_parse(text, strlen(text), "t.json", ret, &errs);

    if (r < 0)
        fail_msg("%s: %s", text, errs.text);
}

/* A config of a program named p, its other keys the fragment given (JSON members), and q, for
   p's `after` to name. */
static void
one_program(const char *members, struct config *ret)
{
    char text[2048];

    (void)snprintf(text, sizeof(text),
                   "{\"port_range\": \"9000-9100\", \"programs\": [{\"name\": \"p\"%s%s},"
                   " {\"name\": \"q\", \"command\": [\"q\"]}]}",
                   *members ? ", " : "", members);
    parse(text, ret);
}

/*
 * One case per key: the program as it runs, the program as the new config
 * has it, and the effect expected. Base and mutated differ in that key only.
 */
static const struct {
    const char *key;
    const char *base, *mutated;
    enum cfgdiff_effect want;
} cases[] = {
    { "command", "\"command\": [\"/bin/a\"]", "\"command\": [\"/bin/a\", \"x\"]", CFGDIFF_RESTART },
    { "input", "\"command\": [\"a\"], \"input\": \"i1\"", "\"command\": [\"a\"], \"input\": \"i2\"",
      CFGDIFF_RESTART },
    { "output", "\"command\": [\"a\"]", "\"command\": [\"a\"], \"output\": \"o\"",
      CFGDIFF_RESTART },
    { "error", "\"command\": [\"a\"], \"error\": \"e\"", "\"command\": [\"a\"]", CFGDIFF_RESTART },
    { "name", NULL, NULL, CFGDIFF_REPLACE }, /* identity: plan_renamed() below */
    { "instances", "\"command\": [\"a\"]", "\"command\": [\"a\"], \"instances\": 3",
      CFGDIFF_SCALE },
    { "env", "\"command\": [\"a\"], \"env\": {\"A\": \"1\"}",
      "\"command\": [\"a\"], \"env\": {\"A\": \"2\"}", CFGDIFF_RESTART },
    { "cwd", "\"command\": [\"a\"]", "\"command\": [\"a\"], \"cwd\": \"/tmp\"", CFGDIFF_RESTART },
    { "user", "\"command\": [\"a\"]", "\"command\": [\"a\"], \"user\": \"nobody\"", CFGDIFF_RESTART },
    { "group", "\"command\": [\"a\"], \"user\": \"nobody\"",
      "\"command\": [\"a\"], \"user\": \"nobody\", \"group\": 0", CFGDIFF_RESTART },
    { "restart", "\"command\": [\"a\"]", "\"command\": [\"a\"], \"restart\": \"never\"",
      CFGDIFF_LIVE },
    { "stop_signal", "\"command\": [\"a\"]", "\"command\": [\"a\"], \"stop_signal\": \"INT\"",
      CFGDIFF_LIVE },
    { "stop_timeout", "\"command\": [\"a\"]", "\"command\": [\"a\"], \"stop_timeout\": \"3s\"",
      CFGDIFF_LIVE },
    { "start_seconds", "\"command\": [\"a\"]", "\"command\": [\"a\"], \"start_seconds\": 0",
      CFGDIFF_LIVE },
    { "backoff", "\"command\": [\"a\"]",
      "\"command\": [\"a\"], \"backoff\": {\"initial\": \"1s\", \"max\": \"5s\"}", CFGDIFF_LIVE },
    { "yoyo", "\"command\": [\"a\"]", "\"command\": [\"a\"], \"yoyo\": false", CFGDIFF_LIVE },
    { "ready", "\"command\": [\"a\"]", "\"command\": [\"a\"], \"ready\": \"notify\"",
      CFGDIFF_RESTART },
    { "start_timeout", "\"command\": [\"a\"]", "\"command\": [\"a\"], \"start_timeout\": \"5s\"",
      CFGDIFF_LIVE },
    { "heartbeat", "\"command\": [\"a\"]", "\"command\": [\"a\"], \"heartbeat\": {\"timeout\": 5}",
      CFGDIFF_RESTART },
    { "health", "\"command\": [\"a\"]",
      "\"command\": [\"a\"], \"health\": {\"tcp\": \"127.0.0.1:1\"}", CFGDIFF_LIVE },
    { "silence", "\"command\": [\"a\"]", "\"command\": [\"a\"], \"silence\": \"5s\"",
      CFGDIFF_LIVE },
    { "max_silent", "\"command\": [\"a\"]", "\"command\": [\"a\"], \"max_silent\": 2",
      CFGDIFF_LIVE },
    { "max_instances", "\"command\": [\"a\"]", "\"command\": [\"a\"], \"max_instances\": 40",
      CFGDIFF_REPLACE },
    { "success_exit_codes", "\"command\": [\"a\"]",
      "\"command\": [\"a\"], \"success_exit_codes\": [0, 1]", CFGDIFF_LIVE },
    { "fatal_exit_codes", "\"command\": [\"a\"]", "\"command\": [\"a\"], \"fatal_exit_codes\": [2]",
      CFGDIFF_LIVE },
    { "max_unavailable", "\"command\": [\"a\"]", "\"command\": [\"a\"], \"max_unavailable\": 2",
      CFGDIFF_LIVE },
    { "on_state_change", "\"command\": [\"a\"]",
      "\"command\": [\"a\"], \"on_state_change\": [\"/bin/page\"]", CFGDIFF_LIVE },
    { "on_fatal", "\"command\": [\"a\"], \"on_fatal\": [\"/bin/page\", \"x\"]",
      "\"command\": [\"a\"], \"on_fatal\": [\"/bin/page\", \"y\"]", CFGDIFF_LIVE },
    { "hook_timeout", "\"command\": [\"a\"]", "\"command\": [\"a\"], \"hook_timeout\": \"2s\"",
      CFGDIFF_LIVE },
    { "after", "\"command\": [\"a\"]", "\"command\": [\"a\"], \"after\": [\"q\"]", CFGDIFF_LIVE },
    { "rlimits", "\"command\": [\"a\"], \"rlimits\": {\"nofile\": 1024}",
      "\"command\": [\"a\"], \"rlimits\": {\"nofile\": 2048}", CFGDIFF_RESTART },
    { "memory_max", "\"command\": [\"a\"]", "\"command\": [\"a\"], \"memory_max\": \"64MB\"",
      CFGDIFF_LIVE },
    { "umask", "\"command\": [\"a\"]", "\"command\": [\"a\"], \"umask\": \"027\"",
      CFGDIFF_RESTART },
    { "nice", "\"command\": [\"a\"]", "\"command\": [\"a\"], \"nice\": 5", CFGDIFF_RESTART },
    { "jobs", "\"command\": [\"a\"]", "\"command\": [\"a\"], \"jobs\": {}", CFGDIFF_RESTART },
};

/* Sub-keys whose change is weaker than their key's row (the row is the strongest). */
static const struct {
    const char *key;
    const char *base, *mutated;
    enum cfgdiff_effect want;
} finer[] = {
    { "heartbeat", "\"command\": [\"a\"], \"heartbeat\": {\"timeout\": 5}",
      "\"command\": [\"a\"], \"heartbeat\": {\"timeout\": 5, \"action\": \"none\"}", CFGDIFF_LIVE },
    /* A probe that needs {{port}} the running processes were not given. */
    { "health", "\"command\": [\"a\"]",
      "\"command\": [\"a\"], \"health\": {\"tcp\": \"127.0.0.1:{{port}}\"}", CFGDIFF_RESTART },
    { "env", "\"command\": [\"a\"], \"env\": {\"A\": \"1\"}",
      "\"command\": [\"a\"], \"env\": {\"A\": \"1\", \"B\": \"1\"}", CFGDIFF_RESTART },
    { "ready", "\"command\": [\"a\"], \"ready\": {\"tcp\": \"127.0.0.1:1\"}",
      "\"command\": [\"a\"], \"ready\": {\"tcp\": \"127.0.0.1:1\", \"interval\": \"2s\"}",
      CFGDIFF_RESTART },
    /* Captured output: each setting of the object form, and the forms between them. */
    { "output", "\"command\": [\"a\"], \"output\": \"o\"",
      "\"command\": [\"a\"], \"output\": \"drover\"", CFGDIFF_RESTART },
    { "output", "\"command\": [\"a\"], \"output\": {\"file\": \"o\"}",
      "\"command\": [\"a\"], \"output\": {\"file\": \"o\", \"max_size\": \"1MB\"}",
      CFGDIFF_RESTART },
    { "output", "\"command\": [\"a\"], \"output\": {\"file\": \"o\"}",
      "\"command\": [\"a\"], \"output\": {\"file\": \"o\", \"backups\": 2}", CFGDIFF_RESTART },
    { "error", "\"command\": [\"a\"], \"error\": {\"file\": \"e\"}",
      "\"command\": [\"a\"], \"error\": {\"file\": \"e\", \"tail_lines\": 5}",
      CFGDIFF_RESTART },
    { "error", "\"command\": [\"a\"], \"error\": {\"file\": \"e\"}",
      "\"command\": [\"a\"], \"error\": {\"file\": \"e2\"}", CFGDIFF_RESTART },
    { "error", "\"command\": [\"a\"], \"error\": {\"file\": \"e\"}",
      "\"command\": [\"a\"], \"error\": \"e\"", CFGDIFF_RESTART },
    /* Jobs: the types, a policy the instances' jobs are judged by, the autoscaler. */
    { "jobs", "\"command\": [\"a\"], \"jobs\": {}",
      "\"command\": [\"a\"], \"jobs\": {\"types\": [\"p\", \"t2\"]}", CFGDIFF_RESTART },
    { "jobs", "\"command\": [\"a\"], \"jobs\": {}",
      "\"command\": [\"a\"], \"jobs\": {\"backoff\": {\"jitter\": 0.5}}", CFGDIFF_RESTART },
    { "jobs", "\"command\": [\"a\"], \"jobs\": {}",
      "\"command\": [\"a\"], \"jobs\": {\"autoscale\": {\"max\": 4}}", CFGDIFF_RESTART },
    { "jobs", "\"command\": [\"a\"], \"jobs\": {}",
      "\"command\": [\"a\"], \"jobs\": {\"ping\": false}", CFGDIFF_RESTART },
};

static void
check_case(const char *key, const char *base, const char *mutated, enum cfgdiff_effect want)
{
    struct config a, b;
    struct cfgdiff d;

    one_program(base, &a);
    one_program(mutated, &b);
    cfgdiff_program(&a.programs[0], &b.programs[0], &d);
    if (d.worst != want)
        fail_msg("key %s: %s -> %s: effect %s, want %s", key, base, mutated,
                 cfgdiff_effect_name(d.worst), cfgdiff_effect_name(want));
    if (!strstr(d.keys, key) && !strstr(d.keys, "{{port}}"))
        fail_msg("key %s: not named in \"%s\"", key, d.keys);
    /* The other way round is a change too, and the same with itself none. */
    cfgdiff_program(&b.programs[0], &a.programs[0], &d);
    assert_int_equal(d.worst, want);
    cfgdiff_program(&a.programs[0], &a.programs[0], &d);
    assert_int_equal(d.worst, CFGDIFF_SAME);
    assert_string_equal(d.keys, "");
    cfg_done(&a);
    cfg_done(&b);
}

/* The guard: a key cfg.c knows has a row in cfgdiff.c and a case above. */
static void
every_program_key_has_a_case(void **state)
{
    (void)state;
    for (size_t i = 0; cfg_program_key(i); i++) {
        const char *key = cfg_program_key(i);
        bool found = false;

        if (cfgdiff_program_key_effect(key) == CFGDIFF_INVALID)
            fail_msg("program key \"%s\" has no row in core/cfgdiff.c", key);
        for (size_t c = 0; c < ARRAY_SIZE(cases); c++)
            if (strcmp(cases[c].key, key) == 0) {
                found = true;
                if (cases[c].want != cfgdiff_program_key_effect(key))
                    fail_msg("key %s: case expects %s, its row says %s", key,
                             cfgdiff_effect_name(cases[c].want),
                             cfgdiff_effect_name(cfgdiff_program_key_effect(key)));
            }
        if (!found)
            fail_msg("program key \"%s\" has no mutation case in test_cfgdiff.c", key);
    }
    assert_int_equal(cfgdiff_program_key_effect("no-such-key"), CFGDIFF_INVALID);
}

static void
each_mutation_is_seen(void **state)
{
    (void)state;
    for (size_t c = 0; c < ARRAY_SIZE(cases); c++)
        if (cases[c].base)
            check_case(cases[c].key, cases[c].base, cases[c].mutated, cases[c].want);
    for (size_t c = 0; c < ARRAY_SIZE(finer); c++)
        check_case(finer[c].key, finer[c].base, finer[c].mutated, finer[c].want);
}

/* Several keys at once: the strongest effect, every key named, in table order. */
static void
several_keys(void **state)
{
    struct config a, b;
    struct cfgdiff d;

    (void)state;
    one_program("\"command\": [\"a\"]", &a);
    one_program("\"command\": [\"b\"], \"instances\": 2, \"silence\": 3", &b);
    cfgdiff_program(&a.programs[0], &b.programs[0], &d);
    assert_int_equal(d.worst, CFGDIFF_RESTART);
    assert_int_equal(d.effects, 1u << CFGDIFF_RESTART | 1u << CFGDIFF_SCALE | 1u << CFGDIFF_LIVE);
    assert_string_equal(d.keys, "command, instances, silence");
    cfg_done(&a);
    cfg_done(&b);
}

/* --- top-level settings --------------------------------------------------------------------- */

static const struct {
    const char *key;
    const char *mutated; /* members added to the base config */
    enum cfgdiff_when when;
} settings_cases[] = {
    { "programs", NULL, CFGDIFF_NOW }, /* the plan's, never a setting: see the plan tests */
    { "port_range", "\"port_range\": \"9000-9200\"", CFGDIFF_NEXT_START },
    { "dumpfile", "\"dumpfile\": \"/tmp/d.json\"", CFGDIFF_NEXT_START },
    { "checkpoint_interval", "\"checkpoint_interval\": \"5s\"", CFGDIFF_NOW },
    { "adopt", "\"adopt\": true", CFGDIFF_NEXT_START },
    { "http", "\"http\": \"127.0.0.1:8080\"", CFGDIFF_NEXT_START },
    { "http_token", "\"http_token\": \"0123456789abcdef0123\"", CFGDIFF_NOW },
    { "control", "\"control\": \"/tmp/c.sock\"", CFGDIFF_NEXT_START },
    { "max_silent", "\"max_silent\": 3", CFGDIFF_NOW },
    { "silence", "\"silence\": \"3s\"", CFGDIFF_NOW },
    { "on_state_change", "\"on_state_change\": [\"/bin/page\"]", CFGDIFF_NOW },
    { "on_fatal", "\"on_fatal\": [\"/bin/page\"]", CFGDIFF_NOW },
    { "hook_timeout", "\"hook_timeout\": \"3s\"", CFGDIFF_NOW },
    { "jobs", "\"jobs\": {\"store\": \"memory\"}", CFGDIFF_NEXT_START },
};

static void
every_setting_has_a_case(void **state)
{
    (void)state;
    for (size_t i = 0; cfg_settings_key(i); i++) {
        const char *key = cfg_settings_key(i);
        bool found = false;

        if (cfgdiff_settings_key_when(key) == CFGDIFF_WHEN__MAX)
            fail_msg("top-level key \"%s\" has no row in core/cfgdiff.c", key);
        for (size_t c = 0; c < ARRAY_SIZE(settings_cases); c++)
            found |= strcmp(settings_cases[c].key, key) == 0;
        if (!found)
            fail_msg("top-level key \"%s\" has no mutation case in test_cfgdiff.c", key);
    }
}

static void
each_setting_is_seen(void **state)
{
    const char *base = "{\"programs\": [{\"command\": [\"a\"]}]";
    struct config a, b;
    struct cfgdiff now, later;
    char text[512];

    (void)state;
    for (size_t c = 0; c < ARRAY_SIZE(settings_cases); c++) {
        if (!settings_cases[c].mutated)
            continue;
        (void)snprintf(text, sizeof(text), "%s}", base);
        parse(text, &a);
        (void)snprintf(text, sizeof(text), "%s, %s}", base, settings_cases[c].mutated);
        parse(text, &b);
        cfgdiff_settings(&a, &b, &now, &later);
        assert_string_equal(settings_cases[c].when == CFGDIFF_NOW ? now.keys : later.keys,
                            settings_cases[c].key);
        assert_string_equal(settings_cases[c].when == CFGDIFF_NOW ? later.keys : now.keys, "");
        cfgdiff_settings(&a, &a, &now, &later);
        assert_string_equal(now.keys, "");
        assert_string_equal(later.keys, "");
        cfg_done(&a);
        cfg_done(&b);
    }
}

/* --- plans ---------------------------------------------------------------------------------- */

static const struct plan_step *
step(const struct plan *p, const char *name)
{
    for (size_t i = 0; i < p->nsteps; i++)
        if (strcmp(p->steps[i].name, name) == 0)
            return &p->steps[i];
    fail_msg("no step for %s", name);
    return NULL;
}

static void
plan_of_each_kind(void **state)
{
    struct config a, b;
    struct plan p;
    char line[512];

    (void)state;
    parse("{\"programs\": ["
          "{\"name\": \"keep\", \"command\": [\"a\"]},"
          "{\"name\": \"upd\", \"command\": [\"a\"]},"
          "{\"name\": \"scl\", \"command\": [\"a\"], \"instances\": 2},"
          "{\"name\": \"roll\", \"command\": [\"a\"], \"instances\": 3},"
          "{\"name\": \"rep\", \"command\": [\"a\"]},"
          "{\"name\": \"gone\", \"command\": [\"a\"]}]}",
          &a);
    parse("{\"silence\": 5, \"http\": \"127.0.0.1:1\", \"programs\": ["
          "{\"name\": \"new\", \"command\": [\"a\"], \"instances\": 2},"
          "{\"name\": \"keep\", \"command\": [\"a\"]},"
          "{\"name\": \"upd\", \"command\": [\"a\"], \"stop_timeout\": 1},"
          "{\"name\": \"scl\", \"command\": [\"a\"], \"instances\": 4},"
          "{\"name\": \"roll\", \"command\": [\"b\"], \"instances\": 3, \"max_unavailable\": 2},"
          "{\"name\": \"rep\", \"command\": [\"a\"], \"max_instances\": 20}]}",
          &b);
    assert_int_equal(plan_compute(&a, NULL, &b, &p), 0);
    assert_int_equal(p.nsteps, 7);
    assert_int_equal(p.steps[0].action, PLAN_REMOVE); /* removals first */
    assert_string_equal(p.steps[0].name, "gone");
    assert_int_equal(step(&p, "new")->action, PLAN_ADD);
    assert_int_equal(step(&p, "new")->to, 2);
    assert_int_equal(step(&p, "keep")->action, PLAN_KEEP);
    assert_int_equal(step(&p, "upd")->action, PLAN_UPDATE);
    assert_int_equal(step(&p, "scl")->action, PLAN_SCALE);
    assert_int_equal(step(&p, "scl")->from, 2);
    assert_int_equal(step(&p, "scl")->to, 4);
    assert_int_equal(step(&p, "roll")->action, PLAN_ROLL);
    assert_int_equal(step(&p, "roll")->unavailable, 2);
    assert_int_equal(step(&p, "rep")->action, PLAN_REPLACE);
    assert_false(plan_is_instant(&p));
    assert_false(plan_is_empty(&p));
    assert_string_equal(p.settings_now.keys, "silence");
    assert_string_equal(p.settings_later.keys, "http");
    plan_step_text(step(&p, "roll"), line, sizeof(line));
    assert_string_equal(line, "\"roll\": rolling restart of 3 instances, at most 2 not ready at "
                              "once (changed: command, max_unavailable)");
    plan_step_text(step(&p, "gone"), line, sizeof(line));
    assert_string_equal(line, "\"gone\": removed, 1 instance stop and leave the pool");
    plan_step_text(step(&p, "new"), line, sizeof(line));
    assert_string_equal(line, "\"new\": added, 2 instances start");
    plan_step_text(step(&p, "rep"), line, sizeof(line));
    assert_non_null(strstr(line, "replaced"));
    for (size_t i = 0; i < p.nsteps; i++) {
        plan_step_text(&p.steps[i], line, sizeof(line));
        assert_true(strlen(line) > 0);
        assert_string_not_equal(plan_action_name(p.steps[i].action), "?");
    }
    plan_done(&p);
    assert_int_equal(plan_compute(&a, NULL, &a, &p), 0);
    assert_true(plan_is_empty(&p));
    assert_true(plan_is_instant(&p));
    plan_done(&p);
    cfg_done(&a);
    cfg_done(&b);
}

/* A rename is the old program removed and a new one added. */
static void
plan_renamed(void **state)
{
    struct config a, b;
    struct plan p;

    (void)state;
    parse("{\"programs\": [{\"name\": \"x\", \"command\": [\"a\"]}]}", &a);
    parse("{\"programs\": [{\"name\": \"y\", \"command\": [\"a\"]}]}", &b);
    assert_int_equal(plan_compute(&a, NULL, &b, &p), 0);
    assert_int_equal(p.nsteps, 2);
    assert_int_equal(step(&p, "x")->action, PLAN_REMOVE);
    assert_int_equal(step(&p, "y")->action, PLAN_ADD);
    plan_done(&p);
    cfg_done(&a);
    cfg_done(&b);
}

/* A `drover scale` in force outlives a reload that leaves `instances` alone. */
static void
plan_keeps_operator_scale(void **state)
{
    struct config a, b;
    struct plan p;
    unsigned running[1] = { 5 };

    (void)state;
    parse("{\"programs\": [{\"name\": \"x\", \"command\": [\"a\"], \"instances\": 2}]}", &a);
    parse("{\"programs\": [{\"name\": \"x\", \"command\": [\"b\"], \"instances\": 2}]}", &b);
    assert_int_equal(plan_compute(&a, running, &b, &p), 0);
    assert_int_equal(p.steps[0].action, PLAN_ROLL);
    assert_int_equal(p.steps[0].from, 5);
    assert_int_equal(p.steps[0].to, 5);
    plan_done(&p);
    assert_int_equal(plan_compute(&a, running, &a, &p), 0);
    assert_int_equal(p.steps[0].action, PLAN_KEEP);
    assert_int_equal(p.steps[0].to, 5);
    plan_done(&p);
    cfg_done(&a);
    cfg_done(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_program_key_has_a_case),
        cmocka_unit_test(each_mutation_is_seen),
        cmocka_unit_test(several_keys),
        cmocka_unit_test(every_setting_has_a_case),
        cmocka_unit_test(each_setting_is_seen),
        cmocka_unit_test(plan_of_each_kind),
        cmocka_unit_test(plan_renamed),
        cmocka_unit_test(plan_keeps_operator_scale),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

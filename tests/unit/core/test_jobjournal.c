/*
 * test_jobjournal: a job written as a "new" line and read back is the same
 * job (text and binary payloads, env, history); a transition's "st" line
 * applied to it gives the later state; "rm" and "snapshot" lines; and bad
 * lines are refused with the field they name, owning nothing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/job.h"
#include "core/jobjournal.h"

static const struct job_policy policy = {
    .max_attempts = 3,
    .max_worker_kills = 2,
    .cancel_grace_ms = 1000,
    .backoff_initial_ms = 100,
    .backoff_max_ms = 1000,
    .backoff_factor = 2,
};

static struct jobrec *
sample(const void *payload, size_t len)
{
    struct jobrec *r = jobrec_new();

    assert_non_null(r);
    (void)snprintf(r->q.id, sizeof(r->q.id), "job-1");
    r->q.priority = 7;
    r->payload = malloc(len + 1);
    assert_non_null(r->payload);
    memcpy(r->payload, payload, len);
    r->payload_len = len;
    r->timeout_ms = 5000;
    r->max_attempts = 3;
    r->caller_id = strdup("caller");
    r->env = calloc(1, sizeof(char *));
    r->env[r->nenv++] = strdup("A=b c");
    r->idempotent = true;
    (void)job_submit(&r->q.sm, 0, 1000);
    return r;
}

static struct jobrec *
round_trip_new(const struct jobrec *r)
{
    struct jobjournal_entry e;
    char err[256];
    size_t len;
    char *line = jobjournal_new_line(r, "resize", 1, 1000, &len);

    assert_non_null(line);
    assert_int_equal(line[len - 1], '\n');
    assert_null(memchr(line, '\n', len - 1));
    assert_int_equal(jobjournal_decode(line, len - 1, &e, err, sizeof(err)), 0);
    free(line);
    assert_int_equal(e.op, JOBJOURNAL_NEW);
    assert_int_equal(e.seq, 1);
    assert_string_equal(e.id, "job-1");
    assert_string_equal(e.type, "resize");
    return e.rec;
}

static void
new_line_round_trip(void **state)
{
    static const uint8_t binary[] = { 0, 1, 2, 0xff, '\n' };
    struct jobrec *r = sample("hello \"world\"\n", 14), *b = sample(binary, sizeof(binary));
    struct jobrec *got = round_trip_new(r), *gotb = round_trip_new(b);
    (void)state;

    assert_int_equal(got->payload_len, 14);
    assert_memory_equal(got->payload, "hello \"world\"\n", 14);
    assert_int_equal(gotb->payload_len, sizeof(binary));
    assert_memory_equal(gotb->payload, binary, sizeof(binary));
    assert_int_equal(got->q.priority, 7);
    assert_int_equal(got->timeout_ms, 5000);
    assert_int_equal(got->max_attempts, 3);
    assert_string_equal(got->caller_id, "caller");
    assert_null(got->context_id);
    assert_int_equal(got->nenv, 1);
    assert_string_equal(got->env[0], "A=b c");
    assert_true(got->idempotent);
    assert_int_equal(got->q.sm.state, JOB_WAITING);
    assert_int_equal(got->q.sm.attempt, 1);
    assert_int_equal(got->q.sm.created_ms, 1000);
    assert_ptr_equal(got->q.sm.cause, job_text("submitted"));
    assert_int_equal(got->q.sm.history_total, 1);
    assert_memory_equal(&got->q.sm.history[0], &r->q.sm.history[0], sizeof(struct job_history));
    jobrec_free(r);
    jobrec_free(b);
    jobrec_free(got);
    jobrec_free(gotb);
}

/* r steps with in at now; its "st" line is applied to copy, which must then match r. */
static void
step_and_apply(struct jobrec *r, struct jobrec *copy, enum job_event ev, int64_t now, uint64_t seq)
{
    struct job_input in = { .event = ev, .actor = JOB_ACTOR_WORKER, .jitter_u = 0.5 };
    struct jobjournal_entry e;
    char err[256], *line;
    size_t len;

    assert_true(job_step(&r->q.sm, &policy, &in, now).accepted);
    line = jobjournal_state_line(r, seq, now, &len);
    assert_non_null(line);
    assert_int_equal(jobjournal_decode(line, len - 1, &e, err, sizeof(err)), 0);
    free(line);
    assert_int_equal(e.op, JOBJOURNAL_STATE);
    assert_int_equal(e.seq, seq);
    jobjournal_apply_state(copy, e.rec);
    jobrec_free(e.rec);
    assert_int_equal(copy->q.sm.state, r->q.sm.state);
    assert_int_equal(copy->q.sm.attempt, r->q.sm.attempt);
    assert_ptr_equal(copy->q.sm.error_code, r->q.sm.error_code);
    assert_ptr_equal(copy->q.sm.cause, r->q.sm.cause);
    assert_int_equal(copy->q.sm.retry_at_ms, r->q.sm.retry_at_ms);
    assert_int_equal(copy->q.sm.started_ms, r->q.sm.started_ms);
    assert_int_equal(copy->q.sm.finished_ms, r->q.sm.finished_ms);
    assert_int_equal(copy->q.sm.history_total, r->q.sm.history_total);
    assert_memory_equal(copy->q.sm.history, r->q.sm.history, sizeof(r->q.sm.history));
    assert_string_equal(copy->instance, r->instance);
    assert_int_equal(copy->q.sm.stopping, r->q.sm.stopping);
}

/* A CANCEL that is out survives a restart: the line keeps `stopping`. */
static void
a_cancel_in_flight_is_kept(void **state)
{
    struct jobrec *r = sample("x", 1), *copy = round_trip_new(r);
    (void)state;

    step_and_apply(r, copy, JOB_EV_DISPATCH, 1001, 2);
    step_and_apply(r, copy, JOB_EV_STARTED, 1002, 3);
    step_and_apply(r, copy, JOB_EV_CANCEL, 1003, 4);
    assert_int_equal(copy->q.sm.state, JOB_RUNNING);
    assert_int_equal(copy->q.sm.stopping, JOB_STOPPING_CANCEL);
    jobrec_free(r);
    jobrec_free(copy);
}

static void
state_lines_replay_a_life(void **state)
{
    struct jobrec *r = sample("x", 1), *copy = round_trip_new(r);
    (void)state;

    (void)snprintf(r->instance, sizeof(r->instance), "resize:0");
    step_and_apply(r, copy, JOB_EV_DISPATCH, 1001, 2);
    step_and_apply(r, copy, JOB_EV_STARTED, 1002, 3);
    assert_int_equal(jobrec_set_error(r, "boom", 4), 0);
    assert_int_equal(jobrec_set_fail_code(r, "E_DISK"), 0);
    step_and_apply(r, copy, JOB_EV_FAIL, 1003, 4);
    assert_int_equal(copy->q.sm.state, JOB_RETRY_WAIT);
    assert_string_equal(copy->error_message, "boom");
    assert_string_equal(copy->fail_code, "E_DISK");
    step_and_apply(r, copy, JOB_EV_DUE, 2000, 5);
    step_and_apply(r, copy, JOB_EV_DISPATCH, 2001, 6);
    assert_int_equal(jobrec_set_progress(r, 40, "half", 4), 0);
    assert_int_equal(jobrec_set_result(r, "\0ok", 3), 0);
    step_and_apply(r, copy, JOB_EV_DONE, 2002, 7);
    assert_int_equal(copy->q.sm.state, JOB_SUCCESS);
    assert_int_equal(copy->result_len, 3);
    assert_memory_equal(copy->result, "\0ok", 3);
    assert_int_equal(copy->progress_pct, 40);
    assert_string_equal(copy->progress_message, "half");
    assert_int_equal(copy->q.sm.attempt, 2);
    jobrec_free(r);
    jobrec_free(copy);
}

static void
remove_and_snapshot_lines(void **state)
{
    struct jobjournal_entry e;
    char err[256], *line;
    size_t len;
    (void)state;

    line = jobjournal_remove_line("job-9", 12, 5000, &len);
    assert_int_equal(jobjournal_decode(line, len - 1, &e, err, sizeof(err)), 0);
    free(line);
    assert_int_equal(e.op, JOBJOURNAL_REMOVE);
    assert_string_equal(e.id, "job-9");
    assert_null(e.rec);
    line = jobjournal_snapshot_line(42, 13, 5001, &len);
    assert_int_equal(jobjournal_decode(line, len - 1, &e, err, sizeof(err)), 0);
    free(line);
    assert_int_equal(e.op, JOBJOURNAL_SNAPSHOT);
    assert_int_equal(e.njobs, 42);
    assert_int_equal(e.seq, 13);
}

static void
bad_lines_name_their_field(void **state)
{
    static const struct {
        const char *line, *says;
    } cases[] = {
        { "{\"seq\":1,\"t\":1,\"op\":\"rm\",\"id\":\"a\"", "not JSON" },
        { "[1]", "not a JSON object" },
        { "{\"t\":1,\"op\":\"rm\",\"id\":\"a\"}", "\"seq\" is missing" },
        { "{\"seq\":0,\"t\":1,\"op\":\"rm\",\"id\":\"a\"}", "\"seq\": must be" },
        { "{\"seq\":1,\"t\":1,\"op\":\"zap\",\"id\":\"a\"}", "\"op\"" },
        { "{\"seq\":1,\"t\":1,\"op\":\"rm\",\"id\":\"a b\"}", "\"id\"" },
        { "{\"seq\":1,\"t\":1,\"op\":\"rm\",\"id\":\"a\",\"id\":\"b\"}", "not JSON" },
        { "{\"seq\":1,\"t\":1,\"op\":\"st\",\"id\":\"a\",\"state\":\"gone\",\"attempt\":1,"
          "\"hist_total\":0}",
          "\"state\"" },
        { "{\"seq\":1,\"t\":1,\"op\":\"st\",\"id\":\"a\",\"state\":\"waiting\",\"attempt\":1,"
          "\"hist_total\":1,\"cause\":\"made up\"}",
          "\"cause\"" },
        { "{\"seq\":1,\"t\":1,\"op\":\"st\",\"id\":\"a\",\"state\":\"waiting\",\"attempt\":1,"
          "\"hist_total\":1,\"h\":[1,2,3]}",
          "\"h\"" },
        { "{\"seq\":1,\"t\":1,\"op\":\"st\",\"id\":\"a\",\"state\":\"success\",\"attempt\":1,"
          "\"hist_total\":0,\"result_b64\":\"!!\"}",
          "not base64" },
        { "{\"seq\":1,\"t\":1,\"op\":\"new\",\"id\":\"a\",\"type\":\"t\",\"max_attempts\":1,"
          "\"payload\":\"x\",\"payload_b64\":\"eA==\",\"state\":\"waiting\",\"attempt\":1,"
          "\"hist_total\":0,\"hist\":[]}",
          "only one" },
        { "{\"seq\":1,\"t\":1,\"op\":\"new\",\"id\":\"a\",\"type\":\"t\",\"max_attempts\":1,"
          "\"env\":[\"NOEQUALS\"],\"state\":\"waiting\",\"attempt\":1,\"hist_total\":0,"
          "\"hist\":[]}",
          "\"env\"" },
        { "{\"seq\":1,\"t\":1,\"op\":\"new\",\"id\":\"a\",\"type\":\"t\",\"max_attempts\":1,"
          "\"state\":\"waiting\",\"attempt\":1,\"hist_total\":1,\"hist\":[[1,1,0,0,0,0],"
          "[2,1,0,0,0,0]]}",
          "\"hist\"" },
        { "{\"seq\":1,\"t\":1,\"op\":\"new\",\"id\":\"a\",\"max_attempts\":1,"
          "\"state\":\"waiting\",\"attempt\":1,\"hist_total\":0,\"hist\":[]}",
          "\"type\"" },
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        struct jobjournal_entry e;
        char err[256] = "";

        if (jobjournal_decode(cases[i].line, strlen(cases[i].line), &e, err, sizeof(err)) == 0)
            fail_msg("case %zu was accepted: %s", i, cases[i].line);
        assert_null(e.rec);
        if (!strstr(err, cases[i].says))
            fail_msg("case %zu: \"%s\" does not say %s", i, err, cases[i].says);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(new_line_round_trip),
        cmocka_unit_test(state_lines_replay_a_life),
        cmocka_unit_test(a_cancel_in_flight_is_kept),
        cmocka_unit_test(remove_and_snapshot_lines),
        cmocka_unit_test(bad_lines_name_their_field),
    };

    return cmocka_run_group_tests_name("jobjournal", tests, NULL, NULL);
}

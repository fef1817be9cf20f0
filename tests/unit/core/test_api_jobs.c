/*
 * test_api_jobs: the POST /jobs body parser (every field, every refusal
 * with the field it names), wait=, the list query and its pages, /queues
 * and /jobs/events answers, and a job's JSON (core/jobrec).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/api_jobs.h"
#include "core/jobevents.h"
#include "core/jobrec.h"

static const uint8_t test_key[SIPHASH_KEY_BYTES] = { 9, 8, 7, 6, 5, 4, 3, 2, 1 };

/* The answer's body as JSON (the answer is freed). */
static json_t *
body_of(struct api_answer a)
{
    json_error_t e;
    json_t *j;

    assert_non_null(a.body);
    j = json_loads(a.body, 0, &e);
    free(a.body);
    assert_non_null(j);
    return j;
}

static int
parse(const char *body, struct job_submit *s, struct api_answer *err)
{
    return api_job_submit_parse(body, strlen(body), 64, s, err);
}

/* body is refused with code, naming field (NULL: no field) and saying want in its error. */
static void
refused(const char *body, int code, const char *field, const char *want)
{
    struct job_submit s;
    struct api_answer err;
    json_t *j;

    if (parse(body, &s, &err) == 0)
        fail_msg("accepted: %s", body);
    assert_int_equal(err.code, code);
    j = body_of(err);
    if (!strstr(json_string_value(json_object_get(j, "error")), want))
        fail_msg("%s: error \"%s\" does not say \"%s\"", body,
                 json_string_value(json_object_get(j, "error")), want);
    if (field)
        assert_string_equal(json_string_value(json_object_get(j, "field")), field);
    json_decref(j);
    assert_null(s.type);
    assert_null(s.payload);
}

static void
submit_reads_every_field(void **state)
{
    struct job_submit s;
    struct api_answer err;
    (void)state;

    assert_int_equal(parse("{\"type\":\"resize\",\"payload\":\"hi\",\"id\":\"k-1:a.b_c\","
                           "\"priority\":7,\"delay\":1.5,\"timeout\":\"2m\",\"attempts\":4,"
                           "\"caller_id\":\"me\",\"context_id\":\"ctx\","
                           "\"env\":{\"A\":\"1\",\"B_2\":\"x y\"}}",
                           &s, &err),
                     0);
    assert_string_equal(s.type, "resize");
    assert_int_equal(s.payload_len, 2);
    assert_memory_equal(s.payload, "hi", 2);
    assert_string_equal(s.id, "k-1:a.b_c");
    assert_int_equal(s.priority, 7);
    assert_int_equal(s.delay_ms, 1500);
    assert_int_equal(s.timeout_ms, 120000);
    assert_int_equal(s.attempts, 4);
    assert_string_equal(s.caller_id, "me");
    assert_string_equal(s.context_id, "ctx");
    assert_int_equal(s.nenv, 2);
    assert_string_equal(s.env[0], "A=1");
    assert_string_equal(s.env[1], "B_2=x y");
    job_submit_done(&s);
    assert_null(s.type);

    /* Defaults: no payload is an empty one, timeout the program's (-1). */
    assert_int_equal(parse("{\"type\":\"t\"}", &s, &err), 0);
    assert_non_null(s.payload);
    assert_int_equal(s.payload_len, 0);
    assert_null(s.id);
    assert_int_equal(s.timeout_ms, -1);
    assert_int_equal(s.attempts, 0);
    assert_int_equal(s.delay_ms, 0);
    job_submit_done(&s);

    /* A JSON value goes as its compact text; payload_b64 as its bytes. */
    assert_int_equal(parse("{\"type\":\"t\",\"payload\":{\"a\": [1, 2]}}", &s, &err), 0);
    assert_int_equal(s.payload_len, strlen("{\"a\":[1,2]}"));
    assert_memory_equal(s.payload, "{\"a\":[1,2]}", s.payload_len);
    job_submit_done(&s);
    assert_int_equal(parse("{\"type\":\"t\",\"payload_b64\":\"AP8=\"}", &s, &err), 0);
    assert_int_equal(s.payload_len, 2);
    assert_int_equal(s.payload[0], 0x00);
    assert_int_equal(s.payload[1], 0xff);
    job_submit_done(&s);
    /* A timeout of 0 is "none", not "the program's". */
    assert_int_equal(parse("{\"type\":\"t\",\"timeout\":0}", &s, &err), 0);
    assert_int_equal(s.timeout_ms, 0);
    job_submit_done(&s);
}

static void
submit_refuses_with_the_field(void **state)
{
    char big[200];
    (void)state;

    refused("", 400, NULL, "not JSON: line 1");
    refused("{\"type\":\"t\",}", 400, NULL, "not JSON: line 1 column");
    refused("[1]", 400, NULL, "a JSON object");
    refused("{\"type\":\"t\",\"type\":\"u\"}", 400, NULL, "duplicate");
    refused("{\"payload\":\"x\"}", 400, "type", "type is required");
    refused("{\"type\":\"a b\"}", 400, "type", "bad type");
    refused("{\"type\":7}", 400, "type", "bad type");
    refused("{\"type\":\"t\",\"colour\":1}", 400, "colour", "unknown key");
    refused("{\"type\":\"t\",\"id\":\"events\"}", 400, "id", "bad id");
    refused("{\"type\":\"t\",\"id\":\"a/b\"}", 400, "id", "bad id");
    refused("{\"type\":\"t\",\"id\":\"\"}", 400, "id", "bad id");
    refused("{\"type\":\"t\",\"priority\":10}", 400, "priority", "0 to 9");
    refused("{\"type\":\"t\",\"priority\":1.5}", 400, "priority", "0 to 9");
    refused("{\"type\":\"t\",\"delay\":-1}", 400, "delay", "bad delay");
    refused("{\"type\":\"t\",\"delay\":\"soon\"}", 400, "delay", "bad delay");
    refused("{\"type\":\"t\",\"timeout\":\"31d\"}", 400, "timeout", "at most 30 days");
    refused("{\"type\":\"t\",\"attempts\":0}", 400, "attempts", "1 to 1000");
    refused("{\"type\":\"t\",\"caller_id\":\"\"}", 400, "caller_id", "bad caller_id");
    refused("{\"type\":\"t\",\"context_id\":5}", 400, "context_id", "bad context_id");
    refused("{\"type\":\"t\",\"env\":[\"A=1\"]}", 400, "env", "an object of strings");
    refused("{\"type\":\"t\",\"env\":{\"1A\":\"x\"}}", 400, "env", "a name is");
    refused("{\"type\":\"t\",\"env\":{\"A\":1}}", 400, "env", "each value is a string");
    refused("{\"type\":\"t\",\"env\":{\"A\":\"x\\ny\"}}", 400, "env", "without NUL or newline");
    refused("{\"type\":\"t\",\"payload\":\"a\",\"payload_b64\":\"YQ==\"}", 400, "payload_b64",
            "not both");
    refused("{\"type\":\"t\",\"payload_b64\":\"!!\"}", 400, "payload_b64", "not base64");
    refused("{\"type\":\"t\",\"payload\":\"a\\u0000b\"}", 400, NULL, "NUL"); /* jansson refuses */
    /* Beyond max_payload (64 here): 413, text, JSON value or base64 alike. */
    memset(big, 'x', 100);
    (void)snprintf(big + 100, sizeof(big) - 100, "%s", "");
    {
        char body[300];

        (void)snprintf(body, sizeof(body), "{\"type\":\"t\",\"payload\":\"%s\"}", big);
        refused(body, 413, NULL, "at most 64 bytes");
        (void)snprintf(body, sizeof(body), "{\"type\":\"t\",\"payload\":[\"%s\"]}", big);
        refused(body, 413, NULL, "at most 64 bytes");
        (void)snprintf(body, sizeof(body), "{\"type\":\"t\",\"payload_b64\":\"%s\"}", big);
        refused(body, 413, NULL, "at most 64 bytes");
    }
    /* env: at most 1024 bytes in all. */
    {
        char body[1400], val[1100];

        memset(val, 'v', 1030);
        val[1030] = '\0';
        (void)snprintf(body, sizeof(body), "{\"type\":\"t\",\"env\":{\"K\":\"%s\"}}", val);
        refused(body, 400, "env", "at most 1024 bytes");
    }
}

static void
wait_and_list_queries(void **state)
{
    struct api_jobs_list_query q;
    struct api_answer a;
    int64_t ms;
    (void)state;

    a = api_job_wait_query(NULL, &ms);
    assert_int_equal(a.code, 0);
    assert_int_equal(ms, 0);
    a = api_job_wait_query("2.5", &ms);
    assert_int_equal(a.code, 0);
    assert_int_equal(ms, 2500);
    a = api_job_wait_query("61", &ms);
    assert_int_equal(a.code, 400);
    free(a.body);
    a = api_job_wait_query("-1", &ms);
    assert_int_equal(a.code, 400);
    free(a.body);

    a = api_jobs_list_query(NULL, NULL, NULL, NULL, &q);
    assert_int_equal(a.code, 0);
    assert_false(q.by_state);
    assert_int_equal(q.limit, API_JOBS_LIST_DEFAULT);
    a = api_jobs_list_query("retry_wait", "resize", "5", "1795000000000:job:7", &q);
    assert_int_equal(a.code, 0);
    assert_true(q.by_state);
    assert_int_equal(q.state, JOB_RETRY_WAIT);
    assert_string_equal(q.type, "resize");
    assert_int_equal(q.limit, 5);
    assert_true(q.has_after);
    assert_int_equal(q.after_created_ms, 1795000000000LL);
    assert_string_equal(q.after_id, "job:7");
    const char *bad[][4] = {
        { "sleeping", NULL, NULL, NULL }, { NULL, NULL, "0", NULL },   { NULL, NULL, "1001", NULL },
        { NULL, NULL, "x", NULL },        { NULL, NULL, NULL, "abc" }, { NULL, NULL, NULL, "12:" },
        { NULL, NULL, NULL, ":id" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        a = api_jobs_list_query(bad[i][0], bad[i][1], bad[i][2], bad[i][3], &q);
        assert_int_equal(a.code, 400);
        free(a.body);
    }
}

static struct jobrec *
add_job(struct jobq *q, const char *id, const char *type, int64_t created, enum job_state st)
{
    struct jobrec *r = jobrec_new();

    assert_non_null(r);
    (void)snprintf(r->q.id, sizeof(r->q.id), "%s", id);
    r->q.type = (unsigned)jobq_type(q, type);
    (void)job_submit(&r->q.sm, 0, created);
    r->q.sm.state = st;
    r->max_attempts = 3;
    assert_int_equal(jobq_add(q, &r->q), 0);
    return r;
}

static void
free_rec(struct jobq_job *j)
{
    jobrec_free(jobq_job_to_rec(j));
}

static void
list_pages_newest_first(void **state)
{
    struct jobq *q = jobq_new(test_key);
    struct api_jobs_list_query query;
    json_t *j, *jobs;
    const char *after;
    char cursor[200];
    (void)state;

    assert_non_null(q);
    add_job(q, "a", "resize", 1000, JOB_SUCCESS);
    add_job(q, "b", "resize", 3000, JOB_WAITING);
    add_job(q, "c", "render", 2000, JOB_FAILED);
    add_job(q, "d", "resize", 3000, JOB_RUNNING); /* same time as b: by id */
    add_job(q, "e", "resize", 500, JOB_WAITING);

    assert_int_equal(api_jobs_list_query(NULL, NULL, "2", NULL, &query).code, 0);
    j = body_of(api_jobs_list(q, &query));
    jobs = json_object_get(j, "jobs");
    assert_int_equal(json_array_size(jobs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(jobs, 0), "id")), "b");
    assert_string_equal(json_string_value(json_object_get(json_array_get(jobs, 1), "id")), "d");
    assert_null(json_object_get(json_array_get(jobs, 0), "payload")); /* brief */
    assert_null(json_object_get(json_array_get(jobs, 0), "history"));
    after = json_string_value(json_object_get(j, "next_after"));
    assert_string_equal(after, "3000:d");
    (void)snprintf(cursor, sizeof(cursor), "%s", after);
    json_decref(j);

    assert_int_equal(api_jobs_list_query(NULL, NULL, "2", cursor, &query).code, 0);
    j = body_of(api_jobs_list(q, &query));
    jobs = json_object_get(j, "jobs");
    assert_int_equal(json_array_size(jobs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(jobs, 0), "id")), "c");
    assert_string_equal(json_string_value(json_object_get(json_array_get(jobs, 1), "id")), "a");
    (void)snprintf(cursor, sizeof(cursor), "%s",
                   json_string_value(json_object_get(j, "next_after")));
    json_decref(j);
    assert_int_equal(api_jobs_list_query(NULL, NULL, "2", cursor, &query).code, 0);
    j = body_of(api_jobs_list(q, &query));
    assert_int_equal(json_array_size(json_object_get(j, "jobs")), 1);
    assert_true(json_is_null(json_object_get(j, "next_after"))); /* the last page */
    json_decref(j);

    /* Filters. */
    assert_int_equal(api_jobs_list_query("waiting", "resize", NULL, NULL, &query).code, 0);
    j = body_of(api_jobs_list(q, &query));
    jobs = json_object_get(j, "jobs");
    assert_int_equal(json_array_size(jobs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(jobs, 1), "id")), "e");
    json_decref(j);
    assert_int_equal(api_jobs_list_query(NULL, "nosuch", NULL, NULL, &query).code, 0);
    j = body_of(api_jobs_list(q, &query));
    assert_int_equal(json_array_size(json_object_get(j, "jobs")), 0);
    json_decref(j);
    jobq_free(q, free_rec);
}

static void
queues_and_events_answers(void **state)
{
    struct api_queue qs[2] = {
        { .type = "resize",
          .program = "thumbs",
          .waiting = 3,
          .running = 1,
          .oldest_waiting_s = 2.5,
          .done_1m = 10,
          .instances = 2,
          .busy = 1,
          .idle = 1,
          .desired = 2 },
        { .type = "echo",
          .program = "echo",
          .cluster = true,
          .cluster_waiting = -1,
          .cluster_in_flight = 4,
          .cluster_here = 1 },
    };
    struct api_queues_store file = { .kind = "file" },
                            redis = { .kind = "redis", .node = "n1", .up = true, .nodes = 3 };
    struct jobevents e;
    json_t *j, *t, *ev, *c;
    (void)state;

    j = body_of(api_queues(qs, 2, &file));
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "store"), "kind")),
                        "file");
    assert_null(json_object_get(json_object_get(j, "store"), "node"));
    t = json_object_get(j, "types");
    assert_true(json_is_null(json_object_get(json_array_get(t, 0), "cluster")));
    c = json_object_get(json_array_get(t, 1), "cluster");
    assert_true(json_is_null(json_object_get(c, "waiting"))); /* its key holds no list */
    assert_int_equal(json_integer_value(json_object_get(c, "in_flight")), 4);
    assert_int_equal(json_integer_value(json_object_get(c, "this_node")), 1);
    assert_int_equal(json_array_size(t), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(t, 0), "waiting")), 3);
    assert_true(json_real_value(json_object_get(json_array_get(t, 0), "oldest_waiting_s")) == 2.5);
    assert_true(json_is_null(json_object_get(json_array_get(t, 1), "oldest_waiting_s")));
    assert_string_equal(json_string_value(json_object_get(json_array_get(t, 1), "program")),
                        "echo");
    json_decref(j);
    j = body_of(api_queues(qs, 2, &redis));
    c = json_object_get(j, "store");
    assert_string_equal(json_string_value(json_object_get(c, "node")), "n1");
    assert_true(json_is_true(json_object_get(c, "up")));
    assert_true(json_is_null(json_object_get(c, "nodes"))); /* not read yet */
    redis.known = true;
    json_decref(j);
    j = body_of(api_queues(qs, 2, &redis));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "store"), "nodes")), 3);
    json_decref(j);

    assert_int_equal(jobevents_init(&e), 0);
    jobevents_push(&e, 10, "j1", "resize", JOB_INVALID, JOB_WAITING, 1, NULL, "submitted");
    jobevents_push(&e, 11, "j1", "resize", JOB_WAITING, JOB_DISPATCHED, 1, "thumbs:0", NULL);
    j = body_of(api_job_events(&e, 0));
    ev = json_object_get(j, "events");
    assert_int_equal(json_array_size(ev), 2);
    assert_true(json_is_null(json_object_get(json_array_get(ev, 0), "from")));
    assert_true(json_is_null(json_object_get(json_array_get(ev, 0), "instance")));
    assert_string_equal(json_string_value(json_object_get(json_array_get(ev, 1), "from")),
                        "waiting");
    assert_string_equal(json_string_value(json_object_get(json_array_get(ev, 1), "instance")),
                        "thumbs:0");
    assert_string_equal(json_string_value(json_object_get(json_array_get(ev, 1), "cause")), "");
    assert_int_equal(json_integer_value(json_object_get(j, "next")), 3);
    assert_false(json_is_true(json_object_get(j, "gap")));
    json_decref(j);
    j = body_of(api_job_events(&e, 3)); /* nothing new: next stays */
    assert_int_equal(json_array_size(json_object_get(j, "events")), 0);
    assert_int_equal(json_integer_value(json_object_get(j, "next")), 3);
    json_decref(j);
    jobevents_done(&e);
}

static void
job_json_text_binary_error_and_brief(void **state)
{
    struct jobrec *r = jobrec_new();
    json_t *j;
    (void)state;

    assert_non_null(r);
    (void)snprintf(r->q.id, sizeof(r->q.id), "x1");
    (void)job_submit(&r->q.sm, 0, 1000);
    r->max_attempts = 2;
    r->payload = (uint8_t *)strdup("hello");
    r->payload_len = 5;
    assert_int_equal(jobrec_set_result(r, "\x00\xff", 2), 0);
    r->q.sm.state = JOB_FAILED;
    r->q.sm.error_code = "worker_lost";
    r->q.sm.error_signal = 9;
    assert_int_equal(jobrec_set_error(r, "killed", 6), 0);
    j = jobrec_to_json(r, "resize", false);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "payload")), "hello");
    assert_null(json_object_get(j, "payload_b64"));
    assert_string_equal(json_string_value(json_object_get(j, "result_b64")), "AP8=");
    assert_null(json_object_get(j, "result"));
    assert_string_equal(json_string_value(json_object_get(j, "hero_status")), "error");
    assert_string_equal(json_string_value(json_object_get(j, "funcx_state")), "failed");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                        "worker_lost");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "signal")),
                        "KILL");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "message")),
                        "killed");
    assert_int_equal(json_array_size(json_object_get(j, "history")), 1);
    assert_true(json_is_null(json_object_get(j, "instance")));
    json_decref(j);
    j = jobrec_to_json(r, "resize", true);
    assert_null(json_object_get(j, "payload"));
    assert_null(json_object_get(j, "result_b64"));
    assert_null(json_object_get(j, "history"));
    json_decref(j);
    assert_int_equal(jobrec_bytes(r), 5 + 2 + 7); /* the message with its NUL */

    /* A worker's own FAIL code shows as error.code; the state machine's codes win over it. */
    assert_int_equal(jobrec_set_fail_code(r, "bad code"), -EINVAL);
    assert_null(r->fail_code);
    assert_int_equal(jobrec_set_fail_code(r, "bad_input"), 0);
    r->q.sm.error_code = "error";
    j = jobrec_to_json(r, "resize", true);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                        "bad_input");
    json_decref(j);
    r->q.sm.error_code = "worker_lost";
    j = jobrec_to_json(r, "resize", true);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                        "worker_lost");
    json_decref(j);
    assert_int_equal(jobrec_set_fail_code(r, "error"), 0); /* "error" is none */
    assert_null(r->fail_code);
    jobrec_free(r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(submit_reads_every_field),
        cmocka_unit_test(submit_refuses_with_the_field),
        cmocka_unit_test(wait_and_list_queries),
        cmocka_unit_test(list_pages_newest_first),
        cmocka_unit_test(queues_and_events_answers),
        cmocka_unit_test(job_json_text_binary_error_and_brief),
    };

    return cmocka_run_group_tests_name("api_jobs", tests, NULL, NULL);
}

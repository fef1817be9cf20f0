/*
 * test_cli_jobs: the jobs verbs of the CLI. The renderers of cli_jobs_render
 * against golden files (tests/golden/job_*.json in, job_*.out expected; as
 * test_cli.c, DROVER_UPDATE_GOLDEN=1 rewrites the .out files), the POST
 * /jobs body, then cli_main() end to end in a child: usage errors (exit 2,
 * one message, no request) and the exchanges with a forked fake daemon that
 * answers a script and records what it was asked (submit, run, wait's
 * loop, list's pages, a malformed answer, exit codes 0/1/3/124).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_jobs.h"
#include "cli/cli_jobs_render.h"
#include "cli/cli_main.h"

#include "cli_test_util.h"

/* 2026-11-18T11:07:40Z, a minute after the golden jobs were created: "now" for AGE. */
#define NOW_MS 1795000060000LL

static char tmp_dir[] = "/tmp/test_cli_jobs.XXXXXX";

static int
setup_group(void **state)
{
    (void)state;
    return cli_test_setup(tmp_dir);
}

static int
teardown_group(void **state)
{
    static const char *const names[] = { "sock", "log", "out", "err", "in" };
    char path[PATH_MAX];
    (void)state;

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        (void)snprintf(path, sizeof(path), "%s/%s", tmp_dir, names[i]);
        (void)unlink(path);
    }
    return rmdir(tmp_dir);
}

/* ---- renderers against golden files ---- */

enum kind { K_JOB, K_LIST, K_QUEUES, K_EVENTS, K_ERRORS };

static const struct golden_case {
    const char *input, *out;
    enum kind kind;
} golden_cases[] = {
    { "job_get_text.json", "job_get_text.out", K_JOB },
    { "job_get_binary.json", "job_get_binary.out", K_JOB },
    { "job_get_failed.json", "job_get_failed.out", K_JOB },
    { "job_get_waiting.json", "job_get_waiting.out", K_JOB },
    { "job_get_malformed.json", "job_get_malformed.out", K_JOB },
    { "job_list.json", "job_list.out", K_LIST },
    { "job_list_empty.json", "job_list_empty.out", K_LIST },
    { "job_list_malformed.json", "job_list_malformed.out", K_LIST },
    { "job_queues.json", "job_queues.out", K_QUEUES },
    { "job_queues_redis.json", "job_queues_redis.out", K_QUEUES },
    { "job_queues_malformed.json", "job_queues_malformed.out", K_QUEUES },
    { "job_events_gap.json", "job_events_gap.out", K_EVENTS },
    { "job_events_malformed.json", "job_events_malformed.out", K_EVENTS },
    { "job_submit_errors.json", "job_submit_errors.out", K_ERRORS },
};

/* Each {"code","body"} of the input as the line the CLI prints for it. */
static char *
render_errors(const char *body, size_t len)
{
    json_t *list = json_loadb(body, len, 0, NULL), *e;
    char *out = calloc(1, 8192), line[CLI_ERR_MAX];
    size_t i;

    assert_non_null(list);
    assert_non_null(out);
    json_array_foreach(list, i, e)
    {
        const char *b = json_string_value(json_object_get(e, "body"));

        cli_job_error_text((int)json_integer_value(json_object_get(e, "code")), b, strlen(b), line,
                           sizeof(line));
        assert_true(strlen(out) + strlen(line) + 2 < 8192);
        strcat(out, line);
        strcat(out, "\n");
    }
    json_decref(list);
    return out;
}

static char *
render_case(const struct golden_case *c, const char *body, size_t len)
{
    char err[CLI_ERR_MAX] = "", *text = NULL, *out;
    uint64_t next = 7777;
    bool gap = false;
    size_t n;

    switch (c->kind) {
    case K_JOB:
        text = cli_render_job(body, len, err, sizeof(err));
        break;
    case K_LIST:
        text = cli_render_job_list(body, len, NOW_MS, err, sizeof(err));
        break;
    case K_QUEUES:
        text = cli_render_queues(body, len, err, sizeof(err));
        break;
    case K_EVENTS:
        text = cli_render_job_events(body, len, &next, &gap, err, sizeof(err));
        break;
    case K_ERRORS:
        return render_errors(body, len);
    }
    if (!text) {
        assert_true(err[0] != '\0');
        n = strlen(err) + 16;
        out = malloc(n);
        assert_non_null(out);
        (void)snprintf(out, n, "error: %s\n", err);
        return out;
    }
    n = strlen(text) + 64;
    out = malloc(n);
    assert_non_null(out);
    if (c->kind == K_EVENTS)
        (void)snprintf(out, n, "%s-- next %llu, gap %s\n", text, (unsigned long long)next,
                       gap ? "yes" : "no");
    else
        (void)snprintf(out, n, "%s", text);
    free(text);
    return out;
}

static void
renderers_golden(void **state)
{
    (void)state;

    for (size_t i = 0; i < sizeof(golden_cases) / sizeof(golden_cases[0]); i++) {
        const struct golden_case *c = &golden_cases[i];
        char path[PATH_MAX], *body, *got;
        size_t len;

        body = slurp(golden_path(c->input, path, sizeof(path)), &len);
        if (!body)
            fail_msg("cannot read %s", path);
        got = render_case(c, body, len);
        /* one terminal line per line: no control character but the newlines */
        for (const char *p = got; *p; p++)
            if ((unsigned char)*p < 0x20 && *p != '\n')
                fail_msg("%s: a control character 0x%02x in the output", c->input, *p);
        check_golden(c->out, got);
        free(got);
        free(body);
    }
}

/* Every renderer on every prefix of every golden input: an error or text, never a crash. */
static void
renderers_every_truncation(void **state)
{
    (void)state;

    for (size_t i = 0; i < sizeof(golden_cases) / sizeof(golden_cases[0]); i++) {
        char path[PATH_MAX], *body;
        size_t len;

        body = slurp(golden_path(golden_cases[i].input, path, sizeof(path)), &len);
        assert_non_null(body);
        for (size_t n = 0; n < len; n++) {
            char err[CLI_ERR_MAX], *t;
            uint64_t next;
            bool gap;
            struct cli_job_outcome o;

            if ((t = cli_render_job(body, n, err, sizeof(err))))
                free(t);
            if ((t = cli_render_job_list(body, n, NOW_MS, err, sizeof(err))))
                free(t);
            if ((t = cli_render_queues(body, n, err, sizeof(err))))
                free(t);
            if ((t = cli_render_job_events(body, n, &next, &gap, err, sizeof(err))))
                free(t);
            if (cli_job_outcome_parse(body, n, &o, err, sizeof(err)) == 0)
                cli_job_outcome_done(&o);
        }
        free(body);
    }
}

static void
outcome(void **state)
{
    static const char ok[] = "{\"id\":\"a\",\"state\":\"success\",\"result_b64\":\"/wBhYg==\"}";
    static const char bad[] = "{\"id\":\"a\",\"state\":\"success\",\"result_b64\":\"/w=A\"}";
    static const char failed[] = "{\"id\":\"a\",\"state\":\"cancelled\",\"error\":null}";
    struct cli_job_outcome o;
    char err[CLI_ERR_MAX];
    (void)state;

    assert_int_equal(cli_job_outcome_parse(ok, strlen(ok), &o, err, sizeof(err)), 0);
    assert_true(o.terminal && o.success);
    assert_int_equal(o.result_len, 4);
    assert_memory_equal(o.result, "\xff\0ab", 4);
    cli_job_outcome_done(&o);
    assert_int_equal(cli_job_outcome_parse(bad, strlen(bad), &o, err, sizeof(err)), -EPROTO);
    assert_non_null(strstr(err, "result_b64"));
    assert_int_equal(cli_job_outcome_parse(failed, strlen(failed), &o, err, sizeof(err)), 0);
    assert_true(o.terminal && !o.success);
    assert_string_equal(o.error, "cancelled");
    assert_null(o.result);
    assert_int_equal(cli_job_outcome_parse("[]", 2, &o, err, sizeof(err)), -EPROTO);
    /* an id or state that could drive the terminal, or a request, is refused */
    {
        static const char *const odd[] = {
            "{\"id\":\"a\\u001b[2J\",\"state\":\"success\"}",
            "{\"id\":\"a/../b\",\"state\":\"success\"}",
            "{\"id\":\"a\",\"state\":\"SUCCESS\\n\"}",
            "{\"id\":\"a\",\"state\":\"\"}",
        };

        for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
            assert_int_equal(cli_job_outcome_parse(odd[i], strlen(odd[i]), &o, err, sizeof(err)),
                             -EPROTO);
            assert_non_null(strstr(err, "malformed job answer"));
        }
    }
}

static void
submit_body(void **state)
{
    const char *env[] = { "A=1", "B=x=y", "C=" };
    const char *bad_env[] = { "=1" };
    struct cli_job_submit s = { .type = "echo",
                                .payload = "hi",
                                .payload_len = 2,
                                .id = "k1",
                                .priority = 9,
                                .delay_ms = 1500,
                                .timeout_ms = 30000,
                                .attempts = 2,
                                .env = env,
                                .nenv = 3 };
    char err[CLI_ERR_MAX], *b;
    (void)state;

    b = cli_job_submit_body(&s, err, sizeof(err));
    assert_non_null(b);
    assert_string_equal(b, "{\"type\":\"echo\",\"payload\":\"hi\",\"id\":\"k1\",\"priority\":9,"
                           "\"delay\":1.5,\"timeout\":30,\"attempts\":2,"
                           "\"env\":{\"A\":\"1\",\"B\":\"x=y\",\"C\":\"\"}}");
    free(b);
    s = (struct cli_job_submit){ .type = "t",
                                 .payload = "\xff\0",
                                 .payload_len = 2,
                                 .priority = -1,
                                 .delay_ms = -1,
                                 .timeout_ms = -1,
                                 .attempts = -1 };
    b = cli_job_submit_body(&s, err, sizeof(err));
    assert_non_null(b);
    assert_string_equal(b, "{\"type\":\"t\",\"payload_b64\":\"/wA=\"}");
    free(b);
    s.env = bad_env;
    s.nenv = 1;
    assert_null(cli_job_submit_body(&s, err, sizeof(err)));
    assert_non_null(strstr(err, "KEY=VALUE"));
}

static void
ids(void **state)
{
    char long_id[CLI_JOB_ID_MAX + 2];
    (void)state;

    assert_true(cli_job_id_valid("0b1c2d3e-4f50-4a6b-8c7d-8e9fa0b1c2d3"));
    assert_true(cli_job_id_valid("a.b_c:d-e"));
    assert_false(cli_job_id_valid(""));
    assert_false(cli_job_id_valid("a b"));
    assert_false(cli_job_id_valid("a/b"));
    memset(long_id, 'x', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    assert_false(cli_job_id_valid(long_id));
    long_id[CLI_JOB_ID_MAX] = '\0';
    assert_true(cli_job_id_valid(long_id));
    assert_true(cli_job_state_terminal("failed"));
    assert_false(cli_job_state_terminal("retry_wait"));
}

/* ---- cli_main end to end ---- */

struct answer {
    int code;
    const char *body;
};

/*
 * A fake daemon: answers script (n answers, one per connection; code 0: no
 * answer, hold the connection until the client closes it), logs
 * "LINE BODY\n" for each request.
 */
static pid_t
fake_start(const struct answer *script, size_t n)
{
    char sock[PATH_MAX], log[PATH_MAX];
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    pid_t parent = getpid(), pid;
    int fd;

    (void)snprintf(sock, sizeof(sock), "%s/sock", tmp_dir);
    (void)snprintf(log, sizeof(log), "%s/log", tmp_dir);
    (void)unlink(sock);
    (void)unlink(log);
    assert_true(strlen(sock) < sizeof(sa.sun_path));
    memcpy(sa.sun_path, sock, strlen(sock) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 8), 0);
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        FILE *lf = fopen(log, "we");

        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent || !lf)
            _exit(1);
        for (size_t i = 0; i < n; i++) {
            char req[65536], head[512];
            size_t len = 0, want = 0;
            char *end = NULL, *cl;
            int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

            if (c < 0)
                _exit(1);
            while (len < sizeof(req) - 1) {
                ssize_t r = read(c, req + len, sizeof(req) - 1 - len);

                if (r <= 0)
                    break;
                len += (size_t)r;
                req[len] = '\0';
                if (!end && (end = strstr(req, "\r\n\r\n"))) {
                    cl = strstr(req, "Content-Length: ");
                    want =
                        (size_t)(end + 4 - req) + (cl && cl < end ? strtoul(cl + 16, NULL, 10) : 0);
                }
                if (end && len >= want)
                    break;
            }
            req[len] = '\0';
            *strstr(req, "\r\n") = '\0';
            fprintf(lf, "%s %s\n", req, end ? end + 4 : "");
            fflush(lf);
            if (script[i].code == 0) { /* hang: until the client goes */
                while (read(c, req, sizeof(req)) > 0)
                    ;
                close(c);
                continue;
            }
            (void)snprintf(head, sizeof(head), "HTTP/1.0 %d X\r\nContent-Length: %zu\r\n\r\n",
                           script[i].code, strlen(script[i].body));
            if (write(c, head, strlen(head)) < 0 ||
                write(c, script[i].body, strlen(script[i].body)) < 0)
                _exit(1);
            close(c);
        }
        _exit(0);
    }
    close(fd);
    return pid;
}

/* The fake's log once it has answered everything (waits for its exit). */
static char *
fake_stop(pid_t pid)
{
    char log[PATH_MAX];
    int status;

    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    (void)snprintf(log, sizeof(log), "%s/log", tmp_dir);
    return slurp(log, NULL);
}

struct run {
    int rc;
    char *out, *err;
};

/* cli_main(argv) started in a child, --control tmp_dir/sock, stdin from input (NULL: /dev/null). */
static pid_t
start_cli(const char *input, const char *const *argv)
{
    char out_path[PATH_MAX], err_path[PATH_MAX], in_path[PATH_MAX], sock[PATH_MAX];
    char *args[32];
    int argc = 0;
    pid_t pid;

    (void)snprintf(out_path, sizeof(out_path), "%s/out", tmp_dir);
    (void)snprintf(err_path, sizeof(err_path), "%s/err", tmp_dir);
    (void)snprintf(in_path, sizeof(in_path), "%s/in", tmp_dir);
    (void)snprintf(sock, sizeof(sock), "--control=%s/sock", tmp_dir);
    args[argc++] = "drover";
    args[argc++] = sock;
    for (; *argv && argc < 31; argv++)
        args[argc++] = (char *)*argv;
    args[argc] = NULL;
    if (input) {
        FILE *f = fopen(in_path, "w");

        assert_non_null(f);
        assert_int_equal(fwrite(input, 1, strlen(input), f), strlen(input));
        assert_int_equal(fclose(f), 0);
    }
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        int i = open(input ? in_path : "/dev/null", O_RDONLY | O_CLOEXEC);

        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (o < 0 || e < 0 || i < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0 || dup2(i, 0) < 0)
            _exit(99);
        exit(cli_main(argc, args));
    }
    return pid;
}

static struct run
finish_cli(pid_t pid)
{
    char out_path[PATH_MAX], err_path[PATH_MAX];
    struct run r = { 0 };
    int status;

    (void)snprintf(out_path, sizeof(out_path), "%s/out", tmp_dir);
    (void)snprintf(err_path, sizeof(err_path), "%s/err", tmp_dir);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status))
        fail_msg("cli_main did not exit (status 0x%x)", status);
    r.rc = WEXITSTATUS(status);
    r.out = slurp(out_path, NULL);
    r.err = slurp(err_path, NULL);
    assert_non_null(r.out);
    assert_non_null(r.err);
    return r;
}

static struct run
run_cli(const char *input, const char *const *argv)
{
    return finish_cli(start_cli(input, argv));
}

static void
run_done(struct run *r)
{
    free(r->out);
    free(r->err);
}

/* argv must fail with exit 2, a message containing want, and no request (nothing listens). */
static void
expect_usage(const char *want, const char *const *argv)
{
    struct run r = run_cli(NULL, argv);

    if (r.rc != 2 || !strstr(r.err, want))
        fail_msg("%s ...: exit %d, stderr '%s'; want exit 2 and '%s'", argv[0], r.rc, r.err, want);
    assert_string_equal(r.out, "");
    assert_null(strstr(r.err, "cannot reach")); /* refused before any request */
    run_done(&r);
}

static void
usage_errors(void **state)
{
    (void)state;

#define U(want, ...) expect_usage(want, (const char *const[]){ __VA_ARGS__, NULL })
    U("missing argument", "job", "submit");
    U("missing argument", "job", "get");
    U("too many arguments", "job", "get", "a", "b");
    U("unknown command 'job frob'", "job", "frob");
    U("unknown option '--bogus'", "job", "list", "--bogus");
    U("option '--limit' does not apply to 'job get'", "job", "get", "x", "--limit", "3");
    U("option '--wait' does not apply to 'run'", "run", "t", "--wait");
    U("bad job ID 'a b'", "job", "get", "a b");
    U("bad job ID", "job", "cancel", "x/y");
    U("bad job ID 'no spaces'", "job", "submit", "t", "--id", "no spaces");
    U("bad --priority '10'", "job", "submit", "t", "--priority", "10");
    U("bad --priority '-1'", "job", "submit", "t", "--priority=-1");
    U("bad --attempts '0'", "job", "submit", "t", "--attempts", "0");
    U("bad --timeout 'soon'", "job", "submit", "t", "--timeout", "soon");
    U("bad --delay '31d'", "job", "submit", "t", "--delay", "31d");
    U("bad --wait 'x'", "job", "submit", "t", "--wait=x");
    U("bad --timeout", "run", "t", "--timeout", "-5s");
    U("bad --timeout", "job", "wait", "j", "--timeout", "1y");
    U("bad --limit '0'", "job", "list", "--limit", "0");
    U("bad --since 'x'", "job", "events", "--since", "x");
    U("bad --env 'NOEQUALS'", "job", "submit", "t", "--env", "NOEQUALS");
    U("give the payload once", "job", "submit", "t", "--payload", "a", "b");
    U("give the payload once", "run", "t", "a", "--payload-file", "/dev/null");
    U("option '--timeout' given twice", "job", "submit", "t", "--timeout", "1", "--timeout=2");
    U("option '--payload' needs a value", "job", "submit", "t", "--payload");
    U("option '--json' takes no value", "queues", "--json=1");
    U("too many arguments", "queues", "x");
    U("bad TYPE ''", "run", "");
    U("Try 'drover help job submit'", "job", "submit");
#undef U
}

static void
help_texts(void **state)
{
    struct run r;
    (void)state;

    r = run_cli(NULL, (const char *const[]){ "help", NULL });
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "  job get ID [--json]"));
    assert_non_null(strstr(r.out, "  queues [--json]"));
    assert_non_null(strstr(r.out, "124"));
    run_done(&r);
    r = run_cli(NULL, (const char *const[]){ "help", "job", "submit", NULL });
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "usage: drover [--control PATH] job submit TYPE"));
    assert_non_null(strstr(r.out, "D is a duration"));
    run_done(&r);
    r = run_cli(NULL, (const char *const[]){ "job", "--help", NULL });
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "job events"));
    run_done(&r);
    r = run_cli(NULL, (const char *const[]){ "run", "-h", NULL });
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "the result's bytes on stdout exactly"));
    run_done(&r);
    r = run_cli(NULL, (const char *const[]){ "job", NULL });
    assert_int_equal(r.rc, 2);
    assert_non_null(strstr(r.err, "job submit"));
    run_done(&r);
}

static void
unreachable(void **state)
{
    char sock[PATH_MAX];
    struct run r;
    (void)state;

    (void)snprintf(sock, sizeof(sock), "%s/sock", tmp_dir);
    (void)unlink(sock);
    r = run_cli(NULL, (const char *const[]){ "queues", NULL });
    assert_int_equal(r.rc, 3);
    assert_non_null(strstr(r.err, "cannot reach"));
    run_done(&r);
}

#define JOB(id, state, extra)                                                                      \
    "{\"id\":\"" id "\",\"type\":\"echo\",\"state\":\"" state "\",\"attempt\":1,"                  \
    "\"max_attempts\":3" extra "}"

static void
submit_and_run(void **state)
{
    static const struct answer submit[] = { { 201, JOB("j1", "waiting", "") } };
    static const struct answer submit_wait[] = {
        { 202, JOB("j2", "running", "") },
        { 200, JOB("j2", "success", ",\"result_b64\":\"/wBhYg==\"") },
    };
    static const struct answer run_fail[] = {
        { 200, JOB("j3", "failed", ",\"error\":{\"code\":\"error\",\"message\":\"boom\"}") },
    };
    static const struct answer refused[] = { { 409, "{\"error\":\"id exists, other payload\"}" } };
    static const struct answer garbage[] = { { 201, "{\"id\":" } };
    struct run r;
    char *log;
    pid_t f;
    (void)state;

    f = fake_start(submit, 1);
    r = run_cli("\xff\x01", (const char *const[]){ "job", "submit", "echo", "-", "--id", "k.1",
                                                   "--timeout", "1.5s", "--env", "A=b", NULL });
    log = fake_stop(f);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "j1\n");
    assert_string_equal(log, "POST /jobs HTTP/1.0 {\"type\":\"echo\",\"payload_b64\":\"/wE=\","
                             "\"id\":\"k.1\",\"timeout\":1.5,\"env\":{\"A\":\"b\"}}\n");
    free(log);
    run_done(&r);

    /* run: the daemon parks 60 s, answers 202; the CLI asks again; the bytes, exactly */
    f = fake_start(submit_wait, 2);
    r = run_cli(NULL, (const char *const[]){ "run", "echo", "hi", NULL });
    log = fake_stop(f);
    assert_int_equal(r.rc, 0);
    assert_memory_equal(r.out, "\xff", 1);
    assert_string_equal(r.out + 1, "");
    assert_string_equal(log, "POST /jobs?wait=60 HTTP/1.0 {\"type\":\"echo\",\"payload\":\"hi\"}\n"
                             "GET /jobs/j2?wait=60 HTTP/1.0 \n");
    free(log);
    run_done(&r);

    f = fake_start(run_fail, 1);
    r = run_cli(NULL, (const char *const[]){ "run", "echo", NULL });
    free(fake_stop(f));
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.out, "");
    assert_string_equal(r.err, "drover: run echo: job j3 failed: error: boom\n");
    run_done(&r);

    f = fake_start(refused, 1);
    r = run_cli(NULL, (const char *const[]){ "job", "submit", "echo", "--payload", "x", NULL });
    free(fake_stop(f));
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err, "drover: job submit echo: id exists, other payload\n");
    run_done(&r);

    f = fake_start(garbage, 1);
    r = run_cli(NULL, (const char *const[]){ "job", "submit", "echo", NULL });
    free(fake_stop(f));
    assert_int_equal(r.rc, 1);
    assert_non_null(strstr(r.err, "malformed job answer"));
    run_done(&r);
}

static void
wait_timeout_and_list(void **state)
{
    static const struct answer wait_short[] = { { 202, JOB("j4", "running", "") } };
    static const struct answer wait_fail[] = {
        { 202, JOB("j4", "running", "") },
        { 200, JOB("j4", "cancelled", ",\"history\":[]") },
    };
    static const struct answer pages[] = {
        { 200, "{\"jobs\":[" JOB("a", "waiting", "") "," JOB("b", "running",
                                                             "") "],"
                                                                 "\"next_after\":\"b\"}" },
        { 200, "{\"jobs\":[" JOB("c", "success", "") "],\"next_after\":\"c\"}" },
    };
    static const struct answer change[] = { { 200, JOB("j5", "cancelled", "") },
                                            { 409, "{\"error\":\"job has ended\"}" },
                                            { 200, "{}" } };
    struct run r;
    char *log;
    pid_t f;
    (void)state;

    /* --timeout 0: one look (wait=0), still running: 124 (a longer one would ask again) */
    f = fake_start(wait_short, 1);
    r = run_cli(NULL, (const char *const[]){ "job", "wait", "j4", "--timeout", "0", NULL });
    log = fake_stop(f);
    assert_int_equal(r.rc, 124);
    assert_non_null(strstr(r.err, "job j4 is still running after 0"));
    assert_string_equal(log, "GET /jobs/j4?wait=0 HTTP/1.0 \n");
    free(log);
    run_done(&r);

    f = fake_start(wait_fail, 2);
    r = run_cli(NULL, (const char *const[]){ "job", "wait", "j4", NULL });
    free(fake_stop(f));
    assert_int_equal(r.rc, 1);
    assert_non_null(strstr(r.out, "state:     cancelled"));
    run_done(&r);

    /* --limit 3 over two pages: the second asks for what is left, after the first's last */
    f = fake_start(pages, 2);
    r = run_cli(NULL, (const char *const[]){ "job", "list", "--limit", "3", "--type", "echo",
                                             "--json", NULL });
    log = fake_stop(f);
    assert_int_equal(r.rc, 0);
    assert_string_equal(log, "GET /jobs?type=echo&limit=3 HTTP/1.0 \n"
                             "GET /jobs?type=echo&limit=1&after=b HTTP/1.0 \n");
    assert_non_null(strstr(r.out, "\"id\":\"c\""));
    free(log);
    run_done(&r);

    f = fake_start(change, 3);
    r = run_cli(NULL, (const char *const[]){ "job", "cancel", "j5", NULL });
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "job j5: cancelled\n");
    run_done(&r);
    r = run_cli(NULL, (const char *const[]){ "job", "retry", "j5", NULL });
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err, "drover: job retry j5: job has ended\n");
    run_done(&r);
    r = run_cli(NULL, (const char *const[]){ "job", "rm", "j5", NULL });
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "job j5 removed\n");
    run_done(&r);
    log = fake_stop(f);
    assert_string_equal(log, "POST /jobs/j5/cancel HTTP/1.0 \n"
                             "POST /jobs/j5/retry HTTP/1.0 \n"
                             "DELETE /jobs/j5 HTTP/1.0 \n");
    free(log);
}

static void
events_and_queues(void **state)
{
    static const struct answer ev[] = {
        { 200, "{\"events\":[],\"next\":5,\"gap\":true}" },
        { 404, "{\"error\":\"no such route\"}" },
        { 200, "{\"types\":[]}" },
    };
    struct run r;
    char *log;
    pid_t f;
    (void)state;

    f = fake_start(ev, 3);
    r = run_cli(NULL, (const char *const[]){ "job", "events", "--follow", "--since", "3", NULL });
    assert_int_equal(r.rc, 1);
    assert_non_null(strstr(r.err, "warning: fell behind"));
    assert_non_null(strstr(r.err, "no such route"));
    run_done(&r);
    r = run_cli(NULL, (const char *const[]){ "queues", NULL });
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "TYPE  PROGRAM  WAITING"));
    run_done(&r);
    log = fake_stop(f);
    assert_string_equal(log, "GET /jobs/events?since=3 HTTP/1.0 \n"
                             "GET /jobs/events?since=5&wait=30 HTTP/1.0 \n"
                             "GET /queues HTTP/1.0 \n");
    free(log);
}

/* Has the fake logged n requests? Polled: bounded by 10 s, failing with what did not happen. */
static void
wait_for_requests(size_t n)
{
    char log[PATH_MAX];
    struct timespec pause = { .tv_sec = 0, .tv_nsec = 10 * 1000 * 1000 };

    (void)snprintf(log, sizeof(log), "%s/log", tmp_dir);
    for (int i = 0; i < 1000; i++) {
        char *text = slurp(log, NULL);
        size_t lines = 0;

        for (const char *p = text; p && *p; p++)
            lines += *p == '\n';
        free(text);
        if (lines >= n)
            return;
        nanosleep(&pause, NULL);
    }
    fail_msg("the CLI did not make %zu requests within 10 s", n);
}

static void
events_follow_interrupted(void **state)
{
    static const struct answer ev[] = {
        { 200, "{\"events\":[{\"seq\":1,\"time_ms\":0,\"id\":\"a\",\"type\":\"t\","
               "\"from\":null,\"to\":\"waiting\",\"attempt\":1,\"instance\":null,"
               "\"cause\":\"submitted\"}],\"next\":2,\"gap\":false}" },
        { 0, "" },
    };
    struct run r;
    pid_t f, cli;
    char *log;
    (void)state;

    f = fake_start(ev, 2);
    cli = start_cli(NULL, (const char *const[]){ "job", "events", "--follow", NULL });
    wait_for_requests(2); /* the long poll is parked */
    assert_int_equal(kill(cli, SIGINT), 0);
    r = finish_cli(cli);
    log = fake_stop(f);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "1970-01-01T00:00:00.000Z  a  t  - -> waiting  attempt 1  -  "
                               "(submitted)\n");
    assert_string_equal(r.err, "");
    assert_string_equal(log, "GET /jobs/events?since=0 HTTP/1.0 \n"
                             "GET /jobs/events?since=2&wait=30 HTTP/1.0 \n");
    free(log);
    run_done(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(renderers_golden),
        cmocka_unit_test(renderers_every_truncation),
        cmocka_unit_test(outcome),
        cmocka_unit_test(submit_body),
        cmocka_unit_test(ids),
        cmocka_unit_test(usage_errors),
        cmocka_unit_test(help_texts),
        cmocka_unit_test(unreachable),
        cmocka_unit_test(submit_and_run),
        cmocka_unit_test(wait_timeout_and_list),
        cmocka_unit_test(events_and_queues),
        cmocka_unit_test(events_follow_interrupted),
    };

    return cmocka_run_group_tests(tests, setup_group, teardown_group);
}

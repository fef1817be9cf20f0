/*
 * test_cli: the CLI client. Pure parts: socket path precedence, URL
 * encoding, NAME splitting, response parsing (every truncation), error
 * lines, and each renderer against golden files in tests/golden/ (NAME.json
 * in, NAME.out expected; harness lines start with "-- "). Then the
 * transport against a forked fake daemon on a unix socket (answer, hang,
 * close, garbage, too big, EINTR), and cli_main()'s exit codes and output
 * end to end.
 *
 * DROVER_GOLDEN_DIR overrides where the golden files are (default: next to
 * this file, ../../golden). DROVER_UPDATE_GOLDEN=1 rewrites the .out files
 * instead of comparing; review the diff before committing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"
#include "cli/cli.h"
#include "cli/cli_render.h"
#include "cli/cli_main.h"

#include "cli_test_util.h"

static char tmp_dir[] = "/tmp/test_cli.XXXXXX";

static int
setup_group(void **state)
{
    (void)state;
    return cli_test_setup(tmp_dir);
}

/* Removes what the tests left in tmp_dir (after a failure: sockets of fakes never stopped). */
static int
teardown_group(void **state)
{
    DIR *d = opendir(tmp_dir);
    struct dirent *e;
    char path[PATH_MAX];
    (void)state;

    while (d && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        (void)snprintf(path, sizeof(path), "%s/%s", tmp_dir, e->d_name);
        (void)unlink(path);
    }
    if (d)
        closedir(d);
    return rmdir(tmp_dir);
}

/*
 * Every child a test forks (fake daemons, cli_main runs, clients) is
 * registered here until it is reaped. A failed assertion skips the rest of
 * the test, fake_stop included: the test's teardown, kill_children(), then
 * SIGKILLs and reaps by pid whatever of that test is left, so no child
 * outlives its test nor keeps the test's output pipe open. If the test
 * process itself dies, PR_SET_PDEATHSIG kills them (child_leash).
 */
static pid_t children[8];

static void
child_started(pid_t pid)
{
    for (size_t i = 0; i < sizeof(children) / sizeof(children[0]); i++) {
        if (children[i] == 0) {
            children[i] = pid;
            return;
        }
    }
    (void)kill(pid, SIGKILL);
    (void)waitpid(pid, NULL, 0);
    fail_msg("more than %zu children at once: raise children[]",
             sizeof(children) / sizeof(children[0]));
}

static void
child_reaped(pid_t pid)
{
    for (size_t i = 0; i < sizeof(children) / sizeof(children[0]); i++)
        if (children[i] == pid)
            children[i] = 0;
}

/* Each test's teardown: SIGKILL and reap, by pid, every child the test left behind. */
static int
kill_children(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(children) / sizeof(children[0]); i++) {
        if (children[i] > 0) {
            (void)kill(children[i], SIGKILL);
            (void)waitpid(children[i], NULL, 0);
            children[i] = 0;
        }
    }
    return 0;
}

/*
 * A bound on each wait for a child or a fake daemon, only there so that a
 * failure is reported instead of hanging: what is awaited takes milliseconds
 * (under ASan too), and the unit-test runner stops a binary after 60 s.
 */
#define WAIT_MS 20000

/* Reaps pid once it has exited, within WAIT_MS; otherwise kills it and fails, naming it. */
static int
wait_child(pid_t pid, const char *what)
{
    int64_t deadline = util_now_ms() + WAIT_MS;
    int pfd = pidfd_open(pid, 0), status = 0;
    pid_t got;

    assert_true(pfd >= 0);
    for (;;) {
        struct pollfd p = { .fd = pfd, .events = POLLIN };
        int64_t left = deadline - util_now_ms();
        int r;

        if (left <= 0) {
            close(pfd);
            (void)kill(pid, SIGKILL);
            (void)waitpid(pid, NULL, 0);
            child_reaped(pid);
            fail_msg("%s: pid %d did not exit within %d s", what, (int)pid, WAIT_MS / 1000);
        }
        r = poll(&p, 1, (int)left);
        if (r > 0)
            break;
        if (r < 0 && errno != EINTR)
            fail_msg("poll on the pidfd of %s: %s", what, strerror(errno));
    }
    close(pfd);
    got = waitpid(pid, &status, 0);
    assert_int_equal(got, pid);
    child_reaped(pid);
    return status;
}

/* Waits up to WAIT_MS for fd to be readable; fails saying what did not happen. */
static void
wait_readable(int fd, const char *what)
{
    int64_t deadline = util_now_ms() + WAIT_MS;

    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int64_t left = deadline - util_now_ms();
        int r;

        if (left <= 0)
            fail_msg("%s within %d s", what, WAIT_MS / 1000);
        r = poll(&p, 1, (int)left);
        if (r > 0)
            return;
        if (r < 0 && errno != EINTR)
            fail_msg("poll while waiting: %s: %s", what, strerror(errno));
    }
}

/*
 * In every forked child: die with the test process (PR_SET_PDEATHSIG), so a
 * crash of the test binary never leaves a child holding its output pipe.
 */
static void
child_leash(pid_t parent)
{
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(1);
}

/* ---- pure helpers ---- */

static void
url_encode(void **state)
{
    char buf[64];
    (void)state;

    assert_string_equal(cli_url_encode("web-1_a.b~:3", buf, sizeof(buf)), "web-1_a.b~:3");
    assert_string_equal(cli_url_encode("a b&c=d/e?%", buf, sizeof(buf)), "a%20b%26c%3Dd%2Fe%3F%25");
    assert_string_equal(cli_url_encode("\xc3\xa9", buf, sizeof(buf)), "%C3%A9");
    assert_string_equal(cli_url_encode("", buf, sizeof(buf)), "");
    assert_non_null(cli_url_encode("abc", buf, 4)); /* exact fit */
    assert_null(cli_url_encode("abcd", buf, 4));
    assert_null(cli_url_encode("a b", buf, 5)); /* "a%20b" needs 6 */
    assert_non_null(cli_url_encode("a b", buf, 6));

    /* A query is started with '?', then goes on with '&'; NULL adds nothing. */
    char q[40] = "/jobs"; /* room for the three below, not a fourth */
    assert_true(cli_add_query(q, sizeof(q), "state", "running"));
    assert_true(cli_add_query(q, sizeof(q), "type", NULL));
    assert_true(cli_add_query(q, sizeof(q), "after", "1:a b"));
    assert_string_equal(q, "/jobs?state=running&after=1:a%20b");
    assert_false(cli_add_query(q, sizeof(q), "limit", "100")); /* does not fit */
    char empty[16] = "";
    assert_true(cli_add_query(empty, sizeof(empty), "n", "1"));
    assert_string_equal(empty, "?n=1");
}

static void
split_name(void **state)
{
    static const struct {
        const char *name, *program;
        long index;
    } good[] = {
        { "web", "web", -1 },
        { "web:0", "web", 0 },
        { "web:12", "web", 12 },
        { "all", "all", -1 },
        { "a.b-c_d:9999999", "a.b-c_d", 9999999 },
    };
    static const char *const bad[] = { "",       ":1",     "web:",         "web:x",
                                       "web:-1", "web:1x", "web:10000000", "web:1:2" };
    char program[16];
    long index;
    (void)state;

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_int_equal(cli_split_name(good[i].name, program, sizeof(program), &index), 0);
        assert_string_equal(program, good[i].program);
        assert_int_equal(index, good[i].index);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(cli_split_name(bad[i], program, sizeof(program), &index), -EINVAL);
    /* the program part must fit */
    assert_int_equal(cli_split_name("sixteen-chars-xx", program, sizeof(program), &index), -EINVAL);
    assert_int_equal(cli_split_name("fifteen-chars-x", program, sizeof(program), &index), 0);
}

static void
parse_response_good(void **state)
{
    static const char crlf[] = "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
                               "content-length:  7 \r\n\r\n{\"a\":1}";
    static const char lf[] = "HTTP/1.0 200 OK\nX: y\n\nhello";
    static const char bare[] = "HTTP/1.1 503\r\n\r\n";
    const char *body;
    size_t len;
    int code;
    char err[128];
    (void)state;

    assert_int_equal(cli_parse_response(crlf, strlen(crlf), &code, &body, &len, err, sizeof(err)),
                     0);
    assert_int_equal(code, 404);
    assert_int_equal(len, 7);
    assert_memory_equal(body, "{\"a\":1}", 7);
    assert_int_equal(cli_parse_response(lf, strlen(lf), &code, &body, &len, err, sizeof(err)), 0);
    assert_int_equal(code, 200);
    assert_int_equal(len, 5);
    assert_memory_equal(body, "hello", 5);
    assert_int_equal(cli_parse_response(bare, strlen(bare), &code, &body, &len, err, sizeof(err)),
                     0);
    assert_int_equal(code, 503);
    assert_int_equal(len, 0);
}

static void
parse_response_bad(void **state)
{
    static const char *const bad[] = {
        "",
        "hello\r\n\r\n",
        "HTTP/2 200 OK\r\n\r\n",
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTP/1.1 099 X\r\n\r\n",
        "HTTP/1.1 600 X\r\n\r\n",
        "HTTP/1.1 200 OK",                     /* status line not ended */
        "HTTP/1.1 200 OK\r\nA: b\r\n",         /* headers not ended */
        "HTTP/1.1 200 OK\r\nno colon\r\n\r\n", /* a bad header */
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhell",  /* truncated body */
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nhello", /* body longer than said */
        "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx",
        "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
    };
    const char *body;
    size_t len;
    int code = -7;
    char err[128];
    (void)state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        if (cli_parse_response(bad[i], strlen(bad[i]), &code, &body, &len, err, sizeof(err)) !=
            -EPROTO)
            fail_msg("accepted: %s", bad[i]);
        assert_true(err[0] != '\0');
        assert_int_equal(code, -7); /* out-parameters untouched on failure */
    }
}

/* With a Content-Length, every cut of the answer is refused; only the whole is accepted. */
static void
parse_response_every_truncation(void **state)
{
    static const char whole[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                "Content-Length: 16\r\nConnection: close\r\n\r\n"
                                "{\"programs\": {}}";
    const char *body;
    size_t len, n = strlen(whole);
    int code;
    char err[128];
    (void)state;

    for (size_t cut = 0; cut < n; cut++) {
        char *copy = malloc(cut ? cut : 1); /* exact size: ASan catches reads past the cut */

        assert_non_null(copy);
        memcpy(copy, whole, cut);
        if (cli_parse_response(copy, cut, &code, &body, &len, err, sizeof(err)) != -EPROTO)
            fail_msg("accepted a cut at %zu", cut);
        free(copy);
    }
    assert_int_equal(cli_parse_response(whole, n, &code, &body, &len, err, sizeof(err)), 0);
    assert_int_equal(len, 16);
}

static void
format_uptime(void **state)
{
    static const struct {
        double s;
        const char *want;
    } cases[] = {
        { 0, "0:00:00" },
        { 59.99, "0:00:59" },
        { 60, "0:01:00" },
        { 3599.5, "0:59:59" },
        { 3600, "1:00:00" },
        { 86399, "23:59:59" },
        { 86400, "1d 0:00:00" },
        { 200000.9, "2d 7:33:20" },
        { 31536000, "365d 0:00:00" },
        { -1, "-" },
        { NAN, "-" },
        { INFINITY, "-" },
    };
    char buf[32];
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_string_equal(cli_format_uptime(cases[i].s, buf, sizeof(buf)), cases[i].want);
}

static void
error_text(void **state)
{
    static const struct {
        int code;
        const char *body, *want;
    } cases[] = {
        { 400,
          "{\"error\":\"bad query parameter\",\"parameter\":\"silence\",\"expected\":\"a duration "
          "such as 30, 30s or 500ms\",\"value\":\"abc\"}",
          "bad query parameter silence='abc': expected a duration such as 30, 30s or 500ms" },
        { 404, "{\"error\":\"no such program\",\"program\":\"nope\"}", "no such program 'nope'" },
        { 404, "{\"error\":\"no such program or instance\",\"name\":\"web:3\"}",
          "no such program or instance 'web:3'" },
        /* the name already in the text is not repeated */
        { 404, "{\"error\":\"no such instance 'web:3'\",\"name\":\"web:3\"}",
          "no such instance 'web:3'" },
        { 409, "{\"error\":\"shutting down\",\"hint\":\"wait for it\"}",
          "shutting down (wait for it)" },
        /* the subject is named for a 404 only: "drover is shutting down 'web'" reads wrong */
        { 409, "{\"error\":\"drover is shutting down\",\"action\":\"stop\",\"target\":\"web\"}",
          "drover is shutting down" },
        { 404, "{\"error\":\"no such program\",\"action\":\"stop\",\"target\":\"web\"}",
          "no such program 'web'" },
        { 404, "{\"error\":\"missing target\",\"action\":\"stop\",\"target\":\"\"}",
          "missing target" },
        { 500, "oops\n", "HTTP 500: oops" },
        { 502, "", "HTTP 502" },
        { 400, "{\"no\":\"error key\"}", "HTTP 400: {\"no\":\"error key\"}" },
        { 400, "{\"error\":\"two\\nlines\"}", "two?lines" },
    };
    char buf[256];
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_string_equal(
            cli_error_text(cases[i].code, cases[i].body, strlen(cases[i].body), buf, sizeof(buf)),
            cases[i].want);
    /* a long text is cut to the buffer, still one terminated line */
    assert_string_equal(cli_error_text(500, "{\"error\":\"abcdefghijkl\"}", 24, buf, 6), "abcde");
}

/* ---- renderers against golden files ---- */

enum kind { K_STATUS, K_STATUS_JSON, K_EVENTS, K_HEALTH, K_ACTION };

static const struct golden_case {
    const char *input, *filter, *out;
    enum kind kind;
} golden_cases[] = {
    { "status_all.json", NULL, "status_all.out", K_STATUS },
    { "status_all.json", "all", "status_all.out", K_STATUS },
    { "status_all.json", "queue-worker", "status_program.out", K_STATUS },
    { "status_all.json", "web:1", "status_instance.out", K_STATUS },
    { "status_all.json", "web:9", "status_unknown_instance.out", K_STATUS },
    { "status_all.json", "nope", "status_unknown_program.out", K_STATUS },
    { "status_all.json", "web:x", "status_bad_filter.out", K_STATUS },
    { "status_all.json", "web:10", "status_instance_json.out", K_STATUS_JSON },
    { "status_all.json", "web:11", "status_unknown_instance_json.out", K_STATUS_JSON },
    { "status_empty.json", NULL, "status_empty.out", K_STATUS },
    { "status_malformed.json", NULL, "status_malformed.out", K_STATUS },
    { "status_not_json.json", NULL, "status_not_json.out", K_STATUS },
    { "events_basic.json", NULL, "events_basic.out", K_EVENTS },
    { "events_gap.json", NULL, "events_gap.out", K_EVENTS },
    { "events_malformed.json", NULL, "events_malformed.out", K_EVENTS },
    { "health_unhealthy.json", NULL, "health_unhealthy.out", K_HEALTH },
    { "health_program.json", NULL, "health_program.out", K_HEALTH },
    { "health_malformed.json", NULL, "health_malformed.out", K_HEALTH },
    { "action_stop.json", NULL, "action_stop.out", K_ACTION },
    { "action_scale.json", NULL, "action_scale.out", K_ACTION },
    { "action_shutdown.json", NULL, "action_shutdown.out", K_ACTION },
    { "action_none.json", NULL, "action_none.out", K_ACTION },
    { "action_malformed.json", NULL, "action_malformed.out", K_ACTION },
};

/* What a case renders to: the text, or "error: ..."; plus "-- " lines for side results. */
static char *
render_case(const struct golden_case *c, const char *body, size_t len)
{
    char err[CLI_ERR_MAX] = "", *text = NULL, *out;
    uint64_t next = 7777;
    bool gap = false, healthy = false;
    size_t n;

    switch (c->kind) {
    case K_STATUS:
        text = cli_render_status(body, len, c->filter, err, sizeof(err));
        break;
    case K_STATUS_JSON:
        text = cli_filter_status_json(body, len, c->filter, err, sizeof(err));
        break;
    case K_EVENTS:
        text = cli_render_events(body, len, &next, &gap, err, sizeof(err));
        break;
    case K_HEALTH:
        text = cli_render_health(body, len, &healthy, err, sizeof(err));
        break;
    case K_ACTION:
        text = cli_render_action(body, len, err, sizeof(err));
        break;
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
    else if (c->kind == K_HEALTH)
        (void)snprintf(out, n, "%s-- healthy %s\n", text, healthy ? "yes" : "no");
    else if (c->kind == K_STATUS_JSON)
        (void)snprintf(out, n, "%s\n", text);
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
        check_golden(c->out, got);
        free(got);
        free(body);
    }
}

/* The table's invariants, independent of the golden text: alignment, one line each. */
static void
status_table_shape(void **state)
{
    char path[PATH_MAX], err[CLI_ERR_MAX], *body, *text, *line, *save = NULL;
    size_t len, col = 0, lines = 0;
    (void)state;

    body = slurp(golden_path("status_all.json", path, sizeof(path)), &len);
    assert_non_null(body);
    text = cli_render_status(body, len, NULL, err, sizeof(err));
    assert_non_null(text);
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        const char *st = strstr(line, "RUNNING") ? strstr(line, "RUNNING") : NULL;

        if (lines == 0) {
            col = (size_t)(strstr(line, "STATE") - line);
        } else if (st) {
            assert_int_equal((size_t)(st - line), col); /* STATE column aligned */
        }
        assert_true(line[strlen(line) - 1] != ' '); /* no trailing blanks */
        lines++;
    }
    assert_int_equal(lines, 1 + 9); /* header + every instance */
    free(text);
    free(body);
}

/* ---- transport against a fake daemon ---- */

enum fake_mode { FAKE_ANSWER, FAKE_RAW, FAKE_HANG, FAKE_CLOSE, FAKE_ECHO };

struct fake {
    char path[108];
    pid_t pid;
    int hold; /* write end: closing it releases a FAKE_HANG child */
    int seen; /* read end: the request heads the child received */
};

/*
 * Forks a daemon stand-in listening on a fresh socket, serving conns
 * connections the same way. The socket exists before this returns.
 */
static void
fake_start(struct fake *f, enum fake_mode mode, int code, const char *body, int conns)
{
    static int serial;
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int lfd, hold[2], seen[2];
    pid_t parent;

    (void)snprintf(f->path, sizeof(f->path), "%s/s%d.sock", tmp_dir, serial++);
    memcpy(sa.sun_path, f->path, strlen(f->path) + 1);
    lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(lfd >= 0);
    assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(lfd, 8), 0);
    assert_int_equal(pipe2(hold, O_CLOEXEC), 0);
    assert_int_equal(pipe2(seen, O_CLOEXEC), 0);
    parent = getpid();
    f->pid = fork();
    assert_true(f->pid >= 0);
    if (f->pid > 0)
        child_started(f->pid);
    if (f->pid == 0) {
        child_leash(parent);
        close(hold[1]);
        close(seen[0]);
        for (int i = 0; i < conns; i++) {
            char req[4096], head[256], c;
            size_t n = 0;
            int fd = accept(lfd, NULL, NULL);

            if (fd < 0)
                _exit(1);
            while (n < sizeof(req) - 1 && read(fd, req + n, 1) == 1) {
                n++;
                req[n] = '\0';
                if (n >= 4 && strcmp(req + n - 4, "\r\n\r\n") == 0)
                    break;
            }
            req[n] = '\0';
            (void)!write(seen[1], req, n + 1);
            switch (mode) {
            case FAKE_ANSWER: {
                int hl = snprintf(head, sizeof(head),
                                  "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                                  "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                                  code, strlen(body));
                (void)!write(fd, head, (size_t)hl);
                (void)!write(fd, body, strlen(body));
                break;
            }
            case FAKE_RAW:
                (void)!write(fd, body, strlen(body));
                break;
            case FAKE_ECHO: {
                int hl = snprintf(head, sizeof(head), "HTTP/1.0 %d OK\r\n\r\n", code);
                (void)!write(fd, head, (size_t)hl);
                (void)!write(fd, req, n);
                break;
            }
            case FAKE_HANG:
                while (read(hold[0], &c, 1) > 0)
                    ;
                break;
            case FAKE_CLOSE:
                break;
            }
            close(fd);
        }
        _exit(0);
    }
    close(lfd);
    close(hold[0]);
    close(seen[1]);
    f->hold = hold[1];
    f->seen = seen[0];
}

/* Stops the child; returns the request heads it saw, NUL-separated (malloc'ed). */
static char *
fake_stop(struct fake *f)
{
    char *buf = calloc(1, 65536);
    size_t n = 0;
    ssize_t r;

    assert_non_null(buf);
    close(f->hold);
    (void)wait_child(
        f->pid, "the fake daemon (it exits once it has served its connections and is released)");
    while ((r = read(f->seen, buf + n, 65535 - n)) > 0)
        n += (size_t)r;
    close(f->seen);
    unlink(f->path);
    return buf;
}

/* cli_request's result against the one expected; a mismatch says what it got and why. */
static void
expect_rc(int got, int want, const char *err)
{
    if (got != want)
        fail_msg("cli_request returned %d (%s), want %d (%s)", got, got < 0 ? err : "an answer",
                 want, want < 0 ? strerror(-want) : "an answer");
}

static void
request_answer(void **state)
{
    struct fake f = { 0 };
    struct cli_response res = { 0 };
    char err[CLI_ERR_MAX], *seen;
    (void)state;

    fake_start(&f, FAKE_ANSWER, 404, "{\"error\":\"no such program\",\"program\":\"x\"}", 1);
    expect_rc(cli_request(f.path, "GET", "/status/x", NULL, &res, err, sizeof(err)), 0, err);
    assert_int_equal(res.code, 404);
    assert_string_equal(res.body, "{\"error\":\"no such program\",\"program\":\"x\"}");
    cli_response_done(&res);
    seen = fake_stop(&f);
    assert_string_equal(seen, "GET /status/x HTTP/1.0\r\nHost: drover\r\n"
                              "Accept: application/json\r\n\r\n");
    free(seen);

    /* POST says Content-Length: 0; the answer may be unbounded (read to EOF) */
    fake_start(&f, FAKE_ECHO, 200, NULL, 1);
    expect_rc(cli_request(f.path, "POST", "/stop/web%3A0", NULL, &res, err, sizeof(err)), 0, err);
    assert_int_equal(res.code, 200);
    assert_non_null(strstr(res.body, "POST /stop/web%3A0 HTTP/1.0\r\n"));
    assert_non_null(strstr(res.body, "\r\nContent-Length: 0\r\n"));
    assert_int_equal(res.body_len, strlen(res.body));
    cli_response_done(&res);
    free(fake_stop(&f));
}

static void
request_failures(void **state)
{
    struct cli_request_opts quick = { .timeout_ms = 200 };
    struct cli_request_opts small = { .max_bytes = 1000 };
    struct cli_response res = { 0 };
    char err[CLI_ERR_MAX], path[200], *big;
    struct fake f = { 0 };
    int r;
    (void)state;

    /* nothing there: unreachable, and the message says where and what to do */
    (void)snprintf(path, sizeof(path), "%s/none.sock", tmp_dir);
    r = cli_request(path, "GET", "/status", NULL, &res, err, sizeof(err));
    expect_rc(r, -ENOENT, err);
    assert_true(cli_unreachable(r));
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "see --control"));

    /* a path longer than sun_path */
    memset(path, 'a', sizeof(path) - 1);
    path[0] = '/';
    path[sizeof(path) - 1] = '\0';
    r = cli_request(path, "GET", "/status", NULL, &res, err, sizeof(err));
    expect_rc(r, -ENAMETOOLONG, err);
    assert_true(cli_unreachable(r));

    /* a daemon that accepts and never answers: the deadline holds */
    fake_start(&f, FAKE_HANG, 0, NULL, 1);
    r = cli_request(f.path, "GET", "/status", &quick, &res, err, sizeof(err));
    expect_rc(r, -ETIMEDOUT, err);
    assert_true(cli_unreachable(r));
    assert_non_null(strstr(err, "did not answer within 0.2s"));
    free(fake_stop(&f));

    /* closes without a word */
    fake_start(&f, FAKE_CLOSE, 0, NULL, 1);
    r = cli_request(f.path, "GET", "/status", NULL, &res, err, sizeof(err));
    expect_rc(r, -ECONNRESET, err);
    assert_true(cli_unreachable(r));
    free(fake_stop(&f));

    /* answers garbage, or a truncated body: malformed, not unreachable */
    fake_start(&f, FAKE_RAW, 0, "SSH-2.0-OpenSSH_9.2\r\n", 1);
    r = cli_request(f.path, "GET", "/status", NULL, &res, err, sizeof(err));
    expect_rc(r, -EPROTO, err);
    assert_false(cli_unreachable(r));
    assert_non_null(strstr(err, "no HTTP status line"));
    free(fake_stop(&f));
    fake_start(&f, FAKE_RAW, 0, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}", 1);
    expect_rc(cli_request(f.path, "GET", "/status", NULL, &res, err, sizeof(err)), -EPROTO, err);
    free(fake_stop(&f));

    /* too big: refused at the cap, exactly the cap is fine */
    big = malloc(1101);
    assert_non_null(big);
    memcpy(big, "HTTP/1.0 200 OK\r\n\r\n", 19);
    memset(big + 19, 'x', 1082);
    big[1101 - 1] = '\0'; /* 1100 bytes */
    fake_start(&f, FAKE_RAW, 0, big, 1);
    r = cli_request(f.path, "GET", "/status", &small, &res, err, sizeof(err));
    expect_rc(r, -EFBIG, err);
    assert_false(cli_unreachable(r));
    free(fake_stop(&f));
    big[1000] = '\0';
    fake_start(&f, FAKE_RAW, 0, big, 1);
    expect_rc(cli_request(f.path, "GET", "/status", &small, &res, err, sizeof(err)), 0, err);
    assert_int_equal(res.raw_len, 1000);
    cli_response_done(&res);
    free(fake_stop(&f));
    free(big);
}

/* Another user's socket (mode 0600, in a 0700 directory): permission denied, unreachable. */
static void
request_permission_denied(void **state)
{
    struct fake f = { 0 };
    pid_t pid, parent;
    int status;
    (void)state;

    if (geteuid() != 0) {
        skip(); /* needs a second uid */
        return;
    }
    fake_start(&f, FAKE_CLOSE, 0, NULL, 1);
    assert_int_equal(chmod(f.path, 0600), 0);
    parent = getpid();
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct cli_response res = { 0 };
        char err[CLI_ERR_MAX];
        int r;

        child_leash(parent);
        if (setgid(65534) < 0 || setuid(65534) < 0)
            _exit(2);
        r = cli_request(f.path, "GET", "/status", NULL, &res, err, sizeof(err));
        _exit(r == -EACCES && cli_unreachable(r) && strstr(err, "permission denied") &&
                      strstr(err, "mode 0600")
                  ? 0
                  : 1);
    }
    child_started(pid);
    status = wait_child(pid, "the client connecting as uid 65534");
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* the fake still waits for its one connection: give it one */
    {
        struct cli_response res = { 0 };
        char err[CLI_ERR_MAX];

        expect_rc(cli_request(f.path, "GET", "/", NULL, &res, err, sizeof(err)), -ECONNRESET, err);
    }
    free(fake_stop(&f));
}

/* Anyone may listen where we can connect: a daemon that is not ours or root's is refused. */
static void
request_foreign_peer(void **state)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct cli_response res = { 0 };
    char path[PATH_MAX], err[CLI_ERR_MAX], want[CLI_ERR_MAX], c;
    int ready[2], hold[2], status;
    pid_t pid, parent = getpid();
    (void)state;

    if (geteuid() != 0) {
        skip(); /* needs a second uid */
        return;
    }
    (void)snprintf(path, sizeof(path), "%s/foreign.sock", tmp_dir);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
    assert_int_equal(pipe2(hold, O_CLOEXEC), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        child_leash(parent);
        close(ready[0]);
        close(hold[1]);
        /* SO_PEERCRED reports who called listen(): bind as root, listen as uid 65534. */
        if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || setgid(65534) < 0 ||
            setuid(65534) < 0 || listen(lfd, 8) < 0)
            _exit(1);
        (void)!write(ready[1], "r", 1);
        while (read(hold[0], &c, 1) > 0)
            ;
        _exit(0);
    }
    child_started(pid);
    close(ready[1]);
    close(hold[0]);
    assert_int_equal(read(ready[0], &c, 1), 1); /* EOF instead if the child failed or died */
    assert_int_equal(cli_request(path, "GET", "/health", NULL, &res, err, sizeof(err)), -EPERM);
    assert_true(cli_unreachable(-EPERM));
    (void)snprintf(want, sizeof(want),
                   "the control socket %s is served by uid 65534 (pid %d), not by you or root: "
                   "refusing to talk to it",
                   path, (int)pid);
    assert_string_equal(err, want);
    close(hold[1]);
    close(ready[0]);
    status = wait_child(pid, "the listener running as uid 65534");
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(unlink(path), 0);
}

static void
on_usr1(int sig)
{
    (void)sig;
}

/* A signal blocked outside the wait ends it at once: how `events --follow` stops. */
static void
request_interrupted(void **state)
{
    struct sigaction sa = { .sa_handler = on_usr1 }, old;
    sigset_t block, wait_mask, saved;
    struct cli_request_opts o = { .wait_mask = &wait_mask };
    struct cli_response res = { 0 };
    char err[CLI_ERR_MAX];
    struct fake f = { 0 };
    (void)state;

    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    assert_int_equal(sigprocmask(SIG_BLOCK, &block, &saved), 0);
    wait_mask = saved;
    sigdelset(&wait_mask, SIGUSR1);
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
    fake_start(&f, FAKE_HANG, 0, NULL, 1);
    assert_int_equal(raise(SIGUSR1), 0); /* pending until the wait unblocks it */
    expect_rc(cli_request(f.path, "GET", "/events?wait=30", &o, &res, err, sizeof(err)), -EINTR,
              err);
    free(fake_stop(&f));
    assert_int_equal(sigaction(SIGUSR1, &old, NULL), 0);
    assert_int_equal(sigprocmask(SIG_SETMASK, &saved, NULL), 0);
}

/* ---- cli_main end to end ---- */

struct run {
    int rc;
    char *out, *err;
};

/* Runs cli_main(argv) in a child with stdout and stderr captured. */
static struct run
run_ctl(const char *sock, const char *const *argv)
{
    char out_path[PATH_MAX], err_path[PATH_MAX];
    struct run r = { 0 };
    int argc = 0, status;
    pid_t pid, parent;

    while (argv[argc])
        argc++;
    (void)snprintf(out_path, sizeof(out_path), "%s/out", tmp_dir);
    (void)snprintf(err_path, sizeof(err_path), "%s/err", tmp_dir);
    fflush(stdout);
    fflush(stderr);
    parent = getpid();
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        child_leash(parent);
        int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
            _exit(99);
        if (sock)
            setenv("DROVER_CONTROL", sock, 1);
        else
            unsetenv("DROVER_CONTROL");
        exit(cli_main(argc, (char **)argv));
    }
    child_started(pid);
    status = wait_child(pid, "cli_main run in a child");
    assert_true(WIFEXITED(status));
    r.rc = WEXITSTATUS(status);
    r.out = slurp(out_path, NULL);
    r.err = slurp(err_path, NULL);
    assert_non_null(r.out);
    assert_non_null(r.err);
    return r;
}

static void
run_done(struct run *r)
{
    free(r->out);
    free(r->err);
}

static void
ctl_usage_errors(void **state)
{
    const char *const *const cases[] = {
        (const char *const[]){ "drover", "stop", NULL },
        (const char *const[]){ "drover", "stop", "web", "extra", NULL },
        (const char *const[]){ "drover", "stop", "web:x", NULL },
        (const char *const[]){ "drover", "status", "--follow", NULL },
        (const char *const[]){ "drover", "status", "--bogus", NULL },
        (const char *const[]){ "drover", "scale", "web", "-1", NULL },
        (const char *const[]){ "drover", "scale", "web", "many", NULL },
        (const char *const[]){ "drover", "scale", "web:1", "3", NULL },
        (const char *const[]){ "drover", "scale", "all", "3", NULL },
        (const char *const[]){ "drover", "signal", "web", "NOPE", NULL },
        (const char *const[]){ "drover", "events", "--since", "-3", NULL },
        (const char *const[]){ "drover", "events", "--since", NULL },
        (const char *const[]){ "drover", "health", "web:0", NULL },
        /* names no config can have (B16): refused here, not sent */
        (const char *const[]){ "drover", "stop", "\xff", NULL },
        (const char *const[]){ "drover", "health", "w&x", NULL },
        (const char *const[]){ "drover", "status", "w/x:1", NULL },
        (const char *const[]){ "drover", "signal", "w x", "HUP", NULL },
        (const char *const[]){ "drover", "shutdown", "now", NULL },
        (const char *const[]){ "drover", "--control", NULL },
        (const char *const[]){ "drover", "--control=", "status", NULL },
        (const char *const[]){ "drover", "help", "nope", NULL },
        (const char *const[]){ "drover", "frobnicate", NULL },
    };
    char nowhere[PATH_MAX];
    (void)state;

    /* Usage errors are found before any connection: the socket does not exist. */
    (void)snprintf(nowhere, sizeof(nowhere), "%s/nowhere.sock", tmp_dir);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct run r = run_ctl(nowhere, cases[i]);

        if (r.rc != CLI_EXIT_USAGE)
            fail_msg("case %zu (%s %s): exit %d, stderr: %s", i, cases[i][1],
                     cases[i][2] ? cases[i][2] : "", r.rc, r.err);
        assert_string_equal(r.out, "");
        assert_true(strncmp(r.err, "drover: ", 8) == 0);
        run_done(&r);
    }
    {
        struct run r = run_ctl(nowhere, (const char *const[]){ "drover", "scale", "web", NULL });

        assert_int_equal(r.rc, CLI_EXIT_USAGE);
        assert_string_equal(r.err,
                            "drover: scale: missing argument; usage: drover scale PROGRAM N\n"
                            "Try 'drover help scale'.\n");
        run_done(&r);
    }
}

static void
ctl_help(void **state)
{
    struct run r;
    (void)state;

    r = run_ctl(NULL, (const char *const[]){ "drover", "help", NULL });
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "usage: drover [--control PATH] COMMAND"));
    assert_string_equal(r.err, "");
    run_done(&r);
    r = run_ctl(NULL, (const char *const[]){ "drover", "health", "--help", NULL });
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "health [--max-silent X] [--silence T] [PROGRAM]"));
    run_done(&r);
    r = run_ctl(NULL, (const char *const[]){ "drover", "help", "events", NULL });
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "--follow"));
    run_done(&r);
}

static void
ctl_unreachable(void **state)
{
    char nowhere[PATH_MAX], want[PATH_MAX + 128];
    struct run r;
    (void)state;

    (void)snprintf(nowhere, sizeof(nowhere), "%s/nowhere.sock", tmp_dir);
    (void)snprintf(want, sizeof(want),
                   "drover: cannot reach the daemon at %s: No such file or directory (is drover "
                   "running? see --control)\n",
                   nowhere);
    r = run_ctl(nowhere, (const char *const[]){ "drover", "status", NULL });
    assert_int_equal(r.rc, CLI_EXIT_UNREACHABLE);
    assert_string_equal(r.out, "");
    assert_string_equal(r.err, want); /* exactly one line */
    run_done(&r);
    /* --control wins over the environment, before or after the verb */
    r = run_ctl("/nonexistent/env.sock",
                (const char *const[]){ "drover", "health", "--control", nowhere, NULL });
    assert_int_equal(r.rc, CLI_EXIT_UNREACHABLE);
    assert_string_equal(r.err, want);
    run_done(&r);
    r = run_ctl(NULL, (const char *const[]){ "drover", "--control=/nonexistent/x.sock", "stop",
                                             "all", NULL });
    assert_int_equal(r.rc, CLI_EXIT_UNREACHABLE);
    assert_non_null(strstr(r.err, "/nonexistent/x.sock"));
    run_done(&r);
}

/* A server answer through cli_main: exit code, stdout, stderr, and the request sent. */
static void
expect_ctl(const char *const *argv, int code, const char *body, int want_rc, const char *want_out,
           const char *want_err, const char *want_request)
{
    struct fake f = { 0 };
    struct run r;
    char *seen;

    fake_start(&f, FAKE_ANSWER, code, body, 1);
    r = run_ctl(f.path, argv);
    seen = fake_stop(&f);
    if (r.rc != want_rc)
        fail_msg("%s %s: exit %d, want %d; stderr: %s", argv[1], argv[2] ? argv[2] : "", r.rc,
                 want_rc, r.err);
    if (want_out)
        assert_string_equal(r.out, want_out);
    assert_string_equal(r.err, want_err);
    if (strncmp(seen, want_request, strlen(want_request)) != 0)
        fail_msg("request: got '%.80s', want '%s'", seen, want_request);
    run_done(&r);
    free(seen);
}

static void
ctl_answers(void **state)
{
    char path[PATH_MAX], *status_body, *status_out, *health_body;
    (void)state;

    status_body = slurp(golden_path("status_all.json", path, sizeof(path)), NULL);
    status_out = slurp(golden_path("status_all.out", path, sizeof(path)), NULL);
    health_body = slurp(golden_path("health_unhealthy.json", path, sizeof(path)), NULL);
    assert_non_null(status_body);
    assert_non_null(status_out);
    assert_non_null(health_body);

    expect_ctl((const char *const[]){ "drover", "status", NULL }, 200, status_body, 0, status_out,
               "", "GET /status HTTP/1.0\r\n");
    expect_ctl((const char *const[]){ "drover", "status", "all", "--json", NULL }, 200,
               "{\"programs\":{}}", 0, "{\"programs\":{}}\n", "", "GET /status HTTP/1.0\r\n");
    expect_ctl((const char *const[]){ "drover", "status", "web:9", NULL }, 200, status_body, 2, "",
               "drover: status web:9: no such instance 'web:9'\n", "GET /status/web HTTP/1.0\r\n");
    expect_ctl((const char *const[]){ "drover", "status", "nope", NULL }, 404,
               "{\"error\":\"no such program\",\"program\":\"nope\"}", 2, "",
               "drover: status nope: no such program 'nope'\n", "GET /status/nope HTTP/1.0\r\n");
    expect_ctl((const char *const[]){ "drover", "stop", "web", NULL }, 200,
               "{\"action\":\"stop\",\"target\":\"web\",\"instances\":[{\"name\":\"web:0\","
               "\"state\":\"stopping\"}]}",
               0, "web:0: stopping\n", "", "POST /stop/web HTTP/1.0\r\n");
    expect_ctl((const char *const[]){ "drover", "stop", "web", NULL }, 404,
               "{\"error\":\"no such program or instance\",\"name\":\"web\"}", 2, "",
               "drover: stop web: no such program or instance 'web'\n",
               "POST /stop/web HTTP/1.0\r\n");
    expect_ctl((const char *const[]){ "drover", "restart", "all", NULL }, 409,
               "{\"error\":\"shutting down\"}", 1, "", "drover: restart all: shutting down\n",
               "POST /restart/all HTTP/1.0\r\n");
    expect_ctl((const char *const[]){ "drover", "start", "web:3", NULL }, 200,
               "{\"action\":\"start\",\"target\":\"web:3\",\"instances\":[]}", 0,
               "start web:3: no instance affected\n", "", "POST /start/web:3 HTTP/1.0\r\n");
    expect_ctl((const char *const[]){ "drover", "signal", "web", "sighup", NULL }, 200,
               "{\"action\":\"signal\",\"target\":\"web\",\"instances\":[]}", 0, NULL, "",
               "POST /signal/web?signal=HUP HTTP/1.0\r\n");
    expect_ctl((const char *const[]){ "drover", "signal", "web:0", "9", NULL }, 200,
               "{\"action\":\"signal\",\"target\":\"web:0\",\"instances\":[]}", 0, NULL, "",
               "POST /signal/web:0?signal=KILL HTTP/1.0\r\n");
    expect_ctl((const char *const[]){ "drover", "scale", "web", "4", NULL }, 200,
               "{\"action\":\"scale\",\"target\":\"web\",\"from\":2,\"to\":4,\"instances\":[]}", 0,
               "web: 2 -> 4 instances\n", "", "POST /scale/web?instances=4 HTTP/1.0\r\n");
    expect_ctl((const char *const[]){ "drover", "scale", "web", "4", NULL }, 400,
               "{\"error\":\"bad query parameter\",\"parameter\":\"instances\",\"expected\":\"1 to "
               "16\",\"value\":\"4\"}",
               2, "", "drover: scale web 4: bad query parameter instances='4': expected 1 to 16\n",
               "POST /scale/web?instances=4 HTTP/1.0\r\n");
    expect_ctl((const char *const[]){ "drover", "shutdown", NULL }, 200,
               "{\"action\":\"shutdown\"}", 0, NULL, "", "POST /shutdown HTTP/1.0\r\n");
    expect_ctl((const char *const[]){ "drover", "health", NULL }, 503, health_body, 1, NULL, "",
               "GET /health HTTP/1.0\r\n");
    expect_ctl((const char *const[]){ "drover", "health", "--max-silent", "3", "--silence=500ms",
                                      "w.x", NULL },
               200,
               "{\"healthy\":true,\"thresholds\":{\"max_silent\":3,\"silence_seconds\":0.5},"
               "\"counts\":{\"instances\":0},\"unhealthy_instances\":[]}",
               0,
               "healthy: 0 instances: 0 running, 0 silent, 0 failing, 0 backoff, 0 fatal; 0 "
               "unhealthy, at most 3 allowed (silence 0.5s)\n",
               "", "GET /health?max_silent=3&silence=500ms&program=w.x HTTP/1.0\r\n");
    expect_ctl((const char *const[]){ "drover", "health", "--silence", "soon", NULL }, 400,
               "{\"error\":\"bad query parameter\",\"parameter\":\"silence\",\"expected\":\"a "
               "duration\",\"value\":\"soon\"}",
               2, "", "drover: health: bad query parameter silence='soon': expected a duration\n",
               "GET /health?silence=soon HTTP/1.0\r\n");
    /* a 503 that is not a health answer is still "unhealthy", with the reason */
    expect_ctl((const char *const[]){ "drover", "health", NULL }, 503, "overloaded", 1, "",
               "drover: health: malformed health answer: '[' or '{' expected near 'overloaded'\n",
               "GET /health HTTP/1.0\r\n");
    expect_ctl((const char *const[]){ "drover", "events", "--since", "12", NULL }, 200,
               "{\"events\":[],\"next\":2048,\"gap\":true}", 0, "",
               "drover: events: warning: fell behind: changes from seq 12 up to the oldest kept "
               "were dropped; 'drover status' shows the whole state\n",
               "GET /events?since=12 HTTP/1.0\r\n");
    /* a 200 with a body that is not what was asked for */
    expect_ctl((const char *const[]){ "drover", "stop", "web", NULL }, 200, "[]", 1, "",
               "drover: stop web: malformed action answer: not a JSON object\n",
               "POST /stop/web HTTP/1.0\r\n");
    free(status_body);
    free(status_out);
    free(health_body);
}

/* events --follow: the kept events, then long polls from "next", until SIGTERM: exit 0. */
static void
ctl_events_follow(void **state)
{
    struct fake f = { 0 };
    pid_t pid, parent;
    int status;
    char *seen, *second;
    (void)state;

    /* two answers, then the fake daemon is gone: a third connection is refused */
    fake_start(&f, FAKE_ANSWER, 200,
               "{\"events\":[{\"seq\":1,\"time_ms\":0,\"program\":\"w\",\"instance\":0,\"from\":"
               "\"stopped\",\"to\":\"starting\",\"cause\":\"start\",\"pid\":null}],\"next\":2,"
               "\"gap\":false}",
               2);
    /*
     * The follower: after two answers the fake daemon is gone (connection
     * refused): exit 3, after printing the event twice. Both requests are
     * checked: the second long-polls from "next".
     */
    {
        struct run r = run_ctl(f.path, (const char *const[]){ "drover", "events", "-f", NULL });

        seen = fake_stop(&f);
        assert_int_equal(r.rc, CLI_EXIT_UNREACHABLE);
        assert_string_equal(r.out, "1970-01-01T00:00:00.000Z  w:0  stopped -> starting  (start)\n"
                                   "1970-01-01T00:00:00.000Z  w:0  stopped -> starting  (start)\n");
        run_done(&r);
    }
    assert_true(strncmp(seen, "GET /events?since=0 HTTP/1.0\r\n", 30) == 0);
    second = seen + strlen(seen) + 1;
    assert_true(strncmp(second, "GET /events?since=2&wait=30 HTTP/1.0\r\n", 38) == 0);
    free(seen);

    /* SIGTERM while parked in a long poll: exit 0 */
    fake_start(&f, FAKE_HANG, 0, NULL, 1);
    parent = getpid();
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);

        child_leash(parent);
        dup2(devnull, 1);
        setenv("DROVER_CONTROL", f.path, 1);
        exit(cli_main(3, (char *[]){ "drover", "events", "--follow", NULL }));
    }
    child_started(pid);
    /* The fake saw the request once its read of the head returns: then the child waits. */
    {
        char buf[64];
        ssize_t n;

        wait_readable(f.seen, "events --follow's long poll did not reach the fake daemon");
        n = read(f.seen, buf, sizeof(buf));
        assert_true(n > 0);
    }
    assert_int_equal(kill(pid, SIGTERM), 0);
    status = wait_child(pid, "events --follow, sent SIGTERM in its long poll");
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    free(fake_stop(&f));
}

static void
invocation(void **state)
{
    (void)state;

    assert_true(cli_is_verb("status"));
    assert_true(cli_is_verb("help"));
    assert_false(cli_is_verb("--config"));
    assert_false(cli_is_verb("Status"));
    assert_false(cli_is_verb(""));
    assert_true(cli_is_command(2, (char *[]){ "drover", "stop", NULL }));
    assert_true(cli_is_command(4, (char *[]){ "drover", "--control", "/s", "stop", NULL }));
    assert_true(cli_is_command(3, (char *[]){ "drover", "--control=/s", "health", NULL }));
    assert_false(cli_is_command(1, (char *[]){ "drover", NULL }));
    assert_false(cli_is_command(3, (char *[]){ "drover", "--control", "/s", NULL }));
    assert_false(cli_is_command(3, (char *[]){ "drover", "--config", "x.json", NULL }));
    assert_false(cli_is_command(2, (char *[]){ "drover", "--help", NULL }));
}

/* What a program printed must not drive the terminal: controls but tab, DEL and C1 as \xHH. */
static void
logs_escape_terminal_controls(void **state)
{
    const char *body =
        "{\"program\":\"w\",\"next\":9,\"lines\":["
        "{\"seq\":7,\"instance\":0,\"text\":\"\\u001b[31mred\\u0007\\tok\"},"
        "{\"seq\":8,\"instance\":1,\"text\":\"csi \\u009b2J del \\u007f \\\\xff \\u00e9\"}]}";
    char err[256] = "";
    uint64_t next = 0;
    char *out = cli_render_logs(body, strlen(body), true, &next, err, sizeof(err));
    (void)state;

    if (!out)
        print_error("%s\n", err);
    assert_non_null(out);
    assert_string_equal(out, "w:0 | \\x1b[31mred\\x07\tok\n"
                             "w:1 | csi \\xc2\\x9b2J del \\x7f \\xff \xc3\xa9\n");
    assert_int_equal(next, 9);
    free(out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(url_encode, kill_children),
        cmocka_unit_test_teardown(split_name, kill_children),
        cmocka_unit_test_teardown(parse_response_good, kill_children),
        cmocka_unit_test_teardown(parse_response_bad, kill_children),
        cmocka_unit_test_teardown(parse_response_every_truncation, kill_children),
        cmocka_unit_test_teardown(format_uptime, kill_children),
        cmocka_unit_test_teardown(error_text, kill_children),
        cmocka_unit_test_teardown(renderers_golden, kill_children),
        cmocka_unit_test_teardown(status_table_shape, kill_children),
        cmocka_unit_test_teardown(request_answer, kill_children),
        cmocka_unit_test_teardown(request_failures, kill_children),
        cmocka_unit_test_teardown(request_permission_denied, kill_children),
        cmocka_unit_test_teardown(request_foreign_peer, kill_children),
        cmocka_unit_test_teardown(request_interrupted, kill_children),
        cmocka_unit_test_teardown(ctl_usage_errors, kill_children),
        cmocka_unit_test_teardown(ctl_help, kill_children),
        cmocka_unit_test_teardown(ctl_unreachable, kill_children),
        cmocka_unit_test_teardown(ctl_answers, kill_children),
        cmocka_unit_test_teardown(ctl_events_follow, kill_children),
        cmocka_unit_test_teardown(invocation, kill_children),
        cmocka_unit_test(logs_escape_terminal_controls),
    };

    return cmocka_run_group_tests(tests, setup_group, teardown_group);
}

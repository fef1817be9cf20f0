/*
 * fuzz_cli_response: the CLI's decoder of the daemon's answers,
 * cli_parse_response(), on arbitrary bytes, then, as cli_main.c does with an
 * answer that is not a success, cli_error_text() on its body. The input is
 * not NUL-terminated (cli_request() adds one; the parser must not rely on
 * it). The work per input is bounded by the input: one pass over the headers.
 * A success body goes through every jobs renderer (cli_jobs_render.h), as
 * `drover job ...` would show it: text without control characters but
 * newlines, or an error; and through the outcome and list-page parsers.
 */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "cli/cli_jobs_render.h"
#include "cli/cli_render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Rendered text: NULL with a reason, or lines with no control character (the terminal's). */
static void
check_text(char *text, const char *err)
{
    if (!text) {
        assert(err[0] != '\0');
        return;
    }
    for (const char *p = text; *p; p++)
        assert(*p == '\n' || ((unsigned char)*p >= 0x20 && *p != 0x7f));
    free(text);
}

static void
jobs_renderers(const char *body, size_t len)
{
    char err[CLI_ERR_MAX] = "", *after = (char *)"unset";
    struct cli_job_outcome o;
    json_t *into = json_array();
    uint64_t next;
    bool gap;

    check_text(cli_render_job(body, len, err, sizeof(err)), err);
    check_text(cli_render_job_list(body, len, 1795000000000LL, err, sizeof(err)), err);
    check_text(cli_render_queues(body, len, err, sizeof(err)), err);
    check_text(cli_render_job_events(body, len, &next, &gap, err, sizeof(err)), err);
    if (cli_job_outcome_parse(body, len, &o, err, sizeof(err)) == 0) {
        assert(o.terminal || !o.success);
        cli_job_outcome_done(&o);
    }
    if (into && cli_job_list_page(body, len, into, 1000, &after, err, sizeof(err)) == 0) {
        assert(json_array_size(into) <= 1000);
        free(after);
    }
    json_decref(into);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data, *body = NULL;
    char err[CLI_ERR_MAX] = "", msg[CLI_ERR_MAX];
    size_t body_len = (size_t)-1;
    int code = -1;
    int r = cli_parse_response(buf, size, &code, &body, &body_len, err, sizeof(err));

    if (r < 0) {
        /* Refused with a reason, out-parameters untouched. */
        assert(r == -EPROTO);
        assert(err[0] != '\0' && strlen(err) < sizeof(err));
        assert(code == -1 && body == NULL && body_len == (size_t)-1);
        return 0;
    }
    assert(r == 0);
    assert(code >= 100 && code <= 599);
    /* The body is the tail of the input, after the empty line. */
    assert(body >= buf + 2 && body <= buf + size && body[-1] == '\n');
    assert(body + body_len == buf + size);
    if (code / 100 == 2)
        jobs_renderers(body, body_len);
    if (code / 100 != 2) {
        /* One line for the terminal: whatever the body holds, no control character. */
        cli_job_error_text(code, body, body_len, msg, sizeof(msg));
        for (const char *p = msg; *p; p++)
            assert((unsigned char)*p >= 0x20 && *p != 0x7f);
        cli_error_text(code, body, body_len, msg, sizeof(msg));
        for (const char *p = msg; *p; p++)
            assert((unsigned char)*p >= 0x20 && *p != 0x7f);
    }
    return 0;
}

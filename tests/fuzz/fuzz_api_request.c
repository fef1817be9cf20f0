/*
 * fuzz_api_request: the checks of a request (api.h) on any bytes. As a
 * target (NUL-terminated at the first NUL), api_uri_check() finds exactly
 * the length and parameter-count problems its contract says; as a decoded
 * value, api_check_param() accepts it exactly when it is valid UTF-8 with
 * no NUL, and a refusal always names the parameter and echoes the value
 * escaped (valid JSON, no key lost); api_check_path() likewise. GET /logs's
 * query is within its ranges or a 400, and a captured line of the bytes
 * renders as valid JSON.
 */
#include <assert.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/api.h"
#include "core/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The '&'-separated pieces MHD stores for target's query: a model written the slow way. */
static size_t
pieces(const char *target)
{
    const char *q = strchr(target, '?');
    size_t n = 0;

    if (!q || !q[1])
        return 0;
    for (const char *p = q + 1; *p;) {
        const char *amp = strchr(p, '&');
        n++;
        if (!amp)
            break;
        p = amp + 1;
    }
    return n;
}

static void
check_refusal(struct api_answer a, const char *key)
{
    json_t *j = json_loads(a.body, 0, NULL);

    assert(a.code == 400 && j);
    assert(json_is_string(json_object_get(j, "error")));
    assert(json_is_string(json_object_get(j, key)));
    json_decref(j);
    free(a.body);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    unsigned problems;
    struct api_answer a;

    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    problems = api_uri_check(s);
    assert(!!(problems & API_URI_TOO_LONG) == (strlen(s) > API_URI_MAX));
    assert(!!(problems & API_URI_TOO_MANY_PARAMS) == (pieces(s) > API_PARAMS_MAX));
    if (problems) {
        a = api_uri_answer(problems, s);
        assert(a.code == 400 || a.code == 414);
        free(a.body);
    }
    a = api_check_param("p", s, size);
    if (utf8_valid(s, size))
        assert(a.code == 0 && !a.body);
    else
        check_refusal(a, "value");
    a = api_check_path(s);
    if (utf8_valid(s, strlen(s)))
        assert(a.code == 0 && !a.body);
    else
        check_refusal(a, "path");
    /* GET /logs's query: within its ranges or a 400; a line of any bytes renders as JSON. */
    {
        size_t lines;
        unsigned mask;
        uint64_t since;
        struct api_log_line l = { .seq = 1, .text = s, .len = size, .stream = 1 };
        json_t *j;

        a = api_logs_query(s, s, s, &lines, &mask, &since);
        if (a.code == 0)
            assert(lines >= 1 && lines <= API_LOGS_MAX_LINES && mask && mask <= 3);
        else
            assert(a.code == 400 && a.body);
        free(a.body);
        a = api_logs("p", &l, 1, 2);
        if (a.body) {
            j = json_loads(a.body, 0, NULL);
            assert(j && json_array_size(json_object_get(j, "lines")) == 1);
            json_decref(j);
        }
        free(a.body);
    }
    free(s);
    return 0;
}

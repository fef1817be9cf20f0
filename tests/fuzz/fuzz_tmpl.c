/*
 * fuzz_tmpl: placeholder templates. tmpl_check() on a NUL-terminated copy of
 * the input (cut at CFG_MAX_STRING, the longest config string); a template it
 * accepts is expanded with fixed variables. None of the values holds a '{',
 * so an accepted template must expand to text with no "{{" left in it.
 */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/cfg.h"
#include "core/tmpl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct tmpl_vars vars = { .name = "timeserver", .instance = 7, .port = 9100 };
    bool uses_port = false, oom;
    char err[160] = "", *s, *out;

    if (size > CFG_MAX_STRING)
        size = CFG_MAX_STRING;
    s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';

    if (tmpl_check(s, &uses_port, err, sizeof(err)) < 0) {
        assert(err[0] && strstr(s, "{{"));
        free(s);
        return 0;
    }
    assert(uses_port == (strstr(s, "{{port}}") != NULL));
    out = tmpl_expand(s, &vars, &oom);
    if (out) {
        assert(!oom && !strstr(out, "{{"));
        free(out);
    } else {
        assert(oom || !strstr(s, "{{"));
    }
    free(s);
    return 0;
}

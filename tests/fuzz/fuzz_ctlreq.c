/*
 * fuzz_ctlreq: a control call's path (NUL-terminated at the first NUL)
 * through ctlreq_parse_url(), its target through ctlreq_parse_target(), and
 * the bytes as a scale's count.
 *
 * A verb read is one whose "/NAME" starts the path, followed by its end or a
 * slash, and the target is what follows. A target read as an instance has
 * its name before the first colon and an index that prints back as exactly
 * the rest (one spelling per index); a program's name is the whole target.
 * A count read prints back as the input.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ctlreq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1), buf[16];
    const char *target = NULL;
    enum ctlreq_verb v;
    struct ctlreq_target t;
    unsigned n;

    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    v = ctlreq_parse_url(s, &target);
    if (v != CTLREQ_NONE) {
        size_t len = strlen(ctlreq_verb_name(v));

        assert(s[0] == '/' && strncmp(s + 1, ctlreq_verb_name(v), len) == 0);
        assert(s[1 + len] == '\0' || s[1 + len] == '/');
        assert(target == (s[1 + len] ? s + 2 + len : target) && (s[1 + len] || !*target));
    }
    if (*s && ctlreq_parse_target(s, &t)) {
        const char *colon = strchr(s, ':');

        if (t.kind == CTLREQ_INSTANCE) {
            assert(colon && t.name_len == (size_t)(colon - s) && t.index <= CTLREQ_NUMBER_MAX);
            (void)snprintf(buf, sizeof(buf), "%u", t.index);
            assert(strcmp(buf, colon + 1) == 0);
        } else if (t.kind == CTLREQ_PROGRAM) {
            assert(!colon && t.name_len == strlen(s));
        } else {
            assert(strcmp(s, "all") == 0);
        }
    }
    if (ctlreq_parse_count(s, &n)) {
        (void)snprintf(buf, sizeof(buf), "%u", n);
        assert(strcmp(buf, s) == 0);
    }
    free(s);
    return 0;
}

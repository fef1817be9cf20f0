/*
 * tmpl: placeholder checking and expansion. See tmpl.h.
 */
#include "core/tmpl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum tmpl_var { TMPL_PORT, TMPL_INSTANCE, TMPL_NAME, TMPL__MAX, TMPL_INVALID = -1 };

static const char *const var_names[TMPL__MAX] = {
    [TMPL_PORT] = "port",
    [TMPL_INSTANCE] = "instance",
    [TMPL_NAME] = "name",
};

/* Returns the variable named by the text between "{{" and "}}" at p, and its total length. */
static enum tmpl_var
lookup(const char *p, size_t *ret_len)
{
    const char *close;

    if (strncmp(p, "{{", 2) != 0)
        return TMPL_INVALID;
    close = strstr(p + 2, "}}");
    if (!close)
        return TMPL_INVALID;
    for (int v = 0; v < TMPL__MAX; v++) {
        size_t n = strlen(var_names[v]);
        if ((size_t)(close - (p + 2)) == n && strncmp(p + 2, var_names[v], n) == 0) {
            *ret_len = (size_t)(close + 2 - p);
            return (enum tmpl_var)v;
        }
    }
    return TMPL_INVALID;
}

int
tmpl_check(const char *s, bool *ret_uses_port, char *err, size_t errsize)
{
    bool uses_port = false;

    for (const char *p = strstr(s, "{{"); p; p = strstr(p, "{{")) {
        size_t len;
        enum tmpl_var v = lookup(p, &len);

        if (v == TMPL_INVALID) {
            const char *close = strstr(p, "}}");
            int shown = close ? (int)(close + 2 - p) : (int)strlen(p);
            (void)snprintf(err, errsize,
                           "unknown placeholder \"%.*s\" (known: {{port}}, {{instance}}, {{name}})",
                           shown > 40 ? 40 : shown, p);
            return -EINVAL;
        }
        if (v == TMPL_PORT)
            uses_port = true;
        p += len;
    }
    if (uses_port)
        *ret_uses_port = true;
    return 0;
}

char *
tmpl_expand(const char *s, const struct tmpl_vars *vars, bool *ret_oom)
{
    char numbers[2][16];
    const char *values[TMPL__MAX];
    size_t out_len = 0;
    char *out = NULL, *w = NULL;

    *ret_oom = false;
    if (!strstr(s, "{{"))
        return NULL;
    (void)snprintf(numbers[0], sizeof(numbers[0]), "%u", vars->port);
    (void)snprintf(numbers[1], sizeof(numbers[1]), "%u", vars->instance);
    values[TMPL_PORT] = numbers[0];
    values[TMPL_INSTANCE] = numbers[1];
    values[TMPL_NAME] = vars->name;

    /* Two passes: measure, then write. */
    for (int pass = 0; pass < 2; pass++) {
        w = pass ? out : NULL;
        for (const char *p = s; *p;) {
            size_t len;
            enum tmpl_var v = lookup(p, &len);

            if (v != TMPL_INVALID) {
                size_t n = strlen(values[v]);
                if (w) {
                    memcpy(w, values[v], n);
                    w += n;
                } else {
                    out_len += n;
                }
                p += len;
            } else {
                if (w)
                    *w++ = *p;
                else
                    out_len++;
                p++;
            }
        }
        if (!pass) {
            out = malloc(out_len + 1);
            if (!out) {
                *ret_oom = true;
                return NULL;
            }
        }
    }
    *w = '\0';
    return out;
}

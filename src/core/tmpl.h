/*
 * tmpl: the {{port}}, {{instance}} and {{name}} placeholders of command
 * arguments, environment values, cwd and file names.
 *
 * Pure. tmpl_check() runs at config load so that a typo such as {{prot}} is
 * a config error; tmpl_expand() runs at every spawn and allocates only when
 * the template actually contains a placeholder.
 */
#ifndef DROVER_TMPL_H
#define DROVER_TMPL_H

#include <stdbool.h>
#include <stddef.h>

struct tmpl_vars {
    const char *name;  /* program name */
    unsigned instance; /* 0-based instance number */
    unsigned port;     /* 0 when the program uses no port */
};

/*
 * Validates every "{{...}}" in s. On success sets *ret_uses_port when {{port}}
 * occurs (it is left untouched otherwise) and returns 0. On failure returns
 * -EINVAL and writes a one-line reason into err.
 */
int tmpl_check(const char *s, bool *ret_uses_port, char *err, size_t errsize);

/*
 * Expands a template that passed tmpl_check(). Returns NULL when s holds no
 * placeholder (use s itself then), or a new string the caller frees.
 * *ret_oom is set to true if allocation failed (and NULL is returned).
 */
char *tmpl_expand(const char *s, const struct tmpl_vars *vars, bool *ret_oom);

#endif

/*
 * schema: the machinery that turns a JSON document into a struct with
 * errors that say where: "SOURCE:LINE:COL: PATH: what is wrong".
 *
 * jansson parses; it reports positions only for syntax errors, so for
 * semantic errors (wrong type, unknown key) the position of the offending
 * value is found by walking the raw text along the JSON path (locate() in
 * schema.c). That walker only skips over text jansson has already accepted,
 * so it needs no error handling of its own.
 *
 * A section of the document is a constant table of its keys (struct
 * schema_key), as OpenBSD parse.y keeps one keyword table: a new key is one
 * line there plus its handler, and the "known: ..." lists in messages are
 * made from the table, in table order. schema_parse_keys() calls a key's
 * handler with the value and `target + off`, target being the section's
 * struct: off 0 hands a handler the whole struct, an offsetof() hands a
 * generic handler (schema_key_duration, schema_key_bool, ...) the one field
 * it fills, as nginx's ngx_command_t offsets do. A handler reports its own
 * errors and returns < 0 on one.
 *
 * Pure. Used by core/cfg (the configuration) and its sections in other
 * files (core/cfg_jobs); the typed getters report their own errors.
 */
#ifndef DROVER_SCHEMA_H
#define DROVER_SCHEMA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/cfg.h"

#define SCHEMA_MAX_DEPTH 8
#define SCHEMA_MAX_LOCATED_ERRORS 100

struct schema_path {
    const char *key; /* NULL for an array index */
    size_t index;
};

/* One parse: the text (for positions), its name, where errors go, the path being parsed. */
struct schema_ctx {
    const char *text;
    size_t len;
    const char *source;
    struct cfg_errors *errs;
    struct schema_path path[SCHEMA_MAX_DEPTH];
    int depth;
    unsigned nerrors;
};

struct schema_key {
    const char *name;
    int (*parse)(struct schema_ctx *c, const json_t *val, void *target);
    size_t off;
    unsigned flags; /* SCHEMA_COUNTED, and the table's own allow bits */
};

/* schema_parse_keys() counts the keys with this flag, for the section's checks after the walk. */
#define SCHEMA_COUNTED (1u << 31)
/* Any other flag bit: the key exists only where schema_parse_keys() is given it in allow. */

/* An error at the value (or, at_key, the key) being parsed; one line in c->errs. */
void schema_error(struct schema_ctx *c, bool at_key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "SOURCE:LINE:COL: PATH" of the value being parsed, for a check made after parsing; NULL: OOM. */
char *schema_where(const struct schema_ctx *c);

/* The path; at most SCHEMA_MAX_DEPTH deep (the schema's own depth: an assert). */
void schema_push_key(struct schema_ctx *c, const char *key);
void schema_push_index(struct schema_ctx *c, size_t index);
void schema_pop(struct schema_ctx *c);
/* Back to the top level, for a check of the whole document that names a place in it. */
void schema_at_top(struct schema_ctx *c);

/* "an object", "a list", ...: what v is, for messages. */
const char *schema_kind(const json_t *v);

/* Typed getters: each reports its own error and returns < 0. */
int schema_string(struct schema_ctx *c, const json_t *v, bool allow_empty, char **ret);
int schema_uint(struct schema_ctx *c, const json_t *v, unsigned min, unsigned max, unsigned *ret);
int schema_duration(struct schema_ctx *c, const json_t *v, int64_t *ret_ms);
/* A duration of at least min_ms (1: "positive"); what names it in the error. */
int schema_duration_min(struct schema_ctx *c, const json_t *v, int64_t min_ms, const char *what,
                        int64_t *ms);
int schema_signal(struct schema_ctx *c, const json_t *v, int *ret_sig);
bool schema_require_object(struct schema_ctx *c, const json_t *v, const char *what);
/* schema_require_object() for a section its message names by its keys: WHAT {"k1", "k2"}SUFFIX. */
bool schema_require_keys(struct schema_ctx *c, const json_t *v, const char *what,
                         const struct schema_key *keys, size_t nkeys, const char *suffix);

/*
 * Each key of object v, in the text's order, to its handler, and each key not
 * in keys[] (or not allowed) to an "unknown key" error. Every key is tried.
 * *counted (unless NULL) is set to the number of SCHEMA_COUNTED keys found,
 * failed or not. Returns 0, or -EINVAL if any key failed.
 */
int schema_parse_keys(struct schema_ctx *c, const json_t *v, const struct schema_key *keys,
                      size_t nkeys, unsigned allow, void *target, unsigned *counted);

/* Generic handlers: target is the field (an offsetof() in the table). */
int schema_key_duration(struct schema_ctx *c, const json_t *val, void *target);
int schema_key_bool(struct schema_ctx *c, const json_t *val, void *target);
int schema_key_string(struct schema_ctx *c, const json_t *val, void *target);
int schema_key_signal(struct schema_ctx *c, const json_t *val, void *target);

#endif

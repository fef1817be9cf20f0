/*
 * jobframe: the framing of the worker job channel (JOBS.md §6.4).
 *
 * A frame is one text line, `VERB key=value ...\n`, at most
 * JOBFRAME_LINE_MAX bytes with its newline; values are percent-encoded
 * (every byte may be written %XX; space, '%' and bytes outside printable
 * ASCII must be, and %00 is refused; drover writes all but
 * [A-Za-z0-9._~:,@/+-] encoded). When the line has
 * `len=N`, exactly N bytes of body and one '\n' follow. A worker needs no
 * JSON parser, and a C library can frame with snprintf.
 *
 * Pure and bounded: jobframe_parse() reads at most one frame from a buffer
 * the caller owns, never past its end, and says how much it used; a frame
 * it refuses gets one error line that says what is wrong. Each verb's
 * required keys are checked here, so the channel sees only frames whose
 * shape is right. tests/fuzz/fuzz_jobframe.c feeds it arbitrary bytes.
 */
#ifndef DROVER_JOBFRAME_H
#define DROVER_JOBFRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JOBFRAME_LINE_MAX 4096 /* a line with its '\n' */
#define JOBFRAME_ARGS_MAX 16
#define JOBFRAME_KEY_MAX 32

enum jobframe_verb {
    /* worker to drover */
    JOBFRAME_HELLO,    /* v program instance token [running] */
    JOBFRAME_WANT,     /* n */
    JOBFRAME_START,    /* id attempt */
    JOBFRAME_PROGRESS, /* id attempt pct [len] */
    JOBFRAME_DONE,     /* id attempt len */
    JOBFRAME_FAIL,     /* id attempt retry [code] [len] */
    JOBFRAME_PONG,     /* id */
    /* drover to worker */
    JOBFRAME_WELCOME, /* v */
    JOBFRAME_BYE,     /* reason */
    JOBFRAME_JOB,     /* id attempt type deadline_ms len */
    JOBFRAME_PING,    /* id */
    JOBFRAME_CANCEL,  /* id attempt */
    JOBFRAME_DRAIN,   /* (none) */
    JOBFRAME__MAX,
    JOBFRAME_INVALID = -1,
};

struct jobframe_arg {
    const char *key;   /* points into jobframe.text */
    const char *value; /* decoded, NUL-terminated (a %00 is refused), into jobframe.text */
    size_t value_len;
};

struct jobframe {
    enum jobframe_verb verb;
    size_t nargs;
    struct jobframe_arg args[JOBFRAME_ARGS_MAX];
    bool has_body;
    const uint8_t *body; /* into the caller's buffer: valid while it is */
    size_t body_len;
    char text[JOBFRAME_LINE_MAX]; /* keys and decoded values */
};

/*
 * One frame from data[0..len). Returns 1 and sets *ret_used (the bytes the
 * frame took, body included); 0 when more bytes are needed (a line or body
 * not complete yet: nothing is used); -EINVAL when the bytes are not a valid
 * frame, with err filled ("line 1: unknown verb \"FOO\"": the caller closes
 * the channel, since framing is lost). max_body bounds len=.
 */
int jobframe_parse(const uint8_t *data, size_t len, size_t max_body, struct jobframe *ret,
                   size_t *ret_used, char *err, size_t errsize);

/* The value of key, or NULL. */
const char *jobframe_get(const struct jobframe *f, const char *key);

/* key's value as a whole number 0..max; -EINVAL when absent or not one. */
int jobframe_get_u64(const struct jobframe *f, const char *key, uint64_t max, uint64_t *ret);

/*
 * Writes the line of verb with the pairs kv[0]=kv[1], kv[2]=kv[3], ...
 * (nkv strings, values percent-encoded) into buf, newline included, and
 * NUL-terminates it. Returns its length, or -ENOSPC when it would not fit in
 * size or in JOBFRAME_LINE_MAX. A body is the caller's to write after it.
 */
int jobframe_format(char *buf, size_t size, enum jobframe_verb verb, const char *const *kv,
                    size_t nkv);

const char *jobframe_verb_name(enum jobframe_verb v);

#endif

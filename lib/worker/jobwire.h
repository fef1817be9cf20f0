/*
 * jobwire: the worker library's copy of the job channel's framing
 * (JOBS.md §6.4; src/core/jobframe.h is the authority, this is the small
 * subset a worker needs, since lib/worker links nothing of src/).
 *
 * A frame is one line `VERB key=value ...\n` of at most JOBWIRE_LINE_MAX
 * bytes with its newline; values are percent-encoded: the formatter writes
 * every byte but [A-Za-z0-9._~:,@/+-] as %XX, the parser accepts printable
 * ASCII but space and '%' as they are, %XX for anything, and refuses %00.
 * A body (len=) is the caller's to read or write after the line.
 *
 * Pure: no I/O, no allocation, no globals. jobwire_parse() works in place:
 * the frame's strings point into the line it was given, which it changes.
 */
#ifndef DROVER_JOBWIRE_H
#define DROVER_JOBWIRE_H

#include <stddef.h>
#include <stdint.h>

#define JOBWIRE_LINE_MAX 4096 /* a line with its '\n', as JOBFRAME_LINE_MAX */
#define JOBWIRE_ARGS_MAX 16

struct jobwire_frame {
    const char *verb;
    size_t nargs;
    struct {
        const char *key;
        const char *value; /* decoded, NUL-terminated */
    } args[JOBWIRE_ARGS_MAX];
};

/*
 * Parses line[0..len) (without its '\n'; len < JOBWIRE_LINE_MAX) in place
 * into *ret, whose strings then point into line; line[len], the '\n', is
 * overwritten too. 0, or -EINVAL when it is not a
 * frame (empty field, a field that is not key=value, a bad key, a bad or
 * NUL escape, a raw byte that must be encoded, too many fields).
 */
int jobwire_parse(char *line, size_t len, struct jobwire_frame *ret);

/* The value of key, or NULL. */
const char *jobwire_get(const struct jobwire_frame *f, const char *key);

/* key's value as a whole number 0..max (no sign, no leading zero); -EINVAL otherwise. */
int jobwire_get_u64(const struct jobwire_frame *f, const char *key, uint64_t max, uint64_t *ret);

/*
 * Writes `verb k0=v0 k1=v1 ...\n` (nkv strings, values encoded) into buf
 * and NUL-terminates it. Returns its length, or -ENOSPC when it does not
 * fit in size or in JOBWIRE_LINE_MAX, -EINVAL when nkv is odd.
 */
int jobwire_format(char *buf, size_t size, const char *verb, const char *const *kv, size_t nkv);

#endif

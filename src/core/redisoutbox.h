/*
 * redisoutbox: the lines of the redis store's outage journal
 * (docs/jobs-redis.md "Redis is unreachable"): the job updates (started,
 * finished, to be retried, given back) that daemon/redisstore could not
 * send while the server was away, kept on disk so that a drover killed
 * during the outage still writes them after its restart.
 *
 * Pure. One JSON object per line, compact, "\n"-terminated:
 *
 *   {"op":"complete","type":T,"id":ID,"words":[B64, ...]}  an update: the
 *                                script's words after EVALSHA sha (numkeys,
 *                                keys, arguments), each base64 (results are
 *                                bytes); op start | complete | retry | release
 *   {"op":"snapshot"}           a compacted segment's first line: nothing
 *                               before it is still due
 *
 * The scripts are fenced by owner and attempt, so an update sent twice (a
 * crash between its answer and the compaction) is refused the second time
 * and changes nothing.
 */
#ifndef DROVER_REDISOUTBOX_H
#define DROVER_REDISOUTBOX_H

#include <stddef.h>

#define REDISOUTBOX_WORDS_MAX 40 /* daemon/redisstore's ARGS_MAX */
#define REDISOUTBOX_ID_MAX 200

enum redisoutbox_op {
    REDISOUTBOX_START,
    REDISOUTBOX_COMPLETE,
    REDISOUTBOX_RETRY,
    REDISOUTBOX_RELEASE,
    REDISOUTBOX_SNAPSHOT,
};

/* A decoded line; words point into one malloc'ed block (redisoutbox_free()). */
struct redisoutbox_line {
    enum redisoutbox_op op;
    unsigned type;
    char id[REDISOUTBOX_ID_MAX + 1];
    size_t nwords;
    char *words[REDISOUTBOX_WORDS_MAX]; /* NUL-terminated too */
    size_t lens[REDISOUTBOX_WORDS_MAX];
    void *block;
};

/* An update's line, malloc'ed and "\n"-terminated, its length in *len; NULL: no memory. */
char *redisoutbox_encode(enum redisoutbox_op op, unsigned type, const char *id,
                         const char *const *words, const size_t *lens, size_t nwords, size_t *len);
/* The snapshot line (static). */
const char *redisoutbox_snapshot_line(size_t *len);
/* line (len bytes, no "\n") into *ret; 0, or -1 with err saying what is wrong. */
int redisoutbox_decode(const char *line, size_t len, struct redisoutbox_line *ret, char *err,
                       size_t errsize);
void redisoutbox_free(struct redisoutbox_line *l);

#endif

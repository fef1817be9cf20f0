/*
 * redisoutbox: the outage journal's lines. See redisoutbox.h.
 */
#include "core/redisoutbox.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"

static const char *const op_names[] = {
    [REDISOUTBOX_START] = "start",       [REDISOUTBOX_COMPLETE] = "complete",
    [REDISOUTBOX_RETRY] = "retry",       [REDISOUTBOX_RELEASE] = "release",
    [REDISOUTBOX_SNAPSHOT] = "snapshot",
};

char *
redisoutbox_encode(enum redisoutbox_op op, unsigned type, const char *id, const char *const *words,
                   const size_t *lens, size_t nwords, size_t *len)
{
    json_t *o = json_object(), *list = json_array();
    char *text = NULL, *line = NULL;
    bool ok = o && list && op < REDISOUTBOX_SNAPSHOT && nwords <= REDISOUTBOX_WORDS_MAX;

    for (size_t i = 0; ok && i < nwords; i++) {
        char *b64 = malloc(base64_encoded_len(lens[i]) + 1);

        if (!b64) {
            ok = false;
            break;
        }
        base64_encode(words[i], lens[i], b64);
        ok = json_array_append_new(list, json_string(b64)) == 0;
        free(b64);
    }
    ok = ok && json_object_set_new(o, "op", json_string(op_names[op])) == 0 &&
         json_object_set_new(o, "type", json_integer(type)) == 0 &&
         json_object_set_new(o, "id", json_string(id)) == 0 &&
         json_object_set(o, "words", list) == 0 &&
         (text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER)) != NULL;
    json_decref(list);
    json_decref(o);
    if (!ok) {
        free(text);
        return NULL;
    }
    *len = strlen(text) + 1;
    if ((line = realloc(text, *len + 1))) {
        line[*len - 1] = '\n';
        line[*len] = '\0';
    } else {
        free(text);
    }
    return line;
}

const char *
redisoutbox_snapshot_line(size_t *len)
{
    static const char line[] = "{\"op\":\"snapshot\"}\n";

    *len = sizeof(line) - 1;
    return line;
}

static int
fail(char *err, size_t errsize, const char *what)
{
    (void)snprintf(err, errsize, "%s", what);
    return -1;
}

int
redisoutbox_decode(const char *line, size_t len, struct redisoutbox_line *ret, char *err,
                   size_t errsize)
{
    json_error_t je;
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je), *words, *w;
    const char *op, *id;
    size_t bytes = 0, i;
    char *p;
    int rc = -1;

    memset(ret, 0, sizeof(*ret));
    if (!o) {
        (void)snprintf(err, errsize, "not JSON: %s (column %d)", je.text, je.column);
        return -1;
    }
    if (!json_is_object(o) || !(op = json_string_value(json_object_get(o, "op")))) {
        rc = fail(err, errsize, "not an object with a string \"op\"");
        goto out;
    }
    for (ret->op = 0; ret->op <= REDISOUTBOX_SNAPSHOT; ret->op++)
        if (strcmp(op, op_names[ret->op]) == 0)
            break;
    if (ret->op > REDISOUTBOX_SNAPSHOT) {
        rc = fail(err, errsize, "\"op\" is not start, complete, retry, release or snapshot");
        goto out;
    }
    if (ret->op == REDISOUTBOX_SNAPSHOT) {
        rc = 0;
        goto out;
    }
    id = json_string_value(json_object_get(o, "id"));
    words = json_object_get(o, "words");
    if (!json_is_integer(json_object_get(o, "type")) ||
        json_integer_value(json_object_get(o, "type")) < 0 ||
        json_integer_value(json_object_get(o, "type")) > 1000000) {
        rc = fail(err, errsize, "\"type\" is not a whole number from 0 to 1000000");
        goto out;
    }
    ret->type = (unsigned)json_integer_value(json_object_get(o, "type"));
    if (!id || !*id || strlen(id) > REDISOUTBOX_ID_MAX) {
        rc = fail(err, errsize, "\"id\" is not a string of 1 to 200 bytes");
        goto out;
    }
    (void)snprintf(ret->id, sizeof(ret->id), "%s", id);
    if (!json_is_array(words) || json_array_size(words) == 0 ||
        json_array_size(words) > REDISOUTBOX_WORDS_MAX) {
        rc = fail(err, errsize, "\"words\" is not a list of 1 to 40 strings");
        goto out;
    }
    json_array_foreach(words, i, w)
    {
        if (!json_is_string(w)) {
            rc = fail(err, errsize, "\"words\" is not a list of 1 to 40 strings");
            goto out;
        }
        bytes += json_string_length(w) / 4 * 3 + 1;
    }
    if (!(ret->block = malloc(bytes ? bytes : 1))) {
        rc = fail(err, errsize, "out of memory");
        goto out;
    }
    p = ret->block;
    json_array_foreach(words, i, w)
    {
        long n = base64_decode(json_string_value(w), json_string_length(w), p);

        if (n < 0) {
            (void)snprintf(err, errsize, "word %zu is not base64", i + 1);
            redisoutbox_free(ret);
            goto out;
        }
        p[n] = '\0';
        ret->words[i] = p;
        ret->lens[i] = (size_t)n;
        p += n + 1;
    }
    ret->nwords = json_array_size(words);
    rc = 0;
out:
    json_decref(o);
    return rc;
}

void
redisoutbox_free(struct redisoutbox_line *l)
{
    free(l->block);
    l->block = NULL;
    l->nwords = 0;
}

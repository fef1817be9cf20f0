/*
 * jobrec: one job as drover keeps it: the jobq entry (state machine, id,
 * type, priority) and what a client gave and got (payload, result, error,
 * ids, env), with the runtime part the daemon hangs beside it.
 *
 * Pure. The owner (daemon/jobs) allocates a record with jobrec_new(), the
 * journal (core/jobjournal) writes and reads its durable fields, and
 * jobrec_to_json() is what GET /jobs/ID answers (docs/jobs.md).
 */
#ifndef DROVER_JOBREC_H
#define DROVER_JOBREC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/jobq.h"

#define JOBREC_INSTANCE_MAX 80  /* "program:index" */
#define JOBREC_MESSAGE_MAX 1024 /* an error message or a progress message, cut there */
#define JOBREC_CALLER_MAX 128   /* caller_id, context_id */
#define JOBREC_MAX_ENV 64

struct jobrec {
    struct jobq_job q; /* first: jobq_job_to_rec() relies on it; q.owner is the daemon's */
    /* Given at submit (durable). */
    uint8_t *payload;
    size_t payload_len;
    int64_t timeout_ms;    /* run time before CANCEL; 0: none */
    unsigned max_attempts; /* all tries */
    char *caller_id;       /* NULL: none */
    char *context_id;
    char **env; /* "KEY=VALUE", nenv of them, handed to the worker with the job */
    size_t nenv;
    bool
        idempotent; /* the id was the caller's: the same id with the same payload is the same job */
    /* Got from the worker (durable). */
    uint8_t *result; /* DONE's body; NULL: none */
    size_t result_len;
    char *error_message; /* the last failure's text; NULL: none */
    char *fail_code;     /* the last FAIL's code= when not "error" (error.code shows it); NULL */
    unsigned progress_pct;
    char *progress_message;
    char instance[JOBREC_INSTANCE_MAX]; /* the instance that holds it or held it last; "" none */
    int64_t deadline_ms;                /* held: when it is cancelled for its timeout; 0 none */
    int64_t dispatched_ms;              /* held: when this attempt went out (Unix ms); 0 none */
    uint64_t order; /* its submit's journal seq: a restart queues jobs in this order; 0 none */
};

static inline struct jobrec *
jobq_job_to_rec(struct jobq_job *j)
{
    return (struct jobrec *)j;
}

/* A zeroed record (state unset), or NULL. */
struct jobrec *jobrec_new(void);
/* Frees r and what it owns; NULL is fine. */
void jobrec_free(struct jobrec *r);

/* Takes bytes (may be NULL with len 0) as r's result / error text (a copy, cut at
   JOBREC_MESSAGE_MAX), replacing the old. 0 or -ENOMEM. */
int jobrec_set_result(struct jobrec *r, const void *bytes, size_t len);
int jobrec_set_error(struct jobrec *r, const char *message, size_t len);
/* A FAIL's code (NULL or "error": none); one that is not 1 to 64 of A-Z a-z 0-9 _ . : - is
   refused with -EINVAL and none is kept. 0, -EINVAL or -ENOMEM. */
int jobrec_set_fail_code(struct jobrec *r, const char *code);
int jobrec_set_progress(struct jobrec *r, unsigned pct, const char *message, size_t len);

/* Bytes a record costs besides its struct: payload, result, texts. For max_queued_bytes. */
size_t jobrec_bytes(const struct jobrec *r);

/* Sets o's key to the bytes as a JSON string when they are UTF-8 text without NUL, else
   key_b64 to their base64 (bytes may be NULL with len 0). 0, or -1: no memory. */
int jobrec_bytes_to_json(json_t *o, const char *key, const char *key_b64, const uint8_t *bytes,
                         size_t len);

/*
 * The JSON of r for clients (GET /jobs/ID): id, type, state, hero_status,
 * funcx_state, priority, attempt, max_attempts, instance, times, payload as
 * "payload" when it is UTF-8 text without NUL, else "payload_b64" (the same
 * for the result), error {code, message, signal}, progress, history. With
 * brief, no payload, result or history (GET /jobs lists). NULL: no memory.
 */
json_t *jobrec_to_json(const struct jobrec *r, const char *type_name, bool brief);

#endif

/*
 * cfg_jobs: the `jobs` sections of the configuration (JOBS.md §6.2,
 * docs/jobs.md): the top-level `jobs` object (the store and its limits) and
 * each program's `jobs` object (the types it takes and what decides a job's
 * fate on it).
 *
 * Pure, like core/cfg, whose tables call these handlers: every error is one
 * line "SOURCE:LINE:COL: PATH: what is wrong", an unknown key included.
 * Checks across programs (one program per type, autoscale.max within
 * max_instances) are cfg_jobs_check()'s, called by cfg_parse() once every
 * program is read.
 */
#ifndef DROVER_CFG_JOBS_H
#define DROVER_CFG_JOBS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/redisurl.h"

struct schema_ctx;
struct config;

enum jobs_store {
    JOBS_STORE_FILE,   /* a journal in `dir` (the default) */
    JOBS_STORE_MEMORY, /* nothing survives drover */
    JOBS_STORE_REDIS,  /* a Redis server, shared by drovers on many machines (jobs.redis) */
    JOBS_STORE__MAX,
    JOBS_STORE_INVALID = -1,
};

enum jobs_fsync {
    JOBS_FSYNC_SUBMIT, /* a submit is answered once on disk; transitions within 50 ms */
    JOBS_FSYNC_ALWAYS, /* every transition is on disk before drover acts on it further */
    JOBS_FSYNC_NEVER,  /* the kernel writes it back when it will */
    JOBS_FSYNC__MAX,
    JOBS_FSYNC_INVALID = -1,
};

enum jobs_dispatch {
    JOBS_DISPATCH_PACK,   /* the most recently busy idle instance first: the rest stay idle */
    JOBS_DISPATCH_SPREAD, /* the longest idle first */
    JOBS_DISPATCH__MAX,
    JOBS_DISPATCH_INVALID = -1,
};

#define CFG_JOBS_MAX_TYPES 64 /* per program */
#define CFG_JOBS_TYPE_MAX 64  /* a type's length: cfg_name_valid() characters */
#define CFG_JOBS_MAX_CONCURRENCY 1024
#define CFG_JOBS_MAX_ATTEMPTS 1000

#define CFG_JOBS_DEFAULT_MAX_PAYLOAD (1024 * 1024)
#define CFG_JOBS_MAX_MAX_PAYLOAD (64 * 1024 * 1024)
#define CFG_JOBS_DEFAULT_MAX_QUEUED_BYTES (256ull * 1024 * 1024)
#define CFG_JOBS_DEFAULT_MAX_FINISHED 10000
#define CFG_JOBS_DEFAULT_RESULT_TTL_MS (3600 * 1000LL)
#define CFG_JOBS_DEFAULT_FAILED_TTL_MS (7 * 86400 * 1000LL)
#define CFG_JOBS_MIN_TTL_MS 1000
#define CFG_JOBS_MAX_MAX_FINISHED 1000000
#define CFG_JOBS_MAX_MAX_QUEUED_BYTES (1ull << 40) /* 1 TiB: every queued payload is in memory */

#define CFG_JOBS_REDIS_DEFAULT_PREFIX "hero"
#define CFG_JOBS_REDIS_DEFAULT_NODE "{{hostname}}"
#define CFG_JOBS_REDIS_DEFAULT_QUEUE_KEY "{{prefix}}:q:work:type:{{type}}"
#define CFG_JOBS_REDIS_DEFAULT_NODE_TTL_MS 15000
#define CFG_JOBS_REDIS_MIN_NODE_TTL_MS 1000
#define CFG_JOBS_REDIS_MAX_NODE_TTL_MS (3600 * 1000LL)
#define CFG_JOBS_REDIS_KEY_MAX 200 /* a prefix, a node name, a queue key template */

/*
 * `jobs.redis` (docs/jobs-redis.md): where the Redis store is and how its
 * keys are named. Strings not given are NULL: the defaults above apply
 * (cfg_jobs_redis_*()).
 */
struct jobs_redis_cfg {
    bool given;
    char *url_text; /* as written, for messages; NULL: not given (an error with store "redis") */
    struct redis_url url;
    char *prefix;        /* Hero's key prefix: PREFIX:job:ID, PREFIX:q:reply:ID */
    char *node;          /* this drover's name in the cluster; {{hostname}} is expanded at start */
    char *queue_key;     /* a type's queue: {{prefix}} and {{type}} expanded */
    int64_t node_ttl_ms; /* a node not heard from this long is dead: its jobs are requeued */
    char *password_file; /* NULL: no AUTH */
};

const char *cfg_jobs_redis_prefix(const struct jobs_redis_cfg *rc);
const char *cfg_jobs_redis_node(const struct jobs_redis_cfg *rc);
const char *cfg_jobs_redis_queue_key(const struct jobs_redis_cfg *rc);

/* The top-level `jobs` object. */
struct jobs_cfg {
    bool given; /* the key was there (a program's `jobs` works without it: the defaults) */
    enum jobs_store store;
    char *dir;    /* NULL: "jobs" beside the dumpfile, else in the state directory */
    char *socket; /* NULL: jobs.sock in drover's runtime directory */
    enum jobs_fsync fsync;
    int64_t result_ttl_ms;     /* a success is kept this long for GET /jobs/ID */
    int64_t failed_ttl_ms;     /* a failure or a cancel */
    unsigned max_finished;     /* finished jobs kept at most, oldest evicted first */
    uint64_t max_payload;      /* bytes of one payload or result */
    uint64_t max_queued_bytes; /* payloads of unfinished jobs, all types: past it 429 */
    struct jobs_redis_cfg redis;
};

#define CFG_JOBS_DEFAULT_TIMEOUT_MS (5 * 60 * 1000LL)
#define CFG_JOBS_DEFAULT_CANCEL_GRACE_MS 10000
#define CFG_JOBS_DEFAULT_ATTEMPTS 3
#define CFG_JOBS_DEFAULT_MAX_WORKER_KILLS 2
#define CFG_JOBS_DEFAULT_PING_IDLE_MS (10 * 60 * 1000LL)
#define CFG_JOBS_DEFAULT_PING_TIMEOUT_MS 5000
#define CFG_JOBS_DEFAULT_PING_FAILURES 3
#define CFG_JOBS_DEFAULT_AUTOSCALE_INTERVAL_MS 2000
#define CFG_JOBS_DEFAULT_DOWN_AFTER_MS (5 * 60 * 1000LL)
#define CFG_JOBS_DEFAULT_BACKOFF_INITIAL_MS 1000
#define CFG_JOBS_DEFAULT_BACKOFF_MAX_MS (5 * 60 * 1000LL)
#define CFG_JOBS_DEFAULT_BACKOFF_FACTOR 2.0
#define CFG_JOBS_DEFAULT_BACKOFF_JITTER 0.2
#define CFG_JOBS_MAX_BACKOFF_FACTOR 100
#define CFG_JOBS_MAX_PING_FAILURES 100
#define CFG_JOBS_MIN_PING_IDLE_MS 1000
#define CFG_JOBS_DEFAULT_AUTOSCALE_MIN 1
#define CFG_JOBS_MAX_PER_INSTANCE 100000
#define CFG_JOBS_MIN_AUTOSCALE_INTERVAL_MS 100

/* A program's `jobs` object. */
struct program_jobs_cfg {
    bool enabled; /* the program has `jobs`: each instance gets a job channel */
    char **types; /* owned; default: one type, the program's name */
    size_t ntypes;
    unsigned concurrency;    /* jobs one instance holds at once, >= 1 */
    int64_t timeout_ms;      /* a job's run time before CANCEL; 0: none */
    int64_t cancel_grace_ms; /* after CANCEL, before the instance is stopped */
    unsigned attempts;       /* all tries of one job, >= 1 */
    int64_t backoff_initial_ms, backoff_max_ms;
    double backoff_factor;     /* >= 1 */
    double backoff_jitter;     /* 0..1 */
    unsigned max_worker_kills; /* instance deaths under one job before it fails "poison" */
    enum jobs_dispatch dispatch;
    bool ping;            /* ping idle instances (`ping: false` turns it off) */
    int64_t ping_idle_ms; /* idle this long, an instance is pinged */
    int64_t ping_timeout_ms;
    unsigned ping_failures; /* failed pings in a row that restart the instance */
    bool autoscale;         /* `autoscale` given */
    /* autoscale_max and per_instance not given are 0 until cfg_jobs_check() makes them the
       program's max_instances and concurrency. */
    unsigned autoscale_min, autoscale_max, per_instance;
    int64_t autoscale_interval_ms, down_after_ms;
};

/* Defaults before parsing. */
void cfg_jobs_defaults(struct jobs_cfg *jc);
void cfg_program_jobs_defaults(struct program_jobs_cfg *pj);

/* The handlers core/cfg's key tables call: top-level `jobs` (target: struct jobs_cfg), a
   program's `jobs` (target: struct program_jobs_cfg). */
int cfg_jobs_parse(struct schema_ctx *c, const json_t *val, void *target);
int cfg_program_jobs_parse(struct schema_ctx *c, const json_t *val, void *target);

/*
 * After every program is parsed (and named): a program with `jobs` and no
 * `types` takes its name as its type; a type taken by two programs is an
 * error (at the second); autoscale.max above max_instances, or autoscale.min
 * above autoscale.max, is an error; autoscale.max and per_instance not given
 * become max_instances and concurrency. 0, -EINVAL, or -ENOMEM (no message:
 * cfg_parse() says "out of memory").
 */
int cfg_jobs_check(struct schema_ctx *c, struct config *cfg);

void cfg_jobs_done(struct jobs_cfg *jc);
void cfg_program_jobs_done(struct program_jobs_cfg *pj);

const char *jobs_store_name(enum jobs_store s);
const char *jobs_fsync_name(enum jobs_fsync f);
const char *jobs_dispatch_name(enum jobs_dispatch d);

#endif

/*
 * cfg: the JSON configuration, parsed and validated into struct config.
 *
 * Pure: cfg_parse() takes the bytes (the caller reads the file or stdin,
 * capped at CFG_MAX_BYTES) and either fills a config or collects errors, each
 * one line "SOURCE:LINE:COL: JSON.PATH: message". Nothing is started and
 * nothing is logged here. Two forms are accepted: the time-service list form
 * `[ {program}, ... ]` and the object form `{ "programs": [...], settings }`.
 * docs/config.md is the schema.
 *
 * Ownership: every string in struct config is owned by it; cfg_done() frees.
 */
#ifndef DROVER_CFG_H
#define DROVER_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/cfg_jobs.h"
#include "core/probe_spec.h"
#include "core/svc.h"

#define CFG_MAX_BYTES (1024 * 1024)
#define CFG_MAX_PROGRAMS 1000
#define CFG_MAX_INSTANCES 10000 /* per program */
#define CFG_MAX_TOTAL_INSTANCES 100000
#define CFG_MAX_ARGS 256
#define CFG_MAX_ENV 256
#define CFG_MAX_STRING 4096
#define CFG_NAME_MAX 64
#define CFG_DEFAULT_MAX_INSTANCES 16 /* room to scale up without a config change */
#define CFG_TOKEN_MIN 16             /* bearer token length bounds */
#define CFG_TOKEN_MAX 256

struct env_cfg {
    char *key;
    char *value; /* template */
};

/* The hooks (docs/lifecycle.md#hooks): commands drover runs when an instance changes state. */
enum cfg_hook {
    CFG_HOOK_STATE_CHANGE, /* on_state_change: every state change */
    CFG_HOOK_FATAL,        /* on_fatal: the instance entered fatal */
    CFG_HOOK__MAX,
};

#define CFG_DEFAULT_HOOK_TIMEOUT_MS 10000

struct cfg_command {
    char **argv; /* templates, NULL-terminated; NULL: none */
    size_t argc;
    bool given; /* the key was there: a program's own (even null, "none") replaces the pool's */
};

/* One resource limit of `rlimits`: the child's soft and hard limit, set before exec. */
struct cfg_rlimit {
    int resource;     /* RLIMIT_* */
    uint64_t value;   /* CFG_RLIM_UNLIMITED: "unlimited" */
    const char *name; /* the key ("nofile"): static */
};

#define CFG_RLIM_UNLIMITED UINT64_MAX

/*
 * `user` and `group` (docs/config.md#identity): the text as written, where
 * it was written (for the errors of os/identity, which resolves the names at
 * config check: cfg_parse() is pure and reads no user database), and what
 * it resolved to.
 */
enum cfg_identity_env { CFG_ENV_HOME, CFG_ENV_USER, CFG_ENV_LOGNAME, CFG_ENV__MAX };
/* Their names: "HOME", "USER", "LOGNAME". */
extern const char *const cfg_identity_env_names[CFG_ENV__MAX];

struct cfg_identity {
    char *user;     /* a name, or a number as text; NULL: drover's own */
    char *group;    /* the same; NULL: the user's primary group */
    char *user_at;  /* "SOURCE:LINE:COL: programs[N].user" */
    char *group_at; /* "SOURCE:LINE:COL: programs[N].group" */
    /* Filled by identity_resolve(): */
    bool switch_to; /* the child sets these credentials before exec */
    uid_t uid;
    gid_t gid;
    gid_t *groups; /* supplementary groups (the user's entries in the group database) */
    size_t ngroups;
    char *env[CFG_ENV__MAX]; /* "HOME=/home/x", "USER=x", "LOGNAME=x" with a user; else NULL */
};

#define CFG_MAX_RLIMITS 16

/*
 * Captured output (`output`/`error` as an object, or "drover"): drover reads
 * the stream through a FIFO and writes it on (docs/config.md#captured-output).
 * A plain path string is not captured: the file is the child's fd, as before.
 */
enum cfg_capture_mode {
    CFG_CAPTURE_NONE,   /* not captured (a path in output/error, or inherited) */
    CFG_CAPTURE_FILE,   /* appended to `file`, rotated past max_size */
    CFG_CAPTURE_DROVER, /* "drover": to drover's stderr as "name:index | line" */
    CFG_CAPTURE__MAX,
};

#define CFG_CAPTURE_DEFAULT_BACKUPS 5
#define CFG_CAPTURE_MAX_BACKUPS 100
#define CFG_CAPTURE_DEFAULT_TAIL 200
#define CFG_CAPTURE_MAX_TAIL 10000

struct cfg_capture {
    enum cfg_capture_mode mode;
    char *file;          /* template; CFG_CAPTURE_FILE only */
    uint64_t max_size;   /* bytes; 0: never rotated */
    unsigned backups;    /* .1 ... .backups kept */
    unsigned tail_lines; /* kept in memory for `drover logs`; 0: none */
};

/* Which stream a capture is: index of program_cfg.capture[]. */
enum cfg_stream {
    CFG_STREAM_OUT,
    CFG_STREAM_ERR,
    CFG_STREAM__MAX,
};

struct program_cfg {
    char *name;
    char **argv; /* templates, NULL-terminated */
    size_t argc;
    char *input; /* templates; NULL: stdin from /dev/null, stdout/stderr inherited */
    char *output;
    char *error;
    struct env_cfg *env;
    size_t nenv;
    char *cwd; /* template or NULL (drover's own cwd) */
    struct cfg_identity identity;
    unsigned instances;
    unsigned max_instances; /* slots allocated at start: `drover scale` goes up to this */
    bool uses_port;         /* {{port}} appears somewhere: each start takes a port */
    struct svc_policy policy;
    struct probe_cfg ready_probe; /* kind PROBE_NONE: ready by exec or notify */
    struct probe_cfg health;      /* kind PROBE_NONE: no health check */
    int64_t heartbeat_timeout_ms; /* 0: no heartbeat timeout */
    int64_t silence_ms;     /* default T of /health for this program's instances; -1: the pool's */
    int max_silent;         /* default X of /health?program=THIS; -1: the pool's */
    bool heartbeat_restart; /* heartbeat.action "restart" (else "none": mark and log only) */
    struct cfg_command hooks[CFG_HOOK__MAX]; /* the program's own; see cfg_hook() */
    int64_t hook_timeout_ms;                 /* -1: the pool's */
    /*
     * `after`: the programs that must be ready before an instance of this one
     * starts, by name; after_index[] the same as indices into the config's
     * programs. level: 0 with none, else one more than the highest level of
     * those (core/depgraph.h): start-up goes up the levels, shutdown down.
     */
    char **after;
    size_t *after_index;
    size_t nafter;
    unsigned level;
    struct cfg_rlimit rlimits[CFG_MAX_RLIMITS]; /* `rlimits`, in the text's order */
    size_t nrlimits;
    uint64_t memory_max;      /* bytes; 0: none, the group's memory is not sampled */
    bool umask_given;         /* else drover's own umask, inherited */
    unsigned umask;           /* 0 to 0777 */
    bool nice_given;          /* else drover's own nice value, inherited */
    int nice;                 /* -20 to 19 */
    unsigned max_unavailable; /* a rolling restart (reload) has at most this many not ready */
    struct cfg_capture capture[CFG_STREAM__MAX]; /* output/error captured, by enum cfg_stream */
    struct program_jobs_cfg jobs;                /* `jobs` (core/cfg_jobs.h); enabled: given */
};

#define CFG_DEFAULT_CHECKPOINT_INTERVAL_MS 30000
#define CFG_DEFAULT_SILENCE_MS 30000 /* /health's T when neither query nor config says */

struct config {
    struct program_cfg *programs;
    size_t nprograms;
    uint16_t port_from, port_to; /* port_from == 0: no range */
    char *dumpfile;              /* NULL: no checkpoint */
    int64_t checkpoint_interval_ms;
    bool adopt;          /* adopt an earlier drover's survivors instead of stopping them */
    char *http;          /* "ADDR:PORT" of the HTTP API, NULL: off */
    char *http_token;    /* bearer token that opens control calls over TCP; NULL: read-only */
    char *control;       /* control socket path; NULL: the default path */
    bool control_off;    /* "control": false or --control off */
    unsigned max_silent; /* default X of /health */
    int64_t silence_ms;  /* default T of /health */
    struct cfg_command hooks[CFG_HOOK__MAX]; /* top level: for every program without its own */
    int64_t hook_timeout_ms;
    struct jobs_cfg jobs; /* `jobs` (core/cfg_jobs.h): the job store; its defaults if not given */
};

/*
 * The mode of a file drover creates for the program (output, error,
 * captured output): 0644, or 0666 less the program's `umask` when it has
 * one, as if the child had created it. drover's own umask applies too.
 */
static inline unsigned
cfg_file_mode(const struct program_cfg *p)
{
    return p->umask_given ? 0666 & ~p->umask : 0644;
}

/* Collected error lines; later ones are dropped (and counted) when the buffer is full. */
struct cfg_errors {
    char text[8192];
    size_t len;
    unsigned count;
};

/*
 * Parses and validates. `source` names the input in messages ("<stdin>" or a
 * path). Returns 0 and fills *ret, or -EINVAL with errs filled (ret untouched).
 */
int cfg_parse(const char *text, size_t len, const char *source, struct config *ret,
              struct cfg_errors *errs);

/*
 * Checks that need the command-line overrides applied first: a program that
 * uses {{port}} needs a port range. Returns 0 or -EINVAL with errs filled.
 */
int cfg_finish(const struct config *cfg, struct cfg_errors *errs);

/* Appends one formatted line to errs. */
void cfg_error(struct cfg_errors *errs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void cfg_done(struct config *cfg);
/* Frees what a program's identity holds, resolved parts included; leaves it zeroed. */
void cfg_identity_done(struct cfg_identity *id);

/* Total number of instances over all programs. */
size_t cfg_total_instances(const struct config *cfg);
/* Total number of instance slots (max_instances) over all programs. */
size_t cfg_total_slots(const struct config *cfg);

/* The hook command of kind for program p: its own if given, else the pool's; NULL: none. */
const struct cfg_command *cfg_hook(const struct config *cfg, const struct program_cfg *p,
                                   enum cfg_hook kind);
/* The hook timeout for program p: its own, else the pool's. */
int64_t cfg_hook_timeout_ms(const struct config *cfg, const struct program_cfg *p);
/* "on_state_change", "on_fatal". */
const char *cfg_hook_name(enum cfg_hook kind);

/* NULL if token is acceptable as a bearer token, else what is wrong with it. */
const char *cfg_token_problem(const char *token);

/* The name of the i-th key of a program (of the top level), or NULL past the last. */
const char *cfg_program_key(size_t i);
const char *cfg_settings_key(size_t i);

/* True for a program name a config may give: 1 to CFG_NAME_MAX of A-Z a-z 0-9 _ . - */
bool cfg_name_valid(const char *name);

#endif

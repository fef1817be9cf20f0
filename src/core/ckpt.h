/*
 * ckpt: the checkpoint (--dumpfile): what a later drover needs to recognise
 * this one's processes after a crash. docs/checkpoint.md is the format.
 *
 * Pure: struct <-> JSON bytes; unpack of any truncated or corrupt input
 * fails cleanly with a reason. os/afile writes and reads the file (atomic
 * replacement; only a file drover can trust is read). Entries own their
 * argv strings; ckpt_done() frees.
 */
#ifndef DROVER_CKPT_H
#define DROVER_CKPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CKPT_VERSION 2 /* written; version 1 (no per-entry generation) is still read */
#define CKPT_MAX_BYTES (64 * 1024 * 1024)
#define CKPT_GENERATION_SIZE 32 /* "PID.STARTTIME" of a drover, with its NUL */
#define CKPT_JOBS_TOKEN_SIZE 33 /* 32 hex digits, with the NUL */

struct ckpt_entry {
    char *program;
    unsigned instance;
    pid_t pid;
    pid_t pgid;
    uint64_t start_time; /* /proc/PID/stat field 22 of pid */
    uint16_t port;       /* 0: none */
    char **argv;         /* NULL-terminated, may be NULL */
    /*
     * The DROVER_GENERATION the process carries: the drover that spawned it,
     * which for an instance adopted across crashes is not the file's drover.
     * Read from a version-1 file: the file's drover's.
     */
    char generation[CKPT_GENERATION_SIZE];
    /*
     * "stale": true: its process runs a configuration a reload has replaced,
     * and the rolling restart had not reached it yet. Absent: false.
     */
    bool stale;
    /*
     * "jobs_token": the DROVER_JOBS_TOKEN its process was given, so that an
     * adopted worker's HELLO is still its own (32 hex digits). Absent: "".
     */
    char jobs_token[CKPT_JOBS_TOKEN_SIZE];
};

/*
 * A program's scale (`drover scale`, or the config's count) and the config's
 * count it was set against: "scales": {"web": {"instances": 1, "configured": 3}}.
 */
struct ckpt_scale {
    char *program;
    unsigned instances;
    unsigned configured;
};

#define CKPT_MAX_SCALE 1000000 /* instances of one program, as cfg allows at most */

struct ckpt {
    pid_t drover_pid;
    uint64_t drover_start_time;
    int64_t written_unix_ms;
    struct ckpt_entry *entries;
    size_t nentries;
    /* Every program's scale when written; absent from files written before (nscales 0). */
    struct ckpt_scale *scales;
    size_t nscales;
};

/* Serialises c. Returns 0 with a malloc'ed buffer the caller frees, or -ENOMEM. */
int ckpt_pack(const struct ckpt *c, char **ret_data, size_t *ret_len);

/* Parses data. Returns 0 and fills *ret, or -EINVAL with a one-line reason in err. */
int ckpt_unpack(const char *data, size_t len, struct ckpt *ret, char *err, size_t errsize);

void ckpt_done(struct ckpt *c);

/*
 * A generation "PID.STARTTIME" (decimal, PID >= 1): the value of
 * DROVER_GENERATION and of instances[].generation. Pure. Returns 0 and the
 * two numbers, or -EINVAL.
 */
int ckpt_parse_generation(const char *s, pid_t *ret_pid, uint64_t *ret_start_time);

#endif

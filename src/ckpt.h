/*
 * ckpt: the checkpoint (--dumpfile): what a later drover needs to recognise
 * this one's processes after a crash. docs/checkpoint.md is the format.
 *
 * ckpt_pack()/ckpt_unpack() are pure (struct <-> JSON bytes; unpack of any
 * truncated or corrupt input fails cleanly with a reason). ckpt_save() is
 * atomic: a temp file in the same directory, fsync, rename over the old
 * file, fsync of the directory; on failure the previous file is intact.
 * ckpt_load() reads only a file drover can trust (see there).
 * Entries own their argv strings; ckpt_done() frees.
 */
#ifndef DROVER_CKPT_H
#define DROVER_CKPT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CKPT_VERSION 2 /* written; version 1 (no per-entry generation) is still read */
#define CKPT_MAX_BYTES (64 * 1024 * 1024)
#define CKPT_GENERATION_SIZE 32 /* "PID.STARTTIME" of a drover, with its NUL */

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
};

struct ckpt {
    pid_t drover_pid;
    uint64_t drover_start_time;
    int64_t written_unix_ms;
    struct ckpt_entry *entries;
    size_t nentries;
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

/*
 * Atomically replaces path with data. Returns 0 or -errno; the old file
 * survives any failure. -EEXIST: something other than a regular file is at
 * path (a device, a FIFO, a symbolic link, a directory), which is never
 * replaced: --dumpfile /dev/null by mistake must not cost the system its
 * /dev/null.
 */
int ckpt_save(const char *path, const char *data, size_t len);

/*
 * Reads path (at most CKPT_MAX_BYTES) without ever blocking: it is opened
 * O_NONBLOCK | O_NOFOLLOW, and a device or FIFO is not opened at all.
 * Returns 0 with a malloc'ed buffer, or -errno with what is wrong in err,
 * worded to follow the path ("is not a regular file (a FIFO)"): -EPERM
 * when the file is not to be trusted (a symbolic link, not a regular file,
 * owned by another uid than drover's effective one, writable by group or
 * others), -EFBIG when larger, -ENOENT when missing.
 */
int ckpt_load(const char *path, char **ret_data, size_t *ret_len, char *err, size_t errsize);

#endif

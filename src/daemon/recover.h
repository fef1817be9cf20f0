/*
 * recover: find what a previous drover left running, so it can be stopped
 * or adopted before the new pool starts.
 *
 * Two sources, one verdict. The dumpfile names the old drover and each
 * instance it had (pid, process group, kernel start time). And every child
 * of a drover run with a dumpfile carries DROVER_DUMPFILE (that file's
 * absolute path) and DROVER_GENERATION ("PID.STARTTIME" of its drover) in
 * its environment, so a /proc sweep also finds processes spawned after the
 * last checkpoint write (the crash window) and descendants that left their
 * group. A process is only ever acted on through a pidfd opened before its
 * start time was checked, so a recycled pid is never touched.
 *
 * Neither source is trusted alone: a survivor, from either, is a process
 * that runs as drover's uid, carries this dumpfile's DROVER_DUMPFILE and a
 * DROVER_GENERATION of a drover that is gone (for a dumpfile record: the
 * generation the record names), has pid > 1, and for a record, a process
 * group > 1 that is not drover's own. Every other record is logged with the
 * reason and left alone. The one function that signals checks pid and
 * group again, so nothing reaches kill() with a pid or group <= 1.
 *
 * recover_scan() only reads (the dumpfile, /proc) and logs what it finds;
 * recover_stop() acts. Both run once at start-up, before the loop;
 * recover_stop() blocks for at most the longest stop timeout, plus 5 s
 * for what SIGKILL leaves.
 */
#ifndef DROVER_RECOVER_H
#define DROVER_RECOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/cfg.h"
#include "core/ckpt.h"

enum survivor_fate {
    SURVIVOR_STOP,
    SURVIVOR_ADOPT,
    SURVIVOR_KEEP,
    SURVIVOR__MAX,
    SURVIVOR_INVALID = -1
};

struct survivor {
    pid_t pid;
    int pidfd; /* verified to refer to this process */
    pid_t pgid;
    uint64_t start_time;
    bool leader; /* pid == pgid, and for a record the recorded group: an instance's main process */
    bool from_dumpfile;             /* a verified record: only these are ever adopted */
    uid_t uid;                      /* its real uid: a record's may differ from drover's */
    gid_t gid;                      /* its real gid, read with the uid */
    char program[CFG_NAME_MAX + 1]; /* "" when unknown */
    unsigned instance;
    uint16_t port;                         /* from the record; 0 for a process found by the sweep */
    char generation[CKPT_GENERATION_SIZE]; /* the DROVER_GENERATION it carries */
    bool stale; /* the record says a rolling restart had not reached it (ckpt.h) */
    char jobs_token[CKPT_JOBS_TOKEN_SIZE]; /* the record's: its job channel's token, "" none */
    enum survivor_fate fate;
    bool group_signalled; /* recover_stop(): the last signal went to its whole group */
};

struct survivors {
    struct survivor *v;
    size_t n, cap;
    pid_t old_drover; /* 0 when no usable dumpfile */
    /* The earlier drover's scales, from its dumpfile (none from an older one). Owned. */
    struct ckpt_scale *scales;
    size_t nscales;
};

/*
 * Fills *ret from dumpfile (absolute path) and the /proc sweep. Returns 0,
 * or -EBUSY when the drover named in the dumpfile is still alive (its pid
 * is set in ret->old_drover), or -ENOMEM. A missing or corrupt dumpfile is
 * logged and is not an error. uids: who drover's children may run as (its
 * euid and each configured `user`); the sweep trusts a marker only there.
 */
int recover_scan(const char *dumpfile, const char *own_generation, const uid_t *uids, size_t nuids,
                 struct survivors *ret);

/*
 * Sends each SURVIVOR_STOP its program's stop signal (TERM when the program
 * is gone from the config), waits up to the longest stop_timeout, then
 * SIGKILLs what is left and waits for it to go.
 */
void recover_stop(struct survivors *s, const struct config *cfg);

void recover_done(struct survivors *s);

/* "PID.STARTTIME" of the calling process, for DROVER_GENERATION. Returns 0 or -errno. */
int recover_generation(char *buf, size_t size);

#endif

/*
 * procfs: the few facts drover reads from /proc about other processes.
 *
 * A pid alone does not identify a process (pids are recycled); the pair
 * (pid, start time) does: field 22 of /proc/PID/stat, in clock ticks since
 * boot. Callers that act on a process open a pidfd first and then check the
 * start time, so the pidfd is known to refer to the process they mean.
 * Also: a process's memory (PSS, else RSS), for memory_max. No logging here.
 */
#ifndef DROVER_PROCFS_H
#define DROVER_PROCFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct proc_stat {
    uint64_t start_time; /* clock ticks after boot */
    pid_t ppid;
    pid_t pgid;
    pid_t sid;
    char state; /* 'R', 'S', 'Z', ... */
};

/* Parses a /proc/PID/stat line (pure; the comm field may hold spaces and ')'). Returns 0 or
 * -EINVAL. */
int proc_parse_stat(const char *line, struct proc_stat *ret);

/* Reads /proc/PID/stat. Returns 0, -ESRCH when the process is gone, or -errno. */
int proc_read_stat(pid_t pid, struct proc_stat *ret);

/*
 * The real uid from a /proc/PID/status text ("Uid:\treal\teffective\t...")
 * (pure). Returns 0 or -EINVAL.
 */
int proc_parse_status_uid(const char *text, uid_t *ret_real_uid);

/*
 * The real uid and gid of pid, from one read of /proc/PID/status. Returns 0,
 * -ESRCH when gone, or -errno.
 */
int proc_read_ids(pid_t pid, uid_t *ret_real_uid, gid_t *ret_real_gid);

/*
 * Copies the value of NAME from /proc/PID/environ (the process's initial
 * environment) into buf. Returns 0, -ENOENT when unset, -ESRCH, or -errno.
 */
int proc_environ_get(pid_t pid, const char *name, char *buf, size_t size);

/*
 * The memory a process uses, for memory_max (daemon/memwatch.c). PSS, from
 * /proc/PID/smaps_rollup ("Pss:   1234 kB"), charges each shared page to
 * its sharers in part, so a group's sum counts a page once; RSS, from
 * /proc/PID/statm (the second field, in pages), counts it in every process
 * that maps it, and is the fallback when smaps_rollup cannot be read
 * (Linux < 4.14, or not ours to read).
 */
/* The Pss: line of a smaps_rollup text, in kB (pure). Returns 0 or -EINVAL. */
int proc_parse_pss_kb(const char *text, uint64_t *ret_kb);
/* The resident pages of a statm text, its second field (pure). Returns 0 or -EINVAL. */
int proc_parse_statm_rss(const char *text, uint64_t *ret_pages);
/*
 * pid's memory in bytes: PSS, else RSS (*ret_pss says which). Returns 0,
 * -ESRCH when the process is gone (or went while being read), or -errno.
 */
int proc_read_memory(pid_t pid, uint64_t *ret_bytes, bool *ret_pss);

/* Milliseconds since boot that a start time in ticks corresponds to. */
int64_t proc_ticks_to_ms(uint64_t ticks);

/* CLOCK_BOOTTIME in milliseconds: the clock start times are measured on. */
int64_t proc_boot_now_ms(void);

/*
 * Calls fn(pid, arg) for every numeric entry of /proc. Returns 0 or -errno.
 * fn returning < 0 stops the walk and is returned.
 */
int proc_each_pid(int (*fn)(pid_t pid, void *arg), void *arg);

#endif

/*
 * procfs: /proc/PID/stat, status, environ, smaps_rollup and statm readers. See procfs.h.
 */
#include "os/procfs.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"

int
proc_parse_stat(const char *line, struct proc_stat *ret)
{
    /* "pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt
     *  utime stime cutime cstime priority nice num_threads itrealvalue starttime ..." */
    const char *p = strrchr(line, ')');
    unsigned long long start;
    int ppid, pgid, sid;
    char state;

    if (!p)
        return -EINVAL;
    if (sscanf(p + 1,
               " %c %d %d %d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
               &state, &ppid, &pgid, &sid, &start) != 5)
        return -EINVAL;
    *ret = (struct proc_stat){
        .start_time = start,
        .ppid = ppid,
        .pgid = pgid,
        .sid = sid,
        .state = state,
    };
    return 0;
}

static int
read_small(const char *path, char *buf, size_t size, size_t *ret_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t len = 0;

    if (fd < 0)
        return errno == ENOENT ? -ESRCH : -errno;
    while (len < size - 1) {
        ssize_t n = read(fd, buf + len, size - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int r = errno == ESRCH ? -ESRCH : -errno;
            (void)close(fd);
            return r;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    (void)close(fd);
    buf[len] = '\0';
    *ret_len = len;
    return 0;
}

int
proc_read_stat(pid_t pid, struct proc_stat *ret)
{
    char path[32], buf[1024];
    size_t len;
    int r;

    (void)snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    r = read_small(path, buf, sizeof(buf), &len);
    if (r < 0)
        return r;
    return proc_parse_stat(buf, ret);
}

/*
 * A whole number at p (spaces and tabs before it skipped), followed by one of
 * end_chars: never by the end of the text, which may be a cut one ("Uid:\t10"
 * of a process that went while its 1000 was being read).
 */
static int
parse_number(const char *p, const char *end_chars, uint64_t *ret)
{
    unsigned long long v;
    char *end;

    while (*p == ' ' || *p == '\t')
        p++;
    if (!isdigit((unsigned char)*p))
        return -EINVAL;
    errno = 0;
    v = strtoull(p, &end, 10);
    if (errno || !*end || !strchr(end_chars, *end))
        return -EINVAL;
    *ret = v;
    return 0;
}

/* The first (real) id of the "KEY:" line of /proc/PID/status. */
static int
parse_status_id(const char *text, const char *key, uint32_t *ret)
{
    char nl_key[16];
    const char *p;
    uint64_t id;

    (void)snprintf(nl_key, sizeof(nl_key), "\n%s", key);
    p = strstr(text, nl_key);
    if (!p && strncmp(text, key, strlen(key)) == 0)
        p = text - 1;
    if (!p || parse_number(p + strlen(nl_key), "\t \n", &id) < 0 || id > UINT32_MAX)
        return -EINVAL;
    *ret = (uint32_t)id;
    return 0;
}

int
proc_parse_status_uid(const char *text, uid_t *ret_real_uid)
{
    uint32_t id;

    if (parse_status_id(text, "Uid:", &id) < 0)
        return -EINVAL;
    *ret_real_uid = (uid_t)id;
    return 0;
}

int
proc_read_ids(pid_t pid, uid_t *ret_real_uid, gid_t *ret_real_gid)
{
    char path[32], buf[4096];
    size_t len;
    uint32_t uid, gid;
    int r;

    (void)snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    r = read_small(path, buf, sizeof(buf), &len);
    if (r < 0)
        return r;
    /* A process that exits while we read leaves an empty or cut text: gone, not malformed. */
    if (parse_status_id(buf, "Uid:", &uid) < 0 || parse_status_id(buf, "Gid:", &gid) < 0)
        return -ESRCH;
    *ret_real_uid = (uid_t)uid;
    *ret_real_gid = (gid_t)gid;
    return 0;
}

int
proc_parse_pss_kb(const char *text, uint64_t *ret_kb)
{
    /* "Pss:" at the start of a line; "Pss_Anon:" and the like are other lines. */
    const char *p = strncmp(text, "Pss:", 4) == 0 ? text : strstr(text, "\nPss:");

    if (!p)
        return -EINVAL;
    p += *p == '\n' ? 5 : 4;
    return parse_number(p, " \t", ret_kb);
}

int
proc_parse_statm_rss(const char *text, uint64_t *ret_pages)
{
    /* "size resident shared text lib data dt", in pages. */
    const char *p = text;
    uint64_t size;

    if (parse_number(p, " ", &size) < 0)
        return -EINVAL;
    while (*p == ' ')
        p++;
    p += strspn(p, "0123456789");
    return parse_number(p, " \n", ret_pages);
}

int
proc_read_memory(pid_t pid, uint64_t *ret_bytes, bool *ret_pss)
{
    char path[40], buf[4096];
    uint64_t v;
    size_t len;
    int r;

    (void)snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
    if (read_small(path, buf, sizeof(buf), &len) == 0 && proc_parse_pss_kb(buf, &v) == 0) {
        *ret_bytes = v * 1024;
        *ret_pss = true;
        return 0;
    }
    (void)snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
    r = read_small(path, buf, sizeof(buf), &len);
    if (r < 0)
        return r;
    /* Cut or empty: it went while being read. */
    if (proc_parse_statm_rss(buf, &v) < 0)
        return -ESRCH;
    *ret_bytes = v * (uint64_t)sysconf(_SC_PAGESIZE);
    *ret_pss = false;
    return 0;
}

int
proc_environ_get(pid_t pid, const char *name, char *buf, size_t size)
{
    char path[32];
    char *env;
    size_t len, nlen = strlen(name);
    int r;
    const size_t cap = 256 * 1024; /* ARG_MAX-ish: the environment block is at most this */

    env = malloc(cap);
    if (!env)
        return -ENOMEM;
    (void)snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
    r = read_small(path, env, cap, &len);
    if (r < 0) {
        free(env);
        return r;
    }
    r = -ENOENT;
    for (size_t i = 0; i < len; i += strlen(env + i) + 1) {
        if (strncmp(env + i, name, nlen) == 0 && env[i + nlen] == '=') {
            const char *value = env + i + nlen + 1;
            if (strlen(value) >= size) {
                r = -ENAMETOOLONG;
            } else {
                memcpy(buf, value, strlen(value) + 1);
                r = 0;
            }
            break;
        }
    }
    free(env);
    return r;
}

int64_t
proc_ticks_to_ms(uint64_t ticks)
{
    static long hz;

    if (!hz)
        hz = sysconf(_SC_CLK_TCK);
    if (hz <= 0)
        hz = 100;
    return (int64_t)(ticks * 1000 / (uint64_t)hz);
}

int64_t
proc_boot_now_ms(void)
{
    return util_clock_ms(CLOCK_BOOTTIME);
}

int
proc_each_pid(int (*fn)(pid_t pid, void *arg), void *arg)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    int r = 0;

    if (!d)
        return -errno;
    while ((e = readdir(d)) != NULL) {
        char *end;
        long pid;

        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 0)
            continue;
        r = fn((pid_t)pid, arg);
        if (r < 0)
            break;
    }
    (void)closedir(d);
    return r;
}

/*
 * util: durations, signal names, port ranges, clocks. See util.h.
 */
#include "core/util.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int
util_seconds_to_ms(double seconds, int64_t *ret_ms)
{
    if (isnan(seconds) || seconds < 0)
        return -ERANGE;
    if (seconds * 1000.0 > (double)UTIL_DURATION_MAX_MS)
        return -ERANGE;
    *ret_ms = (int64_t)llround(seconds * 1000.0);
    return 0;
}

int
util_parse_duration_ms(const char *s, int64_t *ret_ms)
{
    static const struct {
        const char *suffix;
        double ms;
    } units[] = {
        { "ms", 1.0 }, { "s", 1000.0 }, { "m", 60000.0 }, { "h", 3600000.0 }, { "", 1000.0 },
    };
    const char *p = s;
    char *end;
    double value;

    if (!s || !*s)
        return -EINVAL;
    /* strtod accepts hex, inf, nan and leading blanks; we want digits and one dot only. */
    for (p = s; isdigit((unsigned char)*p) || *p == '.'; p++)
        ;
    if (p == s || (p == s + 1 && *s == '.'))
        return -EINVAL;
    errno = 0;
    value = strtod(s, &end);
    if (end != p)
        return -EINVAL;
    if (errno == ERANGE)
        return -ERANGE; /* hundreds of digits: far above the maximum */
    for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
        if (strcmp(p, units[i].suffix) == 0) {
            double ms = value * units[i].ms;
            if (ms > (double)UTIL_DURATION_MAX_MS)
                return -ERANGE;
            *ret_ms = (int64_t)llround(ms);
            return 0;
        }
    }
    return -EINVAL;
}

int
util_parse_size(const char *s, uint64_t *ret)
{
    static const char *const units[] = { "", "K", "M", "G", "T" };
    uint64_t value = 0;
    const char *p = s;

    if (!s || !isdigit((unsigned char)*s))
        return -EINVAL;
    for (; isdigit((unsigned char)*p); p++) {
        if (value > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
            return -ERANGE;
        value = value * 10 + (uint64_t)(*p - '0');
    }
    for (size_t u = 0; u < ARRAY_SIZE(units); u++) {
        size_t n = strlen(units[u]);
        const char *rest = p + n;

        if (strncasecmp(p, units[u], n) != 0)
            continue;
        if (n && (strcasecmp(rest, "B") == 0 || strcasecmp(rest, "iB") == 0))
            rest = "";
        else if (!n && strcasecmp(rest, "B") == 0)
            rest = "";
        if (*rest)
            continue;
        for (size_t k = 0; k < u; k++) {
            if (value > UINT64_MAX / 1024)
                return -ERANGE;
            value *= 1024;
        }
        *ret = value;
        return 0;
    }
    return -EINVAL;
}

static const struct {
    int sig;
    const char *name;
} signal_names[] = {
    { SIGHUP, "HUP" },   { SIGINT, "INT" },       { SIGQUIT, "QUIT" }, { SIGILL, "ILL" },
    { SIGTRAP, "TRAP" }, { SIGABRT, "ABRT" },     { SIGBUS, "BUS" },   { SIGFPE, "FPE" },
    { SIGKILL, "KILL" }, { SIGUSR1, "USR1" },     { SIGSEGV, "SEGV" }, { SIGUSR2, "USR2" },
    { SIGPIPE, "PIPE" }, { SIGALRM, "ALRM" },     { SIGTERM, "TERM" }, { SIGSTKFLT, "STKFLT" },
    { SIGCHLD, "CHLD" }, { SIGCONT, "CONT" },     { SIGSTOP, "STOP" }, { SIGTSTP, "TSTP" },
    { SIGTTIN, "TTIN" }, { SIGTTOU, "TTOU" },     { SIGURG, "URG" },   { SIGXCPU, "XCPU" },
    { SIGXFSZ, "XFSZ" }, { SIGVTALRM, "VTALRM" }, { SIGPROF, "PROF" }, { SIGWINCH, "WINCH" },
    { SIGIO, "IO" },     { SIGPWR, "PWR" },       { SIGSYS, "SYS" },
};

int
util_parse_signal(const char *s, int *ret_sig)
{
    const char *name = s;

    if (!s || !*s)
        return -EINVAL;
    /* "SIG34", as util_signal_name() prints signals without a name. */
    if (strncasecmp(s, "SIG", 3) == 0 && isdigit((unsigned char)s[3]))
        s += 3;
    if (isdigit((unsigned char)*s)) {
        char *end;
        long n;

        errno = 0;
        n = strtol(s, &end, 10);
        if (errno != 0 || *end != '\0' || n < 1 || n > SIGRTMAX)
            return -EINVAL;
        *ret_sig = (int)n;
        return 0;
    }
    if (strncasecmp(name, "SIG", 3) == 0)
        name += 3;
    for (size_t i = 0; i < ARRAY_SIZE(signal_names); i++) {
        if (strcasecmp(name, signal_names[i].name) == 0) {
            *ret_sig = signal_names[i].sig;
            return 0;
        }
    }
    return -EINVAL;
}

const char *
util_signal_name(int sig)
{
    /* Signals without a name (the realtime ones) by number, from a table: core has no buffers. */
    static const char *const numbered[] = {
        "SIG0",  "SIG1",  "SIG2",  "SIG3",  "SIG4",  "SIG5",  "SIG6",  "SIG7",  "SIG8",  "SIG9",
        "SIG10", "SIG11", "SIG12", "SIG13", "SIG14", "SIG15", "SIG16", "SIG17", "SIG18", "SIG19",
        "SIG20", "SIG21", "SIG22", "SIG23", "SIG24", "SIG25", "SIG26", "SIG27", "SIG28", "SIG29",
        "SIG30", "SIG31", "SIG32", "SIG33", "SIG34", "SIG35", "SIG36", "SIG37", "SIG38", "SIG39",
        "SIG40", "SIG41", "SIG42", "SIG43", "SIG44", "SIG45", "SIG46", "SIG47", "SIG48", "SIG49",
        "SIG50", "SIG51", "SIG52", "SIG53", "SIG54", "SIG55", "SIG56", "SIG57", "SIG58", "SIG59",
        "SIG60", "SIG61", "SIG62", "SIG63", "SIG64"
    };

    for (size_t i = 0; i < ARRAY_SIZE(signal_names); i++)
        if (signal_names[i].sig == sig)
            return signal_names[i].name;
    return sig >= 0 && (size_t)sig < ARRAY_SIZE(numbered) ? numbered[sig] : "SIG?";
}

static int
parse_port(const char *s, const char *end, uint16_t *ret_port)
{
    unsigned long n = 0;

    if (s == end || end - s > 5)
        return -EINVAL;
    for (const char *p = s; p < end; p++) {
        if (!isdigit((unsigned char)*p))
            return -EINVAL;
        n = n * 10 + (unsigned long)(*p - '0');
    }
    if (n < 1 || n > 65535)
        return -EINVAL;
    *ret_port = (uint16_t)n;
    return 0;
}

int
util_parse_port_range(const char *s, uint16_t *ret_from, uint16_t *ret_to)
{
    const char *dash;
    uint16_t from, to;

    if (!s)
        return -EINVAL;
    dash = strchr(s, '-');
    if (!dash)
        return -EINVAL;
    if (parse_port(s, dash, &from) < 0 ||
        parse_port(dash + 1, dash + 1 + strlen(dash + 1), &to) < 0)
        return -EINVAL;
    if (from > to)
        return -EINVAL;
    *ret_from = from;
    *ret_to = to;
    return 0;
}

char *
util_format_duration(char *buf, size_t size, int64_t ms)
{
    const char *sign = ms < 0 ? "-" : "";
    /* Negate in unsigned arithmetic: -INT64_MIN does not fit in int64_t. */
    uint64_t mag = ms < 0 ? -(uint64_t)ms : (uint64_t)ms;

    (void)snprintf(buf, size, "%s%llu.%03llus", sign, (unsigned long long)(mag / 1000),
                   (unsigned long long)(mag % 1000));
    return buf;
}

uint64_t
util_hash_str(const char *s)
{
    uint64_t h = UINT64_C(14695981039346656037);

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * UINT64_C(1099511628211);
    return h;
}

char *
util_one_line(char *s)
{
    for (char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    return s;
}

int64_t
util_clock_ms(clockid_t clock)
{
    struct timespec ts;

    (void)clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
util_unix_ms(void)
{
    return util_clock_ms(CLOCK_REALTIME);
}

int64_t
util_now_ns(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t
util_now_ms(void)
{
    return util_now_ns() / 1000000;
}

uint64_t
util_ring_first(uint64_t next, uint64_t size, uint64_t since, bool *ret_gap)
{
    uint64_t oldest = next > size ? next - size : 1;

    if (since == 0)
        since = 1;
    *ret_gap = since < oldest;
    return since < oldest ? oldest : since;
}

bool
util_secret_equal(const char *given, const char *secret)
{
    size_t n = strlen(secret), m = given ? strlen(given) : 0;
    unsigned char diff = n != m;

    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(secret[i] ^ (i < m ? given[i] : 0));
    return given && diff == 0;
}

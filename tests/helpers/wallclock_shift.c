/*
 * wallclock_shift: an LD_PRELOAD library for test_faults.py that moves the
 * wall clock of one process, and only the wall clock: CLOCK_REALTIME (and
 * its _COARSE), gettimeofday() and time() read the kernel's time plus the
 * whole seconds written in the file $WALLCLOCK_SHIFT_FILE (read at each
 * call: a jump is seen by the next read of the clock), so the test can make drover's wall clock jump by a year forward
 * or back while CLOCK_MONOTONIC, timerfds and everything else are the
 * kernel's own. (libfaketime also rewrites absolute timerfd deadlines by
 * the offset, even when told to leave the monotonic clock alone: what a
 * real jump of the wall clock never does.)
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>


static int
real_clock(clockid_t id, struct timespec *ts)
{
    return (int)syscall(SYS_clock_gettime, id, ts);
}

static long long
shift(void)
{
    const char *path = getenv("WALLCLOCK_SHIFT_FILE");
    char buf[32] = "";
    long long s = 0;
    int fd;

    if (!path || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return 0;
    if (read(fd, buf, sizeof(buf) - 1) > 0)
        s = strtoll(buf, NULL, 10);
    (void)close(fd);
    return s;
}

int
clock_gettime(clockid_t id, struct timespec *ts)
{
    int r = real_clock(id, ts);

    if (r == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE))
        ts->tv_sec += shift();
    return r;
}

int
gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
    struct timespec ts;

    (void)tz;
    if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
        return -1;
    tv->tv_sec = ts.tv_sec; /* glibc declares tv nonnull */
    tv->tv_usec = ts.tv_nsec / 1000;
    return 0;
}

time_t
time(time_t *t)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
        return (time_t)-1;
    if (t)
        *t = ts.tv_sec;
    return ts.tv_sec;
}

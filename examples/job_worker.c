/*
 * job_worker: an example job worker on the C library's job calls
 * (include/drover/worker.h, docs/jobs-worker.md). It owns only its job
 * loop; framing, credits, PING/PONG and reconnecting are the library's.
 *
 * The payload says what to do:
 *   fail       fail, no retry
 *   fail CODE  the same, with error code CODE
 *   sleep N    sleep N seconds, looking for CANCEL every 10 ms; then "slept N"
 *              (cancelled: fail "cancelled", no retry)
 *   crash      abort()
 *   other      the payload upper-cased
 * It exits 0 when drover drains it, 1 outside drover or when drover refuses it.
 * With --poll it waits in its own poll() on drover_jobs_fd(), as a program
 * with other descriptors to watch would, instead of in drover_job_next().
 *
 *   job_worker [--poll]   (started by drover, for a program with "jobs")
 */
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <drover/worker.h>

static void
sleep_ms(long ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* "sleep N": N seconds, or until drover cancels the job. */
static int
run_sleep(drover_worker *w, const drover_job *j, const char *arg)
{
    char res[64];
    char *end;
    double s = strtod(arg, &end);
    struct timespec t0, t;

    if (end == arg || s < 0)
        return drover_job_fail(w, j, "sleep: not a number of seconds", -1);
    (void)clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        (void)clock_gettime(CLOCK_MONOTONIC, &t);
        if ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 >= s)
            break;
        if (drover_job_cancelled(w, j) == 1)
            return drover_job_fail(w, j, "cancelled", -1);
        sleep_ms(10);
    }
    (void)snprintf(res, sizeof(res), "slept %s", arg);
    return drover_job_done(w, j, res, strlen(res));
}

static int
run(drover_worker *w, const drover_job *j, unsigned char *out)
{
    char text[64];
    size_t n = j->len < sizeof(text) - 1 ? j->len : sizeof(text) - 1;

    memcpy(text, j->payload, n); /* the verbs are short: the first bytes say which */
    text[n] = '\0';
    if (j->len == 4 && strcmp(text, "fail") == 0)
        return drover_job_fail(w, j, "asked to fail", -1);
    if (j->len > 5 && j->len < sizeof(text) && strncmp(text, "fail ", 5) == 0)
        return drover_job_fail_code(w, j, text + 5, "asked to fail", -1);
    if (j->len == 5 && strcmp(text, "crash") == 0)
        abort();
    if (j->len > 6 && strncmp(text, "sleep ", 6) == 0)
        return run_sleep(w, j, text + 6);
    for (size_t i = 0; i < j->len; i++)
        out[i] = (unsigned char)toupper(((const unsigned char *)j->payload)[i]);
    return drover_job_done(w, j, out, j->len);
}

/* --poll: the caller's own loop, woken by drover_jobs_fd(); it beats on its own timer. */
static int
next_polled(drover_worker *w, drover_job *j)
{
    struct pollfd pfd = { .fd = drover_jobs_fd(w), .events = POLLIN };
    int r;

    for (;;) {
        if ((r = drover_job_next(w, j, 0)) != 0)
            return r;
        drover_beat(w);
        if (poll(&pfd, 1, 1000) < 0 && errno != EINTR)
            return -errno;
    }
}

int
main(int argc, char **argv)
{
    bool polled = argc > 1 && strcmp(argv[1], "--poll") == 0;
    const char *max = getenv(DROVER_ENV_JOBS_MAX_PAYLOAD);
    size_t size = max && *max ? strtoull(max, NULL, 10) : 1024 * 1024;
    unsigned char *out = malloc(size ? size : 1); /* one result buffer, as large as a payload */
    drover_worker *w;
    drover_job j;
    int r;

    if (!out || (r = drover_open(&w)) < 0) {
        fprintf(stderr, "job_worker: %s\n", out ? strerror(-r) : "out of memory");
        free(out);
        return 1;
    }
    (void)drover_ready(w);
    while ((r = polled ? next_polled(w, &j) : drover_job_next(w, &j, -1)) >= 0) {
        if (r == 0)
            continue;
        if ((r = run(w, &j, out)) < 0)
            fprintf(stderr, "job_worker: job %s: answer not sent: %s\n", j.id, strerror(-r));
    }
    drover_close(w);
    free(out);
    if (r == -ESHUTDOWN)
        return 0; /* drained: a clean stop */
    fprintf(stderr, "job_worker: %s\n",
            r == -ENOTCONN ? "not started by drover for a program with jobs" : strerror(-r));
    return 1;
}

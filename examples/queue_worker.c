/*
 * queue_worker: an example worker that polls a queue and beats at every
 * poll, with the C library (include/drover/worker.h).
 *
 * The queue is a directory: each file in it is a job. Every poll takes one
 * job if there is one, "works" on it (removes it), and beats either way: a
 * worker with nothing to do is still healthy. For demonstrations and tests
 * it can pretend to hang: --stall-after N stops beating after N polls for
 * --stall-ms MS (0: for ever) while staying alive.
 *
 *   queue_worker --queue DIR [--poll-ms 50] [--stall-after N] [--stall-ms MS] [--no-ready]
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <drover/worker.h>

static volatile sig_atomic_t stop;

static void
on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static void
sleep_ms(long ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };

    while (!stop && nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Takes one job from the queue directory; 1 if one was done, 0 if the queue was empty. */
static int
poll_queue(const char *dir)
{
    char path[4096];
    struct dirent *e;
    DIR *d = opendir(dir);
    int done = 0;

    if (!d)
        return 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        (void)snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        done = unlink(path) == 0;
        break;
    }
    (void)closedir(d);
    return done;
}

int
main(int argc, char **argv)
{
    const char *queue = NULL;
    long poll_ms = 50, stall_after = -1, stall_ms = 0, polls = 0;
    int send_ready = 1;
    drover_worker *w;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--queue") == 0 && i + 1 < argc)
            queue = argv[++i];
        else if (strcmp(argv[i], "--poll-ms") == 0 && i + 1 < argc)
            poll_ms = atol(argv[++i]);
        else if (strcmp(argv[i], "--stall-after") == 0 && i + 1 < argc)
            stall_after = atol(argv[++i]);
        else if (strcmp(argv[i], "--stall-ms") == 0 && i + 1 < argc)
            stall_ms = atol(argv[++i]);
        else if (strcmp(argv[i], "--no-ready") == 0)
            send_ready = 0;
        else {
            fprintf(stderr, "usage: queue_worker --queue DIR [--poll-ms MS] [--stall-after N] "
                            "[--stall-ms MS] [--no-ready]\n");
            return 2;
        }
    }
    if (!queue) {
        fprintf(stderr, "queue_worker: --queue DIR is required\n");
        return 2;
    }
    (void)signal(SIGTERM, on_term);
    if (drover_open(&w) < 0) {
        fprintf(stderr, "queue_worker: cannot reach drover's heartbeat channel\n");
        return 1;
    }
    if (send_ready)
        (void)drover_ready(w);
    (void)drover_status(w, "polling");
    while (!stop) {
        if (polls++ == stall_after) {
            (void)drover_status(w, "stalled");
            while (stall_ms == 0 && !stop)
                sleep_ms(1000); /* hung for ever (no beats), but still stoppable */
            sleep_ms(stall_ms);
            (void)drover_status(w, "polling");
        }
        if (poll_queue(queue))
            drover_task_done(w);
        drover_beat(w); /* every poll, work or not */
        sleep_ms(poll_ms);
    }
    (void)drover_stopping(w);
    drover_close(w);
    return 0;
}

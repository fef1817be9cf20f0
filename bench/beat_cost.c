/*
 * beat_cost: what one heartbeat costs the worker, run as an instance under drover
 * (so it has a real shared-memory slot and a real $NOTIFY_SOCKET). Used by
 * bench/beat_cost.py; linked with build/libdrover-worker.a.
 *
 *   beat_cost BEATS SENDS REPS
 *
 * Each of REPS repetitions times, with CLOCK_MONOTONIC around the whole loop:
 *   beat        BEATS x drover_beat(w)                  (clock read + two stores)
 *   clock       BEATS x clock_gettime(CLOCK_MONOTONIC)  (the clock read alone)
 *   empty       BEATS x an empty loop body (a compiler barrier): the loop itself
 *   send        SENDS x sendto("WATCHDOG=1") to $NOTIFY_SOCKET, blocking socket
 *               (every datagram is delivered; a full queue makes the sender wait)
 *   send_nb     SENDS x the same with MSG_DONTWAIT, as the library sends READY/STATUS
 *               (a full queue fails with EAGAIN; counted)
 * and prints "KIND REP NS_PER_OP N EXTRA" lines, then checks that the slot counted
 * every beat (it maps DROVER_HEARTBEAT_FD itself), prints "done ...", and waits to
 * be stopped (bounded).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <drover/worker.h>

static uint64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int
notify_addr(struct sockaddr_un *sa, socklen_t *len)
{
    const char *name = getenv("NOTIFY_SOCKET");
    size_t n = name ? strlen(name) : 0;

    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (n == 0 || n >= sizeof(sa->sun_path))
        return -1;
    memcpy(sa->sun_path, name, n);
    if (name[0] == '@')
        sa->sun_path[0] = '\0';
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (name[0] == '@' ? 0 : 1));
    return 0;
}

static const struct drover_slot *
my_slot(void)
{
    const char *fd_s = getenv("DROVER_HEARTBEAT_FD"), *slot_s = getenv("DROVER_HEARTBEAT_SLOT");
    struct stat st;
    void *map;

    if (!fd_s || !slot_s || fstat(atoi(fd_s), &st) < 0)
        return NULL;
    map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, atoi(fd_s), 0);
    if (map == MAP_FAILED)
        return NULL;
    return (const struct drover_slot *)map + atol(slot_s);
}

int
main(int argc, char **argv)
{
    long beats, sends, reps;
    drover_worker *w;
    struct sockaddr_un sa;
    socklen_t salen;
    const struct drover_slot *slot;
    volatile uint64_t sink = 0;
    int fd, fd_nb, r;

    if (argc != 4) {
        fprintf(stderr, "usage: beat_cost BEATS SENDS REPS\n");
        return 2;
    }
    beats = atol(argv[1]);
    sends = atol(argv[2]);
    reps = atol(argv[3]);
    setvbuf(stdout, NULL, _IOLBF, 0);
    r = drover_open(&w);
    slot = my_slot();
    if (r != 0 || !slot || notify_addr(&sa, &salen) < 0) {
        printf("error: not under drover with a heartbeat slot and NOTIFY_SOCKET (drover_open %d)\n", r);
        return 1;
    }
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    fd_nb = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || fd_nb < 0)
        return 1;
    for (long i = 0; i < 1000; i++) /* warm-up: fault the slot in, resolve the vDSO */
        drover_beat(w);

    for (long rep = 0; rep < reps; rep++) {
        uint64_t t0, t1;
        long eagain = 0, other = 0;

        t0 = now_ns();
        for (long i = 0; i < beats; i++)
            drover_beat(w);
        t1 = now_ns();
        printf("beat %ld %.3f %ld 0\n", rep, (double)(t1 - t0) / beats, beats);

        t0 = now_ns();
        for (long i = 0; i < beats; i++) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            sink += (uint64_t)ts.tv_nsec;
        }
        t1 = now_ns();
        printf("clock %ld %.3f %ld 0\n", rep, (double)(t1 - t0) / beats, beats);

        t0 = now_ns();
        for (long i = 0; i < beats; i++)
            __asm__ __volatile__("" ::: "memory");
        t1 = now_ns();
        printf("empty %ld %.3f %ld 0\n", rep, (double)(t1 - t0) / beats, beats);

        t0 = now_ns();
        for (long i = 0; i < sends; i++)
            if (sendto(fd, "WATCHDOG=1", 10, MSG_NOSIGNAL, (struct sockaddr *)&sa, salen) < 0)
                other++;
        t1 = now_ns();
        printf("send %ld %.3f %ld %ld\n", rep, (double)(t1 - t0) / sends, sends, other);

        other = 0;
        t0 = now_ns();
        for (long i = 0; i < sends; i++)
            if (sendto(fd_nb, "WATCHDOG=1", 10, MSG_NOSIGNAL | MSG_DONTWAIT, (struct sockaddr *)&sa,
                       salen) < 0) {
                if (errno == EAGAIN)
                    eagain++;
                else
                    other++;
            }
        t1 = now_ns();
        printf("send_nb %ld %.3f %ld %ld %ld\n", rep, (double)(t1 - t0) / sends, sends, eagain, other);
        usleep(100000); /* let drover drain the queue before the next repetition */
    }
    printf("done beats_in_slot %llu expected %llu sink %llu\n",
           (unsigned long long)__atomic_load_n(&slot->beats, __ATOMIC_ACQUIRE),
           (unsigned long long)(1000 + beats * reps), (unsigned long long)(sink & 1));
    for (int i = 0; i < 600; i++) /* wait to be stopped; bounded */
        sleep(1);
    return 0;
}

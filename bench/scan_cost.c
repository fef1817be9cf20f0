/*
 * scan_cost: how long drover takes to look at every heartbeat slot of a program.
 * There is no API for this from outside, so this links drover's own heartbeat
 * module (build/obj/heartbeat.o) and calls it as liveness.c's hb_scan() does: one
 * heartbeat_last_beat() per slot, then one heartbeat_supervisor_tick() (drover's
 * own beat into every slot). Used by bench/scan_cost.py:
 *
 *   cc -O2 -Iinclude -iquote src bench/scan_cost.c build/obj/heartbeat.o
 *   scan_cost NSLOTS SCANS OPENS
 *
 * Prints, all times in ns:
 *   open  T1 T2 ...    OPENS x heartbeat_region_open(NSLOTS) (memfd_create,
 *                      ftruncate, seals, mmap; no page touched yet); each is closed
 *   cold  T            the first scan of a fresh region (its pages are faulted in)
 *   read  T1 T2 ...    SCANS x the heartbeat_last_beat() loop over all slots
 *   tick  T1 T2 ...    the heartbeat_supervisor_tick() of the same scans
 *   scan  T1 T2 ...    both together (what one scan costs): SCANS samples
 *   xscan T1 T2 ...    scans right after another thread (standing in for the
 *                      workers on other CPUs) wrote last_beat_ns into every slot,
 *                      so each cache line has to come back from the other core
 *   sum   S            (keeps the reads from being optimised away)
 * Bounded: at most 20 s of scans.
 */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "os/heartbeat.h" /* src/os/heartbeat.h, found through -iquote src */

static uint64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct heartbeat_region region;
static volatile int turn; /* 0: writer's turn, 1: scanner's turn, 2: stop */
static uint64_t sum;

static void *
writer(void *arg)
{
    (void)arg;
    for (;;) {
        while (__atomic_load_n(&turn, __ATOMIC_ACQUIRE) == 1)
            sched_yield();
        if (__atomic_load_n(&turn, __ATOMIC_ACQUIRE) == 2)
            return NULL;
        uint64_t t = now_ns();
        for (size_t i = 0; i < region.nslots; i++)
            __atomic_store_n(&region.slots[i].last_beat_ns, t + i, __ATOMIC_RELEASE);
        __atomic_store_n(&turn, 1, __ATOMIC_RELEASE);
    }
}

static uint64_t
scan_read(void)
{
    uint64_t t0 = now_ns(), s = 0;

    for (size_t i = 0; i < region.nslots; i++)
        s += heartbeat_last_beat(&region, i);
    sum += s;
    return now_ns() - t0;
}

static uint64_t
scan_tick(void)
{
    uint64_t t0 = now_ns();

    heartbeat_supervisor_tick(&region, t0);
    return now_ns() - t0;
}

int
main(int argc, char **argv)
{
    size_t nslots;
    long scans, opens;
    uint64_t deadline, *rd, *tk;
    pthread_t th;
    long done;
    int r, pinned = 0;

    if (argc != 4) {
        fprintf(stderr, "usage: scan_cost NSLOTS SCANS OPENS\n");
        return 2;
    }
    nslots = (size_t)atol(argv[1]);
    scans = atol(argv[2]);
    opens = atol(argv[3]);
    rd = calloc((size_t)scans, sizeof(*rd));
    tk = calloc((size_t)scans, sizeof(*tk));
    if (!rd || !tk)
        return 1;
    deadline = now_ns() + 20ull * 1000000000u;

    printf("open");
    for (long i = 0; i < opens; i++) {
        uint64_t t0 = now_ns();
        if ((r = heartbeat_region_open(&region, "scan_cost", nslots)) < 0) {
            printf("\nerror heartbeat_region_open: %d\n", r);
            return 1;
        }
        printf(" %llu", (unsigned long long)(now_ns() - t0));
        heartbeat_region_close(&region);
    }
    printf("\n");

    if ((r = heartbeat_region_open(&region, "scan_cost", nslots)) < 0) {
        printf("error heartbeat_region_open: %d\n", r);
        return 1;
    }
    {
        uint64_t a = scan_read(), b = scan_tick();
        printf("cold %llu\n", (unsigned long long)(a + b));
    }
    for (done = 0; done < scans && now_ns() < deadline; done++) {
        rd[done] = scan_read();
        tk[done] = scan_tick();
    }
    printf("read");
    for (long i = 0; i < done; i++)
        printf(" %llu", (unsigned long long)rd[i]);
    printf("\ntick");
    for (long i = 0; i < done; i++)
        printf(" %llu", (unsigned long long)tk[i]);
    printf("\nscan");
    for (long i = 0; i < done; i++)
        printf(" %llu", (unsigned long long)(rd[i] + tk[i]));
    printf("\n");

    /* Scanner and writer on two different CPUs, if there are two. */
    {
        cpu_set_t allowed, one;
        int cpus[2], n = 0;

        if (sched_getaffinity(0, sizeof(allowed), &allowed) == 0)
            for (int c = 0; c < CPU_SETSIZE && n < 2; c++)
                if (CPU_ISSET(c, &allowed))
                    cpus[n++] = c;
        turn = 0;
        if (pthread_create(&th, NULL, writer, NULL) != 0)
            return 1;
        if (n == 2) {
            CPU_ZERO(&one);
            CPU_SET(cpus[0], &one);
            pinned = pthread_setaffinity_np(pthread_self(), sizeof(one), &one) == 0;
            CPU_ZERO(&one);
            CPU_SET(cpus[1], &one);
            pinned = pinned && pthread_setaffinity_np(th, sizeof(one), &one) == 0;
        }
        printf("pinned %d\n", pinned);
    }
    printf("xscan");
    for (long i = 0; i < scans && now_ns() < deadline; i++) {
        uint64_t a, b;
        while (__atomic_load_n(&turn, __ATOMIC_ACQUIRE) != 1)
            sched_yield();
        a = scan_read();
        b = scan_tick();
        printf(" %llu", (unsigned long long)(a + b));
        __atomic_store_n(&turn, 0, __ATOMIC_RELEASE);
    }
    while (__atomic_load_n(&turn, __ATOMIC_ACQUIRE) != 1)
        sched_yield();
    __atomic_store_n(&turn, 2, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    printf("\nsum %llu\n", (unsigned long long)(sum & 0xffff));
    heartbeat_region_close(&region);
    return 0;
}

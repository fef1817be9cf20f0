/*
 * memwatch: memory_max. Once a second, the memory of each instance's whole
 * process group (PSS, else RSS: os/procfs.h), and two samples in a row
 * above the limit (core/memcap.h) restart the instance with cause "memory".
 *
 * Costs nothing without memory_max: the one timer is armed only when a
 * process of a program with memory_max appears (a spawn, an adoption, a
 * reload that sets the key), and a sample that finds no such process left
 * does not arm it again; only then is /proc read.
 */
#ifndef DROVER_MEMWATCH_H
#define DROVER_MEMWATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "os/timer.h"

struct supervisor;
struct instance;
struct program;

/* One watched process group during a sample. */
struct memwatch_group {
    pid_t pgid;
    struct instance *in;
    uint64_t bytes;
    unsigned nproc; /* its processes counted */
    bool rss;       /* at least one counted by RSS: its PSS could not be read */
};

struct memwatch {
    struct timer timer;
    struct memwatch_group *groups; /* kept between samples: no allocation once grown */
    size_t ngroups, cap;
    bool oom_logged;
    bool proc_failing; /* the walk of /proc fails: said once, and again when it works */
};

void memwatch_init(struct supervisor *sup);
void memwatch_done(struct supervisor *sup);
/* A new process in in (spawned or adopted): its samples start over; the timer runs if needed. */
void memwatch_spawned(struct instance *in);
/* A reload changed prog's memory_max: the count starts over; the timer runs if needed. */
void memwatch_program_changed(struct program *prog);

#endif

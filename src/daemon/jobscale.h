/*
 * jobscale: queue-depth autoscaling of the programs whose `jobs` has
 * `autoscale` (JOBS.md §6.9, docs/jobs.md). Every `interval`, each such
 * program takes one step of core/autoscale over its queue (the jobs waiting
 * for its types, and those it holds) and its instances: up at once, down
 * only by stopping idle instances at the top of its slots (the ones `pack`
 * dispatch leaves idle). An operator's `scale` pins the count until
 * `drover autoscale PROGRAM on` (POST /autoscale/PROGRAM).
 *
 * It owns each program's window of wants and its timer (prog->scale); it
 * asks daemon/jobs for the queue and the pool to scale.
 */
#ifndef DROVER_JOBSCALE_H
#define DROVER_JOBSCALE_H

#include <stdbool.h>
#include <stdint.h>

struct supervisor;
struct program;

/* Start-up, after the job channel is open, and after each reload: each program's scaler
   made, remade (its policy changed) or dropped. Logs what it cannot do. */
void jobscale_reconfigured(struct supervisor *sup);
/* prog leaves the pool (before pool_program_free()). */
void jobscale_program_leaves(struct program *prog);
void jobscale_done(struct supervisor *sup);

/* An operator scaled prog: its count holds until jobscale_resume(). No-op without autoscale. */
void jobscale_pin(struct program *prog);
/* Autoscaling goes on for prog; false when prog has no autoscale. */
bool jobscale_resume(struct program *prog);

/* For /queues and /metrics: whether prog scales itself, its last want, its changes, pinned. */
struct jobscale_figures {
    bool enabled, pinned;
    unsigned desired;
    uint64_t ups, downs;
};
void jobscale_figures(const struct program *prog, struct jobscale_figures *ret);

#endif

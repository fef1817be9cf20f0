/*
 * launch: from "start this instance" to a running process: the port, the
 * templates, the environment, the stdio files, the spawn. Called by the
 * state machine's spawn effect; tells the pool (POOL_SPAWNED).
 */
#ifndef DROVER_LAUNCH_H
#define DROVER_LAUNCH_H

#include "core/svc.h"

struct supervisor;
struct instance;
struct program;

enum svc_spawn_result launch_instance(struct instance *in);
/* drover's environment minus what prog sets or drover reserves; at start-up. Returns 0 or -ENOMEM.
 */
int launch_env_base(struct program *prog);

#endif

/*
 * persist: the supervisor's side of --dumpfile: coalesced checkpoint writes
 * (os/afile), and at start-up the earlier drover's survivors stopped or
 * adopted (daemon/recover). All no-ops without a dumpfile.
 */
#ifndef DROVER_PERSIST_H
#define DROVER_PERSIST_H

#include <stdint.h>

#include "os/timer.h"

struct supervisor;
struct instance;
struct program;

struct survivors;
int persist_setup(struct supervisor *sup);
int persist_scan(struct supervisor *sup, struct survivors *ret); /* reads only */
void persist_act(struct supervisor *sup, struct survivors *s);   /* stops or adopts */
void persist_changed(struct supervisor *sup);
int persist_write(struct supervisor *sup);
void persist_timer_fired(struct timer *t, int64_t now_ms);

#endif

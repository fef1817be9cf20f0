/*
 * memcap: two samples in a row above memory_max make a restart. See memcap.h.
 */
#include "core/memcap.h"

void
memcap_reset(struct memcap *m)
{
    *m = (struct memcap){ 0 };
}

bool
memcap_sample(struct memcap *m, uint64_t bytes, uint64_t limit)
{
    m->bytes = bytes;
    m->samples++;
    if (limit == 0 || bytes <= limit) {
        m->over = 0;
        return false;
    }
    if (++m->over < MEMCAP_OVER_IN_A_ROW)
        return false;
    m->over = 0; /* one verdict per run of samples above: the restart takes a while */
    return true;
}

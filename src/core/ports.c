/*
 * ports: round-robin port allocator over a bitmap. See ports.h.
 */
#include "core/ports.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

uint32_t
ports_size(const struct ports *p)
{
    return p->from ? (uint32_t)(p->to - p->from) + 1 : 0;
}

int
ports_init(struct ports *p, uint16_t from, uint16_t to)
{
    *p = (struct ports){ .from = from, .to = to };
    if (!from)
        return 0;
    p->bits = calloc((ports_size(p) + 63) / 64, sizeof(uint64_t));
    return p->bits ? 0 : -ENOMEM;
}

void
ports_done(struct ports *p)
{
    free(p->bits);
    *p = (struct ports){ 0 };
}

static bool
is_taken(const struct ports *p, uint32_t off)
{
    return p->bits[off / 64] & (UINT64_C(1) << (off % 64));
}

static void
set_taken(struct ports *p, uint32_t off, bool taken)
{
    if (taken)
        p->bits[off / 64] |= UINT64_C(1) << (off % 64);
    else
        p->bits[off / 64] &= ~(UINT64_C(1) << (off % 64));
}

int
ports_take(struct ports *p, uint16_t *ret_port)
{
    uint32_t size = ports_size(p);

    if (p->in_use >= size)
        return -ENOSPC;
    /* O(range) in the worst case, O(1) while the range is mostly free. */
    for (uint32_t i = 0; i < size; i++) {
        uint32_t off = (p->cursor + i) % size;
        if (!is_taken(p, off)) {
            set_taken(p, off, true);
            p->in_use++;
            p->cursor = (off + 1) % size;
            *ret_port = (uint16_t)(p->from + off);
            return 0;
        }
    }
    return -ENOSPC;
}

int
ports_reserve(struct ports *p, uint16_t port)
{
    uint32_t off;

    if (!p->from || port < p->from || port > p->to)
        return -ERANGE;
    off = (uint32_t)(port - p->from);
    if (is_taken(p, off))
        return -EBUSY;
    set_taken(p, off, true);
    p->in_use++;
    /* Round robin continues after the highest reserved port, as if it had been taken last. */
    if (off + 1 > p->cursor)
        p->cursor = (off + 1) % ports_size(p);
    return 0;
}

void
ports_release(struct ports *p, uint16_t port)
{
    uint32_t off;

    if (!p->from || port < p->from || port > p->to)
        return;
    off = (uint32_t)(port - p->from);
    if (!is_taken(p, off))
        return;
    set_taken(p, off, false);
    p->in_use--;
}

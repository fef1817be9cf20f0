/*
 * pidmap: linear-probing hash of pids. See pidmap.h.
 */
#include "core/pidmap.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

static size_t
hash(pid_t pid, size_t mask)
{
    /* Fibonacci hashing: consecutive pids spread over the table. */
    return (size_t)(((uint32_t)pid * UINT32_C(2654435769)) >> 8) & mask;
}

int
pidmap_init(struct pidmap *m, size_t max_entries)
{
    size_t cap = 16;

    while (cap < 2 * max_entries)
        cap *= 2;
    *m = (struct pidmap){ .mask = cap - 1 };
    m->slots = calloc(cap, sizeof(*m->slots));
    return m->slots ? 0 : -ENOMEM;
}

int
pidmap_reserve(struct pidmap *m, size_t max_entries)
{
    struct pidmap bigger;
    int r;

    if (2 * max_entries <= m->mask + 1)
        return 0;
    if ((r = pidmap_init(&bigger, max_entries)) < 0)
        return r; /* m is untouched */
    for (size_t i = 0; i <= m->mask; i++)
        if (m->slots[i].pid)
            (void)pidmap_put(&bigger, m->slots[i].pid, m->slots[i].value);
    free(m->slots);
    *m = bigger;
    return 0;
}

void
pidmap_done(struct pidmap *m)
{
    free(m->slots);
    *m = (struct pidmap){ 0 };
}

int
pidmap_put(struct pidmap *m, pid_t pid, void *value)
{
    size_t i;

    if (pid <= 0)
        return -EINVAL;
    for (i = hash(pid, m->mask); m->slots[i].pid; i = (i + 1) & m->mask)
        if (m->slots[i].pid == pid)
            return -EEXIST;
    if (m->len + 1 > (m->mask + 1) / 2)
        return -ENOSPC;
    m->slots[i] = (struct pidmap_slot){ .pid = pid, .value = value };
    m->len++;
    return 0;
}

void *
pidmap_get(const struct pidmap *m, pid_t pid)
{
    for (size_t i = hash(pid, m->mask); m->slots[i].pid; i = (i + 1) & m->mask)
        if (m->slots[i].pid == pid)
            return m->slots[i].value;
    return NULL;
}

void *
pidmap_del(struct pidmap *m, pid_t pid)
{
    size_t i, j;
    void *value;

    if (pid <= 0)
        return NULL; /* 0 marks empty slots: it must never match one */
    for (i = hash(pid, m->mask); m->slots[i].pid != pid; i = (i + 1) & m->mask)
        if (!m->slots[i].pid)
            return NULL;
    value = m->slots[i].value;
    /* Backward shift: pull later entries of the probe run into the hole. */
    for (j = (i + 1) & m->mask; m->slots[j].pid; j = (j + 1) & m->mask) {
        size_t home = hash(m->slots[j].pid, m->mask);
        /* Move j into i unless its home lies cyclically in (i, j]. */
        if (((j - home) & m->mask) >= ((j - i) & m->mask)) {
            m->slots[i] = m->slots[j];
            i = j;
        }
    }
    m->slots[i] = (struct pidmap_slot){ 0 };
    m->len--;
    return value;
}

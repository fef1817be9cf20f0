/*
 * depgraph: the order programs start in, from their `after` lists.
 *
 * Pure. Node i starts after each node in nodes[i].after. A node's level is
 * 0 when it starts after nothing, else one more than the highest level of
 * what it starts after: every node of a level can start together once the
 * levels below are ready, and shutdown goes the other way, highest first.
 * A cycle has no levels; it is reported as the nodes along it, so that the
 * message can name the whole of it (a -> b -> c -> a).
 */
#ifndef DROVER_DEPGRAPH_H
#define DROVER_DEPGRAPH_H

#include <stddef.h>

struct depgraph_node {
    const size_t *after; /* indices of the nodes this one starts after */
    size_t nafter;
};

/*
 * Fills level[0..n). Returns 0; or -ELOOP with cycle[0..*ncycle) the nodes
 * of one cycle in order, each starting after the next and the last after
 * the first (cycle needs room for n); or -ENOMEM.
 */
int depgraph_levels(const struct depgraph_node *nodes, size_t n, unsigned *level, size_t *cycle,
                    size_t *ncycle);

#endif

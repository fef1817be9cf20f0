/*
 * depgraph: levels by an iterative depth-first walk, so that a long chain
 * of `after` (up to CFG_MAX_PROGRAMS) needs no deep recursion. See
 * depgraph.h.
 */
#include "core/depgraph.h"

#include <errno.h>
#include <stdlib.h>

enum mark { UNSEEN, ON_PATH, DONE };

struct frame {
    size_t node;
    size_t next; /* the next of its edges to follow */
};

int
depgraph_levels(const struct depgraph_node *nodes, size_t n, unsigned *level, size_t *cycle,
                size_t *ncycle)
{
    unsigned char *mark = calloc(n ? n : 1, 1);
    struct frame *path = malloc((n ? n : 1) * sizeof(*path)); /* at most n nodes on a path */
    int r = 0;

    if (!mark || !path) {
        r = -ENOMEM;
        goto out;
    }
    for (size_t root = 0; root < n && r == 0; root++) {
        size_t depth = 0;

        if (mark[root] != UNSEEN)
            continue;
        path[depth++] = (struct frame){ .node = root };
        mark[root] = ON_PATH;
        level[root] = 0;
        while (depth > 0) {
            struct frame *top = &path[depth - 1];
            const struct depgraph_node *node = &nodes[top->node];
            size_t dep;

            if (top->next == node->nafter) {
                /* Everything it starts after has its level: so has it. */
                mark[top->node] = DONE;
                depth--;
                if (depth > 0 && level[path[depth - 1].node] < level[top->node] + 1)
                    level[path[depth - 1].node] = level[top->node] + 1;
                continue;
            }
            dep = node->after[top->next++];
            if (mark[dep] == DONE) {
                if (level[top->node] < level[dep] + 1)
                    level[top->node] = level[dep] + 1;
            } else if (mark[dep] == UNSEEN) {
                mark[dep] = ON_PATH;
                level[dep] = 0;
                path[depth++] = (struct frame){ .node = dep };
            } else {
                /* Back to a node on the path: the path from there to here is a cycle. */
                size_t from = 0;

                while (path[from].node != dep)
                    from++;
                *ncycle = 0;
                for (size_t k = from; k < depth; k++)
                    cycle[(*ncycle)++] = path[k].node;
                r = -ELOOP;
                break;
            }
        }
    }
out:
    free(mark);
    free(path);
    return r;
}

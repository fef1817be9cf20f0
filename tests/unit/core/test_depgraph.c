/*
 * test_depgraph: levels of the `after` graph (src/core/depgraph.c): no
 * edges, a chain, a diamond (the longest path decides), several roots, a
 * long chain (no recursion limit), and cycles (a self-loop, a triangle,
 * a cycle reached from outside it), each reported as the whole cycle.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>

#include "core/depgraph.h"
#include "core/util.h"

#define N_MAX 8

/* A graph written as after lists: edges[i] ends with -1. */
struct graph {
    size_t n;
    int edges[N_MAX][N_MAX];
};

static int
levels_of(const struct graph *g, unsigned *level, size_t *cycle, size_t *ncycle)
{
    size_t after[N_MAX][N_MAX];
    struct depgraph_node nodes[N_MAX];

    for (size_t i = 0; i < g->n; i++) {
        size_t k = 0;
        for (; g->edges[i][k] >= 0; k++)
            after[i][k] = (size_t)g->edges[i][k];
        nodes[i] = (struct depgraph_node){ .after = after[i], .nafter = k };
    }
    return depgraph_levels(nodes, g->n, level, cycle, ncycle);
}

static void
no_edges_all_level_zero(void **state)
{
    const struct graph g = { 3, { { -1 }, { -1 }, { -1 } } };
    unsigned level[N_MAX];
    size_t cycle[N_MAX], ncycle = 0;
    (void)state;

    assert_int_equal(levels_of(&g, level, cycle, &ncycle), 0);
    for (size_t i = 0; i < g.n; i++)
        assert_int_equal(level[i], 0);
}

static void
chain_and_diamond(void **state)
{
    /* 0 after 1, 1 after 2: levels 2, 1, 0. Then a diamond: 3 after 4 and 5, 4 after 5. */
    const struct graph g = { 6, { { 1, -1 }, { 2, -1 }, { -1 }, { 4, 5, -1 }, { 5, -1 }, { -1 } } };
    unsigned level[N_MAX];
    size_t cycle[N_MAX], ncycle = 0;
    (void)state;

    assert_int_equal(levels_of(&g, level, cycle, &ncycle), 0);
    assert_int_equal(level[0], 2);
    assert_int_equal(level[1], 1);
    assert_int_equal(level[2], 0);
    assert_int_equal(level[3], 2); /* the longer way, through 4, decides */
    assert_int_equal(level[4], 1);
    assert_int_equal(level[5], 0);
}

/* A node already finished when a later root reaches it keeps its level. */
static void
shared_dependency_seen_twice(void **state)
{
    const struct graph g = { 4, { { -1 }, { 0, -1 }, { 1, -1 }, { 0, 2, -1 } } };
    unsigned level[N_MAX];
    size_t cycle[N_MAX], ncycle = 0;
    (void)state;

    assert_int_equal(levels_of(&g, level, cycle, &ncycle), 0);
    assert_int_equal(level[0], 0);
    assert_int_equal(level[1], 1);
    assert_int_equal(level[2], 2);
    assert_int_equal(level[3], 3);
}

static void
long_chain(void **state)
{
    enum { N = 1000 };
    struct depgraph_node *nodes = calloc(N, sizeof(*nodes));
    size_t *after = calloc(N, sizeof(*after));
    unsigned *level = calloc(N, sizeof(*level));
    size_t *cycle = calloc(N, sizeof(*cycle)), ncycle = 0;
    (void)state;

    assert_non_null(nodes);
    assert_non_null(after);
    assert_non_null(level);
    assert_non_null(cycle);
    for (size_t i = 0; i + 1 < N; i++) {
        after[i] = i + 1;
        nodes[i] = (struct depgraph_node){ .after = &after[i], .nafter = 1 };
    }
    assert_int_equal(depgraph_levels(nodes, N, level, cycle, &ncycle), 0);
    assert_int_equal(level[0], N - 1);
    assert_int_equal(level[N - 1], 0);
    /* Closing it makes one cycle of all N. */
    after[N - 1] = 0;
    nodes[N - 1] = (struct depgraph_node){ .after = &after[N - 1], .nafter = 1 };
    assert_int_equal(depgraph_levels(nodes, N, level, cycle, &ncycle), -ELOOP);
    assert_int_equal(ncycle, N);
    free(nodes);
    free(after);
    free(level);
    free(cycle);
}

static void
self_loop(void **state)
{
    const struct graph g = { 2, { { -1 }, { 1, -1 } } };
    unsigned level[N_MAX];
    size_t cycle[N_MAX], ncycle = 0;
    (void)state;

    assert_int_equal(levels_of(&g, level, cycle, &ncycle), -ELOOP);
    assert_int_equal(ncycle, 1);
    assert_int_equal(cycle[0], 1);
}

/* 0 after 1, 1 after 2, 2 after 3, 3 after 1: the cycle is 1 -> 2 -> 3 (-> 1), not 0. */
static void
cycle_reached_from_outside(void **state)
{
    const struct graph g = { 4, { { 1, -1 }, { 2, -1 }, { 3, -1 }, { 1, -1 } } };
    unsigned level[N_MAX];
    size_t cycle[N_MAX], ncycle = 0;
    (void)state;

    assert_int_equal(levels_of(&g, level, cycle, &ncycle), -ELOOP);
    assert_int_equal(ncycle, 3);
    assert_int_equal(cycle[0], 1);
    assert_int_equal(cycle[1], 2);
    assert_int_equal(cycle[2], 3);
}

static void
empty_graph(void **state)
{
    size_t ncycle = 0;
    (void)state;

    assert_int_equal(depgraph_levels(NULL, 0, NULL, NULL, &ncycle), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_edges_all_level_zero),
        cmocka_unit_test(chain_and_diamond),
        cmocka_unit_test(shared_dependency_seen_twice),
        cmocka_unit_test(long_chain),
        cmocka_unit_test(self_loop),
        cmocka_unit_test(cycle_reached_from_outside),
        cmocka_unit_test(empty_graph),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

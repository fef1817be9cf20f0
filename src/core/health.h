/*
 * health: is the pool healthy? A pure function of the instances' states.
 *
 * The sergeant definition: an instance is unhealthy when it is silent
 * beyond T (it has not polled for work within T), failing its health
 * checks, or not running when it should be (backoff, fatal); the pool is
 * healthy when at most X instances are unhealthy. X and T come from the
 * caller (the HTTP probe's query, `drover health` flags). No I/O here.
 */
#ifndef DROVER_HEALTH_H
#define DROVER_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/svc.h"

/* What the function needs to know about one instance. */
struct health_view {
    enum svc_state state;
    bool want_up;
    int64_t silent_ms;  /* time since its last beat (or spawn); -1 when it does not beat */
    bool check_failing; /* its health checks are failing */
    int64_t
        silence_limit_ms; /* > 0: this instance's own T (its program's default); 0: the call's T */
};

enum health_reason {
    HEALTH_OK,
    HEALTH_SILENT,
    HEALTH_CHECK_FAILING,
    HEALTH_NOT_RUNNING,
    HEALTH__MAX,
    HEALTH_INVALID = -1,
};

struct health_result {
    bool healthy;
    unsigned instances, running, silent, backoff, fatal, failing, unhealthy;
};

/* Why v is unhealthy under silence_ms, or HEALTH_OK. */
enum health_reason health_judge(const struct health_view *v, int64_t silence_ms);

/*
 * Judges n instances; healthy when at most max_unhealthy are unhealthy.
 * reasons (optional, n entries) receives each instance's verdict.
 */
void health_evaluate(const struct health_view *v, size_t n, unsigned max_unhealthy,
                     int64_t silence_ms, struct health_result *ret, enum health_reason *reasons);

const char *health_reason_name(enum health_reason r);

#endif

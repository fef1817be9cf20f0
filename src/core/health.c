/*
 * health: the pool health verdict. See health.h.
 */
#include "core/health.h"

enum health_reason
health_judge(const struct health_view *v, int64_t silence_ms)
{
    /* Not running when it should be: waiting to restart, or given up on. */
    if (v->want_up && (v->state == SVC_BACKOFF || v->state == SVC_FATAL))
        return HEALTH_NOT_RUNNING;
    if (!svc_has_process(v->state))
        return HEALTH_OK; /* stopped or exited as asked: nothing to be sick */
    if (v->check_failing)
        return HEALTH_CHECK_FAILING;
    if (v->silence_limit_ms > 0)
        silence_ms = v->silence_limit_ms;
    if (v->silent_ms >= 0 && v->silent_ms > silence_ms)
        return HEALTH_SILENT;
    return HEALTH_OK;
}

void
health_evaluate(const struct health_view *v, size_t n, unsigned max_unhealthy, int64_t silence_ms,
                struct health_result *ret, enum health_reason *reasons)
{
    struct health_result r = { .instances = (unsigned)n };

    for (size_t i = 0; i < n; i++) {
        enum health_reason why = health_judge(&v[i], silence_ms);

        if (v[i].state == SVC_RUNNING)
            r.running++;
        else if (v[i].state == SVC_BACKOFF)
            r.backoff++;
        else if (v[i].state == SVC_FATAL)
            r.fatal++;
        if (why == HEALTH_SILENT)
            r.silent++;
        if (why == HEALTH_CHECK_FAILING)
            r.failing++;
        if (why != HEALTH_OK)
            r.unhealthy++;
        if (reasons)
            reasons[i] = why;
    }
    r.healthy = r.unhealthy <= max_unhealthy;
    *ret = r;
}

const char *
health_reason_name(enum health_reason r)
{
    switch (r) {
    case HEALTH_OK:
        return "ok";
    case HEALTH_SILENT:
        return "silent";
    case HEALTH_CHECK_FAILING:
        return "check failing";
    case HEALTH_NOT_RUNNING:
        return "not running";
    case HEALTH__MAX:
    case HEALTH_INVALID:
        break;
    }
    return "invalid";
}

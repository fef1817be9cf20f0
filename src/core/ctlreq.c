/*
 * ctlreq: a control call's request, read. See ctlreq.h.
 */
#include "core/ctlreq.h"

#include <string.h>

static const char *const verb_names[CTLREQ__MAX] = {
    [CTLREQ_START] = "start",         [CTLREQ_STOP] = "stop",   [CTLREQ_RESTART] = "restart",
    [CTLREQ_SIGNAL] = "signal",       [CTLREQ_SCALE] = "scale", [CTLREQ_SHUTDOWN] = "shutdown",
    [CTLREQ_RELOAD] = "reload",       [CTLREQ_APPLY] = "apply", [CTLREQ_CONFIG] = "config",
    [CTLREQ_AUTOSCALE] = "autoscale",
};

const char *
ctlreq_verb_name(enum ctlreq_verb v)
{
    return v >= 0 && v < CTLREQ__MAX ? verb_names[v] : "";
}

enum ctlreq_verb
ctlreq_parse_url(const char *url, const char **ret_target)
{
    if (url[0] != '/')
        return CTLREQ_NONE;
    for (int v = 0; v < CTLREQ__MAX; v++) {
        size_t n = strlen(verb_names[v]);

        if (strncmp(url + 1, verb_names[v], n) != 0)
            continue;
        if (url[1 + n] == '\0' || url[1 + n] == '/') {
            *ret_target = url[1 + n] ? url + 2 + n : "";
            return (enum ctlreq_verb)v;
        }
    }
    return CTLREQ_NONE;
}

/* s[0..len) as a decimal number within CTLREQ_NUMBER_MAX, one spelling each. */
static bool
number(const char *s, size_t len, unsigned *ret)
{
    unsigned v = 0;

    if (len == 0 || len > 9 || (len > 1 && s[0] == '0'))
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *ret = v;
    return true;
}

bool
ctlreq_parse_target(const char *target, struct ctlreq_target *ret)
{
    const char *colon = strchr(target, ':');

    if (strcmp(target, "all") == 0) {
        *ret = (struct ctlreq_target){ .kind = CTLREQ_ALL, .name = target, .name_len = 3 };
        return true;
    }
    if (!colon) {
        *ret = (struct ctlreq_target){ .kind = CTLREQ_PROGRAM,
                                       .name = target,
                                       .name_len = strlen(target) };
        return true;
    }
    *ret = (struct ctlreq_target){ .kind = CTLREQ_INSTANCE,
                                   .name = target,
                                   .name_len = (size_t)(colon - target) };
    return number(colon + 1, strlen(colon + 1), &ret->index);
}

bool
ctlreq_parse_count(const char *s, unsigned *ret)
{
    return s && number(s, strlen(s), ret);
}

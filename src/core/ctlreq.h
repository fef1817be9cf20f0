/*
 * ctlreq: what a control call's request says, before anything is done
 * (api/control.c carries it out; docs/control.md): the verb and target of
 * its path, the target's kind, and the instance count of a scale.
 *
 * Pure, and strict: a path is "/VERB" or "/VERB/TARGET"; a target is "all",
 * a program name, or "PROGRAM:INDEX" with INDEX decimal digits only (no
 * sign, no space, no leading zero but "0", at most 9 digits); a count is
 * decimal digits only, at most 9. Whatever is not that is refused, so two
 * spellings never name one instance. Fuzzed (tests/fuzz/fuzz_ctlreq.c).
 */
#ifndef DROVER_CTLREQ_H
#define DROVER_CTLREQ_H

#include <stdbool.h>
#include <stddef.h>

enum ctlreq_verb {
    CTLREQ_START,
    CTLREQ_STOP,
    CTLREQ_RESTART,
    CTLREQ_SIGNAL,
    CTLREQ_SCALE,
    CTLREQ_SHUTDOWN,
    CTLREQ_RELOAD,    /* the file again */
    CTLREQ_APPLY,     /* a configuration in the body, from the CLI */
    CTLREQ_CONFIG,    /* PUT /config: the same, from the layer above */
    CTLREQ_AUTOSCALE, /* /autoscale/PROGRAM: queue-depth scaling goes on after a manual scale */
    CTLREQ__MAX,
    CTLREQ_NONE = -1,
};

enum ctlreq_kind {
    CTLREQ_ALL,      /* "all" */
    CTLREQ_PROGRAM,  /* "NAME" */
    CTLREQ_INSTANCE, /* "NAME:INDEX" */
};

struct ctlreq_target {
    enum ctlreq_kind kind;
    const char *name; /* into the target; not NUL-terminated at name_len */
    size_t name_len;
    unsigned index; /* CTLREQ_INSTANCE */
};

#define CTLREQ_NUMBER_MAX 999999999u /* 9 digits: an index or a count */

/* The verb's name ("start"...). */
const char *ctlreq_verb_name(enum ctlreq_verb v);
/* The verb of url ("/VERB" or "/VERB/..."), *ret_target what follows "/VERB/" ("" none);
   CTLREQ_NONE: not a control call. */
enum ctlreq_verb ctlreq_parse_url(const char *url, const char **ret_target);
/* target (non-empty) into *ret; false: "NAME:" followed by anything but an index. */
bool ctlreq_parse_target(const char *target, struct ctlreq_target *ret);
/* A scale's ?instances=N; false: absent, empty, or not decimal digits within the maximum. */
bool ctlreq_parse_count(const char *s, unsigned *ret);

#endif

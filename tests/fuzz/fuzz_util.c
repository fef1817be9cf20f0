/*
 * fuzz_util: the string parsers of util.h (durations, signals, port ranges),
 * all three on one NUL-terminated copy of the input. Config strings are at
 * most CFG_MAX_STRING bytes, so longer inputs are cut there. Out-parameters
 * must be written only on success and only with values in range.
 */
#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/cfg.h"
#include "core/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int64_t ms = -1;
    int sig = -1;
    uint16_t from = 0, to = 0;
    char *s;
    int r;

    if (size > CFG_MAX_STRING)
        size = CFG_MAX_STRING;
    s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';

    r = util_parse_duration_ms(s, &ms);
    assert(r == 0 || r == -EINVAL || r == -ERANGE);
    assert(r == 0 ? ms >= 0 && ms <= UTIL_DURATION_MAX_MS : ms == -1);

    r = util_parse_signal(s, &sig);
    assert(r == 0 || r == -EINVAL);
    assert(r == 0 ? sig >= 1 && sig <= SIGRTMAX : sig == -1);

    r = util_parse_port_range(s, &from, &to);
    assert(r == 0 || r == -EINVAL);
    assert(r == 0 ? from >= 1 && from <= to : from == 0 && to == 0);

    free(s);
    return 0;
}

/*
 * notify_msg: one datagram of the systemd notification protocol
 * (sd_notify(3)) as drover understands it: newline-separated KEY=VALUE
 * assignments into a struct whose strings are borrowed from the datagram
 * buffer. Pure: the text is untrusted (any process that can reach the
 * socket writes it), so it is unit-tested (test_notify_msg) and fuzzed
 * (fuzz_notify_msg). os/notify receives the datagrams.
 */
#ifndef DROVER_NOTIFY_MSG_H
#define DROVER_NOTIFY_MSG_H

#include <stdbool.h>
#include <stddef.h>

#define NOTIFY_STATUS_MAX 256 /* longer STATUS= texts are cut */

struct notify_msg {
    bool ready;            /* READY=1 */
    bool watchdog;         /* WATCHDOG=1 */
    bool watchdog_trigger; /* WATCHDOG=trigger: the worker says it is broken */
    bool stopping;         /* STOPPING=1 */
    bool has_status;
    const char *status; /* STATUS=..., borrowed, status_len bytes, not NUL-terminated */
    size_t status_len;
    bool has_errno;
    int errno_value; /* ERRNO=n */
};

/*
 * Parses one datagram. Unknown keys are ignored (the protocol grows).
 * Returns 0, or -EINVAL for a malformed one: empty, a NUL byte, a line
 * without '=', or a known key with a value outside the protocol.
 */
int notify_parse(const char *buf, size_t len, struct notify_msg *ret);

#endif

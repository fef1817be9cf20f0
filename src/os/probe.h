/*
 * probe: readiness probes and health checks, one attempt at a time per
 * instance, none of them blocking the loop.
 *
 * tcp: a non-blocking connect, watched for EPOLLOUT. http: the same, then
 * "GET path HTTP/1.0" and the status line (2xx and 3xx pass). command: a
 * process spawned like an instance (own session, stdio on /dev/null), its
 * pidfd in the loop; exit code 0 passes. Every attempt has a deadline; a
 * command past it is SIGKILLed with its group. Addresses are numeric (IPv4,
 * IPv6, or "localhost", parsed by core/probe_spec): no DNS lookup can stall
 * supervision.
 *
 * This is I/O only, and reports through a callback. No logging except
 * through the callback.
 */
#ifndef DROVER_PROBE_H
#define DROVER_PROBE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "core/probe_spec.h"
#include "os/loop.h"
#include "os/timer.h"

struct probe_run;
/* passed: the attempt succeeded; why: a short reason when it did not (static or run-owned). */
typedef void (*probe_done_fn)(struct probe_run *run, bool passed, const char *why);

enum probe_phase { PROBE_CONNECTING, PROBE_SENDING, PROBE_RECEIVING };

struct probe_run {
    struct loop_source src; /* the socket or the command's pidfd; fd -1 idle */
    enum probe_kind kind;
    enum probe_phase phase; /* network attempts */
    pid_t pid;              /* command: its pid until reaped */
    bool busy;              /* an attempt is running (a timed-out command may still be draining) */
    bool reported;          /* the callback ran for this attempt */
    struct timer deadline;
    probe_done_fn done;
    char buf[512]; /* http: the request, then the response's first bytes */
    size_t len, sent;
    char why[128];
};

/* on_ready: the owner's callback for run->src, which calls probe_ready() (it has the loop). */
void probe_run_init(struct probe_run *run, probe_done_fn done, timer_fn on_deadline,
                    loop_fn on_ready);
/* Starts a network attempt. Returns 0 (the callback will run) or -errno (it will not). */
int probe_start_net(struct probe_run *run, struct loop *l, struct timers *ts, enum probe_kind kind,
                    const struct probe_addr *addr, int64_t timeout_ms);
/* Takes over a spawned command (its pidfd and pid) as the attempt. */
int probe_start_command(struct probe_run *run, struct loop *l, struct timers *ts, pid_t pid,
                        int pidfd, int64_t timeout_ms);
/* The source became ready. */
void probe_ready(struct probe_run *run, struct loop *l, struct timers *ts);
/* The command was reaped elsewhere (the SIGCHLD sweep) with this status. */
void probe_reaped(struct probe_run *run, struct loop *l, struct timers *ts, int code, int status);
/* The deadline passed: fail the attempt (a command is SIGKILLed and left to be reaped). */
void probe_expired(struct probe_run *run, struct loop *l, struct timers *ts);
/* Abandons any attempt without a report (the instance went away). */
void probe_cancel(struct probe_run *run, struct loop *l, struct timers *ts);

#endif

#!/usr/bin/python3
"""Idle wake-ups with jobs configured: drover's context switches while its job workers wait.

drover (memory store, HTTP on) runs a program of 2 instances of bin/job_worker that has
"jobs". Once both have said HELLO and asked for work (GET /status: ready, and two jobs
each answered), drover's voluntary + nonvoluntary context switches (/proc/PID/status, all
threads) and CPU time are read right after the last HTTP request, 6 s later (past the
HTTP request timeout's timer), and 10 s after that (--quick: 2 s). Nothing is submitted
or asked in those windows. As in bench/idle_wakeups.py, every
wake-up of an idle drover is a context switch. The workers' own switches are shown too
(the C library beats, in shared memory, at least once a second while it waits).

Two configurations, two drovers side by side:
  ping off       "jobs": {"ping": false}
  ping default   "jobs": {} (ping on, idle 10 min: no PING is due in the window)

    /usr/bin/python3 bench/jobs_idle.py [--quick]
"""
import contextlib
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402
import jobs_common as jc  # noqa: E402

N = 2
SETTLE_S = 6.0  # > the HTTP request timeout (5 s), whose timer may fire once after the last request
CONFIGS = (("ping off", {"ping": False}), ("ping default", {}))


def start(stack, label, jobs, tmp, problems):
    prog = bl.program("w", [jc.JOB_WORKER], instances=N, max_instances=N, jobs=jobs)
    d = stack.enter_context(jc.JobsDrover(tmp, [prog], {"store": "memory"}, tag="idle-" + label.split()[1]))
    return d


def warm(label, d, problems):
    """Both instances ready and each has answered a job. Returns their pids, or None."""
    ok = bl.wait_until(lambda: sum(1 for i in d.instances("w") if i.get("ready") and i.get("pid")) == N,
                       20, 0.05)
    if not ok:
        problems.append(f"{label}: {N} instances not ready within 20 s\n{d.log_text(1500)}")
        return None
    for k in range(2 * N):
        st, j = d.post_json("/jobs?wait=10", {"type": "w", "payload": f"warm{k}"})
        if st != 200:
            problems.append(f"{label}: warm-up job: HTTP {st} {str(j)[:200]}")
    return [i["pid"] for i in d.instances("w")]  # the last HTTP request before the windows


def sample(d, pids):
    return jc.switches_all(d.pid), jc.cpu_ns_all(d.pid), [jc.switches(p) for p in pids], time.monotonic()


def delta(label, window, a, b):
    (s0, c0, w0, t0), (s1, c1, w1, t1) = a, b
    if s0 is None or s1 is None:
        return None
    wk = None
    if all(w0) and all(w1):
        wk = sum((y[0] + y[1]) - (x[0] + x[1]) for x, y in zip(w0, w1))
    return {"label": label, "window": window, "secs": t1 - t0, "vol": s1[0] - s0[0], "nonvol": s1[1] - s0[1],
            "cpu_us": (c1 - c0) / 1000 if c0 is not None and c1 is not None else None, "workers": wk}


def main():
    args = bl.parse_args(__doc__.splitlines()[0])
    jc.require_tools([bl.DROVER_BIN, bl.PINGER, bl.SLEEPER, jc.JOB_WORKER])
    bl.term_to_exit()
    bl.become_subreaper()
    interval = 2.0 if args.quick else 10.0
    print(f"jobs_idle ({'quick' if args.quick else 'full'}): two drovers side by side, each with {N} idle "
          f"job_worker instances; windows: {SETTLE_S:g} s after the last HTTP request, then {interval:g} s")
    problems, rows = [], []
    with bl.TempDir() as tmp:
        print(bl.host_line())
        with contextlib.ExitStack() as stack:
            ds = [(label, start(stack, label, jobs, tmp, problems)) for label, jobs in CONFIGS]
            pids = {label: warm(label, d, problems) for label, d in ds}
            live = [(label, d) for label, d in ds if pids[label]]
            a = {label: sample(d, pids[label]) for label, d in live}
            time.sleep(SETTLE_S)
            b = {label: sample(d, pids[label]) for label, d in live}
            time.sleep(interval)
            c = {label: sample(d, pids[label]) for label, d in live}
            for label, d in live:
                st = bl.pid_state(d.pid)
                for w, x, y in ((f"first {SETTLE_S:g} s", a, b), (f"next {interval:g} s", b, c)):
                    r = delta(label, w, x[label], y[label])
                    if r is None:
                        problems.append(f"{label}: could not read /proc/{d.pid}/status")
                        continue
                    r["state"] = st
                    rows.append(r)
                now = [i.get("pid") for i in d.instances("w")]
                if now != pids[label]:
                    problems.append(f"{label}: instance pids changed: {pids[label]} -> {now}")
                warn = [ln for ln in d.log_text(1 << 20).splitlines() if " warn" in ln or " error" in ln]
                if warn:
                    problems.append(f"{label}: {len(warn)} warning/error log line(s), first: {warn[0]}")
    table = [[r["label"], r["window"], bl.fmt_num(r["secs"], 1), bl.fmt_num(r["vol"]), bl.fmt_num(r["nonvol"]),
              bl.fmt_num(r["vol"] + r["nonvol"]), bl.fmt_num(r["cpu_us"], 0), r["state"],
              bl.fmt_num(r["workers"])] for r in rows]
    bl.print_table(f"drover context switches while {N} job workers wait for work",
                   ["config", "window", "s", "voluntary", "nonvoluntary", "total", "CPU us", "state",
                    "workers' switches"], table,
                   ["", "Expected in the later window: total 0 (drover sleeps in epoll_wait; no PING is due within",
                    "10 min of idleness). The first window starts at the last HTTP request (GET /status): the",
                    "HTTP server's one request-timeout timer (5 s) may fire once for nothing in it, by design",
                    "(src/api/http_conn.c). workers' switches: both job_worker processes, their own waiting."])
    bl.print_problems(problems)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Redelivery: SIGKILL of the worker holding a job -> the job running again on another instance.

drover runs 3 instances of tests/helpers/job_test_worker.py (Python, concurrency 1). Each
round submits one job "sleep 30", waits (GET /jobs/events long-poll) until it is running,
finds the instance holding it in GET /status ("job": [ids], "pid"), SIGKILLs that pid (a
child of drover's, checked), and follows the job's events until attempt 2 is running on
another instance. Then the job is cancelled and the killed instance's replacement awaited
before the next round.

Two configurations, each its own drover: jobs.backoff 0 (the mechanism alone), and the default
backoff (1 s, jitter 0.2), which a worker_lost retry does not wait (it did before a fix).

Figures per kill, from the kill (time.time() just before kill(2)):
  retry_wait   drover's event time_ms of running -> retry_wait (worker_lost): the death seen
  waiting      ... of retry_wait -> waiting: the backoff over
  dispatched   ... of waiting -> dispatched, attempt 2: the JOB frame sent to another instance
  running      ... of dispatched -> running, attempt 2: the new worker said START
and "seen": time.monotonic() when the long-poll answer with that running event arrived
(an upper bound, through HTTP). time_ms is CLOCK_REALTIME in whole milliseconds, so the
first three are +-1 ms.

    /usr/bin/python3 bench/jobs_redelivery.py [--quick]
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402
import jobs_common as jc  # noqa: E402

INSTANCES = 3


class Events:
    """Follows GET /jobs/events from a sequence number; long-polls with wait=."""

    def __init__(self, d):
        self.d = d
        st, body = d.get_json("/jobs/events?since=0")
        self.next = body["next"] if st == 200 and body else 0
        self.gaps = 0

    def until(self, pred, timeout):
        """Reads events until pred(event) is true: (event, monotonic when read), or (None, None)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            wait = max(1, min(5, int(deadline - time.monotonic())))
            st, body = self.d.get_json(f"/jobs/events?since={self.next}&wait={wait}", timeout=wait + 5)
            seen = time.monotonic()
            if st != 200 or not body:
                time.sleep(0.05)
                continue
            if body.get("gap"):
                self.gaps += 1
            self.next = body.get("next", self.next)
            for ev in body.get("events", []):
                if pred(ev):
                    return ev, seen
        return None, None


def one_round(d, ev, problems):
    """One kill. Returns a dict of ms figures or None (the reason in problems)."""
    st, job = d.post_json("/jobs", {"type": "p", "payload": "sleep 30", "attempts": 5})
    if st != 201 or not job:
        problems.append(f"submit: HTTP {st} {str(job)[:200]}")
        return None
    jid = job["id"]
    e, _ = ev.until(lambda x: x["id"] == jid and x["to"] == "running", 10)
    if e is None:
        problems.append(f"job {jid} not running within 10 s")
        return None
    holder = [i for i in d.instances("p") if jid in (i.get("job") or [])]
    if len(holder) != 1 or not holder[0].get("pid"):
        problems.append(f"job {jid}: {len(holder)} instances hold it in /status")
        return None
    pid, inst = holder[0]["pid"], holder[0]["instance"]
    if bl.ppid_of(pid) != d.pid:
        problems.append(f"pid {pid} is not drover's child; not killed")
        return None
    t_kill_wall = time.time()
    t_kill = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    out = {"instance": inst}
    marks = {}

    def pred(x):
        if x["id"] != jid:
            return False
        if x["to"] == "retry_wait" and "retry_wait" not in marks:
            marks["retry_wait"] = x
        if x["to"] == "waiting" and x.get("from") == "retry_wait":
            marks["waiting"] = x
        if x.get("attempt") == 2 and x["to"] == "dispatched":
            marks["dispatched"] = x
        return x.get("attempt") == 2 and x["to"] == "running"
    e, seen = ev.until(pred, 10)
    if e is None:
        problems.append(f"job {jid}: attempt 2 not running within 10 s of the kill of pid {pid}; "
                        f"events seen: {sorted(marks)}")
        return None
    marks["running"] = e
    for k, x in marks.items():
        out[k] = x["time_ms"] - t_kill_wall * 1000.0
    out["seen"] = (seen - t_kill) * 1000.0
    out["new_instance"] = e.get("instance")
    out["same_slot"] = out["new_instance"] == f"p:{inst}"  # the killed slot's new process
    out["cause"] = marks.get("retry_wait", {}).get("cause")
    # tidy up: cancel the job, wait until the killed slot runs a new ready process
    d.post_json(f"/jobs/{jid}/cancel", {})
    ev.until(lambda x: x["id"] == jid and x["to"] in ("cancelled", "failed", "success"), 10)
    ok = bl.wait_until(lambda: sum(1 for i in d.instances("p") if i.get("ready") and i.get("pid")
                                   and not i.get("job")) == INSTANCES, 10, 0.02)
    if not ok:
        problems.append(f"after round of job {jid}: not all {INSTANCES} instances idle and ready within 10 s")
        return out if "running" in out else None
    return out


CONFIGS = (
    ("backoff 0", {"initial": 0, "max": 0, "jitter": 0}),
    ("default backoff", None),  # 1 s, factor 2, jitter 0.2: what a program gets unless it says
)


def run_config(tmp, label, backoff, kills, budget, problems):
    jobs = {"concurrency": 1, "attempts": 5, "max_worker_kills": 0, "cancel_grace": "5s"}
    if backoff:
        jobs["backoff"] = backoff
    prog = bl.program("p", [jc.PYTHON, jc.PY_TEST_WORKER], instances=INSTANCES, max_instances=INSTANCES,
                      jobs=jobs)
    samples = []
    tag = "redeliver-" + label.split()[0]
    with jc.JobsDrover(tmp, [prog], {"store": "memory"}, tag=tag) as d:
        ok = bl.wait_until(lambda: sum(1 for i in d.instances("p") if i.get("ready") and i.get("pid"))
                           == INSTANCES, 20, 0.05)
        if not ok:
            problems.append(f"{label}: the {INSTANCES} instances did not start within 20 s\n{d.log_text(1500)}")
            return samples
        ev = Events(d)
        deadline = time.monotonic() + budget
        for _ in range(kills):
            if time.monotonic() >= deadline:
                problems.append(f"{label}: time budget reached")
                break
            pr = []
            r = one_round(d, ev, pr)
            problems.extend(f"{label}: {p}" for p in pr)
            if r is None:
                break
            samples.append(r)
        if ev.gaps:
            problems.append(f"{label}: {ev.gaps} event answer(s) said gap: true")
        if not d.alive():
            problems.append(f"{label}: drover died\n{d.log_text(1500)}")
        warn = [ln for ln in d.log_text(1 << 20).splitlines() if " error" in ln]
        if warn:
            problems.append(f"{label}: {len(warn)} error log line(s), first: {warn[0]}")
    return samples


def main():
    args = bl.parse_args(__doc__.splitlines()[0])
    jc.require_tools([bl.DROVER_BIN, bl.PINGER, bl.SLEEPER, jc.PYTHON])
    if not os.access(jc.PY_TEST_WORKER, os.R_OK):
        print(f"missing: {jc.PY_TEST_WORKER}", file=sys.stderr)
        return 1
    bl.term_to_exit()
    bl.become_subreaper()
    plan = {"backoff 0": (5, 6.0), "default backoff": (3, 6.0)} if args.quick else \
        {"backoff 0": (20, 20.0), "default backoff": (20, 32.0)}
    print(f"jobs_redelivery ({'quick' if args.quick else 'full'}): {INSTANCES} instances of "
          f"job_test_worker.py; kills: " + ", ".join(f"{k} {v[0]}" for k, v in plan.items()))
    problems, results = [], {}
    with bl.TempDir() as tmp:
        print(bl.host_line())
        for label, backoff in CONFIGS:
            kills, budget = plan[label]
            results[label] = run_config(tmp, label, backoff, kills, budget, problems)
    rows = []
    for label, _ in CONFIGS:
        samples = results[label]
        for key, what in (("retry_wait", "kill -> retry_wait (death seen)"),
                          ("waiting", "kill -> waiting again (backoff over)"),
                          ("dispatched", "kill -> dispatched, attempt 2"),
                          ("running", "kill -> running, attempt 2"),
                          ("seen", "kill -> client has the running event")):
            xs = [s[key] for s in samples if key in s]
            if not xs:
                rows.append([f"{label}: {what}", 0, "-", "-", "-", "-"])
                continue
            rows.append([f"{label}: {what}", len(xs), bl.fmt_num(bl.median(xs), 2), bl.fmt_num(bl.percentile(xs, 90), 2),
                         bl.fmt_num(max(xs), 2), bl.fmt_num(min(xs), 2)])
    causes = sorted({s.get("cause") for v in results.values() for s in v if s.get("cause")})
    bl.print_table("SIGKILL of the worker holding a running job -> redelivered, milliseconds",
                   ["config: step", "kills", "median", "p90", "max", "min"], rows,
                   ["", "All but the last: drover's event time_ms (CLOCK_REALTIME, whole ms: +-1 ms) minus the",
                    "kill time (time.time() before kill(2)); the last: time.monotonic() when GET /jobs/events",
                    "answered with it. A worker_lost retry waits no backoff (a worker's FAIL does).",
                    "Target: < 5 ms. Anchors: BullMQ's stalled-job check every 30 s,",
                    "Celery's visibility timeout 1 h (Redis/SQS transports) before such a job runs again.",
                    f"retry_wait cause: {'; '.join(causes) if causes else '-'}"] +
                   [f"{label}: attempt 2 ran in the killed instance's slot (its new process) in "
                    f"{sum(1 for s in results[label] if s.get('same_slot'))} of {len(results[label])} kills"
                    for label, _ in CONFIGS])
    bl.print_problems(problems)
    return 0


if __name__ == "__main__":
    sys.exit(main())

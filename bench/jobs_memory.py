#!/usr/bin/python3
"""Memory per queued job: drover's RSS before and after 10,000 and 100,000 waiting jobs.

drover runs one program "m" with "jobs": {} whose instance is /bin/sleep 1000: it never
says HELLO, so every job submitted stays `waiting`. Jobs are submitted with POST /jobs
(no wait; 16-byte payload, drover's own UUID ids) over 4 keep-alive http.client
connections. VmRSS and RssAnon of drover (/proc/PID/status) are read after start-up and
a warm-up of the HTTP server (GET /status, /queues, a rejected submit), after 10,000
jobs, and after 100,000 (90,000 more). Bytes per job = RSS growth / jobs - 16 (the
payload). --quick: 2,000 and 20,000.

    /usr/bin/python3 bench/jobs_memory.py [--quick]
"""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402
import jobs_common as jc  # noqa: E402

PAYLOAD = "0123456789abcdef"  # 16 bytes
CONNS = 4


def rss(pid):
    st = bl.proc_status(pid)
    return bl.status_int(st, "VmRSS"), bl.status_int(st, "RssAnon")  # kB


def submit(d, n, deadline, problems):
    """n POST /jobs over CONNS keep-alive connections; returns how many were accepted (201)."""
    lock = threading.Lock()
    left = [n]
    ok = [0]
    errs = []

    def worker():
        c = d.conn(10)
        body = {"type": "m", "payload": PAYLOAD}
        for _ in range(n):
            with lock:
                if left[0] <= 0 or time.monotonic() >= deadline:
                    break
                left[0] -= 1
            try:
                st, j = jc.post(c, "/jobs", body)
            except OSError as e:
                errs.append(f"{type(e).__name__}: {e}")
                c.close()
                c = d.conn(10)
                continue
            if st == 201:
                with lock:
                    ok[0] += 1
            elif len(errs) < 5:
                errs.append(f"HTTP {st}: {str(j)[:200]}")
        c.close()
    ths = [threading.Thread(target=worker, daemon=True) for _ in range(CONNS)]
    for t in ths:
        t.start()
    for t in ths:
        t.join(max(0.0, deadline - time.monotonic()) + 15)
    if errs:
        problems.append(f"{len(errs)}+ failed submit(s), first: {errs[0]}")
    if ok[0] < n:
        problems.append(f"{ok[0]} of {n} submits accepted (time budget or errors)")
    return ok[0]


def main():
    args = bl.parse_args(__doc__.splitlines()[0])
    jc.require_tools([bl.DROVER_BIN, bl.PINGER, bl.SLEEPER, "/bin/sleep"])
    bl.term_to_exit()
    bl.become_subreaper()
    steps, budget = ((2_000, 20_000), 12.0) if args.quick else ((10_000, 100_000), 50.0)
    print(f"jobs_memory ({'quick' if args.quick else 'full'}): jobs waiting {steps[0]:,} then {steps[1]:,}, "
          f"{len(PAYLOAD)}-byte payload, {CONNS} connections")
    problems, marks = [], []
    with bl.TempDir() as tmp:
        print(bl.host_line())
        prog = bl.program("m", ["/bin/sleep", "1000"], instances=1, jobs={})
        top = {"store": "memory", "max_queued_bytes": "256MiB"}
        with jc.JobsDrover(tmp, [prog], top, tag="mem") as d:
            if not bl.wait_until(lambda: d.instances("m") and d.instances("m")[0].get("pid"), 10, 0.05):
                print(f"drover did not start its program\n{d.log_text(1500)}", file=sys.stderr)
                return 1
            for path in ("/status", "/queues", "/jobs?limit=1", "/metrics"):
                d.get_json(path)
            d.post_json("/jobs", {"type": "nosuchtype", "payload": PAYLOAD})  # 404, warms the POST path
            time.sleep(0.3)
            marks.append((0, rss(d.pid), 0.0))
            deadline = time.monotonic() + budget
            total = 0
            for n in steps:
                t0 = time.monotonic()
                total += submit(d, n - total, deadline, problems)
                secs = time.monotonic() - t0
                time.sleep(0.2)
                marks.append((total, rss(d.pid), secs))
            st, q = d.get_json("/queues")
            waiting = None
            if st == 200 and isinstance(q, dict):
                items = q.get("types", q)
                for v in (items.values() if isinstance(items, dict) else items):
                    if isinstance(v, dict) and (v.get("program") == "m" or v.get("type") == "m"):
                        waiting = v.get("waiting")
            if waiting != total:
                problems.append(f"/queues says {waiting} waiting, {total} were accepted: {str(q)[:300]}")
            if not d.alive():
                problems.append(f"drover died\n{d.log_text(1500)}")
    (_, (rss0, anon0), _) = marks[0]
    rows = []
    prev = marks[0]
    for n, (r, a), secs in marks[1:]:
        pn, (pr, pa), _ = prev
        rows.append([f"{n:,} jobs", bl.fmt_num(r), bl.fmt_num(a),
                     bl.fmt_num((r - rss0) * 1024 / n - len(PAYLOAD), 0) if n else "-",
                     bl.fmt_num((a - anon0) * 1024 / n - len(PAYLOAD), 0) if n else "-",
                     bl.fmt_num(((a - pa) * 1024 / (n - pn) - len(PAYLOAD)) if n > pn else None, 0),
                     bl.fmt_num(n - pn), bl.fmt_num((n - pn) / secs if secs else None, 0)])
        prev = (n, (r, a), secs)
    rows.insert(0, ["after start", bl.fmt_num(rss0), bl.fmt_num(anon0), "-", "-", "-", "-", "-"])
    bl.print_table("drover's memory with jobs waiting", ["point", "VmRSS kB", "RssAnon kB", "B/job (RSS)",
                                                        "B/job (anon)", "B/job since last", "submitted",
                                                        "submits/s"], rows,
                   ["", "B/job: growth since 'after start' / jobs - 16 (the payload). 'since last': the step's own",
                    "growth of RssAnon / its jobs - 16. Target: < 300 bytes + payload. The 4,096-entry event ring",
                    "and the allocator's arenas are in the growth too (a fixed part, shared out over the jobs)."])
    bl.print_problems(problems)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Idle wake-ups: context switches of drover while 100 healthy instances just run.

drover supervises 100 instances of build/helpers/sleeper. Once all 100 exist and
2 s more have passed, voluntary_ctxt_switches + nonvoluntary_ctxt_switches of drover
are read from /proc/PID/status (and its CPU time from /proc/PID/schedstat); again
after 10 s (--quick: 3 s). Every wake-up of an idle supervisor is a context switch,
so the difference is its wake-ups in that interval.

Two configurations, one after the other:
  start_seconds 0    instances are `running` at once (no timer ever armed)
  start_seconds 1s   the default: one timer per instance fires once, before the 2 s settle

    /usr/bin/python3 bench/idle_wakeups.py [--quick]
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

N = 100
SETTLE_S = 2.0


def switches(pid):
    st = bl.proc_status(pid)
    v, nv = bl.status_int(st, "voluntary_ctxt_switches"), bl.status_int(st, "nonvoluntary_ctxt_switches")
    if v is None or nv is None:
        return None
    return v, nv


def measure(label, start_seconds, interval, tmp, problems):
    prog = bl.program("s", [bl.SLEEPER], instances=N, start_seconds=start_seconds, backoff=(0, 0),
                      yoyo=False)
    with bl.Drover(tmp, [prog], quiet=True, tag=f"idle{start_seconds}") as d:
        ok = bl.wait_until(lambda: (not d.alive()) or len(bl.children_of(d.pid)) >= N, timeout=30)
        if not d.alive() or not ok:
            problems.append(f"{label}: {len(bl.children_of(d.pid))} of {N} instances started;"
                            f" drover alive={d.alive()}\n{d.log_text(1500)}")
            return None
        time.sleep(SETTLE_S)
        s0, c0, t0 = switches(d.pid), bl.cpu_ns(d.pid), time.monotonic()
        time.sleep(interval)
        s1, c1, t1 = switches(d.pid), bl.cpu_ns(d.pid), time.monotonic()
        kids = len(bl.children_of(d.pid))
        state = bl.pid_state(d.pid)
        if kids != N:
            problems.append(f"{label}: {kids} children at the end, expected {N}")
        warn = [ln for ln in d.log_text(1 << 20).splitlines() if " warn " in ln or " error " in ln]
        if warn:
            problems.append(f"{label}: {len(warn)} warning/error log lines, first: {warn[0]}")
    if s0 is None or s1 is None:
        problems.append(f"{label}: could not read /proc/{d.pid}/status")
        return None
    return {
        "label": label, "secs": t1 - t0,
        "vol": s1[0] - s0[0], "nonvol": s1[1] - s0[1],
        "cpu_us": (c1 - c0) / 1000 if c0 is not None and c1 is not None else None,
        "state": state,
    }


def main():
    args = bl.parse_args(__doc__.splitlines()[0])
    bl.setup()
    interval = 3.0 if args.quick else 10.0
    print(f"idle_wakeups ({'quick' if args.quick else 'full'}): drover with {N} sleepers, "
          f"{SETTLE_S:g} s settle, {interval:g} s measured")
    problems, rows = [], []
    with bl.TempDir() as tmp:
        print(bl.host_line())
        for label, ss in (("start_seconds 0", 0), ("start_seconds 1s", "1s")):
            r = measure(label, ss, interval, tmp, problems)
            if r:
                rows.append(r)
    table = [[r["label"], bl.fmt_num(r["secs"], 1), bl.fmt_num(r["vol"]), bl.fmt_num(r["nonvol"]),
              bl.fmt_num(r["vol"] + r["nonvol"]), bl.fmt_num(r["cpu_us"], 0), r["state"]] for r in rows]
    bl.print_table(f"drover context switches while {N} instances idle",
                   ["config", "interval s", "voluntary", "nonvoluntary", "total", "CPU us", "state"], table,
                   ["", "Target: total 0 (drover sleeps in epoll_wait until something happens)."])
    bl.print_problems(problems)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Output flood: another program's restart latency while `yes` floods captured output.

One instance of build/helpers/pinger (start_seconds 0, backoff 0, no yo-yo limit) is killed
and timed as in restart_latency.py: SIGKILL -> the replacement's main(). Beside it, in the
same drover, a program `yes` writes as fast as it can into captured output:

  no flood          pinger alone (the reference)
  flood -> file     `yes` with "output": {"file": ..., "max_size": "64MB", "backups": 1}
  flood -> drover   `yes` with "output": "drover" (drover's stderr, a file here)
  flood -> /dev/null  `yes` with "output": "/dev/null": not captured (its own fd)

drover reads each FIFO at most 64 KiB per pass of its loop (CAPTURE_READ_BUDGET), so
the flood costs the pinger's restart at most a few such reads and writes per pass; the
flooding child blocks on its full pipe instead. The flood's own rate (MB/s through
`yes`'s own write(2)s, /proc/PID/io wchar) is shown too. Arms are interleaved in
rounds. No assertion: a table.

    /usr/bin/python3 bench/output_flood.py [--quick]
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402
from restart_latency import kill_rounds  # noqa: E402

ARMS = ["no flood", "flood -> file", "flood -> drover", "flood -> /dev/null"]


def flood_program(arm, tmp):
    if arm == "no flood":
        return None
    out = {"flood -> file": {"file": str(tmp / "flood.log"), "max_size": "64MB", "backups": 1},
           "flood -> drover": "drover",  # to drover's log: --log FILE here
           "flood -> /dev/null": "/dev/null"}[arm]
    return bl.program("flood", ["yes", "flood line of a busy program"], output=out)


def flood_bytes(drover_pid):
    """Bytes the `yes` child has written so far (/proc/PID/io wchar), or None."""
    for pid in bl.children_of(drover_pid):
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() != "yes":
                    continue
            with open(f"/proc/{pid}/io") as f:
                for line in f:
                    if line.startswith("wchar:"):
                        return int(line.split()[1])
        except OSError:
            continue
    return None


def run_arm(arm, r, tmp, sock, n, deadline):
    env = {"DROVER_BENCH_SOCK": sock.path}
    progs = [bl.program("w", [bl.PINGER], instances=1, start_seconds=0, backoff=(0, 0),
                        yoyo=False, env=env)]
    fp = flood_program(arm, tmp)
    if fp:
        progs.append(fp)
    tag = f"arm{ARMS.index(arm)}_{r}"
    for p in (tmp / "flood.log", tmp / "flood.log.1"):
        if p.exists():
            p.unlink()
    d = bl.Drover(tmp, progs, quiet=True, tag=tag)
    samples, problems, rate = [], [], None
    sock.drain()
    with d:
        first = sock.recv(5.0)
        if first is None:
            problems.append(f"{arm}: no datagram from the first instance within 5 s")
            problems.append(d.log_text(1500))
            return samples, problems, rate
        time.sleep(0.2)  # the flood is in full swing
        b0, t0 = flood_bytes(d.pid), time.monotonic()
        kill_rounds(first[0], d.pid, sock, arm, n, deadline, problems, samples)
        b1, t1 = flood_bytes(d.pid), time.monotonic()
        if b0 is not None and b1 is not None and b1 >= b0 and t1 > t0:
            rate = (b1 - b0) / (t1 - t0) / 1e6
    for p in (tmp / "flood.log", tmp / "flood.log.1", tmp / f"{tag}.stderr", tmp / f"{tag}.log"):
        if p.exists():
            p.unlink()
    return samples, problems, rate


def main():
    args = bl.parse_args(__doc__.splitlines()[0])
    bl.setup()
    rounds, per_round, budget = (2, 25, 20.0) if args.quick else (4, 200, 160.0)
    print(f"output_flood ({'quick' if args.quick else 'full'}): {rounds} rounds x {per_round} "
          f"kills per arm, arms interleaved")
    with bl.TempDir() as tmp:
        print(bl.host_line())
        deadline = time.monotonic() + budget
        results = {a: [] for a in ARMS}
        rates = {a: [] for a in ARMS}
        problems = []
        with bl.PingSocket(tmp / "ping.sock") as sock:
            for r in range(rounds):
                k = r % len(ARMS)
                for arm in ARMS[k:] + ARMS[:k]:
                    s, pr, rate = run_arm(arm, r, tmp, sock, per_round, deadline)
                    results[arm].extend(s)
                    problems.extend(pr)
                    if rate is not None:
                        rates[arm].append(rate)
    rows = bl.latency_rows(results, ARMS)
    for row in rows:
        rt = rates[row[0]]
        row.append(bl.fmt_num(bl.median(rt)) if rt else "-")
    bl.print_table("pinger restart latency (us) beside a `yes` flood, and the flood's rate",
                   ["arm", "samples", "median", "p90", "p99", "max", "min", "flood MB/s"], rows,
                   ["", "latency = SIGKILL of the pinger -> its replacement's main() (CLOCK_MONOTONIC)",
                    "flood MB/s = what `yes` wrote per second (/proc/PID/io wchar): how fast its output is taken"])
    bl.print_problems(problems)
    return 0


if __name__ == "__main__":
    sys.exit(main())

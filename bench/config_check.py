#!/usr/bin/python3
"""Config checking: `drover --check-config` on lists of 1 and 1,000 programs.

Each config is checked K times (--quick: 5, else 41), the configs alternating so drift
hits all alike; the table gives the median and p90 wall time of the whole command
(process start, read, parse, validate, default names) and the difference from the
1-program config, which is what the 1,000 entries cost.

  same command  1,000 list entries with one command[0]: default names p, p-2, ... p-1000
  distinct      1,000 list entries with 1,000 different command[0]s
  named         1,000 entries with explicit names

With --baseline BIN, an older drover is measured in the same run, interleaved.

    /usr/bin/python3 bench/config_check.py [--quick] [--baseline BIN]
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

N = 1000


def configs(tmp):
    def write(name, programs):
        p = tmp / f"{name}.json"
        p.write_text(json.dumps(programs))
        return p
    return {
        "1 program": write("one", [{"command": ["/bin/true"]}]),
        "same command": write("same", [{"command": ["/usr/bin/p"]} for _ in range(N)]),
        "distinct": write("distinct", [{"command": [f"/usr/bin/p{i}"]} for i in range(N)]),
        "named": write("named", [{"name": f"w{i}", "command": ["/usr/bin/p"]} for i in range(N)]),
    }


def check_ns(binary, path):
    t0 = time.perf_counter_ns()
    r = subprocess.run([str(binary), "--check-config", "-c", str(path)], capture_output=True,
                       timeout=60)
    t1 = time.perf_counter_ns()
    return t1 - t0, r.returncode, r.stderr.decode(errors="replace")


def main():
    args = bl.parse_args(__doc__.splitlines()[0],
                         extra=lambda p: p.add_argument("--baseline", help="an older drover binary"))
    bl.setup()
    k = 5 if args.quick else 41
    problems = []
    with bl.TempDir() as tmp:
        cfgs = configs(tmp)
        bins = [("drover", bl.DROVER_BIN)]
        if args.baseline:
            bins.append(("baseline", args.baseline))
        samples = {(b, c): [] for b, _ in bins for c in cfgs}
        for _ in range(k):
            for b, binary in bins:
                for c, path in cfgs.items():
                    ns, rc, err = check_ns(binary, path)
                    if rc != 0:
                        problems.append(f"{b} {c}: exit {rc}: {err.strip()[:300]}")
                    samples[(b, c)].append(ns)
        rows = []
        for b, _ in bins:
            floor = bl.median(samples[(b, "1 program")])
            for c in cfgs:
                s = samples[(b, c)]
                med = bl.median(s)
                rows.append([f"{b}: {c}", len(s), bl.fmt_num(med / 1e6, 2),
                             bl.fmt_num(bl.percentile(s, 90) / 1e6, 2),
                             "-" if c == "1 program" else bl.fmt_num((med - floor) / 1e6, 2)])
        bl.print_table("drover --check-config, wall time per run (ms)",
                       ["config", "runs", "median", "p90", "minus 1 program"], rows,
                       notes=[bl.host_line()])
    bl.print_problems(problems)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

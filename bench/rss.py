#!/usr/bin/python3
"""Memory: drover's resident set while it supervises N instances of sleeper.

For each N, a fresh drover runs N instances of build/helpers/sleeper (start_seconds 0).
Once N children exist (/proc/PID/task/PID/children) and 0.5 s have passed, VmRSS,
VmHWM, RssAnon and RssFile of drover are read from /proc/PID/status, with its open
fds and open-file limits. N = 1 is the reference; N = 100 and 1,000 (--quick: 1, 100).

Each instance holds a pidfd: if the open-file soft limit of this process is below
N + 64 it is raised (up to the hard limit) before drover starts; drover also raises
its own. If drover cannot start every instance, that is reported.

With --baseline BIN, an older drover (copied into the temp dir like build/drover) is
measured in the same run: ROUNDS rounds, each measuring every N with both binaries one
right after the other (which goes first alternating by round). The table gives the
medians over the rounds for each binary and N, and "new/baseline" ratios of the median
VmRSS and RssAnon; a second table gives VmRSS per round.

    /usr/bin/python3 bench/rss.py [--quick] [--baseline BIN]
"""
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

SETTLE_S = 0.5
TARGET_KB = 8 * 1024  # 8 MiB at 1,000 instances
ROUNDS = 5            # with --baseline (--quick: 3)


def ensure_nofile(needed, notes):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        new = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        notes.append(f"raised this process's RLIMIT_NOFILE soft limit {soft} -> {new} (hard {hard})"
                     " before starting drover")
        if new < needed:
            notes.append(f"hard limit {hard} < {needed}: drover may run out of descriptors")


def measure(n, tmp, problems, notes, binary=None, tag=None, label=""):
    """One fresh drover (binary, default build/drover's copy) with n sleepers: a row, or None."""
    ensure_nofile(n + 64, notes)
    prog = bl.program("s", [bl.SLEEPER], instances=n, start_seconds=0, backoff=(0, 0), yoyo=False)
    d = bl.Drover(tmp, [prog], quiet=True, tag=tag or f"rss{n}", binary=binary)
    where = f"{label} N={n}" if label else f"N={n}"
    row = None
    with d:
        t0 = time.monotonic()
        ok = bl.wait_until(lambda: (not d.alive()) or len(bl.children_of(d.pid)) >= n,
                           timeout=30 + n * 0.05, interval=0.02)
        spawn_s = time.monotonic() - t0
        if not d.alive():
            problems.append(f"{where}: drover exited (code {d.proc.returncode}) before starting all"
                            f" instances:\n{d.log_text(2000)}")
            return None
        kids = len(bl.children_of(d.pid))
        if not ok:
            problems.append(f"{where}: only {kids} children after {spawn_s:.1f} s")
        time.sleep(SETTLE_S)
        st = bl.proc_status(d.pid)
        soft, hard = bl.nofile_limits(d.pid)
        fds = bl.fd_count(d.pid)
        kids = len(bl.children_of(d.pid))
        warn = [ln for ln in d.log_text(1 << 20).splitlines() if " warn " in ln or " error " in ln]
        if warn:
            problems.append(f"{where}: {len(warn)} warning/error log lines, first: {warn[0]}")
        row = {
            "n": n, "children": kids, "spawn_s": spawn_s,
            "rss": bl.status_int(st, "VmRSS"), "hwm": bl.status_int(st, "VmHWM"),
            "anon": bl.status_int(st, "RssAnon"), "file": bl.status_int(st, "RssFile"),
            "fds": fds, "limits": f"{soft}/{hard}",
        }
    row["stop_s"] = d.stop_seconds
    if d.exit_code != 0:
        problems.append(f"{where}: drover exited with code {d.exit_code} after SIGTERM")
    return row


def med(rows, key, nd=1):
    """Median of rows' key (None values left out), formatted; "-" if none."""
    v = [r[key] for r in rows if r.get(key) is not None]
    return bl.fmt_num(bl.median(v), nd) if v else "-"


def ratio(new, old, key):
    a = [r[key] for r in new if r.get(key) is not None]
    b = [r[key] for r in old if r.get(key) is not None]
    return f"{bl.median(a) / bl.median(b):.3f}" if a and b and bl.median(b) else "-"


def compare(args, sizes, problems, notes):
    """--baseline: every N with both binaries, interleaved, ROUNDS rounds; prints the tables."""
    rounds = 3 if args.quick else ROUNDS
    bins = ["drover", "baseline"]
    runs = {(b, n): [] for b in bins for n in sizes}
    with bl.TempDir() as tmp:
        print(bl.host_line())
        baseline = bl.snapshot_binary(args.baseline, tmp, "drover-baseline")
        print(bl.binary_line("baseline", args.baseline, baseline))
        binary = {"drover": None, "baseline": baseline}
        for r in range(rounds):
            for n in sizes:
                for b in (bins if r % 2 == 0 else bins[::-1]):
                    row = measure(n, tmp, problems, notes, binary=binary[b], tag=f"{b}{n}_r{r + 1}",
                                  label=f"{b} round {r + 1}")
                    runs[(b, n)].append(row)

    table = []
    for n in sizes:
        for b in bins:
            rs = [x for x in runs[(b, n)] if x]
            limits = sorted({x["limits"] for x in rs})
            table.append([b, bl.fmt_num(n), len(rs), med(rs, "children"), med(rs, "rss"), med(rs, "hwm"),
                          med(rs, "anon"), med(rs, "file"), med(rs, "fds"), ",".join(limits) or "-",
                          med(rs, "spawn_s", 2), med(rs, "stop_s", 2)]
                         + ([ratio(rs, [x for x in runs[("baseline", n)] if x], k) for k in ("rss", "anon")]
                            if b == "drover" else ["-", "-"]))
    out_notes = [""]
    for b in bins:
        m = {n: bl.median([x["rss"] for x in runs[(b, n)] if x and x["rss"] is not None]) for n in sizes}
        if m.get(1) is not None and m.get(100) is not None:
            slope = f"per instance, 1 -> 100: {(m[100] - m[1]) / 99:.1f} kB VmRSS"
            if m.get(1000) is not None:
                slope += f"; 100 -> 1,000: {(m[1000] - m[100]) / 900:.1f} kB"
            out_notes.append(f"{b}: {slope} (medians)")
    out_notes.append(f"Medians over {rounds} rounds; in each round every N is measured with both binaries,"
                     " one right after the other, which goes first alternating by round.")
    out_notes.append(f"Target: VmRSS < 8 MiB ({TARGET_KB:,} kB) at 1,000 instances."
                     " kB as the kernel reports them (KiB).")
    out_notes.append("spawn s: drover start -> N children exist; stop s: SIGTERM -> drover exited.")
    out_notes.extend(notes)
    bl.print_table("drover memory with N sleeping instances, new and baseline (kB from /proc/PID/status,"
                   " medians)",
                   ["binary", "instances", "runs", "children", "VmRSS", "VmHWM", "RssAnon", "RssFile", "fds",
                    "NOFILE soft/hard", "spawn s", "stop s", "VmRSS new/baseline", "RssAnon new/baseline"],
                   table, out_notes)
    per_round = [[b, bl.fmt_num(n)] + [f"{bl.fmt_num(x['rss'])} / {bl.fmt_num(x['anon'])}" if x else "-"
                                        for x in runs[(b, n)]]
                 for n in sizes for b in bins]
    bl.print_table("VmRSS / RssAnon per round, kB",
                   ["binary", "instances"] + [f"round {i + 1}" for i in range(rounds)], per_round)


def main():
    args = bl.parse_args(__doc__.splitlines()[0],
                         extra=lambda p: p.add_argument("--baseline", metavar="BIN",
                                                        help="an older drover binary, measured alongside"))
    bl.setup()
    sizes = [1, 100] if args.quick else [1, 100, 1000]
    print(f"rss ({'quick' if args.quick else 'full'}): drover supervising N sleepers, N = "
          + ", ".join(str(n) for n in sizes))
    problems, notes, rows = [], [], []
    if args.baseline:
        compare(args, sizes, problems, notes)
        bl.print_problems(problems)
        return 0
    with bl.TempDir() as tmp:
        print(bl.host_line())
        for n in sizes:
            r = measure(n, tmp, problems, notes)
            if r:
                rows.append(r)

    table = [[bl.fmt_num(r["n"]), bl.fmt_num(r["children"]), bl.fmt_num(r["rss"]), bl.fmt_num(r["hwm"]),
              bl.fmt_num(r["anon"]), bl.fmt_num(r["file"]), bl.fmt_num(r["fds"]), r["limits"],
              bl.fmt_num(r["spawn_s"], 2), bl.fmt_num(r["stop_s"], 2)] for r in rows]
    by_n = {r["n"]: r for r in rows}
    out_notes = [""]
    if 1 in by_n and 100 in by_n:
        out_notes.append(f"per instance, 1 -> 100: {(by_n[100]['rss'] - by_n[1]['rss']) / 99:.1f} kB VmRSS")
    if 100 in by_n and 1000 in by_n:
        out_notes.append(f"per instance, 100 -> 1,000: {(by_n[1000]['rss'] - by_n[100]['rss']) / 900:.1f} kB VmRSS")
    out_notes.append(f"Target: VmRSS < 8 MiB ({TARGET_KB:,} kB) at 1,000 instances."
                     " kB as the kernel reports them (KiB).")
    out_notes.append("spawn s: drover start -> N children exist; stop s: SIGTERM -> drover exited.")
    out_notes.extend(notes)
    bl.print_table("drover memory with N sleeping instances (kB from /proc/PID/status)",
                   ["instances", "children", "VmRSS", "VmHWM", "RssAnon", "RssFile", "fds",
                    "NOFILE soft/hard", "spawn s", "stop s"], table, out_notes)
    bl.print_problems(problems)
    return 0


if __name__ == "__main__":
    sys.exit(main())

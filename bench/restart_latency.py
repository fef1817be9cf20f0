#!/usr/bin/python3
"""Restart latency: SIGKILL of a running instance -> its replacement reaches main().

One instance of build/helpers/pinger (static; pauses after reporting) under drover
with start_seconds 0, backoff 0 and the yo-yo limit disabled. pinger sends
"<pid> <ns>" to our datagram socket with CLOCK_MONOTONIC read first thing in
main(). Each sample: t_kill = time.monotonic_ns() just before os.kill(pid,
SIGKILL); latency = the next pinger's ns - t_kill (same clock).

Measured side by side, interleaved in rounds, in one run:
  drover -q         drover logging warnings only (the kill itself logs one warning)
  drover info log   drover at its default level, log to a file
  forkloop          bench/forkloop.c: plain fork/execve/waitpid loop (the baseline)
  forkloop vfork    the same with vfork(), like drover's clone(CLONE_VM|CLONE_VFORK)

Then bench/spawn_breakdown.c splits one restart into its parts (exit of the old
process, reap, clone+exec, start-up of the new process until main()).

With --baseline BIN, an older drover (copied into the temp dir like build/drover) is
measured in the same run: arms "baseline -q" and "baseline info log", each round
right next to the new binary's arm, which of the two goes first alternating by round.
The table gains a "new/baseline" ratio of medians.

    /usr/bin/python3 bench/restart_latency.py [--quick] [--baseline BIN]
"""
import os
import random
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

GAP_S = 0.002          # pause before each kill, so the supervisor is idle in its loop
RECV_TIMEOUT_S = 2.0   # per sample; a miss ends that arm's round
BOOTSTRAP_N = 1000     # resamples for the interval of the new/baseline ratio


def run_arm(arm, tmp, sock, forkloop, n, deadline, baseline=None):
    """Starts the arm, takes up to n samples (ns), stops it. Returns (samples, problems).
    Arms named "baseline ..." run the baseline drover (a copy in tmp)."""
    env = {"DROVER_BENCH_SOCK": sock.path}
    if arm.startswith("forkloop"):
        full_env = dict(os.environ, **env)
        flags = ["--vfork"] if arm == "forkloop vfork" else []
        p = bl.Proc([forkloop] + flags + ["600", "1000000", bl.PINGER], tag="forkloop", env=full_env)
    else:
        prog = bl.program("w", [bl.PINGER], instances=1, start_seconds=0, backoff=(0, 0),
                          yoyo=False, env=env)
        p = bl.Drover(tmp, [prog], quiet=arm.endswith(" -q"), tag=arm.replace(" ", "_"),
                      binary=baseline if arm.startswith("baseline") else None)
    samples, problems = [], []
    sock.drain()
    with p:
        first = sock.recv(5.0)
        if first is None:
            problems.append(f"{arm}: no datagram from the first instance within 5 s")
            if isinstance(p, bl.Drover):
                problems.append(p.log_text(1500))
            return samples, problems
        kill_rounds(first[0], p.pid, sock, arm, n, deadline, problems, samples)
    if isinstance(p, bl.Drover) and p.exit_code not in (0, None):
        problems.append(f"{arm}: drover exited with code {p.exit_code} after SIGTERM")
    return samples, problems


def kill_rounds(pid, parent, sock, arm, n, deadline, problems, samples):
    """Up to n kills, each of the replacement of the one before, timed into samples, until
    n, the deadline or a round that must end (the reason in problems)."""
    for _ in range(n):
        if time.monotonic() >= deadline:
            problems.append(f"{arm}: time budget reached, round cut short")
            break
        nxt = kill_and_time(pid, parent, sock, arm, problems, samples)
        if nxt is None:
            break
        pid = nxt


def kill_and_time(pid, parent, sock, arm, problems, samples):
    """SIGKILL pid (while it is still parent's child) and wait for its replacement's datagram;
    appends kill -> replacement's main() in ns to samples. Returns the pid to kill next, or
    None when the round must end (the reason is in problems)."""
    time.sleep(GAP_S)
    if bl.ppid_of(pid) != parent:  # only ever kill the arm's own child
        problems.append(f"{arm}: pid {pid} is not a child of {parent} any more; round ended")
        return None
    t_kill = time.monotonic_ns()
    os.kill(pid, signal.SIGKILL)
    msg = sock.recv(RECV_TIMEOUT_S)
    if msg is None:
        problems.append(f"{arm}: no new instance within {RECV_TIMEOUT_S}s of SIGKILL to {pid}")
        return None
    new_pid, ns = msg
    if new_pid == pid:
        problems.append(f"{arm}: second datagram from pid {pid}?")
        return pid
    samples.append(ns - t_kill)
    return new_pid


def run_breakdown(exe, tmp, n):
    """{segment: (median_ns, p99_ns)} from spawn_breakdown, and problems."""
    p = bl.Proc([exe, tmp / "breakdown.sock", str(n), bl.PINGER], tag="spawn_breakdown")
    with p:
        try:
            p.proc.wait(30 + n * 0.05)
        except subprocess.TimeoutExpired:
            pass  # stopped (SIGTERM, then SIGKILL) when the with block ends
    segments = {}
    for line in p.out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1].isdigit():
            segments[parts[0]] = (int(parts[1]), int(parts[2]))
    if "total" not in segments:
        return {}, [f"spawn_breakdown failed: {p.out.strip()[:300]}"]
    return segments, []


def ratio_interval(new, old, seed=11):
    """95% bootstrap interval (2.5th, 97.5th percentile) of median(new) / median(old),
    resampling each arm's samples; fixed seed, so a run's figures can be reproduced."""
    rng = random.Random(seed)
    ratios = []
    for _ in range(BOOTSTRAP_N):
        a = bl.median(rng.choices(new, k=len(new)))
        b = bl.median(rng.choices(old, k=len(old)))
        ratios.append(a / b)
    return bl.percentile(ratios, 2.5), bl.percentile(ratios, 97.5)


def round_order(groups, r):
    """Round r's arm order: the groups rotated by r, each group (new, baseline) reversed
    in odd rounds."""
    k = r % len(groups)
    out = []
    for g in groups[k:] + groups[:k]:
        out.extend(reversed(g) if r % 2 else g)
    return out


def main():
    args = bl.parse_args(__doc__.splitlines()[0],
                         extra=lambda p: p.add_argument("--baseline", metavar="BIN",
                                                        help="an older drover binary, measured alongside"))
    bl.setup()
    rounds, per_round, budget = (2, 25, 15.0) if args.quick else (4, 250, 150.0)
    pairs = [("drover -q", "baseline -q"), ("drover info log", "baseline info log")]
    if args.baseline:
        groups = [list(p) for p in pairs] + [["forkloop"], ["forkloop vfork"]]
    else:
        groups = [["drover -q"], ["drover info log"], ["forkloop"], ["forkloop vfork"]]
    arms = [a for g in groups for a in g]
    budget *= len(arms) / 4.0  # the same time per arm
    breakdown_n = 50 if args.quick else 500
    print(f"restart_latency ({'quick' if args.quick else 'full'}): {rounds} rounds x {per_round} "
          f"kills per arm, arms interleaved")

    with bl.TempDir() as tmp:
        print(bl.host_line())
        baseline = None
        if args.baseline:
            baseline = bl.snapshot_binary(args.baseline, tmp, "drover-baseline")
            print(bl.binary_line("baseline", args.baseline, baseline))
        forkloop = bl.compile_c(bl.BENCH_DIR / "forkloop.c", tmp / "forkloop")
        breakdown = bl.compile_c(bl.BENCH_DIR / "spawn_breakdown.c", tmp / "spawn_breakdown")
        deadline = time.monotonic() + budget
        results = {a: [] for a in arms}
        per_round_medians = {a: [] for a in arms}
        problems = []
        with bl.PingSocket(tmp / "ping.sock") as sock:
            for r in range(rounds):
                for arm in round_order(groups, r):  # rotated to spread order effects
                    s, pr = run_arm(arm, tmp, sock, forkloop, per_round, deadline, baseline)
                    results[arm].extend(s)
                    per_round_medians[arm].append(bl.median(s))
                    problems.extend(pr)
        segments, pr = run_breakdown(breakdown, tmp, breakdown_n)
        problems.extend(pr)

    def us(ns):
        return None if ns is None else ns / 1000.0

    rows = bl.latency_rows(results, arms)
    headers = ["arm", "samples", "median", "p90", "p99", "max", "min"]
    if args.baseline:
        headers.append("new/baseline")
        for row in rows:
            pair = [p for p in pairs if p[0] == row[0]]
            new, old = (results[pair[0][0]], results[pair[0][1]]) if pair else ([], [])
            row.append(f"{bl.median(new) / bl.median(old):.2f}" if new and old else "-")
    base = bl.median(results["forkloop"]) if results["forkloop"] else None
    notes = [
        "",
        "latency = new pinger's CLOCK_MONOTONIC at the top of main() - time.monotonic_ns() just before",
        "kill(SIGKILL): signal delivery and exit of the old process, the supervisor waking and reaping it,",
        "clone/fork + execve of a static binary (build/helpers/pinger) up to main(). Percentiles: nearest rank.",
        f"{GAP_S * 1000:.0f} ms pause before each kill. Target: drover median < 1 ms (1,000 us).",
    ]
    if base:
        for arm in ("drover -q", "drover info log", "forkloop vfork") + (
                ("baseline -q", "baseline info log") if args.baseline else ()):
            if results[arm]:
                m = bl.median(results[arm])
                notes.append(f"ratio of medians {arm} / forkloop: {m / base:.2f}"
                             f"  (p99: {bl.percentile(results[arm], 99) / bl.percentile(results['forkloop'], 99):.2f})")
    if args.baseline:
        notes.append(f"baseline: {args.baseline}. new/baseline: ratio of the medians; 95% bootstrap"
                     f" interval ({BOOTSTRAP_N} resamples of each arm's samples) and per-round ratios:")
        for new, old in pairs:
            if results[new] and results[old]:
                lo, hi = ratio_interval(results[new], results[old])
                per = [f"{a / b:.2f}" if a and b else "-"
                       for a, b in zip(per_round_medians[new], per_round_medians[old])]
                med = bl.median(results[new]) / bl.median(results[old])
                p99 = bl.percentile(results[new], 99) / bl.percentile(results[old], 99)
                notes.append(f"  {new} / {old}: {med:.2f} [{lo:.2f}, {hi:.2f}]; p99 {p99:.2f};"
                             f" per round {' '.join(per)}")
    bl.print_table("SIGKILL -> replacement in main(), microseconds", headers, rows, notes)

    rows = [[arm] + [bl.fmt_num(us(m)) for m in per_round_medians[arm]] for arm in arms]
    bl.print_table("median per round, microseconds", ["arm"] + [f"round {i + 1}" for i in range(rounds)],
                   rows)
    if segments:
        total = segments["total"][0]
        rows = [[name, bl.fmt_num(us(med)), bl.fmt_num(us(p99)), f"{100.0 * med / total:.0f}%"]
                for name, (med, p99) in segments.items()]
        bl.print_table(f"one restart split up (bench/spawn_breakdown.c, {breakdown_n} kills, no supervisor),"
                       " microseconds", ["segment", "median", "p99", "of total median"], rows,
                       ["",
                        "exit: kill() -> pidfd readable; reap: waitid(); spawn: clone(CLONE_VM|CLONE_VFORK)",
                        "until it returns (exec succeeded); start: that return -> pinger's main() (rest of exec,",
                        "page faults, static glibc start-up). Medians of parts need not add up to the total's."])
    bl.print_problems(problems)
    return 0


if __name__ == "__main__":
    sys.exit(main())

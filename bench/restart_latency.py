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

    /usr/bin/python3 bench/restart_latency.py [--quick]
"""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

GAP_S = 0.002          # pause before each kill, so the supervisor is idle in its loop
RECV_TIMEOUT_S = 2.0   # per sample; a miss ends that arm's round


def ppid_of(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def run_arm(arm, tmp, sock, forkloop, n, deadline):
    """Starts the arm, takes up to n samples (ns), stops it. Returns (samples, problems)."""
    env = {"DROVER_BENCH_SOCK": sock.path}
    if arm.startswith("forkloop"):
        full_env = dict(os.environ, **env)
        flags = ["--vfork"] if arm == "forkloop vfork" else []
        p = bl.Proc([forkloop] + flags + ["600", "1000000", bl.PINGER], tag="forkloop", env=full_env)
    else:
        prog = bl.program("w", [bl.PINGER], instances=1, start_seconds=0, backoff=(0, 0),
                          yoyo=False, env=env)
        p = bl.Drover(tmp, [prog], quiet=(arm == "drover -q"), tag=arm.replace(" ", "_"))
    samples, problems = [], []
    sock.drain()
    with p:
        first = sock.recv(5.0)
        if first is None:
            problems.append(f"{arm}: no datagram from the first instance within 5 s")
            if isinstance(p, bl.Drover):
                problems.append(p.log_text(1500))
            return samples, problems
        pid = first[0]
        for _ in range(n):
            if time.monotonic() >= deadline:
                problems.append(f"{arm}: time budget reached, round cut short")
                break
            nxt = kill_and_time(pid, p.pid, sock, arm, problems, samples)
            if nxt is None:
                break
            pid = nxt
    if isinstance(p, bl.Drover) and p.exit_code not in (0, None):
        problems.append(f"{arm}: drover exited with code {p.exit_code} after SIGTERM")
    return samples, problems


def kill_and_time(pid, parent, sock, arm, problems, samples):
    """SIGKILL pid (while it is still parent's child) and wait for its replacement's datagram;
    appends kill -> replacement's main() in ns to samples. Returns the pid to kill next, or
    None when the round must end (the reason is in problems)."""
    time.sleep(GAP_S)
    if ppid_of(pid) != parent:  # only ever kill the arm's own child
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


def main():
    args = bl.parse_args(__doc__.splitlines()[0])
    bl.setup()
    rounds, per_round, budget = (2, 25, 15.0) if args.quick else (4, 250, 150.0)
    arms = ["drover -q", "drover info log", "forkloop", "forkloop vfork"]
    breakdown_n = 50 if args.quick else 500
    print(f"restart_latency ({'quick' if args.quick else 'full'}): {rounds} rounds x {per_round} "
          f"kills per arm, arms interleaved")

    with bl.TempDir() as tmp:
        print(bl.host_line())
        forkloop = bl.compile_c(bl.BENCH_DIR / "forkloop.c", tmp / "forkloop")
        breakdown = bl.compile_c(bl.BENCH_DIR / "spawn_breakdown.c", tmp / "spawn_breakdown")
        deadline = time.monotonic() + budget
        results = {a: [] for a in arms}
        per_round_medians = {a: [] for a in arms}
        problems = []
        with bl.PingSocket(tmp / "ping.sock") as sock:
            for r in range(rounds):
                order = arms[r % len(arms):] + arms[:r % len(arms)]  # rotate to spread order effects
                for arm in order:
                    s, pr = run_arm(arm, tmp, sock, forkloop, per_round, deadline)
                    results[arm].extend(s)
                    per_round_medians[arm].append(bl.median(s))
                    problems.extend(pr)
        segments, pr = run_breakdown(breakdown, tmp, breakdown_n)
        problems.extend(pr)

    def us(ns):
        return None if ns is None else ns / 1000.0

    rows = bl.latency_rows(results, arms)
    base = bl.median(results["forkloop"]) if results["forkloop"] else None
    notes = [
        "",
        "latency = new pinger's CLOCK_MONOTONIC at the top of main() - time.monotonic_ns() just before",
        "kill(SIGKILL): signal delivery and exit of the old process, the supervisor waking and reaping it,",
        "clone/fork + execve of a static binary (build/helpers/pinger) up to main(). Percentiles: nearest rank.",
        f"{GAP_S * 1000:.0f} ms pause before each kill. Target: drover median < 1 ms (1,000 us).",
    ]
    if base:
        for arm in ("drover -q", "drover info log", "forkloop vfork"):
            if results[arm]:
                m = bl.median(results[arm])
                notes.append(f"ratio of medians {arm} / forkloop: {m / base:.2f}"
                             f"  (p99: {bl.percentile(results[arm], 99) / bl.percentile(results['forkloop'], 99):.2f})")
    bl.print_table("SIGKILL -> replacement in main(), microseconds",
                   ["arm", "samples", "median", "p90", "p99", "max", "min"], rows, notes)

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

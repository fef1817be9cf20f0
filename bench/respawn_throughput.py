#!/usr/bin/python3
"""Respawn throughput: how many times per second a worker that exits at once is restarted.

Worker: build/helpers/pinger --exit (static), which sends "<pid> <ns>" to our datagram
socket first thing in main() and exits 0. drover runs one instance with
start_seconds 0, backoff 0 and the yo-yo limit disabled, so every exit is followed
by a spawn at once. Spawns are counted from the datagrams whose pinger timestamp
falls inside a fixed window (after a warm-up), so start-up and shutdown are excluded.

Arms, interleaved in rounds in one run, each counted the same way:
  drover -q         drover logging warnings only
  drover info log   drover at its default level (3 lines per restart), log to a file
  forkloop          bench/forkloop.c: fork/execve/waitpid of the same command in a loop
  forkloop vfork    the same with vfork(), like drover's clone(CLONE_VM|CLONE_VFORK)

Also shown: CPU time of the supervising process itself per spawn (/proc/PID/schedstat).

    /usr/bin/python3 bench/respawn_throughput.py [--quick]
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

WARMUP_S = 0.5   # full mode; --quick uses 0.3


def run_arm(arm, tmp, sock, forkloop, window_s):
    """One measurement: (spawns in window, window seconds, supervisor CPU ns in window, problems)."""
    env = {"DROVER_BENCH_SOCK": sock.path}
    problems = []
    if arm.startswith("forkloop"):
        flags = ["--vfork"] if arm == "forkloop vfork" else []
        p = bl.Proc([forkloop] + flags + [f"{WARMUP_S + window_s + 5:.1f}", "10000000", bl.PINGER, "--exit"],
                    tag="forkloop", env=dict(os.environ, **env))
    else:
        prog = bl.program("w", [bl.PINGER, "--exit"], instances=1, start_seconds=0, backoff=(0, 0),
                          yoyo=False, env=env)
        p = bl.Drover(tmp, [prog], quiet=(arm == "drover -q"), tag=arm.replace(" ", "_"))
    sock.drain()
    total = 0
    with p:
        if sock.recv(5.0) is None:
            problems.append(f"{arm}: no datagram within 5 s of start")
            if isinstance(p, bl.Drover):
                problems.append(p.log_text(1500))
            return None, window_s, None, problems
        total = 1
        # warm-up: keep the socket drained (its queue is short; senders block when it is full)
        t_end_warm = time.monotonic() + WARMUP_S
        while time.monotonic() < t_end_warm:
            if sock.recv(0.05) is not None:
                total += 1
        t0 = time.monotonic_ns()
        cpu0 = bl.cpu_ns(p.pid)
        t1 = t0 + int(window_s * 1e9)
        count = 0
        while time.monotonic_ns() < t1:
            m = sock.recv(0.05)
            if m is None:
                continue
            total += 1
            if t0 <= m[1] < t1:
                count += 1
        cpu1 = bl.cpu_ns(p.pid)
        # late arrivals stamped inside the window (at most 1 s more)
        late_deadline = time.monotonic() + 1.0
        while time.monotonic() < late_deadline:
            m = sock.recv(0.05)
            if m is None:
                break
            total += 1
            if t0 <= m[1] < t1:
                count += 1
            if m[1] >= t1 + 50_000_000:
                break
        if not p.alive():
            problems.append(f"{arm}: supervisor exited during the window")
    if isinstance(p, bl.Drover):
        if p.exit_code not in (0, None):
            problems.append(f"{arm}: drover exited with code {p.exit_code} after SIGTERM")
        warn = [ln for ln in p.log_text(1 << 20).splitlines() if " warn " in ln or " error " in ln]
        if warn:
            problems.append(f"{arm}: {len(warn)} warning/error log lines, first: {warn[0]}")
    else:
        problems.extend(check_forkloop(p.out, total))
    cpu = (cpu1 - cpu0) if cpu0 is not None and cpu1 is not None else None
    return count, window_s, cpu, problems


def check_forkloop(out, received):
    """forkloop's own count vs datagrams received: they should match (no datagram lost)."""
    for tok in out.split():
        if tok.startswith("count="):
            n = int(tok[6:])
            if abs(n - received) > 1:
                return [f"forkloop started {n} processes but {received} datagrams arrived"]
            return []
    return [f"forkloop printed no count: {out.strip()[:200]}"]


def main():
    args = bl.parse_args(__doc__.splitlines()[0])
    bl.setup()
    global WARMUP_S
    rounds, window = (2, 1.2) if args.quick else (8, 2.5)
    if args.quick:
        WARMUP_S = 0.3
    arms = ["drover -q", "drover info log", "forkloop", "forkloop vfork"]
    print(f"respawn_throughput ({'quick' if args.quick else 'full'}): {rounds} rounds x {window:g} s "
          f"window per arm (after {WARMUP_S:g} s warm-up), arms interleaved")

    rates = {a: [] for a in arms}
    by_round = [dict() for _ in range(rounds)]  # arm -> rate, for paired (same-round) ratios
    cpu_per = {a: [] for a in arms}
    problems = []
    with bl.TempDir() as tmp:
        print(bl.host_line())
        forkloop = bl.compile_c(bl.BENCH_DIR / "forkloop.c", tmp / "forkloop")
        with bl.PingSocket(tmp / "ping.sock") as sock:
            for r in range(rounds):
                order = arms[r % len(arms):] + arms[:r % len(arms)]
                for arm in order:
                    count, w, cpu, pr = run_arm(arm, tmp, sock, forkloop, window)
                    problems.extend(pr)
                    if count:
                        rates[arm].append(count / w)
                        by_round[r][arm] = count / w
                        if cpu is not None:
                            cpu_per[arm].append(cpu / count)

    base = bl.median(rates["forkloop"]) if rates["forkloop"] else None
    rows = []
    for arm in arms:
        m = bl.median(rates[arm]) if rates[arm] else None
        paired = [br[arm] / br["forkloop"] for br in by_round if arm in br and br.get("forkloop")]
        rows.append([
            arm,
            bl.fmt_num(m, 0),
            bl.fmt_num(min(rates[arm]), 0) if rates[arm] else "-",
            bl.fmt_num(max(rates[arm]), 0) if rates[arm] else "-",
            bl.fmt_num(m / base, 2) if (m and base) else "-",
            bl.fmt_num(bl.median(paired), 2) if paired else "-",
            bl.fmt_num(bl.median(cpu_per[arm]) / 1000.0, 0) if cpu_per[arm] else "-",
        ])
    bl.print_table("respawns of `pinger --exit`, spawns per second",
                   ["arm", "median /s", "min /s", "max /s", "ratio of medians", "median same-round ratio",
                    "supervisor CPU us/spawn"],
                   rows,
                   ["",
                    "Counted: datagrams from pinger whose start timestamp lies in the window. Ratios are to",
                    "forkloop (fork), measured side by side: of the medians, and the median of each round's",
                    "ratio (arms of one round run back to back, so slow drifts in load cancel out).",
                    "Target: drover -q / forkloop >= 0.8.",
                    "supervisor CPU: schedstat run time of drover / forkloop in the window per spawn (with",
                    "vfork-style spawning the exec runs in the child and is not counted)."])
    rows = [[f"round {i + 1}"] + [bl.fmt_num(br.get(a), 0) for a in arms] for i, br in enumerate(by_round)]
    bl.print_table("spawns per second, per round (arm order rotates each round)", ["round"] + arms, rows)
    bl.print_problems(problems)
    return 0


if __name__ == "__main__":
    sys.exit(main())

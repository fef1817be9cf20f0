#!/usr/bin/python3
"""Recovery: how long a new drover takes to get a pool of N instances back after kill -9.

Each run: drover A (--dumpfile, info log) starts N instances of build/helpers/sleeper
(start_seconds 0). Once A has N children and its dumpfile lists N instances, A gets
SIGKILL; its sleepers live on (they are reparented to this benchmark, a subreaper).
Then drover B starts on the same config and dumpfile, and the clock runs from just
before B is started until the pool is whole again:

  kill mode    (no --adopt)  B stops the N survivors, then spawns N new instances:
                             done at B's N-th "pid=N spawned" log line
  adopt mode   (--adopt)     B takes the N survivors over: done at "adopted N instances"

Times come from B's log (CLOCK_REALTIME, millisecond resolution) against time.time()
taken just before B's fork; a poll of the log (every 10 ms) gives a cross-check. In kill
mode the stop phase is "stopping pid" (first) -> "stopped N processes". For reference,
A's own fresh start of N instances (start -> N-th "spawned") is shown alongside.
N = 1,000, 3 runs per mode, modes interleaved (--quick: N = 100, 1 run per mode).

A's sleepers are orphaned when A dies and come to this benchmark (a child subreaper).
While B runs, a thread reaps each of them as soon as it exits, as init would (it peeks
with waitid(WNOWAIT) and reaps only those pids). --lazy-reaper leaves them as zombies
until B has exited, like a parent that does not reap: stopping adopted instances then
costs drover a /proc walk per instance (see docs/BENCHMARKS.md).

Clean-up after every run, also on error: B and A stopped by pid (SIGTERM, then SIGKILL),
then every pid A or B logged that is still alive and carries DROVER_PROGRAM and this
run's DROVER_DUMPFILE in /proc/PID/environ gets SIGKILL to its process group (each
instance leads its own), and orphans reparented to this benchmark are reaped.

    /usr/bin/python3 bench/recovery.py [--quick] [--lazy-reaper]
"""
import datetime
import json
import os
import re
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

SPAWNED_RE = re.compile(r" pid=(\d+) spawned$")
ADOPTED_RE = re.compile(r" pid=(\d+) adopted from an earlier drover")
STOPPED_RE = re.compile(r"stopped (\d+) process(?:es)? left by an earlier drover")
POLL_S = 0.01


def log_lines(d):
    try:
        return d.log_path.read_text(errors="replace").splitlines()
    except OSError:
        return []


def line_time(line):
    """Epoch seconds of a drover log line ("2026-11-23T12:00:00.123Z info ..."), None if none."""
    try:
        return datetime.datetime.fromisoformat(line.split(" ", 1)[0]).timestamp()
    except (ValueError, IndexError):
        return None


def dumpfile_count(path):
    try:
        with open(path) as f:
            return len(json.load(f).get("instances", []))
    except (OSError, ValueError, AttributeError):
        return -1


def environ_of(pid):
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            raw = f.read()
    except OSError:
        return {}
    out = {}
    for item in raw.split(b"\0"):
        k, sep, v = item.partition(b"=")
        if sep:
            out[k.decode(errors="replace")] = v.decode(errors="replace")
    return out


def live_instance(pid, dumpfile):
    """True if pid is alive (not a zombie) and is an instance of this run's drovers."""
    st = bl.pid_state(pid)
    if st is None or st in ("Z", "X"):
        return False
    env = environ_of(pid)
    return "DROVER_PROGRAM" in env and env.get("DROVER_DUMPFILE") == str(dumpfile)


def sweep_instances(pids, dumpfile):
    """SIGKILL to the process group of each logged pid still alive and ours. Returns how many."""
    killed = 0
    for pid in sorted(pids):
        if not live_instance(pid, dumpfile):
            continue
        try:
            if os.getpgid(pid) == pid:
                os.killpg(pid, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)
            killed += 1
        except OSError:
            pass
    return killed


def pids_logged(d, regex):
    out = []
    for ln in log_lines(d):
        m = regex.search(ln)
        if m:
            out.append(int(m.group(1)))
    return out


class Reaper(threading.Thread):
    """Reaps the survivors (our children once A is dead: we are a subreaper) as soon as they
    exit, the way init would. Peeks with WNOWAIT so it never reaps anything else (drover B
    is a Popen child and is reaped by Popen)."""

    def __init__(self, pids):
        super().__init__(daemon=True)
        self.pids = set(pids)
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set() and self.pids:
            try:
                info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                info = None
            if info is not None and info.si_pid in self.pids:
                try:
                    os.waitpid(info.si_pid, 0)
                except ChildProcessError:
                    pass
                self.pids.discard(info.si_pid)
                continue
            if info is not None:  # someone else's zombie first in line: look at ours one by one
                for pid in list(self.pids):
                    try:
                        if os.waitpid(pid, os.WNOHANG)[0] == pid:
                            self.pids.discard(pid)
                    except ChildProcessError:
                        self.pids.discard(pid)
                self.stopping.wait(0.05)
            else:
                self.stopping.wait(0.002)

    def stop(self):
        self.stopping.set()
        self.join(5)


def run_once(mode, n, tmp, idx, problems, lazy_reaper=False):
    """One kill -9 + recovery. Returns a dict of timings (seconds) or None."""
    dumpfile = tmp / f"ckpt{idx}.json"
    prog = bl.program("s", [bl.SLEEPER], instances=n, start_seconds=0, backoff=(0, 0), yoyo=False)
    a = bl.Drover(tmp, [prog], quiet=False, tag=f"A{idx}", extra_args=["--dumpfile", str(dumpfile)])
    b_args = ["--dumpfile", str(dumpfile)] + (["--adopt"] if mode == "adopt" else [])
    b = bl.Drover(tmp, [prog], quiet=False, tag=f"B{idx}", extra_args=b_args)
    logged = set()
    res = None
    reaper = None
    try:
        a_wall = time.time()
        a.start()
        ok = bl.wait_until(lambda: (not a.alive()) or (len(bl.children_of(a.pid)) >= n
                                                          and dumpfile_count(dumpfile) >= n),
                           timeout=30 + n * 0.05, interval=0.05)
        logged.update(pids_logged(a, SPAWNED_RE))
        if not a.alive() or not ok:
            problems.append(f"{mode} run {idx}: A has {len(bl.children_of(a.pid))} of {n} children, dumpfile"
                            f" lists {dumpfile_count(dumpfile)}, alive={a.alive()}\n{a.log_text(1500)}")
            return None
        a_spawned = [line_time(ln) for ln in log_lines(a) if SPAWNED_RE.search(ln)]
        fresh = a_spawned[n - 1] - a_wall if len(a_spawned) >= n else None
        survivors = list(bl.children_of(a.pid))
        os.kill(a.pid, signal.SIGKILL)
        a.proc.wait(10)
        if not lazy_reaper:
            reaper = Reaper(survivors)
            reaper.start()

        b_wall = time.time()
        t0 = time.monotonic()
        b.start()
        if mode == "kill":
            def done():
                try:
                    text = b.log_path.read_text(errors="replace")
                except OSError:
                    text = ""
                return (not b.alive()) or text.count(" spawned\n") >= n
        else:
            want = f"adopted {n} instance"

            def done():
                return (not b.alive()) or b.log_has(want)
        ok = bl.wait_until(done, timeout=60 + n * 0.05, interval=POLL_S)
        poll_s = time.monotonic() - t0
        lines = log_lines(b)
        logged.update(pids_logged(b, SPAWNED_RE))
        if not b.alive() or not ok:
            problems.append(f"{mode} run {idx}: B did not finish recovery within {poll_s:.1f} s,"
                            f" alive={b.alive()}\n{b.log_text(1500)}")
            return None

        def first(pred):
            for ln in lines:
                if pred(ln):
                    return line_time(ln) - b_wall
            return None

        spawned = [line_time(ln) - b_wall for ln in lines if SPAWNED_RE.search(ln)]
        res = {
            "mode": mode, "poll": poll_s, "fresh": fresh,
            "started": first(lambda ln: ": supervising " in ln),
            "stop_first": first(lambda ln: " stopping pid " in ln),
            "stop_last": ([line_time(ln) - b_wall for ln in lines if " stopping pid " in ln] or [None])[-1],
            "stopped": first(lambda ln: STOPPED_RE.search(ln) is not None),
            "spawn_first": spawned[0] if spawned else None,
        }
        if mode == "kill":
            res["total"] = spawned[n - 1] if len(spawned) >= n else None
            stopped = [int(STOPPED_RE.search(ln).group(1)) for ln in lines if STOPPED_RE.search(ln)]
            if stopped != [n]:
                problems.append(f"kill run {idx}: 'stopped N processes' lines say {stopped}, expected [{n}]")
            if res["stop_first"] is not None and res["stopped"] is not None:
                res["stop_phase"] = res["stopped"] - res["stop_first"]
                res["stop_signal"] = res["stop_last"] - res["stop_first"]
                res["stop_wait"] = res["stopped"] - res["stop_last"]
            # settle: the new generation are B's children, none of A's survivors lives on
            bl.wait_until(lambda: len(bl.children_of(b.pid)) >= n, timeout=5)
            kids = len(bl.children_of(b.pid))
            alive_old = [p for p in survivors if live_instance(p, dumpfile)]
            if kids != n or alive_old:
                problems.append(f"kill run {idx}: B has {kids} children, {len(alive_old)} of A's"
                                f" {len(survivors)} survivors still alive")
        else:
            m = [ln for ln in lines if f"adopted {n} instance" in ln]
            res["total"] = line_time(m[0]) - b_wall if m else None
            adopted = pids_logged(b, ADOPTED_RE)
            alive_old = [p for p in survivors if live_instance(p, dumpfile)]
            if sorted(adopted) != sorted(survivors) or len(alive_old) != n or spawned:
                problems.append(f"adopt run {idx}: {len(adopted)} adopted lines, {len(alive_old)} of"
                                f" {len(survivors)} survivors alive, {len(spawned)} new spawns")
        warn = [ln for ln in lines if " warn " in ln or " error " in ln]
        if warn:
            problems.append(f"{mode} run {idx}: {len(warn)} warning/error lines in B's log, first: {warn[0]}")
    finally:
        b.stop(timeout=90 if mode == "adopt" else 20)  # adopted instances stop slowly (see docs)
        if mode == "adopt" and b.exit_code not in (0, None):
            problems.append(f"adopt run {idx}: B exited with {b.exit_code} after SIGTERM")
        if res is not None:
            res["b_stop"] = b.stop_seconds
        if reaper:
            reaper.stop()
        a.stop()
        logged.update(pids_logged(a, SPAWNED_RE) + pids_logged(b, SPAWNED_RE))
        for _ in range(5):
            if sweep_instances(logged, dumpfile) == 0:
                break
            time.sleep(0.1)
        bl.kill_orphans()
        left = [p for p in logged if live_instance(p, dumpfile)]
        if left:
            problems.append(f"{mode} run {idx}: {len(left)} instance(s) survived clean-up: {left[:10]}")
    return res


def main():
    args = bl.parse_args(__doc__.splitlines()[0], extra=lambda p: p.add_argument(
        "--lazy-reaper", action="store_true",
        help="do not reap A's orphans while B runs (they stay zombies until B has exited)"))
    bl.setup()
    n, runs = (100, 1) if args.quick else (1000, 3)
    print(f"recovery ({'quick' if args.quick else 'full'}): {n} sleepers, {runs} run(s) per mode,"
          " kill and adopt interleaved" + ("; orphans NOT reaped while B runs (--lazy-reaper)"
                                            if args.lazy_reaper else ""))
    problems, notes = [], []
    bl.ensure_nofile(2 * n + 256, notes)
    results = {"kill": [], "adopt": []}
    with bl.TempDir() as tmp:
        print(bl.host_line())
        idx = 0
        for r in range(runs):
            for mode in (("kill", "adopt") if r % 2 == 0 else ("adopt", "kill")):
                idx += 1
                res = run_once(mode, n, tmp, idx, problems, args.lazy_reaper)
                if res:
                    results[mode].append(res)

    def med(mode, key):
        vals = [r[key] for r in results[mode] if r.get(key) is not None]
        return bl.median(vals) if vals else None

    def ms(v):
        return bl.fmt_num(None if v is None else v * 1000.0, 0)

    rows = []
    fresh_all = [r["fresh"] for m in results for r in results[m] if r.get("fresh") is not None]
    fresh = bl.median(fresh_all) if fresh_all else None
    for mode in ("kill", "adopt"):
        rs = results[mode]
        tot = med(mode, "total")
        rows.append([f"{mode} mode" + (" (--adopt)" if mode == "adopt" else ""), len(rs),
                     ms(med(mode, "started")), ms(med(mode, "stop_phase")),
                     ms(med(mode, "stop_signal")), ms(med(mode, "stop_wait")),
                     ms(med(mode, "spawn_first")), ms(tot), ms(med(mode, "poll")),
                     ms(max((r["total"] for r in rs if r.get("total") is not None), default=None)),
                     f"{tot / fresh:.2f}" if tot is not None and fresh else "-"])
    rows.append(["fresh start (A)", len(fresh_all), "-", "-", "-", "-", "-", ms(fresh), "-",
                 ms(max(fresh_all, default=None)), "1.00" if fresh else "-"])
    out_notes = [
        "",
        "ms, medians over runs. Clock starts just before B's fork; 'total' is B's log time of the",
        "N-th new 'spawned' line (kill) or of 'adopted N instances' (adopt); 'poll' is the same seen",
        "by polling B's log every 10 ms. 'log up': B's first line. 'stop phase': first 'stopping pid'",
        "-> 'stopped N processes', split into signalling (first -> last 'stopping pid' line: one line,",
        "one group kill and one pidfd signal per survivor) and waiting (last 'stopping pid' -> 'stopped').",
        "'fresh start (A)': A's start -> its N-th 'spawned' (no recovery).",
        "Log timestamps are CLOCK_REALTIME truncated to ms.",
    ] + notes
    bl.print_table(f"recovery of {n:,} instances after kill -9 of drover, ms",
                   ["mode", "runs", "log up", "stop phase", "signalling", "waiting", "first spawn",
                    "total (median)", "poll", "total max", "/ fresh start"], rows, out_notes)

    rows = []
    for mode in ("kill", "adopt"):
        for i, r in enumerate(results[mode]):
            rows.append([f"{mode} {i + 1}", ms(r.get("started")), ms(r.get("stop_first")), ms(r.get("stopped")),
                         ms(r.get("spawn_first")), ms(r.get("total")), ms(r.get("fresh")),
                         bl.fmt_num(r.get("b_stop"), 2)])
    bl.print_table("per run, ms from B's fork (fresh: A's own start; B stop: SIGTERM -> exit, s)",
                   ["run", "log up", "first stopping", "stopped N", "first spawn", "total", "fresh (A)",
                    "B stop s"], rows,
                   ["", "B stop s: SIGTERM to B -> B exited, stopping the N instances it runs (its own children"
                    " in kill mode, adopted ones in adopt mode)."])
    bl.print_problems(problems)
    return 0


if __name__ == "__main__":
    sys.exit(main())

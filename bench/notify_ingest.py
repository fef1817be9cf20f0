#!/usr/bin/python3
"""Notify ingest: sd_notify datagrams drover takes in per second, sender checked.

bench/notify_flood.c (compiled into the temp dir) runs as drover's only instance, so its
SCM_CREDENTIALS are those of an instance. Once told to go (a file appears), it sends
"STATUS=flood begin", N x "WATCHDOG=1", "STATUS=flood end" to $NOTIFY_SOCKET on a
blocking socket (a full queue makes sendto() wait, nothing is lost to EAGAIN), then
waits to be stopped. Two sender paths:

  main pid     the instance's main process sends: drover finds it in its pid map
  group member a forked child (same process group, not the main pid) sends: drover
               reads /proc/PID/stat for every datagram to learn its process group

drover runs with -v, so a dropped datagram (foreign or malformed) would be logged; the
two STATUS datagrams are logged too ('status "flood begin"' / 'status "flood end"'),
which brackets the flood in drover's own log. Per arm:

  sender rate   N / the sender's own time from its first WATCHDOG=1 to the return of
                its last sendto() (the socket queue holds only net.unix.max_dgram_qlen
                datagrams, so the sender runs at the receiver's pace)
  log rate      N / drover's log time from "flood begin" to "flood end" (ms resolution)
  CPU/datagram  drover's CPU time (/proc/PID/schedstat, ns) over the flood / N; 1e9 / it
                is what drover could ingest with a CPU to itself

Baseline, same sender, same counts: notify_flood recv, a receiver with no supervisor
that does drover's loop only (epoll_wait, then up to 512 recvmsg() with SCM_CREDENTIALS
per wake-up); for the group path it also reads /proc/PID/stat per datagram.
Arms interleaved in rounds, order rotated. Full: N = 1,000,000 (main pid) and 300,000
(group member), 3 rounds; --quick: 100,000 and 30,000, 1 round.

    /usr/bin/python3 bench/notify_ingest.py [--quick]
"""
import datetime
import os
import select
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

TARGET = 200000


def parse_kv(line):
    """'sent 5 ns 10 errors 0' -> {'sent': 5, 'ns': 10, 'errors': 0} (ints where possible)."""
    parts = line.split()
    out = {}
    for k, v in zip(parts[::2], parts[1::2]):
        try:
            out[k] = int(v)
        except ValueError:
            out[k] = v
    return out


def stat_cpu_ns(pid):
    """utime+stime of pid from /proc/PID/stat, in ns (clock-tick resolution)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * 1000000000 // os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


class Group:
    """A sender started in its own session (it may fork); stopped with SIGKILL to its group."""

    def __init__(self, args, env, out_path):
        with open(out_path, "wb") as f:
            self.proc = subprocess.Popen([str(a) for a in args], stdin=subprocess.DEVNULL, stdout=f,
                                         stderr=subprocess.STDOUT, env=env, close_fds=True,
                                         start_new_session=True)
        bl._started.add(self.proc.pid)

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # its own group: it is the session leader
        except OSError:
            pass
        self.proc.wait(10)
        bl._started.discard(self.proc.pid)
        bl.kill_orphans()


def run_drover(arm, flood, n, tmp, idx, problems):
    go = tmp / f"go{idx}"
    out = tmp / f"flood{idx}.out"
    cmd = [flood, "send", str(n), go] + (["--fork"] if arm.endswith("group") else [])
    prog = bl.program("f", cmd, instances=1, start_seconds=0, backoff=(1, 1), yoyo=False, output=str(out))
    d = bl.Drover(tmp, [prog], quiet=False, tag=f"ingest{idx}", extra_args=["-v"])
    with d:
        if not bl.wait_until(lambda: (not d.alive()) or d.log_has(" spawned"), timeout=10):
            problems.append(f"{arm}: no instance spawned\n{d.log_text(1500)}")
            return None
        time.sleep(0.2)  # drover idle again
        c0, s0 = bl.cpu_ns(d.pid), stat_cpu_ns(d.pid)
        go.touch()
        timeout = 20 + n / 20000
        ok = bl.wait_until(lambda: (not d.alive()) or d.log_has('status "flood end"'), timeout=timeout,
                           interval=0.01)
        c1, s1 = bl.cpu_ns(d.pid), stat_cpu_ns(d.pid)
        if not ok or not d.alive():
            problems.append(f"{arm}: no 'flood end' within {timeout:.0f} s; alive={d.alive()}\n{d.log_text(1500)}")
            return None
        bl.wait_until(lambda: out.exists() and "sent" in out.read_text(), timeout=5)
        lines = d.log_path.read_text(errors="replace").splitlines()
    sender = {}
    for ln in out.read_text(errors="replace").splitlines():
        if ln.startswith("sent "):
            sender = parse_kv(ln)
    t_begin = t_end = None
    for ln in lines:
        if 'status "flood begin"' in ln and t_begin is None:
            t_begin = ln.split(" ", 1)[0]
        if 'status "flood end"' in ln:
            t_end = ln.split(" ", 1)[0]
    dropped = [ln for ln in lines if "dropped a datagram" in ln or "malformed notify" in ln]
    warn = [ln for ln in lines if " warn " in ln or " error " in ln]
    if dropped:
        problems.append(f"{arm}: {len(dropped)} datagrams dropped by drover, first: {dropped[0]}")
    if warn:
        problems.append(f"{arm}: {len(warn)} warning/error lines, first: {warn[0]}")
    if sender.get("errors"):
        problems.append(f"{arm}: sender saw {sender['errors']} sendto() errors")
    log_s = None
    if t_begin and t_end:
        log_s = (datetime.datetime.fromisoformat(t_end) - datetime.datetime.fromisoformat(t_begin)).total_seconds()
    return {
        "n": n,
        "sender_rate": n / (sender["ns"] / 1e9) if sender.get("ns") else None,
        "log_rate": n / log_s if log_s else None,
        "cpu_ns": (c1 - c0) / n if c0 is not None and c1 is not None else None,
        "stat_cpu_ns": (s1 - s0) / n if s0 is not None and s1 is not None else None,
    }


def run_baseline(arm, flood, n, tmp, idx, problems):
    name = f"drover-bench-{os.getpid()}-{idx}"
    go = tmp / f"go{idx}"
    recv_args = [flood, "recv", name, str(20 + n / 20000)] + (["--stat"] if arm.endswith("group") else [])
    send_args = [flood, "send", str(n), go] + (["--fork"] if arm.endswith("group") else [])
    env = dict(os.environ, NOTIFY_SOCKET="@" + name)
    out = tmp / f"send{idx}.out"
    with bl.Proc(recv_args, tag="recv") as r:
        ready, _, _ = select.select([r.proc.stdout], [], [], 5)
        if not ready or r.proc.stdout.readline().strip() != "ready":
            problems.append(f"{arm}: baseline receiver not ready")
            return None
        s = Group(send_args, env, out)
        try:
            go.touch()
            try:
                r.proc.wait(30 + n / 20000)
            except subprocess.TimeoutExpired:
                problems.append(f"{arm}: baseline receiver did not finish")
            # the sender (and its child) pause until stopped; wait for its report line
            bl.wait_until(lambda: "sent" in out.read_text(errors="replace"), timeout=5)
        finally:
            s.stop()
    sender, recv = {}, {}
    for ln in out.read_text(errors="replace").splitlines():
        if ln.startswith("sent "):
            sender = parse_kv(ln)
    for ln in r.out.splitlines():
        if ln.startswith("recv "):
            recv = parse_kv(ln)
    if recv.get("recv") != n:
        problems.append(f"{arm}: baseline received {recv.get('recv')} of {n}")
    return {
        "n": n,
        "sender_rate": n / (sender["ns"] / 1e9) if sender.get("ns") else None,
        "log_rate": n / (recv["ns"] / 1e9) if recv.get("ns") else None,
        "cpu_ns": recv["cpu_ns"] / n if recv.get("cpu_ns") is not None else None,
        "stat_cpu_ns": None,
    }


def main():
    args = bl.parse_args(__doc__.splitlines()[0])
    bl.setup()
    n_main, n_group, rounds = (100000, 30000, 1) if args.quick else (1000000, 300000, 3)
    arms = ["drover main pid", "drover group", "baseline main pid", "baseline group"]
    print(f"notify_ingest ({'quick' if args.quick else 'full'}): {n_main:,} datagrams (main pid),"
          f" {n_group:,} (group member), {rounds} round(s), arms interleaved")
    problems = []
    results = {a: [] for a in arms}
    with bl.TempDir() as tmp:
        print(bl.host_line())
        flood = bl.compile_c(bl.BENCH_DIR / "notify_flood.c", tmp / "notify_flood")
        idx = 0
        for r in range(rounds):
            order = arms[r % len(arms):] + arms[:r % len(arms)]
            for arm in order:
                idx += 1
                n = n_group if arm.endswith("group") else n_main
                fn = run_drover if arm.startswith("drover") else run_baseline
                res = fn(arm, flood, n, tmp, idx, problems)
                if res:
                    results[arm].append(res)

    def med(arm, key):
        vals = [x[key] for x in results[arm] if x.get(key) is not None]
        return bl.median(vals) if vals else None

    rows = []
    for arm in arms:
        cpu = med(arm, "cpu_ns")
        rows.append([arm, len(results[arm]), bl.fmt_num(results[arm][0]["n"] if results[arm] else None),
                     bl.fmt_num(med(arm, "sender_rate"), 0), bl.fmt_num(med(arm, "log_rate"), 0),
                     bl.fmt_num(cpu / 1000.0 if cpu else None, 2),
                     bl.fmt_num(1e9 / cpu if cpu else None, 0),
                     bl.fmt_num(med(arm, "stat_cpu_ns") / 1000.0 if med(arm, "stat_cpu_ns") else None, 2)])
    notes = [
        "",
        "rates in datagrams/s, medians over rounds. sender: N / the sender's own send time.",
        "log/recv: N / drover's log time 'flood begin' -> 'flood end' (ms resolution); for a baseline,",
        "the receiver's first -> last WATCHDOG=1. CPU us/dgram: the receiver's CPU time / N (drover:",
        "/proc/PID/schedstat, ns; 'stat' the same from /proc/PID/stat utime+stime, 10 ms ticks);",
        "CPU-bound rate = 1e9 / CPU ns per datagram.",
        f"Target: >= {TARGET:,} datagrams/s accepted.",
    ]
    for path in ("main pid", "group"):
        d, b = med(f"drover {path}", "cpu_ns"), med(f"baseline {path}", "cpu_ns")
        ds, bs = med(f"drover {path}", "sender_rate"), med(f"baseline {path}", "sender_rate")
        if d and b:
            notes.append(f"{path}: drover / baseline CPU per datagram {d / b:.2f}; sender rate {ds / bs:.2f}"
                         if ds and bs else f"{path}: drover / baseline CPU per datagram {d / b:.2f}")
    bl.print_table("notify datagrams ingested, sender credentials checked",
                   ["arm", "rounds", "N", "sender rate /s", "log/recv rate /s", "CPU us/dgram",
                    "CPU-bound rate /s", "stat CPU us/dgram"], rows, notes)
    rows = [[arm] + [bl.fmt_num(x["sender_rate"], 0) for x in results[arm]] for arm in arms]
    bl.print_table("sender rate per round, datagrams/s", ["arm"] + [f"round {i + 1}" for i in range(rounds)],
                   [r + ["-"] * (rounds + 1 - len(r)) for r in rows])
    bl.print_problems(problems)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""HTTP API under wrk with 1,000 instances: req/s and p99; restart latency idle vs loaded.

wrk against /health, /livez, /status and /metrics of a drover running 1,000 instances, and
restart latency while wrk hammers /health (idle and loaded side by side, in one run).

One drover (-q, --http 127.0.0.1:PORT, a free loopback port) runs 1,000 instances: 999 of
build/helpers/sleeper and 1 of build/helpers/pinger (start_seconds 0, backoff 0, yo-yo limit
off). Once all 1,000 are children of drover and /readyz answers 200:

  1. endpoints   wrk -t2 -c64 -dDs --latency http://127.0.0.1:PORT/PATH for /health, /livez
                 (the HTTP stack alone: no per-instance work), /status, /metrics and /health
                 again, one after the other. wrk's requests/s, p50, p99, non-2xx and socket
                 errors are parsed from its output; drover's and wrk's CPU over the run come
                 from /proc/PID/stat (utime + stime, whole process). Then the same /health run
                 against a drover with 1 instance, for the per-instance share of an answer.
  2. restarts    the method of bench/restart_latency.py on the pool's pinger: t_kill =
                 time.monotonic_ns() just before SIGKILL, latency = the replacement's
                 CLOCK_MONOTONIC at the top of its main() - t_kill. Five arms, interleaved in
                 rounds with the order rotated each round: drover idle (nothing else), drover
                 with wrk on /health, drover with wrk on /livez (wrk -t2 -c64 in the background,
                 started 1 s before the arm's first kill, stopped with SIGINT after its last;
                 wrk's own figures are parsed as above), and as the control forkloop idle and
                 forkloop with wrk on /health: bench/forkloop.c --vfork restarts a pinger of its
                 own while drover serves the same load, so the pool's drover is out of the
                 restart path and the ratio shows what the load alone costs a restart here.

Medians, p90/p99 and ratios only; no timing is asserted. D = 10 s, 3 rounds x 200 kills per
arm, 1 s of wrk before an arm's first kill (--quick: D = 1 s, 1 round x 30 kills, 0.5 s).
About 1.6 minutes (--quick: about 15 s).

Needs wrk (Debian: apt-get install -y wrk). DROVER_BIN=/path/to/drover measures another
drover; DROVER_HELPERS=/dir takes pinger and sleeper from /dir instead of build/helpers.
Everything started is stopped by pid (wrk: SIGINT, then SIGTERM/SIGKILL; drover: SIGTERM,
then SIGKILL; leftovers reparented to us are killed by process group), also on error.

    /usr/bin/python3 bench/http_load.py [--quick] [--connections N]
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402
import restart_latency as rl  # noqa: E402  (kill_and_time, GAP_S)

INSTANCES = 1000
THREADS, CONNS = 2, 64  # CONNS: --connections
# /health twice: first on a fresh drover, again after /status and /metrics (whose large answers
# change the state of drover's heap; see docs/BENCHMARKS.md)
ENDPOINTS = ["/health", "/livez", "/status", "/metrics", "/health"]
# restart arm -> (who restarts the pinger, path wrk loads drover with or None). The forkloop arms
# are the control: bench/forkloop.c --vfork restarts a pinger of its own while drover (the pool)
# serves the same wrk load, so their ratio is what the load costs any restart on this machine.
ARMS = {
    "drover idle": ("drover", None),
    "drover, wrk /health": ("drover", "/health"),
    "drover, wrk /livez": ("drover", "/livez"),
    "forkloop idle": ("forkloop", None),
    "forkloop, wrk /health": ("forkloop", "/health"),
}
WARMUP_S = 1.0            # wrk runs this long before the first kill of a loaded arm
TARGET_HEALTH_RPS = 30000
CLK_TCK = os.sysconf("SC_CLK_TCK")


def use_helpers_from_env():
    d = os.environ.get("DROVER_HELPERS")
    if d:
        bl.HELPERS = Path(d)
        bl.PINGER = bl.HELPERS / "pinger"
        bl.SLEEPER = bl.HELPERS / "sleeper"


def require_wrk():
    wrk = shutil.which("wrk")
    if not wrk:
        print("wrk not found in PATH. This benchmark drives drover's HTTP API with wrk.\n"
              "Install it (Debian/Ubuntu): apt-get install -y wrk", file=sys.stderr)
        sys.exit(2)
    return wrk




def _stat_fields(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()  # fields[0] is field 3 (state)


def cpu_ticks(pid):
    """utime + stime of the whole process (all threads) in clock ticks, None if gone."""
    try:
        fields = _stat_fields(pid)
        return int(fields[11]) + int(fields[12])
    except (OSError, ValueError, IndexError):
        return None


def minor_faults(pid):
    """minflt of the process (/proc/PID/stat field 10), None if gone."""
    try:
        return int(_stat_fields(pid)[7])
    except (OSError, ValueError, IndexError):
        return None


# --- wrk -------------------------------------------------------------------------------------



class Wrk:
    """wrk in the background, measured together with drover's CPU; stop() -> parsed result."""

    def __init__(self, wrk, port, path, seconds, drover_pid):
        self.p = bl.Proc([wrk, f"-t{THREADS}", f"-c{CONNS}", f"-d{seconds}s", "--latency",
                          f"http://127.0.0.1:{port}{path}"], tag="wrk")
        self.seconds = seconds
        self.drover_pid = drover_pid

    def start(self):
        self.d0 = cpu_ticks(self.drover_pid)
        self.f0 = minor_faults(self.drover_pid)
        self.t0 = time.monotonic()
        self.p.start()
        return self

    def finish(self, early=False):
        """Waits for wrk's own end (or SIGINTs it when early: wrk then prints its figures)."""
        wcpu = None
        try:
            if early and self.p.alive():
                wcpu = cpu_ticks(self.p.pid)
                os.kill(self.p.pid, signal.SIGINT)
            if self._wait_exited(10 if early else self.seconds + 15) and wcpu is None:
                wcpu = cpu_ticks(self.p.pid)  # a zombie still shows its totals
        finally:
            wall = time.monotonic() - self.t0
            d1 = cpu_ticks(self.drover_pid)
            f1 = minor_faults(self.drover_pid)
            self.p.stop()
        r = bl.parse_wrk(self.p.out)
        r["raw"] = self.p.out
        r["wall"] = wall
        if self.d0 is not None and d1 is not None:
            r["drover_cpu_s"] = (d1 - self.d0) / CLK_TCK
        if self.f0 is not None and f1 is not None:
            r["drover_faults"] = f1 - self.f0
        r["wrk_cpu_s"] = None if wcpu is None else wcpu / CLK_TCK
        return r

    def _wait_exited(self, timeout):
        """True once wrk has exited, without reaping it (WNOWAIT), so its CPU can still be read;
        Popen reaps it in stop(). False after timeout."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                info = os.waitid(os.P_PID, self.p.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return True
            if info is not None:
                return True
            time.sleep(0.02)
        return False


def run_wrk(wrk, port, path, seconds, drover_pid):
    w = Wrk(wrk, port, path, seconds, drover_pid).start()
    return w.finish()


# --- drover ----------------------------------------------------------------------------------

def start_pool(tmp, n_sleepers, with_pinger, sock, tag, problems):
    """drover -q --http on a free port with n_sleepers sleepers (+1 pinger). (Drover, port, seconds
    to start) once every instance is a child and /readyz is 200; the Drover is started even if
    that fails (the caller stops it)."""
    port = bl.free_port()
    progs = [bl.program("s", [bl.SLEEPER], instances=n_sleepers, start_seconds=0, backoff=(0, 0),
                        yoyo=False)]
    if with_pinger:
        progs.append(bl.program("w", [bl.PINGER], instances=1, start_seconds=0, backoff=(0, 0),
                                yoyo=False, env={"DROVER_BENCH_SOCK": sock.path}))
    n = n_sleepers + (1 if with_pinger else 0)
    d = bl.Drover(tmp, progs, quiet=True, tag=tag, extra_args=["--http", f"127.0.0.1:{port}"])
    t0 = time.monotonic()
    d.start()
    ok = bl.wait_until(lambda: (not d.alive()) or (len(bl.children_of(d.pid)) >= n
                                                    and bl.http_get(port, "/readyz", 1.0)[0] == 200),
                       timeout=30 + n * 0.05, interval=0.05)
    up_s = time.monotonic() - t0
    if not d.alive() or not ok:
        problems.append(f"{tag}: {len(bl.children_of(d.pid))} of {n} instances after {up_s:.1f} s,"
                        f" /readyz {bl.http_get(port, '/readyz', 1.0)[0]}, alive={d.alive()}\n"
                        f"{d.log_text(1500)}")
        return d, port, None
    return d, port, up_s


def kill_samples(d, sock, pid, n, deadline, problems, arm):
    """n kills of the pinger (pid); returns (samples in ns, pid of the current pinger)."""
    samples = []
    for _ in range(n):
        if time.monotonic() >= deadline:
            problems.append(f"{arm}: time budget reached, round cut short")
            break
        nxt = rl.kill_and_time(pid, d.pid, sock, arm, problems, samples)
        if nxt is None:
            break
        pid = nxt
    return samples, pid


def forkloop_samples(forkloop, sock, n, deadline, problems, arm):
    """The same n kills with forkloop --vfork as the pinger's parent instead of drover."""
    env = dict(os.environ, DROVER_BENCH_SOCK=sock.path)
    p = bl.Proc([forkloop, "--vfork", "600", "1000000", bl.PINGER], tag="forkloop", env=env)
    sock.drain()
    with p:
        first = sock.recv(5.0)
        if first is None:
            problems.append(f"{arm}: no datagram from forkloop's first pinger within 5 s")
            return []
        samples, _ = kill_samples(p, sock, first[0], n, deadline, problems, arm)
    return samples


# --- tables ----------------------------------------------------------------------------------

def ms_fmt(v, nd=2):
    return bl.fmt_num(v, nd) if v is not None else "-"


def errors_fmt(e):
    total = sum(e.values()) if e else 0
    if not total:
        return "0"
    return " ".join(f"{k} {v}" for k, v in e.items() if v)


def wrk_row(label, instances, body, r):
    cpu = r.get("drover_cpu_s")
    wall = r.get("seconds") or r.get("wall")
    reqs = r.get("requests")
    return [label, f"{instances:,}", bl.fmt_num(body) if body is not None else "-", CONNS,
            bl.fmt_num(r["rps"], 0) if r["rps"] is not None else "-",
            ms_fmt(r.get("p50")), ms_fmt(r.get("p99")), bl.fmt_num(r["non2xx"]), errors_fmt(r["errors"]),
            f"{100.0 * cpu / r['wall']:.0f}%" if cpu is not None else "-",
            f"{1e6 * cpu / reqs:.1f}" if cpu is not None and reqs else "-",
            f"{r['drover_faults'] / reqs:.2f}" if r.get("drover_faults") is not None and reqs else "-",
            f"{100.0 * r['wrk_cpu_s'] / wall:.0f}%" if r.get("wrk_cpu_s") is not None and wall else "-"]


WRK_HEADERS = ["endpoint", "instances", "body bytes", "conns", "req/s", "p50 ms", "p99 ms", "non-2xx",
               "socket errors", "drover CPU", "drover CPU us/req", "drover faults/req", "wrk CPU"]


def main():
    global CONNS
    args = bl.parse_args(__doc__.splitlines()[0], extra=lambda p: p.add_argument(
        "--connections", type=int, default=CONNS, metavar="N",
        help=f"wrk -cN, open connections (default {CONNS}; drover accepts at most 256)"))
    CONNS = max(THREADS, min(args.connections, 256))
    use_helpers_from_env()
    wrk = require_wrk()
    bl.setup()
    seconds, rounds, per_round, budget = (1, 1, 30, 40.0) if args.quick else (10, 3, 200, 170.0)
    warmup = WARMUP_S / 2 if args.quick else WARMUP_S
    t_start = time.monotonic()
    deadline = t_start + budget
    problems, notes = [], []
    bl.ensure_nofile(2 * INSTANCES + 512, notes)
    print(f"http_load ({'quick' if args.quick else 'full'}): {INSTANCES:,} instances; wrk -t{THREADS}"
          f" -c{CONNS} -d{seconds}s per endpoint; restart latency {rounds} rounds x {per_round} kills,"
          f" {len(ARMS)} arms interleaved")
    wrk_ver = subprocess.run([wrk, "-v"], capture_output=True, text=True, timeout=5)
    print((wrk_ver.stdout + wrk_ver.stderr).splitlines()[0] if (wrk_ver.stdout + wrk_ver.stderr) else wrk)

    results = []          # (endpoint, wrk result)
    bodies = {}           # endpoint -> body bytes
    small = None          # /health with 1 instance
    lat = {a: [] for a in ARMS}
    round_medians = {a: [] for a in ARMS}
    loaded_wrk = []       # (arm, round, wrk result)
    up_s = None
    drover_exit = []

    with bl.TempDir() as tmp:
        print(bl.host_line())
        forkloop = bl.compile_c(bl.BENCH_DIR / "forkloop.c", tmp / "forkloop")
        with bl.PingSocket(tmp / "ping.sock") as sock:
            d, port, up_s = start_pool(tmp, INSTANCES - 1, True, sock, "pool1000", problems)
            try:
                first = sock.recv(5.0) if up_s is not None else None
                if up_s is not None and first is None:
                    problems.append("no datagram from the pool's pinger within 5 s")
                if up_s is not None and first is not None:
                    pinger = first[0]
                    # 1. endpoints
                    for path in ENDPOINTS:
                        code, body = bl.http_get(port, path)
                        bodies[path] = len(body) if code is not None else None
                        if code != 200:
                            problems.append(f"GET {path} before wrk: {code} {body[:300]!r}")
                        res = run_wrk(wrk, port, path, seconds, d.pid)
                        results.append((path, res))
                        if res["rps"] is None:
                            problems.append(f"wrk {path}: no Requests/sec in its output:\n"
                                            f"{res['raw'][-800:]}")
                    code, body = bl.http_get(port, "/health")
                    if code != 200:
                        problems.append(f"GET /health after the endpoint runs: {code} {body[:300]!r}")
                    # 2. restart latency, idle vs loaded, interleaved
                    sock.drain()
                    arms = list(ARMS)
                    for r in range(rounds):
                        order = arms[r % len(arms):] + arms[:r % len(arms)]  # rotated each round
                        for arm in order:
                            if time.monotonic() >= deadline:
                                problems.append(f"time budget reached before round {r + 1} {arm}")
                                break
                            who, load = ARMS[arm]
                            w = None
                            if load:
                                w = Wrk(wrk, port, load, int(budget) + 60, d.pid).start()
                                time.sleep(warmup)
                            try:
                                if who == "drover":
                                    s, pinger = kill_samples(d, sock, pinger, per_round, deadline,
                                                             problems, f"round {r + 1} {arm}")
                                else:
                                    s = forkloop_samples(forkloop, sock, per_round, deadline, problems,
                                                         f"round {r + 1} {arm}")
                            finally:
                                if w is not None:
                                    loaded_wrk.append((arm, r + 1, w.finish(early=True)))
                            lat[arm].extend(s)
                            round_medians[arm].append(bl.median(s))
                            sock.drain()
                            if not d.alive():
                                problems.append(f"drover exited during round {r + 1} {arm}")
                                break
                    code, body = bl.http_get(port, "/health")
                    if code != 200:
                        problems.append(f"GET /health after the restarts: {code} {body[:300]!r}")
                log = d.log_text(1 << 24).splitlines()
            finally:
                d.stop()
            drover_exit.append(("pool of 1,000", d.exit_code))
            bad = [ln for ln in log if (" warn " in ln or " error " in ln) and " w:0 " not in ln]
            if bad:
                problems.append(f"pool of 1,000: {len(bad)} warning/error lines not about the pinger,"
                                f" first: {bad[0]}")

            # 3. /health with 1 instance, for the per-instance share
            if time.monotonic() + seconds + 5 < deadline:
                d1, port1, up1 = start_pool(tmp, 1, False, sock, "pool1", problems)
                try:
                    if up1 is not None:
                        code, body = bl.http_get(port1, "/health")
                        bodies["/health 1"] = len(body) if code is not None else None
                        if code != 200:
                            problems.append(f"GET /health (1 instance): {code} {body[:300]!r}")
                        small = run_wrk(wrk, port1, "/health", seconds, d1.pid)
                finally:
                    d1.stop()
                drover_exit.append(("pool of 1", d1.exit_code))
            else:
                problems.append("time budget: the 1-instance /health run was skipped")

    # --- report ---
    seen = set()
    rows = []
    for p, res in results:
        rows.append(wrk_row(p + (" again" if p in seen else ""), INSTANCES, bodies.get(p), res))
        seen.add(p)
    if small is not None:
        rows.append(wrk_row("/health", 1, bodies.get("/health 1"), small))
    out_notes = [
        "",
        f"wrk -t{THREADS} -c{CONNS} -d{seconds}s --latency, keep-alive, loopback. p50/p99: wrk's latency"
        " distribution (not corrected for",
        "coordinated omission). non-2xx: wrk's 'Non-2xx or 3xx responses' (/health answers 503 when"
        " unhealthy).",
        "drover CPU: utime+stime of drover over the run / wall time (100% = one core); wrk CPU likewise"
        " (both",
        "threads). drover and wrk share the machine's 2 vCPUs. faults/req: drover's minor page faults"
        " (minflt) per request.",
    ]
    h = next((res for p, res in results if p == "/health"), None)
    h2 = [res for p, res in results if p == "/health"][1:]
    if h and h["rps"] is not None:
        verdict = "met" if h["rps"] >= TARGET_HEALTH_RPS else \
            f"missed by {100.0 * (1 - h['rps'] / TARGET_HEALTH_RPS):.0f}%"
        out_notes.append(f"Target: /health >= {TARGET_HEALTH_RPS:,} req/s with {INSTANCES:,} instances:"
                         f" {h['rps']:,.0f} req/s on a fresh drover, {verdict}.")
        if h2 and h2[0]["rps"] is not None:
            out_notes.append(f"  /health again (after /status and /metrics): {h2[0]['rps']:,.0f} req/s,"
                             f" {'met' if h2[0]['rps'] >= TARGET_HEALTH_RPS else 'missed'}.")
        lz = next((res for p, res in results if p == "/livez"), None)
        cpu_h, cpu_l = h.get("drover_cpu_s"), (lz or {}).get("drover_cpu_s")
        if lz and cpu_h and cpu_l and h["requests"] and lz["requests"]:
            per_h, per_l = 1e6 * cpu_h / h["requests"], 1e6 * cpu_l / lz["requests"]
            out_notes.append(f"drover CPU per request: /health {per_h:.1f} us, /livez {per_l:.1f} us"
                             f" (HTTP stack alone); CPU-bound rate of /health = {1e6 / per_h:,.0f} req/s"
                             " if drover had a core to itself.")
        if small and small.get("drover_cpu_s") and small["requests"] and h.get("drover_cpu_s"):
            per_s = 1e6 * small["drover_cpu_s"] / small["requests"]
            per_h = 1e6 * h["drover_cpu_s"] / h["requests"]
            out_notes.append(f"/health with 1 instance: {per_s:.1f} us/req; the 999 more instances add"
                             f" {per_h - per_s:.1f} us ({1000.0 * (per_h - per_s) / (INSTANCES - 1):.0f}"
                             " ns per instance).")
    if up_s is not None:
        out_notes.append(f"pool of {INSTANCES:,} up (all children, /readyz 200) in {up_s:.1f} s.")
    bl.print_table(f"drover's HTTP API under wrk, {INSTANCES:,} instances (last row: 1 instance)",
                   WRK_HEADERS, rows, out_notes + notes)

    def us(ns):
        return None if ns is None else ns / 1000.0

    rows = bl.latency_rows(lat, ARMS)
    lat_notes = [
        "",
        "SIGKILL of the pool's pinger -> its replacement's CLOCK_MONOTONIC at the top of main()"
        " (bench/restart_latency.py's",
        f"method, {rl.GAP_S * 1000:.0f} ms pause before each kill), {INSTANCES:,} instances running."
        f" wrk PATH: wrk -t{THREADS} -c{CONNS} on drover's PATH",
        f"throughout the arm (started {warmup:.1f} s before its first kill). forkloop: bench/forkloop.c"
        " --vfork is the pinger's parent",
        "instead of drover (the control: same load on the machine, no drover in the restart path)."
        " Arms interleaved,",
        "order rotated each round. Percentiles: nearest rank.",
    ]
    for arm, (who, load) in ARMS.items():
        base = f"{who} idle"
        if not load or not lat[base] or not lat[arm]:
            continue
        il, lo = lat[base], lat[arm]
        ratio = bl.median(lo) / bl.median(il)
        same = [m / i for i, m in zip(round_medians[base], round_medians[arm]) if i and m]
        line = (f"{arm} / {base}: median {ratio:.2f}, p90 "
                f"{bl.percentile(lo, 90) / bl.percentile(il, 90):.2f}, p99 "
                f"{bl.percentile(lo, 99) / bl.percentile(il, 99):.2f}; same-round median ratios "
                + " / ".join(f"{x:.2f}" for x in same))
        if who == "drover" and load == "/health":
            line += f". Target: median ratio < 2: {'met' if ratio < 2 else 'missed'}."
        lat_notes.append(line)
    lat_notes.append("per-round medians: " + "; ".join(
        f"{arm} " + " / ".join(bl.fmt_num(us(m)) for m in round_medians[arm] if m) for arm in ARMS))
    bl.print_table(f"restart latency with {INSTANCES:,} instances, idle vs under HTTP load, microseconds",
                   ["arm", "samples", "median", "p90", "p99", "max", "min"], rows, lat_notes)

    if loaded_wrk:
        rows = [wrk_row(f"{ARMS[arm][1]} ({ARMS[arm][0]} arm), round {rnd}", INSTANCES,
                        bodies.get(ARMS[arm][1]), r)
                for arm, rnd, r in sorted(loaded_wrk, key=lambda x: (x[0], x[1]))]
        bl.print_table("wrk during the loaded arms (stopped with SIGINT after the last kill)", WRK_HEADERS,
                       rows, ["", "Non-2xx on /health here would be 503s while the pinger restarts."])

    for what, code in drover_exit:
        if code not in (0, None):
            problems.append(f"{what}: drover exited with code {code} after SIGTERM")
    print(f"\ntotal time {time.monotonic() - t_start:.0f} s")
    bl.print_problems(problems)
    return 0


if __name__ == "__main__":
    sys.exit(main())

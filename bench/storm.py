#!/usr/bin/python3
"""Storms: /livez latency while drover is under a crash loop, a start storm and an HTTP flood.

During each storm a prober (a separate process, so the benchmark's own JSON parsing does not
hold its GIL) opens a fresh loopback TCP connection to drover's --http port every 10 ms, sends
GET /livez (Connection: close) and records the time from connect() to the end of the answer.
The goal the figures are read against: /livez p99 < 50 ms. Nothing is asserted.

  1. crash loop   1,000 instances of /bin/false ("instances" = "max_instances" = 1000,
                  start_seconds 1, yoyo false, backoff 100ms..1s), so every instance keeps
                  exiting at once and restarting after its backoff. D = 20 s (--quick 5 s) from
                  the first /livez answer. Restarts = the sum of "restarts" in /status at the
                  end (cross-checked against the "exited with code" warnings in drover's log).
                  drover's VmRSS and open descriptors at the first answer and at the end.
  2. start storm  10,000 instances of build/helpers/sleeper (--quick 1,000) started at once,
                  start_seconds 0. The prober starts just before drover (refusals until drover
                  listens are counted apart). Time until all are drover's children
                  (/proc/PID/task/*/children, every 50 ms) and until /status shows every
                  instance "running" (polled every 0.5 s), then 1 s more; RSS and descriptors at
                  the first answer and at the end; the time drover takes to stop them all.
  3. HTTP flood   drover with 100 sleepers; the prober alone for 5 s (--quick 2 s) as the idle
                  baseline, then wrk -t2 -c64 -d10s (--quick 3 s) on GET /status with the prober
                  running. wrk's req/s and p99, and the /livez latencies. Skipped without wrk.

About 1.2 minutes (--quick: about 20 s). Loopback only. Everything started is stopped by pid
(prober and wrk: SIGTERM/SIGINT; drover: SIGTERM, then SIGKILL; leftovers reparented to us are
killed by process group), also on error and on Ctrl-C.

    /usr/bin/python3 bench/storm.py [--quick]
"""
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

PROBE_INTERVAL_S = 0.010
PROBE_TIMEOUT_S = 5.0
GOAL_P99_MS = 50.0
WRK_THREADS, WRK_CONNS = 2, 64


# --- the prober (run as: storm.py --probe PORT) ----------------------------------------------

def probe_once(port):
    """Latency in ns of one GET /livez on a fresh connection, or (None, error kind)."""
    t0 = time.monotonic_ns()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(PROBE_TIMEOUT_S)
    try:
        s.connect(("127.0.0.1", port))
        s.sendall(b"GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data and data.rstrip().endswith(b"}"):
                break
        t1 = time.monotonic_ns()
        if not data.startswith(b"HTTP/1.1 200"):
            return None, "bad answer"
        return t1 - t0, None
    except ConnectionRefusedError:
        return None, "refused"
    except socket.timeout:
        return None, "timeout"
    except OSError as e:
        return None, type(e).__name__
    finally:
        s.close()


def probe_main(port):
    """Probes until SIGTERM; then prints one JSON object: samples (ns, in order), errors."""
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    samples, errors, refused_before_first = [], {}, 0
    t_first = None
    t_begin = time.monotonic()
    nxt = time.monotonic()
    hard_end = t_begin + 900  # bound: the benchmark stops us long before
    while not stop and time.monotonic() < hard_end:
        lat, err = probe_once(port)
        if lat is not None:
            if t_first is None:
                t_first = time.monotonic() - t_begin
            samples.append(lat)
        elif err == "refused" and t_first is None:
            refused_before_first += 1
        else:
            errors[err] = errors.get(err, 0) + 1
        nxt += PROBE_INTERVAL_S
        now = time.monotonic()
        if nxt < now:  # a slow probe: the next one starts at once, missed slots are skipped
            nxt = now
        else:
            time.sleep(nxt - now)
    json.dump({"samples": samples, "errors": errors, "refused_before_first": refused_before_first,
               "first_answer_s": t_first}, sys.stdout)
    sys.stdout.flush()


class Prober:
    """The prober process; stop() -> its result dict."""

    def __init__(self, port):
        self.p = bl.Proc([sys.executable, os.path.abspath(__file__), "--probe", str(port)], tag="prober")
        self.stopped = False

    def __enter__(self):
        self.p.start()
        return self

    def stop(self):
        self.stopped = True
        self.p.stop(timeout=PROBE_TIMEOUT_S + 5)
        try:
            return json.loads(self.p.out[self.p.out.index("{"):])
        except ValueError:
            return {"samples": [], "errors": {"no result": 1}, "refused_before_first": 0,
                    "first_answer_s": None, "raw": self.p.out[-500:]}

    def __exit__(self, *exc):
        if not self.stopped:
            self.p.stop()
        return False


def livez_cells(r):
    """[n, errors, p50 ms, p99 ms, max ms, p99 < 50 ms?] from a prober result."""
    s = r["samples"]
    errs = sum(r["errors"].values())
    if not s:
        return [0, errs, "-", "-", "-", "-"]
    p99 = bl.percentile(s, 99) / 1e6
    return [len(s), errs, bl.fmt_num(bl.median(s) / 1e6, 2), bl.fmt_num(p99, 2),
            bl.fmt_num(max(s) / 1e6, 2), "yes" if p99 < GOAL_P99_MS else "no"]


LIVEZ_HEADERS = ["livez n", "errors", "p50 ms", "p99 ms", "max ms", "p99 < 50 ms"]


# --- drover ----------------------------------------------------------------------------------



def status_instances(port, timeout=10.0):
    """The list of instance dicts of /status, None if it did not answer."""
    code, body = bl.http_get(port, "/status", timeout)
    if code != 200:
        return None
    try:
        progs = json.loads(body)["programs"]
    except (ValueError, KeyError):
        return None
    return [i for insts in progs.values() for i in insts]


def rss_kb(pid):
    return bl.status_int(bl.proc_status(pid), "VmRSS")


def resources(pid):
    return rss_kb(pid), bl.fd_count(pid)


def drover_for(tmp, prog, tag):
    port = bl.free_port()
    return bl.Drover(tmp, [prog], quiet=True, tag=tag, extra_args=["--http", f"127.0.0.1:{port}"]), port


def wait_livez(d, port, timeout):
    return bl.wait_until(lambda: (not d.alive()) or bl.http_get(port, "/livez", 1.0)[0] == 200,
                         timeout, 0.02) and d.alive()


# --- 1. crash loop ---------------------------------------------------------------------------

def storm_crash(tmp, n, seconds, problems):
    prog = bl.program("c", ["/bin/false"], instances=n, start_seconds=1, backoff=("100ms", "1s"),
                      yoyo=False, max_instances=n)
    d, port = drover_for(tmp, prog, "crash")
    with d:
        t_start = time.monotonic()
        if not wait_livez(d, port, 30):
            problems.append(f"crash loop: /livez never answered 200\n{d.log_text(1500)}")
            return None
        first_s = time.monotonic() - t_start
        rss0, fd0 = resources(d.pid)
        before = status_instances(port) or []
        r0 = sum(i["restarts"] for i in before)
        t0 = time.monotonic()
        cpu0 = bl.cpu_ns(d.pid)
        peak_rss, peak_fd = rss0 or 0, fd0 or 0
        with Prober(port) as pr:
            end = t0 + seconds
            while time.monotonic() < end and d.alive():
                rss, fds = resources(d.pid)
                peak_rss, peak_fd = max(peak_rss, rss or 0), max(peak_fd, fds or 0)
                time.sleep(0.2)
            res = pr.stop()
        el = time.monotonic() - t0
        cpu1 = bl.cpu_ns(d.pid)
        rss1, fd1 = resources(d.pid)
        after = status_instances(port) or []
        r1 = sum(i["restarts"] for i in after)
        states = {}
        for i in after:
            states[i["state"]] = states.get(i["state"], 0) + 1
        alive = d.alive()
    exits = d.log_text(limit=1 << 30).count("exited with code")
    if not alive:
        problems.append(f"crash loop: drover died (exit {d.exit_code})")
    row = [f"{n:,} x /bin/false", f"{el:.1f}", f"{r1 - r0:,}", bl.fmt_num((r1 - r0) / el, 0)] + \
        livez_cells(res) + [bl.fmt_num(rss0), bl.fmt_num(rss1), bl.fmt_num(peak_rss),
                            bl.fmt_num(fd0), bl.fmt_num(fd1), bl.fmt_num(peak_fd)]
    notes = [f"first /livez 200 {first_s:.2f} s after drover's start (the storm is measured from then);"
             f" restarts: sum of /status \"restarts\" at the end minus at the first answer ({r0:,});"
             f" \"exited with code\" warnings in drover's log over the whole run: {exits:,};"
             f" states at the end: {states}"]
    if cpu0 is not None and cpu1 is not None:
        notes.append(f"drover main-thread CPU over the {el:.1f} s: {(cpu1 - cpu0) / 1e9:.2f} s")
    if res["errors"]:
        notes.append(f"prober errors: {res['errors']}")
    return row, notes


# --- 2. start storm --------------------------------------------------------------------------

def storm_start(tmp, n, problems):
    prog = bl.program("s", [bl.SLEEPER], instances=n, start_seconds=0, backoff=("100ms", "1s"),
                      yoyo=False, max_instances=n)
    d, port = drover_for(tmp, prog, "start")
    t_children = t_running = None
    rss0 = fd0 = None
    peak_rss = peak_fd = 0
    polls = 0
    with Prober(port) as pr:
        t0 = time.monotonic()
        d.start()
        try:
            deadline = t0 + 60 + n * 0.01
            next_status = t0
            while time.monotonic() < deadline and d.alive():
                now = time.monotonic()
                rss, fds = resources(d.pid)
                peak_rss, peak_fd = max(peak_rss, rss or 0), max(peak_fd, fds or 0)
                if rss0 is None and bl.http_get(port, "/livez", 1.0)[0] == 200:
                    rss0, fd0 = rss, fds
                if t_children is None and len(bl.children_of(d.pid)) >= n:
                    t_children = time.monotonic() - t0
                if t_children is not None and now >= next_status:
                    next_status = now + 0.5
                    polls += 1
                    insts = status_instances(port)
                    if insts is not None and len(insts) == n and all(i["state"] == "running" for i in insts):
                        t_running = time.monotonic() - t0
                        break
                time.sleep(0.05)
            tail = time.monotonic() + 1.0
            while time.monotonic() < tail:
                time.sleep(0.05)
            res = pr.stop()
            rss1, fd1 = resources(d.pid)
            peak_rss, peak_fd = max(peak_rss, rss1 or 0), max(peak_fd, fd1 or 0)
            alive = d.alive()
        finally:
            d.stop(timeout=120)
    if t_running is None:
        problems.append(f"start storm {n:,}: not all running in time (children at"
                        f" {t_children}), alive={alive}\n{d.log_text(1500)}")
    fa = res.get("first_answer_s")
    row = [f"{n:,} x sleeper", bl.fmt_num(fa, 2), bl.fmt_num(t_children, 2), bl.fmt_num(t_running, 2)] + \
        livez_cells(res) + [bl.fmt_num(rss0), bl.fmt_num(rss1), bl.fmt_num(peak_rss),
                            bl.fmt_num(fd0), bl.fmt_num(fd1), bl.fmt_num(peak_fd),
                            bl.fmt_num(d.stop_seconds, 2)]
    notes = [f"{n:,}: /livez refused {res['refused_before_first']} times before drover listened;"
             f" /status polled {polls} times (every 0.5 s once all were children)"]
    if res["errors"]:
        notes.append(f"{n:,}: prober errors: {res['errors']}")
    return row, notes


# --- 3. HTTP flood ---------------------------------------------------------------------------



def storm_flood(tmp, wrk, idle_s, wrk_s, problems):
    prog = bl.program("s", [bl.SLEEPER], instances=100, start_seconds=0, backoff=("100ms", "1s"),
                      yoyo=False)
    d, port = drover_for(tmp, prog, "flood")
    rows, notes = [], []
    with d:
        ok = bl.wait_until(lambda: (not d.alive()) or bl.http_get(port, "/readyz", 1.0)[0] == 200, 30, 0.05)
        if not ok or not d.alive():
            problems.append(f"HTTP flood: /readyz never 200\n{d.log_text(1500)}")
            return None
        with Prober(port) as pr:
            end = time.monotonic() + idle_s
            while time.monotonic() < end:
                time.sleep(0.05)
            res = pr.stop()
        rows.append(["prober alone (idle)", "-", "-", "-"] + livez_cells(res))
        if wrk is None:
            rows.append(["wrk /status", "skipped: no wrk", "-", "-"] + ["-"] * len(LIVEZ_HEADERS))
            return rows, notes
        cpu0 = bl.cpu_ns(d.pid)
        with Prober(port) as pr:
            w = bl.Proc([wrk, f"-t{WRK_THREADS}", f"-c{WRK_CONNS}", f"-d{wrk_s}s", "--latency",
                         f"http://127.0.0.1:{port}/status"], tag="wrk")
            with w:
                w.proc.wait(timeout=wrk_s + 20)
            res = pr.stop()
        cpu1 = bl.cpu_ns(d.pid)
        wr = bl.parse_wrk(w.out)
        rows.append([f"wrk -t{WRK_THREADS} -c{WRK_CONNS} /status", bl.fmt_num(wr["rps"], 0),
                     bl.fmt_num(wr["p99"], 2), wr["non2xx"]] + livez_cells(res))
        if wr["rps"] is None:
            problems.append(f"wrk output not understood:\n{w.out[-800:]}")
        if cpu0 is not None and cpu1 is not None:
            notes.append(f"drover main-thread CPU during the wrk run: {(cpu1 - cpu0) / 1e9:.2f} s"
                         f" of {wrk_s} s; wrk socket errors: {sum(wr['errors'].values())}")
        if res["errors"]:
            notes.append(f"prober errors under wrk: {res['errors']}")
    return rows, notes


# --- main ------------------------------------------------------------------------------------

def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--probe":
        probe_main(int(sys.argv[2]))
        return 0
    args = bl.parse_args(__doc__.splitlines()[0])
    bl.setup()
    q = args.quick
    crash_n, crash_s = 1000, (5 if q else 20)
    start_n = 1000 if q else 10000
    idle_s, wrk_s = (2, 3) if q else (5, 10)
    problems, notes = [], []
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    need = 2 * start_n + 1024  # drover keeps a pidfd per running instance, plus its own
    bl.ensure_nofile(need if hard == resource.RLIM_INFINITY else min(need, hard), notes)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wrk = shutil.which("wrk")
    print(f"storm ({'quick' if q else 'full'}): crash loop {crash_n:,} x {crash_s} s; start storm"
          f" {start_n:,}; HTTP flood wrk {wrk_s} s; /livez every {PROBE_INTERVAL_S * 1000:.0f} ms;"
          f" RLIMIT_NOFILE {soft}/{hard}")
    t_all = time.monotonic()
    try:
        with bl.TempDir() as tmp:
            print(bl.host_line())
            r = storm_crash(tmp, crash_n, crash_s, problems)
            if r:
                bl.print_table("1. crash loop (start_seconds 1, backoff 100ms..1s, yoyo off)",
                               ["storm", "s", "restarts", "restarts/s"] + LIVEZ_HEADERS +
                               ["RSS kB start", "RSS kB end", "RSS kB max", "fds start", "fds end",
                                "fds max"], [r[0]], r[1])
            r = storm_start(tmp, start_n, problems)
            if r:
                bl.print_table("2. start storm (all at once, start_seconds 0)",
                               ["storm", "1st livez s", "all children s", "all running s"] +
                               LIVEZ_HEADERS + ["RSS kB start", "RSS kB end", "RSS kB max",
                                                "fds start", "fds end", "fds max", "stop s"],
                               [r[0]], r[1])
            if wrk is None:
                notes.append("wrk not found in PATH: the HTTP flood's wrk arm is skipped"
                             " (apt-get install -y wrk)")
            r = storm_flood(tmp, wrk, idle_s, wrk_s, problems)
            if r:
                bl.print_table("3. HTTP flood (100 sleepers)",
                               ["arm", "wrk req/s", "wrk p99 ms", "non-2xx"] + LIVEZ_HEADERS,
                               r[0], r[1])
    except KeyboardInterrupt:
        problems.append("interrupted")
    finally:
        left = bl.kill_orphans()
        if left:
            problems.append(f"{left} process(es) still left at the end")
    for n in notes:
        print(n)
    print(f"\ntotal {time.monotonic() - t_all:.0f} s; latencies: connect to end of answer, fresh"
          f" connection per probe; goal p99 < {GOAL_P99_MS:.0f} ms")
    bl.print_problems(problems)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

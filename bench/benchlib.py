"""Shared code for drover's benchmarks (standard library only).

Every benchmark:
  * works in its own temp dir (removed at the end),
  * starts drover on a generated config and stops it by pid at the end, even on
    error (Drover is a context manager; SIGTERM, then SIGKILL by pid),
  * makes itself a child subreaper, so any process drover leaves behind is
    reparented to the benchmark and killed (by pid / process group) and reaped
    there: only processes this benchmark started, directly or not, are touched,
  * bounds every loop in count and in time, and never asserts on timings:
    it prints tables (medians, p90/p99, ratios measured in the same run).
"""
import argparse
import ctypes
import datetime
import hashlib
import http.client
import json
import re
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO / "bench"
DROVER_BIN = Path(os.environ.get("DROVER_BIN", str(REPO / "build" / "drover")))
DROVER_SOURCE = DROVER_BIN  # what was copied; DROVER_BIN becomes the copy (TempDir)
HELPERS = REPO / "build" / "helpers"
PINGER = HELPERS / "pinger"
SLEEPER = HELPERS / "sleeper"

PR_SET_CHILD_SUBREAPER = 36

# Pids of the processes this benchmark started itself and has not stopped yet: an
# orphan sweep never touches them (they are stopped through their own object).
_started = set()


# --- set-up ----------------------------------------------------------------------------------

def parse_args(description, argv=None, extra=None):
    """--quick plus whatever `extra(parser)` adds."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="small counts, under 20 s")
    if extra:
        extra(p)
    return p.parse_args(argv)


def require(*paths):
    missing = [str(p) for p in paths if not os.access(p, os.X_OK)]
    if missing:
        print("missing executable(s): " + ", ".join(missing) + "\nbuild them first: make all",
              file=sys.stderr)
        sys.exit(2)


def become_subreaper():
    """Orphans of drover (if it dies abnormally) come to us, so cleanup can find them."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            return False
        return True
    except (OSError, AttributeError):
        return False


def term_to_exit():
    """SIGTERM/SIGHUP to the benchmark raise SystemExit, so finally blocks still clean up."""
    def handler(signo, _frame):
        raise SystemExit(128 + signo)
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)


def setup():
    """Common start of every benchmark's main()."""
    require(DROVER_BIN, PINGER, SLEEPER)
    term_to_exit()
    become_subreaper()


class TempDir:
    """A fresh temp dir, removed on exit. Short path: AF_UNIX names are limited to 107 bytes.

    drover, pinger and sleeper are copied into it and used from there, so a concurrent
    `make` rebuilding build/ cannot swap binaries in the middle of a run."""

    def __init__(self, prefix="drover-bench-"):
        self.path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))

    def __enter__(self):
        global DROVER_BIN, PINGER, SLEEPER
        snap = self.path / "bin"
        snap.mkdir()
        try:
            DROVER_BIN = Path(shutil.copy2(DROVER_BIN, snap / "drover"))
            PINGER = Path(shutil.copy2(PINGER, snap / "pinger"))
            SLEEPER = Path(shutil.copy2(SLEEPER, snap / "sleeper"))
        except BaseException:
            shutil.rmtree(self.path, ignore_errors=True)
            raise
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)
        return False


def snapshot_binary(src, tmp, name):
    """Copies one more binary (a --baseline drover) into the snapshot dir TempDir made in tmp,
    the way TempDir copies build/drover, and returns the copy to run. Exits if src is not
    executable."""
    require(src)
    return Path(shutil.copy2(src, Path(tmp) / "bin" / name))


def file_digest(path):
    """The first 12 hex digits of path's sha256, or "?"."""
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()[:12]
    except OSError:
        return "?"


def binary_line(label, source, copy):
    """'label SOURCE (run from a copy) built ... sha256 ...', as host_line() says of drover."""
    try:
        built = datetime.datetime.fromtimestamp(Path(copy).stat().st_mtime, datetime.timezone.utc)
        built = built.strftime("%Y-%m-%d %H:%M UTC")
    except OSError:
        built = "?"
    return f"{label} {source} (run from a copy) built {built} sha256 {file_digest(copy)}"


# --- /proc -----------------------------------------------------------------------------------

def ppid_of(pid):
    """The parent pid of pid from /proc/PID/stat, None if it is gone (or unreadable)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def children_of(pid):
    """Pids of the direct children of pid (all its threads), [] if it is gone."""
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    out.extend(int(x) for x in f.read().split())
            except OSError:
                pass
    except OSError:
        return []
    return out


def proc_status(pid):
    """/proc/<pid>/status as a dict of strings; {} if the process is gone."""
    d = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                d[k] = v.strip()
    except OSError:
        pass
    return d


def status_int(st, key):
    """Leading integer of a status field ("1234 kB" -> 1234), None if absent."""
    v = st.get(key)
    if v is None:
        return None
    return int(v.split()[0])


def cpu_ns(pid):
    """CPU time of pid's main thread in ns (/proc/<pid>/schedstat), None if gone."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def nofile_limits(pid):
    """(soft, hard) 'Max open files' of pid as strings, from /proc/<pid>/limits."""
    try:
        with open(f"/proc/{pid}/limits") as f:
            for line in f:
                if line.startswith("Max open files"):
                    parts = line.split()
                    return parts[3], parts[4]
    except OSError:
        pass
    return None, None


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def pid_state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


# --- cleanup of what we started -------------------------------------------------------------

def _kill_and_reap(pid):
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)  # an instance: it is its own session/group leader
    except OSError:
        pass
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
    except OSError:
        pass


def kill_orphans(keep=()):
    """Kill and reap processes reparented to us (we are a subreaper): they are ours.

    Popen-managed children still running (keep) are left alone. Bounded rounds."""
    me = os.getpid()
    keep = set(keep) | _started
    for _ in range(8):
        pids = [p for p in children_of(me) if p not in keep]
        if not pids:
            return 0
        for p in pids:
            _kill_and_reap(p)
    return len([p for p in children_of(me) if p not in keep])


# --- helpers ---------------------------------------------------------------------------------

def wait_until(cond, timeout, interval=0.01):
    """Polls cond() until truthy (returned) or timeout (returns None). Never raises on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty sequence."""
    s = sorted(values)
    if not s:
        return None
    if p <= 0:
        return s[0]
    k = -(-p * len(s) // 100)  # ceil(p/100 * n)
    return s[min(len(s), int(k)) - 1]


def median(values):
    s = sorted(values)
    n = len(s)
    if n == 0:
        return None
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def fmt_num(v, nd=1):
    if v is None:
        return "-"
    if isinstance(v, int):
        return f"{v:,}"
    return f"{v:,.{nd}f}"


def ensure_nofile(needed, notes):
    """Raises this process's open-file soft limit to `needed` (within the hard limit), noted."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        new = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        notes.append(f"raised this process's RLIMIT_NOFILE soft limit {soft} -> {new} (hard {hard})")


def print_problems(problems):
    """The closing list of what went wrong during a run (nothing when all went well)."""
    if problems:
        print("\nproblems:")
        for p in problems:
            print("  " + p.strip().replace("\n", "\n  "))


def latency_rows(samples, arms):
    """Table rows [arm, samples, median, p90, p99, max, min] in microseconds from ns samples."""
    rows = []
    for arm in arms:
        s = samples[arm]
        if not s:
            rows.append([arm, 0, "-", "-", "-", "-", "-"])
            continue
        rows.append([arm, len(s)] + [fmt_num(v / 1000.0) for v in
                                     (median(s), percentile(s, 90), percentile(s, 99), max(s), min(s))])
    return rows


def print_table(title, headers, rows, notes=()):
    """Plain-text table, right-aligned but the first column. Also valid Markdown."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(r):
        out = []
        for i, c in enumerate(r):
            out.append(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]))
        return "| " + " | ".join(out) + " |"

    print()
    print(title)
    print()
    print(line(cells[0]))
    print("|" + "|".join("-" * (w + 1) + (":" if i else "-") for i, w in enumerate(widths)) + "|")
    for r in cells[1:]:
        print(line(r))
    for n in notes:
        print(n)
    sys.stdout.flush()


def host_line():
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    try:
        with open("/proc/loadavg") as f:
            load = " ".join(f.read().split()[:3])
    except OSError:
        load = "?"
    try:
        built = datetime.datetime.fromtimestamp(DROVER_BIN.stat().st_mtime, datetime.timezone.utc)
        built = built.strftime("%Y-%m-%d %H:%M UTC")
    except OSError:
        built = "?"
    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=5).stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):
        head = "?"
    digest = file_digest(DROVER_BIN)
    return (f"date {now}; nproc {os.cpu_count()}; kernel {os.uname().release}; loadavg {load}\n"
            f"drover {DROVER_SOURCE} (run from a copy) built {built} sha256 {digest}; git HEAD {head}")


def compile_c(src, out):
    """cc -O2 src -o out; exits with a message if it fails."""
    cc = os.environ.get("CC", "cc")
    r = subprocess.run([cc, "-O2", "-std=gnu17", "-D_GNU_SOURCE", "-Wall", "-o", str(out), str(src)],
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        print(f"cannot compile {src}:\n{r.stderr}", file=sys.stderr)
        sys.exit(2)
    return out


# --- the datagram socket pinger reports to --------------------------------------------------

class PingSocket:
    """AF_UNIX SOCK_DGRAM socket bound in the temp dir; pinger sends "<pid> <ns>\\n"."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        except OSError:
            pass
        self.sock.bind(self.path)

    def recv(self, timeout):
        """(pid, ns) of the next datagram, or None after timeout seconds."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(128)
        except (socket.timeout, BlockingIOError):
            return None
        parts = data.split()
        return int(parts[0]), int(parts[1])

    def drain(self):
        """Everything queued now, without waiting."""
        out = []
        self.sock.setblocking(False)
        try:
            while True:
                try:
                    data = self.sock.recv(128)
                except BlockingIOError:
                    break
                parts = data.split()
                out.append((int(parts[0]), int(parts[1])))
        finally:
            self.sock.setblocking(True)
        return out

    def close(self):
        self.sock.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


# --- drover ----------------------------------------------------------------------------------

def program(name, command, instances=1, start_seconds=0, backoff=(0, 0), yoyo=False, env=None,
            **extra):
    p = {
        "name": name,
        "command": [str(c) for c in command],
        "instances": instances,
        "start_seconds": start_seconds,
        "backoff": {"initial": backoff[0], "max": backoff[1]},
        "yoyo": yoyo,
    }
    if env:
        p["env"] = env
    p.update(extra)
    return p


class Drover:
    """drover on a generated config in tmpdir; stopped by pid when the block ends.

    quiet=True passes -q (warnings only). The log always goes to a file in tmpdir.
    binary: the drover to run (default DROVER_BIN, the snapshot of build/drover)."""

    def __init__(self, tmpdir, programs, quiet=True, tag="drover", extra_args=(), binary=None):
        self.tmpdir = Path(tmpdir)
        self.tag = tag
        self.config_path = self.tmpdir / f"{tag}.json"
        self.log_path = self.tmpdir / f"{tag}.log"
        self.stderr_path = self.tmpdir / f"{tag}.stderr"
        self.config_path.write_text(json.dumps({"programs": programs}, indent=1))
        self.args = [str(binary or DROVER_BIN), "--config", str(self.config_path), "--log", str(self.log_path)]
        if quiet:
            self.args.append("-q")
        self.args.extend(extra_args)
        self.proc = None
        self.exit_code = None
        self.stop_seconds = None

    @property
    def pid(self):
        return self.proc.pid

    def start(self):
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=err, close_fds=True)
        _started.add(self.proc.pid)
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_text(self, limit=4000):
        out = []
        for p in (self.stderr_path, self.log_path):
            try:
                t = p.read_text(errors="replace")
            except OSError:
                continue
            if t:
                out.append(t[-limit:])
        return "".join(out)

    def log_has(self, needle):
        return needle in self.log_text(limit=1 << 30)

    def stop(self, timeout=20.0):
        """SIGTERM by pid, wait; SIGKILL by pid if it does not exit; then kill leftovers."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            t0 = time.monotonic()
            try:
                os.kill(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
                self.stop_seconds = time.monotonic() - t0
            except subprocess.TimeoutExpired:
                print(f"warning: {self.tag} pid {self.proc.pid} did not exit {timeout}s after SIGTERM;"
                      " sending SIGKILL", file=sys.stderr)
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.exit_code = self.proc.returncode
        _started.discard(self.proc.pid)
        left = kill_orphans()
        if left:
            print(f"warning: {left} process(es) left after {self.tag} exited", file=sys.stderr)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


class Proc:
    """Any other process we start (e.g. forkloop); stopped by pid like Drover."""

    def __init__(self, args, tag, env=None, stdout=subprocess.PIPE):
        self.args = [str(a) for a in args]
        self.tag = tag
        self.env = env
        self.stdout = stdout
        self.proc = None
        self.out = ""

    @property
    def pid(self):
        return self.proc.pid

    def start(self):
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=self.stdout,
                                     stderr=subprocess.PIPE, env=self.env, text=True, close_fds=True)
        _started.add(self.proc.pid)
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10.0):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            out, err = self.proc.communicate(timeout=10)
        self.out = (out or "") + (err or "")
        _started.discard(self.proc.pid)
        kill_orphans()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


def free_port():
    """A loopback port nobody listens on right now (bind to port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port, path, timeout=5.0):
    """(status, body bytes) or (None, error text)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    except (OSError, http.client.HTTPException) as e:
        return None, str(e).encode()
    finally:
        c.close()


# --- wrk -------------------------------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def _ms(text):
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m|h)", text)
    return float(m.group(1)) * _UNITS[m.group(2)] if m else None


def parse_wrk(out):
    """wrk --latency output -> dict (rps, p50/p75/p90/p99 in ms, requests, non2xx, errors)."""
    r = {"rps": None, "requests": None, "seconds": None, "non2xx": 0, "errors": {}}
    for line in out.splitlines():
        s = line.strip()
        m = re.match(r"Requests/sec:\s+([0-9.]+)", s)
        if m:
            r["rps"] = float(m.group(1))
        m = re.match(r"(50|75|90|99)%\s+(\S+)$", s)
        if m:
            r[f"p{m.group(1)}"] = _ms(m.group(2))
        m = re.match(r"(\d+) requests in ([0-9.]+)(us|ms|s|m|h),", s)
        if m:
            r["requests"] = int(m.group(1))
            r["seconds"] = _ms(m.group(2) + m.group(3)) / 1000.0
        m = re.match(r"Non-2xx or 3xx responses:\s+(\d+)", s)
        if m:
            r["non2xx"] = int(m.group(1))
        m = re.match(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", s)
        if m:
            r["errors"] = dict(zip(("connect", "read", "write", "timeout"), map(int, m.groups())))
    return r

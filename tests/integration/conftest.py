"""Harness for drover's integration tests.

Each test gets a `drover` fixture: a fresh temp dir, a helper to write a
config and start the real daemon on it, and readers for its public surfaces
(log lines, files on disk, /proc). Waiting is always wait_until(cond,
timeout, what=...), never a bare sleep. No test decides by the clock: a
timeout only bounds a wait for something to happen, is at least 10x the
usual time of what is awaited (under ASan, on a loaded machine), and its
failure says what did not happen. Teardown kills only what the test started:
drover by pid, and every instance by the process group drover logged for it.
"""
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DROVER_BIN = os.environ.get("DROVER_BIN", str(REPO / "build" / "drover"))
HELPERS = REPO / "build" / "helpers"
C_WORKER = str(REPO / "bin" / "queue_worker")  # examples/queue_worker.c, built by `make all`

SPAWNED = re.compile(r" (?P<label>\S+:\d+) pid=(?P<pid>\d+)(?: port=(?P<port>\d+))? spawned$")


def helper(name):
    return str(HELPERS / name)


def wait_until(cond, timeout=10.0, interval=0.02, *, what):
    """Polls cond() until it returns a truthy value, which is returned. `what` names what is
    awaited (a string, or a callable giving one at the failure, e.g. with the log then)."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what() if callable(what) else what}")
        time.sleep(interval)


def stamp(line):
    """The time drover wrote a log line (or a match in one), from its ISO 8601 prefix."""
    text = line.string if isinstance(line, re.Match) else line
    return datetime.fromisoformat(text.split(" ", 1)[0].replace("Z", "+00:00"))


def read_pid(path):
    """The pid a helper wrote to path, once it is there."""
    return int(wait_until(lambda: os.path.exists(path) and open(path).read().strip(),
                          what=f"a pid in {path}"))


def free_port():
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api(port, path, method="GET", token=None, timeout=10):
    """One request to drover's HTTP API on 127.0.0.1:port: (status, parsed JSON body, headers).
    No answer within timeout raises TimeoutError (an OSError) saying so."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null"), r.headers
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null"), e.headers
    except (TimeoutError, urllib.error.URLError) as e:
        if isinstance(e, TimeoutError) or isinstance(getattr(e, "reason", None), TimeoutError):
            raise TimeoutError(f"drover's HTTP API on 127.0.0.1:{port} did not answer {method} {path} "
                               f"within {timeout} s") from e
        raise


def pid_alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


TEST_OWNER_ENV = "DROVER_TEST_OWNER"  # the test's temp dir, in the environment of all it starts


def processes_marked(key, value):
    """Pids of live processes (not this one) whose environment has key=value."""
    want = f"{key}={value}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if want in f.read().split(b"\0") and pid_alive(int(entry)):
                    found.append(int(entry))
        except OSError:
            continue
    return found


def started_by_drover(pid):
    """True if pid is alive and carries the environment drover gives its instances."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return pid_alive(pid) and b"DROVER_PROGRAM=" in f.read()
    except OSError:
        return False


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over a unix stream socket (the control socket)."""

    def __init__(self, path, timeout=10):
        super().__init__("drover", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


class Drover:
    def __init__(self, tmp):
        self.dir = Path(tmp)
        self.proc = None
        self.log_path = self.dir / "drover.log"
        # Each test's drovers get their own control socket (never the machine's default one).
        self.control = str(self.dir / "ctl.sock")
        # Every process this test's drovers start inherits TEST_OWNER_ENV, so the cleanup finds
        # them all, also those whose group leader is gone (see cleanup()).
        # The job store's default place without a dumpfile (docs/jobs.md): the test's, never
        # the machine's /var/lib/drover.
        self.env = dict(os.environ, DROVER_CONTROL=self.control,
                        STATE_DIRECTORY=str(self.dir / "state"), **{TEST_OWNER_ENV: str(self.dir)})

    def path(self, name):
        return str(self.dir / name)

    def write_config(self, config, name="config.json"):
        text = config if isinstance(config, str) else json.dumps(config, indent=2)
        p = self.dir / name
        p.write_text(text)
        return p

    def start(self, config, args=(), stdin=False, cwd=None, env=None, preexec_fn=None, pass_fds=()):
        """Starts drover on config (dict/list/str). stdin=True feeds it on standard input."""
        cfg = self.write_config(config)
        cmd = [DROVER_BIN, *args]
        if not stdin:
            cmd += ["--config", str(cfg)]
        if self.proc:
            self.log_file.close()  # a restart of drover in the same test
        self.log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            cmd,
            stdin=open(cfg, "rb") if stdin else subprocess.DEVNULL,
            stdout=self.log_file,
            stderr=self.log_file,
            cwd=cwd or self.dir,
            env=env if env is not None else self.env,
            preexec_fn=preexec_fn,
            pass_fds=pass_fds,
        )
        return self

    def run(self, config, args=(), stdin=False, timeout=10):
        """Runs drover to completion (for configs it must refuse). Returns CompletedProcess."""
        cfg = self.write_config(config)
        cmd = [DROVER_BIN, *args]
        if not stdin:
            cmd += ["--config", str(cfg)]
        return subprocess.run(
            cmd,
            stdin=open(cfg, "rb") if stdin else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            cwd=self.dir,
            env=self.env,
            timeout=timeout,
        )

    def cli(self, *args, timeout=20, control=None):
        """Runs the CLI (`drover VERB ...`) against this test's daemon. Returns CompletedProcess."""
        env = dict(self.env, DROVER_CONTROL=control or self.control)
        return subprocess.run([DROVER_BIN, *args], capture_output=True, text=True, env=env,
                              timeout=timeout, stdin=subprocess.DEVNULL)

    def call(self, method, path, timeout=10):
        """One HTTP request on the control socket: (status, parsed JSON body, headers).
        No answer within timeout raises TimeoutError saying so."""
        conn = UnixHTTPConnection(self.control, timeout=timeout)
        try:
            conn.request(method, path)
            r = conn.getresponse()
            raw = r.read()
            try:
                body = json.loads(raw or b"null")
            except ValueError:
                body = raw.decode()
            return r.status, body, r.headers
        except TimeoutError as e:
            raise TimeoutError(f"drover did not answer {method} {path} on the control socket "
                               f"{self.control} within {timeout} s") from e
        finally:
            conn.close()

    # --- reading the log -------------------------------------------------------------------
    def log(self):
        """drover's log as text; bytes that are not UTF-8 as \\xHH, so a test that checks for
        them (or a bug that writes them) never breaks the reading, or the cleanup after it."""
        try:
            return self.log_path.read_bytes().decode(errors="backslashreplace")
        except FileNotFoundError:
            return ""

    def lines(self, pattern):
        rx = re.compile(pattern)
        return [m for m in (rx.search(line) for line in self.log().splitlines()) if m]

    def wait_log(self, pattern, count=1, timeout=10.0):
        """Waits until pattern matches at least `count` log lines; returns the matches."""
        def enough():
            found = self.lines(pattern)
            return found if len(found) >= count else None
        try:
            return wait_until(enough, timeout, what=f"{count} log line(s) matching {pattern!r}")
        except AssertionError:
            raise AssertionError(f"{pattern!r} not seen {count} time(s) within {timeout}s; log:\n{self.log()}")

    def spawns(self, label=None):
        """[(label, pid, port)] of every spawn so far, in order."""
        out = []
        for line in self.log().splitlines():
            m = SPAWNED.search(line)
            if m and (label is None or m["label"] == label):
                out.append((m["label"], int(m["pid"]), int(m["port"]) if m["port"] else None))
        return out

    def wait_spawns(self, label, count, timeout=10.0):
        return wait_until(lambda: (s := self.spawns(label)) and len(s) >= count and s,
                          timeout, what=lambda: f"{count} spawns of {label}; log:\n{self.log()}")

    def current(self, label):
        """(pid, port) of the newest spawn of label."""
        s = self.spawns(label)
        assert s, f"{label} never spawned; log:\n{self.log()}"
        return s[-1][1], s[-1][2]

    # --- stopping ---------------------------------------------------------------------------
    def send(self, sig):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout, after):
        """drover's exit status, once it has exited; fails if it has not within timeout."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"drover (pid {self.proc.pid}) did not exit within {timeout} s "
                                 f"{after}; log:\n{self.log()}") from None

    def kill9(self):
        """kill -9 of drover alone: its instances live on (what recovery is for)."""
        self.proc.kill()
        self.wait_exit(10, "of SIGKILL")

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Sends sig and returns drover's exit status. The default timeout is far beyond 10x
        the shutdown of the tests' configs: their children die of the stop signal, or one
        that ignores it is killed after a stop_timeout of 500 ms."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.wait_exit(timeout, f"of {signal.Signals(sig).name}")

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        # Only groups drover logged for this test (each instance leads its own group),
        # and only while that pid is still one of ours (a recycled pid is left alone).
        for _, pid, _ in self.spawns():
            if started_by_drover(pid):
                try:
                    os.killpg(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        # And whatever else carries this test's mark: a group member whose leader went first
        # (a test of a stop that failed leaves one), a descendant that left its group.
        for pid in processes_marked(TEST_OWNER_ENV, str(self.dir)):
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self.proc:
            self.log_file.close()


SANITIZER_REPORT = re.compile(r"ERROR: (Address|Leak)Sanitizer|runtime error:|UndefinedBehaviorSanitizer")


@pytest.fixture
def drover(tmp_path):
    d = Drover(tmp_path)
    yield d
    d.cleanup()
    # Under `make SANITIZE=...` a report in drover's log fails the test that caused it.
    report = SANITIZER_REPORT.search(d.log())
    assert not report, f"sanitizer report in drover's log:\n{d.log()}"

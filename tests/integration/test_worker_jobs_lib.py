"""The job side of the worker libraries (include/drover/worker.h + lib/worker/, and
python/drover_worker.py), driven through their example workers (bin/job_worker,
examples/job_worker.py) and tests/helpers/job_test_worker.py, against a small peer that
plays drover's end of the job channel (JOBS.md 6.4): it binds an AF_UNIX listener in a temp
dir, sets the DROVER_JOBS_* environment, starts the worker as a real child process and
speaks the frames. The daemon is not involved; its framing (src/core/jobframe.h) is
re-implemented here independently, strictly (a worker must write all but
[A-Za-z0-9._~:,@/+-] percent-encoded, as drover does).

Every wait is bounded (WAIT, far above the milliseconds each takes) and its failure says what
did not happen; teardown kills only the processes a test started, by pid."""
import os
import re
import signal
import socket
import subprocess
import time
import urllib.parse
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PY = "/usr/bin/python3"
WAIT = 30.0  # seconds; each awaited thing usually takes a few ms
C_WORKER = [str(REPO / "bin" / "job_worker")]
PY_WORKER = [PY, str(REPO / "examples" / "job_worker.py")]
TEST_WORKER = [PY, str(REPO / "tests" / "helpers" / "job_test_worker.py")]
C_POLL_WORKER = C_WORKER + ["--poll"]  # its own poll() on drover_jobs_fd()
WORKERS = {"c": C_WORKER, "c-poll": C_POLL_WORKER, "py": PY_WORKER}
TOKEN = "tok-3f9a"
ENCODED_VALUE = re.compile(rb"^(?:[A-Za-z0-9._~:,@/+-]|%[0-9A-F]{2})*$")


def encode(v):
    b = v.encode() if isinstance(v, str) else bytes(v)
    return urllib.parse.quote_from_bytes(b, safe="._~:,@/+-")


class Conn:
    """drover's end of one job channel connection."""

    def __init__(self, sock, what):
        self.sock = sock
        self.what = what
        self.buf = b""

    def _fill(self, deadline, what):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out after {WAIT}s waiting for {what} from {self.what}; "
                                 f"got so far {self.buf[:200]!r}")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(1 << 16)
        except socket.timeout:
            data = None
        if data == b"":
            raise AssertionError(f"{self.what} closed the channel while the test waited for "
                                 f"{what}; got so far {self.buf[:200]!r}")
        if data:
            self.buf += data

    def frame(self, what="a frame"):
        """The next frame: (verb, {key: str}, body bytes or None), checked strictly."""
        deadline = time.monotonic() + WAIT
        while b"\n" not in self.buf:
            self._fill(deadline, what)
        line, self.buf = self.buf.split(b"\n", 1)
        assert len(line) < 4096, f"a line of {len(line)} bytes"
        verb, *fields = line.split(b" ")
        args = {}
        for f in fields:
            k, eq, v = f.partition(b"=")
            assert eq and re.fullmatch(rb"[a-z][a-z0-9_]*", k), f"bad field {f!r} in {line!r}"
            assert ENCODED_VALUE.match(v), f"value of {k!r} not encoded as drover does: {line!r}"
            args[k.decode()] = urllib.parse.unquote_to_bytes(v).decode("utf-8", "replace")
        body = None
        if "len" in args:
            n = int(args["len"])
            while len(self.buf) < n + 1:
                self._fill(deadline, f"the {n}-byte body of {line[:80]!r}")
            body, nl, self.buf = self.buf[:n], self.buf[n:n + 1], self.buf[n + 1:]
            assert nl == b"\n", f"the body of {line[:80]!r} is not followed by a newline"
        return verb.decode(), args, body

    def expect(self, verb, **want):
        """The next frame, which must be verb with at least these values."""
        v, args, body = self.frame(f"{verb} {want}")
        assert v == verb, f"wanted {verb} {want}, got {v} {args} {body!r}"
        for k, x in want.items():
            assert args.get(k) == str(x), f"{verb}: {k}={args.get(k)!r}, wanted {x!r} ({args})"
        return args, body

    def send(self, verb, body=None, **kv):
        pairs = [f"{k}={encode(str(v))}" for k, v in kv.items()]
        if body is not None:
            pairs.append(f"len={len(body)}")
        data = " ".join([verb] + pairs).encode() + b"\n"
        if body is not None:
            data += body + b"\n"
        self.sock.sendall(data)

    def send_raw(self, data):
        self.sock.sendall(data)

    def close(self):
        self.sock.close()


class Peer:
    """A listener in the test's temp dir and the worker it started."""

    def __init__(self, tmp, cmd, concurrency=1, max_payload=65536, env_extra=None, jobs=True):
        self.path = str(tmp / "jobs.sock")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(8)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("DROVER_") and k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}
        env.update({"DROVER_PROGRAM": "p", "DROVER_INSTANCE": "0"})
        if jobs:
            env.update({"DROVER_JOBS_SOCKET": self.path, "DROVER_JOBS_TOKEN": TOKEN,
                        "DROVER_JOBS_TYPES": "t", "DROVER_JOBS_CONCURRENCY": str(concurrency),
                        "DROVER_JOBS_MAX_PAYLOAD": str(max_payload)})
        env.update(env_extra or {})
        assert os.path.exists(cmd[1] if cmd[0] == PY else cmd[0]), \
            f"{cmd} is missing: make -s bin/job_worker"
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, start_new_session=True)
        self.name = " ".join(os.path.basename(a) for a in cmd if a != PY)

    def accept(self, what="a connection"):
        self.listener.settimeout(WAIT)
        try:
            s, _ = self.listener.accept()
        except socket.timeout:
            raise AssertionError(f"timed out after {WAIT}s waiting for {what} from {self.name}; "
                                 f"it is {'running' if self.proc.poll() is None else 'gone'}")
        return Conn(s, self.name)

    def welcome(self, running=None):
        """Accepts, checks HELLO, answers WELCOME; the connection."""
        c = self.accept()
        args, _ = c.expect("HELLO", v=1, program="p", instance=0, token=TOKEN)
        assert args.get("running") == running, f"HELLO running={args.get('running')!r}"
        c.send("WELCOME", v=1)
        return c

    def wait_exit(self, what):
        try:
            out, err = self.proc.communicate(timeout=WAIT)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.name} did not exit within {WAIT}s after {what}")
        return self.proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")

    def close(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=WAIT)
        for f in (self.proc.stdout, self.proc.stderr):
            f.close()
        self.listener.close()


@pytest.fixture
def peers(tmp_path):
    started = []

    def start(cmd, **kw):
        d = tmp_path / f"p{len(started)}"
        d.mkdir()
        p = Peer(d, cmd, **kw)
        started.append(p)
        return p
    yield start
    for p in started:
        p.close()


def job(c, jid, payload, attempt=1, jtype="t", deadline_ms=0):
    c.send("JOB", payload, id=jid, attempt=attempt, type=jtype, deadline_ms=deadline_ms)


@pytest.mark.parametrize("kind", WORKERS)
def test_hello_want_job_done_ping_and_drain(peers, kind):
    p = peers(WORKERS[kind])
    c = p.welcome()
    c.expect("WANT", n=1)
    job(c, "j-1", b"shout")
    c.expect("START", id="j-1", attempt=1)
    _, body = c.expect("DONE", id="j-1", attempt=1, len=5)
    assert body == b"SHOUT"
    c.expect("WANT", n=1)
    # Idle: the library answers PING itself; values are percent-decoded and re-encoded.
    c.send("PING", id="ping 1/%")
    c.expect("PONG", id="ping 1/%")
    # Bodies are bytes: newlines and NULs pass; ids with ':' and '.' as they are.
    job(c, "order:42.b", b"a\nb\x00c", attempt=3, jtype="t x", deadline_ms=1893456000000)
    c.expect("START", id="order:42.b", attempt=3)
    _, body = c.expect("DONE", id="order:42.b", attempt=3)
    assert body == b"A\nB\x00C"
    c.expect("WANT", n=1)
    c.send("DRAIN")
    code, _, err = p.wait_exit("DRAIN")
    assert code == 0, err


@pytest.mark.parametrize("kind", WORKERS)
def test_fail_without_retry_and_an_empty_payload(peers, kind):
    p = peers(WORKERS[kind])
    c = p.welcome()
    c.expect("WANT", n=1)
    job(c, "f", b"fail")
    c.expect("START", id="f", attempt=1)
    _, body = c.expect("FAIL", id="f", attempt=1, retry="no", code="error")
    assert body == b"asked to fail"
    c.expect("WANT", n=1)
    job(c, "g", b"fail bad_input")  # the worker's own code
    c.expect("START", id="g", attempt=1)
    c.expect("FAIL", id="g", attempt=1, retry="no", code="bad_input")
    c.expect("WANT", n=1)
    job(c, "e", b"")
    c.expect("START", id="e")
    _, body = c.expect("DONE", id="e", len=0)
    assert body == b""
    c.expect("WANT", n=1)
    c.send("DRAIN")
    assert p.wait_exit("DRAIN")[0] == 0


@pytest.mark.parametrize("kind", WORKERS)
def test_cancel_reaches_the_running_job_and_pings_are_answered_meanwhile(peers, kind):
    p = peers(WORKERS[kind])
    c = p.welcome()
    c.expect("WANT", n=1)
    job(c, "s", b"sleep 0.05")
    c.expect("START", id="s")
    _, body = c.expect("DONE", id="s")
    assert body == b"slept 0.05"
    c.expect("WANT", n=1)
    job(c, "long", b"sleep 600")
    c.expect("START", id="long")
    # A CANCEL for another job (or another attempt) changes nothing; the PING after it proves
    # the worker read it.
    c.send("CANCEL", id="other", attempt=1)
    c.send("CANCEL", id="long", attempt=2)
    c.send("PING", id="x")
    c.expect("PONG", id="x")
    c.send("CANCEL", id="long", attempt=1)
    _, body = c.expect("FAIL", id="long", attempt=1, retry="no")
    assert body == b"cancelled"
    c.expect("WANT", n=1)
    c.send("DRAIN")
    assert p.wait_exit("DRAIN")[0] == 0


@pytest.mark.parametrize("kind", WORKERS)
def test_a_refused_hello_ends_the_worker(peers, kind):
    p = peers(WORKERS[kind])
    c = p.accept()
    c.expect("HELLO", token=TOKEN)
    c.send("BYE", reason="pid 1 is not p:0's process, or its token is wrong")
    code, _, err = p.wait_exit("BYE")
    assert code == 1, err
    assert ("refused" in err and "token is wrong" in err) if kind == "py" else \
        "not permitted" in err, err  # C: -EPERM


@pytest.mark.parametrize("kind", WORKERS)
def test_outside_drover_the_job_loop_says_so(peers, kind):
    p = peers(WORKERS[kind], jobs=False)
    code, _, err = p.wait_exit("start")
    assert code == 1 and "not started by drover" in err, err


@pytest.mark.parametrize("kind", WORKERS)
def test_eof_keeps_the_running_job_and_reconnects_with_running(peers, kind):
    p = peers(WORKERS[kind])
    c = p.welcome()
    c.expect("WANT", n=1)
    job(c, "r-1", b"sleep 0.3", attempt=2)
    c.expect("START", id="r-1", attempt=2)
    c.close()  # drover went away mid-job
    c = p.welcome(running="r-1:2")
    _, body = c.expect("DONE", id="r-1", attempt=2)
    assert body == b"slept 0.3"
    c.expect("WANT", n=1)
    # A result that comes while the channel is down waits for the next WELCOME.
    job(c, "r-2", b"sleep 0.2")
    c.expect("START", id="r-2")
    c.close()
    c2 = p.accept("the reconnection")
    c2.expect("HELLO", token=TOKEN)
    # Not a sync point, and nothing below depends on it: the DONE is the same whether the job
    # ends before WELCOME (kept in its slot, the case this aims at) or after.
    time.sleep(0.5)
    c2.send("WELCOME", v=1)
    _, body = c2.expect("DONE", id="r-2")
    assert body == b"slept 0.2"
    c2.expect("WANT", n=1)
    c2.send("DRAIN")
    assert p.wait_exit("DRAIN")[0] == 0


@pytest.mark.parametrize("kind", WORKERS)
def test_a_malformed_frame_drops_the_channel_and_the_worker_comes_back(peers, kind):
    p = peers(WORKERS[kind])
    c = p.welcome()
    c.expect("WANT", n=1)
    c.send_raw(b"JOB id=x\n")  # no attempt=, type=, len=
    c = p.welcome()
    c.expect("WANT", n=1)
    c.send_raw(b"PING id=%zz\n")
    c = p.welcome()
    c.expect("WANT", n=1)
    c.send_raw(b"JOB id=y attempt=1 type=t deadline_ms=0 len=65537\n")  # > max_payload
    c = p.welcome()
    c.expect("WANT", n=1)
    job(c, "ok", b"still")
    c.expect("START", id="ok")
    assert c.expect("DONE", id="ok")[1] == b"STILL"


@pytest.mark.parametrize("kind", WORKERS)
def test_concurrency_credits_and_a_large_payload(peers, kind):
    p = peers(WORKERS[kind], concurrency=2, max_payload=200000)
    c = p.welcome()
    c.expect("WANT", n=2)
    big = bytes(range(97, 123)) * 7000  # 182,000 bytes: many reads, straight into the slot
    job(c, "a", big)
    job(c, "b", b"two")
    # One job at a time (the examples are single-threaded), and credits given back as slots
    # free: whether a WANT comes between the two depends on when "b" was read, but the credits
    # asked for never exceed the free slots, and both come back.
    seen, wanted = [], 0
    while len([f for f in seen if f[0] == "DONE"]) < 2 or wanted < 2:
        verb, args, body = c.frame(f"the two jobs' frames and WANTs (so far {seen})")
        seen.append((verb, args.get("id"), body if verb == "DONE" else None))
        if verb == "WANT":
            wanted += int(args["n"])
            assert wanted <= len([f for f in seen if f[0] == "DONE"]), seen
    starts = [f[1] for f in seen if f[0] == "START"]
    dones = [(f[1], f[2]) for f in seen if f[0] == "DONE"]
    assert starts == ["a", "b"] and dones == [("a", big.upper()), ("b", b"TWO")], seen
    assert wanted == 2, seen
    c.send("DRAIN")
    assert p.wait_exit("DRAIN")[0] == 0


@pytest.mark.parametrize("kind", WORKERS)
def test_crash_aborts(peers, kind):
    p = peers(WORKERS[kind])
    c = p.welcome()
    c.expect("WANT", n=1)
    job(c, "boom", b"crash")
    code, _, _ = p.wait_exit("crash")
    assert code == -signal.SIGABRT


def test_the_helper_that_the_daemon_tests_use(peers):
    """tests/helpers/job_test_worker.py, as tests/integration/test_jobs.py runs it."""
    p = peers(TEST_WORKER)
    c = p.welcome()
    c.expect("WANT", n=1)
    job(c, "e", b"echo hello")
    c.expect("START", id="e")
    assert c.expect("DONE", id="e")[1] == b"hello"
    c.expect("WANT", n=1)
    job(c, "w", b"where")
    c.expect("START", id="w")
    assert c.expect("DONE", id="w")[1].startswith(b"p:0 pid=")
    c.expect("WANT", n=1)
    job(c, "r", b"fail-retry")
    c.expect("START", id="r")
    c.expect("FAIL", id="r", retry="auto")
    c.expect("WANT", n=1)
    job(c, "s", b"sleep-first 600")
    c.expect("START", id="s")
    c.send("CANCEL", id="s", attempt=1)
    assert c.expect("FAIL", id="s", retry="no")[1] == b"cancelled"
    c.expect("WANT", n=1)
    c.send("DRAIN")
    code, out, err = p.wait_exit("DRAIN")
    assert code == 0, err
    assert "job e attempt 1 start pid=" in out


def test_python_progress_deadline_and_fail_retry_after(peers, tmp_path):
    """The Python library's progress() and fail(retry=seconds) frames."""
    script = tmp_path / "w.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(REPO / 'python')!r})\n"
        "import drover_worker\n"
        "w = drover_worker.Worker()\n"
        "for job in w.jobs(timeout=None):\n"
        "    job.progress(40, 'almost half')\n"
        "    assert job.deadline == 1893456000.5 and job.type == 't'\n"
        "    job.fail('later', retry=1.5)\n")
    p = peers([PY, str(script)])
    c = p.welcome()
    c.expect("WANT", n=1)
    job(c, "q", b"x", deadline_ms=1893456000500)
    c.expect("START", id="q")
    assert c.expect("PROGRESS", id="q", attempt=1, pct=40)[1] == b"almost half"
    assert c.expect("FAIL", id="q", retry="after:1500")[1] == b"later"
    c.expect("WANT", n=1)
    c.send("DRAIN")
    code, _, err = p.wait_exit("DRAIN")
    assert code == 0, err

"""drover_worker: the Python worker side of drover's heartbeats and jobs.

Standard library only; the same API as include/drover/worker.h. Call
beat() at every poll of your queue, whether or not work came: a starving
worker is not a sick one. A beat is a clock read and two stores into the
64-byte slot drover shares with this instance (no system call).
ready()/status()/stopping() speak the systemd notify protocol, so the worker
also runs under systemd. Outside drover every call is a harmless no-op.

    from drover_worker import Worker
    w = Worker()
    w.ready()
    while True:
        job = queue.poll(timeout=1)
        w.beat()
        if job: ...; w.task_done()

Jobs (JOBS.md section 6.4, docs/jobs-worker.md): a program with "jobs" in
its config gets a job channel, and jobs() is its loop. The library frames,
asks drover for work (WANT), answers PING and reconnects by itself:

    w = Worker()
    for job in w.jobs():           # ends when drover drains the worker
        if job.cancelled: ...      # True once drover sent CANCEL for it
        job.progress(50, "half")
        job.done(result)           # bytes or str; or job.fail(msg, retry=False)
"""
import collections
import mmap
import os
import re
import select
import socket
import struct
import time

SLOT_SIZE = 64
# struct drover_slot: last_beat_ns, beats, tasks_done, tasks_failed,
# supervisor_beat_ns, supervisor_pid, owner_pid, reserved (all uint64, native order)
_LAST_BEAT, _BEATS, _DONE, _FAILED, _SUPERVISOR_BEAT = 0, 8, 16, 24, 32
_U64 = struct.Struct("=Q")


class Worker:
    def __init__(self, environ=None):
        env = os.environ if environ is None else environ
        self._slot = None
        self._map = None
        self._sock = None
        self._addr = None
        fd, index = env.get("DROVER_HEARTBEAT_FD"), env.get("DROVER_HEARTBEAT_SLOT")
        if fd is not None and index is not None:
            fd, index = int(fd), int(index)
            size = os.fstat(fd).st_size
            if (index + 1) * SLOT_SIZE > size:
                raise ValueError(f"heartbeat slot {index} outside a {size}-byte region")
            self._map = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
            self._slot = index * SLOT_SIZE
        self._env = env
        self._chan = None
        name = env.get("NOTIFY_SOCKET")
        if name:
            self._addr = "\0" + name[1:] if name.startswith("@") else name
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.setblocking(False)

    @property
    def under_drover(self):
        return self._slot is not None

    def _get(self, off):
        return _U64.unpack_from(self._map, self._slot + off)[0]

    def _put(self, off, value):
        _U64.pack_into(self._map, self._slot + off, value)

    def beat(self):
        """The heartbeat: call it at every poll of the queue."""
        if self._slot is None:
            return
        self._put(_BEATS, self._get(_BEATS) + 1)
        self._put(_LAST_BEAT, time.monotonic_ns())

    def task_done(self):
        if self._slot is not None:
            self._put(_DONE, self._get(_DONE) + 1)

    def task_failed(self):
        if self._slot is not None:
            self._put(_FAILED, self._get(_FAILED) + 1)

    def _send(self, text):
        if self._sock is None:
            return
        try:
            self._sock.sendto(text.encode(), self._addr)
        except (BlockingIOError, ConnectionRefusedError, FileNotFoundError):
            pass  # no supervisor listening: harmless, as sd_notify()

    def ready(self):
        self._send("READY=1")

    def status(self, text):
        if "\n" in text:
            raise ValueError("a status is one line")
        self._send("STATUS=" + text)

    def stopping(self):
        self._send("STOPPING=1")

    def supervisor_alive(self, max_age_s=3.0):
        """True when drover looked at our slot within max_age_s; None outside drover."""
        if self._slot is None:
            return None
        seen = self._get(_SUPERVISOR_BEAT)
        return seen != 0 and time.monotonic_ns() - seen <= max_age_s * 1e9

    def jobs(self, timeout=None):
        """The job loop: an iterator of Job objects. Waits for each at most timeout seconds
        (None: for ever) and ends when none came in time, or when drover drained this worker
        (DRAIN, and every job answered): returning from the loop and exiting 0 is then a clean
        stop. Answer every job with done() or fail(): an unanswered one keeps its slot. While
        it waits it beats, asks for work and answers drover's PING; when the channel breaks
        it keeps the jobs held and reconnects. Raises RuntimeError at once outside drover,
        and while iterating when drover refuses this process."""
        if self._chan is None:
            if not self._env.get("DROVER_JOBS_SOCKET"):
                raise RuntimeError("not started by drover for a program with jobs "
                                   "(DROVER_JOBS_SOCKET is not set): there are no jobs to take")
            self._chan = _Channel(self, self._env)
        return self._iterate(timeout)

    def _iterate(self, timeout):
        while True:
            job = self._chan.next(timeout)
            if job is None:
                return
            yield job

    @property
    def draining(self):
        """True once drover sent DRAIN: finish the held jobs and exit 0."""
        return self._chan is not None and self._chan.draining


# --- the job channel (framing as src/core/jobframe.h) ---------------------------------------

LINE_MAX = 4096  # a line with its newline
_PLAIN = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~:,@/+-")
_HEX = b"0123456789abcdefABCDEF"
_SEND_WAIT_S = 10.0
_BACKOFF_MIN_S, _BACKOFF_MAX_S = 0.05, 1.0
_BEAT_S = 1.0


class ProtocolError(Exception):
    """drover sent bytes that are not a frame: the channel is redone."""


def encode_value(value):
    """Percent-encodes a value (str or bytes): all but [A-Za-z0-9._~:,@/+-] as %XX."""
    b = value.encode() if isinstance(value, str) else bytes(value)
    return "".join(chr(c) if c in _PLAIN else "%%%02X" % c for c in b)


def format_frame(verb, pairs):
    """`VERB k=v ...\n` as bytes; pairs is a sequence of (key, value)."""
    line = " ".join([verb] + [f"{k}={encode_value(v)}" for k, v in pairs]) + "\n"
    if len(line) > LINE_MAX:
        raise ValueError(f"a {verb} frame of {len(line)} bytes is longer than {LINE_MAX}")
    return line.encode("ascii")


def _decode_value(raw):
    out = bytearray()
    i = 0
    while i < len(raw):
        c = raw[i]
        if c == 0x25:  # '%'
            if i + 2 >= len(raw) or raw[i + 1] not in _HEX or raw[i + 2] not in _HEX:
                raise ProtocolError("'%' not followed by two hex digits")
            c = int(raw[i + 1:i + 3], 16)
            if c == 0:
                raise ProtocolError("%00 in a value")
            i += 2
        elif c <= 0x20 or c >= 0x7F:
            raise ProtocolError(f"byte 0x{c:02x} must be percent-encoded")
        out.append(c)
        i += 1
    return bytes(out)


def parse_line(line):
    """A line (bytes, without its newline) -> (verb, {key: value bytes})."""
    fields = bytes(line).split(b" ")
    if any(not f for f in fields):
        raise ProtocolError("an empty field")
    verb, args = fields[0].decode("ascii", "replace"), {}
    for f in fields[1:]:
        k, eq, v = f.partition(b"=")
        key = k.decode("ascii", "replace")
        if not eq or not k or not (0x61 <= k[0] <= 0x7A) or len(k) > 32 or \
                any(not (0x61 <= c <= 0x7A or 0x30 <= c <= 0x39 or c == 0x5F) for c in k):
            raise ProtocolError(f"field {f[:64]!r} is not key=value")
        if key in args:
            raise ProtocolError(f"key {key!r} given twice")
        args[key] = _decode_value(v)
    return verb, args


def _uint(args, key, max_value=2**63 - 1):
    v = args.get(key)
    if v is None or not v.isdigit() or (len(v) > 1 and v[0:1] == b"0") or int(v) > max_value:
        raise ProtocolError(f"{key}= is not a whole number")
    return int(v)


_CODE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


class Job:
    """A job drover handed to this process. Answer it once: done() or fail()."""

    def __init__(self, chan, jid, jtype, attempt, payload, deadline_ms, env=None):
        self._chan = chan
        self.id = jid
        self.type = jtype
        self.attempt = attempt
        self.payload = payload
        self.deadline = deadline_ms / 1000.0 if deadline_ms else None  # Unix seconds
        self.env = env or {}  # the job's own variables (POST /jobs "env"), not os.environ
        self._cancelled = False
        self._answered = False
        self._pending = None  # (verb, pairs, body) kept while the channel is down

    def __repr__(self):
        return f"<Job {self.id} attempt {self.attempt} type {self.type}>"

    @property
    def cancelled(self):
        """True once drover sent CANCEL for this job; reading it polls the channel."""
        self._chan.beat()
        self._chan.pump(0)
        return self._cancelled

    def _pairs(self):
        return [("id", self.id), ("attempt", str(self.attempt))]

    def _answer(self, verb, pairs, body):
        if self._answered:
            raise RuntimeError(f"job {self.id} was answered already")
        if len(body) > self._chan.max_payload:
            raise ValueError(f"{len(body)} bytes: more than DROVER_JOBS_MAX_PAYLOAD "
                             f"({self._chan.max_payload})")
        self._answered = True
        self._chan.answer(self, verb, self._pairs() + pairs, body)

    def done(self, result=b""):
        """Success with result (bytes, or str sent as UTF-8)."""
        self._answer("DONE", [], result.encode() if isinstance(result, str) else bytes(result))

    def fail(self, msg="", retry=True, code="error"):
        """Failure. retry: True after the program's backoff, False never, a number of seconds
        to wait first; drover retries only while attempts are left. code: the job's
        error.code, 1 to 64 of A-Z a-z 0-9 _ . : -."""
        if not _CODE.fullmatch(code):
            raise ValueError("code is 1 to 64 of A-Z a-z 0-9 _ . : -")
        if retry is True:
            how = "auto"
        elif retry is False or retry is None:
            how = "no"
        elif retry >= 0:
            how = f"after:{int(retry * 1000)}"
        else:
            raise ValueError("retry is True, False or a number of seconds >= 0")
        body = (msg.encode() if isinstance(msg, str) else bytes(msg))[:self._chan.max_payload]
        self._answer("FAIL", [("retry", how), ("code", code)], body)

    def progress(self, pct, msg=None):
        """Progress for /jobs/ID, pct 0..100; best effort (dropped while the channel is down)."""
        if not 0 <= int(pct) <= 100:
            raise ValueError("pct is 0..100")
        if self._answered:
            return
        self._chan.beat()
        self._chan.pump(0)
        body = None if msg is None else (msg.encode() if isinstance(msg, str) else bytes(msg))
        self._chan.send("PROGRESS", self._pairs() + [("pct", str(int(pct)))],
                        body[:self._chan.max_payload] if body is not None else None)


class _Channel:
    """One connection to DROVER_JOBS_SOCKET, redone with a backoff when it breaks."""

    def __init__(self, worker, env):
        self._worker = worker
        self.path = env["DROVER_JOBS_SOCKET"]
        self.token = env.get("DROVER_JOBS_TOKEN", "")
        self.program = env.get("DROVER_PROGRAM", "")
        self.instance = env.get("DROVER_INSTANCE", "")
        self.slots = int(env.get("DROVER_JOBS_CONCURRENCY") or 1)
        self.max_payload = int(env.get("DROVER_JOBS_MAX_PAYLOAD") or 1 << 20)
        if not (self.program and self.instance and self.token) or self.slots < 1:
            raise RuntimeError("DROVER_JOBS_SOCKET is set but DROVER_PROGRAM, DROVER_INSTANCE, "
                               "DROVER_JOBS_TOKEN or DROVER_JOBS_CONCURRENCY is missing or bad")
        self.sock = None
        self.state = "down"  # down -> hello -> ready
        self.refused = None  # BYE's reason when drover refused our HELLO
        self.draining = False
        self.asked = 0
        self.held = {}  # (id, attempt) -> Job, from JOB until answered and sent
        self.queue = collections.deque()  # received, not yet yielded
        self.rx = bytearray()
        self.retry_at = 0.0
        self.backoff = 0.0

    def beat(self):
        self._worker.beat()

    # connection

    def _down(self):
        if self.sock is not None:
            self.sock.close()
        self.sock = None
        self.state = "down"
        self.asked = 0
        self.rx.clear()
        self.backoff = min(max(self.backoff * 2, _BACKOFF_MIN_S), _BACKOFF_MAX_S)
        self.retry_at = time.monotonic() + self.backoff

    def _up(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        s.settimeout(_SEND_WAIT_S)  # bounds writes; reads are done only when poll says so
        try:
            s.connect(self.path)
        except OSError:
            s.close()
            self._down()
            return
        self.sock = s
        pairs = [("v", "1"), ("program", self.program), ("instance", self.instance),
                 ("token", self.token)]
        running = ""
        for jid, att in self.held:  # best effort: what does not fit is not named
            item = f"{jid}:{att}"
            if len(running) + len(item) + 1 > LINE_MAX // 2:
                break
            running += ("," if running else "") + item
        if running:
            pairs.append(("running", running))
        if self.send("HELLO", pairs):
            self.state = "hello"

    def send(self, verb, pairs, body=None):
        """Sends one frame; False when the channel is (now) down."""
        if self.sock is None:
            return False
        if body is not None:
            pairs = list(pairs) + [("len", str(len(body)))]
        data = format_frame(verb, pairs)
        if body is not None:
            data += body + b"\n"
        try:
            self.sock.sendall(data)
        except OSError:
            self._down()
            return False
        return True

    def answer(self, job, verb, pairs, body):
        if self.state == "ready" and self.send(verb, pairs, body):
            del self.held[(job.id, job.attempt)]
            return
        job._pending = (verb, pairs, body)  # sent after the next WELCOME
        self.pump(0)

    # input

    def pump(self, wait):
        """Reads what drover sent, waiting at most wait seconds; connects when that is due."""
        if self.sock is None and self.refused is None and time.monotonic() >= self.retry_at:
            self._up()
        if self.sock is None:
            if wait > 0:
                time.sleep(max(0.0, min(wait, self.retry_at - time.monotonic())))
            return
        p = select.poll()
        p.register(self.sock.fileno(), select.POLLIN)
        while self.sock is not None and p.poll(max(0, int(wait * 1000))):
            wait = 0
            try:
                data = self.sock.recv(1 << 16)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self._down()  # EOF: keep the jobs, reconnect
                return
            self.rx += data
            try:
                self._take()
            except ProtocolError:
                self._down()

    def _take(self):
        while self.sock is not None:
            nl = self.rx.find(b"\n", 0, LINE_MAX)
            if nl < 0:
                if len(self.rx) >= LINE_MAX:
                    raise ProtocolError("a line longer than 4095 bytes")
                return
            verb, args = parse_line(self.rx[:nl])
            body = None
            if "len" in args:
                n = _uint(args, "len", self.max_payload)  # bounded as drover's bodies are
                if len(self.rx) < nl + 1 + n + 1:
                    return  # the body is not all in yet
                if self.rx[nl + 1 + n] != 0x0A:
                    raise ProtocolError("a body not followed by a newline")
                body = bytes(self.rx[nl + 1:nl + 1 + n])
                del self.rx[:nl + 1 + n + 1]
            else:
                del self.rx[:nl + 1]
            self._frame(verb, args, body)

    def _frame(self, verb, args, body):
        if verb == "WELCOME":
            if self.state != "hello":
                raise ProtocolError("WELCOME out of turn")
            self.state, self.backoff, self.asked = "ready", 0.0, 0
            for job in list(self.held.values()):
                if job._pending is not None and self.state == "ready":
                    if self.send(*job._pending):
                        job._pending = None
                        del self.held[(job.id, job.attempt)]
        elif verb == "BYE":
            if self.state == "hello":
                self.refused = args.get("reason", b"").decode(errors="replace") or "(none)"
            raise ProtocolError("BYE")
        elif verb == "JOB":
            if self.state != "ready" or body is None:
                raise ProtocolError("JOB out of turn or without a body")
            jid = args.get("id", b"").decode(errors="replace")
            jtype = args.get("type", b"").decode(errors="replace")
            attempt = _uint(args, "attempt", 2**32 - 1)
            deadline = _uint(args, "deadline_ms")
            if not jid or len(body) > self.max_payload:
                raise ProtocolError("JOB without id, or too large")
            self.asked = max(0, self.asked - 1)
            env = dict(kv.split("=", 1) for kv in
                       args.get("env", b"").decode(errors="replace").split("\n") if "=" in kv)
            job = Job(self, jid, jtype, attempt, body, deadline, env)
            self.held[(jid, attempt)] = job
            self.queue.append(job)
        elif verb == "PING":
            if "id" not in args:
                raise ProtocolError("PING without id")
            self.send("PONG", [("id", args["id"])])
        elif verb == "CANCEL":
            key = (args.get("id", b"").decode(errors="replace"), _uint(args, "attempt", 2**32 - 1))
            if key in self.held:
                self.held[key]._cancelled = True
        elif verb == "DRAIN":
            self.draining = True
        # another verb: a newer drover's, ignored

    # the loop

    def next(self, timeout):
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            self.beat()
            self.pump(0)
            if self.refused is not None:
                raise RuntimeError(f"drover refused this worker: {self.refused}")
            if self.queue:
                job = self.queue.popleft()
                if self.state == "ready":
                    self.send("START", job._pairs())
                return job
            if self.draining and not self.held:
                return None
            want = self.slots - len(self.held) - self.asked
            if self.state == "ready" and not self.draining and want > 0:
                if self.send("WANT", [("n", str(want))]):
                    self.asked += want
                continue
            now = time.monotonic()
            if end is not None and now >= end:
                return None
            wait = _BEAT_S if end is None else min(end - now, _BEAT_S)
            self.pump(wait)

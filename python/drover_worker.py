"""drover_worker: the Python worker side of drover's heartbeats.

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
"""
import mmap
import os
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

"""A log reader that stops reading (FINDINGS B6): drover's stderr, or a --log FIFO, whose
reader is stuck must never freeze supervision. Lines wait in a bounded buffer, whole lines
are dropped when it is full, and one line says how many once the reader is back."""
import fcntl
import os
import signal
import subprocess
import termios
import threading
import urllib.request

import pytest

from conftest import DROVER_BIN, free_port, helper, started_by_drover, wait_until

F_SETPIPE_SZ = 1031
SLOW = 30  # a bound on answers that take well under a second on an idle machine
STORM = {"name": "c", "command": ["/bin/false"], "instances": 20, "yoyo": False,
         "backoff": {"initial": "10ms", "max": "20ms"}}
DROPPED = r"warn  log: (\d+) lines dropped while the log reader was not reading$"


class StuckReader:
    """A FIFO with a reader that does not read until told to; what it reads then goes to
    drover.log_path, so the fixture's log helpers and clean-up see it."""

    def __init__(self, drover):
        self.path = drover.path("log.fifo")
        os.mkfifo(self.path)
        self.rfd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        fcntl.fcntl(self.rfd, F_SETPIPE_SZ, 4096)  # one page: it fills at once
        self.out = open(drover.log_path, "ab")
        self.thread = None

    def queued(self):
        return int.from_bytes(fcntl.ioctl(self.rfd, termios.FIONREAD, b"\0" * 4), "little")

    def start_reading(self):
        os.set_blocking(self.rfd, True)

        def copy():
            while chunk := os.read(self.rfd, 65536):  # until every writer is gone
                self.out.write(chunk)
                self.out.flush()
        self.thread = threading.Thread(target=copy, daemon=True)
        self.thread.start()

    def close(self):
        if self.thread:
            self.thread.join(timeout=SLOW)
        os.close(self.rfd)
        self.out.close()


def start(drover, reader, via, port, pidfile):
    config = {"programs": [STORM, {"name": "s", "command": [helper("sleeper"), "--pidfile", pidfile]}]}
    cfg = drover.write_config(config)
    args = [DROVER_BIN, "--config", str(cfg), "--http", f"127.0.0.1:{port}"]
    if via == "log":
        args += ["--log", reader.path]
        err = subprocess.DEVNULL
    else:
        err = os.open(reader.path, os.O_WRONLY)  # a reader exists: no wait
    drover.log_file = open(os.devnull, "ab")  # the fixture closes it; the log comes through the FIFO
    drover.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=err, cwd=drover.dir, env=drover.env)
    if via != "log":
        os.close(err)


def livez(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/livez", timeout=SLOW) as r:
        return r.status


def status(drover, program):
    code, body, _ = drover.call("GET", f"/status/{program}", timeout=SLOW)
    assert code == 200, body
    return body["programs"][program]


def reaped(pid, parent):
    """pid is no zombie child of parent any more (gone, or the number went to someone else)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):  # gone before the open, or before the read
        return True
    return not (fields[0] == "Z" and int(fields[1]) == parent)


def kill_leftover(pidfile):
    """The sleeper, if the test failed before drover stopped it (its spawn line may be lost)."""
    try:
        pid = int(open(pidfile).read())
    except (OSError, ValueError):
        return
    if started_by_drover(pid):
        os.killpg(pid, signal.SIGKILL)


@pytest.mark.parametrize("via", ["stderr", "log"])
def test_stuck_log_reader_never_freezes_supervision(drover, via):
    reader, port, pidfile = StuckReader(drover), free_port(), drover.path("s.pid")
    try:
        start(drover, reader, via, port, pidfile)
        wait_until(lambda: reader.queued() >= 2048, timeout=SLOW, what="the log FIFO to fill")
        wait_until(lambda: os.path.exists(drover.control), timeout=SLOW, what="the control socket")
        assert livez(port) == 200
        # A worker killed while the log is stuck is reaped and restarted.
        old = int(wait_until(lambda: os.path.exists(pidfile) and open(pidfile).read(), what=f"a pid in {pidfile}"))
        if via == "stderr":
            # drover's stderr is the sleeper's too, and still blocking for it.
            with open(f"/proc/{old}/fdinfo/2") as f:
                flags = int(next(line for line in f if line.startswith("flags:")).split()[1], 8)
            assert not flags & os.O_NONBLOCK
        os.kill(old, signal.SIGKILL)
        wait_until(lambda: reaped(old, drover.proc.pid), timeout=SLOW, what="the killed worker reaped")
        wait_until(lambda: status(drover, "s")[0]["pid"] not in (None, old), timeout=SLOW,
                   what="a new process for s:0")
        # Enough restarts (about 4 lines each) to overflow the FIFO and the 256 KiB buffer.
        wait_until(lambda: sum(i["restarts"] for i in status(drover, "c")) >= 2000, timeout=120,
                   what="2000 restarts of the crash loop")
        reader.start_reading()
        found = drover.wait_log(DROPPED, timeout=SLOW)
        assert int(found[0][1]) > 0
        assert drover.stop(timeout=SLOW) == 0
    finally:
        if drover.proc and drover.proc.poll() is None:
            drover.proc.kill()
            drover.proc.wait(timeout=SLOW)
        kill_leftover(pidfile)
        reader.close()


def test_stuck_log_reader_does_not_hold_up_the_exit(drover):
    """SIGTERM while nobody reads the log: drover stops its instances and exits 0 after a
    short bounded wait for the reader, never hanging on it."""
    reader, port, pidfile = StuckReader(drover), free_port(), drover.path("s.pid")
    try:
        start(drover, reader, "stderr", port, pidfile)
        wait_until(lambda: reader.queued() >= 2048, timeout=SLOW, what="the log FIFO to fill")
        assert livez(port) == 200
        drover.proc.send_signal(signal.SIGTERM)
        assert drover.proc.wait(timeout=SLOW) == 0
    finally:
        if drover.proc.poll() is None:
            drover.proc.kill()
            drover.proc.wait(timeout=SLOW)
        kill_leftover(pidfile)
        reader.start_reading()
        reader.close()


def test_log_fifo_without_reader_is_refused(drover):
    fifo = drover.path("log.fifo")
    os.mkfifo(fifo)
    r = drover.run({"programs": [{"name": "s", "command": [helper("sleeper")]}]},
                   args=["--log", fifo, "--control", "off"])
    assert r.returncode == 2, r
    assert r.stderr == f"drover: cannot open log file {fifo}: a FIFO with no reader (start its reader first)\n"

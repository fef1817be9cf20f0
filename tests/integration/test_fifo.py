"""FIFOs as an instance's output, error or input file (FINDINGS B5): drover opens them
without ever waiting for the other end, so a FIFO nobody reads holds back only its own
program, never the loop: other programs start, HTTP answers, SIGTERM stops drover."""
import os
import signal

import pytest

from conftest import api, free_port, helper, pid_alive, wait_until

O_NONBLOCK = os.O_NONBLOCK


def fd_flags(pid, fd):
    """The file status flags of a process's descriptor, from /proc/PID/fdinfo."""
    with open(f"/proc/{pid}/fdinfo/{fd}") as f:
        for line in f:
            if line.startswith("flags:"):
                return int(line.split()[1], 8)
    raise AssertionError(f"no flags for fd {fd} of pid {pid}")


@pytest.mark.parametrize("stream", ["output", "error", "input"])
def test_fifo_without_peer_never_blocks_drover(drover, stream):
    fifo = drover.path("fifo")
    os.mkfifo(fifo)
    port = free_port()
    drover.start({"programs": [
        {"name": "f", "command": ["/bin/sh", "-c", "cat; exec sleep 600"], stream: fifo,
         "backoff": {"initial": "10ms", "max": "50ms"}},
        {"name": "ok", "command": [helper("sleeper")]},
    ]}, args=["--http", f"127.0.0.1:{port}"])
    drover.wait_spawns("ok:0", 1)
    assert api(port, "/livez")[0] == 200
    if stream == "input":
        # A FIFO for input opens at once, writer or not (with none, the program reads EOF).
        drover.wait_spawns("f:0", 1)
    else:
        drover.wait_log(rf'f:0 {stream} file "{fifo}" is a FIFO with no reader; retrying')
        drover.wait_log(r"f:0 stopped -> backoff \(spawn failed, will retry")
        assert not drover.spawns("f:0")
    assert pid_alive(drover.current("ok:0")[0])
    assert drover.stop() == 0


@pytest.mark.parametrize("stream", ["output", "error"])
def test_fifo_program_starts_once_a_reader_comes(drover, stream):
    fifo = drover.path("fifo")
    os.mkfifo(fifo)
    drover.start({"programs": [
        {"name": "f", "command": ["/bin/sh", "-c", "echo hello; echo hello >&2; exec sleep 600"],
         stream: fifo, "backoff": {"initial": "10ms", "max": "50ms"}},
        {"name": "ok", "command": [helper("sleeper")]},
    ]}, args=["-v"])
    drover.wait_log(rf'f:0 {stream} file "{fifo}" is a FIFO with no reader; retrying')
    # It keeps trying (debug lines), but says so at warn level only once.
    drover.wait_log(rf'f:0: {stream} file "{fifo}" still has no reader', count=2)
    assert len(drover.lines(r"f:0 .*is a FIFO with no reader")) == 1
    reader = os.open(fifo, os.O_RDONLY | O_NONBLOCK)
    try:
        drover.wait_spawns("f:0", 1)
        drover.wait_log(r"f:0 the FIFO it writes to has a reader now")
        pid, _ = drover.current("f:0")

        def got_hello():
            try:
                return b"hello" in os.read(reader, 4096)
            except BlockingIOError:
                return False
        wait_until(got_hello, what=f"the program's {stream} through the FIFO")
        # The child's descriptor is blocking, as a file it was given always was.
        assert not fd_flags(pid, 1 if stream == "output" else 2) & O_NONBLOCK
        assert drover.stop() == 0
    finally:
        os.close(reader)

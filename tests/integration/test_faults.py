"""Faults from outside (issue 16): drover keeps supervising the rest, says what is wrong
once, and recovers when the fault clears. Real drover, real children, no mocks.
"""
import os
import shutil
import signal

from conftest import wait_until


def ticker(name, out):
    """A program printing a numbered line every 20 ms, its output captured to the file out."""
    return {"name": name, "output": {"file": str(out)},
            "command": ["/bin/sh", "-c", "i=0; while :; do i=$((i+1)); echo line $i; sleep 0.02; done"]}


def test_the_output_directory_vanishes_and_comes_back(drover):
    d = drover.path("out")
    os.mkdir(d)
    log = os.path.join(d, "t.log")
    drover.start({"programs": [ticker("t", log), {"name": "steady", "command": ["sleep", "600"]}]})
    drover.wait_spawns("t:0", 1, timeout=30)
    drover.wait_spawns("steady:0", 1, timeout=30)
    wait_until(lambda: os.path.exists(log) and os.path.getsize(log) > 0, 30,
               what=lambda: f"the first lines in {log}; log:\n{drover.log()}")
    shutil.rmtree(d)
    # A restart needs the file again: it cannot be opened, and the instance starts anyway.
    pid = drover.current("t:0")[0]
    os.kill(pid, signal.SIGKILL)
    drover.wait_log(r't:0 cannot open output file ".*/out/t\.log": No such file or directory; '
                    r'dropping its lines, retrying every 1 s', timeout=30)
    drover.wait_spawns("t:0", 2, timeout=30)
    for n in (3, 4):  # more restarts while the directory is gone: said once, not a flood
        os.kill(drover.current("t:0")[0], signal.SIGKILL)
        drover.wait_spawns("t:0", n, timeout=30)
    assert len(drover.lines(r"cannot open output file")) == 1, drover.log()
    assert len(drover.spawns("steady:0")) == 1  # the rest went on untouched
    os.mkdir(d)
    drover.wait_log(r't:0 (pid=\d+ )?writing output file ".*/out/t\.log" again \(\d+ lines were dropped\)',
                    timeout=30)
    wait_until(lambda: os.path.exists(log) and b"line" in open(log, "rb").read(), 30,
               what=lambda: f"new lines in {log} once its directory is back")
    assert not drover.lines(r"fatal")
    assert drover.stop() == 0

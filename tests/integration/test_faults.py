"""Faults from outside (issue 16): drover keeps supervising the rest, says what is wrong
once, and recovers when the fault clears. Real drover, real children, no mocks.
"""
import os
import shutil
import signal
import subprocess

from conftest import HELPERS, wait_until


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


# --- the wall clock jumps -----------------------------------------------------------------------

SHIFT = str(HELPERS / "wallclock_shift.so")  # tests/helpers/wallclock_shift.c


def shifted_clock_env(drover, shift_file):
    """drover's environment with its wall clock (CLOCK_REALTIME, gettimeofday, time) moved by
    the seconds in shift_file, and its monotonic clock and timers the kernel's own."""
    env = dict(drover.env, LD_PRELOAD=SHIFT, WALLCLOCK_SHIFT_FILE=str(shift_file))
    # Under ASan, a preloaded library comes before its runtime: allowed here, on purpose.
    env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"),
                                                 "verify_asan_link_order=0"]))
    return env


def spawned(drover, label):
    return len(drover.spawns(label))


def test_the_wall_clock_jumps_and_no_timer_cares(drover):
    stamp = drover.path("clock")
    with open(stamp, "w") as f:
        f.write("0\n")
    # slow: exits at once, before start_seconds, and waits 10 min in backoff; quick: exits after
    # 0.3 s and waits 50 ms; steady runs.
    drover.start({"programs": [
        {"name": "slow", "command": ["sh", "-c", "exit 1"], "start_seconds": 1,
         "backoff": {"initial": "10m", "max": "10m"}, "yoyo": False},
        {"name": "quick", "command": ["sh", "-c", "sleep 0.3; exit 1"], "start_seconds": 1,
         "backoff": {"initial": "50ms", "max": "50ms"}, "yoyo": False},
        {"name": "steady", "command": ["sleep", "600"]},
    ]}, env=shifted_clock_env(drover, stamp))
    drover.wait_log(r"slow:0 .*retry in 600\.000s", timeout=30)
    slow = spawned(drover, "slow:0")

    def jump(to, year):
        with open(stamp, "w") as f:
            f.write(to + "\n")
        # A control call makes drover log now: its lines carry the jumped wall clock.
        assert drover.call("POST", "/restart/steady")[0] == 200
        drover.wait_log(rf"^{year}-\d\d-\d\dT.* steady:0 .*stop requested", timeout=30)
    # Forward a year: no timer fires early (slow is still waiting out its 10 minutes)...
    now_year = int(drover.log().splitlines()[-1][:4])
    jump(str(366 * 86400), now_year + 1)
    assert spawned(drover, "slow:0") == slow, drover.log()
    # ...and the short ones go on at their pace.
    q = spawned(drover, "quick:0")
    drover.wait_spawns("quick:0", q + 3, timeout=30)
    # Back two years: nothing waits for the wall clock to catch up.
    jump(str(-366 * 86400), now_year - 1)
    q = spawned(drover, "quick:0")
    drover.wait_spawns("quick:0", q + 3, timeout=30)
    drover.wait_spawns("steady:0", 3, timeout=30)
    assert spawned(drover, "slow:0") == slow
    assert drover.stop() in (0, 4), drover.log()


# --- /proc cannot be read for a pid --------------------------------------------------------------

def own_mount_namespace():
    """preexec_fn: drover gets a private mount namespace, so the test can hide a /proc/PID from
    it alone (a bind mount over it there) and show it again, leaving the machine's alone."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    CLONE_NEWNS, MS_REC, MS_PRIVATE = 0x00020000, 0x4000, 1 << 18
    if libc.unshare(CLONE_NEWNS) != 0 or libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        raise OSError(ctypes.get_errno(), "unshare or mount")


def in_drovers_mounts(drover, *cmd):
    subprocess.run(["nsenter", "-t", str(drover.proc.pid), "-m", *cmd], check=True,
                   capture_output=True, timeout=30)


def test_proc_unreadable_for_a_pid_is_said_once_and_memory_max_resumes(drover):
    empty = drover.path("empty")
    os.mkdir(empty)
    drover.start({"programs": [
        {"name": "m", "command": ["sleep", "600"], "memory_max": "1GiB"},
        {"name": "steady", "command": ["sleep", "600"]},
    ]}, preexec_fn=own_mount_namespace)
    drover.wait_spawns("m:0", 1, timeout=30)
    drover.wait_spawns("steady:0", 1, timeout=30)
    pid = drover.current("m:0")[0]
    in_drovers_mounts(drover, "mount", "--bind", empty, f"/proc/{pid}")
    try:
        drover.wait_log(rf"m:0 .*cannot read the memory of its process group {pid} in /proc", timeout=30)
        # Supervision goes on: the other program restarts as ever.
        os.kill(drover.current("steady:0")[0], signal.SIGKILL)
        drover.wait_spawns("steady:0", 2, timeout=30)
    finally:
        in_drovers_mounts(drover, "umount", f"/proc/{pid}")
    drover.wait_log(rf"m:0 .*the memory of its process group {pid} can be read again", timeout=30)
    assert len(drover.lines(r"cannot read the memory")) == 1, drover.log()
    assert drover.stop() == 0


# --- the disk fills ----------------------------------------------------------------------------

def test_a_full_disk_under_the_dumpfile_is_said_once_and_the_old_file_stays_whole(drover):
    import json
    import tempfile
    mnt = tempfile.mkdtemp(prefix="drover-tmpfs-", dir=drover.dir)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt],
                       capture_output=True, text=True)
    assert r.returncode == 0, f"cannot mount a tmpfs: {r.stderr.strip()}"
    try:
        dump = os.path.join(mnt, "dump.json")
        drover.start({"programs": [{"name": "w", "command": ["sleep", "600"]},
                                   {"name": "c", "command": ["sh", "-c", "sleep 0.2; exit 1"],
                                    "yoyo": False, "backoff": {"initial": "100ms", "max": "100ms"},
                                    "start_seconds": 0}]},
                     args=["--dumpfile", dump])
        wait_until(lambda: os.path.exists(dump) and json.load(open(dump)).get("instances"), 30,
                   what="the dumpfile with its instances")
        filler = os.path.join(mnt, "filler")
        subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=4k"], capture_output=True)
        # c restarts every 0.3 s: each restart wants a new dumpfile, and none fits.
        drover.wait_log(rf"cannot write dumpfile {dump}: No space left on device, retrying", timeout=30)
        n = len(drover.spawns("c:0"))
        drover.wait_spawns("c:0", n + 5, timeout=30)  # supervision goes on
        assert len(drover.lines(r"cannot write dumpfile")) == 1, drover.log()
        assert json.load(open(dump))["instances"], "the old dumpfile is whole"  # never truncated
        os.unlink(filler)
        drover.wait_log(rf"dumpfile {dump} written again", timeout=30)
        assert drover.stop() == 0
    finally:
        drover.cleanup()
        subprocess.run(["umount", "-l", mnt], capture_output=True)
        os.rmdir(mnt)

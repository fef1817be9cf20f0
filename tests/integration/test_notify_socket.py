"""The notify socket (NOTIFY_SOCKET): a socket file in drover's private
runtime directory (owned by drover's user, writable by nobody else), named after the
dumpfile so adopted workers reach the next drover; removed at exit; a stale
one replaced; and another user can neither bind its name first nor keep
drover from starting."""
import json
import os
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys

import pytest

from conftest import helper, pid_alive, wait_until

PYTHON = sys.executable if os.path.exists(sys.executable) else "/usr/bin/python3"


def rundir(env):
    """drover's runtime directory for this test's user and environment (docs/heartbeats.md)."""
    if os.geteuid() == 0:
        return "/run/drover"
    xdg = env.get("XDG_RUNTIME_DIR")
    return xdg.rstrip("/") + "/drover" if xdg else f"/tmp/drover-{os.geteuid()}"


def fnv1a(text):
    h = 14695981039346656037
    for ch in text.encode():
        h = ((h ^ ch) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def child_env(pid):
    with open(f"/proc/{pid}/environ", "rb") as f:
        return {k.decode(): v.decode() for k, v in
                (kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)}


def test_socket_is_a_file_in_a_private_directory(drover):
    drover.start({"programs": [{"name": "s", "command": [helper("sleeper")]}]})
    pid = drover.wait_spawns("s:0", 1)[0][1]
    where = rundir(drover.env)
    path = f"{where}/notify-{drover.proc.pid}.sock"
    assert child_env(pid)["NOTIFY_SOCKET"] == path
    d = os.lstat(where)
    # Only drover's user can create or remove names in it (0700 made by an older drover is fine).
    assert stat.S_ISDIR(d.st_mode) and d.st_uid == os.geteuid() and not stat.S_IMODE(d.st_mode) & 0o022
    st = os.lstat(path)
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o622
    assert drover.stop() == 0
    assert not os.path.exists(path), "the notify socket outlived drover"


def test_a_killed_drovers_socket_is_removed_by_the_next_one(drover):
    drover.start({"programs": [{"name": "s", "command": [helper("sleeper")]}]})
    drover.wait_spawns("s:0", 1)
    path = f"{rundir(drover.env)}/notify-{drover.proc.pid}.sock"
    assert stat.S_ISSOCK(os.lstat(path).st_mode)
    drover.kill9()  # leaves the socket file behind
    drover.cleanup()
    # Any drover of this user sweeps it (one of another checkout's test run, too): wait for
    # it to be gone rather than for our own log line.
    drover.start({"programs": [{"name": "s", "command": [helper("sleeper")]}]})
    wait_until(lambda: not os.path.lexists(path), what=f"the stale {path} to be removed")
    live = f"{rundir(drover.env)}/notify-{drover.proc.pid}.sock"
    assert drover.stop() == 0
    assert not os.path.lexists(live)


NOTIFY_BEATS = r"""
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
n = 0
while True:
    n += 1
    try:
        s.sendto(b"READY=1\nSTATUS=beat %d" % n, os.environ["NOTIFY_SOCKET"])
    except OSError:
        pass  # no drover bound there right now (between two drovers): try again
    time.sleep(0.05)
"""


def status_text(drover):
    code, body, _ = drover.call("GET", "/status/b")
    assert code == 200, body
    return body["programs"]["b"][0].get("status", "")


def test_adopted_workers_reach_the_next_drover_through_the_same_socket(drover):
    """With --dumpfile the name is stable: after kill -9 the socket file is stale, the next
    drover replaces it, and the adopted worker's datagrams (NOTIFY_SOCKET set by the first
    drover) arrive there."""
    dump = drover.path("dump.json")
    config = {"programs": [{"name": "b", "ready": "notify", "command": [PYTHON, "-c", NOTIFY_BEATS]}]}
    drover.start(config, args=["--dumpfile", dump])
    drover.wait_log(r"b:0 .*-> running \(READY=1\)")
    pid = drover.current("b:0")[0]
    path = f"{rundir(drover.env)}/notify-{fnv1a(dump)}.sock"
    assert child_env(pid)["NOTIFY_SOCKET"] == path
    wait_until(lambda: [e["pid"] for e in json.load(open(dump))["instances"]] == [pid],
               what="b:0 in the dumpfile")
    drover.kill9()  # leaves the socket file behind, stale
    drover.start(config, args=["--dumpfile", dump, "--adopt"])
    drover.wait_log(r"adopted 1 instance")
    first = wait_until(lambda: status_text(drover).startswith("beat ") and status_text(drover),
                       what="a STATUS= datagram from the adopted worker")
    wait_until(lambda: status_text(drover) != first, what="a second STATUS= datagram")
    assert pid_alive(pid) and drover.current("b:0")[0] == pid
    assert drover.stop() == 0
    assert not os.path.exists(path)


SQUAT = r"""
import os, select, socket, sys
old, path, where = sys.argv[1:]
report = []
a = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
a.bind("\0" + old[1:])  # the abstract name drover used to bind ("@..."): anyone may take it
report.append("abstract:bound")
try:
    os.mkdir(where, 0o777)
    report.append("mkdir:made")
except OSError as e:
    report.append("mkdir:" + type(e).__name__)
f = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
try:
    f.bind(path)
    report.append("path:bound")
except OSError as e:
    report.append("path:" + type(e).__name__)
print(" ".join(report), flush=True)
got = 0
while True:
    r, _, _ = select.select([sys.stdin, a, f], [], [], 60)
    if not r or sys.stdin in r:
        break
    for s in r:
        s.recv(4096)
        got += 1
print("received", got, flush=True)
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="a squatter as uid 65534 needs root")
def test_another_user_can_neither_squat_nor_keep_drover_from_starting(drover):
    dump = drover.path("dump.json")
    h = fnv1a(dump)
    where = rundir(drover.env)

    def as_nobody():
        os.setgid(65534)
        os.setuid(65534)

    squatter = subprocess.Popen([PYTHON, "-c", SQUAT, f"@drover-{h}/notify", f"{where}/notify-{h}.sock",
                                 where], preexec_fn=as_nobody, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
    try:
        assert select.select([squatter.stdout], [], [], 20)[0], "the squatter did not report"
        report = squatter.stdout.readline().split()
        assert report[0] == "abstract:bound", report
        assert report[1] in ("mkdir:PermissionError", "mkdir:FileExistsError"), report
        assert report[2] in ("path:PermissionError", "path:FileNotFoundError"), report
        script = "sleep 0.2; systemd-notify --ready --status=mine; exec sleep 600"
        drover.start({"programs": [{"name": "n", "ready": "notify", "command": ["/bin/sh", "-c", script]}]},
                     args=["--dumpfile", dump])
        drover.wait_log(r"n:0 pid=\d+ starting -> running \(READY=1\)")
        assert drover.proc.poll() is None, drover.log()
        code, body, _ = drover.call("GET", "/status/n")
        assert code == 200 and body["programs"]["n"][0]["status"] == "mine", body
        st = os.lstat(where)
        assert st.st_uid == 0 and not stat.S_IMODE(st.st_mode) & 0o022
        squatter.stdin.close()
        assert squatter.wait(timeout=20) == 0
        assert squatter.stdout.read().split() == ["received", "0"]  # the worker's datagram was drover's
    finally:
        if squatter.poll() is None:
            squatter.send_signal(signal.SIGKILL)
            squatter.wait(timeout=10)
    assert drover.stop() == 0


READY_AS_SENT = r"""
import os, socket, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(b"READY=1\nSTATUS=as uid %d" % os.getuid(), os.environ["NOTIFY_SOCKET"])
time.sleep(600)
"""


def test_a_worker_that_drops_privileges_still_reaches_the_socket(drover):
    """A worker started through setpriv (or gosu) runs as another uid than drover's. It must
    still be able to send to the notify socket: with a 0700 directory and a 0600 socket its
    READY=1 got EACCES and it never became ready."""
    if os.geteuid() != 0:
        pytest.skip("dropping to uid 65534 needs root")
    setpriv = shutil.which("setpriv")
    if not setpriv:
        pytest.skip("setpriv (util-linux) is not installed")
    drover.start({"programs": [{"name": "p", "ready": "notify", "command": [
        setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", READY_AS_SENT]}]})
    drover.wait_log(r"p:0 pid=\d+ starting -> running \(READY=1\)", timeout=30)
    code, body, _ = drover.call("GET", "/status/p")
    assert code == 200 and body["programs"]["p"][0]["status"] == "as uid 65534", body
    assert drover.stop() == 0

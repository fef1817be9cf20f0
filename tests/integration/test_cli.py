"""The CLI (`drover VERB ...`) against a real daemon: its table and lines
(compared with golden files after pids and times are masked), its exit
codes (0 ok, 1 refused or unhealthy, 2 usage, 3 unreachable), the
socket's mode keeping other users out, and the CLI trusting no other user:
a default directory someone else made first, or a daemon of theirs."""
import json
import os
import pwd
import re
import select
import shutil
import signal
import stat
import subprocess
import tempfile
import time

import pytest

import conftest
from conftest import DROVER_BIN, REPO, helper, pid_alive, wait_until

GOLDEN = REPO / "tests" / "golden"


def pool():
    return {"programs": [
        {"name": "web", "command": [helper("sleeper")], "instances": 2, "start_seconds": 0,
         "max_instances": 4, "stop_timeout": "5s"},
        {"name": "once", "command": [helper("exit_with"), "3"], "restart": "never", "start_seconds": 0},
    ]}


def up(drover):
    drover.start(pool())
    drover.wait_log(r"control socket .* \(mode 0600\)")
    drover.wait_spawns("web:1", 1)
    wait_until(lambda: "EXITED" in drover.cli("status", "once").stdout, what="once exited")
    wait_until(lambda: drover.cli("status", "web").stdout.count("RUNNING") == 2, what="web running")
    return drover


def masked(text):
    """Pids, uptimes and timestamps vary from run to run; the layout must not."""
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", "<TIME>", text)
    text = re.sub(r"\b\d+:\d\d:\d\d\b", "<UP>", text)
    text = re.sub(r"\b\d{3,7}\b", "<PID>", text)
    # Column widths follow the widest pid; alignment is checked apart, in aligned().
    return re.sub(r"  +", "  ", text)


def aligned(table):
    """Every row's columns start where the header's do."""
    lines = table.splitlines()
    starts = [m.start() for m in re.finditer(r"(?<!\S)\S", lines[0]) if m.start() == 0 or
              lines[0][m.start() - 2:m.start()] == "  "]
    for line in lines[1:]:
        for s in starts[1:]:
            assert line[s - 1] == " " and line[s] != " ", f"misaligned at {s}:\n{table}"


def golden(name, text):
    """Compares with tests/golden/NAME; UPDATE_GOLDEN=1 rewrites it instead (then review the diff)."""
    if os.environ.get("UPDATE_GOLDEN") == "1":
        (GOLDEN / name).write_text(masked(text))
    want = (GOLDEN / name).read_text()
    assert masked(text) == want, f"\n--- want ({name})\n{want}--- got\n{masked(text)}"


def test_status_table_and_actions_match_golden_files(drover):
    up(drover)
    r = drover.cli("status")
    assert r.returncode == 0, r.stderr
    golden("cli_status.out", r.stdout)
    aligned(r.stdout)
    r = drover.cli("stop", "web:1")
    assert r.returncode == 0
    golden("cli_stop.out", r.stdout)
    wait_until(lambda: "STOPPED" in drover.cli("status", "web:1").stdout, what="web:1 stopped")
    r = drover.cli("scale", "web", "3")
    assert r.returncode == 0
    golden("cli_scale.out", r.stdout)
    assert drover.stop() == 0


def test_status_json_is_the_api_body(drover):
    up(drover)
    r = drover.cli("status", "web", "--json")
    assert r.returncode == 0
    body = json.loads(r.stdout)
    code, api_body, _ = drover.call("GET", "/status/web")
    assert code == 200
    def strip(b):
        return [{k: v for k, v in i.items() if k not in ("uptime_seconds", "silent_seconds")}
                for i in b["programs"]["web"]]
    assert body.keys() == api_body.keys() == {"programs"}
    assert strip(body) == strip(api_body)  # the same body, but for the clock-driven figures
    assert [i["instance"] for i in body["programs"]["web"]] == [0, 1]
    assert drover.stop() == 0


def test_exit_codes(drover):
    up(drover)
    assert drover.cli("restart", "all").returncode == 0
    r = drover.cli("stop", "nope")
    assert r.returncode == 2 and r.stderr.strip() == "drover: stop nope: no such program 'nope'"
    r = drover.cli("scale", "web", "99")
    assert r.returncode == 2 and "instances" in r.stderr
    r = drover.cli("signal", "web", "NOSUCHSIG")
    assert r.returncode == 2, r.stderr
    r = drover.cli("signal", "once", "HUP")  # exited: nothing to signal
    assert r.returncode == 1 and "no running process" in r.stderr
    r = drover.cli("frobnicate")
    assert r.returncode == 2 and "unexpected argument" in r.stderr
    r = drover.cli("scale", "web")
    assert r.returncode == 2 and "missing argument" in r.stderr and "scale PROGRAM N" in r.stderr
    r = drover.cli("health", "--max-silent", "0", "web")
    assert r.returncode == 0 and r.stdout.startswith("healthy"), r.stdout
    r = drover.cli("health", "--silence", "bogus")
    assert r.returncode == 2 and "silence" in r.stderr
    assert drover.stop() == 0
    r = drover.cli("status")
    assert r.returncode == 3
    assert r.stderr.startswith(f"drover: cannot reach the daemon at {drover.control}: ")


def test_health_exit_1_when_unhealthy(drover):
    # Quick exits however slow the machine (start_seconds 1m), and it stays in backoff (1 h)
    # for the whole test instead of being spawned again after 5 s.
    drover.start({"programs": [{"name": "crash", "command": [helper("exit_with"), "1"], "start_seconds": "1m",
                                "backoff": {"initial": "1h", "max": "1h"}}]})
    drover.wait_log(r"crash:0 .*-> backoff")
    r = drover.cli("health", "--max-silent", "0")
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert r.stdout.startswith("unhealthy") and "crash:0" in r.stdout
    r = drover.cli("health", "--max-silent", "1")
    assert r.returncode == 0
    assert drover.stop() == 0


def test_events_follow_prints_changes_as_they_happen(drover):
    up(drover)
    follow = subprocess.Popen([DROVER_BIN, "events", "--follow"], stdout=subprocess.PIPE,
                              env=drover.env, stdin=subprocess.DEVNULL)
    try:
        # Whatever is kept comes first; then our restart shows up live.
        assert drover.cli("restart", "web:0").returncode == 0
        deadline = time.monotonic() + 15
        seen = ""
        while not re.search(r"web:0\s+running -> stopping", seen):
            assert time.monotonic() < deadline, f"no live event within 15 s; got:\n{seen}"
            if select.select([follow.stdout], [], [], 0.5)[0]:
                chunk = os.read(follow.stdout.fileno(), 65536).decode()
                assert chunk, f"events --follow ended; got:\n{seen}"
                seen += chunk
    finally:
        follow.send_signal(signal.SIGTERM)
        try:
            code = follow.wait(timeout=10)
        except subprocess.TimeoutExpired:
            follow.kill()
            code = follow.wait()
    assert code == 0  # SIGTERM ends --follow cleanly
    assert drover.stop() == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to uid 65534 needs root")
def test_socket_mode_keeps_other_users_out(drover):
    # A directory anyone may enter, so only the socket's own mode can keep them out.
    where = tempfile.mkdtemp(prefix="drover-ctl-")
    os.chmod(where, 0o755)
    sock = os.path.join(where, "ctl.sock")
    # The CLI runs from a copy there too: the checkout may be somewhere uid 65534 cannot enter.
    cli = os.path.join(where, "drover")
    shutil.copy(DROVER_BIN, cli)
    os.chmod(cli, 0o755)
    try:
        drover.start(pool(), args=["--control", sock])
        drover.wait_log(r"control socket .* \(mode 0600\)")
        drover.wait_spawns("web:1", 1)

        def as_nobody():
            os.setgid(65534)
            os.setuid(65534)

        def cli_as_nobody(*args):
            return subprocess.run([cli, "--control", sock, *args], capture_output=True, text=True,
                                  preexec_fn=as_nobody, timeout=20)
        r = cli_as_nobody("stop", "all")
        assert r.returncode == 3, (r.stdout, r.stderr)
        assert "ermission denied" in r.stderr and "0600" in r.stderr, r.stderr
        assert all(pid_alive(drover.current(f"web:{i}")[0]) for i in (0, 1))
        # The mode is what stopped them: opened up, the same call goes through.
        os.chmod(sock, 0o666)
        assert cli_as_nobody("status").returncode == 0
        assert drover.stop() == 0
        assert not os.path.exists(sock)
    finally:
        shutil.rmtree(where)


def as_user(uid):
    def switch():
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    return switch


@pytest.fixture
def public_bin(monkeypatch):
    """drover's binary copied where any user may run it (the checkout may be closed to them);
    the `drover` fixture starts this copy."""
    where = tempfile.mkdtemp(prefix="drover-bin-")
    os.chmod(where, 0o755)
    binary = os.path.join(where, "drover")
    shutil.copy(DROVER_BIN, binary)
    os.chmod(binary, 0o755)
    monkeypatch.setattr(conftest, "DROVER_BIN", binary)
    yield binary
    shutil.rmtree(where)


def spare_uid():
    """A uid with no account and no /tmp/drover-UID: that default directory is this test's
    alone, even while another checkout runs the suite (uid 65534's would be shared)."""
    for uid in range(61000 + os.getpid() % 1000, 62000):
        try:
            pwd.getpwuid(uid)
        except KeyError:
            if not os.path.lexists(f"/tmp/drover-{uid}"):
                return uid
    pytest.skip("no spare uid in 61000-61999")


def user_env(drover):
    """The environment of a user without XDG_RUNTIME_DIR who relies on the default socket."""
    return {k: v for k, v in drover.env.items() if k not in ("XDG_RUNTIME_DIR", "DROVER_CONTROL")}


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to another uid needs root")
def test_default_socket_of_a_user_is_in_a_directory_of_its_own(drover, public_bin):
    uid = spare_uid()
    where = f"/tmp/drover-{uid}"
    env = user_env(drover)
    try:
        drover.start({"programs": [{"name": "s", "command": ["/bin/sleep", "600"]}]}, stdin=True, env=env,
                     preexec_fn=as_user(uid))
        drover.wait_log(rf"control socket {where}/drover\.sock \(mode 0600\)")
        st = os.lstat(where)
        assert stat.S_ISDIR(st.st_mode) and st.st_uid == uid and stat.S_IMODE(st.st_mode) == 0o711
        drover.wait_spawns("s:0", 1)
        r = subprocess.run([public_bin, "status"], capture_output=True, text=True, env=env,
                           preexec_fn=as_user(uid), timeout=20)
        assert r.returncode == 0 and "s:0" in r.stdout, (r.stdout, r.stderr)
        assert drover.stop() == 0
        # Control socket, its lock and the notify socket: gone. The directory's own .lock stays
        # (removing a lock file others may be waiting on would let two hold it).
        assert os.listdir(where) == [".lock"]
    finally:
        shutil.rmtree(where, ignore_errors=True)


def squat(where, uid, how):
    """Plants what another user could have made at where before drover: a directory of
    root's (0755), a directory of the right user open to all (0777), or a symbolic link to a
    directory that would pass (a link can be repointed)."""
    if how == "root's":
        os.mkdir(where, 0o755)
        return "a directory owned by uid 0 with mode 0755"
    if how == "0777":
        os.mkdir(where)
        os.chown(where, uid, uid)
        os.chmod(where, 0o777)
        return f"a directory owned by uid {uid} with mode 0777"
    target = tempfile.mkdtemp(prefix="drover-squat-")
    os.chown(target, uid, uid)
    os.symlink(target, where)
    return "a symbolic link owned by uid 0 with mode 0777"


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to another uid needs root")
@pytest.mark.parametrize("how", ["root's", "0777", "symlink"])
def test_squatted_default_directory_is_refused_by_drover_and_the_cli(drover, public_bin, how):
    uid = spare_uid()
    where = f"/tmp/drover-{uid}"
    env = user_env(drover)
    what = squat(where, uid, how)
    target = os.path.realpath(where)
    refusal = (f"drover's runtime directory {where} is {what}, not a directory owned by uid {uid} "
               "that only it can write to (someone else may have created it first): refusing to use it")
    try:
        for args in ([], ["--control", "off"]):  # the control socket's default, and the notify socket
            drover.start({"programs": [{"name": "s", "command": ["/bin/sleep", "600"]}]}, args=args,
                         stdin=True, env=env, preexec_fn=as_user(uid))
            wait_until(lambda: drover.proc.poll() is not None, timeout=20,
                       what=f"drover {args} to refuse {where} ({how}) and exit")
            assert drover.proc.returncode == 1, drover.log()
            assert drover.log().count(refusal) == (1 if not args else 2), drover.log()
            assert "spawned" not in drover.log()
        r = subprocess.run([public_bin, "status"], capture_output=True, text=True, env=env,
                           preexec_fn=as_user(uid), timeout=20)
        assert r.returncode == 3 and r.stderr == f"drover: {refusal}\n", r.stderr
        assert os.path.realpath(where) == target and os.listdir(target) == []  # nothing made there
    finally:
        if os.path.islink(where):
            os.unlink(where)
        shutil.rmtree(target, ignore_errors=True)


FAKE_DAEMON = r"""
import os, select, socket, sys
path = sys.argv[1]
body = (b'{"healthy":true,"thresholds":{"max_silent":0,"silence_seconds":30.0},"counts":'
        b'{"instances":1,"running":1,"silent":0,"failing":0,"backoff":0,"fatal":0,"unhealthy":0},'
        b'"unhealthy_instances":[]}')
s = socket.socket(socket.AF_UNIX)
s.bind(path)
os.chmod(path, 0o777)
s.listen(5)
print("listening", flush=True)
while select.select([s, sys.stdin], [], [], 60)[0] == [s]:
    c, _ = s.accept()
    try:
        c.recv(65536)
        c.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                  % len(body) + body)
    except OSError:
        pass  # a client that hung up at once (as drover's CLI now does)
    c.close()
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to uid 65534 needs root")
def test_cli_refuses_a_daemon_run_by_another_user(drover):
    where = tempfile.mkdtemp(prefix="drover-fake-")
    os.chmod(where, 0o777)
    sock = os.path.join(where, "fake.sock")
    fake = subprocess.Popen(["/usr/bin/python3", "-c", FAKE_DAEMON, sock], preexec_fn=as_user(65534),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert select.select([fake.stdout], [], [], 20)[0], "the fake daemon did not start"
        assert fake.stdout.readline() == "listening\n"
        for how in (["--control", sock], []):  # explicit, and through DROVER_CONTROL
            r = drover.cli("health", *how, control=sock)
            assert r.returncode == 3, (r.stdout, r.stderr)
            assert r.stdout == ""
            assert r.stderr == (f"drover: the control socket {sock} is served by uid 65534 "
                                f"(pid {fake.pid}), not by you or root: refusing to talk to it\n")
    finally:
        fake.stdin.close()
        try:
            fake.wait(timeout=20)
        except subprocess.TimeoutExpired:
            fake.kill()
            fake.wait(timeout=10)
        shutil.rmtree(where)


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to another uid needs root")
def test_adopting_a_worker_that_sends_elsewhere_says_so(drover, public_bin):
    """The notify socket lives in the runtime directory, which depends on XDG_RUNTIME_DIR (and,
    from older drovers, was an abstract name). A worker adopted by a drover whose socket is
    elsewhere sends its datagrams to nobody: drover says so when it adopts it."""
    uid = spare_uid()
    home = tempfile.mkdtemp(prefix="drover-xdg-")
    try:
        os.chown(home, uid, uid)
        xdg = {}
        for name in ("a", "b"):
            xdg[name] = os.path.join(home, name)
            os.mkdir(xdg[name], 0o700)
            os.chown(xdg[name], uid, uid)
        dump = os.path.join(home, "dump.json")
        config = {"programs": [{"name": "s", "command": ["/bin/sleep", "600"]}]}
        env = dict(user_env(drover), XDG_RUNTIME_DIR=xdg["a"])
        drover.start(config, args=["--dumpfile", dump], stdin=True, env=env, preexec_fn=as_user(uid))
        pid = drover.wait_spawns("s:0", 1)[0][1]
        wait_until(lambda: os.path.exists(dump) and str(pid) in open(dump).read(), what="s:0 on record")
        drover.kill9()
        env["XDG_RUNTIME_DIR"] = xdg["b"]
        drover.start(config, args=["--dumpfile", dump, "--adopt"], stdin=True, env=env,
                     preexec_fn=as_user(uid))
        drover.wait_log(rf"s:0 pid={pid} adopted from an earlier drover")
        drover.wait_log(rf"s:0 pid={pid} sends its notify datagrams to {xdg['a']}/drover/notify-\w+\.sock, "
                        rf"not to this drover's {xdg['b']}/drover/notify-\w+\.sock: its READY=1")
        assert drover.stop() == 0
        assert not pid_alive(pid)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_shutdown_wait_returns_once_the_daemon_has_exited(drover):
    # The worker takes 1.5 s to stop: a plain shutdown answers long before the daemon exits.
    drover.start({"programs": [{"name": "slow", "command": [helper("sleeper"),
                                                           "--exit-on-term-after-ms", "1500"]}]})
    drover.wait_spawns("slow:0", 1)
    r = drover.cli("shutdown", "--wait", timeout=60)
    assert r.returncode == 0, r.stderr
    assert f"daemon exited (pid {drover.proc.pid})" in r.stdout, r.stdout
    # Returned only after the exit: the daemon is already a zombie or gone, never still running.
    assert drover.proc.poll() == 0, drover.log()
    assert "all instances stopped, exiting" in drover.log()
    # --wait belongs to shutdown alone.
    r = drover.cli("stop", "slow", "--wait")
    assert r.returncode == 2 and "--wait" in r.stderr, r.stderr

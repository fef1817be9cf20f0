"""Identity (issue 13, item 2): `user` and `group` resolved at config check, the child's uid,
gid and supplementary groups, HOME/USER/LOGNAME, output files owned by the user, the notify
socket and the heartbeat slots for a child that is not root, one program's user unable to
write another program's slots, adoption of a user's child, and the config errors: a missing
user or group, and `user` in a drover that is not root.

The test users and group are created here (useradd) and removed afterwards."""
import json
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from conftest import DROVER_BIN, REPO, helper, pid_alive, wait_until

SUFFIX = str(os.getpid() % 100000)
USER_A, USER_B, GROUP_X = f"drvta{SUFFIX}", f"drvtb{SUFFIX}", f"drvtx{SUFFIX}"


def run(*cmd):
    subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def users():
    """Two users (A with the extra group X), removed at the end whatever happened."""
    if os.geteuid() != 0:
        raise AssertionError("the identity tests create users: run the suite as root")
    for tool in ("useradd", "groupadd", "userdel", "groupdel", "setpriv"):
        if not shutil.which(tool):
            raise AssertionError(f"{tool} is missing (passwd and util-linux are in Debian's base)")
    run("groupadd", GROUP_X)
    try:
        run("useradd", "--no-create-home", "--home-dir", f"/home/{USER_A}", "--shell", "/bin/false",
            "--groups", GROUP_X, USER_A)
        run("useradd", "--no-create-home", "--home-dir", f"/home/{USER_B}", "--shell", "/bin/false",
            USER_B)
        import grp
        import pwd
        a, b = pwd.getpwnam(USER_A), pwd.getpwnam(USER_B)
        yield {"a": a, "b": b, "x": grp.getgrnam(GROUP_X).gr_gid}
    finally:
        for u in (USER_A, USER_B):
            subprocess.run(["userdel", u], capture_output=True, timeout=60)
        subprocess.run(["groupdel", GROUP_X], capture_output=True, timeout=60)


def proc_status(pid):
    return dict(re.findall(r"^(\w+):\s*(.*)$", open(f"/proc/{pid}/status").read(), re.M))


def environ(pid):
    raw = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
    return dict(e.decode().split("=", 1) for e in raw if b"=" in e)


def test_the_child_runs_as_the_user_with_its_groups_and_environment(drover, users):
    logs = tempfile.mkdtemp(prefix="drover-identity-")  # the user's: drover opens it as the user
    os.chown(logs, users["a"].pw_uid, users["a"].pw_gid)
    try:
        child_identity(drover, users, f"{logs}/a.txt")
    finally:
        shutil.rmtree(logs)


def child_identity(drover, users, out):
    drover.start({"programs": [
        {"name": "a", "command": [helper("status_dump")], "user": USER_A, "output": out},
        {"name": "g", "command": [helper("sleeper")], "user": users["a"].pw_uid, "group": GROUP_X},
        {"name": "root", "command": [helper("sleeper")]},
    ]})
    pid = drover.wait_spawns("a:0", 1)[0][1]
    wait_until(lambda: "pgid=" in open(out).read(), what="status_dump's report in a.txt")
    st = proc_status(pid)
    a = users["a"]
    assert st["Uid"].split() == [str(a.pw_uid)] * 4, st
    assert st["Gid"].split() == [str(a.pw_gid)] * 4, st
    assert sorted(st["Groups"].split()) == sorted({str(a.pw_gid), str(users["x"])}), st
    assert st["CapEff"] == "0000000000000000", st  # no capability survives the switch
    env = environ(pid)
    assert (env["HOME"], env["USER"], env["LOGNAME"]) == (f"/home/{USER_A}", USER_A, USER_A), env
    # The file drover created for its output belongs to the user.
    assert (os.stat(out).st_uid, os.stat(out).st_gid) == (a.pw_uid, a.pw_gid)

    # A number works as chown(1) takes it, and `group` replaces the primary group.
    g = proc_status(drover.wait_spawns("g:0", 1)[0][1])
    assert g["Uid"].split()[0] == str(a.pw_uid) and g["Gid"].split()[0] == str(users["x"]), g
    # Without the keys: drover's own identity and environment.
    r = drover.wait_spawns("root:0", 1)[0][1]
    assert proc_status(r)["Uid"].split()[0] == "0"
    assert environ(r).get("USER") == os.environ.get("USER")
    assert drover.stop() == 0


def test_program_env_wins_over_the_users_home(drover, users):
    drover.start({"programs": [{"name": "a", "command": [helper("sleeper")], "user": USER_A,
                                "env": {"HOME": "/srv/a"}}]})
    env = environ(drover.wait_spawns("a:0", 1)[0][1])
    assert env["HOME"] == "/srv/a" and env["USER"] == USER_A, env
    assert drover.stop() == 0


def test_a_missing_user_or_group_is_a_config_error(drover, users):
    cfg = ('{"programs": [\n'
           '  {"name": "a", "command": ["x"], "user": "drover-no-such-user"},\n'
           '  {"name": "b", "command": ["x"], "user": "%s", "group": "drover-no-such-group"},\n'
           '  {"name": "c", "command": ["x"], "user": 4000000000}\n'
           ']}\n' % USER_A)
    r = drover.run(cfg, args=["--check-config"])
    assert r.returncode == 2, r
    cfgpath = drover.path("config.json")
    lines = cfg.split("\n")

    def at(line, value):  # SOURCE:LINE:COL of a value, columns from 1
        return f"{cfgpath}:{line}:{lines[line - 1].index(value) + 1}"
    assert (f'{at(2, chr(34) + "drover-no-such-user")}: programs[0].user: no user '
            '"drover-no-such-user" in the user database (getent passwd drover-no-such-user)'
            ) in r.stderr, r.stderr
    assert (f'{at(3, chr(34) + "drover-no-such-group")}: programs[1].group: no group '
            '"drover-no-such-group" in the group database') in r.stderr, r.stderr
    assert (f'{at(4, "4000000000")}: programs[2].user: uid 4000000000 has no entry in the user '
            'database, so it has no group: give "group" too') in r.stderr, r.stderr
    # Nothing was started.
    assert "spawned" not in r.stderr


def test_user_in_a_drover_that_is_not_root_is_a_config_error(drover, users):
    b = users["b"]
    conf = json.dumps([{"name": "w", "command": ["/bin/true"], "user": USER_A}])
    r = subprocess.run(["setpriv", f"--reuid={b.pw_uid}", f"--regid={b.pw_gid}", "--clear-groups",
                        DROVER_BIN, "--check-config"], input=conf, capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 2, r
    col = conf.index(f'"{USER_A}"') + 1
    assert (f"<stdin>:1:{col}: [0].user: drover runs as uid {b.pw_uid}, not as root, so it cannot start "
            'a child as another user or group: remove "user" and "group", or start drover as root'
            ) in r.stderr, r.stderr
    # Its own user is no switch at all: fine.
    conf = json.dumps([{"name": "w", "command": ["/bin/true"], "user": USER_B}])
    r = subprocess.run(["setpriv", f"--reuid={b.pw_uid}", f"--regid={b.pw_gid}", "--clear-groups",
                        DROVER_BIN, "--check-config"], input=conf, capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r


# A worker that is not root: a beat in its shared-memory slot an hour ahead of the clock (drover
# counts such a time once, heartbeat_future_total: proof that it read what this child wrote), then
# READY=1 on the notify socket.
NOTIFY_AND_BEAT = r"""
import mmap, os, socket, struct, time
m = mmap.mmap(int(os.environ["DROVER_HEARTBEAT_FD"]), 0)
off = int(os.environ["DROVER_HEARTBEAT_SLOT"]) * 64  # struct drover_slot: last_beat_ns first
struct.pack_into("<Q", m, off, time.monotonic_ns() + 3600 * 10**9)
addr = os.environ["NOTIFY_SOCKET"]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(b"READY=1\nSTATUS=uid %d" % os.getuid(), "\0" + addr[1:] if addr[0] == "@" else addr)
time.sleep(3600)
"""


def test_notify_socket_and_heartbeat_slots_work_for_a_child_that_is_not_root(drover, users):
    drover.start({"programs": [{"name": "n", "user": USER_A, "ready": "notify",
                                "heartbeat": {"timeout": "60s"},
                                "command": ["/usr/bin/python3", "-c", NOTIFY_AND_BEAT]}]})
    drover.wait_log(r"n:0 pid=\d+ starting -> running \(READY=1\)", timeout=20)
    code, body, _ = drover.call("GET", "/status/n")
    assert code == 200, body
    assert body["programs"]["n"][0]["status"] == f"uid {users['a'].pw_uid}", body
    # The slot the child wrote was read by drover: the beat from the future, counted once.
    drover.wait_log(r"n:0 pid=\d+ heartbeat slot holds a time \S+ s ahead of CLOCK_MONOTONIC")

    def future_total():
        text = drover.call("GET", "/metrics")[1]
        return [line for line in text.splitlines() if line.startswith(
            'drover_instance_heartbeat_future_total{program="n",instance="0"} ')]
    assert wait_until(lambda: future_total() == [
        'drover_instance_heartbeat_future_total{program="n",instance="0"} 1'] and future_total(),
        what="heartbeat_future_total 1 for n:0"), drover.log()
    assert drover.stop() == 0


def slots_fd(pid, program):
    """The fd number under /proc/PID/fd of program's heartbeat slots (memfd:drover:PROGRAM)."""
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith(f"/memfd:drover:{program} "):
                return int(fd)
        except FileNotFoundError:
            continue
    raise AssertionError(f"no memfd:drover:{program} among /proc/{pid}/fd")


TRY_OPEN = r"""
import os, sys
for path in sys.argv[1:]:
    try:
        os.close(os.open(path, os.O_RDWR))
        print(path, "opened")
    except OSError as e:
        print(path, e.__class__.__name__)
"""


def test_one_programs_user_cannot_write_another_programs_slots(drover, users):
    drover.start({"programs": [
        {"name": "a", "command": [helper("sleeper")], "user": USER_A},
        {"name": "b", "command": [helper("sleeper")], "user": USER_B},
    ]})
    b_pid = drover.wait_spawns("b:0", 1)[0][1]
    drover.wait_spawns("a:0", 1)
    paths = [f"/proc/{drover.proc.pid}/fd/{slots_fd(drover.proc.pid, 'b')}",
             f"/proc/{b_pid}/fd/{slots_fd(b_pid, 'b')}"]
    # The paths are right: root (drover's user) opens both.
    for p in paths:
        os.close(os.open(p, os.O_RDWR))
    r = subprocess.run(["setpriv", f"--reuid={users['a'].pw_uid}", f"--regid={users['a'].pw_gid}",
                        "--init-groups", "/usr/bin/python3", "-c", TRY_OPEN, *paths],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r
    assert r.stdout.split("\n")[:2] == [f"{p} PermissionError" for p in paths], r.stdout
    assert drover.stop() == 0


def test_probes_run_as_the_programs_user(drover, users):
    shared = tempfile.mkdtemp(prefix="drover-identity-")  # pytest's tmp is root's alone
    os.chmod(shared, 0o1777)
    try:
        probe_writes_uid(drover, shared, users)
    finally:
        shutil.rmtree(shared)


def probe_writes_uid(drover, shared, users):
    drover.start({"programs": [{"name": "p", "command": [helper("sleeper")], "user": USER_A,
                                "health": {"command": ["/bin/sh", "-c", f"id -u > {shared}/probe"],
                                           "interval": "1s"}}]})
    wait_until(lambda: os.path.exists(f"{shared}/probe") and open(f"{shared}/probe").read().strip(),
               timeout=30, what="the health probe's output")
    assert open(f"{shared}/probe").read().strip() == str(users["a"].pw_uid)
    assert drover.stop() == 0


def test_adopt_takes_over_a_users_child_after_drover_was_killed(drover, users):
    dump = drover.path("dump.json")
    prog = {"programs": [{"name": "a", "command": [helper("sleeper")], "user": USER_A,
                          "start_seconds": 0}]}
    drover.start(prog, args=["--dumpfile", dump])
    pid = drover.wait_spawns("a:0", 1)[0][1]
    wait_until(lambda: os.path.exists(dump) and any(e["pid"] == pid for e in
                                                    json.load(open(dump)).get("instances", [])),
               what="the user's child in the dumpfile")
    drover.kill9()
    assert pid_alive(pid)
    drover.start(prog, args=["--dumpfile", dump, "--adopt"])
    drover.wait_log(rf"a:0 pid={pid} .*adopted from an earlier drover")
    assert pid_alive(pid)
    # And when its program's user changed, it is not adopted but replaced.
    drover.kill9()
    prog["programs"][0]["user"] = USER_B
    drover.start(prog, args=["--dumpfile", dump, "--adopt"])
    drover.wait_log(rf"pid {pid} \(a:0\) runs as uid {users['a'].pw_uid} now, not as uid "
                    rf"{users['b'].pw_uid}, which its program starts as")
    new = drover.wait_spawns("a:0", 2)[-1][1]  # the first drover's spawn, then this one's
    assert new != pid and proc_status(new)["Uid"].split()[0] == str(users["b"].pw_uid)
    wait_until(lambda: not pid_alive(pid), what=f"the old pid {pid} stopped")
    assert drover.stop() == 0
    assert not pid_alive(new)


def test_files_are_opened_with_the_users_rights(drover, users, tmp_path):
    """drover opens a `user` program's files with that user's file-system identity: a link the
    user planted to a file only root may touch is refused, and what drover creates is the user's
    (plain output, and captured output written by drover itself)."""
    a = users["a"]
    shared = tempfile.mkdtemp(prefix="drover-identity-")  # the user's log directory
    os.chown(shared, a.pw_uid, a.pw_gid)
    secret = tmp_path / "secret"
    secret.write_text("keep\n")
    os.chmod(secret, 0o600)
    # A file only root's group may write, in a place the user reaches: drover's own groups
    # (root's) must not apply when it opens the user's files.
    group_dir = tempfile.mkdtemp(prefix="drover-identity-")  # 0755, not sticky: no fs.protected_*
    os.chmod(group_dir, 0o755)
    group_only = f"{group_dir}/group-only"
    with open(group_only, "w") as f:
        f.write("keep\n")
    os.chmod(group_only, 0o660)
    try:
        for name, target in (("out.log", secret), ("in.txt", secret), ("grp.log", group_only)):
            os.symlink(target, f"{shared}/{name}")
            os.lchown(f"{shared}/{name}", a.pw_uid, a.pw_gid)
        drover.start({"programs": [
            {"name": "w", "command": [helper("sleeper")], "user": USER_A, "output": f"{shared}/out.log"},
            {"name": "r", "command": [helper("sleeper")], "user": USER_A, "input": f"{shared}/in.txt"},
            {"name": "c", "user": USER_A, "output": {"file": f"{shared}/cap.log"},
             "command": ["/bin/sh", "-c", "echo captured; exec sleep 600"]},
            {"name": "p", "user": USER_A, "output": f"{shared}/plain.log",
             "command": ["/bin/sh", "-c", "echo plain; exec sleep 600"]},
            {"name": "g", "command": [helper("sleeper")], "user": USER_A, "output": f"{shared}/grp.log"},
            {"name": "m", "user": USER_A, "umask": "077", "output": {"file": f"{shared}/private.log"},
             "command": ["/bin/sh", "-c", "echo private; exec sleep 600"]},
        ]}, preexec_fn=lambda: os.setgroups([0]))  # drover in root's group, as under sudo
        drover.wait_log(rf'w:0 cannot open output file "{shared}/out.log": Permission denied '
                        rf'\(opened as user {USER_A}\)')
        drover.wait_log(rf'r:0 cannot open input file "{shared}/in.txt": Permission denied '
                        rf'\(opened as user {USER_A}\)')
        wait_until(lambda: os.path.exists(f"{shared}/cap.log") and
                   open(f"{shared}/cap.log").read() == "captured\n", what="the captured line in cap.log")
        wait_until(lambda: os.path.exists(f"{shared}/plain.log") and
                   open(f"{shared}/plain.log").read() == "plain\n", what="the line in plain.log")
        drover.wait_log(rf'g:0 cannot open output file "{shared}/grp.log": Permission denied')
        wait_until(lambda: os.path.exists(f"{shared}/private.log") and
                   open(f"{shared}/private.log").read() == "private\n", what="private.log")
        for f in ("cap.log", "plain.log", "private.log"):
            st = os.stat(f"{shared}/{f}")
            assert (st.st_uid, st.st_gid) == (a.pw_uid, a.pw_gid), f
        assert os.stat(f"{shared}/private.log").st_mode & 0o777 == 0o600  # the program's umask
        assert os.stat(f"{shared}/plain.log").st_mode & 0o777 == 0o644
        assert secret.read_text() == "keep\n" and open(group_only).read() == "keep\n"
        assert drover.stop() == 4  # w, r and g went fatal: not a clean stop
    finally:
        shutil.rmtree(shared)
        shutil.rmtree(group_dir)


def test_a_program_of_another_user_takes_jobs(drover, users):
    """Its workers connect to the job channel (0666 then: HELLO's per-instance token and the
    sender's pid are the gate), and a job runs as that user."""
    worker = str(REPO / "bin" / "job_worker")  # examples/job_worker.c: upper-cases its payload
    drover.start({"programs": [{"name": "u", "user": USER_A, "command": [worker], "jobs": {}}],
                  "jobs": {"store": "memory"}})
    drover.wait_log(r"u:0 pid=\d+ starting -> running", timeout=20)
    sock = drover.lines(r"job channel listening on (\S+)")[0][1]
    assert os.stat(sock).st_mode & 0o777 == 0o666
    r = drover.cli("run", "u", "hello", timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "HELLO", (r.stdout, r.stderr, drover.log())
    assert drover.stop() == 0


def test_a_pool_of_drovers_own_user_keeps_the_job_socket_private(drover):
    worker = str(REPO / "bin" / "job_worker")
    drover.start({"programs": [{"name": "w", "command": [worker], "jobs": {}}],
                  "jobs": {"store": "memory"}})
    drover.wait_log(r"w:0 pid=\d+ starting -> running", timeout=20)
    sock = drover.lines(r"job channel listening on (\S+)")[0][1]
    assert os.stat(sock).st_mode & 0o777 == 0o600
    assert drover.stop() == 0


def test_spawns_refused_by_the_users_process_limit_are_said_once_and_retried(drover, users):
    """RLIMIT_NPROC 1 for a program of user A while other processes of A run: its execve
    fails with EAGAIN. drover says so once, retries with a backoff, supervises the rest, and
    starts it once that process has ended."""
    # Two processes of A: the kernel marks a setuid to A over the limit when A has more
    # processes than RLIMIT_NPROC (here 2 > 1), and refuses the execve that follows.
    blockers = [subprocess.Popen(["setpriv", "--reuid", USER_A, "--regid", USER_A,
                                  "--clear-groups", helper("sleeper")]) for _ in range(2)]
    try:
        drover.start({"programs": [
            {"name": "u", "user": USER_A, "command": [helper("sleeper")], "rlimits": {"nproc": 1},
             "backoff": {"initial": "100ms", "max": "200ms"}},
            {"name": "steady", "command": [helper("sleeper")]},
        ]}, args=["-v"])
        drover.wait_log(r"u:0 cannot execute it: Resource temporarily unavailable \(a process "
                        r"limit", timeout=30)
        drover.wait_log(r"u:0: spawn refused again for lack of processes", count=3, timeout=30)
        assert len(drover.lines(r"cannot execute it")) == 1, drover.log()
        assert not drover.lines(r"u:0 .*-> fatal")
        drover.wait_spawns("steady:0", 1)
    finally:
        for b in blockers:
            b.kill()
            b.wait(timeout=30)
    drover.wait_spawns("u:0", 1, timeout=30)
    drover.wait_log(r"u:0 .*spawned, after \d+ attempts refused for lack of processes")
    assert drover.stop() == 0

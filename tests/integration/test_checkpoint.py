"""Checkpoint and recovery: --dumpfile, --checkpoint-interval, --adopt.
kill -9 of drover must have no consequences: the next drover stops (or
adopts) what the old one left, and never touches a process it did not start."""
import json
import os
import contextlib
import random
import shutil
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path

import pytest

from conftest import DROVER_BIN, REPO, free_port, helper, pid_alive, read_pid, wait_until

ASSETS = REPO / "tests" / "assets"


def marked_processes(dumpfile):
    """{pid: generation} of live processes carrying this dumpfile's marker."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                env = dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)
        except OSError:
            continue
        if env.get(b"DROVER_DUMPFILE") == str(dumpfile).encode() and pid_alive(int(entry)):
            found[int(entry)] = env.get(b"DROVER_GENERATION", b"").decode()
    return found


def read_dump(path):
    with open(path) as f:
        return json.load(f)


def pool(drover, instances=3):
    return {"programs": [
        {"name": "w", "command": [helper("sleeper"), "--grandchild", drover.path("gc-{{instance}}.pid")],
         "instances": instances, "env": {"P": "{{port}}"}, "stop_timeout": "2s"},
    ], "port_range": "19600-19649"}


def test_dumpfile_records_live_instances_and_is_empty_after_shutdown(drover):
    dump = drover.path("dump.json")
    drover.start(pool(drover), args=["--dumpfile", dump])
    drover.wait_spawns("w:2", 1)
    data = wait_until(lambda: os.path.exists(dump) and len(read_dump(dump)["instances"]) == 3 and read_dump(dump),
                      what="3 instances in the dumpfile")
    assert data["format"] == "drover-checkpoint" and data["version"] == 2
    assert data["drover"]["pid"] == drover.proc.pid
    with open(f"/proc/{drover.proc.pid}/stat") as f:
        assert data["drover"]["start_time"] == int(f.read().rsplit(")", 1)[1].split()[19])
    generation = f"{drover.proc.pid}.{data['drover']['start_time']}"
    for entry in data["instances"]:
        with open(f"/proc/{entry['pid']}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        assert entry["start_time"] == int(fields[19])
        assert entry["pgid"] == entry["pid"] == int(fields[2])
        assert entry["program"] == "w" and 19600 <= entry["port"] <= 19649
        assert entry["argv"][0] == helper("sleeper")
        assert entry["generation"] == generation == marked_processes(dump)[entry["pid"]]
    assert drover.stop() == 0
    assert read_dump(dump)["instances"] == []
    assert not [n for n in os.listdir(drover.dir) if n.startswith("dump.json.")]  # no temporary left


def test_kill9_then_restart_stops_the_old_generation(drover):
    dump = drover.path("dump.json")
    drover.start(pool(drover), args=["--dumpfile", dump])
    drover.wait_spawns("w:2", 1)
    wait_until(lambda: all(os.path.exists(drover.path(f"gc-{i}.pid")) for i in range(3)),
               what="the 3 grandchildren's pid files")
    wait_until(lambda: len(read_dump(dump)["instances"]) == 3, what="3 instances in the dumpfile")
    old = marked_processes(dump)
    assert len(old) == 6  # three instances, each with a grandchild
    drover.kill9()
    assert all(pid_alive(p) for p in old)  # drover's death alone leaves them running

    drover.start(pool(drover), args=["--dumpfile", dump])
    drover.wait_log(r"stopped 6 processes left by an earlier drover")
    wait_until(lambda: len(drover.spawns()) == 6, what="new pool")
    assert not any(pid_alive(p) for p in old)
    new = marked_processes(dump)
    assert set(new).isdisjoint(old) and len(set(new.values())) == 1
    assert drover.stop() == 0
    assert not marked_processes(dump)


def test_adopt_keeps_the_same_pids_and_supervises_them(drover):
    dump = drover.path("dump.json")
    drover.start(pool(drover), args=["--dumpfile", dump])
    drover.wait_spawns("w:2", 1)
    wait_until(lambda: len(read_dump(dump)["instances"]) == 3, what="3 instances in the dumpfile")
    before = {e["instance"]: (e["pid"], e["port"]) for e in read_dump(dump)["instances"]}
    first = "{pid}.{start_time}".format(**read_dump(dump)["drover"])
    grandchildren = [int(open(drover.path(f"gc-{i}.pid")).read()) for i in range(3)]
    drover.kill9()

    drover.start(pool(drover), args=["--dumpfile", dump, "--adopt"])
    drover.wait_log(r"adopted 3 instances")
    for i, (pid, port) in before.items():
        drover.wait_log(rf"w:{i} pid={pid} port={port} adopted from an earlier drover")
        assert pid_alive(pid)
    assert all(pid_alive(g) for g in grandchildren)  # zero downtime: nothing was restarted
    wait_until(lambda: {e["pid"] for e in read_dump(dump)["instances"]} == {p for p, _ in before.values()},
               what="the adopted pids in the new drover's dumpfile")
    # Each record names the generation its process carries: the first drover's, not this one's.
    carried = marked_processes(dump)
    assert {e["generation"] for e in read_dump(dump)["instances"]} == {first}
    assert all(carried[e["pid"]] == first for e in read_dump(dump)["instances"])

    victim, port = before[1]
    os.kill(victim, signal.SIGKILL)
    drover.wait_log(rf"w:1 pid={victim} port={port} exited after .* \(status unknown: adopted")
    drover.wait_spawns("w:1", 2)  # the first drover's spawn, then the restart
    assert drover.current("w:1")[0] != victim
    assert drover.current("w:1")[1] not in {p for _, p in before.values()}  # round robin goes on
    assert drover.stop() == 0
    assert not any(pid_alive(p) for p, _ in before.values())


def test_adopt_stops_survivors_of_programs_no_longer_configured(drover):
    dump = drover.path("dump.json")
    config = pool(drover, instances=2)
    config["programs"].append({"name": "old", "command": [helper("sleeper")]})
    drover.start(config, args=["--dumpfile", dump])
    drover.wait_spawns("old:0", 1)
    wait_until(lambda: len(read_dump(dump)["instances"]) == 3, what="3 instances in the dumpfile")
    old_pid = drover.current("old:0")[0]
    drover.kill9()
    drover.start(pool(drover, instances=2), args=["--dumpfile", dump, "--adopt"])
    drover.wait_log(r"adopted 2 instances")
    drover.wait_log(rf"pid {old_pid} \(old:0\): no such instance in the configuration, stopping it")
    wait_until(lambda: not pid_alive(old_pid), what=f"old:0 (pid {old_pid}), no longer configured, to be stopped")
    assert drover.stop() == 0


def test_recycled_pid_is_never_touched(drover):
    """A dumpfile naming a pid that now belongs to another process (other start time)."""
    bystander = subprocess.Popen([helper("sleeper")], start_new_session=True)
    try:
        with open(f"/proc/{bystander.pid}/stat") as f:
            real_start = int(f.read().rsplit(")", 1)[1].split()[19])
        dead = subprocess.Popen(["true"])
        dead.wait()
        dump = drover.path("dump.json")
        Path(dump).write_text(json.dumps({
            "format": "drover-checkpoint", "version": 1,
            "drover": {"pid": dead.pid, "start_time": 1},
            "written_at": "2026-11-23T00:00:00.000Z",
            "instances": [{"program": "w", "instance": 0, "pid": bystander.pid, "pgid": bystander.pid,
                           "start_time": real_start - 1, "port": None, "argv": ["sleeper"]}],
        }))
        drover.start({"programs": [{"name": "w", "command": [helper("sleeper")]}]},
                     args=["--dumpfile", dump, "--adopt"])
        drover.wait_log(rf"w:0 pid {bystander.pid} now belongs to another process \(start time differs\): "
                        r"not this record's process; the process-table sweep decides")
        drover.wait_spawns("w:0", 1)
        assert bystander.poll() is None
        assert drover.stop() == 0
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_second_drover_on_the_same_dumpfile_is_refused(drover, tmp_path):
    dump = drover.path("dump.json")
    drover.start(pool(drover, instances=1), args=["--dumpfile", dump])
    drover.wait_spawns("w:0", 1)
    wait_until(lambda: os.path.exists(dump), what=f"the dumpfile {dump}")
    second = subprocess.run([DROVER_BIN,
                             "--config", str(drover.write_config(pool(drover, 1), "c2.json")), "--dumpfile", dump,
                             "--control", drover.path("ctl2.sock")],
                            capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)
    assert second.returncode == 1
    assert f"belongs to drover {drover.proc.pid}, which is still running: refusing to start" in second.stderr
    assert "spawned" not in second.stderr
    assert pid_alive(drover.current("w:0")[0])  # the first pool is untouched
    assert drover.stop() == 0


@pytest.mark.parametrize("asset", sorted(p.name for p in ASSETS.glob("ckpt-*.json")))
def test_bad_dumpfiles_are_a_warning_not_a_crash(drover, asset):
    dump = drover.path("dump.json")
    shutil.copy(ASSETS / asset, dump)
    drover.start(pool(drover, instances=1), args=["--dumpfile", dump])
    drover.wait_log(r"warn .*dumpfile .* is unusable \(.+\); recovering from the process table only")
    drover.wait_spawns("w:0", 1)
    wait_until(lambda: read_dump(dump)["drover"]["pid"] == drover.proc.pid, what="a fresh dumpfile")
    assert drover.stop() == 0


def test_unreadable_dumpfile_is_a_warning(drover):
    dump = drover.path("dump.json")
    os.mkdir(dump)  # reading a directory fails even for root
    drover.start(pool(drover, instances=1), args=["--dumpfile", dump])
    drover.wait_log(r"warn .*dumpfile .*dump\.json is not a regular file \(a directory\): not trusting it; "
                    r"recovering from the process table only")
    drover.wait_spawns("w:0", 1)
    drover.wait_log(r"warn .*cannot write dumpfile .*: it exists and is not a regular file, which drover "
                    r"never replaces; retrying every 1 s")
    assert drover.proc.poll() is None
    assert drover.stop() == 0


def test_fifo_dumpfile_does_not_block_start_up(drover):
    """B13: opening a FIFO with no writer used to hang start-up, deaf to SIGTERM."""
    dump = drover.path("dump.json")
    os.mkfifo(dump, 0o600)
    drover.start(pool(drover, instances=1), args=["--dumpfile", dump])
    drover.wait_log(r"warn .*dumpfile .*dump\.json is not a regular file \(a FIFO\): not trusting it; "
                    r"recovering from the process table only")
    drover.wait_spawns("w:0", 1)
    # Nor is the FIFO replaced: drover writes a dumpfile only where nothing or a file was.
    drover.wait_log(r"cannot write dumpfile .*dump\.json: it exists and is not a regular file, which "
                    r"drover never replaces; retrying every 1 s")
    assert drover.stop() == 0
    assert stat.S_ISFIFO(os.lstat(dump).st_mode)


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod of a device node needs root")
def test_device_dumpfile_is_not_a_regular_file(drover):
    """B22: a device (here /dev/zero's numbers) is "not a regular file", not "empty"."""
    dump = drover.path("dump.json")
    os.mknod(dump, 0o600 | stat.S_IFCHR, os.makedev(1, 5))
    drover.start(pool(drover, instances=1), args=["--dumpfile", dump])
    drover.wait_log(r"warn .*dumpfile .*dump\.json is not a regular file \(a character device\): not trusting it")
    assert not drover.lines(r"empty file")
    drover.wait_spawns("w:0", 1)
    drover.wait_log(r"cannot write dumpfile .*dump\.json: it exists and is not a regular file")
    assert drover.stop() == 0
    assert stat.S_ISCHR(os.lstat(dump).st_mode)  # as root, --dumpfile /dev/zero once replaced it


def forged_dump(victim_pid):
    """A version-1 checkpoint of a dead drover naming victim_pid with its real start time."""
    with open(f"/proc/{victim_pid}/stat") as f:
        start = int(f.read().rsplit(")", 1)[1].split()[19])
    dead = subprocess.Popen(["true"])
    dead.wait()
    return json.dumps({
        "format": "drover-checkpoint", "version": 1, "drover": {"pid": dead.pid, "start_time": 1},
        "instances": [{"program": "w", "instance": 0, "pid": victim_pid, "pgid": victim_pid,
                       "start_time": start, "port": None, "argv": []}]})


@pytest.mark.parametrize("how", ["mode 0666", "mode 0620", "uid 65534", "symlink"])
def test_dumpfile_others_could_write_is_not_trusted(drover, how):
    """Whoever can write the dumpfile picks what drover stops: only a regular file of drover's uid
    that group and others cannot write is read. The bystander it names is never touched."""
    if how == "uid 65534" and os.geteuid() != 0:
        pytest.skip("chown to another uid needs root")
    bystander = subprocess.Popen([helper("sleeper")], start_new_session=True)
    try:
        dump = drover.path("dump.json")
        target = drover.path("real.json") if how == "symlink" else dump
        Path(target).write_text(forged_dump(bystander.pid))
        os.chmod(target, 0o600)
        expected = {
            "mode 0666": r"is writable by group/others \(mode 0666\)",
            "mode 0620": r"is writable by group/others \(mode 0620\)",
            "uid 65534": rf"is owned by uid 65534, not by drover's uid {os.geteuid()}",
            "symlink": r"is a symbolic link",
        }[how]
        if how.startswith("mode"):
            os.chmod(dump, int(how.split()[1], 8))
        elif how == "uid 65534":
            os.chown(dump, 65534, 65534)
        else:
            os.symlink(target, dump)
        before = Path(target).read_bytes()
        drover.start({"programs": [{"name": "w", "command": [helper("sleeper")]}]}, args=["--dumpfile", dump])
        drover.wait_log(rf"warn .*dumpfile .*dump\.json {expected}: not trusting it; "
                        r"recovering from the process table only")
        drover.wait_spawns("w:0", 1)
        assert not drover.lines(r"stopping pid")
        assert bystander.poll() is None
        if how == "symlink":  # neither followed nor replaced
            drover.wait_log(r"cannot write dumpfile .*dump\.json: it exists and is not a regular file")
            assert os.path.islink(dump) and Path(target).read_bytes() == before
        else:
            wait_until(lambda: read_dump(dump)["drover"]["pid"] == drover.proc.pid, what="a fresh dumpfile")
            assert stat.S_ISREG(os.lstat(dump).st_mode)
        assert drover.stop() == 0
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_write_failure_keeps_supervising_and_the_old_file(drover):
    home, away = drover.dir / "d", drover.dir / "d.away"
    home.mkdir()
    dump = str(home / "dump.json")
    drover.start(pool(drover, instances=1), args=["--dumpfile", dump, "--checkpoint-interval", "200ms"])
    drover.wait_spawns("w:0", 1)
    wait_until(lambda: len(read_dump(dump)["instances"]) == 1, what="1 instance in the dumpfile")
    home.rename(away)  # the directory is gone: no write can succeed
    drover.wait_log(r"cannot write dumpfile .*: No such file or directory, retrying every 1 s")
    intact = read_dump(away / "dump.json")
    pid = drover.current("w:0")[0]
    os.kill(pid, signal.SIGKILL)
    drover.wait_spawns("w:0", 2)  # supervision goes on
    assert read_dump(away / "dump.json") == intact
    away.rename(home)
    drover.wait_log(r"dumpfile .* written again", timeout=20)  # at the next retry, within 1 s
    wait_until(lambda: read_dump(dump)["instances"][0]["pid"] == drover.current("w:0")[0],
               what="the restarted w:0's pid in the dumpfile")
    assert drover.stop() == 0


def test_symlink_at_the_temporary_name_is_not_followed(drover):
    """B3: PATH.tmp used to be opened O_CREAT|O_TRUNC, following a link planted there."""
    victim = drover.path("victim")
    Path(victim).write_text("precious data\n")
    dump = drover.path("dump.json")
    os.symlink(victim, dump + ".tmp")
    drover.start(pool(drover, instances=1), args=["--dumpfile", dump])
    drover.wait_spawns("w:0", 1)
    wait_until(lambda: os.path.exists(dump) and len(read_dump(dump)["instances"]) == 1, what="the dumpfile")
    assert drover.stop() == 0
    assert read_dump(dump)["instances"] == []
    assert Path(victim).read_text() == "precious data\n"
    assert os.readlink(dump + ".tmp") == victim  # left as it was
    assert not [n for n in os.listdir(drover.dir) if n.startswith("dump.json.") and n != "dump.json.tmp"]


def test_checkpoint_is_rewritten_every_interval(drover):
    dump = drover.path("dump.json")
    drover.start(pool(drover, instances=1), args=["--dumpfile", dump, "--checkpoint-interval", "150ms"])
    first = wait_until(lambda: os.path.exists(dump) and read_dump(dump)["instances"] and read_dump(dump)["written_at"],
                       what="a first dumpfile with the instance")
    seen = {first}
    wait_until(lambda: seen.add(read_dump(dump)["written_at"]) or len(seen) >= 3, timeout=10,
               what="two more periodic writes")
    assert drover.stop() == 0


def test_kill9_at_random_moments_during_churn(drover):
    """50 crashes of drover while instances restart constantly: the dumpfile always
    parses and after each recovery no process of an older generation is left."""
    dump = drover.path("dump.json")
    config = {"programs": [
        {"name": "churn", "command": [helper("exit_with"), "--after-ms", "15", "0"], "instances": 4,
         "start_seconds": 0, "backoff": {"initial": 0, "max": 0}, "yoyo": False},
        {"name": "steady", "command": [helper("sleeper"), "--grandchild", drover.path("gc-{{instance}}.pid")],
         "instances": 2},
    ]}
    rng = random.Random(1234)
    for round_ in range(50):
        drover.start(config, args=["--dumpfile", dump])
        drover.wait_log(r"steady:1 pid=\d+ spawned", count=round_ + 1, timeout=20)
        time.sleep(rng.uniform(0, 0.15))  # the random moment of the crash, not a synchronisation
        drover.kill9()
        if os.path.exists(dump):
            data = read_dump(dump)  # must always parse
            assert data["format"] == "drover-checkpoint"
    drover.start(config, args=["--dumpfile", dump])
    drover.wait_log(r"steady:1 pid=\d+ spawned", count=51, timeout=20)
    generations = set(marked_processes(dump).values())
    assert len(generations) == 1, generations  # only the current drover's
    assert drover.stop() == 0
    wait_until(lambda: not marked_processes(dump), what="no marked process left")


def test_adopted_workers_keep_beating_through_shared_memory(drover):
    """After --adopt, the new drover reopens the old heartbeat slots, so adopted workers
    that beat only through shared memory are not taken for silent."""
    q = drover.dir / "q"
    q.mkdir()
    dump = drover.path("dump.json")
    config = {"programs": [{"name": "b", "instances": 2, "ready": "notify",
                            "command": [str(REPO / "bin" / "queue_worker"), "--queue", str(q), "--poll-ms", "20"],
                            # a beat every 20 ms: load cannot make them silent for 1 s
                            "heartbeat": {"timeout": "1s"},
                            # An exited adopted leader is a zombie of init's, not ours: the stop must
                            # not wait for this timeout (stop() below gives up after 20 s).
                            "stop_timeout": "60s"}]}
    drover.start(config, args=["--dumpfile", dump])
    drover.wait_log(r"b:1 .*-> running \(READY=1\)")
    wait_until(lambda: len(read_dump(dump)["instances"]) == 2, what="2 instances in the dumpfile")
    pids = {e["pid"] for e in read_dump(dump)["instances"]}
    drover.kill9()
    drover.start(config, args=["--dumpfile", dump, "--adopt"])
    drover.wait_log(r"b: adopted the earlier drover's heartbeat slots")
    drover.wait_log(r"adopted 2 instances")
    time.sleep(3)  # three heartbeat timeouts in which a false silence would show; not a sync
    assert not drover.lines(r"b:\d .*silent for")
    assert all(pid_alive(p) for p in pids) and len(drover.spawns()) == 2  # the first drover's two only
    assert drover.stop() == 0


@contextlib.contextmanager
def squatted(what, port, notify_name):
    """Holds the HTTP port or the notify socket's name, so that binding it fails."""
    if what == "http":
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen()
        try:
            yield "cannot serve HTTP on 127.0.0.1:%d" % port
        finally:
            s.close()
    elif notify_name.startswith("@"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind("\0" + notify_name[1:])
        try:
            yield "cannot bind the notify socket " + notify_name
        finally:
            s.close()
    else:
        # A path: a non-empty directory there is something no bind can replace.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(notify_name)
        os.makedirs(os.path.join(notify_name, "squatted"))
        try:
            yield "cannot bind the notify socket " + notify_name
        finally:
            shutil.rmtree(notify_name)


@pytest.mark.parametrize("adopt", [False, True], ids=["stop", "adopt"])
@pytest.mark.parametrize("taken", ["http", "notify"])
def test_start_up_failure_after_a_crash_touches_no_survivor(drover, taken, adopt):
    """B7: a start-up step that failed after recovery (HTTP port or notify socket taken) used to
    exit 1 only after the survivors were stopped, or adopted and then SIGKILLed. Now everything
    that can fail comes first: exit 1 with every survivor running and the dumpfile unchanged,
    and the next drover still recovers the pool."""
    dump = drover.path("dump.json")
    port = free_port()
    args = ["--dumpfile", dump, "--http", f"127.0.0.1:{port}", "-v"]
    drover.start(pool(drover), args=args)
    drover.wait_spawns("w:2", 1)
    wait_until(lambda: all(os.path.exists(drover.path(f"gc-{i}.pid")) for i in range(3)),
               what="the 3 grandchildren's pid files")
    wait_until(lambda: len(read_dump(dump)["instances"]) == 3, what="3 instances in the dumpfile")
    notify_name = drover.wait_log(r"notify socket (\S+)$")[0][1]
    old = marked_processes(dump)
    assert len(old) == 6  # three instances, each with a grandchild
    drover.kill9()
    before = Path(dump).read_bytes()
    again = args + (["--adopt"] if adopt else [])
    with squatted(taken, port, notify_name) as error:
        r = subprocess.run([DROVER_BIN, "--config", str(drover.write_config(pool(drover), "c2.json")), *again],
                           capture_output=True, text=True, timeout=60, env=drover.env, cwd=drover.dir,
                           stdin=subprocess.DEVNULL)
        assert r.returncode == 1, r.stderr
        assert error in r.stderr
        assert "stopping pid" not in r.stderr and "adopted" not in r.stderr and "spawned" not in r.stderr
        assert all(pid_alive(p) for p in old), r.stderr
        assert Path(dump).read_bytes() == before

    drover.start(pool(drover), args=again)  # nothing was lost: the next drover recovers the pool
    if adopt:
        drover.wait_log(r"adopted 3 instances")
        assert all(pid_alive(p) for p in old)
    else:
        drover.wait_log(r"stopped 6 processes left by an earlier drover")
        assert not any(pid_alive(p) for p in old)
    assert drover.stop() == 0


def test_a_group_member_that_ignores_term_gets_the_kill(drover):
    """After kill -9 of drover, a survivor's group member that ignores SIGTERM is killed once the
    stop timeout passes, even though its leader went at the TERM (the KILL round once skipped it
    as "reached through the group", by a flag left over from the TERM round)."""
    dump = drover.path("dump.json")
    stubborn = drover.path("stubborn.pid")
    config = {"programs": [{"name": "g", "stop_timeout": "1s", "command": [
        "/bin/sh", "-c", f"(trap '' TERM; echo $(exec sh -c 'echo $PPID') > {stubborn}; "
                         f"exec {helper('sleeper')} --ignore-term) & exec {helper('sleeper')}"]}]}
    drover.start(config, args=["--dumpfile", dump])
    member = read_pid(stubborn)
    os.unlink(stubborn)  # the next instance's member writes it again, once it ignores TERM
    wait_until(lambda: member in marked_processes(dump) and len(read_dump(dump)["instances"]) == 1,
               what="the group member running and the leader on record")
    drover.kill9()
    drover.start(config, args=["--dumpfile", dump])
    drover.wait_log(r"stopped 2 processes left by an earlier drover", timeout=30)
    assert not drover.lines(r"did not die within"), drover.log()
    assert not pid_alive(member)
    read_pid(stubborn)
    # The new instance's member ignores TERM too: a SIGKILL after stop_timeout, not a clean stop.
    assert drover.stop() == 4


def test_a_worker_that_changed_its_uid_is_stopped_not_left_running(drover):
    """A worker that drops privileges (setpriv, gosu) runs as another uid than drover's. Its
    record in the dumpfile is drover's own word that drover spawned it: the next drover stops it
    (with --adopt too: it adopts nothing it could not have started), never leaves it running
    beside a fresh one."""
    if os.geteuid() != 0:
        pytest.skip("dropping to uid 65534 needs root")
    setpriv = shutil.which("setpriv")
    if not setpriv:
        pytest.skip("setpriv (util-linux) is not installed")
    dump = drover.path("dump.json")
    config = {"programs": [{"name": "u", "command": [
        setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", helper("sleeper")]}]}
    for args in (["--dumpfile", dump], ["--dumpfile", dump, "--adopt"]):
        drover.start(config, args=["--dumpfile", dump])
        drover.wait_spawns("u:0", len(drover.spawns("u:0")) + 1)
        old = drover.current("u:0")[0]
        wait_until(lambda: [e["pid"] for e in read_dump(dump)["instances"]] == [old],
                   what="the worker on record")
        with open(f"/proc/{old}/status") as f:
            assert "Uid:\t65534" in f.read()
        drover.kill9()
        drover.start(config, args=args)
        if "--adopt" in args:
            drover.wait_log(rf"pid {old} \(u:0\) runs as uid 65534 now, not as uid 0, which its "
                            r"program starts as \(it changed its uid, or the program's user "
                            r"changed\): stopping it rather than adopting it")
        wait_until(lambda: not pid_alive(old), what=f"the old worker (pid {old}, uid 65534) stopped")
        drover.wait_spawns("u:0", len(drover.spawns("u:0")) + 0)
        assert drover.stop() == 0


def test_a_record_of_an_older_generation_is_left_to_the_sweep(drover):
    """A version-1 dumpfile names an instance its drover had adopted: that process carries the
    generation of the drover before. Not this record's process, so the sweep judges it (ours by
    uid and marker, not in the dumpfile as such): stopped, never left beside a duplicate."""
    dump = drover.path("dump.json")
    config = {"programs": [{"name": "w", "command": [helper("sleeper")]}]}
    drover.start(config, args=["--dumpfile", dump])
    drover.wait_spawns("w:0", 1)
    pid = drover.current("w:0")[0]
    wait_until(lambda: [e["pid"] for e in read_dump(dump)["instances"]] == [pid], what="w:0 on record")
    data = read_dump(dump)
    drover.kill9()
    # What the adopting drover of the old format would have written: its own generation only.
    data["version"] = 1
    data["drover"] = {"pid": 999999, "start_time": 1}
    for e in data["instances"]:
        del e["generation"]
    fd = os.open(dump, os.O_WRONLY | os.O_TRUNC)
    os.write(fd, json.dumps(data).encode())
    os.close(fd)
    drover.start(config, args=["--dumpfile", dump, "--adopt"])
    drover.wait_log(rf"w:0 pid {pid} does not carry this dumpfile's DROVER_DUMPFILE and "
                    r"DROVER_GENERATION=999999\.1: not this record's process; the process-table sweep decides")
    drover.wait_log(rf"pid {pid} \(w:0\) is not in the dumpfile: stopping it rather than adopting it")
    wait_until(lambda: not pid_alive(pid), what=f"the older generation's w:0 (pid {pid}) stopped")
    drover.wait_spawns("w:0", 2)
    assert drover.stop() == 0

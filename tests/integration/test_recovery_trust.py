"""Recovery trusts no file and no process: a dumpfile record or a process in the
table is only stopped or adopted when it is drover's own (uid, marker,
generation, pid and group > 1). B1's test forges a record for pid 1 and runs
only inside a new pid namespace (`unshare --pid --fork --mount-proc`)."""
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import DROVER_BIN, SANITIZER_REPORT, helper, pid_alive, wait_until
from ns_recovery_init import DECOY

NS_INIT = str(Path(__file__).with_name("ns_recovery_init.py"))


def unshare_refusal():
    """Why a new pid namespace cannot be made here, or None when it can."""
    try:
        r = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "--kill-child", "true"],
                           capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        return "unshare(1) is not installed"
    return None if r.returncode == 0 else f"unshare --pid is not permitted here: {r.stderr.strip()}"


def test_forged_records_for_pid_1_and_strangers_are_never_signalled(tmp_path):
    """B1: a record of pid 1 / group 1 with pid 1's real start time used to become kill(-1, TERM),
    then kill(-1, KILL). Nor may a record of a process of ours without the marker, or a process
    of uid 65534 with a forged marker that the sweep finds, be signalled. Each refusal says why."""
    why = unshare_refusal()
    if why:
        pytest.skip(why)
    if os.geteuid() != 0:
        pytest.skip("the uid-65534 decoy needs root")
    # --kill-child: if this test times out and kills unshare, the namespace's pid 1 dies, and
    # with it everything in the namespace.
    r = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "--kill-child",
                        sys.executable, NS_INIT, DROVER_BIN, helper("sleeper"), str(tmp_path)],
                       capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL)
    log = (tmp_path / "drover.log").read_text() if (tmp_path / "drover.log").exists() else ""
    assert r.returncode == 0, f"namespace init failed:\n{r.stderr}\ndrover's log:\n{log}"
    result = json.loads(r.stdout.strip().splitlines()[-1])
    plain, nobody = result["pids"]["plain"], result["pids"]["nobody"]
    assert result["signals"] == [], f"signalled: {result['signals']}; drover's log:\n{log}"
    assert result["alive"] == {"plain": True, "nobody": True}, log
    assert result["rc"] == 0, log
    assert re.search(r"warn .*s:0: the dumpfile names pid 1, process group 1: drover never signals a "
                     r"pid or process group <= 1", log), log
    assert re.search(rf"info .*s:1 pid {plain} does not carry this dumpfile's DROVER_DUMPFILE and "
                     r"DROVER_GENERATION=999999\.1: not this record's process; the process-table sweep "
                     r"decides", log), log
    assert re.search(rf"warn .*pid {nobody} carries this dumpfile's marker but runs as uid 65534, "
                     r"neither drover's uid 0 nor a configured user's: not ours, leaving it alone",
                     log), log
    assert "stopping pid" not in log
    assert not SANITIZER_REPORT.search(log), log


def test_adopted_twice_across_two_crashes(drover):
    """An instance adopted across two crashes carries the first drover's generation; the record
    of the second says so, and the third drover adopts it again."""
    dump = drover.path("dump.json")
    config = {"programs": [{"name": "w", "command": [helper("sleeper")], "instances": 2}]}

    def records():
        with open(dump) as f:
            return json.load(f)

    drover.start(config, args=["--dumpfile", dump])
    drover.wait_spawns("w:1", 1)
    wait_until(lambda: len(records()["instances"]) == 2, what="two records")
    first = "{pid}.{start_time}".format(**records()["drover"])
    pids = {e["pid"] for e in records()["instances"]}
    for round_ in (1, 2):
        drover.kill9()
        drover.start(config, args=["--dumpfile", dump, "--adopt"])
        drover.wait_log(r"adopted 2 instances", count=round_)
        wait_until(lambda: records()["drover"]["pid"] == drover.proc.pid, what="the adopting drover's dumpfile")
        assert {e["pid"] for e in records()["instances"]} == pids
        assert {e["generation"] for e in records()["instances"]} == {first}
    assert not drover.lines(r"stopping pid|leaving it alone")
    assert len(drover.spawns()) == 2  # the first drover's: nothing was restarted
    assert drover.stop() == 0
    assert not any(pid_alive(p) for p in pids)


def as_nobody():
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)


@pytest.mark.parametrize("claimant,slot", [("uid 65534", "s:0"), ("drover's uid", "q:0")])
def test_forged_claimant_is_not_adopted_in_place_of_the_worker(drover, claimant, slot):
    """B2: a process with forged DROVER_* variables, started before the worker of the slot it
    claims, used to be adopted in its place (the worker was stopped), with the port it named.
    Of another uid it is not ours: never adopted, never signalled. Of drover's uid it is ours
    by uid and marker but the dumpfile does not name it: stopped, not adopted. Either way the
    real worker is adopted, with the port from the dumpfile."""
    if claimant == "uid 65534" and os.geteuid() != 0:
        pytest.skip("switching to uid 65534 needs root")
    dump = drover.path("dump.json")
    config = {"port_range": "19710-19719", "programs": [
        {"name": "s", "command": [helper("sleeper")], "env": {"PORT": "{{port}}"}, "instances": 2},
        {"name": "q", "command": [helper("sleeper")], "stop_timeout": "1s"},  # the decoy ignores TERM
    ]}
    drover.start(config, args=["--dumpfile", dump])
    drover.wait_spawns("q:0", 1)
    drover.wait_spawns("s:1", 1)
    program, instance = slot.split(":")
    fd = os.open(drover.path("signals"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    env = {"DECOY_FD": str(fd), "PATH": "/usr/bin:/bin", "DROVER_DUMPFILE": dump, "DROVER_GENERATION": "1.1",
           "DROVER_PROGRAM": program, "DROVER_INSTANCE": instance}
    if program == "s":
        env["DROVER_PORT"] = "19715"  # the port it would have had reserved
    decoy = subprocess.Popen([sys.executable, "-c", DECOY], env=env, pass_fds=[fd], start_new_session=True,
                             cwd="/", preexec_fn=as_nobody if claimant == "uid 65534" else None)
    try:
        signals = Path(drover.path("signals"))
        wait_until(lambda: "ready" in signals.read_text(), what="the decoy's handlers")
        assert drover.cli("restart", slot).returncode == 0  # the worker now started after the decoy
        drover.wait_spawns(slot, 2)
        worker, port = drover.current(slot)
        wait_until(lambda: any(e["pid"] == worker for e in json.loads(Path(dump).read_text())["instances"]),
                   what="the restarted worker on record")
        drover.kill9()

        drover.start(config, args=["--dumpfile", dump, "--adopt"])
        drover.wait_log(r"adopted 3 instances")
        drover.wait_log(rf"{slot} pid={worker}{f' port={port}' if port else ''} adopted from an earlier drover")
        if claimant == "uid 65534":
            drover.wait_log(rf"warn .*pid {decoy.pid} carries this dumpfile's marker but runs as uid 65534, "
                            rf"neither drover's uid 0 nor a configured user's: not ours, leaving it alone")
        else:
            drover.wait_log(rf"pid {decoy.pid} \({slot}\) is not in the dumpfile: stopping it rather than "
                            r"adopting it")
            wait_until(lambda: decoy.poll() is not None, what="the decoy of drover's uid stopped")
        assert not drover.lines(rf"pid={decoy.pid}")  # never an instance
        assert pid_alive(worker)
        assert drover.stop() == 0
        got = [line for line in signals.read_text().splitlines() if "ready" not in line]
        if claimant == "uid 65534":
            assert got == [] and decoy.poll() is None
        else:
            assert got == [f"{decoy.pid} got {int(signal.SIGTERM)}"]
    finally:
        decoy.kill()
        decoy.wait()
        os.close(fd)

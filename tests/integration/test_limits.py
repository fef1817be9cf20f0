"""Resource limits (issue 13, item 3, first part): `rlimits` set in the child before exec,
seen in /proc/PID/limits; a value above drover's own hard limit refused at config check;
a change of `rlimits` restarts the program (a reload rolls it)."""
import os
import shutil
import subprocess

from conftest import DROVER_BIN, helper, wait_until


def limits_of(pid):
    """{"Max open files": ("soft", "hard"), ...} from /proc/PID/limits."""
    out = {}
    with open(f"/proc/{pid}/limits") as f:
        next(f)
        for line in f:
            name, rest = line[:26].strip(), line[26:].split()
            out[name] = (rest[0], rest[1])
    return out


def test_rlimits_are_set_in_the_child(drover):
    drover.start({"programs": [{"name": "w", "command": [helper("sleeper")], "start_seconds": 0,
                                "rlimits": {"nofile": 321, "core": 0, "as": "2GB", "cpu": "1h",
                                            "nproc": 77, "stack": "8M"}}]})
    pid = drover.wait_spawns("w:0", 1)[0][1]
    lim = limits_of(pid)
    assert lim["Max open files"] == ("321", "321"), lim
    assert lim["Max core file size"] == ("0", "0"), lim
    assert lim["Max address space"] == (str(2 << 30), str(2 << 30)), lim
    assert lim["Max cpu time"] == ("3600", "3600"), lim
    assert lim["Max processes"] == ("77", "77"), lim
    assert lim["Max stack size"] == (str(8 << 20), str(8 << 20)), lim
    assert drover.stop() == 0


def test_umask_and_nice_are_set_in_the_child(drover):
    drover.start({"programs": [
        {"name": "w", "command": [helper("sleeper")], "start_seconds": 0, "umask": "027", "nice": 7},
        {"name": "plain", "command": [helper("sleeper")], "start_seconds": 0},
    ]})
    pid = drover.wait_spawns("w:0", 1)[0][1]
    plain = drover.wait_spawns("plain:0", 1)[0][1]
    status = open(f"/proc/{pid}/status").read()
    assert "Umask:\t0027\n" in status, status
    assert open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[16] == "7"  # field 19: nice
    # Without the keys: drover's own, inherited.
    assert open(f"/proc/{plain}/stat").read().rsplit(")", 1)[1].split()[16] == str(os.nice(0))
    assert drover.stop() == 0


def test_a_limit_above_drovers_hard_limit_is_refused(drover):
    if not shutil.which("prlimit"):
        raise AssertionError("prlimit (util-linux) is missing")
    cfg = drover.write_config({"programs": [{"name": "w", "command": ["x"],
                                             "rlimits": {"nofile": 1000}}]})
    r = subprocess.run(["prlimit", "--nofile=512:900", DROVER_BIN, "--check-config", "--config", str(cfg)],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2, r
    assert ('program "w": rlimits.nofile is 1000, above the hard limit drover runs with (900): '
            "a child cannot raise it") in r.stderr, r.stderr
    r = subprocess.run(["prlimit", "--nofile=512:1000", DROVER_BIN, "--check-config", "--config", str(cfg)],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr


def test_a_reload_that_changes_rlimits_rolls_the_program(drover):
    cfg = {"programs": [{"name": "w", "command": [helper("sleeper")], "start_seconds": 0,
                         "rlimits": {"nofile": 300}}]}
    drover.start(cfg)
    old = drover.wait_spawns("w:0", 1)[0][1]
    cfg["programs"][0]["rlimits"] = {"nofile": 400}
    r = drover.cli("apply", str(drover.write_config(cfg, "new.json")))
    assert r.returncode == 0 and '"w": rolling restart' in r.stdout and "rlimits" in r.stdout, r.stdout
    new = drover.wait_spawns("w:0", 2)[-1][1]
    assert new != old
    wait_until(lambda: limits_of(new)["Max open files"] == ("400", "400"), 10,
               what="the new process's nofile limit")
    assert drover.stop() == 0

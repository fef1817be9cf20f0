"""Restart policy, backoff, yo-yo, exit/signal reporting and spawn failures."""
import os
import signal
import time

from conftest import helper, pid_alive, wait_until


def count_lines(path):
    try:
        with open(path) as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0


def test_restart_never_leaves_instance_exited(drover):
    # start_seconds 1m: the exit is a quick one (from starting) however slow the machine.
    drover.start({"programs": [{"name": "once", "command": [helper("exit_with"), "1"], "restart": "never",
                                "start_seconds": "1m"}]})
    drover.wait_log(r"once:0 pid=\d+ exited with code 1 after")
    drover.wait_log(r"once:0 starting -> exited \(restart policy says no\)")
    assert len(drover.spawns("once:0")) == 1
    assert drover.stop() == 0


def test_restart_on_failure_distinguishes_code_zero(drover):
    drover.start({"programs": [
        {"name": "ok", "command": [helper("exit_with"), "0"], "restart": "on-failure", "start_seconds": "1m"},
        {"name": "bad", "command": [helper("exit_with"), "--after-ms", "20", "4"], "restart": "on-failure",
         "backoff": {"initial": "10ms", "max": "10ms"}, "yoyo": {"restarts": 2, "window": "1m"}},
    ]})
    drover.wait_log(r"ok:0 starting -> exited")
    drover.wait_log(r"bad:0 .*-> fatal \(yo-yo")
    assert len(drover.spawns("ok:0")) == 1
    assert len(drover.spawns("bad:0")) == 3
    assert drover.stop() == 4  # a program is fatal: not a clean stop


def test_success_and_fatal_exit_codes(drover):
    drover.start({"programs": [
        # 3 counts as success for on-failure: exited, not restarted.
        {"name": "done", "command": [helper("exit_with"), "3"], "restart": "on-failure",
         "success_exit_codes": [0, 3], "start_seconds": "1m"},
        # 0 is no longer a success once the list does not name it: restarted, until yo-yo.
        {"name": "zero", "command": [helper("exit_with"), "--after-ms", "20", "0"], "restart": "on-failure",
         "success_exit_codes": [3], "backoff": {"initial": "10ms", "max": "10ms"},
         "yoyo": {"restarts": 1, "window": "1m"}},
        # 2 means misconfigured: fatal at once with the code in the reason, no restart loop.
        {"name": "misconf", "command": [helper("exit_with"), "2"], "fatal_exit_codes": [2, 3, 7]},
    ]})
    drover.wait_log(r"done:0 starting -> exited \(restart policy says no\)")
    drover.wait_log(r"misconf:0 starting -> fatal \(exit code 2 is a fatal exit code; not restarting until asked\)")
    drover.wait_log(r"zero:0 .*-> fatal \(yo-yo")
    assert len(drover.spawns("done:0")) == 1
    assert len(drover.spawns("misconf:0")) == 1
    assert len(drover.spawns("zero:0")) == 2
    # A success code is an info line; an exit the policy counts as a failure, a warning.
    assert drover.lines(r"info  done:0 pid=\d+ exited with code 3") and drover.lines(r"warn  zero:0 pid=\d+ exited with code 0")
    assert drover.stop() == 4  # a program is fatal: not a clean stop


def test_back_to_back_quick_exits_back_off_exponentially(drover):
    count = drover.path("count")
    # start_seconds 2 s: each of the four crashers (an exec and a write, milliseconds) exits
    # well inside it, so each exit is a quick one however slow the machine; the fifth stays.
    drover.start({"programs": [{
        "name": "flaky",
        "command": [helper("crasher"), "--count-file", count, "--ok-after", "5"],
        "start_seconds": "2s",
        "backoff": {"initial": "50ms", "max": "150ms"},
        "yoyo": False,
    }]})
    # four quick exits and their backoffs (0.3 s), then start_seconds (2 s)
    drover.wait_log(r"flaky:0 .*starting -> running", timeout=60)
    # 1st quick exit restarts at once; then 50ms, 100ms, capped at 150ms.
    delays = [m[1] for m in drover.lines(r"flaky:0 starting -> backoff \(.*; retry in (\S+)\)")]
    assert delays == ["0.050s", "0.100s", "0.150s"]
    assert len(drover.lines(r"flaky:0 .*starting -> starting \(exited before start_seconds, restarting at once\)")) == 1
    assert count_lines(count) == 5
    # A stable run resets the sequence: the next quick exit restarts at once again.
    assert drover.stop() == 0


def test_crash_loop_goes_fatal_with_bounded_spawns(drover):
    count = drover.path("count")
    drover.start({"programs": [
        {"name": "loop", "command": [helper("crasher"), "--count-file", count], "start_seconds": "1m",
         "backoff": {"initial": "10ms", "max": "40ms"}, "yoyo": {"restarts": 4, "window": "30s"}},
        {"name": "steady", "command": [helper("sleeper")]},
    ]})
    drover.wait_log(r"loop:0 starting -> fatal \(yo-yo: more than 4 restarts within 30\.000s; not restarting until asked\)")
    assert count_lines(count) == 5  # the first start and 4 restarts
    # Fatal means no more spawns, and the other program is unaffected.
    time.sleep(0.3)  # a window in which a wrong restart would show; not a synchronisation
    assert count_lines(count) == 5
    assert len(drover.lines(r"loop:0 .*-> fatal")) == 1
    pid, _ = drover.current("steady:0")
    assert pid_alive(pid)
    assert drover.stop() == 4  # a program is fatal: not a clean stop


def test_exit_codes_are_reported_for_every_value(drover):
    drover.start({"programs": [{"name": "code", "command": [helper("exit_with"), "{{instance}}"],
                                "instances": 256, "restart": "never"}]})
    # 256 spawns and exits: about 1.5 s under ASan with both cores busy
    matches = drover.wait_log(r"code:(\d+) pid=\d+ exited with code (\d+) after", count=256, timeout=60)
    assert sorted((int(m[1]), int(m[2])) for m in matches) == [(i, i) for i in range(256)]
    assert drover.stop() == 0


TERMINATING = {1: "HUP", 2: "INT", 3: "QUIT", 4: "ILL", 5: "TRAP", 6: "ABRT", 7: "BUS", 8: "FPE",
               9: "KILL", 10: "USR1", 11: "SEGV", 12: "USR2", 13: "PIPE", 14: "ALRM", 15: "TERM",
               16: "STKFLT", 24: "XCPU", 25: "XFSZ", 26: "VTALRM", 27: "PROF", 29: "IO", 30: "PWR",
               31: "SYS"}


def test_signals_are_reported_by_name(drover):
    programs = [{"name": f"sig{n}", "command": [helper("exit_with"), "--signal", str(n)], "restart": "never"}
                for n in TERMINATING]
    # Signals whose default action is to ignore: the process survives raise() and exits 125.
    programs += [{"name": f"sig{n}", "command": [helper("exit_with"), "--signal", str(n)], "restart": "never"}
                 for n in (17, 23, 28)]
    drover.start({"programs": programs})
    for n, name in TERMINATING.items():
        drover.wait_log(rf"sig{n}:0 pid=\d+ killed by signal {name}( \(core dumped\))? after")
    for n in (17, 23, 28):
        drover.wait_log(rf"sig{n}:0 pid=\d+ exited with code 125 after")
    assert drover.stop() == 0


def test_missing_program_is_fatal_and_others_keep_running(drover):
    drover.start({"programs": [
        {"name": "missing", "command": ["./no-such-program"]},
        {"name": "nopath", "command": ["no-such-program-in-path-xyz"]},
        {"name": "steady", "command": [helper("sleeper")]},
    ]})
    drover.wait_log(r'missing:0 cannot execute "\./no-such-program": No such file or directory')
    drover.wait_log(r"missing:0 stopped -> fatal \(spawn failed; not restarting until asked\)")
    drover.wait_log(r'nopath:0 cannot find "no-such-program-in-path-xyz" in PATH')
    drover.wait_log(r"nopath:0 stopped -> fatal")
    # An exec failure is an error, never a fake "exited with code 127".
    assert not drover.lines(r"missing:0 .*exited with code 127")
    drover.wait_spawns("steady:0", 1)  # spawned after the failing ones: wait for it, do not assume it
    assert pid_alive(drover.current("steady:0")[0])
    assert drover.stop() == 4  # a program is fatal: not a clean stop


def test_non_executable_program_is_fatal(drover):
    script = drover.dir / "script.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    os.chmod(script, 0o644)
    drover.start({"programs": [{"name": "noexec", "command": [str(script)]}]})
    drover.wait_log(r'noexec:0 cannot execute ".*script\.sh": Permission denied')
    drover.wait_log(r"noexec:0 stopped -> fatal")
    assert drover.stop() == 4  # a program is fatal: not a clean stop


def test_unopenable_output_file_is_fatal(drover):
    drover.start({"programs": [
        {"name": "w", "command": [helper("sleeper")], "output": "no-such-dir/out.log"},
        {"name": "r", "command": [helper("sleeper")], "input": "missing-input.txt"},
        {"name": "steady", "command": [helper("sleeper")]},
    ]})
    drover.wait_log(r'w:0 cannot open output file ".*no-such-dir/out\.log": No such file or directory')
    drover.wait_log(r'r:0 cannot open input file ".*missing-input\.txt": No such file or directory')
    drover.wait_log(r"w:0 stopped -> fatal")
    drover.wait_log(r"r:0 stopped -> fatal")
    drover.wait_spawns("steady:0", 1)  # spawned after the failing ones: wait for it, do not assume it
    assert pid_alive(drover.current("steady:0")[0])
    assert drover.stop() == 4  # a program is fatal: not a clean stop


def test_crashed_instance_leftovers_are_killed(drover):
    """The rest of a dead instance's process group is killed before the restart."""
    gc = drover.path("gc.pid")
    drover.start({"programs": [{"name": "parent", "command": [helper("sleeper"), "--grandchild", gc],
                                "start_seconds": 0}]})
    drover.wait_spawns("parent:0", 1)
    gpid = int(wait_until(lambda: os.path.exists(gc) and open(gc).read().strip(), what="grandchild pid"))
    os.kill(drover.current("parent:0")[0], signal.SIGKILL)
    drover.wait_spawns("parent:0", 2)
    wait_until(lambda: not pid_alive(gpid), what="grandchild of the dead instance to be killed")
    assert drover.stop() == 0


def test_never_ran_has_no_last_exit(drover):
    """FINDINGS B20: an instance that never ran has no last exit (null, CLI "-");
    "unknown" is only for an adopted process whose exit drover could not see."""
    script = drover.dir / "script.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    os.chmod(script, 0o644)
    drover.start({"programs": [
        {"name": "nocwd", "command": ["/bin/true"], "cwd": str(drover.dir / "no-such-dir")},
        {"name": "noexec", "command": [str(script)]},
        {"name": "nofile", "command": [helper("sleeper")], "input": "missing-input.txt"},
        {"name": "ran", "command": [helper("exit_with"), "3"], "restart": "never"},
    ]})
    for name in ("nocwd", "noexec", "nofile"):
        drover.wait_log(rf"{name}:0 stopped -> fatal \(spawn failed")
    drover.wait_log(r"ran:0 starting -> exited")
    status, body, _ = drover.call("GET", "/status")
    assert status == 200, body
    last = {p: insts[0]["last_exit"] for p, insts in body["programs"].items()}
    assert last == {"nocwd": None, "noexec": None, "nofile": None, "ran": {"code": 3}}, body
    r = drover.cli("status")
    assert r.returncode == 0, r
    header, *rows = r.stdout.splitlines()
    col = header.index("LAST EXIT")
    cells = {row.split()[0]: row[col:].split("  ")[0].strip() for row in rows}
    assert cells == {"nocwd:0": "-", "noexec:0": "-", "nofile:0": "-", "ran:0": "exit 3"}, r.stdout
    assert drover.stop() == 4  # a program is fatal: not a clean stop

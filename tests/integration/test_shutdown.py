"""SIGTERM/SIGINT shutdown: stop signal once per group, SIGKILL after
stop_timeout, every child and grandchild reaped, exit 0, or 4 when a SIGKILL
or a stray made the stop unclean (docs/exit-codes.md)."""
import os
import signal
from datetime import timedelta

from conftest import helper, pid_alive, read_pid, stamp


def test_term_ignoring_child_and_grandchild_are_killed(drover):
    pidfile, gcfile = drover.path("p.pid"), drover.path("gc.pid")
    drover.start({"programs": [
        {"name": "stubborn",
         "command": [helper("sleeper"), "--ignore-term", "--grandchild", gcfile, "--pidfile", pidfile],
         "stop_timeout": "500ms"},
        {"name": "polite", "command": [helper("sleeper")], "instances": 3},
    ]}, args=["-v"])
    pid, gpid = read_pid(pidfile), read_pid(gcfile)
    drover.wait_spawns("polite:2", 1)
    polite = [drover.current(f"polite:{i}")[0] for i in range(3)]
    # SIGKILL after stop_timeout: not a clean stop. stop()'s bound (20 s) fails it if it hangs.
    assert drover.stop(signal.SIGTERM) == 4
    for p in [pid, gpid, *polite]:
        assert not pid_alive(p) and not os.path.exists(f"/proc/{p}")
    drover.wait_log(r"stubborn:0 .*-> stopping \(stop requested\)")
    assert drover.lines(r"stubborn:0 pid=\d+ killed by signal KILL after")
    # The KILL came once the stop timeout was over, not before: drover's own time stamps
    # (-v logs each signal sent), 2 ms below 500 for the millisecond roundings of log and timer.
    [term] = drover.lines(r"stubborn:0: sent TERM to process group")  # once per group
    kill = drover.lines(r"stubborn:0: sent KILL to process group")[0]  # again if not reaped yet
    assert stamp(kill) - stamp(term) >= timedelta(milliseconds=498), \
        f"SIGKILL {stamp(kill) - stamp(term)} after SIGTERM, before the stop_timeout of 500 ms:\n{drover.log()}"
    assert drover.lines(r"polite:\d pid=\d+ killed by signal TERM after") or \
        drover.lines(r"polite:\d pid=\d+ exited with code")
    drover.wait_log(r"all instances stopped, not cleanly \(1 SIGKILL after a stop signal")


def test_sigint_stops_everything(drover):
    drover.start({"programs": [{"name": "s", "command": [helper("sleeper")], "instances": 2}]})
    drover.wait_spawns("s:1", 1)
    pids = [drover.current(f"s:{i}")[0] for i in range(2)]
    assert drover.stop(signal.SIGINT) == 0
    assert not any(pid_alive(p) for p in pids)


def test_stop_signal_is_configurable(drover):
    drover.start({"programs": [{"name": "q", "command": [helper("sleeper")], "stop_signal": "QUIT"}]})
    drover.wait_spawns("q:0", 1)
    assert drover.stop() == 0
    drover.wait_log(r"q:0 pid=\d+ killed by signal QUIT")


def test_second_sigterm_kills_at_once(drover):
    pidfile = drover.path("p.pid")
    drover.start({"programs": [{"name": "slow", "command": [helper("sleeper"), "--ignore-term", "--pidfile", pidfile],
                                "stop_timeout": "60s"}]})
    pid = read_pid(pidfile)
    drover.send(signal.SIGTERM)
    drover.wait_log(r"slow:0 .*-> stopping")
    drover.send(signal.SIGTERM)
    # stop_timeout is 60 s: exiting within the bound (10 s, against milliseconds) is "at once"
    # A SIGKILL was needed: not a clean stop.
    assert drover.wait_exit(10, "of the second SIGTERM, which kills every group at once") == 4
    assert not pid_alive(pid)
    drover.wait_log(r"received SIGTERM again: killing every process group now")


def test_escaped_descendant_is_not_left_behind(drover):
    """A grandchild that left the instance's process group (setsid) is killed at shutdown."""
    esc = drover.path("esc.pid")
    drover.start({"programs": [{"name": "esc", "command": [
        "/bin/sh", "-c", f'setsid {helper("sleeper")} --pidfile {esc} & exec {helper("sleeper")}']}]})
    epid = read_pid(esc)
    assert os.getsid(epid) == epid  # really escaped into its own session
    assert drover.stop() == 4  # a stray was killed: not a clean stop
    assert not pid_alive(epid) and not os.path.exists(f"/proc/{epid}")


def test_graceful_child_exits_before_timeout(drover):
    pidfile = drover.path("g.pid")
    drover.start({"programs": [{"name": "g", "command": [helper("sleeper"), "--exit-on-term-after-ms", "100",
                                                        "--pidfile", pidfile],
                                "stop_timeout": "20s"}]})
    read_pid(pidfile)  # its TERM handler is installed once the pidfile exists
    assert drover.stop() == 0
    drover.wait_log(r"g:0 pid=\d+ exited with code 0 after")
    assert not drover.lines(r"g:0 .*killed by signal KILL")


def test_stop_ends_when_the_group_drains_not_at_the_timeout(drover):
    """Leader and grandchild both exit on TERM: the stop completes without waiting for stop_timeout."""
    gc = drover.path("gc.pid")
    drover.start({"programs": [{"name": "fam", "command": [helper("sleeper"), "--exit-on-term-after-ms", "50",
                                                          "--grandchild", gc],
                                "stop_timeout": "60s"}]})
    gpid = read_pid(gc)
    assert drover.stop(timeout=20) == 0  # would take 60 s if drover waited for the timeout
    assert not pid_alive(gpid)
    assert not drover.lines(r"fam:0 .*killed by signal KILL")

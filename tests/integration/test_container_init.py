"""drover as a container's init: pid 1 of a new pid namespace (`unshare --pid --fork
--mount-proc`, with a private /run as a container has). It reaps every zombie in the
namespace, its instances' reparented grandchildren and strangers alike; SIGTERM, SIGINT,
SIGHUP and SIGUSR1 do what they do outside; a signal whose default action would end drover
(dropped by the kernel for a namespace's init) ends it with 128 + the signal; and the exit
code tells a clean stop (0) from one that was not (4). Needs root (skipped otherwise).

The namespace's processes are read from the host's /proc (those whose /proc/PID/ns/pid is
drover's), so every wait polls something that must happen, never a time."""
import os
import signal
import subprocess

import pytest

from conftest import (DROVER_BIN, SANITIZER_REPORT, TEST_OWNER_ENV, Drover, helper,
                      processes_marked, wait_until)
from test_recovery_trust import unshare_refusal

WAIT_S = 30  # each wait: what it awaits takes well under a second on an idle machine

# A container's init has its own /run: drover's runtime directory (/run/drover as root)
# is then the namespace's, as in a container, and not shared with the host's drovers.
AS_INIT = 'mount -t tmpfs -o mode=0755 drover-run /run && exec "$@"'


def ns_processes(ns):
    """{host pid: (namespace pid, state letter, environment)} of every process in pid
    namespace ns (a /proc/PID/ns/pid link text), zombies included."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{entry}/ns/pid") != ns:
                continue
            with open(f"/proc/{entry}/status") as f:
                status = dict(line.split(":", 1) for line in f.read().splitlines() if ":" in line)
        except OSError:
            continue  # gone meanwhile
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            env = []  # a zombie's, or gone meanwhile: still counted, with its state
        found[int(entry)] = (int(status["NSpid"].split()[-1]), status["State"].split()[0], env)
    return found


def with_role(procs, role):
    """Host pids of the processes whose environment has ROLE=role."""
    return [pid for pid, (_, _, env) in procs.items() if f"ROLE={role}".encode() in env]


class Init:
    """drover run as pid 1 of its own pid namespace; signals go to it by its host pid."""

    def __init__(self, tmp_path):
        self.d = Drover(tmp_path)  # config files and log readers only: its cleanup is not ours
        self.unshare = None
        self.pid = None  # drover's pid on the host
        self.ns = None

    def start(self, config, args=(), default_control=False):
        """default_control: drover's own default socket (/run/drover.sock, inside the
        namespace's /run), not one in the test's directory."""
        cfg = self.d.write_config(config)
        control = [] if default_control else ["--control", self.d.control]
        env = dict(self.d.env, PATH="/usr/bin:/bin")
        if default_control:
            del env["DROVER_CONTROL"]
        self.log_file = open(self.d.log_path, "ab")
        # --kill-child: if unshare is killed, drover is, and with it the whole namespace.
        self.unshare = subprocess.Popen(
            ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child", "/bin/sh", "-c", AS_INIT,
             "sh", DROVER_BIN, "--config", str(cfg), *control, *args],
            stdin=subprocess.DEVNULL, stdout=self.log_file, stderr=self.log_file, cwd=self.d.dir,
            env=env)
        children = f"/proc/{self.unshare.pid}/task/{self.unshare.pid}/children"
        self.pid = int(wait_until(lambda: open(children).read().split(), WAIT_S,
                                  what="unshare's child")[0])
        self.ns = os.readlink(f"/proc/{self.pid}/ns/pid")
        self.d.wait_log(r"drover 1: supervising", timeout=WAIT_S)  # pid 1, and exec'd
        return self

    def procs(self):
        return ns_processes(self.ns)

    def send(self, sig):
        os.kill(self.pid, sig)

    def wait_exit(self, after):
        try:
            return self.unshare.wait(timeout=WAIT_S)  # unshare exits with drover's status
        except subprocess.TimeoutExpired:
            raise AssertionError(f"drover did not exit within {WAIT_S} s {after}; log:\n"
                                 f"{self.d.log()}") from None

    def stop(self, sig=signal.SIGTERM):
        """Sends sig; returns drover's exit status once it and everything in its namespace
        are gone."""
        self.send(sig)
        rc = self.wait_exit(f"of {signal.Signals(sig).name}")
        wait_until(lambda: not self.procs(), WAIT_S,
                   what=lambda: f"the namespace to be empty: {self.procs()}")
        return rc

    def cleanup(self):
        if self.unshare and self.unshare.poll() is None:
            try:
                os.kill(self.pid, signal.SIGKILL)  # the namespace's init: all in it dies with it
            except ProcessLookupError:
                pass
            self.unshare.wait(timeout=WAIT_S)
        if self.unshare:
            self.log_file.close()


@pytest.fixture
def init(tmp_path):
    why = unshare_refusal()
    if why:
        pytest.skip(why)
    if os.geteuid() != 0:
        pytest.skip("a private /run for the namespace (mount -t tmpfs) needs root")
    i = Init(tmp_path)
    yield i
    i.cleanup()
    assert not processes_marked(TEST_OWNER_ENV, str(tmp_path)), "a process of this test outlived it"
    report = SANITIZER_REPORT.search(i.d.log())
    assert not report, f"sanitizer report in drover's log:\n{i.d.log()}"


def program(name, command, **kw):
    return dict({"name": name, "command": command, "env": {"ROLE": name}}, **kw)


def zombies(init):
    return {pid: ns_pid for pid, (ns_pid, state, _) in init.procs().items() if state == "Z"}


def test_pid_1_reaps_grandchildren_and_strangers(init):
    """An instance that double-forks (its grandchild left the group with setsid) and exits;
    one whose child stays in its group; a stranger's orphan from `nsenter`: each is reaped by
    pid 1, no zombie is left, the group's remnant is killed with its instance, and SIGTERM
    then stops cleanly (0) with nothing left but drover."""
    sleeper = helper("sleeper")
    init.start({"programs": [
        # It exits once its grandchild has left the group (the pidfile is its last step), or
        # the remnant of the group would be killed with it.
        program("daemonizer", ["/bin/sh", "-c", f"setsid {sleeper} --pidfile gc.pid & "
                               "while ! [ -e gc.pid ]; do sleep 0.01; done; exit 0"],
                restart="never"),
        program("grouped", ["/bin/sh", "-c", f"{sleeper} & exit 0"], restart="never"),
        program("steady", [sleeper]),
    ]}, args=["-v"])
    init.d.wait_log(r"daemonizer:0 .*-> exited", timeout=WAIT_S)
    init.d.wait_log(r"grouped:0 .*-> exited", timeout=WAIT_S)
    # A stranger: started by nsenter from outside, its shell exits; its child is orphaned
    # inside the namespace, so its parent is now pid 1, though it is no instance of drover's.
    subprocess.run(["nsenter", "-t", str(init.pid), "-p", "/bin/sh", "-c", f"{sleeper} & exit 0"],
                   env=dict(init.d.env, ROLE="stranger"), check=True, timeout=WAIT_S,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)

    def parent(pid):
        with open(f"/proc/{pid}/status") as f:
            return int(next(line for line in f if line.startswith("PPid:")).split()[1])

    orphans = {}
    for role in ("daemonizer", "stranger"):
        [orphans[role]] = wait_until(lambda: with_role(init.procs(), role), WAIT_S,
                                     what=f"the {role}'s orphan in the namespace")
        assert parent(orphans[role]) == init.pid, f"the {role}'s orphan is not pid 1's child"
    # The grouped child went with its instance: SIGKILLed (not a stop) and reaped.
    wait_until(lambda: not with_role(init.procs(), "grouped"), WAIT_S,
               what=lambda: f"the grouped instance's child to be killed and reaped; "
                            f"log:\n{init.d.log()}")
    for role, pid in orphans.items():
        os.kill(pid, signal.SIGKILL)  # ours, found by its mark; nobody but pid 1 can reap it
        wait_until(lambda: not os.path.exists(f"/proc/{pid}"), WAIT_S,
                   what=lambda: f"the {role}'s orphan {pid} to be reaped; zombies: "
                                f"{zombies(init)}; log:\n{init.d.log()}")
    init.d.wait_log(r"reaped pid \d+ \(a descendant, not an instance's main process\)", count=3,
                    timeout=WAIT_S)
    left = init.procs()
    assert not zombies(init), f"zombies in the namespace: {zombies(init)}"
    assert sorted(ns_pid for ns_pid, _, _ in left.values())[0] == 1
    assert sorted(with_role(left, "steady")) and len(left) == 2, \
        f"the namespace holds more than drover and steady:0: {left}"
    assert init.stop(signal.SIGTERM) == 0, init.d.log()
    assert "not a clean stop" not in init.d.log() and "killing pid" not in init.d.log()
    init.d.wait_log(r"steady:0 pid=\d+ killed by signal TERM after")
    init.d.wait_log(r"all instances stopped, exiting$")


def test_sigint_stops_cleanly(init):
    init.start({"programs": [program("s", [helper("sleeper")], instances=2)]})
    init.d.wait_spawns("s:1", 1, timeout=WAIT_S)
    assert init.stop(signal.SIGINT) == 0, init.d.log()
    init.d.wait_log(r"received SIGINT: stopping all instances")
    # drover stopped them (their stop signal), before the kernel emptied the namespace.
    init.d.wait_log(r"s:\d pid=\d+ killed by signal TERM after", count=2)


def test_sighup_reloads_and_sigusr1_is_ignored(init):
    """As pid 1, SIGHUP still reloads the file (a change is applied) and SIGUSR1 is logged and
    ignored: neither ends drover, though the kernel gives init no default action."""
    config = {"programs": [program("s", [helper("sleeper")], instances=1)]}
    init.start(config)
    init.d.wait_spawns("s:0", 1, timeout=WAIT_S)
    config["programs"][0]["instances"] = 2
    init.d.write_config(config)
    init.send(signal.SIGHUP)
    init.d.wait_log(r"received SIGHUP: reloading the configuration file", timeout=WAIT_S)
    init.d.wait_spawns("s:1", 1, timeout=WAIT_S)
    init.send(signal.SIGUSR1)
    init.d.wait_log(r"received SIGUSR1: ignoring", timeout=WAIT_S)
    assert init.unshare.poll() is None, init.d.log()
    assert len(with_role(init.procs(), "s")) == 2
    assert init.stop() == 0, init.d.log()


def test_sigquit_ends_pid_1_as_it_ends_drover_outside(init):
    """SIGQUIT's default action ends a process; the kernel drops it for a namespace's init
    without a handler. drover reads it and exits 128 + 3 at once, stopping nothing."""
    init.start({"programs": [program("s", [helper("sleeper"), "--ignore-term"],
                                     stop_timeout="60s")]})
    init.d.wait_spawns("s:0", 1, timeout=WAIT_S)
    assert init.stop(signal.SIGQUIT) == 128 + signal.SIGQUIT, init.d.log()
    init.d.wait_log(r"received SIGQUIT as pid 1, whose default action ends drover: exiting with "
                    r"code 131 without stopping the instances")
    assert "stopping all instances" not in init.d.log()


UNCLEAN = {
    # stop_timeout passed: SIGKILL
    "killed": ([program("stubborn", [helper("sleeper"), "--ignore-term", "--pidfile", "s.pid"],
                        stop_timeout="200ms")],
               "s.pid",
               r"1 SIGKILL after a stop signal, 0 instances fatal, 0 stray descendants killed"),
    # a program fatal when drover stops
    "fatal": ([program("broken", ["/bin/sh", "-c", "exit 3"], fatal_exit_codes=[3]),
               program("fine", [helper("sleeper")])],
              None,
              r"0 SIGKILLs after a stop signal, 1 instance fatal, 0 stray descendants killed"),
    # a daemonized grandchild still running at the end
    "stray": ([program("daemonizer", ["/bin/sh", "-c", f"setsid {helper('sleeper')} --pidfile "
                                                       f"gc.pid & exec {helper('sleeper')}"])],
              "gc.pid",
              r"0 SIGKILLs after a stop signal, 0 instances fatal, 1 stray descendant killed"),
}


@pytest.mark.parametrize("case", sorted(UNCLEAN))
def test_unclean_stop_exits_4(init, case):
    """A shutdown that needed a SIGKILL, found a program fatal, or killed a stray exits 4."""
    programs, pidfile, counts = UNCLEAN[case]
    init.start({"programs": programs})
    for p in programs:
        init.d.wait_spawns(f"{p['name']}:0", 1, timeout=WAIT_S)
    if pidfile:  # its last step: the TERM disposition is set, the grandchild left the group
        wait_until(lambda: os.path.exists(init.d.path(pidfile)), WAIT_S, what=f"{pidfile}")
    if case == "fatal":
        init.d.wait_log(r"broken:0 .*-> fatal \(exit code 3 is a fatal exit code", timeout=WAIT_S)
    assert init.stop() == 4, init.d.log()
    init.d.wait_log(r"all instances stopped, not cleanly \(" + counts + r"\): exiting with code 4")
    if case == "killed":
        init.d.wait_log(r"stubborn:0 pid=\d+ sending SIGKILL to process group \d+: not a clean stop")
    if case == "fatal":
        init.d.wait_log(r"broken:0 fatal when the shutdown began: not a clean stop")
    if case == "stray":
        init.d.wait_log(r"killing pid \d+, a descendant that left its instance's process group")


def test_drover_health_inside_the_container(init):
    """`drover health` run in the container's namespaces, as a Kubernetes exec probe is, finds
    pid 1 on the default socket (/run/drover.sock in the container's own /run)."""
    init.start({"programs": [program("s", [helper("sleeper")])]}, default_control=True)
    init.d.wait_spawns("s:0", 1, timeout=WAIT_S)
    env = {k: v for k, v in init.d.env.items() if k != "DROVER_CONTROL"}

    def probe(*args):
        return subprocess.run(["nsenter", "-t", str(init.pid), "-p", "-m", DROVER_BIN, *args],
                              capture_output=True, text=True, env=env, timeout=WAIT_S,
                              stdin=subprocess.DEVNULL)
    r = wait_until(lambda: (r := probe("health", "--max-silent", "0", "--silence", "30s"))
                   .returncode == 0 and r, WAIT_S,
                   what=lambda: f"`drover health` to say healthy; log:\n{init.d.log()}")
    assert r.returncode == 0, r.stdout + r.stderr
    r = probe("status")
    assert r.returncode == 0 and "s:0" in r.stdout, r.stdout + r.stderr
    assert not os.path.exists("/run/drover.sock") or os.stat("/run/drover.sock").st_ino != \
        os.stat(f"/proc/{init.pid}/root/run/drover.sock").st_ino, "the socket is the host's"
    assert init.stop() == 0

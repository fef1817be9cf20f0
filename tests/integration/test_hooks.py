"""Hooks (docs/lifecycle.md#hooks): on_state_change and on_fatal, their environment, the
top-level keys, output in drover's log, failures, the timeout, the queue cap, shutdown.

Each hook here is a small /bin/sh command (the user's own choice of argv): it records its
environment in a file of the test's dir, renamed into place so the test never reads half of
one, and the test reads those files."""
import os
import re
import signal
import urllib.request

from conftest import TEST_OWNER_ENV, free_port, helper, pid_alive, wait_until

# Writes the hook's environment to DIR/env.<event>.<n>, n counting the hook's runs (its pid).
RECORD = ('env > "$0/tmp.$$" && mv "$0/tmp.$$" "$0/env.$DROVER_EVENT.$$"; '
          'echo "said by $DROVER_PROGRAM:$DROVER_INSTANCE to $DROVER_TO"; '
          'printf "to stderr, no newline" >&2')


def record(d):
    return ["/bin/sh", "-c", RECORD, str(d.dir)]


def envs(d, event):
    """The environments recorded for event ("state_change", "fatal"), as dicts, in pid order
    (hooks of one instance start one after the other, so pids rise with them unless the pid
    numbers wrap; the tests look events up by their contents, not by position)."""
    out = []
    for name in os.listdir(d.dir):
        if name.startswith(f"env.{event}."):
            with open(d.dir / name) as f:
                out.append(dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line))
    return out


def find(d, event, **want):
    """The recorded environments of event whose variables have the wanted values."""
    return [e for e in envs(d, event) if all(e.get(k) == v for k, v in want.items())]


def wait_env(d, event, **want):
    return wait_until(lambda: find(d, event, **want), timeout=30,
                      what=lambda: f"a {event} hook with {want}; recorded: {envs(d, event)}; log:\n{d.log()}")[0]


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return r.read().decode()


def sample(text, name):
    for line in text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in /metrics:\n{text}")


# What drover sets for a hook (the test's own DROVER_CONTROL and DROVER_TEST_OWNER pass through).
HOOK_VARS = {"DROVER_PROGRAM", "DROVER_INSTANCE", "DROVER_PID", "DROVER_EVENT", "DROVER_FROM", "DROVER_TO",
             "DROVER_EXIT_CODE", "DROVER_SIGNAL", "DROVER_RESTARTS", "DROVER_CAUSE"}


def hook_vars(e):
    return {k: v for k, v in e.items() if k in HOOK_VARS}


def test_environment_of_a_crash_restart_and_a_fatal(drover):
    # crasher exits 3 at once: starting -> starting (restarted at once), -> backoff, -> starting,
    # then yo-yo (more than 2 restarts): -> fatal. A sleeper killed by a signal restarts at once.
    drover.start({
        "on_state_change": record(drover), "on_fatal": record(drover),
        "programs": [
            {"name": "c", "command": [helper("crasher"), "--count-file", drover.path("count")],
             "start_seconds": "1m", "backoff": {"initial": "10ms", "max": "10ms"},
             "yoyo": {"restarts": 2, "window": "1m"}},
            {"name": "s", "command": [helper("sleeper")], "start_seconds": 0, "instances": 2},
        ]})
    drover.wait_log(r"c:0 starting -> fatal \(yo-yo")
    c_pids = [pid for _, pid, _ in drover.wait_spawns("c:0", 3)]
    drover.wait_spawns("s:1", 1)
    first_s = drover.current("s:1")[0]
    os.kill(first_s, signal.SIGKILL)
    second_s = drover.wait_spawns("s:1", 2)[-1][1]

    # The first start: no exit yet, so neither DROVER_EXIT_CODE nor DROVER_SIGNAL.
    e = wait_env(drover, "state_change", DROVER_PROGRAM="c", DROVER_FROM="stopped")
    assert hook_vars(e) == {"DROVER_PROGRAM": "c", "DROVER_INSTANCE": "0", "DROVER_PID": str(c_pids[0]),
                            "DROVER_EVENT": "state_change", "DROVER_FROM": "stopped", "DROVER_TO": "starting",
                            "DROVER_RESTARTS": "0", "DROVER_CAUSE": "start requested"}
    # The crash and restart at once within one state: the new process, the old one's exit code.
    e = wait_env(drover, "state_change", DROVER_PROGRAM="c", DROVER_FROM="starting", DROVER_TO="starting")
    assert hook_vars(e) == {"DROVER_PROGRAM": "c", "DROVER_INSTANCE": "0", "DROVER_PID": str(c_pids[1]),
                            "DROVER_EVENT": "state_change", "DROVER_FROM": "starting", "DROVER_TO": "starting",
                            "DROVER_EXIT_CODE": "3", "DROVER_RESTARTS": "1",
                            "DROVER_CAUSE": "exited before start_seconds, restarting at once"}
    # Into backoff: no process, so DROVER_PID is the one that just exited.
    e = wait_env(drover, "state_change", DROVER_PROGRAM="c", DROVER_TO="backoff")
    assert e["DROVER_PID"] == str(c_pids[1]) and e["DROVER_EXIT_CODE"] == "3" and "DROVER_SIGNAL" not in e
    e = wait_env(drover, "state_change", DROVER_PROGRAM="c", DROVER_FROM="backoff")
    assert e["DROVER_TO"] == "starting" and e["DROVER_PID"] == str(c_pids[2]) and e["DROVER_RESTARTS"] == "2"
    # The fatal: one state_change hook and one on_fatal hook, the same facts.
    for event in ("state_change", "fatal"):
        e = wait_env(drover, event, DROVER_PROGRAM="c", DROVER_TO="fatal")
        assert hook_vars(e) == {"DROVER_PROGRAM": "c", "DROVER_INSTANCE": "0", "DROVER_PID": str(c_pids[2]),
                                "DROVER_EVENT": event, "DROVER_FROM": "starting", "DROVER_TO": "fatal",
                                "DROVER_EXIT_CODE": "3", "DROVER_RESTARTS": "2",
                                "DROVER_CAUSE": "yo-yo: too many restarts within the window"}
        # drover's environment is passed on; its own NOTIFY_SOCKET (none here) and the
        # instance's variables are not.
        assert e[TEST_OWNER_ENV] == str(drover.dir) and "DROVER_PORT" not in e and "NOTIFY_SOCKET" not in e
    assert len(find(drover, "fatal")) == 1
    # A signal: DROVER_SIGNAL, no DROVER_EXIT_CODE; instance 1 of s.
    e = wait_env(drover, "state_change", DROVER_PROGRAM="s", DROVER_INSTANCE="1", DROVER_PID=str(second_s))
    assert hook_vars(e) == {"DROVER_PROGRAM": "s", "DROVER_INSTANCE": "1", "DROVER_PID": str(second_s),
                            "DROVER_EVENT": "state_change", "DROVER_FROM": "running", "DROVER_TO": "running",
                            "DROVER_SIGNAL": "KILL", "DROVER_RESTARTS": "1",
                            "DROVER_CAUSE": "exited, restarting at once"}

    # Output, stdout and stderr, line by line with the hook's name; the last line had no newline.
    drover.wait_log(r"info  hook on_fatal c:0: said by c:0 to fatal$")
    drover.wait_log(r"info  hook on_state_change s:1: said by s:1 to running$", count=2)
    drover.wait_log(r"info  hook on_fatal c:0: to stderr, no newline$")
    assert drover.stop() == 4  # a program is fatal: not a clean stop


def test_fatal_exit_code_and_top_level_hooks(drover):
    # a and b have no hook of their own: the top level's. own's replaces it; quiet's null turns
    # the top level's on_state_change off for it alone.
    own = ["/bin/sh", "-c", 'echo "$DROVER_TO" > "$0/own.tmp" && mv "$0/own.tmp" "$0/own.$DROVER_EVENT"',
           str(drover.dir)]
    drover.start({
        "on_fatal": record(drover), "on_state_change": record(drover),
        "programs": [
            {"name": "a", "command": [helper("exit_with"), "2"], "fatal_exit_codes": [2]},
            {"name": "own", "command": [helper("exit_with"), "7"], "fatal_exit_codes": [7], "on_fatal": own},
            {"name": "quiet", "command": [helper("exit_with"), "9"], "fatal_exit_codes": [9],
             "on_state_change": None},
            # Never had a process: DROVER_PID is empty, and there is no exit to tell of.
            {"name": "nox", "command": [drover.path("not-there")]},
        ]})
    e = wait_env(drover, "fatal", DROVER_PROGRAM="a")
    assert e["DROVER_EXIT_CODE"] == "2" and e["DROVER_FROM"] == "starting" and e["DROVER_RESTARTS"] == "0"
    assert e["DROVER_CAUSE"] == "exit code 2 is a fatal exit code"
    wait_env(drover, "fatal", DROVER_PROGRAM="quiet")
    e = wait_env(drover, "fatal", DROVER_PROGRAM="nox")
    assert e["DROVER_PID"] == "" and e["DROVER_FROM"] == "stopped" and e["DROVER_RESTARTS"] == "0"
    assert "DROVER_EXIT_CODE" not in e and "DROVER_SIGNAL" not in e
    wait_until(lambda: (drover.dir / "own.fatal").exists(), timeout=30, what="own's on_fatal")
    assert (drover.dir / "own.fatal").read_text() == "fatal\n"
    # own's state changes still run the top-level on_state_change; quiet's run none.
    wait_env(drover, "state_change", DROVER_PROGRAM="own", DROVER_TO="fatal")
    wait_env(drover, "state_change", DROVER_PROGRAM="a", DROVER_TO="fatal")
    assert drover.stop() == 4  # a program is fatal: not a clean stop
    assert not find(drover, "fatal", DROVER_PROGRAM="own")
    assert not find(drover, "state_change", DROVER_PROGRAM="quiet")


def test_a_failing_hook_is_one_warning(drover):
    drover.start({"programs": [
        {"name": "x", "command": [helper("exit_with"), "2"], "fatal_exit_codes": [2],
         "on_fatal": ["/bin/sh", "-c", "echo giving up; exit 5"],
         "on_state_change": [drover.path("no-such-hook")]},
        {"name": "y", "command": [helper("exit_with"), "2"], "fatal_exit_codes": [2],
         "on_fatal": ["/bin/sh", "-c", "kill -TERM $$"]},
    ]})
    drover.wait_log(r"warn  hook on_fatal x:0 pid=\d+: failed: exited with code 5 after ")
    drover.wait_log(r"warn  hook on_fatal y:0 pid=\d+: failed: killed by signal TERM after ")
    # Each of x's two state changes: one line, exec's error.
    drover.wait_log(r"warn  hook on_state_change x:0: failed: cannot execute \".*no-such-hook\": No such file", count=2)
    drover.wait_log(r"info  hook on_fatal x:0: giving up$")
    assert drover.stop() == 4  # a program is fatal: not a clean stop
    log = drover.log()
    assert len(drover.lines(r"hook on_fatal x:0 .*failed")) == 1
    # Nothing else happens: x stays fatal, no retry of the hook.
    assert len(drover.spawns("x:0")) == 1 and "x:0 fatal -> stopped" in log


def test_a_hanging_hook_is_killed_at_its_timeout_while_restarts_go_on(drover):
    port = free_port()
    hang = ["/bin/sh", "-c", 'echo $$ > "$0/hang.tmp" && mv "$0/hang.tmp" "$0/hang.pid"; exec sleep 1000',
            str(drover.dir)]
    drover.start({
        "http": f"127.0.0.1:{port}",
        "programs": [
            {"name": "h", "command": [helper("sleeper")], "start_seconds": 0, "on_state_change": hang,
             "hook_timeout": "2s"},
            {"name": "crash", "command": [helper("crasher"), "--count-file", drover.path("count")],
             "start_seconds": "1m", "backoff": {"initial": "10ms", "max": "10ms"}, "yoyo": False},
        ]})
    drover.wait_log(rf"serving HTTP on 127\.0\.0\.1:{port}")
    hook = int(wait_until(lambda: (drover.dir / "hang.pid").exists() and (drover.dir / "hang.pid").read_text().strip(),
                          timeout=30, what="the hanging hook's pid"))
    kill = drover.wait_log(rf"warn  hook on_state_change h:0 pid={hook}: still running after \S+ "
                           r"\(hook_timeout\): killed with its process group", timeout=30)[0]
    # While it hung, crash went on restarting: read from the log's order, not from a clock.
    lines = drover.log().splitlines()
    hung_from = next(i for i, l in enumerate(lines) if " h:0 pid=" in l and "stopped -> running" in l)
    killed_at = next(i for i, l in enumerate(lines) if kill.group(0) in l)
    respawns = [l for l in lines[hung_from:killed_at] if re.search(r" crash:0 pid=\d+ spawned$", l)]
    assert len(respawns) >= 3, f"crash did not restart while the hook hung; log:\n{drover.log()}"
    wait_until(lambda: not pid_alive(hook), timeout=30, what=f"the hook (pid {hook}) to be gone")
    text = scrape(port)
    assert sample(text, "drover_hooks_timed_out_total") == 1
    assert sample(text, "drover_hooks_failed_total") == 1
    assert sample(text, "drover_hooks_started_total") == 1
    # The kill is its one line: the reap adds none.
    assert len(drover.lines(r"hook on_state_change h:0")) == 1
    assert drover.stop() == 0


def test_queue_cap_drops_and_counts_and_shutdown_leaves_no_hook(drover):
    port = free_port()
    # Every state change of crash starts a hook that hangs (for a minute, its timeout): 4 run,
    # 256 wait, the rest are dropped.
    hang = ["/bin/sh", "-c", 'echo $$ >> "$0/pids"; exec sleep 1000', str(drover.dir)]
    drover.start({
        "http": f"127.0.0.1:{port}", "on_state_change": hang, "hook_timeout": "1m",
        "programs": [{"name": "crash", "command": [helper("crasher"), "--count-file", drover.path("count")],
                      "start_seconds": 0, "yoyo": False}]})
    drover.wait_log(rf"serving HTTP on 127\.0\.0\.1:{port}")

    def dropped():
        n = sample(scrape(port), "drover_hooks_dropped_total")
        return n >= 50 and n
    n = wait_until(dropped, timeout=120, interval=0.2, what=lambda: f"50 dropped hooks; log:\n{drover.log()}")
    text = scrape(port)
    assert sample(text, "drover_hooks_running") == 4
    assert sample(text, "drover_hooks_queued") == 256
    assert sample(text, "drover_hooks_started_total") == 4
    # The drops are logged, but not one line each.
    said = drover.lines(r"warn  hook on_state_change crash:0: not run, 256 hooks wait already")
    assert 1 <= len(said) < n
    pids = wait_until(lambda: (p := (drover.dir / "pids").read_text().split()) and len(p) == 4 and p,
                      timeout=30, what="4 hooks' pids")
    assert all(pid_alive(int(p)) for p in pids)
    # A shutdown: the queue is dropped, the running hooks are waited for (up to their timeout);
    # a second SIGTERM kills them, and drover reaps them before it exits.
    drover.send(signal.SIGTERM)
    drover.wait_log(r"hooks: 256 queued not run: drover is exiting")
    drover.send(signal.SIGTERM)
    assert drover.wait_exit(30, "of the second SIGTERM") == 0
    assert len(drover.lines(r"warn  hook on_state_change crash:0 pid=\d+: still running as drover exits")) == 4
    assert not any(pid_alive(int(p)) for p in pids)


def test_a_shutdown_runs_the_hooks_of_its_changes_and_leaves_none(drover):
    # The hook of the last change (stopping -> stopped) hangs: drover waits for it up to its
    # hook_timeout, kills it with its group, reaps it, then exits.
    hook = ['/bin/sh', '-c', RECORD + '; [ "$DROVER_TO" = stopped ] && echo $$ > "$0/last.pid" && exec sleep 1000',
            str(drover.dir)]
    drover.start({"programs": [{"name": "s", "command": [helper("sleeper")], "start_seconds": 0,
                                "on_state_change": hook, "hook_timeout": "1s"}]})
    wait_env(drover, "state_change", DROVER_PROGRAM="s", DROVER_TO="running")
    assert drover.stop() == 0
    stopping = find(drover, "state_change", DROVER_FROM="running", DROVER_TO="stopping")
    stopped = find(drover, "state_change", DROVER_FROM="stopping", DROVER_TO="stopped")
    assert len(stopping) == 1 and len(stopped) == 1, f"recorded: {envs(drover, 'state_change')}"
    assert stopped[0]["DROVER_SIGNAL"] == "TERM" and stopped[0]["DROVER_PID"] == str(drover.current("s:0")[0])
    last = int((drover.dir / "last.pid").read_text())
    assert not pid_alive(last)
    assert drover.lines(rf"warn  hook on_state_change s:0 pid={last}: still running after \S+ \(hook_timeout\)")
    log = drover.log()
    assert log.index("hook on_state_change s:0: said by s:0 to stopped") < log.index("all instances stopped, exiting")


def test_a_reload_adds_hooks_to_a_pool_that_had_none_and_removes_them(drover):
    sleeper = [helper("sleeper")]
    cfg = {"programs": [{"name": "w", "command": sleeper, "start_seconds": "0s"}]}
    drover.start(cfg)
    drover.wait_log(r"w:0 pid=\d+ stopped -> running")
    cfg["programs"][0]["on_state_change"] = record(drover)
    r = drover.cli("apply", str(drover.write_config(cfg, "with-hooks.json")))
    assert r.returncode == 0, r.stderr
    pid, _ = drover.current("w:0")
    os.kill(pid, signal.SIGKILL)
    wait_env(drover, "state_change", DROVER_PROGRAM="w", DROVER_FROM="running", DROVER_TO="running",
             DROVER_SIGNAL="KILL", DROVER_PID=str(drover.wait_spawns("w:0", 2)[-1][1]))
    # Taken away again: the next change runs nothing.
    del cfg["programs"][0]["on_state_change"]
    r = drover.cli("apply", str(drover.write_config(cfg, "without.json")))
    assert r.returncode == 0, r.stderr
    before = len(envs(drover, "state_change"))
    os.kill(drover.current("w:0")[0], signal.SIGKILL)
    drover.wait_spawns("w:0", 3)
    drover.wait_log(r"w:0 pid=\d+ running -> running", count=2)
    assert drover.stop() == 0
    assert len(envs(drover, "state_change")) == before, drover.log()

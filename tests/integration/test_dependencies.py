"""Dependencies (`after`): start order through readiness, one-shots, what a waiting
instance waits for, refused configs, and the reverse order at shutdown.

Order is read from drover's log, which it writes in the order things happen:
a READY (or an exit) line before a spawn line means the spawn came after it.
"""
import os
import signal
import shutil
import sys

import pytest

from conftest import free_port, helper, pid_alive, wait_until

SLEEPER = helper("sleeper")
EXIT_WITH = helper("exit_with")

# Connects to redis at start; exits 1 if it cannot (what a client that needs it does).
REDIS_CLIENT = """
import socket, sys, time
try:
    with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5) as s:
        s.sendall(b"PING\\r\\n")
        if not s.recv(16).startswith(b"+PONG"):
            sys.exit(1)
except OSError as e:
    print("cannot reach redis:", e, flush=True)
    sys.exit(1)
print("redis answered PONG", flush=True)
while True:
    time.sleep(60)
"""


def index_of(drover, pattern):
    """The number of the first log line matching pattern (fails if none)."""
    for i, line in enumerate(drover.log().splitlines()):
        if __import__("re").search(pattern, line):
            return i
    raise AssertionError(f"no log line matches {pattern!r}; log:\n{drover.log()}")


def status_of(drover, program):
    code, body, _ = drover.call("GET", f"/status?program={program}")
    assert code == 200, body
    return body["programs"][program]


def test_redis_starts_before_a_dependent_that_connects_at_start(drover):
    if not shutil.which("redis-server"):
        pytest.fail("redis-server is missing: tools/deps.sh installs it")
    port = free_port()
    client = drover.dir / "client.py"
    client.write_text(REDIS_CLIENT)
    drover.start({"programs": [
        # Listed first, so only the dependency, not the config order, can hold it back.
        {"name": "app", "command": [sys.executable, str(client), str(port)], "after": ["redis"],
         "instances": 2, "start_seconds": "0s"},
        {"name": "redis", "ready": "notify", "start_timeout": "20s",
         "command": ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--supervised",
                     "systemd", "--daemonize", "no", "--save", "", "--appendonly", "no",
                     "--dir", str(drover.dir)]},
    ]})
    drover.wait_log(r"app:0 pid=\d+ waiting -> (starting|running)", timeout=20)
    drover.wait_log(r"app:1 pid=\d+ waiting -> (starting|running)", timeout=20)
    ready = index_of(drover, r"redis:0 pid=\d+ starting -> running \(READY=1\)")
    assert index_of(drover, r"app:0 stopped -> waiting") < ready
    assert index_of(drover, r"app:0 pid=\d+ spawned") > ready
    assert index_of(drover, r"app:1 pid=\d+ spawned") > ready
    # Both clients reached redis at their first try: no exit, no restart.
    wait_until(lambda: all(i["state"] == "running" for i in status_of(drover, "app")),
               timeout=20, what=lambda: f"app running; log:\n{drover.log()}")
    assert [i["restarts"] for i in status_of(drover, "app")] == [0, 0]
    assert not drover.lines(r"app:\d pid=\d+ exited")
    assert len(drover.spawns("app:0")) == 1 and len(drover.spawns("app:1")) == 1
    assert drover.stop() == 0


def test_a_one_shot_that_succeeds_lets_its_dependents_start(drover):
    marker = drover.path("migrated")
    drover.start({"programs": [
        {"name": "web", "command": ["/bin/sh", "-c", f"test -e {marker} || exit 1; exec {SLEEPER}"],
         "after": ["migrate"], "start_seconds": "0s"},
        {"name": "migrate", "restart": "never", "success_exit_codes": [0, 3],
         "command": ["/bin/sh", "-c", f"sleep 0.3; touch {marker}; exit 3"]},
    ]})
    drover.wait_log(r"migrate:0 pid=\d+ exited with code 3")
    drover.wait_log(r"web:0 pid=\d+ waiting -> running \(the programs it starts after are ready\)")
    assert index_of(drover, r"web:0 pid=\d+ spawned") > index_of(drover, r"migrate:0 pid=\d+ exited")
    assert status_of(drover, "web")[0]["restarts"] == 0
    assert status_of(drover, "migrate")[0]["state"] == "exited"
    assert drover.stop() == 0


def test_a_one_shot_that_fails_leaves_its_dependents_waiting_with_the_reason(drover):
    drover.start({"programs": [
        {"name": "web", "command": [SLEEPER], "after": ["migrate"], "instances": 2},
        {"name": "migrate", "restart": "never", "command": [EXIT_WITH, "--after-ms", "100", "4"]},
    ]})
    drover.wait_log(r"web waits for migrate \(migrate:0 failed: exit code 4\): it will not start")
    web = status_of(drover, "web")
    assert [i["state"] for i in web] == ["waiting", "waiting"]
    assert web[0]["waiting_for"] == "migrate (migrate:0 failed: exit code 4)"
    assert web[0]["pid"] is None
    out = drover.cli("status", "web").stdout
    assert out.count("WAITING") == 2 and "waiting for migrate (migrate:0 failed: exit" in out, out
    assert not drover.spawns("web:0")
    # The pool is not ready while they wait: /readyz names them.
    code, body, _ = drover.call("GET", "/readyz")
    assert code == 503 and {"program": "web", "instance": 0, "state": "waiting"} in body["not_ready"]
    assert drover.stop() == 0
    assert not drover.spawns("web:0")


def test_a_fatal_dependency_leaves_its_dependents_waiting_until_it_is_started(drover):
    mark = drover.path("db-second-run")
    drover.start({"programs": [
        {"name": "api", "command": [SLEEPER], "after": ["db"], "start_seconds": "0s"},
        # Fatal at its first run (exit code 2); fine at the next.
        {"name": "db", "fatal_exit_codes": [2],
         "command": ["/bin/sh", "-c", f"test -e {mark} && exec {SLEEPER}; touch {mark}; exit 2"]},
    ]})
    drover.wait_log(r"db:0 starting -> fatal \(exit code 2 is a fatal exit code")
    drover.wait_log(r"api waits for db \(db:0 fatal\): it will not start")
    assert status_of(drover, "api")[0]["waiting_for"] == "db (db:0 fatal)"
    # A start of api keeps it waiting; an operator's start of the dependency unblocks it.
    code, _, _ = drover.call("POST", "/start/api")
    assert code == 200
    assert status_of(drover, "api")[0]["state"] == "waiting"
    assert not drover.spawns("api:0")
    code, _, _ = drover.call("POST", "/start/db")
    assert code == 200
    drover.wait_log(r"api:0 pid=\d+ waiting -> running \(the programs it starts after are ready\)")
    assert drover.stop() == 0


def test_waiting_shows_what_is_not_ready_yet(drover):
    drover.start({"programs": [
        {"name": "web", "command": [SLEEPER], "after": ["slow"]},
        {"name": "slow", "command": [SLEEPER], "ready": "notify", "start_timeout": "60s"},
    ]})
    drover.wait_log(r"web waits for slow \(slow:0 starting\)$")
    assert status_of(drover, "web")[0]["waiting_for"] == "slow (slow:0 starting)"
    assert "waiting for slow (slow:0 starting)" in drover.cli("status").stdout
    assert drover.stop() == 0


def test_a_restart_of_a_dependency_does_not_restart_its_dependents(drover):
    drover.start({"programs": [
        {"name": "app", "command": [SLEEPER], "after": ["db"], "start_seconds": "0s"},
        {"name": "db", "command": [SLEEPER], "start_seconds": "0s"},
    ]})
    drover.wait_log(r"app:0 pid=\d+ waiting -> running")
    app_pid, _ = drover.current("app:0")
    db_pid, _ = drover.current("db:0")
    os.kill(db_pid, signal.SIGKILL)
    drover.wait_spawns("db:0", 2)
    drover.wait_log(r"db:0 pid=\d+ running -> running \(exited, restarting at once\)")
    assert pid_alive(app_pid)
    assert len(drover.spawns("app:0")) == 1
    assert status_of(drover, "app")[0]["restarts"] == 0
    assert drover.stop() == 0


def test_shutdown_stops_dependents_first_level_by_level(drover):
    # front after (api, cache); api after db; cache after db: levels db 0, api and cache 1, front 2.
    drover.start({"programs": [
        {"name": "db", "command": [SLEEPER, "--exit-on-term-after-ms", "200"], "instances": 2,
         "start_seconds": "0s"},
        {"name": "api", "command": [SLEEPER, "--exit-on-term-after-ms", "200"], "after": ["db"],
         "instances": 2, "start_seconds": "0s"},
        {"name": "cache", "command": [SLEEPER, "--exit-on-term-after-ms", "200"], "after": ["db"],
         "start_seconds": "0s"},
        {"name": "front", "command": [SLEEPER, "--exit-on-term-after-ms", "200"],
         "after": ["api", "cache"], "start_seconds": "0s"},
    ]})
    drover.wait_log(r"front:0 pid=\d+ (stopped|waiting) -> running")
    assert drover.stop() == 0
    stopped = lambda label: index_of(drover, rf"{label} pid=\d+ stopping -> stopped|{label} stopping -> stopped")
    asked = lambda label: index_of(drover, rf"{label} pid=\d+ running -> stopping")
    # Each level is asked to stop only once every process above it is gone...
    for upper, lower in [("front:0", "api:0"), ("front:0", "api:1"), ("front:0", "cache:0"),
                         ("api:0", "db:0"), ("api:1", "db:1"), ("cache:0", "db:0")]:
        assert stopped(upper) < asked(lower), (upper, lower, drover.log())
    # ...and the programs of one level together: both of level 1 asked before either stopped.
    assert max(asked("api:0"), asked("api:1"), asked("cache:0")) < min(
        stopped("api:0"), stopped("api:1"), stopped("cache:0")), drover.log()
    levels = [m[1] for m in drover.lines(r"stopping level (\d+): ")]
    assert levels == ["2", "1", "0"], drover.log()
    assert drover.lines(r"stopping level 1: api, cache$")


def test_start_up_starts_each_level_together(drover):
    drover.start({"programs": [
        {"name": "a", "command": [SLEEPER], "after": ["base"], "start_seconds": "0.3s"},
        {"name": "b", "command": [SLEEPER], "after": ["base"], "start_seconds": "0.3s"},
        {"name": "base", "command": [SLEEPER], "start_seconds": "0.3s"},
    ]})
    drover.wait_log(r"b:0 pid=\d+ starting -> running")
    drover.wait_log(r"a:0 pid=\d+ starting -> running")
    up = index_of(drover, r"base:0 pid=\d+ starting -> running")
    # Both start in the pass that saw base ready: each spawn comes after base's line, and
    # both come before either of them is up.
    spawns = [index_of(drover, rf"{p}:0 pid=\d+ spawned") for p in "ab"]
    ups = [index_of(drover, rf"{p}:0 pid=\d+ starting -> running") for p in "ab"]
    assert up < min(spawns) and max(spawns) < min(ups), drover.log()
    assert drover.stop() == 0


@pytest.mark.parametrize("programs, message", [
    ([{"name": "a", "command": ["x"], "after": ["b"]}, {"name": "b", "command": ["x"], "after": ["c"]},
      {"name": "c", "command": ["x"], "after": ["a"]}],
     "programs[0].after: dependency cycle: a -> b -> c -> a"),
    ([{"name": "a", "command": ["x"], "after": ["a"]}], "programs[0].after: dependency cycle: a -> a"),
    ([{"name": "a", "command": ["x"], "after": ["redis"]}],
     'programs[0].after[0]: unknown program "redis" (no program has that name)'),
])
def test_cycles_and_unknown_dependencies_are_refused(drover, programs, message):
    r = drover.run({"programs": programs})
    assert r.returncode == 2, r
    assert message in r.stderr, r.stderr
    assert "config.json:" in r.stderr
    assert not drover.spawns()


def test_a_reload_that_fixes_a_failed_one_shot_lets_its_dependents_start(drover):
    cfg = {"programs": [
        {"name": "web", "command": [SLEEPER], "after": ["migrate"], "start_seconds": "0s"},
        {"name": "migrate", "restart": "never", "command": [EXIT_WITH, "4"]},
    ]}
    drover.start(cfg)
    drover.wait_log(r"web waits for migrate \(migrate:0 failed: exit code 4\)")
    cfg["programs"][1]["command"] = [EXIT_WITH, "0"]
    r = drover.cli("apply", str(drover.write_config(cfg, "fixed.json")))
    assert r.returncode == 0, r.stderr
    assert '"migrate": rolling restart' in r.stdout, r.stdout
    drover.wait_log(r"migrate:0 pid=\d+ exited with code 0")
    drover.wait_log(r"web:0 pid=\d+ waiting -> running \(the programs it starts after are ready\)")
    assert len(drover.spawns("migrate:0")) == 2
    assert drover.stop() == 0


def test_a_reload_that_changes_after_restarts_nothing(drover):
    cfg = {"programs": [
        {"name": "web", "command": [SLEEPER], "start_seconds": "0s"},
        {"name": "db", "command": [SLEEPER], "start_seconds": "0s"},
    ]}
    drover.start(cfg)
    drover.wait_log(r"db:0 pid=\d+ stopped -> running")
    drover.wait_log(r"web:0 pid=\d+ stopped -> running")
    pids = (drover.current("web:0")[0], drover.current("db:0")[0])
    cfg["programs"][0]["after"] = ["db"]
    r = drover.cli("apply", str(drover.write_config(cfg, "ordered.json")))
    assert r.returncode == 0, r.stderr
    assert '"web": updated in place, no restart (changed: after)' in r.stdout, r.stdout
    # The new order is in force: shutdown stops web first, and nothing was restarted.
    assert drover.stop() == 0
    assert (drover.current("web:0")[0], drover.current("db:0")[0]) == pids
    assert drover.lines(r"stopping level 1: web$") and drover.lines(r"stopping level 0: db$")

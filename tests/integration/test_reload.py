"""Reload and apply (issue 12, item 2): `drover reload`, SIGHUP, `drover apply FILE|-` and
PUT /config change the running pool by plan. Unchanged programs keep their pids; added ones
start, removed ones stop and leave /status; a count only scales; any other change rolls, one
instance at a time, never more than max_unavailable not ready; an invalid config changes
nothing; a plan that runs refuses another (409); --dry-run changes nothing; a config applied
over the API is saved beside the dumpfile and resumed by --adopt after a kill -9.
Real daemon, real children; every wait is bounded and says what did not happen."""
import contextlib
import json
import socket
import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request

from conftest import (DROVER_BIN, REPO, UnixHTTPConnection, api, free_port, helper, pid_alive,
                      wait_until)

TOKEN = "reload-token-0123456789"

# A worker that takes a moment to become ready (READY=1 after a delay), with `ready: "notify"`.
SLOW_READY = [sys.executable, "-c",
              "import sys, time; sys.path.insert(0, %r); from drover_worker import Worker; "
              "time.sleep(0.4); Worker().ready(); time.sleep(100000)" % str(REPO / "python")]


def prog(name, instances=1, **extra):
    return {"name": name, "command": [helper("sleeper")], "instances": instances,
            "start_seconds": 0, "stop_timeout": "5s", **extra}


def start(drover, config, args=(), stdin=False):
    ready = r"control socket .* \(mode 0600\)"
    before = len(drover.lines(ready))
    drover.start(config, args=list(args), stdin=stdin)
    drover.wait_log(ready, count=before + 1)
    return drover


def status(drover):
    """{program: [(instance, state, pid)]} from /status."""
    code, body, _ = drover.call("GET", "/status")
    assert code == 200, body
    return {p: [(i["instance"], i["state"], i["pid"]) for i in v] for p, v in body["programs"].items()}


def pids(drover, program):
    return [pid for _, _, pid in status(drover).get(program, [])]


def all_running(drover, counts):
    """Waits until each program of counts runs that many instances, all running."""
    def ok():
        s = status(drover)
        return set(s) == set(counts) and all(
            len(s[p]) == n and all(st == "running" for _, st, _ in s[p]) for p, n in counts.items())
    wait_until(ok, 20, what=lambda: f"{counts} all running; status {status(drover)}; "
                                    f"log:\n{drover.log()}")


@contextlib.contextmanager
def ready_counts(drover, program):
    """Polls /status from a thread while the block runs: the list of how many instances of
    program were running at each poll (filled once the block is over)."""
    seen, stop = [], threading.Event()

    def poll():
        while not stop.is_set():
            seen.append(sum(1 for _, st, _ in status(drover)[program] if st == "running"))

    t = threading.Thread(target=poll)
    t.start()
    try:
        yield seen
    finally:
        stop.set()
        t.join()


def plan_done(drover, count=1):
    """Waits for the end of a plan that took time (an instant one has no end line)."""
    drover.wait_log(r"plan: (reload|apply|reload \(SIGHUP\)) done", count=count, timeout=30)


def call_body(drover, method, path, body):
    """One request with a body on the control socket: (status, JSON)."""
    conn = UnixHTTPConnection(drover.control, timeout=20)
    try:
        data = body.encode() if isinstance(body, str) else body
        conn.request(method, path, body=data, headers={"Content-Length": str(len(data))})
        r = conn.getresponse()
        return r.status, json.loads(r.read() or b"null")
    finally:
        conn.close()


def put_tcp(port, body, token=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/config", data=body.encode(),
                                 method="PUT")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def ports(drover, program):
    code, body, _ = drover.call("GET", f"/status/{program}")
    return [i["port"] for i in body["programs"][program]]


def test_reload_keeps_unchanged_adds_removes_and_scales(drover):
    keep_p = prog("keep", 2, env={"PORT": "{{port}}"})
    start(drover, {"programs": [keep_p, prog("gone"), prog("grow", 1)]},
          args=["--port-range", "20100-20199"])
    all_running(drover, {"keep": 2, "gone": 1, "grow": 1})
    keep, grow = pids(drover, "keep"), pids(drover, "grow")
    keep_ports = ports(drover, "keep")
    assert all(keep_ports), keep_ports
    gone = pids(drover, "gone")[0]
    drover.write_config({"programs": [keep_p, prog("grow", 3), prog("new", 2)]})
    r = drover.cli("reload")
    assert r.returncode == 0, r.stderr
    assert '"gone": removed' in r.stdout and '"new": added, 2 instances start' in r.stdout
    assert '"grow": scale from 1 to 3' in r.stdout and '"keep": unchanged' in r.stdout
    all_running(drover, {"keep": 2, "grow": 3, "new": 2})
    assert pids(drover, "keep") == keep  # unchanged: same processes, same ports
    assert ports(drover, "keep") == keep_ports
    assert pids(drover, "grow")[0] == grow[0]  # a scale restarts nothing
    wait_until(lambda: not pid_alive(gone), 20, what="the removed program's process to end")
    plan_done(drover)
    # The restarts counters of unchanged programs are kept too.
    code, body, _ = drover.call("GET", "/status/keep")
    assert [i["restarts"] for i in body["programs"]["keep"]] == [0, 0]
    # The plan is in /events as plan steps; state changes keep their shape.
    code, body, _ = drover.call("GET", "/events")
    kinds = [e for e in body["events"] if e.get("kind") == "plan"]
    assert any(e["program"] == "gone" and e["action"] == "remove" for e in kinds), kinds
    assert any(e["action"] == "done" for e in kinds), kinds
    assert all("from" in e and "to" in e for e in body["events"] if "kind" not in e)
    assert drover.stop() == 0


def test_rolling_restart_keeps_enough_ready(drover):
    n, unavailable = 4, 1
    slow = {"name": "web", "command": SLOW_READY, "instances": n, "ready": "notify",
            "stop_timeout": "5s", "max_unavailable": unavailable}
    start(drover, {"programs": [slow]})
    all_running(drover, {"web": n})
    before = pids(drover, "web")
    with ready_counts(drover, "web") as seen:
        slow2 = dict(slow, env={"VERSION": "2"})
        drover.write_config({"programs": [slow2]})
        r = drover.cli("reload")
        assert r.returncode == 0, r.stderr
        assert "rolling restart of 4 instances, at most 1 not ready at once" in r.stdout, r.stdout
        plan_done(drover)
    after = pids(drover, "web")
    assert not set(before) & set(after), (before, after)  # every instance restarted
    assert len(seen) > 10, f"too few polls to judge the roll: {seen}"
    assert min(seen) >= n - unavailable, f"ready counts seen during the roll: {seen}"
    # One at a time: each restart comes after the previous replacement was ready.
    lines = drover.lines(r"web:(\d) pid=\d+ rolling restart \((\d) of 4\)")
    assert [m[2] for m in lines] == ["1", "2", "3", "4"]
    assert drover.stop() == 0


def test_sighup_reloads(drover):
    start(drover, {"programs": [prog("a")]})
    all_running(drover, {"a": 1})
    a = pids(drover, "a")
    drover.write_config({"programs": [prog("a"), prog("b")]})
    drover.send(signal.SIGHUP)
    drover.wait_log(r"received SIGHUP: reloading the configuration file")
    all_running(drover, {"a": 1, "b": 1})
    assert pids(drover, "a") == a
    assert drover.stop() == 0


def test_bad_config_changes_nothing(drover):
    start(drover, {"programs": [prog("a", 2)]})
    all_running(drover, {"a": 2})
    a = pids(drover, "a")
    good = drover.write_config({"programs": [prog("a", 2)]}).read_text()
    bad = '{"programs": [\n  {"name": "a", "command": ["x"], "instancs": 3}\n]}\n'
    drover.write_config(bad)
    r = drover.cli("reload")
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "config.json:2:35: programs[0].instancs: unknown key" in r.stderr, r.stderr
    bad_file = drover.write_config(bad, name="bad.json")
    r = drover.cli("apply", str(bad_file))
    assert r.returncode == 2 and f"{bad_file}:2:35: programs[0].instancs" in r.stderr, r.stderr
    code, body = call_body(drover, "PUT", "/config", bad)
    assert code == 400 and body["errors"][0].startswith("<api>:2:35: programs[0].instancs"), body
    # Nothing changed: the same processes, and a dry run against the good file finds no change.
    assert pids(drover, "a") == a
    drover.write_config(good)
    r = drover.cli("reload", "--dry-run")
    assert r.returncode == 0 and '"a": unchanged' in r.stdout, r.stdout
    assert drover.stop() == 0


def test_apply_from_stdin_when_started_from_stdin(drover):
    start(drover, {"programs": [prog("a")]}, stdin=True)
    all_running(drover, {"a": 1})
    r = drover.cli("reload")
    assert r.returncode == 1 and "the config came from stdin; use drover apply" in r.stderr, r.stderr
    env = dict(drover.env)
    text = json.dumps({"programs": [prog("a"), prog("b", 2)]})
    r = subprocess.run([DROVER_BIN, "apply", "-"], input=text, capture_output=True, text=True,
                       env=env, timeout=20)
    assert r.returncode == 0, r.stderr
    assert '"b": added, 2 instances start' in r.stdout
    all_running(drover, {"a": 1, "b": 2})
    assert drover.stop() == 0


def test_put_config_needs_the_token(drover):
    port = free_port()
    start(drover, {"programs": [prog("a")]}, args=["--http", f"127.0.0.1:{port}",
                                                    "--http-token", TOKEN])
    all_running(drover, {"a": 1})
    new = json.dumps({"programs": [prog("a"), prog("b")]})
    assert put_tcp(port, new)[0] == 401
    assert put_tcp(port, new, token="wrong-token-0123456789")[0] == 401
    assert set(status(drover)) == {"a"}  # refused: nothing changed
    code, body = put_tcp(port, new, token=TOKEN)
    assert code == 200, body
    assert [s["action"] for s in body["plan"]] == ["keep", "add"]
    all_running(drover, {"a": 1, "b": 1})
    # A POST to /config is not the call.
    assert api(port, "/config", "POST", token=TOKEN)[0] == 405
    assert drover.stop() == 0


def test_put_config_read_only_without_a_token(drover):
    port = free_port()
    start(drover, {"programs": [prog("a")]}, args=["--http", f"127.0.0.1:{port}"])
    all_running(drover, {"a": 1})
    assert put_tcp(port, json.dumps({"programs": [prog("b")]}))[0] == 403
    assert set(status(drover)) == {"a"}
    assert drover.stop() == 0


def test_a_running_plan_refuses_another(drover):
    # Ready when its gate file exists: the new config's gate is opened by the test, so the
    # roll is held at its first replacement for as long as the test needs, whatever the load.
    def web(gate):
        return {"name": "web", "command": [helper("sleeper")], "instances": 3, "stop_timeout": "5s",
                "ready": {"command": ["test", "-e", drover.path(gate)], "interval": "50ms"}}
    open(drover.path("gate1"), "w").close()
    start(drover, {"programs": [web("gate1")]})
    all_running(drover, {"web": 3})
    drover.write_config({"programs": [web("gate2")]})
    code, body, _ = drover.call("POST", "/reload")
    assert code == 200 and body["running"], body
    code, body, _ = drover.call("POST", "/reload")
    assert code == 409 and "a plan is running" in body["error"], body
    r = drover.cli("apply", "--dry-run", str(drover.dir / "config.json"))
    assert r.returncode == 1 and "a plan is running" in r.stderr, r.stderr
    code, body = call_body(drover, "PUT", "/config", json.dumps({"programs": [web("gate1")]}))
    assert code == 409, body
    # Held: one instance restarting, the other two ready with their old processes.
    states = [st for _, st, _ in status(drover)["web"]]
    assert states.count("running") == 2, states
    open(drover.path("gate2"), "w").close()
    plan_done(drover)
    all_running(drover, {"web": 3})
    code, body, _ = drover.call("POST", "/reload")
    assert code == 200 and not body["running"], body  # nothing left to change
    assert drover.stop() == 0


def test_dry_run_changes_nothing(drover):
    start(drover, {"programs": [prog("a"), prog("b")]})
    all_running(drover, {"a": 1, "b": 1})
    before = status(drover)
    new = {"programs": [prog("a", command=[helper("sleeper"), "x"]), prog("c")]}
    drover.write_config(new)
    r = drover.cli("reload", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "plan (dry run: nothing changed):" in r.stdout
    assert '"a": rolling restart' in r.stdout and '"b": removed' in r.stdout
    assert '"c": added' in r.stdout
    code, body = call_body(drover, "PUT", "/config?dry_run=1", json.dumps(new))
    assert code == 200 and body["dry_run"] and body["saved"] is None, body
    r = drover.cli("apply", "--dry-run", str(drover.dir / "config.json"))
    assert r.returncode == 0 and "dry run" in r.stdout
    assert status(drover) == before
    assert not drover.lines(r"plan: ")
    assert drover.stop() == 0


def test_applied_config_survives_kill9_with_adopt(drover):
    dump = drover.path("dump.json")
    args = ["--dumpfile", dump, "--adopt"]
    start(drover, {"programs": [prog("a")]}, args=args)
    all_running(drover, {"a": 1})
    applied = drover.write_config({"programs": [prog("a"), prog("b", 2)]}, name="applied.json")
    r = drover.cli("apply", str(applied))
    assert r.returncode == 0, r.stderr
    assert f"saved to {dump}.config.json" in r.stdout, r.stdout
    all_running(drover, {"a": 1, "b": 2})
    a, b = pids(drover, "a"), pids(drover, "b")
    wait_until(lambda: os.path.exists(dump) and '"b"' in open(dump).read(), 20,
               what="the dumpfile to list b")
    drover.kill9()
    # Started again on the original file: the applied config is the one in force.
    start(drover, {"programs": [prog("a")]}, args=args)
    drover.wait_log(r"--adopt: resuming the configuration last applied over the API, saved in "
                    + dump + r"\.config\.json")
    all_running(drover, {"a": 1, "b": 2})
    assert pids(drover, "a") == a and pids(drover, "b") == b  # adopted, not restarted
    # A reload from the file puts the file in force again, and removes the saved copy.
    r = drover.cli("reload")
    assert r.returncode == 0, r.stderr
    assert '"b": removed' in r.stdout
    assert not os.path.exists(dump + ".config.json")
    all_running(drover, {"a": 1})
    assert drover.stop() == 0


def test_kill9_mid_roll_restarts_what_the_roll_had_not_reached_with_adopt(drover):
    dump = drover.path("dump.json")
    args = ["--dumpfile", dump, "--adopt"]
    # Each replacement takes a while to be ready: the roll is still at w:0 when drover dies.
    slow = {"name": "w", "command": SLOW_READY, "instances": 2, "ready": "notify",
            "stop_timeout": "5s", "env": {"V": "1"}}
    start(drover, {"programs": [slow]}, args=args)
    all_running(drover, {"w": 2})
    old1 = pids(drover, "w")[1]
    applied = drover.write_config({"programs": [dict(slow, env={"V": "2"})]}, name="applied.json")
    assert drover.cli("apply", str(applied)).returncode == 0
    drover.wait_log(r"w:0 pid=\d+ rolling restart \(1 of 2\)")
    def stale_on_record():
        try:
            c = json.load(open(dump))
        except (OSError, ValueError):
            return False
        return any(e["instance"] == 1 and e.get("stale") for e in c["instances"])
    wait_until(stale_on_record, 20, what=lambda: f"w:1 on record as stale: {open(dump).read()}")
    drover.kill9()
    start(drover, {"programs": [slow]}, args=args)
    drover.wait_log(rf"pid {old1} \(w:1\) still runs the configuration a rolling restart was "
                    r"replacing when the earlier drover died: stopping it")
    all_running(drover, {"w": 2})
    new1 = pids(drover, "w")[1]
    assert new1 != old1
    wait_until(lambda: not pid_alive(old1), 20, what=f"w:1's old process {old1} to be gone")
    with open(f"/proc/{new1}/environ", "rb") as f:
        assert b"V=2" in f.read().split(b"\0")
    assert drover.stop() == 0


def test_kill9_while_a_program_is_replaced_keeps_its_count_with_adopt(drover):
    dump = drover.path("dump.json")
    args = ["--dumpfile", dump, "--adopt"]
    slow = prog("a", 2, command=[helper("sleeper"), "--exit-on-term-after-ms", "3000"],
                stop_timeout="20s")
    start(drover, {"programs": [slow]}, args=args)
    all_running(drover, {"a": 2})
    applied = drover.write_config({"programs": [dict(slow, max_instances=30)]}, name="applied.json")
    r = drover.cli("apply", str(applied))
    assert r.returncode == 0 and '"a": replaced' in r.stdout, r.stdout
    # On record while the old one drains: its way out (0 instances) is not a scale to keep.
    def drained_on_record():
        try:
            c = json.load(open(dump))
        except (OSError, ValueError):
            return False
        return "a" not in c.get("scales", {"a": None})
    wait_until(drained_on_record, 20, what=lambda: f"a checkpoint without a's scale: {open(dump).read()}")
    drover.kill9()
    start(drover, {"programs": [slow]}, args=args)
    all_running(drover, {"a": 2})
    assert drover.stop() == 0


def test_saved_config_ignored_without_adopt(drover):
    dump = drover.path("dump.json")
    start(drover, {"programs": [prog("a")]}, args=["--dumpfile", dump])
    all_running(drover, {"a": 1})
    code, body = call_body(drover, "PUT", "/config", json.dumps({"programs": [prog("b")]}))
    assert code == 200 and body["saved"] == dump + ".config.json", body
    all_running(drover, {"b": 1})
    assert drover.stop() == 0
    start(drover, {"programs": [prog("a")]}, args=["--dumpfile", dump])
    all_running(drover, {"a": 1})
    # Stale now: removed, so that a later --adopt cannot resume a config from an earlier life.
    drover.wait_log(r"removed " + dump + r"\.config\.json, a configuration an earlier drover applied")
    assert not os.path.exists(dump + ".config.json")
    drover.kill9()
    start(drover, {"programs": [prog("a")]}, args=["--dumpfile", dump, "--adopt"])
    all_running(drover, {"a": 1})
    assert "b" not in status(drover)
    assert drover.stop() == 0


def test_max_instances_change_replaces_the_program(drover):
    start(drover, {"programs": [prog("a", 2)]})
    all_running(drover, {"a": 2})
    before = pids(drover, "a")
    drover.write_config({"programs": [prog("a", 2, max_instances=30)]})
    r = drover.cli("reload")
    assert r.returncode == 0 and '"a": replaced' in r.stdout, r.stdout
    plan_done(drover)
    all_running(drover, {"a": 2})
    assert not set(before) & set(pids(drover, "a"))
    r = drover.cli("scale", "a", "25")
    assert r.returncode == 0, r.stderr  # the new slots are there
    assert drover.stop() == 0


def test_live_keys_change_without_restart(drover):
    start(drover, {"programs": [prog("a", 2)]})
    all_running(drover, {"a": 2})
    before = pids(drover, "a")
    drover.write_config({"silence": "7s", "programs": [prog("a", 2, silence="3s", max_silent=1,
                                                            stop_timeout="2s")]})
    r = drover.cli("reload")
    assert r.returncode == 0, r.stderr
    assert '"a": updated in place, no restart' in r.stdout and "settings applied now: silence" \
        in r.stdout, r.stdout
    code, body, _ = drover.call("GET", "/health?program=a")
    assert body["thresholds"]["silence_seconds"] == 3, body
    assert pids(drover, "a") == before
    assert drover.stop() == 0


def test_roll_halts_when_a_replacement_goes_fatal(drover):
    start(drover, {"programs": [prog("w", 3)]})
    all_running(drover, {"w": 3})
    before = pids(drover, "w")
    drover.write_config({"programs": [prog("w", 3, command=[drover.path("no-such-program")])]})
    r = drover.cli("reload")
    assert r.returncode == 0, r.stderr
    drover.wait_log(r'plan: "w": rolling restart halted: w:0 went fatal with the new '
                    r'configuration; 2 instances keep their old processes', timeout=30)
    plan_done(drover)
    s = status(drover)["w"]
    assert s[0][1] == "fatal"
    assert [pid for _, _, pid in s[1:]] == before[1:]  # the rest untouched
    # The plan is over: a fixed configuration is taken, and rolls the instances again.
    drover.write_config({"programs": [prog("w", 3, env={"V": "2"})]})
    r = drover.cli("reload")
    assert r.returncode == 0 and '"w": rolling restart of 3 instances' in r.stdout, r.stdout
    plan_done(drover, count=2)
    all_running(drover, {"w": 3})  # the fatal one too: a new configuration is a fresh start
    assert not set(before) & set(pids(drover, "w"))
    assert drover.stop() == 0


def test_a_crash_looping_replacement_halts_the_roll_and_a_fix_is_taken(drover):
    # No yo-yo limit: the bad replacement never goes fatal, it restarts for ever (it exits
    # before start_seconds, so it is never ready). The roll must not wait for it (and refuse
    # every later reload meanwhile).
    crash = prog("w", 2, yoyo=False, backoff={"initial": "50ms", "max": "200ms"},
                 start_seconds="0.3s")
    start(drover, {"programs": [crash]})
    all_running(drover, {"w": 2})
    before = pids(drover, "w")
    drover.write_config({"programs": [dict(crash, command=[helper("exit_with"), "1"])]})
    assert drover.cli("reload").returncode == 0
    drover.wait_log(r'plan: "w": rolling restart halted: w:0 failed \(exited again\) with the new '
                    r'configuration; 1 instance keep their old processes', timeout=30)
    plan_done(drover)
    assert pids(drover, "w")[1] == before[1]  # the other keeps its old process
    # The operator's fix is taken (no 409), and rolls both back to a good command.
    drover.write_config({"programs": [dict(crash, env={"FIXED": "1"})]})
    r = drover.cli("reload")
    assert r.returncode == 0 and '"w": rolling restart of 2 instances' in r.stdout, (r.stdout, r.stderr)
    plan_done(drover, count=2)
    all_running(drover, {"w": 2})
    assert drover.stop() == 0


def test_max_unavailable_two_restarts_two_at_once(drover):
    slow = {"name": "web", "command": SLOW_READY, "instances": 4, "ready": "notify",
            "stop_timeout": "5s", "max_unavailable": 2}
    start(drover, {"programs": [slow]})
    all_running(drover, {"web": 4})
    with ready_counts(drover, "web") as seen:
        drover.write_config({"programs": [dict(slow, env={"V": "2"})]})
        assert drover.cli("reload").returncode == 0
        plan_done(drover)
    assert min(seen) >= 2, seen
    # The first two go together, before either replacement is ready.
    log = drover.log()
    first = log.index("rolling restart (1 of 4)")
    second = log.index("rolling restart (2 of 4)")
    assert "stopping -> running" not in log[first:second] and \
        "starting -> running" not in log[first:second], log[first:second]
    assert drover.stop() == 0


def test_a_config_body_over_1_mib_and_a_head_over_32_kib_are_refused(drover):
    """Every input has a size limit (docs/SECURITY.md): a PUT /config body past 1 MiB is a
    400 and changes nothing; a request head past 32 KiB is libmicrohttpd's 431."""
    port = free_port()
    start(drover, {"programs": [prog("a")]}, args=["--http", f"127.0.0.1:{port}",
                                                    "--http-token", TOKEN])
    all_running(drover, {"a": 1})
    big = json.dumps({"programs": [prog("a"), prog("b")], "pad": "x" * (1 << 20)})
    code, body = put_tcp(port, big, token=TOKEN)
    assert code == 400, (code, body)
    assert set(status(drover)) == {"a"}
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"y" * (40 << 10) + b"\r\n\r\n")
        head = s.recv(4096).split(b"\r\n", 1)[0]
    assert head.startswith(b"HTTP/1.1 431"), head
    assert api(port, "/livez")[0] == 200  # and drover serves on
    assert drover.stop() == 0

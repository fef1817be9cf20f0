"""The control socket (--control): its file (mode 0600, one drover per path,
a stale one replaced, a foreign file or a socket another program serves
never touched), the control calls
(start, stop, restart, signal, scale, shutdown) with their errors, and the
bearer token that opens them over TCP (--http-token)."""
import json
import os
import resource
import signal
import socket
import stat
import subprocess

import pytest

from conftest import DROVER_BIN, api, free_port, helper, pid_alive, read_pid, wait_until

TOKEN = "s3cret-token-0123456789"


def states(drover, program):
    code, body, _ = drover.call("GET", f"/status/{program}")
    assert code == 200, body
    return [(i["instance"], i["state"]) for i in body["programs"][program]]


def pool(instances=2, **extra):
    return {"programs": [{"name": "w", "command": [helper("sleeper")], "instances": instances,
                          "start_seconds": 0, "stop_timeout": "5s", **extra}]}


def start(drover, config=None, args=()):
    """Starts drover and waits until its control socket is up (this run's, not an earlier one's)."""
    ready = r"control socket .* \(mode 0600\)"
    before = len(drover.lines(ready))
    drover.start(config or pool(), args=list(args))
    drover.wait_log(ready, count=before + 1)
    return drover


def test_socket_is_mode_0600_and_removed_at_exit(drover):
    start(drover)
    st = os.stat(drover.control)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == os.geteuid()
    assert drover.call("GET", "/livez")[0] == 200
    assert drover.stop() == 0
    assert not os.path.exists(drover.control)
    assert not os.path.exists(drover.control + ".lock")


def test_control_off_and_flag_override(drover):
    start(drover, args=["--control", drover.path("other.sock")])
    assert os.path.exists(drover.path("other.sock")) and not os.path.exists(drover.control)
    assert drover.stop() == 0  # (a stop during the first start leaves the rest unstarted)
    before = len(drover.spawns("w:1"))
    drover.start(pool(), args=["--control", "off"])
    drover.wait_spawns("w:1", before + 1)
    assert not os.path.exists(drover.control)
    assert drover.stop() == 0


def test_second_drover_on_the_same_socket_is_refused(drover):
    start(drover)
    first = drover.wait_spawns("w:0", 1)[0][1]
    r = drover.run(pool(), args=["--dumpfile", drover.path("other.dump")])
    assert r.returncode == 1
    assert f"control socket {drover.control} belongs to a running drover" in r.stderr
    assert "spawned" not in r.stderr
    assert pid_alive(first) and drover.call("GET", "/livez")[0] == 200
    assert drover.stop() == 0


def test_stale_socket_is_replaced_and_a_regular_file_is_not(drover):
    start(drover)
    drover.wait_spawns("w:1", 1)  # no spawn in flight: cleanup() finds every instance in the log
    drover.kill9()  # leaves the socket file behind
    drover.cleanup()
    assert os.path.exists(drover.control)
    start(drover)
    assert drover.call("GET", "/livez")[0] == 200
    assert drover.stop() == 0
    with open(drover.control, "w") as f:
        f.write("precious\n")
    r = drover.run(pool())
    assert r.returncode == 1 and "exists and is not a socket" in r.stderr
    assert open(drover.control).read() == "precious\n"


@pytest.mark.parametrize("backlog", ["room", "full"])
def test_live_foreign_socket_is_kept(drover, backlog):
    """A socket another program serves at --control PATH (no drover holds PATH.lock) is
    neither replaced nor deleted: drover exits 1, nothing started. A full backlog (connect
    would block) counts as served too."""
    foreign = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    foreign.bind(drover.control)
    foreign.listen(0 if backlog == "full" else 8)
    waiting = []
    try:
        if backlog == "full":
            for _ in range(16):  # one pending connection fills a backlog of 0; bounded anyway
                c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                c.setblocking(False)
                waiting.append(c)
                try:
                    c.connect(drover.control)
                except BlockingIOError:
                    break
        drover.start(pool())
        wait_until(lambda: drover.proc.poll() is not None, timeout=20,
                   what="drover to refuse the foreign socket and exit")
        assert drover.proc.returncode == 1, drover.log()
        assert (f"control socket {drover.control} is in use by another program (not a drover "
                "with this lock): not replacing it") in drover.log()
        assert "spawned" not in drover.log()
        assert stat.S_ISSOCK(os.lstat(drover.control).st_mode)
        # Still the foreign program's: once it accepts what is pending, a new client reaches it.
        foreign.setblocking(False)
        while True:
            try:
                foreign.accept()[0].close()
            except BlockingIOError:
                break
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
            c.setblocking(False)
            c.connect(drover.control)  # an empty backlog: at once
            foreign.settimeout(10)
            foreign.accept()[0].close()
    finally:
        for c in waiting:
            c.close()
        foreign.close()


def test_stop_start_restart(drover):
    start(drover)
    drover.wait_spawns("w:1", 1)
    pid0, pid1 = drover.current("w:0")[0], drover.current("w:1")[0]
    code, body, _ = drover.call("POST", "/stop/w:1")
    assert code == 200 and body["action"] == "stop" and body["target"] == "w:1"
    assert [i["name"] for i in body["instances"]] == ["w:1"]
    wait_until(lambda: states(drover, "w") == [(0, "running"), (1, "stopped")], what="w:1 stopped")
    assert not pid_alive(pid1) and pid_alive(pid0)
    code, body, _ = drover.call("POST", "/start/w:1")
    assert code == 200
    drover.wait_spawns("w:1", 2)
    code, body, _ = drover.call("POST", "/restart/w")
    assert code == 200 and [i["name"] for i in body["instances"]] == ["w:0", "w:1"]
    drover.wait_spawns("w:0", 2)
    drover.wait_spawns("w:1", 3)
    assert not pid_alive(pid0)
    code, body, _ = drover.call("POST", "/stop/all")
    assert code == 200
    wait_until(lambda: states(drover, "w") == [(0, "stopped"), (1, "stopped")], what="all stopped")
    assert drover.call("POST", "/start/all")[0] == 200
    wait_until(lambda: states(drover, "w") == [(0, "running"), (1, "running")], what="all running")
    assert drover.stop() == 0


def test_signal_reaches_the_main_process(drover):
    start(drover)
    drover.wait_spawns("w:1", 1)
    pid = drover.current("w:0")[0]
    code, body, _ = drover.call("POST", "/signal/w:0?signal=KILL")
    assert code == 200 and body["action"] == "signal"
    drover.wait_log(r"w:0 pid=\d+ sent signal KILL \(control call\)")
    drover.wait_log(r"w:0 pid=\d+ killed by signal KILL")
    drover.wait_spawns("w:0", 2)
    assert not pid_alive(pid)
    for bad in ["signal=NOPE", "signal=", "signal=0", ""]:
        code, body, _ = drover.call("POST", f"/signal/w?{bad}")
        assert code == 400 and body["parameter"] == "signal", (bad, body)
    assert drover.stop() == 0


def test_scale_up_and_down(drover):
    start(drover, pool(instances=1, max_instances=4))
    drover.wait_spawns("w:0", 1)
    code, body, _ = drover.call("POST", "/scale/w?instances=3")
    assert code == 200 and body["from"] == 1 and body["to"] == 3
    drover.wait_spawns("w:2", 1)
    wait_until(lambda: states(drover, "w") == [(0, "running"), (1, "running"), (2, "running")],
               what="three running")
    pid1, pid2 = drover.current("w:1")[0], drover.current("w:2")[0]
    code, body, _ = drover.call("POST", "/scale/w?instances=1")
    assert code == 200 and body["from"] == 3 and body["to"] == 1
    wait_until(lambda: states(drover, "w") == [(0, "running")], what="scaled back to one")
    assert not pid_alive(pid1) and not pid_alive(pid2)
    drover.wait_log(r"w:2 left the pool")
    # Beyond max_instances, or not a number: 400 naming the parameter; nothing changes.
    for bad in ["instances=5", "instances=-1", "instances=x", ""]:
        code, body, _ = drover.call("POST", f"/scale/w?{bad}")
        assert code == 400 and body["parameter"] == "instances", (bad, body)
    assert drover.call("POST", "/scale/w:0?instances=2")[0] == 400
    assert drover.call("POST", "/scale/nope?instances=2")[0] == 404
    # To zero and back: fresh slots, no counters from their earlier life.
    assert drover.call("POST", "/scale/w?instances=0")[0] == 200
    
    wait_until(lambda: drover.call("GET", "/status")[1]["programs"].get("w") is None,
               what="no instance left")
    # Still a program: known to /status/w and /health?program=w, with nothing in it.
    assert drover.call("GET", "/status/w")[:2] == (200, {"programs": {"w": []}})
    code, body, _ = drover.call("GET", "/health?program=w")
    assert code == 200 and body["counts"]["instances"] == 0
    assert drover.call("POST", "/scale/w?instances=2")[0] == 200
    wait_until(lambda: states(drover, "w") == [(0, "running"), (1, "running")], what="two again")
    _, body, _ = drover.call("GET", "/status/w")
    assert [i["restarts"] for i in body["programs"]["w"]] == [0, 0]
    assert drover.stop() == 0


def test_errors_name_what_is_wrong(drover):
    start(drover)
    cases = [
        ("POST", "/stop/nope", 404, "no such program"),
        ("POST", "/stop/w:7", 404, "no such instance"),
        ("POST", "/stop/w:x", 404, "no such instance"),
        ("POST", "/stop/w:-1", 404, "no such instance"),
        ("POST", "/stop/w:01", 404, "no such instance"),  # one spelling per instance
        ("POST", "/stop/w:", 404, "no such instance"),
        ("POST", "/scale/w?instances=01", 400, "bad query parameter"),
        ("POST", "/stop", 404, "missing target"),
        ("POST", "/shutdown/w", 404, "shutdown takes no target"),
        ("GET", "/stop/w", 405, "POST"),
        ("POST", "/status", 405, "method not allowed"),
        ("DELETE", "/status", 405, "method not allowed"),
    ]
    for method, path, code, text in cases:
        got, body, _ = drover.call(method, path)
        assert got == code and text in body["error"], (method, path, got, body)
    assert states(drover, "w") == [(0, "running"), (1, "running")]  # nothing was touched
    assert drover.stop() == 0


def test_shutdown_call_stops_everything_and_exits(drover):
    start(drover)
    drover.wait_spawns("w:1", 1)
    pids = [drover.current(f"w:{i}")[0] for i in (0, 1)]
    code, body, _ = drover.call("POST", "/shutdown")
    assert code == 200 and body == {"action": "shutdown"}
    assert drover.wait_exit(20, "of the shutdown call") == 0
    assert not any(pid_alive(p) for p in pids)
    assert not os.path.exists(drover.control)
    drover.wait_log(r"shutdown requested by a control call: stopping all instances")


def test_control_calls_while_shutting_down_are_409(drover):
    pidfile = drover.path("slow.pid")
    start(drover, {"programs": [{"name": "slow", "start_seconds": 0, "stop_timeout": "60s",
                                 "command": [helper("sleeper"), "--ignore-term", "--pidfile", pidfile]}]})
    read_pid(pidfile)  # its TERM handler is installed once the pidfile exists
    drover.send(signal.SIGTERM)
    drover.wait_log(r"stopping all instances")
    code, body, _ = drover.call("POST", "/start/all")
    assert code == 409 and "shutting down" in body["error"]
    drover.send(signal.SIGTERM)  # the second one kills every group at once
    assert drover.wait_exit(20, "of the second SIGTERM") == 4  # a SIGKILL was needed: not a clean stop


def test_tcp_is_read_only_without_a_token(drover):
    port = free_port()
    start(drover, args=["--http", f"127.0.0.1:{port}"])
    drover.wait_log(r"serving HTTP .*\(read-only\)")
    assert api(port, "/stop/all", "POST")[0] == 403
    assert api(port, "/stop/all", "POST", token=TOKEN)[0] == 403
    assert api(port, "/status", "GET")[0] == 200
    assert states(drover, "w") == [(0, "running"), (1, "running")]
    assert drover.stop() == 0


def test_tcp_control_calls_need_the_bearer_token(drover):
    port = free_port()
    token_file = drover.path("token")
    with open(token_file, "w") as f:
        f.write(TOKEN + "\n")
    start(drover, args=["--http", f"127.0.0.1:{port}", "--http-token-file", token_file])
    drover.wait_spawns("w:1", 1)
    code, _, headers = api(port, "/stop/w:0", "POST")
    assert code == 401 and headers["WWW-Authenticate"].startswith("Bearer")
    for wrong in ["", "x", TOKEN[:-1], TOKEN + "x", TOKEN.upper()]:
        assert api(port, "/stop/w:0", "POST", token=wrong)[0] == 401, wrong
    assert states(drover, "w") == [(0, "running"), (1, "running")]
    assert api(port, "/status", "GET")[0] == 200  # reading needs no token
    assert api(port, "/stop/w:0", "POST", token=TOKEN)[0] == 200
    wait_until(lambda: states(drover, "w") == [(0, "stopped"), (1, "running")], what="w:0 stopped")
    assert TOKEN not in drover.log()
    assert drover.stop() == 0


def test_bad_control_settings_are_refused(drover):
    for args, text in [
        (["--http-token", "short"], "--http-token: a bearer token has 16 to 256 characters"),
        (["--http-token", "has space in it 0123456789"], "letters, digits"),
        (["--http-token", TOKEN, "--http-token-file", "/nonexistent"], "give one of them"),
        (["--http-token-file", "/nonexistent/token"], "--http-token-file /nonexistent/token: cannot read"),
        (["--control", ""], "--control: expected a socket path"),
        (["--control", "/tmp/" + "x" * 120], "longer than 107 bytes"),
    ]:
        r = drover.run(pool(), args=args)
        assert r.returncode == 2 and text in r.stderr, (args, r.stderr)
        assert "spawned" not in r.stderr
    for extra, text in [
        ({"control": 5}, "control: expected a socket path, or false"),
        ({"http_token": "short"}, "http_token: a bearer token has 16 to 256 characters"),
    ]:
        r = drover.run({**pool(), **extra})
        assert r.returncode == 2 and text in r.stderr, (extra, r.stderr)
    r = drover.run(pool(instances=4, max_instances=2))
    assert r.returncode == 2 and "max_instances (2) is less than instances (4)" in r.stderr


def test_slow_and_many_clients_do_not_delay_supervision(drover):
    """300 half-sent requests on TCP (over the 256-connection limit) and one on the control
    socket: restarts go on, the control socket still answers, idle ones are cut at 10 s."""
    port = free_port()
    start(drover, args=["--http", f"127.0.0.1:{port}"])
    drover.wait_spawns("w:1", 1)
    held = []
    try:
        for i in range(300):
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=10)
            except TimeoutError:
                raise AssertionError(f"TCP connection {i + 1} of 300 to drover's HTTP port not "
                                     "established within 10 s") from None
            s.sendall(b"GET /status HTTP/1.1\r\nHost: x\r\n")  # never finished
            held.append(s)
        slow = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        slow.connect(drover.control)
        slow.sendall(b"GET /sta")
        held.append(slow)

        def trickle():
            # One more byte of the never-finished request line: the slow client stays, whatever
            # the time each step below takes (each is bounded far below the 10 s idle timeout).
            slow.sendall(b"t")
        pid = drover.current("w:0")[0]
        os.kill(pid, signal.SIGKILL)
        drover.wait_spawns("w:0", 2)
        trickle()
        assert drover.call("GET", "/livez")[0] == 200
        trickle()
        assert drover.call("POST", "/restart/w:1")[0] == 200
        trickle()
        drover.wait_spawns("w:1", 2)
        # The half-sent control request is still open meanwhile; the idle timeout (10 s) closes it.
        slow.setblocking(False)
        with pytest.raises(BlockingIOError):
            slow.recv(1)
        slow.settimeout(100)
        try:
            assert slow.recv(100) == b""
        except TimeoutError:
            raise AssertionError("the control socket did not close the idle half-sent request "
                                 "within 100 s (its idle timeout is 10 s)") from None
    finally:
        for s in held:
            s.close()
    def answers():
        try:
            return api(port, "/livez", "GET")[0] == 200
        except OSError:  # still draining the closed ones on a loaded machine
            return False
    wait_until(answers, timeout=30, what="TCP answers again")
    assert drover.stop() == 0


def test_adopt_keeps_a_scaled_up_pool(drover):
    """kill -9 of a drover scaled from 2 to 4: with --adopt the new one takes all 4 survivors
    (same pids) and keeps the scale; without it, the config's 2 are started afresh."""
    dump = drover.path("dump.json")
    start(drover, pool(instances=2, max_instances=4), args=["--dumpfile", dump])
    assert drover.call("POST", "/scale/w?instances=4")[0] == 200
    drover.wait_spawns("w:3", 1)
    wait_until(lambda: len(json.load(open(dump))["instances"]) == 4, what="4 in the dumpfile")
    pids = [drover.current(f"w:{i}")[0] for i in range(4)]
    drover.kill9()
    start(drover, pool(instances=2, max_instances=4), args=["--dumpfile", dump, "--adopt"])
    drover.wait_log(r"adopted 4 instances")
    drover.wait_log(r'"w": 4 instances, the scale the earlier drover had \(config: 2\)')
    _, body, _ = drover.call("GET", "/status/w")
    assert [(i["pid"], i["state"]) for i in body["programs"]["w"]] == [(p, "running") for p in pids]
    assert drover.stop() == 0
    assert not any(pid_alive(p) for p in pids)


def test_adopt_keeps_a_scaled_down_pool(drover):
    """kill -9 of a drover scaled from 3 to 1: the scale is on record, so with --adopt the new
    one adopts w:0 and starts no w:1 or w:2; the dumpfile records the scale of every program."""
    dump = drover.path("dump.json")
    start(drover, pool(instances=3, max_instances=4), args=["--dumpfile", dump])
    drover.wait_spawns("w:2", 1)
    assert drover.call("POST", "/scale/w?instances=1")[0] == 200
    wait_until(lambda: json.load(open(dump)).get("scales") == {"w": {"instances": 1, "configured": 3}}
               and len(json.load(open(dump))["instances"]) == 1, what="scale 1 and 1 instance on record")
    kept = drover.current("w:0")[0]
    drover.kill9()
    start(drover, pool(instances=3, max_instances=4), args=["--dumpfile", dump, "--adopt"])
    drover.wait_log(r"adopted 1 instance")
    drover.wait_log(r'"w": 1 instances, the scale the earlier drover had \(config: 3\)')
    _, body, _ = drover.call("GET", "/status/w")
    assert [(i["pid"], i["state"]) for i in body["programs"]["w"]] == [(kept, "running")], body
    # Only the first drover's spawns of w:1 and w:2: the new one started neither.
    assert len(drover.spawns("w:1")) == len(drover.spawns("w:2")) == 1, drover.log()
    assert drover.stop() == 0
    assert not pid_alive(kept)


def test_adopt_takes_an_edited_instances_count_over_the_recorded_scale(drover):
    """The recorded scale was set against instances 2; the config now says 3: the config wins,
    and the survivors of the earlier drover are adopted into it."""
    dump = drover.path("dump.json")
    start(drover, pool(instances=2, max_instances=4), args=["--dumpfile", dump])
    drover.wait_spawns("w:1", 1)
    wait_until(lambda: len(json.load(open(dump))["instances"]) == 2, what="2 instances on record")
    pids = [drover.current(f"w:{i}")[0] for i in range(2)]
    drover.kill9()
    start(drover, pool(instances=3, max_instances=4), args=["--dumpfile", dump, "--adopt"])
    drover.wait_log(r"adopted 2 instances")
    drover.wait_spawns("w:2", 1)
    _, body, _ = drover.call("GET", "/status/w")
    assert [i["pid"] for i in body["programs"]["w"]][:2] == pids and len(body["programs"]["w"]) == 3, body
    assert not drover.lines(r"the scale the earlier drover had"), drover.log()
    assert drover.stop() == 0


def test_out_of_descriptors_the_control_socket_still_answers(drover):
    """B14: with RLIMIT_NOFILE 64 and 100 instances, the spawns take every descriptor and long
    polls held on TCP the last ones. The control socket keeps a reserve descriptor, so status and
    scale still work; the spawn failure is logged once for the streak, not once per retry."""
    port = free_port()
    limit = lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))  # noqa: E731
    ready = r"control socket .* \(mode 0600\)"
    drover.start(pool(instances=100, max_instances=100), args=["--http", f"127.0.0.1:{port}"],
                 preexec_fn=limit)
    drover.wait_log(ready)
    drover.wait_log(r"cannot create a process: Too many open files")
    held = []
    try:
        for _ in range(20):  # more than the descriptors left: the rest wait in the backlog
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(b"GET /events?since=999999&wait=60 HTTP/1.1\r\nHost: x\r\n\r\n")
            held.append(s)
        wait_until(lambda: len(os.listdir(f"/proc/{drover.proc.pid}/fd")) == 64, timeout=30,
                   what="drover to have used all of its 64 descriptors")
        r = drover.cli("status")
        assert r.returncode == 0, r.stderr
        assert len([line for line in r.stdout.splitlines() if line.startswith("w:")]) == 100
        for _ in range(3):  # each takes the reserve again: one streak, said once
            assert drover.cli("status").returncode == 0
        assert len(drover.lines(r"control socket: out of descriptors")) == 1, drover.log()
        assert not drover.lines(r"control socket: descriptors are available again"), drover.log()
        r = drover.cli("scale", "w", "10")
        assert r.returncode == 0 and "w: 100 -> 10 instances" in r.stdout, (r.stdout, r.stderr)
        wait_until(lambda: len(states(drover, "w")) == 10, timeout=30, what="w scaled to 10")
        assert len(drover.lines(r"cannot create a process")) == 1, drover.log()
        assert drover.cli("scale", "w", "20").returncode == 0
        drover.wait_log(r"spawning works again, after \d+ attempts that found no free descriptor")
        wait_until(lambda: states(drover, "w") == [(i, "running") for i in range(20)], timeout=30,
                   what="20 running")
    finally:
        for s in held:
            s.close()
    assert drover.stop() == 0


def test_cli_refuses_a_name_that_is_not_one_before_asking(drover):
    """B16: `drover stop $'\\xff'` sent the name and printed the daemon's "out of memory" (exit
    1); now a name no config can have is a usage error (exit 2) before any request: here there is
    no daemon at all, which would be exit 3."""
    env = dict(drover.env, DROVER_CONTROL=drover.path("nobody.sock"))
    for args in [[b"stop", b"\xff"], [b"status", b"w\xc0:1"], [b"signal", b"w;x", b"HUP"],
                 [b"scale", b"a b", b"2"], [b"health", b"\x1b[2J"], [b"restart", b"x" * 65]]:
        r = subprocess.run([os.fsencode(DROVER_BIN), *args], capture_output=True, env=env, timeout=20)
        assert r.returncode == 2, (args, r.stderr)
        assert b"not a valid name" in r.stderr and b"cannot reach" not in r.stderr, (args, r.stderr)
    r = subprocess.run([DROVER_BIN, "stop", "\udcff"], capture_output=True, env=env, timeout=20)
    assert b"bad NAME '\\xff'" in r.stderr, r.stderr  # shown escaped, never raw
    # Every usage error quotes what was typed escaped: a signal, a count, a command, a stray word.
    for args, shown in [([b"signal", b"w", b"\xff"], b"bad signal '\\xff'"),
                        ([b"scale", b"w", b"\x1b[2J"], b"bad instance count '\\x1b[2J'"),
                        ([b"status", b"--x\xfe"], b"unknown option '--x\\xfe'"),
                        ([b"\xfe"], b"unexpected argument (the configuration comes from stdin or "
                                     b"--config): '\\xfe'")]:
        r = subprocess.run([os.fsencode(DROVER_BIN), *args], capture_output=True, env=env, timeout=20)
        assert r.returncode == 2 and shown in r.stderr, (args, r.stderr)
        assert not any(b in r.stderr for b in (b"\xff", b"\xfe", b"\x1b", b"\x07")), (args, r.stderr)


def test_a_refused_call_logs_what_was_sent_escaped(drover):
    """The refusal's log line quoted the request method as it came: ESC, BEL, CR and bytes
    that are not UTF-8 reached drover's log (and the operator's terminal). Now escaped."""
    port = free_port()
    token_file = drover.path("token")
    with open(token_file, "w") as f:
        f.write(TOKEN + "\n")
    start(drover, args=["--http", f"127.0.0.1:{port}", "--http-token-file", token_file])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(b"X\x1b[31mRED\x07\xff /stop/all HTTP/1.1\r\nHost: x\r\n\r\n")
        s.recv(65536)  # the answer (a 401), or the close: either way the line is written by now
    line = drover.wait_log(r"HTTP: refused .* /stop/all without the right bearer token")[0].group(0)
    assert "X\\x1b[31mRED\\x07\\xff" in line, line
    raw = drover.log_path.read_bytes()
    assert b"\x1b" not in raw and b"\x07" not in raw and b"\xff" not in raw, raw[-400:]
    assert states(drover, "w") == [(0, "running"), (1, "running")]
    assert drover.stop() == 0


def test_unauthorized_control_calls_over_tcp_are_refused_before_anything_else(drover):
    """B16: a control call over TCP without the token is 401 (403 with no token configured)
    whatever else is wrong with it: bad UTF-8, a NUL, too many parameters, a wrong method."""
    port = free_port()
    token_file = drover.path("token")
    with open(token_file, "w") as f:
        f.write(TOKEN + "\n")
    start(drover, args=["--http", f"127.0.0.1:{port}", "--http-token-file", token_file])
    many = "&".join(f"a{i}" for i in range(100))
    for path, method in [("/stop/%ff", "POST"), ("/stop/w%00x", "POST"), (f"/scale/w?{many}", "POST"),
                         ("/signal/w?signal=%ff", "POST"), ("/stop/w", "GET")]:
        code, body, headers = api(port, path, method)
        assert code == 401 and "bearer token" in body["error"], (path, code, body)
        assert headers["WWW-Authenticate"].startswith("Bearer")
    assert states(drover, "w") == [(0, "running"), (1, "running")]
    assert drover.stop() == 0
    drover.log_file.close()
    start(drover, args=["--http", f"127.0.0.1:{port}"])
    for path in ["/stop/%ff", "/stop/w%00x"]:
        assert api(port, path, "POST")[0] == 403, path
    assert drover.stop() == 0

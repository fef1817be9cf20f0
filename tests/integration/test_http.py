"""The HTTP API (--http): /health with the caller's thresholds, flipping
200 -> 503 -> 200 as a worker stalls and resumes; 400 for bad parameters;
/livez, /readyz, /status; bad --http values."""
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

from conftest import C_WORKER, api, free_port, helper, wait_until

def start(drover, programs, port, args=()):
    drover.start({"programs": programs}, args=["--http", f"127.0.0.1:{port}", *args])
    drover.wait_log(rf"serving HTTP on 127\.0\.0\.1:{port}")


def test_health_flips_as_a_worker_stalls_and_resumes(drover):
    """The stall is the test's: SIGSTOP, then SIGCONT once the 503 has been examined. A stall
    of fixed length could be over before a slow test looks, or begin before it saw the 200."""
    port = free_port()
    q = drover.dir / "q"
    q.mkdir()
    start(drover, [{"name": "w", "ready": "notify", "heartbeat": {"timeout": "1s", "action": "none"},
                    "command": [C_WORKER, "--queue", str(q), "--poll-ms", "20"]}], port)
    # A beat every 20 ms against T = 1 s: a loaded machine does not make the polling worker silent.
    q_ = "/health?max_silent=0&silence=1"
    wait_until(lambda: api(port, q_)[0] == 200, what="healthy while polling")
    code, body, headers = api(port, q_)
    assert headers["Content-Type"] == "application/json"
    assert body["healthy"] is True and body["thresholds"] == {"max_silent": 0, "silence_seconds": 1}
    pid = drover.current("w:0")[0]
    os.kill(pid, signal.SIGSTOP)  # stalls: no more beats, still alive
    try:
        wait_until(lambda: api(port, q_)[0] == 503, timeout=15, what="unhealthy while stalled")
        code, body, _ = api(port, q_)
        assert body["counts"]["silent"] == 1 and body["counts"]["unhealthy"] == 1
        [bad] = body["unhealthy_instances"]
        assert bad["program"] == "w" and bad["reason"] == "silent" and bad["silent_seconds"] > 1
        assert bad["pid"] == pid
        # The caller's thresholds decide: one silent worker is fine with max_silent=1 or a longer T.
        assert api(port, "/health?max_silent=1&silence=1")[0] == 200
        assert api(port, "/health?silence=60s")[0] == 200
    finally:
        os.kill(pid, signal.SIGCONT)  # resumes
    wait_until(lambda: api(port, q_)[0] == 200, timeout=15, what="healthy again after the stall")
    assert drover.stop() == 0


def test_bad_query_values_are_400_naming_the_parameter(drover):
    port = free_port()
    start(drover, [{"name": "s", "command": [helper("sleeper")]}], port)
    for query, param in [("max_silent=-1", "max_silent"), ("max_silent=x", "max_silent"),
                         ("max_silent=", "max_silent"), ("silence=abc", "silence"), ("silence=-5", "silence"),
                         ("silence=99999999999999", "silence")]:
        code, body, _ = api(port, "/health?" + query)
        assert code == 400, query
        assert body["parameter"] == param and body["error"] == "bad query parameter", body
    code, body, _ = api(port, "/health?program=nope")
    assert code == 404 and body["program"] == "nope"
    assert drover.stop() == 0


def test_livez_readyz_status(drover):
    port = free_port()
    gate = drover.path("go")
    start(drover, [
        {"name": "slow", "ready": {"command": ["/bin/test", "-e", gate], "interval": "50ms"},
         "command": [helper("sleeper")]},
        {"name": "auth", "command": [helper("sleeper")], "instances": 2, "start_seconds": 0},
    ], port)
    assert api(port, "/livez")[:2] == (200, {"alive": True})
    code, body, _ = api(port, "/readyz")
    assert code == 503 and body["not_ready"] == [{"program": "slow", "instance": 0, "state": "starting"}]
    open(gate, "w").close()
    wait_until(lambda: api(port, "/readyz")[0] == 200, what="ready")
    code, body, _ = api(port, "/status")
    assert code == 200 and set(body["programs"]) == {"slow", "auth"}
    auth = body["programs"]["auth"]
    assert [i["instance"] for i in auth] == [0, 1]
    assert all(i["state"] == "running" and i["pid"] and i["ready"] for i in auth)
    assert api(port, "/status/auth")[1]["programs"].keys() == {"auth"}
    assert api(port, "/status/none")[0] == 404
    assert api(port, "/nowhere")[0] == 404
    assert api(port, "/health", method="POST")[0] == 405
    assert drover.stop() == 0


def test_last_exit_and_restarts_in_status(drover):
    port = free_port()
    start(drover, [{"name": "dies", "command": [helper("exit_with"), "3"], "yoyo": {"restarts": 1, "window": "1m"}}],
          port)
    drover.wait_log(r"dies:0 .*-> fatal")
    [inst] = api(port, "/status/dies")[1]["programs"]["dies"]
    assert inst["state"] == "fatal" and inst["last_exit"] == {"code": 3} and inst["restarts"] == 1
    assert inst["pid"] is None
    assert drover.stop() == 4  # a program is fatal: not a clean stop


def test_bad_http_address_is_refused(drover):
    for bad in ["localhost", "example.com:80", "127.0.0.1:0", "127.0.0.1:70000"]:
        r = drover.run([{"command": [helper("sleeper")]}], args=["--http", bad])
        assert r.returncode == 2 and "--http" in r.stderr, (bad, r.stderr)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        r = drover.run({"programs": [{"command": [helper("sleeper")]}]}, args=["--http", f"127.0.0.1:{port}"])
        assert r.returncode == 1 and "cannot serve HTTP" in r.stderr
        assert "spawned" not in r.stderr


def scrape(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            return r.read().decode()
    except TimeoutError:
        raise AssertionError(f"GET /metrics on 127.0.0.1:{port} not answered within 10 s") from None


def sample(text, name, **labels):
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith(f"{name}{{{want}}} ") or (not labels and line.startswith(f"{name} ")):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name}{{{want}}} not in /metrics")


def test_metrics_values_and_promtool(drover):
    port = free_port()
    start(drover, [{"name": "s", "command": [helper("sleeper")], "instances": 2, "start_seconds": 0}], port)
    drover.wait_spawns("s:1", 1)
    os.kill(drover.current("s:0")[0], signal.SIGKILL)
    drover.wait_spawns("s:0", 2)
    text = scrape(port)
    assert sample(text, "drover_instance_up", program="s", instance="0") == 1
    assert sample(text, "drover_instance_state", program="s", instance="1", state="running") == 1
    assert sample(text, "drover_instance_state", program="s", instance="1", state="fatal") == 0
    assert sample(text, "drover_instance_restarts_total", program="s", instance="0") == 1
    assert sample(text, "drover_instance_exits_total", program="s", instance="0", reason="signal") == 1
    assert sample(text, "drover_instance_exits_total", program="s", instance="1", reason="signal") == 0
    assert sample(text, "drover_spawn_duration_seconds_count") == 3
    assert sample(text, "process_open_fds") > 0 and sample(text, "process_resident_memory_bytes") > 0
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: tools/deps.sh installs the prometheus package"
    check = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr
    assert drover.stop() == 0


def test_a_real_prometheus_scrapes_drover(drover, tmp_path):
    prometheus = shutil.which("prometheus")
    assert prometheus, "prometheus is missing: tools/deps.sh installs it"
    port, web = free_port(), free_port()
    start(drover, [{"name": "s", "command": [helper("sleeper")], "instances": 2}], port)
    (tmp_path / "prom.yml").write_text(
        "global: {scrape_interval: 1s}\n"
        f"scrape_configs: [{{job_name: drover, static_configs: [{{targets: ['127.0.0.1:{port}']}}]}}]\n")
    prom = subprocess.Popen([prometheus, f"--config.file={tmp_path / 'prom.yml'}",
                             f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{web}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def scraped():
            try:
                with urllib.request.urlopen(
                        f"http://127.0.0.1:{web}/api/v1/query?query=sum(drover_instance_up)", timeout=2) as r:
                    result = json.loads(r.read())["data"]["result"]
                    return result and float(result[0]["value"][1])
            except OSError:
                return None
        # prometheus starts, then scrapes every 1 s: about 6 s, under ASan and load too
        assert wait_until(scraped, timeout=120, interval=0.5, what="prometheus to scrape drover") == 2
    finally:
        prom.terminate()
        try:
            prom.wait(timeout=30)
        except subprocess.TimeoutExpired:
            prom.kill()
            prom.wait()
    assert drover.stop() == 0


def test_events_stream_changes_with_long_poll(drover):
    port = free_port()
    start(drover, [{"name": "e", "command": [helper("sleeper")], "start_seconds": 0}], port, args=["-v"])
    code, first, _ = api(port, "/events?since=0")
    assert code == 200 and first["gap"] is False
    assert [(e["program"], e["from"], e["to"]) for e in first["events"]] == [("e", "stopped", "running")]
    nxt = first["next"]
    assert nxt == first["events"][-1]["seq"] + 1
    # Nothing new: wait=0.3 returns empty at its deadline, pointing at the same place.
    code, empty, _ = api(port, f"/events?since={nxt}&wait=0.3")
    assert code == 200 and empty["events"] == [] and empty["next"] == nxt
    parked = len(drover.lines(r"/events long-poll parked"))
    # A long-poll is answered by the next change, not by its deadline.
    result = {}

    def long_poll():
        try:  # the client waits beyond the poll's own 30 s: an answer at that deadline would show
            result["r"] = api(port, f"/events?since={nxt}&wait=30", timeout=60)
        except Exception as e:
            result["error"] = e
    poll = threading.Thread(target=long_poll)
    poll.start()
    drover.wait_log(r"/events long-poll parked", count=parked + 1)  # waiting before the change
    victim = drover.current("e:0")[0]
    os.kill(victim, signal.SIGKILL)
    poll.join(timeout=20)
    assert not poll.is_alive(), "the long-poll was not woken by the change within 20 s"
    assert "r" in result, f"the long-poll failed: {result.get('error')!r}"
    code, body, _ = result["r"]
    assert code == 200 and body["events"][0]["cause"] == "exited, restarting at once"
    assert body["events"][0]["seq"] == nxt and body["next"] > nxt
    for bad in ["since=x", "since=-1", "wait=61", "wait=abc"]:
        assert api(port, "/events?" + bad)[0] == 400, bad
    assert drover.stop() == 0


def test_events_gap_when_a_reader_fell_behind(drover):
    port = free_port()
    # 600 instances that exit at once (restart never) make 1,200 events, more than the 1,024 kept.
    start(drover, [{"name": "x", "command": [helper("exit_with"), "0"], "instances": 600, "restart": "never",
                    "start_seconds": 0}], port)
    # 600 spawns and exits: about 4 s under ASan with both cores busy
    wait_until(lambda: api(port, "/events?since=0")[1]["next"] > 1100, timeout=60, what="1,100 events")
    code, body, _ = api(port, "/events?since=1")
    assert code == 200 and body["gap"] is True and "GET /status" in body["hint"]
    assert body["events"][0]["seq"] > 1
    assert drover.stop() == 0


def test_health_defaults_come_from_the_config(drover):
    port = free_port()
    q = drover.dir / "q"
    q.mkdir()
    drover.start({"max_silent": 1, "silence": "45s", "programs": [
        {"name": "slow", "silence": "300ms", "max_silent": 0, "ready": "notify",
         "heartbeat": {"timeout": "1m", "action": "none"},
         "command": [C_WORKER, "--queue", str(q), "--poll-ms", "20", "--stall-after", "10"]},
        {"name": "idle", "command": [helper("sleeper")]},
    ]}, args=["--http", f"127.0.0.1:{port}"])
    drover.wait_log(r"slow:0 .*-> running \(READY=1\)")
    # slow stalls: silent beyond its own 300 ms (no T in the query).
    wait_until(lambda: api(port, "/health?program=slow")[0] == 503, timeout=15, what="slow unhealthy")
    # The body reports the defaults it used: the program's, or the pool's.
    assert api(port, "/health?program=slow")[1]["thresholds"] == {"max_silent": 0, "silence_seconds": 0.3}
    assert api(port, "/health")[1]["thresholds"] == {"max_silent": 1, "silence_seconds": 45.0}
    assert api(port, "/health")[0] == 200               # the pool tolerates 1 (top-level max_silent)
    assert api(port, "/health?max_silent=0")[0] == 503  # the query wins
    assert api(port, "/health?program=slow&silence=1h")[0] == 200
    assert drover.stop() == 0
    r = drover.run({"silence": "0s", "programs": [{"command": ["x"]}]})
    assert r.returncode == 2 and "silence must be positive" in r.stderr


# --- connections that would hold the servers: freed, capped, cut ------------------------------

def get(target, extra=b""):
    return b"GET " + target + b" HTTP/1.1\r\nHost: drover\r\n" + extra + b"Connection: close\r\n\r\n"


def peek(s):
    """What socket s has, without waiting: "data", "open" (nothing yet) or "closed"."""
    s.setblocking(False)
    try:
        return "data" if s.recv(1, socket.MSG_PEEK) else "closed"
    except BlockingIOError:
        return "open"
    except OSError:
        return "closed"


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def connect(where, source=None, timeout=30):
    """A connected socket to where (("127.0.0.1", port), from address source, or a unix socket
    path), waiting while the backlog is full (a unix connect says EAGAIN then)."""
    def attempt():
        s = socket.socket(socket.AF_UNIX if isinstance(where, str) else socket.AF_INET)
        if source:
            s.bind((source, 0))
        s.setblocking(False)
        try:
            s.connect(where)
        except BlockingIOError:
            if isinstance(where, str):
                s.close()
                return None
            select.select([], [s], [], timeout)  # TCP: in progress
        s.setblocking(True)
        s.settimeout(timeout)
        return s
    return wait_until(attempt, timeout=timeout, what=f"a connection to {where} (backlog full)")


def test_closed_long_polls_free_their_slots_at_once(drover):
    """B11: 300 long polls whose clients close right away used to hold every slot for their whole
    wait (60 s here), so /livez went unanswered; now a client's hang-up frees its slot at once."""
    port = free_port()
    start(drover, [{"name": "s", "command": [helper("sleeper")], "start_seconds": 0}], port)
    drover.wait_log(r"s:0 .*-> running")  # no state change after this: nothing wakes the polls
    baseline = open_fds(drover.proc.pid)
    request = get(b"/events?since=999999&wait=60")
    for where in [("127.0.0.1", port), drover.control]:
        for _ in range(300):
            with connect(where) as s:
                s.sendall(request)
        wait_until(lambda: open_fds(drover.proc.pid) <= baseline + 2, timeout=30,
                   what=lambda: f"drover to close the 300 hung-up long polls (fds "
                                f"{open_fds(drover.proc.pid)}, {baseline} before)")
        assert api(port, "/livez")[0] == 200 and drover.call("GET", "/livez")[0] == 200
    assert drover.stop() == 0


def test_long_polls_beyond_the_cap_are_answered_at_once(drover):
    """B11: at most 128 long polls wait per server; beyond that one is answered at once with an
    empty batch and its `next`, which a long-poll client takes as "ask again"."""
    port = free_port()
    start(drover, [{"name": "s", "command": [helper("sleeper")], "start_seconds": 0}], port)
    drover.wait_log(r"s:0 .*-> running")  # no state change after this: nothing wakes the polls
    request = get(b"/events?since=999999&wait=60")
    for sources in [["127.0.0.1", "127.0.0.2"], [drover.control, drover.control]]:
        held = []
        try:
            for source in sources:  # 100 each: over TCP two addresses, as one may hold 128 slots
                for _ in range(100):
                    if source.startswith("/"):
                        s = connect(source)
                    else:
                        s = connect(("127.0.0.1", port), source=source)
                    s.sendall(request)
                    held.append(s)

            def answered():
                return [s for s in held if peek(s) == "data"]
            wait_until(lambda: len(answered()) >= 72, timeout=30, what="72 long polls answered at once")
            now = answered()
            assert len(now) == 72, f"{len(now)} answered, expected the 200 - 128 over the cap"
            now[0].settimeout(10)
            data = b""
            while b'"gap"' not in data:
                data += now[0].recv(4096)
            body = json.loads(data.partition(b"\r\n\r\n")[2])
            assert body["events"] == [] and body["gap"] is False and body["next"] > 0, body
        finally:
            for s in held:
                s.close()
    assert drover.stop() == 0


def test_slowloris_from_one_address_is_limited_and_cut(drover):
    """B12: connections that trickle a header line every 0.5 s reset MHD's idle timeout for ever.
    Now one address holds at most 128 of the 256 slots (the rest are closed at once), /livez from
    another address keeps answering, and each slow head is cut 5 s after its accept."""
    port = free_port()
    start(drover, [{"name": "s", "command": [helper("sleeper")]}], port)
    slow = []
    for _ in range(300):
        s = connect(("127.0.0.1", port), source="127.0.0.2")
        try:
            s.sendall(b"GET /livez HTTP/1.1\r\n")
        except OSError:
            pass  # one of those refused at once
        slow.append(s)

    def still_open():
        return [s for s in slow if peek(s) != "closed"]

    try:
        wait_until(lambda: len(still_open()) <= 128, timeout=30,
                   what="drover to close the connections beyond 128 from 127.0.0.2")
        assert len(still_open()) == 128
        deadline = time.monotonic() + 60
        line = 0
        while still_open():
            assert time.monotonic() < deadline, f"{len(still_open())} slow heads still open after 60 s"
            line += 1
            for s in still_open():
                try:
                    s.sendall(b"X-Line-%d: a\r\n" % line)
                except OSError:
                    pass
            assert api(port, "/livez")[0] == 200  # from 127.0.0.1, all along
            select.select(still_open(), [], [], 0.5)  # the next line in 0.5 s, or on a close
        assert api(port, "/livez")[0] == 200
    finally:
        for s in slow:
            s.close()
    assert drover.stop() == 0

def test_a_trickled_body_is_cut_like_a_trickled_head(drover):
    """B12, the body: the deadline once covered the head only, so a request that announced a
    large body and sent one byte of it every 0.5 s kept resetting MHD's idle timeout and held
    its slot for ever. The 5 s deadline now runs until the whole request is in."""
    port = free_port()
    start(drover, [{"name": "s", "command": [helper("sleeper")]}], port)
    slow = [connect(("127.0.0.1", port), source="127.0.0.3") for _ in range(20)]
    for s in slow:
        s.sendall(b"POST /livez HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n")

    def still_open():
        return [s for s in slow if peek(s) != "closed"]

    try:
        deadline = time.monotonic() + 60
        while still_open():
            assert time.monotonic() < deadline, f"{len(still_open())} trickled bodies still open after 60 s"
            for s in still_open():
                try:
                    s.sendall(b"x")
                except OSError:
                    pass
            assert api(port, "/livez")[0] == 200  # from 127.0.0.1, all along
            select.select(still_open(), [], [], 0.5)
    finally:
        for s in slow:
            s.close()
    assert drover.stop() == 0


# --- requests drover cannot take as they are: always an answer that says why ----------------

def exchange(where, raw, timeout=30):
    """Sends raw on a new connection (("127.0.0.1", port) or a unix socket path) and reads the
    answer: (status, parsed JSON body or text). Fails if no answer comes within timeout."""
    s = socket.socket(socket.AF_UNIX if isinstance(where, str) else socket.AF_INET)
    s.settimeout(timeout)
    data = b""
    try:
        s.connect(where)
        s.sendall(raw)
        while b"\r\n\r\n" not in data or len(data) < data.index(b"\r\n\r\n") + 4 + content_length(data):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pass
    finally:
        s.close()
    assert data.startswith(b"HTTP/1.1 "), f"no answer within {timeout}s to {raw[:80]!r}...: {data[:200]!r}"
    head, _, body = data.partition(b"\r\n\r\n")
    try:
        return int(head.split()[1]), json.loads(body)
    except ValueError:
        return int(head.split()[1]), body.decode(errors="replace")


def content_length(data):
    for line in data.split(b"\r\n\r\n")[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 0


def post(target, token=None):
    auth = b"Authorization: Bearer " + token.encode() + b"\r\n" if token else b""
    return b"POST " + target + b" HTTP/1.1\r\nHost: drover\r\n" + auth + b"Connection: close\r\n\r\n"


def test_many_parameters_or_a_long_target_get_an_answer_on_both_servers(drover):
    """B15: 500 parameters made MHD run out of its connection pool and answer nothing until the
    idle timeout; now 400 says how many are allowed, 414 how long a target may be, and the most
    that is allowed is served."""
    port = free_port()
    start(drover, [{"name": "s", "command": [helper("sleeper")]}], port)
    many = b"/livez?" + b"&".join(b"a%d=b" % i for i in range(500))
    empty = b"/livez?" + b"&" * 3000
    longest = b"/livez?" + b"&".join(b"a%d=" % i for i in range(64))
    longest += b"x" * (8192 - len(longest))
    for where in [("127.0.0.1", port), drover.control]:
        for target in [many, empty]:
            code, body = exchange(where, get(target))
            assert code == 400 and body["error"] == "bad request: too many parameters (at most 64)", body
            assert body["path"] == "/livez"
        code, body = exchange(where, get(b"/status?x=" + b"y" * 9000))
        assert code == 414 and body["error"] == "URI too long (at most 8192 bytes)", body
        # At the limits, with a large header in the same packet: served.
        assert exchange(where, get(longest, b"X-Pad: " + b"p" * 16000 + b"\r\n")) == (200, {"alive": True})
        code, body = exchange(where, get(b"/health?" + b"&".join([b"x=1"] * 63) + b"&max_silent=0"))
        assert code in (200, 503) and body["thresholds"]["max_silent"] == 0, body
    assert drover.stop() == 0


def test_non_utf8_path_and_parameters_are_400_naming_them(drover):
    """B16: a %ff in a path or a parameter was a 500 "out of memory"; now it is 400 "not valid
    UTF-8" with what was sent escaped (never a dropped key), on both servers."""
    port = free_port()
    start(drover, [{"name": "s", "command": [helper("sleeper")]}], port)
    for where in [("127.0.0.1", port), drover.control]:
        code, body = exchange(where, get(b"/status/%ff"))
        assert code == 400 and body == {"error": "bad request: the path is not valid UTF-8",
                                         "path": "/status/\\xff"}, body
        assert exchange(where, get(b"/nowhere/caf%e9"))[1]["path"] == "/nowhere/caf\\xe9"
        code, body = exchange(where, get(b"/health?program=%ff%fe"))
        assert code == 400 and body == {"error": "bad query parameter: not valid UTF-8",
                                        "parameter": "program", "value": "\\xff\\xfe"}, body
        code, body = exchange(where, get(b"/events?since=1&wait=%c0%80"))
        assert code == 400 and body["parameter"] == "wait", body
        # Valid UTF-8 that names nothing is still a 404 with the name as sent.
        code, body = exchange(where, get(b"/status/caf%c3%a9"))
        assert code == 404 and body["program"] == "caf\u00e9", body
    code, body = exchange(drover.control, post(b"/stop/%ff"))
    assert code == 400 and body["path"] == "/stop/\\xff", body
    code, body = exchange(drover.control, post(b"/signal/s?signal=%ff"))
    assert code == 400 and body["parameter"] == "signal", body
    assert "drover could not build" not in drover.log() and "out of memory" not in drover.log()
    assert drover.stop() == 0


def test_an_encoded_nul_is_400_and_changes_nothing(drover):
    """B17: an encoded NUL cut values short (restart/w%00junk restarted w, HUP%00KILL sent HUP,
    /livez%00junk answered 200). Now each is 400 "contains a NUL byte", over TCP with the token and
    on the control socket, and nothing happens."""
    port = free_port()
    token = drover.path("token")
    with open(token, "w") as f:
        f.write("nul-test-token-0123456789\n")
    start(drover, [{"name": "w", "command": [helper("sleeper")], "instances": 2, "max_instances": 4}], port,
          args=["--http-token-file", token])
    drover.wait_spawns("w:1", 1)
    pids = [drover.current(f"w:{i}")[0] for i in (0, 1)]
    for where, tok in [(("127.0.0.1", port), "nul-test-token-0123456789"), (drover.control, None)]:
        code, body = exchange(where, post(b"/restart/w%00junk", tok))
        assert code == 400 and body == {"error": "bad request: the path contains a NUL byte (%00)",
                                        "path": "/restart/w%00junk"}, body  # as sent
        code, body = exchange(where, post(b"/signal/w:0?signal=HUP%00KILL", tok))
        assert code == 400 and body == {"error": "bad query parameter: contains a NUL byte",
                                        "parameter": "signal", "value": "HUP\\x00KILL"}, body
        code, body = exchange(where, post(b"/scale/w?instances=3%00x", tok))
        assert code == 400 and body["parameter"] == "instances" and body["value"] == "3\\x00x", body
        code, body = exchange(where, get(b"/livez%00junk"))
        assert code == 400 and body["path"] == "/livez%00junk", body
        assert exchange(where, get(b"/health?program=w%00x"))[1]["parameter"] == "program"
    assert [drover.current(f"w:{i}")[0] for i in (0, 1)] == pids and len(drover.spawns()) == 2
    assert "sent signal" not in drover.log() and "scaling" not in drover.log()
    assert drover.stop() == 0


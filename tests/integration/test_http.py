"""The HTTP API (--http): /health with the caller's thresholds, flipping
200 -> 503 -> 200 as a worker stalls and resumes; 400 for bad parameters;
/livez, /readyz, /status; bad --http values."""
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
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
    assert drover.stop() == 0


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

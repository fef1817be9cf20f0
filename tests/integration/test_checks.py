"""Readiness probes (tcp, http, command) and health checks: interval,
timeout, consecutive failures -> restart, idle_only, and their config errors."""

from conftest import C_WORKER, REPO, helper, pid_alive

TIMESERVER = str(REPO / "bin" / "timeserver")

SILENT_SERVER = r"""
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)  # accepts, never answers
"""


def test_tcp_and_http_readiness_probes(drover):
    drover.start({"port_range": "19800-19819", "programs": [
        {"name": "t", "command": [TIMESERVER, "--port={{port}}"], "ready": {"tcp": "127.0.0.1:{{port}}"}},
        {"name": "h", "command": [TIMESERVER, "--port={{port}}"],
         "ready": {"http": "http://127.0.0.1:{{port}}/", "interval": "50ms"}},
    ]})
    drover.wait_log(r"t:0 pid=\d+ port=\d+ starting -> running \(tcp probe passed\)")
    drover.wait_log(r"h:0 pid=\d+ port=\d+ starting -> running \(http probe passed\)")
    assert drover.stop() == 0


def test_command_readiness_probe_waits_for_the_condition(drover):
    marker = drover.path("ready.flag")
    drover.start({"programs": [{"name": "c", "command": [helper("sleeper")], "start_seconds": 0,
                                "ready": {"command": ["/bin/test", "-e", marker], "interval": "50ms"}}]})
    drover.wait_spawns("c:0", 1)
    assert not drover.lines(r"c:0 .*-> running")
    open(marker, "w").close()
    drover.wait_log(r"c:0 pid=\d+ starting -> running \(command probe passed\)")
    assert drover.stop() == 0


def test_readiness_probe_that_never_passes_hits_start_timeout(drover):
    drover.start({"port_range": "19820-19829", "programs": [
        {"name": "closed", "command": [helper("sleeper")], "env": {"P": "{{port}}"},
         "ready": {"tcp": "127.0.0.1:{{port}}", "interval": "50ms"}, "start_timeout": "400ms",
         "yoyo": {"restarts": 1, "window": "1m"}},
    ]})
    drover.wait_log(r"closed:0 .*starting -> starting \(not ready within start_timeout, stopping it\)")
    drover.wait_log(r"closed:0 .*-> fatal \(yo-yo")
    assert drover.stop() == 4  # a program is fatal: not a clean stop


def test_health_check_failing_three_times_restarts(drover):
    drover.start({"programs": [{"name": "sick", "command": [helper("sleeper")], "start_seconds": 0,
                                "health": {"command": ["/bin/false"], "interval": "100ms"}}]})
    for n in (1, 2, 3):
        drover.wait_log(rf"sick:0 pid=\d+ health check failed \({n} of 3\): command exited with code 1")
    drover.wait_log(r"sick:0 pid=\d+ running -> stopping \(health check failing, restarting\)")
    drover.wait_spawns("sick:0", 2)
    assert drover.stop() == 0


def test_health_check_timeout(drover):
    # Running (and checked) once it listens: a check before python is up would be refused, not time out.
    drover.start({"port_range": "19830-19839", "programs": [
        {"name": "mute", "command": ["/usr/bin/python3", "-c", SILENT_SERVER, "{{port}}"],
         "ready": {"tcp": "127.0.0.1:{{port}}", "interval": "50ms"},
         "health": {"http": "http://127.0.0.1:{{port}}/health", "interval": "100ms", "timeout": "150ms",
                    "failures": 2}},
    ]})
    drover.wait_log(r"mute:0 pid=\d+ port=\d+ health check failed \(1 of 2\): http timed out", timeout=15)
    drover.wait_log(r"mute:0 .*-> stopping \(health check failing, restarting\)", timeout=15)
    assert drover.stop() == 0


def test_health_check_passing_keeps_running(drover):
    # Running (and checked) once it listens, not once 200 ms have passed: no failure from a slow start.
    drover.start({"port_range": "19840-19849", "programs": [
        {"name": "fine", "command": [TIMESERVER, "--port={{port}}"],
         "ready": {"tcp": "127.0.0.1:{{port}}", "interval": "50ms"},
         "health": {"http": "http://127.0.0.1:{{port}}/", "interval": "50ms", "start_period": "200ms"}},
    ]}, args=["-v"])
    pid = drover.wait_spawns("fine:0", 1)[0][1]
    drover.wait_log(r"fine:0: health http check passed$", count=5)
    assert not drover.lines(r"fine:0 .*health check failed")
    assert pid_alive(pid) and len(drover.spawns("fine:0")) == 1
    assert drover.stop() == 0


def test_idle_only_leaves_a_busy_worker_alone(drover):
    q = drover.dir / "q"
    q.mkdir()
    # idle_only: checked when it has not beaten within the interval. A beat every 10 ms against
    # 500 ms: a loaded machine does not make the busy one look idle.
    drover.start({"programs": [
        {"name": "busy", "command": [C_WORKER, "--queue", str(q), "--poll-ms", "10"], "start_seconds": 0,
         "health": {"command": ["/bin/false"], "interval": "500ms", "idle_only": True}},
        {"name": "idle", "command": [C_WORKER, "--queue", str(q), "--poll-ms", "10", "--stall-after", "5"],
         "start_seconds": 0, "health": {"command": ["/bin/false"], "interval": "500ms", "idle_only": True}},
    ]})
    # The stalled one is checked (and fails); the busy one, beating all along, never is.
    # Three failed checks 500 ms apart: about 2 s.
    drover.wait_log(r"idle:0 .*-> stopping \(health check failing, restarting\)", timeout=30)
    assert not drover.lines(r"busy:0 .*health check failed")
    assert len(drover.spawns("busy:0")) == 1
    assert drover.stop() == 0


def test_probe_config_errors(drover):
    for probe, what in [
        ({"tcp": "example.com:80"}, "numeric address or localhost"),
        ({"tcp": "127.0.0.1"}, "HOST:PORT"),
        ({"http": "https://127.0.0.1/"}, "http://HOST"),
        ({"tcp": "127.0.0.1:1", "http": "http://127.0.0.1/"}, "exactly one of"),
        ({"interval": "1s"}, "exactly one of"),
        ({"command": []}, "command is empty"),
        ({"tcp": "127.0.0.1:1", "retries": 3}, 'unknown key "retries"'),
    ]:
        result = drover.run({"programs": [{"command": ["x"], "health": probe}]})
        assert result.returncode == 2, (probe, result.stderr)
        assert what in result.stderr and "[0].health" in result.stderr, (probe, result.stderr)
    result = drover.run({"programs": [{"command": ["x"], "ready": {"tcp": "127.0.0.1:1", "failures": 2}}]})
    assert result.returncode == 2 and 'unknown key "failures"' in result.stderr

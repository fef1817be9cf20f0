"""The time-service pool end to end: the example config, ports from the
range, kill -> restart on the next port with wrap-around, exhausted range."""
import os
import signal
import urllib.request

from conftest import REPO, helper, pid_alive, wait_until


def http_get(port, path="/"):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
            return r.read().decode()
    except OSError:
        return None


def timeserver(extra=None):
    prog = {"command": [str(REPO / "bin" / "timeserver"), "--port={{port}}"]}
    prog.update(extra or {})
    return prog


def test_example_config_end_to_end(drover):
    """README step: the list form from stdin, relative ./bin and out/ paths, run from the repo."""
    config = (REPO / "examples" / "time-service.json").read_text()
    drover.start(config, args=["--port-range=19100-19199"], stdin=True, cwd=REPO)
    drover.wait_log(r" spawned$", count=3)
    labels = {label for label, _, _ in drover.spawns()}
    assert labels == {"authserver:0", "timeserver:0", "timeserver-2:0"}
    ports = [port for _, _, port in drover.spawns() if port]
    assert sorted(ports) == [19100, 19101]
    for port in ports:
        body = wait_until(lambda: http_get(port), what=f"timeserver on {port}")
        assert body.startswith("20") and body.rstrip().endswith("Z")
    assert wait_until(lambda: http_get(9000), what="authserver") == "authserver ok\n"
    assert drover.stop() == 0


def test_kill_restarts_at_once_on_next_port_with_wrap(drover):
    # start_seconds 0: up at once, so each kill is the death of a running instance.
    drover.start({"programs": [timeserver({"start_seconds": 0})], "port_range": "19200-19202"})
    seen = []
    for round_ in range(4):
        spawns = drover.wait_spawns("timeserver:0", round_ + 1)
        pid, port = spawns[-1][1], spawns[-1][2]
        seen.append(port)
        wait_until(lambda: http_get(port), what=f"timeserver on {port}")
        os.kill(pid, signal.SIGKILL)
        drover.wait_log(rf"pid={pid} port={port} killed by signal KILL after", count=1)
    assert seen == [19200, 19201, 19202, 19200]
    # The restart line follows the exit line: wait for it, do not read the log in between.
    drover.wait_log(r"timeserver:0 .*\(exited, restarting at once\)", count=4)
    # No backoff for an instance that had been up: the restart is immediate.
    assert not drover.lines(r"timeserver:0 .*-> backoff")
    assert drover.stop() == 0


def test_live_ports_are_never_shared(drover):
    drover.start({"programs": [timeserver({"instances": 2})], "port_range": "19210-19212"})
    drover.wait_spawns("timeserver:1", 1)
    for i in range(6):
        victim = f"timeserver:{i % 2}"
        pid, _ = drover.current(victim)
        n = len(drover.spawns(victim))
        os.kill(pid, signal.SIGKILL)
        drover.wait_spawns(victim, n + 1)
        a = drover.current("timeserver:0")[1]
        b = drover.current("timeserver:1")[1]
        assert a != b
        for port in (a, b):
            wait_until(lambda: http_get(port), what=f"port {port} answering")
    assert drover.stop() == 0


def test_exhausted_range_keeps_instance_in_backoff(drover):
    drover.start({"programs": [{"command": [helper("sleeper")], "env": {"P": "{{port}}"}, "instances": 3}],
                  "port_range": "19220-19221"})
    drover.wait_log(r"sleeper:2 no free port in 19220-19221 \(all 2 in use\)")
    drover.wait_log(r"sleeper:2 stopped -> backoff \(spawn failed, will retry; retry in")
    # It keeps retrying (with growing delays) and never takes a port held by a live instance.
    drover.wait_log(r"sleeper:2 no free port", count=3)
    pid0, port0 = drover.current("sleeper:0")
    os.kill(pid0, signal.SIGKILL)
    drover.wait_spawns("sleeper:0", 2)
    live = [drover.current(f"sleeper:{i}") for i in (0, 1)]
    assert all(pid_alive(pid) for pid, _ in live)
    assert sorted(port for _, port in live) == [19220, 19221]
    assert not drover.spawns("sleeper:2")
    assert drover.proc.poll() is None
    assert drover.stop() == 0


def test_every_port_placeholder_of_one_start_shares_the_port(drover):
    drover.start({
        "programs": [{
            "name": "echo",
            "command": ["/bin/sh", "-c", 'echo "a=$1 b=$2 env=$MYPORT"; exec sleep 600',
                        "sh", "--a={{port}}", "--b={{port}}"],
            "env": {"MYPORT": "p{{port}}"},
            "output": "out-{{name}}-{{instance}}-{{port}}.txt",
        }],
        "port_range": "19230-19239",
    })
    pid, port = drover.wait_spawns("echo:0", 1)[-1][1:]
    out = drover.dir / f"out-echo-0-{port}.txt"
    text = wait_until(lambda: out.exists() and out.read_text(), what="output file")
    assert text == f"a=--a={port} b=--b={port} env=p{port}\n"
    assert drover.stop() == 0

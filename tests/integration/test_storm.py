"""Restart storms (FINDINGS B4): instances that exit as fast as they start, with no
start period and no yo-yo limit, are restarted for ever, and every pass of drover's
loop still reaches epoll: HTTP, the control socket and SIGTERM are served throughout."""
import os
import urllib.request

from conftest import free_port, wait_until

# Answers take a few loop passes, each of which reaps and respawns a batch: generous, but
# only a bound on waiting for an answer that comes within a second on an idle machine.
SLOW = 30


def total_restarts(drover):
    code, body, _ = drover.call("GET", "/status/x", timeout=SLOW)
    assert code == 200, body
    return sum(i["restarts"] for i in body["programs"]["x"])


def test_crash_loop_storm_keeps_the_loop_serving(drover):
    port = free_port()
    drover.start({"programs": [{"name": "x", "command": ["/bin/true"], "instances": 20,
                                "yoyo": False, "start_seconds": 0}]},
                 args=["--http", f"127.0.0.1:{port}", "-q"])  # -q: no line per restart
    wait_until(lambda: os.path.exists(drover.control), what="the control socket")
    first = wait_until(lambda: (n := total_restarts(drover)) >= 200 and n, timeout=SLOW,
                       what="200 restarts in the storm")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/livez", timeout=SLOW) as r:
        assert r.status == 200
    r = drover.cli("status", timeout=SLOW)
    assert r.returncode == 0, r
    assert [line.split()[0] for line in r.stdout.splitlines()[1:]] == [f"x:{i}" for i in range(20)]
    # Still storming while it answered.
    wait_until(lambda: total_restarts(drover) > first, timeout=SLOW, what="more restarts")
    assert drover.stop(timeout=SLOW * 2) == 0

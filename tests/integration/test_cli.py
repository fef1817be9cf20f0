"""The CLI (`drover VERB ...`) against a real daemon: its table and lines
(compared with golden files after pids and times are masked), its exit
codes (0 ok, 1 refused or unhealthy, 2 usage, 3 unreachable), and the
socket's mode keeping other users out."""
import json
import os
import re
import select
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import DROVER_BIN, REPO, helper, pid_alive, wait_until

GOLDEN = REPO / "tests" / "golden"


def pool():
    return {"programs": [
        {"name": "web", "command": [helper("sleeper")], "instances": 2, "start_seconds": 0,
         "max_instances": 4, "stop_timeout": "5s"},
        {"name": "once", "command": [helper("exit_with"), "3"], "restart": "never", "start_seconds": 0},
    ]}


def up(drover):
    drover.start(pool())
    drover.wait_log(r"control socket .* \(mode 0600\)")
    drover.wait_spawns("web:1", 1)
    wait_until(lambda: "EXITED" in drover.cli("status", "once").stdout, what="once exited")
    wait_until(lambda: drover.cli("status", "web").stdout.count("RUNNING") == 2, what="web running")
    return drover


def masked(text):
    """Pids, uptimes and timestamps vary from run to run; the layout must not."""
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", "<TIME>", text)
    text = re.sub(r"\b\d+:\d\d:\d\d\b", "<UP>", text)
    text = re.sub(r"\b\d{3,7}\b", "<PID>", text)
    # Column widths follow the widest pid; alignment is checked apart, in aligned().
    return re.sub(r"  +", "  ", text)


def aligned(table):
    """Every row's columns start where the header's do."""
    lines = table.splitlines()
    starts = [m.start() for m in re.finditer(r"(?<!\S)\S", lines[0]) if m.start() == 0 or
              lines[0][m.start() - 2:m.start()] == "  "]
    for line in lines[1:]:
        for s in starts[1:]:
            assert line[s - 1] == " " and line[s] != " ", f"misaligned at {s}:\n{table}"


def golden(name, text):
    """Compares with tests/golden/NAME; UPDATE_GOLDEN=1 rewrites it instead (then review the diff)."""
    if os.environ.get("UPDATE_GOLDEN") == "1":
        (GOLDEN / name).write_text(masked(text))
    want = (GOLDEN / name).read_text()
    assert masked(text) == want, f"\n--- want ({name})\n{want}--- got\n{masked(text)}"


def test_status_table_and_actions_match_golden_files(drover):
    up(drover)
    r = drover.cli("status")
    assert r.returncode == 0, r.stderr
    golden("cli_status.out", r.stdout)
    aligned(r.stdout)
    r = drover.cli("stop", "web:1")
    assert r.returncode == 0
    golden("cli_stop.out", r.stdout)
    wait_until(lambda: "STOPPED" in drover.cli("status", "web:1").stdout, what="web:1 stopped")
    r = drover.cli("scale", "web", "3")
    assert r.returncode == 0
    golden("cli_scale.out", r.stdout)
    assert drover.stop() == 0


def test_status_json_is_the_api_body(drover):
    up(drover)
    r = drover.cli("status", "web", "--json")
    assert r.returncode == 0
    body = json.loads(r.stdout)
    code, api_body, _ = drover.call("GET", "/status/web")
    assert code == 200
    def strip(b):
        return [{k: v for k, v in i.items() if k not in ("uptime_seconds", "silent_seconds")}
                for i in b["programs"]["web"]]
    assert body.keys() == api_body.keys() == {"programs"}
    assert strip(body) == strip(api_body)  # the same body, but for the clock-driven figures
    assert [i["instance"] for i in body["programs"]["web"]] == [0, 1]
    assert drover.stop() == 0


def test_exit_codes(drover):
    up(drover)
    assert drover.cli("restart", "all").returncode == 0
    r = drover.cli("stop", "nope")
    assert r.returncode == 2 and r.stderr.strip() == "drover: stop nope: no such program 'nope'"
    r = drover.cli("scale", "web", "99")
    assert r.returncode == 2 and "instances" in r.stderr
    r = drover.cli("signal", "web", "NOSUCHSIG")
    assert r.returncode == 2, r.stderr
    r = drover.cli("signal", "once", "HUP")  # exited: nothing to signal
    assert r.returncode == 1 and "no running process" in r.stderr
    r = drover.cli("frobnicate")
    assert r.returncode == 2 and "unexpected argument" in r.stderr
    r = drover.cli("scale", "web")
    assert r.returncode == 2 and "missing argument" in r.stderr and "scale PROGRAM N" in r.stderr
    r = drover.cli("health", "--max-silent", "0", "web")
    assert r.returncode == 0 and r.stdout.startswith("healthy"), r.stdout
    r = drover.cli("health", "--silence", "bogus")
    assert r.returncode == 2 and "silence" in r.stderr
    assert drover.stop() == 0
    r = drover.cli("status")
    assert r.returncode == 3
    assert r.stderr.startswith(f"drover: cannot reach the daemon at {drover.control}: ")


def test_health_exit_1_when_unhealthy(drover):
    # Quick exits however slow the machine (start_seconds 1m), and it stays in backoff (1 h)
    # for the whole test instead of being spawned again after 5 s.
    drover.start({"programs": [{"name": "crash", "command": [helper("exit_with"), "1"], "start_seconds": "1m",
                                "backoff": {"initial": "1h", "max": "1h"}}]})
    drover.wait_log(r"crash:0 .*-> backoff")
    r = drover.cli("health", "--max-silent", "0")
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert r.stdout.startswith("unhealthy") and "crash:0" in r.stdout
    r = drover.cli("health", "--max-silent", "1")
    assert r.returncode == 0
    assert drover.stop() == 0


def test_events_follow_prints_changes_as_they_happen(drover):
    up(drover)
    follow = subprocess.Popen([DROVER_BIN, "events", "--follow"], stdout=subprocess.PIPE,
                              env=drover.env, stdin=subprocess.DEVNULL)
    try:
        # Whatever is kept comes first; then our restart shows up live.
        assert drover.cli("restart", "web:0").returncode == 0
        deadline = time.monotonic() + 15
        seen = ""
        while not re.search(r"web:0\s+running -> stopping", seen):
            assert time.monotonic() < deadline, f"no live event within 15 s; got:\n{seen}"
            if select.select([follow.stdout], [], [], 0.5)[0]:
                chunk = os.read(follow.stdout.fileno(), 65536).decode()
                assert chunk, f"events --follow ended; got:\n{seen}"
                seen += chunk
    finally:
        follow.send_signal(signal.SIGTERM)
        try:
            code = follow.wait(timeout=10)
        except subprocess.TimeoutExpired:
            follow.kill()
            code = follow.wait()
    assert code == 0  # SIGTERM ends --follow cleanly
    assert drover.stop() == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to uid 65534 needs root")
def test_socket_mode_keeps_other_users_out(drover):
    # A directory anyone may enter, so only the socket's own mode can keep them out.
    where = tempfile.mkdtemp(prefix="drover-ctl-")
    os.chmod(where, 0o755)
    sock = os.path.join(where, "ctl.sock")
    # The CLI runs from a copy there too: the checkout may be somewhere uid 65534 cannot enter.
    cli = os.path.join(where, "drover")
    shutil.copy(DROVER_BIN, cli)
    os.chmod(cli, 0o755)
    try:
        drover.start(pool(), args=["--control", sock])
        drover.wait_log(r"control socket .* \(mode 0600\)")
        drover.wait_spawns("web:1", 1)

        def as_nobody():
            os.setgid(65534)
            os.setuid(65534)

        def cli_as_nobody(*args):
            return subprocess.run([cli, "--control", sock, *args], capture_output=True, text=True,
                                  preexec_fn=as_nobody, timeout=20)
        r = cli_as_nobody("stop", "all")
        assert r.returncode == 3, (r.stdout, r.stderr)
        assert "ermission denied" in r.stderr and "0600" in r.stderr, r.stderr
        assert all(pid_alive(drover.current(f"web:{i}")[0]) for i in (0, 1))
        # The mode is what stopped them: opened up, the same call goes through.
        os.chmod(sock, 0o666)
        assert cli_as_nobody("status").returncode == 0
        assert drover.stop() == 0
        assert not os.path.exists(sock)
    finally:
        shutil.rmtree(where)

"""Heartbeats and readiness: the systemd notify protocol (systemd-notify,
Redis, the C and Python worker libraries), sender checking, malformed
datagrams, shared-memory beats, silence, READY gating, and drover's own
notifications to its supervisor."""
import json
import array
import os
import shutil
import signal
import socket
import sys
import time

import pytest

from conftest import C_WORKER, REPO, helper, wait_until

PY_WORKER = [sys.executable if os.path.exists(sys.executable) else "/usr/bin/python3",
             str(REPO / "examples" / "queue_worker.py")]


def notify_address(drover, label):
    """The notify socket drover named to label's process (NOTIFY_SOCKET, a path)."""
    with open(f"/proc/{drover.current(label)[0]}/environ", "rb") as f:
        env = dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)
    return env[b"NOTIFY_SOCKET"].decode()


def queue(drover):
    q = drover.dir / "queue"
    q.mkdir(exist_ok=True)
    return str(q)


def test_systemd_notify_ready_gates_running(drover):
    gate = drover.path("go")  # READY=1 only once the test says so, not after a delay
    drover.start({"programs": [{
        "name": "sn", "ready": "notify", "start_seconds": 0,
        "command": ["/bin/sh", "-c", f"while [ ! -e {gate} ]; do sleep 0.01; done; "
                                     "systemd-notify --ready --status=warm; exec sleep 600"],
    }]}, args=["-v"])
    drover.wait_log(r"sn:0 pid=\d+ stopped -> starting")
    # Not running before READY=1, whatever start_seconds says.
    assert not drover.lines(r"sn:0 .*-> running")
    open(gate, "w").close()
    drover.wait_log(r"sn:0 pid=\d+ starting -> running \(READY=1\)")
    drover.wait_log(r'sn:0: status "warm"')
    assert drover.stop() == 0


def test_redis_supervised_systemd(drover):
    if not shutil.which("redis-server"):
        pytest.fail("redis-server is missing: tools/deps.sh installs it")
    drover.start({"port_range": "19700-19709", "programs": [{
        "name": "redis", "ready": "notify", "start_timeout": "20s",
        "command": ["redis-server", "--port", "{{port}}", "--bind", "127.0.0.1", "--supervised", "systemd",
                    "--daemonize", "no", "--save", "", "--appendonly", "no", "--dir", str(drover.dir)],
    }]}, args=["-v"])
    drover.wait_log(r"redis:0 pid=\d+ port=\d+ starting -> running \(READY=1\)", timeout=20)
    _, port = drover.current("redis:0")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"PING\r\n")
        assert s.recv(16) == b"+PONG\r\n"
    assert drover.stop() == 0
    drover.wait_log(r"redis:0 pid=\d+ port=\d+ says it is stopping \(STOPPING=1\)")


@pytest.mark.parametrize("worker", ["c", "python"])
def test_worker_library_beats_and_goes_silent(drover, worker):
    cmd = [C_WORKER] if worker == "c" else list(PY_WORKER)
    # A beat every 20 ms against a timeout of 1 s: a loaded machine does not make a worker that
    # polls look silent; the 3 s stall is silent for 2 s beyond the timeout, however late drover looks.
    cmd += ["--queue", queue(drover), "--poll-ms", "20", "--stall-after", "8", "--stall-ms", "3000"]
    drover.start({"programs": [{"name": "w", "command": cmd, "ready": "notify",
                                "heartbeat": {"timeout": "1s", "action": "none"}}]})
    drover.wait_log(r"w:0 pid=\d+ starting -> running \(READY=1\)", timeout=15)
    # Beating while polling, then a stall: silent once, then beating again.
    drover.wait_log(r"w:0 pid=\d+ silent for \d+\.\d{3}s \(heartbeat timeout 1\.000s\)$", timeout=30)
    drover.wait_log(r"w:0 pid=\d+ beating again after", timeout=30)
    assert len(drover.spawns("w:0")) == 1  # action "none": marked and logged, not restarted
    assert len(drover.lines(r"w:0 .*silent for")) == 1
    assert drover.stop() == 0


def test_silence_restarts_with_action_restart(drover):
    drover.start({"programs": [{"name": "hang", "ready": "notify", "stop_timeout": "2s",
                                "command": [C_WORKER, "--queue", queue(drover), "--stall-after", "3"],
                                "heartbeat": {"timeout": "300ms"}}]})
    drover.wait_log(r"hang:0 pid=\d+ silent for .*, restarting it")
    drover.wait_log(r"hang:0 pid=\d+ running -> stopping \(heartbeat timeout, restarting\)")
    drover.wait_spawns("hang:0", 2)
    assert drover.stop() == 0


def test_workers_process_the_queue(drover):
    """Each library's worker drains a queue of its own, so neither can hide the other."""
    queues = {}
    for name in ("c", "py"):
        queues[name] = q = str(drover.dir / f"queue-{name}")
        os.mkdir(q)
        for i in range(20):
            open(os.path.join(q, f"job{i}"), "w").close()
    drover.start({"programs": [
        {"name": "c", "command": [C_WORKER, "--queue", queues["c"], "--poll-ms", "5"], "ready": "notify"},
        {"name": "py", "command": PY_WORKER + ["--queue", queues["py"], "--poll-ms", "5"], "ready": "notify"},
    ]})
    for name, q in queues.items():
        wait_until(lambda: not os.listdir(q), timeout=15, what=f"{name}'s queue drained")
    assert drover.stop() == 0


def test_sender_outside_the_instance_is_ignored(drover):
    drover.start({"programs": [{"name": "quiet", "ready": "notify", "command": [helper("sleeper")]}]},
                 args=["-v"])
    drover.wait_spawns("quiet:0", 1)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        assert s.sendto(b"READY=1", notify_address(drover, "quiet:0")) == 7
    drover.wait_log(rf"notify: dropped a datagram from pid {os.getpid()}, which belongs to no instance")
    assert not drover.lines(r"quiet:0 .*-> running")
    assert drover.stop() == 0


MALFORMED_THEN_READY = r"""
import os, socket, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
a = os.environ["NOTIFY_SOCKET"]
a = "\0" + a[1:] if a.startswith("@") else a  # sd_notify(3): "@" names an abstract socket
for d in [b"", b"READY=2", b"no-equals-sign", b"READY=1\0junk", b"=1", b"ERRNO=x", b"x" * 5000]:
    s.sendto(d, a)
s.sendto(b"STATUS=fine\nERRNO=5\nREADY=1\n", a)
time.sleep(600)
"""


def test_malformed_datagrams_are_counted_and_ignored(drover):
    drover.start({"programs": [{"name": "m", "ready": "notify",
                                "command": ["/usr/bin/python3", "-c", MALFORMED_THEN_READY]}]}, args=["-v"])
    drover.wait_log(r"m:0 pid=\d+ starting -> running \(READY=1\)", timeout=15)
    assert len(drover.lines(r"m:0: malformed notify datagram")) == 6
    assert len(drover.lines(r"notify: dropped a datagram \(Message too long\)")) == 1
    drover.wait_log(r"m:0 pid=\d+ reports ERRNO=5 \(Input/output error\)")
    assert drover.stop() == 0


def test_watchdog_environment_is_exported(drover):
    out = drover.path("env.txt")
    drover.start({"programs": [{"name": "wd", "heartbeat": {"timeout": "2.5s"}, "output": out,
                                "command": [helper("sleeper"), "--echo-env", "WATCHDOG_USEC", "--echo-env",
                                            "WATCHDOG_PID", "--echo-env", "DROVER_HEARTBEAT_SLOT"]}]})
    text = wait_until(lambda: os.path.exists(out) and "SLOT" in open(out).read() and open(out).read(),
                      what=f"the environment dump in {out}")
    pid = drover.wait_spawns("wd:0", 1)[0][1]  # the child may print before drover logs its spawn
    assert "WATCHDOG_USEC=2500000\n" in text
    assert f"WATCHDOG_PID={pid}\n" in text
    assert "DROVER_HEARTBEAT_SLOT=0\n" in text
    assert drover.stop() == 0


def test_no_ready_within_start_timeout_is_a_failed_start(drover):
    drover.start({"programs": [{"name": "mute", "ready": "notify", "start_timeout": "300ms",
                                "command": [helper("sleeper")], "yoyo": {"restarts": 1, "window": "1m"}}]})
    drover.wait_log(r"mute:0 pid=\d+ starting -> starting \(not ready within start_timeout, stopping it\)")
    drover.wait_log(r"mute:0 .*-> fatal \(yo-yo")
    assert drover.stop() == 4  # a program is fatal: not a clean stop


def test_watchdog_trigger_restarts(drover):
    script = "systemd-notify --ready; sleep 0.2; systemd-notify WATCHDOG=trigger; exec sleep 600"
    drover.start({"programs": [{"name": "trig", "ready": "notify", "heartbeat": {"timeout": "1m"},
                                "command": ["/bin/sh", "-c", script]}]})
    drover.wait_log(r"trig:0 pid=\d+ reports a failure \(WATCHDOG=trigger\), restarting it")
    drover.wait_spawns("trig:0", 2)
    assert drover.stop() == 0


def test_drover_notifies_its_own_supervisor(drover, tmp_path):
    path = str(tmp_path / "up.sock")
    up = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    up.bind(path)
    up.settimeout(10)

    def recv(what):
        try:
            return up.recv(4096)
        except TimeoutError:
            raise AssertionError(f"no datagram from drover within 10 s: {what}; log:\n{drover.log()}") from None
    try:
        env = dict(drover.env, NOTIFY_SOCKET=path, WATCHDOG_USEC="200000")
        drover.start({"programs": [{"name": "s", "command": [helper("sleeper")], "instances": 2}]}, env=env)
        first = recv("READY=1 once started").decode()
        assert first.startswith("READY=1\n") and "STATUS=supervising 2 instances" in first
        beats = [recv("WATCHDOG=1 every 100 ms") for _ in range(3)]  # half of WATCHDOG_USEC
        assert beats == [b"WATCHDOG=1"] * 3
        drover.send(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while recv("STOPPING=1 after SIGTERM") != b"STOPPING=1":
            assert time.monotonic() < deadline, "no STOPPING=1 within 10 s of SIGTERM (only WATCHDOG=1)"
        assert drover.wait_exit(10, "of SIGTERM") == 0
    finally:
        up.close()


SEND_STATUS = r"""
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
ns = os.environ["NOTIFY_SOCKET"]  # a path; "@name" would be an abstract socket
s.sendto(bytes.fromhex(sys.argv[1]), "\0" + ns[1:] if ns.startswith("@") else ns)
time.sleep(600)
"""


@pytest.mark.parametrize("sent, shown", [
    (b"READY=1\nSTATUS=caf\xe9 \xff\xfe", "caf\\xe9 \\xff\\xfe"),
    (b"READY=1\nSTATUS=\x1b[2J\x1b[31mHACKED\x07", "\\x1b[2J\\x1b[31mHACKED\\x07"),
    (b"READY=1\nSTATUS=d\xc3\xa9j\xc3\xa0 \xe2\x9c\x93", "d\u00e9j\u00e0 \u2713"),
])
def test_status_text_is_escaped_never_dropped(drover, sent, shown):
    """FINDINGS B18: STATUS= with invalid UTF-8 made the status key vanish from /status;
    control characters became '?'. Both are kept now, each such byte as \\xHH."""
    drover.start({"programs": [{"name": "u", "ready": "notify",
                                "command": ["/usr/bin/python3", "-c", SEND_STATUS, sent.hex()]}]})
    drover.wait_log(r"u:0 pid=\d+ starting -> running \(READY=1\)", timeout=15)
    code, body, _ = drover.call("GET", "/status/u")
    assert code == 200, body
    inst = body["programs"]["u"][0]
    assert inst.get("status") == shown, inst
    r = drover.cli("status", "--json")
    assert r.returncode == 0, r
    assert json.loads(r.stdout)["programs"]["u"][0].get("status") == shown, r.stdout
    assert drover.stop() == 0


SLOT_WRITER = r"""
import mmap, os, struct, sys, time
m = mmap.mmap(int(os.environ["DROVER_HEARTBEAT_FD"]), 0)
off = int(os.environ["DROVER_HEARTBEAT_SLOT"]) * 64  # struct drover_slot: last_beat_ns first
while True:
    struct.pack_into("<Q", m, off, time.time_ns() if sys.argv[1] == "realtime" else int(sys.argv[1], 0))
    time.sleep(0.05 if sys.argv[1] == "realtime" else 600)
"""
FUTURE_LINE = (r"h:0 pid=(\d+) heartbeat slot holds a time \S+ s ahead of CLOCK_MONOTONIC "
               r"\(is it using CLOCK_MONOTONIC\?\); counting it as a beat when seen")


def test_heartbeat_from_the_far_future_is_clamped(drover):
    """FINDINGS B19: a slot value near INT64_MAX logged 'silent for -9223369416.579s' and restarted
    the worker every second. Now it counts as one beat when first seen: the worker goes silent
    after the timeout like any worker that stopped beating, and it is said once per process."""
    drover.start({"programs": [{"name": "h", "heartbeat": {"timeout": "1s"}, "stop_timeout": "2s",
                                "command": ["/usr/bin/python3", "-c", SLOT_WRITER, "0x7fffffffffffffff"]}]})
    drover.wait_log(FUTURE_LINE)
    silent = drover.wait_log(r"h:0 pid=\d+ silent for (-?\d+\.\d+)s \(heartbeat timeout 1\.000s\), restarting it")
    assert float(silent[0][1]) >= 1.0, drover.log()
    assert not drover.lines(r"silent for -"), drover.log()
    # One line per process, however often the slot is read.
    pids = [int(m[1]) for m in drover.lines(FUTURE_LINE)]
    assert len(pids) == len(set(pids)), drover.log()
    code, text, _ = drover.call("GET", "/metrics")
    assert code == 200
    count = [line for line in text.splitlines()
             if line.startswith('drover_instance_heartbeat_future_total{program="h",instance="0"} ')]
    assert count and int(count[0].split()[-1]) >= 1, text
    assert drover.stop() == 0


def test_realtime_heartbeats_still_show_a_stopped_worker(drover):
    """FINDINGS B19: a worker writing CLOCK_REALTIME times was never silent, even when stopped.
    Each new value counts as a beat when drover sees it; once the values stop, silence shows."""
    drover.start({"programs": [{"name": "h", "heartbeat": {"timeout": "1s", "action": "none"},
                                "command": ["/usr/bin/python3", "-c", SLOT_WRITER, "realtime"]}]})
    drover.wait_log(FUTURE_LINE)
    pid, _ = drover.current("h:0")
    code, body, _ = drover.call("GET", "/health?silence=5s")
    assert code == 200, body  # beating: each new value is a beat
    os.kill(pid, signal.SIGSTOP)
    try:
        drover.wait_log(r"h:0 pid=\d+ silent for \d+\.\d+s \(heartbeat timeout 1\.000s\)$")
        wait_until(lambda: drover.call("GET", "/health?silence=1s")[0] == 503,
                   what="/health?silence=1s to report the stopped worker silent")
        code, body, _ = drover.call("GET", "/health?silence=1s")
        assert body["counts"]["silent"] == 1, body
    finally:
        os.kill(pid, signal.SIGCONT)
    drover.wait_log(r"h:0 pid=\d+ beating again after")
    assert len(drover.lines(FUTURE_LINE)) == 1
    assert drover.stop() == 0


# Review §1.4: the replacement of a single-instance program whose stop took longer than the 1 s
# silence tick must be watched for silence again. The stop here takes 1.5 s. (Observers hear of a
# spawn only once the new state is stored: daemon/pool.h.)
def test_a_replacement_after_a_slow_stop_is_watched_for_silence(drover):
    drover.start({"programs": [{"name": "hung", "stop_timeout": "1500ms",
                                "command": [helper("sleeper"), "--ignore-term"],
                                "heartbeat": {"timeout": "1s", "action": "restart"}}]})
    # Never beats: silent, killed after 1.5 s, and its replacement just as silent must go too.
    silent = r"hung:0 pid=(\d+) silent for .*, restarting it"
    drover.wait_log(silent, count=2, timeout=60)
    assert len({m[1] for m in drover.lines(silent)}) == 2, drover.log()
    # 4 when the shutdown found hung:0 ignoring TERM and SIGKILLed it (the usual case: the
    # restart is still stopping it); 0 when it came between a restart's SIGKILL and the
    # replacement's ignoring TERM.
    rc = drover.stop()
    assert rc == (4 if drover.lines(r"sending SIGKILL .*: not a clean stop") else 0), drover.log()


def test_a_replacement_after_an_operator_restart_is_watched_for_silence(drover):
    first = drover.path("first-ran")
    # The first process beats until SIGTERM, then takes 1.5 s to exit; every later one is silent.
    worker = (
        "import os, signal, socket, sys, time\n"
        f"beats = not os.path.exists({str(first)!r})\n"
        f"open({str(first)!r}, 'w').close()\n"
        "signal.signal(signal.SIGTERM, lambda *_: (time.sleep(1.5), sys.exit(0)))\n"
        "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
        "while True:\n"
        "    if beats: s.sendto(b'WATCHDOG=1', os.environ['NOTIFY_SOCKET'])\n"
        "    time.sleep(0.05)\n")
    drover.start({"programs": [{"name": "w", "stop_timeout": "10s",
                                "command": [PY_WORKER[0], "-c", worker],
                                "heartbeat": {"timeout": "1s", "action": "restart"}}]})
    wait_until(lambda: os.path.exists(first), 20, what="the first process to start")
    first_pid, _ = drover.current("w:0")
    r = drover.cli("restart", "w:0")
    assert r.returncode == 0, r.stderr
    drover.wait_spawns("w:0", 2, timeout=30)
    second_pid, _ = drover.current("w:0")
    assert second_pid != first_pid
    drover.wait_log(rf"w:0 pid={second_pid} silent for .*, restarting it", timeout=60)
    assert not drover.lines(rf"w:0 pid={first_pid} silent for"), drover.log()
    assert drover.stop() == 0


def test_silence_restarts_count_toward_yo_yo(drover):
    # Never beats: each process goes silent and is restarted, until the restarts trip yo-yo.
    drover.start({"programs": [{"name": "mute", "stop_timeout": "2s",
                                "command": [helper("sleeper")],
                                "yoyo": {"restarts": 2, "window": "10m"},
                                "heartbeat": {"timeout": "300ms", "action": "restart"}}]})
    drover.wait_log(r"mute:0 (pid=\d+ )?stopping -> fatal \(yo-yo: more than 2 restarts within [^;]+; "
                    r"not restarting until asked\)", timeout=60)
    assert len(drover.lines(r"mute:0 pid=\d+ silent for .*, restarting it")) == 3, drover.log()
    assert len(drover.spawns("mute:0")) == 3  # the first and two restarts, no fourth
    assert drover.lines(r"mute:0 .* -> stopping \(heartbeat timeout, too many restarts "
                        r"within the yo-yo window: stopping it\)"), drover.log()
    code, body, _ = drover.call("GET", "/status/mute")
    assert code == 200 and body["programs"]["mute"][0]["state"] == "fatal", body
    assert drover.stop() == 4  # a program is fatal: not a clean stop


def test_descriptors_a_sender_passes_are_closed_at_once(drover):
    """A notify datagram with SCM_RIGHTS: drover keeps none of the descriptors (it stores
    none, unlike systemd's FDSTORE), whoever sent it."""
    drover.start({"programs": [{"name": "quiet", "ready": "notify", "command": [helper("sleeper")]}]},
                 args=["-v"])
    drover.wait_spawns("quiet:0", 1)
    r, w = os.pipe()
    pipe = os.readlink(f"/proc/self/fd/{r}")  # "pipe:[INODE]"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.sendmsg([b"READY=1"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [r, w]))],
                  0, notify_address(drover, "quiet:0"))
    os.close(r)
    os.close(w)
    drover.wait_log(rf"notify: dropped a datagram from pid {os.getpid()}, which belongs to no instance")

    def held():
        out = []
        for fd in os.listdir(f"/proc/{drover.proc.pid}/fd"):
            try:
                out.append(os.readlink(f"/proc/{drover.proc.pid}/fd/{fd}"))
            except FileNotFoundError:
                pass
        return out
    assert pipe not in held(), held()
    assert drover.stop() == 0

"""Jobs (docs/jobs.md): drover dispatches jobs to its instances over the job channel. Real
workers (python/drover_worker.py through tests/helpers/job_test_worker.py, and the C example),
real HTTP, the CLI; the store is memory here (test_jobs_store.py covers the file store)."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request

from conftest import REPO, api, free_port, wait_until

PY = "/usr/bin/python3"  # the worker needs only the standard library
WORKER = str(REPO / "tests" / "helpers" / "job_test_worker.py")
RAW = str(REPO / "tests" / "helpers" / "job_raw_worker.py")
C_JOB_WORKER = str(REPO / "bin" / "job_worker")
TOKEN = "s3cret-token-for-jobs"


def program(name="w", instances=1, jobs=None, command=None, **extra):
    p = {"name": name, "instances": instances, "stop_timeout": "2s",
         "command": command or [PY, WORKER], "jobs": jobs or {}}
    p.update(extra)
    return p


def start(drover, programs, port, store="memory", **top):
    cfg = {"programs": programs, "jobs": {"store": store, **top}}
    drover.start(cfg, args=["--http", f"127.0.0.1:{port}", "--http-token", TOKEN])
    drover.wait_log(rf"serving HTTP on 127\.0\.0\.1:{port}")
    return cfg


def post(port, path, body=None, token=TOKEN, timeout=90):
    data = json.dumps(body).encode() if body is not None else b""
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method="POST")
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def job(port, jid):
    return api(port, f"/jobs/{jid}")[1]


def wait_state(port, jid, states, timeout=60):
    states = {states} if isinstance(states, str) else set(states)
    return wait_until(lambda: (j := job(port, jid)) and j.get("state") in states and j, timeout,
                      what=lambda: f"job {jid} in {states}; it is {job(port, jid)}")


def all_instances(status):
    """Every instance of a /status answer ({"programs": {NAME: [instance, ...]}})."""
    return [i for insts in status["programs"].values() for i in insts]


def idle_instances(port, n):
    """Waits until n instances are connected and asking for work (so a submit goes out at once)."""
    def enough():
        _, st, _ = api(port, "/status")
        idle = [i for i in all_instances(st) if i.get("idle_s") is not None]
        return len(idle) >= n and idle
    return wait_until(enough, 60, what=f"{n} instance(s) idle on the job channel")


def test_submit_and_get_the_result_over_http_and_the_cli(drover):
    port = free_port()
    start(drover, [program(instances=2)], port)
    idle_instances(drover_port := port, 2)
    code, j = post(port, "/jobs?wait=60", {"type": "w", "payload": "echo hello"})
    assert code == 200, j
    assert j["state"] == "success" and j["result"] == "hello"
    assert j["hero_status"] == "finished" and j["funcx_state"] == "success"
    assert [h["state"] for h in j["history"]] == ["waiting", "dispatched", "running", "success"]
    assert j["instance"] in ("w:0", "w:1") and j["attempt"] == 1
    # The CLI: drover run prints the result bytes, exactly.
    r = drover.cli("run", "w", "echo from-cli")
    assert r.returncode == 0 and r.stdout == "from-cli", r
    r = drover.cli("run", "w", "fail")
    assert r.returncode == 1 and "asked to fail" in r.stderr, r
    # /status shows each instance's job side; /queues the type.
    _, st, _ = api(drover_port, "/status")
    assert sum(i["jobs_done"] for i in all_instances(st)) == 2
    assert sum(i["jobs_failed"] for i in all_instances(st)) == 1
    _, q, _ = api(port, "/queues")
    [t] = q["types"]
    assert t["type"] == "w" and t["program"] == "w" and t["instances"] == 2
    assert t["done_1m"] == 2 and t["failed_1m"] == 1
    assert drover.stop() == 0


def test_a_worker_killed_mid_job_is_redelivered_at_once_with_the_signal(drover):
    port = free_port()
    start(drover, [program(instances=2, jobs={"attempts": 3, "backoff": {"initial": "10ms"}})], port)
    idle_instances(port, 2)
    code, j = post(port, "/jobs", {"type": "w", "payload": "sleep-first 600"})
    assert code == 201, j
    jid = j["id"]
    running = wait_state(port, jid, "running")
    first = running["instance"]
    _, st, _ = api(port, "/status")
    [holder] = [i for i in all_instances(st) if jid in (i.get("job") or [])]
    assert f"{holder['program']}:{holder['instance']}" == first
    os.kill(holder["pid"], signal.SIGKILL)
    done = wait_state(port, jid, "success")
    assert done["result"] == "ok attempt 2" and done["attempt"] == 2
    lost = [h for h in done["history"] if h.get("error_code") == "worker_lost"]
    assert lost and lost[0]["state"] == "retry_wait" and lost[0]["signal"] == "KILL", done["history"]
    # No visibility timeout: it ran on the other instance (or the restarted one) right away.
    drover.wait_log(rf"job {jid} attempt 1 lost with its process: killed by SIGKILL")
    assert drover.stop() == 0


def test_a_timeout_sends_cancel_and_then_stops_a_worker_that_ignores_it(drover):
    port = free_port()
    start(drover, [program(jobs={"timeout": "300ms", "cancel_grace": "300ms", "attempts": 1})], port)
    idle_instances(port, 1)
    code, j = post(port, "/jobs", {"type": "w", "payload": "hang"})
    assert code == 201
    done = wait_state(port, j["id"], "failed")
    assert done["error"]["code"] == "timeout", done
    drover.wait_log(r"job \S+ gave no answer to CANCEL within 300 ms: restarting it")
    # A cooperative worker answers the CANCEL: the job ends without a restart.
    idle_instances(port, 1)
    code, j = post(port, "/jobs", {"type": "w", "payload": "sleep-first 600", "timeout": "300ms"})
    done = wait_state(port, j["id"], "failed")
    assert done["error"]["code"] == "timeout"
    assert drover.stop() == 0


def test_retries_back_off_and_poison_and_cancel_retry_delete(drover):
    port = free_port()
    start(drover, [program(jobs={"attempts": 3, "backoff": {"initial": "10ms", "max": "20ms"}})],
          port)
    idle_instances(port, 1)
    _, j = post(port, "/jobs?wait=60", {"type": "w", "payload": "fail-retry"})
    assert j["state"] == "failed" and j["attempt"] == 3, j
    assert [h["state"] for h in j["history"]].count("retry_wait") == 2
    # A client retries it: attempts start again.
    code, r = post(port, f"/jobs/{j['id']}/retry")
    assert code == 200 and r["state"] in ("waiting", "dispatched", "running", "retry_wait", "failed")
    wait_state(port, j["id"], "failed")
    # Cancel a delayed job; delete it; a second delete is 404; cancel of a finished one 409.
    code, d = post(port, "/jobs", {"type": "w", "payload": "echo later", "delay": "1h"})
    assert code == 201 and d["state"] == "delayed"
    code, c = post(port, f"/jobs/{d['id']}/cancel")
    assert code == 200 and c["state"] == "cancelled"
    assert post(port, f"/jobs/{d['id']}/cancel")[0] == 409
    req = urllib.request.Request(f"http://127.0.0.1:{port}/jobs/{d['id']}", method="DELETE")
    req.add_header("Authorization", f"Bearer {TOKEN}")
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200
    assert api(port, f"/jobs/{d['id']}")[0] == 404
    assert drover.stop() == 0


def test_poison_a_job_that_kills_its_workers(drover):
    port = free_port()
    start(drover, [program(instances=2, jobs={"attempts": 5, "max_worker_kills": 2,
                                             "backoff": {"initial": "10ms"}})], port)
    idle_instances(port, 2)
    _, j = post(port, "/jobs", {"type": "w", "payload": "sleep 600", "attempts": 5})
    for n in (1, 2):
        def holder():
            _, st, _ = api(port, "/status")
            h = [i for i in all_instances(st) if j["id"] in (i.get("job") or [])]
            return h and job(port, j["id"])["state"] == "running" and h[0]
        h = wait_until(holder, 60, what=f"job {j['id']} running (kill {n})")
        os.kill(h["pid"], signal.SIGKILL)
        if n == 1:
            wait_until(lambda: job(port, j["id"])["attempt"] == 2, 60, what="attempt 2")
    # Its instances died under it twice (max_worker_kills): failed as poison, attempts left.
    done = wait_state(port, j["id"], "failed")
    assert done["error"]["code"] == "poison", done
    assert done["attempt"] == 2, done
    assert drover.stop() == 0


def test_idempotent_ids_unknown_types_and_bad_submits(drover):
    port = free_port()
    start(drover, [program()], port, max_payload="1KiB")
    idle_instances(port, 1)
    code, a = post(port, "/jobs", {"type": "w", "payload": "echo x", "id": "order-42"})
    assert code == 201
    code, b = post(port, "/jobs", {"type": "w", "payload": "echo x", "id": "order-42"})
    assert code == 200 and b["id"] == "order-42"
    code, c = post(port, "/jobs", {"type": "w", "payload": "echo y", "id": "order-42"})
    assert code == 409 and "error" in c
    code, e = post(port, "/jobs", {"type": "nope", "payload": "x"})
    assert code == 404 and e["error"]
    code, e = post(port, "/jobs", {"type": "w", "payload": "x" * 2000})
    assert code == 413, e
    code, e = post(port, "/jobs", {"type": "w", "payload": "x", "bogus": 1})
    assert code == 400 and e["error"], e
    code, e = post(port, "/jobs", {"type": "w", "payload": "x"}, token=None)
    assert code in (401, 403)
    # Over the control socket no token is needed (the socket's mode is the authorisation).
    r = drover.cli("job", "submit", "w", "--payload", "echo via-cli", "--wait=60s")
    assert r.returncode == 0 and "via-cli" in r.stdout, r
    assert drover.stop() == 0


def test_bad_frames_and_foreign_processes_are_refused_and_nothing_crashes(drover):
    port = free_port()
    start(drover, [program("g", command=[PY, RAW, "garbage"]),
                   program("t", command=[PY, RAW, "wrong-token"]),
                   program("o", command=[PY, RAW, "oversize"]),
                   program("w")], port)
    drover.wait_log(r"job channel of an instance \(pid \d+\): .*unknown verb.*closing it")
    drover.wait_log(r"job channel: refused pid \d+: .*token is wrong")
    code, j = post(port, "/jobs", {"type": "o", "payload": "x"})
    assert code == 201
    drover.wait_log(r"job channel of an instance \(pid \d+\): .*closing it", count=2)
    # A process outside every instance's group, with a real token, is refused too.
    idle_instances(port, 1)
    _, st, _ = api(port, "/status")
    [w] = [i for i in all_instances(st) if i["program"] == "w"]
    env = dict(kv.split("=", 1) for kv in
               open(f"/proc/{w['pid']}/environ", "rb").read().decode().split("\0") if "=" in kv)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(env["DROVER_JOBS_SOCKET"])
    s.sendall(f"HELLO v=1 program=w instance=0 token={env['DROVER_JOBS_TOKEN']}\n".encode())
    reply = s.makefile("rb").readline().decode()
    s.close()
    assert reply.startswith("BYE reason=") and "not%20w:0" in reply.replace(" ", "%20"), reply
    # drover still serves, and jobs still run.
    code, j = post(port, "/jobs?wait=60", {"type": "w", "payload": "echo alive"})
    assert code == 200 and j["result"] == "alive"
    assert drover.stop() == 0


def metric(port, name):
    """The value of one sample of /metrics (0 when absent)."""
    _, _, _ = api(port, "/livez")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[-1])
    return 0.0


def test_a_late_result_from_a_superseded_attempt_is_dropped_and_counted(drover):
    port = free_port()
    start(drover, [program("s", instances=2, command=[PY, RAW, "stale"],
                           jobs={"backoff": {"initial": "10ms"}})], port)
    idle_instances(port, 2)
    code, j = post(port, "/jobs?wait=60", {"type": "s", "payload": "x"})
    assert code == 200 and j["state"] == "success" and j["attempt"] == 2, j
    assert j["result"] == "fresh", j
    drover.wait_log(r"dropped a late result for job \S+ \(stale attempt\)")
    assert metric(port, 'drover_jobs_stale_results_total{type="s"}') == 1
    assert drover.stop() == 0


def test_frames_past_one_read_budget_are_all_taken(drover):
    port = free_port()
    start(drover, [program("f", command=[PY, RAW, "flood"])], port)
    code, j = post(port, "/jobs?wait=60", {"type": "f", "payload": "x"})
    assert code == 200 and j["result"] == "flooded", j
    assert drover.stop() == 0


def test_a_kept_alive_connection_waits_anew_for_each_request(drover):
    import http.client
    port = free_port()
    start(drover, [program("idle", command=["/bin/sleep", "1000"])], port)
    _, j = post(port, "/jobs", {"type": "idle", "payload": "x"})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", f"/jobs/{j['id']}?wait=0.2")
    r = conn.getresponse()
    assert r.status == 202 and json.loads(r.read())["id"] == j["id"]
    _, ev, _ = api(port, "/events")
    # The same connection now long-polls /events: a job's change must not answer it as the job.
    conn.request("GET", f"/events?since={ev['next']}&wait=1")
    post(port, "/jobs", {"type": "idle", "payload": "y"})
    r = conn.getresponse()
    body = json.loads(r.read())
    assert r.status == 200 and "events" in body and "id" not in body, body
    conn.close()
    assert drover.stop() == 0


def test_a_full_store_is_429_and_loses_nothing(drover):
    port = free_port()
    start(drover, [program("idle", command=["/bin/sleep", "1000"])], port,
          max_payload="512", max_queued_bytes="1KiB")
    ids = []
    for _ in range(2):
        code, j = post(port, "/jobs", {"type": "idle", "payload": "x" * 400})
        assert code == 201, j
        ids.append(j["id"])
    code, j = post(port, "/jobs", {"type": "idle", "payload": "x" * 400})
    assert code == 429 and "max_queued_bytes" in j["error"], j
    for jid in ids:  # the two before it are still there, waiting
        assert job(port, jid)["state"] == "waiting"
    assert drover.stop() == 0


def test_idle_instances_are_pinged_and_a_deaf_one_is_restarted(drover):
    port = free_port()
    ping = {"idle": "1s", "timeout": "500ms", "failures": 2}
    start(drover, [program("w", jobs={"ping": ping}),
                   program("d", command=[PY, RAW, "deaf"], jobs={"ping": ping})], port)
    # The library answers PING inside its job loop: passes, no failure, no restart.
    wait_until(lambda: metric(port, 'drover_pings_total{program="w",instance="0",result="pass"}')
               >= 2, 60, what="2 pings answered by the library worker")
    assert metric(port, 'drover_pings_total{program="w",instance="0",result="fail"}') == 0
    # The deaf one fails two in a row and is restarted, cause "job stuck".
    drover.wait_log(r"d:0 pid=\d+ idle, and its job loop did not answer 2 pings: restarting it",
                    timeout=60)
    drover.wait_log(r"d:0 pid=\d+ running -> stopping \(job stuck, restarting\)", timeout=60)
    assert metric(port, 'drover_pings_total{program="d",instance="0",result="fail"}') >= 2
    _, st, _ = api(port, "/status")
    [w] = [i for i in all_instances(st) if i["program"] == "w"]
    assert w["restarts"] == 0, w
    # A busy instance is not pinged: a job longer than ping.idle runs to its end.
    code, j = post(port, "/jobs?wait=60", {"type": "w", "payload": "sleep 1.5"})
    assert code == 200 and j["state"] == "success", j
    assert metric(port, 'drover_pings_total{program="w",instance="0",result="fail"}') == 0
    assert drover.stop() == 0


def test_autoscale_follows_the_queue_and_a_manual_scale_pins_it(drover):
    port = free_port()
    auto = {"min": 1, "max": 3, "per_instance": 1, "interval": "100ms", "down_after": "1s"}
    start(drover, [program("w", instances=1, max_instances=3, jobs={"autoscale": auto})], port)
    idle_instances(port, 1)

    def count():
        _, st, _ = api(port, "/status")
        return len(st["programs"]["w"])
    # A burst of 200 short jobs: it grows to max (1, 2, then 3), and every job runs once.
    ids = [post(port, "/jobs", {"type": "w", "payload": "sleep 0.05"})[1]["id"]
           for _ in range(200)]
    wait_until(lambda: count() == 3, 60, what="3 instances for a burst of 200 jobs")
    for jid in ids:
        done = wait_state(port, jid, "success", timeout=120)
        assert done["attempt"] == 1, done  # nobody was stopped under a job
    # The queue is empty: after down_after it goes back to min, stopping idle instances.
    wait_until(lambda: count() == 1, 60, what="back to 1 instance once the queue is empty")
    assert metric(port, 'drover_autoscale_changes_total{program="w",direction="up"}') >= 2
    assert metric(port, 'drover_autoscale_changes_total{program="w",direction="down"}') >= 1
    # A manual scale holds against the queue until `autoscale on`.
    code, _, _ = api(port, "/scale/w?instances=2", method="POST", token=TOKEN)
    assert code == 200
    drover.wait_log(r'"w": autoscale: the queue asks for 1 instance; held at 2 by a manual scale',
                    timeout=60)
    assert count() == 2
    code, body, _ = api(port, "/autoscale/w", method="POST", token=TOKEN)
    assert code == 200 and body["action"] == "autoscale", body
    wait_until(lambda: count() == 1, 60, what="back to 1 instance after autoscale on")
    code, body, _ = api(port, "/autoscale/nosuch", method="POST", token=TOKEN)
    assert code == 404, body
    assert drover.stop() == 0


def test_autoscale_from_zero_starts_an_instance_for_the_first_job(drover):
    port = free_port()
    auto = {"min": 0, "max": 2, "per_instance": 1, "interval": "100ms", "down_after": "1s"}
    start(drover, [program("z", instances=1, max_instances=2, jobs={"autoscale": auto})], port)

    def none_left():
        return not api(port, "/status")[1]["programs"].get("z")
    wait_until(none_left, 60, what="0 instances once down_after passed with an empty queue")
    code, j = post(port, "/jobs?wait=60", {"type": "z", "payload": "echo woke"})
    assert code == 200 and j["result"] == "woke", j
    wait_until(none_left, 60, what="back to 0 instances after down_after")
    assert drover.stop() == 0


def test_sigterm_drains_a_running_job_to_its_end(drover):
    import threading
    port = free_port()
    start(drover, [program("w", stop_timeout="60s")], port)
    idle_instances(port, 1)
    got = {}

    def submit():
        got["answer"] = post(port, "/jobs?wait=60", {"type": "w", "payload": "sleep 1.5"})
    t = threading.Thread(target=submit)
    t.start()
    wait_until(lambda: (api(port, "/jobs?state=running")[1]["jobs"] or None), 60,
               what="the job running")
    drover.proc.send_signal(signal.SIGTERM)
    t.join(90)
    assert not t.is_alive(), "the waiting submit got no answer"
    code, j = got["answer"]
    assert code == 200 and j["state"] == "success" and j["attempt"] == 1, j
    assert drover.wait_exit(60, "after SIGTERM") == 0
    assert drover.lines(r"w:0 pid=\d+ holds 1 job: stopping it once it is done"), drover.log()
    assert drover.lines(r"w:0 pid=\d+ finished its jobs: stopping it"), drover.log()


def test_a_jobs_env_reaches_its_worker_not_its_environment(drover):
    port = free_port()
    start(drover, [program()], port)
    idle_instances(port, 1)
    code, j = post(port, "/jobs?wait=60", {"type": "w", "payload": "env COLOUR",
                                           "env": {"COLOUR": "teal", "N": "1"}})
    assert code == 200 and j["result"] == "teal", j
    code, j = post(port, "/jobs?wait=60", {"type": "w", "payload": "env COLOUR"})
    assert code == 200 and j["result"] == "", j  # the next job has none
    assert drover.stop() == 0


def test_the_c_library_example_worker(drover):
    port = free_port()
    start(drover, [program("c", instances=1, command=[C_JOB_WORKER])], port)
    idle_instances(port, 1)
    code, j = post(port, "/jobs?wait=60", {"type": "c", "payload": "shout"})
    assert code == 200 and j["result"] == "SHOUT", j
    # drover_job_fail_code(): the worker's own code is the job's error.code.
    code, j = post(port, "/jobs?wait=60", {"type": "c", "payload": "fail bad_input"})
    assert code == 200 and j["state"] == "failed", j
    assert j["error"]["code"] == "bad_input" and j["error"]["message"] == "asked to fail", j
    assert drover.stop() == 0


def test_metrics_and_job_events(drover):
    port = free_port()
    start(drover, [program()], port)
    idle_instances(port, 1)
    _, j = post(port, "/jobs?wait=60", {"type": "w", "payload": "echo m"})
    _, ev, _ = api(port, "/jobs/events?since=0")
    mine = [e for e in ev["events"] if e["id"] == j["id"]]
    assert [e["to"] for e in mine] == ["waiting", "dispatched", "running", "success"], mine
    assert all(e["seq"] for e in mine) and ev["next"] > mine[-1]["seq"]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        text = r.read().decode()
    assert 'drover_jobs_submitted_total{type="w"} 1' in text
    assert 'drover_jobs_finished_total{type="w",result="success"} 1' in text
    assert 'drover_instance_jobs_held{program="w",instance="0"} 0' in text
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: tools/deps.sh installs the prometheus package"
    p = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert drover.stop() == 0


def test_a_stop_while_requests_wait_answers_them_and_exits_cleanly(drover):
    """SIGTERM while a submit waits for its job, a GET waits on it and an /events long-poll
    waits: each gets an answer, and drover exits 0 (libmicrohttpd aborts the process when
    it is stopped with a suspended connection)."""
    port = free_port()
    start(drover, [program("w", instances=1, stop_timeout="1s")], port)
    idle_instances(port, 1)
    code, j = post(port, "/jobs", {"type": "w", "payload": "sleep 60"})
    assert code == 201, j
    wait_state(port, j["id"], "running")
    body = json.dumps({"type": "w", "payload": "sleep 60"}).encode()
    requests = [
        (f"POST /jobs?wait=60 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
         f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
         f"Connection: close\r\n\r\n").encode() + body,
        f"GET /jobs/{j['id']}?wait=60 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode(),
        b"GET /events?since=999999&wait=60 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ]
    socks = []
    for req in requests:
        s = socket.create_connection(("127.0.0.1", port), timeout=60)
        s.sendall(req)
        socks.append(s)
    # Two answered requests after these were sent: drover has read (and parked) them by then.
    for _ in range(2):
        assert api(port, "/livez")[0] == 200
    os.kill(drover.proc.pid, signal.SIGTERM)
    answers = []
    for s in socks:
        data = b""
        while chunk := s.recv(65536):
            data += chunk
        s.close()
        answers.append(data.split(b"\r\n", 1)[0])
    assert drover.proc.wait(timeout=60) == 0, drover.log()
    assert "Fatal error" not in drover.log(), drover.log()
    assert all(a.startswith(b"HTTP/1.1 ") for a in answers), (answers, drover.log())


def test_connections_that_never_say_hello_are_capped_and_closed(drover):
    """64 connections may wait for HELLO, each for 5 s: the 65th is refused at once, the rest
    are closed at their deadline, and jobs go on meanwhile (docs/SECURITY.md)."""
    port = free_port()
    start(drover, [program("w")], port)
    idle_instances(port, 1)
    path = drover.lines(r"job channel listening on (\S+)")[0][1]
    socks = []
    for _ in range(65):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        socks.append(s)
    drover.wait_log(r"job channel: 64 connections have not said HELLO yet; refusing another")
    code, j = post(port, "/jobs?wait=60", {"type": "w", "payload": "echo meanwhile"})
    assert code == 200 and j["result"] == "meanwhile", j
    drover.wait_log(r"job channel: pid \d+ sent no HELLO within 5000 ms; closing it", count=64,
                    timeout=60)
    for s in socks:
        s.settimeout(30)
        assert s.recv(1) == b""  # closed by drover
        s.close()
    assert drover.stop() == 0

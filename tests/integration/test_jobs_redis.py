"""The Redis store (JOBS.md §1, §6.7; docs/jobs-redis.md): drover takes Hero's jobs from a
real redis-server and writes their ends back where Hero's clients look (the job hash and
its reply list); a job a client got wrong fails alone; drover's own submits land in Redis
and answer 503 while it is down; a redis-server killed -9 loses no transition of the jobs
that ran meanwhile; three drovers on one Redis finish every job exactly once when one of
them is killed -9 with its workers. Real drover, real Python workers
(tests/helpers/job_test_worker.py: the hash's `script` is their payload), real
redis-server on a unix socket (redis_server.py), a Hero client over RESP2 (resp.py)."""
import json
import os
import re
import signal
import urllib.request
import uuid
from datetime import datetime, timezone

import pytest

from conftest import Drover, SANITIZER_REPORT, api, free_port, pid_alive, wait_until
from redis_server import needs_redis, redis, redis_aof  # noqa: F401 (fixtures)
from test_config_errors import refused
from test_jobs import PY, TOKEN, WORKER, all_instances, idle_instances, post

TYPES = ["osis", "sal", "v", "python"]
PREFIX = "hero"

# A job of a few milliseconds, on a loaded machine under ASan: its end is in the hash within
# a fraction of a second. Every wait below is 10x that at least.
JOB_WAIT = 60


def redis_config(url, node="n1", instances=2, **redis_extra):
    return {"programs": [{"name": "w", "instances": instances, "stop_timeout": "2s",
                          "command": [PY, WORKER], "jobs": {"types": TYPES, "attempts": 3}}],
            "jobs": {"store": "redis",
                     "redis": {"url": url, "prefix": PREFIX, "node": node, "node_ttl": "2s",
                               **redis_extra}}}


def start(drover, server, node="n1", **redis_extra):
    """Starts drover on the Redis store of server; its HTTP port (also drover.port), once the
    node joined the cluster (it takes jobs and submits from then on)."""
    port = free_port()
    joined = rf"redis store: node {re.escape(node)} joined the cluster"
    before = len(drover.lines(joined)) if drover.proc else 0  # a restart in the same test
    drover.start(redis_config(server.url, node=node, **redis_extra),
                 args=["--http", f"127.0.0.1:{port}", "--http-token", TOKEN,
                       "--dumpfile", drover.path("dump.json")])
    drover.wait_log(rf"serving HTTP on 127\.0\.0\.1:{port}")
    drover.wait_log(joined, count=before + 1, timeout=60)
    drover.port = port
    return port


# --- a Hero client ---------------------------------------------------------------------------

def job_key(jid):
    return f"{PREFIX}:job:{jid}"


def reply_key(jid):
    return f"{PREFIX}:q:reply:{jid}"


def work_key(stype):
    return f"{PREFIX}:q:work:type:{stype}"


def iso_now():
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def hero_fields(jid, script, stype, retries=0):
    """The hash Hero's Supervisor::create_job() writes (JOBS.md §1.3); `retries` is the
    tries after the first (drover_max_attempts = retries + 1)."""
    return {"id": jid, "script": script, "script_type": stype, "timeout": "30",
            "retries": str(retries), "status": "dispatched", "created_at": iso_now()}


def hero_submit(r, script, stype, jid=None, queue=None):
    """HSET the job's hash, then LPUSH its id on its type's queue, as Hero's start_job()."""
    jid = jid or str(uuid.uuid4())
    r.hset(job_key(jid), hero_fields(jid, script, stype))
    r.lpush(queue or work_key(stype), jid)
    return jid


def wait_reply(r, drover, jid, timeout=JOB_WAIT):
    """BLPOP of the job's reply list, as Hero's run_job_and_await_result(): the bytes."""
    got = r.blpop(reply_key(jid), timeout)
    assert got is not None, (f"no reply on {reply_key(jid)} within {timeout} s; the hash: "
                             f"{r.hgetall(job_key(jid))}; drover's log:\n{drover.log()}")
    return got[1]


def wait_hash(r, drover, jid, cond, what, timeout=JOB_WAIT):
    """The job's hash once cond(hash) holds."""
    return wait_until(lambda: (h := r.hgetall(job_key(jid))) and cond(h) and h, timeout,
                      what=lambda: f"{what}: the hash of {jid} is {r.hgetall(job_key(jid))}; "
                                   f"drover's log:\n{drover.log()}")


def ended(h):
    return h.get("status") in (b"finished", b"error") and h.get("drover_owner") == b""


def assert_finished(h, output, node="n1"):
    assert h["status"] == b"finished", h
    assert h["output"] == output, h
    assert h.get("error", b"") == b"", h
    assert h["drover_state"] == b"success", h
    assert h["drover_owner"] == b"", h
    assert int(h["drover_attempt"]) >= 1, h
    assert re.fullmatch(rb"w:[01]@" + node.encode(), h["actor_id"]), h
    assert h["worker_id"] == h["actor_id"], h


# --- /metrics ----------------------------------------------------------------------------------

def metrics(port):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/metrics")
    req.add_header("Authorization", f"Bearer {TOKEN}")
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.read().decode()


def sample(text, name):
    """The value of metric name (any labels) in an exposition, None when absent."""
    m = re.search(rf"^{re.escape(name)}(?:\{{[^}}]*\}})? (\S+)$", text, re.M)
    return float(m[1]) if m else None


def wait_metric(port, name, value, drover, timeout=30):
    return wait_until(lambda: sample(metrics(port), name) == value, timeout,
                      what=lambda: f"{name} {value} in /metrics; it is "
                                   f"{sample(metrics(port), name)}; log:\n{drover.log()}")


# --- the config ----------------------------------------------------------------------------------

def program_with_jobs():
    return {"name": "w", "command": [PY, WORKER], "jobs": {"types": TYPES}}


@pytest.mark.parametrize("redis_cfg, where, what", [
    ({"url": "redis://h:1/x"}, "jobs.redis.url", "the database must be a number"),
    ({"url": "unix:/run/redis.sock", "queue_key": "{{prefix}}:q:work"}, "jobs.redis.queue_key",
     "no {{type}}"),
    ({"url": "unix:/run/redis.sock", "password_file": "secret.txt"}, "jobs.redis.password_file",
     "expected an absolute path"),
    ({"url": "unix:/run/redis.sock", "node_ttl": "10ms"}, "jobs.redis.node_ttl", "node_ttl"),
    ({"url": "unix:/run/redis.sock", "nodes": "n1"}, "jobs.redis.nodes", 'unknown key "nodes"'),
])
def test_a_bad_redis_config_is_one_clear_error(drover, redis_cfg, where, what):
    err = refused(drover, {"programs": [program_with_jobs()],
                           "jobs": {"store": "redis", "redis": redis_cfg}})
    line = err.splitlines()[0]
    assert line.startswith("drover: ") and "config.json:" in line, err
    assert f": {where}: " in line, err
    assert what in line, err


def test_the_redis_store_without_a_url_or_redis_settings_without_the_store_are_refused(drover):
    err = refused(drover, {"programs": [program_with_jobs()], "jobs": {"store": "redis"}})
    assert "needs jobs.redis.url" in err.splitlines()[0], err
    err = refused(drover, {"programs": [program_with_jobs()],
                           "jobs": {"store": "memory", "redis": {"url": "unix:/run/r.sock"}}})
    assert 'jobs.redis is for store "redis"' in err.splitlines()[0], err


# --- Hero's clients ------------------------------------------------------------------------------

@needs_redis
def test_a_hero_client_gets_each_script_types_end_on_its_reply_list_and_in_the_hash(drover, redis):
    start(drover, redis)
    r = redis.client()
    ids = {t: hero_submit(r, f"echo hi from {t}", t) for t in TYPES}
    for t, jid in ids.items():
        assert wait_reply(r, drover, jid) == f"hi from {t}".encode()
        h = r.hgetall(job_key(jid))
        assert_finished(h, f"hi from {t}".encode())
        assert h["drover_attempt"] == b"1", h
        # The client's own fields are as it wrote them.
        assert h["id"] == jid.encode() and h["script"] == f"echo hi from {t}".encode(), h
        assert h["script_type"] == t.encode(), h
        assert r.llen(work_key(t)) == 0
    # While it runs, the hash says started, and which node holds it.
    jid = hero_submit(r, "sleep 1", "sal")
    h = wait_hash(r, drover, jid, lambda h: h.get("status") == b"started", "status started")
    assert h["drover_owner"] == b"n1" and h["drover_state"] == b"running", h
    assert wait_reply(r, drover, jid) == b"slept"
    assert_finished(r.hgetall(job_key(jid)), b"slept")
    # A failure: status error, its text in `error` and on the reply list.
    jid = hero_submit(r, "fail", "python")
    assert wait_reply(r, drover, jid) == b"asked to fail"
    h = r.hgetall(job_key(jid))
    assert h["status"] == b"error" and h["error"] == b"asked to fail", h
    assert h["drover_state"] == b"failed" and h["drover_owner"] == b"", h
    assert drover.stop() == 0


@needs_redis
def test_the_older_hero_layout_by_queue_key(drover, redis):
    start(drover, redis, queue_key="{{prefix}}:job:actor_queue:{{type}}")
    r = redis.client()
    # One on the default key first: this drover does not listen there.
    elsewhere = hero_submit(r, "echo not here", "v")
    ids = {t: hero_submit(r, f"echo old {t}", t, queue=f"{PREFIX}:job:actor_queue:{t}")
           for t in TYPES}
    for t, jid in ids.items():
        assert wait_reply(r, drover, jid) == f"old {t}".encode()
        assert_finished(r.hgetall(job_key(jid)), f"old {t}".encode())
        assert r.llen(f"{PREFIX}:job:actor_queue:{t}") == 0
    assert r.lrange(work_key("v")) == [elsewhere.encode()]
    assert r.hgetall(job_key(elsewhere))["status"] == b"dispatched"
    assert drover.stop() == 0


def good_job_runs(r, drover, stype="osis"):
    text = f"still fine {uuid.uuid4().hex[:8]}"
    jid = hero_submit(r, f"echo {text}", stype)
    assert wait_reply(r, drover, jid) == text.encode()
    assert_finished(r.hgetall(job_key(jid)), text.encode())


@needs_redis
def test_a_job_a_client_got_wrong_fails_alone_and_the_next_one_runs(drover, redis):
    start(drover, redis)
    r = redis.client()
    good_job_runs(r, drover)

    # (a) A hash without `script`.
    jid = str(uuid.uuid4())
    fields = hero_fields(jid, "unused", "osis")
    del fields["script"]
    r.hset(job_key(jid), fields)
    r.lpush(work_key("osis"), jid)
    h = wait_hash(r, drover, jid, ended, "the job without a script ended")
    assert h["status"] == b"error" and b"script" in h["error"], h
    assert b"script" in wait_reply(r, drover, jid)
    good_job_runs(r, drover)

    # (b) A script that is not UTF-8.
    jid = hero_submit(r, b"\xff\xfe", "osis")
    h = wait_hash(r, drover, jid, ended, "the job with a non-UTF-8 script ended")
    assert h["status"] == b"error" and b"UTF-8" in h["error"], h
    assert b"UTF-8" in wait_reply(r, drover, jid)
    good_job_runs(r, drover)

    # (c) A string where the job's hash should be: its reply list says so.
    jid = str(uuid.uuid4())
    r.set(job_key(jid), "not a job")
    r.lpush(work_key("osis"), jid)
    why = wait_reply(r, drover, jid)
    assert b"hash" in why.lower(), why
    good_job_runs(r, drover)

    # (d) A string where a type's queue should be: the other types go on.
    r.set(work_key("sal"), "x")
    for t in ("osis", "v", "python"):
        good_job_runs(r, drover, t)
    r.delete(work_key("sal"))  # fixed: that type's queue is read again
    good_job_runs(r, drover, "sal")
    assert drover.proc.poll() is None
    assert drover.stop() == 0


# --- drover's own submits ----------------------------------------------------------------------

@needs_redis
def test_post_jobs_lands_in_redis_and_answers_503_while_redis_is_down(drover, redis):
    port = start(drover, redis)
    r = redis.client()
    code, j = post(port, "/jobs", {"type": "osis", "payload": "echo via http"})
    assert code == 201, j
    jid = j["id"]
    h = wait_hash(r, drover, jid, ended, "the job posted to drover ended")
    assert_finished(h, b"via http")
    assert h["script"] == b"echo via http" and h["script_type"] == b"osis", h
    assert r.lrange(reply_key(jid)) == [b"via http"]
    assert wait_until(lambda: api(port, "/readyz")[0] == 200, 30, what="/readyz 200")

    # A delay: the job waits in drover:retry, delayed, then runs once due.
    code, d = post(port, "/jobs", {"type": "sal", "payload": "echo later", "delay": "300ms"})
    assert code == 201, d
    h = wait_hash(r, drover, d["id"], ended, "the delayed job ended once due")
    assert_finished(h, b"later")
    assert r.cmd("ZSCORE", "drover:retry", d["id"]) is None
    code, d = post(port, "/jobs", {"type": "sal", "payload": "echo much later", "delay": "1h"})
    assert code == 201 and d["state"] == "delayed", d
    code, j, _ = api(port, f"/jobs/{d['id']}")
    assert code == 200 and j["state"] == "delayed" and j["store"] == "redis", j
    assert r.cmd("ZSCORE", "drover:retry", d["id"]) is not None
    # A job another node ran (its hash only): GET /jobs/ID reads it from Redis.
    r.hset(job_key("ran-elsewhere"), {**hero_fields("ran-elsewhere", "echo far", "sal"),
                                      "status": "finished", "output": "far",
                                      "drover_state": "success", "drover_attempt": "2",
                                      "drover_owner": "", "actor_id": "w:1@n9",
                                      "drover_max_attempts": "3"})
    r.hset(job_key("binary-out"), {"script": "x", "script_type": "v", "status": "finished",
                                   "output": b"\xff\x00"})
    code, j, _ = api(port, "/jobs/ran-elsewhere")
    assert code == 200, j
    assert {k: j[k] for k in ("id", "type", "state", "hero_status", "attempt", "max_attempts",
                              "instance", "payload", "result", "node", "store")} == {
        "id": "ran-elsewhere", "type": "sal", "state": "success", "hero_status": "finished",
        "attempt": 2, "max_attempts": 3, "instance": "w:1@n9", "payload": "echo far",
        "result": "far", "node": None, "store": "redis"}, j
    code, j, _ = api(port, "/jobs/binary-out")
    assert code == 200 and j["result"] is None and j["result_b64"] == "/wA=", j
    assert j["state"] == "success", j  # from Hero's status: no drover touched it
    code, j, _ = api(port, "/jobs/no-such-job")
    assert code == 404, j
    # Waits, wherever the job runs: POST ?wait, GET ?wait (202 when it has not ended), the CLI.
    code, j = post(port, "/jobs?wait=60", {"type": "v", "payload": "echo waited"})
    assert code == 200 and j["state"] == "success" and j["result"] == "waited", j
    code, j = post(port, "/jobs", {"type": "v", "payload": "sleep 1"})
    code, j, _ = api(port, f"/jobs/{j['id']}?wait=60")
    assert code == 200 and j["state"] == "success" and j["result"] == "slept", j
    code, j, _ = api(port, f"/jobs/{d['id']}?wait=0.3")  # delayed an hour
    assert code == 202 and j["state"] == "delayed", j
    r2 = drover.cli("run", "osis", "echo from the cli")
    assert r2.returncode == 0 and r2.stdout.strip() == "from the cli", (r2.stdout, r2.stderr)
    r2 = drover.cli("job", "get", "ran-elsewhere")
    assert r2.returncode == 0 and "far" in r2.stdout, (r2.stdout, r2.stderr)

    redis.stop()
    wait_until(lambda: api(port, "/readyz")[0] == 503, 30,
               what=lambda: f"/readyz 503 with redis-server stopped; log:\n{drover.log()}")
    code, j = post(port, "/jobs", {"type": "osis", "payload": "echo nowhere"})
    assert code == 503, j
    assert "redis" in json.dumps(j).lower(), j
    code, j, _ = api(port, "/jobs/ran-elsewhere")
    assert code == 503 and "redis" in json.dumps(j).lower(), j

    redis.start()
    wait_until(lambda: api(port, "/readyz")[0] == 200, 60,
               what=lambda: f"/readyz 200 with redis-server back; log:\n{drover.log()}")
    r = redis.client()
    code, j = post(port, "/jobs", {"type": "v", "payload": "echo back again"})
    assert code == 201, j
    assert_finished(wait_hash(r, drover, j["id"], ended, "the job posted after the restart"),
                    b"back again")
    assert drover.stop() == 0


# --- an outage -----------------------------------------------------------------------------------

@needs_redis
def test_redis_killed_mid_job_then_restarted_gets_every_transition_in_order(drover, redis_aof):
    port = start(drover, redis_aof)
    r = redis_aof.client()
    wait_metric(port, "drover_redis_up", 1, drover)
    assert sample(metrics(port), "drover_redis_rtt_seconds") is not None, metrics(port)
    idle_instances(port, 2)
    ids = [hero_submit(r, "sleep 1", t) for t in ("osis", "python")]
    for jid in ids:
        wait_hash(r, drover, jid, lambda h: h.get("status") == b"started", "status started")

    redis_aof.kill9()
    wait_metric(port, "drover_redis_up", 0, drover)
    # Both jobs end while Redis is away: their ends wait in drover.
    wait_until(lambda: sum(i["jobs_done"] for i in all_instances(api(port, "/status")[1])) == 2,
               JOB_WAIT, what=lambda: f"both jobs done during the outage: "
                                      f"{api(port, '/status')[1]}; log:\n{drover.log()}")
    assert drover.proc.poll() is None

    redis_aof.restart()
    wait_metric(port, "drover_redis_up", 1, drover, timeout=60)
    r = redis_aof.client()
    for jid in ids:
        h = wait_hash(r, drover, jid, ended, "the job's end written after the restart")
        assert_finished(h, b"slept")
        assert h["drover_attempt"] == b"1", h
        assert r.lrange(reply_key(jid)) == [b"slept"]
    good_job_runs(r, drover, "v")
    assert drover.proc.poll() is None
    assert drover.stop() == 0


def kill_node(d, workers):
    """SIGKILL drover d, then its workers (each instance leads its own process group)."""
    os.kill(d.proc.pid, signal.SIGKILL)
    d.proc.wait(timeout=10)
    for pid in workers:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    wait_until(lambda: not any(pid_alive(p) for p in workers), 10,
               what=f"the killed drover's workers {workers} gone after SIGKILL")


def outbox_lines(drover):
    """The outage journal's lines (dumpfile's dir/redis-outbox/journal.N), oldest first."""
    d = drover.path("redis-outbox")
    if not os.path.isdir(d):
        return []
    names = sorted((f for f in os.listdir(d) if re.fullmatch(r"journal\.\d+", f)),
                   key=lambda f: int(f.split(".")[1]))
    return [json.loads(line) for f in names for line in open(os.path.join(d, f))]


@needs_redis
def test_a_drover_killed_during_the_outage_sends_the_updates_it_kept_after_its_restart(
        drover, redis_aof):
    port = start(drover, redis_aof)
    r = redis_aof.client()
    idle_instances(port, 2)
    ids = [hero_submit(r, "sleep 1", t) for t in ("osis", "sal")]
    for jid in ids:
        wait_hash(r, drover, jid, lambda h: h.get("status") == b"started", "status started")
    workers = [i["pid"] for i in all_instances(api(port, "/status")[1])]

    redis_aof.kill9()
    wait_metric(port, "drover_redis_up", 0, drover)
    # Both end while Redis is away: their ends go to the outage journal on disk.
    wait_until(lambda: [x["op"] for x in outbox_lines(drover)].count("complete") == 2, JOB_WAIT,
               what=lambda: f"2 completes in the outage journal: {outbox_lines(drover)}; "
                            f"log:\n{drover.log()}")
    kill_node(drover, workers)

    redis_aof.restart()
    start(drover, redis_aof)  # the same node name and dumpfile: the same journal
    drover.wait_log(r"redis store: 2 job updates an earlier drover could not send \(.*\) go to "
                    r"Redis first")
    r = redis_aof.client()
    for jid in ids:
        h = wait_hash(r, drover, jid, ended, "the end the killed drover kept, written")
        assert_finished(h, b"slept")
        assert h["drover_attempt"] == b"1", h  # not run again
        assert r.lrange(reply_key(jid)) == [b"slept"]
    # Everything answered: the journal empties (its compacted segment holds the snapshot only).
    wait_until(lambda: [x["op"] for x in outbox_lines(drover)] == ["snapshot"], 30,
               what=lambda: f"the outage journal emptied: {outbox_lines(drover)}")
    good_job_runs(r, drover, "v")
    assert drover.stop() == 0


# --- three nodes ---------------------------------------------------------------------------------

N_JOBS = 1000


def queues(drover):
    """`drover queues --json`, through the CLI: {type: its row}, and the store's object."""
    r = drover.cli("queues", "--json")
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    return {q["type"]: q for q in j["types"]}, j["store"]


@needs_redis
def test_queues_show_the_clusters_depth_and_autoscale_follows_it(drover, redis):
    """Another node (n2, alive: its key is set) holds 5 jobs and 4 wait on the shared queue:
    this node's /queues and `drover queues` show them, and its program scales to its max on
    that backlog though its own share is small; when the backlog is gone it goes back."""
    r = redis.client(timeout=30)
    # n2: a node with a live key, 5 jobs of type osis held (running) in its inflight list.
    r.cmd("SET", "drover:node:n2", "token-of-n2", "PX", 600000)
    r.cmd("ZADD", "drover:nodes", 1, "n2")
    held = [f"held-{i}" for i in range(5)]
    for jid in held:
        r.hset(job_key(jid), {**hero_fields(jid, "echo x", "osis"), "drover_state": "running",
                              "drover_owner": "n2", "drover_attempt": "1",
                              "drover_queue": work_key("osis"), "status": "started"})
        r.rpush("drover:inflight:n2", jid)
    auto = {"min": 1, "max": 3, "per_instance": 1, "interval": "100ms", "down_after": "1s"}
    cfg = redis_config(redis.url)
    cfg["programs"][0].update(instances=1, max_instances=3)
    cfg["programs"][0]["jobs"]["autoscale"] = auto
    port = free_port()
    drover.start(cfg, args=["--http", f"127.0.0.1:{port}", "--http-token", TOKEN])
    drover.wait_log(r"redis store: node n1 joined the cluster")

    def count():
        return len(api(port, "/status")[1]["programs"]["w"])
    wait_until(lambda: count() == 3, 60,
               what=lambda: "3 instances for the 5 jobs n2 holds; /queues: "
                            + json.dumps(api(port, "/queues")[1]) + "\nlog:\n" + drover.log())
    q, store = queues(drover)
    assert store == {"kind": "redis", "node": "n1", "up": True, "nodes": 2, "retry_wait": 0}, store
    assert q["osis"]["cluster"] == {"waiting": 0, "in_flight": 5, "this_node": 0}, q["osis"]
    assert q["sal"]["cluster"] == {"waiting": 0, "in_flight": 0, "this_node": 0}, q["sal"]
    # n2's jobs are gone (its client cleaned up): no backlog, back to min.
    r.delete("drover:inflight:n2")
    wait_until(lambda: count() == 1, 60, what="back to 1 instance once n2 holds nothing")
    # 7 long jobs on the shared queue: up to 3 instances, which hold 3; 4 wait there.
    for _ in range(7):
        hero_submit(r, "sleep 60", "sal")

    def shared():
        c = queues(drover)[0]["sal"]["cluster"]
        return c == {"waiting": 4, "in_flight": 3, "this_node": 3} and c
    wait_until(shared, 60, what=lambda: "sal: 4 waiting, 3 held here; it is "
                                         + json.dumps(queues(drover)[0]["sal"]) + "\nlog:\n"
                                         + drover.log())
    assert count() == 3
    text = drover.cli("queues").stdout
    assert re.search(r"^store redis, node n1: up, 2 nodes in the cluster", text, re.M), text
    assert re.search(r"^sal\s.*\s4\s+3\s+3$", text, re.M), text  # SHARED HELD HERE
    drover.stop()


@pytest.fixture
def drovers(tmp_path):
    """Drover objects in their own subdirs of the test's tmp dir; each cleaned up after."""
    made = []

    def make(name):
        d = tmp_path / name
        d.mkdir()
        made.append(Drover(d))
        return made[-1]
    yield make
    for d in made:
        d.cleanup()
    for d in made:
        report = SANITIZER_REPORT.search(d.log())
        assert not report, f"sanitizer report in {d.dir}'s drover log:\n{d.log()}"


def job_payload(i):
    return "sleep 0.2" if i % 10 == 0 else f"echo {i}"


def job_output(i):
    return b"slept" if i % 10 == 0 else str(i).encode()


def hashes(r, ids, *fields):
    """{id: {field: value}} of many hashes in one round trip."""
    answers = r.pipeline([("HMGET", job_key(jid), *fields) for jid in ids])
    return {jid: dict(zip(fields, a)) for jid, a in zip(ids, answers)}


@needs_redis
def test_three_nodes_finish_every_job_once_when_one_dies_with_its_workers(drovers, redis):
    nodes = {n: drovers(n) for n in ("n1", "n2", "n3")}
    for n, d in nodes.items():
        start(d, redis, node=n)
    for d in nodes.values():
        idle_instances(d.port, 2)
    r = redis.client(timeout=30)
    ids = [f"job-{i:04d}-{uuid.uuid4().hex[:8]}" for i in range(N_JOBS)]
    # retries 2: a job running on the node that dies has attempts left, and runs again (with
    # Hero's retries 0 it would fail worker_lost: docs/jobs-redis.md "A node dies").
    cmds = []
    for i, jid in enumerate(ids):
        t = TYPES[i % len(TYPES)]
        fields = hero_fields(jid, job_payload(i), t, retries=2)
        cmds += [("HSET", job_key(jid), *[x for kv in fields.items() for x in kv]),
                 ("LPUSH", work_key(t), jid)]
    assert not [a for a in r.pipeline(cmds) if isinstance(a, Exception)]

    victim = nodes["n2"]
    fields = ("status", "drover_state", "drover_owner", "drover_attempt", "actor_id")

    def victim_busy():  # the victim has finished some and holds some now
        hs = hashes(r, ids, *fields)
        done = [h for h in hs.values() if h["actor_id"] and h["actor_id"].endswith(b"@n2")
                and h["status"] == b"finished"]
        held = [jid for jid, h in hs.items() if h["drover_owner"] == b"n2"]
        return len(done) >= 5 and held
    # Frozen (SIGSTOP), it writes nothing to Redis while we look at what it holds; then it dies.
    for _ in range(100):
        workers = [i["pid"] for i in all_instances(api(victim.port, "/status")[1])]
        wait_until(victim_busy, JOB_WAIT, what=lambda: "n2 with jobs done and jobs held; log:\n"
                                                      + victim.log())
        os.kill(victim.proc.pid, signal.SIGSTOP)
        held = {jid: h for jid, h in hashes(r, ids, *fields).items() if h["drover_owner"] == b"n2"}
        if held:
            break
        os.kill(victim.proc.pid, signal.SIGCONT)  # between jobs right then: once more
    assert held, "n2 never held a job at the moment it was frozen"
    kill_node(victim, workers)
    assert not [h for h in held.values() if h["status"] == b"finished"], held

    # What n2 held is taken over by the others, once its node key is gone (node_ttl 2 s).
    def taken_over():
        hs = hashes(r, list(held), *fields)
        return all(h["status"] == b"finished" for h in hs.values()) and hs
    over = wait_until(taken_over, JOB_WAIT, what=lambda: "n2's jobs finished by n1 or n3: " + str(
        {j: h for j, h in hashes(r, list(held), *fields).items() if h["status"] != b"finished"})
        + "\nn1's log:\n" + nodes["n1"].log())
    for jid, h in over.items():
        assert re.fullmatch(rb"w:[01]@n[13]", h["actor_id"]), (jid, h)
        if held[jid]["drover_state"] == b"running":  # that attempt counted as lost
            assert int(h["drover_attempt"]) == int(held[jid]["drover_attempt"]) + 1, (jid, h)

    def all_ended():
        hs = hashes(r, ids, *fields)
        return all(ended(h) for h in hs.values()) and hs
    final = wait_until(all_ended, 180, what=lambda: "all 1000 jobs ended; not yet: " + str(
        {j: h for j, h in hashes(r, ids, *fields).items() if not ended(h)}))
    replies = r.pipeline([("LRANGE", reply_key(jid), 0, -1) for jid in ids])
    for i, (jid, reply) in enumerate(zip(ids, replies)):
        h = final[jid]
        assert h["status"] == b"finished" and h["drover_state"] == b"success", (jid, h)
        assert reply == [job_output(i)], (jid, reply, h)  # one end, one reply
    outputs = hashes(r, ids, "output")
    assert all(outputs[jid]["output"] == job_output(i) for i, jid in enumerate(ids))
    for n in ("n1", "n3"):
        assert nodes[n].proc.poll() is None, nodes[n].log()
        assert nodes[n].stop() == 0


@needs_redis
def test_an_outage_journal_directory_others_may_write_is_not_used(drover, redis):
    d = drover.path("redis-outbox")
    os.mkdir(d)
    os.chmod(d, 0o777)
    start(drover, redis)
    drover.wait_log(r"redis store: the outage journal: .*redis-outbox.*: updates an outage "
                    r"holds back are kept in memory only")
    assert os.listdir(d) == []  # nothing written into it
    good_job_runs(redis.client(), drover, "osis")
    assert drover.stop() == 0

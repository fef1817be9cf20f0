#!/usr/bin/python3
"""Jobs through Redis (jobs.store "redis"): drover nodes vs RQ-style workers, and node takeover.

One redis-server of its own (unix socket in the temp dir, --save '' --appendonly no,
stopped by pid at the end), and three measurements (docs/jobs-redis.md, BENCHMARKS.md §16):

  throughput  jobs/s end to end. A Hero-style producer (this script) pushes N jobs, each
              HSET hero:job:ID (id, script, script_type, timeout, retries, status
              dispatched, created_at, updated_at, ...) + LPUSH hero:q:work:type:TYPE ID,
              pipelined over one RESP socket; the run ends when all N reply lists
              hero:q:reply:ID exist (polled, pipelined EXISTS over a sliding window).
              Arms, interleaved in rounds (order rotated), all started before the first
              round and idle (blocked in BLMOVE / BLPOP) while another arm runs, each on
              its own type:
                drover 1   one drover, store "redis", 2 instances of
                           tests/helpers/job_test_worker.py (Python, concurrency 1)
                drover 3   three drovers (nodes a, b, c), 2 instances each
                rq 2, rq 6 2 and 6 plain Python worker processes (this script, --rq-worker):
                           BLPOP the queue; HSET status started + HGET script; HSET status
                           finished, output, drover_finished_ms + LPUSH reply + EXPIRE, sent
                           in one write with the next BLPOP (two round trips per job)
              jobs/s = N / (last finish - first push); the last finish is the greatest
              drover_finished_ms of the N hashes (unix ms), else when the poll saw them all.
              Every output is checked (the payload "echo ID" must come back as ID), and
              the share of each drover node is read from the hashes' actor_id/worker_id.
  outage      redis-server SIGKILLed in the middle of 200 jobs and restarted, with
              appendonly yes and no: what ended, what Redis lost, how fast drover is back.
  takeover    per round, two fresh drovers with node_ttl 2s: node A (2 instances) takes two
              jobs "sleep-first 30"; once both are running on A, node B (2 instances) is
              started and ready; A is SIGKILLed, then its workers (pids from A's /status,
              by process group). From the kill: when drover:node:A is gone, when the jobs
              are back in line (drover_state waiting, attempt 2), running on B, finished
              (status finished, output "ok attempt 2"). Expected: about node_ttl (the key's
              PX, refreshed every node_ttl/3) plus up to one node_ttl (B's requeue_node
              period).

    /usr/bin/python3 bench/redis_jobs.py [--quick] [--no-drover]

--no-drover runs only the rq arms (what runs before drover has its Redis store).
"""
import contextlib
import datetime
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402
import jobs_common as jc  # noqa: E402

REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"
PREFIX = "hero"
WORKERS_PER_DROVER = 2
RQ_ARMS = (2, 6)
NODE_TTL = "2s"
NODE_TTL_MS = 2000


# --- a small RESP2 client (redis-py is not installed) --------------------------------------

class RespError(Exception):
    pass


def encode(*args):
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(parts)


class Resp:
    """One connection to redis-server's unix socket; call() one command, pipe() many."""

    def __init__(self, path, timeout=30.0):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(str(path))
        self.f = self.s.makefile("rb", buffering=1 << 16)

    def close(self):
        with contextlib.suppress(OSError):
            self.f.close()
        with contextlib.suppress(OSError):
            self.s.close()

    def send(self, cmds):
        self.s.sendall(b"".join(encode(*c) for c in cmds))

    def read(self):
        """One reply: int, bytes, None, list, or a RespError instance (not raised)."""
        line = self.f.readline()
        if not line.endswith(b"\r\n"):
            raise EOFError("redis closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest
        if kind == b":":
            return int(rest)
        if kind == b"-":
            return RespError(rest.decode(errors="replace"))
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)
            if len(data) != n + 2:
                raise EOFError("redis closed the connection mid-reply")
            return data[:-2]
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise ValueError(f"not RESP: {line[:60]!r}")

    def call(self, *args):
        self.send([args])
        r = self.read()
        if isinstance(r, RespError):
            raise r
        return r

    def pipe(self, cmds, chunk=1000):
        """Sends cmds in chunks, reads every reply; raises the first error reply."""
        out = []
        for i in range(0, len(cmds), chunk):
            part = cmds[i:i + chunk]
            self.send(part)
            out.extend(self.read() for _ in part)
        for r in out:
            if isinstance(r, RespError):
                raise r
        return out


def iso_now():
    """ISO 8601 in UTC with milliseconds, as Hero (and drover) write created_at/updated_at."""
    t = datetime.datetime.now(datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def job_key(jid):
    return f"{PREFIX}:job:{jid}"


def reply_key(jid):
    return f"{PREFIX}:q:reply:{jid}"


def queue_key(jtype):
    return f"{PREFIX}:q:work:type:{jtype}"  # the default jobs.redis.queue_key


# --- the RQ-style worker (this script with --rq-worker) --------------------------------------

def rq_worker_main(argv):
    """--rq-worker SOCKET QUEUE: BLPOP, HSET started + HGET script, HSET finished + LPUSH reply
    + EXPIRE with the next BLPOP in one write. Ends when redis closes, the parent goes away,
    or after 30 minutes."""
    sock, queue = argv
    parent = os.getppid()
    end = time.monotonic() + 1800
    r = Resp(sock, timeout=None)
    pending = []
    while time.monotonic() < end and os.getppid() == parent:
        try:
            r.send(pending + [("BLPOP", queue, "1")])
            for _ in pending:
                x = r.read()
                if isinstance(x, RespError):
                    print(f"rq worker: {x}", file=sys.stderr)
            got = r.read()
        except (OSError, EOFError):
            return 0
        pending = []
        if not isinstance(got, list):
            continue
        jid = got[1].decode()
        h = job_key(jid)
        try:
            r.send([("HSET", h, "status", "started", "updated_at", iso_now()), ("HGET", h, "script")])
            r.read()
            script = r.read()
        except (OSError, EOFError):
            return 0
        script = script if isinstance(script, bytes) else b""
        if script.startswith(b"echo "):
            out, status, err = script[5:], "finished", b""
        else:
            out, status, err = b"", "error", b"unknown script " + script[:40]
        pending = [("HSET", h, "status", status, "output", out, "error", err, "updated_at", iso_now(),
                    "drover_finished_ms", str(int(time.time() * 1000))),
                   ("LPUSH", reply_key(jid), out if status == "finished" else err),
                   ("EXPIRE", reply_key(jid), "3600")]
    r.close()
    return 0


# --- redis-server ----------------------------------------------------------------------------

def start_redis(tmp, aof=False):
    sock = tmp / "redis.sock"
    args = [REDIS, "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700",
            "--save", "", "--appendonly", "yes" if aof else "no", "--dir", str(tmp),
            "--daemonize", "no",
            "--loglevel", "warning", "--maxclients", "1000"]
    p = bl.Proc(args, tag="redis-server", stdout=subprocess.DEVNULL).start()

    def up():
        try:
            c = Resp(sock, timeout=1)
            try:
                return c.call("PING") == b"PONG"
            finally:
                c.close()
        except (OSError, EOFError, RespError):
            return False
    if not bl.wait_until(up, 10, 0.02):
        p.stop()
        return None, None, f"redis-server did not answer PING within 10 s: {p.out[-500:]}"
    return p, sock, None


# --- drover nodes ----------------------------------------------------------------------------

def redis_drover(tmp, tag, node, jtype, sock, node_ttl=None):
    redis = {"url": f"unix:{sock}", "prefix": PREFIX, "node": node}
    if node_ttl:
        redis["node_ttl"] = node_ttl
    prog = bl.program(jtype, [jc.PYTHON, jc.PY_TEST_WORKER], instances=WORKERS_PER_DROVER,
                      max_instances=WORKERS_PER_DROVER,
                      jobs={"types": [jtype], "concurrency": 1, "attempts": 3, "max_worker_kills": 0})
    return jc.JobsDrover(tmp, [prog], {"store": "redis", "redis": redis}, tag=tag)


def drover_ready(d, jtype):
    """None when d's instances are all ready and /readyz says 200, else why not."""
    if not d.alive():
        return "exited: " + d.log_text(1200).strip()
    inst = d.instances(jtype)
    if len(inst) != WORKERS_PER_DROVER or not all(i.get("ready") and i.get("pid") for i in inst):
        return f"instances not ready: {json.dumps(inst)[:300]}"
    st, body = d.get_json("/readyz")
    if st != 200:
        return f"/readyz {st}: {json.dumps(body)[:300]}"
    return None


def wait_drovers(ds, jtype, timeout=20.0):
    """None when every drover in ds is ready within timeout, else the last reason."""
    why = {"r": "not checked"}

    def ok():
        for d in ds:
            w = drover_ready(d, jtype)
            if w:
                why["r"] = f"{d.tag}: {w}"
                return w.startswith("exited")  # stop waiting for a drover that is gone
        why["r"] = None
        return True
    bl.wait_until(ok, timeout, 0.05)
    return why["r"]


def worker_pids(d, jtype):
    return [i["pid"] for i in d.instances(jtype) if i.get("pid")]


# --- throughput ------------------------------------------------------------------------------

def push_jobs(r, jtype, n, tag, payload=None):
    """Hero-style: HSET the hash, LPUSH the id, pipelined. Returns the ids."""
    ids = [str(uuid.uuid4()) for _ in range(n)]
    now = iso_now()
    cmds = []
    q = queue_key(jtype)
    for jid in ids:
        cmds.append(("HSET", job_key(jid), "id", jid, "caller_id", "bench", "context_id", tag,
                     "script", payload if payload is not None else f"echo {jid}", "script_type", jtype,
                     "timeout", "60", "retries", "2", "concurrent", "false", "status", "dispatched",
                     "created_at", now, "updated_at", now, "env_vars", "{}",
                     "prerequisites", "[]", "dependents", "[]"))
        cmds.append(("LPUSH", q, jid))
    r.pipe(cmds)
    return ids


def wait_all_replied(r, ids, timeout, window=512, interval=0.01):
    """Polls EXISTS reply:ID over a sliding window until every id has its reply list.
    Returns (monotonic when all were seen, or None on timeout, how many were seen)."""
    done = [False] * len(ids)
    first = 0
    seen = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        idx = [i for i in range(first, min(len(ids), first + window * 4)) if not done[i]][:window]
        if idx:
            got = r.pipe([("EXISTS", reply_key(ids[i])) for i in idx], chunk=window)
            for i, g in zip(idx, got):
                if g == 1:
                    done[i] = True
                    seen += 1
        while first < len(ids) and done[first]:
            first += 1
        if first == len(ids):
            return time.monotonic(), seen
        time.sleep(interval)
    return None, seen


def check_results(r, ids):
    """Reads back every hash: (finished, wrong, max drover_finished_ms or None, {node: n})."""
    rows = r.pipe([("HMGET", job_key(j), "status", "output", "drover_finished_ms", "actor_id", "worker_id")
                   for j in ids])
    finished = wrong = 0
    fin_ms = []
    nodes = {}
    for jid, (status, output, fms, actor, worker) in zip(ids, rows):
        if status == b"finished":
            finished += 1
        if output != jid.encode():
            wrong += 1
        try:
            fin_ms.append(int(fms))
        except (TypeError, ValueError):
            pass
        who = (actor or worker or b"").decode(errors="replace")
        if "@" in who:
            node = who.rsplit("@", 1)[1]
            nodes[node] = nodes.get(node, 0) + 1
    return finished, wrong, (max(fin_ms) if len(fin_ms) == len(ids) else None), nodes


def cleanup_keys(r, ids):
    cmds = [("DEL", job_key(j), reply_key(j)) for j in ids]
    r.pipe(cmds)


def run_arm(r, arm, n, timeout, cpu_pids, problems):
    """One measurement: push n jobs of arm's type, wait for all, check. Returns a dict or None."""
    jtype = arm["type"]
    c0 = {k: sum(jc.cpu_ns_all(p) or 0 for p in v) for k, v in cpu_pids.items()}
    p0 = time.process_time_ns()
    t0_wall = time.time()
    t0 = time.monotonic()
    ids = push_jobs(r, jtype, n, arm["label"])
    t_pushed = time.monotonic()
    t_seen, seen = wait_all_replied(r, ids, timeout)
    p1 = time.process_time_ns()
    c1 = {k: sum(jc.cpu_ns_all(p) or 0 for p in v) for k, v in cpu_pids.items()}
    if t_seen is None:
        st = check_results(r, ids)
        problems.append(f"{arm['label']}: only {seen} of {n} jobs replied within {timeout:.0f} s "
                        f"({st[0]} hashes finished)")
        cleanup_keys(r, ids)
        return None
    finished, wrong, last_ms, nodes = check_results(r, ids)
    if finished != n or wrong:
        problems.append(f"{arm['label']}: {finished} of {n} hashes finished, {wrong} wrong output(s)")
    secs_poll = t_seen - t0
    secs = secs_poll
    how = "poll"
    if last_ms is not None:
        s = last_ms / 1000.0 - t0_wall
        if 0 < s <= secs_poll + 0.5:
            secs, how = s, "finished_ms"
    cleanup_keys(r, ids)
    cpu = {k: c1[k] - c0[k] for k in cpu_pids}
    cpu["producer"] = p1 - p0
    return {"rate": n / secs, "secs": secs, "secs_poll": secs_poll, "push": t_pushed - t0, "how": how,
            "cpu": cpu, "n": n, "nodes": nodes}


def throughput(tmp, sock, args, problems, with_drover):
    # jobs per measurement: drover arms, rq arms (each run about 1-3 s on 2 CPUs)
    n_d, n_rq, rounds, timeout = (1000, 5000, 2, 60.0) if args.quick else (4000, 20000, 5, 120.0)
    arms = []
    if with_drover:
        arms.append({"label": "drover 1", "type": "t1", "nodes": ["t1-a"], "workers": WORKERS_PER_DROVER,
                     "n": n_d})
        arms.append({"label": "drover 3", "type": "t3", "nodes": ["t3-a", "t3-b", "t3-c"],
                     "workers": 3 * WORKERS_PER_DROVER, "n": n_d})
    for w in RQ_ARMS:
        arms.append({"label": f"rq {w}", "type": f"rq{w}", "nodes": [], "workers": w, "n": n_rq})
    res = {a["label"]: [] for a in arms}
    print(f"throughput: {n_d:,} jobs per drover measurement, {n_rq:,} per rq one, {rounds} round(s), "
          "arms interleaved: " + ", ".join(a["label"] for a in arms), flush=True)
    rq_procs = []
    r = None
    with contextlib.ExitStack() as stack:
        drovers = {}
        failed = set()
        for a in arms:
            if a["nodes"]:
                ds = [stack.enter_context(redis_drover(tmp, f"tp-{node}", node, a["type"], sock))
                      for node in a["nodes"]]
                drovers[a["label"]] = ds
            else:
                procs = [bl.Proc([jc.PYTHON, os.path.abspath(__file__), "--rq-worker", sock,
                                  queue_key(a["type"])], tag=f"rq-{a['type']}.{i}",
                                 stdout=subprocess.DEVNULL).start() for i in range(a["workers"])]
                rq_procs.extend(procs)
                a["pids"] = [p.pid for p in procs]
        try:
            for a in arms:
                if a["label"] in drovers:
                    why = wait_drovers(drovers[a["label"]], a["type"])
                    if why:
                        problems.append(f"{a['label']}: drover not ready within 20 s, arm skipped: {why}")
                        failed.add(a["label"])
                        continue
                    a["drover_pids"] = [d.pid for d in drovers[a["label"]]]
                    a["pids"] = [p for d in drovers[a["label"]] for p in worker_pids(d, a["type"])]
            r = Resp(sock)
            live = [a for a in arms if a["label"] not in failed]
            # one small warm-up per arm: every worker has asked for work, every connection is up
            for a in live:
                x = run_arm(r, a, 4 * a["workers"], 20.0, {}, problems)
                if x is None:
                    problems.append(f"{a['label']}: warm-up failed, arm skipped")
                    failed.add(a["label"])
            live = [a for a in live if a["label"] not in failed]
            for rd in range(rounds):
                k = rd % len(live) if live else 0
                order = live[k:] + live[:k]
                if rd % 2:
                    order.reverse()
                for a in order:
                    if a["label"] in failed:
                        continue
                    pids = {"redis": [args.redis_pid], "workers": a["pids"]}
                    if a.get("drover_pids"):
                        pids["drover"] = a["drover_pids"]
                    x = run_arm(r, a, a["n"], timeout, pids, problems)
                    if x is None:
                        failed.add(a["label"])
                        continue
                    res[a["label"]].append(x)
                    share = " ".join(f"{k}={v}" for k, v in sorted(x["nodes"].items()))
                    print(f"  round {rd + 1} {a['label']}: {x['rate']:,.0f} jobs/s ({x['secs']:.2f} s by "
                          f"{x['how']}, poll {x['secs_poll']:.2f} s, push {x['push'] * 1000:.0f} ms)"
                          + (f" share {share}" if share else ""), flush=True)
            for label, ds in drovers.items():
                for d in ds:
                    if not d.alive():
                        problems.append(f"{d.tag} died: {d.log_text(1200)}")
                    bad = [ln for ln in d.log_text(1 << 20).splitlines() if " error" in ln]
                    if bad:
                        problems.append(f"{d.tag}: {len(bad)} error log line(s), first: {bad[0]}")
        finally:
            if r:
                r.close()
            for p in rq_procs:
                p.stop()
    return arms, res


def throughput_table(arms, res):
    rows = []
    base = {}
    for a in arms:
        xs = res[a["label"]]
        if xs:
            base[a["workers"]] = base.get(a["workers"], bl.median([x["rate"] for x in xs]))
    for a in arms:
        xs = res[a["label"]]
        if not xs:
            rows.append([a["label"], len(a["nodes"]) or "-", a["workers"], a["n"], 0] + ["-"] * 8)
            continue
        rates = [x["rate"] for x in xs]
        jobs = sum(x["n"] for x in xs)

        def us(key):
            tot = sum(x["cpu"].get(key, 0) for x in xs)
            return bl.fmt_num(tot / jobs / 1000.0) if key in xs[0]["cpu"] else "-"
        shares = {}
        for x in xs:
            for k, v in x["nodes"].items():
                shares[k] = shares.get(k, 0) + v
        share = "/".join(f"{100.0 * v / jobs:.0f}" for _, v in sorted(shares.items())) if shares else "-"
        rows.append([a["label"], len(a["nodes"]) or "-", a["workers"], bl.fmt_num(a["n"]), len(xs), bl.fmt_num(bl.median(rates), 0),
                     bl.fmt_num(min(rates), 0), bl.fmt_num(max(rates), 0),
                     us("drover"), us("redis"), us("workers"), us("producer"), share])
    bl.print_table("jobs through one redis-server, end to end (Hero-style push -> every hash finished)",
                   ["arm", "drovers", "workers", "jobs/run", "runs", "jobs/s med", "min", "max", "drover us/job",
                    "redis us/job", "workers us/job", "producer us/job", "share % per node"], rows,
                   ["", "jobs/s: N / (greatest drover_finished_ms - first push), median over the runs.",
                    "CPU per job over the run (all threads): drover = the drover(s) of the arm, redis =",
                    "redis-server, workers = job_test_worker.py instances (drover) or the rq worker processes,",
                    "producer = this script (push + poll). share: the jobs each node finished (actor_id).",
                    f"{os.cpu_count()} CPUs shared by everything."])
    per = [[a["label"]] + [bl.fmt_num(x["rate"], 0) for x in res[a["label"]]] for a in arms]
    n = max((len(v) for v in res.values()), default=0)
    for row in per:
        row.extend(["-"] * (n + 1 - len(row)))
    bl.print_table("jobs/s per run", ["arm"] + [f"run {i + 1}" for i in range(n)], per)


# --- takeover --------------------------------------------------------------------------------

def kill_node(d, pids):
    """SIGKILL drover d, then each worker (its own process group) by pid."""
    os.kill(d.pid, signal.SIGKILL)
    for p in pids:
        try:
            if os.getpgid(p) == p:
                os.killpg(p, signal.SIGKILL)
            else:
                os.kill(p, signal.SIGKILL)
        except OSError:
            pass
    with contextlib.suppress(subprocess.TimeoutExpired):
        d.proc.wait(5)


def takeover_round(tmp, sock, rd, problems):
    jtype = "tk"
    na, nb = f"tk{rd}-a", f"tk{rd}-b"
    r = Resp(sock)
    try:
        r.call("FLUSHALL")
        with contextlib.ExitStack() as stack:
            a = stack.enter_context(redis_drover(tmp, f"tk{rd}a", na, jtype, sock, NODE_TTL))
            why = wait_drovers([a], jtype)
            if why:
                problems.append(f"takeover round {rd + 1}: node A not ready: {why}")
                return None
            ids = push_jobs(r, jtype, 2, "takeover", payload="sleep-first 30")

            def running_on_a():
                rows = r.pipe([("HMGET", job_key(j), "drover_state", "drover_owner") for j in ids])
                return all(x[0] == b"running" and x[1] == na.encode() for x in rows)
            if not bl.wait_until(running_on_a, 10, 0.02):
                rows = r.pipe([("HGETALL", job_key(j)) for j in ids])
                problems.append(f"takeover round {rd + 1}: the 2 jobs not running on A within 10 s: {rows!r:.400}")
                return None
            held = [i for i in a.instances(jtype) if i.get("job")]
            apids = worker_pids(a, jtype)
            if sorted(j for i in held for j in i["job"]) != sorted(ids):
                problems.append(f"takeover round {rd + 1}: A's /status holds {[i.get('job') for i in held]}")
            b = stack.enter_context(redis_drover(tmp, f"tk{rd}b", nb, jtype, sock, NODE_TTL))
            why = wait_drovers([b], jtype)
            if why:
                problems.append(f"takeover round {rd + 1}: node B not ready: {why}")
                return None
            time.sleep(random.uniform(0, NODE_TTL_MS / 1000.0 / 3))  # any phase of A's refresh
            pttl = r.call("PTTL", f"drover:node:{na}")
            t_kill = time.monotonic()
            kill_node(a, apids)
            t_killed = time.monotonic()
            marks = {}
            deadline = t_kill + 6 * NODE_TTL_MS / 1000.0 + 5
            while time.monotonic() < deadline:
                cmds = [("EXISTS", f"drover:node:{na}")] + \
                       [("HMGET", job_key(j), "drover_state", "drover_attempt", "drover_owner", "status", "output")
                        for j in ids]
                got = r.pipe(cmds)
                now = (time.monotonic() - t_kill) * 1000.0
                if got[0] == 0:
                    marks.setdefault("gone", now)
                rows = got[1:]
                if all(x[1] not in (None, b"1") or x[3] in (b"finished", b"error") for x in rows):
                    marks.setdefault("requeued", now)
                if all(x[2] == nb.encode() or x[3] in (b"finished", b"error") for x in rows):
                    marks.setdefault("on_b", now)
                if all(x[3] in (b"finished", b"error") for x in rows):
                    marks["finished"] = now
                    bad = [x for x in rows if x[3] != b"finished" or x[4] != b"ok attempt 2"]
                    if bad:
                        problems.append(f"takeover round {rd + 1}: not finished as 'ok attempt 2' on B: {bad!r:.300}")
                    break
                time.sleep(0.005)
            if "finished" not in marks:
                rows = r.pipe([("HGETALL", job_key(j)) for j in ids])
                problems.append(f"takeover round {rd + 1}: the jobs were not finished within "
                                f"{deadline - t_kill:.0f} s of the kill: {rows!r:.500}\n{b.log_text(800)}")
                return None
            marks["pttl"] = float(pttl)
            marks["kill"] = (t_killed - t_kill) * 1000.0
            if not b.alive():
                problems.append(f"takeover round {rd + 1}: node B died: {b.log_text(800)}")
            return marks
    finally:
        r.close()


def takeover(tmp, sock, args, problems):
    rounds = 2 if args.quick else 5
    print(f"takeover: {rounds} round(s), node_ttl {NODE_TTL}, 2 running jobs on the killed node", flush=True)
    out = []
    t_end = time.monotonic() + (60 if args.quick else 150)
    for rd in range(rounds):
        if time.monotonic() > t_end:
            problems.append("takeover: time budget reached")
            break
        m = takeover_round(tmp, sock, rd, problems)
        if m is None:
            break
        out.append(m)
        print(f"  round {rd + 1}: key had {m['pttl']:.0f} ms left; gone {m.get('gone', float('nan')):.0f} ms, "
              f"requeued {m.get('requeued', float('nan')):.0f}, on B {m.get('on_b', float('nan')):.0f}, "
              f"finished {m['finished']:.0f}", flush=True)
    return out


def takeover_table(samples):
    rows = []
    for key, what in (("pttl", "node key's PTTL at the kill"),
                      ("kill", "SIGKILL of drover A + its 2 workers (the calls)"),
                      ("gone", "kill -> drover:node:A gone"),
                      ("requeued", "kill -> both jobs requeued (attempt 2)"),
                      ("on_b", "kill -> both owned by B"),
                      ("finished", "kill -> both finished by B")):
        xs = [s[key] for s in samples if key in s]
        if not xs:
            rows.append([what, 0, "-", "-", "-"])
            continue
        rows.append([what, len(xs), bl.fmt_num(bl.median(xs), 0), bl.fmt_num(min(xs), 0), bl.fmt_num(max(xs), 0)])
    bl.print_table(f"takeover: node A SIGKILLed holding 2 running jobs, node B finishes them (node_ttl {NODE_TTL}), ms",
                   ["step", "rounds", "median", "min", "max"], rows,
                   ["", "From time.monotonic() just before kill(2), polled every 5 ms over RESP (pipelined",
                    "EXISTS drover:node:A + HMGET of the two hashes). Expected: the key's remaining PTTL, then",
                    f"up to one node_ttl ({NODE_TTL}) until B's next requeue_node; the jobs answer at once on attempt 2."])


# --- a redis-server restart in the middle -----------------------------------------------------

OUTAGE_JOBS = 200


def outage_arm(tmp, aof, problems):
    """One drover (2 instances) on its own redis-server (appendonly yes|no, appendfsync
    everysec): 200 jobs of 50 ms; once 60 have finished, redis-server is SIGKILLed, and
    started again on the same dir 0.5 s later. What ended, what was lost, how fast drover was
    back (redis answers PING -> /readyz 200), and 20 new jobs' time to their last reply."""
    name = "aof" if aof else "noaof"
    d_tmp = tmp / f"outage-{name}"
    d_tmp.mkdir()
    redis, sock, err = start_redis(d_tmp, aof=aof)
    if err:
        problems.append(f"outage {name}: {err}")
        return None
    out = {"arm": f"appendonly {'yes' if aof else 'no'}"}
    r = None
    try:
        with redis_drover(d_tmp, f"ou-{name}", f"ou-{name}", "ou", sock) as d:
            why = wait_drovers([d], "ou")
            if why:
                problems.append(f"outage {name}: drover not ready: {why}")
                return None
            r = Resp(sock)
            ids = push_jobs(r, "ou", OUTAGE_JOBS, "outage", payload="sleep 0.05")

            def finished():
                rows = r.pipe([("HGET", job_key(j), "status") for j in ids])
                return sum(1 for x in rows if x == b"finished")
            if not bl.wait_until(lambda: finished() >= 60, 60, 0.01):
                problems.append(f"outage {name}: 60 jobs not finished within 60 s")
                return None
            r.close()
            r = None
            if aof:
                time.sleep(1.1)  # appendfsync everysec: what was acknowledged a second ago is on disk
            os.kill(redis.pid, signal.SIGKILL)
            redis.proc.wait(5)
            time.sleep(0.5)
            redis, sock2, err = start_redis(d_tmp, aof=aof)
            if err:
                problems.append(f"outage {name}: restart: {err}")
                return None
            t_up = time.monotonic()
            if not bl.wait_until(lambda: d.get_json("/readyz")[0] == 200, 30, 0.005):
                problems.append(f"outage {name}: /readyz not 200 within 30 s of redis's restart:\n"
                                f"{d.log_text(800)}")
                return None
            out["ready_ms"] = (time.monotonic() - t_up) * 1000.0
            r = Resp(sock)

            def settled():
                rows = r.pipe([("HGET", job_key(j), "status") for j in ids])
                return r.call("LLEN", queue_key("ou")) == 0 and \
                    r.call("LLEN", f"drover:inflight:ou-{name}") == 0 and \
                    all(x in (None, b"finished", b"error") for x in rows)
            if not bl.wait_until(settled, 60, 0.05):
                problems.append(f"outage {name}: jobs still queued or held 60 s after the restart")
            rows = r.pipe([("HGET", job_key(j), "status") for j in ids])
            replies = r.pipe([("LLEN", reply_key(j)) for j in ids])
            out["finished"] = sum(1 for x in rows if x == b"finished")
            out["error"] = sum(1 for x in rows if x == b"error")
            out["lost"] = sum(1 for x in rows if x is None)
            out["two_replies"] = sum(1 for n in replies if n and n > 1)
            t0 = time.monotonic()
            fresh = push_jobs(r, "ou", 20, "after")
            t_all, seen = wait_all_replied(r, fresh, 30)
            if t_all is None:
                problems.append(f"outage {name}: only {seen} of 20 new jobs answered within 30 s")
            else:
                out["new_ms"] = (t_all - t0) * 1000.0
            if not d.alive():
                problems.append(f"outage {name}: drover died: {d.log_text(800)}")
        return out
    finally:
        if r:
            r.close()
        redis.stop()


def outage(tmp, args, problems):
    print("outage: redis-server SIGKILLed mid-run and restarted, appendonly yes and no", flush=True)
    return [o for o in (outage_arm(tmp, True, problems), outage_arm(tmp, False, problems)) if o]


def outage_table(rows):
    def f(o, k):
        return bl.fmt_num(o[k], 0) if k in o else "-"
    bl.print_table(f"outage: {OUTAGE_JOBS} jobs of 50 ms on 2 instances; redis-server SIGKILLed after 60 "
                   "finished, restarted 0.5 s later",
                   ["redis", "finished", "failed", "gone with Redis", "2 replies", "back (ms)",
                    "20 new jobs (ms)"],
                   [[o["arm"], o.get("finished", "-"), o.get("error", "-"), o.get("lost", "-"),
                     o.get("two_replies", "-"), f(o, "ready_ms"), f(o, "new_ms")] for o in rows],
                   ["back: from redis-server answering PING again to drover's /readyz 200 (reconnected,",
                    "scripts loaded). gone with Redis: ids whose hash the restarted server does not have;",
                    "with appendonly no that is every job not finished before the kill (and the hashes of",
                    "the finished ones too: they are counted as gone). finished/failed: the hashes' status",
                    "once the queue and the node's inflight list are empty."])


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--rq-worker":
        return rq_worker_main(sys.argv[2:])

    def extra(p):
        p.add_argument("--no-drover", action="store_true", help="only the rq arms (no drover needed)")
    args = bl.parse_args(__doc__.splitlines()[0], extra=extra)
    need = [REDIS, jc.PYTHON] + ([] if args.no_drover else [bl.DROVER_BIN, bl.PINGER, bl.SLEEPER])
    jc.require_tools(need)
    if not os.access(jc.PY_TEST_WORKER, os.R_OK):
        print(f"missing: {jc.PY_TEST_WORKER}", file=sys.stderr)
        return 1
    bl.term_to_exit()
    bl.become_subreaper()
    problems = []
    print(f"redis_jobs ({'quick' if args.quick else 'full'})")
    with bl.TempDir() as tmp:
        print(bl.host_line())
        print(subprocess.run([REDIS, "--version"], capture_output=True, text=True).stdout.strip())
        redis, sock, err = start_redis(tmp)
        if err:
            print(err, file=sys.stderr)
            return 1
        args.redis_pid = redis.pid
        samples = []
        try:
            arms, res = throughput(tmp, sock, args, problems, not args.no_drover)
            throughput_table(arms, res)
            if not args.no_drover:
                samples = takeover(tmp, sock, args, problems)
        finally:
            redis.stop()
        if not args.no_drover:
            takeover_table(samples)
            outage_table(outage(tmp, args, problems))
    bl.print_problems(problems)
    return 0


if __name__ == "__main__":
    sys.exit(main())

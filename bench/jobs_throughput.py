#!/usr/bin/python3
"""Jobs per second end to end (submit -> result): drover vs redis-server vs a socketpair floor.

Three systems, each with 1, 4 and 16 workers, measured in the same run, arms interleaved
in rounds (the order rotated each round):

  drover   one drover (memory store) with three programs w1, w4, w16 of bin/job_worker
           (C, upper-cases its payload), 1, 4 and 16 instances, concurrency 1. Clients:
           keep-alive http.client connections, each looping POST /jobs?wait=30 with a
           16-byte payload; a job counts when the answer is 200, success, result right.
  drover file  the same with the file store (fsync "submit": each submit answered after
           its journal line is fdatasync'ed, group-committed; the rest within 50 ms), its
           journal in the temp directory (the table says on which file system).
  redis    redis-server (--save '' --appendonly no; clients on a loopback TCP port,
           workers on its unix socket, as drover's) with 1, 4 and 16 RQ-style workers
           (bench/jobs_helper.c redis-worker: BLPOP q, LPUSH the reply key). Clients:
           keep-alive sockets, each looping LPUSH q "KEY|PAYLOAD" + BLPOP KEY 30 in one
           write (RESP written by hand; python3-redis is not needed).
  floor    bench/jobs_helper.c pingpong: 1, 4 and 16 pairs of processes bouncing
           16 bytes over a socketpair: one round trip between two processes, no client,
           no server, the cheapest "job" there is; and 1 pair pinned to one CPU.

Clients: 2 processes (this script with --client), max(4, 2 x workers) connections in all,
so the pipeline stays full. CPU time per job of the server, the workers and the clients
(from /proc/PID/task/*/schedstat) is measured over the same window.

    /usr/bin/python3 bench/jobs_throughput.py [--quick]
"""
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402
import jobs_common as jc  # noqa: E402

WORKERS = (1, 4, 16)
CLIENT_PROCS = 2
PAYLOAD = "abcdefghijklmnop"  # 16 bytes
REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"


def clients_for(w):
    return max(4, 2 * w)


# --- the client processes (this script with --client) ---------------------------------------

def client_drover(port, jtype, start, end, lat, out):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=35)
    body = {"type": jtype, "payload": PAYLOAD}
    want = PAYLOAD.upper()
    done = errors = 0
    first_error = None
    try:
        conn.connect()
    except OSError as e:
        out.append((0, 1, f"connect: {e}"))
        return
    while time.monotonic() < start:
        time.sleep(0.001)
    for _ in range(10_000_000):
        t0 = time.monotonic_ns()
        if t0 >= end * 1e9:
            break
        try:
            st, j = jc.post(conn, "/jobs?wait=30", body)
        except (OSError, http.client.HTTPException) as e:
            errors += 1
            first_error = first_error or f"{type(e).__name__}: {e}"
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=35)
            continue
        t1 = time.monotonic_ns()
        if st == 200 and j and j.get("state") == "success" and j.get("result") == want:
            if t1 <= end * 1e9:
                done += 1
                lat.append(t1 - t0)
        else:
            errors += 1
            first_error = first_error or f"HTTP {st}: {str(j)[:200]}"
    conn.close()
    out.append((done, errors, first_error))


def resp(*args):
    parts = [f"*{len(args)}\r\n".encode()]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(parts)


def read_reply(f):
    """One RESP reply from a buffered socket file: int, bytes, None, list or an error string."""
    line = f.readline()
    if not line:
        raise EOFError("redis closed the connection")
    kind, rest = line[:1], line[1:-2]
    if kind == b":":
        return int(rest)
    if kind == b"+":
        return rest
    if kind == b"-":
        return "ERR " + rest.decode(errors="replace")
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2]
    if kind == b"*":
        n = int(rest)
        if n < 0:
            return None
        return [read_reply(f) for _ in range(n)]
    raise ValueError(f"bad RESP line {line[:60]!r}")


def client_redis(port, queue, tag, start, end, lat, out):
    done = errors = 0
    first_error = None
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=35)
    except OSError as e:
        out.append((0, 1, f"connect: {e}"))
        return
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    f = s.makefile("rb")
    want = PAYLOAD.upper().encode()
    while time.monotonic() < start:
        time.sleep(0.001)
    for i in range(10_000_000):
        t0 = time.monotonic_ns()
        if t0 >= end * 1e9:
            break
        key = f"r:{tag}:{i}"
        try:
            s.sendall(resp("LPUSH", queue, f"{key}|{PAYLOAD}") + resp("BLPOP", key, 30))
            n = read_reply(f)
            r = read_reply(f)
        except (OSError, EOFError, ValueError) as e:
            errors += 1
            first_error = first_error or f"{type(e).__name__}: {e}"
            break
        t1 = time.monotonic_ns()
        if isinstance(n, int) and isinstance(r, list) and len(r) == 2 and r[1] == want:
            if t1 <= end * 1e9:
                done += 1
                lat.append(t1 - t0)
        else:
            errors += 1
            first_error = first_error or f"LPUSH {n!r} BLPOP {r!r}"[:200]
    f.close()
    s.close()
    out.append((done, errors, first_error))


def client_main(argv):
    """--client drover|redis PORT TARGET THREADS START END TAG OUT: writes one JSON object to OUT
    (a file: the latencies are too many for a pipe the parent reads only at the end)."""
    kind, port, target, threads, start, end, tag, out_path = argv
    port, threads, start, end = int(port), int(threads), float(start), float(end)
    lat, out, ths = [], [], []
    for t in range(threads):
        if kind == "drover":
            th = threading.Thread(target=client_drover, args=(port, target, start, end, lat, out))
        else:
            th = threading.Thread(target=client_redis, args=(port, target, f"{tag}.{t}", start, end, lat, out))
        th.daemon = True
        ths.append(th)
        th.start()
    cpu = []

    def sample_cpu():  # this process's CPU over the window, all threads
        for when in (start, end):
            while time.monotonic() < when:
                time.sleep(0.002)
            cpu.append(time.process_time_ns())
    sampler = threading.Thread(target=sample_cpu, daemon=True)
    sampler.start()
    for th in ths:
        th.join(end - time.monotonic() + 40)
    sampler.join(5)
    errs = [o[2] for o in out if o[2]]
    with open(out_path + ".tmp", "w") as f:
        f.write(json.dumps({"done": sum(o[0] for o in out), "errors": sum(o[1] for o in out),
                            "first_error": errs[0] if errs else None, "finished": len(out), "threads": threads,
                            "cpu_ns": cpu[1] - cpu[0] if len(cpu) == 2 else 0, "lat": lat}))
    os.rename(out_path + ".tmp", out_path)
    return 0


# --- the arms -------------------------------------------------------------------------------

def run_clients(kind, port, target, nclients, window, warm, server_pid, worker_pids, tag, tmp):
    """Starts CLIENT_PROCS client processes sharing nclients connections; measures CPU over the
    window. Returns a result dict (or one with "error")."""
    start = time.monotonic() + warm
    end = start + window
    per = [nclients // CLIENT_PROCS + (1 if i < nclients % CLIENT_PROCS else 0) for i in range(CLIENT_PROCS)]
    procs = []
    for i, n in enumerate(per):
        if n == 0:
            continue
        outp = tmp / f"client-{tag}.{i}.json"
        args = [jc.PYTHON, os.path.abspath(__file__), "--client", kind, str(port), target, str(n),
                repr(start), repr(end), f"{tag}.{i}", outp]
        procs.append(bl.Proc(args, tag=str(outp)).start())
    while time.monotonic() < start:
        time.sleep(0.002)
    pids = {"server": [server_pid], "workers": list(worker_pids)}
    c0 = {k: sum(jc.cpu_ns_all(p) or 0 for p in v) for k, v in pids.items()}
    t0 = time.monotonic()
    while time.monotonic() < end:
        time.sleep(0.01)
    t1 = time.monotonic()
    c1 = {k: sum(jc.cpu_ns_all(p) or 0 for p in v) for k, v in pids.items()}
    results, problems = [], []
    for p in procs:
        try:
            p.proc.wait(45)
        except subprocess.TimeoutExpired:
            problems.append(f"client {p.pid} still running 45 s after the window")
        p.stop()
        try:
            with open(p.tag) as f:
                results.append(json.load(f))
            os.unlink(p.tag)
        except (OSError, ValueError):
            problems.append(f"client {p.tag} wrote no result: {p.out[-300:]!r}")
    done = sum(r["done"] for r in results)
    errors = sum(r["errors"] for r in results)
    first = next((r["first_error"] for r in results if r["first_error"]), None)
    lat = [x for r in results for x in r["lat"]]
    cpu = {k: (c1[k] - c0[k]) for k in pids}
    cpu["clients"] = sum(r.get("cpu_ns", 0) for r in results)
    return {"done": done, "errors": errors, "first_error": first, "lat": lat, "secs": t1 - t0, "t_end": t1,
            "rate": done / (t1 - t0) if t1 > t0 else 0.0, "cpu": cpu, "problems": problems}


def start_redis(tmp):
    sock = tmp / "redis.sock"
    port = jc.free_port()
    args = [REDIS, "--port", str(port), "--bind", "127.0.0.1", "--unixsocket", str(sock),
            "--unixsocketperm", "700", "--save", "", "--appendonly", "no", "--dir", str(tmp),
            "--daemonize", "no", "--loglevel", "warning", "--maxclients", "1000"]
    p = bl.Proc(args, tag="redis-server", stdout=subprocess.DEVNULL).start()

    def up():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(resp("PING"))
                return s.recv(64).startswith(b"+PONG")
        except OSError:
            return False
    if not bl.wait_until(up, 10):
        p.stop()
        return None, None, None, f"redis-server did not answer PING within 10 s: {p.out[-500:]}"
    return p, port, sock, None


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        return client_main(sys.argv[2:])
    args = bl.parse_args(__doc__.splitlines()[0])
    jc.require_tools([bl.DROVER_BIN, bl.PINGER, bl.SLEEPER, jc.JOB_WORKER, REDIS])
    bl.term_to_exit()
    bl.become_subreaper()
    rounds, window, warm = (1, 0.6, 0.3) if args.quick else (2, 1.8, 0.4)
    print(f"jobs_throughput ({'quick' if args.quick else 'full'}): {rounds} round(s) x "
          f"{window:g} s per arm, arms interleaved; workers {', '.join(map(str, WORKERS))}")
    problems = []
    systems = ("drover", "drover file", "redis", "floor")
    arms = [(sysname, w) for w in WORKERS for sysname in systems] + [("floor 1 CPU", 1)]
    res = {a: [] for a in arms}
    with bl.TempDir() as tmp:
        print(bl.host_line())
        print(subprocess.run([REDIS, "--version"], capture_output=True, text=True).stdout.strip())
        helper = bl.compile_c(bl.BENCH_DIR / "jobs_helper.c", tmp / "jobs_helper")
        progs = [bl.program(f"w{w}", [jc.JOB_WORKER], instances=w, max_instances=w,
                            jobs={"concurrency": 1}) for w in WORKERS]
        top = {"store": "memory", "max_queued_bytes": "256MiB"}
        # The file store on tmp (tmpfs or disk, whatever TMPDIR is: the table says which).
        top_file = {"store": "file", "fsync": "submit", "dir": str(tmp / "jobs-file"),
                    "max_queued_bytes": "256MiB"}
        redis, rport, rsock, err = start_redis(tmp)
        if err:
            print(err, file=sys.stderr)
            return 1
        rworkers = {}
        try:
            for w in WORKERS:
                rworkers[w] = [bl.Proc([helper, "redis-worker", rsock, f"q{w}"], tag=f"rw{w}",
                                       stdout=subprocess.DEVNULL).start() for _ in range(w)]
            with jc.JobsDrover(tmp, progs, top, tag="jobs") as d, \
                    jc.JobsDrover(tmp, progs, top_file, tag="jobsfile") as df:
                drovers = {"drover": d, "drover file": df}

                def ready(x):
                    for w in WORKERS:
                        inst = x.instances(f"w{w}")
                        if len(inst) != w or not all(i.get("ready") and i.get("pid") for i in inst):
                            return False
                    return True
                for name, x in drovers.items():
                    if not bl.wait_until(lambda: ready(x), 20, 0.05):
                        print(f"{name}'s workers did not all start within 20 s\n{x.log_text(1500)}",
                              file=sys.stderr)
                        return 1
                dpids = {(name, w): [i["pid"] for i in x.instances(f"w{w}")]
                         for name, x in drovers.items() for w in WORKERS}
                # one job per program first: the workers have asked for work
                for name, x in drovers.items():
                    for w in WORKERS:
                        st, j = x.post_json("/jobs?wait=10", {"type": f"w{w}", "payload": "warm"})
                        if st != 200:
                            problems.append(f"{name} warm-up job for w{w}: HTTP {st} {str(j)[:200]}")
                for r in range(rounds):
                    k = r % len(arms)
                    order = arms[k:] + arms[:k]
                    if r % 2:
                        order.reverse()
                    for arm in order:
                        sysname, w = arm
                        if sysname.startswith("floor"):
                            pin = ["0"] if sysname == "floor 1 CPU" else []
                            out = subprocess.run([helper, "pingpong", str(w), str(int(window * 1000))] + pin,
                                                 capture_output=True, text=True, timeout=60)
                            parts = out.stdout.split()
                            if out.returncode != 0 or len(parts) != 4:
                                problems.append(f"floor {w}: {out.stdout} {out.stderr}")
                                continue
                            n, ns = int(parts[1]), int(parts[3])
                            res[arm].append({"rate": n / (ns / 1e9), "done": n, "errors": 0, "lat": [],
                                             "cpu": None, "secs": ns / 1e9, "first_error": None})
                            continue
                        if sysname in drovers:
                            dx = drovers[sysname]
                            x = run_clients("drover", dx.port, f"w{w}", clients_for(w), window, warm,
                                            dx.pid, dpids[(sysname, w)],
                                            f"{'df' if dx is df else 'd'}{r}.{w}", tmp)
                        else:
                            x = run_clients("redis", rport, f"q{w}", clients_for(w), window, warm,
                                            redis.pid, [p.pid for p in rworkers[w]], f"r{r}.{w}", tmp)
                        print(f"  round {r + 1} {sysname} {w}: {x['rate']:,.0f} jobs/s, {x['errors']} errors,"
                              f" {x['secs'] + warm:.1f} s + {time.monotonic() - x['t_end']:.1f} s to collect",
                              flush=True)
                        problems.extend(f"{sysname} {w}: {p}" for p in x["problems"])
                        if x["errors"]:
                            problems.append(f"{sysname} {w} round {r + 1}: {x['errors']} failed request(s),"
                                            f" first: {x['first_error']}")
                        res[arm].append(x)
                # nothing must be left: every job answered
                for name, x in drovers.items():
                    st, q = x.get_json("/queues")
                    if st == 200 and q:
                        items = q.get("queues", q) if isinstance(q, dict) else q
                        busy = json.dumps(items)
                        for key in ('"waiting": 0', '"dispatched": 0', '"running": 0'):
                            if busy.count(key) < len(WORKERS):
                                problems.append(f"{name} /queues after the run: {busy[:400]}")
                                break
                    if not x.alive():
                        problems.append(f"{name} died: {x.log_text(1500)}")
                    warn = [ln for ln in x.log_text(1 << 20).splitlines() if " warn" in ln or " error" in ln]
                    if warn:
                        problems.append(f"{name}: {len(warn)} warning/error log line(s), first: {warn[0]}")
                fs = subprocess.run(["stat", "-f", "-c", "%T", str(tmp)], capture_output=True, text=True)
                print(f"the file store's directory is on {fs.stdout.strip() or '?'} ({tmp})")
        finally:
            for ps in rworkers.values():
                for p in ps:
                    p.stop()
            redis.stop()

    rows = []
    for sysname, w in arms:
        xs = res[(sysname, w)]
        if not xs:
            rows.append([f"{sysname} {w}", "-"] + ["-"] * 8)
            continue
        rate = bl.median([x["rate"] for x in xs])
        lat = [v for x in xs for v in x["lat"]]
        done = sum(x["done"] for x in xs)

        def per_job(key):
            if sysname.startswith("floor") or not done:
                return "-"
            return bl.fmt_num(sum(x["cpu"][key] for x in xs) / done / 1000.0)
        dro = bl.median([x["rate"] for x in res[("drover", w)]]) if res[("drover", w)] else None
        label = "floor 1, one CPU" if sysname == "floor 1 CPU" else f"{sysname} {w}"
        rows.append([label, "-" if sysname.startswith("floor") else clients_for(w), bl.fmt_num(done),
                     bl.fmt_num(rate, 0),
                     f"{dro / rate:.2f}" if dro and rate else "-",
                     bl.fmt_num(bl.median(lat) / 1000.0) if lat else "-",
                     bl.fmt_num(bl.percentile(lat, 99) / 1000.0) if lat else "-",
                     per_job("server"), per_job("workers"), per_job("clients")])
    bl.print_table("jobs end to end (submit -> result), 16-byte payload",
                   ["arm", "conns", "jobs", "jobs/s", "drover/this", "lat med us", "lat p99 us",
                    "server CPU us/job", "workers us/job", "clients us/job"], rows,
                   ["", "jobs/s: median over rounds of jobs answered in the window / window. drover/this: drover's",
                    "jobs/s over this arm's at the same worker count. lat: per request, client side (connections",
                    "kept busy, so it includes queueing). CPU per job over the window: server = drover or",
                    "redis-server (all threads), workers = the job_worker / redis-worker processes, clients = the",
                    "Python client processes. floor: round trips/s of 16 bytes over socketpairs, no client;",
                    "'floor 1, one CPU': one pair pinned to CPU 0 (no cross-CPU wake-up per message).",
                    f"{os.cpu_count()} CPUs shared by clients, server and workers."])
    per_round = [[f"{s} {w}" if s != "floor 1 CPU" else "floor 1, one CPU"] + [bl.fmt_num(x["rate"], 0) for x in res[(s, w)]] for s, w in arms]
    bl.print_table("jobs/s per round", ["arm"] + [f"round {i + 1}" for i in range(rounds)], per_round)
    bl.print_problems(problems)
    return 0


if __name__ == "__main__":
    sys.exit(main())

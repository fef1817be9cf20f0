"""Shared code for the job benchmarks (bench/jobs_*.py), on top of benchlib.

drover with a top-level "jobs" object and --http on a loopback port (benchlib's Drover
writes only "programs"), a small HTTP helper over http.client, a free-port finder, and
CPU time of a process summed over its threads. Standard library only.
"""
import http.client
import json
import os
import socket
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

TOKEN = "bench-jobs-token-0123456789abcdef"
JOB_WORKER = bl.REPO / "bin" / "job_worker"
PY_TEST_WORKER = bl.REPO / "tests" / "helpers" / "job_test_worker.py"
PYTHON = "/usr/bin/python3"


def free_port():
    """A loopback TCP port that was free a moment ago (bind to 0, read it, close)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


class JobsDrover(bl.Drover):
    """bl.Drover with a top-level jobs object, the HTTP server on 127.0.0.1:port and its own
    control socket in tmpdir (so two can run side by side, and beside other drovers)."""

    def __init__(self, tmpdir, programs, jobs_top, tag="drover", quiet=True, binary=None):
        self.port = free_port()
        super().__init__(tmpdir, programs, quiet=quiet, tag=tag, binary=binary,
                         extra_args=["--http", f"127.0.0.1:{self.port}", "--http-token", TOKEN,
                                     "--control", str(Path(tmpdir) / f"{tag}.ctl")])
        self.config_path.write_text(json.dumps({"programs": programs, "jobs": jobs_top}, indent=1))

    def conn(self, timeout=30.0):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def get_json(self, path, timeout=10.0):
        """(status, parsed body or None); (None, None) when the connection fails."""
        c = self.conn(timeout)
        try:
            c.request("GET", path)
            r = c.getresponse()
            body = r.read()
            try:
                return r.status, json.loads(body)
            except ValueError:
                return r.status, None
        except OSError:
            return None, None
        finally:
            c.close()

    def post_json(self, path, obj, timeout=10.0):
        c = self.conn(timeout)
        try:
            return post(c, path, obj)
        except OSError:
            return None, None
        finally:
            c.close()

    def instances(self, name):
        """/status's list for program name, [] when it cannot be read."""
        st, body = self.get_json("/status")
        if st != 200 or not body:
            return []
        return body.get("programs", {}).get(name, [])


def post(conn, path, obj):
    """POST obj as JSON on an open (keep-alive) http.client connection: (status, parsed)."""
    data = json.dumps(obj).encode()
    conn.request("POST", path, body=data, headers={"Authorization": "Bearer " + TOKEN,
                                                   "Content-Type": "application/json"})
    r = conn.getresponse()
    body = r.read()
    try:
        return r.status, json.loads(body)
    except ValueError:
        return r.status, None


def cpu_ns_all(pid):
    """CPU time of all of pid's threads in ns (sum of /proc/PID/task/*/schedstat), None if gone."""
    total, seen = 0, False
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
                seen = True
        except (OSError, ValueError, IndexError):
            pass
    return total if seen else None


def switches(pid):
    """(voluntary, nonvoluntary) context switches of pid's main thread, None if gone."""
    st = bl.proc_status(pid)
    v = bl.status_int(st, "voluntary_ctxt_switches")
    nv = bl.status_int(st, "nonvoluntary_ctxt_switches")
    if v is None or nv is None:
        return None
    return v, nv


def switches_all(pid):
    """(voluntary, nonvoluntary) summed over all of pid's threads, None if gone."""
    v = nv = 0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for tid in tids:
        st = bl.proc_status(f"{pid}/task/{tid}")
        a, b = bl.status_int(st, "voluntary_ctxt_switches"), bl.status_int(st, "nonvoluntary_ctxt_switches")
        if a is not None and b is not None:
            v, nv = v + a, nv + b
    return v, nv


def require_tools(paths):
    """Exits 1 with a message naming what is missing (an executable path or a command)."""
    missing = []
    for p in paths:
        p = Path(p)
        if not os.access(p, os.X_OK):
            missing.append(str(p))
    if missing:
        print("missing: " + ", ".join(missing) + "\n(build drover with `make all`; "
              "redis-server comes with `apt-get install -y redis-server`)", file=sys.stderr)
        sys.exit(1)

#!/usr/bin/python3
"""Reload and apply: how long a plan takes to answer, and to carry out.

drover runs N programs of one sleeper instance each (--quick: 100, else 500; a config
holds at most 1,000 programs). Each step is repeated K times (--quick: 3, else 11) and the
table gives the median and the worst wall time of the CLI command (connect, send, parse
and plan in the daemon, answer), and for `apply` the time until /status shows the result:

  dry run, N unchanged   drover reload --dry-run: parse + diff of N programs
  reload, N unchanged    drover reload: the same, carried out (nothing to do)
  apply, N added         drover apply -: N new programs (slots, heartbeat slots, spawns);
                         "done" is all 2N running in /status
  apply, N removed       back to the N: "done" is the N gone from /status

    /usr/bin/python3 bench/reload.py [--quick]
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402


def config(names):
    return {"programs": [{"name": n, "command": [str(bl.SLEEPER)], "start_seconds": 0,
                          "max_instances": 1} for n in names]}


def main():
    args = bl.parse_args(__doc__.splitlines()[1])
    bl.setup()
    n, k = (100, 3) if args.quick else (500, 11)
    base = [f"p{i}" for i in range(n)]
    more = base + [f"q{i}" for i in range(n)]
    with bl.TempDir() as tmp:
        sock = str(tmp / "c.sock")
        cfg = tmp / "c.json"
        cfg.write_text(json.dumps(config(base)))
        d = subprocess.Popen([str(bl.DROVER_BIN), "--config", str(cfg), "--control", sock, "-q"],
                             stdin=subprocess.DEVNULL)

        def cli(*a, inp=None):
            t = time.monotonic()
            r = subprocess.run([str(bl.DROVER_BIN), "--control", sock, *a], capture_output=True,
                               text=True, input=inp)
            if r.returncode != 0:
                raise SystemExit(f"drover {' '.join(a)} failed: {r.stderr}")
            return time.monotonic() - t

        def shown():
            r = subprocess.run([str(bl.DROVER_BIN), "--control", sock, "status", "--json"],
                               capture_output=True, text=True)
            if r.returncode != 0:
                return None
            progs = json.loads(r.stdout)["programs"]
            return len(progs), sum(1 for v in progs.values() for i in v if i["state"] == "running")

        try:
            if not bl.wait_until(lambda: shown() == (n, n), 60):
                raise SystemExit("the pool did not come up")
            rows = {"dry run": [], "reload": [], "apply added": [], "added done": [],
                    "apply removed": [], "removed done": []}
            for _ in range(k):
                rows["dry run"].append(cli("reload", "--dry-run"))
                rows["reload"].append(cli("reload"))
                t0 = time.monotonic()
                rows["apply added"].append(cli("apply", "-", inp=json.dumps(config(more))))
                bl.wait_until(lambda: shown() == (2 * n, 2 * n), 60, interval=0.005)
                rows["added done"].append(time.monotonic() - t0)
                t0 = time.monotonic()
                rows["apply removed"].append(cli("apply", "-", inp=json.dumps(config(base))))
                bl.wait_until(lambda: shown() == (n, n), 60, interval=0.005)
                rows["removed done"].append(time.monotonic() - t0)
            print(f"{n} programs, {k} runs each; wall time in ms")
            print(f"{'step':<28}{'median':>10}{'worst':>10}")
            for label, key in [(f"dry run, {n} unchanged", "dry run"),
                               (f"reload, {n} unchanged", "reload"),
                               (f"apply, {n} added: answer", "apply added"),
                               ("  all running", "added done"),
                               (f"apply, {n} removed: answer", "apply removed"),
                               ("  gone from /status", "removed done")]:
                v = rows[key]
                print(f"{label:<28}{bl.percentile(v, 50) * 1000:>10.1f}{max(v) * 1000:>10.1f}")
        finally:
            d.terminate()
            d.wait(timeout=60)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Beat cost: nanoseconds one heartbeat costs the worker, shared memory vs. a datagram.

bench/beat_cost.c, linked with a copy of build/libdrover-worker.a, runs as drover's
only instance (heartbeat timeout 10s, action none, so drover really watches the slot),
and times in one process, REPS times each, interleaved:

  drover_beat()        10,000,000 calls: a CLOCK_MONOTONIC read and two stores into the
                       instance's 64-byte slot of memory shared with drover (no system call)
  clock_gettime        10,000,000 x clock_gettime(CLOCK_MONOTONIC) alone (vDSO)
  empty loop           10,000,000 iterations of nothing (the loop's own cost)
  sendto blocking      1,000,000 x sendto("WATCHDOG=1") to $NOTIFY_SOCKET, blocking: every
                       datagram is delivered, the sender waits when drover's queue is full
  sendto MSG_DONTWAIT  1,000,000 x the same, non-blocking as the worker library sends:
                       a full queue fails with EAGAIN (counted; those datagrams are lost)

It then checks that the slot's beat counter saw every drover_beat(). Full: 5 reps;
--quick: 1,000,000 beats, 100,000 sends, 3 reps.

    /usr/bin/python3 bench/beat_cost.py [--quick]
"""
import hashlib
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

WORKER_LIB = bl.REPO / "build" / "libdrover-worker.a"


def compile_beat_cost(tmp):
    if not os.access(WORKER_LIB, os.R_OK):
        print(f"missing {WORKER_LIB}\nbuild it first: make all", file=sys.stderr)
        sys.exit(2)
    lib = shutil.copy2(WORKER_LIB, tmp / "libdrover-worker.a")
    with open(lib, "rb") as f:
        print(f"libdrover-worker.a: {WORKER_LIB} (copied) sha256 {hashlib.sha256(f.read()).hexdigest()[:12]}")
    out = tmp / "beat_cost"
    cc = os.environ.get("CC", "cc")
    r = subprocess.run([cc, "-O2", "-std=gnu17", "-D_GNU_SOURCE", "-Wall", "-I", str(bl.REPO / "include"),
                        "-o", str(out), str(bl.BENCH_DIR / "beat_cost.c"), str(lib)],
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        print(f"cannot compile beat_cost.c:\n{r.stderr}", file=sys.stderr)
        sys.exit(2)
    return out


def main():
    args = bl.parse_args(__doc__.splitlines()[0])
    bl.setup()
    beats, sends, reps = (1000000, 100000, 3) if args.quick else (10000000, 1000000, 5)
    print(f"beat_cost ({'quick' if args.quick else 'full'}): {beats:,} beats / clock reads,"
          f" {sends:,} sendto() per rep, {reps} reps")
    problems = []
    samples = {}
    extra = {}
    with bl.TempDir() as tmp:
        print(bl.host_line())
        exe = compile_beat_cost(tmp)
        out = tmp / "beat_cost.out"
        prog = bl.program("b", [exe, beats, sends, reps], instances=1, start_seconds=0, backoff=(1, 1),
                          yoyo=False, output=str(out), heartbeat={"timeout": "10s", "action": "none"})
        with bl.Drover(tmp, [prog], quiet=False, tag="beat") as d:
            budget = 30 + reps * (beats * 60e-9 * 3 + sends * 30e-6)
            ok = bl.wait_until(lambda: (not d.alive()) or (out.exists() and ("done" in out.read_text()
                                                                             or "error" in out.read_text())),
                               timeout=budget, interval=0.05)
            text = out.read_text(errors="replace") if out.exists() else ""
            if not ok:
                problems.append(f"beat_cost did not finish within {budget:.0f} s\n{text[-500:]}")
            warn = [ln for ln in d.log_text(1 << 20).splitlines() if " warn " in ln or " error " in ln]
            if warn:
                problems.append(f"{len(warn)} warning/error lines in drover's log, first: {warn[0]}")
    for ln in text.splitlines():
        p = ln.split()
        if p and p[0] in ("beat", "clock", "empty", "send", "send_nb"):
            samples.setdefault(p[0], []).append(float(p[2]))
            extra.setdefault(p[0], []).append([int(x) for x in p[4:]])
        elif p and p[0] == "done":
            if p[2] != p[4]:
                problems.append(f"slot counted {p[2]} beats, expected {p[4]}")
            else:
                extra["slot"] = p[2]
        elif p and p[0] == "error":
            problems.append(ln)

    labels = [("beat", "drover_beat()"), ("clock", "clock_gettime(MONOTONIC)"), ("empty", "empty loop"),
              ("send", "sendto blocking"), ("send_nb", "sendto MSG_DONTWAIT")]
    base = bl.median(samples["clock"]) if samples.get("clock") else None
    beat = bl.median(samples["beat"]) if samples.get("beat") else None
    rows = []
    for key, label in labels:
        s = samples.get(key)
        if not s:
            rows.append([label, 0, "-", "-", "-", "-", "-"])
            continue
        m = bl.median(s)
        rows.append([label, len(s), bl.fmt_num(m, 2), bl.fmt_num(min(s), 2), bl.fmt_num(max(s), 2),
                     f"{m / base:.2f}" if base else "-", f"{m / beat:.1f}" if beat else "-"])
    notes = ["", "ns per operation, median / min / max over reps (each rep times the whole loop with"
             " CLOCK_MONOTONIC)."]
    if extra.get("send_nb"):
        lost = [e[0] for e in extra["send_nb"]]
        notes.append(f"sendto MSG_DONTWAIT: EAGAIN (datagram lost) in {bl.median(lost) / sends * 100:.1f}% of"
                     f" calls (median over reps; the queue holds net.unix.max_dgram_qlen datagrams)")
    if extra.get("send"):
        errs = sum(e[0] for e in extra["send"])
        if errs:
            notes.append(f"sendto blocking: {errs} errors")
    if "slot" in extra:
        notes.append(f"the slot's beat counter saw all {int(extra['slot']):,} drover_beat() calls")
    bl.print_table("cost of one heartbeat to the worker, ns",
                   ["operation", "reps", "median ns", "min", "max", "/ clock_gettime", "/ drover_beat"],
                   rows, notes)
    bl.print_problems(problems)
    return 0


if __name__ == "__main__":
    sys.exit(main())

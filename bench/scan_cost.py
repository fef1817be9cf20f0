#!/usr/bin/python3
"""Slot scan: how long drover takes to look at every heartbeat slot of a 10,000-instance program.

No API reaches this from outside, so bench/scan_cost.c is compiled against drover's
own heartbeat module (cc -Iinclude -iquote src ... build/obj/heartbeat.o, a copy in the
temp dir) and does what liveness.c's hb_scan() does with the slots: one
heartbeat_last_beat() per slot, then heartbeat_supervisor_tick() (drover's own beat,
one store per slot). For 100, 1,000 and 10,000 slots it times:

  open     heartbeat_region_open(N) (memfd_create, ftruncate, seals, mmap), 50 times
  cold     the first scan of a fresh region (its pages fault in)
  scan     1,000 scans back to back (read loop + tick), also split into its two parts
  xscan    1,000 scans, each right after a second thread pinned to another CPU wrote
           last_beat_ns into every slot (as workers on other CPUs do), so each slot's
           cache line has to come back from the other core

--quick: 200 scans and 10 opens per size. No drover is started: nothing to stop.

    /usr/bin/python3 bench/scan_cost.py [--quick]
"""
import hashlib
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

HEARTBEAT_O = bl.REPO / "build" / "obj" / "heartbeat.o"
TARGET_US = 100.0


def compile_scan_cost(tmp):
    if not os.access(HEARTBEAT_O, os.R_OK):
        print(f"missing {HEARTBEAT_O}\nbuild it first: make all", file=sys.stderr)
        sys.exit(2)
    obj = shutil.copy2(HEARTBEAT_O, tmp / "heartbeat.o")
    with open(obj, "rb") as f:
        print(f"heartbeat.o: {HEARTBEAT_O} (copied) sha256 {hashlib.sha256(f.read()).hexdigest()[:12]}")
    out = tmp / "scan_cost"
    cc = os.environ.get("CC", "cc")
    r = subprocess.run([cc, "-O2", "-std=gnu17", "-D_GNU_SOURCE", "-Wall", "-pthread",
                        "-I", str(bl.REPO / "include"), "-iquote", str(bl.REPO / "src"),
                        "-o", str(out), str(bl.BENCH_DIR / "scan_cost.c"), str(obj)],
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        print(f"cannot compile scan_cost.c:\n{r.stderr}", file=sys.stderr)
        sys.exit(2)
    return out


def main():
    args = bl.parse_args(__doc__.splitlines()[0])
    bl.term_to_exit()
    scans, opens = (200, 10) if args.quick else (1000, 50)
    sizes = [100, 1000, 10000]
    print(f"scan_cost ({'quick' if args.quick else 'full'}): {scans} scans and {opens} region opens"
          f" per size, sizes {', '.join(f'{n:,}' for n in sizes)}")
    problems = []
    results = {}
    with bl.TempDir() as tmp:
        print(bl.host_line())
        exe = compile_scan_cost(tmp)
        for n in sizes:
            out = tmp / f"scan{n}.out"
            with open(out, "w") as f:
                p = bl.Proc([exe, n, scans, opens], tag="scan_cost", stdout=f)
                with p:
                    try:
                        p.proc.wait(60)
                    except subprocess.TimeoutExpired:
                        problems.append(f"{n} slots: scan_cost did not finish in 60 s")
            if p.proc.returncode:
                problems.append(f"{n} slots: scan_cost exited with {p.proc.returncode}: {p.out.strip()[:300]}")
            d = {}
            for ln in out.read_text().splitlines():
                parts = ln.split()
                if not parts:
                    continue
                if parts[0] == "error":
                    problems.append(f"{n} slots: {ln}")
                    continue
                try:
                    d[parts[0]] = [int(x) for x in parts[1:]]
                except ValueError:
                    problems.append(f"{n} slots: cannot parse {ln[:80]}")
            if d.get("pinned") == [0]:
                problems.append(f"{n} slots: could not pin the writer to another CPU; xscan may be same-core")
            results[n] = d

    def us(v):
        return None if v is None else v / 1000.0

    rows = []
    for key, label in (("scan", "scan (read loop + tick)"), ("read", "  of which read loop"),
                       ("tick", "  of which supervisor tick"), ("xscan", "scan after remote writes"),
                       ("cold", "first scan of a fresh region"), ("open", "heartbeat_region_open")):
        for n in sizes:
            s = results.get(n, {}).get(key)
            if not s:
                continue
            rows.append([label, f"{n:,}", len(s), bl.fmt_num(us(bl.median(s)), 1),
                         bl.fmt_num(us(bl.percentile(s, 90)), 1), bl.fmt_num(us(bl.percentile(s, 99)), 1),
                         bl.fmt_num(us(max(s)), 1),
                         bl.fmt_num(bl.median(s) / n, 2)])
    notes = ["", "microseconds; ns/slot = median / slots. Percentiles nearest rank.",
             f"Target: one scan of 10,000 slots < {TARGET_US:.0f} us (median)."]
    d = results.get(10000, {})
    if d.get("scan") and d.get("xscan"):
        notes.append(f"10,000 slots: scan after remote writes / back-to-back scan: "
                     f"{bl.median(d['xscan']) / bl.median(d['scan']):.2f}")
    bl.print_table("heartbeat slot scan (drover's heartbeat.o), microseconds",
                   ["what", "slots", "samples", "median", "p90", "p99", "max", "ns/slot"], rows, notes)
    bl.print_problems(problems)
    return 0


if __name__ == "__main__":
    sys.exit(main())

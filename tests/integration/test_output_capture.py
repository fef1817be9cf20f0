"""Captured output: `output`/`error` as an object or "drover" (docs/config.md#captured-output).

drover reads each captured stream from a FIFO in its runtime directory, keeps the last
lines in memory (`drover logs`, GET /logs/NAME) and appends them to a file it rotates at
a line boundary, or writes them to its own stderr as "name:index | line". A full disk
is said once and recovered from; a drover killed with -9 leaves its children writing
(never SIGPIPE), and one restarted with --adopt reads their FIFOs on.
"""
import json
import os
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import DROVER_BIN, pid_alive, wait_until


def program(name, script, **keys):
    return dict({"name": name, "command": ["/bin/sh", "-c", script]}, **keys)


def read_now(path):
    """The file's bytes now; b"" while a rotation has it renamed away and not yet made again."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        return b""


def read_lines(path):
    return Path(path).read_bytes().split(b"\n")[:-1]


def start(drover, config, args=()):
    """Starts drover and waits for its control socket, which /logs is asked on."""
    drover.start(config, args=args)
    wait_until(lambda: os.path.exists(drover.control), 20,
               what=lambda: f"the control socket; log:\n{drover.log()}")
    return drover


def get_logs(drover, target):
    status, body, _ = drover.call("GET", f"/logs/{target}")
    assert status == 200, body
    return body


# --- rotation ---------------------------------------------------------------------------------

def test_rotation_keeps_backups_and_never_splits_a_line(drover):
    """Lines of varied lengths past max_size several times over: the file and its .1 .. .3
    each stay within max_size, each ends at a line's end, and together they are the newest
    lines in order; the oldest were dropped, and there is no .4."""
    n = 400
    script = ("i=1; while [ $i -le %d ]; do printf 'line %%d %%s\\n' $i "
              "$(printf '%%*s' $((i %% 37)) '' | tr ' ' x); i=$((i+1)); done; echo done; "
              "exec sleep 600" % n)
    start(drover, {"programs": [program("r", script, output={
        "file": "r-{{instance}}.log", "max_size": "1KB", "backups": 3})]})
    log = drover.path("r-0.log")
    wait_until(lambda: b"done\n" in read_now(log), 30,
               what=lambda: f"the last line in {log}; drover's log:\n{drover.log()}")
    files = [f"{log}.3", f"{log}.2", f"{log}.1", log]
    assert all(os.path.exists(f) for f in files)
    assert not os.path.exists(f"{log}.4")
    got = []
    for f in files:
        data = Path(f).read_bytes()
        assert 0 < len(data) <= 1024, (f, len(data))
        assert data.endswith(b"\n"), f"{f} ends mid-line"
        got += data.split(b"\n")[:-1]
    want = [b"line %d %s" % (i, b"x" * (i % 37)) for i in range(1, n + 1)] + [b"done"]
    assert got == want[-len(got):], "the files are not the newest lines, in order"
    assert len(got) < len(want)  # the oldest were dropped
    assert drover.stop() == 0


def test_zero_backups_start_the_file_again(drover):
    start(drover, {"programs": [program("z", "i=0; while [ $i -lt 300 ]; do echo line $i; "
                                            "i=$((i+1)); done; echo done; exec sleep 600",
                                       output={"file": "z.log", "max_size": 500, "backups": 0})]})
    log = drover.path("z.log")
    wait_until(lambda: b"done\n" in read_now(log), 30, what="the last line in z.log")
    assert not os.path.exists(log + ".1")
    assert len(Path(log).read_bytes()) <= 500
    assert drover.stop() == 0


# --- the tail: drover logs, GET /logs -------------------------------------------------------

def test_logs_shows_the_last_lines_and_follows(drover):
    go = drover.path("go")
    script = ("i=1; while [ $i -le 30 ]; do echo out $i; echo err $i >&2; i=$((i+1)); done; "
              f"while :; do if [ -e {go} ]; then rm {go}; echo after; fi; sleep 0.02; done")
    start(drover, {"programs": [program("p", script, output={"file": "p.out"},
                                       error={"file": "p.err", "tail_lines": 10})]})
    wait_until(lambda: len(get_logs(drover, "p:0?stream=stderr")["lines"]) == 10
               and get_logs(drover, "p:0?stream=stdout")["lines"][-1:]
               and get_logs(drover, "p:0?stream=stdout")["lines"][-1]["text"] == "out 30",
               what="30 lines of each stream read")

    r = drover.cli("logs", "p:0", "-n", "5", "--stdout")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [f"out {i}" for i in range(26, 31)]
    r = drover.cli("logs", "p:0", "-n", "100", "--stderr")
    assert r.stdout.splitlines() == [f"err {i}" for i in range(21, 31)]  # tail_lines 10
    r = drover.cli("logs", "p", "-n", "2", "--stdout")
    assert r.stdout.splitlines() == ["p:0 | out 29", "p:0 | out 30"]
    r = drover.cli("logs", "p", "-n", "3")  # both, in the order drover read them
    assert len(r.stdout.splitlines()) == 3
    assert drover.cli("logs", "nope").returncode == 2
    assert drover.cli("logs", "p:7").returncode == 2
    assert drover.cli("logs", "p", "-n", "0").returncode == 2

    # -f: the last line, then what comes, until SIGINT (exit 0).
    out = open(drover.path("follow.txt"), "w+")
    env = dict(drover.env)
    # SIGINT as a terminal's Ctrl-C: a test run in the background has it ignored, which the
    # CLI keeps ignored, as a shell's background job expects.
    f = subprocess.Popen([DROVER_BIN, "logs", "p:0", "-f", "-n", "1", "--stdout"], stdout=out,
                         stderr=subprocess.PIPE, env=env,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        wait_until(lambda: Path(out.name).read_text() == "out 30\n", 20, what="the first line of -f")
        Path(go).touch()
        wait_until(lambda: Path(out.name).read_text() == "out 30\nafter\n", 20,
                   what=lambda: f"-f to show the new line, got {Path(out.name).read_text()!r}")
        f.send_signal(signal.SIGINT)
        assert f.wait(20) == 0
    finally:
        if f.poll() is None:
            f.kill()
            f.wait()
        out.close()
    assert drover.stop() == 0


def test_bytes_are_kept_in_files_and_escaped_in_json(drover):
    """Invalid UTF-8 goes to the file as it is and to JSON as \\xHH; a line past the 16 KiB
    cap is cut into pieces flagged "cut" that lose no byte."""
    script = ("printf 'ok \\377\\376 end\\n'; head -c 40000 /dev/zero | tr '\\0' a; echo; "
              "echo last; exec sleep 600")
    start(drover, {"programs": [program("b", script, output={"file": "b.log"})]})
    log = drover.path("b.log")
    wait_until(lambda: os.path.exists(log) and Path(log).read_bytes().endswith(b"last\n"), 20,
               what="the last line in b.log")
    lines = read_lines(log)
    assert lines[0] == b"ok \xff\xfe end"
    assert [len(x) for x in lines[1:4]] == [16384, 16384, 40000 - 2 * 16384]
    body = get_logs(drover, "b")
    assert body["lines"][0]["text"] == "ok \\xff\\xfe end"
    assert [x["cut"] for x in body["lines"]] == [False, True, True, False, False]
    assert sum(len(x["text"]) for x in body["lines"][1:4]) == 40000
    r = drover.cli("logs", "b:0", "-n", "1")
    assert r.stdout == "last\n"
    assert drover.stop() == 0


def test_drover_target_prefixes_lines_on_drovers_stderr(drover):
    start(drover, {"programs": [program("d", "echo hello; echo oops >&2; exec sleep 600",
                                       output="drover", error="drover")]})
    drover.wait_log(r"^d:0 \| hello$")
    drover.wait_log(r"^d:0 \| oops$")
    assert [x["text"] for x in get_logs(drover, "d")["lines"]] in (["hello", "oops"], ["oops", "hello"])
    assert drover.stop() == 0


def test_a_planted_file_in_place_of_the_fifo_is_refused(drover):
    """The FIFO's name taken by something else (a regular file, a link): refused, named, and
    never opened or removed; the instance does not start. (The directory is drover's own and
    0700, so only our user could plant it: this checks the lstat, not a real attack.)"""
    dump = drover.path("dump.json")
    cfg = {"programs": [program("v", "echo hi; exec sleep 600", output={"file": "v.log"})]}
    start(drover, cfg, args=["--dumpfile", dump])
    wait_until(lambda: get_logs(drover, "v")["lines"], what="v's first line")
    assert drover.stop() == 0
    # The FIFO directory this dumpfile gives (FNV-1a of its path, as util_hash_str()); a link
    # planted where v-0.out goes.
    rundirs = [Path("/run/drover")] if os.geteuid() == 0 else [
        Path(os.environ.get("XDG_RUNTIME_DIR", "/nonexistent")) / "drover",
        Path(f"/tmp/drover-{os.geteuid()}")]
    h = 0xcbf29ce484222325
    for c in dump.encode():
        h = ((h ^ c) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    name = f"out-{h:016x}"
    base = next((d for d in rundirs if d.is_dir()), None)
    assert base is not None
    d = base / name
    d.mkdir(mode=0o700, exist_ok=True)
    planted = d / "v-0.out"
    target = drover.path("victim")
    Path(target).write_text("keep me\n")
    os.symlink(target, planted)
    try:
        start(drover, cfg, args=["--dumpfile", dump])
        drover.wait_log(r"v:0 .*cannot open its output FIFO .*not a FIFO of ours\); refused")
        assert Path(target).read_text() == "keep me\n"
        assert planted.is_symlink()
    finally:
        drover.stop()
        planted.unlink()
        try:
            d.rmdir()
        except OSError:
            pass


# --- a full disk ------------------------------------------------------------------------------

@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs takes root")
def test_full_disk_is_said_once_and_recovered_from(drover):
    mnt = Path(tempfile.mkdtemp(prefix="drover-tmpfs-", dir=drover.dir))
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {r.stderr.strip()}")
    try:
        log = mnt / "full.log"
        start(drover, {"programs": [program(
            "f", "i=0; while :; do i=$((i+1)); echo line $i; sleep 0.01; done",
            output={"file": str(log)})]})
        wait_until(lambda: log.exists() and log.stat().st_size > 0, what="the first lines")
        # Fill the rest of the tmpfs.
        filler = mnt / "filler"
        subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=4k"], capture_output=True)
        drover.wait_log(r"f:0 .*cannot write output file .*No space left on device; dropping lines")
        # Keeps writing (and dropping) for a while: the ring goes on, the log says it once.
        seq = get_logs(drover, "f?lines=1")["next"]
        wait_until(lambda: get_logs(drover, "f?lines=1")["next"] > seq + 150, 30,
                   what="150 more lines read while the disk is full")
        assert len(drover.lines(r"cannot write output file")) == 1
        size_full = log.stat().st_size
        assert log.read_bytes().endswith(b"\n")  # nothing half-written left behind
        filler.unlink()
        m = drover.wait_log(r"f:0 .*writing output file .* again \((\d+) lines were dropped\)",
                            timeout=30)
        assert int(m[0][1]) > 0
        status, text, _ = drover.call("GET", "/metrics")
        dropped = [ln for ln in text.splitlines()
                   if ln.startswith('drover_instance_output_dropped_total{program="f",instance="0"}')]
        assert dropped and int(dropped[0].split()[-1]) > 0, text
        wait_until(lambda: log.stat().st_size > size_full + 100, 30, what="new lines in the file")
        assert len(drover.lines(r"cannot write output file")) == 1
        assert drover.stop() == 0
    finally:
        drover.cleanup()
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
        mnt.rmdir()


# --- a drover that dies; --adopt --------------------------------------------------------------

def test_adopted_child_keeps_running_without_sigpipe_and_its_output_is_read_on(drover):
    """drover killed with -9: its child keeps writing to the FIFO (drover's descriptor is gone,
    the child's own O_RDWR one keeps a reader), no SIGPIPE. Restarted with --adopt, drover
    opens the FIFO again: the lines written meanwhile reach the file, none missing."""
    dump = drover.path("dump.json")
    count = drover.path("count")
    script = (f"i=0; while :; do i=$((i+1)); echo n $i; echo $i > {count}.tmp; "
              f"mv {count}.tmp {count}; sleep 0.01; done")
    cfg = {"programs": [program("a", script, output={"file": "a.log"})]}
    log = drover.path("a.log")

    def written():
        try:
            return int(Path(count).read_text())
        except (OSError, ValueError):
            return 0

    start(drover, cfg, args=["--dumpfile", dump])
    drover.wait_spawns("a:0", 1)
    pid = drover.current("a:0")[0]
    wait_until(lambda: written() > 10, what="the child writing")
    wait_until(lambda: json.loads(Path(dump).read_text() or "{}").get("instances"),
               what="the instance in the dumpfile")
    drover.kill9()
    at_kill = written()
    wait_until(lambda: written() > at_kill + 50, 30,
               what="the child writing on with drover gone")
    assert pid_alive(pid)

    start(drover, cfg, args=["--dumpfile", dump, "--adopt"])
    drover.wait_log(rf"a:0 pid={pid} .*adopted from an earlier drover")
    drover.wait_log(r"a:0 .*reading its output again from")
    target = written() + 20
    wait_until(lambda: any(x == b"n %d" % target for x in read_lines(log)), 30,
               what=f"line n {target} in a.log")
    numbers = [int(x.split()[1]) for x in read_lines(log) if x.startswith(b"n ")]
    assert numbers == list(range(1, numbers[-1] + 1)), "lines were lost or reordered"
    assert pid_alive(pid) and drover.current("a:0")[0] == pid
    assert drover.stop() == 0
    assert not pid_alive(pid)


def test_adopted_child_whose_output_is_no_longer_captured_is_still_read(drover):
    """The configuration given to the adopting drover has a plain path where the child's
    output was captured: the child still writes into its FIFO, so drover reads it (and drops
    it, logged once) rather than leave the child to block for good on a full pipe."""
    dump = drover.path("dump.json")
    count = drover.path("count")
    script = f"i=0; while :; do i=$((i+1)); printf '%01000d\\n' $i; echo $i > {count}; done"

    def written():
        try:
            return int(Path(count).read_text())
        except (OSError, ValueError):
            return 0

    start(drover, {"programs": [program("c", script, output={"file": "c.log"})]},
          args=["--dumpfile", dump])
    drover.wait_spawns("c:0", 1)
    pid = drover.current("c:0")[0]
    wait_until(lambda: json.loads(Path(dump).read_text() or "{}").get("instances"),
               what="the instance in the dumpfile")
    drover.kill9()
    start(drover, {"programs": [program("c", script, output="plain.log")]},
          args=["--dumpfile", dump, "--adopt"])
    drover.wait_log(rf"c:0 pid={pid} .*adopted from an earlier drover")
    drover.wait_log(r"c:0 .*its output goes to .*no longer captures: read and dropped")
    # ~1 KB lines: more than its pipe holds (1 MiB at most) go through, the child running on.
    at = written()
    wait_until(lambda: written() > at + 1500, 120, what="the child writing 1.5 MB more")
    assert pid_alive(pid)
    assert drover.stop() == 0


def test_logs_over_tcp_need_the_token(drover):
    """Captured output may hold secrets: over TCP GET /logs needs the bearer token, as control
    calls do (403 when none is configured, 401 without the right one); /status stays open."""
    from conftest import api, free_port
    token = drover.path("token")
    with open(token, "w") as f:
        f.write("logs-test-token-0123456789\n")
    port = free_port()
    start(drover, {"programs": [program("w", "echo secret-line; exec sleep 600",
                                        output={"file": drover.path("w.log")})],
                   "http": f"127.0.0.1:{port}"}, args=["--http-token-file", token])
    wait_until(lambda: get_logs(drover, "w")["lines"], what="the captured line on the control socket")
    wait_until(lambda: _answers(port), what=f"drover's HTTP API on port {port}")
    code, body, headers = api(port, "/logs/w")
    assert code == 401 and "secret-line" not in json.dumps(body), body
    assert headers["WWW-Authenticate"] == 'Bearer realm="drover"'
    assert api(port, "/logs/w", token="wrong-token-0123456789")[0] == 401
    code, body, _ = api(port, "/logs/w", token="logs-test-token-0123456789")
    assert code == 200 and [l["text"] for l in body["lines"]] == ["secret-line"], body
    assert api(port, "/status")[0] == 200
    assert drover.stop() == 0

    port = free_port()
    start(drover, {"programs": [program("w", "echo secret-line; exec sleep 600",
                                        output={"file": drover.path("w2.log")})],
                   "http": f"127.0.0.1:{port}"})
    wait_until(lambda: _answers(port), what=f"drover's HTTP API on port {port}")
    code, body, _ = api(port, "/logs/w")
    assert code == 403 and "--http-token" in body["error"], body
    assert drover.stop() == 0


def _answers(port):
    from conftest import api
    try:
        return api(port, "/livez")[0] == 200
    except OSError:
        return False


def test_a_dead_drovers_fifo_directory_is_swept(drover):
    """Without a dumpfile, a drover killed with -9 leaves its out-pidN directory behind, and no
    later drover can adopt those FIFOs: the next drover that captures removes it, FIFOs only."""
    cfg = {"programs": [program("s", "echo hi; exec sleep 600", output={"file": "s.log"})]}
    start(drover, cfg)
    wait_until(lambda: get_logs(drover, "s")["lines"], what="s's first line")
    old_drover, child = drover.proc.pid, drover.current("s:0")[0]
    base = Path("/run/drover") if os.geteuid() == 0 else None
    if base is None:
        pytest.skip("runs as root, where the runtime directory is /run/drover")
    left = base / f"out-pid{old_drover}"
    assert (left / "s-0.out").exists()
    drover.kill9()
    os.kill(child, signal.SIGKILL)  # its child: no drover will adopt it (no dumpfile)
    wait_until(lambda: not pid_alive(child), what=f"the old child {child} gone")
    assert left.is_dir()
    start(drover, cfg)
    drover.wait_log(rf"captured output: removed {left}, left by drover {old_drover}, which is gone")
    assert not left.exists()
    assert drover.stop() == 0


def test_two_streams_never_share_one_file(drover):
    """Two instances appending to one file would each rotate it under the other and cut the
    other's lines: the second is refused, saying why, and the first goes on."""
    start(drover, {"programs": [program("s", "echo from-$DROVER_INSTANCE; exec sleep 600",
                                        instances=2, output={"file": "shared.log"})]})
    drover.wait_log(r's:\d cannot capture its output to "(.*/)?shared.log": s:\d writes its output there '
                    r'already; give each stream of each instance its own file')
    wait_until(lambda: read_now(drover.path("shared.log")) in (b"from-0\n", b"from-1\n"),
               what="one instance's line in shared.log")
    assert drover.stop() == 4  # the refused one is fatal


def test_logs_of_a_program_merge_its_instances_in_read_order(drover):
    """/logs/NAME merges every instance's and stream's lines by sequence number: the newest N
    overall, oldest first, and from `since` on the first N; nothing twice, nothing skipped."""
    script = ("i=1; while [ $i -le 40 ]; do echo o$DROVER_INSTANCE-$i; echo e$DROVER_INSTANCE-$i >&2; "
              "i=$((i+1)); done; exec sleep 600")
    start(drover, {"programs": [program("m", script, instances=3,
                                        output={"file": "m-{{instance}}.out"},
                                        error={"file": "m-{{instance}}.err"})]})
    wait_until(lambda: len(get_logs(drover, "m?lines=1000")["lines"]) == 240,
               what="240 lines of m's three instances")
    every = get_logs(drover, "m?lines=1000")["lines"]
    seqs = [l["seq"] for l in every]
    assert seqs == sorted(seqs) and len(set(seqs)) == 240
    last = get_logs(drover, "m?lines=25")
    assert [l["seq"] for l in last["lines"]] == seqs[-25:]
    assert last["next"] == seqs[-1] + 1
    page = get_logs(drover, f"m?lines=30&since={seqs[100]}")
    assert [l["seq"] for l in page["lines"]] == seqs[100:130] and page["next"] == seqs[129] + 1
    one = get_logs(drover, "m:1?lines=1000&stream=stderr")["lines"]
    assert [l["text"] for l in one] == [f"e1-{i}" for i in range(1, 41)]
    assert drover.stop() == 0


def test_a_new_process_starts_a_new_line(drover):
    """A process that ends mid-line: its rest is written as a line of its own, and the next
    process of the slot does not continue it."""
    start(drover, {"programs": [program("h", "printf 'half'; exit 3", restart="always",
                                        yoyo=False, backoff={"initial": "10ms", "max": "10ms"},
                                        output={"file": "h.log"})]})
    wait_until(lambda: read_now(drover.path("h.log")).count(b"\n") >= 3,
               what="three of h's processes in h.log")
    lines = read_now(drover.path("h.log")).split(b"\n")[:-1]
    assert set(lines) == {b"half"}, lines
    assert drover.stop() == 0

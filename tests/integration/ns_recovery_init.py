"""pid 1 of a throwaway pid namespace for test_recovery_trust.py (B1).

Usage (only ever as `unshare --pid --fork --mount-proc --kill-child python3 THIS ...`):
    ns_recovery_init.py DROVER_BIN SLEEPER WORKDIR

Starts two decoys that record every signal they get (one of root without a
marker, one of uid 65534 with this dumpfile's marker), forges a dumpfile that
names pid 1 / process group 1 with pid 1's real start time and both decoys,
runs drover on it, stops drover with SIGTERM once its pool is up, and prints
one JSON line: drover's exit code, the signals that pid 1 and the decoys got,
and which decoys are still alive. Everything in the namespace dies with this
process.
"""
import json
import os
import re
import signal
import subprocess
import sys
import time

DEADLINE_S = 60  # each wait; they take well under a second on an idle machine

# record_signals(fd): from then on, each signal the process can catch is written to fd as
# "PID got SIGNAL". Source text, so the decoys (python3 -c) and this pid 1 share it.
RECORDER = r"""
import os, signal
def record_signals(fd):
    def got(sig, frame):
        os.write(fd, b"%d got %d\n" % (os.getpid(), sig))
    for s in signal.valid_signals():
        if s not in (signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD):
            try:
                signal.signal(s, got)
            except (OSError, ValueError):
                pass
"""
_defined = {}
exec(RECORDER, _defined)
record_signals = _defined["record_signals"]

# A process that records its signals to the inherited fd $DECOY_FD, and says "PID ready" then.
DECOY = RECORDER + r"""
import time
fd = int(os.environ["DECOY_FD"])
record_signals(fd)
os.write(fd, b"%d ready\n" % os.getpid())
while True:
    time.sleep(3600)
"""


def start_time(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[19])


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(cond, what):
    deadline = time.monotonic() + DEADLINE_S
    while not cond():
        if time.monotonic() > deadline:
            raise SystemExit(f"ns_recovery_init: timed out waiting for {what}")
        time.sleep(0.02)


def as_nobody():
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)


def main():
    if os.getpid() != 1:
        print("ns_recovery_init: not pid 1 of a new pid namespace, refusing to run", file=sys.stderr)
        return 2
    drover_bin, sleeper, workdir = sys.argv[1:4]
    dump = os.path.join(workdir, "forged.json")
    signals_path = os.path.join(workdir, "signals")
    log_path = os.path.join(workdir, "drover.log")
    siglog = os.open(signals_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    record_signals(siglog)

    decoy_env = {"DECOY_FD": str(siglog), "PATH": "/usr/bin:/bin"}
    plain = subprocess.Popen([sys.executable, "-c", DECOY], env=decoy_env, pass_fds=[siglog],
                             start_new_session=True, cwd="/")
    forged_env = dict(decoy_env, DROVER_DUMPFILE=dump, DROVER_GENERATION="999999.1",
                      DROVER_PROGRAM="s", DROVER_INSTANCE="2")
    nobody = subprocess.Popen([sys.executable, "-c", DECOY], env=forged_env, pass_fds=[siglog],
                              start_new_session=True, cwd="/", preexec_fn=as_nobody)

    def text(path):
        with open(path) as f:
            return f.read()
    wait_for(lambda: text(signals_path).count("ready") == 2, "the decoys' handlers")

    # The uid-65534 decoy is not named: a record is drover's own word (the file is trusted), and
    # one that names a process of another uid is a worker that dropped privileges. Found by
    # the sweep alone, with a forged marker, it must be left alone.
    records = [(0, 1), (1, plain.pid)]
    with open(dump, "w") as f:
        json.dump({"format": "drover-checkpoint", "version": 1,
                   "drover": {"pid": 999999, "start_time": 1},
                   "instances": [{"program": "s", "instance": i, "pid": pid, "pgid": pid,
                                  "start_time": start_time(pid), "port": None, "argv": []}
                                 for i, pid in records]}, f)
    os.chmod(dump, 0o600)
    config = os.path.join(workdir, "config.json")
    with open(config, "w") as f:
        json.dump({"programs": [{"name": "s", "command": [sleeper], "instances": 3,
                                 "stop_timeout": "1s"}]}, f)

    with open(log_path, "ab") as log:
        drover = subprocess.Popen([drover_bin, "--control", "off", "--config", config, "--dumpfile", dump],
                                  stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=workdir,
                                  env={"PATH": "/usr/bin:/bin"})
    wait_for(lambda: drover.poll() is not None or re.search(r"s:2 pid=\d+ spawned", text(log_path)),
             "drover's pool")
    if drover.poll() is None:
        drover.send_signal(signal.SIGTERM)
    try:
        rc = drover.wait(timeout=DEADLINE_S)
    except subprocess.TimeoutExpired:
        drover.kill()
        rc = drover.wait()
    print(json.dumps({
        "rc": rc,
        "signals": [line for line in text(signals_path).splitlines() if "ready" not in line],
        "alive": {"plain": alive(plain.pid), "nobody": alive(nobody.pid)},
        "pids": {"plain": plain.pid, "nobody": nobody.pid},
    }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What a child starts with: signal mask and dispositions, process group and
session, open descriptors, environment, working directory."""
import os
import re
import resource
import signal

from conftest import helper, wait_until


def status_of(drover, name, **extra):
    out = drover.path(f"{name}.txt")
    prog = {"name": name, "command": [helper("status_dump")], "output": out}
    prog.update(extra)
    return prog, out


def read_dump(path):
    return wait_until(lambda: os.path.exists(path) and "pgid=" in open(path).read() and open(path).read(),
                      what=f"status dump in {path}")


def test_signal_mask_and_dispositions_are_reset(drover):
    prog, out = status_of(drover, "dump")
    drover.start({"programs": [prog]})
    text = read_dump(out)
    fields = dict(re.findall(r"^(Sig\w+):\s+(\S+)$", text, re.M))
    # drover blocks CHLD/TERM/INT/HUP/USR1 and ignores PIPE; none of that may leak.
    assert fields["SigBlk"] == "0000000000000000"
    assert fields["SigIgn"] == "0000000000000000"
    assert drover.stop() == 0


def test_child_leads_its_own_session_and_group(drover):
    prog, out = status_of(drover, "dump")
    drover.start({"programs": [prog]})
    text = read_dump(out)
    ids = dict(re.findall(r"(pgid|sid|pid|ppid)=(\d+)", text.splitlines()[-1]))
    # The child can write its dump before drover logs its spawn: wait for the line, too.
    pid = drover.wait_spawns("dump:0", 1)[0][1]
    assert int(ids["pid"]) == pid
    assert int(ids["pgid"]) == pid and int(ids["sid"]) == pid
    assert int(ids["ppid"]) == drover.proc.pid
    assert drover.stop() == 0


def test_only_stdio_descriptors_are_inherited(drover):
    prog, out = status_of(drover, "dump")
    drover.start({"programs": [prog]})
    text = read_dump(out)
    fds = dict(re.findall(r"^fd=(\d+) -> (.*)$", text, re.M))
    # stdio, plus exactly one more: the program's heartbeat slots (see test_heartbeat.py).
    extra = sorted(set(fds) - {"0", "1", "2"})
    assert len(extra) == 1 and fds[extra[0]] == "/memfd:drover:dump (deleted)", text
    assert re.search(r"^fd=0 -> /dev/null$", text, re.M)
    assert re.search(rf"^fd=1 -> {re.escape(out)}$", text, re.M)
    assert drover.stop() == 0


def test_environment_and_cwd(drover):
    workdir = drover.dir / "work"
    workdir.mkdir()
    out = drover.path("env.txt")
    env = dict(drover.env, NOTIFY_SOCKET="/tmp/not-for-children", KEEP_ME="yes", OVERRIDE="old")
    drover.start({
        "programs": [{
            "name": "envy",
            "command": [helper("sleeper"), "--print-cwd", "--echo-env", "DROVER_PROGRAM", "--echo-env",
                        "DROVER_INSTANCE", "--echo-env", "DROVER_PORT", "--echo-env", "KEEP_ME",
                        "--echo-env", "OVERRIDE", "--echo-env", "NOTIFY_SOCKET", "--echo-env", "PORTVAR"],
            "instances": 2,
            "cwd": str(workdir),
            "env": {"OVERRIDE": "new-{{instance}}", "PORTVAR": "{{port}}"},
            "output": out + ".{{instance}}",
        }],
        "port_range": "19400-19409",
    }, env=env)
    for i in (0, 1):
        path = f"{out}.{i}"
        text = wait_until(lambda: os.path.exists(path) and "PORTVAR" in open(path).read() and open(path).read(),
                          what=f"env dump {path}")
        # The child can write its dump before drover logs its spawn: wait for the line, too.
        port = drover.wait_spawns(f"envy:{i}", 1)[0][2]
        assert f"cwd={workdir}\n" in text
        assert "DROVER_PROGRAM=envy\n" in text
        assert f"DROVER_INSTANCE={i}\n" in text
        assert f"DROVER_PORT={port}\n" in text
        assert f"PORTVAR={port}\n" in text
        assert "KEEP_ME=yes\n" in text
        assert f"OVERRIDE=new-{i}\n" in text
        # drover's own notify socket, never the one drover itself was given.
        assert re.search(rf"^NOTIFY_SOCKET=/\S+/notify-{drover.proc.pid}\.sock$", text, re.M), text
    assert drover.stop() == 0


def test_relative_paths_resolve_against_cwd(drover):
    workdir = drover.dir / "w"
    (workdir / "logs").mkdir(parents=True)
    os.symlink(helper("sleeper"), workdir / "tool")
    drover.start({"programs": [{"name": "rel", "command": ["./tool", "--print-cwd"], "cwd": str(workdir),
                                "output": "logs/out.txt"}]})
    path = workdir / "logs" / "out.txt"
    assert wait_until(lambda: path.exists() and path.read_text(), what=f"output in {path}") == f"cwd={workdir}\n"
    assert drover.stop() == 0


def test_children_get_the_original_open_file_limit(drover):
    """drover raises its own RLIMIT_NOFILE for its pidfds; children get the one drover started with."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    soft = min(hard, 512)

    def lower_soft_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    prog, out = status_of(drover, "dump")
    prog["command"] = ["/bin/sh", "-c", "ulimit -Sn; ulimit -Hn; exec sleep 600"]
    drover.start({"programs": [prog]}, preexec_fn=lower_soft_limit)
    text = wait_until(lambda: os.path.exists(out) and open(out).read().count("\n") >= 2 and open(out).read(),
                      what=f"both ulimit lines in {out}")
    assert text.split() == [str(soft), str(hard)]
    with open(f"/proc/{drover.proc.pid}/limits") as f:
        limits = f.read()
    assert re.search(rf"Max open files\s+{hard}\s+{hard}", limits), limits
    assert drover.stop() == 0


def test_inherited_ignored_signals_are_reset(drover):
    """Whoever starts drover may leave signals ignored (nohup, some shells and make);
    ignored dispositions survive exec, so drover resets them in each child."""

    def ignore_some():
        for s in (signal.SIGHUP, signal.SIGUSR2, signal.SIGQUIT):
            signal.signal(s, signal.SIG_IGN)

    prog, out = status_of(drover, "dump")
    drover.start({"programs": [prog]}, preexec_fn=ignore_some)
    text = read_dump(out)
    assert re.search(r"^SigIgn:\s+0000000000000000$", text, re.M), text
    with open(f"/proc/{drover.proc.pid}/status") as f:  # drover itself did inherit them
        ignored = int(re.search(r"^SigIgn:\s+([0-9a-f]+)$", f.read(), re.M).group(1), 16)
    for s in (signal.SIGHUP, signal.SIGUSR2, signal.SIGQUIT):
        assert ignored & (1 << (s - 1)), s
    assert drover.stop() == 0


def test_descriptors_drover_inherited_are_not_passed_on(drover):
    """A descriptor left open by whoever started drover must not leak into the workers."""
    leak = os.open("/dev/null", os.O_RDONLY)  # inheritable, as a careless shell would leave it
    os.set_inheritable(leak, True)
    try:
        prog, out = status_of(drover, "dump")
        drover.start({"programs": [prog]}, pass_fds=(leak,))
        text = read_dump(out)
    finally:
        os.close(leak)
    fds = dict(re.findall(r"^fd=(\d+) -> (.*)$", text, re.M))
    assert str(leak) not in fds, text
    assert drover.stop() == 0

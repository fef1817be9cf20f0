"""docs/deploy.md's manifests parse and agree: every fenced block is read (YAML with
python3-yaml, JSON with json), the drover configuration passes `drover --check-config`, the
probes name drover's paths, each grace period is longer than the stop the configuration can
take, and the systemd unit passes `systemd-analyze verify` (or, without it, has its keys)."""
import json
import re
import shutil
import subprocess

import pytest
import yaml

from conftest import DROVER_BIN, REPO

DOC = REPO / "docs" / "deploy.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)
MARGIN_S = 5  # the least margin a grace period must leave over the stop's bound


def blocks(lang):
    found = [body for tag, body in FENCE.findall(DOC.read_text()) if tag == lang]
    assert found, f"no ```{lang} block in {DOC}"
    return found


def duration_s(text):
    m = re.fullmatch(r"(\d+)(ms|s|m|h)?", text)
    assert m, f"not a duration: {text!r}"
    return int(m[1]) * {"ms": 0.001, "s": 1, None: 1, "m": 60, "h": 3600}[m[2]]


def drover_config():
    [config] = [json.loads(b) for b in blocks("json") if "programs" in json.loads(b)]
    return config


def stop_bound_s(config):
    """How long a shutdown may take: the longest stop_timeout when no program has `after`
    (they stop together), else the sum of them all (an upper bound for any order)."""
    timeouts = [duration_s(p.get("stop_timeout", "10s")) for p in config["programs"]]
    assert not any("on_state_change" in p or "on_fatal" in p for p in config["programs"]), \
        "hooks add their hook_timeout to the stop: count it here"
    if any(p.get("after") for p in config["programs"]):
        return sum(timeouts)
    return max(timeouts)


def test_every_block_is_tagged_and_parses():
    for tag, body in FENCE.findall(DOC.read_text()):
        assert tag, f"a fenced block without a language tag:\n{body}"
        if tag == "json":
            json.loads(body)
        elif tag == "yaml":
            assert list(yaml.safe_load_all(body))


def test_the_configuration_is_valid_and_is_the_images():
    config = drover_config()
    text = json.dumps(config)
    r = subprocess.run([DROVER_BIN, "--check-config"], input=text, capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    # The Dockerfile copies this file; the ConfigMap holds the same configuration.
    assert json.loads((REPO / "examples" / "deploy" / "drover.json").read_text()) == config
    [configmap] = [d for b in blocks("yaml") for d in yaml.safe_load_all(b)
                   if isinstance(d, dict) and d.get("kind") == "ConfigMap"]
    assert json.loads(configmap["data"]["drover.json"]) == config


def test_dockerfile():
    [dockerfile] = blocks("dockerfile")
    lines = [line.strip() for line in dockerfile.splitlines()]
    froms = [line.split()[1] for line in lines if line.startswith("FROM ")]
    assert froms and all(f.startswith("debian:12") for f in froms), froms
    assert "STOPSIGNAL SIGTERM" in lines
    [entry] = [line for line in lines if line.startswith("ENTRYPOINT ")]
    argv = json.loads(entry[len("ENTRYPOINT "):])  # exec form: drover itself is PID 1
    assert argv[0].endswith("/drover") and "--config" in argv, argv
    config_path = argv[argv.index("--config") + 1]
    assert any(line.startswith("COPY ") and line.endswith(" " + config_path) for line in lines)
    assert any("make" in line for line in lines if line.startswith("RUN "))


def test_kubernetes_pod():
    config = drover_config()
    port = int(config["http"].rsplit(":", 1)[1])
    docs = [d for b in blocks("yaml") for d in yaml.safe_load_all(b)]
    [pod] = [d for d in docs if isinstance(d, dict) and d.get("kind") == "Pod"]
    assert pod["apiVersion"] == "v1"
    [c] = pod["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}

    def path(probe):
        get = c[probe]["httpGet"]
        assert ports.get(get["port"], get["port"]) == port, f"{probe} probes another port"
        return get["path"]
    assert path("livenessProbe") == "/livez"
    assert path("readinessProbe") == "/readyz"
    health = path("startupProbe")
    m = re.fullmatch(r"/health\?max_silent=(\d+)&silence=(\w+)", health)
    assert m, health
    duration_s(m[2])
    grace = pod["spec"]["terminationGracePeriodSeconds"]
    assert grace >= stop_bound_s(config) + MARGIN_S, \
        f"terminationGracePeriodSeconds {grace} leaves no margin over the stop's {stop_bound_s(config)} s"
    # The exec form: `drover health` in the container, with options the CLI knows.
    execs = [d["startupProbe"]["exec"]["command"] for d in docs
             if isinstance(d, dict) and "exec" in d.get("startupProbe", {})]
    assert execs and execs[0][:2] == ["drover", "health"], execs
    r = subprocess.run([DROVER_BIN, "--control", "/nonexistent/drover.sock", *execs[0][1:]],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 3, f"not 'daemon unreachable' (a usage error?): {r.stderr}"


def test_nomad_job():
    config = drover_config()
    [job] = [json.loads(b)["Job"] for b in blocks("json") if "Job" in json.loads(b)]
    [group] = job["TaskGroups"]
    [task] = group["Tasks"]
    assert task["KillSignal"] == "SIGTERM"
    kill_s = task["KillTimeout"] / 1e9  # the API's durations are nanoseconds
    assert kill_s >= stop_bound_s(config) + MARGIN_S, \
        f"KillTimeout {kill_s} s leaves no margin over the stop's {stop_bound_s(config)} s"
    assert kill_s <= 30 or "max_kill_timeout" in DOC.read_text()
    [service] = group["Services"]
    paths = {c["Path"] for c in service["Checks"] if c["Type"] == "http"}
    assert {"/livez", "/readyz"} <= paths
    assert any(re.fullmatch(r"/health\?max_silent=\d+&silence=\w+", p) for p in paths), paths
    [net] = group["Networks"]
    assert [p["To"] for p in net["DynamicPorts"] if p["Label"] == service["PortLabel"]] == \
        [int(config["http"].rsplit(":", 1)[1])]


def unit_keys(text):
    """{section: {key: value}} of a unit file (the last value of a repeated key)."""
    sections, current = {}, None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None and "=" in line, f"not a unit file line: {line!r}"
        key, value = line.split("=", 1)
        current[key.strip()] = value.strip()
    return sections


def test_systemd_unit(tmp_path):
    config = drover_config()
    [unit] = blocks("ini")
    s = unit_keys(unit)["Service"]
    assert s["Type"] == "notify" and s["NotifyAccess"] == "main"
    assert duration_s(s["WatchdogSec"]) > 0
    assert s["KillMode"] in ("mixed", "control-group")
    assert s["ExecReload"].split()[-2:] == ["-HUP", "$MAINPID"] and "kill" in s["ExecReload"]
    assert s["ExecStart"].split()[0].endswith("/drover")
    assert duration_s(s["TimeoutStopSec"]) >= stop_bound_s(config) + MARGIN_S
    if not shutil.which("systemd-analyze"):
        return  # the keys above are what the page promises; the verifier is not installed
    # The verifier wants ExecStart's binary to exist: ours, built.
    path = tmp_path / "drover.service"
    path.write_text(unit.replace(s["ExecStart"].split()[0], DROVER_BIN))
    r = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True, text=True,
                       timeout=60)
    complaints = [line for line in (r.stdout + r.stderr).splitlines() if "drover.service" in line]
    assert r.returncode == 0 and not complaints, r.stdout + r.stderr


@pytest.mark.parametrize("tag", ["dockerfile", "yaml", "json", "ini"])
def test_each_manifest_is_there(tag):
    assert blocks(tag)

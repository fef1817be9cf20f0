"""Bad input: each gets one clear error naming where and what, exit 2, and
nothing is started."""
import json
import os
import pytest
import subprocess

from conftest import DROVER_BIN, helper


def sleeper_with_marker(drover):
    """A program that would leave a pidfile behind if anything were started."""
    return {"name": "marker", "command": [helper("sleeper"), "--pidfile", drover.path("started.pid")]}


def refused(drover, config, *args, stdin=False):
    result = drover.run(config, args=list(args), stdin=stdin)
    assert result.returncode == 2, result
    assert not os.path.exists(drover.path("started.pid"))
    assert "spawned" not in result.stderr
    return result.stderr


def test_invalid_json_names_line_and_column(drover):
    err = refused(drover, '{"programs": [\n  {"command": ["x"],}\n]}')
    assert "config.json:2:" in err and "invalid JSON" in err


def test_invalid_json_on_stdin(drover):
    err = refused(drover, "[{]", stdin=True)
    assert "<stdin>:1:" in err and "invalid JSON" in err


@pytest.mark.parametrize("program, where, what", [
    ({"command": "sleeper"}, "[0].command", "expected a list of strings"),
    ({"command": ["sleeper", 5]}, "[0].command[1]", "expected a string, got an integer"),
    ({"command": []}, "[0].command", "command is empty"),
    ({"command": [""]}, "[0].command[0]", "expected a non-empty string"),
    ({"command": ["x"], "instances": "2"}, "[0].instances", "expected an integer from 1 to"),
    ({"command": ["x"], "instances": 0}, "[0].instances", "got 0"),
    ({"command": ["x"], "env": {"A": 1}}, "[0].env.A", "expected a string"),
    ({"command": ["x"], "stop_timeout": "10 seconds"}, "[0].stop_timeout", "expected a duration"),
    ({"command": ["x"], "start_seconds": -1}, "[0].start_seconds", "duration out of range"),
    ({"command": ["x"], "stop_signal": "TREM"}, "[0].stop_signal", 'unknown or unusable signal "TREM"'),
    ({"command": ["x"], "restart": "sometimes"}, "[0].restart", 'expected "always", "on-failure" or "never"'),
    ({"command": ["x"], "comand": ["y"]}, "[0].comand", 'unknown key "comand"'),
    ({"command": ["x", "{{prot}}"]}, "[0].command[1]", 'unknown placeholder "{{prot}}"'),
    ({"command": ["x"], "yoyo": {"limit": 3}}, "[0].yoyo.limit", 'unknown key "limit" (known: restarts, window)'),
    ({"command": ["x"], "backoff": {"initial": "2s", "max": "1s"}}, "[0].backoff", "below initial"),
    ({"input": "in.txt"}, "[0]", 'missing "command"'),
])
def test_program_errors_name_path_and_expectation(drover, program, where, what):
    err = refused(drover, [program])
    line = err.splitlines()[0]
    assert line.startswith("drover: ") and "config.json:" in line, err
    assert f": {where}: " in line, err
    assert what in line, err


def test_error_position_points_at_the_value(drover):
    text = '[\n  {"command": ["a"]},\n  {"command": ["b"],\n   "instances": "many"}\n]\n'
    err = refused(drover, text)
    assert "config.json:4:17: [1].instances: expected an integer" in err


def test_unknown_top_level_key(drover):
    text = '{"programs": [{"command": ["x"]}],\n "port_rnage": "1-2"}'
    err = refused(drover, text)
    assert 'config.json:2:2: port_rnage: unknown key "port_rnage" (known: programs, port_range, dumpfile, checkpoint_interval, adopt, http, http_token, control, max_silent, silence, on_state_change, on_fatal, hook_timeout, jobs)' in err


def test_all_errors_are_reported_at_once(drover):
    err = refused(drover, [{"command": []}, {"command": ["x"], "restart": 1}])
    assert "[0].command" in err and "[1].restart" in err and "2 errors, nothing started" in err


def test_duplicate_names_and_keys(drover):
    err = refused(drover, [{"name": "a", "command": ["x"]}, {"name": "a", "command": ["y"]}])
    assert 'duplicate program name "a"' in err
    err = refused(drover, '[{"command": ["x"], "command": ["y"]}]')
    assert 'config.json:1:29: invalid JSON: duplicate key "command"' in err


@pytest.mark.parametrize("raw, message", [
    # FINDINGS B21: jansson said "end of file expected near end of file" and
    # "\u0000 is not allowed without JSON_ALLOW_NUL near ..."; drover says what it means.
    (b'[{"command":["/bin/true"]}]\0garbage', "1:28: invalid JSON: a NUL byte after the document"),
    (b'[{"command":["/bin/true\\u0000x"]}]',
     "1:31: invalid JSON: strings may not contain \\u0000 (near '\"/bin/true\\u0000x\"')"),
    (b'[{"command":["caf\xe9"]}]', "1:17: invalid JSON: not valid UTF-8: byte 0xe9 (after '\"caf')"),
    (b'[{"command":["a"]}] trailing', "1:28: invalid JSON: text after the document (near 'trailing')"),
    (b'[{"command":["a"],}]', "1:19: invalid JSON: expected a key in double quotes or '}' (near '}')"),
])
def test_invalid_json_in_drovers_words(drover, raw, message):
    path = drover.dir / "nul.json"
    path.write_bytes(raw)
    r = subprocess.run([DROVER_BIN, "--check-config", "-c", str(path)], capture_output=True,
                       stdin=subprocess.DEVNULL, timeout=10, cwd=drover.dir)
    err = r.stderr.decode()
    assert r.returncode == 2, err
    assert err.splitlines()[0] == f"drover: {path}:{message}", err
    assert "near end of file" not in err and "JSON_ALLOW_NUL" not in err


def test_port_placeholder_needs_a_range(drover):
    err = refused(drover, [{"command": ["x", "{{port}}"]}])
    assert "uses {{port}} but no port range is set" in err


@pytest.mark.parametrize("bad", ["9100", "9100-", "0-10", "10-5", "1-70000", "a-b"])
def test_bad_port_range_flag(drover, bad):
    err = refused(drover, [sleeper_with_marker(drover)], f"--port-range={bad}")
    assert "--port-range" in err and bad in err


def test_bad_port_range_key(drover):
    err = refused(drover, {"programs": [sleeper_with_marker(drover)], "port_range": "10-5"})
    assert "port_range: expected a port range" in err


def test_unknown_flag_and_missing_file(drover):
    err = refused(drover, [sleeper_with_marker(drover)], "--frobnicate")
    assert "unknown option '--frobnicate'" in err
    result = drover.run([], args=["--config", drover.path("nope.json")])
    # run() appends --config config.json too; the first missing file is what fails.
    assert result.returncode == 2


def test_missing_config_file(tmp_path):
    r = subprocess.run([DROVER_BIN, "--config", str(tmp_path / "nope.json")], capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=10)
    assert r.returncode == 2
    assert "cannot open configuration" in r.stderr and "nope.json" in r.stderr


def test_check_config_accepts_the_example(drover):
    from conftest import REPO
    result = drover.run((REPO / "examples" / "time-service.json").read_text(),
                        args=["--check-config", "--port-range=9100-9199"], stdin=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "configuration OK: 3 programs, 3 instances\n"


def test_oversized_config_is_refused(drover):
    big = json.dumps([{"command": ["x"], "env": {"PAD": "x" * 4000}}] * 300)
    err = refused(drover, big)
    assert "larger than" in err


def test_the_readme_and_lifecycle_examples_are_valid_configs():
    """Every ```json block of README.md and docs/lifecycle.md that is a config passes
    --check-config (with the port range the README's first example is run with)."""
    import re
    from pathlib import Path
    repo = Path(__file__).resolve().parents[2]
    checked = 0
    for doc in ("README.md", "docs/lifecycle.md"):
        for block in re.findall(r"```json\n(.*?)```", (repo / doc).read_text(), re.S):
            data = json.loads(block)
            if not (isinstance(data, list) or "programs" in data):
                continue  # an answer, not a config
            r = subprocess.run([DROVER_BIN, "--check-config", "--port-range", "9100-9199"],
                               input=block, capture_output=True, text=True, timeout=10)
            assert r.returncode == 0, f"{doc}: {r.stderr}\n{block}"
            checked += 1
    assert checked >= 3

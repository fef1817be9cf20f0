"""The file store (docs/jobs.md#durability): jobs survive drover's kill -9, with and without
--adopt; a torn last journal line is dropped; a 201 means the job is in the journal; the
journal is compacted; a journal directory others may write is refused. Real drover, real
Python workers (tests/helpers/job_test_worker.py), real files."""
import json
import os
from pathlib import Path

import pytest

from conftest import api, free_port, wait_until
from test_jobs import PY, TOKEN, WORKER, post

N = 100


def start(drover, port, dump, *, instances=2, jobs=None, adopt=False, store=None):
    cfg = {"programs": [{"name": "w", "instances": instances, "stop_timeout": "2s",
                         "command": [PY, WORKER], "jobs": jobs or {"attempts": 3}}],
           "jobs": store or {}}
    args = ["--http", f"127.0.0.1:{port}", "--http-token", TOKEN, "--dumpfile", dump]
    drover.start(cfg, args=args + (["--adopt"] if adopt else []))
    drover.wait_log(rf"serving HTTP on 127\.0\.0\.1:{port}", count=drover.starts + 1)
    drover.starts += 1


def job(port, jid):
    code, j, _ = api(port, f"/jobs/{jid}")
    return j if code == 200 else None


def all_jobs(port):
    """Every job (GET /jobs, paged), by id."""
    got, cursor = {}, None
    while True:
        code, page, _ = api(port, "/jobs?limit=1000" + (f"&after={cursor}" if cursor else ""))
        assert code == 200, page
        got.update({j["id"]: j for j in page["jobs"]})
        cursor = page.get("next_after")
        if not cursor:
            return got


def submit_batch(port):
    """Two long jobs (running at the kill), then N - 2 short ones (waiting at it)."""
    ids = []
    for i in range(N):
        payload = "sleep 4" if i < 2 else "sleep 0.05"
        code, j = post(port, "/jobs", {"type": "w", "payload": payload, "id": f"job-{i:03d}"})
        assert code == 201, j
        ids.append(j["id"])
    wait_until(lambda: all(job(port, i)["state"] == "running" for i in ids[:2]), 60,
               what=lambda: f"the two long jobs running: {[job(port, i) for i in ids[:2]]}")
    return ids


def wait_all_done(port, ids):
    def done():
        js = all_jobs(port)
        return all(js.get(i, {}).get("state") == "success" for i in ids) and js
    return wait_until(done, 180, what=lambda: "all jobs success; not yet: " + str(
        {i: j["state"] for i, j in all_jobs(port).items() if j["state"] != "success"}))


def successes(j):
    return [h for h in j["history"] if h["state"] == "success"]


def test_kill9_then_restart_without_adopt_loses_no_job_and_finishes_none_twice(drover):
    drover.starts = 0
    port, dump = free_port(), drover.path("dump.json")
    start(drover, port, dump)
    ids = submit_batch(port)
    drover.kill9()
    start(drover, port, dump)
    drover.wait_log(r"job job-00[01] attempt 1 was running on w:\d when drover stopped, and that "
                    r"instance was not adopted: the attempt counts as lost", count=2)
    got = wait_all_done(port, ids)
    assert sorted(got) == sorted(ids)  # none lost, none made up
    for i in ids:
        full = job(port, i)
        assert len(successes(full)) == 1, full  # finished once
    for i in ids[:2]:  # running at the kill: that attempt counted, the next one ran it
        full = job(port, i)
        assert full["attempt"] == 2, full
        assert [h for h in full["history"] if h.get("error_code") == "worker_lost"], full
    # The short ones never ran before the kill, or ran once: attempt 1 (a dispatched one
    # went back to the front without counting).
    assert all(job(port, i)["attempt"] == 1 for i in ids[2:] if not
               [h for h in job(port, i)["history"] if h.get("error_code")])
    assert drover.stop() == 0


def test_kill9_then_restart_with_adopt_reattaches_the_running_jobs(drover):
    drover.starts = 0
    port, dump = free_port(), drover.path("dump.json")
    start(drover, port, dump)
    ids = submit_batch(port)

    def recorded():  # the dumpfile names both workers, with their job channel's token
        try:
            entries = json.loads(Path(dump).read_text())["instances"]
        except (OSError, ValueError, KeyError):
            return None
        return len([e for e in entries if len(e.get("jobs_token", "")) == 32]) == 2
    wait_until(recorded, 30, what=lambda: "both workers in the dumpfile with a jobs_token")
    drover.kill9()
    start(drover, port, dump, adopt=True)
    drover.wait_log(r"adopted with job job-00[01] attempt 1: waiting for it to reconnect", count=2)
    got = wait_all_done(port, ids)
    assert sorted(got) == sorted(ids)
    for i in ids:
        full = job(port, i)
        assert len(successes(full)) == 1, full
    for i in ids[:2]:  # the adopted workers kept them, reconnected, and finished them
        full = job(port, i)
        assert full["attempt"] == 1 and full["result"] == "slept", full
        assert not [h for h in full["history"] if h.get("error_code")], full
    assert "it is lost" not in drover.log()
    assert drover.stop() == 0


def test_a_torn_last_line_is_dropped_with_a_warning_and_the_rest_is_read(drover):
    drover.starts = 0
    port, dump = free_port(), drover.path("dump.json")
    d = Path(drover.path("jobs"))
    d.mkdir(mode=0o700)
    whole = {"seq": 1, "t": 1000, "op": "new", "id": "kept", "type": "w", "payload": "echo back",
             "max_attempts": 3, "state": "waiting", "attempt": 1, "cause": "submitted",
             "created": 1000, "hist_total": 1, "hist": [[1000, 1, 0, 0, 2, 0]]}
    good = json.dumps(whole, separators=(",", ":")) + "\n"
    torn = '{"seq":2,"t":1001,"op":"new","id":"torn","type":"w","payl'
    (d / "journal.1").write_text(good + torn)
    os.chmod(d / "journal.1", 0o600)
    start(drover, port, dump)
    drover.wait_log(r"warn .*job journal .*/journal\.1:2: the last line is torn \(\d+ bytes "
                    r"without its newline")
    j = wait_until(lambda: (j := job(port, "kept")) and j["state"] == "success" and j, 60,
                   what=lambda: f"job kept done: {job(port, 'kept')}")
    assert j["result"] == "back"
    assert job(port, "torn") is None
    assert (d / "journal.1").read_text().startswith(good)
    assert "torn" not in (d / "journal.1").read_text()
    assert drover.stop() == 0


def test_a_201_means_the_job_is_in_the_journal(drover):
    drover.starts = 0
    port, dump = free_port(), drover.path("dump.json")
    start(drover, port, dump, instances=1)
    for i in range(20):
        code, j = post(port, "/jobs", {"type": "w", "payload": f"echo {i}"})
        assert code == 201, j
        text = Path(drover.path("jobs"), "journal.1").read_text()
        assert f'"op":"new","id":"{j["id"]}"' in text, (i, j["id"])
    assert drover.stop() == 0


def test_the_journal_is_compacted_and_read_back_after_it(drover):
    drover.starts = 0
    port, dump = free_port(), drover.path("dump.json")
    start(drover, port, dump, instances=2, store={"max_finished": 20})
    pad = "x" * 2000
    for i in range(700):
        code, j = post(port, "/jobs", {"type": "w", "payload": f"echo {pad}", "id": f"c{i}"})
        assert code == 201, j
    drover.wait_log(r"job journal compacted: \d+ bytes in .*/jobs/journal\.2")
    wait_until(lambda: (j := job(port, "c699")) and j["state"] == "success", 60,
               what=lambda: f"the last job done: {job(port, 'c699')}")
    wait_until(lambda: not Path(drover.path("jobs"), "journal.1").exists(), 30,
               what="journal.1 removed after the compaction")
    kept = set(all_jobs(port))
    assert len(kept) == 20 and "c699" in kept, kept
    assert drover.stop() == 0
    start(drover, port, dump, instances=1, store={"max_finished": 20})
    assert set(all_jobs(port)) == kept  # the snapshot and what came after it
    assert drover.stop() == 0


def test_a_journal_directory_others_may_write_is_refused(drover):
    d = Path(drover.path("jobs"))
    d.mkdir()
    os.chmod(d, 0o777)
    cfg = {"programs": [{"name": "w", "command": [PY, WORKER], "jobs": {}}]}
    r = drover.run(cfg, args=["--dumpfile", drover.path("dump.json")])
    assert r.returncode == 1, r
    assert "job store: the job store's directory" in r.stderr and "not trusting it" in r.stderr, \
        r.stderr


@pytest.mark.parametrize("how", ["another owner", "group-writable", "a symbolic link"])
def test_a_journal_segment_drover_cannot_trust_is_refused_unread(drover, how):
    """A segment another user could have written is never read: a forged journal would hand
    jobs to workers (docs/SECURITY.md)."""
    d = Path(drover.path("jobs"))
    d.mkdir(mode=0o700)
    seg = d / "journal.1"
    if how == "a symbolic link":
        target = Path(drover.path("elsewhere"))
        target.write_text(new_line(1, "forged", "echo forged"))
        seg.symlink_to(target)
    else:
        seg.write_text(new_line(1, "forged", "echo forged"))
        os.chmod(seg, 0o600)
        if how == "another owner":
            os.chown(seg, 65534, 65534)  # nobody
        else:
            os.chmod(seg, 0o620)
    cfg = {"programs": [{"name": "w", "command": [PY, WORKER], "jobs": {}}]}
    r = drover.run(cfg, args=["--dumpfile", drover.path("dump.json")])
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "journal.1" in r.stderr and "forged" not in r.stderr, r.stderr


def line(obj):
    return json.dumps(obj, separators=(",", ":")) + "\n"


def new_line(seq, jid, payload):
    return line({"seq": seq, "t": 1000, "op": "new", "id": jid, "type": "w", "payload": payload,
                 "max_attempts": 3, "state": "waiting", "attempt": 1, "cause": "submitted",
                 "created": 1000, "hist_total": 1, "hist": [[1000, 1, 0, 0, 2, 0]]})


def test_a_whole_compaction_drover_died_before_renaming_is_kept_and_a_partial_one_dropped(drover):
    """drover died after writing a compaction's snapshot but before its rename: lines written
    after the snapshot are only in the .tmp, so a whole one is the journal; a partial one is
    not (the old segments hold everything)."""
    drover.starts = 0
    port, dump = free_port(), drover.path("dump.json")
    d = Path(drover.path("jobs"))
    d.mkdir(mode=0o700)
    (d / "journal.1").write_text(new_line(1, "old", "echo old"))
    (d / "journal.2.tmp").write_text(line({"seq": 2, "t": 1001, "op": "snapshot", "jobs": 1}) +
                                     new_line(3, "old", "echo old") + new_line(4, "after", "echo after"))
    for f in d.iterdir():
        os.chmod(f, 0o600)
    start(drover, port, dump)
    drover.wait_log(r"journal\.2\.tmp is a whole compaction drover died before renaming: it is "
                    r"journal\.2 now")
    for jid in ("old", "after"):
        wait_until(lambda: (j := job(port, jid)) and j["state"] == "success", 60,
                   what=lambda: f"job {jid} done: {job(port, jid)}")
    assert sorted(p.name for p in d.iterdir()) == ["journal.2"]
    assert drover.stop() == 0
    # A .tmp whose snapshot announces more lines than it holds never finished: dropped.
    (d / "journal.3.tmp").write_text(line({"seq": 90, "t": 1, "op": "snapshot", "jobs": 5}) +
                                     new_line(91, "partial", "echo p"))
    os.chmod(d / "journal.3.tmp", 0o600)
    start(drover, port, dump)
    drover.wait_log(r"removing .*/journal\.3\.tmp, a compaction that never finished")
    assert job(port, "partial") is None and job(port, "after")["state"] == "success"
    assert drover.stop() == 0


def test_a_second_drover_on_the_same_store_is_refused_before_it_touches_it(drover):
    drover.starts = 0
    port, dump = free_port(), drover.path("dump.json")
    store = {"dir": drover.path("shared-jobs")}
    start(drover, port, dump, store=store)
    journal = Path(store["dir"], "journal.1")
    code, j = post(port, "/jobs", {"type": "w", "payload": "echo one"})
    assert code == 201, j
    before = journal.read_bytes()
    cfg = {"programs": [{"name": "w", "command": [PY, WORKER], "jobs": {}}], "jobs": store}
    r = drover.run(cfg, args=["--dumpfile", drover.path("other.json"),
                              "--control", drover.path("other.sock")])
    assert r.returncode == 1, r
    assert "is in use by another drover" in r.stderr, r.stderr
    assert journal.read_bytes()[:len(before)] == before
    assert drover.stop() == 0

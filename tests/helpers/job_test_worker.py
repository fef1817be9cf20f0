#!/usr/bin/env python3
"""A job worker for tests/integration/test_jobs.py, on python/drover_worker.py.

The payload says what to do:
  echo TEXT        result TEXT
  fail             fail, no retry
  fail-retry       fail, retried by the program's backoff
  sleep S          every attempt: sleep S seconds (stops early when cancelled, and fails)
  sleep-first S    attempt 1: sleep S seconds (stops early when cancelled, and fails);
                   later attempts: result "ok attempt N"
  hang             never answer, ignore CANCEL (the timeout must stop the instance)
  where            result "PROGRAM:INSTANCE pid=PID"
  env NAME         result the job's env NAME (POST /jobs "env"), "" when absent
Each job's start is logged to stdout as "job ID attempt N start pid=PID".
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
import drover_worker  # noqa: E402


def sleep_then_done(job, seconds):
    """Sleeps, then answers "slept"; a CANCEL stops it early and fails the job."""
    end = time.monotonic() + seconds
    while time.monotonic() < end and not job.cancelled:
        time.sleep(0.01)
    if job.cancelled:
        job.fail("cancelled", retry=False)
    else:
        job.done("slept")


def main():
    w = drover_worker.Worker()
    for job in w.jobs():
        text = job.payload.decode(errors="replace")
        print(f"job {job.id} attempt {job.attempt} start pid={os.getpid()}", flush=True)
        verb, _, arg = text.partition(" ")
        if verb == "echo":
            job.done(arg)
        elif verb == "fail":
            job.fail("asked to fail", retry=False)
        elif verb == "fail-retry":
            job.fail("asked to fail, retry", retry=True)
        elif verb == "sleep":
            sleep_then_done(job, float(arg))
        elif verb == "sleep-first":
            if job.attempt > 1:
                job.done(f"ok attempt {job.attempt}")
                continue
            sleep_then_done(job, float(arg))
        elif verb == "hang":
            while True:
                time.sleep(1)
        elif verb == "env":
            job.done(job.env.get(arg, ""))
        elif verb == "where":
            job.done(f"{os.environ.get('DROVER_PROGRAM')}:{os.environ.get('DROVER_INSTANCE')} pid={os.getpid()}")
        else:
            job.fail(f"unknown payload {text!r}", retry=False)


if __name__ == "__main__":
    main()

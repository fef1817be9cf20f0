#!/usr/bin/env python3
"""job_worker.py: an example job worker on python/drover_worker.py (docs/jobs-worker.md),
the twin of examples/job_worker.c. It owns only its job loop; framing, credits, PING/PONG
and reconnecting are the library's.

The payload says what to do:
  fail       fail, no retry
  fail CODE  the same, with error code CODE
  sleep N    sleep N seconds, looking for CANCEL every 10 ms; then "slept N"
             (cancelled: fail "cancelled", no retry)
  crash      os.abort()
  other      the payload upper-cased
It exits 0 when drover drains it, 1 outside drover or when drover refuses it.
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import drover_worker  # noqa: E402


def run(job):
    text = job.payload
    if text == b"fail":
        job.fail("asked to fail", retry=False)
    elif text.startswith(b"fail "):
        job.fail("asked to fail", retry=False, code=text[5:].decode(errors="replace"))
    elif text == b"crash":
        os.abort()
    elif text.startswith(b"sleep "):
        arg = text[6:].decode(errors="replace")
        try:
            seconds = float(arg)
        except ValueError:
            job.fail("sleep: not a number of seconds", retry=False)
            return
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if job.cancelled:
                job.fail("cancelled", retry=False)
                return
            time.sleep(0.01)
        job.done(f"slept {arg}")
    else:
        job.done(text.upper())


def main():
    w = drover_worker.Worker()
    w.ready()
    try:
        for job in w.jobs():
            run(job)
    except RuntimeError as e:
        print(f"job_worker.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""queue_worker.py: the Python twin of examples/queue_worker.c.

Polls a queue (a directory: each file is a job), beats at every poll whether
or not work came, and can pretend to hang for tests (--stall-after N polls,
for --stall-ms MS, 0 for ever) while staying alive.
"""
import argparse
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from drover_worker import Worker  # noqa: E402


def poll_queue(directory):
    for name in sorted(os.listdir(directory)):
        if not name.startswith("."):
            try:
                os.unlink(os.path.join(directory, name))
                return True
            except FileNotFoundError:
                return False
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--queue", required=True)
    ap.add_argument("--poll-ms", type=int, default=50)
    ap.add_argument("--stall-after", type=int, default=-1)
    ap.add_argument("--stall-ms", type=int, default=0)
    args = ap.parse_args()
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    w = Worker()
    w.ready()
    w.status("polling")
    polls = 0
    while not stop:
        if polls == args.stall_after:
            w.status("stalled")
            if args.stall_ms == 0:
                while True:
                    time.sleep(1)
            time.sleep(args.stall_ms / 1000)
            w.status("polling")
        polls += 1
        if poll_queue(args.queue):
            w.task_done()
        w.beat()
        time.sleep(args.poll_ms / 1000)
    w.stopping()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A worker that speaks the job channel by hand, to send drover what a library never would
(tests/integration/test_jobs.py). argv[1]:
  garbage      HELLO, then a frame with an unknown verb
  wrong-token  HELLO with a token that is not this process's
  oversize     HELLO, WANT, then DONE with a body larger than DROVER_JOBS_MAX_PAYLOAD
  deaf         HELLO, WANT, then never answers (a PING gets no PONG)
  flood        HELLO, then 100 "WANT n=0" and one "WANT n=1" in one write; each JOB is
               answered DONE "flooded"
  stale        HELLO, WANT; a job's attempt 1: START, hang up, say HELLO again without it
               (drover gives it up), then send its DONE anyway ("late"); a later attempt:
               DONE "fresh"
Each line drover answers is printed as "raw got: LINE"; then it sleeps until stopped.
"""
import os
import socket
import sys
import time


def hello(token):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(os.environ["DROVER_JOBS_SOCKET"])
    s.sendall((f"HELLO v=1 program={os.environ['DROVER_PROGRAM']} "
               f"instance={os.environ['DROVER_INSTANCE']} token={token}\n").encode())
    f = s.makefile("rb")
    print("raw got:", f.readline().decode().strip(), flush=True)
    return s, f


def stale():
    token = os.environ["DROVER_JOBS_TOKEN"]
    s, f = hello(token)
    s.sendall(b"WANT n=1\n")
    while True:
        line = f.readline().decode()
        if not line:
            return
        print("raw got:", line.strip(), flush=True)
        if not line.startswith("JOB "):
            continue
        fields = dict(kv.split("=", 1) for kv in line.split()[1:])
        f.read(int(fields["len"]) + 1)
        jid, attempt = fields["id"], fields["attempt"]
        if attempt != "1":
            s.sendall(f"DONE id={jid} attempt={attempt} len=5\nfresh\n".encode())
            continue
        s.sendall(f"START id={jid} attempt=1\n".encode())
        s.close()
        s, f = hello(token)  # without running=: the job is given up
        s.sendall(f"DONE id={jid} attempt=1 len=4\nlate\n".encode())
        s.sendall(b"WANT n=1\n")


def flood():
    s, f = hello(os.environ["DROVER_JOBS_TOKEN"])
    s.sendall(b"WANT n=0\n" * 100 + b"WANT n=1\n")
    while True:
        line = f.readline().decode()
        if not line:
            return
        if line.startswith("JOB "):
            fields = dict(kv.split("=", 1) for kv in line.split()[1:])
            f.read(int(fields["len"]) + 1)
            s.sendall(f"DONE id={fields['id']} attempt={fields['attempt']} len=7\nflooded\n"
                      .encode() + b"WANT n=1\n")


def main():
    mode = sys.argv[1]
    if mode == "flood":
        flood()
        while True:
            time.sleep(1)
    if mode == "stale":
        stale()
        while True:
            time.sleep(1)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(os.environ["DROVER_JOBS_SOCKET"])
    token = os.environ["DROVER_JOBS_TOKEN"] if mode != "wrong-token" else "0" * 32
    hello = (f"HELLO v=1 program={os.environ['DROVER_PROGRAM']} "
             f"instance={os.environ['DROVER_INSTANCE']} token={token}\n")
    s.sendall(hello.encode())
    f = s.makefile("rb")
    if mode == "garbage":
        print("raw got:", f.readline().decode().strip(), flush=True)
        s.sendall(b"FROB x=1\n")
    elif mode == "deaf":
        print("raw got:", f.readline().decode().strip(), flush=True)
        s.sendall(b"WANT n=1\n")
    elif mode == "oversize":
        print("raw got:", f.readline().decode().strip(), flush=True)
        s.sendall(b"WANT n=1\n")
        line = f.readline().decode()
        print("raw got:", line.strip(), flush=True)
        fields = dict(kv.split("=", 1) for kv in line.split()[1:])
        size = int(os.environ["DROVER_JOBS_MAX_PAYLOAD"]) + 1
        f.read(int(fields["len"]) + 1)
        s.sendall(f"DONE id={fields['id']} attempt={fields['attempt']} len={size}\n".encode()
                  + b"x" * size + b"\n")
    while True:
        line = f.readline()
        if not line:
            print("raw got: EOF", flush=True)
            break
        print("raw got:", line.decode().strip(), flush=True)
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main()

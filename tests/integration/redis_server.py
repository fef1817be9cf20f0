"""A real redis-server for the tests of the Redis store: Debian's /usr/bin/redis-server in a
temp dir of its own, on a unix socket only (no TCP port), stopped by its pid (SIGTERM, then
SIGKILL if it lingers), killed -9 and started again on the same socket and dir for outage
tests (with appendonly yes and appendfsync always, what it acknowledged survives the kill).

The dir is a short one under /tmp, not the test's tmp_path: a unix socket path has at most
107 bytes. The fixtures `redis` (no persistence) and `redis_aof` (the AOF) always stop it."""
import os
import shutil
import signal
import subprocess
import tempfile

import pytest

from conftest import wait_until
from resp import Redis, RespError

REDIS_SERVER = "/usr/bin/redis-server"
needs_redis = pytest.mark.skipif(not os.access(REDIS_SERVER, os.X_OK),
                                 reason=f"{REDIS_SERVER} is missing (tools/deps.sh installs it)")

# A local redis-server answers its first PING within tens of milliseconds; loading an AOF of
# a few thousand commands takes about as long.
START_TIMEOUT = 20.0
STOP_TIMEOUT = 20.0


class RedisServer:
    def __init__(self, appendonly=False):
        self.dir = tempfile.mkdtemp(prefix="drover-redis-")
        self.sock = os.path.join(self.dir, "redis.sock")
        self.log_path = os.path.join(self.dir, "redis.log")
        self.appendonly = appendonly
        self.proc = None
        self.starts = 0

    @property
    def url(self):
        return "unix:" + self.sock

    def args(self):
        a = [REDIS_SERVER, "--port", "0", "--unixsocket", self.sock, "--unixsocketperm", "700",
             "--dir", self.dir, "--save", "", "--logfile", self.log_path, "--loglevel", "notice",
             "--daemonize", "no"]
        if self.appendonly:
            a += ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            a += ["--appendonly", "no"]
        return a

    def log(self):
        try:
            with open(self.log_path, errors="backslashreplace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def client(self, timeout=10.0):
        return Redis(self.sock, timeout=timeout)

    def answers(self):
        """True once the server answers PING with PONG (not -LOADING)."""
        try:
            with self.client(timeout=2.0) as r:
                return r.ping()
        except (OSError, RespError):
            return False

    def start(self):
        assert self.proc is None or self.proc.poll() is not None, "redis-server already running"
        if os.path.exists(self.sock):
            os.unlink(self.sock)  # a kill -9 leaves it behind
        self.proc = subprocess.Popen(self.args(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                     cwd=self.dir, start_new_session=True)
        self.starts += 1

        def up():
            if self.proc.poll() is not None:
                raise AssertionError(f"redis-server exited with {self.proc.returncode} at its "
                                     f"start; its log:\n{self.log()}")
            return self.answers()
        wait_until(up, START_TIMEOUT, interval=0.01,
                   what=lambda: f"redis-server answering PING on {self.sock}; its log:\n{self.log()}")
        return self

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM to its pid and wait; SIGKILL by pid if it has not exited by then."""
        if not self.running():
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT)

    def kill9(self):
        """kill -9 of the server, by its pid; waits until it is gone."""
        if self.running():
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT)

    def restart(self):
        """Starts it again on the same socket and dir (the AOF, when on, is read back)."""
        if self.running():
            self.stop()
        return self.start()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def redis():
    server = RedisServer(appendonly=False)
    try:
        yield server.start()
    finally:
        server.cleanup()


@pytest.fixture
def redis_aof():
    server = RedisServer(appendonly=True)
    try:
        yield server.start()
    finally:
        server.cleanup()

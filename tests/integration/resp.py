"""A tiny RESP2 client over a unix socket, for the tests of the Redis store (redis-py is not
installed here). Binary safe: arguments are bytes or str (or int), answers are bytes, int,
list or None, as the server sent them; an error reply raises RespError. Every read and
write is bounded by the socket's timeout, so a server that does not answer fails the test
with a TimeoutError saying which command, never a hang."""
import socket


class RespError(Exception):
    """The server answered -ERR... (or another error reply) to a command."""


class Redis:
    def __init__(self, path, timeout=10.0):
        self.path = path
        self.timeout = timeout
        self.sock = None
        self.sock_timeout = timeout
        self.buf = b""

    # --- the wire ----------------------------------------------------------------------------
    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        try:
            s.connect(self.path)
        except OSError:
            s.close()
            raise
        self.sock, self.buf = s, b""

    def close(self):
        if self.sock:
            self.sock.close()
        self.sock, self.buf = None, b""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @staticmethod
    def _arg(a):
        if isinstance(a, bytes):
            return a
        if isinstance(a, (bytearray, memoryview)):
            return bytes(a)
        if isinstance(a, str):
            return a.encode()
        if isinstance(a, (int, float)):
            return str(a).encode()
        raise TypeError(f"a Redis argument is bytes, str or a number, not {type(a).__name__}")

    @classmethod
    def pack(cls, *args):
        parts = [b"*%d\r\n" % len(args)]
        for a in args:
            b = cls._arg(a)
            parts.append(b"$%d\r\n%s\r\n" % (len(b), b))
        return b"".join(parts)

    def _fill(self, what):
        try:
            chunk = self.sock.recv(65536)
        except TimeoutError as e:
            self.close()  # the stream is out of step now
            raise TimeoutError(f"redis-server on {self.path} did not answer {what} within "
                               f"{self.sock_timeout} s") from e
        if not chunk:
            self.close()
            raise ConnectionError(f"redis-server on {self.path} closed the connection during {what}")
        self.buf += chunk

    def _line(self, what):
        while b"\r\n" not in self.buf:
            self._fill(what)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n, what):
        while len(self.buf) < n + 2:
            self._fill(what)
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def _reply(self, what):
        line = self._line(what)
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest
        if kind == b"-":
            return RespError(rest.decode(errors="backslashreplace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n, what)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply(what) for _ in range(n)]
        self.close()
        raise ConnectionError(f"redis-server on {self.path} sent {line[:80]!r}, not RESP2, to {what}")

    def cmd(self, *args, timeout=None):
        """One command; its answer. timeout: this command's bound (a blocking one's is longer)."""
        what = " ".join(self._arg(a)[:40].decode(errors="backslashreplace") for a in args[:2])
        if self.sock is None:
            self.connect()
        self.sock_timeout = timeout if timeout is not None else self.timeout
        self.sock.settimeout(self.sock_timeout)
        try:
            self.sock.sendall(self.pack(*args))
            reply = self._reply(what)
        except (OSError, ValueError):
            self.close()
            raise
        finally:
            if self.sock:
                self.sock.settimeout(self.timeout)
        if isinstance(reply, RespError):
            raise RespError(f"{what}: {reply}")
        return reply

    # --- conveniences ------------------------------------------------------------------------
    def ping(self):
        return self.cmd("PING") == b"PONG"

    def set(self, key, value):
        return self.cmd("SET", key, value)

    def get(self, key):
        return self.cmd("GET", key)

    def delete(self, *keys):
        return self.cmd("DEL", *keys)

    def exists(self, *keys):
        return self.cmd("EXISTS", *keys)

    def type(self, key):
        return self.cmd("TYPE", key).decode()

    def keys(self, pattern="*"):
        return [k.decode(errors="backslashreplace") for k in self.cmd("KEYS", pattern)]

    def hset(self, key, mapping):
        args = []
        for k, v in mapping.items():
            args += [k, v]
        return self.cmd("HSET", key, *args)

    def hget(self, key, field):
        return self.cmd("HGET", key, field)

    def hgetall(self, key):
        """{field (str): value (bytes)}; {} when the key is absent."""
        flat = self.cmd("HGETALL", key)
        return {flat[i].decode(errors="backslashreplace"): flat[i + 1] for i in range(0, len(flat), 2)}

    def lpush(self, key, *values):
        return self.cmd("LPUSH", key, *values)

    def rpush(self, key, *values):
        return self.cmd("RPUSH", key, *values)

    def llen(self, key):
        return self.cmd("LLEN", key)

    def lrange(self, key, start=0, stop=-1):
        return self.cmd("LRANGE", key, start, stop)

    def zrange(self, key, start=0, stop=-1):
        return self.cmd("ZRANGE", key, start, stop)

    def blpop(self, key, timeout_s):
        """(key, value) once key has a value, None if none came within timeout_s seconds."""
        got = self.cmd("BLPOP", key, timeout_s, timeout=timeout_s + self.timeout)
        return None if got is None else (got[0], got[1])

    def pipeline(self, commands):
        """Sends every command of a list at once, then reads their answers (errors as
        RespError objects in the list, not raised): 1000 submits in one round trip."""
        if self.sock is None:
            self.connect()
        self.sock_timeout = self.timeout
        self.sock.sendall(b"".join(self.pack(*c) for c in commands))
        return [self._reply(f"pipelined command {i + 1} of {len(commands)}")
                for i in range(len(commands))]

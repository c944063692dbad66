"""Starts a private redis-server for a test: on a free port or a Unix socket in a temp dir,
with no persistence, stopped (and its dir removed) at the end. Never a shared instance.

Faults for the Redis tests: pause() / resume() (SIGSTOP / SIGCONT), kill() (SIGKILL), and
start() again after kill() or stop(), which brings up an empty server on the same port and
socket path."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LUA_DIR = ROOT / "lua"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_binary():
    return shutil.which("redis-server") or "/usr/bin/redis-server"


class RedisServer:
    def __init__(self, port=None, unix=False, password=None, extra=()):
        self.dir = Path(tempfile.mkdtemp(prefix="rl-redis-"))
        self.port = 0 if unix else (port or free_port())
        self.socket_path = str(self.dir / "redis.sock") if unix else None
        self.password = password
        self.extra = list(extra)
        self.proc = None

    def start(self, timeout=10):
        args = [redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", str(self.dir),
                "--daemonize", "no", "--loglevel", "warning", "--protected-mode", "no"]
        if self.socket_path:
            args += ["--unixsocket", self.socket_path, "--unixsocketperm", "700"]
        if self.password:
            args += ["--requirepass", self.password]
        args += self.extra
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.command("PING") in ("PONG", b"PONG"):
                    return self
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError("redis-server exited: " + self.proc.stderr.read().decode())
            time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    @property
    def url(self):
        auth = f":{self.password}@" if self.password else ""
        if self.socket_path:
            return f"unix://{self.socket_path}?db=0" + (f"&password={self.password}"
                                                         if self.password else "")
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def connect(self):
        if self.socket_path:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(self.socket_path)
        else:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        s.settimeout(5)
        return s

    def command(self, *args, sock=None, db=0):
        """One command over RESP, with a fresh connection unless `sock` is given; a fresh
        connection authenticates with the server's password and selects `db`."""
        own = sock is None
        s = sock or self.connect()
        try:
            if own and self.password:
                _send(s, ["AUTH", self.password])
                _read(s.makefile("rb"))
            if own and db:
                _send(s, ["SELECT", db])
                _read(s.makefile("rb"))
            _send(s, list(args))
            return _read(s.makefile("rb"))
        finally:
            if own:
                s.close()

    def pause(self):
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def kill(self):
        """SIGKILL, as a crash: without persistence the data is gone; start() brings the
        server up again on the same port."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class RedisError(Exception):
    pass


def _send(sock, args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    sock.sendall(b"".join(out))


def _read(f):
    line = f.readline()
    if not line:
        raise OSError("connection closed")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        return RedisError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)[:-2]
        return data.decode(errors="replace")
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [_read(f) for _ in range(n)]
    raise OSError(f"bad RESP line {line!r}")


def script_source(name):
    """A script as rld embeds it: lua/prelude.lua, a newline, then lua/<name>.lua."""
    return (LUA_DIR / "prelude.lua").read_text() + "\n" + (LUA_DIR / f"{name}.lua").read_text()

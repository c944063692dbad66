"""Starts a private redis-server for a test: on a free port or a Unix socket in a temp dir,
with no persistence, stopped (and its dir removed) at the end. Never a shared instance.

Faults for the Redis tests: pause() / resume() (SIGSTOP / SIGCONT), kill() (SIGKILL), and
start() again after kill() or stop(), which brings up an empty server on the same port and
socket path. FaultProxy sits in front of one and answers chosen commands badly: an error reply
in Redis' place (LOADING), a reply cut mid-stream, half a reply and then silence."""
import collections
import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
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


# -- a misbehaving Redis ---------------------------------------------------------------------
class FaultProxy:
    """A RESP-aware TCP proxy on a free loopback port in front of a RedisServer, for the faults
    a real server cannot be made to show on demand. inject() picks commands by name; the next
    `count` of them (or all, with count=None) are answered badly:
      "error":  with the error reply `error` (e.g. "LOADING ..."), and not run: Redis gets a
                PING in the command's place, so replies keep their order;
      "cut":    with the first half of Redis' reply, then both sockets are closed;
      "stall":  with the first half of Redis' reply, then nothing more on that connection
                until the client closes it (or stop()).
    Connections that SUBSCRIBE are passed through untouched from then on. `accepted` counts
    the connections made to the proxy."""

    def __init__(self, target):
        self.target = target
        self.port = free_port()
        self.accepted = 0
        self._rules = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._sockets = []
        self._threads = []
        self._listener = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", self.port))
        self._listener.listen(64)
        self._listener.settimeout(0.1)
        self._spawn(self._accept)
        return self

    def inject(self, commands, mode, error=None, count=None):
        """Misbehaves on the next `count` commands named in `commands` (all when None)."""
        names = {c.upper().encode() for c in ([commands] if isinstance(commands, str)
                                              else commands)}
        with self._lock:
            self._rules.append({"names": names, "mode": mode, "error": error, "left": count})

    def clear(self):
        with self._lock:
            self._rules = []

    def stop(self):
        self._stopping.set()
        for s in list(self._sockets):
            _close_quietly(s)
        for t in self._threads:
            t.join(5)

    # -- internals -------------------------------------------------------------------------
    def _spawn(self, target, *args):
        t = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(t)
        t.start()

    def _accept(self):
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            self.accepted += 1
            try:
                upstream = self.target.connect()
            except OSError:
                _close_quietly(client)
                continue
            upstream.settimeout(None)
            client.settimeout(None)
            self._sockets += [client, upstream]
            link = {"pending": collections.deque(), "closed": threading.Event()}
            self._spawn(self._commands, client, upstream, link)
            self._spawn(self._replies, client, upstream, link)
        _close_quietly(self._listener)

    def _recv(self, sock):
        """What `sock` has, or b"" once the proxy stops or the socket is gone. A recv blocked on a
        socket that another thread closes is not always woken, so this waits in select instead."""
        while not self._stopping.is_set():
            try:
                ready, _, _ = select.select([sock], [], [], 0.1)
                if ready:
                    return sock.recv(65536)
            except (OSError, ValueError):  # ValueError: closed here (fd -1) meanwhile
                break
        return b""

    def _take(self, name):
        with self._lock:
            for rule in self._rules:
                if name in rule["names"] and rule["left"] != 0:
                    if rule["left"] is not None:
                        rule["left"] -= 1
                    return rule["mode"], rule["error"]
        return None

    def _commands(self, client, upstream, link):
        buf = b""
        try:
            while True:
                data = self._recv(client)
                if not data:
                    break
                buf += data
                while True:
                    end = _resp_end(buf, 0)
                    if end is None:
                        break
                    raw, buf = buf[:end], buf[end:]
                    name = raw.split(b"\r\n")[2].upper() if raw.startswith(b"*") else b""
                    action = ("raw", None) if name in (b"SUBSCRIBE", b"PSUBSCRIBE") \
                        else self._take(name) or ("pass", None)
                    link["pending"].append(action)
                    upstream.sendall(b"*1\r\n$4\r\nPING\r\n" if action[0] == "error" else raw)
        except OSError:
            pass
        link["closed"].set()
        _close_quietly(client)
        _close_quietly(upstream)

    def _replies(self, client, upstream, link):
        buf, raw_mode = b"", False
        try:
            while True:
                data = self._recv(upstream)
                if not data:
                    break
                if raw_mode:
                    client.sendall(data)
                    continue
                buf += data
                out = b""
                while link["pending"]:
                    end = _resp_end(buf, 0)
                    if end is None:
                        break
                    reply, buf = buf[:end], buf[end:]
                    mode, error = link["pending"].popleft()
                    if mode in ("pass", "raw"):
                        out += reply
                        raw_mode = raw_mode or mode == "raw"
                    elif mode == "error":
                        out += b"-" + error.encode() + b"\r\n"
                    else:  # cut or stall: half the reply, then close or go silent
                        client.sendall(out + reply[:max(1, len(reply) // 2)])
                        if mode == "stall":
                            while not (link["closed"].wait(0.1) or self._stopping.is_set()):
                                pass
                        raise OSError(mode)
                if raw_mode:
                    out, buf = out + buf, b""
                if out:
                    client.sendall(out)
        except OSError:
            pass
        _close_quietly(client)
        _close_quietly(upstream)


def _close_quietly(s):
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        s.close()
    except OSError:
        pass


def _resp_end(buf, pos):
    """The end of the RESP value that starts at `pos` in `buf`, or None if incomplete."""
    eol = buf.find(b"\r\n", pos)
    if eol < 0:
        return None
    kind, head = buf[pos:pos + 1], buf[pos + 1:eol]
    if kind in (b"+", b"-", b":"):
        return eol + 2
    if kind == b"$":
        n = int(head)
        end = eol + 2 + (n + 2 if n >= 0 else 0)
        return end if len(buf) >= end else None
    if kind == b"*":
        at = eol + 2
        for _ in range(max(0, int(head))):
            at = _resp_end(buf, at)
            if at is None:
                return None
        return at
    raise OSError(f"bad RESP at {buf[pos:pos + 20]!r}")

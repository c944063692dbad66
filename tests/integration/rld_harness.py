"""Starts a real rld for integration tests and talks to it over TCP and its Unix socket.

Each Rld gets its own temp dir (config, tier file, socket), binds 127.0.0.1:0 and learns the
port from rld's own `listening` log line, and is stopped with SIGTERM at the end of the test
(its exit code is checked). The binary comes from $RLD_BIN or build/apps/rld/rld.
"""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TIERS = ROOT / "config" / "rate_limits.json"
ADMIN_KEY = "test-admin-key-0123456789"


def rld_binary():
    return os.environ.get("RLD_BIN", str(ROOT / "build" / "apps" / "rld" / "rld"))


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=5):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-case name -> value (last one wins)
        self.body = body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"Response({self.status}, {self.headers}, {self.body[:200]!r})"


class Rld:
    def __init__(self, toml_extra="", tiers=None, admin_key=ADMIN_KEY, args=(), env=None,
                 log_level="info"):
        self.dir = Path(tempfile.mkdtemp(prefix="rld-test-"))
        self.socket_path = str(self.dir / "rld.sock")
        if tiers is None:
            tiers_path = DEFAULT_TIERS
        elif isinstance(tiers, (str, Path)) and Path(tiers).exists():
            tiers_path = Path(tiers)
        else:
            tiers_path = self.dir / "rate_limits.json"
            tiers_path.write_text(tiers if isinstance(tiers, str) else json.dumps(tiers))
        self.tiers_path = tiers_path
        self.config_path = self.dir / "rld.toml"
        self.config_path.write_text(
            "[server]\n"
            f'listen = ["127.0.0.1:0", "unix:{self.socket_path}"]\n'
            "[store]\n"
            f'tiers_file = "{tiers_path}"\n'
            "[security]\n"
            f'admin_key = "{admin_key}"\n'
            "[log]\n"
            f'level = "{log_level}"\n' + toml_extra)
        self.admin_key = admin_key
        self.args = list(args)
        self.env = dict(os.environ)
        for name in ("REDIS_HOST", "REDIS_PORT", "REDIS_DB", "REDIS_TIMEOUT",
                     "RATE_LIMITER_CONFIG_PATH", "LOG_LEVEL", "ADMIN_API_KEY"):
            self.env.pop(name, None)
        self.env.update(env or {})
        self.proc = None
        self.lines = []
        self.addresses = []
        self._ready = threading.Event()
        self._lock = threading.Lock()

    # -- lifecycle -----------------------------------------------------------------------
    def start(self, timeout=10):
        cmd = [rld_binary(), "--config", str(self.config_path)] + self.args
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=self.env, text=True)
        threading.Thread(target=self._read_stderr, daemon=True).start()
        if not self._ready.wait(timeout):
            self.kill()
            raise RuntimeError("rld did not become ready:\n" + "".join(self.lines))
        if self.proc.poll() is not None:
            raise RuntimeError("rld exited at start:\n" + "".join(self.lines))
        return self

    def _read_stderr(self):
        for line in self.proc.stderr:
            with self._lock:
                self.lines.append(line)
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") == "listening":
                self.addresses.append(event["address"])
            if event.get("event") in ("ready", "listen_failed", "config_invalid"):
                self._ready.set()
        self._ready.set()

    @property
    def port(self):
        for a in self.addresses:
            if a.startswith("127.0.0.1:"):
                return int(a.rsplit(":", 1)[1])
        raise RuntimeError("no TCP listener")

    def log_events(self, name=None):
        with self._lock:
            lines = list(self.lines)
        events = []
        for line in lines:
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if name is None or e.get("event") == name:
                events.append(e)
        return events

    def wait_for_event(self, name, timeout=5, count=1):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.log_events(name)) >= count:
                return self.log_events(name)
            time.sleep(0.02)
        raise AssertionError(f"no {name!r} event in:\n" + "".join(self.lines))

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=10):
        """SIGTERM and wait; returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def cleanup(self):
        """Removes the temp dir (config, tier file, socket) once the daemon has stopped."""
        shutil.rmtree(self.dir, ignore_errors=True)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    # -- requests ------------------------------------------------------------------------
    def connection(self, via="tcp", timeout=5):
        if via == "unix":
            return UnixHTTPConnection(self.socket_path, timeout=timeout)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, headers=None, body=None, via="tcp", conn=None):
        own = conn is None
        conn = conn or self.connection(via)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
                headers = dict(headers or {})
                headers.setdefault("Content-Type", "application/json")
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            data = r.read().decode()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
        finally:
            if own:
                conn.close()

    def get(self, path, key=None, headers=None, **kw):
        h = dict(headers or {})
        if key is not None:
            h["X-API-Key"] = key
        return self.request("GET", path, headers=h, **kw)

    def admin(self, method, path, body=None, **kw):
        return self.request(method, path, headers={"X-Admin-Key": self.admin_key}, body=body, **kw)

    def raw(self, data, via="tcp", read_timeout=2.0, shutdown=False):
        """Sends raw bytes, returns everything read until the server closes or the timeout."""
        if via == "unix":
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(self.socket_path)
        else:
            s = socket.create_connection(("127.0.0.1", self.port))
        s.settimeout(read_timeout)
        try:
            s.sendall(data)
            if shutdown:
                s.shutdown(socket.SHUT_WR)
            chunks = []
            while True:
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            s.close()

    def metrics(self):
        return self.get("/metrics").body

    def metric(self, name_with_labels):
        """The value of one sample, e.g. 'rl_decisions_total{tier="free",result="allowed"}'."""
        for line in self.metrics().splitlines():
            if line.startswith(name_with_labels + " "):
                return float(line.rsplit(" ", 1)[1])
        return None

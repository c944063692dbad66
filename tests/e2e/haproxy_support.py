"""Runs the shipped packaging/haproxy/haproxy.cfg — the file itself, never a copy — in front of
rld instances for the e2e tests, and the shipped packaging/haproxy/rld.toml settings for them.

Haproxy starts /usr/sbin/haproxy in the foreground (-db) with its own temp dir; the cfg takes
every address from the environment, so the frontend, the stats listener and the runtime API
socket go on free loopback ports and into the temp dir, and its three servers point at the rld
under test. start() returns once the frontend answers and every server has passed a /ready
check (not merely "not failed yet": HAProxy counts a server UP before its first check). The
runtime API (`show stat`) tells each server's state and last check. stop() ends it (exit 0
unless it had to be killed), cleanup() removes the temp dir. Also here: a bounded closed-loop
load through the frontend that records every answer, for the failover tests."""
import csv
import http.client
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import tomllib
from pathlib import Path

from redis_server import free_port
from rld_harness import Rld, stop_process, wait_until

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "packaging" / "haproxy" / "haproxy.cfg"
RLD_TOML = ROOT / "packaging" / "haproxy" / "rld.toml"
SERVERS = ("rld1", "rld2", "rld3")  # the cfg's server lines, in both backends
START_TIMEOUT = 10.0
# fall 2 at fastinter 250 ms after an inter of 1 s, on a busy machine: DOWN or UP well within.
STATE_TIMEOUT = 6.0


def haproxy_binary():
    return os.environ.get("HAPROXY_BIN", "/usr/sbin/haproxy")


def shipped_rld_toml():
    """packaging/haproxy/rld.toml as a dict."""
    with open(RLD_TOML, "rb") as f:
        return tomllib.load(f)


def shipped_settings():
    """Harness settings for an rld behind the shipped haproxy.cfg, exactly as the shipped
    rld.toml has them: its [http] and [security] sections (trusted proxies, client IP header,
    attempt limits), its store type and its failure policy. The Redis URL and deadline and the
    listeners (loopback port 0 and a temp socket) are the test's (redis_support.start_on_redis
    adds the first two)."""
    shipped = shipped_rld_toml()
    return {
        "http": dict(shipped["http"]),
        "security": dict(shipped["security"]),
        "store": {"type": shipped["store"]["type"]},
        "redis": {"on_failure": shipped["redis"]["on_failure"]},
    }


class ServerState:
    """One server line of `show stat`: status is UP, DOWN, "UP 1/2" (going down), MAINT...;
    check is the last check's status (L7OK, L7STS for a bad HTTP status, L4CON for a refused
    connection, INI before the first check) and code its HTTP status, if any."""

    def __init__(self, row):
        self.status = row["status"]
        self.check = row["check_status"].lstrip("* ")
        self.code = row["check_code"]
        self.row = row

    def __repr__(self):
        return f"{self.status} ({self.check} {self.code})".rstrip()


class Haproxy:
    """The shipped haproxy.cfg with `addresses` ("127.0.0.1:PORT", one per server line of the
    cfg) as its rld instances. Not started until start().

    It answers like an Rld (request, get, admin, connection): redis_support's spread() and
    concurrent_spread() take it as a target."""

    def __init__(self, addresses, admin_key=None):
        if len(addresses) != len(SERVERS):
            raise ValueError(f"the cfg has {len(SERVERS)} servers, got {len(addresses)}")
        self.dir = Path(tempfile.mkdtemp(prefix="rl-haproxy-"))
        self.socket_path = str(self.dir / "admin.sock")
        self.log_path = self.dir / "haproxy.log"
        self.port = free_port()
        self.stats_port = free_port()
        self.admin_key = admin_key
        self.env = dict(os.environ)
        self.env.update({
            "RL_HAPROXY_BIND": f"127.0.0.1:{self.port}",
            "RL_HAPROXY_STATS_BIND": f"127.0.0.1:{self.stats_port}",
            "RL_HAPROXY_SOCKET": self.socket_path,
            **{f"RL_RLD{i}": a for i, a in enumerate(addresses, 1)},
        })
        if os.geteuid() != 0:  # chroot and user need root; the test is the same without them
            self.env["RL_HAPROXY_NO_CHROOT"] = "1"
        else:
            self.env.pop("RL_HAPROXY_NO_CHROOT", None)
        self.proc = None
        self._log = None

    # -- lifecycle -----------------------------------------------------------------------
    def start(self, expect=None, timeout=START_TIMEOUT):
        """Starts HAProxy and waits until its frontend answers and the servers of backend
        `rld` are in the `expect`ed states ({name: "UP" or "DOWN"}; default every server UP),
        an UP one with a passed check."""
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen([haproxy_binary(), "-f", str(CONFIG), "-db"],
                                     stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=self.env)
        deadline = time.monotonic() + timeout
        if not wait_until(self._answers, timeout):
            raise RuntimeError("haproxy did not answer:\n" + self.log_text())
        self.wait_states(expect or {name: "UP" for name in SERVERS},
                         max(0.5, deadline - time.monotonic()))
        return self

    def _answers(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"haproxy exited with {self.proc.returncode}:\n"
                               + self.log_text())
        try:
            return self.get("/haproxy/health").status in (200, 503) and self.stat()
        except (OSError, http.client.HTTPException):
            return False

    def stop(self, timeout=5):
        """Stops HAProxy the graceful way (SIGUSR1: stop listening, let requests in flight
        finish, close idle connections), killing it after `timeout`. Returns its exit code:
        0 unless it had to be killed."""
        code = None if self.proc is None else stop_process(self.proc, signal.SIGUSR1, timeout)
        if self._log is not None:
            self._log.close()
            self._log = None
        return code

    def cleanup(self):
        """Removes the temp dir (log, runtime API socket) once HAProxy has stopped."""
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_text(self):
        try:
            return self.log_path.read_text()
        except OSError:
            return ""

    # -- the runtime API -----------------------------------------------------------------
    def command(self, line):
        """One runtime API command over the stats socket; its whole answer as text."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(3)
            s.connect(self.socket_path)
            s.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def stat(self):
        """`show stat` as {(proxy, server): row dict}."""
        text = self.command("show stat")
        lines = [line for line in text.splitlines() if line.strip()]
        if not lines or not lines[0].startswith("# "):
            return {}
        rows = csv.DictReader([lines[0][2:]] + lines[1:])
        return {(r["pxname"], r["svname"]): r for r in rows}

    def servers(self, backend="rld"):
        """{server name: ServerState} of `backend`."""
        return {sv: ServerState(row) for (px, sv), row in self.stat().items()
                if px == backend and sv not in ("FRONTEND", "BACKEND")}

    def wait_states(self, expect, timeout=STATE_TIMEOUT, backend="rld"):
        """Polls until every server named in `expect` has its state ("UP" with a passed
        check, or "DOWN"); returns the seconds it took, or fails with the states and log."""
        start = time.monotonic()

        def reached():
            got = self.servers(backend)
            return all(name in got and got[name].status == want
                       and (want != "UP" or got[name].check == "L7OK")
                       for name, want in expect.items())
        if wait_until(reached, timeout, interval=0.02):
            return time.monotonic() - start
        raise AssertionError(f"servers of {backend} not {expect} after {timeout} s: "
                             f"{self.servers(backend)}\n{self.log_text()}")

    # -- requests (the same helpers as an Rld: they need connection() and admin_key) ----
    def connection(self, via="tcp", timeout=5):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    request = Rld.request
    get = Rld.get
    admin = Rld.admin

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"


class Load:
    """A bounded closed-loop load through `target` (an Haproxy): `clients` threads, each on its
    own keep-alive connection, sending GET /test with `key` back to back, so at most `clients`
    requests are in flight at any time. Every answer is recorded as (sent at, answered at,
    status); a request that failed on the client's side as "error: <what>". Stops at stop()
    or after `max_seconds` by itself."""

    def __init__(self, target, key, clients=8, max_seconds=20):
        self.target, self.key, self.clients = target, key, clients
        self.max_seconds = max_seconds
        self.records, self._lock = [], threading.Lock()
        self._stop = threading.Event()
        self._threads = []

    def __enter__(self):
        self.started = time.monotonic()
        self._threads = [threading.Thread(target=self._client, daemon=True)
                         for _ in range(self.clients)]
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(10)
        assert not any(t.is_alive() for t in self._threads), "load clients did not stop"
        return self.records

    def _client(self):
        deadline = self.started + self.max_seconds
        conn = None
        while not self._stop.is_set() and time.monotonic() < deadline:
            if conn is None:
                conn = self.target.connection(timeout=5)
            sent = time.monotonic()
            try:
                conn.request("GET", "/test", headers={"X-API-Key": self.key})
                r = conn.getresponse()
                r.read()
                status = r.status
                if r.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as e:
                status = f"error: {type(e).__name__} {e}"
                conn.close()
                conn = None
            with self._lock:
                self.records.append((sent, time.monotonic(), status))
        if conn is not None:
            conn.close()

    def since(self, t0):
        """The records of requests sent at or after t0."""
        with self._lock:
            return [r for r in self.records if r[0] >= t0]

    def wait_for(self, n, timeout=10):
        """Waits until `n` answers have been recorded in all."""
        return wait_until(lambda: len(self.records) >= n, timeout, interval=0.01)

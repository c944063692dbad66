"""Starts a real rld for integration tests and talks to it over TCP and its Unix socket.

Each Rld gets its own temp dir (config, tier file, socket), binds 127.0.0.1:0 and learns the
port from rld's own `listening` log line, and is stopped with SIGTERM at the end of the test
(its exit code is checked by the `make_rld` fixtures in conftest.py). The binary comes from
$RLD_BIN or build/apps/rld/rld.

The rld.toml it writes is `settings` (any key of any section, as Python values) merged over the
harness defaults; `run_rld` runs the binary to completion instead (--version, --check-config,
refusals). Also here: the demo keys, a clean environment, JSON log lines, polling, raw sockets
and the Prometheus text parser, shared by every test module.

Everything rld writes and every error body received is also kept in the session's archive, and
every secret a daemon is given (admin key, tier-file keys, Redis password) registered, for the
end-of-session secret scan (session_log.py).
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import session_log

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TIERS = ROOT / "config" / "rate_limits.json"
ADMIN_KEY = "test-admin-key-0123456789"
# The API keys of config/rate_limits.json, by tier.
KEYS = {"free": "demo_free_key_123", "pro": "demo_pro_key_789",
        "enterprise": "demo_enterprise_key_abc"}
# The environment variables rld reads; removed from every child's environment unless given.
RLD_ENV_VARS = ("REDIS_HOST", "REDIS_PORT", "REDIS_DB", "REDIS_PASSWORD", "REDIS_TIMEOUT",
                "RATE_LIMITER_CONFIG_PATH", "LOG_LEVEL", "ADMIN_API_KEY")
# systemd's: a test run from a unit must not notify it or hand rld its sockets.
SYSTEMD_ENV_VARS = ("NOTIFY_SOCKET", "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES",
                    "WATCHDOG_USEC", "WATCHDOG_PID")
IO_TIMEOUT = 3.0
CLI_TIMEOUT = 15


def rld_binary():
    return os.environ.get("RLD_BIN", str(ROOT / "build" / "apps" / "rld" / "rld"))


# -- running the binary ----------------------------------------------------------------------
def clean_env(extra=None):
    """This process's environment without rld's variables, plus `extra`."""
    env = dict(os.environ)
    for name in RLD_ENV_VARS + SYSTEMD_ENV_VARS:
        env.pop(name, None)
    env.update(extra or {})
    return env


def run_rld(*args, env=None, cwd=None, timeout=CLI_TIMEOUT):
    """Runs rld to completion (for --version, --check-config, refusals) with a timeout."""
    register_secrets(args, env)
    p = subprocess.run([rld_binary(), *args], capture_output=True, text=True,
                       env=clean_env(env), cwd=cwd, timeout=timeout)
    session_log.keep("rld-runs", p.stdout, p.stderr)
    return p


def register_secrets(args=(), env=None):
    """The secrets on an rld command line or in its environment, for the session's scan."""
    args = [str(a) for a in args]
    for i, arg in enumerate(args):
        if arg == "--admin-key" and i + 1 < len(args):
            session_log.add_secret(args[i + 1], "an admin key given to rld")
        elif arg == "--redis" and i + 1 < len(args):
            session_log.add_url_password(args[i + 1], "a Redis password given to rld")
    for name in ("ADMIN_API_KEY", "REDIS_PASSWORD"):
        session_log.add_secret((env or {}).get(name), f"{name} given to rld")


def json_events(text, name=None):
    """The JSON objects among the lines of `text` (a string or a list of lines), optionally
    only those whose "event" is `name`; other lines are skipped."""
    lines = text.splitlines() if isinstance(text, str) else text
    events = []
    for line in lines:
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if isinstance(e, dict) and (name is None or e.get("event") == name):
            events.append(e)
    return events


def wait_until(predicate, timeout=5.0, interval=0.05):
    """Calls `predicate` until it returns something true or `timeout` has passed; returns its
    last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            return value
        time.sleep(interval)


# -- rld.toml ----------------------------------------------------------------------------------
def toml_value(value):
    """A Python value as a TOML literal: str, bool, int, float, or a list of those."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (str, Path)):
        return json.dumps(str(value))  # JSON's escapes are all valid in TOML basic strings
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML literal for {value!r}")


def toml_text(sections):
    """{"section": {"key": value}} as TOML text, sections and keys in the given order."""
    out = []
    for section, keys in sections.items():
        out.append(f"[{section}]\n")
        out += [f"{key} = {toml_value(value)}\n" for key, value in keys.items()]
    return "".join(out)


# -- raw sockets ---------------------------------------------------------------------------------
def connect(rld, via="tcp", timeout=IO_TIMEOUT):
    """A socket connected to rld's TCP listener or (via="unix") its Unix socket."""
    if via == "unix":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(rld.socket_path)
    else:
        s = socket.create_connection(("127.0.0.1", rld.port), timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.settimeout(timeout)
    return s


def read_until_closed(sock, timeout=IO_TIMEOUT):
    """Reads until the peer closes. Returns (data, closed): closed is False on timeout."""
    deadline = time.monotonic() + timeout
    chunks = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return b"".join(chunks), False
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return b"".join(chunks), False
        except (ConnectionResetError, BrokenPipeError):
            return b"".join(chunks), True
        if not chunk:
            return b"".join(chunks), True
        chunks.append(chunk)


# -- metrics -------------------------------------------------------------------------------------
def parse_metrics(text):
    """{(name, frozenset(labels.items())): value} for every sample line."""
    out = {}
    sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
    label = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = sample.match(line)
        assert m, f"malformed metrics line: {line!r}"
        labels = frozenset(label.findall(m.group(3) or ""))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def metric(samples, name, **labels):
    """One sample of parse_metrics' result, or None."""
    return samples.get((name, frozenset(labels.items())))


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


def exchange(conn, method, path, body=None, headers=None):
    """One request on an http.client connection; the answer as a Response."""
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    data = r.read().decode()
    session_log.keep_answer(r.status, data)
    return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)


def stop_process(proc, sig, timeout):
    """Sends `sig` (a server's graceful stop) and waits, killing the process after `timeout`.
    Returns its exit code."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


class Rld:
    """One rld with its own temp dir. Not started until start().

    settings: {"section": {"key": value}} merged over the defaults below, key by key (a test
        that sets server.listen replaces the default list); values are Python values (see
        toml_value). In server.listen, "{sock}" stands for this daemon's socket path.
        Defaults: server.listen = ["127.0.0.1:0", "unix:{sock}"], store.tiers_file,
        security.admin_key = admin_key, log.level = log_level.
    toml_extra: raw TOML appended as it is, for text a test edits later or sections the
        settings do not name (it must not repeat a section header the harness writes).
    tiers: None (the demo tier file), a path to an existing file, or the file's content
        (a JSON string or a dict) to write in the temp dir.
    write_config: False runs rld without --config and without an rld.toml (settings and
        toml_extra must then be empty); cwd is the directory it runs in.
    launcher: a command rld is run under (its arguments follow), e.g. systemd-socket-activate;
        popen: extra subprocess.Popen arguments (pass_fds, preexec_fn).
    """

    def __init__(self, settings=None, toml_extra="", tiers=None, admin_key=ADMIN_KEY, args=(),
                 env=None, log_level="info", write_config=True, cwd=None, launcher=(),
                 popen=None):
        if not write_config and (settings or toml_extra):
            raise ValueError("settings and toml_extra need write_config=True")
        repeated = [name for name in ["server", "store", "security", "log", *(settings or {})]
                    if re.search(rf"^\s*\[{re.escape(name)}\]", toml_extra, re.M)]
        if repeated:
            raise ValueError(f"toml_extra repeats the sections {repeated}: use settings")
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
        self.sections = {
            "server": {"listen": ["127.0.0.1:0", "unix:{sock}"]},
            "store": {"tiers_file": str(tiers_path)},
            "security": {"admin_key": admin_key},
            "log": {"level": log_level},
        }
        for section, keys in (settings or {}).items():
            self.sections.setdefault(section, {}).update(keys)
        server = self.sections["server"]
        if "listen" in server:
            server["listen"] = [a.replace("{sock}", self.socket_path) for a in server["listen"]]
        self.admin_key = self.sections["security"].get("admin_key")
        session_log.add_secret(self.admin_key, "an admin key given to rld")
        session_log.add_url_password(self.sections.get("redis", {}).get("url"),
                                     "a Redis password given to rld")
        session_log.add_tier_file_keys(tiers_path, "a key of a tier file given to rld")
        register_secrets(args, env)
        self.config_path = self.dir / "rld.toml" if write_config else None
        if write_config:
            self.config_path.write_text(toml_text(self.sections) + toml_extra)
        self.args = list(args)
        self.env = clean_env(env)
        self.cwd = cwd
        self.launcher = list(launcher)
        self.popen = dict(popen or {})
        self.proc = None
        self.lines = []
        self.addresses = []
        self._ready = threading.Event()
        self._lock = threading.Lock()

    # -- lifecycle -----------------------------------------------------------------------
    def start(self, timeout=10, failing=False):
        """Starts rld and waits for "ready"; failing=True: for a start expected to fail, returns at
        its "listen_failed" or "config_invalid" line, whether or not rld has exited yet."""
        cmd = self.launcher + [rld_binary()]
        if self.config_path is not None:
            cmd += ["--config", str(self.config_path)]
        self._archive = session_log.open_log("rld")
        self.proc = subprocess.Popen(cmd + self.args, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=self.env, text=True,
                                     cwd=self.cwd, **self.popen)
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        if not self._ready.wait(timeout):
            self.kill()
            raise RuntimeError("rld did not become ready:\n" + self.log_text())
        if not failing and self.proc.poll() is not None:
            raise RuntimeError("rld exited at start:\n" + self.log_text())
        return self

    def _read_stderr(self):
        try:
            self._read_lines()
        finally:
            self._archive.close()

    def _read_lines(self):
        for line in self.proc.stderr:
            self._archive.write(line)
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
        """The port of the first IPv4 TCP listener (127.0.0.1 or 0.0.0.0)."""
        for a in self.addresses:
            if a.startswith("127.0.0.1:") or a.startswith("0.0.0.0:"):
                return int(a.rsplit(":", 1)[1])
        raise RuntimeError("no IPv4 TCP listener")

    @property
    def port6(self):
        """The port of the first IPv6 TCP listener ([::1] or [::])."""
        for a in self.addresses:
            if a.startswith("[::1]:") or a.startswith("[::]:"):
                return int(a.rsplit(":", 1)[1])
        raise RuntimeError("no IPv6 TCP listener")

    def log_text(self):
        """Everything rld wrote to stderr so far."""
        with self._lock:
            return "".join(self.lines)

    def log_events(self, name=None):
        with self._lock:
            lines = list(self.lines)
        return json_events(lines, name)

    def wait_for_event(self, name, timeout=5, count=1):
        if wait_until(lambda: len(self.log_events(name)) >= count, timeout, interval=0.02):
            return self.log_events(name)
        raise AssertionError(f"no {name!r} event in:\n" + self.log_text())

    def signal(self, sig):
        self.proc.send_signal(sig)

    def pause(self):
        """SIGSTOP, and wait until every thread has stopped: the signal is delivered
        asynchronously, and a worker on the other core could still answer a request."""
        self.proc.send_signal(signal.SIGSTOP)
        tasks = Path(f"/proc/{self.proc.pid}/task")

        def stopped():
            states = []
            for task in tasks.iterdir():
                try:  # "pid (comm) S ...": the state follows the last ')'
                    states.append((task / "stat").read_text().rsplit(")", 1)[1].split()[0])
                except (OSError, IndexError):
                    continue
            return bool(states) and all(s in ("T", "t") for s in states)
        assert wait_until(stopped, 5, interval=0.01), "rld did not stop"

    def wait(self, timeout):
        """Waits for the daemon to exit and for its last log line to be read; returns the
        exit code. Reading rld.proc directly could miss lines still in the pipe."""
        code = self.proc.wait(timeout)
        self._reader.join(timeout)
        return code

    def stop(self, timeout=10):
        """SIGTERM and wait; returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def cleanup(self):
        """Removes the temp dir (config, tier file, socket) once the daemon has stopped."""
        # A test may have added keys to the tier file since the start (a reload).
        session_log.add_tier_file_keys(self.tiers_path, "a key of a tier file given to rld")
        shutil.rmtree(self.dir, ignore_errors=True)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    # -- requests ------------------------------------------------------------------------
    def connection(self, via="tcp", timeout=5, source=None):
        """via: "tcp" (127.0.0.1, from `source` when given, e.g. "127.0.0.2"), "tcp6" (::1)
        or "unix"."""
        if via == "unix":
            return UnixHTTPConnection(self.socket_path, timeout=timeout)
        if via == "tcp6":
            return http.client.HTTPConnection("::1", self.port6, timeout=timeout)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout,
                                          source_address=(source, 0) if source else None)

    def request(self, method, path, headers=None, body=None, via="tcp", conn=None, source=None):
        own = conn is None
        if conn is None:  # (HAProxy's helper shares this method; its connection() has no source)
            conn = self.connection(via, source=source) if source else self.connection(via)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
                headers = dict(headers or {})
                headers.setdefault("Content-Type", "application/json")
            return exchange(conn, method, path, body, headers)
        finally:
            if own:
                conn.close()

    def get(self, path, key=None, headers=None, **kw):
        h = dict(headers or {})
        if key is not None:
            h["X-API-Key"] = key
        return self.request("GET", path, headers=h, **kw)

    def admin(self, method, path, body=None, headers=None, **kw):
        h = {"X-Admin-Key": self.admin_key, **(headers or {})}
        return self.request(method, path, headers=h, body=body, **kw)

    def raw(self, data, via="tcp", read_timeout=2.0, shutdown=False):
        """Sends raw bytes, returns everything read until the server closes or the timeout."""
        s = connect(self, via, timeout=read_timeout)
        try:
            s.sendall(data)
            if shutdown:
                s.shutdown(socket.SHUT_WR)
            return read_until_closed(s, read_timeout)[0]
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

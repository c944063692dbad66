"""Running rlctl for test_rlctl.py: the binary ($RLCTL_BIN, else build/apps/rlctl/rlctl) in a
clean environment (none of the REDIS_* variables of the test runner's environment leak in),
with a timeout, its exit code, output and run time; reading back what it wrote (a snapshot of
a whole Redis database, the events published on rl:events); addresses where no Redis answers
(a closed port, a server that accepts but never replies); large data sets written straight
into Redis; and the human-output checks (aligned columns, no ANSI escape codes). Every run's
output goes to the session's archive, and each key `key create` prints is registered as a
secret (session_log.py) — its own stdout, which shows the key once by design, excepted."""
import hashlib
import json
import os
import re
import socket
import subprocess
import threading
import time
from pathlib import Path

import session_log
from redis_server import _read, _send
from redis_support import all_keys

ROOT = Path(__file__).resolve().parents[2]
DEMO_FILE = ROOT / "config" / "rate_limits.json"
# The variables rlctl reads for its Redis URL; removed from every run unless a test gives them.
RLCTL_ENV_VARS = ("REDIS_URL", "REDIS_HOST", "REDIS_PORT", "REDIS_DB", "REDIS_PASSWORD",
                  "REDIS_TIMEOUT")
TIMEOUT = 15
HINT = "Run 'rlctl --help' (or 'rlctl <command> --help')."
ANSI = re.compile(r"\x1b\[")
GENERATED_KEY = re.compile(r"rl_[0-9A-Za-z]{38}")


def rlctl_binary():
    return os.environ.get("RLCTL_BIN", str(ROOT / "build" / "apps" / "rlctl" / "rlctl"))


class Run:
    """One finished rlctl: code, out (stdout), err (stderr), seconds."""

    def __init__(self, args, code, out, err, seconds):
        self.args, self.code, self.out, self.err, self.seconds = args, code, out, err, seconds

    def json(self):
        """stdout as exactly one JSON document (json.loads refuses anything after it)."""
        return json.loads(self.out)

    @property
    def lines(self):
        return self.out.splitlines()

    def __repr__(self):
        return (f"rlctl {' '.join(self.args)} -> exit {self.code} in {self.seconds:.2f} s\n"
                f"stdout: {self.out!r}\nstderr: {self.err!r}")


def run(*args, url=None, env=None, stdin=None, timeout=TIMEOUT):
    """rlctl [--redis url] args..., in an environment without REDIS_* (plus `env`)."""
    argv = (["--redis", url] if url is not None else []) + [str(a) for a in args]
    environment = {k: v for k, v in os.environ.items() if k not in RLCTL_ENV_VARS}
    environment.update(env or {})
    start = time.monotonic()
    session_log.add_url_password(url, "a Redis password given to rlctl")
    session_log.add_secret(environment.get("REDIS_PASSWORD"), "REDIS_PASSWORD given to rlctl")
    p = subprocess.run([rlctl_binary(), *argv], capture_output=True, text=True, env=environment,
                       input=stdin if stdin is not None else "", timeout=timeout)
    issues_key = any(a == "key" and b == "create" for a, b in zip(argv, argv[1:]))
    if issues_key:
        for key in GENERATED_KEY.findall(p.stdout):
            session_log.add_secret(key, "a key issued by rlctl key create")
    session_log.keep("rlctl", "" if issues_key else p.stdout, p.stderr)
    return Run(argv, p.returncode, p.stdout, p.stderr, time.monotonic() - start)


class Ctl:
    """rlctl bound to one Redis URL: ctl("tier", "list"), ctl.ok(...) asserts exit 0."""

    def __init__(self, url):
        self.url = url

    def __call__(self, *args, **kw):
        return run(*args, url=self.url, **kw)

    def ok(self, *args, **kw):
        r = self(*args, **kw)
        assert r.code == 0, r
        assert r.err == "", r
        return r


# -- reading Redis back ----------------------------------------------------------------------
def snapshot(redis, db=0):
    """{key: (type, value)} of a whole database: strings as text, hashes as dicts, sets as
    sorted lists. TTLs are left out (they tick)."""
    out = {}
    for key in all_keys(redis, db=db):
        kind = redis.command("TYPE", key, db=db)
        if kind == "string":
            value = redis.command("GET", key, db=db)
        elif kind == "hash":
            flat = redis.command("HGETALL", key, db=db)
            value = dict(zip(flat[::2], flat[1::2]))
        elif kind == "set":
            value = sorted(redis.command("SMEMBERS", key, db=db))
        else:
            value = repr(redis.command("DUMP", key, db=db))
        out[key] = (kind, value)
    return out


def sha256_hex(text):
    return hashlib.sha256(text.encode()).hexdigest()


class Subscriber:
    """A SUBSCRIBE connection to `channel`, collecting messages in a thread."""

    def __init__(self, redis, channel="rl:events"):
        self.sock = redis.connect()
        self.file = self.sock.makefile("rb")
        if redis.password:
            _send(self.sock, ["AUTH", redis.password])
            _read(self.file)
        _send(self.sock, ["SUBSCRIBE", channel])
        reply = _read(self.file)
        assert reply[0] == "subscribe", reply
        self.messages = []
        self._lock = threading.Lock()
        self.sock.settimeout(None)
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self):
        try:
            while True:
                m = _read(self.file)
                if isinstance(m, list) and m and m[0] == "message":
                    with self._lock:
                        self.messages.append(m[2])
        except (OSError, ValueError):
            return

    def take(self, count, timeout=2.0):
        """Waits until `count` messages arrived; returns and forgets them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.messages) >= count:
                    break
            time.sleep(0.01)
        time.sleep(0.05)  # and nothing more comes
        with self._lock:
            got, self.messages = self.messages, []
        return got

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self._thread.join(2)


# -- large data sets -------------------------------------------------------------------------
# Users and blocks as DESIGN.md §5 lays them out, thousands in one EVAL (rlctl would take
# minutes to add them one by one). Standalone Redis only: the keys are not declared.
_BULK_USERS = """
local tier, count, now = ARGV[1], tonumber(ARGV[2]), ARGV[3]
for i = 1, count do
  local id = string.format('u%05d', i)
  redis.call('HSET', 'rl:user:' .. id, 'tier', tier, 'created_at', now, 'disabled', '0')
  redis.call('SADD', 'rl:users', id)
end
return count
"""
_BULK_BLOCKS = """
local count = tonumber(ARGV[1])
for i = 1, count do
  local client = string.format('10.%d.%d.%d', math.floor(i / 65536) % 256,
                               math.floor(i / 256) % 256, i % 256)
  redis.call('SET', 'rl:block:{' .. client .. '}', 'bulk', 'EX', 600)
end
return count
"""


def add_users_in_bulk(redis, tier, count):
    """Users u00001, u00002, ... of `tier` (which must exist); returns their ids."""
    now_ms = int(time.time() * 1000)
    assert redis.command("EVAL", _BULK_USERS, 0, tier, count, now_ms) == count
    return [f"u{i:05d}" for i in range(1, count + 1)]


def add_blocks_in_bulk(redis, count):
    """Blocks on 10.0.0.1, 10.0.0.2, ... for 10 minutes; returns the clients."""
    assert redis.command("EVAL", _BULK_BLOCKS, 0, count) == count
    return [f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}" for i in range(1, count + 1)]


# -- where no Redis answers --------------------------------------------------------------------
def closed_port():
    """A port on 127.0.0.1 with nothing listening (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SilentServer:
    """Listens on 127.0.0.1 and accepts, but never answers (a hung Redis)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self):
        try:
            while True:
                conn, _ = self.sock.accept()
                self.accepted.append(conn)
        except OSError:
            return

    def close(self):
        self.sock.close()
        for c in self.accepted:
            c.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


# -- human output --------------------------------------------------------------------------
def column_starts(line):
    """Where each cell of an aligned table line starts: at the line's start or after two
    spaces (cells themselves contain at most single spaces)."""
    return [m.start() for m in re.finditer(r"(?:^|(?<=  ))\S", line)]


def assert_table(text, header):
    """`text` is a table whose first line is `header` (the column names) and whose every
    line has its cells starting exactly under the header's names; no ANSI escapes."""
    assert not ANSI.search(text), repr(text)
    lines = text.splitlines()
    assert lines and lines[0].split() == header, text
    starts = column_starts(lines[0])
    assert len(starts) == len(header), text
    for line in lines[1:]:
        assert column_starts(line) == starts, f"misaligned line {line!r} in\n{text}"
        assert line == line.rstrip(), f"trailing blanks in {line!r}"
    return table_rows(text)


def table_rows(text):
    """The cells of each line after the header (split on runs of two or more spaces)."""
    return [re.split(r" {2,}", line) for line in text.splitlines()[1:]]


def wait_for(predicate, timeout, interval=0.05):
    """(seconds until predicate() was true, its value) or (None, last value)."""
    start = time.monotonic()
    while True:
        value = predicate()
        if value:
            return time.monotonic() - start, value
        if time.monotonic() - start > timeout:
            return None, value
        time.sleep(interval)

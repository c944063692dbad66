"""Runs the shipped packaging/nginx/rld.conf and its snippets — the files themselves, never a
hand-written copy — in front of a test application, with the rld under test behind them, for the
e2e tests; and the shipped packaging/nginx/rld.toml settings for that rld.

Nginx copies rld.conf into its own temp dir with exactly three lines replaced (rld's socket, the
application's address, the listen address: each must occur once in the shipped file, so a
change there fails here rather than being silently ignored), copies snippets/ unchanged, and
runs /usr/sbin/nginx in the foreground (daemon off) with a main nginx.conf of its own that keeps
every path (pid, logs, temp dirs) in the temp dir and includes rld.conf in http {}, as a
Debian host does. fail_open=True uncomments the one line rld-auth.conf documents for failing
open. stop() shuts it down gracefully (SIGQUIT; exit 0 unless it had to be killed), cleanup()
removes the temp dir.

App is the protected application: an HTTP/1.1 server on a free loopback port that answers
every method with 200 and a JSON body naming itself and what it received, and records every
request it saw (method, target, headers, body), so a test can tell exactly which requests got
through nginx."""
import grp
import http.client
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from redis_server import free_port
from rld_harness import exchange, stop_process, wait_until

ROOT = Path(__file__).resolve().parents[2]
NGINX_DIR = ROOT / "packaging" / "nginx"
SITE = NGINX_DIR / "rld.conf"
SNIPPETS = NGINX_DIR / "snippets"
RLD_TOML = NGINX_DIR / "rld.toml"
# The host-specific lines of the shipped rld.conf, and the fail-open line of rld-auth.conf.
SHIPPED_RLD = "server unix:/run/rld/rld.sock;"
SHIPPED_APP = "server 127.0.0.1:3000;"
SHIPPED_LISTEN = "listen 8080;"
FAIL_OPEN_LINE = "# error_page 502 504 = @rl_allow;"
APP_NAME = "rl-test-app"
START_TIMEOUT = 10.0
IO_TIMEOUT = 10.0


def nginx_binary():
    return os.environ.get("NGINX_BIN", "/usr/sbin/nginx")


def shipped_rld_toml():
    """packaging/nginx/rld.toml as a dict."""
    with open(RLD_TOML, "rb") as f:
        return tomllib.load(f)


def shipped_settings():
    """Harness settings for an rld behind the shipped nginx config, exactly as the shipped
    rld.toml has them: its [http] and [security] sections and its store type. The listeners
    (loopback port 0 for the test's admin calls, and a temp socket for nginx) are the
    harness's."""
    shipped = shipped_rld_toml()
    return {
        "http": dict(shipped["http"]),
        "security": dict(shipped["security"]),
        "store": {"type": shipped["store"]["type"]},
    }


def replace_once(text, old, new, where):
    """`text` with `old` replaced by `new`; `old` must occur exactly once."""
    count = text.count(old)
    if count != 1:
        raise AssertionError(f"{where}: expected {old!r} once, found it {count} times")
    return text.replace(old, new)


# -- the protected application -----------------------------------------------------------------
class Seen:
    """One request the application received."""

    def __init__(self, method, target, headers, body):
        self.method, self.target, self.body = method, target, body
        self.headers = headers  # lower-case name -> value (last one wins)

    @property
    def path(self):
        return self.target.split("?", 1)[0]

    def __repr__(self):
        return f"Seen({self.method} {self.target}, {len(self.body)} bytes)"


class _AppHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    app = None  # the App, set on a subclass per server

    def __getattr__(self, name):
        # Every method, standard or not, is answered the same way ("do_" + method).
        if name.startswith("do_"):
            return self._answer
        raise AttributeError(name)

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.app._record(Seen(self.command, self.path, headers, body))
        out = json.dumps({"app": APP_NAME, "method": self.command, "target": self.path,
                          "body": body.decode(errors="replace")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.send_header("X-App-Method", self.command)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)

    def log_message(self, *args):
        pass


class App:
    """The application behind nginx, on 127.0.0.1 and a free port, in a thread."""

    def __init__(self):
        handler = type("Handler", (_AppHandler,), {"app": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._seen, self._lock = [], threading.Lock()
        self._thread = None

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def start(self):
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._thread is not None:
            self.server.shutdown()
            self._thread.join(10)
        self.server.server_close()

    def _record(self, seen):
        with self._lock:
            self._seen.append(seen)

    @property
    def seen(self):
        """Every request received so far, in order."""
        with self._lock:
            return list(self._seen)


# -- nginx -------------------------------------------------------------------------------------
class SourceHTTPConnection(http.client.HTTPConnection):
    """An HTTPConnection from a chosen loopback source address (127.0.0.2, ...): each stands
    for another client, as nginx's $remote_addr tells them apart."""

    def __init__(self, host, port, source=None, timeout=IO_TIMEOUT):
        super().__init__(host, port, timeout=timeout,
                         source_address=(source, 0) if source else None)


class Nginx:
    """The shipped nginx config in front of `app_address`, asking the rld on `rld_socket`.
    Not started until start()."""

    def __init__(self, rld_socket, app_address, fail_open=False):
        self.dir = Path(tempfile.mkdtemp(prefix="rl-nginx-"))
        self.port = free_port()
        self.error_log = self.dir / "error.log"
        site = SITE.read_text()
        site = replace_once(site, SHIPPED_RLD, f"server unix:{rld_socket};", SITE.name)
        site = replace_once(site, SHIPPED_APP, f"server {app_address};", SITE.name)
        site = replace_once(site, SHIPPED_LISTEN, f"listen 127.0.0.1:{self.port};", SITE.name)
        (self.dir / "rld.conf").write_text(site)
        shutil.copytree(SNIPPETS, self.dir / "snippets")
        if fail_open:
            auth = self.dir / "snippets" / "rld-auth.conf"
            auth.write_text(replace_once(auth.read_text(), FAIL_OPEN_LINE,
                                         FAIL_OPEN_LINE.lstrip("# "), auth.name))
        (self.dir / "nginx.conf").write_text(self._main_conf())
        self.proc = None
        self._out = None

    def _main_conf(self):
        d = self.dir
        # As root, nginx's workers would run as "nobody", which cannot reach rld's socket in
        # the harness's private temp dir: run them as this user (what adding www-data to
        # rld's group does on a real host).
        user = ""
        if os.geteuid() == 0:
            user = (f"user {pwd.getpwuid(os.geteuid()).pw_name} "
                    f"{grp.getgrgid(os.getegid()).gr_name};\n")
        temp = "".join(f"    {kind}_temp_path {d / kind};\n"
                       for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        return (f"{user}daemon off;\nworker_processes 1;\npid {d / 'nginx.pid'};\n"
                f"error_log {self.error_log} notice;\n"
                "events {\n    worker_connections 512;\n}\n"
                "http {\n"
                f"    access_log {d / 'access.log'};\n{temp}"
                "    include rld.conf;\n"
                "}\n")

    # -- lifecycle -----------------------------------------------------------------------
    def start(self, timeout=START_TIMEOUT):
        """Checks the config (nginx -t) and starts nginx; returns once it accepts
        connections."""
        cmd = [nginx_binary(), "-p", f"{self.dir}/", "-c", str(self.dir / "nginx.conf"),
               "-e", str(self.error_log)]
        check = subprocess.run(cmd + ["-t"], capture_output=True, text=True, timeout=timeout)
        if check.returncode != 0:
            raise RuntimeError(f"nginx -t failed:\n{check.stdout}{check.stderr}")
        self._out = open(self.dir / "stderr.log", "w")
        self.proc = subprocess.Popen(cmd, stdout=self._out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        if not wait_until(self._accepts, timeout, interval=0.02):
            raise RuntimeError("nginx did not start:\n" + self.log_text())
        return self

    def _accepts(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"nginx exited with {self.proc.returncode}:\n" + self.log_text())
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def stop(self, timeout=10):
        """Graceful shutdown (SIGQUIT), killing nginx after `timeout`. Returns its exit code:
        0 unless it had to be killed."""
        code = None if self.proc is None else stop_process(self.proc, signal.SIGQUIT, timeout)
        if self._out is not None:
            self._out.close()
            self._out = None
        return code

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_text(self):
        """nginx's error log and whatever it wrote to stderr."""
        parts = []
        for path in (self.error_log, self.dir / "stderr.log"):
            try:
                parts.append(path.read_text())
            except OSError:
                pass
        return "".join(parts)

    # -- requests --------------------------------------------------------------------------
    def connection(self, source=None):
        """A keep-alive connection to nginx from `source` (default 127.0.0.1)."""
        return SourceHTTPConnection("127.0.0.1", self.port, source=source)

    def request(self, method, path, key=None, headers=None, body=None, source=None, conn=None):
        """One request through nginx; `key` goes in X-API-Key. Returns a Response (headers
        by lower-case name)."""
        h = dict(headers or {})
        if key is not None:
            h["X-API-Key"] = key
        own = conn is None
        conn = conn or self.connection(source)
        try:
            return exchange(conn, method, path, body, h)
        finally:
            if own:
                conn.close()

    def get(self, path, key=None, **kw):
        return self.request("GET", path, key=key, **kw)

    def timed(self, *args, **kw):
        """request(), and the seconds it took."""
        start = time.monotonic()
        r = self.request(*args, **kw)
        return r, time.monotonic() - start

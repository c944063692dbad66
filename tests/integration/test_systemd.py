"""rld under systemd: sd_notify messages to a fake NOTIFY_SOCKET (READY, RELOADING, STOPPING,
WATCHDOG) and socket activation (LISTEN_FDS), both the way systemd does it: sockets passed as
descriptors 3, 4, ... with LISTEN_PID naming rld's own pid, and through systemd's own
systemd-socket-activate, which starts rld on the first connection."""
import os
import signal
import socket
import subprocess
import threading
import time

from helpers_decisions import statuses
from rld_harness import KEYS, UnixHTTPConnection, wait_until

FREE = KEYS["free"]


class NotifySocket:
    """A datagram socket standing in for systemd's notification socket."""

    def __init__(self, directory):
        self.path = os.path.join(directory, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages = []
        self._lock = threading.Lock()
        self._open = True
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self):
        while self._open:
            try:
                data = self.sock.recv(4096)
            except (socket.timeout, OSError):
                continue
            with self._lock:
                self.messages.append(dict(line.split("=", 1)
                                          for line in data.decode().splitlines() if line))

    def received(self, key=None):
        with self._lock:
            return [m for m in self.messages if key is None or key in m]

    def wait_for(self, key, count=1, timeout=5):
        assert wait_until(lambda: len(self.received(key)) >= count, timeout, interval=0.02), \
            f"no {count} x {key} in {self.received()}"
        return self.received(key)

    def close(self):
        self._open = False
        self._thread.join(1)
        self.sock.close()


def notified_rld(make_rld, tmp_path, env=None, **kwargs):
    notify = NotifySocket(str(tmp_path))
    rld = make_rld(env={"NOTIFY_SOCKET": notify.path, **(env or {})}, **kwargs)
    return rld, notify


def test_ready_is_sent_once_rld_serves(make_rld, tmp_path):
    rld, notify = notified_rld(make_rld, tmp_path)
    ready = notify.wait_for("READY")
    assert ready[0]["READY"] == "1"
    assert ready[0]["STATUS"].startswith("serving 2 listeners with"), ready
    assert "memory store" in ready[0]["STATUS"] and "not ready" not in ready[0]["STATUS"]
    assert rld.get("/test", key=FREE).status == 200
    notify.close()


def test_reload_is_bracketed_by_reloading_and_ready(make_rld, tmp_path):
    rld, notify = notified_rld(make_rld, tmp_path)
    notify.wait_for("READY")
    rld.signal(signal.SIGHUP)
    rld.wait_for_event("config_reloaded")
    reloading = notify.wait_for("RELOADING")
    assert reloading[0]["RELOADING"] == "1" and int(reloading[0]["MONOTONIC_USEC"]) > 0
    ready = notify.wait_for("READY", count=2)
    assert ready[1]["STATUS"].endswith("configuration reloaded"), ready
    order = [next(iter(m)) for m in notify.received() if "WATCHDOG" not in m]
    assert order == ["READY", "RELOADING", "READY"], notify.received()
    notify.close()


def test_a_failed_reload_still_ends_with_ready_and_says_why(make_rld, tmp_path):
    rld, notify = notified_rld(make_rld, tmp_path)
    notify.wait_for("READY")
    rld.config_path.write_text(rld.config_path.read_text() + "\n[http]\nmax_url_bytes = -1\n")
    rld.signal(signal.SIGHUP)
    rld.wait_for_event("reload_failed")
    ready = notify.wait_for("READY", count=2)
    assert "reload failed, running configuration kept" in ready[1]["STATUS"], ready
    assert "max_url_bytes" in ready[1]["STATUS"], ready
    assert rld.get("/test", key=FREE).status == 200
    notify.close()


def test_stopping_is_sent_when_the_drain_starts(make_rld, tmp_path):
    rld, notify = notified_rld(make_rld, tmp_path)
    notify.wait_for("READY")
    assert rld.stop() == 0
    stopping = notify.wait_for("STOPPING")
    assert stopping[0]["STOPPING"] == "1"
    assert [next(iter(m)) for m in notify.received()] == ["READY", "STOPPING"]
    notify.close()


def test_watchdog_is_pinged_at_half_the_interval(make_rld, tmp_path):
    rld, notify = notified_rld(make_rld, tmp_path, env={"WATCHDOG_USEC": "200000"})
    started = rld.wait_for_event("watchdog_enabled")
    assert started[0]["interval_ms"] == 100
    notify.wait_for("WATCHDOG", count=5)  # every 100 ms while the worker loops turn
    assert all(m == {"WATCHDOG": "1"} for m in notify.received("WATCHDOG"))
    notify.close()


def test_watchdog_meant_for_another_process_is_ignored(make_rld, tmp_path):
    rld, notify = notified_rld(make_rld, tmp_path,
                               env={"WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1"})
    notify.wait_for("READY")
    time.sleep(0.5)
    assert notify.received("WATCHDOG") == []
    assert rld.log_events("watchdog_enabled") == []
    notify.close()


def test_without_a_store_ready_comes_after_the_wait_and_says_the_policy_answers(
        make_rld, tmp_path):
    # Nothing listens on this port: the Redis store cannot come up.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.monotonic()
    rld, notify = notified_rld(make_rld, tmp_path, settings={
        "store": {"type": "redis"}, "redis": {"url": f"redis://127.0.0.1:{port}/0"}})
    ready = notify.wait_for("READY", timeout=10)
    assert time.monotonic() - t0 >= 4.5  # ServiceNotifier::kReadyWait is 5 s
    assert "store not ready" in ready[0]["STATUS"] and "failure policy" in ready[0]["STATUS"]
    assert rld.wait_for_event("ready_without_store")
    assert rld.get("/test", key=FREE).status == 200  # redis.on_failure = "local"
    notify.close()


def test_without_notify_socket_nothing_is_sent_and_rld_serves(rld):
    assert rld.get("/test", key=FREE).status == 200
    assert rld.log_events("watchdog_enabled") == []


# ----------------------------------------------------------------------- socket activation --
def listening_pair(directory):
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(16)
    unix = socket.socket(socket.AF_UNIX)
    path = os.path.join(directory, "activated.sock")
    unix.bind(path)
    unix.listen(16)
    return tcp, unix, path


def as_systemd_passes(*socks):
    """Popen arguments that hand `socks` over as descriptors 3, 4, ... (SD_LISTEN_FDS_START)."""
    fds = [s.fileno() for s in socks]
    first = 3 + len(fds)

    def move_to_listen_fds():
        # Two steps, so that a socket already at 3 or 4 is not overwritten before it is moved.
        for i, fd in enumerate(fds):
            os.dup2(fd, first + i)
        for i in range(len(fds)):
            os.dup2(first + i, 3 + i)
            os.close(first + i)

    return {"pass_fds": tuple(range(3, 3 + len(fds))), "preexec_fn": move_to_listen_fds}


# LISTEN_PID must be rld's own pid: a shell learns its pid and execs rld in its place.
SET_LISTEN_PID = ["/bin/sh", "-c", 'LISTEN_PID=$$ exec "$@"', "sh"]


def test_inherited_sockets_replace_the_configured_listeners(make_rld, tmp_path):
    tcp, unix, path = listening_pair(str(tmp_path))
    port = tcp.getsockname()[1]
    rld = make_rld(settings={"server": {"listen": ["127.0.0.1:0"]}},
                   env={"LISTEN_FDS": "2", "LISTEN_FDNAMES": "tcp:unix"},
                   launcher=SET_LISTEN_PID, popen=as_systemd_passes(tcp, unix))
    tcp.close()
    unix.close()  # rld holds them now
    listening = rld.log_events("listening")
    assert [(e["address"], e["source"]) for e in listening] == [
        (f"127.0.0.1:{port}", "systemd"), (f"unix:{path}", "systemd")]
    assert statuses(rld, FREE, 21)[-2:] == [200, 429]  # TCP, both workers
    conn = UnixHTTPConnection(path)
    conn.request("GET", "/test", headers={"X-API-Key": KEYS["pro"]})
    assert conn.getresponse().status == 200
    conn.close()
    assert rld.stop() == 0
    assert os.path.exists(path), "the socket file belongs to systemd: rld must not unlink it"


def test_an_inherited_descriptor_that_is_not_a_listening_socket_fails_the_start(
        make_rld, tmp_path):
    tcp = socket.socket()  # bound but not listening
    tcp.bind(("127.0.0.1", 0))
    rld = make_rld(start=False, env={"LISTEN_FDS": "1"}, launcher=SET_LISTEN_PID,
                   popen=as_systemd_passes(tcp))
    rld.start(failing=True)
    assert rld.wait(5) == 1
    rld.proc = None  # the refusal is the expected outcome, not an unclean stop
    failed = rld.log_events("listen_failed")
    assert failed and "inherited descriptor 3: not a listening stream socket" in failed[0]["error"]
    tcp.close()


def test_systemd_socket_activate_starts_rld_on_the_first_connection(make_rld, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path = os.path.join(str(tmp_path), "activated.sock")
    rld = make_rld(start=False, settings={"server": {"listen": ["127.0.0.1:0"]}},
                   launcher=["systemd-socket-activate", "-l", f"127.0.0.1:{port}", "-l", path])
    answers = []

    def first_client():  # connects before rld exists: systemd-socket-activate holds the socket
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                conn = socket.create_connection(("127.0.0.1", port), timeout=10)
                break
            except OSError:
                time.sleep(0.02)
        conn.sendall(f"GET /test HTTP/1.1\r\nHost: a\r\nX-API-Key: {FREE}\r\n"
                     "Connection: close\r\n\r\n".encode())
        answers.append(conn.makefile("rb").readline())
        conn.close()

    client = threading.Thread(target=first_client)
    client.start()
    rld.start()
    client.join(10)
    assert answers == [b"HTTP/1.1 200 OK\r\n"]
    assert [e["address"] for e in rld.log_events("listening")] == [
        f"127.0.0.1:{port}", f"unix:{path}"]
    assert rld.get("/test", key=FREE).status == 200

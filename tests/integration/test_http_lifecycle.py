"""Connection and process lifecycle of rld: header/request/idle timeouts, half-closed clients,
abrupt resets leaking nothing, running out of file descriptors, SIGTERM drain, SIGHUP reload
(good and bad files), the connection cap, the Unix socket file (mode, stale file, second
instance), /health and /ready."""
import json
import os
import resource
import signal
import socket
import stat
import struct
import time
from pathlib import Path

import pytest

from raw_http import (HEALTH_BODY, HEX32, ResponseReader, assert_error, exchange, fd_count,
                      is_closed, parse_all, request_bytes)
from rld_harness import (DEFAULT_TIERS, KEYS, connect, json_events, metric, parse_metrics,
                         read_until_closed, run_rld, wait_until)

FREE, PRO = KEYS["free"], KEYS["pro"]


# -- /health and /ready -------------------------------------------------------------------------
@pytest.mark.parametrize("via", ["tcp", "unix"])
def test_health_and_ready(rld, via):
    for path, body in (("/health", HEALTH_BODY), ("/ready", '{"status":"ready"}')):
        r = rld.get(path, via=via)
        assert (r.status, r.body) == (200, body), r
        assert r.headers["content-type"] == "application/json"
        assert HEX32.match(r.headers["x-request-id"])
        assert "x-ratelimit-limit" not in r.headers


# -- timeouts -----------------------------------------------------------------------------------
TIMEOUTS = {"header_timeout_ms": 300, "request_timeout_ms": 600, "idle_timeout_ms": 800}
SWEEP = 0.25  # rld checks timeouts every 250 ms


@pytest.fixture(scope="module")
def timed(make_module_rld):
    return make_module_rld(settings={"http": TIMEOUTS})


def assert_timed_out(resps, closed):
    assert len(resps) == 1, resps
    r = resps[0]
    assert_error(r, 408, "request_timeout")
    assert r.header("Connection") == "close", r
    assert closed


@pytest.mark.parametrize("via", ["tcp", "unix"])
def test_half_a_request_line_gets_408_at_the_header_timeout(timed, via):
    before = timed.metric("rl_http_timeouts_total")
    resps, closed, secs = exchange(timed, b"GET /hea", via)
    assert_timed_out(resps, closed)
    assert 0.3 <= secs < 0.3 + SWEEP + 0.45, secs
    assert timed.metric("rl_http_timeouts_total") == before + 1


def test_headers_trickled_byte_by_byte_still_time_out(timed):
    """Slowloris: activity does not extend the header deadline, which runs from the first byte."""
    resps, closed, secs = exchange(
        timed, b"GET /health HTTP/1.1\r\n", trickle=b"X-Slow: " + b"s" * 40)
    assert_timed_out(resps, closed)
    assert 0.3 <= secs < 0.3 + SWEEP + 0.45, secs


def test_slow_body_gets_408_at_the_request_timeout(timed):
    head = request_bytes("POST", "/v1/decide", [("Content-Length", "40")])
    resps, closed, secs = exchange(timed, head + b"{", trickle=b'"api_key"')
    assert_timed_out(resps, closed)
    assert 0.6 <= secs < 0.6 + SWEEP + 0.45, secs


def test_idle_keep_alive_connection_is_closed_at_the_idle_timeout(timed):
    s = connect(timed)
    reader = ResponseReader(s)
    # Activity keeps it open: four requests 0.5 s apart span 1.5 s > idle_timeout.
    for _ in range(4):
        s.sendall(request_bytes("GET", "/health"))
        assert reader.read().body == HEALTH_BODY
        time.sleep(0.5)
    t0 = time.monotonic() - 0.5
    assert is_closed(s, timeout=3)  # closed without a 408: it was not mid-request
    secs = time.monotonic() - t0
    s.close()
    assert 0.8 <= secs < 0.8 + SWEEP + 0.5, secs


@pytest.mark.parametrize("via", ["tcp", "unix"])
def test_silent_client_is_closed_at_the_idle_timeout(timed, via):
    s = connect(timed, via)
    t0 = time.monotonic()
    assert is_closed(s, timeout=3)
    secs = time.monotonic() - t0
    s.close()
    assert 0.8 <= secs < 0.8 + SWEEP + 0.5, secs


def test_a_slow_client_does_not_block_others(timed):
    slow = connect(timed)
    slow.sendall(b"GET /health HTTP/1.1\r\nHost:")
    t0 = time.monotonic()
    assert timed.get("/health").status == 200
    assert time.monotonic() - t0 < 0.2  # not held up until the slow client's 408
    for _ in range(20):
        assert timed.get("/health").status == 200
    assert time.monotonic() - t0 < 1.0
    slow.close()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_client_that_never_reads_is_bounded_and_closed(timed):
    """Pipelined requests from a client that reads nothing: rld stops reading it once its
    answers pile up (no unbounded buffering), keeps serving others, and drops it once its
    writes have been stuck for idle_timeout."""
    pid = timed.proc.pid
    assert wait_until(lambda: timed.metric("rl_http_connections_open") == 1)
    rss_before = rss_kib(pid)
    hog = connect(timed)
    hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    batch = request_bytes("GET", "/health") * 100
    hog.setblocking(False)
    # Send until the socket stays full for 50 ms: rld has stopped reading. Not for longer: once
    # the request it stopped reading half-way passes header_timeout_ms, rld answers 408 and
    # discards whatever else comes during its close linger (an ASan run once got there while
    # this loop still ran, and its 64 MiB were read and thrown away).
    sent, t0, full_since = 0, time.monotonic(), None
    while sent < 64 * 1024 * 1024 and time.monotonic() - t0 < 0.5:
        try:
            sent += hog.send(batch)
            full_since = None
        except BlockingIOError:
            full_since = full_since or time.monotonic()
            if time.monotonic() - full_since >= 0.05:
                break
            time.sleep(0.005)
        except OSError:
            break
    assert full_since is not None, f"rld kept reading: {sent} bytes of requests in 0.5 s"
    assert sent < 64 * 1024 * 1024, "rld read 64 MiB of requests whose answers nobody read"
    assert timed.get("/health").status == 200  # others are still served
    assert rss_kib(pid) - rss_before < 32 * 1024, (rss_before, rss_kib(pid))
    # Dropped once stuck: the request rld stopped reading half-way times out (300 ms), and the
    # 408 that cannot be written is abandoned after the close linger (2 s) + idle_timeout.
    assert wait_until(lambda: timed.metric("rl_http_connections_open") == 1, timeout=6)
    hog.close()


def test_pipelined_answers_beyond_the_output_budget_wait_and_none_is_lost(rld):
    """One 64 KB write of pipelined /metrics asks for ~8 MB of answers: rld buffers at most a
    bounded amount (256 KiB per connection), parses the rest only as the client reads, and in
    the end every request is answered, in order."""
    n = 64 * 1024 // len(request_bytes("GET", "/metrics"))
    hog = connect(rld)
    try:
        hog.sendall(request_bytes("GET", "/metrics") * n)
        time.sleep(0.3)  # rld answers what its budget allows, then waits for the client to read
        # Budget (256 KiB) plus at most the one answer that crossed it.
        assert rld.metric("rl_http_buffered_bytes") < 256 * 1024 + 16 * 1024
        t0 = time.monotonic()
        assert rld.get("/health").status == 200
        assert time.monotonic() - t0 < 0.5  # the hog holds no one up
        reader = ResponseReader(hog)
        statuses = [reader.read().status for _ in range(n)]
        assert statuses == [200] * n
    finally:
        hog.close()


def test_sigterm_does_not_wait_for_a_client_that_never_reads(rld):
    """Pipelined requests not yet started are not served once draining, and a client that
    does not read its last answer is closed after the linger, not after idle_timeout."""
    hog = connect(rld)
    try:
        hog.sendall(request_bytes("GET", "/metrics") * 1500)
        time.sleep(0.3)
        t0 = time.monotonic()
        assert rld.stop() == 0
        assert time.monotonic() - t0 < 5.0  # linger (2 s) plus a sweep, not 60 s
    finally:
        hog.close()


# -- half close ---------------------------------------------------------------------------------
@pytest.mark.parametrize("via", ["tcp", "unix"])
def test_half_closed_client_still_gets_every_answer(rld, via):
    data = (request_bytes("GET", "/health", [("X-Request-ID", "h1")]) +
            request_bytes("GET", "/test", [("X-API-Key", FREE), ("X-Request-ID", "h2")]))
    resps, closed, secs = exchange(rld, data, via=via, shutdown=True, timeout=3)
    assert [(r.status, r.header("X-Request-ID")) for r in resps] == [(200, "h1"), (200, "h2")]
    assert resps[1].json()["user"] == "demo_free_user"
    assert closed and secs < 1.0, secs  # closed once answered, not at a timeout


def test_half_closed_mid_request_is_closed_without_answer(rld):
    resps, closed, secs = exchange(rld, b"GET /health HTTP/1.1\r\nHost: a\r\n", shutdown=True)
    assert resps == [] and closed and secs < 1.0


# -- abrupt resets ------------------------------------------------------------------------------
def rst_close(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def open_connections(rld):
    """The open-connection gauge, seen from one fresh scrape (which counts itself)."""
    return rld.metric("rl_http_connections_open")


def every_worker_has_served(rld):
    """True once each worker has answered a request: libuv opens a spare descriptor per loop at
    its first connection, which is not a leak and must not count as one."""
    samples = parse_metrics(rld.metrics())
    served = [v for (name, _), v in samples.items() if name == "rl_http_worker_requests_total"]
    return len(served) >= 2 and all(v > 0 for v in served)


def test_a_thousand_abrupt_resets_leak_nothing(rld):
    pid = rld.proc.pid
    assert wait_until(lambda: every_worker_has_served(rld), timeout=5)
    assert wait_until(lambda: open_connections(rld) == 1)
    time.sleep(0.1)  # let rld finish closing the scrape's connection
    fds_before = fd_count(pid)
    accepted_before = rld.metric("rl_http_connections_total")
    partial = b"GET /test HTTP/1.1\r\nHost: a\r\nX-API-Key: demo_fr"
    full = request_bytes("GET", "/test", [("X-API-Key", PRO)])
    for i in range(1000):
        s = socket.create_connection(("127.0.0.1", rld.port), timeout=3)
        if i % 4 == 1:
            s.sendall(partial)
        elif i % 4 == 2:
            s.sendall(full)  # reset before reading the answer
        elif i % 4 == 3:
            s.sendall(request_bytes("POST", "/v1/decide", [("Content-Length", "500")]) + b"{")
        rst_close(s)
    # And 200 at once, over both listeners.
    held = [connect(rld, "unix" if i % 2 else "tcp") for i in range(200)]
    for s in held:
        s.sendall(partial)
    for s in held:
        rst_close(s)
    assert rld.get("/health").status == 200
    assert rld.get("/test", key=FREE).status == 200
    assert wait_until(lambda: open_connections(rld) == 1), open_connections(rld)
    assert wait_until(lambda: fd_count(pid) == fds_before), (fd_count(pid), fds_before)
    assert rld.metric("rl_http_connections_total") - accepted_before >= 1200
    assert rld.proc.poll() is None


# -- out of file descriptors -------------------------------------------------------------------
FD_LIMIT = 64  # rld needs about 25 of them before its first client


def cpu_seconds(pid):
    """User plus system CPU time of a process so far (/proc/<pid>/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def low_fd_limit():
    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))


def test_running_out_of_descriptors_pauses_accepting_without_spinning(make_rld):
    """`ulimit -n` exhausted: rld stops accepting (one log line per worker), burns no CPU while
    clients wait in the backlog, and serves again once connections close."""
    rld = make_rld(settings={"server": {"workers": 2}}, popen={"preexec_fn": low_fd_limit})
    pid = rld.proc.pid
    scrape = connect(rld)  # opened first: the one way to ask rld anything once it cannot accept
    reader = ResponseReader(scrape)

    def metrics():
        scrape.sendall(request_bytes("GET", "/metrics"))
        return parse_metrics(reader.read().body)

    assert metric(metrics(), "rl_http_accept_paused_total") == 0  # (and scrape is accepted)
    held = []
    try:
        for _ in range(FD_LIMIT + 30):  # the kernel completes these handshakes into the backlog
            held.append(socket.create_connection(("127.0.0.1", rld.port), timeout=3))
        assert wait_until(lambda: rld.log_events("accept_paused")), rld.log_text()[-3000:]
        time.sleep(0.3)  # both workers have met the limit by now, if both will
        cpu_before = cpu_seconds(pid)
        time.sleep(3)
        cpu_used = cpu_seconds(pid) - cpu_before
        assert cpu_used < 0.5, f"{cpu_used:.2f} s of CPU in 3 s while out of descriptors"
        m = metrics()
        assert metric(m, "rl_http_connections_open") < len(held)  # the rest wait
        paused = rld.log_events("accept_paused")
        assert 1 <= len(paused) <= 2, paused  # once per worker, not per retry (4 a second)
        assert metric(m, "rl_http_accept_paused_total") == len(paused)
        assert paused[0]["error"] == "Too many open files" and paused[0]["level"] == "warn", paused
        assert rld.log_events("accept_failed") == []
        # A client waiting in the backlog sends its request now; it is answered later.
        waiting = held.pop()
        waiting.sendall(request_bytes("GET", "/health", [("X-Request-ID", "waited")]))
    finally:
        for s in held:
            s.close()
    r = ResponseReader(waiting).read(timeout=5)
    assert (r.status, r.header("X-Request-ID")) == (200, "waited"), r
    waiting.close()
    assert wait_until(lambda: health_over_new_connection(rld), timeout=5)
    assert rld.wait_for_event("accept_resumed")
    assert len(rld.log_events("accept_paused")) == len(paused)
    scrape.close()


def soft_limit_of(pid):
    """The soft `Max open files` of a running process, from /proc/<pid>/limits."""
    line = next(l for l in Path(f"/proc/{pid}/limits").read_text().splitlines()
                if l.startswith("Max open files"))
    return int(line.split()[3])


def test_the_descriptor_limit_is_raised_to_the_hard_limit_and_a_shortfall_reported(make_rld):
    """Soft 64, hard 3000, max_connections 10000 (the default): rld raises its soft limit to the
    hard one and warns at start that 3000 is short of what it may need."""
    rld = make_rld(settings={"server": {"workers": 2}},
                   popen={"preexec_fn": lambda: resource.setrlimit(resource.RLIMIT_NOFILE,
                                                                   (FD_LIMIT, 3000))})
    assert soft_limit_of(rld.proc.pid) == 3000
    raised = rld.log_events("descriptor_limit_raised")
    assert [(e["from"], e["to"]) for e in raised] == [(FD_LIMIT, 3000)]
    low = rld.log_events("descriptor_limit_low")
    wanted = 10000 + 64 + 2 * (2 + 8)  # clients + own descriptors + per worker: Redis links + 8
    assert [(e["level"], e["limit"], e["wanted"], e["max_connections"]) for e in low] == \
        [("warn", 3000, wanted, 10000)]
    assert "LimitNOFILE" in low[0]["hint"]


def test_a_descriptor_limit_that_fits_max_connections_is_raised_without_a_warning(make_rld):
    rld = make_rld(settings={"server": {"workers": 2, "max_connections": 100}},
                   popen={"preexec_fn": lambda: resource.setrlimit(resource.RLIMIT_NOFILE,
                                                                   (FD_LIMIT, 3000))})
    wanted = 100 + 64 + 2 * (2 + 8)
    assert soft_limit_of(rld.proc.pid) == wanted
    assert [(e["from"], e["to"]) for e in rld.log_events("descriptor_limit_raised")] == \
        [(FD_LIMIT, wanted)]
    assert rld.log_events("descriptor_limit_low") == []


# -- SIGTERM drain -----------------------------------------------------------------------------
def refused(rld, via):
    try:
        s = connect(rld, via, timeout=1)
    except (ConnectionRefusedError, FileNotFoundError):
        return True
    s.close()
    return False


@pytest.mark.parametrize("via", ["tcp", "unix"])
def test_sigterm_drains_in_flight_request_and_exits_0(rld, via):
    idle = connect(rld, via)
    idle_reader = ResponseReader(idle)
    idle.sendall(request_bytes("GET", "/health"))
    assert idle_reader.read().status == 200
    busy = connect(rld, via)
    busy.sendall(b"GET /test HTTP/1.1\r\nHost: a\r\nX-API-Key: demo_free_key_123\r\n")
    time.sleep(0.05)  # headers not finished

    rld.signal(signal.SIGTERM)
    event = rld.wait_for_event("shutdown")[0]
    assert event["connections"] == 2
    # The idle keep-alive connection is closed at once, with nothing sent.
    t0 = time.monotonic()
    assert is_closed(idle, timeout=2)
    assert time.monotonic() - t0 < 0.5
    idle.close()
    # No new connections, on either listener; the socket file is gone.
    assert wait_until(lambda: refused(rld, "tcp"), timeout=2)
    assert wait_until(lambda: refused(rld, "unix"), timeout=2)
    assert not os.path.exists(rld.socket_path)
    assert rld.proc.poll() is None  # still waiting for the in-flight request

    busy.sendall(b"X-Request-ID: drain-1\r\n\r\n")
    reader = ResponseReader(busy)
    r = reader.read()
    assert (r.status, r.header("X-Request-ID"), r.header("Connection")) == \
        (200, "drain-1", "close"), r
    assert r.json()["user"] == "demo_free_user"
    assert r.header("X-RateLimit-Remaining") == "19"
    rest, closed = reader.rest(timeout=2)
    busy.close()
    assert (rest, closed) == (b"", True)
    assert rld.wait(5) == 0
    assert rld.log_events("stopped")
    assert not rld.log_events("drain_timeout")


def test_ready_answers_503_while_draining(rld):
    """/ready is observable during the drain on a connection that was already open."""
    busy = connect(rld)
    busy.sendall(b"GET /ready HTTP/1.1\r\nHost: a\r\n")
    time.sleep(0.05)
    rld.signal(signal.SIGTERM)
    rld.wait_for_event("shutdown")
    busy.sendall(b"X-Request-ID: drain-2\r\n\r\n")
    raw, closed = read_until_closed(busy, 2)
    busy.close()
    assert closed
    assert rld.wait(5) == 0
    assert raw.startswith(b"HTTP/1.1 503 Service Unavailable\r\n"), raw
    resps = parse_all(raw)
    assert len(resps) == 1, resps
    r = resps[0]
    assert (r.header("X-Request-ID"), r.header("Connection")) == ("drain-2", "close"), r
    assert r.header("Retry-After") == "1"
    assert r.json() == {"status": "not_ready", "reason": "draining"}


def test_sigterm_with_only_idle_connections_exits_at_once(rld):
    conns = [connect(rld, via) for via in ("tcp", "unix", "tcp")]
    for s in conns:
        s.sendall(request_bytes("GET", "/health"))
        assert ResponseReader(s).read().status == 200
    t0 = time.monotonic()
    rld.signal(signal.SIGTERM)
    assert rld.wait(3) == 0
    assert time.monotonic() - t0 < 1.0
    for s in conns:
        assert is_closed(s, timeout=1)
        s.close()


def test_sigterm_drain_timeout_closes_a_stuck_request(make_rld):
    rld = make_rld(settings={"server": {"drain_timeout_ms": 500}})
    stuck = connect(rld)
    stuck.sendall(b"GET /health HTTP/1.1\r\nHost: a\r\n")
    time.sleep(0.05)
    t0 = time.monotonic()
    rld.signal(signal.SIGTERM)
    assert rld.wait(5) == 0
    secs = time.monotonic() - t0
    assert 0.45 <= secs < 1.5, secs
    assert rld.log_events("drain_timeout")
    data, closed = read_until_closed(stuck, 1)
    stuck.close()
    assert closed and data == b""


# -- SIGHUP reload ------------------------------------------------------------------------------
def demo_tiers():
    return json.loads(DEFAULT_TIERS.read_text())


def burst(rld, key, n):
    s = connect(rld)
    reader = ResponseReader(s)
    out = []
    for _ in range(n):
        s.sendall(request_bytes("GET", "/test", [("X-API-Key", key)]))
        r = reader.read()
        out.append((r.status, r.header("X-RateLimit-Limit")))
    s.close()
    return out


def reload(rld, expect):
    count = len(rld.log_events(expect))
    rld.signal(signal.SIGHUP)
    return rld.wait_for_event(expect, count=count + 1)[-1]


def test_sighup_applies_a_changed_tier_file(make_rld):
    tiers = demo_tiers()
    rld = make_rld(tiers=tiers)
    tiers["tiers"]["free"].update(base_limit=5, burst_limit=5)
    tiers["tiers"]["pro"].update(base_limit=3, burst_limit=3, degraded_limit=3)
    rld.tiers_path.write_text(json.dumps(tiers))
    event = reload(rld, "config_reloaded")
    assert (event["tiers"], event["users"], event["keys"]) == (3, 3, 3)
    assert burst(rld, FREE, 6) == [(200, "5")] * 5 + [(429, "5")]
    assert burst(rld, PRO, 4) == [(200, "3")] * 3 + [(429, "3")]
    assert rld.metric('rl_config_reloads_total{result="success"}') == 1
    assert rld.metric('rl_config_reloads_total{result="failure"}') == 0


def test_sighup_adds_a_user_and_key_from_the_tier_file(make_rld):
    tiers = demo_tiers()
    rld = make_rld(tiers=tiers)
    assert rld.get("/test", key="new_user_key_456").status == 401
    tiers["users"]["new_user"] = "pro"
    tiers["api_keys"]["new_user_key_456"] = "new_user"
    rld.tiers_path.write_text(json.dumps(tiers))
    reload(rld, "config_reloaded")
    r = rld.get("/test", key="new_user_key_456")
    assert r.status == 200, r
    assert (r.json()["user"], r.json()["tier"]) == ("new_user", "pro")


@pytest.mark.parametrize("broken,mentions", [
    ("{ not json", "invalid JSON"),
    ("DEGRADED", "degraded_limit"),
    ("UNKNOWN_TIER", "users.demo_free_user"),
])
def test_sighup_with_a_broken_tier_file_keeps_the_running_one(make_rld, broken, mentions):
    tiers = demo_tiers()
    rld = make_rld(tiers=tiers)
    if broken == "DEGRADED":
        tiers["tiers"]["free"]["burst_limit"] = 5
        tiers["tiers"]["free"]["degraded_limit"] = 6
        text = json.dumps(tiers)
    elif broken == "UNKNOWN_TIER":
        tiers["users"]["demo_free_user"] = "platinum"
        text = json.dumps(tiers)
    else:
        text = broken
    rld.tiers_path.write_text(text)
    event = reload(rld, "reload_failed")
    assert str(rld.tiers_path) in event["error"], event
    assert mentions in event["error"], event
    assert event["kept"] == "running configuration"
    assert rld.metric('rl_config_reloads_total{result="failure"}') == 1
    assert rld.metric('rl_config_reloads_total{result="success"}') == 0
    assert not rld.log_events("config_reloaded")
    # The old limits still apply, to every tier.
    assert burst(rld, FREE, 21) == [(200, "20")] * 20 + [(429, "20")]
    assert burst(rld, PRO, 4) == [(200, "150")] * 4
    # A fixed file is taken by the next SIGHUP.
    good = demo_tiers()
    good["tiers"]["pro"].update(base_limit=6, burst_limit=6, degraded_limit=6)
    rld.tiers_path.write_text(json.dumps(good))
    reload(rld, "config_reloaded")
    assert burst(rld, PRO, 3) == [(200, "6")] * 2 + [(429, "6")]  # 4 already used


@pytest.mark.parametrize("toml,mentions", [
    ("[http\nmax_headers = 10\n", "invalid TOML"),
    ("[http]\nmax_headers = 1\n", "http.max_headers"),
    ("[http]\nno_such_key = 1\n", "no_such_key"),
])
def test_sighup_with_a_broken_rld_toml_keeps_the_running_config(make_rld, toml, mentions):
    rld = make_rld(toml_extra='[http]\nexcluded_paths = ["/open"]\n')
    good = rld.config_path.read_text()
    rld.config_path.write_text(good.replace('[http]\nexcluded_paths = ["/open"]\n', toml))
    event = reload(rld, "reload_failed")
    assert str(rld.config_path) in event["error"], event
    assert mentions in event["error"], event
    assert rld.metric('rl_config_reloads_total{result="failure"}') == 1
    # Still the old config: /open is excluded, limits unchanged, still serving.
    r = rld.get("/check", headers={"X-Original-URI": "/open"}, via="unix")
    assert r.status == 200 and "x-ratelimit-limit" not in r.headers, r
    assert burst(rld, FREE, 21) == [(200, "20")] * 20 + [(429, "20")]
    # A good rld.toml is applied by the next SIGHUP.
    rld.config_path.write_text(good.replace('"/open"', '"/other"'))
    reload(rld, "config_reloaded")
    assert rld.get("/check", headers={"X-Original-URI": "/open"}, via="unix").status == 401
    assert rld.get("/check", headers={"X-Original-URI": "/other"}, via="unix").status == 200
    assert rld.metric('rl_config_reloads_total{result="success"}') == 1


def test_sighup_with_an_unrepresentable_number_keeps_the_running_tiers(make_rld):
    rld = make_rld(tiers=demo_tiers())
    rld.tiers_path.write_text(json.dumps(demo_tiers()).replace('"base_limit": 10', '"base_limit": 1e400'))
    event = reload(rld, "reload_failed")
    assert str(rld.tiers_path) in event["error"] and "number" in event["error"], event
    assert burst(rld, FREE, 21) == [(200, "20")] * 20 + [(429, "20")]


def test_sighup_keeps_listeners_that_need_a_restart(make_rld):
    rld = make_rld()
    port = rld.port
    text = rld.config_path.read_text()
    rld.config_path.write_text(text.replace('"127.0.0.1:0"', '"127.0.0.1:1"'))
    warn = reload(rld, "restart_required")
    assert "server.listen" in warn["keys"]
    rld.wait_for_event("config_reloaded")
    assert rld.port == port and rld.get("/health").status == 200
    assert rld.get("/health", via="unix").status == 200


def test_sighup_names_every_redis_setting_that_needs_a_restart(make_rld):
    """[redis] is built once at start (client, breaker, caches): a reload says so rather than
    pretending to apply it. The memory store reads none of it, so no Redis is needed."""
    rld = make_rld(toml_extra="\n[redis]\non_failure = \"local\"\ntimeout_ms = 5\n")
    text = rld.config_path.read_text()
    rld.config_path.write_text(text.replace('on_failure = "local"', 'on_failure = "deny"')
                                   .replace("timeout_ms = 5", "timeout_ms = 20"))
    warn = reload(rld, "restart_required")
    assert warn["keys"] == "redis.timeout_ms, redis.on_failure", warn
    rld.wait_for_event("config_reloaded")


# -- connection cap -----------------------------------------------------------------------------
def test_connections_beyond_max_connections_are_closed_at_once(make_rld):
    rld = make_rld(settings={"server": {"max_connections": 3}})
    held = [connect(rld, via) for via in ("tcp", "unix", "tcp")]
    readers = [ResponseReader(s) for s in held]
    for s, reader in zip(held, readers):
        s.sendall(request_bytes("GET", "/health"))
        assert reader.read().status == 200
    for via in ("tcp", "unix"):
        extra = connect(rld, via)
        t0 = time.monotonic()
        try:
            extra.sendall(request_bytes("GET", "/health"))
        except OSError:
            pass  # already closed by rld: fine
        data, closed = read_until_closed(extra, 2)
        extra.close()
        assert (data, closed) == (b"", True)
        assert time.monotonic() - t0 < 0.5
    def counts():  # a refused connection leaves the gauge when its worker has closed it
        held[0].sendall(request_bytes("GET", "/metrics"))
        m = parse_metrics(readers[0].read().body)
        return (metric(m, "rl_http_connections_rejected_total"),
                metric(m, "rl_http_connections_open"))
    assert wait_until(lambda: counts() == (2, 3), timeout=2), counts()
    # A freed slot is usable again.
    held[2].close()
    assert wait_until(lambda: health_over_new_connection(rld), timeout=3)
    for s in held[:2]:
        s.close()


def health_over_new_connection(rld):
    s = connect(rld)
    s.sendall(request_bytes("GET", "/health", [("Connection", "close")]))
    data, _ = read_until_closed(s, 1)
    s.close()
    return data.startswith(b"HTTP/1.1 200")


# -- the Unix socket file -----------------------------------------------------------------------
def test_unix_socket_mode_defaults_to_0660(rld):
    st = os.stat(rld.socket_path)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o660


def test_unix_socket_mode_is_configurable(make_rld):
    rld = make_rld(settings={"server": {"unix_socket_mode": "0600"}})
    assert stat.S_IMODE(os.stat(rld.socket_path).st_mode) == 0o600
    assert rld.get("/health", via="unix").status == 200


def test_unix_socket_group_is_configurable(make_rld):
    # A group this process may give a file: any as root (then not its own), else one of its own.
    others = [g for g in os.getgroups() if g != os.getgid()]
    gid = 1 if os.geteuid() == 0 else (others[0] if others else os.getgid())
    rld = make_rld(settings={"server": {"unix_socket_group": str(gid)}})
    st = os.stat(rld.socket_path)
    assert (st.st_gid, stat.S_IMODE(st.st_mode)) == (gid, 0o660)
    assert rld.get("/health", via="unix").status == 200


def test_clients_that_hang_up_before_the_answer_do_not_kill_rld(rld):
    """Writing an answer to a connection its client closed raises SIGPIPE: rld must ignore it
    (nginx closes its connection to rld when a check times out or its own client leaves)."""
    for via in ("unix", "tcp") * 10:
        s = connect(rld, via)
        s.sendall(request_bytes("GET", "/check", [("X-API-Key", PRO)]) * 20)
        s.close()
    time.sleep(0.2)
    assert rld.proc.poll() is None, f"rld died: exit {rld.proc.returncode}"
    assert rld.get("/health").status == 200


def test_stale_socket_file_is_replaced_at_start(make_rld):
    rld = make_rld(start=False)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(rld.socket_path)  # a socket file nobody listens on any more
    stale.close()
    assert stat.S_ISSOCK(os.stat(rld.socket_path).st_mode)
    rld.start()
    try:
        assert rld.log_events("ready")
        assert rld.get("/health", via="unix").status == 200
    finally:
        assert rld.stop() == 0
    assert not os.path.exists(rld.socket_path)


def run_second(rld_config_text, tmpdir):
    config = tmpdir / "second.toml"
    config.write_text(rld_config_text)
    p = run_rld("--config", str(config), timeout=10)
    return p.returncode, json_events(p.stderr)


def test_second_rld_on_the_same_socket_refuses_to_start(rld, tmp_path):
    code, events = run_second(rld.config_path.read_text(), tmp_path)
    assert code == 1
    failed = [e for e in events if e.get("event") == "listen_failed"]
    assert len(failed) == 1 and rld.socket_path in failed[0]["error"], events
    assert not [e for e in events if e.get("event") == "ready"]
    # The first one keeps its socket and serves on.
    assert stat.S_ISSOCK(os.stat(rld.socket_path).st_mode)
    assert rld.get("/health", via="unix").status == 200
    assert rld.get("/health").status == 200


def test_a_regular_file_at_the_socket_path_is_left_alone(make_rld, tmp_path):
    rld = make_rld(start=False)
    with open(rld.socket_path, "w") as f:
        f.write("precious")
    code, events = run_second(rld.config_path.read_text(), tmp_path)
    assert code == 1
    failed = [e for e in events if e.get("event") == "listen_failed"]
    assert len(failed) == 1 and rld.socket_path in failed[0]["error"], events
    with open(rld.socket_path) as f:
        assert f.read() == "precious"

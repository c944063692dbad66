"""The shipped packaging/nginx/rld.conf and snippets (nginx auth_request) in front of a test
application, asking an rld with the shipped packaging/nginx/rld.toml settings over a Unix
socket: the reference's numbers hold exactly through nginx and rate-limited requests never
reach the application; keys, blocks and excluded paths behave as rld decides them, with rld's
JSON bodies and headers; a client cannot change its address with X-Forwarded-For; an
unreachable, hung or refusing rld fails closed with a JSON 503, and the one documented line
fails open; the application gets the client's method and body untouched."""
import contextlib
import json
import signal
import time

import pytest

from helpers_decisions import avoid_window_edge
from nginx_support import APP_NAME, App, Nginx, shipped_rld_toml, shipped_settings
from redis_server import free_port
from rld_harness import KEYS, Rld, parse_metrics

SECURITY = shipped_rld_toml()["security"]
MAX_INVALID = SECURITY["max_invalid_attempts"]
BLOCK_SECONDS = SECURITY["block_seconds"]
RATE_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset",
                "ratelimit-policy", "ratelimit")
# nginx gives up on an rld that accepted the check but does not answer (proxy_read_timeout).
READ_TIMEOUT = 2.0


# -- fixtures and helpers ----------------------------------------------------------------
@pytest.fixture
def app():
    a = App().start()
    yield a
    a.stop()


@pytest.fixture
def make_nginx(make_rld, app):
    """Nginx(rld, fail_open=...) started in front of `app`; stopped before the rld it asks
    (it depends on make_rld, so it is torn down first); it must exit 0."""
    made = []

    def make(rld, fail_open=False):
        n = Nginx(rld.socket_path, app.address, fail_open=fail_open)
        made.append(n)
        return n.start()

    yield make
    codes, logs = [], []
    for n in made:
        codes.append(n.stop())
        logs.append(n.log_text())
        n.cleanup()
    assert all(c in (0, None) for c in codes), f"nginx exit codes {codes}:\n" + "\n".join(logs)


@pytest.fixture
def limiter(make_rld):
    """An rld with the shipped rld.toml settings (memory store, demo tiers)."""
    return make_rld(settings=shipped_settings())


@pytest.fixture
def nginx(make_nginx, limiter):
    return make_nginx(limiter)


def decisions(rld):
    """Decisions this rld has made, whatever the tier and result."""
    samples = parse_metrics(rld.metrics())
    return sum(v for (name, _), v in samples.items() if name == "rl_decisions_total")


def error_of(r, status):
    """The error code of one of rld's JSON error bodies, as nginx renders them, after checking
    the status, the content type, the shape and that the body's request_id is the header's."""
    assert r.status == status, r
    assert r.headers["content-type"] == "application/json", r
    body = json.loads(r.body)
    assert set(body) == {"error", "request_id"} and set(body["error"]) == {"code", "message"}, r
    assert body["error"]["message"], r
    assert body["request_id"] and body["request_id"] == r.headers["x-request-id"], r
    return body["error"]["code"]


def from_app(r):
    """The application's body of a response that came from it."""
    assert r.status == 200, r
    body = json.loads(r.body)
    assert body["app"] == APP_NAME, r
    return body


def no_rate_headers(r):
    return not any(h in r.headers for h in RATE_HEADERS + ("retry-after",))


# -- the reference's numbers -------------------------------------------------------------------
def test_free_tier_through_nginx_is_exactly_20_then_429(nginx, app):
    avoid_window_edge()
    conn = nginx.connection()
    answers = [nginx.get("/api/items?page=1", key=KEYS["free"], conn=conn) for _ in range(25)]
    conn.close()
    assert [r.status for r in answers] == [200] * 20 + [429] * 5, answers
    passed, limited = answers[:20], answers[20:]
    for r in passed:
        assert from_app(r)["target"] == "/api/items?page=1", r
        assert r.headers["x-ratelimit-limit"] == "20", r
        assert int(r.headers["x-ratelimit-reset"]) >= int(time.time()), r
        assert r.headers["ratelimit-policy"] == '"free";q=20;w=60', r
        assert "retry-after" not in r.headers, r
        assert r.headers["x-app-method"] == "GET", r  # the application's own headers pass
    assert [int(r.headers["x-ratelimit-remaining"]) for r in passed] == list(range(19, -1, -1))
    assert [r.headers["ratelimit"].split(";")[1] for r in passed] == \
        [f"r={n}" for n in range(19, -1, -1)]
    for r in limited:
        assert error_of(r, 429) == "rate_limited", r
        assert int(r.headers["retry-after"]) >= 1, r
        assert r.headers["x-ratelimit-limit"] == "20", r
        assert r.headers["x-ratelimit-remaining"] == "0", r
        assert int(r.headers["x-ratelimit-reset"]) >= int(time.time()), r
        assert r.headers["ratelimit"].startswith('"free";r=0;t='), r
    # The application saw exactly the 20 that passed, never the 21st or later.
    seen = app.seen
    assert len(seen) == 20 and {s.target for s in seen} == {"/api/items?page=1"}, seen
    # ...each with the request id the client got back.
    assert [s.headers["x-request-id"] for s in seen] == \
        [r.headers["x-request-id"] for r in passed]


def test_pro_tier_through_nginx_is_exactly_150_then_429(nginx, app):
    avoid_window_edge()
    conn = nginx.connection()
    answers = [nginx.get("/api/report", key=KEYS["pro"], conn=conn) for _ in range(155)]
    conn.close()
    assert [r.status for r in answers] == [200] * 150 + [429] * 5, \
        [r.status for r in answers]
    assert [int(r.headers["x-ratelimit-remaining"]) for r in answers[:150]] == \
        list(range(149, -1, -1))
    assert {r.headers["x-ratelimit-limit"] for r in answers} == {"150"}
    assert all(error_of(r, 429) == "rate_limited" and int(r.headers["retry-after"]) >= 1
               for r in answers[150:])
    assert len(app.seen) == 150


# -- keys and blocks ---------------------------------------------------------------------------
def test_missing_and_invalid_keys_get_401_and_never_reach_the_app(nginx, app, limiter):
    r = nginx.get("/api/items")
    assert error_of(r, 401) == "missing_api_key", r
    assert no_rate_headers(r), r
    r = nginx.get("/api/items", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert error_of(r, 401) == "missing_api_key", r  # rld reads only Bearer from Authorization
    r = nginx.get("/api/items", key="not_a_known_key_123")
    assert error_of(r, 401) == "invalid_api_key", r
    r = nginx.get("/api/items", headers={"Authorization": "Bearer not_a_known_key_123"})
    assert error_of(r, 401) == "invalid_api_key", r
    r = nginx.get("/api/items", key="bad key!")  # malformed: refused before any lookup
    assert error_of(r, 401) == "invalid_api_key", r
    assert app.seen == []
    # A valid key in Authorization: Bearer passes too.
    r = nginx.get("/api/items", headers={"Authorization": f"Bearer {KEYS['pro']}"})
    assert from_app(r) and r.headers["x-ratelimit-limit"] == "150", r
    assert decisions(limiter) == 6


def test_repeated_invalid_keys_block_the_client(nginx, app):
    client, other = "127.0.0.2", "127.0.0.3"
    conn = nginx.connection(source=client)
    answers = [nginx.get("/api/items", key=f"wrong_key_{i:04d}", conn=conn)
               for i in range(MAX_INVALID + 1)]
    assert [error_of(r, 401) for r in answers[:MAX_INVALID]] == \
        ["invalid_api_key"] * MAX_INVALID
    r = answers[-1]
    assert error_of(r, 429) == "client_blocked", r
    assert 1 <= int(r.headers["retry-after"]) <= BLOCK_SECONDS, r
    assert not any(h in r.headers for h in RATE_HEADERS), r  # a block has no quota
    # Blocked means blocked: a valid key from that address does not pass either...
    r = nginx.get("/api/items", key=KEYS["pro"], conn=conn)
    assert error_of(r, 429) == "client_blocked", r
    conn.close()
    assert app.seen == []
    # ...while another client's requests do.
    r = nginx.get("/api/items", key=KEYS["pro"], source=other)
    assert from_app(r)["target"] == "/api/items", r
    assert [s.headers["x-forwarded-for"] for s in app.seen] == [other]


def test_a_forged_x_forwarded_for_does_not_change_which_client_is_blocked(
        nginx, app, limiter):
    client, other = "127.0.0.2", "127.0.0.3"
    # Every invalid key claims another address; all of them count against the real one.
    for i in range(MAX_INVALID):
        r = nginx.get("/api/items", key=f"wrong_key_{i:04d}", source=client,
                      headers={"X-Forwarded-For": f"198.51.100.{i + 1}",
                               "X-Real-IP": f"203.0.113.{i + 1}"})
        assert error_of(r, 401) == "invalid_api_key", (i, r)
    r = nginx.get("/api/items", key="wrong_key_last", source=client,
                  headers={"X-Forwarded-For": "198.51.100.99"})
    assert error_of(r, 429) == "client_blocked", r
    # Claiming to be the other client does not escape the block...
    r = nginx.get("/api/items", key=KEYS["pro"], source=client,
                  headers={"X-Forwarded-For": other, "X-Real-IP": other})
    assert error_of(r, 429) == "client_blocked", r
    # ...and claiming to be the blocked client does not get the other one blocked.
    r = nginx.get("/api/items", key=KEYS["pro"], source=other,
                  headers={"X-Forwarded-For": client, "X-Real-IP": client})
    assert from_app(r) and r.headers["x-ratelimit-remaining"] == "149", r
    blocks = limiter.admin("GET", "/admin/blocks").json()["blocks"]
    assert [b["client"] for b in blocks] == [client], blocks
    # The application gets the client's claim followed by the address nginx saw.
    assert [s.headers["x-forwarded-for"] for s in app.seen] == [f"{client}, {other}"]


# -- excluded paths ----------------------------------------------------------------------------
def test_an_excluded_path_passes_without_a_key_and_without_counting(nginx, app, limiter):
    excluded = shipped_rld_toml()["http"]["excluded_paths"]
    assert "/health" in excluded
    conn = nginx.connection()
    # Twice the attempts that would block a client sending requests without a key elsewhere.
    for i in range(2 * MAX_INVALID):
        r = nginx.get("/health" if i % 2 else "/health?probe=1", conn=conn)
        assert from_app(r)["target"].startswith("/health"), (i, r)
        assert no_rate_headers(r) and r.headers["x-request-id"], r
    conn.close()
    assert decisions(limiter) == 0
    # The exclusion is of the canonical path only, and the client cannot claim it: each of
    # these is limited like any other path (an invalid attempt without a key)...
    for target, headers in [("/%68ealth", {}), ("//health", {}), ("/health/../api", {}),
                            ("/health;x", {}),
                            ("/api", {"X-Original-URI": "/health"}),
                            ("/api", {"X-Forwarded-Uri": "/health"})]:
        r = nginx.get(target, headers=headers)
        assert error_of(r, 401) == "missing_api_key", (target, headers, r)
    # ...counted: the next invalid attempts block the client after the usual number.
    for i in range(MAX_INVALID - 6):
        assert nginx.get("/api").status == 401, i
    assert error_of(nginx.get("/api"), 429) == "client_blocked"
    # Excluded paths still pass: they are not decisions.
    assert from_app(nginx.get("/health"))
    assert {s.path for s in app.seen} == {"/health"} and len(app.seen) == 2 * MAX_INVALID + 1


# -- when rld cannot decide --------------------------------------------------------------------
def test_a_stopped_rld_gets_a_json_503_and_the_app_is_not_called(nginx, app, limiter):
    conn = nginx.connection()
    assert from_app(nginx.get("/api/items", key=KEYS["pro"], conn=conn))
    assert limiter.stop() == 0  # closes nginx's idle keep-alive connection, removes the socket
    for _ in range(3):
        r = nginx.get("/api/items", key=KEYS["pro"], conn=conn)
        assert error_of(r, 503) == "unavailable", r
        assert r.headers["retry-after"] == "1", r
        assert "nginx" not in r.body and not any(h in r.headers for h in RATE_HEADERS), r
    conn.close()
    assert len(app.seen) == 1
    assert "auth request unexpected status: 502" in nginx.log_text()


@contextlib.contextmanager
def unmanaged_rld():
    """An rld with the shipped settings that a test may leave stopped (SIGSTOP) or dead: not
    made by make_rld, whose teardown wants a clean exit from every daemon. Killed at the end."""
    r = Rld(settings=shipped_settings())
    try:
        yield r.start()
    finally:
        r.kill()
        r.cleanup()


def test_a_hung_rld_gets_a_503_after_the_read_timeout(make_nginx, app):
    with unmanaged_rld() as hung:
        nginx = make_nginx(hung)
        assert from_app(nginx.get("/api/items", key=KEYS["pro"]))
        hung.pause()  # accepts connections (the kernel does), answers nothing
        r, took = nginx.timed("GET", "/api/items", key=KEYS["pro"])
        assert error_of(r, 503) == "unavailable", r
        assert READ_TIMEOUT - 0.1 <= took < READ_TIMEOUT + 2.0, took
        assert len(app.seen) == 1
        assert "auth request unexpected status: 504" in nginx.log_text()


def test_rld_outlives_a_check_that_nginx_gave_up_on(make_nginx, app):
    """nginx closes its connection to rld when the check times out (or the client goes away);
    rld, resumed, answers the check it had read on a closed connection, and must carry on."""
    with unmanaged_rld() as slow:
        nginx = make_nginx(slow)
        slow.pause()
        try:
            assert error_of(nginx.get("/api/items", key=KEYS["pro"]), 503) == "unavailable"
        finally:
            slow.signal(signal.SIGCONT)
        time.sleep(0.3)  # rld answers the abandoned check now
        assert slow.proc.poll() is None, f"rld died: exit {slow.proc.returncode}"
        assert from_app(nginx.get("/api/items", key=KEYS["pro"]))


def test_rlds_own_503_reaches_the_client_as_a_503_with_its_headers(make_rld, make_nginx, app):
    """redis.on_failure = "deny" and no Redis: rld itself answers 503 with Retry-After; nginx
    would make that a 500, the config makes it the same JSON 503, with rld's request id."""
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    settings = shipped_settings()
    settings["store"] = {"type": "redis"}
    settings["redis"] = {"url": nowhere, "on_failure": "deny"}
    denying = make_rld(settings=settings)
    nginx = make_nginx(denying)
    r = nginx.get("/api/items", key=KEYS["pro"], headers={"X-Request-ID": "deny-check-1"})
    assert error_of(r, 503) == "unavailable", r
    assert r.headers["x-request-id"] == "deny-check-1", r
    assert int(r.headers["retry-after"]) >= 1, r
    assert app.seen == []
    assert "auth request unexpected status: 503" in nginx.log_text()


def test_the_documented_line_fails_open_instead(make_nginx, limiter, app):
    nginx = make_nginx(limiter, fail_open=True)
    # While rld answers, nothing changes.
    assert error_of(nginx.get("/api/items"), 401) == "missing_api_key"
    r = nginx.get("/api/items", key=KEYS["free"])
    assert from_app(r) and r.headers["x-ratelimit-remaining"] == "19", r
    assert limiter.stop() == 0
    # rld unreachable: requests pass to the application, unlimited and without rate headers.
    for _ in range(3):
        r = nginx.get("/api/items", key=KEYS["free"])
        assert from_app(r) and no_rate_headers(r), r
    r = nginx.get("/api/items")
    assert from_app(r), r  # ...keys and all: rld is the one that checks them
    assert len(app.seen) == 5


# -- what reaches the application ---------------------------------------------------------------
def test_the_app_gets_the_method_and_body_and_rld_counts_each_request_once(
        nginx, app, limiter):
    payload = json.dumps({"name": "widget", "size": 3 * "x" * 1000})
    cases = [("POST", payload), ("PUT", payload), ("PATCH", "a=1&b=2"), ("DELETE", None),
             ("GET", None), ("OPTIONS", None), ("PURGE", None), ("FROB", "odd methods too")]
    conn = nginx.connection()
    for i, (method, body) in enumerate(cases):
        r = nginx.request(method, f"/api/items/{i}", key=KEYS["pro"], body=body, conn=conn,
                          headers={"Content-Type": "application/json"} if body else None)
        got = from_app(r)
        assert (got["method"], got["target"]) == (method, f"/api/items/{i}"), r
        assert got["body"] == (body or ""), r
        assert r.headers["x-ratelimit-remaining"] == str(149 - i), r
    conn.close()
    seen = app.seen
    assert [(s.method, s.body.decode()) for s in seen] == [(m, b or "") for m, b in cases]
    assert seen[0].headers["content-length"] == str(len(payload.encode()))
    assert seen[0].headers["x-api-key"] == KEYS["pro"]  # the application may use it too
    # rld made one decision per request, whatever the method (a HEAD included).
    r = nginx.request("HEAD", "/api/items/head", key=KEYS["pro"])
    assert r.status == 200 and r.body == "" and r.headers["x-ratelimit-remaining"] == \
        str(149 - len(cases)), r
    assert decisions(limiter) == len(cases) + 1


def test_one_request_id_from_client_to_rld_to_app(nginx, app):
    r = nginx.get("/api/items", key=KEYS["pro"], headers={"X-Request-ID": "client-req-42"})
    assert from_app(r) and r.headers["x-request-id"] == "client-req-42", r
    # Without one, every answer still has one, and the application logs the same.
    r = nginx.get("/api/items", key=KEYS["pro"])
    assert from_app(r) and len(r.headers["x-request-id"]) == 32, r
    assert [s.headers["x-request-id"] for s in app.seen] == ["client-req-42",
                                                            r.headers["x-request-id"]]
    # An id rld finds unsafe is replaced, never copied into a JSON body.
    forged = 'x","error":{"code":"ok"}'
    r = nginx.get("/api/items", headers={"X-Request-ID": forged})
    assert error_of(r, 401) == "missing_api_key", r
    assert r.headers["x-request-id"] != forged and len(r.headers["x-request-id"]) == 32, r


def test_rlds_own_403_stays_a_403(nginx, app, limiter):
    """deny_status=403 makes rld's 429 a 403 for nginx, so a 403 rld means (a disabled user)
    must not come out as a 429: it has no Retry-After."""
    r = limiter.admin("PATCH", "/admin/users/demo_free_user", {"disabled": True})
    assert r.status == 200, r
    r = nginx.get("/api/items", key=KEYS["free"])
    assert error_of(r, 403) == "forbidden", r
    assert "retry-after" not in r.headers, r
    assert app.seen == []

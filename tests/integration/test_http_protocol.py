"""HTTP/1.1 protocol behaviour of rld at the byte level (DESIGN §3, §4 "Bad input"): keep-alive
and Connection: close, pipelining in order with X-Request-ID, every protocol error answered with
the JSON envelope and a close, no request smuggling, 404/405/HEAD/100-continue, the /check
forward-auth endpoint, and which client IP X-Forwarded-For is allowed to name."""
import re
import time

import pytest

from raw_http import HEALTH_BODY, HEX32, ResponseReader, assert_error, exchange, request_bytes
from rld_harness import ADMIN_KEY, KEYS, connect

FREE, PRO = KEYS["free"], KEYS["pro"]


def decisions(rld):
    """How many decisions rld has made (allowed or not): the decision latency histogram count."""
    return rld.metric("rl_decision_duration_seconds_count")


# -- keep-alive and connection close ------------------------------------------------------
@pytest.mark.parametrize("via", ["tcp", "unix"])
def test_keep_alive_serves_many_requests_on_one_connection(rld, via):
    accepted_before = rld.metric("rl_http_connections_total")
    s = connect(rld, via)
    reader = ResponseReader(s)
    for i in range(60):
        s.sendall(request_bytes("GET", "/health", [("X-Request-ID", f"ka-{i}")]))
        r = reader.read()
        assert (r.status, r.body, r.header("X-Request-ID")) == (200, HEALTH_BODY, f"ka-{i}"), r
        assert r.header("Connection") is None, r
    for i in range(20):
        s.sendall(request_bytes("GET", "/test", [("X-API-Key", FREE)]))
        r = reader.read()
        assert r.status == 200, r
        assert r.header("X-RateLimit-Remaining") == str(19 - i), r
        assert r.json()["user"] == "demo_free_user"
    s.sendall(request_bytes("GET", "/test", [("X-API-Key", FREE)]))
    r = reader.read()
    assert r.status == 429 and r.header("Connection") is None, r  # a 429 keeps the connection
    s.sendall(request_bytes("GET", "/health"))
    assert reader.read().status == 200
    s.close()
    # One connection for all 82 requests, plus the scrape that reads the counter.
    assert rld.metric("rl_http_connections_total") - accepted_before == 2


@pytest.mark.parametrize("via", ["tcp", "unix"])
def test_connection_close_from_client_is_honoured_and_later_bytes_ignored(rld, via):
    before = decisions(rld)
    s = connect(rld, via)
    s.sendall(request_bytes("GET", "/health", [("Connection", "close")]) +
              request_bytes("GET", "/test", [("X-API-Key", FREE)]))
    reader = ResponseReader(s)
    r = reader.read()
    assert (r.status, r.body, r.header("Connection")) == (200, HEALTH_BODY, "close"), r
    rest, closed = reader.rest(timeout=2)
    s.close()
    assert (rest, closed) == (b"", True)
    assert decisions(rld) == before  # the request after "close" was never run


def test_http10_without_keep_alive_is_closed_after_the_answer(rld):
    resps, closed, seconds = exchange(rld, b"GET /health HTTP/1.0\r\n\r\n", timeout=3)
    assert closed and seconds < 1.0
    assert len(resps) == 1, resps
    r = resps[0]
    assert (r.status, r.body, r.header("Connection")) == (200, HEALTH_BODY, "close"), r


def test_http10_keep_alive_is_announced_and_kept(rld):
    """An HTTP/1.0 client keeps the connection only if the answer says `Connection: keep-alive`
    (RFC 9112 §9.3 and Appendix C.2.2; e.g. `ab -k` relies on it)."""
    s = connect(rld)
    reader = ResponseReader(s)
    for i in range(3):
        s.sendall(b"GET /health HTTP/1.0\r\nConnection: keep-alive\r\nX-Request-ID: k%d\r\n\r\n"
                  % i)
        r = reader.read()
        assert (r.status, r.body, r.header("X-Request-ID")) == (200, HEALTH_BODY, f"k{i}"), r
        assert (r.header("Connection") or "").lower() == "keep-alive", r
    s.close()


# -- pipelining -----------------------------------------------------------------------------
def test_pipelined_requests_are_answered_in_order_with_their_request_ids(rld):
    long_id = "a" * 129
    batch = (request_bytes("GET", "/test", [("X-API-Key", FREE), ("X-Request-ID", "pipe-1")]) +
             request_bytes("GET", "/health", [("X-Request-ID", "Pipe.2:ok_-")]) +
             request_bytes("GET", "/nope", [("X-Request-ID", "bad id!")]) +
             request_bytes("HEAD", "/health", [("X-Request-ID", long_id)]) +
             request_bytes("POST", "/v1/decide",
                           [("Content-Type", "application/json"), ("Content-Length", "31"),
                            ("X-Request-ID", "pipe-5")], b'{"api_key":"demo_free_key_123"}') +
             request_bytes("GET", "/test", [("X-API-Key", FREE)]) +
             request_bytes("GET", "/metrics", [("X-Request-ID", "é")]))
    s = connect(rld)
    s.sendall(batch)  # one send: every request arrives before the first answer is written
    reader = ResponseReader(s)
    got = [reader.read(head=(i == 3)) for i in range(7)]

    assert [r.status for r in got] == [200, 200, 404, 200, 200, 200, 200]
    ids = [r.header("X-Request-ID") for r in got]
    assert ids[0] == "pipe-1" and ids[1] == "Pipe.2:ok_-" and ids[4] == "pipe-5", ids
    for i in (2, 3, 5, 6):  # insane (space, too long, non-ASCII) or missing → a fresh 32-hex id
        assert HEX32.match(ids[i]), ids
    assert len(set(ids)) == 7, ids
    assert got[0].json()["user"] == "demo_free_user"
    assert got[0].header("X-RateLimit-Remaining") == "19"
    assert got[1].body == HEALTH_BODY
    assert_error(got[2], 404, "not_found")
    assert got[3].body == "" and got[3].header("Content-Length") == str(len(HEALTH_BODY))
    decided = got[4].json()
    assert (decided["allowed"], decided["status"], decided["remaining"]) == (True, 200, 18)
    assert got[5].header("X-RateLimit-Remaining") == "17"
    assert "rl_http_requests_total" in got[6].body
    # The connection is still usable after the batch.
    s.sendall(request_bytes("GET", "/health"))
    assert reader.read().body == HEALTH_BODY
    s.close()


@pytest.mark.parametrize("via", ["tcp", "unix"])
def test_pipelined_requests_sent_byte_by_byte_are_answered_in_order(rld, via):
    batch = (request_bytes("GET", "/health", [("X-Request-ID", "b-1")]) +
             request_bytes("POST", "/v1/decide", [("Content-Length", "31"),
                                                  ("X-Request-ID", "b-2")],
                           b'{"api_key":"demo_free_key_123"}') +
             request_bytes("GET", "/nope", [("X-Request-ID", "b-3")]) +
             request_bytes("GET", "/test", [("X-API-Key", FREE), ("X-Request-ID", "b-4")]))
    s = connect(rld, via)
    for i in range(len(batch)):
        s.send(batch[i:i + 1])
    reader = ResponseReader(s)
    got = [reader.read() for _ in range(4)]
    s.close()
    assert [(r.status, r.header("X-Request-ID")) for r in got] == \
        [(200, "b-1"), (200, "b-2"), (404, "b-3"), (200, "b-4")]
    assert got[1].json()["remaining"] == 19
    assert got[3].header("X-RateLimit-Remaining") == "18"


# -- protocol errors: JSON envelope, status, close ------------------------------------------
LIMITS = {"max_header_bytes": 1024, "max_headers": 10, "max_url_bytes": 256,
          "max_body_bytes": 100}


@pytest.fixture(scope="module")
def limited(make_module_rld):
    return make_module_rld(settings={"http": LIMITS})


def H(*headers, host="a.test"):
    lines = ([f"Host: {host}"] if host else []) + list(headers)
    return "".join(line + "\r\n" for line in lines)


def chunked(body, size=40):
    out = b""
    for i in range(0, len(body), size):
        piece = body[i:i + size]
        out += b"%x\r\n" % len(piece) + piece + b"\r\n"
    return out + b"0\r\n\r\n"


BAD_REQUESTS = {
    # name: (bytes, status, error code)
    "request line without target": (b"GET\r\n\r\n", 400, "bad_request"),
    "request line with extra token": (b"GET /health HTTP/1.1 x\r\n" + H().encode() + b"\r\n",
                                      400, "bad_request"),
    "space inside target": (b"GET /he alth HTTP/1.1\r\n" + H().encode() + b"\r\n",
                            400, "bad_request"),
    "headers over max_header_bytes": (
        b"GET /health HTTP/1.1\r\n" + H("X-Big: " + "b" * 1100).encode() + b"\r\n",
        431, "headers_too_large"),
    "more than max_headers headers": (
        b"GET /health HTTP/1.1\r\n" + H(*[f"X-H{i}: v" for i in range(10)]).encode() + b"\r\n",
        431, "headers_too_large"),
    "target over max_url_bytes": (
        b"GET /" + b"u" * 300 + b" HTTP/1.1\r\n" + H().encode() + b"\r\n", 414, "uri_too_long"),
    "content-length over max_body_bytes": (
        b"POST /v1/decide HTTP/1.1\r\n" + H("Content-Length: 101").encode() + b"\r\n",
        413, "body_too_large"),
    "huge content-length, no body sent": (
        b"POST /v1/decide HTTP/1.1\r\n" + H("Content-Length: 1000000000").encode() + b"\r\n",
        413, "body_too_large"),
    "chunked body over max_body_bytes": (
        b"POST /v1/decide HTTP/1.1\r\n" + H("Transfer-Encoding: chunked").encode() + b"\r\n" +
        chunked(b"x" * 120), 413, "body_too_large"),
    "unknown method": (b"FOO / HTTP/1.1\r\n" + H().encode() + b"\r\n", 501, "not_implemented"),
    "HTTP/1.1 without Host": (b"GET /health HTTP/1.1\r\n" + H(host=None).encode() + b"\r\n",
                              400, "bad_request"),
    "two Host headers": (b"GET /health HTTP/1.1\r\n" + H("Host: b.test").encode() + b"\r\n",
                         400, "bad_request"),
    "space before colon": (b"GET /health HTTP/1.1\r\nHost : a\r\n\r\n", 400, "bad_request"),
    "content-length and transfer-encoding": (
        b"POST /check HTTP/1.1\r\n" +
        H("Content-Length: 5", "Transfer-Encoding: chunked").encode() + b"\r\n0\r\n\r\n",
        400, "bad_request"),
    "transfer-encoding not ending in chunked": (
        b"POST /check HTTP/1.1\r\n" + H("Transfer-Encoding: gzip").encode() + b"\r\nhello",
        400, "bad_request"),
    "duplicate content-length": (
        b"POST /check HTTP/1.1\r\n" + H("Content-Length: 5", "Content-Length: 5").encode() +
        b"\r\nhello", 400, "bad_request"),
    "content-length +5": (b"POST /check HTTP/1.1\r\n" + H("Content-Length: +5").encode() +
                          b"\r\nhello", 400, "bad_request"),
    "content-length 0x10": (b"POST /check HTTP/1.1\r\n" + H("Content-Length: 0x10").encode() +
                            b"\r\nhello", 400, "bad_request"),
    "content-length 1_0": (b"POST /check HTTP/1.1\r\n" + H("Content-Length: 1_0").encode() +
                           b"\r\nhello", 400, "bad_request"),
    "content-length -1": (b"POST /check HTTP/1.1\r\n" + H("Content-Length: -1").encode() +
                          b"\r\nhello", 400, "bad_request"),
    "content-length 2^64": (
        b"POST /check HTTP/1.1\r\n" + H("Content-Length: 18446744073709551616").encode() +
        b"\r\nhello", 400, "bad_request"),
    "bare LF line endings": (b"GET /health HTTP/1.1\nHost: a\n\n", 400, "bad_request"),
    "control byte in header name": (b"GET /health HTTP/1.1\r\nHost: a\r\nX-\x01: b\r\n\r\n",
                                    400, "bad_request"),
    "NUL in header value": (b"GET /health HTTP/1.1\r\nHost: a\r\nX-A: b\x00c\r\n\r\n",
                            400, "bad_request"),
    "bad chunk size": (b"POST /check HTTP/1.1\r\n" + H("Transfer-Encoding: chunked").encode() +
                       b"\r\nzz\r\nhello\r\n0\r\n\r\n", 400, "bad_request"),
    # Line folding, bare CR and LF, empty names: framing a proxy in front may read otherwise.
    "obs-fold header": (b"GET /health HTTP/1.1\r\n" + H("X-A: a", "  folded").encode() + b"\r\n",
                        400, "bad_request"),
    "obs-fold after an empty value": (
        b"GET /health HTTP/1.1\r\n" + H("X-A:", "\tfolded").encode() + b"\r\n", 400, "bad_request"),
    "bare CR in request line": (b"GET /health\rHTTP/1.1\r\n" + H().encode() + b"\r\n",
                                400, "bad_request"),
    "bare CR in a header": (b"GET /health HTTP/1.1\r\n" + H("X-A: a\rX-B: b").encode() + b"\r\n",
                            400, "bad_request"),
    "bare LF between headers": (b"GET /health HTTP/1.1\r\nHost: a\nX-A: b\r\n\r\n",
                                400, "bad_request"),
    "empty header name": (b"GET /health HTTP/1.1\r\n" + H(": v").encode() + b"\r\n",
                          400, "bad_request"),
    # Transfer-Encoding: chunked must be the only coding, given once.
    "transfer-encoding chunked, gzip": (
        b"POST /check HTTP/1.1\r\n" + H("Transfer-Encoding: chunked, gzip").encode() +
        b"\r\n0\r\n\r\n", 400, "bad_request"),
    "transfer-encoding chunked then gzip": (
        b"POST /check HTTP/1.1\r\n" +
        H("Transfer-Encoding: chunked", "Transfer-Encoding: gzip").encode() + b"\r\n0\r\n\r\n",
        400, "bad_request"),
    "transfer-encoding chunked twice": (
        b"POST /check HTTP/1.1\r\n" + H("Transfer-Encoding: chunked, chunked").encode() +
        b"\r\n0\r\n\r\n", 400, "bad_request"),
    "transfer-encoding gzip, chunked": (
        b"POST /check HTTP/1.1\r\n" + H("Transfer-Encoding: gzip, chunked").encode() +
        b"\r\n0\r\n\r\n", 501, "not_implemented"),
    "transfer-encoding then content-length": (
        b"POST /check HTTP/1.1\r\n" +
        H("Transfer-Encoding: chunked", "Content-Length: 5").encode() + b"\r\n0\r\n\r\n",
        400, "bad_request"),
    "content-length 0 and transfer-encoding": (
        b"POST /check HTTP/1.1\r\n" +
        H("Content-Length: 0", "Transfer-Encoding: chunked").encode() + b"\r\n0\r\n\r\n",
        400, "bad_request"),
    "two different content-lengths": (
        b"POST /check HTTP/1.1\r\n" + H("Content-Length: 5", "Content-Length: 6").encode() +
        b"\r\nhello!", 400, "bad_request"),
    "content-length list": (b"POST /check HTTP/1.1\r\n" + H("Content-Length: 5, 5").encode() +
                            b"\r\nhello", 400, "bad_request"),
    "chunk size over 64 bits": (
        b"POST /check HTTP/1.1\r\n" + H("Transfer-Encoding: chunked").encode() +
        b"\r\nffffffffffffffffff\r\nhello\r\n0\r\n\r\n", 400, "bad_request"),
    "chunk size 2^64-1": (
        b"POST /check HTTP/1.1\r\n" + H("Transfer-Encoding: chunked").encode() +
        b"\r\nffffffffffffffff\r\nhello\r\n0\r\n\r\n", 413, "body_too_large"),
    "chunk longer than its size": (
        b"POST /check HTTP/1.1\r\n" + H("Transfer-Encoding: chunked").encode() +
        b"\r\n3\r\nhello\r\n0\r\n\r\n", 400, "bad_request"),
    "bare chunk extension": (
        b"POST /check HTTP/1.1\r\n" + H("Transfer-Encoding: chunked").encode() +
        b"\r\n5;\r\nhello\r\n0\r\n\r\n", 400, "bad_request"),
    # Host must be host[:port].
    "Host with a space": (b"GET /health HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "bad_request"),
    "Host with a slash": (b"GET /health HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, "bad_request"),
    "Host with userinfo": (b"GET /health HTTP/1.1\r\nHost: u@a\r\n\r\n", 400, "bad_request"),
    "Host with a bad port": (b"GET /health HTTP/1.1\r\nHost: a:80x\r\n\r\n", 400, "bad_request"),
    "Host not ASCII": (b"GET /health HTTP/1.1\r\nHost: \xc3\xa9.test\r\n\r\n",
                       400, "bad_request"),
    # Versions: HTTP/1.0 and 1.1 only.
    "HTTP/2 connection preface": (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
                                  505, "http_version_not_supported"),
    "HTTP/2.0 request line": (b"GET /health HTTP/2.0\r\n" + H().encode() + b"\r\n",
                              505, "http_version_not_supported"),
    "HTTP/1.2": (b"GET /health HTTP/1.2\r\n" + H().encode() + b"\r\n",
                 505, "http_version_not_supported"),
    "HTTP/0.9 request": (b"GET /health\r\n\r\n", 505, "http_version_not_supported"),
    "malformed version": (b"GET /health HTTP/1.10\r\n" + H().encode() + b"\r\n",
                          400, "bad_request"),
}


@pytest.mark.parametrize("name", list(BAD_REQUESTS))
@pytest.mark.parametrize("via", ["tcp", "unix"])
def test_protocol_error_gets_json_envelope_and_close(limited, name, via):
    data, status, code = BAD_REQUESTS[name]
    errors_before = limited.metric("rl_http_protocol_errors_total")
    resps, closed, seconds = exchange(limited, data, via=via, timeout=3)
    assert len(resps) == 1, resps
    r = resps[0]
    assert_error(r, status, code)
    assert HEX32.match(r.header("X-Request-ID")), r
    assert r.header("Connection") == "close", r
    assert closed and seconds < 1.5, (closed, seconds)  # answered at once, then closed
    assert limited.metric("rl_http_protocol_errors_total") == errors_before + 1


def test_protocol_error_on_a_kept_alive_connection_after_good_requests(limited):
    s = connect(limited)
    reader = ResponseReader(s)
    s.sendall(request_bytes("GET", "/health") + request_bytes("GET", "/health") +
              b"GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n" +
              request_bytes("GET", "/health"))
    assert [reader.read().status for _ in range(2)] == [200, 200]
    r = reader.read()
    assert_error(r, 400, "bad_request")
    assert r.header("Connection") == "close"
    rest, closed = reader.rest(timeout=2)
    s.close()
    assert (rest, closed) == (b"", True)  # the request after the bad one is not answered


def test_oversized_body_is_refused_without_reading_it(limited):
    """413 comes right after the headers; the body is never waited for."""
    s = connect(limited)
    s.sendall(request_bytes("POST", "/v1/decide", [("Content-Length", "5000")]))
    reader = ResponseReader(s)
    t0 = time.monotonic()
    r = reader.read(timeout=2)
    assert time.monotonic() - t0 < 1.0
    assert_error(r, 413, "body_too_large")
    rest, closed = reader.rest(timeout=2)
    s.close()
    assert (rest, closed) == (b"", True)


def test_body_exactly_at_the_limit_is_accepted(limited):
    body = b'{"api_key":"demo_pro_key_789","cost":1' + b" " * (100 - 39) + b"}"
    assert len(body) == 100
    resps, closed, _ = exchange(limited, request_bytes(
        "POST", "/v1/decide", [("Content-Length", "100"), ("Connection", "close")], body))
    assert len(resps) == 1 and resps[0].status == 200, resps
    assert resps[0].json()["tier"] == "pro"


@pytest.mark.parametrize("data,status,code", [
    (b"GET /" + b"u" * (8 * 1024) + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414, "uri_too_long"),
    (b"GET /health HTTP/1.1\r\nHost: a\r\nX-Big: " + b"b" * (16 * 1024) + b"\r\n\r\n",
     431, "headers_too_large"),
    (b"GET /health HTTP/1.1\r\nHost: a\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(100)) +
     b"\r\n", 431, "headers_too_large"),
    (b"POST /v1/decide HTTP/1.1\r\nHost: a\r\nContent-Length: 65537\r\n\r\n", 413,
     "body_too_large"),
    (b"POST /v1/decide HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n10001\r\n",
     413, "body_too_large"),
], ids=["target over 8 KiB", "header block over 16 KiB", "101 header fields",
        "content-length over 64 KiB", "chunk over 64 KiB"])
def test_the_default_http_limits_hold(rld, data, status, code):
    """http.max_url_bytes 8 KiB, max_header_bytes 16 KiB, max_headers 100, max_body_bytes
    64 KiB, with no setting given: each refused at once with its status, then closed."""
    resps, closed, seconds = exchange(rld, data, timeout=3)
    assert len(resps) == 1, resps
    assert_error(resps[0], status, code)
    assert resps[0].header("Connection") == "close"
    assert closed and seconds < 1.5, (closed, seconds)


def test_requests_just_inside_the_default_limits_are_served(rld):
    target = "/health?" + "q" * (8 * 1024 - len("/health?"))  # exactly 8 KiB
    big = "b" * (16 * 1024 - 200)
    many = [(f"X-H{i}", "v") for i in range(98)]  # with Host and Connection: 100 fields
    for headers, t in (([], target), ([("X-Big", big)], "/health"), (many, "/health")):
        resps, _, _ = exchange(rld, request_bytes("GET", t, headers + [("Connection", "close")]))
        assert [r.status for r in resps] == [200], (t[:20], resps)
    body = b'{"api_key":"demo_pro_key_789"}'
    body += b" " * (64 * 1024 - len(body))
    resps, _, _ = exchange(rld, request_bytes("POST", "/v1/decide", [
        ("Content-Length", str(len(body))), ("Connection", "close")], body))
    assert [r.status for r in resps] == [200], resps


# -- accepted forms -----------------------------------------------------------------------------
@pytest.mark.parametrize("data", [
    b"GET http://rld.test/test HTTP/1.1\r\nHost: rld.test\r\nX-API-Key: demo_free_key_123\r\n\r\n",
    b"GET https://other.test/test?x=1 HTTP/1.1\r\nHost: rld.test\r\n"
    b"X-API-Key: demo_free_key_123\r\n\r\n",
    b"GET /test HTTP/1.0\r\nX-API-Key: demo_free_key_123\r\n\r\n",
    b"GET /test HTTP/1.1\r\nHost: [::1]:8000\r\nX-API-Key: demo_free_key_123\r\n\r\n",
    b"GET /test HTTP/1.1\r\nHost: \r\nX-API-Key: demo_free_key_123\r\n\r\n",
    b"POST /check HTTP/1.1\r\nHost: a\r\nX-API-Key: demo_free_key_123\r\n"
    b"Transfer-Encoding: Chunked\r\n\r\n3;q=\"a b\"\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n",
    b"POST /check HTTP/1.1\r\nHost: a\r\nX-API-Key: demo_free_key_123\r\n"
    b"Content-Length: 003\r\n\r\nabc",
], ids=["absolute-form", "absolute-form naming another host", "HTTP/1.0 without Host",
        "IPv6 literal Host", "empty Host", "chunked with an extension and a trailer",
        "content-length with leading zeros"])
def test_valid_but_unusual_requests_are_served_once(rld, data):
    before = decisions(rld)
    resps, _, _ = exchange(rld, data, timeout=2)
    assert len(resps) == 1, resps
    r = resps[0]
    assert r.status == 200 and r.header("X-RateLimit-Remaining") == "19", r
    if data.startswith(b"GET"):
        assert r.json()["user"] == "demo_free_user", r
    assert decisions(rld) == before + 1


# -- no smuggling -----------------------------------------------------------------------------
SMUGGLED = request_bytes("GET", "/test", [("X-API-Key", FREE)])


def test_request_hidden_in_a_content_length_body_is_never_run(rld):
    before = decisions(rld)
    s = connect(rld)
    s.sendall(request_bytes("POST", "/health", [("Content-Length", str(len(SMUGGLED)))],
                            SMUGGLED) +
              request_bytes("GET", "/health", [("X-Request-ID", "after")]))
    reader = ResponseReader(s)
    first = reader.read()
    assert_error(first, 405, "method_not_allowed")
    second = reader.read()
    assert (second.status, second.header("X-Request-ID")) == (200, "after"), second
    s.sendall(request_bytes("GET", "/health", [("Connection", "close")]))
    assert reader.read().status == 200
    rest, closed = reader.rest(timeout=2)
    s.close()
    assert (rest, closed) == (b"", True)  # exactly three answers, nothing for the hidden one
    assert decisions(rld) == before


def test_request_hidden_in_a_chunked_body_is_never_run(rld):
    before = decisions(rld)
    s = connect(rld)
    s.sendall(request_bytes("POST", "/health", [("Transfer-Encoding", "chunked")],
                            chunked(SMUGGLED, size=7)) +
              request_bytes("GET", "/health", [("Connection", "close"), ("X-Request-ID", "z")]))
    reader = ResponseReader(s)
    assert_error(reader.read(), 405, "method_not_allowed")
    last = reader.read()
    assert (last.status, last.header("X-Request-ID")) == (200, "z"), last
    rest, closed = reader.rest(timeout=2)
    s.close()
    assert (rest, closed) == (b"", True)
    assert decisions(rld) == before


def test_cl_te_desync_attempt_is_refused_and_nothing_runs(rld):
    before = decisions(rld)
    body = b"0\r\n\r\n" + SMUGGLED
    resps, closed, _ = exchange(rld, request_bytes(
        "POST", "/health", [("Content-Length", str(len(body))), ("Transfer-Encoding", "chunked")],
        body))
    assert len(resps) == 1, resps
    assert_error(resps[0], 400, "bad_request")
    assert closed
    assert decisions(rld) == before


HIDDEN_BODY = b'{"status": "DEGRADED", "ttl_seconds": 60, "reason": "smuggled"}'
# Two requests that would leave a trace if rld ever ran them: a decision that consumes quota, and
# an admin change.
HIDDEN = (request_bytes("GET", "/test", [("X-API-Key", FREE)]) +
          request_bytes("POST", "/admin/health", [
              ("X-Admin-Key", ADMIN_KEY), ("Content-Type", "application/json"),
              ("Content-Length", str(len(HIDDEN_BODY)))], HIDDEN_BODY))


def post(*headers):
    return ("POST /check HTTP/1.1\r\nHost: a\r\n" +
            "".join(h + "\r\n" for h in headers) + "\r\n").encode()


SMUGGLING = {
    # name: bytes that hide HIDDEN, the status of the one answer
    "content-length then transfer-encoding": (
        post("Content-Length: 5", "Transfer-Encoding: chunked") + b"0\r\n\r\n" + HIDDEN, 400),
    "transfer-encoding then content-length": (
        post("Transfer-Encoding: chunked", f"Content-Length: {len(HIDDEN) + 5}") +
        b"0\r\n\r\n" + HIDDEN, 400),
    "transfer-encoding folded onto the next line": (
        post("Transfer-Encoding:", " chunked", f"Content-Length: {len(HIDDEN) + 5}") +
        b"0\r\n\r\n" + HIDDEN, 400),
    "content-length folded onto the next line": (
        post("Content-Length: 0", " " + str(len(HIDDEN))) + HIDDEN, 400),
    "transfer-encoding with a space before the colon": (
        post("Transfer-Encoding : chunked", f"Content-Length: {len(HIDDEN) + 5}") +
        b"0\r\n\r\n" + HIDDEN, 400),
    "transfer-encoding chunked, identity": (
        post("Transfer-Encoding: chunked, identity") + b"0\r\n\r\n" + HIDDEN, 400),
    "transfer-encoding chunked, then gzip": (
        post("Transfer-Encoding: chunked", "Transfer-Encoding: gzip") + b"0\r\n\r\n" + HIDDEN,
        400),
    "transfer-encoding xchunked": (
        post("Transfer-Encoding: xchunked", f"Content-Length: {len(HIDDEN)}") + HIDDEN, 400),
    "transfer-encoding gzip, chunked": (
        post("Transfer-Encoding: gzip, chunked") + b"0\r\n\r\n" + HIDDEN, 501),
    "two content-lengths": (
        post("Content-Length: 0", f"Content-Length: {len(HIDDEN)}") + HIDDEN, 400),
    "content-length +0": (post("Content-Length: +0") + HIDDEN, 400),
    "bare LF before transfer-encoding": (
        b"POST /check HTTP/1.1\r\nHost: a\r\nX-A: b\nTransfer-Encoding: chunked\r\n"
        b"Content-Length: " + str(len(HIDDEN) + 5).encode() + b"\r\n\r\n0\r\n\r\n" + HIDDEN, 400),
    "bare CR before transfer-encoding": (
        b"POST /check HTTP/1.1\r\nHost: a\r\nX-A: b\rTransfer-Encoding: chunked\r\n"
        b"Content-Length: " + str(len(HIDDEN) + 5).encode() + b"\r\n\r\n0\r\n\r\n" + HIDDEN, 400),
    "chunk size overflowing 64 bits": (
        post("Transfer-Encoding: chunked") + b"10000000000000000" + b"\r\n" + HIDDEN, 400),
    "chunk longer than announced": (
        post("Transfer-Encoding: chunked") + b"1\r\nab\r\n0\r\n\r\n" + HIDDEN, 400),
    "request in the trailer section": (
        post("Transfer-Encoding: chunked") + b"0\r\n" + HIDDEN, 400),
    "HTTP/2 preface": (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + HIDDEN, 505),
}


@pytest.mark.parametrize("name", list(SMUGGLING))
def test_smuggled_requests_are_never_run(rld, name):
    data, status = SMUGGLING[name]
    before = decisions(rld)
    resps, closed, _ = exchange(rld, data, timeout=3)
    assert len(resps) == 1, resps  # one answer, to the outer request, then the connection closes
    assert_error(resps[0], status)
    assert resps[0].header("Connection") == "close" and closed
    # Neither hidden request ran: no decision made, no quota used, the health state untouched.
    assert decisions(rld) == before
    assert rld.admin("GET", "/admin/health").json()["status"] == "NORMAL"
    r = rld.get("/test", key=FREE)
    assert r.status == 200 and r.headers["x-ratelimit-remaining"] == "19", r


TAIL = request_bytes("GET", "/test", [("X-API-Key", FREE), ("X-Request-ID", "tail")])


def assert_one_answer_per_request(resps, first_status):
    """rld does not switch protocols. It may answer the request and close, or go on with HTTP
    and answer the next request too; it must never answer bytes that were not a request."""
    assert resps and resps[0].status == first_status, resps
    if len(resps) == 1:
        assert resps[0].header("Connection") == "close", resps
    else:
        assert len(resps) == 2, resps
        assert (resps[1].status, resps[1].header("X-Request-ID")) == (200, "tail"), resps


@pytest.mark.parametrize("first,status", [
    (request_bytes("GET", "/health", [("Upgrade", "websocket"), ("Connection", "Upgrade")]), 200),
    (request_bytes("POST", "/health", [("Upgrade", "h2c"),
                                       ("Connection", "Upgrade, HTTP2-Settings"),
                                       ("HTTP2-Settings", "AAMAAABkAAQAAP__"),
                                       ("Content-Length", "0")]), 405),
], ids=["websocket", "h2c"])
def test_upgrade_request_gets_exactly_one_answer(rld, first, status):
    resps, closed, _ = exchange(rld, first + TAIL, timeout=2)
    assert_one_answer_per_request(resps, status)
    # Alone, it is answered once too.
    resps, _, _ = exchange(rld, first, timeout=1)
    assert len(resps) == 1 and resps[0].status == status, resps


def test_h2c_upgrade_requests_in_sequence_like_curl_http2(rld):
    """`curl --http2 http://…/test …/test` asks for h2c on every request of one connection and
    waits for each answer; rld must answer each (or say Connection: close and close)."""
    h2c = [("X-API-Key", FREE), ("Connection", "Upgrade, HTTP2-Settings"), ("Upgrade", "h2c"),
           ("HTTP2-Settings", "AAMAAABkAAQCAAAAAAIAAAAA")]
    s = connect(rld)
    reader = ResponseReader(s)
    for i in range(3):
        s.sendall(request_bytes("GET", "/test", h2c + [("X-Request-ID", f"h2c-{i}")]))
        r = reader.read()
        assert (r.status, r.header("X-Request-ID")) == (200, f"h2c-{i}"), r
        assert r.header("X-RateLimit-Remaining") == str(19 - i), r
        if r.header("Connection") == "close":
            rest, closed = reader.rest(timeout=2)
            assert (rest, closed) == (b"", True)
            s.close()
            s = connect(rld)
            reader = ResponseReader(s)
    s.close()


def test_connect_request_gets_exactly_one_answer(rld):
    resps, closed, _ = exchange(rld, b"CONNECT a.test:443 HTTP/1.1\r\nHost: a.test:443\r\n\r\n" +
                                TAIL, timeout=2)
    assert resps and resps[0].status in (400, 404, 405, 501), resps
    assert_one_answer_per_request(resps, resps[0].status)


# -- routing ----------------------------------------------------------------------------------
def test_unknown_route_is_404_and_the_connection_stays_open(rld):
    s = connect(rld)
    reader = ResponseReader(s)
    s.sendall(request_bytes("GET", "/nope/deeper?x=1", [("X-Request-ID", "r404")]))
    r = reader.read()
    doc = assert_error(r, 404, "not_found")
    assert doc["request_id"] == "r404" and r.header("Connection") is None
    assert "/nope/deeper" in doc["error"]["message"]
    s.sendall(request_bytes("GET", "/health"))
    assert reader.read().body == HEALTH_BODY
    s.close()


@pytest.mark.parametrize("method,path,allow", [
    ("POST", "/health", "GET, HEAD"),
    ("DELETE", "/test", "GET, HEAD"),
    ("PUT", "/ready", "GET, HEAD"),
    ("POST", "/metrics", "GET, HEAD"),
    ("GET", "/v1/decide", "POST"),
])
def test_wrong_method_is_405_with_allow(rld, method, path, allow):
    s = connect(rld)
    reader = ResponseReader(s)
    s.sendall(request_bytes(method, path, [("Content-Length", "0")]))
    r = reader.read()
    doc = assert_error(r, 405, "method_not_allowed")
    assert r.header("Allow") == allow, r
    assert method in doc["error"]["message"] and path in doc["error"]["message"]
    s.sendall(request_bytes("GET", "/health"))  # still open
    assert reader.read().status == 200
    s.close()


@pytest.mark.parametrize("path", ["/health", "/ready", "/metrics"])
def test_head_has_content_length_but_no_body(rld, path):
    s = connect(rld)
    reader = ResponseReader(s)
    s.sendall(request_bytes("GET", path))
    get = reader.read()
    s.sendall(request_bytes("HEAD", path) +
              request_bytes("GET", "/health", [("X-Request-ID", "n")]))
    head = reader.read(head=True)
    after = reader.read()  # parses only if HEAD sent no body bytes
    s.close()
    assert head.status == 200 and get.status == 200
    assert head.body == ""
    assert head.header("Content-Type") == get.header("Content-Type")
    if path != "/metrics":  # the metrics text changes between scrapes
        assert head.header("Content-Length") == str(len(get.body.encode()))
    else:
        assert int(head.header("Content-Length")) > 0
    assert (after.status, after.header("X-Request-ID"), after.body) == (200, "n", HEALTH_BODY)


def test_expect_100_continue_on_decide(rld):
    body = b'{"api_key": "demo_free_key_123", "cost": 1}'
    s = connect(rld)
    reader = ResponseReader(s)
    s.sendall(request_bytes("POST", "/v1/decide",
                            [("Content-Type", "application/json"), ("Expect", "100-continue"),
                             ("Content-Length", str(len(body))), ("X-Request-ID", "c100")]))
    interim = reader.read(allow_interim=True, timeout=2)
    assert interim.raw == b"HTTP/1.1 100 Continue\r\n\r\n"
    s.sendall(body)
    r = reader.read()
    assert (r.status, r.header("X-Request-ID")) == (200, "c100"), r
    doc = r.json()
    assert {k: doc[k] for k in ("allowed", "status", "limit", "remaining", "tier", "user",
                                "health")} == {
        "allowed": True, "status": 200, "limit": 20, "remaining": 19, "tier": "free",
        "user": "demo_free_user", "health": "NORMAL"}
    assert isinstance(doc["reset"], int) and doc["reset"] >= int(time.time())
    assert r.header("X-RateLimit-Remaining") == "19"
    # No interim answer without Expect.
    s.sendall(request_bytes("POST", "/v1/decide", [("Content-Length", str(len(body)))], body))
    r2 = reader.read(allow_interim=True)
    assert r2.status == 200 and r2.json()["remaining"] == 18
    s.close()


# -- /check forward-auth ------------------------------------------------------------------------
def check(rld, key=None, query="", headers=(), method="GET", conn=None):
    h = list(headers)
    if key is not None:
        h.append(("X-API-Key", key))
    s = conn or connect(rld)
    s.sendall(request_bytes(method, "/check" + query, h + [("Content-Length", "0")]
                            if method in ("POST", "PUT", "PATCH") else h))
    r = ResponseReader(s).read(head=(method == "HEAD"))
    if conn is None:
        s.close()
    return r


def assert_empty_check(r, status):
    assert r.status == status, r
    assert r.body == "" and r.header("Content-Length") == "0", r
    assert HEX32.match(r.header("X-Request-ID") or ""), r


def test_check_allows_with_rate_headers_then_429(rld):
    for i in range(20):
        r = check(rld, FREE)
        assert_empty_check(r, 200)
        assert r.header("X-RateLimit-Limit") == "20"
        assert r.header("X-RateLimit-Remaining") == str(19 - i)
        assert int(r.header("X-RateLimit-Reset")) >= int(time.time())
        assert r.header("Retry-After") is None
        assert r.header("RateLimit-Policy") == '"free";q=20;w=60'
        assert re.fullmatch(r'"free";r=%d;t=\d+' % (19 - i), r.header("RateLimit")), r
    r = check(rld, FREE)
    assert_empty_check(r, 429)
    assert r.header("X-RateLimit-Limit") == "20" and r.header("X-RateLimit-Remaining") == "0"
    # Sliding window: the wait can run past this window, by up to window/limit (3 s) more.
    assert 1 <= int(r.header("Retry-After")) <= 63
    # deny_status turns the 429 into 403, with the same headers.
    r = check(rld, FREE, "?deny_status=403")
    assert_empty_check(r, 403)
    assert r.header("X-RateLimit-Remaining") == "0" and int(r.header("Retry-After")) >= 1


def test_check_missing_or_unknown_key_is_401_even_with_deny_status(rld):
    for key in (None, "sk_unknown_key_0123456789abcdef"):
        for query in ("", "?deny_status=403"):
            r = check(rld, key, query)
            assert_empty_check(r, 401)
            assert r.header("X-RateLimit-Remaining") is None


@pytest.mark.parametrize("query", ["?deny_status=abc", "?deny_status=200", "?deny_status=500",
                                   "?deny_status=", "?deny_status=4030", "?deny_status=-403"])
def test_check_invalid_deny_status_is_400(rld, query):
    r = check(rld, PRO, query)
    doc = assert_error(r, 400, "bad_request")
    assert "deny_status" in doc["error"]["message"]
    assert r.header("Connection") is None  # not a protocol error
    # Nothing was consumed.
    assert check(rld, PRO).header("X-RateLimit-Remaining") == "149"


@pytest.mark.parametrize("header", ["X-Original-URI", "X-Forwarded-Uri"])
def test_check_excluded_original_paths_pass_without_consuming(make_rld, header):
    # The proxy (here trusted as 127.0.0.1) names the original path in the configured header.
    rld = make_rld(settings={"http": {"excluded_paths": ["/health", "/static/*"],
                                      "trusted_proxies": ["127.0.0.1"],
                                      "original_uri_header": header}})
    before = decisions(rld)
    for uri in ("/health", "/health?probe=1", "/static/app.css", "/static/a/b.js?v=2"):
        r = check(rld, None, headers=[(header, uri)])  # no key needed
        assert_empty_check(r, 200)
        assert r.header("X-RateLimit-Limit") is None
        r = check(rld, FREE, headers=[(header, uri)])
        assert_empty_check(r, 200)
    assert decisions(rld) == before
    # Not excluded: "/static" itself, look-alikes, and paths only *containing* an excluded one.
    for uri in ("/static", "/staticx/a", "/health/x", "/api/health", "/HEALTH"):
        r = check(rld, None, headers=[(header, uri)])
        assert_empty_check(r, 401)
    r = check(rld, FREE, headers=[(header, "/api/data")])
    assert_empty_check(r, 200)
    assert r.header("X-RateLimit-Remaining") == "19"  # the excluded ones consumed nothing


def test_check_ignores_the_original_path_from_an_untrusted_peer(make_rld):
    # 127.0.0.1 is not a trusted proxy here: a client naming an excluded path gets no pass,
    # neither for a missing key nor past a block.
    rld = make_rld(settings={"http": {"excluded_paths": ["/health"]},
                             "security": {"max_invalid_attempts": 2}})
    statuses = [check(rld, None, headers=[("X-Original-URI", "/health")]).status
                for _ in range(4)]
    assert statuses == [401, 401, 429, 429]


def test_check_only_the_configured_header_names_the_original_path(make_rld):
    rld = make_rld(settings={"http": {"excluded_paths": ["/health"],
                                      "original_uri_header": "X-Forwarded-Uri"}})
    # Over the (trusted) Unix socket: X-Original-URI, not the configured header, is ignored.
    r = check(rld, None, headers=[("X-Original-URI", "/health")], conn=connect(rld, "unix"))
    assert_empty_check(r, 401)
    r = check(rld, None, headers=[("X-Forwarded-Uri", "/health")], conn=connect(rld, "unix"))
    assert_empty_check(r, 200)


@pytest.mark.parametrize("uri", ["/static/../api", "/static//../api", "/static/./x",
                                 "/static/%2e%2e/api", "/static/..%2fapi", "/static/..\\api",
                                 "/static/..;/api", "/static//x"])
def test_check_never_excludes_a_path_a_backend_could_resolve_elsewhere(make_rld, uri):
    rld = make_rld(settings={"http": {"excluded_paths": ["/static/*"]}})
    r = check(rld, None, headers=[("X-Original-URI", uri)], conn=connect(rld, "unix"))
    assert_empty_check(r, 401)


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_check_accepts_any_method(rld, method):
    r = check(rld, PRO, method=method)
    assert r.status == 200, r
    assert r.header("X-RateLimit-Remaining") == "149"
    assert r.body == ""
    r = check(rld, None, method=method)
    assert r.status == 401, r


# -- client IP from X-Forwarded-For -------------------------------------------------------------
def missing_key_from(rld, xff, via, n=1, extra=()):
    statuses = []
    s = connect(rld, via)
    reader = ResponseReader(s)
    for _ in range(n):
        h = list(extra) + ([("X-Forwarded-For", xff)] if xff else [])
        s.sendall(request_bytes("GET", "/test", h))
        statuses.append(reader.read().status)
    s.close()
    return statuses


def test_unix_socket_trusts_x_forwarded_for(rld):
    # 10 invalid attempts are answered 401; the 11th blocks the client named by XFF.
    assert missing_key_from(rld, "203.0.113.7", "unix", 10) == [401] * 10
    assert missing_key_from(rld, "203.0.113.7", "unix", 1) == [429]
    alert = rld.wait_for_event("security_alert")[-1]
    assert alert["client"] == "203.0.113.7", alert
    # Other clients behind the same socket are not blocked.
    assert missing_key_from(rld, "203.0.113.8", "unix", 1) == [401]
    assert rld.get("/test", key=FREE, via="unix",
                   headers={"X-Forwarded-For": "203.0.113.8"}).status == 200
    blocked = rld.get("/test", key=FREE, via="unix", headers={"X-Forwarded-For": "203.0.113.7"})
    assert blocked.status == 429 and int(blocked.headers["retry-after"]) > 800, blocked
    assert blocked.json()["error"]["code"] == "client_blocked"
    # X-Real-IP is believed too when there is no X-Forwarded-For.
    assert rld.get("/test", key=FREE, via="unix",
                   headers={"X-Real-IP": "203.0.113.7"}).status == 429
    blocks = rld.admin("GET", "/admin/blocks").json()["blocks"]
    assert [b["client"] for b in blocks] == ["203.0.113.7"]


def test_client_ip_header_x_real_ip_ignores_a_forwarded_for_the_client_sent(make_rld):
    # A proxy that sets only X-Real-IP passes the client's own X-Forwarded-For through:
    # with client_ip_header = "X-Real-IP", rld believes only the header the proxy set.
    rld = make_rld(settings={"http": {"client_ip_header": "X-Real-IP"},
                             "security": {"max_invalid_attempts": 2}})
    statuses = []
    for i in range(4):
        s = connect(rld, "unix")
        s.sendall(request_bytes("GET", "/test", [("X-Real-IP", "10.7.7.7"),
                                                 ("X-Forwarded-For", f"10.8.8.{i}")]))
        statuses.append(ResponseReader(s).read().status)
        s.close()
    assert statuses == [401, 401, 429, 429]
    blocks = [b["client"] for b in rld.admin("GET", "/admin/blocks", via="unix").json()["blocks"]]
    assert blocks == ["10.7.7.7"]


def test_tcp_peer_not_in_trusted_proxies_cannot_choose_its_ip(rld):
    # Each attempt claims another address; all of them count against 127.0.0.1.
    got = [missing_key_from(rld, f"198.51.100.{i}", "tcp", 1)[0] for i in range(1, 12)]
    assert got == [401] * 10 + [429]
    assert rld.wait_for_event("security_alert")[-1]["client"] == "127.0.0.1"
    r = rld.get("/test", key=FREE, headers={"X-Forwarded-For": "198.51.100.99"})
    assert r.status == 429 and r.json()["error"]["code"] == "client_blocked", r
    r = rld.get("/test", key=FREE, headers={"X-Real-IP": "198.51.100.98"})
    assert r.status == 429, r
    # The Unix socket is a different client ("::"), so it is not blocked.
    assert rld.get("/test", key=FREE, via="unix").status == 200


def test_trusted_proxy_x_forwarded_for_is_read_right_to_left(make_rld):
    rld = make_rld(settings={"http": {"trusted_proxies": ["127.0.0.1", "10.0.0.0/8"]}})
    # The left-most entries are client-controlled and change every time; the right-most
    # untrusted hop (198.51.100.9, after skipping the trusted 10.1.2.3) is the client.
    got = [missing_key_from(rld, f"6.6.6.{i}, 198.51.100.9, 10.1.2.3", "tcp", 1)[0]
           for i in range(11)]
    assert got == [401] * 10 + [429]
    assert rld.wait_for_event("security_alert")[-1]["client"] == "198.51.100.9"
    for xff, status in [("198.51.100.9", 429),
                        ("1.1.1.1, 198.51.100.9", 429),
                        ("198.51.100.9, 198.51.100.10", 200),
                        ("198.51.100.10", 200),
                        ("10.0.0.1, 10.0.0.2", 200)]:  # all trusted: the left-most hop
        r = rld.get("/test", key=PRO, headers={"X-Forwarded-For": xff})
        assert r.status == status, (xff, r)
    # Several X-Forwarded-For headers form one list, the last header being the closest hop.
    resps, _, _ = exchange(rld, request_bytes("GET", "/test", [
        ("X-API-Key", PRO), ("X-Forwarded-For", "198.51.100.9"),
        ("X-Forwarded-For", "10.9.9.9"), ("Connection", "close")]))
    assert [r.status for r in resps] == [429], resps
    # Without a header the proxy itself is the client, and it is not blocked.
    assert rld.get("/test", key=PRO).status == 200

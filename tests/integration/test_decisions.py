"""The decision flow of DESIGN §3 seen from outside: headers and their values, the error
envelope, 401 for missing/malformed/unknown keys, IP blocking after repeated invalid keys,
POST /v1/decide (cost, peek, trusted "ip"), per-user counters, tier moves, disabled users,
revoked keys, metrics and the per-decision debug log."""
import math
import time

import pytest

from helpers_decisions import (REQUEST_ID, avoid_window_edge, create_user_with_key, decide,
                               error_of, rate_headers, rl_key, xff)
from rld_harness import KEYS, metric, parse_metrics

FREE = KEYS["free"]
WINDOW = 60


def int_header(resp, name):
    value = resp.headers.get(name)
    assert value is not None and value.isdigit(), f"{name}: {value!r} in {resp}"
    return int(value)


def check_rate_headers(resp, tier, limit, remaining, window=WINDOW, ietf=True):
    now = time.time()
    assert int_header(resp, "x-ratelimit-limit") == limit, resp
    assert int_header(resp, "x-ratelimit-remaining") == remaining, resp
    reset = int_header(resp, "x-ratelimit-reset")
    assert now < reset <= now + 2 * window + 1, (reset, now, resp)
    if ietf:
        assert resp.headers.get("ratelimit-policy") == f'"{tier}";q={limit};w={window}', resp
        value = resp.headers.get("ratelimit", "")
        prefix = f'"{tier}";r={remaining};t='
        assert value.startswith(prefix), resp
        t = int(value[len(prefix):])
        assert abs(t - (reset - now)) <= 1.5, (t, reset, now)
    else:
        assert "ratelimit-policy" not in resp.headers and "ratelimit" not in resp.headers, resp
    return reset


# ---------------------------------------------------------------------------- 200 and 429 --
@pytest.mark.parametrize("via", ["tcp", "unix"])
def test_allowed_responses_carry_exact_rate_headers_and_body(rld, via):
    avoid_window_edge()
    conn = rld.connection(via)
    ids = set()
    for expected_remaining in (19, 18, 17, 16):
        r = rld.get("/test", key=FREE, conn=conn)
        assert r.status == 200, r
        check_rate_headers(r, "free", 20, expected_remaining)
        rid = r.headers.get("x-request-id")
        assert rid and REQUEST_ID.match(rid), r
        ids.add(rid)
        assert r.headers["content-type"].startswith("application/json"), r
        assert r.json() == {"message": r.json()["message"], "user": "demo_free_user",
                            "tier": "free", "request_id": rid}
        assert isinstance(r.json()["message"], str) and r.json()["message"]
    conn.close()
    assert len(ids) == 4, "every response needs its own request id"


def test_pro_tier_headers_use_its_own_limit(rld):
    avoid_window_edge()
    r = rld.get("/test", key=KEYS["pro"])
    assert r.status == 200, r
    check_rate_headers(r, "pro", 150, 149)
    r = rld.get("/test", key=KEYS["enterprise"])
    check_rate_headers(r, "enterprise", 1000, 999)
    assert r.json()["user"] == "demo_enterprise_user" and r.json()["tier"] == "enterprise"


def test_limited_response_has_headers_retry_after_and_error_envelope(rld):
    avoid_window_edge()
    conn = rld.connection()
    for _ in range(20):
        assert rld.get("/test", key=FREE, conn=conn).status == 200
    r = rld.get("/test", key=FREE, conn=conn)
    now = time.time()
    assert r.status == 429, r
    reset = check_rate_headers(r, "free", 20, 0)
    assert error_of(r) == "rate_limited"
    retry = int_header(r, "retry-after")
    assert 1 <= retry <= reset - now + 1, (retry, reset, now)
    # Sliding window (DESIGN §6): all 20 requests sit in the current window, so the next one
    # fits once the window has rolled and the old count has decayed by one request's worth,
    # i.e. window/20 = 3 s into the next window.
    expected = math.ceil((WINDOW - now % WINDOW) + WINDOW / 20)
    assert abs(retry - expected) <= 1, (retry, expected)
    # Rejected requests consume nothing: still 0 remaining, still 429, same limit.
    r2 = rld.get("/test", key=FREE, conn=conn)
    assert r2.status == 429 and r2.headers["x-ratelimit-remaining"] == "0", r2
    assert r2.headers["x-request-id"] != r.headers["x-request-id"]
    conn.close()


def test_client_request_id_is_echoed_when_sane_and_replaced_otherwise(rld):
    r = rld.get("/test", key=FREE, headers={"X-Request-ID": "trace-abc_123:4.5"})
    assert r.headers["x-request-id"] == "trace-abc_123:4.5" and r.json()["request_id"] == \
        "trace-abc_123:4.5", r
    for bad in ("has space", "x" * 129, "semi;colon", '"quoted"'):
        r = rld.get("/test", key=FREE, headers={"X-Request-ID": bad})
        assert r.status == 200, r
        rid = r.headers["x-request-id"]
        assert rid != bad and REQUEST_ID.match(rid), (bad, r)
        assert r.json()["request_id"] == rid
    # Errors carry the client's id too.
    r = rld.get("/test", headers={"X-Request-ID": "err-42"})
    assert r.status == 401 and r.headers["x-request-id"] == "err-42"
    assert r.json()["request_id"] == "err-42"


def test_ietf_headers_can_be_turned_off(make_rld):
    rld = make_rld(settings={"http": {"ietf_headers": False}})
    avoid_window_edge()
    conn = rld.connection()
    for i in range(20):
        r = rld.get("/test", key=FREE, conn=conn)
        assert r.status == 200
        check_rate_headers(r, "free", 20, 19 - i, ietf=False)
    r = rld.get("/test", key=FREE, conn=conn)
    conn.close()
    assert r.status == 429
    check_rate_headers(r, "free", 20, 0, ietf=False)
    assert int_header(r, "retry-after") >= 1


# ---------------------------------------------------------------------------------- 401 --
MALFORMED = ["x", "has space", "a" * 300, "short", "bad!chars$", "ключ-ключ-ключ",
             rl_key("B" * 32, good_checksum=False), "rl_tooshort"]


@pytest.mark.parametrize("headers,code", [
    ({}, "missing_api_key"),
    ({"X-API-Key": ""}, "missing_api_key"),
    ({"Authorization": "Basic dXNlcjpwYXNz"}, "missing_api_key"),
    ({"X-API-Key": "unknown_but_well_formed_key"}, "invalid_api_key"),
    ({"X-API-Key": rl_key("C" * 32)}, "invalid_api_key"),  # valid checksum, not issued
    ({"Authorization": "Bearer unknown_but_well_formed_key"}, "invalid_api_key"),
    ({"X-API-Key": "k" * 8}, "invalid_api_key"),      # length bounds: 8..256
    ({"X-API-Key": "k" * 256}, "invalid_api_key"),
    ({"X-API-Key": "k" * 7}, "malformed_api_key"),
    ({"X-API-Key": "k" * 257}, "malformed_api_key"),
] + [({"X-API-Key": k}, "malformed_api_key") for k in MALFORMED
     if all(ord(c) < 128 for c in k)] + [
    ({"Authorization": "Bearer has!bang"}, "malformed_api_key"),
], ids=lambda v: str(v)[:40])
def test_invalid_keys_get_401_with_code_and_no_rate_headers(rld, headers, code):
    r = rld.get("/test", headers=headers)
    assert r.status == 401, r
    assert error_of(r) == code, r
    assert REQUEST_ID.match(r.headers["x-request-id"]), r
    assert rate_headers(r) == {}, r
    assert "retry-after" not in r.headers, r


def test_non_ascii_key_is_malformed(rld):
    # http.client cannot send raw UTF-8 header values: send the bytes ourselves.
    raw = ("GET /test HTTP/1.1\r\nHost: x\r\nX-API-Key: ").encode() + \
        "ключ-ключ-ключ".encode() + b"\r\nConnection: close\r\n\r\n"
    out = rld.raw(raw)
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 401"), out
    assert b'"malformed_api_key"' in body, out


def test_bearer_token_is_an_alternative_to_x_api_key(rld):
    for auth in (f"Bearer {FREE}", f"bearer {FREE}", f"BEARER   {FREE}  "):
        r = rld.get("/test", headers={"Authorization": auth})
        assert r.status == 200, (auth, r)
        assert r.json()["user"] == "demo_free_user"
    assert rld.get("/test", key=FREE).headers["x-ratelimit-remaining"] == "16"


# ------------------------------------------------------------------------------ blocking --
def test_repeated_invalid_keys_block_the_client_and_admin_can_unblock(rld):
    conn = rld.connection()
    invalid = [{}, {"X-API-Key": "x"}, {"X-API-Key": "not_a_real_key_1"},
               {"X-API-Key": rl_key("D" * 32, good_checksum=False)},
               {"Authorization": "Bearer not_a_real_key_2"}]
    for i in range(10):
        r = rld.get("/test", headers=invalid[i % len(invalid)], conn=conn)
        assert r.status == 401, (i, r)
    r = rld.get("/test", headers={"X-API-Key": "not_a_real_key_3"}, conn=conn)
    assert r.status == 429, r
    assert error_of(r) == "client_blocked"
    retry = int_header(r, "retry-after")
    assert 895 <= retry <= 900, r
    assert not any(k.startswith("x-ratelimit") for k in r.headers), r
    # Now even a valid key from the same client is refused, without touching its quota.
    for _ in range(3):
        r = rld.get("/test", key=FREE, conn=conn)
        assert r.status == 429 and error_of(r) == "client_blocked", r
        assert 895 <= int_header(r, "retry-after") <= 900
    r = decide(rld, {"api_key": FREE})
    assert r.json()["allowed"] is False and r.json()["status"] == 429, r
    conn.close()

    # Another client (Unix socket, trusted X-Forwarded-For) is unaffected.
    r = rld.get("/test", headers=xff("10.20.30.40", FREE), via="unix")
    assert r.status == 200, r
    assert r.headers["x-ratelimit-remaining"] == "19", r

    events = rld.wait_for_event("security_alert")
    assert len(events) == 1, events
    assert events[0]["kind"] == "client_blocked" and events[0]["client"] == "127.0.0.1", events
    assert events[0]["level"] == "warn", events

    r = rld.admin("GET", "/admin/blocks", via="unix")
    assert r.status == 200, r
    blocks = r.json()["blocks"]
    assert [b["client"] for b in blocks] == ["127.0.0.1"], blocks
    assert blocks[0]["expires_at"] and blocks[0]["reason"], blocks

    samples = parse_metrics(rld.metrics())
    assert metric(samples, "rl_security_events_total", kind="client_blocked") == 1
    assert metric(samples, "rl_security_events_total", kind="blocked_request") == 4

    r = rld.admin("DELETE", "/admin/blocks/127.0.0.1", via="unix")
    assert r.status == 204, r
    assert r.body == ""
    r = rld.get("/test", key=FREE)
    assert r.status == 200, r
    assert r.headers["x-ratelimit-remaining"] == "18", r
    assert rld.admin("GET", "/admin/blocks", via="unix").json()["blocks"] == []
    r = rld.admin("DELETE", "/admin/blocks/127.0.0.1", via="unix")
    assert r.status == 404 and error_of(r) == "not_found", r
    # The attempt count was cleared with the block: 10 more 401s before the next block.
    for i in range(10):
        assert rld.get("/test", headers={"X-API-Key": "x"}).status == 401, i
    assert rld.get("/test", headers={"X-API-Key": "x"}).status == 429

    log = rld.log_text()
    for secret in list(KEYS.values()) + ["not_a_real_key_1", "not_a_real_key_2",
                                         "not_a_real_key_3", rl_key("D" * 32, False)]:
        assert secret not in log, f"API key {secret!r} leaked into the log"


def test_forwarded_for_is_ignored_from_untrusted_tcp_peers(rld):
    # Each request claims another client, but TCP peers are not trusted by default: all ten
    # count against 127.0.0.1, and the 11th is refused.
    for i in range(10):
        r = rld.get("/test", headers=xff(f"10.0.0.{i + 1}", "wrong_key_value"))
        assert r.status == 401, r
    r = rld.get("/test", headers=xff("10.0.0.11", "wrong_key_value"))
    assert r.status == 429 and error_of(r) == "client_blocked", r
    r = rld.get("/test", headers=xff("10.0.0.99", FREE))
    assert r.status == 429 and error_of(r) == "client_blocked", r
    blocks = rld.admin("GET", "/admin/blocks", via="unix").json()["blocks"]
    assert [b["client"] for b in blocks] == ["127.0.0.1"], blocks


def test_blocks_are_per_client_behind_the_unix_socket(rld):
    for _ in range(11):
        r = rld.get("/test", headers=xff("192.0.2.7", "wrong_key_value"), via="unix")
    assert r.status == 429 and error_of(r) == "client_blocked", r
    assert rld.get("/test", headers=xff("192.0.2.7", FREE), via="unix").status == 429
    # Rightmost untrusted hop is the client: "spoof, 192.0.2.7" is still 192.0.2.7.
    assert rld.get("/test", headers=xff("198.51.100.1, 192.0.2.7", FREE),
                   via="unix").status == 429
    assert rld.get("/test", headers=xff("192.0.2.8", FREE), via="unix").status == 200
    assert rld.get("/test", headers={"X-Real-IP": "192.0.2.7", "X-API-Key": FREE},
                   via="unix").status == 429
    assert rld.get("/test", key=FREE).status == 200  # TCP client 127.0.0.1
    rld.wait_for_event("security_alert")
    time.sleep(0.1)  # a second alert, if any, would be logged by now
    alerts = rld.log_events("security_alert")
    assert [(e["kind"], e["client"]) for e in alerts] == [("client_blocked", "192.0.2.7")]
    r = rld.admin("DELETE", "/admin/blocks/192.0.2.7")
    assert r.status == 204, r
    assert rld.get("/test", headers=xff("192.0.2.7", FREE), via="unix").status == 200


def test_ipv6_clients_are_blocked_per_64(rld):
    for i in range(11):
        r = rld.get("/test", headers=xff(f"2001:db8:1:2::{i + 1:x}", "wrong_key_value"),
                    via="unix")
    assert r.status == 429 and error_of(r) == "client_blocked", r
    assert rld.get("/test", headers=xff("2001:db8:1:2:ffff::1", FREE), via="unix").status == 429
    assert rld.get("/test", headers=xff("2001:db8:1:3::1", FREE), via="unix").status == 200
    blocks = rld.admin("GET", "/admin/blocks").json()["blocks"]
    assert [b["client"] for b in blocks] == ["2001:db8:1:2::/64"], blocks
    # Unblocking by any address of the /64 works.
    assert rld.admin("DELETE", "/admin/blocks/2001:db8:1:2::abcd").status == 204
    assert rld.get("/test", headers=xff("2001:db8:1:2::1", FREE), via="unix").status == 200


def test_security_settings_are_honoured(make_rld):
    rld = make_rld(settings={"security": {"max_invalid_attempts": 3, "block_seconds": 2,
                                          "invalid_window_seconds": 1}})
    h = xff("203.0.113.5", "wrong_key_value")
    # Attempts older than invalid_window_seconds are forgotten.
    for _ in range(3):
        assert rld.get("/test", headers=h, via="unix").status == 401
    time.sleep(1.2)
    for _ in range(3):
        assert rld.get("/test", headers=h, via="unix").status == 401
    r = rld.get("/test", headers=h, via="unix")
    assert r.status == 429 and error_of(r) == "client_blocked", r
    assert 1 <= int_header(r, "retry-after") <= 2, r
    alert = rld.wait_for_event("security_alert")[0]
    assert alert["client"] == "203.0.113.5" and alert["block_seconds"] == 2, alert
    assert rld.get("/test", headers=xff("203.0.113.5", FREE), via="unix").status == 429
    time.sleep(2.2)
    r = rld.get("/test", headers=xff("203.0.113.5", FREE), via="unix")
    assert r.status == 200, "the block must end after block_seconds: %r" % (r,)


# ---------------------------------------------------------------------------- /v1/decide --
def test_decide_allowed_and_limited(rld):
    avoid_window_edge()
    r = decide(rld, {"api_key": FREE})
    assert r.status == 200, r
    body = r.json()
    now = time.time()
    assert body["allowed"] is True and body["status"] == 200, body
    assert (body["limit"], body["remaining"], body["tier"], body["user"], body["health"]) == \
        (20, 19, "free", "demo_free_user", "NORMAL"), body
    assert isinstance(body["reset"], int) and now < body["reset"] <= now + 121, body
    assert "retry_after" not in body, body
    assert r.headers["x-ratelimit-remaining"] == "19", r
    for i in range(19):
        assert decide(rld, {"api_key": FREE}).json()["remaining"] == 18 - i
    r = decide(rld, {"api_key": FREE, "cost": 1})
    body = r.json()
    assert body["allowed"] is False and body["status"] == 429, body
    assert body["remaining"] == 0 and body["limit"] == 20, body
    assert isinstance(body["retry_after"], int) and 1 <= body["retry_after"] <= 2 * WINDOW
    # /test and /v1/decide share the user's counter.
    assert rld.get("/test", key=FREE).status == 429


def test_decide_cost(rld):
    avoid_window_edge()
    def d(cost):
        return decide(rld, {"api_key": FREE, "cost": cost}).json()
    assert d(1)["remaining"] == 19
    peek = d(0)
    assert peek["allowed"] is True and peek["remaining"] == 19, peek
    assert d(0)["remaining"] == 19
    five = d(5)
    assert five["allowed"] is True and five["remaining"] == 14, five
    too_much = d(21)
    assert too_much["allowed"] is False and too_much["status"] == 429, too_much
    assert too_much["retry_after"] >= 1
    assert d(0)["remaining"] == 14, "a denied request must consume nothing"
    over_remaining = d(15)
    assert over_remaining["allowed"] is False, over_remaining
    assert d(0)["remaining"] == 14
    exact = d(14)
    assert exact["allowed"] is True and exact["remaining"] == 0, exact
    assert d(1)["allowed"] is False
    assert rld.get("/test", key=FREE).status == 429


def test_decide_invalid_keys_and_disabled_user(rld):
    body = decide(rld, {"api_key": "unknown_but_well_formed"}).json()
    assert body["allowed"] is False and body["status"] == 401, body
    assert body["user"] is None and body["tier"] is None and "retry_after" not in body, body
    body = decide(rld, {"api_key": "x"}).json()
    assert body["allowed"] is False and body["status"] == 401, body
    body = decide(rld, {"api_key": ""}).json()
    assert body["allowed"] is False and body["status"] == 401, body
    assert rld.admin("PATCH", "/admin/users/demo_pro_user", {"disabled": True}).status == 200
    body = decide(rld, {"api_key": KEYS["pro"]}).json()
    assert body["allowed"] is False and body["status"] == 403, body


def test_decide_ip_is_honoured_only_from_trusted_peers(rld):
    # Over TCP (untrusted) an "ip" field is refused outright, and nothing is counted.
    for i in range(12):
        r = decide(rld, {"api_key": "wrong_key_value", "ip": f"10.1.1.{i + 1}"})
        assert r.status == 403 and r.json()["error"]["code"] == "ip_not_allowed", r
    assert rld.get("/test", key=FREE).status == 200
    # Over the Unix socket the caller may speak for a client.
    for _ in range(10):
        assert decide(rld, {"api_key": "wrong_key_value", "ip": "10.2.2.2"},
                      via="unix").json()["status"] == 401
    assert decide(rld, {"api_key": "wrong_key_value", "ip": "10.2.2.2"},
                  via="unix").json()["status"] == 429
    assert decide(rld, {"api_key": FREE, "ip": "10.2.2.2"}, via="unix").json()["status"] == 429
    ok = decide(rld, {"api_key": FREE, "ip": "10.2.2.3"}, via="unix").json()
    assert ok["allowed"] is True and ok["status"] == 200, ok
    ok = decide(rld, {"api_key": FREE, "ip": None}, via="unix",
                headers={"X-Forwarded-For": "10.2.2.4"}).json()
    assert ok["allowed"] is True, ok
    clients = sorted(b["client"] for b in rld.admin("GET", "/admin/blocks",
                                                    via="unix").json()["blocks"])
    assert clients == ["10.2.2.2"], clients


def test_decide_ip_is_refused_from_a_client_relayed_by_a_trusted_proxy(make_rld):
    # Behind a load balancer every request comes from a trusted peer; the caller is the client
    # its X-Forwarded-For names, and an end user must not decide for (or block) another address.
    rld = make_rld(settings={"http": {"trusted_proxies": ["127.0.0.1/32"]}})
    relayed = {"X-Forwarded-For": "198.51.100.7"}
    for i in range(12):
        r = decide(rld, {"api_key": "wrong_key_value", "ip": "203.0.113.77"}, headers=relayed)
        assert r.status == 403 and r.json()["error"]["code"] == "ip_not_allowed", r
    assert rld.admin("GET", "/admin/blocks").json()["blocks"] == []
    # The proxy itself (no forwarding header), and a chain of trusted hops, may still.
    ok = decide(rld, {"api_key": FREE, "ip": "203.0.113.78"}).json()
    assert ok["allowed"] is True, ok
    ok = decide(rld, {"api_key": FREE, "ip": "203.0.113.79"},
                headers={"X-Forwarded-For": "127.0.0.1"}).json()
    assert ok["allowed"] is True, ok


@pytest.mark.parametrize("body,status,code,field", [
    ("{", 400, "invalid_json", None),
    ("not json at all", 400, "invalid_json", None),
    ("", 400, "invalid_json", None),
    ("[1, 2]", 400, "invalid_json", None),
    ("{}", 422, "invalid_field", "api_key"),
    ('{"api_key": 5}', 422, "invalid_field", "api_key"),
    ('{"api_key": null}', 422, "invalid_field", "api_key"),
    ('{"api_key": "demo_free_key_123", "cost": "1"}', 422, "invalid_field", "cost"),
    ('{"api_key": "demo_free_key_123", "cost": -1}', 422, "invalid_field", "cost"),
    ('{"api_key": "demo_free_key_123", "cost": 1.5}', 422, "invalid_field", "cost"),
    ('{"api_key": "demo_free_key_123", "ip": "not-an-ip"}', 422, "invalid_field", "ip"),
    ('{"api_key": "demo_free_key_123", "ip": 17}', 422, "invalid_field", "ip"),
])
def test_decide_rejects_bad_bodies(rld, body, status, code, field):
    r = rld.request("POST", "/v1/decide", headers={"Content-Type": "application/json"},
                    body=body)
    assert r.status == status, r
    assert error_of(r) == code, r
    if field:
        assert field in r.json()["error"]["message"], r
    # Bad bodies are not decisions: nothing was consumed.
    assert decide(rld, {"api_key": FREE, "cost": 0}).json()["remaining"] == 20


def test_decide_only_accepts_post(rld):
    r = rld.get("/v1/decide", key=FREE)
    assert r.status == 405, r
    assert "POST" in r.headers.get("allow", ""), r


# --------------------------------------------------------------- users, tiers and keys --
def test_keys_of_different_users_are_independent(rld):
    avoid_window_edge()
    conn = rld.connection()
    for _ in range(20):
        assert rld.get("/test", key=FREE, conn=conn).status == 200
    assert rld.get("/test", key=FREE, conn=conn).status == 429
    r = rld.get("/test", key=KEYS["pro"], conn=conn)
    assert r.status == 200 and r.headers["x-ratelimit-remaining"] == "149", r
    r = rld.get("/test", key=KEYS["enterprise"], conn=conn)
    assert r.status == 200 and r.headers["x-ratelimit-remaining"] == "999", r
    conn.close()


def test_keys_of_one_user_share_its_counter(rld):
    avoid_window_edge()
    second = rld.admin("POST", "/admin/users/demo_free_user/keys", {"label": "second"})
    assert second.status == 201, second
    other = second.json()["api_key"]
    for i in range(10):
        assert rld.get("/test", key=FREE).headers["x-ratelimit-remaining"] == str(19 - 2 * i)
        r = rld.get("/test", key=other)
        assert r.status == 200 and r.json()["user"] == "demo_free_user", r
        assert r.headers["x-ratelimit-remaining"] == str(18 - 2 * i), r
    assert rld.get("/test", key=other).status == 429
    assert rld.get("/test", key=FREE).status == 429


def test_moving_a_user_to_another_tier_applies_its_limits(rld):
    avoid_window_edge()
    fresh = create_user_with_key(rld, "mover", "free")["api_key"]
    r = rld.admin("PATCH", "/admin/users/mover", {"tier": "enterprise"})
    assert r.status == 200 and r.json()["tier"] == "enterprise", r
    r = rld.get("/test", key=fresh)
    assert r.status == 200 and r.json()["tier"] == "enterprise", r
    check_rate_headers(r, "enterprise", 1000, 999)

    # The demo free user uses 20 of 20, then moves to pro (same 60 s window: one counter per
    # user and tier window, DESIGN §3.6) and gets pro's 150.
    for _ in range(20):
        assert rld.get("/test", key=FREE).status == 200
    assert rld.get("/test", key=FREE).status == 429
    assert rld.admin("PATCH", "/admin/users/demo_free_user", {"tier": "pro"}).status == 200
    r = rld.get("/test", key=FREE)
    assert r.status == 200, r
    assert r.json()["tier"] == "pro", r
    check_rate_headers(r, "pro", 150, 129)
    # And back down: 21 used of free's 20.
    assert rld.admin("PATCH", "/admin/users/demo_free_user", {"tier": "free"}).status == 200
    r = rld.get("/test", key=FREE)
    assert r.status == 429, r
    check_rate_headers(r, "free", 20, 0)


def test_disabled_user_gets_403_and_can_be_enabled_again(rld):
    r = rld.admin("PATCH", "/admin/users/demo_free_user", {"disabled": True})
    assert r.status == 200 and r.json()["disabled"] is True, r
    for _ in range(12):  # 403s are not invalid attempts: no block after 10
        r = rld.get("/test", key=FREE)
        assert r.status == 403, r
        assert error_of(r) == "user_disabled"
        assert rate_headers(r) == {} and "retry-after" not in r.headers, r
    assert rld.admin("GET", "/admin/blocks").json()["blocks"] == []
    assert rld.get("/test", key=KEYS["pro"]).status == 200
    r = rld.admin("PATCH", "/admin/users/demo_free_user", {"disabled": False})
    assert r.status == 200 and r.json()["disabled"] is False, r
    r = rld.get("/test", key=FREE)
    assert r.status == 200 and r.headers["x-ratelimit-remaining"] == "19", r


def test_revoked_key_gets_401(rld):
    issued = create_user_with_key(rld, "revokee", "pro")
    assert rld.get("/test", key=issued["api_key"]).status == 200
    assert rld.admin("DELETE", f"/admin/keys/{issued['key_id']}").status == 204
    r = rld.get("/test", key=issued["api_key"])
    assert r.status == 401 and error_of(r) == "invalid_api_key", r
    # A key from the tier file can be revoked too (its id is listed on the user).
    keys = rld.admin("GET", "/admin/users/demo_pro_user").json()["keys"]
    assert len(keys) == 1, keys
    assert rld.admin("DELETE", f"/admin/keys/{keys[0]['key_id']}").status == 204
    r = rld.get("/test", key=KEYS["pro"])
    assert r.status == 401 and error_of(r) == "invalid_api_key", r


# ------------------------------------------------------------------------------ metrics --
def test_metrics_after_known_traffic(rld):
    avoid_window_edge()
    conn = rld.connection()
    for _ in range(21):
        rld.get("/test", key=FREE, conn=conn)
    for _ in range(3):
        rld.get("/test", key=KEYS["pro"], conn=conn)
    rld.get("/test", conn=conn)                                 # missing
    rld.get("/test", key="x", conn=conn)                        # malformed
    rld.get("/test", key="unknown_but_well_formed", conn=conn)  # unknown
    conn.close()
    r = rld.get("/metrics")
    assert r.status == 200, r
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4"), r
    s = parse_metrics(r.body)
    assert metric(s, "rl_decisions_total", tier="free", result="allowed") == 20
    assert metric(s, "rl_decisions_total", tier="free", result="limited") == 1
    assert metric(s, "rl_decisions_total", tier="pro", result="allowed") == 3
    assert metric(s, "rl_decisions_total", tier="pro", result="limited") == 0
    assert metric(s, "rl_security_events_total", kind="missing_key") == 1
    assert metric(s, "rl_security_events_total", kind="malformed_key") == 1
    assert metric(s, "rl_security_events_total", kind="unknown_key") == 1
    assert metric(s, "rl_security_events_total", kind="client_blocked") == 0
    assert metric(s, "rl_decision_duration_seconds_count") == 27
    assert metric(s, "rl_decision_duration_seconds_bucket", le="+Inf") == 27
    buckets = sorted((float(dict(k[1])["le"]), v) for k, v in s.items()
                     if k[0] == "rl_decision_duration_seconds_bucket")
    assert len(buckets) >= 5 and [v for _, v in buckets] == sorted(v for _, v in buckets)
    assert metric(s, "rl_health_state") == 0
    assert metric(s, "rl_http_connections_open") is not None
    assert metric(s, "rl_http_connections_open") >= 1  # the /metrics request's own connection
    build = [(dict(k[1]), v) for k, v in s.items() if k[0] == "rl_build_info"]
    assert len(build) == 1 and build[0][1] == 1 and build[0][0].get("version"), build
    assert "# TYPE rl_decisions_total counter" in r.body
    assert "# TYPE rl_decision_duration_seconds histogram" in r.body

    assert rld.admin("POST", "/admin/health", {"status": "DEGRADED"}).status == 200
    assert metric(parse_metrics(rld.metrics()), "rl_health_state") == 1


def test_debug_level_logs_one_decision_event_per_decision(make_rld):
    rld = make_rld(log_level="debug")
    avoid_window_edge()
    rld.get("/test", key=FREE)
    rld.get("/test", key=KEYS["pro"])
    rld.get("/test", key="unknown_but_well_formed")
    decide(rld, {"api_key": FREE, "cost": 0})
    events = rld.wait_for_event("rate_limit_decision", count=4)
    time.sleep(0.1)
    events = rld.log_events("rate_limit_decision")
    assert len(events) == 4, events
    got = [(e["user"], e["tier"], e["result"], e["status"]) for e in events]
    assert got[0] == ("demo_free_user", "free", "allowed", 200), got
    assert got[1] == ("demo_pro_user", "pro", "allowed", 200), got
    assert got[2][2:] == ("unknown_key", 401) and not got[2][0], got
    assert got[3] == ("demo_free_user", "free", "allowed", 200), got
    assert all(e["level"] == "debug" for e in events)
    log = rld.log_text()
    for secret in list(KEYS.values()) + ["unknown_but_well_formed"]:
        assert secret not in log, f"API key {secret!r} leaked into the debug log"


def test_info_level_logs_no_decision_events(rld):
    for _ in range(3):
        rld.get("/test", key=FREE)
    rld.get("/test", key="unknown_but_well_formed")
    time.sleep(0.1)
    assert rld.log_events("rate_limit_decision") == []

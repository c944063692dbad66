"""The admin API of DESIGN §4 and issue 2 (§5): authentication and the placeholder key, health
state (TTL, effect on decisions), users, keys (shown once, stored hashed), tiers (validation,
algorithms, shadow mode), usage, percent-encoded path parameters, 404 and 405."""
import datetime
import hashlib
import time

import pytest

from helpers_decisions import (PLACEHOLDER_ADMIN_KEY, avoid_window_edge, create_user_with_key,
                               decide, error_of, is_valid_generated_key, put_tier, statuses)
from raw_http import raw_request
from rld_harness import ADMIN_KEY, KEYS, metric, parse_metrics, wait_until

FREE = KEYS["free"]
TIERS = {
    "free": {"name": "free", "base_limit": 10, "burst_limit": 20, "degraded_limit": 2,
             "window_seconds": 60, "algorithm": "sliding_window", "shadow": False, "on_failure": None},
    "pro": {"name": "pro", "base_limit": 100, "burst_limit": 150, "degraded_limit": 100,
            "window_seconds": 60, "algorithm": "sliding_window", "shadow": False, "on_failure": None},
    "enterprise": {"name": "enterprise", "base_limit": 1000, "burst_limit": 1000,
                   "degraded_limit": 1000, "window_seconds": 60, "algorithm": "sliding_window",
                   "shadow": False, "on_failure": None},
}


def parse_time(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


# ---------------------------------------------------------------------------------- auth --
ADMIN_ROUTES = [("GET", "/admin/health"), ("POST", "/admin/health"), ("GET", "/admin/users"),
                ("POST", "/admin/users"), ("GET", "/admin/users/demo_free_user"),
                ("PATCH", "/admin/users/demo_free_user"),
                ("DELETE", "/admin/users/demo_free_user"),
                ("POST", "/admin/users/demo_free_user/keys"), ("DELETE", "/admin/keys/abc"),
                ("GET", "/admin/tiers"), ("PUT", "/admin/tiers/x"),
                ("GET", "/admin/usage/demo_free_user"), ("GET", "/admin/blocks"),
                ("DELETE", "/admin/blocks/10.0.0.1")]


def test_missing_and_wrong_admin_keys_get_identical_401s(make_rld):
    # Wrong admin keys count as invalid attempts: allow this test's many of them.
    rld = make_rld(settings={"security": {"max_invalid_attempts": 1000}})
    for method, path in ADMIN_ROUTES:
        body = {"status": "DEGRADED"} if method in ("POST", "PUT", "PATCH") else None
        # Parsed leniently from the raw bytes: the framing of these 401s is checked by
        # test_admin_401_is_well_formed_http; here it is their status and body.
        none = raw_request(rld, method, path, body=body)
        wrong = raw_request(rld, method, path, body=body,
                            headers={"X-Admin-Key": ADMIN_KEY + "x"})
        short = raw_request(rld, method, path, body=body, headers={"X-Admin-Key": "t"})
        bearer_wrong = raw_request(rld, method, path, body=body,
                                   headers={"Authorization": "Bearer " + ADMIN_KEY[:-1]})
        for r in (none, wrong, short, bearer_wrong):
            assert r.status == 401, (method, path, r)
            assert error_of(r) == none.json()["error"]["code"], r
            b = r.json()
            assert b["error"] == none.json()["error"], (r, none)
        assert none.json()["request_id"] != wrong.json()["request_id"]
    # Nothing was changed by the refused requests.
    assert rld.admin("GET", "/admin/health").json()["status"] == "NORMAL"
    assert rld.admin("GET", "/admin/users/demo_free_user").status == 200
    # An API key is not an admin key.
    assert raw_request(rld, "GET", "/admin/health", headers={"X-API-Key": FREE}).status == 401


def test_wrong_admin_keys_block_the_client_like_invalid_api_keys(make_rld):
    rld = make_rld(settings={"security": {"max_invalid_attempts": 3, "block_seconds": 600}})
    for _ in range(3):
        r = rld.request("GET", "/admin/health", headers={"X-Admin-Key": "guess"})
        assert r.status == 401, r
    r = rld.request("GET", "/admin/health", headers={"X-Admin-Key": "guess"})
    assert r.status == 429 and r.json()["error"]["code"] == "client_blocked", r
    assert 590 <= int(r.headers["retry-after"]) <= 600, r
    # Blocked means blocked: the right key from the same client is refused too, on every route.
    assert rld.admin("GET", "/admin/health").status == 429
    assert rld.get("/test", key=KEYS["free"]).status == 429
    alert = rld.wait_for_event("security_alert")[-1]
    assert alert["client"] == "127.0.0.1" and alert["last_reason"] == "admin_key_invalid", alert
    assert rld.metric('rl_security_events_total{kind="admin_key_invalid"}') == 4
    # Another client (the Unix socket, as 10.9.9.9) still administers.
    r = rld.request("GET", "/admin/health", via="unix",
                    headers={"X-Admin-Key": rld.admin_key, "X-Forwarded-For": "10.9.9.9"})
    assert r.status == 200, r


@pytest.mark.parametrize("auth", [b"", b"X-Admin-Key: wrong-key\r\n",
                                  b"Authorization: Bearer wrong-key\r\n"])
def test_admin_401_is_well_formed_http(rld, auth):
    """The status line must come first: RFC 9112 §4. Checked on the raw bytes."""
    out = rld.raw(b"GET /admin/health HTTP/1.1\r\nHost: x\r\n" + auth +
                  b"Connection: close\r\n\r\n")
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"HTTP/1.1 401 Unauthorized", out
    assert any(line.lower() == b"www-authenticate: bearer" for line in lines[1:]), out
    assert b'"code":"unauthorized"' in body, out


def test_bearer_admin_key_works(rld):
    r = rld.request("GET", "/admin/health", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert r.status == 200, r
    r = rld.request("GET", "/admin/tiers", headers={"X-Admin-Key": ADMIN_KEY}, via="unix")
    assert r.status == 200, r


def test_empty_admin_key_disables_the_admin_api(make_rld):
    rld = make_rld(admin_key="")
    for method, path in ADMIN_ROUTES:
        for headers in ({}, {"X-Admin-Key": ""}, {"X-Admin-Key": "anything"},
                        {"Authorization": "Bearer "}):
            r = rld.request(method, path, headers=headers)
            assert r.status == 403, (method, path, headers, r)
            assert error_of(r) == "admin_disabled", r
    events = rld.log_events("admin_api_disabled")
    assert len(events) == 1 and events[0]["level"] == "warn" and events[0]["reason"], events
    # Decisions are unaffected.
    assert rld.get("/test", key=FREE).status == 200


def test_placeholder_key_is_accepted_on_loopback_and_unix_listeners(make_rld):
    rld = make_rld(admin_key=PLACEHOLDER_ADMIN_KEY)
    for via in ("tcp", "unix"):
        r = rld.admin("GET", "/admin/health", via=via)
        assert r.status == 200, r
    assert rld.log_events("admin_api_disabled") == []


def test_placeholder_key_is_refused_with_a_non_loopback_listener(make_rld):
    rld = make_rld(admin_key=PLACEHOLDER_ADMIN_KEY,
                   settings={"server": {"listen": ["0.0.0.0:0", "unix:{sock}"]}})
    events = rld.log_events("admin_api_disabled")
    assert len(events) == 1 and events[0]["level"] == "warn", rld.lines
    assert "placeholder" in events[0]["reason"], events
    for via in ("tcp", "unix"):  # tcp: 127.0.0.1 reaches the 0.0.0.0 listener
        r = rld.admin("GET", "/admin/health", via=via)
        assert r.status == 403 and error_of(r) == "admin_disabled", r
        assert rld.get("/test", key=FREE, via=via).status == 200


def test_real_key_works_with_a_non_loopback_listener(make_rld):
    rld = make_rld(settings={"server": {"listen": ["0.0.0.0:0", "unix:{sock}"]}})
    assert rld.admin("GET", "/admin/health").status == 200
    assert rld.log_events("admin_api_disabled") == []


# -------------------------------------------------------------------------------- health --
def test_health_starts_normal_with_nulls(rld):
    r = rld.admin("GET", "/admin/health")
    assert r.status == 200, r
    assert r.json() == {"status": "NORMAL", "updated_by": None, "reason": None,
                        "updated_at": None, "expires_at": None}


def test_degraded_state_is_reported_and_applied_immediately(rld):
    before = time.time()
    r = rld.admin("POST", "/admin/health", {"status": "DEGRADED", "ttl_seconds": 3600,
                                            "updated_by": "ops_team",
                                            "reason": "High CPU usage detected"})
    assert r.status == 200, r
    body = r.json()
    assert set(body) == {"status", "updated_by", "reason", "updated_at", "expires_at"}, body
    assert (body["status"], body["updated_by"], body["reason"]) == \
        ("DEGRADED", "ops_team", "High CPU usage detected"), body
    assert before - 1 <= parse_time(body["updated_at"]) <= time.time() + 1, body
    assert abs(parse_time(body["expires_at"]) - (before + 3600)) <= 2, body
    assert rld.admin("GET", "/admin/health").json() == body

    assert statuses(rld, FREE, 3) == [200, 200, 429]
    r = rld.get("/test", key=KEYS["pro"])
    assert r.headers["x-ratelimit-limit"] == "100", r
    assert r.headers["ratelimit-policy"] == '"pro";q=100;w=60', r
    assert decide(rld, {"api_key": KEYS["enterprise"]}).json()["health"] == "DEGRADED"

    changed = rld.wait_for_event("health_changed")
    assert len(changed) == 1, changed
    e = changed[0]
    assert (e["from"], e["to"], e["updated_by"], e["reason"]) == \
        ("NORMAL", "DEGRADED", "ops_team", "High CPU usage detected"), e
    assert 3598 <= e["ttl_seconds"] <= 3600, e

    r = rld.admin("POST", "/admin/health", {"status": "NORMAL", "updated_by": "ops_team"})
    assert r.status == 200 and r.json()["status"] == "NORMAL" and \
        r.json()["expires_at"] is None, r
    # Back to the burst limit; the 2 already used still count (one counter whatever the state).
    r = rld.get("/test", key=FREE)
    assert r.status == 200 and r.headers["x-ratelimit-limit"] == "20", r
    assert r.headers["x-ratelimit-remaining"] == "17", r
    assert [e["to"] for e in rld.wait_for_event("health_changed", count=2)] == \
        ["DEGRADED", "NORMAL"]
    s = parse_metrics(rld.metrics())
    assert metric(s, "rl_health_changes_total") == 2


def test_health_ttl_expires_back_to_normal(rld):
    start = time.monotonic()
    r = rld.admin("POST", "/admin/health", {"status": "DEGRADED", "ttl_seconds": 1})
    assert r.status == 200 and r.json()["status"] == "DEGRADED", r
    assert statuses(rld, FREE, 3) == [200, 200, 429]
    normal = wait_until(
        lambda: rld.admin("GET", "/admin/health").json()["status"] == "NORMAL", timeout=4)
    assert normal, "DEGRADED with ttl_seconds=1 did not expire within 4 s"
    assert time.monotonic() - start >= 0.9
    r = rld.get("/test", key=FREE)
    assert r.status == 200 and r.headers["x-ratelimit-limit"] == "20", r
    assert rld.admin("GET", "/admin/health").json()["expires_at"] is None
    assert [e["to"] for e in rld.wait_for_event("health_changed", count=2)] == \
        ["DEGRADED", "NORMAL"]


def test_health_ttl_expiry_applies_to_decisions_without_admin_reads(rld):
    assert rld.admin("POST", "/admin/health", {"status": "DEGRADED", "ttl_seconds": 1}).status \
        == 200
    time.sleep(1.3)
    r = rld.get("/test", key=FREE)
    assert r.status == 200 and r.headers["x-ratelimit-limit"] == "20", r


@pytest.mark.parametrize("body,field", [
    ({"status": "BROKEN"}, "status"),
    ({"status": 1}, "status"),
    ({}, "status"),
    ({"status": "DEGRADED", "ttl_seconds": -1}, "ttl_seconds"),
    ({"status": "DEGRADED", "ttl_seconds": "60"}, "ttl_seconds"),
    ({"status": "DEGRADED", "ttl_seconds": 1.5}, "ttl_seconds"),
    ({"status": "DEGRADED", "reason": 5}, "reason"),
    ({"status": "DEGRADED", "updated_by": "x" * 300}, "updated_by"),
])
def test_bad_health_updates_get_422(rld, body, field):
    r = rld.admin("POST", "/admin/health", body)
    assert r.status == 422, r
    assert error_of(r) == "invalid_field" and field in r.json()["error"]["message"], r
    assert rld.admin("GET", "/admin/health").json()["status"] == "NORMAL"


def test_bad_json_gets_400(rld):
    for path, method in (("/admin/health", "POST"), ("/admin/users", "POST"),
                         ("/admin/users/demo_free_user", "PATCH"), ("/admin/tiers/x", "PUT")):
        r = rld.request(method, path, body="{nope",
                        headers={"X-Admin-Key": ADMIN_KEY, "Content-Type": "application/json"})
        assert r.status == 400 and error_of(r) == "invalid_json", (path, r)


# --------------------------------------------------------------------------------- users --
def test_user_lifecycle(rld):
    r = rld.admin("POST", "/admin/users", {"user_id": "new_user_123", "tier": "pro"})
    assert r.status == 201, r
    body = r.json()
    assert (body["user_id"], body["tier"], body["disabled"]) == ("new_user_123", "pro", False)
    assert abs(parse_time(body["created_at"]) - time.time()) <= 2, body

    r = rld.admin("POST", "/admin/users", {"user_id": "new_user_123", "tier": "free"})
    assert r.status == 409 and error_of(r) == "conflict", r
    assert rld.admin("GET", "/admin/users/new_user_123").json()["tier"] == "pro"

    users = rld.admin("GET", "/admin/users").json()["users"]
    assert sorted(u["user_id"] for u in users) == \
        ["demo_enterprise_user", "demo_free_user", "demo_pro_user", "new_user_123"], users
    assert {u["user_id"]: u["tier"] for u in users}["demo_free_user"] == "free"

    r = rld.admin("GET", "/admin/users/new_user_123")
    assert r.status == 200 and r.json()["keys"] == [] and r.json()["tier"] == "pro", r

    r = rld.admin("PATCH", "/admin/users/new_user_123", {"tier": "enterprise"})
    assert r.status == 200 and r.json()["tier"] == "enterprise", r
    r = rld.admin("PATCH", "/admin/users/new_user_123", {"disabled": True})
    assert r.status == 200 and r.json()["disabled"] is True and \
        r.json()["tier"] == "enterprise", r
    assert rld.admin("GET", "/admin/users/new_user_123").json()["disabled"] is True

    r = rld.admin("DELETE", "/admin/users/new_user_123")
    assert r.status == 204 and r.body == "", r
    r = rld.admin("GET", "/admin/users/new_user_123")
    assert r.status == 404 and error_of(r) == "not_found", r
    assert rld.admin("DELETE", "/admin/users/new_user_123").status == 404
    assert rld.admin("PATCH", "/admin/users/new_user_123", {"tier": "pro"}).status == 404
    log = rld.wait_for_event("admin_change", count=4)  # lines are read in the background
    assert [e["action"] for e in log] == ["user_created", "user_updated", "user_updated",
                                          "user_deleted"], log


@pytest.mark.parametrize("body,field", [
    ({"user_id": "u1", "tier": "platinum"}, "tier"),
    ({"user_id": "u1"}, "tier"),
    ({"user_id": "u1", "tier": 3}, "tier"),
    ({"user_id": "bad id!", "tier": "free"}, "user_id"),
    ({"user_id": "", "tier": "free"}, "user_id"),
    ({"user_id": "a" * 129, "tier": "free"}, "user_id"),
    ({"user_id": 12, "tier": "free"}, "user_id"),
    ({"tier": "free"}, "user_id"),
])
def test_bad_user_creation_gets_422(rld, body, field):
    r = rld.admin("POST", "/admin/users", body)
    assert r.status == 422 and error_of(r) == "invalid_field", r
    assert field in r.json()["error"]["message"], r
    assert len(rld.admin("GET", "/admin/users").json()["users"]) == 3


@pytest.mark.parametrize("body,field", [
    ({"tier": "platinum"}, "tier"),
    ({"tier": 1}, "tier"),
    ({"disabled": "yes"}, "disabled"),
    ({"nickname": "x"}, "nickname"),
])
def test_bad_user_patch_gets_422(rld, body, field):
    r = rld.admin("PATCH", "/admin/users/demo_free_user", body)
    assert r.status == 422 and error_of(r) == "invalid_field", r
    assert field in r.json()["error"]["message"], r
    r = rld.admin("GET", "/admin/users/demo_free_user").json()
    assert (r["tier"], r["disabled"]) == ("free", False)


def test_max_length_user_id_is_accepted(rld):
    uid = "a" * 128
    assert rld.admin("POST", "/admin/users", {"user_id": uid, "tier": "free"}).status == 201
    assert rld.admin("GET", f"/admin/users/{uid}").json()["user_id"] == uid


def test_deleting_a_user_invalidates_its_keys(rld):
    issued = create_user_with_key(rld, "leaver", "pro")
    assert rld.get("/test", key=issued["api_key"]).status == 200
    assert rld.admin("DELETE", "/admin/users/leaver").status == 204
    r = rld.get("/test", key=issued["api_key"])
    assert r.status == 401 and error_of(r) == "invalid_api_key", r
    assert rld.admin("DELETE", f"/admin/keys/{issued['key_id']}").status == 404
    # Re-creating the user does not bring the old key back, nor its old counter.
    assert rld.admin("POST", "/admin/users", {"user_id": "leaver", "tier": "pro"}).status == 201
    assert rld.admin("GET", "/admin/users/leaver").json()["keys"] == []
    assert rld.get("/test", key=issued["api_key"]).status == 401
    # Deleting a user from the tier file works the same way.
    assert rld.admin("DELETE", "/admin/users/demo_free_user").status == 204
    assert rld.get("/test", key=FREE).status == 401


# ---------------------------------------------------------------------------------- keys --
def test_issue_use_list_and_revoke_keys(rld):
    assert rld.admin("POST", "/admin/users", {"user_id": "keyholder", "tier": "pro"}).status \
        == 201
    r = rld.admin("POST", "/admin/users/keyholder/keys", {"label": "ci"})
    assert r.status == 201, r
    issued = r.json()
    key, key_id = issued["api_key"], issued["key_id"]
    assert key.startswith("rl_") and is_valid_generated_key(key), key
    assert issued["label"] == "ci" and issued["user_id"] == "keyholder", issued
    assert isinstance(key_id, str) and key_id and key_id not in key, issued
    assert abs(parse_time(issued["created_at"]) - time.time()) <= 2, issued

    r = rld.get("/test", key=key)
    assert r.status == 200, r
    assert (r.json()["user"], r.json()["tier"]) == ("keyholder", "pro"), r
    assert r.headers["x-ratelimit-limit"] == "150", r
    assert rld.get("/test", headers={"Authorization": f"Bearer {key}"}).status == 200

    second = rld.admin("POST", "/admin/users/keyholder/keys")  # no body: label is optional
    assert second.status == 201, second
    assert second.json()["api_key"] != key and second.json()["key_id"] != key_id
    assert second.json()["label"] in ("", None), second

    user = rld.admin("GET", "/admin/users/keyholder")
    assert user.status == 200, user
    assert sorted((k["key_id"], k["label"]) for k in user.json()["keys"]) == \
        sorted([(key_id, "ci"), (second.json()["key_id"], second.json()["label"])]), user
    listing = rld.admin("GET", "/admin/users/keyholder/keys")
    for text in (user.body, listing.body, rld.admin("GET", "/admin/users").body):
        assert key not in text and second.json()["api_key"] not in text
        assert hashlib.sha256(key.encode()).hexdigest() not in text
        assert "api_key" not in text

    r = rld.admin("DELETE", f"/admin/keys/{key_id}")
    assert r.status == 204 and r.body == "", r
    r = rld.get("/test", key=key)
    assert r.status == 401 and error_of(r) == "invalid_api_key", r
    assert rld.get("/test", key=second.json()["api_key"]).status == 200
    assert rld.admin("DELETE", f"/admin/keys/{key_id}").status == 404
    assert [k["key_id"] for k in rld.admin("GET", "/admin/users/keyholder").json()["keys"]] == \
        [second.json()["key_id"]]
    assert key not in rld.log_text() and second.json()["api_key"] not in rld.log_text()


def test_key_errors(rld):
    r = rld.admin("POST", "/admin/users/nobody/keys", {"label": "x"})
    assert r.status == 404 and error_of(r) == "not_found", r
    r = rld.admin("DELETE", "/admin/keys/0123456789abcdef")
    assert r.status == 404 and error_of(r) == "not_found", r
    for label in (5, "x" * 129, ["a"]):
        r = rld.admin("POST", "/admin/users/demo_free_user/keys", {"label": label})
        assert r.status == 422 and error_of(r) == "invalid_field", r
        assert "label" in r.json()["error"]["message"]
    assert len(rld.admin("GET", "/admin/users/demo_free_user").json()["keys"]) == 1
    assert rld.admin("GET", "/admin/users/nobody/keys").status == 404


def test_issued_keys_follow_their_users_tier(rld):
    issued = create_user_with_key(rld, "freebie", "free")
    assert statuses(rld, issued["api_key"], 21) == [200] * 20 + [429]


# --------------------------------------------------------------------------------- tiers --
def test_tiers_list_has_the_reference_numbers(rld):
    r = rld.admin("GET", "/admin/tiers")
    assert r.status == 200, r
    assert r.json() == {"tiers": TIERS}
    r = rld.admin("GET", "/admin/tiers/pro")
    assert r.status == 200 and r.json() == TIERS["pro"], r
    assert rld.admin("GET", "/admin/tiers/gold").status == 404


def test_put_tier_creates_then_updates(rld):
    body = {"base_limit": 5, "burst_limit": 8, "degraded_limit": 3, "window_seconds": 30}
    r = rld.admin("PUT", "/admin/tiers/gold", body)
    assert r.status == 201, r
    assert r.json() == {"name": "gold", "base_limit": 5, "burst_limit": 8, "degraded_limit": 3,
                        "window_seconds": 30, "algorithm": "sliding_window", "shadow": False, "on_failure": None}
    r = rld.admin("PUT", "/admin/tiers/gold",
                  {"base_limit": 5, "burst_limit": 9, "degraded_limit": 3, "window_minutes": 2})
    assert r.status == 200, r
    assert r.json()["burst_limit"] == 9 and r.json()["window_seconds"] == 120, r
    tiers = rld.admin("GET", "/admin/tiers").json()["tiers"]
    assert sorted(tiers) == ["enterprise", "free", "gold", "pro"]
    assert tiers["gold"]["burst_limit"] == 9
    # Updating a tier from the file takes effect on the next decision.
    r = rld.admin("PUT", "/admin/tiers/free", {"base_limit": 3, "burst_limit": 3,
                                               "degraded_limit": 1, "window_seconds": 60})
    assert r.status == 200, r
    assert statuses(rld, FREE, 4) == [200, 200, 200, 429]
    assert [e["action"] for e in rld.wait_for_event("admin_change", count=3)] == \
        ["tier_created", "tier_updated", "tier_updated"]


@pytest.mark.parametrize("body,field", [
    ({"base_limit": 1, "burst_limit": 2, "degraded_limit": 3, "window_seconds": 60},
     "degraded_limit"),
    ({"base_limit": -1, "burst_limit": 2, "degraded_limit": 1, "window_seconds": 60},
     "base_limit"),
    ({"base_limit": 1, "burst_limit": -2, "degraded_limit": 1, "window_seconds": 60},
     "burst_limit"),
    ({"base_limit": 5, "burst_limit": 2, "degraded_limit": 1, "window_seconds": 60},
     "burst_limit"),
    ({"base_limit": 1, "burst_limit": 2, "degraded_limit": 1, "window_seconds": 0},
     "window_seconds"),
    ({"base_limit": 1, "burst_limit": 2, "degraded_limit": 1, "window_minutes": 0},
     "window_minutes"),
    ({"base_limit": 1, "burst_limit": 2, "degraded_limit": 1, "window_seconds": 60,
      "algorithm": "leaky_bucket"}, "algorithm"),
    ({"base_limit": 1, "burst_limit": 2, "degraded_limit": 1, "window_seconds": 60,
      "shadow": "yes"}, "shadow"),
    ({"base_limit": 1, "degraded_limit": 1, "window_seconds": 60}, "burst_limit"),
    ({"base_limit": "1", "burst_limit": 2, "degraded_limit": 1, "window_seconds": 60},
     "base_limit"),
    ({"base_limit": 1.5, "burst_limit": 2, "degraded_limit": 1, "window_seconds": 60},
     "base_limit"),
    ({"base_limit": 1, "burst_limit": 2, "degraded_limit": 1, "window_seconds": 60,
      "burst": 3}, "burst"),
])
def test_invalid_tiers_get_422_naming_the_field(rld, body, field):
    r = rld.admin("PUT", "/admin/tiers/newtier", body)
    assert r.status == 422 and error_of(r) == "invalid_field", r
    assert field in r.json()["error"]["message"], r
    assert "newtier" not in rld.admin("GET", "/admin/tiers").json()["tiers"]


def test_invalid_tier_name_gets_422(rld):
    r = rld.admin("PUT", "/admin/tiers/Bad%20Name", {"base_limit": 1, "burst_limit": 2,
                                                    "degraded_limit": 1, "window_seconds": 60})
    assert r.status == 422 and error_of(r) == "invalid_field", r
    assert "name" in r.json()["error"]["message"], r


@pytest.mark.parametrize("algorithm,retry", [("fixed_window", None), ("token_bucket", 720),
                                             ("sliding_window", None)])
def test_new_tier_enforces_exactly_its_burst_limit(rld, algorithm, retry):
    put_tier(rld, "alg", 5, window=3600, algorithm=algorithm, degraded=2)
    issued = create_user_with_key(rld, "alguser", "alg")
    conn = rld.connection()
    got = []
    for _ in range(7):
        r = rld.get("/test", key=issued["api_key"], conn=conn)
        got.append(r.status)
    conn.close()
    assert got == [200] * 5 + [429, 429], got
    assert r.headers["ratelimit-policy"] == '"alg";q=5;w=3600', r
    assert r.headers["x-ratelimit-limit"] == "5" and r.headers["x-ratelimit-remaining"] == "0"
    ra = int(r.headers["retry-after"])
    assert 1 <= ra <= 2 * 3600, r
    if retry is not None:  # GCRA: one request per window/limit = 720 s
        assert retry - 2 <= ra <= retry, r
    usage = rld.admin("GET", "/admin/usage/alguser").json()
    assert (usage["limit"], usage["used"], usage["remaining"]) == (5, 5, 0), usage
    if algorithm == "fixed_window":
        now = time.time()
        assert int(r.headers["x-ratelimit-reset"]) == (int(now) // 3600 + 1) * 3600, r
        assert abs(ra - (int(r.headers["x-ratelimit-reset"]) - now)) <= 1.5, r


def test_new_tier_degraded_limit(rld):
    put_tier(rld, "deg", 6, window=600, degraded=2)
    issued = create_user_with_key(rld, "deguser", "deg")
    assert rld.admin("POST", "/admin/health", {"status": "DEGRADED"}).status == 200
    assert statuses(rld, issued["api_key"], 3) == [200, 200, 429]


def test_shadow_tier_never_denies_but_counts_shadow_limited(rld):
    put_tier(rld, "shadowed", 2, window=3600, shadow=True)
    issued = create_user_with_key(rld, "shadowuser", "shadowed")
    assert statuses(rld, issued["api_key"], 5) == [200] * 5
    r = rld.get("/test", key=issued["api_key"])
    assert r.status == 200 and "retry-after" not in r.headers, r
    assert r.headers["x-ratelimit-limit"] == "2" and r.headers["x-ratelimit-remaining"] == "0"
    body = decide(rld, {"api_key": issued["api_key"]}).json()
    assert body["allowed"] is True and body["status"] == 200, body
    s = parse_metrics(rld.metrics())
    assert metric(s, "rl_decisions_total", tier="shadowed", result="allowed") == 2
    assert metric(s, "rl_decisions_total", tier="shadowed", result="shadow_limited") == 5
    assert metric(s, "rl_decisions_total", tier="shadowed", result="limited") == 0
    # Turning shadow off enforces the same counter.
    put_tier(rld, "shadowed", 2, window=3600, shadow=False, expect=200)
    r = rld.get("/test", key=issued["api_key"])
    assert r.status == 429, r


# --------------------------------------------------------------------------------- usage --
def test_usage_reflects_traffic_and_does_not_consume(rld):
    avoid_window_edge()
    r = rld.admin("GET", "/admin/usage/demo_free_user")
    assert r.status == 200, r
    assert {k: r.json()[k] for k in ("user", "tier", "limit", "used", "remaining")} == \
        {"user": "demo_free_user", "tier": "free", "limit": 20, "used": 0, "remaining": 20}
    assert statuses(rld, FREE, 3) == [200, 200, 200]
    for _ in range(2):
        r = rld.admin("GET", "/admin/usage/demo_free_user")
        body = r.json()
        assert set(body) == {"user", "tier", "limit", "used", "remaining", "reset"}, body
        assert (body["limit"], body["used"], body["remaining"]) == (20, 3, 17), body
        now = time.time()
        assert isinstance(body["reset"], int) and now < body["reset"] <= now + 121, body
    r = rld.get("/test", key=FREE)
    assert r.headers["x-ratelimit-remaining"] == "16", r
    assert int(r.headers["x-ratelimit-reset"]) == body["reset"]
    pro = rld.admin("GET", "/admin/usage/demo_pro_user").json()
    assert (pro["tier"], pro["limit"], pro["used"], pro["remaining"]) == ("pro", 150, 0, 150)
    r = rld.admin("GET", "/admin/usage/nobody")
    assert r.status == 404 and error_of(r) == "not_found", r


def test_usage_counts_every_request_used_even_above_a_lower_degraded_limit(rld):
    """"used" is the traffic sent in the window; DEGRADED lowers the limit, not the past."""
    assert statuses(rld, FREE, 5) == [200] * 5
    assert rld.admin("POST", "/admin/health", {"status": "DEGRADED"}).status == 200
    body = rld.admin("GET", "/admin/usage/demo_free_user").json()
    assert (body["limit"], body["remaining"]) == (2, 0), body
    assert body["used"] == 5, body


def test_zero_limit_tier_denies_everything(rld):
    put_tier(rld, "closed", 0, window=60)
    issued = create_user_with_key(rld, "closeduser", "closed")
    r = rld.get("/test", key=issued["api_key"])
    assert r.status == 429 and error_of(r) == "rate_limited", r
    assert r.headers["x-ratelimit-limit"] == "0" and r.headers["x-ratelimit-remaining"] == "0"
    assert 1 <= int(r.headers["retry-after"]) <= 120, r
    body = decide(rld, {"api_key": issued["api_key"], "cost": 0}).json()
    assert body["allowed"] is False and body["remaining"] == 0, body


# ------------------------------------------------------------------- paths and methods --
def test_percent_encoded_path_parameters(rld):
    uid = "jane.doe@example.com"
    assert rld.admin("POST", "/admin/users", {"user_id": uid, "tier": "pro"}).status == 201
    for path in ("/admin/users/jane.doe%40example.com", "/admin/users/jane%2Edoe%40example.com",
                 f"/admin/users/{uid}"):
        r = rld.admin("GET", path)
        assert r.status == 200 and r.json()["user_id"] == uid, (path, r)
    r = rld.admin("POST", "/admin/users/jane.doe%40example.com/keys", {"label": "enc"})
    assert r.status == 201 and r.json()["user_id"] == uid, r
    key = r.json()["api_key"]
    assert rld.get("/test", key=key).json()["user"] == uid
    r = rld.admin("GET", "/admin/usage/jane.doe%40example.com")
    assert r.status == 200 and r.json()["user"] == uid and r.json()["used"] == 1, r
    r = rld.admin("PATCH", "/admin/users/jane.doe%40example.com", {"tier": "free"})
    assert r.status == 200 and r.json()["tier"] == "free", r
    r = rld.admin("GET", "/admin/users/jane.doe%4")
    assert r.status == 400, r
    r = rld.admin("GET", "/admin/users/jane.doe%zzexample.com")
    assert r.status == 400, r
    assert rld.admin("DELETE", "/admin/users/jane.doe%40example.com").status == 204
    assert rld.get("/test", key=key).status == 401


def test_unknown_admin_routes_get_404(rld):
    for path in ("/admin/nope", "/admin", "/admin/users/a/b/c", "/admin/keys",
                 "/admin/health/extra"):
        r = rld.admin("GET", path)
        assert r.status == 404 and error_of(r) == "not_found", (path, r)


@pytest.mark.parametrize("method,path,allowed", [
    ("DELETE", "/admin/tiers", {"GET"}),
    ("POST", "/admin/tiers/free", {"GET", "PUT"}),
    ("PUT", "/admin/health", {"GET", "POST"}),
    ("POST", "/admin/usage/demo_free_user", {"GET"}),
    ("GET", "/admin/keys/abc", {"DELETE"}),
    ("PUT", "/admin/users/demo_free_user", {"GET", "PATCH", "DELETE"}),
    ("POST", "/admin/blocks", {"GET"}),
    ("POST", "/test", {"GET"}),
])
def test_wrong_method_gets_405_with_allow(rld, method, path, allowed):
    r = rld.request(method, path, headers={"X-Admin-Key": ADMIN_KEY}, body="{}")
    assert r.status == 405, r
    assert error_of(r) == "method_not_allowed", r
    got = {m.strip() for m in r.headers.get("allow", "").split(",") if m.strip()}
    assert allowed <= got, (allowed, r.headers.get("allow"))
    assert method not in got

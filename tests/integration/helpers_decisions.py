"""Shared helpers for test_decisions.py, test_admin_api.py and test_reference.py: generated
API keys and their checksum, request and response helpers (/v1/decide, X-Forwarded-For, the
JSON error envelope, rate-limit headers, a burst of GET /test), window timing and admin API
shortcuts. The daemon itself, the demo keys and the metrics parser are in rld_harness.py."""
import hashlib
import re
import time

PLACEHOLDER_ADMIN_KEY = "admin_secret_key_change_in_production"
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


# -- API keys --------------------------------------------------------------------------------
def rl_checksum(body):
    """The 6-character base62 checksum of a generated key body ("rl_" + 32 base62)."""
    digest = hashlib.sha256(body.encode()).digest()
    value = int.from_bytes(digest[:4], "big")
    out = ""
    for _ in range(6):
        out = BASE62[value % 62] + out
        value //= 62
    return out


def rl_key(body32="A" * 32, good_checksum=True):
    body = "rl_" + body32
    checksum = rl_checksum(body)
    if not good_checksum:
        # Change every character so the checksum is certainly wrong.
        checksum = "".join(BASE62[(BASE62.index(c) + 1) % 62] for c in checksum)
    return body + checksum


def is_valid_generated_key(key):
    return (len(key) == 3 + 32 + 6 and key.startswith("rl_")
            and all(c in BASE62 for c in key[3:]) and rl_checksum(key[:-6]) == key[-6:])


# -- requests --------------------------------------------------------------------------------
def xff(ip, key=None, extra=None):
    h = {"X-Forwarded-For": ip}
    if key is not None:
        h["X-API-Key"] = key
    h.update(extra or {})
    return h


def decide(rld, body, via="tcp", headers=None):
    return rld.request("POST", "/v1/decide", headers=headers, body=body, via=via)


def error_of(resp):
    """Checks the JSON error envelope and returns its code."""
    body = resp.json()
    assert set(body) == {"error", "request_id"}, resp
    assert set(body["error"]) == {"code", "message"}, resp
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], resp
    assert body["request_id"] == resp.headers.get("x-request-id"), resp
    return body["error"]["code"]


def rate_headers(resp):
    return {k: v for k, v in resp.headers.items()
            if k.startswith("x-ratelimit-") or k in ("ratelimit", "ratelimit-policy")}


def avoid_window_edge(window=60, margin=4.0):
    """Sleeps past the next window boundary when it is less than `margin` seconds away, so a
    burst of requests stays inside one window (bounded: at most `margin` seconds)."""
    left = window - (time.time() % window)
    if left < margin:
        time.sleep(left + 0.2)


# -- admin helpers ---------------------------------------------------------------------------
def create_user_with_key(rld, user_id, tier, label="test"):
    r = rld.admin("POST", "/admin/users", {"user_id": user_id, "tier": tier})
    assert r.status == 201, r
    r = rld.admin("POST", f"/admin/users/{user_id}/keys", {"label": label})
    assert r.status == 201, r
    return r.json()


def put_tier(rld, name, burst, window=3600, algorithm=None, degraded=None, base=None,
             shadow=None, expect=201):
    body = {"base_limit": burst if base is None else base, "burst_limit": burst,
            "degraded_limit": burst if degraded is None else degraded, "window_seconds": window}
    if algorithm is not None:
        body["algorithm"] = algorithm
    if shadow is not None:
        body["shadow"] = shadow
    r = rld.admin("PUT", f"/admin/tiers/{name}", body)
    assert r.status == expect, r
    return r


def statuses(rld, key, n, via="tcp"):
    """The statuses of n GET /test with `key` on one keep-alive connection."""
    conn = rld.connection(via)
    out = [rld.get("/test", key=key, conn=conn).status for _ in range(n)]
    conn.close()
    return out

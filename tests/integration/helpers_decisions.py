"""Shared helpers for test_decisions.py, test_admin_api.py and test_cli.py.

`CustomRld` is an Rld whose whole TOML is written here, so that [security] and [server]
values the harness writes itself (max_invalid_attempts, block_seconds, listen, ...) can be set.
`make_custom` is the matching fixture (stops every daemon and checks it exited 0).
"""
import hashlib
import json
import os
import re
import subprocess
import tempfile
import time

import pytest

from rld_harness import ADMIN_KEY, ROOT, Rld, rld_binary

KEYS = {"free": "demo_free_key_123", "pro": "demo_pro_key_789",
        "enterprise": "demo_enterprise_key_abc"}
USERS = {"free": "demo_free_user", "pro": "demo_pro_user",
         "enterprise": "demo_enterprise_user"}
PLACEHOLDER_ADMIN_KEY = "admin_secret_key_change_in_production"
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
CLI_TIMEOUT = 15


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


def raw_request(rld, method, path, headers=None, body=None, via="tcp"):
    """One request on its own connection, parsed leniently from the raw bytes: the status line
    is searched for, so a response with stray bytes before it can still be inspected.
    Returns a harness Response (lower-case header names)."""
    from rld_harness import Response
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    data = (body or "").encode()
    head = [f"{method} {path} HTTP/1.1", "Host: rld", "Connection: close",
            f"Content-Length: {len(data)}"]
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    out = rld.raw(("\r\n".join(head) + "\r\n\r\n").encode() + data, via=via)
    start = out.find(b"HTTP/1.1 ")
    assert start >= 0, out
    top, _, payload = out[start:].partition(b"\r\n\r\n")
    lines = top.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        hdrs[name.strip().lower()] = value.strip()
    return Response(status, hdrs, payload.decode())


def rate_headers(resp):
    return {k: v for k, v in resp.headers.items()
            if k.startswith("x-ratelimit-") or k in ("ratelimit", "ratelimit-policy")}


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
    return samples.get((name, frozenset(labels.items())))


def all_log_text(rld):
    with rld._lock:
        return "".join(rld.lines)


def wait_until(predicate, timeout=5.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


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


# -- a daemon with a TOML written entirely here -------------------------------------------------
class CustomRld(Rld):
    """Rld with its own [server] listen list and [security] values.

    listen: list of addresses; "{sock}" is replaced by this daemon's socket path.
    security: extra [security] keys, e.g. {"max_invalid_attempts": 3, "block_seconds": 2}.
    """

    def __init__(self, listen=None, security=None, toml_extra="", log_level="info", **kw):
        super().__init__(toml_extra=toml_extra, log_level=log_level, **kw)
        listen = listen or ["127.0.0.1:0", "unix:{sock}"]
        listen = [a.replace("{sock}", self.socket_path) for a in listen]
        sec = {"admin_key": self.admin_key}
        sec.update(security or {})
        lines = ["[server]", "listen = " + json.dumps(listen), "[store]",
                 f'tiers_file = "{self.tiers_path}"', "[security]"]
        lines += [f"{k} = {json.dumps(v)}" for k, v in sec.items()]
        lines += ["[log]", f'level = "{log_level}"']
        self.config_path.write_text("\n".join(lines) + "\n" + toml_extra)

    @property
    def port(self):
        for a in self.addresses:
            if a.startswith("127.0.0.1:") or a.startswith("0.0.0.0:"):
                return int(a.rsplit(":", 1)[1])
        raise RuntimeError("no IPv4 TCP listener")


@pytest.fixture
def make_custom():
    started = []

    def make(**kwargs):
        r = CustomRld(**kwargs).start()
        started.append(r)
        return r

    yield make
    for r in started:
        code = r.stop()
        assert code == 0, "rld did not exit cleanly:\n" + "".join(r.lines)


# -- running the binary directly -------------------------------------------------------------
def clean_env(extra=None):
    env = dict(os.environ)
    for name in ("REDIS_HOST", "REDIS_PORT", "REDIS_DB", "REDIS_TIMEOUT",
                 "RATE_LIMITER_CONFIG_PATH", "LOG_LEVEL", "ADMIN_API_KEY"):
        env.pop(name, None)
    env.update(extra or {})
    return env


def run_rld(*args, env=None, cwd=None, timeout=CLI_TIMEOUT):
    """Runs rld to completion (for --version, --check-config, refusals) with a timeout."""
    return subprocess.run([rld_binary(), *args], capture_output=True, text=True,
                          env=clean_env(env), cwd=cwd, timeout=timeout)


def short_tempdir(prefix="rld-t-"):
    # Unix socket paths are limited to ~108 bytes: keep them short.
    return tempfile.mkdtemp(prefix=prefix, dir="/tmp")


def json_events(stderr_text, name=None):
    events = []
    for line in stderr_text.splitlines():
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if isinstance(e, dict) and (name is None or e.get("event") == name):
            events.append(e)
    return events


__all__ = ["ADMIN_KEY", "ROOT", "KEYS", "USERS", "PLACEHOLDER_ADMIN_KEY", "REQUEST_ID",
           "CustomRld", "make_custom", "rl_key", "rl_checksum", "is_valid_generated_key", "xff",
           "decide", "error_of", "raw_request", "rate_headers", "parse_metrics", "metric",
           "all_log_text", "wait_until", "avoid_window_edge", "create_user_with_key",
           "put_tier", "clean_env", "run_rld", "short_tempdir", "json_events"]

"""Observability as an operator meets it, on the memory and the Redis store: the metric series do
not grow with users, keys or clients (and no label value is a user id, key or address), every
family has HELP and TYPE and a conventional name, every metric the Grafana dashboard
(packaging/grafana/rld-dashboard.json) queries exists, and no log line of a busy run — debug
decisions, admin changes that return new keys, invalid keys, wrong admin keys, blocks, a
reload — carries an API key or the admin key. Also the stable fields of the decision and admin
events, request_id first among them (docs/logs.md, docs/metrics.md), and the end-of-session
scan of every kept log and error body for every known secret (session_log.py)."""
import json
import os
import re
import signal
import subprocess
import sys

import pytest

import session_log
from redis_support import redis_fixture  # noqa: F401 (the "redis" fixture)
from redis_support import redis_settings, wait_ready
from rld_harness import ADMIN_KEY, KEYS, ROOT, json_events, parse_metrics

DASHBOARD = ROOT / "packaging" / "grafana" / "rld-dashboard.json"
USERS = 1000
TIERS = ("free", "pro", "enterprise")
# Every value of rl_decisions_total's result label (docs/metrics.md).
RESULTS = ("allowed", "limited", "client_blocked", "missing_key", "malformed_key", "unknown_key",
           "user_disabled", "account_error", "unavailable", "unverified", "shadow_limited")
DECISION_FIELDS = ("ts", "level", "event", "request_id", "client", "user", "tier", "result",
                   "status", "limit", "remaining", "shadow_denied", "duration_us")


def start(make_rld, request, store, **kwargs):
    """An rld on `store` ("memory" or "redis": a private redis-server), ready for decisions."""
    settings = kwargs.pop("settings", {})
    if store == "redis":
        redis = request.getfixturevalue("redis")
        settings = redis_settings(redis.url, settings, timeout_ms=200)
    rld = make_rld(settings=settings, **kwargs)
    if store == "redis":
        wait_ready(rld)
    return rld


def series(text):
    """The set of (name, labels) series of a /metrics text."""
    return set(parse_metrics(text))


def admin(rld, conn, method, path, body=None, key=ADMIN_KEY, request_id=None):
    headers = {"X-Admin-Key": key}
    if request_id:
        headers["X-Request-ID"] = request_id
    return rld.request(method, path, headers=headers, body=body, conn=conn)


def make_users(rld, n, prefix):
    """n users spread over the demo tiers, one new key each: {user id: API key}."""
    keys = {}
    conn = rld.connection("unix")
    try:
        for i in range(n):
            user = f"{prefix}{i:04d}"
            r = admin(rld, conn, "POST", "/admin/users", {"user_id": user, "tier": TIERS[i % 3]})
            assert r.status == 201, r
            r = admin(rld, conn, "POST", f"/admin/users/{user}/keys", {"label": "obs"})
            assert r.status == 201, r
            keys[user] = r.json()["api_key"]
    finally:
        conn.close()
    return keys


def client_ip(i):
    return f"10.77.{i // 250}.{i % 250 + 1}"


def drive(rld, keys, unknown, request_ids=False):
    """One decision per key of `keys` (each from its own client address), `unknown` well-formed
    unknown keys from 50 addresses (so most of those get blocked, and the rest of their
    requests refused by the block), malformed and missing keys, and the demo free key past its
    limit. Over the Unix socket, where X-Forwarded-For is trusted. Returns {request id: what}
    when `request_ids`."""
    sent = {}
    conn = rld.connection("unix")

    def get(headers, what):
        if request_ids:
            rid = f"obs-{len(sent):05d}"
            headers = {**headers, "X-Request-ID": rid}
            sent[rid] = what
        return rld.request("GET", "/test", headers=headers, conn=conn)

    try:
        for i, key in enumerate(keys.values()):
            r = get({"X-Forwarded-For": client_ip(i), "X-API-Key": key}, "user")
            assert r.status == 200, r
        for i in range(unknown):
            r = get({"X-Forwarded-For": f"10.88.0.{i % 50 + 1}",
                     "X-API-Key": f"unknown_obs_key_{i:05d}"}, "unknown")
            assert r.status in (401, 429), r
        for i in range(20):
            get({"X-Forwarded-For": f"10.99.0.{i + 1}", "X-API-Key": f"bad key {i}"}, "malformed")
            get({"X-Forwarded-For": f"10.99.1.{i + 1}"}, "missing")
        statuses = [get({"X-Forwarded-For": "10.66.0.1", "X-API-Key": KEYS["free"]},
                        "free").status for _ in range(25)]
        assert 429 in statuses, statuses
    finally:
        conn.close()
    return sent


# ------------------------------------------------------------------------ bounded series --
@pytest.mark.parametrize("store", ["memory", "redis"])
def test_series_do_not_grow_with_users_keys_or_clients(make_rld, request, store):
    rld = start(make_rld, request, store)
    before = series(rld.metrics())
    keys = make_users(rld, USERS, "obs_user_")
    drive(rld, keys, unknown=USERS)
    text = rld.metrics()
    after = series(text)

    assert after == before, (f"new series: {sorted(after - before)[:20]}, "
                             f"gone: {sorted(before - after)[:20]}")
    # The exact bound of the decision series: every result of every tier of the tier file, of
    # tier="none" (no tier applied) and of tier="other" (past the tier label limit).
    decisions = [dict(labels) for name, labels in after if name == "rl_decisions_total"]
    assert len(decisions) == (len(TIERS) + 2) * len(RESULTS), sorted(map(str, decisions))
    assert {d["tier"] for d in decisions} == {*TIERS, "none", "other"}
    assert {d["result"] for d in decisions} == set(RESULTS)
    samples = parse_metrics(text)
    assert sum(v for (name, labels), v in samples.items() if name == "rl_decisions_total"
               and dict(labels)["tier"] in TIERS and dict(labels)["result"] == "allowed") \
        >= USERS + 20

    # No label value is, or contains, a user id, a key or a client address.
    values = {value for _, labels in after for _, value in labels}
    for value in values:
        assert not re.search(r"obs_user_|unknown_obs_key_|bad key|10\.(77|88|99|66)\.", value), \
            value
        assert value not in keys.values() and value not in KEYS.values(), value
    for secret in [*keys.values(), *KEYS.values(), "obs_user_0001", "unknown_obs_key_00001"]:
        assert secret not in text


def test_every_family_has_help_and_type_and_a_conventional_name(make_rld, request):
    rld = start(make_rld, request, "redis")
    drive(rld, {}, unknown=20)
    text = rld.metrics()
    helps = dict(re.findall(r"^# HELP (\S+) (.+)$", text, re.M))
    types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
    assert set(helps) == set(types), set(helps) ^ set(types)
    names = {name for name, _ in parse_metrics(text)}
    families = {re.sub(r"_(bucket|sum|count)$", "", n) if n not in types else n for n in names}
    assert families == set(types), families ^ set(types)
    for name, kind in types.items():
        assert name.startswith("rl_"), name
        assert helps[name].strip(), name
        if kind == "counter":
            assert name.endswith("_total"), name
        elif kind == "histogram":
            assert name.endswith("_seconds"), name
        else:
            assert kind == "gauge" and not name.endswith("_total"), (name, kind)


def test_timeouts_and_malformed_requests_are_each_counted_once(make_rld):
    rld = make_rld(settings={"http": {"header_timeout_ms": 200, "request_timeout_ms": 200}})

    def counts():
        m = parse_metrics(rld.metrics())
        return [m[(name, frozenset())] for name in (
            "rl_http_timeouts_total", "rl_http_protocol_errors_total",
            "rl_http_internal_errors_total")]

    before = counts()
    assert rld.raw(b"GET /hea", read_timeout=3).startswith(b"HTTP/1.1 408"), "no 408"
    malformed = b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n"
    assert rld.raw(malformed).startswith(b"HTTP/1.1 400")
    after = counts()
    assert [a - b for a, b in zip(after, before)] == [1, 1, 0], (before, after)


# --------------------------------------------------------------------------- the dashboard --
def dashboard_exprs(node):
    """Every PromQL expression of a dashboard: the panels' targets, nested rows included, and
    the template variables' queries."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("expr", "definition") and isinstance(value, str):
                yield value
            else:
                yield from dashboard_exprs(value)
    elif isinstance(node, list):
        for value in node:
            yield from dashboard_exprs(value)


def test_the_dashboard_is_valid_and_queries_only_metrics_rld_exposes(make_rld, request):
    board = json.loads(DASHBOARD.read_text())
    assert 36 <= board["schemaVersion"] <= 41 and board["uid"] and board["title"]
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["instance"]["type"] == "query"
    panels = [p for p in board["panels"] if p["type"] != "row"]
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids)), ids
    for p in panels:
        assert p["datasource"]["uid"] == "${datasource}", p["title"]
        refs = [t["refId"] for t in p["targets"]]
        assert refs and len(refs) == len(set(refs)), p["title"]
        for t in p["targets"]:
            assert t["datasource"]["uid"] == "${datasource}", p["title"]
            assert 'instance=~"$instance"' in t["expr"], (p["title"], t["expr"])
            assert t["expr"].count("(") == t["expr"].count(")"), t["expr"]
    titles = " | ".join(p["title"] for p in panels).lower()
    for wanted in ("decisions/s", "429", "latency", "redis errors", "breaker", "fallback",
                   "health state", "security", "connections", "reloads", "build info",
                   "worker"):
        assert wanted in titles, wanted

    exprs = list(dashboard_exprs(board))
    wanted = {m for e in exprs for m in re.findall(r"\b(rl_[a-z0-9_]+)", e)}
    assert len(wanted) >= 15, wanted
    rld = start(make_rld, request, "redis")
    drive(rld, {}, unknown=5)
    exposed = {name for name, _ in parse_metrics(rld.metrics())}
    missing = sorted(wanted - exposed)
    assert not missing, f"the dashboard queries metrics rld does not expose: {missing}"
    # Histograms are queried through their buckets, never as a plain name.
    for e in exprs:
        if "histogram_quantile" in e:
            assert re.search(r"rl_[a-z_]+_seconds_bucket", e), e


# ---------------------------------------------------------------------------------- logs --
@pytest.mark.parametrize("store", ["memory", "redis"])
def test_no_log_line_carries_an_api_key_or_the_admin_key(make_rld, request, store):
    rld = start(make_rld, request, store, log_level="debug")
    keys = make_users(rld, 30, "obs_log_user_")
    sent = drive(rld, keys, unknown=30, request_ids=True)
    conn = rld.connection("unix")
    try:
        # Keys in every place a client may send them.
        some = list(keys.values())
        assert rld.request("GET", "/check", conn=conn, headers={
            "Authorization": f"Bearer {some[0]}", "X-Forwarded-For": "10.55.0.1"}).status == 200
        assert rld.request("POST", "/v1/decide", conn=conn,
                           body={"api_key": some[1], "cost": 0}).status == 200
        # Wrong admin keys, until the client is blocked.
        wrong_admin = [f"wrong-admin-key-{i:02d}" for i in range(12)]
        for k in wrong_admin:
            r = rld.request("GET", "/admin/users", conn=conn,
                            headers={"X-Admin-Key": k, "X-Forwarded-For": "10.44.0.1"})
            assert r.status in (401, 429), r
        assert r.status == 429, r
        # Admin changes: a revoked key used again, a disabled and a deleted user, health.
        user, key = "obs_log_user_0000", keys["obs_log_user_0000"]
        key_id = admin(rld, conn, "GET", f"/admin/users/{user}").json()["keys"][0]["key_id"]
        assert admin(rld, conn, "DELETE", f"/admin/keys/{key_id}",
                     request_id="obs-revoke").status == 204
        assert rld.request("GET", "/test", conn=conn, headers={
            "X-API-Key": key, "X-Forwarded-For": "10.55.0.2"}).status == 401
        assert admin(rld, conn, "PATCH", "/admin/users/obs_log_user_0001",
                     {"disabled": True}).status == 200
        assert admin(rld, conn, "DELETE", "/admin/users/obs_log_user_0002").status == 204
        assert admin(rld, conn, "POST", "/admin/health",
                     {"status": "DEGRADED", "ttl_seconds": 60, "updated_by": "obs-test"},
                     request_id="obs-health").status == 200
        assert admin(rld, conn, "POST", "/admin/health", {"status": "NORMAL"}).status == 200
        assert admin(rld, conn, "DELETE", "/admin/blocks/10.44.0.1").status == 204
    finally:
        conn.close()
    rld.signal(signal.SIGHUP)
    rld.wait_for_event("config_reloaded")
    assert rld.stop() == 0
    lines = rld.log_text().splitlines()

    secrets = [*keys.values(), *KEYS.values(), ADMIN_KEY, *wrong_admin,
               *(f"unknown_obs_key_{i:05d}" for i in range(30))]
    # The key bodies too, in case a prefix were ever cut off.
    secrets += [k[3:] for k in keys.values()]
    leaks = [(s, line) for line in lines for s in secrets if s in line]
    assert not leaks, f"{len(leaks)} secrets in the log, e.g. {leaks[:3]}"

    events = json_events(lines)
    assert len(events) == len(lines), [ln for ln in lines if not ln.startswith("{")][:5]
    for e in events:
        assert {"ts", "level", "event"} <= set(e), e

    # One rate_limit_decision per decision, naming the request id the response carried.
    decisions = [e for e in events if e["event"] == "rate_limit_decision"]
    for e in decisions:
        assert set(DECISION_FIELDS) <= set(e), e
    by_id = {e["request_id"]: e for e in decisions}
    assert set(sent) <= set(by_id), sorted(set(sent) - set(by_id))[:5]
    for rid, what in sent.items():
        e = by_id[rid]
        if what == "user":
            assert e["result"] == "allowed" and e["status"] == 200 and e["user"], e
            assert e["tier"] in TIERS and e["limit"] > 0 and e["remaining"] >= 0, e
        elif what == "unknown":
            assert e["result"] in ("unknown_key", "client_blocked") and e["tier"] == "", e
        elif what in ("malformed", "missing"):
            assert e["result"] == f"{what}_key" and e["status"] == 401, e

    changes = [e for e in events if e["event"] == "admin_change"]
    actions = [e["action"] for e in changes]
    for action in ("user_created", "key_created", "key_revoked", "user_updated", "user_deleted",
                   "health_set", "block_removed"):
        assert action in actions, actions
    for e in changes:
        assert e["request_id"] and e["client"], e
    assert [e["request_id"] for e in changes if e["action"] == "key_revoked"] == ["obs-revoke"]
    health = [e for e in changes if e["request_id"] == "obs-health"]
    assert health and health[0]["health"] == "DEGRADED" and health[0]["updated_by"] == "obs-test"
    blocked = [e for e in changes if e["action"] == "block_removed"]
    assert blocked[0]["blocked_client"] == "10.44.0.1", blocked
    alerts = [e for e in events if e["event"] == "security_alert"]
    assert any(e["last_reason"] == "admin_key_invalid" for e in alerts), alerts
    assert all(e["request_id"] for e in alerts), alerts


# ------------------------------------------------------------------- the session's secret scan --
def test_the_secret_scan_finds_every_kind_of_registered_secret(tmp_path):
    key = "rl_" + "A1b2" * 9 + "xyz"  # a generated-format key
    known = {key: "issued", key[3:]: "issued (without its prefix)",
             KEYS["free"]: "demo", "p@ss:w0rd/with spaces": "redis password"}
    (tmp_path / "1-rld.log").write_text(
        session_log.HEADING + "test_x[" + KEYS["free"] + "]\n"  # a test's name: not output
        '{"event":"x","key":"' + KEYS["free"] + '"}\n'
        '{"event":"y","note":"nothing here demo_free_key_1234 demo_free_key_12"}\n')
    (tmp_path / "2-rlctl.log").write_text("error: redis://:p@ss:w0rd/with spaces@h\n")
    (tmp_path / "3-error-bodies.log").write_text("401 Bearer " + key[3:] + "\n")
    (tmp_path / "ignored.txt").write_text(key)
    leaks = session_log.find_leaks(tmp_path, known)
    assert [(name, line, source) for name, line, source, _ in leaks] == [
        ("1-rld.log", 2, "demo"), ("2-rlctl.log", 1, "redis password"),
        ("3-error-bodies.log", 1, "issued (without its prefix)")]
    assert session_log.find_leaks(tmp_path, {"never_logged_value_1": "x"}) == []


def test_a_secret_in_a_kept_log_fails_the_pytest_run(tmp_path):
    """The hook conftest.py imports turns a leak into a failed session, and only a leak."""
    (tmp_path / "conftest.py").write_text("from session_log import pytest_sessionfinish\n")
    (tmp_path / "test_leak.py").write_text(
        "import os\n"
        "import session_log\n\n"
        "def test_passes():\n"
        "    session_log.add_secret('planted-secret-0123456789', 'planted')\n"
        "    text = 'planted-secret-0123456789' if os.environ.get('LEAK') else 'clean'\n"
        "    session_log.keep('rld-runs', 'a log line: ' + text)\n")
    env = {k: v for k, v in os.environ.items() if k != "RL_TEST_LOG_DIR"}
    env["PYTHONPATH"] = str(ROOT / "tests" / "integration")
    runs = {}
    for leak in ("", "1"):
        p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            str(tmp_path)], capture_output=True, text=True, timeout=60,
                           env={**env, "LEAK": leak}, cwd=tmp_path)
        runs[leak] = p
    assert runs[""].returncode == 0, runs[""].stdout + runs[""].stderr
    assert runs["1"].returncode == 1, runs["1"].stdout + runs["1"].stderr
    assert "1 passed" in runs["1"].stdout
    assert "1 secret(s) found" in runs["1"].stdout and "planted" in runs["1"].stdout

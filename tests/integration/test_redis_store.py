"""One rld on one private redis-server: the reference's expected results for every algorithm,
the bootstrap of an empty Redis into the DESIGN.md §5 data model (and never over existing
data), Redis URLs (password, database, Unix socket), a refused password, the heartbeat key,
the admin API stored in Redis, invalid-attempt blocks, usage and the Redis metrics."""
import socket
import time

import pytest

from redis_server import RedisServer
from redis_support import (DEGRADED, DEMO_USERS, EXACT_TIMEOUT_MS, NORMAL, all_keys,
                           avoid_window_edge, counter_key, fallbacks, from_ip, hash_of,
                           metrics_of, peek, sha256_hex, start_on_redis, tier_file, value_of,
                           wait_ready)
from redis_support import redis_fixture  # noqa: F401 (the "redis" fixture)
from rld_harness import KEYS, metric, wait_until
from helpers_decisions import rl_key

ALGORITHMS = {
    # algorithm: (tier file, window seconds); long windows so no refill or boundary interferes
    "sliding_window": (None, 60),
    "fixed_window": (tier_file("fixed_window", 3600), 3600),
    "token_bucket": (tier_file("token_bucket", 86400), 86400),
}


def burst(rld, key, n, via="tcp"):
    """n GET /test with `key` on one keep-alive connection: (statuses, last response)."""
    conn = rld.connection(via)
    try:
        responses = [rld.get("/test", key=key, conn=conn) for _ in range(n)]
    finally:
        conn.close()
    return [r.status for r in responses], responses[-1]


def start(make_rld, redis, tiers=None, **redis_keys):
    redis_keys.setdefault("timeout_ms", EXACT_TIMEOUT_MS)
    return start_on_redis(make_rld, redis.url, tiers=tiers, **redis_keys)


# -- the reference's expected results ------------------------------------------------------
@pytest.mark.parametrize("state", ["NORMAL", "DEGRADED"])
@pytest.mark.parametrize("algorithm", list(ALGORITHMS))
def test_reference_results_against_redis(make_rld, redis, algorithm, state):
    tiers, window = ALGORITHMS[algorithm]
    rld = start(make_rld, redis, tiers=tiers)
    if state == "DEGRADED":
        r = rld.admin("POST", "/admin/health", {"status": "DEGRADED", "updated_by": "test"})
        assert r.status == 200, r
        assert hash_of(redis, "rl:health")["status"] == "DEGRADED"
    limits = NORMAL if state == "NORMAL" else DEGRADED
    for tier, limit in limits.items():
        avoid_window_edge(window, margin=2.0 if window == 60 else 5.0)
        statuses, last = burst(rld, KEYS[tier], limit + 1)
        assert statuses == [200] * limit + [429], f"{tier}: {statuses.count(200)} passed"
        assert last.headers["x-ratelimit-limit"] == str(limit), last
        assert last.headers["x-ratelimit-remaining"] == "0", last
        assert int(last.headers["retry-after"]) >= 1, last
        # Counted in Redis, not in the process: the counter key with its TTL, and the usage.
        user = DEMO_USERS[tier]
        key = counter_key(user, algorithm, window)
        assert redis.command("EXISTS", key) == 1, all_keys(redis)
        assert 0 < redis.command("PTTL", key) <= 2 * window * 1000
        usage = rld.admin("GET", f"/admin/usage/{user}")
        assert usage.status == 200, usage
        assert {k: usage.json()[k] for k in ("tier", "limit", "used", "remaining")} == \
            {"tier": tier, "limit": limit, "used": limit, "remaining": 0}, usage
    assert fallbacks(rld) == {"local": 0, "allow": 0, "deny": 0}


def test_counters_are_one_per_user_and_window_in_redis(make_rld, redis):
    rld = start(make_rld, redis)
    statuses, _ = burst(rld, KEYS["free"], 5)
    assert statuses == [200] * 5
    counters = [k for k in all_keys(redis) if k.startswith("rl:c:")]
    assert counters == ["rl:c:{demo_free_user}:sw:60"]
    h = hash_of(redis, counters[0])
    assert int(h["c"]) + int(h.get("p", 0)) == 5, h
    assert 0 < redis.command("PTTL", counters[0]) <= 120000


# -- bootstrap -----------------------------------------------------------------------------
def test_bootstrap_writes_the_data_model_and_never_a_clear_text_key(make_rld, redis):
    assert all_keys(redis) == []
    rld = start(make_rld, redis)
    assert redis.command("GET", "rl:schema") == "1"
    assert sorted(redis.command("SMEMBERS", "rl:tiers")) == ["enterprise", "free", "pro"]
    assert hash_of(redis, "rl:tier:free") == {
        "base_limit": "10", "burst_limit": "20", "degraded_limit": "2", "window_seconds": "60",
        "algorithm": "sliding_window", "shadow": "0", "on_failure": ""}
    assert hash_of(redis, "rl:tier:pro")["burst_limit"] == "150"
    assert hash_of(redis, "rl:tier:enterprise")["degraded_limit"] == "1000"
    assert sorted(redis.command("SMEMBERS", "rl:users")) == sorted(DEMO_USERS.values())
    for tier, user in DEMO_USERS.items():
        u = hash_of(redis, f"rl:user:{user}")
        assert u["tier"] == tier and u["disabled"] == "0", u
        assert int(u["created_at"]) > 1_600_000_000_000, u  # epoch milliseconds
        digest = sha256_hex(KEYS[tier])
        k = hash_of(redis, f"rl:apikey:{digest}")
        assert k["user"] == user and k["key_id"] == digest[:16], k
        assert redis.command("SMEMBERS", f"rl:keys:{{{user}}}") == [digest]
    assert burst(rld, KEYS["pro"], 3)[0] == [200] * 3
    # No clear-text key anywhere: neither in a key name nor in a value.
    for key in all_keys(redis):
        text = key + " " + value_of(redis, key)
        for clear in KEYS.values():
            assert clear not in text, f"clear-text key in {key}: {text}"


def test_an_existing_data_model_is_never_overwritten(make_rld, redis):
    first = start(make_rld, redis)
    assert first.stop() == 0
    redis.command("HSET", "rl:tier:free", "base_limit", 5, "burst_limit", 5)
    redis.command("DEL", "rl:user:demo_pro_user")  # an operator deleted this user
    second = start(make_rld, redis)
    assert hash_of(redis, "rl:tier:free")["burst_limit"] == "5"
    assert redis.command("EXISTS", "rl:user:demo_pro_user") == 0
    assert burst(second, KEYS["free"], 6)[0] == [200] * 5 + [429]
    assert second.get("/test", key=KEYS["pro"]).status == 401


def test_bootstrap_keeps_entries_written_before_the_schema(make_rld, redis):
    redis.command("HSET", "rl:tier:free", "base_limit", 3, "burst_limit", 3, "degraded_limit", 1,
                  "window_seconds", 60, "algorithm", "sliding_window")
    redis.command("SADD", "rl:tiers", "free")
    rld = start(make_rld, redis)
    assert redis.command("GET", "rl:schema") == "1"
    assert hash_of(redis, "rl:tier:free")["burst_limit"] == "3"
    assert hash_of(redis, "rl:tier:pro")["burst_limit"] == "150"
    assert burst(rld, KEYS["free"], 4)[0] == [200] * 3 + [429]


# -- URLs ----------------------------------------------------------------------------------
def test_password_and_database_from_the_url(make_rld):
    server = RedisServer(password="pw-4f1c9a")
    try:
        server.start()
        url = f"redis://:pw-4f1c9a@127.0.0.1:{server.port}/3"
        rld = start_on_redis(make_rld, url, timeout_ms=EXACT_TIMEOUT_MS)
        assert burst(rld, KEYS["free"], 21)[0] == [200] * 20 + [429]
        assert server.command("DBSIZE") == 0  # nothing in db 0
        keys = all_keys(server, db=3)
        assert "rl:schema" in keys and "rl:c:{demo_free_user}:sw:60" in keys, keys
        assert "pw-4f1c9a" not in rld.log_text()
    finally:
        server.cleanup()


def test_unix_socket_url_with_database(make_rld):
    server = RedisServer(unix=True)
    try:
        server.start()
        rld = start_on_redis(make_rld, f"unix://{server.socket_path}?db=5",
                             timeout_ms=EXACT_TIMEOUT_MS)
        assert burst(rld, KEYS["free"], 21)[0] == [200] * 20 + [429]
        assert server.command("DBSIZE") == 0
        keys = all_keys(server, db=5)
        assert "rl:schema" in keys and "rl:c:{demo_free_user}:sw:60" in keys, keys
    finally:
        server.cleanup()


@pytest.fixture
def locked_redis():
    server = RedisServer(password="right-pw-8d2e")
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


def test_wrong_password_keeps_rld_up_and_not_ready(make_rld, locked_redis):
    url = f"redis://:wrong-pw-51c7@127.0.0.1:{locked_redis.port}/0"
    rld = start_on_redis(make_rld, url, wait=False)
    assert wait_until(lambda: rld.log_events("redis_disconnected"), 3), rld.log_text()
    r = rld.get("/ready")
    assert r.status == 503, r
    assert r.json()["status"] == "not_ready" and r.json()["reason"], r
    assert rld.get("/health").status == 200
    reasons = [e["reason"] for e in rld.log_events("redis_disconnected")]
    assert any("WRONGPASS" in x or "invalid password" in x for x in reasons), reasons
    # No key was ever seen through Redis: the tier file's keys still get their tiers (the local
    # failure policy, exact per instance), answered at once; other keys cannot be checked and
    # are limited per client as the strictest tier (test_redis_unverified.py).
    sent = time.monotonic()
    statuses, last = burst(rld, KEYS["free"], 21)
    assert time.monotonic() - sent < 2.0
    assert statuses == [200] * 20 + [429], statuses
    statuses, last = burst(rld, "sk_never_seen_key_0123", 2)
    assert statuses == [200] * 2, statuses
    assert last.json()["user"] is None and last.headers["x-ratelimit-remaining"] == "18", last
    assert "wrong-pw-51c7" not in rld.log_text()
    assert rld.proc.poll() is None


def test_a_password_changed_on_redis_is_an_outage_under_the_failure_policy(make_rld,
                                                                            locked_redis):
    """Redis starts refusing rld's password (rotated on the server): rld stays up, is not
    ready, and its known clients get exact local limits (redis.on_failure = local)."""
    url = f"redis://:right-pw-8d2e@127.0.0.1:{locked_redis.port}/0"
    rld = start_on_redis(make_rld, url, timeout_ms=EXACT_TIMEOUT_MS)
    for key in (KEYS["free"], KEYS["pro"]):
        assert rld.request("POST", "/v1/decide", body={"api_key": key, "cost": 0}).status == 200
    assert locked_redis.command("CONFIG", "SET", "requirepass", "rotated-pw-77a0") == "OK"
    locked_redis.password = "rotated-pw-77a0"
    for kind in ("normal", "pubsub"):
        locked_redis.command("CLIENT", "KILL", "TYPE", kind)
    assert wait_until(lambda: any("WRONGPASS" in e["reason"]
                                  for e in rld.log_events("redis_disconnected")), 3), \
        rld.log_text()
    assert wait_until(lambda: rld.get("/ready").status == 503, 3), rld.get("/ready")
    assert rld.get("/ready").json()["reason"]
    statuses, last = burst(rld, KEYS["free"], 21)
    assert statuses == [200] * 20 + [429], f"{statuses}; last answer {last}"
    assert burst(rld, KEYS["pro"], 151)[0] == [200] * 150 + [429]
    assert fallbacks(rld)["local"] >= 171
    assert "right-pw-8d2e" not in rld.log_text()


def test_redis_password_from_the_environment_stays_off_the_command_line(make_rld, locked_redis):
    """REDIS_PASSWORD completes a --redis URL without one, so `ps` never shows the password."""
    rld = make_rld(settings={"store": {"type": "redis"}}, env={"REDIS_PASSWORD": "right-pw-8d2e"},
                   args=["--redis", f"redis://127.0.0.1:{locked_redis.port}/0"])
    wait_ready(rld)
    assert peek(rld, KEYS["pro"])[1]["tier"] == "pro"
    assert locked_redis.command("EXISTS", "rl:schema") == 1
    with open(f"/proc/{rld.proc.pid}/cmdline", "rb") as f:
        assert b"right-pw-8d2e" not in f.read()
    assert "right-pw-8d2e" not in rld.log_text()


# -- heartbeat -----------------------------------------------------------------------------
def test_heartbeat_key_with_short_ttl_removed_at_sigterm(make_rld, redis):
    rld = start(make_rld, redis)
    key = f"rl:inst:{socket.gethostname()}:{rld.proc.pid}"
    assert wait_until(lambda: redis.command("EXISTS", key) == 1, 3), all_keys(redis)
    assert [k for k in all_keys(redis) if k.startswith("rl:inst:")] == [key]
    assert 0 < redis.command("PTTL", key) <= 15000
    h = hash_of(redis, key)
    assert set(h) == {"version", "started", "listeners", "decisions"}, h
    version = [lbl for (name, lbls) in metrics_of(rld) if name == "rl_build_info"
               for lbl in lbls if lbl[0] == "version"]
    assert version and h["version"] == version[0][1], (h, version)
    assert abs(int(h["started"]) - time.time() * 1000) < 60_000, h
    assert f"127.0.0.1:{rld.port}" in h["listeners"], h
    assert rld.socket_path in h["listeners"], h
    assert int(h["decisions"]) >= 0, h
    assert rld.stop() == 0
    assert redis.command("EXISTS", key) == 0


# -- the admin API on Redis ------------------------------------------------------------------
def test_a_user_created_through_the_admin_api_lives_in_redis(make_rld, redis):
    rld = start(make_rld, redis)
    r = rld.admin("POST", "/admin/users", {"user_id": "alice", "tier": "pro"})
    assert r.status == 201, r
    assert (r.json()["user_id"], r.json()["tier"]) == ("alice", "pro"), r
    u = hash_of(redis, "rl:user:alice")
    assert u["tier"] == "pro" and u["disabled"] == "0", u
    assert "alice" in redis.command("SMEMBERS", "rl:users")
    assert rld.admin("POST", "/admin/users", {"user_id": "alice", "tier": "pro"}).status == 409
    assert rld.admin("POST", "/admin/users", {"user_id": "bob", "tier": "gold"}).status == 422
    assert redis.command("EXISTS", "rl:user:bob") == 0


def test_a_key_issued_through_the_admin_api_is_stored_only_as_its_sha256(make_rld, redis):
    rld = start(make_rld, redis)
    r = rld.admin("POST", "/admin/users/demo_pro_user/keys", {"label": "ci"})
    assert r.status == 201, r
    api_key, key_id = r.json()["api_key"], r.json()["key_id"]
    digest = sha256_hex(api_key)
    assert key_id == digest[:16]
    stored = hash_of(redis, f"rl:apikey:{digest}")
    assert (stored["user"], stored["key_id"], stored["label"]) == ("demo_pro_user", key_id, "ci")
    assert digest in redis.command("SMEMBERS", "rl:keys:{demo_pro_user}")
    for key in all_keys(redis):
        assert api_key not in key + " " + value_of(redis, key), key
    assert api_key not in rld.log_text()
    got = rld.get("/test", key=api_key)
    assert got.status == 200 and got.json()["user"] == "demo_pro_user", got
    listed = rld.admin("GET", "/admin/users/demo_pro_user/keys").json()["keys"]
    assert key_id in [k["key_id"] for k in listed], listed
    # Revoked: gone from Redis and refused at once.
    assert rld.admin("DELETE", f"/admin/keys/{key_id}").status == 204
    assert redis.command("EXISTS", f"rl:apikey:{digest}") == 0
    assert rld.get("/test", key=api_key).status == 401
    assert rld.get("/test", key=KEYS["pro"]).status == 200  # the user's other key


def test_revoking_a_key_through_the_admin_api(make_rld, redis):
    rld = start(make_rld, redis)
    digest = sha256_hex(KEYS["pro"])
    assert rld.get("/test", key=KEYS["pro"]).status == 200  # cached now
    assert rld.admin("DELETE", f"/admin/keys/{digest[:16]}").status == 204
    assert redis.command("EXISTS", f"rl:apikey:{digest}") == 0
    assert redis.command("SMEMBERS", "rl:keys:{demo_pro_user}") == []
    assert rld.get("/test", key=KEYS["pro"]).status == 401
    assert rld.admin("DELETE", f"/admin/keys/{digest[:16]}").status == 404
    assert rld.get("/test", key=KEYS["free"]).status == 200


def test_deleting_a_user_through_the_admin_api(make_rld, redis):
    rld = start(make_rld, redis)
    assert burst(rld, KEYS["free"], 3)[0] == [200] * 3
    assert rld.admin("DELETE", "/admin/users/demo_free_user").status == 204
    assert wait_until(lambda: not [k for k in all_keys(redis) if "demo_free_user" in k], 2), \
        all_keys(redis)
    assert redis.command("EXISTS", f"rl:apikey:{sha256_hex(KEYS['free'])}") == 0
    assert "demo_free_user" not in redis.command("SMEMBERS", "rl:users")
    assert rld.get("/test", key=KEYS["free"]).status == 401
    assert rld.admin("GET", "/admin/users/demo_free_user").status == 404
    assert rld.admin("DELETE", "/admin/users/demo_free_user").status == 404


def test_a_tier_put_through_the_admin_api_lives_in_redis(make_rld, redis):
    rld = start(make_rld, redis)
    body = {"base_limit": 3, "burst_limit": 4, "degraded_limit": 1, "window_seconds": 3600,
            "algorithm": "fixed_window"}
    r = rld.admin("PUT", "/admin/tiers/tiny", body)
    assert r.status == 201, r
    assert hash_of(redis, "rl:tier:tiny") == {
        "base_limit": "3", "burst_limit": "4", "degraded_limit": "1", "window_seconds": "3600",
        "algorithm": "fixed_window", "shadow": "0", "on_failure": ""}
    assert "tiny" in redis.command("SMEMBERS", "rl:tiers")
    assert set(rld.admin("GET", "/admin/tiers").json()["tiers"]) == \
        {"free", "pro", "enterprise", "tiny"}
    # An existing tier changed: a smaller burst applies at once to the same counter.
    assert burst(rld, KEYS["free"], 3)[0] == [200] * 3
    r = rld.admin("PUT", "/admin/tiers/free", {"base_limit": 5, "burst_limit": 5,
                                               "degraded_limit": 2, "window_seconds": 60})
    assert r.status == 200, r
    assert hash_of(redis, "rl:tier:free")["burst_limit"] == "5"
    assert burst(rld, KEYS["free"], 3)[0] == [200] * 2 + [429]


def test_a_user_moved_to_another_tier_through_the_admin_api(make_rld, redis):
    rld = start(make_rld, redis)
    put = rld.admin("PUT", "/admin/tiers/tiny", {"base_limit": 4, "burst_limit": 4,
                                                 "degraded_limit": 1, "window_seconds": 3600,
                                                 "algorithm": "fixed_window"})
    assert put.status == 201, put
    assert rld.get("/test", key=KEYS["free"]).status == 200
    r = rld.admin("PATCH", "/admin/users/demo_free_user", {"tier": "tiny"})
    assert r.status == 200 and r.json()["tier"] == "tiny", r
    assert hash_of(redis, "rl:user:demo_free_user")["tier"] == "tiny"
    avoid_window_edge(3600, margin=5.0)
    assert burst(rld, KEYS["free"], 5)[0] == [200] * 4 + [429]
    assert redis.command("EXISTS", counter_key("demo_free_user", "fixed_window", 3600)) == 1
    r = rld.admin("PATCH", "/admin/users/demo_free_user", {"disabled": True})
    assert r.status == 200, r
    assert hash_of(redis, "rl:user:demo_free_user")["disabled"] == "1"
    assert rld.get("/test", key=KEYS["free"]).status == 403


def test_health_state_lives_in_redis_with_its_ttl(make_rld, redis):
    rld = start(make_rld, redis)
    assert rld.admin("GET", "/admin/health").json()["status"] == "NORMAL"
    r = rld.admin("POST", "/admin/health", {"status": "DEGRADED", "ttl_seconds": 600,
                                            "updated_by": "ops", "reason": "load test"})
    assert r.status == 200, r
    h = hash_of(redis, "rl:health")
    assert (h["status"], h["updated_by"], h["reason"]) == ("DEGRADED", "ops", "load test"), h
    assert 590_000 < redis.command("PTTL", "rl:health") <= 600_000
    got = rld.admin("GET", "/admin/health").json()
    assert got["status"] == "DEGRADED" and got["updated_by"] == "ops", got
    assert burst(rld, KEYS["free"], 3)[0] == [200, 200, 429]
    assert rld.admin("POST", "/admin/health", {"status": "NORMAL"}).status == 200
    assert hash_of(redis, "rl:health").get("status", "NORMAL") == "NORMAL"
    # The same counter whatever the state: 2 used, 18 left of 20.
    assert burst(rld, KEYS["free"], 19)[0] == [200] * 18 + [429]


def test_invalid_attempts_block_the_client_in_redis_until_unblocked(make_rld, redis):
    rld = start(make_rld, redis)
    ip = "198.51.100.23"
    unknown = rl_key("Q" * 32)
    got = [rld.get("/test", headers=from_ip(ip, unknown), via="unix").status for _ in range(11)]
    assert got == [401] * 10 + [429], got
    block = "rl:block:{198.51.100.23}"
    assert redis.command("EXISTS", block) == 1, all_keys(redis)
    assert 890_000 < redis.command("PTTL", block) <= 900_000
    assert redis.command("EXISTS", "rl:bad:{198.51.100.23}") == 0
    # A valid key does not help a blocked client; other clients are not affected.
    r = rld.get("/test", headers=from_ip(ip, KEYS["pro"]), via="unix")
    assert r.status == 429 and int(r.headers["retry-after"]) > 800, r
    assert rld.get("/test", headers=from_ip("198.51.100.24", KEYS["pro"]), via="unix").status == 200
    blocks = rld.admin("GET", "/admin/blocks").json()["blocks"]
    assert [b["client"] for b in blocks] == [ip], blocks
    assert rld.admin("DELETE", f"/admin/blocks/{ip}").status == 204
    assert redis.command("EXISTS", block) == 0
    assert rld.get("/test", headers=from_ip(ip, KEYS["pro"]), via="unix").status == 200
    assert rld.admin("GET", "/admin/blocks").json()["blocks"] == []
    assert rld.admin("DELETE", f"/admin/blocks/{ip}").status == 404


def test_a_block_written_into_redis_holds(make_rld, redis):
    """A block made elsewhere (another instance, rlctl) is found through the periodic
    resync or a block event; here through the event rld listens to."""
    rld = start(make_rld, redis)
    redis.command("SET", "rl:block:{198.51.100.40}", "by hand", "PX", 60000)
    redis.command("PUBLISH", "rl:events", "block:198.51.100.40")
    assert wait_until(lambda: rld.get("/test", headers=from_ip("198.51.100.40", KEYS["pro"]),
                                      via="unix").status == 429, 1.0)


def test_usage_matches_the_traffic(make_rld, redis):
    rld = start(make_rld, redis)
    assert burst(rld, KEYS["pro"], 37)[0] == [200] * 37
    usage = rld.admin("GET", "/admin/usage/demo_pro_user")
    assert usage.status == 200, usage
    u = usage.json()
    assert (u["user"], u["tier"], u["limit"], u["used"], u["remaining"]) == \
        ("demo_pro_user", "pro", 150, 37, 113), u
    assert u["reset"] > time.time()
    # Reading the usage consumes nothing.
    assert rld.admin("GET", "/admin/usage/demo_pro_user").json()["used"] == 37
    assert rld.admin("GET", "/admin/usage/nobody").status == 404


def test_redis_metrics(make_rld, redis):
    rld = start(make_rld, redis, connections=3)
    before = metric(metrics_of(rld), "rl_redis_command_duration_seconds_count")
    assert burst(rld, KEYS["pro"], 10)[0] == [200] * 10
    m = metrics_of(rld)
    assert metric(m, "rl_redis_command_duration_seconds_count") >= before + 10
    # Per worker: redis.connections (2) for commands, one for the events subscription.
    workers = rld.log_events("start")[0]["workers"]
    assert metric(m, "rl_redis_connections_ready") == 3 * workers
    assert metric(m, "rl_redis_breaker_state") == 0
    assert metric(m, "rl_redis_errors_total", kind="timeout") == 0
    assert metric(m, "rl_store_fallback_total", policy="local") == 0

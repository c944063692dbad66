"""A key rld has not seen before Redis went away cannot be checked: nobody can say whose it is.
redis.on_failure decides what happens to it (DESIGN.md §7: no 5xx for an outage under local or
allow). local admits it under the most restrictive tier of the tier file, counted per client
(keys are free to invent, clients are not) and apart from every user; allow admits it without a
limit; deny answers 503. A key whose user names a tier that is gone is no outage: 403."""
import time

from redis_support import (add_user_in_redis, fallbacks, from_ip, metrics_of, peek,
                           start_on_redis)
from redis_support import redis_fixture  # noqa: F401 (the "redis" fixture)
from rld_harness import KEYS, metric
from helpers_decisions import rl_key

MAX_LATENCY = 0.25


def burst(rld, key, n, headers=None, via="tcp"):
    conn = rld.connection(via)
    try:
        return [rld.get("/test", key=key, headers=headers, conn=conn) for _ in range(n)]
    finally:
        conn.close()


def keys_rld_never_saw(redis, n):
    """`n` keys of fresh enterprise users written straight into Redis: real keys of the most
    generous tier, unknown to rld until it asks Redis."""
    return [add_user_in_redis(redis, f"late_user_{i}", "enterprise") for i in range(n)]


def test_local_admits_an_unchecked_key_under_the_strictest_tier_per_client(make_rld, redis):
    rld = start_on_redis(make_rld, redis.url)
    assert peek(rld, KEYS["pro"])[0] == 200  # known before the outage
    first, second = keys_rld_never_saw(redis, 2)
    redis.stop()

    sent = time.monotonic()
    answers = burst(rld, first, 15)
    assert time.monotonic() - sent <= MAX_LATENCY * 15
    assert [a.status for a in answers] == [200] * 15
    assert answers[0].headers["x-ratelimit-limit"] == "20", answers[0]  # free, not enterprise
    assert answers[-1].headers["x-ratelimit-remaining"] == "5", answers[-1]
    # Another invented key from the same client draws on the same 20.
    rest = burst(rld, second, 7)
    assert [a.status for a in rest] == [200] * 5 + [429] * 2, rest
    assert int(rest[-1].headers["retry-after"]) >= 1
    assert burst(rld, rl_key("Z" * 32), 1)[0].status == 429
    # A key known before the outage keeps its own tier and count.
    assert [a.status for a in burst(rld, KEYS["pro"], 3)] == [200] * 3
    assert fallbacks(rld)["local"] >= 25


def test_local_counts_each_client_apart(make_rld, redis):
    rld = start_on_redis(make_rld, redis.url)
    (key,) = keys_rld_never_saw(redis, 1)
    redis.stop()
    for ip in ("198.18.0.1", "198.18.0.2"):
        statuses = [a.status for a in burst(rld, key, 22, headers=from_ip(ip), via="unix")]
        assert statuses == [200] * 20 + [429] * 2, (ip, statuses)


def test_decide_reports_an_unchecked_key_as_unverified(make_rld, redis):
    rld = start_on_redis(make_rld, redis.url)
    (key,) = keys_rld_never_saw(redis, 1)
    redis.stop()
    r = rld.request("POST", "/v1/decide", body={"api_key": key})
    assert r.status == 200, r
    body = r.json()
    assert body["allowed"] is True and body["status"] == 200, body
    assert body["result"] == "unverified", body
    assert body["user"] is None and body["tier"] == "free", body
    assert body["limit"] == 20 and body["remaining"] == 19, body
    test = rld.get("/test", key=key)
    assert test.status == 200 and test.json()["user"] is None, test
    m = metrics_of(rld)
    assert metric(m, "rl_decisions_total", tier="free", result="unverified") == 2


def test_allow_admits_an_unchecked_key_without_a_limit(make_rld, redis):
    rld = start_on_redis(make_rld, redis.url, on_failure="allow")
    (key,) = keys_rld_never_saw(redis, 1)
    redis.stop()
    answers = burst(rld, key, 30)
    assert [a.status for a in answers] == [200] * 30
    assert "x-ratelimit-limit" not in answers[-1].headers, answers[-1]
    assert peek(rld, key)[1]["result"] == "unverified"


def test_deny_answers_503_for_an_unchecked_key(make_rld, redis):
    rld = start_on_redis(make_rld, redis.url, on_failure="deny")
    (key,) = keys_rld_never_saw(redis, 1)
    redis.stop()
    for a in burst(rld, key, 3):
        assert a.status == 503, a
        assert a.json()["error"]["code"] == "unavailable", a
        assert int(a.headers["retry-after"]) >= 1, a


def test_a_user_whose_tier_is_gone_is_403_not_an_outage(make_rld, redis):
    rld = start_on_redis(make_rld, redis.url)
    key = add_user_in_redis(redis, "orphan", "ghost_tier")  # as after a forced tier delete
    r = rld.get("/test", key=key)
    assert r.status == 403, r
    assert r.json()["error"]["code"] == "account_misconfigured", r
    assert "ghost_tier" not in r.body and key not in r.body, r  # details go to the log only
    assert rld.get("/ready").status == 200  # Redis answered: nothing is down
    assert fallbacks(rld) == {"local": 0, "allow": 0, "deny": 0}

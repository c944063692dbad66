"""Three rld processes on one private redis-server: a key's requests spread over all three,
one at a time and with 50 in flight at once, admit exactly the limit; DEGRADED set through one
instance is enforced by the others within 2.5 s; a key revoked, a tier changed, a user moved
or a client blocked or unblocked through one instance is seen by the others within 1 s. And,
so that the sharing tests can be seen to fail: two rld on the memory store do not share."""
import pytest

from redis_support import (EXACT_TIMEOUT_MS, add_user_in_redis, concurrent_spread, fallbacks,
                           from_ip, peek, poll_until, sha256_hex, spread, start_on_redis)
from redis_support import redis_fixture  # noqa: F401 (the "redis" fixture)
from rld_harness import KEYS
from helpers_decisions import rl_key

HEALTH_DELAY = 2.5  # DEGRADED / NORMAL set on one instance, enforced by the others
CHANGE_DELAY = 1.0  # a revoked key, a changed tier or user, a block


@pytest.fixture
def trio(make_rld, redis):
    rlds = [start_on_redis(make_rld, redis.url, timeout_ms=EXACT_TIMEOUT_MS) for _ in range(3)]
    return rlds


def no_fallbacks(rlds):
    """Every decision of every instance came from Redis."""
    got = [fallbacks(r) for r in rlds]
    assert all(f == {"local": 0, "allow": 0, "deny": 0} for f in got), got


def seen_by_all(rlds, predicate, timeout):
    """Polls predicate(rld) on every instance of `rlds`; returns the seconds until it held on
    all of them, or None."""
    pending = list(rlds)

    def check():
        pending[:] = [r for r in pending if not predicate(r)]
        return not pending
    return poll_until(check, timeout)


# -- exact sharing -------------------------------------------------------------------------
@pytest.mark.parametrize("tier,limit,total", [("pro", 150, 400), ("free", 20, 100)])
def test_sequential_requests_over_three_instances_admit_exactly_the_limit(trio, tier, limit,
                                                                         total):
    statuses = spread(trio, KEYS[tier], total)
    assert statuses == [200] * limit + [429] * (total - limit), \
        f"{statuses.count(200)} of {total} passed"
    no_fallbacks(trio)


@pytest.mark.parametrize("tier,limit,total", [("pro", 150, 400), ("free", 20, 100)])
def test_fifty_in_flight_over_three_instances_admit_exactly_the_limit(trio, tier, limit, total):
    counts = concurrent_spread(trio, KEYS[tier], total, clients=50)
    assert counts == {200: limit, 429: total - limit}, counts
    no_fallbacks(trio)


def test_two_memory_store_instances_do_not_share(make_rld):
    """The control: without Redis each instance counts alone, so together they admit twice
    the limit — what the sharing tests above would see if rld did not share."""
    pair = [make_rld(), make_rld()]
    statuses = spread(pair, KEYS["free"], 60)
    assert statuses == [200] * 40 + [429] * 20, f"{statuses.count(200)} of 60 passed"


# -- the health state ----------------------------------------------------------------------
def test_degraded_through_one_instance_is_enforced_by_the_others(trio, redis):
    a, others = trio[0], trio[1:]
    for r in trio:
        assert peek(r, KEYS["pro"])[1]["limit"] == 150
    r = a.admin("POST", "/admin/health", {"status": "DEGRADED", "updated_by": "test"})
    assert r.status == 200, r
    took = seen_by_all(others, lambda r: peek(r, KEYS["pro"])[1]["limit"] == 100, HEALTH_DELAY)
    assert took is not None, [peek(r, KEYS["pro"]) for r in others]
    assert all(peek(r, KEYS["pro"])[1]["health"] == "DEGRADED" for r in trio)
    fresh = add_user_in_redis(redis, "degraded_pro", "pro")
    assert spread(trio, fresh, 130) == [200] * 100 + [429] * 30
    # Back to NORMAL through another instance.
    r = trio[1].admin("POST", "/admin/health", {"status": "NORMAL", "updated_by": "test"})
    assert r.status == 200, r
    took = seen_by_all([trio[0], trio[2]], lambda r: peek(r, KEYS["pro"])[1]["limit"] == 150,
                       HEALTH_DELAY)
    assert took is not None, [peek(r, KEYS["pro"]) for r in trio]
    fresh = add_user_in_redis(redis, "normal_pro", "pro")
    assert spread(trio, fresh, 180) == [200] * 150 + [429] * 30
    no_fallbacks(trio)


# -- admin changes ---------------------------------------------------------------------------
def test_a_key_revoked_through_one_instance_is_refused_by_the_others(trio):
    key_id = sha256_hex(KEYS["pro"])[:16]
    assert [r.get("/test", key=KEYS["pro"]).status for r in trio] == [200] * 3  # cached
    assert trio[0].admin("DELETE", f"/admin/keys/{key_id}").status == 204
    took = seen_by_all(trio[1:], lambda r: peek(r, KEYS["pro"])[1]["status"] == 401, CHANGE_DELAY)
    assert took is not None, [peek(r, KEYS["pro"]) for r in trio[1:]]
    assert [r.get("/test", key=KEYS["pro"]).status for r in trio] == [401] * 3


def test_a_tier_changed_through_one_instance_is_applied_by_the_others(trio):
    for r in trio:
        assert peek(r, KEYS["pro"])[1]["limit"] == 150  # the tier is cached
    r = trio[0].admin("PUT", "/admin/tiers/pro", {"base_limit": 7, "burst_limit": 7,
                                                  "degraded_limit": 5, "window_seconds": 60})
    assert r.status == 200, r
    took = seen_by_all(trio[1:], lambda r: peek(r, KEYS["pro"])[1]["limit"] == 7, CHANGE_DELAY)
    assert took is not None, [peek(r, KEYS["pro"]) for r in trio[1:]]
    assert spread(trio, KEYS["pro"], 10) == [200] * 7 + [429] * 3
    no_fallbacks(trio)


def test_a_user_moved_through_one_instance_is_seen_by_the_others(trio):
    for r in trio:
        assert peek(r, KEYS["free"])[1]["tier"] == "free"  # the user is cached
    r = trio[0].admin("PATCH", "/admin/users/demo_free_user", {"tier": "pro"})
    assert r.status == 200, r
    took = seen_by_all(trio[1:], lambda r: peek(r, KEYS["free"])[1]["tier"] == "pro",
                       CHANGE_DELAY)
    assert took is not None, [peek(r, KEYS["free"]) for r in trio[1:]]
    assert spread(trio, KEYS["free"], 160) == [200] * 150 + [429] * 10


def test_a_user_changed_in_redis_with_its_event_is_seen_by_every_instance(trio, redis):
    """rlctl's way (DESIGN.md §5): write the user's hash, publish user:<id> on rl:events."""
    for r in trio:
        assert peek(r, KEYS["free"])[1]["tier"] == "free"
    redis.command("HSET", "rl:user:demo_free_user", "tier", "pro")
    redis.command("PUBLISH", "rl:events", "user:demo_free_user")
    took = seen_by_all(trio, lambda r: peek(r, KEYS["free"])[1]["tier"] == "pro", CHANGE_DELAY)
    assert took is not None, [peek(r, KEYS["free"]) for r in trio]
    assert spread(trio, KEYS["free"], 160) == [200] * 150 + [429] * 10
    no_fallbacks(trio)


def test_a_block_made_on_one_instance_holds_on_all_and_is_lifted_on_all(trio, redis):
    ip = "203.0.113.9"
    blocked = lambda r: r.get("/test", headers=from_ip(ip, KEYS["pro"]),  # noqa: E731
                              via="unix").status == 429
    assert [blocked(r) for r in trio] == [False] * 3
    unknown = rl_key("Z" * 32)
    got = [trio[0].get("/test", headers=from_ip(ip, unknown), via="unix").status
           for _ in range(11)]
    assert got == [401] * 10 + [429], got
    assert redis.command("EXISTS", "rl:block:{203.0.113.9}") == 1
    took = seen_by_all(trio[1:], blocked, CHANGE_DELAY)
    assert took is not None, "the block is not enforced by every instance"
    # Another client is not blocked anywhere.
    assert [r.get("/test", headers=from_ip("203.0.113.10", KEYS["pro"]), via="unix").status
            for r in trio] == [200] * 3
    assert trio[1].admin("DELETE", f"/admin/blocks/{ip}").status == 204
    assert redis.command("EXISTS", "rl:block:{203.0.113.9}") == 0
    took = seen_by_all(trio, lambda r: not blocked(r), CHANGE_DELAY)
    assert took is not None, "the block is still enforced somewhere"

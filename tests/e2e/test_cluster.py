"""rld and rlctl on a Redis Cluster (issue 6): three masters with a replica each, private to
this module (redis_cluster.py), healed, emptied and its statistics reset before every test.

What must hold on a cluster, as on one Redis: the reference's exact results (NORMAL and
DEGRADED), exact limits for many users whose counters live on every master, one exact limit
shared by two rld, and never a CROSSSLOT error (DESIGN.md §5: each script touches one slot).
What a cluster adds: a manual failover and a crashed master under load — every answer 200
or 429 and quick, decisions taken without Redis only while the switch lasts, exact again
after it; slots resharded under load and a slot held half-migrated (ASK redirections) — not
one decision taken without Redis, exact throughout; rlctl on the cluster, its changes seen by
rld within a second (pub/sub crosses the cluster).

The harness self-tests (test_cluster_harness_*) need no rld: they check that the cluster
comes up as described and that each fault helper leaves it healthy.

Deadlines: rld gets EXACT_TIMEOUT_MS (50 ms) per Redis call, as the exact-sharing tests of
tests/integration do, so that a busy 2-core machine does not turn a slow reply into a
decision taken twice; a failover and a kill are still answered within MAX_LATENCY."""
import http.client
import json
import re
import subprocess
import threading
import time

import pytest

from redis_cluster import RedisCluster, RedisError, hash_slot, name_in_slots
from redis_support import (DEMO_USERS, EXACT_TIMEOUT_MS, LOAD_KEYS, Load, avoid_window_edge,
                           concurrent_spread, counter_key, create_user_with_key, fallbacks,
                           from_ip, load_tier_file, peek, poll_until, problems_of, ready,
                           sha256_hex, spread)
from rlctl_support import Ctl
from rld_harness import KEYS
from helpers_decisions import rl_key

READY_TIMEOUT = 10.0  # an rld on the cluster answers /ready 200 (bootstrap included)
APPLY_DEADLINE = 1.5  # an rlctl change (published on rl:events) applied by rld
HEALTH_DELAY = 2.5  # DEGRADED set elsewhere, enforced by rld (its health cache)
MAX_LATENCY = 0.5  # every answer during a failover, a kill or a reshard
SETTLE = 1.0  # after a switch: this long (and SETTLE_ANSWERS answers) with no new fallback
SETTLE_ANSWERS = 100
NORMAL = {"free": 20, "pro": 150, "enterprise": 1000}
DEGRADED = {"free": 2, "pro": 100, "enterprise": 1000}
HOUR = 150  # the "hour" tier: 150 per 3600 s, so that no load test meets a window's edge
# What rld must never have met on a cluster (a script touching two slots).
CROSS_SLOT = re.compile(r"CROSSSLOT|hash to the same slot|non local key", re.I)


# -- the cluster -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cluster_process():
    """One cluster for the module (creating one takes a few seconds)."""
    cluster = RedisCluster(node_timeout_ms=1000)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def redis_cluster(cluster_process):
    """The module's cluster, healthy (dead nodes restarted, half-done migrations undone),
    empty (FLUSHALL and SCRIPT FLUSH on every master) and with its error statistics at 0,
    so that each test bootstraps its own data and sees only its own errors. A cluster that
    cannot be healed is built again from scratch."""
    try:
        cluster_process.heal()
    except RuntimeError:
        cluster_process.rebuild()
    cluster_process.flushall()
    cluster_process.reset_stats()
    return cluster_process


def cluster_tiers():
    """The demo tier file plus the "big" tier with load_user_1..4 (redis_support) and the
    "hour" tier (150 per hour) for exact counts under load."""
    data = load_tier_file()
    data["tiers"]["hour"] = {"base_limit": 100, "burst_limit": HOUR, "degraded_limit": 100,
                             "window_seconds": 3600}
    return data


def cluster_settings(cluster, **redis_keys):
    """rld.toml settings for the redis store on `cluster`: mode "cluster" with every node
    as a seed."""
    redis_keys.setdefault("timeout_ms", EXACT_TIMEOUT_MS)
    return {"store": {"type": "redis"},
            "redis": {"mode": "cluster", "nodes": cluster.seeds(), **redis_keys}}


def start_rld(make_rld, settings=None, args=(), tiers=None):
    """An rld made by make_rld and started; once /ready is 200 (bootstrapped, breaker
    closed). A refused configuration fails the test with rld's own words (today: the cluster
    settings are unknown to rld)."""
    rld = make_rld(settings=settings, args=args, tiers=tiers or cluster_tiers(), start=False)
    try:
        rld.start()
        started = True
    except RuntimeError:  # rld exited, or never said it was ready: reported below
        started = False
    if not started or rld.log_events("config_invalid"):
        refused(rld)
    up = poll_until(lambda: rld.proc.poll() is not None or ready(rld), READY_TIMEOUT)
    if rld.proc.poll() is not None:
        refused(rld)
    assert up is not None, \
        f"rld not ready after {READY_TIMEOUT} s: {rld.get('/ready')}\n{rld.log_text()}"
    return rld


def refused(rld):
    """Fails the test because rld did not start, with its config_invalid error (or its
    whole log). The exit code is reported here, once: the make_rld fixture would otherwise
    report the same early exit again as an unclean stop."""
    try:
        code = rld.wait(5)
    except subprocess.TimeoutExpired:  # running but never ready: stop it
        rld.kill()
        code = "none, killed"
    rld.proc = None
    invalid = [e.get("error") for e in rld.log_events("config_invalid")]
    why = f"config_invalid: {invalid[0]}" if invalid else "log:\n" + rld.log_text()
    pytest.fail(f"rld did not start on the cluster (exit {code}); {why}", pytrace=False)


def start_on_cluster(make_rld, cluster, **redis_keys):
    return start_rld(make_rld, settings=cluster_settings(cluster, **redis_keys))


def no_fallbacks(rlds):
    """Every decision of every instance came from Redis."""
    got = [fallbacks(r) for r in rlds]
    assert all(f == {"local": 0, "allow": 0, "deny": 0} for f in got), got


def total_fallbacks(rlds):
    return [sum(v or 0 for v in fallbacks(r).values()) for r in rlds]


def assert_no_crossslot(cluster, rlds=()):
    """No node has counted a CROSSSLOT error since the test began (the fixture reset the
    statistics; a node restarted meanwhile starts from 0 too), and no rld logged one, nor a
    script's cross-slot or non-local-key refusal."""
    stats = cluster.all_errorstats()
    crossslot = {addr: s["CROSSSLOT"] for addr, s in stats.items() if "CROSSSLOT" in s}
    assert not crossslot, f"CROSSSLOT errors on {crossslot} (errorstats: {stats})"
    for r in rlds:
        lines = [line for line in r.log_text().splitlines() if CROSS_SLOT.search(line)]
        assert not lines, "rld met a cross-slot error:\n" + "\n".join(lines[:10])


def burst(rlds, key, n, margin=6.0):
    """spread() (n requests round-robin over `rlds`, one at a time), started where the
    60 s window has at least `margin` seconds left, so that the burst stays in one window."""
    avoid_window_edge(60, margin)
    return spread(rlds, key, n)


def new_user(rld, user, tier):
    """A user created through rld's admin API, with one API key; returns the key."""
    return create_user_with_key(rld, user, tier)["api_key"]


def user_on(cluster, master, prefix):
    """A user name whose counters (rl:c:{name}:...) live on `master` now."""
    return name_in_slots(prefix, cluster.slots_of(master))


def all_ready(rlds):
    return all(ready(r) for r in rlds)


def settled(load, rlds, problems, what):
    """After a switch: every rld ready again within READY_TIMEOUT, then SETTLE seconds and
    SETTLE_ANSWERS answers of load with no decision taken without Redis."""
    if poll_until(lambda: all_ready(rlds), READY_TIMEOUT) is None:
        problems.append(f"/ready not 200 on every rld {READY_TIMEOUT} s after {what}: "
                        + str([r.get("/ready") for r in rlds]))
        return
    before = [fallbacks(r) for r in rlds]
    t0 = time.monotonic()
    poll_until(lambda: time.monotonic() - t0 >= SETTLE
               and load.count(t0) >= SETTLE_ANSWERS, SETTLE + 10)
    after = [fallbacks(r) for r in rlds]
    if load.count(t0) < SETTLE_ANSWERS:
        problems.append(f"only {load.count(t0)} answers after {what}: the load stalled")
    if after != before:
        problems.append(f"decisions still taken without Redis after {what} (every rld "
                        f"ready): {before} -> {after}")


def exact_on(cluster, rlds, master, prefix, problems):
    """A fresh pro user whose counter lives on `master` admits exactly 150 of 160 over
    `rlds`, all decided by Redis."""
    user = user_on(cluster, master, prefix)
    key = new_user(rlds[0], user, "pro")
    before = total_fallbacks(rlds)
    got = burst(rlds, key, 160)
    if got != [200] * 150 + [429] * 10:
        problems.append(f"{user} on {master}: {got.count(200)} of 160 passed, not 150 "
                        f"({sorted(set(map(str, got)))})")
    if total_fallbacks(rlds) != before:
        problems.append(f"{user}: decisions taken without Redis: {before} -> "
                        f"{total_fallbacks(rlds)}")
    owner = cluster.node_for_key(counter_key(user))
    if owner is not master:
        problems.append(f"{user}'s counter is served by {owner}, not {master}")
    elif owner.command("EXISTS", counter_key(user)) != 1:
        problems.append(f"{user}'s counter {counter_key(user)} is not on {owner}")


# == harness self-tests (no rld) ===============================================================
def test_cluster_harness_comes_up_with_three_masters_each_with_one_replica(redis_cluster):
    """The layout every other test relies on, and the harness' own slot arithmetic and
    routing helpers agreeing with the servers."""
    c = redis_cluster
    assert c.create_seconds < 30, f"cluster creation took {c.create_seconds:.1f} s"
    assert c.problems() == []
    masters, replicas = c.masters(), c.replicas()
    assert len(masters) == 3 and len(replicas) == 3, (masters, replicas)
    assert sorted(c.replica_of(m).port for m in masters) == sorted(r.port for r in replicas)
    for r in replicas:
        assert c.replica_of(c.master_of(r)) is r
        assert r.info("replication")["master_link_status"] == "up"
    slots = [c.slots_of(m) for m in masters]
    assert sorted(s for owned in slots for s in owned) == list(range(16384))
    assert all(len(owned) >= 5000 for owned in slots), [len(s) for s in slots]
    for n in c.nodes:
        info = n.cluster_info()
        assert (info["cluster_state"], info["cluster_slots_assigned"],
                info["cluster_known_nodes"], info["cluster_size"]) == ("ok", "16384", "6", "3")
    assert c.seeds() == [n.addr for n in c.nodes] and len(set(c.seeds())) == 6
    assert all(re.fullmatch(r"127\.0\.0\.1:\d+", s) for s in c.seeds())
    assert c.url() == "redis+cluster://" + ",".join(c.seeds())
    assert c.url([masters[0]]) == f"redis+cluster://{masters[0].addr}"
    # The local slot computation agrees with the server's, hash tags included.
    for key in ["rl:schema", "rl:c:{demo_free_user}:sw:60", "rl:keys:{u1}", "rl:bad:{1.2.3.4}",
                "{}x", "a{}b{c}", "rl:block:{2001:db8::/64}", "foo{bar}{zap}"]:
        assert c.keyslot(key) == hash_slot(key), key
    assert c.keyslot("rl:c:{acme}:sw:60") == c.keyslot("rl:keys:{acme}") == hash_slot("acme")
    # Keys live where node_for_key says; any other master redirects there.
    key = "rl:c:{harness}:sw:60"
    owner = c.node_for_key(key)
    assert owner.call("HSET", key, "c", 1) == 1
    other = next(m for m in masters if m is not owner)
    moved = other.command("HGET", key, "c")
    assert isinstance(moved, RedisError)
    assert str(moved) == f"MOVED {c.keyslot(key)} {owner.addr}"
    assert c.countkeysinslot(c.keyslot(key)) == 1
    assert c.getkeysinslot(c.keyslot(key)) == [key]
    assert c.dbsize() == 1
    c.flushall()
    assert c.dbsize() == 0
    # A name search by slot finds a name whose counters live on the given master.
    name = user_on(c, masters[1], "probe")
    assert c.node_for_key(counter_key(name)) is masters[1]
    assert_no_crossslot(c)


def test_cluster_harness_failover_leaves_the_cluster_ok(redis_cluster):
    """failover() returns only once the replica serves its old master's slots, with the
    data, and the old master redirects there (and the pair can switch back)."""
    c = redis_cluster
    master = c.masters()[0]
    replica = c.replica_of(master)
    slots = c.slots_of(master)
    key = "rl:c:{" + user_on(c, master, "fo") + "}:sw:60"
    assert master.call("SET", key, "before") == "OK"
    assert master.call("WAIT", 1, 2000) == 1  # on the replica before the switch
    took = c.failover(replica)
    assert took < 10, f"manual failover took {took:.1f} s"
    assert c.problems() == []
    assert replica in c.masters() and master in c.replicas()
    assert c.master_of(master) is replica and c.slots_of(replica) == slots
    assert c.node_for_key(key) is replica and replica.call("GET", key) == "before"
    assert str(master.command("GET", key)) == f"MOVED {c.keyslot(key)} {replica.addr}"
    assert all(c.state(n) == "ok" for n in c.nodes)
    # And back, so the harness can switch the same pair twice.
    assert c.failover(master) < 10 and c.master_of(replica) is master


def test_cluster_harness_kill_promotes_the_replica_and_restart_rejoins(redis_cluster):
    """kill() of a master returns once its replica was promoted by the cluster itself;
    restart() brings the node back as the new master's replica; a killed replica too."""
    c = redis_cluster
    master = c.masters()[1]
    replica = c.replica_of(master)
    slots = c.slots_of(master)
    promoted, took = c.kill(master)
    assert promoted is replica
    assert took < 20, f"promotion took {took:.1f} s"
    assert not master.alive()
    assert all(c.state(n) == "ok" for n in c.live_nodes())
    assert c.slots_of(replica) == slots and len(c.masters()) == 3
    assert c.problems() == [f"master {replica.addr} has 0 live replicas"]
    took = c.restart(master)
    assert took < 20, f"rejoin took {took:.1f} s"
    assert c.problems() == []
    assert master in c.replicas() and c.master_of(master) is replica
    # A killed replica: nothing to promote; its restart brings it back as the replica.
    spare = c.replica_of(replica)
    assert c.kill(spare)[0] is None
    assert all(c.state(n) == "ok" for n in c.live_nodes())
    c.restart(spare)
    assert c.replica_of(replica) is spare and c.problems() == []


def test_cluster_harness_reshard_moves_slots_with_their_keys(redis_cluster):
    """reshard() moves exactly the slots it announces (the ones the load tests pick their
    users in), keys included; migrate_slot() moves them back one by one."""
    c = redis_cluster
    src, dst = c.masters()[0], c.masters()[2]
    first = c.slots_of(src)[:8]
    users = [name_in_slots(f"rs{i}_", [s]) for i, s in enumerate(first)]
    for u in users:
        assert src.call("HSET", counter_key(u), "c", 7) == 1
    moved = c.reshard(src, dst, 8)
    assert moved == first
    assert c.problems() == []
    assert not set(first) & set(c.slots_of(src)) and set(first) <= set(c.slots_of(dst))
    for u, s in zip(users, first):
        assert c.node_for_key(counter_key(u)) is dst
        assert dst.call("HGET", counter_key(u), "c") == "7"
        assert c.countkeysinslot(s) == 1 and c.countkeysinslot(s, node=src) == 0
    assert c.dbsize() == len(users)
    # And back, slot by slot, with the manual migration.
    for s in first:
        assert c.migrate_slot(s, src) is dst
    assert set(first) <= set(c.slots_of(src))
    assert [src.call("HGET", counter_key(u), "c") for u in users] == ["7"] * len(users)
    assert_no_crossslot(c)


def test_cluster_harness_manual_migration_gives_ask_tryagain_then_moved(redis_cluster):
    """A slot held half-migrated answers as the ASK test expects (ASK for moved and absent
    keys, the kept key served, TRYAGAIN for keys on both sides, MOVED without ASKING), and
    errorstats counts what the tests count (ASK here; CROSSSLOT when provoked)."""
    c = redis_cluster
    src, dst = c.masters()[0], c.masters()[1]
    slot = c.slots_of(src)[777]
    moved_u = name_in_slots("mv", [slot])
    kept_u = name_in_slots("kp", [slot])
    new_u = name_in_slots("nw", [slot])
    for u in (moved_u, kept_u):
        assert src.call("HSET", counter_key(u), "c", 3) == 1
    assert c.begin_migration(slot, dst) is src
    assert sorted(c.problems()) == sorted([
        f"{src}: migrating {{{slot}: '{dst.id}'}} importing {{}}",
        f"{dst}: migrating {{}} importing {{{slot}: '{src.id}'}}"])
    assert c.migrate_keys(slot, src, dst, [counter_key(moved_u)]) == [counter_key(moved_u)]
    ask = f"ASK {slot} {dst.addr}"
    assert str(src.command("HGET", counter_key(moved_u), "c")) == ask
    assert str(src.command("HGET", counter_key(new_u), "c")) == ask  # absent: ask dst
    assert src.command("HGET", counter_key(kept_u), "c") == "3"  # still here
    assert str(dst.command("HGET", counter_key(moved_u), "c")) == f"MOVED {slot} {src.addr}"
    assert dst.command("HGET", counter_key(moved_u), "c", asking=True) == "3"
    # Several keys of the slot, not all on one side: TRYAGAIN (a script with two keys).
    two = ("EVAL", "return 1", 2, counter_key(kept_u), counter_key(new_u))
    assert str(src.command(*two)).startswith("TRYAGAIN")
    assert c.getkeysinslot(slot, node=src) == [counter_key(kept_u)]
    assert c.getkeysinslot(slot, node=dst) == [counter_key(moved_u)]
    stats = c.errorstats(src)
    assert stats.get("ASK") == 2 and stats.get("TRYAGAIN") == 1, stats
    c.finish_migration(slot, src, dst)
    assert c.problems() == []
    assert c.node_for_slot(slot) is dst
    assert c.getkeysinslot(slot) == sorted([counter_key(moved_u), counter_key(kept_u)])
    assert str(src.command("HGET", counter_key(kept_u), "c")) == f"MOVED {slot} {dst.addr}"
    # The CROSSSLOT detector detects.
    assert_no_crossslot(c)
    assert str(src.command("EVAL", "return 1", 2, "rl:c:{a}:sw:60", "rl:c:{b}:sw:60")
               ).startswith("CROSSSLOT")
    with pytest.raises(AssertionError, match="CROSSSLOT"):
        assert_no_crossslot(c)


def test_cluster_harness_heal_restores_a_broken_cluster(redis_cluster):
    """What a failed test may leave behind (a half-done migration, a dead replica, a dead
    master) is repaired by the fixture's heal() before the next test."""
    c = redis_cluster
    a, b = c.masters()[:2]
    c.begin_migration(c.slots_of(a)[0], b)
    c.kill(c.replica_of(b), wait=False)
    c.kill(a, wait=False)
    assert c.problems()
    took = c.heal()
    assert c.problems() == [] and len(c.masters()) == 3 and len(c.replicas()) == 3
    assert took < 30, f"heal took {took:.1f} s"


# == the reference's results on a cluster ======================================================
def test_reference_results_on_a_cluster(make_rld, redis_cluster):
    """The README's table, NORMAL column, with the demo keys bootstrapped into the cluster:
    each demo user's counter is where the slot map says."""
    rld = start_on_cluster(make_rld, redis_cluster)
    for tier, limit in NORMAL.items():
        got = burst([rld], KEYS[tier], limit + 5)
        assert got == [200] * limit + [429] * 5, f"{tier}: {got.count(200)} passed, not {limit}"
        counter = counter_key(DEMO_USERS[tier])
        owner = redis_cluster.node_for_key(counter)
        assert owner.command("EXISTS", counter) == 1, (tier, owner)
    no_fallbacks([rld])
    assert_no_crossslot(redis_cluster, [rld])


@pytest.mark.parametrize("via", ["admin_api", "rlctl"])
def test_degraded_results_on_a_cluster(make_rld, redis_cluster, via):
    """The DEGRADED column for fresh users (a user's counter is the same whatever the
    state, so the demo users' NORMAL bursts would spoil it), the state set through rld's
    admin API or with rlctl (which writes rl:health and publishes on rl:events)."""
    rld = start_on_cluster(make_rld, redis_cluster)
    keys = {tier: new_user(rld, f"degraded_{tier}_{via}", tier) for tier in DEGRADED}
    if via == "admin_api":
        r = rld.admin("POST", "/admin/health", {"status": "DEGRADED", "ttl_seconds": 600,
                                                 "updated_by": "test", "reason": "cluster"})
        assert r.status == 200, r
    else:
        Ctl(redis_cluster.url()).ok("health", "set", "DEGRADED", "--ttl", "600")
    assert poll_until(lambda: peek(rld, keys["pro"])[1]["limit"] == 100, HEALTH_DELAY), \
        peek(rld, keys["pro"])
    for tier, limit in DEGRADED.items():
        got = burst([rld], keys[tier], limit + 3)
        assert got == [200] * limit + [429] * 3, f"{tier}: {got.count(200)} passed, not {limit}"
    assert peek(rld, keys["free"])[1]["health"] == "DEGRADED"
    no_fallbacks([rld])
    assert_no_crossslot(redis_cluster, [rld])


@pytest.mark.parametrize("form", ["flag", "url"])
def test_a_redis_cluster_url_works_as_the_flag_and_as_redis_url(make_rld, redis_cluster, form):
    """`--redis redis+cluster://...` (and the same URL as redis.url) with a single seed: rld
    finds the other masters from it."""
    url = redis_cluster.url([redis_cluster.masters()[0]])
    if form == "flag":
        rld = start_rld(make_rld, settings={"redis": {"timeout_ms": EXACT_TIMEOUT_MS}},
                        args=["--store", "redis", "--redis", url])
    else:
        rld = start_rld(make_rld, settings={"store": {"type": "redis"},
                                            "redis": {"url": url,
                                                      "timeout_ms": EXACT_TIMEOUT_MS}})
    # Users on every master, each admitted exactly.
    for i, master in enumerate(redis_cluster.masters()):
        key = new_user(rld, user_on(redis_cluster, master, f"seed{i}_"), "free")
        assert burst([rld], key, 23) == [200] * 20 + [429] * 3, master
    no_fallbacks([rld])
    assert_no_crossslot(redis_cluster, [rld])


# == many users, every master ==================================================================
def test_many_users_on_every_master_each_get_exactly_their_limit(make_rld, redis_cluster):
    """60 users of a 5-per-minute tier, imported with rlctl, 7 requests each from 6 threads
    at once: exactly 5 admitted per user, and their counters are spread over all three
    masters (so every master's connection and script cache was used)."""
    c = redis_cluster
    rld = start_on_cluster(make_rld, c)
    users = [f"many_{i:02d}" for i in range(60)]
    keys = {u: f"many_key_{sha256_hex(u)[:24]}" for u in users}
    # One rlctl import writes them all (users, keys, the tier: many slots in one run).
    doc = {"tiers": {"small": {"base_limit": 5, "burst_limit": 5, "degraded_limit": 5,
                               "window_seconds": 60}},
           "users": {u: "small" for u in users},
           "api_keys": {k: u for u, k in keys.items()}}
    r = Ctl(c.url()).ok("import", "-", stdin=json.dumps(doc))
    assert "users: 60 created" in r.out and "keys:  60 created" in r.out, r
    # 7 requests per user, 6 threads with 10 users each, the users of a thread in turn.
    got = {u: [] for u in users}
    avoid_window_edge(60, 5.0)

    def client(mine):
        conn = rld.connection()
        try:
            for _ in range(7):
                for u in mine:
                    try:
                        status = rld.get("/test", key=keys[u], conn=conn).status
                    except (OSError, http.client.HTTPException) as e:
                        status = type(e).__name__
                        conn.close()
                    got[u].append(status)
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(users[i::6],), daemon=True)
               for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads), "clients still running after 30 s"
    wrong = {u: s for u, s in got.items() if s != [200] * 5 + [429] * 2}
    assert not wrong, f"{len(wrong)} of 60 users not admitted exactly 5: {wrong}"
    # Where the counters are: each on the master serving its slot, every master some.
    by_master = {}
    for u in users:
        key = counter_key(u)
        slot = c.keyslot(key)
        owner = c.node_for_slot(slot)
        by_master.setdefault(owner.addr, []).append(u)
        assert owner.command("HGET", key, "c") == "5", (u, owner)
        # The user's counter and its key set (rl:keys:{user}) share the slot.
        assert c.countkeysinslot(slot) >= 2, (u, slot, c.getkeysinslot(slot))
        assert {key, f"rl:keys:{{{u}}}"} <= set(c.getkeysinslot(slot))
    assert sorted(by_master) == sorted(m.addr for m in c.masters()), by_master
    assert all(len(v) >= 5 for v in by_master.values()), {k: len(v) for k, v in
                                                          by_master.items()}
    no_fallbacks([rld])
    assert_no_crossslot(c, [rld])


# == sharing ===================================================================================
def test_two_instances_on_one_cluster_share_one_exact_limit(make_rld, redis_cluster):
    """As tests/integration/test_redis_instances.py on one Redis: one at a time and 50 in
    flight, over two rld, exactly the limit."""
    pair = [start_on_cluster(make_rld, redis_cluster) for _ in range(2)]
    got = burst(pair, KEYS["pro"], 400)
    assert got == [200] * 150 + [429] * 250, f"{got.count(200)} of 400 passed"
    counts = concurrent_spread(pair, KEYS["free"], 100, clients=50)
    assert counts == {200: 20, 429: 80}, counts
    # A user created through one instance, counted on both.
    key = new_user(pair[1], "shared_user", "free")
    assert burst(pair, key, 30) == [200] * 20 + [429] * 10
    no_fallbacks(pair)
    assert_no_crossslot(redis_cluster, pair)


# == no CROSSSLOT, whatever rld and rlctl do ===================================================
def test_no_crossslot_error_on_any_node_whatever_rld_and_rlctl_do(make_rld, redis_cluster):
    """Every kind of Redis work rld and rlctl do, then: no node counted a CROSSSLOT error
    and no rld logged a cross-slot refusal (DESIGN.md §5: one slot per script)."""
    c = redis_cluster
    rld = start_on_cluster(make_rld, c)  # the bootstrap: tiers, users, keys, rl:schema
    ctl = Ctl(c.url())
    for tier in NORMAL:
        assert rld.get("/test", key=KEYS[tier]).status == 200
        assert rld.get("/check", key=KEYS[tier]).status == 200
        assert peek(rld, KEYS[tier])[0] == 200
    # Invalid keys until the client is blocked, then lifted through the admin API.
    ip = "198.18.3.4"
    got = [rld.get("/test", headers=from_ip(ip, rl_key("Q" * 32)), via="unix").status
           for _ in range(11)]
    assert got == [401] * 10 + [429], got
    assert c.node_for_key("rl:block:{198.18.3.4}").command(
        "EXISTS", "rl:block:{198.18.3.4}") == 1
    blocks = rld.admin("GET", "/admin/blocks")
    assert blocks.status == 200 and ip in blocks.body, blocks
    assert rld.admin("DELETE", f"/admin/blocks/{ip}").status == 204
    # The admin API: users, keys, tiers, usage, health.
    assert rld.admin("PUT", "/admin/tiers/gold", {"base_limit": 3, "burst_limit": 4,
                                                  "degraded_limit": 2,
                                                  "window_seconds": 60}).status in (200, 201)
    created = create_user_with_key(rld, "xs_user", "gold")
    assert burst([rld], created["api_key"], 6) == [200] * 4 + [429] * 2
    assert rld.admin("GET", "/admin/usage/xs_user").json()["used"] == 4
    assert rld.admin("PATCH", "/admin/users/xs_user", {"tier": "pro"}).status == 200
    assert rld.admin("GET", "/admin/users").status == 200
    assert rld.admin("GET", "/admin/users/xs_user").status == 200
    assert rld.admin("GET", "/admin/tiers").status == 200
    assert rld.admin("DELETE", f"/admin/keys/{created['key_id']}").status == 204
    assert rld.admin("DELETE", "/admin/users/xs_user").status == 204
    assert rld.admin("POST", "/admin/health", {"status": "DEGRADED"}).status == 200
    assert rld.admin("POST", "/admin/health", {"status": "NORMAL"}).status == 200
    # Every algorithm's script.
    for algorithm in ("fixed_window", "token_bucket", "sliding_window"):
        r = rld.admin("PUT", f"/admin/tiers/t_{algorithm}", {
            "base_limit": 3, "burst_limit": 3, "degraded_limit": 3, "window_seconds": 60,
            "algorithm": algorithm})
        assert r.status in (200, 201), r
        key = new_user(rld, f"u_{algorithm}", f"t_{algorithm}")
        assert burst([rld], key, 5) == [200] * 3 + [429] * 2, algorithm
    # rlctl: every reading command, and writes.
    for args in (["tier", "list"], ["user", "list"], ["health", "get"], ["block", "list"],
                 ["usage", "demo_pro_user"], ["export"], ["instances"], ["ping"],
                 ["user", "add", "ctl_user", "--tier", "free"],
                 ["--quiet", "key", "create", "ctl_user"],
                 ["user", "delete", "ctl_user"], ["block", "add", "203.0.113.99"],
                 ["block", "remove", "203.0.113.99"],
                 ["tier", "set", "gold", "--base", "3", "--burst", "5", "--degraded", "2"],
                 ["tier", "delete", "gold", "--force"]):
        ctl.ok(*args)
    ctl.ok("import", "--dry-run", rld.tiers_path)
    no_fallbacks([rld])
    assert_no_crossslot(c, [rld])


# == failover under load =======================================================================
def load_keys():
    return LOAD_KEYS + [KEYS["free"], KEYS["pro"]]


def warm(load, rlds, problems):
    """The load has run (60 answers), all of them decided by Redis."""
    assert poll_until(lambda: load.count() >= 60, 10) is not None, load.records[-5:]
    got = [fallbacks(r) for r in rlds]
    if any(f != {"local": 0, "allow": 0, "deny": 0} for f in got):
        problems.append(f"decisions taken without Redis before any fault: {got}")


def test_manual_failover_under_load(make_rld, redis_cluster):
    """CLUSTER FAILOVER on the replica of the master holding load_user_1's counter while
    six clients send requests through two rld."""
    c = redis_cluster
    rlds = [start_on_cluster(make_rld, c) for _ in range(2)]
    master = c.node_for_key(counter_key("load_user_1"))
    replica = c.replica_of(master)
    problems = []
    with Load(rlds, load_keys(), clients=6) as load:
        warm(load, rlds, problems)
        t0 = time.monotonic()
        c.failover(replica)
        switched = time.monotonic()
        settled(load, rlds, problems, "the manual failover")
    if load.count(t0, switched) < 1:
        problems.append("no answer while the failover ran: the load did not run")
    problems += problems_of(load.records, max_latency=MAX_LATENCY)
    assert c.node_for_key(counter_key("load_user_1")) is replica
    exact_on(c, rlds, replica, "after_failover_", problems)
    assert not problems, "\n".join(problems)
    assert_no_crossslot(c, rlds)


def test_master_killed_under_load(make_rld, redis_cluster):
    """SIGKILL of the master holding load_user_2's counter under load; its replica is
    promoted after cluster-node-timeout (meanwhile the whole cluster answers CLUSTERDOWN).
    Then the killed node is started again and rejoins as a replica, still under load."""
    c = redis_cluster
    rlds = [start_on_cluster(make_rld, c) for _ in range(2)]
    master = c.node_for_key(counter_key("load_user_2"))
    problems = []
    with Load(rlds, load_keys(), clients=6) as load:
        warm(load, rlds, problems)
        t0 = time.monotonic()
        promoted, took = c.kill(master)
        switched = time.monotonic()
        settled(load, rlds, problems, f"the promotion of {promoted} ({took:.1f} s)")
        before = [fallbacks(r) for r in rlds]
        c.restart(master)
        t1 = time.monotonic()
        poll_until(lambda: load.count(t1) >= SETTLE_ANSWERS, 10)
        if [fallbacks(r) for r in rlds] != before:
            problems.append(f"decisions taken without Redis while the killed master "
                            f"rejoined as a replica: {before} -> "
                            f"{[fallbacks(r) for r in rlds]}")
    if load.count(t0, switched) < 30:
        problems.append(f"only {load.count(t0, switched)} answers while the master was "
                        "down: the load did not run")
    problems += problems_of(load.records, max_latency=MAX_LATENCY)
    assert c.master_of(master) is promoted
    exact_on(c, rlds, promoted, "after_kill_", problems)
    assert not problems, "\n".join(problems)
    assert_no_crossslot(c, rlds)


# == resharding ================================================================================
def test_reshard_under_load_is_invisible_to_clients(make_rld, redis_cluster):
    """redis-cli --cluster reshard moves 16 slots, among them those of four users under
    load (three "big", one "hour" with its 150 per hour), while six clients send requests:
    every answer 200 or 429 and quick, not one decision taken without Redis, exactly 150
    admitted for the hour user, and exact limits afterwards on the new owner."""
    c = redis_cluster
    rlds = [start_on_cluster(make_rld, c) for _ in range(2)]
    src, dst = c.masters()[0], c.masters()[2]
    moving = c.slots_of(src)[:16]
    names = []
    for prefix in ("mv_big_a", "mv_big_b", "mv_big_c", "mv_hour"):
        names.append(name_in_slots(prefix, moving, taken=names))
    control = user_on(c, src, "stay_big")
    keys = {u: new_user(rlds[0], u, "hour" if u.startswith("mv_hour") else "big")
            for u in names + [control]}
    hour_user = names[3]
    hour_key = keys[hour_user]
    avoid_window_edge(3600, 15)
    problems = []
    with Load(rlds, list(keys.values()), clients=6) as load:
        warm(load, rlds, problems)
        t0 = time.monotonic()
        moved = c.reshard(src, dst, 16)
        t1 = time.monotonic()
        poll_until(lambda: load.count(t1) >= SETTLE_ANSWERS
                   and sum(1 for r in load.records if r[4] == hour_key) >= HOUR + 30, 15)
    assert moved == moving
    during = load.count(t0, t1)
    if during < 10:
        problems.append(f"only {during} answers during the reshard ({t1 - t0:.2f} s)")
    problems += problems_of(load.records, max_latency=MAX_LATENCY)
    if total_fallbacks(rlds) != [0, 0]:
        problems.append(f"decisions taken without Redis: {[fallbacks(r) for r in rlds]}")
    hour = [r[2] for r in load.records if r[4] == hour_key]
    if hour.count(200) != HOUR or len(hour) < HOUR + 30:
        problems.append(f"{hour_user}: {hour.count(200)} of {len(hour)} admitted, not {HOUR}")
    for u in names:
        counter = counter_key(u, window=3600 if u == hour_user else 60)
        if c.node_for_key(counter) is not dst:
            problems.append(f"{u}'s slot is not on {dst} after the reshard")
        elif dst.command("EXISTS", counter) != 1:
            problems.append(f"{u}'s counter {counter} did not move to {dst}")
    usage = rlds[1].admin("GET", f"/admin/usage/{hour_user}").json()
    if (usage["limit"], usage["used"], usage["remaining"]) != (HOUR, HOUR, 0):
        problems.append(f"usage of {hour_user} after the reshard: {usage}")
    exact_on(c, rlds, dst, "after_reshard_", problems)
    assert not problems, "\n".join(problems)
    assert_no_crossslot(c, rlds)


def test_a_slot_held_half_migrated_serves_its_users_exactly(make_rld, redis_cluster):
    """One slot in MIGRATING / IMPORTING state, one user's counter already moved (the old
    owner answers ASK), another's not yet (the old owner serves it), a third's created on
    the new owner through ASK: all three admitted exactly 150 (the hour tier) over two
    rld, no decision taken without Redis, and still exact once the slot has moved."""
    c = redis_cluster
    rlds = [start_on_cluster(make_rld, c) for _ in range(2)]
    src, dst = c.masters()[1], c.masters()[0]
    slot = c.slots_of(src)[len(c.slots_of(src)) // 2]
    moved_u, kept_u, new_u = (name_in_slots(p, [slot]) for p in ("ask_moved", "ask_kept",
                                                                 "ask_new"))
    keys = {u: new_user(rlds[0], u, "hour") for u in (moved_u, kept_u, new_u)}
    avoid_window_edge(3600, 15)
    for u in (moved_u, kept_u):
        assert spread(rlds, keys[u], 40) == [200] * 40, u
        assert src.command("EXISTS", counter_key(u, window=3600)) == 1, u
    assert c.begin_migration(slot, dst) is src
    try:
        c.migrate_keys(slot, src, dst, [counter_key(moved_u, window=3600),
                                        f"rl:keys:{{{moved_u}}}"])
        assert str(src.command("HGET", counter_key(moved_u, window=3600), "c")) == \
            f"ASK {slot} {dst.addr}"
        assert src.command("HGET", counter_key(kept_u, window=3600), "c") == "40"
        ask_before = c.errorstats(src).get("ASK", 0)
        got = {u: spread(rlds, keys[u], n) for u, n in ((moved_u, 120), (kept_u, 120),
                                                         (new_u, 160))}
        assert got[moved_u] == [200] * 110 + [429] * 10, got[moved_u].count(200)
        assert got[kept_u] == [200] * 110 + [429] * 10, got[kept_u].count(200)
        assert got[new_u] == [200] * 150 + [429] * 10, got[new_u].count(200)
        assert c.errorstats(src).get("ASK", 0) > ask_before, "rld never met an ASK"
        # Where the counters are now: moved and new on dst, kept on src.
        on_dst = c.getkeysinslot(slot, node=dst)
        assert counter_key(moved_u, window=3600) in on_dst, on_dst
        assert counter_key(new_u, window=3600) in on_dst, on_dst
        assert counter_key(kept_u, window=3600) in c.getkeysinslot(slot, node=src)
        for u in (moved_u, new_u):
            assert dst.command("HGET", counter_key(u, window=3600), "c", asking=True) == "150"
        for u in keys:
            usage = rlds[1].admin("GET", f"/admin/usage/{u}").json()
            assert (usage["used"], usage["remaining"]) == (HOUR, 0), (u, usage)
        no_fallbacks(rlds)
    finally:
        c.finish_migration(slot, src, dst)
    assert c.node_for_slot(slot) is dst
    for u in keys:
        assert spread(rlds, keys[u], 4) == [429] * 4, u
    no_fallbacks(rlds)
    assert_no_crossslot(c, rlds)


# == rlctl on the cluster ======================================================================
def test_rlctl_against_the_cluster(make_rld, redis_cluster):
    """rlctl with a redis+cluster:// URL: every command exits 0 and does what it does on one
    Redis; rld applies rlctl's changes within APPLY_DEADLINE (events published on one node
    reach rld's subscription on another), and its block is listed and lifted by rlctl."""
    c = redis_cluster
    rld = start_on_cluster(make_rld, c)
    ctl = Ctl(c.url())

    def applied(predicate, deadline=APPLY_DEADLINE):
        took = poll_until(predicate, deadline, interval=0.05)
        assert took is not None, f"not applied within {deadline} s"
        return took

    assert ctl.ok("ping").code == 0
    ctl.ok("tier", "set", "gold", "--base", "5", "--burst", "8", "--degraded", "3",
           "--window", "60")
    ctl.ok("user", "add", "acme", "--tier", "gold")
    created = ctl.ok("--json", "key", "create", "acme", "--label", "e2e").json()
    key = created["api_key"]
    applied(lambda: peek(rld, key)[1].get("result") == "allowed")
    decision = peek(rld, key)[1]
    assert (decision["user"], decision["tier"], decision["limit"]) == ("acme", "gold", 8)
    assert burst([rld], key, 10) == [200] * 8 + [429] * 2
    usage = ctl.ok("--json", "usage", "acme").json()
    assert (usage["tier"], usage["limit"], usage["used"], usage["remaining"]) == (
        "gold", 8, 8, 0), usage
    assert "acme" in [u["user_id"] for u in ctl.ok("--json", "user", "list").json()["users"]]
    listed = ctl.ok("--json", "key", "list", "acme").json()
    assert listed == {"user": "acme", "keys": [{
        "key_id": created["key_id"], "user_id": "acme", "label": "e2e",
        "created_at": created["created_at"]}]}, listed
    assert "gold" in [t["name"] for t in ctl.ok("--json", "tier", "list").json()["tiers"]]
    exported = ctl.ok("export").json()
    assert exported["users"]["acme"] == "gold", exported["users"]
    assert exported["api_keys"]["sha256:" + sha256_hex(key)] == "acme", exported["api_keys"]
    assert exported["tiers"]["gold"] == {"base_limit": 5, "burst_limit": 8,
                                         "degraded_limit": 3, "window_seconds": 60,
                                         "algorithm": "sliding_window", "shadow": False}
    # A change published on rl:events reaches rld wherever the publisher's node is.
    ctl.ok("user", "set-tier", "acme", "pro")
    applied(lambda: peek(rld, key)[1]["limit"] == 150)
    ctl.ok("key", "revoke", created["key_id"])
    applied(lambda: peek(rld, key)[1]["status"] == 401)
    # The health state.
    ctl.ok("health", "set", "DEGRADED", "--ttl", "300", "--reason", "e2e", "--by", "pytest")
    applied(lambda: peek(rld, KEYS["pro"])[1]["limit"] == 100, HEALTH_DELAY)
    assert ctl.ok("--json", "health", "get").json()["status"] == "DEGRADED"
    ctl.ok("health", "set", "NORMAL")
    applied(lambda: peek(rld, KEYS["pro"])[1]["limit"] == 150, HEALTH_DELAY)
    # Blocks: one made by rld (invalid keys), one by rlctl; both listed, both lifted.
    bad_ip, ctl_ip = "198.18.9.9", "203.0.113.77"

    def status(ip):
        return rld.get("/test", headers=from_ip(ip, KEYS["enterprise"]), via="unix").status

    got = [rld.get("/test", headers=from_ip(bad_ip, rl_key("W" * 32)), via="unix").status
           for _ in range(11)]
    assert got == [401] * 10 + [429], got
    ctl.ok("block", "add", ctl_ip, "--ttl", "120", "--reason", "e2e")
    applied(lambda: status(ctl_ip) == 429)
    clients = sorted(b["client"] for b in ctl.ok("--json", "block", "list").json()["blocks"])
    assert clients == sorted([bad_ip, ctl_ip]), clients
    ctl.ok("block", "remove", bad_ip)
    ctl.ok("block", "remove", ctl_ip)
    applied(lambda: status(bad_ip) == 200 and status(ctl_ip) == 200)
    assert ctl.ok("--json", "block", "list").json() == {"blocks": []}
    # The instance's heartbeat, found on whichever master holds it.
    found = ctl.ok("--json", "instances").json()["instances"]
    assert len(found) == 1 and f"127.0.0.1:{rld.port}" in found[0]["listeners"], found
    no_fallbacks([rld])
    assert_no_crossslot(c, [rld])

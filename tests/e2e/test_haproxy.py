"""The shipped packaging/haproxy/haproxy.cfg in front of three rld on one private
redis-server, each rld with the shipped packaging/haproxy/rld.toml settings: the reference's
numbers hold exactly through HAProxy with the requests spread over all three, and so does
`rlbench verify`; an rld killed under load costs at most the requests that were in flight to
it and is marked DOWN by the /ready check; an rld that is not ready gets no requests, and when
none is ready (Redis stalled) the instances' failure policy answers instead of HAProxy's 503;
a client cannot escape a block, nor pass /check unlimited, with headers it forges itself."""
import json
import os
import subprocess
import time

import pytest

from haproxy_support import SERVERS, Haproxy, Load, shipped_rld_toml, shipped_settings
from redis_server import free_port
from redis_support import (EXACT_TIMEOUT_MS, LOAD_KEYS, all_keys, avoid_window_edge, fallbacks,
                           load_tier_file, metrics_of, redis_settings, spread, start_on_redis,
                           wait_ready)
from redis_support import redis_fixture  # noqa: F401 (the "redis" fixture)
from rld_harness import KEYS, ROOT, Rld, wait_until

RLBENCH_TIMEOUT = 180
NO_FALLBACKS = {"local": 0, "allow": 0, "deny": 0}
SCENARIOS = ["tiers/enterprise", "tiers/free", "tiers/pro", "degraded/enterprise",
             "degraded/free", "degraded/pro", "consistency", "headers", "security"]


# -- fixtures and helpers ----------------------------------------------------------------
@pytest.fixture
def make_haproxy(make_rld):
    """Haproxy(rlds) started (start= keyword arguments pass on), stopped before the rld it
    fronts (it depends on make_rld, so it is torn down first); it must exit 0."""
    made = []

    def make(rlds, **kwargs):
        h = Haproxy([f"127.0.0.1:{r.port}" for r in rlds], admin_key=rlds[0].admin_key)
        made.append(h)
        return h.start(**kwargs)

    yield make
    codes = []
    for h in made:
        codes.append(h.stop())
        h.cleanup()
    assert all(c in (0, None) for c in codes), f"haproxy exit codes {codes}"


def start_behind_haproxy(make_rld, redis_url, **kwargs):
    """An rld with the shipped settings on the Redis at `redis_url`, ready, with the exact-count
    Redis deadline."""
    return start_on_redis(make_rld, redis_url, settings=shipped_settings(),
                          timeout_ms=EXACT_TIMEOUT_MS, **kwargs)


@pytest.fixture
def trio(make_rld, redis):
    return [start_behind_haproxy(make_rld, redis.url) for _ in range(3)]


@pytest.fixture
def proxy(trio, make_haproxy):
    return make_haproxy(trio)


def decisions(rld):
    """Decisions this rld has made, whatever the tier and result (health checks are none)."""
    return sum(v for (name, _), v in metrics_of(rld).items() if name == "rl_decisions_total")


def no_fallbacks(rlds):
    """Every decision of every instance came from Redis."""
    got = [fallbacks(r) for r in rlds]
    assert all(f == NO_FALLBACKS for f in got), got


def rlbench(*args):
    binary = os.environ.get("RLBENCH_BIN", str(ROOT / "build" / "apps" / "rlbench" / "rlbench"))
    return subprocess.run([binary, *map(str, args)], capture_output=True, text=True,
                          timeout=RLBENCH_TIMEOUT, env={"PATH": os.environ.get("PATH", "")})


# -- exact numbers through HAProxy ---------------------------------------------------------
def test_reference_results_through_haproxy_are_exact_and_spread_over_all_three(trio, proxy):
    assert proxy.get("/haproxy/health").status == 200
    before = [decisions(r) for r in trio]
    assert spread([proxy], KEYS["free"], 25) == [200] * 20 + [429] * 5
    assert spread([proxy], KEYS["pro"], 160) == [200] * 150 + [429] * 10
    served = [decisions(r) - b for r, b in zip(trio, before)]
    # Round robin: every instance took its third of the 185, give or take one.
    assert sum(served) == 185 and max(served) - min(served) <= 1, served
    no_fallbacks(trio)
    # rld's answer passes through unchanged.
    r = proxy.get("/test", key=KEYS["free"])
    assert r.status == 429 and r.json()["error"]["code"] == "rate_limited", r
    assert r.headers["x-ratelimit-limit"] == "20" and r.headers["x-ratelimit-remaining"] == "0"
    assert int(r.headers["retry-after"]) >= 1 and r.headers["x-request-id"], r


def test_rlbench_verify_passes_through_haproxy(trio, proxy):
    before = [decisions(r) for r in trio]
    run = rlbench("verify", "--target", proxy.url, "--admin-key", proxy.admin_key, "--json")
    assert run.returncode == 0, run
    doc = json.loads(run.stdout)
    got = {s["name"]: s for s in doc["scenarios"]}
    assert list(got) == SCENARIOS, run
    assert doc["passed"] is True and all(s["passed"] for s in got.values()), run
    assert got["tiers/free"]["observed"] == "20 passed, 1 limited", run
    assert got["tiers/pro"]["observed"] == "150 passed, 1 limited", run
    assert got["tiers/enterprise"]["observed"] == "1000 passed, 1 limited", run
    assert got["degraded/free"]["observed"] == "2 passed, 1 limited", run
    assert got["degraded/pro"]["observed"] == "100 passed, 1 limited", run
    # 50 in flight at once through one HAProxy, spread over three rld: still exactly 20.
    assert got["consistency"]["observed"] == "20 passed, 40 limited", run
    # /v1/decide's "ip" is believed: rlbench's own address, 127.0.0.1, which HAProxy appends,
    # is a trusted proxy in the shipped rld.toml (a relayed untrusted client would get 403).
    assert got["security"]["observed"].startswith(
        "10 answered 401, then 429 (retry after 900 s)"), run
    assert all(decisions(r) > b for r, b in zip(trio, before)), "an instance got no request"
    no_fallbacks(trio)


# -- failover --------------------------------------------------------------------------------
def test_a_killed_rld_costs_at_most_the_requests_in_flight_and_is_marked_down(
        make_rld, redis, make_haproxy):
    tiers = load_tier_file()  # a tier "big" that the load never exhausts: every answer is 200
    survivors = [start_behind_haproxy(make_rld, redis.url, tiers=tiers) for _ in range(2)]
    # Not made by make_rld, whose teardown wants a clean exit from every daemon.
    victim = Rld(settings=redis_settings(redis.url, shipped_settings(),
                                         timeout_ms=EXACT_TIMEOUT_MS), tiers=tiers)
    try:
        victim.start()
        wait_ready(victim)
        rlds = [survivors[0], victim, survivors[1]]  # the victim is rld2
        proxy = make_haproxy(rlds)
        clients = 8
        with Load(proxy, LOAD_KEYS[0], clients=clients) as load:
            assert load.wait_for(300), f"only {len(load.records)} answers"
            assert decisions(victim) > 0, "the victim got no traffic before it was killed"
            killed_at = time.monotonic()
            victim.kill()  # SIGKILL: its requests in flight get no answer
            proxy.wait_states({"rld2": "DOWN"})
            down_at = time.monotonic()
            assert load.wait_for(len(load.records) + 300), "the load stalled after the kill"
        records = load.records
        failed = [r for r in records if r[2] not in (200, 429)]
        dying = killed_at + 0.5  # generous: the failures come within milliseconds of SIGKILL
        after = [r for r in records if r[0] >= dying]
        later = [r for r in records if r[0] >= down_at]
        redispatched = int(proxy.stat()[("rld", "rld2")]["wredis"])
    finally:
        victim.kill()
        victim.cleanup()
    # At most one request per client connection can have been in flight to the victim, and one
    # more per client may reach it while SIGKILL is still tearing it down: the kernel unmaps a
    # dying process's memory before it closes its files (milliseconds for an ASan build, whose
    # CI run once lost 9 requests of 8 clients), and meanwhile its listening socket still
    # completes HAProxy's connects. A refused connection is retried on another instance.
    # HAProxy answers a request lost on a fresh server connection with 502, and closes the
    # client's connection without an answer when it was a reused one (as the server did: a
    # client may then retry it). All of them come within milliseconds of the kill (below).
    assert len(failed) <= 2 * clients, failed
    lost = {502, "error: RemoteDisconnected Remote end closed connection without response"}
    assert {r[2] for r in failed} <= lost, failed
    assert all(r[1] < dying for r in failed), [(r[0] - killed_at, r[1] - killed_at)
                                               for r in failed]
    # Until the checks mark it DOWN (fall 2: 0.25 to 1.25 s), HAProxy still picks it in turn:
    # those connections are refused and the requests redispatched to another instance. Once
    # it is DOWN, it is not picked at all. Either way every request is answered.
    assert redispatched > 0
    assert {r[2] for r in after} == {200}, [r for r in after if r[2] != 200][:5]
    assert len(later) >= 300, len(later)
    states = proxy.servers()
    assert states["rld2"].status == "DOWN" and states["rld2"].check == "L4CON", states
    assert states["rld1"].status == states["rld3"].status == "UP", states
    no_fallbacks(survivors)


def test_an_rld_that_is_not_ready_gets_no_requests(make_rld, redis, make_haproxy):
    ready = [start_behind_haproxy(make_rld, redis.url) for _ in range(2)]
    # An rld whose Redis address has nothing listening: alive, but /ready is 503. Under its
    # failure policy it would admit by its own count, breaking the shared limit.
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    lost = start_behind_haproxy(make_rld, nowhere, wait=False)
    assert lost.get("/ready").status == 503 and lost.get("/health").status == 200
    proxy = make_haproxy(ready + [lost], expect={"rld1": "UP", "rld2": "UP", "rld3": "DOWN"})
    state = proxy.servers()["rld3"]
    assert (state.check, state.code) == ("L7STS", "503"), state
    # Alive all the same (the liveness backend, only used when no instance is ready).
    proxy.wait_states({"rld3": "UP"}, backend="rld_live")
    assert spread([proxy], KEYS["free"], 30) == [200] * 20 + [429] * 10
    assert decisions(lost) == 0
    assert all(decisions(r) > 0 for r in ready)
    no_fallbacks(ready)


def test_with_no_rld_ready_their_failure_policy_answers_not_haproxy(trio, proxy, redis):
    """A stalled Redis makes every instance not ready. HAProxy then sends requests to the
    instances that are merely alive, whose failure policy (the shipped "local") answers,
    rather than answering 503 itself; once Redis is back, all three are ready again and the
    counting is shared and exact again."""
    assert spread([proxy], KEYS["pro"], 3) == [200] * 3  # every instance knows the key
    conn = proxy.connection()
    redis.pause()
    try:
        # Requests find Redis failing (each within the deadline) and open the breakers.
        statuses = []

        def all_down():
            statuses.append(proxy.get("/test", key=KEYS["pro"], conn=conn).status)
            return all(s.status == "DOWN" for s in proxy.servers().values())
        assert wait_until(all_down, 10, interval=0.01), proxy.servers()
        assert set(statuses) == {200}, statuses
        live_before = int(proxy.stat()[("rld_live", "BACKEND")]["stot"])
        after = [proxy.get("/test", key=KEYS["pro"], conn=conn).status for _ in range(30)]
        assert after == [200] * 30
        assert int(proxy.stat()[("rld_live", "BACKEND")]["stot"]) - live_before == 30
        assert proxy.get("/haproxy/health").status == 200
        assert all(fallbacks(r)["local"] > 0 for r in trio)
    finally:
        redis.resume()
        conn.close()
    proxy.wait_states({name: "UP" for name in SERVERS})
    before = [fallbacks(r) for r in trio]
    assert spread([proxy], KEYS["free"], 25) == [200] * 20 + [429] * 5
    assert [fallbacks(r) for r in trio] == before


# -- headers a client forges -----------------------------------------------------------------
def test_a_forged_x_forwarded_for_does_not_escape_a_block(trio, proxy, redis):
    limit = shipped_rld_toml()["security"]["max_invalid_attempts"]
    avoid_window_edge()
    conn = proxy.connection()
    statuses = []
    for i in range(limit + 5):
        forged = {"X-Forwarded-For": f"203.0.113.{i + 1}", "X-Real-IP": f"198.51.100.{i + 1}"}
        statuses.append(proxy.get("/test", key=f"forged_{i}", headers=forged, conn=conn).status)
    assert statuses == [401] * limit + [429] * 5
    # The attempts and the block are the real client's, none is a forged address's.
    assert [k for k in all_keys(redis) if k.startswith(("rl:bad:", "rl:block:"))] == \
        ["rl:block:{127.0.0.1}"]
    # Every instance knows the block (pub/sub): ask each on behalf of 127.0.0.1.
    blocked = lambda r: r.get("/test", key=KEYS["pro"],  # noqa: E731
                              headers={"X-Forwarded-For": "127.0.0.1"}, via="unix").status
    assert wait_until(lambda: [blocked(r) for r in trio] == [429] * 3, 2), \
        [blocked(r) for r in trio]
    # A valid key from the real client is refused, whatever address it claims.
    for i in range(6):
        r = proxy.get("/test", key=KEYS["pro"], conn=conn,
                      headers={"X-Forwarded-For": f"192.0.2.{i + 1}"} if i % 2 else None)
        assert r.status == 429 and r.json()["error"]["code"] == "client_blocked", r
        assert 1 <= int(r.headers["retry-after"]) <= shipped_rld_toml()["security"][
            "block_seconds"], r
    conn.close()
    # The admin API too is closed to a blocked client; asked on behalf of another address (on
    # an rld's socket), it lists the real client's address as the one blocked.
    assert proxy.admin("GET", "/admin/blocks").status == 429
    r = trio[0].request("GET", "/admin/blocks", via="unix",
                        headers={"X-Admin-Key": trio[0].admin_key,
                                 "X-Forwarded-For": "192.0.2.100"})
    assert r.status == 200, r
    assert [b["client"] for b in r.json()["blocks"]] == ["127.0.0.1"], r
    # The control: straight to an rld (no HAProxy to drop the header), 127.0.0.1 is a trusted
    # proxy of the shipped rld.toml, so its forged hop is believed and escapes the block.
    # That is why the cfg drops what clients send.
    r = trio[0].get("/test", key=KEYS["pro"], headers={"X-Forwarded-For": "203.0.113.200"})
    assert r.status == 200, r


def test_a_forged_original_uri_does_not_pass_check_unlimited(make_rld, redis, make_haproxy):
    """/check from a trusted proxy with an excluded original path passes unlimited; HAProxy
    drops the client's own X-Original-URI, so through it the client is limited."""
    settings = shipped_settings()
    settings["http"]["excluded_paths"] = ["/health"]  # so that a believed header would show
    trio = [start_on_redis(make_rld, redis.url, settings=settings, timeout_ms=EXACT_TIMEOUT_MS)
            for _ in range(3)]
    proxy = make_haproxy(trio)
    forged = {"X-Original-URI": "/health", "X-Forwarded-Uri": "/health"}
    avoid_window_edge()
    conn = proxy.connection()
    statuses = [proxy.get("/check", key=KEYS["free"], headers=forged, conn=conn).status
                for _ in range(25)]
    conn.close()
    assert statuses == [200] * 20 + [429] * 5
    # The control: from a trusted caller (an rld's Unix socket) the header is believed.
    assert [trio[0].get("/check", key=KEYS["free"], headers=forged, via="unix").status
            for _ in range(3)] == [200] * 3

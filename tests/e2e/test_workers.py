"""Several workers per rld (`server.workers`): event loops on their own threads, serving the
same TCP port (SO_REUSEPORT) and Unix socket, sharing the memory store, each with its own Redis
connections. Limits must be exact across workers exactly as across instances, and every
process-wide thing (health changes, reloads, the heartbeat, the drain) must happen once."""
import json
import os
import signal
import subprocess
import threading
import time

from helpers_decisions import create_user_with_key
from rld_harness import DEFAULT_TIERS, KEYS, wait_until
from redis_server import RedisServer
from redis_support import all_keys, concurrent_spread, redis_settings, wait_ready

WORKERS = 2


def worker_requests(rld):
    """{worker index: requests it parsed}, from rl_http_worker_requests_total."""
    out = {}
    for line in rld.metrics().splitlines():
        if line.startswith("rl_http_worker_requests_total{"):
            labels, value = line.rsplit(" ", 1)
            out[labels.split('"')[1]] = int(float(value))
    return out


def threads_of(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


def listening_sockets(port):
    out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True,
                         check=True).stdout
    return len([line for line in out.splitlines() if line.strip()])


def fresh_user(rld, name, tier):
    """A new user of `tier` with a new key, made through the admin API; returns the key."""
    return create_user_with_key(rld, name, tier)["api_key"]


def demo_tiers(free_burst):
    """The demo tier file with the free tier's base and burst limits changed."""
    tiers = json.loads(DEFAULT_TIERS.read_text())
    tiers["tiers"]["free"]["base_limit"] = min(free_burst, 10)
    tiers["tiers"]["free"]["burst_limit"] = free_burst
    return tiers


def test_two_workers_share_the_port_and_the_unix_socket(make_rld):
    rld = make_rld(settings={"server": {"workers": WORKERS}})
    start = rld.log_events("start")[0]
    assert start["workers"] == WORKERS
    assert threads_of(rld.proc.pid) >= WORKERS + 1  # the main thread and one per worker
    assert listening_sockets(rld.port) == WORKERS  # one SO_REUSEPORT socket per worker
    # Many short connections: the kernel spreads them over both workers.
    for _ in range(200):
        assert rld.get("/health").status == 200
    for _ in range(20):
        assert rld.get("/health", via="unix").status == 200
    served = worker_requests(rld)
    assert set(served) == {str(i) for i in range(WORKERS)}, served
    assert all(n > 0 for n in served.values()), served


def test_the_default_is_one_worker_per_core(make_rld):
    rld = make_rld()
    assert rld.log_events("start")[0]["workers"] == os.cpu_count()


def test_memory_store_limits_are_exact_across_workers_under_concurrency(make_rld):
    rld = make_rld(settings={"server": {"workers": WORKERS}})
    assert concurrent_spread([rld], KEYS["free"], 100, clients=40) == {200: 20, 429: 80}
    assert concurrent_spread([rld], KEYS["pro"], 400, clients=50) == {200: 150, 429: 250}
    served = worker_requests(rld)
    assert all(served.get(str(i), 0) > 0 for i in range(WORKERS)), served


def test_a_health_change_reaches_every_worker_at_once_and_is_reported_once(make_rld):
    rld = make_rld(settings={"server": {"workers": WORKERS}, "health": {"cache_seconds": 60}})
    key = fresh_user(rld, "deg_user", "free")
    assert rld.get("/test", key=KEYS["pro"]).status == 200  # both workers have cached NORMAL
    r = rld.admin("POST", "/admin/health", {"status": "DEGRADED", "updated_by": "t"})
    assert r.status == 200, r
    # New connections land on either worker: each must apply DEGRADED (free: 2) right away,
    # though the cache would keep NORMAL for 60 s.
    statuses = [rld.get("/test", key=key).status for _ in range(12)]
    assert statuses == [200, 200] + [429] * 10, statuses
    limits = {rld.get("/test", key=KEYS["enterprise"]).headers["x-ratelimit-limit"]
              for _ in range(20)}
    assert limits == {"1000"}, limits
    assert wait_until(lambda: len(rld.log_events("health_changed")) >= 1)
    time.sleep(0.3)  # a duplicate from another worker would be logged by now
    assert len(rld.log_events("health_changed")) == 1, rld.log_events("health_changed")
    assert rld.metric("rl_health_changes_total") == 1
    assert rld.metric("rl_health_state") == 1


def test_a_reload_applies_to_every_worker(make_rld):
    rld = make_rld(settings={"server": {"workers": WORKERS}},
                   tiers=demo_tiers(20))
    rld.tiers_path.write_text(json.dumps(demo_tiers(7)))
    rld.signal(signal.SIGHUP)
    rld.wait_for_event("config_reloaded")
    limits = {rld.get("/test", key=KEYS["free"]).headers["x-ratelimit-limit"] for _ in range(20)}
    assert limits == {"7"}, limits
    assert rld.metric('rl_config_reloads_total{result="success"}') == 1


def test_sigterm_drains_every_worker(make_rld):
    rld = make_rld(settings={"server": {"workers": WORKERS}})
    held = [rld.connection() for _ in range(8)]
    for c in held:
        assert rld.get("/health", conn=c).status == 200
    assert rld.stop() == 0  # idle keep-alive connections on both workers are closed
    assert not os.path.exists(rld.socket_path)
    for c in held:
        c.close()


def test_redis_store_limits_are_exact_across_workers_and_instances(make_rld):
    redis = RedisServer()
    try:
        redis.start()
        rlds = [make_rld(settings=redis_settings(redis.url, {"server": {"workers": WORKERS}},
                                                 timeout_ms=50)) for _ in range(2)]
        for r in rlds:
            wait_ready(r)
        assert concurrent_spread(rlds, KEYS["pro"], 400, clients=50) == {200: 150, 429: 250}
        assert concurrent_spread(rlds, KEYS["free"], 100, clients=50) == {200: 20, 429: 80}
        for r in rlds:
            served = worker_requests(r)
            assert all(served.get(str(i), 0) > 0 for i in range(WORKERS)), served
            assert r.metric("rl_store_fallback_total") in (None, 0)
        # One heartbeat per process, not per worker.
        assert wait_until(
            lambda: len([k for k in all_keys(redis) if k.startswith("rl:inst:")]) == 2, timeout=8)
    finally:
        redis.cleanup()


def test_redis_health_change_is_seen_by_every_worker(make_rld):
    redis = RedisServer()
    try:
        redis.start()
        rld = make_rld(settings=redis_settings(redis.url, {"server": {"workers": WORKERS}},
                                               timeout_ms=50))
        wait_ready(rld)
        r = rld.admin("POST", "/admin/health", {"status": "DEGRADED", "updated_by": "t"})
        assert r.status == 200, r

        def all_degraded():
            return {rld.get("/test", key=KEYS["enterprise"]).headers["x-ratelimit-limit"]
                    for _ in range(20)} == {"1000"}
        assert wait_until(all_degraded, timeout=2.5)
        assert len(rld.log_events("health_changed")) == 1, rld.log_events("health_changed")
    finally:
        redis.cleanup()


def test_concurrent_admin_and_decisions_do_not_race(make_rld):
    """Users made and deleted through one worker while the other decides: no crash, no 5xx."""
    rld = make_rld(settings={"server": {"workers": WORKERS}})
    stop = time.monotonic() + 3
    errors = []

    def churn():
        i = 0
        while time.monotonic() < stop:
            name = f"churn{i}"
            key = fresh_user(rld, name, "pro")
            if rld.get("/test", key=key).status != 200:
                errors.append(name)
            rld.admin("DELETE", f"/admin/users/{name}")
            i += 1

    def decide():
        while time.monotonic() < stop:
            status = rld.get("/test", key=KEYS["enterprise"]).status
            if status >= 500:
                errors.append(status)

    threads = [threading.Thread(target=churn)] + [threading.Thread(target=decide)
                                                  for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not errors, errors
    assert rld.proc.poll() is None

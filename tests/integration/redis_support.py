"""Shared by test_redis_store.py, test_redis_instances.py and test_redis_faults.py: a private
redis-server per test (the `redis` fixture), rld on it (start_on_redis: started, then waited
for until /ready says 200, i.e. bootstrapped with the breaker closed), tier files, requests
spread over several instances (sequentially or with many in flight), a bounded closed-loop
load that records the status and latency of every answer, and readers of what rld wrote
into Redis.

Deadlines: a Redis call past `redis.timeout_ms` is answered by the failure policy while Redis
may still run it, so one late reply can make two instances both count a request. Tests that
assert exact shared counts therefore give Redis EXACT_TIMEOUT_MS, a deadline a busy 2-core
test machine does not miss; the default 5 ms deadline is exercised by the deadline and
failure-policy tests of test_redis_faults.py."""
import hashlib
import http.client
import json
import threading
import time

import pytest

from redis_server import RedisServer
from rld_harness import DEFAULT_TIERS, UnixHTTPConnection, metric, parse_metrics, wait_until

EXACT_TIMEOUT_MS = 50
READY_TIMEOUT = 5.0
# What each demo tier admits (reference results).
NORMAL = {"free": 20, "pro": 150, "enterprise": 1000}
DEGRADED = {"free": 2, "pro": 100, "enterprise": 1000}
DEMO_USERS = {"free": "demo_free_user", "pro": "demo_pro_user",
              "enterprise": "demo_enterprise_user"}


# -- Redis -------------------------------------------------------------------------------------
@pytest.fixture(name="redis")
def redis_fixture():
    """The `redis` fixture: a private, empty redis-server on a free port, stopped at the end of
    the test. A test module imports redis_fixture to use it."""
    server = RedisServer()
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


def sha256_hex(text):
    return hashlib.sha256(text.encode()).hexdigest()


def all_keys(redis, db=0):
    """Every key of `db` (SCAN, the whole keyspace)."""
    keys, cursor = [], "0"
    while True:
        cursor, batch = redis.command("SCAN", cursor, "COUNT", 1000, db=db)
        keys += batch
        if cursor == "0":
            return sorted(set(keys))


def value_of(redis, key, db=0):
    """The value of `key` whatever its type, as text (for searching every value)."""
    kind = redis.command("TYPE", key, db=db)
    if kind == "string":
        return redis.command("GET", key, db=db) or ""
    if kind == "hash":
        return " ".join(redis.command("HGETALL", key, db=db))
    if kind == "set":
        return " ".join(redis.command("SMEMBERS", key, db=db))
    if kind == "list":
        return " ".join(redis.command("LRANGE", key, 0, -1, db=db))
    if kind == "zset":
        return " ".join(redis.command("ZRANGE", key, 0, -1, "WITHSCORES", db=db))
    return ""


def hash_of(redis, key, db=0):
    flat = redis.command("HGETALL", key, db=db)
    return dict(zip(flat[::2], flat[1::2]))


def counter_key(user, algorithm="sliding_window", window=60):
    short = {"sliding_window": "sw", "fixed_window": "fw", "token_bucket": "tb"}[algorithm]
    return f"rl:c:{{{user}}}:{short}:{window}"


# -- rld on Redis --------------------------------------------------------------------------------
def redis_settings(url, settings=None, **redis_keys):
    """rld.toml settings for the redis store at `url`, plus `redis_keys` in [redis] and
    `settings` merged section by section."""
    out = {"store": {"type": "redis"}, "redis": {"url": url, **redis_keys}}
    for section, keys in (settings or {}).items():
        out.setdefault(section, {}).update(keys)
    return out


def ready(rld):
    return rld.get("/ready").status == 200


def wait_ready(rld, timeout=READY_TIMEOUT):
    assert wait_until(lambda: ready(rld), timeout), \
        f"rld not ready after {timeout} s: {rld.get('/ready')}\n{rld.log_text()}"


def start_on_redis(make_rld, url, settings=None, tiers=None, wait=True, **redis_keys):
    """An rld on the redis store at `url`; with `wait`, once /ready is 200 (bootstrapped)."""
    rld = make_rld(settings=redis_settings(url, settings, **redis_keys), tiers=tiers)
    if wait:
        wait_ready(rld)
    return rld


def tier_file(algorithm=None, window=None, on_failure=None, limits=None):
    """The demo tier file (same tiers, users and keys), each tier with `algorithm` and
    `window` seconds when given, `on_failure` = {tier: policy}, `limits` = {tier: (base,
    burst, degraded)} replacing the demo limits."""
    with open(DEFAULT_TIERS) as f:
        data = json.load(f)
    for name, tier in data["tiers"].items():
        if window is not None:
            tier.pop("window_minutes", None)
            tier["window_seconds"] = window
        if algorithm is not None:
            tier["algorithm"] = algorithm
        if on_failure and name in on_failure:
            tier["on_failure"] = on_failure[name]
        if limits and name in limits:
            tier["base_limit"], tier["burst_limit"], tier["degraded_limit"] = limits[name]
    return data


def metrics_of(rld):
    return parse_metrics(rld.metrics())


def fallbacks(rld):
    """Decisions this rld took without Redis, by policy."""
    m = metrics_of(rld)
    return {p: metric(m, "rl_store_fallback_total", policy=p) for p in ("local", "allow", "deny")}


def redis_errors(rld):
    m = metrics_of(rld)
    return {k: metric(m, "rl_redis_errors_total", kind=k)
            for k in ("timeout", "unavailable", "error_reply")}


# -- requests --------------------------------------------------------------------------------
def from_ip(ip, key=None):
    """Headers for a request over the Unix socket (trusted) on behalf of client `ip`."""
    h = {"X-Forwarded-For": ip}
    if key is not None:
        h["X-API-Key"] = key
    return h


def peek(rld, key, via="tcp"):
    """POST /v1/decide with cost 0: the decision's JSON without consuming anything."""
    r = rld.request("POST", "/v1/decide", body={"api_key": key, "cost": 0}, via=via)
    return r.status, (r.json() if r.body.startswith("{") else r.body)


def create_user_with_key(rld, user, tier):
    r = rld.admin("POST", "/admin/users", {"user_id": user, "tier": tier})
    assert r.status == 201, r
    r = rld.admin("POST", f"/admin/users/{user}/keys", {"label": "test"})
    assert r.status == 201, r
    return r.json()


def avoid_window_edge(window=60, margin=2.0):
    """Waits past the next window boundary (epoch-aligned, as the scripts' windows are) when
    it is under `margin` seconds away, so that a burst that asserts an exact count stays in
    one window: crossing into the next one while the burst runs lets the sliding window's
    previous-window weight decay by a request or two (at most `margin` seconds)."""
    left = window - (time.time() % window)
    if left < margin:
        time.sleep(left + 0.2)


def spread(rlds, key, n):
    """n GET /test with `key`, round-robin over `rlds`, one at a time (a keep-alive
    connection per instance). Returns the statuses in order."""
    avoid_window_edge()
    conns = [r.connection() for r in rlds]
    try:
        return [rlds[i % len(rlds)].get("/test", key=key, conn=conns[i % len(rlds)]).status
                for i in range(n)]
    finally:
        for c in conns:
            c.close()


def concurrent_spread(rlds, key, total, clients=50):
    """`total` GET /test with `key` from `clients` threads at once, thread i on its own
    keep-alive connection to rlds[i % len(rlds)]; all threads start together. Returns
    {status: count}; a failed request counts under its exception's name."""
    per = [total // clients + (1 if i < total % clients else 0) for i in range(clients)]
    avoid_window_edge()
    barrier = threading.Barrier(clients)
    counts, lock = {}, threading.Lock()

    def client(i):
        rld = rlds[i % len(rlds)]
        conn = rld.connection()
        try:
            conn.connect()
            barrier.wait(10)
            for _ in range(per[i]):
                try:
                    status = rld.get("/test", key=key, conn=conn).status
                except (OSError, http.client.HTTPException) as e:
                    status = type(e).__name__
                    conn.close()
                with lock:
                    counts[status] = counts.get(status, 0) + 1
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads), "clients still running after 30 s"
    return counts


def poll_until(predicate, timeout, interval=0.02):
    """Seconds until `predicate` held (polled), or None when it did not within `timeout`."""
    start = time.monotonic()
    if wait_until(predicate, timeout, interval):
        return time.monotonic() - start
    return None


# -- load ----------------------------------------------------------------------------------------
class Load:
    """A bounded closed-loop load: `clients` threads, client i on its own keep-alive connection
    to the Unix socket of rlds[i % len(rlds)] on behalf of client address 10.77.0.<i+1>, each
    sending GET /test with the keys in turn and `think` seconds between answers. Every answer
    is recorded as (sent at, latency s, status, instance, key); a failed request as status
    "error: <what>". Stops at stop() or after `max_seconds` by itself."""

    def __init__(self, rlds, keys, clients=4, think=0.01, max_seconds=25):
        self.rlds, self.keys, self.clients = list(rlds), list(keys), clients
        self.think, self.max_seconds = think, max_seconds
        self.records, self._lock = [], threading.Lock()
        self._stop = threading.Event()
        self._threads = []

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        self.started = time.monotonic()
        self._threads = [threading.Thread(target=self._client, args=(i,), daemon=True)
                         for i in range(self.clients)]
        for t in self._threads:
            t.start()
        return self

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(10)
        assert not any(t.is_alive() for t in self._threads), "load clients did not stop"
        return self.records

    def _client(self, i):
        index = i % len(self.rlds)
        rld = self.rlds[index]
        ip = f"10.77.0.{i + 1}"
        conn = None
        n = i
        deadline = self.started + self.max_seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            key = self.keys[n % len(self.keys)]
            n += 1
            if conn is None:
                conn = UnixHTTPConnection(rld.socket_path, timeout=2)
            sent = time.monotonic()
            try:
                conn.request("GET", "/test", headers=from_ip(ip, key))
                r = conn.getresponse()
                r.read()
                status = r.status
            except (OSError, http.client.HTTPException) as e:
                status = f"error: {type(e).__name__} {e}"
                conn.close()
                conn = None
            with self._lock:
                self.records.append((sent, time.monotonic() - sent, status, index, key))
            self._stop.wait(self.think)
        if conn is not None:
            conn.close()

    def since(self, t0, t1=None):
        with self._lock:
            return [r for r in self.records if r[0] >= t0 and (t1 is None or r[0] < t1)]

    def count(self, t0=0.0, t1=None):
        return len(self.since(t0, t1))


def problems_of(records, allowed=(200, 429), max_latency=0.25):
    """Human-readable problems among load records: an unexpected status, or an answer slower
    than max_latency seconds."""
    out = []
    bad = [r for r in records if r[2] not in allowed]
    if bad:
        by = {}
        for r in bad:
            by[r[2]] = by.get(r[2], 0) + 1
        out.append(f"{len(bad)} of {len(records)} answers had an unexpected status: {by}")
    slow = sorted((r for r in records if r[1] > max_latency), key=lambda r: -r[1])
    if slow:
        out.append(f"{len(slow)} of {len(records)} answers took over {max_latency * 1000:.0f} ms,"
                   f" the slowest {slow[0][1] * 1000:.0f} ms (instance {slow[0][3]})")
    return out


# -- writing the data model directly (as rlctl does) ---------------------------------------
def add_user_in_redis(redis, user, tier, key=None):
    """A user of `tier` with one API key, written into Redis the way rlctl writes them
    (DESIGN.md §5), bypassing rld. Returns the key in clear."""
    key = key or "it_key_" + hashlib.sha256(user.encode()).hexdigest()[:24]
    digest = sha256_hex(key)
    now_ms = int(time.time() * 1000)
    redis.command("HSET", f"rl:user:{user}", "tier", tier, "created_at", now_ms, "disabled", 0)
    redis.command("SADD", "rl:users", user)
    redis.command("HSET", f"rl:apikey:{digest}", "user", user, "key_id", digest[:16],
                  "label", "test", "created_at", now_ms)
    redis.command("SADD", f"rl:keys:{{{user}}}", digest)
    return key


# -- load keys -----------------------------------------------------------------------------
BIG = 1_000_000
LOAD_KEYS = [f"load_key_{i}_{hashlib.sha256(str(i).encode()).hexdigest()[:16]}"
             for i in range(1, 5)]


def load_tier_file(**kwargs):
    """The demo tier file (tier_file(**kwargs)) plus a tier "big" (a limit the load never
    reaches, so every one of its decisions is a Redis call) with users load_user_1..4 and
    their keys LOAD_KEYS: from the tier file, so a re-bootstrap brings them back too."""
    data = tier_file(**kwargs)
    data["tiers"]["big"] = {"base_limit": BIG, "burst_limit": BIG, "degraded_limit": BIG,
                            "window_seconds": 60}
    for i, key in enumerate(LOAD_KEYS, 1):
        data["users"][f"load_user_{i}"] = "big"
        data["api_keys"][key] = f"load_user_{i}"
    return data

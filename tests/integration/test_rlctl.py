"""rlctl, the admin CLI, against private redis-servers (issue 4): every command's success and
failure paths with their exit codes (0 ok, 1 failure, 2 usage, 3 not found, 4 unreachable,
5 conflict), the exact output (tables, --json, --quiet) and the exact Redis state it leaves
(DESIGN.md §5), the events it publishes, where it connects (--redis > REDIS_URL >
REDIS_HOST/PORT/DB > default; db, password, Unix socket, --prefix), import/export, and, with
an rld running on the same Redis, that its changes take effect in rld within about a second."""
import json
import re
import time

import pytest

from redis_server import RedisServer
from redis_support import (EXACT_TIMEOUT_MS, avoid_window_edge, from_ip, hash_of,
                           start_on_redis)
from redis_support import redis_fixture  # noqa: F401 (the "redis" fixture)
from rld_harness import KEYS, run_rld
from helpers_decisions import is_valid_generated_key
from rlctl_support import (ANSI, DEMO_FILE, HINT, Ctl, SilentServer, Subscriber,
                           add_blocks_in_bulk, add_users_in_bulk, assert_table, closed_port,
                           port_open, run, sha256_hex, snapshot, table_rows, wait_for)

APPLY_DEADLINE = 1.5  # an rlctl change takes effect in a running rld within this
DEMO_TIERS = {"free": (10, 20, 2), "pro": (100, 150, 100), "enterprise": (1000, 1000, 1000)}
DEMO_USERS = {"demo_free_user": "free", "demo_pro_user": "pro",
              "demo_enterprise_user": "enterprise"}
DEMO_KEYS = {KEYS["free"]: "demo_free_user", KEYS["pro"]: "demo_pro_user",
             KEYS["enterprise"]: "demo_enterprise_user"}
TIER_HEADER = ["NAME", "BASE", "BURST", "DEGRADED", "WINDOW", "ALGORITHM", "SHADOW",
               "ON_FAILURE"]
TIER_FIELDS = {"name", "base_limit", "burst_limit", "degraded_limit", "window_seconds",
               "algorithm", "shadow", "on_failure"}
USER_FIELDS = {"user_id", "tier", "created_at", "disabled"}
KEY_FIELDS = {"key_id", "user_id", "label", "created_at"}
HEALTH_FIELDS = {"status", "updated_by", "reason", "updated_at", "expires_at"}
USAGE_FIELDS = {"user", "tier", "limit", "used", "remaining", "reset"}
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(ms) // 1000))


def tier_hash(base, burst, degraded, window=60, algorithm="sliding_window", shadow="0",
              on_failure=""):
    return {"base_limit": str(base), "burst_limit": str(burst), "degraded_limit": str(degraded),
            "window_seconds": str(window), "algorithm": algorithm, "shadow": shadow,
            "on_failure": on_failure}


def tier_doc(name, base, burst, degraded, window=60, algorithm="sliding_window", shadow=False,
             on_failure=None):
    return {"name": name, "base_limit": base, "burst_limit": burst, "degraded_limit": degraded,
            "window_seconds": window, "algorithm": algorithm, "shadow": shadow,
            "on_failure": on_failure}


def key_id(key):
    return sha256_hex(key)[:16]


def demo_state_ok(redis, label="imported"):
    """The demo tier file's tiers, users and keys are in Redis exactly as DESIGN.md §5 says."""
    snap = snapshot(redis)
    assert snap["rl:tiers"] == ("set", sorted(DEMO_TIERS)), snap
    for name, limits in DEMO_TIERS.items():
        assert snap[f"rl:tier:{name}"] == ("hash", tier_hash(*limits)), snap
    assert snap["rl:users"] == ("set", sorted(DEMO_USERS)), snap
    now = time.time() * 1000
    for user, tier in DEMO_USERS.items():
        kind, h = snap[f"rl:user:{user}"]
        assert kind == "hash" and set(h) == {"tier", "created_at", "disabled"}, h
        assert h["tier"] == tier and h["disabled"] == "0", h
        assert now - 60_000 < int(h["created_at"]) <= now + 1000, h
    for key, user in DEMO_KEYS.items():
        digest = sha256_hex(key)
        kind, h = snap[f"rl:apikey:{digest}"]
        assert kind == "hash" and set(h) == {"user", "key_id", "label", "created_at"}, h
        assert (h["user"], h["key_id"], h["label"]) == (user, digest[:16], label), h
        assert snap[f"rl:keys:{{{user}}}"] == ("set", [digest]), snap
    return snap


@pytest.fixture
def ctl(redis):
    """rlctl on the test's empty private Redis."""
    return Ctl(redis.url)


@pytest.fixture
def demo(redis, ctl):
    """rlctl on a private Redis holding the demo tier file (imported with rlctl)."""
    ctl.ok("import", DEMO_FILE)
    return ctl


@pytest.fixture
def events(redis):
    sub = Subscriber(redis)
    yield sub
    sub.close()


def dead_url():
    return f"redis://127.0.0.1:{closed_port()}/0"


# == tiers ======================================================================================
def test_tier_set_creates_then_updates_the_tier_hash(redis, ctl):
    r = ctl.ok("tier", "set", "gold", "--base", "5", "--burst", "8", "--degraded", "3")
    assert r.out == "tier gold created\n"
    # The first write to an empty Redis also marks it as set up (rl:schema).
    assert snapshot(redis) == {"rl:tier:gold": ("hash", tier_hash(5, 8, 3)),
                               "rl:tiers": ("set", ["gold"]), "rl:schema": ("string", "1")}
    r = ctl.ok("--json", "tier", "set", "gold", "--base", "50", "--burst", "80", "--degraded",
               "0", "--window", "3600", "--algorithm", "token_bucket", "--shadow",
               "--on-failure", "deny")
    assert r.json() == {"tier": tier_doc("gold", 50, 80, 0, 3600, "token_bucket", True, "deny"),
                        "created": False}
    assert snapshot(redis) == {
        "rl:tier:gold": ("hash", tier_hash(50, 80, 0, 3600, "token_bucket", "1", "deny")),
        "rl:tiers": ("set", ["gold"]), "rl:schema": ("string", "1")}
    r = ctl.ok("tier", "set", "gold", "--base", "1", "--burst", "1", "--degraded", "1",
               "--algorithm", "fixed_window")
    assert r.out == "tier gold updated\n"
    # Only what was given changes: the window, shadow flag and failure policy stay.
    assert hash_of(redis, "rl:tier:gold") == tier_hash(1, 1, 1, 3600, "fixed_window", "1", "deny")


def test_tier_set_of_only_the_limits_keeps_the_window_algorithm_and_shadow(redis, ctl):
    ctl.ok("tier", "set", "gold", "--base", "5", "--burst", "8", "--degraded", "3", "--window",
           "120", "--algorithm", "fixed_window", "--shadow", "--on-failure", "allow")
    ctl.ok("user", "add", "bob", "--tier", "gold")
    avoid_window_edge(120)
    seconds, micros = redis.command("TIME")
    now_ms = int(seconds) * 1000 + int(micros) // 1000
    counter = {"s": str(now_ms - now_ms % 120_000), "c": "4"}  # bob's count in this window
    redis.command("HSET", "rl:c:{bob}:fw:120", *[x for kv in counter.items() for x in kv])
    r = ctl.ok("--json", "tier", "set", "gold", "--base", "50", "--burst", "80", "--degraded",
               "30")
    assert r.json() == {"tier": tier_doc("gold", 50, 80, 30, 120, "fixed_window", True, "allow"),
                        "created": False}
    assert hash_of(redis, "rl:tier:gold") == tier_hash(50, 80, 30, 120, "fixed_window", "1",
                                                       "allow")
    # The counter key still is the tier's (same window and algorithm): bob's count stands.
    assert hash_of(redis, "rl:c:{bob}:fw:120") == counter
    assert ctl.ok("--json", "usage", "bob").json()["used"] == 4


def test_tier_set_no_shadow_and_on_failure_default_clear_them(redis, ctl):
    ctl.ok("tier", "set", "gold", "--base", "5", "--burst", "8", "--degraded", "3", "--window",
           "120", "--shadow", "--on-failure", "deny")
    ctl.ok("tier", "set", "gold", "--base", "5", "--burst", "8", "--degraded", "3",
           "--no-shadow", "--on-failure", "default")
    assert hash_of(redis, "rl:tier:gold") == tier_hash(5, 8, 3, 120)
    # A new tier without them gets the defaults.
    ctl.ok("tier", "set", "tin", "--base", "1", "--burst", "1", "--degraded", "1")
    assert hash_of(redis, "rl:tier:tin") == tier_hash(1, 1, 1)


def test_tier_set_checks_the_limits_against_the_stored_window(redis, ctl):
    ctl.ok("tier", "set", "gold", "--base", "1", "--burst", "1", "--degraded", "1", "--window",
           "3600")
    before = snapshot(redis)
    # 400 million a window fits 60 s but not the stored hour (limit x window in ms < 2^50).
    r = ctl("tier", "set", "gold", "--base", "1", "--burst", "400000000", "--degraded", "1")
    assert (r.code, r.out) == (2, ""), r
    assert r.err.startswith("rlctl: burst_limit: ") and r.err.count("\n") == 1, r
    assert snapshot(redis) == before
    ctl.ok("tier", "set", "gold", "--base", "1", "--burst", "400000000", "--degraded", "1",
           "--window", "60")
    assert hash_of(redis, "rl:tier:gold") == tier_hash(1, 400000000, 1)


BAD_TIERS = [
    # (extra arguments after NAME, the field the message must name)
    (["--base=-1", "--burst", "5", "--degraded", "1"], "base_limit"),
    (["--base", "-1", "--burst", "5", "--degraded", "1"], "base_limit"),
    (["--base", "1", "--burst", "5", "--degraded=-2"], "degraded_limit"),
    (["--base", "1", "--burst", "5", "--degraded", "1", "--window", "0"], "window_seconds"),
    (["--base", "1", "--burst", "5", "--degraded", "1", "--window=-60"], "window_seconds"),
    (["--base", "1", "--burst", "5", "--degraded", "6"], "degraded_limit"),
    (["--base", "6", "--burst", "5", "--degraded", "1"], "burst_limit"),
    (["--base", "1", "--burst", "5", "--degraded", "1", "--algorithm", "leaky_bucket"],
     "--algorithm"),
    (["--base", "1", "--burst", "5", "--degraded", "1", "--on-failure", "panic"],
     "--on-failure"),
]


@pytest.mark.parametrize("args,field", BAD_TIERS, ids=[f for _, f in BAD_TIERS])
def test_tier_set_rejects_nonsense_naming_the_field_before_touching_redis(redis, demo, args,
                                                                          field):
    before = snapshot(redis)
    r = demo("tier", "set", "free", *args)
    assert r.code == 2, r
    assert r.out == ""
    assert r.err.startswith("rlctl: ") and field in r.err and r.err.count("\n") == 1, r
    assert snapshot(redis) == before
    # Validated before connecting: no Redis needed to be told so, and no connect timeout.
    r = run("tier", "set", "free", *args, url=dead_url())
    assert (r.code, r.out) == (2, ""), r
    assert field in r.err and r.seconds < 1.5, r


def test_tier_set_rejects_a_bad_name(redis, ctl):
    r = ctl("tier", "set", "Gold!", "--base", "1", "--burst", "1", "--degraded", "1")
    assert r.code == 2 and "name" in r.err and "Gold!" in r.err, r
    assert snapshot(redis) == {}


def test_tier_list_is_an_aligned_table_and_json(demo):
    r = demo.ok("tier", "list")
    assert r.lines[0] == ("NAME        BASE  BURST  DEGRADED  WINDOW  ALGORITHM       SHADOW"
                          "  ON_FAILURE")
    assert sorted(r.lines[1:]) == [
        "enterprise  1000  1000   1000      60      sliding_window  no      -",
        "free        10    20     2         60      sliding_window  no      -",
        "pro         100   150    100       60      sliding_window  no      -"]
    assert_table(r.out, TIER_HEADER)
    doc = demo.ok("--json", "tier", "list").json()
    assert list(doc) == ["tiers"]
    assert sorted(doc["tiers"], key=lambda t: t["name"]) == [
        tier_doc(n, *DEMO_TIERS[n]) for n in sorted(DEMO_TIERS)]


def test_tier_list_of_an_empty_redis(ctl):
    assert ctl.ok("tier", "list").lines == [" ".join(TIER_HEADER).replace(" ", "  ")]
    assert ctl.ok("--json", "tier", "list").json() == {"tiers": []}
    assert ctl.ok("--quiet", "tier", "list").out == ""


def test_tier_show(demo):
    r = demo.ok("tier", "show", "pro")
    assert r.out == ("NAME:       pro\nBASE:       100\nBURST:      150\nDEGRADED:   100\n"
                     "WINDOW:     60\nALGORITHM:  sliding_window\nSHADOW:     no\n"
                     "ON_FAILURE: -\n")
    assert demo.ok("--json", "tier", "show", "pro").json() == tier_doc("pro", 100, 150, 100)
    r = demo("tier", "show", "platinum")
    assert (r.code, r.out, r.err) == (3, "", "rlctl: no tier 'platinum'\n"), r


def test_tier_delete(redis, demo):
    demo.ok("tier", "set", "spare", "--base", "1", "--burst", "1", "--degraded", "1")
    r = demo.ok("tier", "delete", "spare")
    assert r.out == "tier spare deleted\n"
    assert redis.command("EXISTS", "rl:tier:spare") == 0
    assert sorted(redis.command("SMEMBERS", "rl:tiers")) == sorted(DEMO_TIERS)
    r = demo("tier", "delete", "spare")
    assert (r.code, r.out, r.err) == (3, "", "rlctl: no tier 'spare'\n"), r


def test_tier_delete_of_a_tier_in_use_is_a_conflict_unless_forced(redis, demo):
    demo.ok("user", "add", "second_free", "--tier", "free")
    before = snapshot(redis)
    r = demo("tier", "delete", "free")
    assert r.code == 5, r
    assert r.out == ""
    assert r.err.startswith("rlctl: tier 'free' is used by 2 user(s): "), r
    assert "demo_free_user" in r.err and "second_free" in r.err
    assert snapshot(redis) == before
    assert demo.ok("--json", "tier", "delete", "free", "--force").json() == {"deleted": "free"}
    assert redis.command("EXISTS", "rl:tier:free") == 0
    assert sorted(redis.command("SMEMBERS", "rl:tiers")) == ["enterprise", "pro"]


# == users ======================================================================================
def test_user_add_writes_the_user_hash(redis, demo):
    t0 = time.time() * 1000
    r = demo.ok("user", "add", "alice@example.com", "--tier", "pro")
    t1 = time.time() * 1000
    assert r.out == "user alice@example.com added (tier pro)\n"
    h = hash_of(redis, "rl:user:alice@example.com")
    assert set(h) == {"tier", "created_at", "disabled"} and h["tier"] == "pro", h
    assert h["disabled"] == "0" and t0 - 5 <= int(h["created_at"]) <= t1 + 5, h
    assert "alice@example.com" in redis.command("SMEMBERS", "rl:users")
    doc = demo.ok("--json", "user", "add", "bob", "--tier", "free").json()
    created = hash_of(redis, "rl:user:bob")["created_at"]
    assert doc == {"user_id": "bob", "tier": "free", "created_at": iso(created),
                   "disabled": False}


def test_user_add_twice_is_a_conflict_and_changes_nothing(redis, demo):
    before = snapshot(redis)
    r = demo("user", "add", "demo_free_user", "--tier", "pro")
    assert (r.code, r.out) == (5, ""), r
    assert r.err == "rlctl: user 'demo_free_user' already exists\n"
    assert snapshot(redis) == before


def test_user_add_with_an_unknown_tier_is_not_found(redis, demo):
    before = snapshot(redis)
    r = demo("user", "add", "carol", "--tier", "platinum")
    assert (r.code, r.out, r.err) == (3, "", "rlctl: no tier 'platinum'\n"), r
    assert snapshot(redis) == before


@pytest.mark.parametrize("bad_id", ["with space", "a/b", "x" * 129, "ünï", "a:b", "{tag}"])
def test_user_add_with_a_bad_id_is_a_usage_error(redis, demo, bad_id):
    before = snapshot(redis)
    r = demo("user", "add", bad_id, "--tier", "free")
    assert (r.code, r.out) == (2, ""), r
    assert r.err.startswith("rlctl: ID: expected"), r
    assert snapshot(redis) == before


def test_user_list(redis, demo):
    r = demo.ok("user", "list")
    assert_table(r.out, ["USER", "TIER", "DISABLED", "CREATED"])
    assert r.lines[0] == "USER                  TIER        DISABLED  CREATED"
    created = {u: hash_of(redis, f"rl:user:{u}")["created_at"] for u in DEMO_USERS}
    assert sorted(table_rows(r.out)) == sorted(
        [u, t, "no", iso(created[u])] for u, t in DEMO_USERS.items())
    doc = demo.ok("--json", "user", "list").json()
    assert list(doc) == ["users"]
    assert sorted(doc["users"], key=lambda u: u["user_id"]) == [
        {"user_id": u, "tier": DEMO_USERS[u], "created_at": iso(created[u]), "disabled": False}
        for u in sorted(DEMO_USERS)]


def test_user_show_lists_key_ids_never_keys(redis, demo):
    created = hash_of(redis, "rl:user:demo_pro_user")["created_at"]
    second = demo.ok("--quiet", "key", "create", "demo_pro_user", "--label", "ci").out.strip()
    r = demo.ok("user", "show", "demo_pro_user")
    assert r.lines[:5] == ["user:     demo_pro_user", "tier:     pro", "disabled: no",
                           f"created:  {iso(created)}", "keys:     2"]
    assert sorted(r.lines[5:]) == sorted([f"  {key_id(KEYS['pro'])}  imported",
                                          f"  {key_id(second)}  ci"])
    assert KEYS["pro"] not in r.out and second not in r.out
    doc = demo.ok("--json", "user", "show", "demo_pro_user").json()
    assert set(doc) == USER_FIELDS | {"keys"}
    assert {k["key_id"]: k["label"] for k in doc["keys"]} == {
        key_id(KEYS["pro"]): "imported", key_id(second): "ci"}
    assert all(set(k) == KEY_FIELDS and k["user_id"] == "demo_pro_user" for k in doc["keys"])
    r = demo("user", "show", "nobody")
    assert (r.code, r.out, r.err) == (3, "", "rlctl: no user 'nobody'\n"), r


def test_user_set_tier(redis, demo):
    before = hash_of(redis, "rl:user:demo_free_user")
    r = demo.ok("user", "set-tier", "demo_free_user", "pro")
    assert r.out == "user demo_free_user moved (tier pro)\n"
    assert hash_of(redis, "rl:user:demo_free_user") == {**before, "tier": "pro"}
    doc = demo.ok("--json", "user", "set-tier", "demo_free_user", "enterprise").json()
    assert doc == {"user_id": "demo_free_user", "tier": "enterprise",
                   "created_at": iso(before["created_at"]), "disabled": False}


def test_user_set_tier_failures(redis, demo):
    before = snapshot(redis)
    r = demo("user", "set-tier", "nobody", "pro")
    assert (r.code, r.out, r.err) == (3, "", "rlctl: no user 'nobody'\n"), r
    r = demo("user", "set-tier", "demo_free_user", "platinum")
    assert (r.code, r.out, r.err) == (3, "", "rlctl: no tier 'platinum'\n"), r
    assert snapshot(redis) == before


def test_user_delete_removes_the_user_its_keys_and_counters(redis, demo):
    extra = demo.ok("--quiet", "key", "create", "demo_free_user").out.strip()
    redis.command("HSET", "rl:c:{demo_free_user}:sw:60", "c", 3, "p", 0, "w", 1)
    r = demo.ok("user", "delete", "demo_free_user")
    assert r.out == "user demo_free_user deleted\n"
    keys = set(snapshot(redis))
    gone = {"rl:user:demo_free_user", "rl:keys:{demo_free_user}",
            f"rl:apikey:{sha256_hex(KEYS['free'])}", f"rl:apikey:{sha256_hex(extra)}",
            "rl:c:{demo_free_user}:sw:60"}
    assert not keys & gone, keys & gone
    assert sorted(redis.command("SMEMBERS", "rl:users")) == ["demo_enterprise_user",
                                                             "demo_pro_user"]
    assert f"rl:apikey:{sha256_hex(KEYS['pro'])}" in keys  # others untouched
    r = demo("user", "delete", "demo_free_user")
    assert (r.code, r.out, r.err) == (3, "", "rlctl: no user 'demo_free_user'\n"), r
    assert demo.ok("--json", "user", "delete", "demo_pro_user").json() == {
        "deleted": "demo_pro_user"}


# == keys =======================================================================================
def test_key_create_prints_the_key_once_and_stores_only_its_sha256(redis, demo):
    t0 = time.time() * 1000
    r = demo.ok("key", "create", "demo_free_user", "--label", "billing service")
    t1 = time.time() * 1000
    m = re.fullmatch(r"api_key: (\S+)\nkey_id:  ([0-9a-f]{16})\nuser:    demo_free_user\n"
                     r"Store the key now: it is not shown again\.\n", r.out)
    assert m, r.out
    key, kid = m.groups()
    assert is_valid_generated_key(key), key  # rl_ + 32 base62 + a valid checksum
    digest = sha256_hex(key)
    assert kid == digest[:16]
    h = hash_of(redis, f"rl:apikey:{digest}")
    assert set(h) == {"user", "key_id", "label", "created_at"}, h
    assert (h["user"], h["key_id"], h["label"]) == ("demo_free_user", kid, "billing service")
    assert t0 - 5 <= int(h["created_at"]) <= t1 + 5
    assert sorted(redis.command("SMEMBERS", "rl:keys:{demo_free_user}")) == sorted(
        [digest, sha256_hex(KEYS["free"])])
    # The key itself is nowhere in Redis: not in any key name, not in any value.
    for name, (_, value) in snapshot(redis).items():
        assert key not in name and key not in json.dumps(value), name
    # And never shown again.
    for args in (["key", "list", "demo_free_user"], ["user", "show", "demo_free_user"],
                 ["--json", "key", "list", "demo_free_user"], ["export"]):
        assert key not in demo.ok(*args).out, args


def test_key_create_quiet_and_json(redis, demo):
    r = demo.ok("--quiet", "key", "create", "demo_pro_user")
    key = r.out[:-1]
    assert r.out == key + "\n" and is_valid_generated_key(key), r
    doc = demo.ok("--json", "key", "create", "demo_pro_user", "--label", "x").json()
    assert set(doc) == KEY_FIELDS | {"api_key"}
    assert is_valid_generated_key(doc["api_key"]) and doc["api_key"] != key
    digest = sha256_hex(doc["api_key"])
    assert doc["key_id"] == digest[:16] and doc["user_id"] == "demo_pro_user"
    assert doc["label"] == "x"
    assert doc["created_at"] == iso(hash_of(redis, f"rl:apikey:{digest}")["created_at"])


def test_key_create_failures(redis, demo):
    before = snapshot(redis)
    r = demo("key", "create", "nobody")
    assert (r.code, r.out, r.err) == (3, "", "rlctl: no user 'nobody'\n"), r
    r = demo("key", "create", "demo_free_user", "--label", "x" * 129)
    assert (r.code, r.out) == (2, "") and "--label" in r.err, r
    assert snapshot(redis) == before


def test_key_list_shows_ids_labels_and_dates(redis, demo):
    created = demo.ok("--json", "key", "create", "demo_free_user", "--label", "ci").json()
    r = demo.ok("key", "list", "demo_free_user")
    assert_table(r.out, ["KEY_ID", "LABEL", "CREATED"])
    imported_at = hash_of(redis, f"rl:apikey:{sha256_hex(KEYS['free'])}")["created_at"]
    assert sorted(table_rows(r.out)) == sorted([
        [key_id(KEYS["free"]), "imported", iso(imported_at)],
        [created["key_id"], "ci", created["created_at"]]])
    assert created["api_key"] not in r.out and KEYS["free"] not in r.out
    assert sha256_hex(created["api_key"]) not in r.out  # not even the whole digest
    doc = demo.ok("--json", "key", "list", "demo_free_user").json()
    assert set(doc) == {"user", "keys"} and doc["user"] == "demo_free_user"
    assert sorted(doc["keys"], key=lambda k: k["label"]) == [
        {"key_id": created["key_id"], "user_id": "demo_free_user", "label": "ci",
         "created_at": created["created_at"]},
        {"key_id": key_id(KEYS["free"]), "user_id": "demo_free_user", "label": "imported",
         "created_at": iso(imported_at)}]
    assert created["api_key"] not in json.dumps(doc)
    r = demo("key", "list", "nobody")
    assert (r.code, r.out, r.err) == (3, "", "rlctl: no user 'nobody'\n"), r


def test_key_revoke(redis, demo):
    kid = key_id(KEYS["free"])
    r = demo.ok("key", "revoke", kid)
    assert r.out == f"key {kid} of demo_free_user revoked\n"
    assert redis.command("EXISTS", f"rl:apikey:{sha256_hex(KEYS['free'])}") == 0
    assert redis.command("SMEMBERS", "rl:keys:{demo_free_user}") == []
    assert redis.command("EXISTS", "rl:user:demo_free_user") == 1
    r = demo("key", "revoke", kid)
    assert (r.code, r.out, r.err) == (3, "", f"rlctl: no key '{kid}'\n"), r
    for unknown in ("0123456789abcdef", "not-a-key-id"):
        r = demo("key", "revoke", unknown)
        assert (r.code, r.out) == (3, ""), r
    doc = demo.ok("--json", "key", "revoke", key_id(KEYS["pro"])).json()
    assert doc == {"revoked": key_id(KEYS["pro"]), "user": "demo_pro_user"}


# == health =====================================================================================
def test_health_get_when_never_set(ctl):
    assert ctl.ok("health", "get").out == ("status:     NORMAL\nupdated_by: -\nreason:     -\n"
                                           "updated_at: -\nexpires_at: -\n")
    assert ctl.ok("--json", "health", "get").json() == {
        "status": "NORMAL", "updated_by": None, "reason": None, "updated_at": None,
        "expires_at": None}


def test_health_set_degraded_with_ttl_reason_and_by(redis, ctl):
    t0 = time.time() * 1000
    r = ctl.ok("health", "set", "DEGRADED", "--ttl", "60", "--reason", "High CPU", "--by",
               "ops_team")
    h = hash_of(redis, "rl:health")
    assert set(h) == {"status", "updated_by", "reason", "updated_at"}, h
    assert (h["status"], h["updated_by"], h["reason"]) == ("DEGRADED", "ops_team", "High CPU")
    assert t0 - 5 <= int(h["updated_at"]) <= time.time() * 1000 + 5
    assert 58_000 < redis.command("PTTL", "rl:health") <= 60_000
    updated = iso(h["updated_at"])
    expires = iso(int(h["updated_at"]) + 60_000)
    expected = (f"status:     DEGRADED\nupdated_by: ops_team\nreason:     High CPU\n"
                f"updated_at: {updated}\nexpires_at: {expires}\n")
    assert r.out == expected
    # Read back, expires_at is now + PTTL: the same second, give or take the one it crosses.
    assert ctl.ok("health", "get").out in {
        expected, expected.replace(expires, iso(int(h["updated_at"]) + 59_000))}
    doc = ctl.ok("--json", "health", "get").json()
    assert doc == {"status": "DEGRADED", "updated_by": "ops_team", "reason": "High CPU",
                   "updated_at": updated, "expires_at": doc["expires_at"]}
    assert doc["expires_at"] in (expires, iso(int(h["updated_at"]) + 59_000))


def test_health_set_normal_without_ttl_never_expires(redis, ctl):
    ctl.ok("health", "set", "DEGRADED", "--ttl", "60")
    doc = ctl.ok("--json", "health", "set", "normal").json()  # case-insensitive
    h = hash_of(redis, "rl:health")
    assert (h["status"], h["updated_by"], h["reason"]) == ("NORMAL", "rlctl", ""), h
    assert redis.command("PTTL", "rl:health") == -1
    assert doc == {"status": "NORMAL", "updated_by": "rlctl", "reason": "",
                   "updated_at": iso(h["updated_at"]), "expires_at": None}


def test_health_falls_back_to_normal_when_its_ttl_runs_out(redis, ctl):
    ctl.ok("health", "set", "DEGRADED", "--ttl", "1")
    assert ctl.ok("--json", "health", "get").json()["status"] == "DEGRADED"
    seconds, _ = wait_for(lambda: redis.command("EXISTS", "rl:health") == 0, 2.5)
    assert seconds is not None
    assert ctl.ok("--json", "health", "get").json() == {
        "status": "NORMAL", "updated_by": None, "reason": None, "updated_at": None,
        "expires_at": None}


@pytest.mark.parametrize("args", [["SICK"], ["DEGRADED", "--ttl=-1"], ["DEGRADED", "--ttl", "x"],
                                  []])
def test_health_set_usage_errors(redis, ctl, args):
    ctl.ok("health", "set", "DEGRADED", "--reason", "kept")
    before = snapshot(redis)
    r = ctl("health", "set", *args)
    assert (r.code, r.out) == (2, ""), r
    assert ("STATUS" if args[:1] == ["SICK"] or not args else "--ttl") in r.err, r
    assert snapshot(redis) == before


# == usage ======================================================================================
def test_usage_of_an_idle_user(redis, demo):
    t0 = time.time()
    doc = demo.ok("--json", "usage", "demo_pro_user").json()
    assert doc == {"user": "demo_pro_user", "tier": "pro", "limit": 150, "used": 0,
                   "remaining": 150, "reset": doc["reset"]}
    assert t0 - 1 <= doc["reset"] <= t0 + 61
    r = demo.ok("usage", "demo_pro_user")
    m = re.fullmatch(r"user:      demo_pro_user\ntier:      pro \(NORMAL\)\nlimit:     150\n"
                     r"used:      0\nremaining: 150\nreset:     (\S+)\n", r.out)
    assert m and ISO.match(m.group(1)), r.out
    # It only looks: nothing was counted.
    assert [k for k in snapshot(redis) if k.startswith("rl:c:")] == []
    demo.ok("health", "set", "DEGRADED")
    doc = demo.ok("--json", "usage", "demo_free_user").json()
    assert (doc["limit"], doc["used"], doc["remaining"]) == (2, 0, 2), doc
    r = demo("usage", "nobody")
    assert (r.code, r.out, r.err) == (3, "", "rlctl: no user 'nobody'\n"), r


@pytest.mark.parametrize("on_failure", ["allow", "local", "deny"])
def test_usage_of_a_damaged_counter_is_an_error_whatever_the_tiers_failure_policy(
        redis, ctl, on_failure):
    # rlctl applies no failure policy: a counter Redis cannot read is reported, never made up.
    ctl.ok("tier", "set", "gold", "--base", "10", "--burst", "10", "--degraded", "5",
           "--on-failure", on_failure)
    ctl.ok("user", "add", "bob", "--tier", "gold")
    redis.command("SET", "rl:c:{bob}:sw:60", "garbage")
    for json_flag in ([], ["--json"]):
        r = ctl(*json_flag, "usage", "bob")
        assert (r.code, r.out) == (1, ""), r
        assert r.err.startswith("rlctl: counter rl:c:{bob}:sw:60: ") and \
            r.err.count("\n") == 1, r
        assert "WRONGTYPE" in r.err, r
    assert redis.command("GET", "rl:c:{bob}:sw:60") == "garbage"


# == blocks =====================================================================================
def test_block_add_list_remove_ipv4(redis, ctl):
    t0 = time.time()
    r = ctl.ok("block", "add", "203.0.113.7")
    assert redis.command("GET", "rl:block:{203.0.113.7}") == "blocked with rlctl"
    assert 898_000 < redis.command("PTTL", "rl:block:{203.0.113.7}") <= 900_000
    assert r.out in {f"blocked 203.0.113.7 until {iso((t0 + d) * 1000)}\n" for d in (900, 901)}
    doc = ctl.ok("--json", "block", "add", "198.51.100.1", "--ttl", "30", "--reason",
                 "scraper").json()
    assert set(doc) == {"client", "reason", "expires_at"}
    assert (doc["client"], doc["reason"]) == ("198.51.100.1", "scraper")
    assert redis.command("GET", "rl:block:{198.51.100.1}") == "scraper"
    assert 28_000 < redis.command("PTTL", "rl:block:{198.51.100.1}") <= 30_000
    r = ctl.ok("block", "list")
    assert_table(r.out, ["CLIENT", "UNTIL", "REASON"])
    assert [row[0] for row in table_rows(r.out)] == ["198.51.100.1", "203.0.113.7"]
    assert [row[2] for row in table_rows(r.out)] == ["scraper", "blocked with rlctl"]
    listed = ctl.ok("--json", "block", "list").json()
    assert listed == {"blocks": [doc, listed["blocks"][1]]}
    assert listed["blocks"][1]["client"] == "203.0.113.7"
    r = ctl.ok("block", "remove", "203.0.113.7")
    assert r.out == "unblocked 203.0.113.7\n"
    assert redis.command("EXISTS", "rl:block:{203.0.113.7}") == 0
    r = ctl("block", "remove", "203.0.113.7")
    assert (r.code, r.out, r.err) == (3, "", "rlctl: no block on 203.0.113.7\n"), r
    assert ctl.ok("--json", "block", "remove", "198.51.100.1").json() == {
        "removed": "198.51.100.1"}
    assert ctl.ok("--json", "block", "list").json() == {"blocks": []}


def test_block_ipv6_is_per_64(redis, ctl):
    doc = ctl.ok("--json", "block", "add", "2001:db8:aa:bb:1:2:3:4", "--ttl", "120").json()
    assert doc["client"] == "2001:db8:aa:bb::/64"
    assert [k for k in snapshot(redis) if k.startswith("rl:block:")] == [
        "rl:block:{2001:db8:aa:bb::/64}"]
    assert 118_000 < redis.command("PTTL", "rl:block:{2001:db8:aa:bb::/64}") <= 120_000
    # Another address of the same /64 names the same block.
    r = ctl.ok("block", "remove", "2001:db8:aa:bb:ffff::9")
    assert r.out == "unblocked 2001:db8:aa:bb::/64\n"
    assert redis.command("EXISTS", "rl:block:{2001:db8:aa:bb::/64}") == 0
    # An IPv4-mapped IPv6 address is the IPv4 client.
    assert ctl.ok("--json", "block", "add", "::ffff:10.0.0.1").json()["client"] == "10.0.0.1"
    assert redis.command("EXISTS", "rl:block:{10.0.0.1}") == 1


@pytest.mark.parametrize("args", [["add", "1.2.3"], ["add", "10.0.0.0/8"], ["add", "host.example"],
                                  ["add", "10.1.1.1", "--ttl", "0"], ["remove", "::g"]])
def test_block_usage_errors(redis, ctl, args):
    r = ctl("block", *args)
    assert (r.code, r.out) == (2, ""), r
    assert snapshot(redis) == {}


# == import / export ============================================================================
IMPORT_CREATED = ("tiers: 3 created, 0 updated, 0 unchanged\n"
                  "users: 3 created, 0 updated, 0 unchanged\n"
                  "keys:  3 created, 0 unchanged\n")
IMPORT_UNCHANGED = ("tiers: 0 created, 0 updated, 3 unchanged\n"
                    "users: 0 created, 0 updated, 3 unchanged\n"
                    "keys:  0 created, 3 unchanged\n")


def test_import_writes_the_data_model_and_is_idempotent(redis, ctl):
    assert ctl.ok("import", DEMO_FILE).out == IMPORT_CREATED
    first = demo_state_ok(redis)
    assert ctl.ok("import", DEMO_FILE).out == IMPORT_UNCHANGED
    doc = ctl.ok("--json", "import", DEMO_FILE).json()
    assert doc == {"dry_run": False,
                   "tiers": {"created": [], "updated": [], "unchanged": 3},
                   "users": {"created": [], "updated": [], "unchanged": 3},
                   "keys": {"created": 0, "unchanged": 3}, "conflicts": []}
    assert snapshot(redis) == first  # not even created_at moved


def test_import_marks_redis_as_set_up(redis, ctl):
    """After an import Redis holds the data model (DESIGN.md §5 lists rl:schema = 1): an rld
    started later must not bootstrap its own tier file into it."""
    ctl.ok("import", DEMO_FILE)
    assert redis.command("GET", "rl:schema") == "1"


def test_import_dry_run_changes_nothing(redis, ctl):
    r = ctl.ok("import", "--dry-run", DEMO_FILE)
    assert r.out == IMPORT_CREATED.replace(" created", " would be created").replace(
        " updated", " would be updated")
    assert snapshot(redis) == {}
    doc = ctl.ok("--json", "import", "--dry-run", DEMO_FILE).json()
    assert doc == {"dry_run": True,
                   "tiers": {"created": ["free", "pro", "enterprise"], "updated": [],
                             "unchanged": 0},
                   "users": {"created": ["demo_free_user", "demo_pro_user",
                                         "demo_enterprise_user"], "updated": [], "unchanged": 0},
                   "keys": {"created": 3, "unchanged": 0}, "conflicts": []}
    assert snapshot(redis) == {}


def test_import_reports_and_applies_changes(redis, demo, tmp_path):
    data = json.loads(DEMO_FILE.read_text())
    data["tiers"]["free"]["burst_limit"] = 25
    data["tiers"]["gold"] = {"base_limit": 5, "burst_limit": 5, "degraded_limit": 1,
                             "window_seconds": 10, "algorithm": "fixed_window"}
    data["users"]["demo_pro_user"] = {"tier": "gold", "disabled": True}
    data["users"]["dave"] = "gold"
    data["api_keys"]["dave_key_0001"] = "dave"
    path = tmp_path / "changed.json"
    path.write_text(json.dumps(data))
    before = snapshot(redis)
    dry = demo.ok("--json", "import", "--dry-run", path).json()
    assert snapshot(redis) == before
    doc = demo.ok("--json", "import", path).json()
    assert doc == {**dry, "dry_run": False}
    assert doc == {"dry_run": False,
                   "tiers": {"created": ["gold"], "updated": ["free"], "unchanged": 2},
                   "users": {"created": ["dave"], "updated": ["demo_pro_user"], "unchanged": 2},
                   "keys": {"created": 1, "unchanged": 3}, "conflicts": []}
    assert hash_of(redis, "rl:tier:free") == tier_hash(10, 25, 2)
    assert hash_of(redis, "rl:tier:gold") == tier_hash(5, 5, 1, 10, "fixed_window")
    pro = hash_of(redis, "rl:user:demo_pro_user")
    assert (pro["tier"], pro["disabled"]) == ("gold", "1"), pro
    assert hash_of(redis, f"rl:apikey:{sha256_hex('dave_key_0001')}")["user"] == "dave"
    assert demo.ok("import", path).out == ("tiers: 0 created, 0 updated, 4 unchanged\n"
                                           "users: 0 created, 0 updated, 4 unchanged\n"
                                           "keys:  0 created, 4 unchanged\n")


def test_import_a_key_of_another_user_is_a_conflict(redis, demo, tmp_path):
    data = json.loads(DEMO_FILE.read_text())
    data["api_keys"][KEYS["free"]] = "demo_pro_user"
    path = tmp_path / "stolen.json"
    path.write_text(json.dumps(data))
    r = demo("import", path)
    assert r.code == 5, r
    assert "conflict" in r.err and key_id(KEYS["free"]) in r.err and KEYS["free"] not in r.err
    assert hash_of(redis, f"rl:apikey:{sha256_hex(KEYS['free'])}")["user"] == "demo_free_user"


def test_import_of_a_bad_file_names_the_json_path_and_writes_nothing(redis, demo, tmp_path):
    data = json.loads(DEMO_FILE.read_text())
    data["tiers"]["gold"] = {"base_limit": 10, "burst_limit": 5, "degraded_limit": 2,
                             "window_seconds": 60}
    data["users"]["erin"] = "gold"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    before = snapshot(redis)
    r = demo("import", path)
    assert (r.code, r.out) == (2, ""), r
    assert f"rlctl: {path}: tiers.gold.burst_limit: must be at least base_limit (10), got 5" \
        in r.err, r
    assert snapshot(redis) == before
    r = demo("import", "--dry-run", path)
    assert r.code == 2 and "tiers.gold.burst_limit" in r.err, r
    # Checked before connecting.
    r = run("import", path, url=dead_url())
    assert r.code == 2 and "tiers.gold.burst_limit" in r.err and r.seconds < 1.5, r
    # Not JSON at all; a file that does not exist.
    (tmp_path / "garbage.json").write_text("{tiers: ")
    r = demo("import", tmp_path / "garbage.json")
    assert (r.code, r.out) == (2, "") and "invalid JSON" in r.err, r
    r = demo("import", tmp_path / "missing.json")
    assert (r.code, r.out) == (3, "") and "missing.json" in r.err, r
    assert snapshot(redis) == before


def test_import_reads_stdin(redis, ctl):
    r = ctl.ok("import", "-", stdin=DEMO_FILE.read_text())
    assert r.out == IMPORT_CREATED
    demo_state_ok(redis)
    r = ctl("import", "-", stdin='{"tiers": {"x": {"base_limit": -1}}}')
    assert r.code == 2 and "<stdin>: tiers.x" in r.err, r


def expected_export():
    return {
        "tiers": {n: {"base_limit": b, "burst_limit": u, "degraded_limit": d,
                      "window_seconds": 60, "algorithm": "sliding_window", "shadow": False}
                  for n, (b, u, d) in DEMO_TIERS.items()},
        "users": dict(DEMO_USERS),
        "api_keys": {f"sha256:{sha256_hex(k)}": u for k, u in DEMO_KEYS.items()},
    }


def test_export_writes_the_reference_schema_with_key_digests(redis, demo, tmp_path):
    r = demo.ok("export")
    assert json.loads(r.out) == expected_export()
    for key in DEMO_KEYS:
        assert key not in r.out
    new_key = demo.ok("--quiet", "key", "create", "demo_pro_user").out.strip()
    demo.ok("user", "add", "frank", "--tier", "free")
    demo.ok("import", "-", stdin=json.dumps({"tiers": {"free": {
        "base_limit": 10, "burst_limit": 20, "degraded_limit": 2, "window_minutes": 1}},
        "users": {"frank": {"tier": "free", "disabled": True}}}))
    doc = demo.ok("export").json()
    assert new_key not in json.dumps(doc)
    assert doc["api_keys"][f"sha256:{sha256_hex(new_key)}"] == "demo_pro_user"
    assert doc["users"]["frank"] == {"tier": "free", "disabled": True}
    assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", k) for k in doc["api_keys"])
    # To a file: the same document; rld accepts it as its tier file.
    path = tmp_path / "export.json"
    r = demo.ok("export", path)
    assert r.out == f"exported 3 tiers and 4 users to {path}\n"
    assert json.loads(path.read_text()) == doc
    checked = run_rld("--check-config", "--tiers", str(path))
    assert checked.returncode == 0, checked.stderr
    r = demo("export", tmp_path / "no" / "such" / "dir.json")
    assert (r.code, r.out) == (1, "") and "cannot write" in r.err, r


def test_import_export_round_trip(redis, ctl, tmp_path):
    ctl.ok("import", DEMO_FILE)
    first = ctl.ok("export").out
    assert json.loads(first) == expected_export()
    path = tmp_path / "exported.json"
    path.write_text(first)
    redis.command("FLUSHALL")
    assert ctl.ok("import", path).out == IMPORT_CREATED
    assert ctl.ok("export").out == first
    demo_state_ok(redis, label="imported")


def test_round_trip_keeps_every_tier_setting_and_disabled_users(redis, ctl, tmp_path):
    data = json.loads(DEMO_FILE.read_text())
    lab = {"base_limit": 1, "burst_limit": 2, "degraded_limit": 0, "window_seconds": 3600,
           "algorithm": "token_bucket", "shadow": True, "on_failure": "deny"}
    data["tiers"]["lab"] = lab
    data["users"]["nina"] = {"tier": "lab", "disabled": True}
    data["api_keys"]["nina_key_0001"] = "nina"
    source = tmp_path / "rich.json"
    source.write_text(json.dumps(data))
    ctl.ok("import", source)
    assert hash_of(redis, "rl:user:nina")["disabled"] == "1"
    assert hash_of(redis, "rl:tier:lab") == tier_hash(1, 2, 0, 3600, "token_bucket", "1", "deny")
    first = ctl.ok("export").out
    doc = json.loads(first)
    assert doc["tiers"]["lab"] == lab
    assert doc["users"]["nina"] == {"tier": "lab", "disabled": True}
    assert doc["api_keys"][f"sha256:{sha256_hex('nina_key_0001')}"] == "nina"
    path = tmp_path / "exported.json"
    path.write_text(first)
    redis.command("FLUSHALL")
    ctl.ok("import", path)
    assert ctl.ok("export").out == first
    assert hash_of(redis, "rl:user:nina")["disabled"] == "1"


# == instances and ping =========================================================================
def test_ping(ctl):
    assert re.fullmatch(r"PONG \(\d+ us\)\n", ctl.ok("ping").out)
    doc = ctl.ok("--json", "ping").json()
    assert set(doc) == {"reply", "round_trip_us"} and doc["reply"] == "PONG"
    assert isinstance(doc["round_trip_us"], int) and doc["round_trip_us"] >= 0


def test_instances_with_none_running(ctl):
    assert ctl.ok("instances").out == "INSTANCE  VERSION  STARTED  REQUESTS  LISTENERS\n"
    assert ctl.ok("--json", "instances").json() == {"instances": []}


# == --json, --quiet, human output ==============================================================
FREE_KEY_ID = key_id(KEYS["free"])
JSON_COMMANDS = [
    # (setup commands, the command, the fields of its document)
    ([], ["tier", "list"], {"tiers"}),
    ([], ["tier", "show", "free"], TIER_FIELDS),
    ([], ["tier", "set", "gold", "--base", "1", "--burst", "2", "--degraded", "1"],
     {"tier", "created"}),
    ([], ["tier", "delete", "enterprise", "--force"], {"deleted"}),
    ([], ["user", "list"], {"users"}),
    ([], ["user", "show", "demo_free_user"], USER_FIELDS | {"keys"}),
    ([], ["user", "add", "gina", "--tier", "free"], USER_FIELDS),
    ([], ["user", "set-tier", "demo_free_user", "pro"], USER_FIELDS),
    ([], ["user", "delete", "demo_free_user"], {"deleted"}),
    ([], ["key", "create", "demo_free_user"], KEY_FIELDS | {"api_key"}),
    ([], ["key", "list", "demo_free_user"], {"user", "keys"}),
    ([], ["key", "revoke", FREE_KEY_ID], {"revoked", "user"}),
    ([], ["health", "get"], HEALTH_FIELDS),
    ([], ["health", "set", "DEGRADED", "--ttl", "10"], HEALTH_FIELDS),
    ([], ["usage", "demo_free_user"], USAGE_FIELDS),
    ([["block", "add", "10.0.0.9"]], ["block", "list"], {"blocks"}),
    ([], ["block", "add", "10.0.0.1"], {"client", "reason", "expires_at"}),
    ([["block", "add", "10.0.0.9"]], ["block", "remove", "10.0.0.9"], {"removed"}),
    ([], ["import", str(DEMO_FILE)], {"dry_run", "tiers", "users", "keys", "conflicts"}),
    ([], ["import", "--dry-run", str(DEMO_FILE)],
     {"dry_run", "tiers", "users", "keys", "conflicts"}),
    ([], ["export"], {"tiers", "users", "api_keys"}),
    ([], ["export", "{tmp}/out.json"], None),  # a document about what was written
    ([], ["instances"], {"instances"}),
    ([], ["ping"], {"reply", "round_trip_us"}),
]


@pytest.mark.parametrize("setup,args,fields", JSON_COMMANDS,
                         ids=[" ".join(a[:2]) for _, a, _ in JSON_COMMANDS])
def test_json_prints_exactly_one_document(demo, tmp_path, setup, args, fields):
    for s in setup:
        demo.ok(*s)
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    r = demo.ok("--json", *args)
    assert not ANSI.search(r.out)
    try:
        doc = r.json()
    except ValueError as e:
        raise AssertionError(f"stdout is not one JSON document ({e}): {r!r}") from None
    assert isinstance(doc, dict), r
    if fields is not None:
        assert set(doc) == fields, doc


def test_json_errors_go_to_stderr_only(demo):
    r = demo("--json", "user", "show", "nobody")
    assert (r.code, r.out, r.err) == (3, "", "rlctl: no user 'nobody'\n"), r


def test_quiet_prints_no_headers_or_notes(redis, demo):
    assert sorted(demo.ok("--quiet", "tier", "list").lines) == [
        "enterprise  1000  1000   1000      60      sliding_window  no      -",
        "free        10    20     2         60      sliding_window  no      -",
        "pro         100   150    100       60      sliding_window  no      -"]
    assert sorted(line.split()[0] for line in demo.ok("--quiet", "user", "list").lines) == \
        sorted(DEMO_USERS)
    key = demo.ok("--quiet", "key", "create", "demo_free_user").out
    assert re.fullmatch(r"rl_[0-9A-Za-z]{38}\n", key), key
    assert [line.split()[0] for line in demo.ok("--quiet", "key", "list",
                                                "demo_enterprise_user").lines] == \
        [key_id(KEYS["enterprise"])]
    assert demo.ok("--quiet", "user", "add", "hank", "--tier", "pro").out == ""
    assert demo.ok("--quiet", "tier", "set", "t2", "--base", "1", "--burst", "1",
                   "--degraded", "1").out == ""
    assert demo.ok("--quiet", "block", "add", "10.2.3.4").out == ""
    assert demo.ok("--quiet", "block", "list").lines[0].split()[0] == "10.2.3.4"
    assert demo.ok("--quiet", "instances").out == ""


def test_human_output_has_no_ansi_escapes_and_aligned_tables(demo):
    demo.ok("block", "add", "192.0.2.33", "--reason", "too many bad keys")
    demo.ok("block", "add", "2001:db8::1")
    demo.ok("key", "create", "demo_free_user", "--label", "a much longer label than usual")
    demo.ok("user", "add", "a_rather_long_user_name_for_alignment", "--tier", "pro")
    for args, header in [(["tier", "list"], TIER_HEADER),
                         (["user", "list"], ["USER", "TIER", "DISABLED", "CREATED"]),
                         (["key", "list", "demo_free_user"], ["KEY_ID", "LABEL", "CREATED"]),
                         (["block", "list"], ["CLIENT", "UNTIL", "REASON"])]:
        assert_table(demo.ok(*args).out, header)
    for args in (["tier", "show", "free"], ["user", "show", "demo_free_user"],
                 ["health", "get"], ["usage", "demo_free_user"], ["ping"], ["export"],
                 ["import", str(DEMO_FILE)]):
        assert not ANSI.search(demo.ok(*args).out), args


# == events =====================================================================================
def test_every_write_is_published_on_rl_events(redis, demo, events):
    steps = [
        (["tier", "set", "gold", "--base", "1", "--burst", "1", "--degraded", "1"],
         ["tier:gold"]),
        (["user", "add", "ivy", "--tier", "gold"], ["user:ivy"]),
        (["user", "set-tier", "ivy", "pro"], ["user:ivy"]),
        (["health", "set", "DEGRADED"], ["health"]),
        (["block", "add", "10.9.9.9"], ["block:10.9.9.9"]),
        (["block", "remove", "10.9.9.9"], ["block:10.9.9.9"]),
        (["key", "revoke", key_id(KEYS["pro"])], [f"key:{sha256_hex(KEYS['pro'])}"]),
        (["tier", "delete", "gold"], ["tier:gold"]),
        (["user", "delete", "demo_free_user"],
         ["user:demo_free_user", f"key:{sha256_hex(KEYS['free'])}"]),
    ]
    for args, expected in steps:
        demo.ok(*args)
        assert events.take(len(expected)) == expected, args
    key = demo.ok("--quiet", "key", "create", "ivy").out.strip()
    assert events.take(1) == [f"key:{sha256_hex(key)}"]
    # Reads publish nothing.
    for args in (["tier", "list"], ["user", "show", "ivy"], ["health", "get"], ["export"],
                 ["usage", "ivy"], ["block", "list"]):
        demo.ok(*args)
    assert events.take(0, timeout=0.2) == []


# == where rlctl connects =======================================================================
@pytest.fixture
def two_redis():
    servers = [RedisServer(), RedisServer()]
    try:
        for s in servers:
            s.start()
        yield servers
    finally:
        for s in servers:
            s.cleanup()


def marker_of(server, db=0):
    """Which `rlctl user add` landed in this server's db (the user ids present)."""
    return sorted(server.command("SMEMBERS", "rl:users", db=db))


def seed(server, db=0):
    server.command("HSET", "rl:tier:t", "base_limit", 1, "burst_limit", 1, "degraded_limit", 1,
                   "window_seconds", 60, "algorithm", "sliding_window", db=db)
    server.command("SADD", "rl:tiers", "t", db=db)


def test_redis_flag_beats_redis_url_beats_host_port_db(two_redis):
    a, b = two_redis
    for s in (a, b):
        for db in (0, 3):
            seed(s, db)
    dead = closed_port()
    # --redis over REDIS_URL (a live server that must not be used) and REDIS_HOST/PORT.
    r = run("user", "add", "via_flag", "--tier", "t", url=a.url,
            env={"REDIS_URL": b.url, "REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(dead)})
    assert r.code == 0, r
    # REDIS_URL over REDIS_HOST/PORT/DB.
    r = run("user", "add", "via_url", "--tier", "t",
            env={"REDIS_URL": f"redis://127.0.0.1:{b.port}/3", "REDIS_HOST": "127.0.0.1",
                 "REDIS_PORT": str(a.port), "REDIS_DB": "0"})
    assert r.code == 0, r
    # REDIS_HOST/PORT/DB when neither is given; the db is honoured.
    r = run("user", "add", "via_parts", "--tier", "t",
            env={"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(a.port), "REDIS_DB": "3"})
    assert r.code == 0, r
    assert (marker_of(a), marker_of(a, 3), marker_of(b), marker_of(b, 3)) == (
        ["via_flag"], ["via_parts"], [], ["via_url"])
    # An empty REDIS_URL counts as unset.
    r = run("ping", env={"REDIS_URL": "", "REDIS_PORT": str(a.port)})
    assert r.code == 0, r


def test_redis_host_is_read(redis):
    dead = closed_port()
    r = run("ping", env={"REDIS_HOST": "localhost", "REDIS_PORT": str(dead), "REDIS_DB": "2"})
    assert r.code == 4, r
    assert f"redis://localhost:{dead}/2" in r.err, r


def test_default_is_127_0_0_1_6379_db_0():
    r = run("ping")
    if port_open(6379):
        # Something listens there (not ours): rlctl must have gone to it, and nowhere else.
        assert r.code == 0 and r.out.startswith("PONG") or \
            "redis://127.0.0.1:6379/0" in r.err, r
        return
    assert (r.code, r.out) == (4, ""), r
    assert r.err == "rlctl: cannot reach Redis at redis://127.0.0.1:6379/0 within 2 s\n", r
    assert r.seconds < 3.0, r


def test_a_db_number_in_the_url_is_honoured(redis):
    r = run("import", DEMO_FILE, url=f"redis://127.0.0.1:{redis.port}/5")
    assert r.code == 0, r
    assert redis.command("DBSIZE") == 0
    assert redis.command("HGET", "rl:user:demo_free_user", "tier", db=5) == "free"
    r = run("--json", "user", "list", url=f"redis://127.0.0.1:{redis.port}/5")
    assert len(r.json()["users"]) == 3
    assert run("--json", "user", "list", url=redis.url).json() == {"users": []}


def test_password_url_against_requirepass():
    server = RedisServer(password="s3cr3t-pw")
    try:
        server.start()
        ctl = Ctl(server.url)
        assert ctl.ok("ping").out.startswith("PONG")
        ctl.ok("import", DEMO_FILE)
        assert server.command("HGET", "rl:user:demo_pro_user", "tier") == "pro"
        # Without the password, or with a wrong one: refused, quickly, the password not shown.
        for url in (f"redis://127.0.0.1:{server.port}/0",
                    f"redis://:wrong-pw@127.0.0.1:{server.port}/0"):
            r = run("ping", url=url)
            assert r.code != 0 and r.out == "" and r.seconds < 3.0, r
            assert "wrong-pw" not in r.err, r
    finally:
        server.cleanup()


def test_redis_password_from_the_environment():
    """REDIS_PASSWORD fills in a URL without a password (from --redis, REDIS_URL or the parts),
    never one that has its own."""
    server = RedisServer(password="s3cr3t-pw")
    try:
        server.start()
        bare = f"redis://127.0.0.1:{server.port}/0"
        env = {"REDIS_PASSWORD": "s3cr3t-pw"}
        assert run("ping", url=bare, env=env).out.startswith("PONG")
        assert run("ping", env={**env, "REDIS_URL": bare}).out.startswith("PONG")
        r = run("ping", env={**env, "REDIS_PORT": str(server.port)})
        assert r.out.startswith("PONG"), r
        r = run("ping", url=f"redis://:wrong-pw@127.0.0.1:{server.port}/0", env=env)
        assert r.code != 0 and "s3cr3t-pw" not in r.err and "wrong-pw" not in r.err, r
    finally:
        server.cleanup()


def test_unix_socket_url():
    server = RedisServer(unix=True)
    try:
        server.start()
        ctl = Ctl(f"unix://{server.socket_path}?db=4")
        ctl.ok("import", DEMO_FILE)
        assert server.command("HGET", "rl:user:demo_pro_user", "tier", db=4) == "pro"
        assert server.command("DBSIZE") == 0
    finally:
        server.cleanup()


def test_unreachable_redis_exits_4_within_2_seconds():
    r = run("user", "list", url=dead_url())
    assert (r.code, r.out) == (4, ""), r
    assert r.err.startswith("rlctl: cannot reach Redis at redis://127.0.0.1:") and \
        r.err.count("\n") == 1, r
    assert r.seconds < 3.0, r
    # The commands that check their input before connecting connect all the same.
    r = run("tier", "set", "gold", "--base", "1", "--burst", "1", "--degraded", "1",
            url=dead_url())
    assert (r.code, r.out) == (4, "") and r.seconds < 3.0, r
    r = run("import", DEMO_FILE, url=dead_url())
    assert (r.code, r.out) == (4, "") and r.seconds < 3.0, r
    # A server that accepts the connection but never answers is unreachable too.
    with SilentServer() as silent:
        r = run("ping", url=f"redis://127.0.0.1:{silent.port}/0")
        assert (r.code, r.out) == (4, ""), r
        assert r.seconds < 3.0, r


@pytest.mark.parametrize("url,env", [
    ("bogus://127.0.0.1:6379", None),
    ("redis://127.0.0.1:notaport/0", None),
    ("redis://127.0.0.1:6379/x", None),
    (None, {"REDIS_PORT": "seventy"}),
    (None, {"REDIS_DB": "-1"}),
])
def test_a_malformed_redis_address_is_a_usage_error(url, env):
    r = run("ping", url=url, env=env)
    assert (r.code, r.out) == (2, ""), r
    assert r.seconds < 1.5, r


def test_prefix_changes_every_key_and_the_events_channel(redis):
    sub = Subscriber(redis, "app1:events")
    try:
        ctl = Ctl(redis.url)
        p = ["--prefix", "app1:"]
        ctl.ok(*p, "import", DEMO_FILE)
        assert sorted(sub.take(9)) == sorted(
            [f"tier:{t}" for t in DEMO_TIERS] + [f"user:{u}" for u in DEMO_USERS]
            + [f"key:{sha256_hex(k)}" for k in DEMO_KEYS])
        ctl.ok(*p, "tier", "set", "gold", "--base", "1", "--burst", "1", "--degraded", "1")
        ctl.ok(*p, "user", "add", "jack", "--tier", "gold")
        key = ctl.ok(*p, "--quiet", "key", "create", "jack").out.strip()
        ctl.ok(*p, "health", "set", "DEGRADED", "--ttl", "60")
        ctl.ok(*p, "block", "add", "10.3.3.3")
        keys = sorted(snapshot(redis))
        assert keys and all(k.startswith("app1:") for k in keys), keys
        assert {"app1:tiers", "app1:users", "app1:tier:gold", "app1:user:jack",
                f"app1:apikey:{sha256_hex(key)}", "app1:keys:{jack}", "app1:health",
                "app1:block:{10.3.3.3}"} <= set(keys), keys
        assert sub.take(5) == ["tier:gold", "user:jack", f"key:{sha256_hex(key)}", "health",
                               "block:10.3.3.3"]
        # Each prefix is its own world.
        assert ctl.ok("--json", "user", "list").json() == {"users": []}
        assert len(ctl.ok(*p, "--json", "user", "list").json()["users"]) == 4
        assert ctl.ok(*p, "--json", "key", "revoke", key_id(key)).json()["user"] == "jack"
    finally:
        sub.close()


BAD_PREFIXES = ["a*", "rl?", "rl[x]:", "{rl}:", "r l:", "", "x" * 33]
PREFIX_RULE = ("rlctl: --prefix: expected 1-32 characters without spaces, braces or glob "
               "characters (* ? [ ]), e.g. rl:")


@pytest.mark.parametrize("prefix", BAD_PREFIXES, ids=[repr(p) for p in BAD_PREFIXES])
def test_a_prefix_rld_would_refuse_is_a_usage_error(redis, prefix):
    # Glob characters would make SCAN patterns (blocks, counters, keys) match other keys.
    ctl = Ctl(redis.url)
    for args in (["--prefix", prefix, "block", "list"],
                 ["tier", "set", "t", "--base", "1", "--burst", "1", "--degraded", "1",
                  "--prefix", prefix]):
        r = ctl(*args)
        assert (r.code, r.out) == (2, ""), r
        assert r.err.splitlines() == [PREFIX_RULE, HINT], r
        assert r.seconds < 1.5, r
    assert snapshot(redis) == {}
    assert Ctl(redis.url).ok("--prefix", "x" * 32, "--json", "block", "list").json() == {
        "blocks": []}


# == usage errors and help ======================================================================
USAGE_ERRORS = [
    [],
    ["frobnicate"],
    ["tier"],
    ["tier", "frobnicate"],
    ["--frobnicate", "ping"],
    ["ping", "--frobnicate"],
    ["ping", "extra"],
    ["user", "add"],
    ["user", "add", "kim"],
    ["user", "set-tier", "kim"],
    ["key", "revoke"],
    ["health", "set"],
    ["tier", "set", "x", "--base", "abc", "--burst", "1", "--degraded", "1"],
    ["tier", "set", "x", "--base", "1", "--burst", "1"],
    ["block", "add", "1.2.3.4", "--ttl"],
    ["--redis"],
]


@pytest.mark.parametrize("args", USAGE_ERRORS, ids=[" ".join(a) or "nothing" for a in USAGE_ERRORS])
def test_usage_errors_exit_2_with_a_one_line_hint(args):
    r = run(*args, url=None, env={"REDIS_URL": dead_url()})
    assert (r.code, r.out) == (2, ""), r
    lines = r.err.splitlines()
    assert len(lines) == 2 and lines[0].startswith("rlctl: ") and lines[1] == HINT, r
    assert r.seconds < 1.5, r  # no Redis was contacted


HELP = [
    ([], ["--redis", "--prefix", "--json", "--quiet", "tier", "user", "key", "health", "usage",
          "block", "import", "export", "instances", "ping", "REDIS_URL", "REDIS_HOST"]),
    (["tier"], ["list", "show", "set", "delete"]),
    (["tier", "list"], []),
    (["tier", "show"], ["NAME"]),
    (["tier", "set"], ["NAME", "--base", "--burst", "--degraded", "--window", "--algorithm"]),
    (["tier", "delete"], ["NAME", "--force"]),
    (["user"], ["list", "show", "add", "set-tier", "delete"]),
    (["user", "add"], ["ID", "--tier"]),
    (["user", "set-tier"], ["ID", "TIER"]),
    (["user", "show"], ["ID"]),
    (["user", "delete"], ["ID"]),
    (["key"], ["create", "list", "revoke"]),
    (["key", "create"], ["USER", "--label"]),
    (["key", "list"], ["USER"]),
    (["key", "revoke"], ["KEY_ID"]),
    (["health"], ["get", "set"]),
    (["health", "set"], ["STATUS", "--ttl", "--reason", "--by", "NORMAL", "DEGRADED"]),
    (["usage"], ["USER"]),
    (["block"], ["list", "add", "remove"]),
    (["block", "add"], ["IP", "--ttl", "--reason"]),
    (["block", "remove"], ["IP"]),
    (["import"], ["FILE", "--dry-run"]),
    (["export"], ["FILE"]),
    (["instances"], []),
    (["ping"], []),
]


@pytest.mark.parametrize("path,words", HELP, ids=[" ".join(p) or "rlctl" for p, _ in HELP])
def test_help_exits_0_and_describes_the_options(path, words):
    r = run(*path, "--help", env={"REDIS_URL": dead_url()})
    assert (r.code, r.err) == (0, ""), r
    assert f"Usage: rlctl {' '.join(path)}".rstrip() in r.out, r.out
    for word in words:
        assert word in r.out, f"{word!r} not in the help of {path}:\n{r.out}"
    assert r.seconds < 1.5


def test_version():
    r = run("--version")
    assert r.code == 0 and re.fullmatch(r"rlctl \d+\.\d+\.\d+\S*\n", r.out), r


# == large data sets ============================================================================
def test_user_list_lists_25000_users(redis, ctl):
    ctl.ok("tier", "set", "bulk", "--base", "1", "--burst", "1", "--degraded", "1")
    created = add_users_in_bulk(redis, "bulk", 25000)
    r = ctl("--json", "user", "list", timeout=60)
    assert (r.code, r.err) == (0, ""), f"exit {r.code}, stderr {r.err!r}"
    users = r.json()["users"]
    assert len(users) == 25000
    assert sorted(u["user_id"] for u in users) == sorted(created)
    assert all(u == {"user_id": u["user_id"], "tier": "bulk", "created_at": users[0]["created_at"],
                     "disabled": False} for u in users)


def test_tier_delete_counts_25000_users_of_the_tier(redis, ctl):
    ctl.ok("tier", "set", "bulk", "--base", "1", "--burst", "1", "--degraded", "1")
    add_users_in_bulk(redis, "bulk", 25000)
    before = snapshot(redis)
    r = ctl("tier", "delete", "bulk", timeout=60)
    assert (r.code, r.out) == (5, ""), f"exit {r.code}, stderr {r.err!r}"
    # The count, and five of the users (in Redis' set order).
    m = re.fullmatch(r"rlctl: tier 'bulk' is used by 25000 user\(s\): ((?:u\d{5}, ){5})\.\.\.\n",
                     r.err)
    assert m and len(set(m.group(1).split(", ")) - {""}) == 5, r.err
    assert snapshot(redis) == before


def test_block_list_lists_12000_blocks(redis, ctl):
    clients = add_blocks_in_bulk(redis, 12000)
    r = ctl("--json", "block", "list", timeout=60)
    assert (r.code, r.err) == (0, ""), f"exit {r.code}, stderr {r.err!r}"
    blocks = r.json()["blocks"]
    assert sorted(b["client"] for b in blocks) == sorted(clients)


# == with a running rld on the same Redis =======================================================
@pytest.fixture
def live(make_rld, redis):
    """An rld on the test's Redis (bootstrapped from the demo tier file) and rlctl on it."""
    rld = start_on_redis(make_rld, redis.url, timeout_ms=EXACT_TIMEOUT_MS)
    return rld, Ctl(redis.url)


def limit_header(rld, key, **kw):
    return rld.get("/test", key=key, **kw).headers.get("x-ratelimit-limit")


def applied(predicate):
    """Seconds until predicate() held, polled every 0.1 s; fails after APPLY_DEADLINE."""
    seconds, value = wait_for(predicate, APPLY_DEADLINE, interval=0.1)
    assert seconds is not None, f"not applied within {APPLY_DEADLINE} s (last: {value!r})"
    return seconds


def test_user_set_tier_takes_effect_in_rld(live):
    rld, ctl = live
    assert limit_header(rld, KEYS["free"]) == "20"
    ctl.ok("user", "set-tier", "demo_free_user", "pro")
    applied(lambda: limit_header(rld, KEYS["free"]) == "150")
    r = rld.get("/test", key=KEYS["free"])
    assert r.status == 200 and r.json()["tier"] == "pro", r


def test_key_create_and_revoke_take_effect_in_rld(live):
    rld, ctl = live
    created = ctl.ok("--json", "key", "create", "demo_pro_user", "--label", "e2e").json()
    key = created["api_key"]
    r = rld.get("/test", key=key)
    assert r.status == 200 and r.json()["user"] == "demo_pro_user", r
    assert r.headers["x-ratelimit-limit"] == "150"
    ctl.ok("key", "revoke", created["key_id"])
    applied(lambda: rld.get("/test", key=key).status == 401)
    assert rld.get("/test", key=KEYS["pro"]).status == 200  # the user's other key still works


def test_health_set_takes_effect_in_rld(live):
    rld, ctl = live
    assert limit_header(rld, KEYS["pro"]) == "150"
    ctl.ok("health", "set", "DEGRADED", "--ttl", "300", "--reason", "e2e", "--by", "pytest")
    applied(lambda: limit_header(rld, KEYS["pro"]) == "100")
    assert limit_header(rld, KEYS["free"]) == "2"
    health = rld.admin("GET", "/admin/health").json()
    assert (health["status"], health["reason"], health["updated_by"]) == (
        "DEGRADED", "e2e", "pytest"), health
    ctl.ok("health", "set", "NORMAL")
    applied(lambda: limit_header(rld, KEYS["pro"]) == "150")


def test_tier_set_takes_effect_in_rld(live):
    rld, ctl = live
    assert limit_header(rld, KEYS["enterprise"]) == "1000"
    ctl.ok("tier", "set", "enterprise", "--base", "1000", "--burst", "1200", "--degraded",
           "500")
    applied(lambda: limit_header(rld, KEYS["enterprise"]) == "1200")
    # A new tier, a new user on it and a key: usable at once, with the tier's limits.
    ctl.ok("tier", "set", "tiny", "--base", "2", "--burst", "3", "--degraded", "1")
    ctl.ok("user", "add", "leo", "--tier", "tiny")
    key = ctl.ok("--quiet", "key", "create", "leo").out.strip()
    avoid_window_edge()
    statuses = [rld.get("/test", key=key).status for _ in range(4)]
    assert statuses == [200, 200, 200, 429], statuses


def test_user_delete_takes_effect_in_rld(live):
    rld, ctl = live
    assert rld.get("/test", key=KEYS["enterprise"]).status == 200
    ctl.ok("user", "delete", "demo_enterprise_user")
    applied(lambda: rld.get("/test", key=KEYS["enterprise"]).status == 401)


def test_block_add_and_remove_take_effect_in_rld(live):
    rld, ctl = live

    def status(ip):
        return rld.get("/test", headers=from_ip(ip, KEYS["pro"]), via="unix").status

    assert status("198.51.100.20") == 200
    ctl.ok("block", "add", "198.51.100.20", "--ttl", "60", "--reason", "e2e")
    applied(lambda: status("198.51.100.20") == 429)
    r = rld.get("/test", headers=from_ip("198.51.100.20", KEYS["pro"]), via="unix")
    assert 50 <= int(r.headers["retry-after"]) <= 60, r
    assert status("198.51.100.21") == 200  # only that client
    ctl.ok("block", "remove", "198.51.100.20")
    applied(lambda: status("198.51.100.20") == 200)
    # IPv6: the whole /64.
    ctl.ok("block", "add", "2001:db8:5:6::1")
    applied(lambda: status("2001:db8:5:6:ffff::2") == 429)
    assert status("2001:db8:5:7::1") == 200


def test_usage_matches_traffic_sent_to_rld(live):
    rld, ctl = live
    avoid_window_edge(margin=3.0)
    conn = rld.connection()
    try:
        responses = [rld.get("/test", key=KEYS["free"], conn=conn) for _ in range(7)]
    finally:
        conn.close()
    assert [r.status for r in responses] == [200] * 7
    doc = ctl.ok("--json", "usage", "demo_free_user").json()
    reset = int(responses[-1].headers["x-ratelimit-reset"])
    assert doc == {"user": "demo_free_user", "tier": "free", "limit": 20, "used": 7,
                   "remaining": 13, "reset": doc["reset"]}, doc
    assert abs(doc["reset"] - reset) <= 1, (doc, responses[-1].headers)
    assert responses[-1].headers["x-ratelimit-remaining"] == "13"
    # The same as rld's own view, and over the limit: used = limit, remaining 0.
    admin = rld.admin("GET", "/admin/usage/demo_free_user").json()
    assert {k: admin[k] for k in ("limit", "used", "remaining")} == {
        "limit": 20, "used": 7, "remaining": 13}
    for _ in range(14):
        rld.get("/test", key=KEYS["free"])
    doc = ctl.ok("--json", "usage", "demo_free_user").json()
    assert (doc["limit"], doc["used"], doc["remaining"]) == (20, 20, 0), doc
    ctl.ok("health", "set", "DEGRADED")
    doc = ctl.ok("--json", "usage", "demo_free_user").json()
    assert (doc["limit"], doc["remaining"]) == (2, 0), doc


def test_instances_lists_a_running_rld_and_forgets_it_when_it_stops(live, redis):
    rld, ctl = live
    version = run_rld("--version").stdout.split()[1]  # "rld 0.1.0 (<revision>)"

    def listed():
        return ctl.ok("--json", "instances").json()["instances"]

    seconds, found = wait_for(listed, 3.0)
    assert seconds is not None, "no instance listed"
    assert len(found) == 1, found
    one = found[0]
    assert {"instance", "version", "started", "listeners", "decisions"} <= set(one), one
    assert one["version"] == version, (one, version)
    assert f"127.0.0.1:{rld.port}" in one["listeners"], one
    assert rld.socket_path in one["listeners"], one
    assert redis.command("EXISTS", f"rl:inst:{one['instance']}") == 1
    r = ctl.ok("instances")
    assert_table(r.out, ["INSTANCE", "VERSION", "STARTED", "REQUESTS", "LISTENERS"])
    row = table_rows(r.out)
    assert len(row) == 1 and row[0][:2] == [one["instance"], version], r.out
    assert ISO.match(row[0][2]), r.out
    assert rld.stop() == 0
    assert listed() == []
    assert ctl.ok("instances").lines == ["INSTANCE  VERSION  STARTED  REQUESTS  LISTENERS"]


def test_an_rld_started_after_an_import_does_not_bootstrap_over_it(make_rld, redis, tmp_path):
    """rlctl import sets up the store; an rld started later with the demo tier file must not
    add the demo users and their well-known keys to it."""
    own = {"tiers": {"gold": {"base_limit": 5, "burst_limit": 5, "degraded_limit": 5,
                              "window_seconds": 60}},
           "users": {"mia": "gold"}, "api_keys": {"mia_key_00001": "mia"}}
    path = tmp_path / "own.json"
    path.write_text(json.dumps(own))
    ctl = Ctl(redis.url)
    ctl.ok("import", path)
    rld = start_on_redis(make_rld, redis.url, timeout_ms=EXACT_TIMEOUT_MS)
    assert rld.get("/test", key="mia_key_00001").status == 200
    users = sorted(u["user_id"] for u in ctl.ok("--json", "user", "list").json()["users"])
    assert users == ["mia"], users
    assert rld.get("/test", key=KEYS["free"]).status == 401

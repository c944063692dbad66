"""rlbench against real rld processes: `verify` passes on one rld and on three rld sharing a
private redis-server, fails on two rld with their own memory stores (consistency) and names
the target that will not let it name a client (security over untrusted TCP); it removes the
users it made and leaves the health state as it found it. `load` with a fixed request count
answers exactly that many, its status counts add up to the reference's numbers, open loop
keeps to its rate, a dead target is an error, and usage errors exit 2."""
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from redis_support import EXACT_TIMEOUT_MS, start_on_redis
from redis_support import redis_fixture  # noqa: F401 (the "redis" fixture)
from rld_harness import KEYS

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 120
SCENARIOS = ["tiers/enterprise", "tiers/free", "tiers/pro", "degraded/enterprise",
             "degraded/free", "degraded/pro", "consistency", "headers", "security"]


def rlbench_binary():
    return os.environ.get("RLBENCH_BIN", str(ROOT / "build" / "apps" / "rlbench" / "rlbench"))


class Run:
    def __init__(self, code, out, err, seconds):
        self.code, self.out, self.err, self.seconds = code, out, err, seconds

    def json(self):
        return json.loads(self.out)

    def __repr__(self):
        return f"<rlbench exit {self.code}\nstdout:\n{self.out}\nstderr:\n{self.err}>"


def rlbench(*args, env=None):
    started = time.monotonic()
    p = subprocess.run([rlbench_binary(), *map(str, args)], capture_output=True, text=True,
                       timeout=TIMEOUT, env={**{"PATH": os.environ.get("PATH", "")},
                                             **(env or {})})
    return Run(p.returncode, p.stdout, p.stderr, time.monotonic() - started)


def unix(rld):
    return f"unix:{rld.socket_path}"


def tcp(rld):
    return f"http://127.0.0.1:{rld.port}"


def verify(rlds, *extra, via=unix):
    args = ["verify", "--admin-key", rlds[0].admin_key, "--json", *extra]
    for r in rlds:
        args += ["--target", via(r)]
    return rlbench(*args)


def scenarios(run):
    return {s["name"]: s for s in run.json()["scenarios"]}


def left_behind(rld):
    users = rld.admin("GET", "/admin/users").json()["users"]
    return [u["user_id"] for u in users if u["user_id"].startswith("rlbench-")]


# -- verify ------------------------------------------------------------------------------------
def test_verify_passes_on_one_rld_and_cleans_up(rld):
    run = verify([rld])
    assert run.code == 0, run
    doc = run.json()
    assert doc["passed"] is True, run
    got = scenarios(run)
    assert list(got) == SCENARIOS, run
    assert all(s["passed"] for s in got.values()), run
    # The reference's numbers, exactly.
    assert got["tiers/free"]["observed"] == "20 passed, 1 limited", run
    assert got["tiers/pro"]["observed"] == "150 passed, 1 limited", run
    assert got["tiers/enterprise"]["observed"] == "1000 passed, 1 limited", run
    assert got["degraded/free"]["observed"] == "2 passed, 1 limited", run
    assert got["degraded/pro"]["observed"] == "100 passed, 1 limited", run
    assert got["consistency"]["observed"] == "20 passed, 40 limited", run
    assert got["security"]["observed"].startswith("10 answered 401, then 429 (retry after 900 s)")
    assert left_behind(rld) == []
    assert rld.admin("GET", "/admin/health").json()["status"] == "NORMAL"
    assert rld.admin("GET", "/admin/blocks").json()["blocks"] == []
    # The demo users were not touched.
    assert rld.get("/test", key=KEYS["free"]).headers["x-ratelimit-remaining"] == "19"


def test_verify_text_report_is_a_table(rld):
    run = verify([rld], "--scenario", "tiers,headers")
    run_text = rlbench("verify", "--admin-key", rld.admin_key, "--target", unix(rld),
                       "--scenario", "headers,tiers")
    assert run.code == 0 and run_text.code == 0, (run, run_text)
    assert [s["name"] for s in run.json()["scenarios"]] == \
        ["tiers/enterprise", "tiers/free", "tiers/pro", "headers"]
    lines = run_text.out.splitlines()
    assert lines[0].split() == ["SCENARIO", "EXPECTED", "OBSERVED", "PASS"], run_text
    assert [line.split()[0] for line in lines[1:]] == \
        ["tiers/enterprise", "tiers/free", "tiers/pro", "headers"], run_text
    assert all(line.endswith("yes") for line in lines[1:]), run_text


def test_verify_restores_a_degraded_state(rld):
    r = rld.admin("POST", "/admin/health", {"status": "DEGRADED", "ttl_seconds": 600,
                                            "updated_by": "ops", "reason": "incident 42"})
    assert r.status == 200, r
    run = verify([rld], "--scenario", "tiers,degraded")
    assert run.code == 0, run
    health = rld.admin("GET", "/admin/health").json()
    assert (health["status"], health["updated_by"], health["reason"]) == \
        ("DEGRADED", "ops", "incident 42"), health
    assert health["expires_at"] is not None, health
    assert rld.get("/test", key=KEYS["free"]).status == 200
    assert left_behind(rld) == []


def test_security_needs_a_target_that_trusts_this_host(rld):
    run = verify([rld], "--scenario", "security", via=tcp)
    assert run.code == 1, run
    [s] = run.json()["scenarios"]
    assert s["passed"] is False
    assert f"http://127.0.0.1:{rld.port} does not let this host name a client" in s["observed"]
    # It did not block this host (it would have locked itself out of the admin API).
    assert rld.admin("GET", "/admin/blocks").json()["blocks"] == []
    assert rld.get("/test", key=KEYS["free"]).status == 200


def test_verify_passes_on_three_rld_sharing_redis(make_rld, redis):
    trio = [start_on_redis(make_rld, redis.url, timeout_ms=EXACT_TIMEOUT_MS) for _ in range(3)]
    run = verify(trio)
    assert run.code == 0, run
    got = scenarios(run)
    assert list(got) == SCENARIOS, run
    assert got["consistency"]["expected"] == "20 of 60 pass (free, 3 targets, 50 in flight)"
    assert got["consistency"]["observed"] == "20 passed, 40 limited", run
    assert "blocked on 3/3; unblocked: 200 on 3/3" in got["security"]["observed"], run
    assert left_behind(trio[0]) == []


def test_verify_fails_on_two_rld_that_do_not_share_a_store(make_rld):
    pair = [make_rld(), make_rld()]
    run = verify(pair, "--scenario", "consistency")
    assert run.code == 1, run
    doc = run.json()
    assert doc["passed"] is False
    [s] = doc["scenarios"]
    assert s["name"] == "consistency" and s["passed"] is False, run
    # The second instance has never heard of the user the first one made.
    assert "answered 401" in s["observed"], run


def test_verify_with_a_wrong_admin_key_is_a_failure(rld):
    run = rlbench("verify", "--admin-key", "wrong", "--target", unix(rld))
    assert run.code == 1, run
    assert "GET /admin/tiers" in run.err and "401" in run.err, run
    assert "wrong" not in run.err, "the key must not be echoed"


def test_verify_reads_the_admin_key_from_the_environment(rld):
    run = rlbench("verify", "--target", unix(rld), "--scenario", "headers", "--json",
                  env={"ADMIN_API_KEY": rld.admin_key})
    assert run.code == 0, run


# -- load --------------------------------------------------------------------------------------
def test_load_with_a_request_count_adds_up(rld):
    run = rlbench("load", "--target", tcp(rld), "--target", unix(rld), "--requests", 100,
                  "--concurrent", 8, "--key", KEYS["free"], "--json")
    assert run.code == 0, run
    doc = run.json()
    assert doc["requests"] == 100 and doc["errors"] == 0, doc
    assert doc["status"] == {"200": 20, "429": 80}, doc
    assert set(doc["latency_ms"]) == {"p50", "p90", "p99", "p999", "max"}
    lat = doc["latency_ms"]
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p999"] <= lat["max"], lat
    assert doc["duration_s"] > 0 and doc["rps"] > 0


def test_load_text_report(rld):
    run = rlbench("load", "--target", unix(rld), "--requests", 30, "--key", KEYS["free"])
    assert run.code == 0, run
    assert run.out.startswith("requests   30 in "), run
    assert "status     200: 20 429: 10" in run.out, run
    assert "p99.9" in run.out and run.err == "", run


def test_load_keys_file_uses_each_key_in_turn(rld, tmp_path):
    keys = tmp_path / "keys.txt"
    keys.write_text(f"# demo keys\n{KEYS['free']}\n\n  {KEYS['pro']}  \n")
    run = rlbench("load", "--target", unix(rld), "--requests", 60, "--concurrent", 1,
                  "--keys-file", keys, "--json")
    assert run.code == 0, run
    assert run.json()["status"] == {"200": 50, "429": 10}, run  # free 20 of 30, pro 30 of 30


def test_load_open_loop_keeps_its_rate(rld):
    run = rlbench("load", "--target", unix(rld), "--duration", 2, "--rate", 200,
                  "--concurrent", 4, "--path", "/health", "--json")
    assert run.code == 0, run
    doc = run.json()
    assert doc["requests"] == 400, doc  # due at 0, 5 ms, ... 1995 ms
    assert doc["status"] == {"200": doc["requests"]}, doc
    assert 1.9 <= doc["duration_s"] <= 4.5, doc


def test_load_duration_is_bounded(rld):
    run = rlbench("load", "--target", tcp(rld), "--duration", 1, "--concurrent", 4,
                  "--path", "/health", "--json")
    assert run.code == 0, run
    assert run.seconds < 5, run
    assert run.json()["requests"] > 0


def test_load_against_a_dead_target_is_an_error(tmp_path):
    run = rlbench("load", "--target", f"unix:{tmp_path}/nobody.sock", "--duration", 1,
                  "--json")
    assert run.code == 1, run
    doc = run.json()
    assert doc["requests"] == 0 and doc["errors"] > 0, doc
    assert run.seconds < 6, run


@pytest.mark.parametrize("args,message", [
    (["load", "--requests", "5"], "--target is required"),
    (["load", "--target", "http://127.0.0.1:1"], "Exactly 1 option from [--duration,--requests]"),
    (["load", "--target", "http://127.0.0.1:1", "--duration", "1", "--requests", "5"],
     "Exactly 1 option"),
    (["load", "--target", "ftp://127.0.0.1:1", "--requests", "5"],
     "--target ftp://127.0.0.1:1: expected http://HOST:PORT or unix:PATH"),
    (["load", "--target", "http://example.com:80", "--requests", "5"],
     "the host must be an IP address or localhost"),
    (["load", "--target", "unix:/x", "--requests", "5", "--concurrent", "0"], "--concurrent"),
    (["load", "--target", "unix:/x", "--requests", "5", "--key", "a", "--keys-file", "b"],
     "keys"),
    (["load", "--target", "unix:/x", "--requests", "5", "--keys-file", "/nonexistent"],
     "--keys-file /nonexistent: cannot read it"),
    (["verify", "--target", "unix:/x"], "--admin-key is required"),
    (["verify", "--target", "unix:/x", "--admin-key", "k", "--scenario", "tiers,speed"],
     "--scenario speed: expected tiers, degraded, consistency, headers or security"),
    (["bench"], "rlbench: unknown command 'bench' (expected load or verify)"),
    ([], "A subcommand is required"),
])
def test_usage_errors_exit_2(args, message):
    run = rlbench(*args)
    assert run.code == 2, run
    assert message in run.err, run
    assert run.out == "", run


def test_verify_tiers_limits_the_tiers_checked(rld):
    run = verify([rld], "--tiers", "free", "--scenario", "tiers,degraded,consistency")
    assert run.code == 0, run
    assert list(scenarios(run)) == ["tiers/free", "degraded/free", "consistency"], run
    missing = verify([rld], "--tiers", "free,gold")
    assert missing.code == 1, missing
    assert "--tiers: the deployment has no tier 'gold'" in missing.err, missing


def test_a_tier_too_large_to_verify_fails_by_name(make_rld):
    tiers = json.loads((ROOT / "config" / "rate_limits.json").read_text())
    tiers["tiers"]["unlimited"] = {"base_limit": 10**9, "burst_limit": 10**9,
                                   "degraded_limit": 10**9, "window_seconds": 60}
    rld = make_rld(tiers=tiers)
    run = verify([rld], "--scenario", "tiers,degraded")
    assert run.code == 1, run
    got = scenarios(run)
    assert got["tiers/unlimited"]["passed"] is False
    assert "burst_limit too large to verify" in got["tiers/unlimited"]["observed"], run
    assert "degraded_limit too large to verify" in got["degraded/unlimited"]["observed"], run
    assert got["tiers/free"]["passed"] and got["degraded/free"]["passed"], run
    assert run.seconds < 30, run

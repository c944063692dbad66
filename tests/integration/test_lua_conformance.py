"""The Redis Lua twins of the limiter replay tests/cases/limiter_cases.json — the same table the
C++ limiter is unit-tested against — step by step, with the time given through ARGV[4]."""
import json

import pytest

from redis_server import ROOT, RedisError, RedisServer, script_source

CASES = json.loads((ROOT / "tests" / "cases" / "limiter_cases.json").read_text())


@pytest.fixture(scope="module")
def redis():
    server = RedisServer().start()
    yield server
    server.cleanup()


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_lua_script_gives_the_same_answers_as_the_table(redis, case):
    source = script_source(case["algorithm"])
    key = "rl:test:{" + case["name"] + "}"
    sock = redis.connect()
    try:
        redis.command("DEL", key, sock=sock)
        window_ms = case["window_seconds"] * 1000
        for i, step in enumerate(case["steps"]):
            got = redis.command("EVAL", source, 1, key, case["limit"], window_ms, step["cost"],
                                step["at_ms"], sock=sock)
            assert not isinstance(got, RedisError), got
            expected = [1 if step["allowed"] else 0, step["remaining"], step["used"],
                        step["reset_ms"], step["retry_after_ms"]]
            assert got == expected, f"step {i}: {step}"
    finally:
        sock.close()

"""The reference's "Expected Test Results", replayed against a real rld over TCP and the Unix
socket: NORMAL free 20 then 429, pro 150 then 429; DEGRADED free 2, pro 100, enterprise 1000."""
import pytest

from helpers_decisions import statuses
from rld_harness import KEYS


@pytest.mark.parametrize("via", ["tcp", "unix"])
@pytest.mark.parametrize("tier,limit", [("free", 20), ("pro", 150)])
def test_normal_state_admits_exactly_the_burst_limit(rld, via, tier, limit):
    got = statuses(rld, KEYS[tier], limit + 1, via)
    assert got == [200] * limit + [429]


@pytest.mark.parametrize("via", ["tcp", "unix"])
@pytest.mark.parametrize("tier,limit", [("free", 2), ("pro", 100), ("enterprise", 1000)])
def test_degraded_state_admits_exactly_the_degraded_limit(rld, via, tier, limit):
    r = rld.admin("POST", "/admin/health", {"status": "DEGRADED", "updated_by": "test"})
    assert r.status == 200, r
    got = statuses(rld, KEYS[tier], limit + 1, via)
    assert got == [200] * limit + [429]

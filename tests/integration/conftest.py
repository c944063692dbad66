"""pytest fixtures: `rld` starts a fresh daemon with the demo tiers and stops it after the
test, asserting it exited 0 (SIGTERM drain). `make_rld` starts custom ones."""
import pytest

from rld_harness import Rld


@pytest.fixture
def make_rld():
    started = []

    def make(**kwargs):
        r = Rld(**kwargs).start()
        started.append(r)
        return r

    yield make
    for r in started:
        code = r.stop()
        r.cleanup()
        assert code == 0, "rld did not exit cleanly:\n" + "".join(r.lines)


@pytest.fixture
def rld(make_rld):
    return make_rld()

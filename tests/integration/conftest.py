"""pytest fixtures. `make_rld(**kwargs)` makes an Rld (rld_harness.py: settings=, tiers=,
admin_key=, args=, env=, ...) and starts it unless start=False; `make_module_rld` is the same
for daemons shared by the tests of one module; `rld` is a fresh daemon with the demo tiers.

At the end every daemon that was started is stopped with SIGTERM and must exit 0 (the drain),
and every temp dir is removed, started or not. At the end of the session, no secret may be in any
log line or error body the session kept: pytest_sessionfinish (session_log.py) fails the run."""
import subprocess

import pytest

from rld_harness import Rld
from session_log import pytest_sessionfinish  # noqa: F401 (a hook: the end-of-session scan)


def _daemons():
    """Generator body of the make_rld fixtures: yields the factory, then stops every daemon it
    made, removes their temp dirs and fails if one did not exit 0."""
    made = []

    def make(start=True, **kwargs):
        r = Rld(**kwargs)
        made.append(r)
        if start:
            r.start()
        return r

    yield make
    unclean = []
    for r in made:
        try:
            code = 0 if r.proc is None else r.stop()
            problem = None if code == 0 else f"rld exited with {code}, not 0"
        except subprocess.TimeoutExpired:  # stop() has killed it
            problem = "rld did not exit after SIGTERM and was killed"
        r.cleanup()
        if problem:
            unclean.append(problem + ":\n" + r.log_text())
    assert not unclean, "rld did not exit cleanly:\n" + "\n".join(unclean)


@pytest.fixture
def make_rld():
    yield from _daemons()


@pytest.fixture(scope="module")
def make_module_rld():
    yield from _daemons()


@pytest.fixture
def rld(make_rld):
    return make_rld()

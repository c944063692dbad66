"""pytest fixtures of the end-to-end tests (Redis Cluster, HAProxy): the same `make_rld`,
`make_module_rld` and `rld` fixtures as tests/integration, whose harness modules (rld_harness,
redis_server, ...) these tests import too. Each e2e test starts its own servers on loopback. The
same end-of-session scan fails the run if any log line or error body kept holds a secret."""
import importlib.util
import sys
from pathlib import Path

INTEGRATION = Path(__file__).resolve().parents[1] / "integration"
sys.path.insert(0, str(INTEGRATION))

_spec = importlib.util.spec_from_file_location("integration_conftest", INTEGRATION / "conftest.py")
_integration = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_integration)

make_rld = _integration.make_rld
make_module_rld = _integration.make_module_rld
rld = _integration.rld
pytest_sessionfinish = _integration.pytest_sessionfinish

"""The rld command line (issue 2 §2, DESIGN §8): --version, --help, --check-config on good and
bad TOML and tier files (every problem at once, file/line/key/expected, never a clear-text
key), usage errors, out-of-range --workers, unsupported --store, environment variables and their precedence
against the file and the flags, a repeated --listen, and refusals to start."""
import json
import os
import re
import shutil
import socket
import tempfile
from pathlib import Path

import pytest

from raw_http import raw_request
from rld_harness import (DEFAULT_TIERS, KEYS, RLD_ENV_VARS, ROOT, connect, json_events, read_until_closed,
                         run_rld)

DEMO_CONFIG = ROOT / "config" / "rld.toml"
FLAGS = ["--config", "--listen", "--store", "--redis", "--tiers", "--workers", "--admin-key",
         "--log-level", "--check-config", "--version"]


def write(path, text):
    path = Path(path)
    path.write_text(text)
    return str(path)


def tier_file(dirpath, name="tiers.json", tier="envtier", burst=3, key="env_tier_key_0001",
              user="env_user"):
    return write(Path(dirpath) / name, json.dumps({
        "tiers": {tier: {"base_limit": burst, "burst_limit": burst, "degraded_limit": 1,
                         "window_seconds": 600}},
        "users": {user: tier},
        "api_keys": {key: user}}))


@pytest.fixture
def short_dir():
    # Unix socket paths are limited to ~108 bytes: keep them short.
    d = tempfile.mkdtemp(prefix="rld-t-", dir="/tmp")
    yield d
    shutil.rmtree(d, ignore_errors=True)


# ------------------------------------------------------------------------ version, help --
def test_version():
    r = run_rld("--version")
    assert r.returncode == 0, r
    assert re.match(r"^rld \d+\.\d+\.\d+\b", r.stdout), r.stdout
    assert r.stdout.count("\n") == 1, r.stdout


def test_help_lists_every_contract_flag():
    r = run_rld("--help")
    assert r.returncode == 0, r
    for flag in FLAGS:
        assert re.search(rf"(^|[\s,]){re.escape(flag)}\b", r.stdout), f"{flag} missing:\n{r.stdout}"
    for var in RLD_ENV_VARS:
        assert var in r.stdout, var


def test_unknown_flag_is_a_usage_error_with_a_hint():
    r = run_rld("--bogus-flag")
    assert r.returncode == 2, r
    assert "--bogus-flag" in r.stderr and "--help" in r.stderr, r.stderr
    r = run_rld("--listen")  # missing value
    assert r.returncode == 2, r
    assert "--help" in r.stderr, r.stderr
    r = run_rld("--workers", "two")
    assert r.returncode == 2, r


# ------------------------------------------------------------------------- check-config --
def test_check_config_accepts_the_demo_config():
    r = run_rld("--check-config", "--config", str(DEMO_CONFIG))
    assert r.returncode == 0, r
    assert r.stderr == "", r.stderr
    assert "rld.toml" in r.stdout, r.stdout
    assert "3 tiers" in r.stdout and "3 keys" in r.stdout, r.stdout
    for key in KEYS.values():
        assert key not in r.stdout


def test_check_config_reports_every_toml_problem_with_file_line_key_and_expectation(tmp_path):
    path = write(tmp_path / "bad.toml",
                 '[server]\n'                                  # 1
                 'listen = ["127.0.0.1:0", "nonsense"]\n'      # 2
                 'workerz = 1\n'                               # 3
                 '\n'                                          # 4
                 '[http]\n'                                    # 5
                 'max_body_bytes = "big"\n'                    # 6
                 'ietf_headers = 1\n'                          # 7
                 '\n'                                          # 8
                 '[security]\n'                                # 9
                 'admin_key = "Sup3rSecretAdminKey_x"\n'       # 10
                 'block_seconds = -5\n')                       # 11
    r = run_rld("--check-config", "--config", path)
    assert r.returncode == 1, r
    err = r.stderr
    expect = [("3", "server.workerz", "unknown key"),
              ("6", "http.max_body_bytes", "integer"),
              ("7", "http.ietf_headers", "true or false"),
              ("11", "security.block_seconds", "integer")]
    for line, key, what in expect:
        hits = [x for x in err.splitlines() if key in x]
        assert hits, f"{key} not reported:\n{err}"
        assert any(f"{path}:{line}:" in x and what in x for x in hits), \
            f"{key} must name {path}:{line} and '{what}':\n{hits}"
    assert "Sup3rSecretAdminKey_x" not in err + r.stdout
    listen = [x for x in err.splitlines() if "server.listen" in x]
    assert len(listen) == 1 and "nonsense" in listen[0] and path in listen[0], err


def test_check_config_names_the_line_of_a_bad_listen_address(tmp_path):
    path = write(tmp_path / "listen.toml",
                 '# comment\n[server]\nlisten = ["127.0.0.1:0", "nonsense"]\n')
    r = run_rld("--check-config", "--config", path)
    assert r.returncode == 1, r
    lines = [x for x in r.stderr.splitlines() if "server.listen" in x]
    assert len(lines) == 1 and "nonsense" in lines[0], r.stderr
    assert lines[0].startswith(f"{path}:3:"), lines


def test_check_config_names_a_toml_syntax_error_position(tmp_path):
    path = write(tmp_path / "syntax.toml", '[server]\nlisten = ["127.0.0.1:0"\n[log]\n')
    r = run_rld("--check-config", "--config", path)
    assert r.returncode == 1, r
    assert re.search(re.escape(path) + r":\d+", r.stderr), r.stderr


def test_check_config_never_prints_a_non_string_admin_key(tmp_path):
    path = write(tmp_path / "num.toml", "[security]\nadmin_key = 918273645546372819\n")
    r = run_rld("--check-config", "--config", path)
    assert r.returncode == 1, r
    assert "security.admin_key" in r.stderr and "string" in r.stderr, r.stderr
    assert "918273645546372819" not in r.stderr + r.stdout, r.stderr


def test_check_config_reports_every_tier_file_problem_by_json_path(tmp_path):
    secret_bad = "Secret Key With Spaces 1"
    secret_ghost = "secret_key_for_ghost_user"
    path = write(tmp_path / "tiers.json", json.dumps({
        "tiers": {
            "free": {"base_limit": -1, "burst_limit": "x", "degraded_limit": 2,
                     "window_minutes": 0, "algorithm": "leaky"},
            "ok": {"base_limit": 1, "burst_limit": 2, "degraded_limit": 5,
                   "window_seconds": 60}},
        "users": {"u1": "nope", "u2": "ok"},
        "api_keys": {secret_bad: "u2", secret_ghost: "ghost"},
        "extra": 1}))
    r = run_rld("--check-config", "--tiers", path, cwd=str(tmp_path))
    assert r.returncode == 1, r
    err = r.stderr
    for json_path, what in [("tiers.free.base_limit", "non-negative"),
                            ("tiers.free.burst_limit", "integer"),
                            ("tiers.free.window_minutes", "from 1 to 527040"),
                            ("tiers.free.algorithm", "sliding_window"),
                            ("tiers.ok.degraded_limit", "burst_limit"),
                            ("users.u1", "tier"),
                            ("extra", "unknown")]:
        assert any(line.startswith(f"{path}: {json_path}:") and what in line
                   for line in err.splitlines()), f"{json_path} ({what}) not reported:\n{err}"
    assert "api_keys" in err and "ghost" in err, err
    assert secret_bad not in err and secret_ghost not in err and secret_bad not in r.stdout


def test_tier_file_key_entries_are_numbered_distinctly(tmp_path):
    # Two bad entries, in the same order in the file and alphabetically: the first is
    # malformed, the second names an unknown user. They must not both be called "entry 1".
    path = write(tmp_path / "tiers.json",
                 '{"tiers": {"t": {"base_limit": 1, "burst_limit": 1, "degraded_limit": 1}},\n'
                 ' "users": {"u": "t"},\n'
                 ' "api_keys": {"aaaa has space": "u", "bbbb_valid_form": "ghost"}}\n')
    r = run_rld("--check-config", "--tiers", path)
    assert r.returncode == 1, r
    lines = [x for x in r.stderr.splitlines() if "api_keys" in x]
    assert len(lines) == 2, r.stderr
    malformed = [x for x in lines if "8-256" in x or "characters" in x]
    ghost = [x for x in lines if "ghost" in x]
    assert len(malformed) == 1 and len(ghost) == 1, lines
    assert "entry 1" in malformed[0], lines
    assert "entry 2" in ghost[0], lines


def test_tier_file_key_entries_are_numbered_in_file_order(tmp_path):
    # The entry named by position must be the one at that position in the file.
    path = write(tmp_path / "tiers.json",
                 '{"tiers": {"t": {"base_limit": 1, "burst_limit": 1, "degraded_limit": 1}},\n'
                 ' "users": {"u": "t"},\n'
                 ' "api_keys": {"zzzz_key_of_ghost": "ghost", "aaaa_key_of_u": "u"}}\n')
    r = run_rld("--check-config", "--tiers", path)
    assert r.returncode == 1, r
    lines = [x for x in r.stderr.splitlines() if "api_keys" in x]
    assert len(lines) == 1 and "ghost" in lines[0], r.stderr
    assert "(entry 1)" in lines[0], lines


@pytest.mark.parametrize("text", [
    '{"api_keys": {"my_secret_key_999": u1}}',
    '{"api_keys": {"my_secret_key_999: "u1"}}',
    '{"api_keys": {"my_secret_key_999\n": "u1"}}',
], ids=["bad-value", "unterminated-key", "newline-in-key"])
def test_tier_file_syntax_errors_never_echo_a_key(tmp_path, text):
    path = write(tmp_path / "broken.json", text)
    r = run_rld("--check-config", "--tiers", path)
    assert r.returncode == 1, r
    assert path in r.stderr and "JSON" in r.stderr, r.stderr
    assert "my_secret_key_999" not in r.stderr + r.stdout, r.stderr


def test_a_number_too_large_for_json_is_reported_not_a_crash(tmp_path):
    text = open(DEFAULT_TIERS).read().replace('"base_limit": 10', '"base_limit": 1e400')
    path = write(tmp_path / "huge.json", text)
    r = run_rld("--check-config", "--tiers", path)
    assert r.returncode == 1, r  # not 134 (abort)
    assert path in r.stderr and "number" in r.stderr, r.stderr


def test_explicit_missing_tier_file_is_an_error(tmp_path):
    missing = str(tmp_path / "nope" / "rate_limits.json")
    r = run_rld("--check-config", "--tiers", missing)
    assert r.returncode == 1, r
    assert missing in r.stderr, r.stderr
    cfg = write(tmp_path / "rld.toml", '[store]\ntiers_file = "missing.json"\n')
    r = run_rld("--check-config", "--config", cfg)
    assert r.returncode == 1, r
    assert str(tmp_path / "missing.json") in r.stderr, r.stderr
    r = run_rld("--check-config", env={"RATE_LIMITER_CONFIG_PATH": missing}, cwd=str(tmp_path))
    assert r.returncode == 1 and missing in r.stderr, r


def test_missing_default_tier_file_is_fine(tmp_path):
    r = run_rld("--check-config", cwd=str(tmp_path))
    assert r.returncode == 0, r
    assert r.stderr == "", r.stderr


def test_missing_default_tier_file_does_not_stop_the_daemon(make_rld, tmp_path):
    r = make_rld(write_config=False, args=["--listen", "127.0.0.1:0"], cwd=str(tmp_path))
    assert r.proc.poll() is None, r.log_text()
    assert [e["event"] for e in r.log_events("ready")] == ["ready"], r.lines
    s = connect(r, timeout=5)
    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data, closed = read_until_closed(s, 5)
    s.close()
    assert closed, data
    assert data.startswith(b"HTTP/1.1 200"), data
    assert r.stop() == 0, r.log_text()


def test_named_missing_config_file_is_refused(tmp_path):
    missing = str(tmp_path / "absent.toml")
    r = run_rld("--check-config", "--config", missing)
    assert r.returncode in (1, 2), r
    assert "absent.toml" in r.stderr, r.stderr


# ------------------------------------------------------------------ unsupported values --
@pytest.mark.parametrize("check", [True, False])
def test_too_many_workers_are_refused(check, tmp_path):
    args = ["--workers", "257", "--listen", "127.0.0.1:0"] + (["--check-config"] if check else [])
    r = run_rld(*args, cwd=str(tmp_path))
    assert r.returncode == 1, r
    assert "server.workers: expected 0 (one per core) to 256, got 257" in r.stderr, r.stderr
    if not check:
        events = json_events(r.stderr, "config_invalid")
        assert len(events) == 1 and "workers" in events[0]["error"], r.stderr


def test_check_config_accepts_the_redis_store_and_reports_a_bad_url(tmp_path):
    r = run_rld("--check-config", "--store", "redis", "--redis", "redis://127.0.0.1:6379/0",
                cwd=str(tmp_path))
    assert r.returncode == 0, r
    r = run_rld("--check-config", "--store", "redis", "--redis",
                "redis://:S3cretPassw0rd@127.0.0.1:notaport/0", cwd=str(tmp_path))
    assert r.returncode == 1, r
    assert "redis.url" in r.stderr and "port" in r.stderr, r.stderr
    assert "S3cretPassw0rd" not in r.stderr, r.stderr


def test_bad_flag_values_are_reported(tmp_path):
    r = run_rld("--check-config", "--store", "etcd", "--log-level", "loud", "--listen",
                "nowhere", "--admin-key", "FlagSecretAdminKey77", cwd=str(tmp_path),
                env={"ADMIN_API_KEY": "EnvSecretAdminKey88"})
    assert r.returncode == 1, r
    assert "FlagSecretAdminKey77" not in r.stderr + r.stdout
    assert "EnvSecretAdminKey88" not in r.stderr + r.stdout
    for needle in ("--store", "etcd", "--log-level", "loud", "--listen", "nowhere"):
        assert needle in r.stderr, (needle, r.stderr)


# --------------------------------------------------------------------------- environment --
def test_redis_port_environment_is_validated(tmp_path):
    for check in (["--check-config"], []):
        r = run_rld(*check, "--listen", "127.0.0.1:0", env={"REDIS_PORT": "abc"},
                    cwd=str(tmp_path))
        assert r.returncode == 1, r
        assert "REDIS_PORT" in r.stderr and "abc" in r.stderr, r.stderr
    for name, value in (("REDIS_DB", "x"), ("REDIS_TIMEOUT", "fast"), ("LOG_LEVEL", "chatty")):
        r = run_rld("--check-config", env={name: value}, cwd=str(tmp_path))
        assert r.returncode == 1 and name in r.stderr and value in r.stderr, (name, r)


def test_log_level_environment_and_flag_precedence(make_rld):
    debug = make_rld(env={"LOG_LEVEL": "debug"})
    debug.get("/test", key=KEYS["free"])
    assert len(debug.wait_for_event("rate_limit_decision")) == 1

    flag_wins = make_rld(env={"LOG_LEVEL": "debug"}, args=["--log-level", "info"])
    flag_wins.get("/test", key=KEYS["free"])
    flag_wins.get("/health")
    assert flag_wins.log_events("rate_limit_decision") == []

    flag_debug = make_rld(env={"LOG_LEVEL": "error"}, args=["--log-level", "debug"])
    flag_debug.get("/test", key=KEYS["free"])
    assert len(flag_debug.wait_for_event("rate_limit_decision")) == 1


def test_admin_key_environment_and_flag_precedence(make_rld):
    env_key = "env-admin-key-1234567890"
    flag_key = "flag-admin-key-0987654321"
    r = make_rld(env={"ADMIN_API_KEY": env_key})
    ok = r.request("GET", "/admin/health", headers={"X-Admin-Key": env_key})
    assert ok.status == 200, ok
    # raw_request: admin 401s are checked for framing elsewhere (test_admin_api.py).
    assert raw_request(r, "GET", "/admin/health", headers={"X-Admin-Key": r.admin_key}).status \
        == 401

    r = make_rld(env={"ADMIN_API_KEY": env_key}, args=["--admin-key", flag_key])
    assert r.request("GET", "/admin/health", headers={"X-Admin-Key": flag_key}).status == 200
    assert raw_request(r, "GET", "/admin/health", headers={"X-Admin-Key": env_key}).status == 401
    assert env_key not in r.log_text() and flag_key not in r.log_text()


def test_tier_file_environment_and_flag_precedence(make_rld, short_dir):
    d = short_dir
    env_file = tier_file(d, "env.json", tier="envtier", burst=3, key="env_tier_key_0001")
    flag_file = tier_file(d, "flag.json", tier="flagtier", burst=2, key="flag_tier_key_01",
                          user="flag_user")
    r = make_rld(env={"RATE_LIMITER_CONFIG_PATH": env_file})
    got = [r.get("/test", key="env_tier_key_0001").status for _ in range(4)]
    assert got == [200, 200, 200, 429], got
    assert r.get("/test", key=KEYS["free"]).status == 401  # the file's tiers are not loaded
    assert sorted(r.admin("GET", "/admin/tiers").json()["tiers"]) == ["envtier"]

    r = make_rld(env={"RATE_LIMITER_CONFIG_PATH": env_file}, args=["--tiers", flag_file])
    assert sorted(r.admin("GET", "/admin/tiers").json()["tiers"]) == ["flagtier"]
    assert r.get("/test", key="flag_tier_key_01").json()["user"] == "flag_user"
    assert r.get("/test", key="env_tier_key_0001").status == 401


def test_repeated_listen_replaces_the_configured_list(make_rld, short_dir):
    d = short_dir
    other = os.path.join(d, "other.sock")
    r = make_rld(args=["--listen", "127.0.0.1:0", "--listen", f"unix:{other}"])
    assert len(r.addresses) == 2, r.addresses
    assert r.addresses[0].startswith("127.0.0.1:") and r.addresses[1] == f"unix:{other}", \
        r.addresses
    assert not os.path.exists(r.socket_path), "the config file's socket must not be bound"
    r.socket_path = other
    assert r.get("/test", key=KEYS["free"], via="unix").status == 200
    assert r.get("/test", key=KEYS["free"]).headers["x-ratelimit-remaining"] == "18"


# ------------------------------------------------------------------------------ refusals --
def test_invalid_config_refuses_to_start(tmp_path):
    path = write(tmp_path / "bad.toml",
                 '[server]\nlisten = ["127.0.0.1:0"]\nmax_connections = 0\n[nosuch]\nx = 1\n')
    r = run_rld("--config", path)
    assert r.returncode == 1, r
    events = json_events(r.stderr, "config_invalid")
    assert len(events) == 1, r.stderr
    assert events[0]["level"] == "error", events
    assert "server.max_connections" in events[0]["error"] and "nosuch" in events[0]["error"]
    assert path in events[0]["error"], events
    assert json_events(r.stderr, "ready") == [] and json_events(r.stderr, "listening") == []


def test_invalid_tier_file_refuses_to_start(tmp_path):
    bad = write(tmp_path / "t.json", '{"tiers": {"free": {"burst_limit": -3}}}')
    r = run_rld("--listen", "127.0.0.1:0", "--tiers", bad, cwd=str(tmp_path))
    assert r.returncode == 1, r
    events = json_events(r.stderr, "config_invalid")
    assert len(events) == 1 and "tiers.free.burst_limit" in events[0]["error"], r.stderr


def test_port_in_use_refuses_to_start(tmp_path):
    busy = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        r = run_rld("--listen", f"127.0.0.1:{port}", cwd=str(tmp_path))
        assert r.returncode == 1, r
        events = json_events(r.stderr, "listen_failed")
        assert len(events) == 1, r.stderr
        assert str(port) in events[0]["error"], events
        assert json_events(r.stderr, "ready") == [], r.stderr
    finally:
        busy.close()


def test_unix_socket_in_a_missing_directory_refuses_to_start(tmp_path):
    r = run_rld("--listen", "127.0.0.1:0", "--listen", f"unix:{tmp_path}/no/such/dir/s.sock",
                cwd=str(tmp_path))
    assert r.returncode == 1, r
    assert len(json_events(r.stderr, "listen_failed")) == 1, r.stderr

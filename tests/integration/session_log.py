"""The session's log archive and secret registry. Every line an rld writes during a test, the
output of every rld, rlctl and rlbench run, and the body of every error answer a test receives
are kept for the whole pytest session (in $RL_TEST_LOG_DIR, else a temp dir); the tests register
every secret they know — the clear API keys of config/rate_limits.json and of the tier files
they write, the admin keys, each key issued during the session, Redis passwords. At the end,
conftest.py's pytest_sessionfinish (this module's) searches the archive for all of them and
fails the run, naming each file and line, if one is found: no secret in any log line or error
body. Thread-safe: daemons' log readers write from their own threads."""
import json
import os
import re
import shutil
import tempfile
import threading
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Shorter values (test names, "short", "x") would match innocent text.
MIN_SECRET_LENGTH = 12
# The characters of an API key; a key-like secret is found as a whole run of them.
KEY_CHARS = re.compile(r"[A-Za-z0-9_.\-]+")
GENERATED_PREFIX = "rl_"

# Heads each test's part of an archive file; the test's name (its parameters may hold keys) is
# ours, not output, and is not scanned.
HEADING = "##rl-test## "

_lock = threading.Lock()
_secrets = {}  # value -> where it came from
_dir = None
_files = 0


# -- the registry --------------------------------------------------------------------------------
def add_secret(value, source):
    """Remembers `value` as a secret no log line or error body may contain."""
    if not isinstance(value, str) or len(value) < MIN_SECRET_LENGTH:
        return
    with _lock:
        _secrets.setdefault(value, source)
        body = value[len(GENERATED_PREFIX):]
        if value.startswith(GENERATED_PREFIX) and len(body) >= MIN_SECRET_LENGTH:
            _secrets.setdefault(body, source + " (without its prefix)")


def add_tier_file_keys(document, source):
    """The clear-text keys of a tier file (a dict, JSON text or a path); digests are not secret."""
    try:
        if isinstance(document, (str, Path)) and Path(document).is_file():
            document = Path(document).read_text()
        if isinstance(document, (str, bytes)):
            document = json.loads(document)
    except (OSError, ValueError):
        return  # a deliberately broken file
    keys = document.get("api_keys") if isinstance(document, dict) else None
    for key in keys if isinstance(keys, (dict, list)) else ():
        if isinstance(key, str) and not key.startswith("sha256:"):
            add_secret(key, source)


def add_url_password(url, source):
    """The password of a redis:// URL (or a unix:// one with ?password=)."""
    if not isinstance(url, str):
        return
    parts = urlsplit(url)
    if parts.password:
        add_secret(unquote(parts.password), source)
    for param in parts.query.split("&"):
        name, _, value = param.partition("=")
        if name == "password":
            add_secret(unquote(value), source)


def add_issued_keys(document, source):
    """Every "api_key" string in a JSON answer (dicts and lists, at any depth)."""
    if isinstance(document, dict):
        for name, value in document.items():
            if name == "api_key" and isinstance(value, str):
                add_secret(value, source)
            else:
                add_issued_keys(value, source)
    elif isinstance(document, list):
        for value in document:
            add_issued_keys(value, source)


def secrets():
    with _lock:
        return dict(_secrets)


# -- the archive ---------------------------------------------------------------------------------
def archive_dir():
    global _dir
    with _lock:
        if _dir is None:
            given = os.environ.get("RL_TEST_LOG_DIR")
            if given:
                _dir = Path(given)
                _dir.mkdir(parents=True, exist_ok=True)
            else:
                _dir = Path(tempfile.mkdtemp(prefix="rl-test-logs-"))
        return _dir


def current_test():
    return os.environ.get("PYTEST_CURRENT_TEST", "(outside a test)").rsplit(" ", 1)[0]


def open_log(kind):
    """A new line-buffered file in the archive for one process's output, headed by the test."""
    global _files
    directory = archive_dir()
    with _lock:
        _files += 1
        n = _files
    f = open(directory / f"{os.getpid()}-{n:05d}-{kind}.log", "w", encoding="utf-8",
             errors="replace", buffering=1)
    f.write(f"{HEADING}{current_test()}\n")
    return f


def keep(kind, *texts):
    """Appends texts (a run's stdout and stderr, an error body) to the archive file of `kind`."""
    texts = [t.decode("utf-8", "replace") if isinstance(t, bytes) else t for t in texts if t]
    if not texts:
        return
    directory = archive_dir()
    with _lock:
        with open(directory / f"{os.getpid()}-{kind}.log", "a", encoding="utf-8",
                  errors="replace") as f:
            f.write(f"{HEADING}{current_test()}\n" + "\n".join(texts) + "\n")


def keep_answer(status, body):
    """An answer a test received: its "api_key" is a secret from now on; an error body is kept."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not isinstance(body, str) or not body:
        return
    if '"api_key"' in body:
        try:
            add_issued_keys(json.loads(body), "a key issued by rld's admin API")
        except ValueError:
            pass
    if status >= 400:
        keep("error-bodies", f"{status} {body}")


# -- the scan ------------------------------------------------------------------------------------
def find_leaks(directory, known):
    """[(file name, line number, secret's source, line)] for every known secret found."""
    key_like = {s: src for s, src in known.items() if KEY_CHARS.fullmatch(s)}
    other = {s: src for s, src in known.items() if s not in key_like}
    leaks = []
    for path in sorted(Path(directory).glob("*.log")):
        with open(path, encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, 1):
                if line.startswith(HEADING):
                    continue
                for token in KEY_CHARS.findall(line):
                    if token in key_like:
                        leaks.append((path.name, number, key_like[token], line.rstrip()))
                for secret, source in other.items():
                    if secret in line:
                        leaks.append((path.name, number, source, line.rstrip()))
    return leaks


def report(leaks, directory):
    lines = [f"{len(leaks)} secret(s) found in the logs and error bodies kept in {directory}:"]
    for name, number, source, line in leaks[:20]:
        lines.append(f"  {name}:{number}: {source}: {line[:300]}")
    return "\n".join(lines)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    """Fails the run when any registered secret is in the archive; removes a temp archive
    otherwise. Runs once per session even when several conftest files import it."""
    if getattr(session, "_rl_secret_scan_done", False) or _dir is None:
        return
    session._rl_secret_scan_done = True
    leaks = find_leaks(_dir, secrets())
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if leaks:
        message = report(leaks, _dir)
        if reporter is not None:
            reporter.write_line(message, red=True, bold=True)
        else:
            print(message)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif "RL_TEST_LOG_DIR" not in os.environ:
        shutil.rmtree(_dir, ignore_errors=True)


add_tier_file_keys(ROOT / "config" / "rate_limits.json", "a demo key of config/rate_limits.json")

"""Byte-level HTTP/1.1 helpers for the protocol and lifecycle tests: raw sockets with timeouts,
a strict little response parser (status line, headers in order, Content-Length bodies, HEAD,
interim 100 responses), the JSON error envelope check, and `custom_rld`, which starts rld with
keys in the [server] and [security] sections that the shared harness writes itself."""
import json
import os
import re
import shutil
import socket
import time

import pytest

from rld_harness import Rld

IO_TIMEOUT = 3.0
HEX32 = re.compile(r"^[0-9a-f]{32}$")


# -- sockets -------------------------------------------------------------------------------
def connect(rld, via="tcp", timeout=IO_TIMEOUT):
    if via == "unix":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(rld.socket_path)
    else:
        s = socket.create_connection(("127.0.0.1", rld.port), timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.settimeout(timeout)
    return s


def read_until_closed(sock, timeout=IO_TIMEOUT):
    """Reads until the peer closes. Returns (data, closed): closed is False on timeout."""
    deadline = time.monotonic() + timeout
    chunks = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return b"".join(chunks), False
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return b"".join(chunks), False
        except (ConnectionResetError, BrokenPipeError):
            return b"".join(chunks), True
        if not chunk:
            return b"".join(chunks), True
        chunks.append(chunk)


def is_closed(sock, timeout=IO_TIMEOUT):
    """True when the peer closes within `timeout` without sending anything more."""
    data, closed = read_until_closed(sock, timeout)
    assert data == b"", f"unexpected bytes before close: {data[:300]!r}"
    return closed


# -- responses -----------------------------------------------------------------------------
class RawResponse:
    def __init__(self, version, status, reason, header_list, body, raw):
        self.version = version
        self.status = status
        self.reason = reason
        self.header_list = header_list  # [(name, value)] as sent
        self.body = body
        self.raw = raw

    def header(self, name):
        """The value of the only header `name` (asserts it appears at most once), or None."""
        values = self.all(name)
        assert len(values) <= 1, f"{name} sent {len(values)} times: {self.raw[:500]!r}"
        return values[0] if values else None

    def all(self, name):
        return [v for n, v in self.header_list if n.lower() == name.lower()]

    @property
    def headers(self):
        return {n.lower(): v for n, v in self.header_list}

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"RawResponse({self.raw[:600]!r})"


class ResponseReader:
    """Parses consecutive responses from a socket (or from given bytes when sock is None)."""

    def __init__(self, sock=None, data=b""):
        self.sock = sock
        self.buf = bytearray(data)
        self.eof = sock is None

    def _fill(self, deadline):
        if self.eof:
            raise AssertionError(f"connection closed mid-response; have {bytes(self.buf)[:300]!r}")
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(
                f"timed out waiting for a response; have {bytes(self.buf)[:300]!r}")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise AssertionError(
                f"timed out waiting for a response; have {bytes(self.buf)[:300]!r}") from None
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.eof = True
        self.buf += chunk

    def read(self, head=False, timeout=IO_TIMEOUT, allow_interim=False):
        """The next complete response. Interim 1xx responses are returned only when asked."""
        deadline = time.monotonic() + timeout
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            self._fill(deadline)
        head_bytes = bytes(self.buf[:end])
        lines = head_bytes.split(b"\r\n")
        m = re.match(rb"^(HTTP/1\.[01]) (\d{3}) (.*)$", lines[0])
        assert m, f"bad status line {lines[0]!r}"
        version, status, reason = m.group(1).decode(), int(m.group(2)), m.group(3).decode()
        header_list = []
        for line in lines[1:]:
            assert b":" in line and not line[:1].isspace(), f"bad header line {line!r}"
            name, value = line.split(b":", 1)
            assert name == name.strip() and name, f"bad header name {line!r}"
            header_list.append((name.decode(), value.strip().decode("latin-1")))
        del self.buf[:end + 4]
        if 100 <= status < 200:
            resp = RawResponse(version, status, reason, header_list, b"", head_bytes + b"\r\n\r\n")
            if allow_interim:
                return resp
            return self.read(head=head, timeout=max(0.05, deadline - time.monotonic()))
        lengths = [v for n, v in header_list if n.lower() == "content-length"]
        assert len(lengths) == 1, f"expected one Content-Length in {head_bytes!r}"
        assert not any(n.lower() == "transfer-encoding" for n, _ in header_list)
        length = 0 if head else int(lengths[0])
        while len(self.buf) < length:
            self._fill(deadline)
        body = bytes(self.buf[:length])
        del self.buf[:length]
        return RawResponse(version, status, reason, header_list, body.decode(),
                           head_bytes + b"\r\n\r\n" + body)

    def rest(self, timeout=IO_TIMEOUT):
        """Whatever else arrives until close; (bytes, closed)."""
        data, closed = read_until_closed(self.sock, timeout) if not self.eof else (b"", True)
        out = bytes(self.buf) + data
        self.buf.clear()
        return out, closed


def parse_all(data, heads=()):
    """Every response in `data` (bytes received until close); heads: indexes of HEAD answers."""
    reader = ResponseReader(None, data)
    out = []
    while reader.buf:
        out.append(reader.read(head=len(out) in heads))
    return out


def exchange(rld, data, via="tcp", timeout=IO_TIMEOUT, shutdown=False):
    """Sends raw bytes on a fresh connection; returns (responses, closed, seconds to close)."""
    s = connect(rld, via, timeout)
    try:
        t0 = time.monotonic()
        s.sendall(data)
        if shutdown:
            s.shutdown(socket.SHUT_WR)
        raw, closed = read_until_closed(s, timeout)
        return parse_all(raw), closed, time.monotonic() - t0
    finally:
        s.close()


def request_bytes(method, target, headers=(), body=b"", version="HTTP/1.1", host="rld.test"):
    lines = [f"{method} {target} {version}"]
    if host is not None:
        lines.append(f"Host: {host}")
    lines += [f"{n}: {v}" for n, v in headers]
    if isinstance(body, str):
        body = body.encode()
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def assert_error(resp, status, code=None):
    """The JSON error envelope: {"error": {"code", "message"}, "request_id"} and the status."""
    assert resp.status == status, resp
    assert resp.header("Content-Type") == "application/json", resp
    assert int(resp.header("Content-Length")) == len(resp.body.encode()), resp
    doc = resp.json()
    assert set(doc) == {"error", "request_id"}, doc
    assert set(doc["error"]) == {"code", "message"}, doc
    assert isinstance(doc["error"]["code"], str) and doc["error"]["code"], doc
    assert isinstance(doc["error"]["message"], str) and doc["error"]["message"], doc
    if code is not None:
        assert doc["error"]["code"] == code, doc
    rid = resp.header("X-Request-ID")
    assert rid and doc["request_id"] == rid, resp
    return doc


# -- metrics and process -------------------------------------------------------------------
def parse_metrics(text):
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def module_rld(**kwargs):
    """Generator body of a module-scoped fixture: one rld shared by a module's tests."""
    r = Rld(**kwargs).start()
    yield r
    code = r.stop()
    assert code == 0, "rld did not exit cleanly:\n" + "".join(r.lines)
    shutil.rmtree(r.dir, ignore_errors=True)


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def wait_until(predicate, timeout=5.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            return value
        time.sleep(interval)


# -- rld with [server] / [security] keys ----------------------------------------------------
def patch_sections(rld, **sections):
    """Adds `key = value` lines (TOML literals given as text) at the top of existing sections
    of the harness's rld.toml, e.g. patch_sections(r, server={"max_connections": "3"})."""
    text = rld.config_path.read_text()
    for section, keys in sections.items():
        header = f"[{section}]\n"
        assert header in text, f"the harness config has no {header!r}"
        lines = "".join(f"{k} = {v}\n" for k, v in keys.items())
        text = text.replace(header, header + lines, 1)
    rld.config_path.write_text(text)


@pytest.fixture
def custom_rld():
    """Like make_rld, plus server={...} / security={...} keys; asserts exit 0 at the end."""
    started = []

    def make(server=None, security=None, start=True, **kwargs):
        r = Rld(**kwargs)
        sections = {}
        if server:
            sections["server"] = server
        if security:
            sections["security"] = security
        if sections:
            patch_sections(r, **sections)
        if start:
            r.start()
            started.append(r)
        return r

    yield make
    for r in started:
        code = r.stop()
        assert code == 0, "rld did not exit cleanly:\n" + "".join(r.lines)
        shutil.rmtree(r.dir, ignore_errors=True)

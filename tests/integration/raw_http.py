"""Byte-level HTTP/1.1 helpers for the protocol, lifecycle, admin and CLI tests: a strict
little response parser (status line, headers in order, Content-Length bodies, HEAD, interim 100
responses), a lenient one (`raw_request`), request bytes, the JSON error envelope check.
The sockets themselves (`connect`, `read_until_closed`) are in rld_harness."""
import json
import os
import re
import select
import socket
import time

import session_log
from rld_harness import IO_TIMEOUT, Response, connect, read_until_closed

HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEALTH_BODY = '{"status":"ok"}'


# -- sockets -------------------------------------------------------------------------------
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
        session_log.keep_answer(status, body)
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


def exchange(rld, data, via="tcp", timeout=IO_TIMEOUT, shutdown=False, trickle=b""):
    """Sends raw bytes on a fresh connection, then `trickle` one byte every 100 ms until an
    answer is readable; returns (responses, closed, seconds to close), all within `timeout`."""
    s = connect(rld, via, timeout)
    try:
        t0 = time.monotonic()
        s.sendall(data)
        for i in range(len(trickle)):
            ready, _, _ = select.select([s], [], [], 0.1)
            if ready:
                break
            try:
                s.send(trickle[i:i + 1])
            except OSError:
                break
        if shutdown:
            s.shutdown(socket.SHUT_WR)
        raw, closed = read_until_closed(s, timeout - (time.monotonic() - t0))
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


def raw_request(rld, method, path, headers=None, body=None, via="tcp"):
    """One request on its own connection, parsed leniently from the raw bytes: the status line
    is searched for, so a response with stray bytes before it can still be inspected.
    Returns a harness Response (lower-case header names)."""
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    data = (body or "").encode()
    head = [("Connection", "close"), ("Content-Length", str(len(data)))]
    out = rld.raw(request_bytes(method, path, head + list((headers or {}).items()), data,
                                host="rld"), via=via)
    start = out.find(b"HTTP/1.1 ")
    assert start >= 0, out
    top, _, payload = out[start:].partition(b"\r\n\r\n")
    lines = top.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        hdrs[name.strip().lower()] = value.strip()
    return Response(status, hdrs, payload.decode())


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


# -- process -------------------------------------------------------------------------------
def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))

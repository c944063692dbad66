"""Security properties of rld seen from the network: the admin API answers only TCP peers in
security.admin_networks (the socket's own address, never a forwarded one) and the Unix socket,
refusing others before their key is looked at, with the setting validated at load and applied
by a reload; IPv6 clients counted and blocked per /64 over a real IPv6 connection; IPv4-mapped
forwarded addresses folded into IPv4; and malformed keys refused without a Redis lookup.
Non-loopback peers are played by 127.0.0.2 (admin_networks = ["127.0.0.1/32"]), which takes
the same path as any address outside the list."""
import signal
import socket
import threading

from helpers_decisions import error_of, xff
from redis_server import _send
from redis_support import redis_fixture  # noqa: F401 (the "redis" fixture)
from redis_support import sha256_hex, start_on_redis
from rld_harness import ADMIN_KEY, KEYS, run_rld, toml_text, wait_until

FREE = KEYS["free"]
OUTSIDER = "127.0.0.2"  # not in admin_networks = ["127.0.0.1/32"]


def admin_from(rld, source=None, key=ADMIN_KEY, path="/admin/users", headers=None, via="tcp"):
    h = dict(headers or {})
    if key is not None:
        h["X-Admin-Key"] = key
    return rld.request("GET", path, headers=h, via=via, source=source)


def assert_forbidden_network(r):
    assert r.status == 403, r
    assert error_of(r) == "admin_forbidden_network", r
    assert "admin_networks" in r.json()["error"]["message"], r


def security_events(rld, kind):
    return rld.metric(f'rl_security_events_total{{kind="{kind}"}}')


def rewrite_config(rld, **security):
    rld.sections["security"].update(security)
    rld.config_path.write_text(toml_text(rld.sections))


# -- admin_networks -----------------------------------------------------------------------------
def test_admin_api_refuses_a_peer_outside_admin_networks_before_looking_at_its_key(make_rld):
    rld = make_rld(settings={"security": {"admin_networks": ["127.0.0.1/32"],
                                          "max_invalid_attempts": 2}})
    # The right key, a wrong one, none: all refused alike, and never counted as guesses (with
    # max_invalid_attempts = 2, three wrong keys would block the client).
    for key in (ADMIN_KEY, "wrong-admin-key-0000000", None, "wrong-admin-key-0000001"):
        assert_forbidden_network(admin_from(rld, OUTSIDER, key))
    assert_forbidden_network(rld.request("POST", "/admin/health", source=OUTSIDER, headers={
        "X-Admin-Key": ADMIN_KEY}, body={"status": "DEGRADED"}))
    assert rld.get("/test", key=FREE, source=OUTSIDER).status == 200  # not blocked
    assert rld.admin("GET", "/admin/health").json()["status"] == "NORMAL"  # nothing changed
    assert security_events(rld, "admin_forbidden_network") == 5
    assert security_events(rld, "admin_key_invalid") == 0
    # The same daemon serves its admin network and the Unix socket.
    assert admin_from(rld).status == 200
    assert admin_from(rld, via="unix").status == 200
    # Logged once (the next four within the second are counted, not logged), without the key.
    events = rld.wait_for_event("admin_forbidden")
    assert events[0]["client"] == OUTSIDER and events[0]["level"] == "warn", events
    assert events[0]["request_id"], events
    assert ADMIN_KEY not in rld.log_text()


def test_a_forwarded_address_never_decides_admin_access(make_rld):
    # Both 127.0.0.1 and 127.0.0.2 are trusted proxies whose X-Forwarded-For is believed for
    # rate limiting; admin access still goes by the connection's own address.
    rld = make_rld(settings={"security": {"admin_networks": ["127.0.0.1/32"]},
                             "http": {"trusted_proxies": ["127.0.0.0/8"]}})
    for claim in ("127.0.0.1", "::1", "::ffff:127.0.0.1"):
        assert_forbidden_network(admin_from(rld, OUTSIDER, headers={"X-Forwarded-For": claim,
                                                                    "X-Real-IP": claim}))
    r = admin_from(rld, headers={"X-Forwarded-For": "203.0.113.9"})
    assert r.status == 200, r


def test_admin_networks_default_to_loopback_over_ipv4_and_ipv6(make_rld):
    rld = make_rld(settings={"server": {"listen": ["127.0.0.1:0", "[::1]:0", "unix:{sock}"]}})
    assert admin_from(rld).status == 200
    assert admin_from(rld, OUTSIDER).status == 200  # 127.0.0.0/8
    assert admin_from(rld, via="tcp6").status == 200
    assert security_events(rld, "admin_forbidden_network") == 0


def test_an_ipv6_peer_outside_admin_networks_is_refused(make_rld):
    rld = make_rld(settings={"server": {"listen": ["127.0.0.1:0", "[::1]:0", "unix:{sock}"]},
                             "security": {"admin_networks": ["127.0.0.0/8"]}})
    assert_forbidden_network(admin_from(rld, via="tcp6"))
    assert admin_from(rld).status == 200
    assert rld.wait_for_event("admin_forbidden")[0]["client"] == "::1"


def test_a_reload_applies_new_admin_networks(make_rld):
    rld = make_rld(settings={"security": {"admin_networks": ["127.0.0.1/32"]}})
    assert_forbidden_network(admin_from(rld, OUTSIDER))
    rewrite_config(rld, admin_networks=["127.0.0.0/8"])
    rld.signal(signal.SIGHUP)
    rld.wait_for_event("config_reloaded")
    assert admin_from(rld, OUTSIDER).status == 200
    # An empty list leaves the Unix socket only.
    rewrite_config(rld, admin_networks=[])
    rld.signal(signal.SIGHUP)
    rld.wait_for_event("config_reloaded", count=2)
    assert_forbidden_network(admin_from(rld))
    assert admin_from(rld, via="unix").status == 200


def test_a_bad_admin_network_is_refused_at_load_and_at_reload(make_rld, tmp_path):
    bad = tmp_path / "rld.toml"
    bad.write_text(toml_text({"security": {"admin_networks": ["127.0.0.1/32", "localhost",
                                                              "10.0.0.0/33"]}}))
    p = run_rld("--check-config", "--config", str(bad))
    assert p.returncode == 1, p
    for part in (f"{bad}:2: security.admin_networks: expected IP addresses or CIDR ranges",
                 '"localhost"', '"10.0.0.0/33"'):
        assert part in p.stderr, p.stderr
    # A reload to a bad list keeps the running one.
    rld = make_rld(settings={"security": {"admin_networks": ["127.0.0.1/32"]}})
    rewrite_config(rld, admin_networks=["not-a-network"])
    rld.signal(signal.SIGHUP)
    failed = rld.wait_for_event("reload_failed")[-1]
    assert "security.admin_networks" in failed["error"], failed
    assert_forbidden_network(admin_from(rld, OUTSIDER))
    assert admin_from(rld).status == 200


# -- client addresses ---------------------------------------------------------------------------
def test_an_ipv6_client_over_ipv6_loopback_is_blocked_as_its_64(make_rld):
    rld = make_rld(settings={"server": {"listen": ["127.0.0.1:0", "[::1]:0", "unix:{sock}"]},
                             "security": {"max_invalid_attempts": 3}})
    statuses = [rld.get("/test", key="wrong_key_value", via="tcp6").status for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    r = rld.get("/test", key=FREE, via="tcp6")
    assert r.status == 429 and error_of(r) == "client_blocked", r
    alert = rld.wait_for_event("security_alert")[-1]
    assert alert["client"] == "::/64", alert
    assert [b["client"] for b in rld.admin("GET", "/admin/blocks").json()["blocks"]] == ["::/64"]
    assert rld.get("/test", key=FREE).status == 200  # 127.0.0.1 is another client


def test_an_ipv4_mapped_forwarded_address_is_counted_as_its_ipv4_address(make_rld):
    rld = make_rld(settings={"security": {"max_invalid_attempts": 3}})
    statuses = [rld.get("/test", headers=xff("::ffff:127.0.0.1", "wrong_key_value"),
                        via="unix").status for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    assert rld.wait_for_event("security_alert")[-1]["client"] == "127.0.0.1"
    # The block holds 127.0.0.1 itself, forwarded or connecting over TCP.
    assert rld.get("/test", headers=xff("127.0.0.1", FREE), via="unix").status == 429
    r = rld.get("/test", key=FREE)
    assert r.status == 429 and error_of(r) == "client_blocked", r
    blocks = rld.admin("GET", "/admin/blocks", via="unix").json()["blocks"]
    assert [b["client"] for b in blocks] == ["127.0.0.1"]


# -- no store lookup for a malformed key ---------------------------------------------------------
class Monitor:
    """Redis MONITOR on its own connection: every command the server runs, as text lines."""

    def __init__(self, redis):
        self.sock = redis.connect()
        _send(self.sock, ["MONITOR"])
        self.lines = []
        self.lock = threading.Lock()
        self.buf = b""
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while True:
            try:
                chunk = self.sock.recv(65536)
            except (OSError, socket.timeout):
                return
            if not chunk:
                return
            self.buf += chunk
            *done, self.buf = self.buf.split(b"\r\n")
            with self.lock:
                self.lines += [line.decode("utf-8", "replace") for line in done]

    def text(self):
        with self.lock:
            return "\n".join(self.lines)

    def close(self):
        self.sock.close()


def bad_checksum(key):
    """A generated-format key whose checksum does not match: its last character changed."""
    return key[:-1] + ("A" if key[-1] != "A" else "B")


def test_malformed_keys_are_refused_without_a_redis_lookup(make_rld, redis):
    rld = start_on_redis(make_rld, redis.url)
    issued = rld.admin("POST", "/admin/users/demo_pro_user/keys", {"label": "monitor"})
    assert issued.status == 201, issued
    key = issued.json()["api_key"]
    typo = bad_checksum(key)
    garbage = "garbage key with spaces"
    unknown = "well_formed_unknown_key_0001"  # a positive control: this one is looked up
    monitor = Monitor(redis)
    try:
        assert wait_until(lambda: monitor.text().startswith("+OK")), monitor.text()
        for k in (typo, garbage):
            r = rld.get("/test", key=k, via="unix")
            assert r.status == 401 and error_of(r) == "malformed_api_key", r
        r = rld.get("/test", key=unknown, via="unix")
        assert r.status == 401 and error_of(r) == "invalid_api_key", r
        assert wait_until(lambda: sha256_hex(unknown) in monitor.text(), 3), monitor.text()
        seen = monitor.text()
    finally:
        monitor.close()
    assert sha256_hex(typo) not in seen and sha256_hex(garbage) not in seen, seen
    assert f"apikey:{sha256_hex(unknown)}" in seen
    assert [line for line in seen.splitlines() if "apikey:" in line and sha256_hex(unknown)
            not in line] == [], seen
    assert typo not in seen and key not in seen  # no clear key reaches Redis
    assert rld.get("/test", key=key, via="unix").status == 200  # the real key works
    assert rld.metric('rl_security_events_total{kind="malformed_key"}') == 2


def test_a_typo_in_a_generated_key_gets_malformed_not_unknown(make_rld):
    rld = make_rld()
    key = rld.admin("POST", "/admin/users/demo_free_user/keys", {}).json()["api_key"]
    assert rld.get("/test", key=key).status == 200
    i = next(i for i in range(3, len(key) - 1) if key[i] != key[i + 1])
    swapped = key[:i] + key[i + 1] + key[i] + key[i + 2:]  # two neighbours transposed
    for wrong in (bad_checksum(key), key[:-1], key + "x", swapped):
        r = rld.get("/test", key=wrong)
        assert r.status == 401 and error_of(r) == "malformed_api_key", (wrong, r)

"""The proxy examples that cannot run here (no Envoy, no Traefik): their files parse and name
what rld reads, every shipped rld.toml passes `rld --check-config`, and rld, configured with the
example's rld.toml, answers the check requests that Envoy's ext_authz and Traefik's ForwardAuth
make — built here exactly as those proxies build them (path, headers, client address) — with the
reference's numbers, the right client and the right excluded paths."""
import tomllib

import yaml  # python3-yaml, installed by packaging/deps.sh

from helpers_decisions import avoid_window_edge
from rld_harness import KEYS, ROOT, run_rld

PACKAGING = ROOT / "packaging"
ENVOY_TOML = PACKAGING / "envoy" / "rld.toml"
TRAEFIK_TOML = PACKAGING / "traefik" / "rld.toml"
RATE_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset",
                "ratelimit-policy", "ratelimit")


def shipped(path):
    with open(path, "rb") as f:
        return tomllib.load(f)


def settings_of(path):
    """Harness settings for an rld run as `path` (a shipped rld.toml) says: its [http] and
    [security] sections and its store type; the listeners are the harness's (loopback TCP,
    where the test stands for the proxy, which the file trusts)."""
    doc = shipped(path)
    return {"http": dict(doc["http"]), "security": dict(doc["security"]),
            "store": {"type": doc["store"]["type"]}}


def load_yaml(path):
    with open(path) as f:
        return yaml.safe_load(f)


def patterns(matcher):
    return {next(iter(p.items())) for p in matcher["patterns"]}


# -- the files -----------------------------------------------------------------------------------
def test_every_shipped_rld_toml_passes_check_config():
    files = sorted(PACKAGING.glob("*/rld.toml"))
    assert {f.parent.name for f in files} >= {"envoy", "haproxy", "nginx", "traefik"}, files
    for f in files:
        # The files name /etc/rld/rate_limits.json; the demo tier file stands in for it.
        run = run_rld("--check-config", "--config", str(f), "--tiers",
                      str(ROOT / "config" / "rate_limits.json"))
        assert run.returncode == 0, (f, run.stdout, run.stderr)


def test_the_envoy_example_asks_rld_what_rld_reads():
    doc = load_yaml(PACKAGING / "envoy" / "envoy.yaml")
    hcm = doc["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    assert hcm["use_remote_address"] is True and hcm["xff_num_trusted_hops"] == 0
    ext_authz = hcm["http_filters"][0]
    assert ext_authz["name"] == "envoy.filters.http.ext_authz"
    config = ext_authz["typed_config"]
    assert config["http_service"]["path_prefix"] == "/check"
    assert patterns(config["allowed_headers"]) == {
        ("exact", h) for h in ("x-api-key", "authorization", "x-forwarded-for", "x-request-id")}
    response = config["http_service"]["authorization_response"]
    assert ("exact", "retry-after") in patterns(response["allowed_client_headers"])
    for key in ("allowed_client_headers", "allowed_client_headers_on_success",
                "allowed_upstream_headers"):
        assert {("prefix", "x-ratelimit-"), ("prefix", "ratelimit")} <= patterns(response[key])
    assert config["failure_mode_allow"] is False
    assert config["status_on_error"] == {"code": "ServiceUnavailable"}
    # Excluded paths are Envoy's routes with the filter disabled.
    routes = hcm["route_config"]["virtual_hosts"][0]["routes"]
    disabled = [r["match"]["path"] for r in routes if "typed_per_filter_config" in r]
    assert disabled == ["/health"]
    # The rld cluster is where the shipped rld.toml listens.
    rld = next(c for c in doc["static_resources"]["clusters"] if c["name"] == "rld")
    address = rld["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]
    socket = address["socket_address"]
    assert shipped(ENVOY_TOML)["server"]["listen"] == [
        f"{socket['address']}:{socket['port_value']}"]


def test_the_traefik_example_asks_rld_what_rld_reads():
    static = load_yaml(PACKAGING / "traefik" / "traefik.yml")
    assert "forwardedHeaders" not in static["entryPoints"]["web"]  # trusts no client's headers
    dynamic = load_yaml(PACKAGING / "traefik" / "dynamic.yml")
    auth = dynamic["http"]["middlewares"]["rld"]["forwardAuth"]
    assert auth["address"] == f"http://{shipped(TRAEFIK_TOML)['server']['listen'][0]}/check"
    assert auth["trustForwardHeader"] is False
    assert set(auth["authRequestHeaders"]) == {"X-API-Key", "Authorization", "X-Request-ID"}
    assert set(auth["authResponseHeaders"]) == {
        "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "RateLimit-Policy",
        "RateLimit", "X-Request-ID"}
    assert dynamic["http"]["routers"]["app"]["middlewares"] == ["rld"]
    assert shipped(TRAEFIK_TOML)["http"]["original_uri_header"] == "X-Forwarded-Uri"


# -- what rld answers to Envoy's check requests ----------------------------------------------------
def envoy_check(rld, target, key=None, client="203.0.113.9", claimed=None, method="GET",
                conn=None):
    """The check request envoy.yaml makes for a client request `method target` from `client`
    (the peer Envoy saw) that sent X-Forwarded-For: `claimed` itself: path_prefix + the
    client's path and query, the allowed headers, Content-Length 0."""
    headers = {"Content-Length": "0", "X-Request-ID": "0b6c7b0a-5c3e-4f7e-9d1e-3f6c2b1a9e00",
               "X-Forwarded-For": f"{claimed}, {client}" if claimed else client}
    if key is not None:
        headers["X-API-Key"] = key
    return rld.request(method, "/check" + target, headers=headers, conn=conn)


def test_rld_answers_envoys_check_requests(make_rld):
    rld = make_rld(settings=settings_of(ENVOY_TOML))
    avoid_window_edge()
    conn = rld.connection()
    answers = [envoy_check(rld, "/api/items?page=2", key=KEYS["free"], claimed="198.51.100.7",
                           method="POST" if i % 2 else "GET", conn=conn) for i in range(25)]
    assert [r.status for r in answers] == [200] * 20 + [429] * 5, answers
    assert [int(r.headers["x-ratelimit-remaining"]) for r in answers[:20]] == \
        list(range(19, -1, -1))
    for r in answers:
        assert r.body == "" and r.headers["x-ratelimit-limit"] == "20", r
        assert r.headers["x-request-id"] == "0b6c7b0a-5c3e-4f7e-9d1e-3f6c2b1a9e00", r
    assert all(int(r.headers["retry-after"]) >= 1 for r in answers[20:])
    # The client is the address Envoy appended, whatever the client claimed before it.
    max_invalid = shipped(ENVOY_TOML)["security"]["max_invalid_attempts"]
    for i in range(max_invalid):
        r = envoy_check(rld, "/api", key=f"wrong_key_{i:04d}", client="203.0.113.50",
                        claimed=f"198.51.100.{i + 1}", conn=conn)
        assert r.status == 401, (i, r)
    for key in ("wrong_key_last", KEYS["pro"]):  # the block, then a valid key in vain
        r = envoy_check(rld, "/api", key=key, client="203.0.113.50", claimed="203.0.113.51",
                        conn=conn)
        assert r.status == 429 and "x-ratelimit-limit" not in r.headers, r
    assert [b["client"] for b in rld.admin("GET", "/admin/blocks").json()["blocks"]] == \
        ["203.0.113.50"]
    # A client's own deny_status in its query cannot turn a decision into a pass: rld refuses
    # a deny_status that is not 4xx (400), and one that is only changes a denial's status.
    r = envoy_check(rld, "/api?x=1&deny_status=200", key=KEYS["pro"], conn=conn)
    assert r.status == 400, r
    r = envoy_check(rld, "/api?x=1&deny_status=404", key=KEYS["free"], conn=conn)
    assert r.status == 404 and r.headers["x-ratelimit-remaining"] == "0", r
    # The path after /check is the original path: excluded paths pass without a key and
    # uncounted, in canonical form only...
    for target in ("/health", "/health?probe=1"):
        r = envoy_check(rld, target, conn=conn)
        assert r.status == 200 and "x-ratelimit-limit" not in r.headers, (target, r)
    for target in ("/%68ealth", "//health", "/health/../api", "/healthz"):
        assert envoy_check(rld, target, conn=conn).status == 401, target
    conn.close()
    # ...and only from a trusted proxy: a client asking rld directly is limited like any other.
    untrusted = make_rld(settings={**settings_of(ENVOY_TOML),
                                   "http": {**settings_of(ENVOY_TOML)["http"],
                                            "trusted_proxies": []}})
    assert untrusted.request("GET", "/check/health").status == 401


# -- what rld answers to Traefik's ForwardAuth requests ----------------------------------------------
def traefik_check(rld, target, key=None, client="203.0.113.9", conn=None):
    """The request ForwardAuth makes (trustForwardHeader: false) for a client's `GET target`
    from `client`: GET /check with the X-Forwarded-* it sets and the authRequestHeaders."""
    headers = {"X-Forwarded-For": client, "X-Forwarded-Uri": target,
               "X-Forwarded-Method": "GET", "X-Forwarded-Proto": "http",
               "X-Forwarded-Host": "api.example.com"}
    if key is not None:
        headers["X-API-Key"] = key
    return rld.request("GET", "/check", headers=headers, conn=conn)


def test_rld_answers_traefiks_forward_auth_requests(make_rld):
    rld = make_rld(settings=settings_of(TRAEFIK_TOML))
    conn = rld.connection()
    # Excluded paths (by X-Forwarded-Uri) pass without a key and without counting...
    for target in ("/health", "/health?probe=1", "/docs"):
        r = traefik_check(rld, target, conn=conn)
        assert r.status == 200 and not any(h in r.headers for h in RATE_HEADERS), (target, r)
    # ...in canonical form only.
    for target in ("/%68ealth", "//health", "/health/../api", "/api"):
        assert traefik_check(rld, target, conn=conn).status == 401, target
    avoid_window_edge()
    answers = [traefik_check(rld, "/api/items", key=KEYS["free"], conn=conn) for _ in range(21)]
    assert [r.status for r in answers] == [200] * 20 + [429], answers
    assert answers[-1].headers["x-ratelimit-remaining"] == "0"
    assert int(answers[-1].headers["retry-after"]) >= 1
    # Counted per client address: another client still passes.
    r = traefik_check(rld, "/api/items", key=KEYS["pro"], client="203.0.113.10", conn=conn)
    assert r.status == 200 and r.headers["x-ratelimit-limit"] == "150", r
    conn.close()

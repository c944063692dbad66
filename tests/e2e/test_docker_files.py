"""The Dockerfile and docker-compose.yml, which cannot be built or run here (no Docker daemon,
no registry): the image installs every shared library rld links, and the compose file mirrors
the tested HAProxy setup exactly — the shipped haproxy.cfg and rld.toml, mounted unchanged, with
each rld on the address haproxy.cfg expects and Redis where rld.toml looks for it."""
import os
import re
import subprocess
import tomllib
from urllib.parse import urlsplit

import yaml  # python3-yaml, installed by packaging/deps.sh

from rld_harness import ROOT, rld_binary

HAPROXY_CFG = ROOT / "packaging" / "haproxy" / "haproxy.cfg"
HAPROXY_TOML = ROOT / "packaging" / "haproxy" / "rld.toml"
# In every Debian image already (Essential, or needed by apt itself).
BASE_PACKAGES = {"libc6", "libstdc++6", "libgcc-s1"}
# Linked only by `make test SANITIZE=1`'s build; the image builds without sanitizers.
SANITIZER_PACKAGES = {"libasan8", "libubsan1"}


def runtime_packages():
    """The packages the Dockerfile's runtime stage installs (its one apt-get install)."""
    text = (ROOT / "Dockerfile").read_text()
    runtime = text.split("\nFROM ")[-1]  # the last stage
    m = re.search(r"apt-get install -y --no-install-recommends\s*\\?\s*([^&]+)&&", runtime)
    assert m, "no apt-get install in the runtime stage"
    return set(m.group(1).replace("\\", " ").split())


def linked_packages(binary):
    """The Debian packages of the shared libraries `binary` links itself (readelf's NEEDED,
    found by ldd, owned per dpkg -S); their own dependencies come with those packages."""
    dynamic = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True,
                             check=True).stdout
    needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic))
    ldd = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    paths = [path for name, path in re.findall(r"^\s*(\S+) => (/\S+)", ldd, re.M)
             if name in needed]
    assert len(paths) == len(needed), (needed, ldd)
    # dpkg knows a file by the path its package ships it at: /lib or /usr/lib (usrmerge).
    candidates = {}
    for path in paths:
        real = os.path.realpath(path)
        for c in (path, real, real.removeprefix("/usr"), "/usr" + path):
            candidates[c] = path
    # One dpkg call (it exits 1 for the candidates no package owns, and lists the rest).
    out = subprocess.run(["dpkg", "-S", *candidates], capture_output=True, text=True).stdout
    owner = {}
    for line in out.splitlines():
        package, _, file = line.partition(": ")
        if file in candidates:
            owner[candidates[file]] = package.split(":", 1)[0]
    assert set(owner) == set(paths), set(paths) - set(owner)
    return set(owner.values())


def test_the_image_installs_every_library_rld_links():
    needed = linked_packages(rld_binary()) - BASE_PACKAGES - SANITIZER_PACKAGES
    assert needed, "ldd found no libraries"
    assert needed <= runtime_packages(), needed - runtime_packages()


def test_the_image_runs_as_an_unprivileged_user_with_a_health_check():
    text = (ROOT / "Dockerfile").read_text()
    runtime = text.split("\nFROM ")[-1]
    assert "\nUSER rld\n" in runtime and "\nEXPOSE 8000\n" in runtime
    assert "HEALTHCHECK" in runtime and "/health" in runtime
    assert "packaging/deps.sh build" in text  # the build stage installs what `make build` does
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        assert not line.startswith("/"), line  # .dockerignore patterns are relative


def haproxy_servers():
    """{server name: default address} of the cfg's `rld` backend lines."""
    cfg = HAPROXY_CFG.read_text()
    rld_backend = cfg.split("\nbackend rld\n", 1)[1].split("\nbackend ", 1)[0]
    return dict(re.findall(r'server (rld\d) "\$\{RL_RLD\d-([^}]+)\}"', rld_backend))


def test_compose_mirrors_the_tested_haproxy_setup():
    with open(ROOT / "docker-compose.yml") as f:
        services = yaml.safe_load(f)["services"]
    servers = haproxy_servers()
    assert servers == {"rld1": "127.0.0.1:8001", "rld2": "127.0.0.1:8002",
                       "rld3": "127.0.0.1:8003"}, servers
    # One network namespace: the cfg's loopback addresses are the services' own.
    assert {n: s.get("network_mode") for n, s in services.items() if n != "net"} == \
        {n: "service:net" for n in services if n != "net"}
    assert services["net"]["ports"] == ["8080:8080"]  # haproxy.cfg's default bind, :8080
    haproxy = services["haproxy"]
    assert haproxy["volumes"] == ["./packaging/haproxy/haproxy.cfg:"
                                  "/usr/local/etc/haproxy/haproxy.cfg:ro"]
    assert not any(k.startswith("RL_RLD") or k == "RL_HAPROXY_BIND"
                   for k in haproxy["environment"])  # the cfg's defaults, as in the README
    rlds = {n: s for n, s in services.items() if n.startswith("rld")}
    assert sorted(rlds) == sorted(servers)
    for name, service in rlds.items():
        assert service["volumes"] == ["./packaging/haproxy/rld.toml:/etc/rld/rld.toml:ro"], name
        command = service["command"]
        assert command[:2] == ["--config", "/etc/rld/rld.toml"], name
        assert command[2:] == ["--listen", servers[name]], name
        assert service["environment"]["RLD_HEALTH_PORT"] == servers[name].rsplit(":", 1)[1]
        assert service.get("profiles") == (["scale"] if name == "rld3" else None), name
    # Redis where rld.toml looks for it.
    with open(HAPROXY_TOML, "rb") as f:
        url = urlsplit(tomllib.load(f)["redis"]["url"])
    command = services["redis"]["command"]
    assert command[command.index("--bind") + 1] == url.hostname
    assert int(command[command.index("--port") + 1]) == url.port

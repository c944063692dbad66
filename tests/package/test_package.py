"""The Debian package of `make package`, as a user gets it: inspected with dpkg-deb (control
fields, files, conffiles, maintainer scripts), installed on this machine with dpkg -i, run from
its installed configuration as the rld user, reinstalled and upgraded over a locally modified
conffile, and purged.

Needs root (dpkg -i, the rld user); `make package-test` runs it through sudo when not root, with
RL_DEB naming the .deb. Tests run in file order and share one installation (the `installed`
fixture); the last one purges it. Whatever fails, the fixture's teardown purges the package
and deletes the rld user if this run created it, so the machine is left as it was found.
"""
import grp
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import threading
import time
import http.client
from pathlib import Path

import pytest

DEB = os.environ.get("RL_DEB", "")
BINARIES = ["/usr/bin/rld", "/usr/bin/rlctl", "/usr/bin/rlbench"]
UNITS = ["/lib/systemd/system/rld.service", "/lib/systemd/system/rld.socket"]
CONFFILES = ["/etc/rld/rld.toml", "/etc/rld/rate_limits.json"]
MAN_PAGES = ["/usr/share/man/man8/rld.8.gz", "/usr/share/man/man1/rlctl.1.gz",
             "/usr/share/man/man1/rlbench.1.gz"]
DOCS = ["/usr/share/doc/rl/README.md", "/usr/share/doc/rl/copyright",
        "/usr/share/doc/rl/examples/rld.toml"]
# Every regular file of the package, exactly: anything else is an accident to look at.
FILES = set(BINARIES + UNITS + CONFFILES + MAN_PAGES + DOCS)
SCRIPTS = ["postinst", "prerm", "postrm"]
ENABLE_LINK = Path("/etc/systemd/system/multi-user.target.wants/rld.service")
# rld's own environment variables must not leak in from whoever runs the tests.
ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
TIMEOUT = 60


def run(*cmd, check=True, env=None, input=None):
    """Runs cmd, returns the CompletedProcess; with check, a failure shows its output."""
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, input=input,
                       env=env or ENV, timeout=TIMEOUT)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} exited {p.returncode}\n"
                             f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


def package_status():
    p = run("dpkg-query", "-W", "-f=${Status}", "rl", check=False)
    return p.stdout if p.returncode == 0 else ""


def purge():
    if package_status():
        run("dpkg", "--purge", "rl")


def field(name, deb=None):
    return run("dpkg-deb", "--field", deb or DEB, name).stdout.strip()


def user_exists(name="rld"):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


# -- fixtures ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def deb():
    assert DEB, "RL_DEB must name the .deb to test (make package-test sets it)"
    path = Path(DEB)
    assert path.is_file(), f"RL_DEB={DEB}: no such file"
    return path


@pytest.fixture(scope="module")
def installed(deb):
    assert os.geteuid() == 0, "the package test installs the package: run it as root"
    user_before = user_exists()
    try:
        purge()  # a leftover of an earlier run, or a hand-installed rl
        run("dpkg", "-i", deb)
        yield deb
    finally:
        purge()
        # The package keeps the user on purge (Debian practice); a test leaves none behind.
        if not user_before and user_exists():
            run("deluser", "--system", "--quiet", "rld", check=False)
            run("delgroup", "--system", "--only-if-empty", "--quiet", "rld", check=False)


# -- the .deb itself ---------------------------------------------------------------------------
def test_control_fields(deb):
    info = run("dpkg-deb", "--info", deb).stdout
    version = field("Version")
    arch = run("dpkg", "--print-architecture").stdout.strip()
    assert field("Package") == "rl"
    assert deb.name == f"rl_{version}_{arch}.deb"
    assert field("Architecture") == arch
    assert field("Section") == "net"
    assert field("Maintainer")
    assert field("Description").startswith("distributed rate limiter")
    depends = field("Depends")
    for dep in ("libuv1", "libhiredis", "adduser", "libc6", "libssl3"):
        assert dep in depends, f"Depends lacks {dep}: {depends}"
    assert "redis-server" in field("Suggests")
    assert int(field("Installed-Size")) > 0
    for name in SCRIPTS + ["conffiles", "md5sums", "control"]:
        assert f" {name}" in info, f"no {name} in the control archive:\n{info}"


def test_conffiles_are_exactly_the_etc_files(deb):
    conffiles = run("dpkg-deb", "--info", deb, "conffiles").stdout.split()
    assert conffiles == CONFFILES


def test_maintainer_scripts_are_executable_posix_sh(deb, tmp_path):
    ctrl = subprocess.run(["dpkg-deb", "--ctrl-tarfile", str(deb)], capture_output=True,
                          check=True).stdout
    (tmp_path / "control.tar").write_bytes(ctrl)
    with tarfile.open(tmp_path / "control.tar") as tar:
        members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
        for name in SCRIPTS:
            m = members[name]
            assert m.mode & 0o777 == 0o755, f"{name} has mode {oct(m.mode)}"
            text = tar.extractfile(m).read().decode()
            assert text.startswith("#!/bin/sh\n"), name
            assert "\nset -e\n" in text, f"{name} does not set -e"
            run("dash", "-n", input=text)  # POSIX sh syntax, as /bin/sh runs it
        assert members["conffiles"].mode & 0o777 == 0o644


def test_contents(deb):
    listing = run("dpkg-deb", "--contents", deb).stdout.splitlines()
    files = {}
    for line in listing:
        mode, owner, _size, _date, _time, path = line.split(None, 5)
        assert owner == "root/root", line
        if mode.startswith("-"):
            files[path.removeprefix(".")] = mode
    assert set(files) == FILES
    for b in BINARIES:
        assert files[b] == "-rwxr-xr-x", b
    for f in FILES - set(BINARIES):
        assert files[f] == "-rw-r--r--", f


def packaged_file(deb, path):
    tar = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True,
                         check=True).stdout
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "data.tar").write_bytes(tar)
        with tarfile.open(Path(tmp, "data.tar")) as t:
            return t.extractfile("." + path).read().decode()


def test_packaged_tier_file_has_tiers_and_no_known_keys(deb):
    tiers = json.loads(packaged_file(deb, "/etc/rld/rate_limits.json"))
    assert set(tiers["tiers"]) == {"free", "pro", "enterprise"}
    assert tiers["tiers"]["free"]["burst_limit"] == 20
    assert not tiers.get("users") and not tiers.get("api_keys")
    toml = packaged_file(deb, "/etc/rld/rld.toml")
    for known in ("demo_", "admin_secret_key_change_in_production"):
        assert known not in toml


# -- installed ---------------------------------------------------------------------------------
def test_installed_files_user_and_permissions(installed):
    assert package_status() == "install ok installed"
    for path in FILES:
        assert Path(path).is_file(), path
    for b in BINARIES:
        assert os.access(b, os.X_OK), b
    rld = pwd.getpwnam("rld")
    assert rld.pw_uid < 1000 and rld.pw_dir == "/nonexistent"
    assert rld.pw_shell in ("/usr/sbin/nologin", "/bin/false")
    assert grp.getgrgid(rld.pw_gid).gr_name == "rld"
    # The configuration may hold secrets: root writes it, the rld group reads it.
    for conf in CONFFILES:
        st = os.stat(conf)
        assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (0, rld.pw_gid, 0o640), conf
    # Enabled (deb-systemd-helper works without a running systemd), not started.
    assert ENABLE_LINK.is_symlink() and os.readlink(ENABLE_LINK) == UNITS[0]
    assert run("dpkg", "--verify", "rl").stdout == ""


def test_installed_config_is_valid(installed):
    out = run("/usr/bin/rld", "--check-config", "--config", "/etc/rld/rld.toml").stdout
    assert out.startswith("configuration OK: /etc/rld/rld.toml; 3 tiers, 0 users, 0 keys")
    version = run("/usr/bin/rld", "--version").stdout
    assert version.startswith(f"rld {field('Version')} ")
    for b in BINARIES[1:]:
        assert run(b, "--version").stdout.startswith(f"{Path(b).name} {field('Version')}")


def test_man_pages(installed):
    for page in MAN_PAGES:
        name, section = Path(page).name.removesuffix(".gz").split(".")
        text = run("zcat", page).stdout
        assert f'.TH {name.upper()} "{section}"' in text, text[:300]
        assert "--help" in text or "\\-\\-help" in text
        if shutil.which("man"):
            assert run("man", "-w", f"{section}", name).stdout.strip() == page
            rendered = run("man", "-P", "cat", "-l", page,
                           env={**ENV, "MANWIDTH": "100"}).stdout
            assert "SEE ALSO" in rendered
    rld8 = run("zcat", MAN_PAGES[0]).stdout
    assert "/etc/rld/rld.toml" in rld8  # the FILES section of packaging/man/rld.h2m


def test_systemd_units_verify(installed):
    p = run("systemd-analyze", "verify", *UNITS, check=False)
    assert (p.returncode, p.stdout + p.stderr) == (0, "")


def http_get(connect, path):
    conn = connect()
    try:
        conn.request("GET", path, headers={"X-API-Key": "demo_free_key_123"})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=3)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(3)
        self.sock.connect(self.unix_path)


def test_installed_rld_serves_as_the_rld_user(installed):
    """The installed binary and configuration, as the rld user, with the listeners overridden:
    /run/rld belongs to systemd (RuntimeDirectory) and port 8000 may be taken here."""
    rld = pwd.getpwnam("rld")
    www_data = grp.getgrnam("www-data").gr_gid
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        run_dir = Path(tmp, "run")
        run_dir.mkdir()
        os.chown(run_dir, rld.pw_uid, rld.pw_gid)
        sock = run_dir / "rld.sock"
        proc = subprocess.Popen(
            ["/usr/bin/rld", "--config", "/etc/rld/rld.toml", "--listen", "127.0.0.1:0",
             "--listen", f"unix:{sock}", "--workers", "1"],
            # As rld.service runs it: user and group rld, SupplementaryGroups=www-data.
            user=rld.pw_uid, group=rld.pw_gid, extra_groups=[www_data], env=ENV, cwd="/",
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        lines, addresses, ready = [], [], threading.Event()

        def read_log():
            for line in proc.stderr:
                lines.append(line)
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if event.get("event") == "listening":
                    addresses.append(event["address"])
                if event.get("event") in ("ready", "listen_failed", "config_invalid"):
                    ready.set()
            ready.set()

        reader = threading.Thread(target=read_log, daemon=True)
        reader.start()
        try:
            assert ready.wait(10), "rld did not start:\n" + "".join(lines)
            assert proc.poll() is None, "rld exited:\n" + "".join(lines)
            with open(f"/proc/{proc.pid}/status") as f:
                uids = next(l for l in f if l.startswith("Uid:")).split()[1:]
            assert set(uids) == {str(rld.pw_uid)}
            port = next(int(a.rsplit(":", 1)[1]) for a in addresses if a.startswith("127.0.0.1:"))

            def tcp():
                return http.client.HTTPConnection("127.0.0.1", port, timeout=3)

            status, body = http_get(tcp, "/health")
            assert (status, json.loads(body)) == (200, {"status": "ok"})
            assert http_get(lambda: UnixHTTPConnection(str(sock)), "/health")[0] == 200
            st = os.stat(sock)  # nginx's group may connect: unix_socket_group = "www-data"
            assert (oct(st.st_mode & 0o777), st.st_uid, st.st_gid) == \
                (oct(0o660), rld.pw_uid, www_data)
            # The package ships no keys (the demo key is unknown) and no admin key.
            assert http_get(tcp, "/test")[0] == 401
            assert http_get(tcp, "/admin/health")[0] == 403
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(15) == 0, "".join(lines)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            reader.join(5)
        assert not sock.exists()


def repack_with_changed_conffile(deb, tmp_path, version):
    """A copy of the package at `version` whose /etc/rld/rld.toml differs, as a later release's
    would: upgrading to it over a locally modified rld.toml is dpkg's conffile conflict."""
    root = tmp_path / "root"
    run("dpkg-deb", "--raw-extract", deb, root)
    control = (root / "DEBIAN" / "control").read_text()
    old = field("Version")
    (root / "DEBIAN" / "control").write_text(control.replace(f"Version: {old}\n",
                                                             f"Version: {version}\n"))
    toml = root / "etc" / "rld" / "rld.toml"
    toml.write_text(toml.read_text() + "# changed by a later release\n")
    lines = []
    for line in (root / "DEBIAN" / "md5sums").read_text().splitlines():
        digest, path = line.split(None, 1)
        if path == "etc/rld/rld.toml":
            digest = run("md5sum", toml).stdout.split()[0]
        lines.append(f"{digest}  {path}")
    (root / "DEBIAN" / "md5sums").write_text("\n".join(lines) + "\n")
    out = tmp_path / f"rl_{version}.deb"
    run("dpkg-deb", "--root-owner-group", "-Zgzip", "-z1", "--build", root, out)
    return out


def test_reinstall_and_upgrade_keep_a_modified_conffile(installed, tmp_path):
    conf = Path("/etc/rld/rld.toml")
    local = conf.read_text().replace('level = "info"', 'level = "warn"  # local change')
    assert local != conf.read_text()
    conf.write_text(local)
    # The same package again, in place.
    run("dpkg", "-i", "--force-confold", installed)
    assert conf.read_text() == local
    assert package_status() == "install ok installed"
    # A newer package whose rld.toml changed too: --force-confold keeps ours and puts the
    # package's next to it.
    newer = repack_with_changed_conffile(installed, tmp_path, field("Version") + "+pkgtest1")
    run("dpkg", "-i", "--force-confold", newer)
    assert conf.read_text() == local
    dist = Path("/etc/rld/rld.toml.dpkg-dist")
    assert dist.read_text().endswith("# changed by a later release\n")
    assert run("dpkg-query", "-W", "-f=${Version}", "rl").stdout.endswith("+pkgtest1")
    # The upgrade kept the user, the permissions and the enablement; the config still passes.
    st = conf.stat()
    assert (st.st_uid, grp.getgrgid(st.st_gid).gr_name, st.st_mode & 0o777) == (0, "rld", 0o640)
    assert ENABLE_LINK.is_symlink()
    run("/usr/bin/rld", "--check-config", "--config", conf)


def test_purge_removes_everything_but_the_user(installed):
    """Last: purges the shared installation."""
    run("dpkg", "--purge", "rl")
    assert package_status() == ""
    for path in FILES:
        assert not Path(path).exists(), path
    assert not Path("/etc/rld").exists(), list(Path("/etc/rld").iterdir())
    assert not Path("/usr/share/doc/rl").exists()
    assert not ENABLE_LINK.is_symlink()
    assert run("dpkg-statoverride", "--list", "/etc/rld/*", check=False).stdout == ""
    assert user_exists()  # kept on purge, as Debian packages do

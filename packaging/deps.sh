#!/bin/sh
# Installs the Debian 12 packages rl needs to build and test, and only those that are missing,
# so that `make run` and `make test` work on a fresh machine and cost nothing on a prepared one.
# Usage: packaging/deps.sh [build|package|test|fuzz|bench]   (default: test: build, package, test)
set -eu

build_pkgs="g++ make cmake ninja-build pkg-config libuv1-dev libhiredis-dev node-llhttp \
nlohmann-json3-dev libtomlplusplus-dev libcli11-dev doctest-dev libssl-dev libsystemd-dev"
# help2man and dpkg-dev: `make package` (man pages, cpack -G DEB with dpkg-shlibdeps).
package_pkgs="help2man dpkg-dev"
# systemd: systemd-analyze verify in the package test; python3-yaml: the proxy example checks.
test_pkgs="python3 python3-pytest python3-yaml curl redis-server redis-tools haproxy nginx systemd \
$package_pkgs"

# clang with its libFuzzer, ASan and UBSan runtimes: `make fuzz`.
fuzz_pkgs="clang libclang-rt-14-dev"

# bench/run: the load generator and the peers' servers (node and npm are checked by bench/run
# itself: a Node from elsewhere must not be replaced by Debian's).
bench_pkgs="wrk curl redis-server redis-tools nginx python3-fastapi python3-uvicorn python3-redis \
python3-uvloop python3-httptools"

case "${1:-test}" in
  build) wanted="$build_pkgs" ;;
  package) wanted="$build_pkgs $package_pkgs" ;;
  test) wanted="$build_pkgs $test_pkgs" ;;
  fuzz) wanted="$build_pkgs $fuzz_pkgs" ;;
  bench) wanted="$build_pkgs $bench_pkgs" ;;
  *) echo "usage: $0 [build|package|test|fuzz|bench]" >&2; exit 2 ;;
esac

missing=""
for pkg in $wanted; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  case "$status" in
    *"install ok installed"*) ;;
    *) missing="$missing $pkg" ;;
  esac
done
[ -z "$missing" ] && exit 0

echo "deps: installing$missing" >&2
if [ "$(id -u)" -eq 0 ]; then
  sudo=""
elif command -v sudo >/dev/null 2>&1; then
  sudo="sudo"
else
  echo "deps: missing packages:$missing; run this script as root to install them" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null

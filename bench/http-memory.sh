#!/usr/bin/env bash
# Throughput and latency of rld's /test on the in-memory store, measured with wrk over
# keep-alive connections, plus rld's RSS before and after. Everything runs on 127.0.0.1 and
# stops by itself. Usage: bench/http-memory.sh   (knobs: DURATION=10s CONNS="50" THREADS=2
# WORKERS=1, rld's event loops)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rld=${RLD_BIN:-$root/build/apps/rld/rld}
duration=${DURATION:-10s}
conns=${CONNS:-50}
threads=${THREADS:-2}
workers=${WORKERS:-1}
out_dir=$root/bench/results
mkdir -p "$out_dir"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
[ -x "$rld" ] || { echo "no rld at $rld: run make build" >&2; exit 1; }

work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
# A tier with a limit no load test reaches, so every request measures an allowed decision
# (the peers in ../shared/peers do the same with their enterprise tier).
cat >"$work/tiers.json" <<'JSON'
{"tiers": {"bench": {"base_limit": 1000000000, "burst_limit": 1000000000,
                     "degraded_limit": 1000000000, "window_seconds": 60},
           "free": {"base_limit": 10, "burst_limit": 20, "degraded_limit": 2, "window_seconds": 60}},
 "users": {"bench_user": "bench", "free_user": "free"},
 "api_keys": {"bench_key_0000": "bench_user", "demo_free_key_123": "free_user"}}
JSON
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$rld" --listen "127.0.0.1:$port" --tiers "$work/tiers.json" --workers "$workers" --log-level warn 2>"$work/rld.log" &
pid=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done

rss() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }
echo "rld $("$rld" --version | cut -d' ' -f2-) pid $pid, RSS at start: $(rss) kB"

# 10,000 sequential keep-alive requests, then RSS.
python3 - "$port" <<'PY'
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
for _ in range(10000):
    c.request("GET", "/test", headers={"X-API-Key": "bench_key_0000"})
    r = c.getresponse(); r.read()
    assert r.status == 200, r.status
PY
echo "RSS after 10,000 requests: $(rss) kB"

for path_key in "allowed:bench_key_0000" "limited:demo_free_key_123"; do
  label=${path_key%%:*}; key=${path_key#*:}
  for c in $conns; do
    wrk -t"$threads" -c"$c" -d"$duration" --latency -H "X-API-Key: $key" \
      "http://127.0.0.1:$port/test" >"$work/wrk.txt"
    rps=$(awk '/^Requests\/sec/ {print $2}' "$work/wrk.txt")
    p50=$(awk '$1=="50%" {print $2}' "$work/wrk.txt")
    p99=$(awk '$1=="99%" {print $2}' "$work/wrk.txt")
    non2xx=$(awk '/Non-2xx/ {print $5}' "$work/wrk.txt")
    line="memory store /test $label c=$c t=$threads workers=$workers $duration: $rps req/s, p50 $p50, p99 $p99, non-2xx ${non2xx:-0}, RSS $(rss) kB"
    echo "$line"
    echo "$(date -u +%FT%TZ) $line" >>"$out_dir/http-memory.txt"
  done
done

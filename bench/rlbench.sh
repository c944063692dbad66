#!/usr/bin/env bash
# rlbench load against rld on the memory store and on the Redis store (a private
# redis-server), closed loop on /check with one key that never runs out, then an open-loop
# run at a fixed rate to show latency without coordinated omission, then `rlbench verify` on
# each. Appends the figures to bench/results/rlbench.txt. Everything stops by itself.
# Knobs: DURATION=10 (s) CONCURRENT=50 RATE=20000 (open loop, req/s)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rld=${RLD_BIN:-$root/build/apps/rld/rld}
rlbench=${RLBENCH_BIN:-$root/build/apps/rlbench/rlbench}
duration=${DURATION:-10}
concurrent=${CONCURRENT:-50}
rate=${RATE:-20000}
out=$root/bench/results/rlbench.txt
mkdir -p "$(dirname "$out")"
for tool in redis-server redis-cli curl python3; do
  command -v "$tool" >/dev/null || { echo "$tool is missing" >&2; exit 1; }
done
for bin in "$rld" "$rlbench"; do
  [ -x "$bin" ] || { echo "no $bin: run make build" >&2; exit 1; }
done

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
admin_key=bench-admin-key-0123456789

# The demo tiers for verify, plus one tier that never runs out for the load runs.
python3 - "$root/config/rate_limits.json" >"$work/tiers.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
doc["tiers"]["bench"] = {"base_limit": 1000000000, "burst_limit": 1000000000,
                         "degraded_limit": 1000000000, "window_seconds": 60}
doc["users"]["bench_user"] = "bench"
doc["api_keys"]["bench_key_0000"] = "bench_user"
json.dump(doc, sys.stdout)
PY

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
  --loglevel warning >"$work/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done

# start_rld NAME ARGS...: an rld on a free port and a socket in $work; sets $port.
start_rld() {
  local name=$1; shift
  port=$(free_port)
  ADMIN_API_KEY=$admin_key "$rld" --listen "127.0.0.1:$port" --listen "unix:$work/$name.sock" \
    --tiers "$work/tiers.json" --log-level warn "$@" 2>"$work/$name.log" &
  pids+=($!)
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/ready" >/dev/null && break; sleep 0.1; done
  curl -sf "http://127.0.0.1:$port/ready" >/dev/null || { cat "$work/$name.log"; exit 1; }
}

stamp=$(date -u +%FT%TZ)
record() { echo "$1"; echo "$stamp $1" >>"$out"; }
summary() {  # the load report's JSON → one line
  python3 -c '
import json, sys
d = json.load(sys.stdin)
l = d["latency_ms"]
print("%.0f req/s, %d requests, errors %d, status %s, p50 %s ms, p90 %s ms, p99 %s ms, "
      "p99.9 %s ms, max %s ms" % (d["rps"], d["requests"], d["errors"], json.dumps(d["status"]),
                                  l["p50"], l["p90"], l["p99"], l["p999"], l["max"]))'
}

for store in memory redis; do
  if [ "$store" = memory ]; then start_rld memory --store memory
  else start_rld redis --store redis --redis "redis://127.0.0.1:$redis_port/0"; fi
  target="http://127.0.0.1:$port"
  r=$("$rlbench" load --target "$target" --concurrent "$concurrent" --duration "$duration" \
      --key bench_key_0000 --path /check --json | summary)
  record "rlbench load $store store /check closed loop c=$concurrent ${duration}s: $r"
  r=$("$rlbench" load --target "$target" --concurrent "$concurrent" --duration "$duration" \
      --rate "$rate" --key bench_key_0000 --path /check --json | summary)
  record "rlbench load $store store /check open loop $rate req/s c=$concurrent ${duration}s: $r"
  started=$(date +%s.%N)
  if "$rlbench" verify --target "unix:$work/$store.sock" --admin-key "$admin_key" \
      --tiers free,pro,enterprise >"$work/verify.txt"; then
    verdict=passed
  else
    verdict=FAILED
  fi
  took=$(python3 -c "import time; print(f'{time.time() - $started:.2f}')")
  cat "$work/verify.txt"
  record "rlbench verify $store store: $verdict ($(($(wc -l <"$work/verify.txt") - 1)) scenarios, ${took}s)"
done

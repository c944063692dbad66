#!/usr/bin/env bash
# rld on one Redis against rld on a 3-master Redis Cluster (no replicas: the benchmark is about
# spreading the decisions, not about failover): wrk -t2 -c50 keep-alive on /check, each request
# with one of 64 API keys at random, so the users' counters land on every master. All servers
# are private, on 127.0.0.1, and stop by themselves. Each line gives req/s, latency and the CPU
# time every process spent per request; a run where any decision was made without Redis is
# marked INVALID. Knobs: DURATION=10s CONNS=50 THREADS=2 WORKERS=1 TIMEOUT_MS=50 USERS=64
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rld=${RLD_BIN:-$root/build/apps/rld/rld}
duration=${DURATION:-10s}
conns=${CONNS:-50}
threads=${THREADS:-2}
workers=${WORKERS:-1}
timeout_ms=${TIMEOUT_MS:-50}
users=${USERS:-64}
out_dir=$root/bench/results
mkdir -p "$out_dir"
# shellcheck source=bench/common.sh
. "$root/bench/common.sh"
require wrk redis-server redis-cli

# Redis servers: one standalone, three cluster masters. Ports below the ephemeral range, so
# the cluster bus port (port + 10000) is free too.
start_redis() {  # dir port [extra args...]
  local dir=$1 port=$2; shift 2
  mkdir -p "$dir"
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
    --loglevel warning "$@" >"$dir/redis.log" 2>&1 &
  pids+=($!)
  echo $! >"$dir/pid"
  for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && return; sleep 0.1; done
  echo "redis on $port did not start" >&2; exit 1
}
base=$((20000 + RANDOM % 8000))
single_port=$base
start_redis "$work/single" "$single_port"
cluster_ports=($((base + 1)) $((base + 2)) $((base + 3)))
for p in "${cluster_ports[@]}"; do
  start_redis "$work/c$p" "$p" --cluster-enabled yes --cluster-config-file nodes.conf \
    --cluster-node-timeout 2000
done
redis-cli --cluster create $(printf '127.0.0.1:%s ' "${cluster_ports[@]}") --cluster-replicas 0 \
  --cluster-yes >"$work/create.log" 2>&1
for _ in $(seq 100); do
  ok=1
  for p in "${cluster_ports[@]}"; do
    redis-cli -p "$p" cluster info | grep -q 'cluster_state:ok' || ok=0
  done
  [ $ok = 1 ] && break
  sleep 0.1
done

# One tier with a limit no run reaches; $users users, one key each.
python3 - "$users" >"$work/tiers.json" <<'PY'
import json, sys
n = int(sys.argv[1])
print(json.dumps({
    "tiers": {"bench": {"base_limit": 10**9, "burst_limit": 10**9, "degraded_limit": 10**9,
                        "window_seconds": 60}},
    "users": {f"bench_user_{i:03d}": "bench" for i in range(n)},
    "api_keys": {f"bench_key_{i:03d}_0000": f"bench_user_{i:03d}" for i in range(n)}}))
PY
cat >"$work/keys.lua" <<LUA
local n = $users
request = function()
  local i = math.random(0, n - 1)
  return wrk.format("GET", "/check", {["X-API-Key"] = string.format("bench_key_%03d_0000", i)})
end
LUA

stamp=$(date -u +%FT%TZ)
run() {  # label url redis-pids...
  local label=$1 url=$2; shift 2
  local port; port=$(free_port)
  printf '[redis]\ntimeout_ms = %d\n' "$timeout_ms" >"$work/rld.toml"
  "$rld" --config "$work/rld.toml" --listen "127.0.0.1:$port" --tiers "$work/tiers.json" \
    --store redis --redis "$url" --workers "$workers" --log-level warn 2>"$work/rld-$label.log" &
  local rld_pid=$!
  pids+=($rld_pid)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/ready" >/dev/null && break; sleep 0.1; done
  curl -sf "http://127.0.0.1:$port/ready" >/dev/null || { cat "$work/rld-$label.log"; exit 1; }
  wrk -t"$threads" -c"$conns" -d2s -s "$work/keys.lua" "http://127.0.0.1:$port/check" >/dev/null
  local redis_before=0 p
  for p in "$@"; do redis_before=$((redis_before + $(cpu_us "$p"))); done
  local rld_before; rld_before=$(cpu_us "$rld_pid")
  { time -p wrk -t"$threads" -c"$conns" -d"$duration" --latency -s "$work/keys.lua" \
      "http://127.0.0.1:$port/check" >"$work/wrk.txt"; } 2>"$work/time.txt"
  local rld_cpu=$(($(cpu_us "$rld_pid") - rld_before))
  local redis_cpu=0
  for p in "$@"; do redis_cpu=$((redis_cpu + $(cpu_us "$p"))); done
  redis_cpu=$((redis_cpu - redis_before))
  local wrk_cpu; wrk_cpu=$(awk '/^user|^sys/ {s += $2} END {printf "%d", s * 1000000}' "$work/time.txt")
  local rps p50 p99 n non2xx fallbacks
  rps=$(awk '/^Requests\/sec/ {print $2}' "$work/wrk.txt")
  p50=$(awk '$1=="50%" {print $2}' "$work/wrk.txt")
  p99=$(awk '$1=="99%" {print $2}' "$work/wrk.txt")
  n=$(awk '/requests in/ {print $1}' "$work/wrk.txt")
  non2xx=$(awk '/Non-2xx/ {print $5}' "$work/wrk.txt")
  fallbacks=$(curl -sf "http://127.0.0.1:$port/metrics" |
    awk 'index($0, "rl_store_fallback_total") == 1 {s += $NF} END {printf "%d", s}')
  local line="rld /check on $label, $users users, c=$conns $duration workers=$workers timeout_ms=$timeout_ms: $rps req/s, p50 $p50, p99 $p99, non-2xx ${non2xx:-0}, decided without Redis $fallbacks; CPU us/request: rld $(per_request "$rld_cpu" "$n"), redis (all nodes) $(per_request "$redis_cpu" "$n"), wrk $(per_request "$wrk_cpu" "$n")"
  [ "$fallbacks" -ne 0 ] && line="$line (INVALID: not all from Redis)"
  echo "$line"; echo "$stamp $line" >>"$out_dir/cluster.txt"
  kill "$rld_pid"; wait "$rld_pid" 2>/dev/null || true
}
run "one Redis" "redis://127.0.0.1:$single_port/0" "$(cat "$work/single/pid")"
cluster_pids=()
for p in "${cluster_ports[@]}"; do cluster_pids+=("$(cat "$work/c$p/pid")"); done
run "a 3-master cluster" "redis+cluster://127.0.0.1:${cluster_ports[0]},127.0.0.1:${cluster_ports[1]}" \
  "${cluster_pids[@]}"
for p in "${cluster_ports[@]}"; do
  echo "  keys on 127.0.0.1:$p: $(redis-cli -p "$p" dbsize)"
done

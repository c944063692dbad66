#!/usr/bin/env bash
# rld on the Redis store against what Redis itself allows: wrk on /check (keep-alive, 50
# connections, one worker) beside `redis-benchmark -n 200000 -c 50 EVALSHA` of rld's own
# sliding-window script on the same key shape. Both on a private redis-server on 127.0.0.1.
# A run where any decision was made without Redis (a missed deadline, the breaker open) is
# reported as invalid and the script exits 1: such figures would not be Redis-backed.
# Throughput on this shared 2-vCPU machine swings by a quarter between identical runs, so each
# line also gives the CPU time every process spent per request (from /proc and bash's `time`),
# which is steady: it shows where the cores go.
# Everything stops by itself. Knobs: DURATION=10s CONNS=50 THREADS=2 PATHS="/check /test"
# TIMEOUT_MS=5 (redis.timeout_ms: a stall of the VM longer than this opens the breaker, and the
# run is then INVALID; 50 measures Redis-backed throughput on a noisy host) WORKERS=1.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rld=${RLD_BIN:-$root/build/apps/rld/rld}
duration=${DURATION:-10s}
conns=${CONNS:-50}
threads=${THREADS:-2}
paths=${PATHS:-/check}
timeout_ms=${TIMEOUT_MS:-5}
workers=${WORKERS:-1}
out_dir=$root/bench/results
mkdir -p "$out_dir"
# shellcheck source=bench/common.sh
. "$root/bench/common.sh"
require wrk redis-server redis-benchmark redis-cli

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
  --loglevel warning >"$work/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done

cat >"$work/tiers.json" <<'JSON'
{"tiers": {"bench": {"base_limit": 1000000000, "burst_limit": 1000000000,
                     "degraded_limit": 1000000000, "window_seconds": 60}},
 "users": {"bench_user": "bench"},
 "api_keys": {"bench_key_0000": "bench_user"}}
JSON
port=$(free_port)
printf '[redis]\ntimeout_ms = %d\n' "$timeout_ms" >"$work/rld.toml"
"$rld" --config "$work/rld.toml" --listen "127.0.0.1:$port" --tiers "$work/tiers.json" --store redis \
  --redis "redis://127.0.0.1:$redis_port/0" --workers "$workers" --log-level warn 2>"$work/rld.log" &
pids+=($!)
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/ready" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$port/ready" >/dev/null || { cat "$work/rld.log"; exit 1; }

# Decisions made without Redis so far (local/allow/deny fallbacks) and Redis errors.
sum_metric() {
  curl -sf "http://127.0.0.1:$port/metrics" |
    awk -v m="$1" 'index($0, m) == 1 && $0 !~ /^#/ {s += $NF} END {printf "%d", s}'
}
# bash's `time` of a command (the command's stdout to $1): its user+sys CPU in microseconds.
timed() {
  local out=$1; shift
  local TIMEFORMAT='%U %S'
  { time "$@" >"$out" 2>/dev/null; } 2>"$work/time.txt"
  awk '{printf "%d", ($1 + $2) * 1000000}' "$work/time.txt"
}
rld_pid=${pids[1]}
redis_pid=${pids[0]}
stamp=$(date -u +%FT%TZ)
invalid=0
for path in $paths; do
  fallback_before=$(sum_metric rl_store_fallback_total)
  rld_cpu=$(cpu_us "$rld_pid") redis_cpu=$(cpu_us "$redis_pid")
  wrk_cpu=$(timed "$work/wrk.txt" wrk -t"$threads" -c"$conns" -d"$duration" --latency \
    -H "X-API-Key: bench_key_0000" "http://127.0.0.1:$port$path")
  rld_cpu=$(( $(cpu_us "$rld_pid") - rld_cpu )) redis_cpu=$(( $(cpu_us "$redis_pid") - redis_cpu ))
  n=$(awk '/requests in/ {print $1}' "$work/wrk.txt")
  rps=$(awk '/^Requests\/sec/ {print $2}' "$work/wrk.txt")
  p50=$(awk '$1=="50%" {print $2}' "$work/wrk.txt")
  p99=$(awk '$1=="99%" {print $2}' "$work/wrk.txt")
  non2xx=$(awk '/Non-2xx/ {print $5}' "$work/wrk.txt")
  fallbacks=$(( $(sum_metric rl_store_fallback_total) - fallback_before ))
  line="rld redis store $path c=$conns $duration timeout_ms=$timeout_ms workers=$workers: $rps req/s, p50 $p50, p99 $p99, non-2xx ${non2xx:-0}, decided without Redis $fallbacks; CPU us/request: rld $(per_request "$rld_cpu" "$n"), redis $(per_request "$redis_cpu" "$n"), wrk $(per_request "$wrk_cpu" "$n")"
  if [ "$fallbacks" -ne 0 ]; then line="$line (INVALID: not all from Redis)"; invalid=1; fi
  echo "$line"; echo "$stamp $line" >>"$out_dir/http-redis.txt"
done

# The same script rld runs, straight from redis-benchmark.
script=$(cat "$root/lua/prelude.lua"; echo; cat "$root/lua/sliding_window.lua")
sha=$(redis-cli -p "$redis_port" SCRIPT LOAD "$script")
redis_cpu=$(cpu_us "$redis_pid")
rb_cpu=$(timed "$work/rb.txt" redis-benchmark -p "$redis_port" -n 200000 -c "$conns" --csv \
  EVALSHA "$sha" 1 'rl:c:{bench_user}:sw:60' 1000000000 60000 1)
redis_cpu=$(( $(cpu_us "$redis_pid") - redis_cpu ))
rb=$(awk -F'","' 'NR>1 {gsub(/"/,"",$2); print $2}' "$work/rb.txt" | head -1)
p50=$(awk -F'","' 'NR>1 {gsub(/"/,"",$6); print $6}' "$work/rb.txt" | head -1)
p99=$(awk -F'","' 'NR>1 {gsub(/"/,"",$8); print $8}' "$work/rb.txt" | head -1)
line="redis-benchmark EVALSHA sliding_window c=$conns n=200000: $rb req/s, p50 ${p50}ms, p99 ${p99}ms; CPU us/request: redis $(per_request "$redis_cpu" 200000), redis-benchmark $(per_request "$rb_cpu" 200000)"
echo "$line"; echo "$stamp $line" >>"$out_dir/http-redis.txt"
exit $invalid

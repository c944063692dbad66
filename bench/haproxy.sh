#!/usr/bin/env bash
# rld scaled out behind HAProxy: the shipped packaging/haproxy/haproxy.cfg (run as it is, its
# addresses from the environment) in front of 2 and then 3 rld on one private redis-server,
# each rld with the shipped packaging/haproxy/rld.toml; wrk on /test (keep-alive, 50
# connections) with a key whose tier never runs out, so every answer is a Redis-backed 200.
# First the same wrk straight at one rld, for comparison.
# A run where any decision was made without Redis (a missed deadline, a breaker open) is
# reported as INVALID and the script exits 1: such figures would not be Redis-backed.
# Everything here shares the machine's cores (2 on the CI VM): HAProxy, every rld, Redis and
# wrk. Throughput swings between identical runs; the CPU time each process spent per request
# (from /proc, and bash's `time` for wrk) is steady and shows where the cores go.
# Everything stops by itself. Knobs: DURATION=10s CONNS=50 THREADS=2 COUNTS="2 3" WORKERS=1
# (rld --workers) TIMEOUT_MS=50 (redis.timeout_ms: 5, the default, is missed by a VM this
# crowded and the run is then INVALID).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rld=${RLD_BIN:-$root/build/apps/rld/rld}
haproxy=${HAPROXY_BIN:-/usr/sbin/haproxy}
cfg=$root/packaging/haproxy/haproxy.cfg
duration=${DURATION:-10s}
conns=${CONNS:-50}
threads=${THREADS:-2}
counts=${COUNTS:-2 3}
workers=${WORKERS:-1}
timeout_ms=${TIMEOUT_MS:-50}
out_dir=$root/bench/results
mkdir -p "$out_dir"
# shellcheck source=bench/common.sh
. "$root/bench/common.sh"
require wrk redis-server redis-cli curl python3 "$haproxy"

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
  --loglevel warning >"$work/redis.log" 2>&1 &
pids+=($!)
redis_pid=$!
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done

cat >"$work/tiers.json" <<'JSON'
{"tiers": {"bench": {"base_limit": 1000000000, "burst_limit": 1000000000,
                     "degraded_limit": 1000000000, "window_seconds": 60}},
 "users": {"bench_user": "bench"},
 "api_keys": {"bench_key_0000": "bench_user"}}
JSON
# The shipped rld.toml with this run's Redis deadline; listen, Redis URL and tier file are flags.
awk -v t="$timeout_ms" '{print} /^\[redis\]/ {print "timeout_ms = " t}' \
  "$root/packaging/haproxy/rld.toml" >"$work/rld.toml"

rld_ports=() rld_pids=()
for i in 1 2 3; do
  port=$(free_port)
  "$rld" --config "$work/rld.toml" --listen "127.0.0.1:$port" --tiers "$work/tiers.json" \
    --store redis --redis "redis://127.0.0.1:$redis_port/0" --workers "$workers" \
    --log-level warn 2>"$work/rld$i.log" &
  pids+=($!)
  rld_pids+=($!) rld_ports+=("$port")
done
for i in 0 1 2; do
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:${rld_ports[$i]}/ready" >/dev/null && break; sleep 0.1; done
  curl -sf "http://127.0.0.1:${rld_ports[$i]}/ready" >/dev/null || { cat "$work/rld$((i + 1)).log"; exit 1; }
done

# Decisions made without Redis so far (local/allow/deny fallbacks), over every rld.
fallbacks() {
  local sum=0 port
  for port in "${rld_ports[@]}"; do
    sum=$((sum + $(curl -sf "http://127.0.0.1:$port/metrics" |
      awk 'index($0, "rl_store_fallback_total") == 1 {s += $NF} END {printf "%d", s}')))
  done
  echo "$sum"
}
# bash's `time` of a command (the command's stdout to $1): its user+sys CPU in microseconds.
timed() {
  local out=$1; shift
  local TIMEFORMAT='%U %S'
  { time "$@" >"$out" 2>/dev/null; } 2>"$work/time.txt"
  awk '{printf "%d", ($1 + $2) * 1000000}' "$work/time.txt"
}
# One command on HAProxy's runtime API socket; its answer on stdout.
hap_cmd() {
  python3 - "$work/haproxy.sock" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
data = b""
while chunk := s.recv(65536):
    data += chunk
print(data.decode(), end="")
PY
}
# How many servers of backend rld are UP after a passed check.
servers_up() {
  hap_cmd "show stat" 2>/dev/null |
    awk -F, '$1 == "rld" && $2 ~ /^rld[0-9]$/ && $18 == "UP" && $37 ~ /L7OK/ {n++} END {print n + 0}'
}

# The cfg's chroot and user need root; without them HAProxy runs the same.
[ "$(id -u)" -eq 0 ] || export RL_HAPROXY_NO_CHROOT=1

stamp=$(date -u +%FT%TZ)
invalid=0
# wrk at $1 (a URL); prints the summary line's figures and fills wrk_cpu/n.
run_wrk() {
  wrk_cpu=$(timed "$work/wrk.txt" wrk -t"$threads" -c"$conns" -d"$duration" --latency \
    -H "X-API-Key: bench_key_0000" "$1")
  n=$(awk '/requests in/ {print $1}' "$work/wrk.txt")
  rps=$(awk '/^Requests\/sec/ {print $2}' "$work/wrk.txt")
  p50=$(awk '$1=="50%" {print $2}' "$work/wrk.txt")
  p99=$(awk '$1=="99%" {print $2}' "$work/wrk.txt")
  non2xx=$(awk '/Non-2xx/ {print $5}' "$work/wrk.txt")
}
report() {
  local line=$1 fallback_count=$2
  line="$line, decided without Redis $fallback_count"
  if [ "$fallback_count" -ne 0 ]; then line="$line (INVALID: not all from Redis)"; invalid=1; fi
  echo "$line"; echo "$stamp $line" >>"$out_dir/haproxy.txt"
}
settings="/test c=$conns $duration timeout_ms=$timeout_ms workers=$workers"

# Straight at one rld.
fallback_before=$(fallbacks)
rld_cpu=$(cpu_us "${rld_pids[0]}") redis_cpu=$(cpu_us "$redis_pid")
run_wrk "http://127.0.0.1:${rld_ports[0]}/test"
rld_cpu=$(( $(cpu_us "${rld_pids[0]}") - rld_cpu )) redis_cpu=$(( $(cpu_us "$redis_pid") - redis_cpu ))
report "direct, 1 rld $settings: $rps req/s, p50 $p50, p99 $p99, non-2xx ${non2xx:-0}; CPU us/request: rld $(per_request "$rld_cpu" "$n"), redis $(per_request "$redis_cpu" "$n"), wrk $(per_request "$wrk_cpu" "$n")" \
  $(( $(fallbacks) - fallback_before ))

for count in $counts; do
  front=$(free_port)
  # Server lines past `count` point at a port with nothing behind it and are put in
  # maintenance before any request: HAProxy sends nothing there.
  env RL_HAPROXY_BIND="127.0.0.1:$front" RL_HAPROXY_STATS_BIND="127.0.0.1:$(free_port)" \
    RL_HAPROXY_SOCKET="$work/haproxy.sock" \
    RL_RLD1="127.0.0.1:${rld_ports[0]}" RL_RLD2="127.0.0.1:${rld_ports[1]}" \
    RL_RLD3="127.0.0.1:$([ "$count" -ge 3 ] && echo "${rld_ports[2]}" || free_port)" \
    "$haproxy" -f "$cfg" -db >"$work/haproxy.log" 2>&1 &
  hap_pid=$!
  pids+=("$hap_pid")
  for _ in $(seq 50); do [ -S "$work/haproxy.sock" ] && hap_cmd "show info" >/dev/null 2>&1 && break; sleep 0.1; done
  if [ "$count" -lt 3 ]; then
    for backend in rld rld_live; do hap_cmd "set server $backend/rld3 state maint" >/dev/null; done
  fi
  for _ in $(seq 100); do [ "$(servers_up)" -eq "$count" ] && break; sleep 0.1; done
  [ "$(servers_up)" -eq "$count" ] || { cat "$work/haproxy.log"; hap_cmd "show stat"; exit 1; }

  fallback_before=$(fallbacks)
  hap_cpu=$(cpu_us "$hap_pid") redis_cpu=$(cpu_us "$redis_pid")
  rld_cpu=()
  for i in $(seq 0 $((count - 1))); do rld_cpu+=("$(cpu_us "${rld_pids[$i]}")"); done
  run_wrk "http://127.0.0.1:$front/test"
  hap_cpu=$(( $(cpu_us "$hap_pid") - hap_cpu )) redis_cpu=$(( $(cpu_us "$redis_pid") - redis_cpu ))
  rld_part="" rld_total=0
  for i in $(seq 0 $((count - 1))); do
    used=$(( $(cpu_us "${rld_pids[$i]}") - rld_cpu[i] ))
    rld_total=$((rld_total + used))
    rld_part="$rld_part rld$((i + 1)) $(per_request "$used" "$n"),"
  done
  report "haproxy, $count rld $settings: $rps req/s, p50 $p50, p99 $p99, non-2xx ${non2xx:-0}; CPU us/request: haproxy $(per_request "$hap_cpu" "$n"),$rld_part rld total $(per_request "$rld_total" "$n"), redis $(per_request "$redis_cpu" "$n"), wrk $(per_request "$wrk_cpu" "$n")" \
    $(( $(fallbacks) - fallback_before ))
  kill -USR1 "$hap_pid"
  wait "$hap_pid" || true
  rm -f "$work/haproxy.sock"
done
exit $invalid

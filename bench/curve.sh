#!/usr/bin/env bash
# rld's cost curve on the Redis store: how throughput and latency move as the number of active
# API keys and of client connections grows, and the tail latency at half the maximum rate.
# Everything runs on 127.0.0.1 with free ports and temp dirs and stops by itself (about 3-4
# minutes on 2 cores with the defaults).
#   - a private redis-server (--save "" --appendonly no); rld with [store] type = "redis",
#     redis.timeout_ms = 50, log level warn, workers = rld's default (one per core);
#   - a tier file with one tier `bench` whose limits are never reached (1e9 per 60 s, default
#     algorithm) and NKEYS users bench_user_NNNNN, each with the API key bench_key_NNNNN;
#   - every point: a closed-loop warm-up over the same keys (WARM_PASSES requests per key, so
#     it exists in Redis and in each worker's caches, then WARMUP s on the same connections), then
#     `rlbench load --duration DURATION` with a keys file of the first K keys, used in turn.
#  1. keys curve, CONNS_AT_KEYS (50) connections: K = KEYS ("1 10 100 1000 10000")
#  2. connections curve, KEYS_AT_CONNS (1000) keys: CONNS ("50 200 1000") connections
#  3. open loop at half the maximum rate: the highest closed-loop req/s at 1000 keys and 50
#     connections (steps 1 and 2 and a fresh re-measure just before), halved, sent with
#     `rlbench load --rate` over HALF_CONNS (50) connections for DURATION s; latency counts
#     from each request's due time (no coordinated omission). Target: p99 < 2 ms (PASS/FAIL).
#  4. contrast: the keys curve on the memory store (no Redis), K = MEMORY_KEYS.
# Per point: req/s, p50/p99/p99.9 (ms), non-200 answers (other statuses + transport errors);
# from rld's /metrics (deltas over the run): decisions made without Redis
# (rl_store_fallback_total), failed Redis calls (rl_redis_errors_total), Redis commands per
# request, mean Redis command time and mean decision time as rld sees them; CPU µs per request
# of rld, redis-server and rlbench (from /proc) and the machine's busy and stolen CPU (this
# box's throughput swings with the hypervisor's steal). Below the table: Redis calls per
# request by command (INFO commandstats; a cold identity cache shows as HGETALL) and the
# trouble counters that moved (Redis timeouts, fallbacks, rejected connections ...), by name.
# Prints a table (one line per point) and appends it with a dated header to
# bench/results/curve.txt.
# Usage: bench/curve.sh
# Knobs: DURATION=5 (s per point) WARMUP=1 (s) WARM_PASSES=4 NKEYS=10000 KEYS="1 10 100 1000 10000"
#   CONNS_AT_KEYS=50 CONNS="50 200 1000" KEYS_AT_CONNS=1000 HALF=1 (0: skip step 3)
#   HALF_CONNS=50 MEMORY_KEYS="1 10 100 1000 10000" TIMEOUT_MS=50 RLD_BIN RLBENCH_BIN.
#   KEYS, CONNS or MEMORY_KEYS set to "" skips that part, e.g. to re-run one point:
#   KEYS=10000 CONNS= HALF=0 MEMORY_KEYS= bench/curve.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rld=${RLD_BIN:-$root/build/apps/rld/rld}
rlbench=${RLBENCH_BIN:-$root/build/apps/rlbench/rlbench}
duration=${DURATION:-5}
warmup=${WARMUP:-1}
warm_passes=${WARM_PASSES:-4}
nkeys=${NKEYS:-10000}
keys_list=${KEYS-"1 10 100 1000 10000"}
conns_at_keys=${CONNS_AT_KEYS:-50}
conns_list=${CONNS-"50 200 1000"}
keys_at_conns=${KEYS_AT_CONNS:-1000}
half=${HALF:-1}
half_conns=${HALF_CONNS:-50}
memory_keys=${MEMORY_KEYS-"1 10 100 1000 10000"}
timeout_ms=${TIMEOUT_MS:-50}
target_p99_ms=2
out_dir=$root/bench/results
mkdir -p "$out_dir"
for tool in python3 curl redis-server redis-cli timeout; do
  command -v "$tool" >/dev/null || { echo "$tool is missing" >&2; exit 1; }
done
for bin in "$rld" "$rlbench"; do
  [ -x "$bin" ] || { echo "no $bin: run make build" >&2; exit 1; }
done
for k in $keys_list $keys_at_conns $memory_keys; do
  [ "$k" -le "$nkeys" ] || { echo "$k keys asked for, the tier file has NKEYS=$nkeys" >&2; exit 1; }
done

# rlbench needs one descriptor per connection; rld raises its own soft limit to the hard one.
max_conns=$conns_at_keys
for c in $conns_list $half_conns; do [ "$c" -gt "$max_conns" ] && max_conns=$c; done
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt $((max_conns + 100)) ]; then
  echo "ulimit -Hn is $hard: $max_conns connections need at least $((max_conns + 100))" >&2; exit 1
fi
[ "$(ulimit -Sn)" = unlimited ] || [ "$(ulimit -Sn)" -ge $((max_conns + 100)) ] || ulimit -Sn "$hard"

. "$root/bench/common.sh"  # work, pids, stop, cleanup, free_port, start_redis, launch_rld
# cpu_ticks PID: user + system time in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
report=$work/report
say() { echo "$*" | tee -a "$report"; }

# start_rld STORE DIR: rld on a free port; sets http_port and rld_pid; returns once /ready
# answers 200 (30 s).
start_rld() {
  local store=$1 dir=$2
  mkdir -p "$dir"
  http_port=$(free_port)
  {
    printf '[server]\nlisten = ["127.0.0.1:%s"]\n' "$http_port"
    printf '[store]\ntype = "%s"\ntiers_file = "%s"\n' "$store" "$work/tiers.json"
    if [ "$store" = redis ]; then
      printf '[redis]\nurl = "redis://127.0.0.1:%s/0"\ntimeout_ms = %s\n' "$redis_port" "$timeout_ms"
    fi
    printf '[log]\nlevel = "warn"\n'
  } >"$dir/rld.toml"
  launch_rld "$dir/rld.toml" "$dir/rld.log"
}

# metrics FILE: rld's /metrics into FILE.
metrics() { curl -sf --max-time 5 "http://127.0.0.1:$http_port/metrics" >"$1"; }

# The tier file and the keys files keys-K.txt (the first K keys).
# shellcheck disable=SC2086  # the lists split into one argument per number
python3 - "$work" "$nkeys" $keys_list $keys_at_conns $memory_keys <<'PY'
import json, sys
work, n, ks = sys.argv[1], int(sys.argv[2]), sorted({int(k) for k in sys.argv[3:]})
tier = {"bench": {"base_limit": 1000000000, "burst_limit": 1000000000,
                  "degraded_limit": 1000000000, "window_seconds": 60}}
json.dump({"tiers": tier,
           "users": {f"bench_user_{i:05}": "bench" for i in range(n)},
           "api_keys": {f"bench_key_{i:05}": f"bench_user_{i:05}" for i in range(n)}},
          open(f"{work}/tiers.json", "w"))
for k in ks:
    with open(f"{work}/keys-{k}.txt", "w") as f:
        f.writelines(f"bench_key_{i:05}\n" for i in range(k))
PY

# The row of one point from rlbench's JSON, two /metrics dumps and CPU tick deltas; trouble
# counters that moved (Redis errors, fallbacks, rejected connections ...) go to $work/notes.
cat >"$work/row.py" <<'PY'
import json, re, sys
(js, m0, m1, store, k, c, rate, rt, dt, bt, hz, label, notes, s0, s1, c0, c1, cmdnotes) = sys.argv[1:]
def parse(path):
    out = {}
    for line in open(path):
        if line.startswith("#") or not line.strip():
            continue
        name, _, value = line.rpartition(" ")
        try:
            out[name] = float(value)
        except ValueError:
            pass
    return out
a, b = parse(m0), parse(m1)
def delta(series):  # summed over every label set
    return sum(v - a.get(n, 0) for n, v in b.items() if n == series or n.startswith(series + "{"))
o = json.load(open(js))
n = max(1, o["requests"])
non200 = sum(v for s, v in o["status"].items() if s != "200") + o["errors"]
us = lambda t: f"{int(t) * 1e6 / int(hz) / n:.1f}"
lat = o["latency_ms"]
cmds = delta("rl_redis_command_duration_seconds_count")
redis_ms = 1e3 * delta("rl_redis_command_duration_seconds_sum") / cmds if cmds else 0
decs = delta("rl_decision_duration_seconds_count")
dec_ms = 1e3 * delta("rl_decision_duration_seconds_sum") / decs if decs else 0
fb, er = delta("rl_store_fallback_total"), delta("rl_redis_errors_total")
# The machine's CPU over the run, from two /proc/stat "cpu" lines: busy and steal, % of all cores.
st0, st1 = ([int(x) for x in open(f).read().split()[1:]] for f in (s0, s1))
d = [y - x for x, y in zip(st0, st1)]
total = max(1, sum(d[:8]))
busy = 100 * (total - d[3] - d[4]) / total
steal = 100 * d[7] / total
print(f"{label:<11} {store:<6} {k:>6} {c:>5} {rate:>6} {o['rps']:>7.0f} {lat['p50']:>6.3f} "
      f"{lat['p99']:>7.3f} {lat['p999']:>7.3f} {non200:>6} {fb:>6.0f} {er:>5.0f} "
      f"{cmds / n:>5.2f} {redis_ms:>6.3f} {dec_ms:>6.3f} {us(rt):>6} "
      f"{us(dt) if store == 'redis' else '-':>6} {us(bt):>6} {busy:>5.0f} {steal:>3.0f}")
# Redis commands per request, by command, from INFO commandstats.
def cmdstats(path):
    out = {}
    for line in open(path):
        m = re.match(r"cmdstat_([^:]+):calls=(\d+)", line)
        if m:
            out[m.group(1)] = int(m.group(2))
    return out
if store == "redis":
    x, y = cmdstats(c0), cmdstats(c1)
    per = {cmd: (v - x.get(cmd, 0)) / n for cmd, v in y.items()
           if cmd not in ("info",) and v - x.get(cmd, 0) > 0}
    with open(cmdnotes, "a") as f:
        f.write(f"{label}: " + ", ".join(f"{cmd} {v:.2f}" for cmd, v in sorted(per.items())) + "\n")
trouble = re.compile(r"^rl_(redis_errors|store_fallback|redis_disconnects|redis_noscript"
                     r"|store_bad_replies|http_connections_rejected|http_timeouts"
                     r"|http_protocol_errors|http_internal_errors|http_accept_paused"
                     r"|health_changes|store_evicted_clients)")
moved = [f"{nm} +{v - a.get(nm, 0):.0f}" for nm, v in sorted(b.items())
         if trouble.match(nm) and v - a.get(nm, 0) > 0]
statuses = {s: v for s, v in o["status"].items() if s != "200"}
if moved or statuses or o["errors"]:
    with open(notes, "a") as f:
        f.write(f"{label} ({store}): " + ", ".join(
            moved + [f"status {s} x{v}" for s, v in statuses.items()] +
            ([f"rlbench errors {o['errors']}"] if o["errors"] else [])) + "\n")
PY

# load LABEL KEYS CONNS [RATE]: the measured rlbench load into $work/LABEL.json, bounded by
# DURATION + rlbench's 2 s grace + 25 s.
load() {
  local label=$1 k=$2 c=$3 rate=${4:-}
  local args=(--target "http://127.0.0.1:$http_port" --keys-file "$work/keys-$k.txt"
    --concurrent "$c" --duration "$duration" --json)
  [ -n "$rate" ] && args+=(--rate "$rate")
  if ! timeout $((${duration%.*} + 27)) "$rlbench" load "${args[@]}" \
    >"$work/$label.json" 2>"$work/$label.err"; then
    echo "rlbench load ($label) failed:" >&2; cat "$work/$label.err" "$work/$label.json" >&2; exit 1
  fi
}

# point STORE LABEL KEYS CONNS [RATE]: warm-up, then one measured run; appends a row.
rows=()
declare -A rps_of
point() {
  local store=$1 label=$2 k=$3 c=$4 rate=${5:-}
  # Warm-up, closed loop over the same keys: WARM_PASSES requests per key (each worker has its
  # own identity cache and a connection's worker is the kernel's pick, so one pass leaves about
  # half the keys cold on the other worker; 4 passes leave ~6%, 2 HGETALLs each), then WARMUP
  # seconds on the same connections.
  local warm
  for warm in "--requests $((k * warm_passes)) --concurrent $((c < k ? c : k))" "--duration $warmup --concurrent $c"; do
    # shellcheck disable=SC2086
    timeout $((${warmup%.*} + 30)) "$rlbench" load --target "http://127.0.0.1:$http_port" \
      --keys-file "$work/keys-$k.txt" $warm --json \
      >"$work/$label-warm.json" 2>"$work/$label-warm.err" ||
      { echo "warm-up ($label, $warm) failed:" >&2; cat "$work/$label-warm.err" >&2; exit 1; }
  done
  local r0 d0=0 r1 d1=0 t0 t1
  metrics "$work/$label-m0"
  head -n1 /proc/stat >"$work/$label-s0"
  if [ "$store" = redis ]; then redis-cli -p "$redis_port" info commandstats >"$work/$label-c0"; else : >"$work/$label-c0"; fi
  r0=$(cpu_ticks "$rld_pid"); [ "$store" = redis ] && d0=$(cpu_ticks "$redis_pid")
  # rlbench's CPU: this shell's reaped children's times (cutime + cstime), which include
  # `timeout` and the rlbench it waited for.
  t0=$(awk '{print $16 + $17}' /proc/$$/stat)
  load "$label" "$k" "$c" "$rate"
  t1=$(awk '{print $16 + $17}' /proc/$$/stat)
  r1=$(cpu_ticks "$rld_pid"); [ "$store" = redis ] && d1=$(cpu_ticks "$redis_pid")
  kill -0 "$rld_pid" 2>/dev/null ||
    { echo "rld died during $label:" >&2; cat "$work/rld-$store/rld.log" >&2; exit 1; }
  head -n1 /proc/stat >"$work/$label-s1"
  metrics "$work/$label-m1"
  if [ "$store" = redis ]; then redis-cli -p "$redis_port" info commandstats >"$work/$label-c1"; else : >"$work/$label-c1"; fi
  local row
  row=$(python3 "$work/row.py" "$work/$label.json" "$work/$label-m0" "$work/$label-m1" "$store" \
    "$k" "$c" "${rate:--}" "$((r1 - r0))" "$((d1 - d0))" "$((t1 - t0))" "$hz" "$label" "$work/notes" \
    "$work/$label-s0" "$work/$label-s1" "$work/$label-c0" "$work/$label-c1" "$work/cmdnotes")
  rows+=("$row")
  rps_of[$label]=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["rps"])' "$work/$label.json")
  echo "  $row"
}
header=$(printf '%-11s %-6s %6s %5s %6s %7s %6s %7s %7s %6s %6s %5s %5s %6s %6s %6s %6s %6s %5s %3s' \
  point store keys conns rate req/s p50ms p99ms p999ms non200 fallbk rerrs cmd/r rds_ms dec_ms \
  rld_us rds_us lb_us busy% st%)

rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=
if git -C "$root" status --porcelain --untracked-files=no 2>/dev/null | grep -q .; then dirty=+dirty; fi
say "== $(date -u +%FT%TZ) bench/curve.sh: git $rev$dirty, rld $("$rld" --version | cut -d' ' -f2-), nproc $(nproc), redis $(redis-server --version | grep -o 'v=[0-9.]*' | cut -c3-), DURATION=${duration}s WARMUP=${warmup}s, redis.timeout_ms=$timeout_ms, workers: rld's default, ulimit -n $(ulimit -Sn)"
echo "$header"

# ---- Redis store: steps 1-3 -------------------------------------------------------------------
if [ -n "$keys_list$conns_list" ] || [ "$half" = 1 ]; then
  start_redis "$work/redis"
  start_rld redis "$work/rld-redis"
  for k in $keys_list; do
    point redis "keys-$k" "$k" "$conns_at_keys"
  done
  for c in $conns_list; do
    point redis "conns-$c" "$keys_at_conns" "$c"
  done
  if [ "$half" = 1 ]; then
    point redis max-remeas "$keys_at_conns" 50
    max=0; max_from=
    for l in "keys-$keys_at_conns" conns-50 max-remeas; do
      [ -n "${rps_of[$l]:-}" ] || continue
      [ "$l" != "keys-$keys_at_conns" ] || [ "$conns_at_keys" = 50 ] || continue
      if python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) > float(sys.argv[2]) else 1)' "${rps_of[$l]}" "$max"; then
        max=${rps_of[$l]}; max_from=$l
      fi
    done
    half_rate=$(python3 -c 'import sys; print(int(float(sys.argv[1]) / 2))' "$max")
    echo "  highest closed-loop rate at $keys_at_conns keys, 50 connections: $max req/s ($max_from); open loop at $half_rate req/s"
    point redis half-rate "$keys_at_conns" "$half_conns" "$half_rate"
  fi
  stop "$rld_pid"; stop "$redis_pid"
fi

# ---- memory store: the keys curve ---------------------------------------------------------------
if [ -n "$memory_keys" ]; then
  start_rld memory "$work/rld-memory"
  for k in $memory_keys; do
    point memory "mem-keys-$k" "$k" "$conns_at_keys"
  done
  stop "$rld_pid"
fi

# ---- the table ------------------------------------------------------------------------------------
say ""
say "$header"
for r in "${rows[@]}"; do say "$r"; done
say "req/s, p50/p99/p99.9 from rlbench load (closed loop unless rate is set; open-loop latency counts"
say "from each request's due time); non200 = other statuses + transport errors; from rld's /metrics,"
say "deltas over the run: fallbk = rl_store_fallback_total (decided without Redis), rerrs ="
say "rl_redis_errors_total, cmd/r = Redis commands per request, rds_ms = mean Redis command time"
say "seen by rld, dec_ms = mean decision time (rl_decision_duration_seconds); *_us = CPU µs per"
say "request of rld, redis-server and rlbench (/proc, clock ticks of $((1000 / hz)) ms); busy%, st% ="
say "the machine's CPU busy and stolen over the run, % of all $(nproc) cores (/proc/stat)"
if [ -s "$work/cmdnotes" ]; then
  say "Redis calls per request, by command (INFO commandstats over the run):"
  while read -r l; do say "  $l"; done <"$work/cmdnotes"
fi
if [ -s "$work/notes" ]; then
  say "trouble counters that moved:"
  while read -r l; do say "  $l"; done <"$work/notes"
fi
if [ "$half" = 1 ]; then
  read -r achieved p99 < <(python3 -c 'import json,sys; o=json.load(open(sys.argv[1])); print(o["rps"], o["latency_ms"]["p99"])' "$work/half-rate.json")
  verdict=$(python3 -c 'import sys; print("PASS" if float(sys.argv[1]) < float(sys.argv[2]) else "FAIL")' "$p99" "$target_p99_ms")
  say "half of max rate: highest closed-loop $max req/s ($max_from), open loop asked $half_rate req/s over $half_conns connections, achieved $achieved req/s, p99 $p99 ms; target p99 < ${target_p99_ms} ms: $verdict"
fi
cat "$report" >>"$out_dir/curve.txt"

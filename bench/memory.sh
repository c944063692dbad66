#!/usr/bin/env bash
# Memory, two ways, everything on 127.0.0.1 with free ports and temp dirs, stopping by itself
# (about 2-3 minutes on 2 cores):
#  1. rld's resident memory (VmRSS) with CONNS idle keep-alive connections, on the memory and
#     the Redis store, with --workers 1 and with the default (one worker per core): RSS at
#     start, with the connections open (each served one GET /test, then idle for HOLD s), and
#     after they are all closed; bytes per idle connection = (RSS with - RSS at start) / CONNS.
#     Target: RSS with 10,000 idle connections < 64 MB (PASS/FAIL per run).
#  2. Redis bytes per active user, per algorithm (fixed_window, sliding_window, token_bucket):
#     USERS users and API keys in a fresh redis-server per algorithm, one decision per user
#     (rlbench load --keys-file, keys in turn), then INFO memory used_memory after - before,
#     divided by USERS, and MEMORY USAGE of SAMPLE counter keys (rl:c:*).
# Prints a table and appends it to bench/results/memory.txt.
# Usage: bench/memory.sh
# Knobs: CONNS=10000 HOLD=2 (s the connections stay idle) WORKERS="1 0" (0 = rld's default, one
#   per core) USERS=100000 SAMPLE=1000 CHUNK=10000 (users per rlctl import file) RLD_BIN RLCTL_BIN
#   RLBENCH_BIN.
# Users reach Redis through `rlctl import` of CHUNK-sized tier files, imported once and copied
# into each fresh Redis as an RDB file: a tier file parses in time quadratic in its entries
# (~100 s for 100k users), and rld's own bootstrap of 100k users misses the default 5 ms
# redis.timeout_ms and retries for ~40 s.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rld=${RLD_BIN:-$root/build/apps/rld/rld}
rlctl=${RLCTL_BIN:-$root/build/apps/rlctl/rlctl}
rlbench=${RLBENCH_BIN:-$root/build/apps/rlbench/rlbench}
conns=${CONNS:-10000}
hold=${HOLD:-2}
workers_list=${WORKERS:-"1 0"}
users=${USERS:-100000}
sample=${SAMPLE:-1000}
chunk=${CHUNK:-10000}
limit_kb=$((64 * 1024))
out_dir=$root/bench/results
mkdir -p "$out_dir"
for tool in python3 curl redis-server redis-cli; do
  command -v "$tool" >/dev/null || { echo "$tool is missing" >&2; exit 1; }
done
for bin in "$rld" "$rlctl" "$rlbench"; do
  [ -x "$bin" ] || { echo "no $bin: run make build" >&2; exit 1; }
done

# The client needs CONNS descriptors too; rld raises its own soft limit to the hard one.
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt $((conns + 100)) ]; then
  echo "ulimit -Hn is $hard: $conns connections need at least $((conns + 100))" >&2; exit 1
fi
ulimit -Sn "$hard"

. "$root/bench/common.sh"  # work, pids, stop, cleanup, free_port, start_redis, launch_rld
rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
report=$work/report
say() { echo "$*" | tee -a "$report"; }


# write_toml FILE STORE WORKERS TIERS: rld's configuration for these runs.
write_toml() {
  {
    printf '[server]\nlisten = ["127.0.0.1:%s"]\nworkers = %s\n' "$http_port" "$3"
    printf 'max_connections = %s\ndrain_timeout_ms = 2000\n' "$((conns + 2000))"
    printf '[store]\ntype = "%s"\ntiers_file = "%s"\n' "$2" "$4"
    # A generous deadline: these runs measure memory, every decision should come from Redis.
    printf '[redis]\nurl = "redis://127.0.0.1:%s/0"\ntimeout_ms = 250\n' "${redis_port:-6379}"
    printf '[log]\nlevel = "info"\n'
  } >"$1"
}

fallbacks() {
  curl -sf "http://127.0.0.1:$http_port/metrics" |
    awk '/^rl_store_fallback_total/ {s += $NF} END {printf "%d", s}'
}

# The client of part 1: opens CONNS connections, one GET /test on each (answer read, 200
# required), holds them idle, closes them; reads rld's RSS and descriptors at each step.
cat >"$work/idle_conns.py" <<'PY'
import json, os, resource, socket, sys, time
port, pid, n, key, hold = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
def rss():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
def fds():
    return len(os.listdir(f"/proc/{pid}/fd"))
request = f"GET /test HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-API-Key: {key}\r\n\r\n".encode()
def served(s):
    s.sendall(request)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            raise SystemExit("rld closed a connection before answering")
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
        if name.strip().lower() == b"connection" and value.strip().lower() == b"close":
            raise SystemExit("rld answered Connection: close")
    while len(body) < length:
        chunk = s.recv(4096)
        if not chunk:
            raise SystemExit("rld closed a connection mid-answer")
        body += chunk
    if status != 200:
        raise SystemExit(f"GET /test answered {status}: {body[:200]!r}")
out = {"rss_start": rss(), "fds_start": fds()}
deadline = time.monotonic() + 120
socks = []
t0 = time.monotonic()
for i in range(n):
    if time.monotonic() > deadline:
        raise SystemExit(f"only {i} connections in 120 s")
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    served(s)
    socks.append(s)
out["open_s"] = round(time.monotonic() - t0, 2)
time.sleep(hold)
out["rss_with"], out["fds_with"] = rss(), fds()
# Still open? An idle connection rld had closed would read as EOF now.
closed = 0
for s in socks:
    s.setblocking(False)
    try:
        if s.recv(1) == b"":
            closed += 1
    except BlockingIOError:
        pass
out["closed_by_rld"] = closed
for s in socks:
    s.close()
time.sleep(hold)
out["rss_after"], out["fds_after"] = rss(), fds()
print(json.dumps(out))
PY

version=$("$rld" --version | cut -d' ' -f2-)
say "== $(date -u +%FT%TZ) bench/memory.sh: rld $version, $(nproc) cores, ulimit -n $(ulimit -Sn)/$(ulimit -Hn)"

# ---- 1. idle connections -------------------------------------------------------------------
cat >"$work/tiers-small.json" <<'JSON'
{"tiers": {"bench": {"base_limit": 1000000000, "burst_limit": 1000000000,
                     "degraded_limit": 1000000000, "window_seconds": 60,
                     "algorithm": "fixed_window"}},
 "users": {"bench_user": "bench"},
 "api_keys": {"bench_key_000000": "bench_user"}}
JSON
rows1=()
verdict=PASS
for store in memory redis; do
  for w in $workers_list; do
    run=$work/idle-$store-$w
    mkdir -p "$run"
    redis_port=
    if [ "$store" = redis ]; then start_redis "$run/redis"; fi
    http_port=$(free_port)
    write_toml "$run/rld.toml" "$store" "$w" "$work/tiers-small.json"
    launch_rld "$run/rld.toml" "$run/rld.log"
    nworkers=$(grep -o '"event":"ready","addresses":[0-9]*,"workers":[0-9]*' "$run/rld.log" | grep -o '[0-9]*$' || echo "?")
    label="$w"; [ "$w" = 0 ] && label="$nworkers (default)"
    timeout 180 python3 "$work/idle_conns.py" "$http_port" "$rld_pid" "$conns" bench_key_000000 "$hold" >"$run/out.json"
    read -r rs rw ra fs fw fa closed open_s < <(python3 -c '
import json, sys; o = json.load(open(sys.argv[1]))
print(o["rss_start"], o["rss_with"], o["rss_after"], o["fds_start"], o["fds_with"], o["fds_after"], o["closed_by_rld"], o["open_s"])' "$run/out.json")
    per=$(( (rw - rs) * 1024 / conns ))
    ok=PASS; [ "$rw" -lt "$limit_kb" ] || { ok=FAIL; verdict=FAIL; }
    [ "$closed" = 0 ] || { ok="$ok (rld closed $closed)"; verdict=FAIL; }
    rows1+=("$(printf '%-7s %-12s %9s %11s %11s %7s/%-6s %6s  %s' "$store" "$label" "$rs" "$rw" "$ra" "$fs" "$fw" "$per" "$ok")")
    echo "  $store store, workers $label: opened $conns connections in ${open_s}s; RSS $rs -> $rw -> $ra kB, fds $fs -> $fw -> $fa"
    stop "$rld_pid"
    if [ "$store" = redis ]; then stop "$redis_pid"; fi
  done
done

# ---- 2. Redis bytes per active user ----------------------------------------------------------
# keys.txt (one decision per user, in turn) and the tier files to import, CHUNK users each.
# warm_user is not measured: its one request before "before" loads the scripts and connections.
python3 - "$work" "$users" "$chunk" <<'PY'
import json, sys
work, users, chunk = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
tier = {"bench": {"base_limit": 100, "burst_limit": 100, "degraded_limit": 100,
                  "window_seconds": 86400, "algorithm": "sliding_window"}}
with open(f"{work}/keys.txt", "w") as f:
    f.writelines(f"bench_key_{i:06}\n" for i in range(users))
for n, lo in enumerate(range(0, users, chunk)):
    ids = range(lo, min(users, lo + chunk))
    u = {f"bench_user_{i:06}": "bench" for i in ids}
    k = {f"bench_key_{i:06}": f"bench_user_{i:06}" for i in ids}
    if n == 0:
        u["warm_user"] = "bench"; k["warm_key_000000"] = "warm_user"
    json.dump({"tiers": tier, "users": u, "api_keys": k}, open(f"{work}/import-{n:03}.json", "w"))
PY
seed=$work/seed
start_redis "$seed"
t0=$(date +%s)
for f in "$work"/import-*.json; do
  timeout 60 "$rlctl" --quiet --redis "redis://127.0.0.1:$redis_port/0" import "$f" >/dev/null
done
have=$(redis-cli -p "$redis_port" scard rl:users)
[ "$have" = $((users + 1)) ] || { echo "imported $have users, expected $((users + 1))" >&2; exit 1; }
redis-cli -p "$redis_port" save >/dev/null
echo "  imported $users users and keys with rlctl in $(( $(date +%s) - t0 )) s; $(redis-cli -p "$redis_port" dbsize) Redis keys"
stop "$redis_pid"

rows2=()
for alg in fixed_window sliding_window token_bucket; do
  run=$work/users-$alg
  mkdir -p "$run/redis"
  cp "$seed/dump.rdb" "$run/redis/dump.rdb"
  start_redis "$run/redis"
  rp=$redis_port
  # The limit (100 a day) never denies one decision per user; a day-long window keeps every
  # counter alive while it is measured (a token bucket's key expires once refilled: 864 s).
  timeout 10 "$rlctl" --quiet --redis "redis://127.0.0.1:$rp/0" tier set bench \
    --base 100 --burst 100 --degraded 100 --window 86400 --algorithm "$alg" >/dev/null
  python3 - "$run/tiers.json" "$alg" <<'PY'
import json, sys
json.dump({"tiers": {"bench": {"base_limit": 100, "burst_limit": 100, "degraded_limit": 100,
                               "window_seconds": 86400, "algorithm": sys.argv[2]}}},
          open(sys.argv[1], "w"))
PY
  http_port=$(free_port)
  write_toml "$run/rld.toml" redis 1 "$run/tiers.json"
  launch_rld "$run/rld.toml" "$run/rld.log"
  code=$(curl -s -o /dev/null -w '%{http_code}' -H 'X-API-Key: warm_key_000000' "http://127.0.0.1:$http_port/test")
  [ "$code" = 200 ] || { echo "warm-up request answered $code" >&2; exit 1; }
  sleep 1
  keys_before=$(redis-cli -p "$rp" dbsize)
  mem_before=$(redis-cli -p "$rp" info memory | awk -F: '/^used_memory:/ {print $2+0}')
  rld_rss_before=$(rss "$rld_pid")
  fb_before=$(fallbacks)
  timeout 120 "$rlbench" load --target "http://127.0.0.1:$http_port" --keys-file "$work/keys.txt" \
    --requests "$users" --concurrent 50 --json >"$run/load.json"
  read -r ok200 errors rps < <(python3 -c '
import json, sys; o = json.load(open(sys.argv[1]))
print(o["status"].get("200", 0), o["errors"], int(o["rps"]))' "$run/load.json")
  if [ "$ok200" != "$users" ] || [ "$errors" != 0 ]; then
    echo "$alg: $ok200 of $users answered 200, $errors errors:" >&2; cat "$run/load.json" >&2; exit 1
  fi
  sleep 1
  mem_after=$(redis-cli -p "$rp" info memory | awk -F: '/^used_memory:/ {print $2+0}')
  keys_after=$(redis-cli -p "$rp" dbsize)
  fb=$(( $(fallbacks) - fb_before ))
  rld_rss_after=$(rss "$rld_pid")
  timeout 60 redis-cli -p "$rp" --scan --pattern 'rl:c:*' | grep -v '^rl:c:{warm_user}' >"$run/counters" || true
  counters=$(wc -l <"$run/counters")
  head -n "$sample" "$run/counters" >"$run/sample"
  n_sample=$(wc -l <"$run/sample")
  [ "$n_sample" -gt 0 ] || { echo "$alg: no counter keys rl:c:* in Redis" >&2; exit 1; }
  usage=$(sed 's/^/MEMORY USAGE /' "$run/sample" | redis-cli -p "$rp" | awk '{s += $1} END {printf "%.1f", s / NR}')
  fields=$(sed 's/^/HLEN /' "$run/sample" | redis-cli -p "$rp" | awk '{s += $1} END {printf "%.2f", s / NR}')
  encoding=$(redis-cli -p "$rp" object encoding "$(head -n1 "$run/sample")")
  ttl_s=$(( $(redis-cli -p "$rp" pttl "$(head -n1 "$run/sample")") / 1000 ))
  example=$(head -n1 "$run/sample")
  per_user=$(awk -v a="$mem_after" -v b="$mem_before" -v n="$users" 'BEGIN {printf "%.1f", (a - b) / n}')
  keys_per_user=$(awk -v c="$counters" -v n="$users" 'BEGIN {printf "%.2f", c / n}')
  rows2+=("$(printf '%-15s %11s %11s %7s %10s %9s %6s %-9s %8s %9s' "$alg" "$mem_before" "$mem_after" "$per_user" "$keys_per_user" "$usage" "$fields" "$encoding" "$fb" "$rps")")
  echo "  $alg: $ok200 x 200 at $rps req/s; Redis keys $keys_before -> $keys_after; e.g. $example ($(redis-cli -p "$rp" hkeys "$example" | paste -sd, -), TTL ${ttl_s}s); rld RSS $rld_rss_before -> $rld_rss_after kB"
  stop "$rld_pid"
  stop "$redis_pid"
done

# ---- the table --------------------------------------------------------------------------------
say ""
say "1) rld RSS with $conns idle keep-alive connections (each served one GET /test, then idle ${hold}s); target < 64 MB"
say "$(printf '%-7s %-12s %9s %11s %11s %14s %6s  %s' store workers "start kB" "with kB" "closed kB" "fds start/with" "B/conn" "<64MB")"
for r in "${rows1[@]}"; do say "$r"; done
say ""
say "2) Redis memory per active user: $users users, one decision each (tier: 100 per 86400 s), used_memory in bytes"
say "$(printf '%-15s %11s %11s %7s %10s %9s %6s %-9s %8s %9s' algorithm before after B/user keys/user "B/key(n=$sample)" fields encoding fallback req/s)"
for r in "${rows2[@]}"; do say "$r"; done
say "B/user = (used_memory after - before) / $users (keys, TTLs, dict growth); B/key = mean MEMORY USAGE of $sample rl:c:* keys"
say "idle-connection target: $verdict"
cat "$report" >>"$out_dir/memory.txt"

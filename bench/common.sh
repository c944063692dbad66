# Sourced by the bench scripts (after they set `rld`): what each of them needs first — the
# tools checked, a temp dir and the background processes, both gone however the script ends —
# and the measuring helpers.

# require TOOL...: stops the script if one is missing; also checks the rld binary.
require() {
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "$tool is missing" >&2; exit 1; }
  done
  [ -x "$rld" ] || { echo "no rld at $rld: run make build" >&2; exit 1; }
}

work=$(mktemp -d)
pids=()  # every background server; append with pids+=($!)
# stop PID: SIGTERM, at most 5 s to exit, then SIGKILL.
stop() {
  local p=$1 st
  kill "$p" 2>/dev/null || return 0
  for _ in $(seq 50); do
    st=$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null || echo gone)
    { [ "$st" = Z ] || [ "$st" = gone ]; } && break
    sleep 0.1
  done
  kill -9 "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
}
cleanup() {
  for p in "${pids[@]}"; do stop "$p"; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_redis DIR [redis-server args...]: a redis-server on a free port, its data in DIR; sets
# redis_port and redis_pid, returns once it answers PONG (not LOADING).
start_redis() {
  local dir=$1; shift
  mkdir -p "$dir"
  redis_port=$(free_port)
  redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" \
    --logfile "$dir/redis.log" "$@" &
  redis_pid=$!; pids+=("$redis_pid")
  for _ in $(seq 100); do
    [ "$(redis-cli -p "$redis_port" ping 2>/dev/null)" = PONG ] && return 0
    sleep 0.1
  done
  echo "redis-server on $redis_port did not start" >&2; cat "$dir/redis.log" >&2; exit 1
}
# CPU time (user + system) of a process so far, in microseconds.
cpu_us() { awk -v hz="$(getconf CLK_TCK)" '{printf "%d", ($14 + $15) * 1000000 / hz}' "/proc/$1/stat"; }
# Microseconds per request, one decimal.
per_request() { awk -v us="$1" -v n="$2" 'BEGIN {printf "%.1f", us / n}'; }

# launch_rld TOML LOG: rld with that configuration in the background, listening on
# 127.0.0.1:$http_port; sets rld_pid, returns once /ready is 200 (30 s), else prints LOG and exits.
launch_rld() {
  "$rld" --config "$1" 2>"$2" &
  rld_pid=$!; pids+=("$rld_pid")
  for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:$http_port/ready" >/dev/null && return 0
    kill -0 "$rld_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "rld did not become ready:" >&2; cat "$2" >&2; exit 1
}

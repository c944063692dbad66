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
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# CPU time (user + system) of a process so far, in microseconds.
cpu_us() { awk -v hz="$(getconf CLK_TCK)" '{printf "%d", ($14 + $15) * 1000000 / hz}' "/proc/$1/stat"; }
# Microseconds per request, one decimal.
per_request() { awk -v us="$1" -v n="$2" 'BEGIN {printf "%.1f", us / n}'; }

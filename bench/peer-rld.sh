#!/usr/bin/env bash
# rld as one more peer of ../shared/peers, measured by the peers' own common.sh — the same wrk
# flags, warm-up, smoke test, CPU accounting and results.tsv row — on the same keys and limits:
# demo_free_key_123 free 100/min, demo_pro_key_789 pro 1000/min, demo_enterprise_key_abc and
# bench_key_0000..0999 enterprise 1e9/min, each a 60 s fixed window (the peers' Lua script).
#   STORE=redis   (default) the peers' redis-server on 127.0.0.1:$REDIS_PORT, started here
#   STORE=memory  no Redis: rld's in-process store
# Usage: PEERS=<a writable copy of ../shared/peers> bench/peer-rld.sh   (bench/run does this)
# Knobs: the peers' (DURATION CONNS REPEAT MULTIKEY ...) plus RLD_BIN PORT=8086 WORKERS (default:
# rld's own, one per core) TIMEOUT_MS=50 (redis.timeout_ms: a decision that misses it is made
# locally, and the run says how many did).
set -u
: "${PEERS:?set PEERS to a copy of ../shared/peers}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=/dev/null
source "$PEERS/common.sh"
RLD="${RLD_BIN:-$ROOT/build/apps/rld/rld}"
STORE="${STORE:-redis}"
PORT="${PORT:-8086}"
TIMEOUT_MS="${TIMEOUT_MS:-50}"
PEER="rld-$STORE${WORKERS:+-w$WORKERS}"
CLEANUP_DIR="$(mktemp -d /tmp/peers-rld.XXXXXX)"
[ -x "$RLD" ] || { echo "no rld at $RLD: run make build" >&2; exit 1; }

python3 - "$CLEANUP_DIR/tiers.json" <<'EOF'
import json, os, sys
window = {"window_seconds": 60, "algorithm": "fixed_window"}
def tier(limit):
    return dict(base_limit=limit, burst_limit=limit, degraded_limit=limit, **window)
enterprise = int(os.environ.get("ENTERPRISE_LIMIT", "1000000000"))
tiers = {"free": tier(int(os.environ.get("FREE_LIMIT", "100"))),
         "pro": tier(int(os.environ.get("PRO_LIMIT", "1000"))),
         "enterprise": tier(enterprise)}
users = {"free_user": "free", "pro_user": "pro", "enterprise_user": "enterprise"}
keys = {"demo_free_key_123": "free_user", "demo_pro_key_789": "pro_user",
        "demo_enterprise_key_abc": "enterprise_user"}
for i in range(int(os.environ.get("NKEYS", "1000"))):  # one user each, as the peers count per key
    users[f"bench_user_{i:04}"] = "enterprise"
    keys[f"bench_key_{i:04}"] = f"bench_user_{i:04}"
json.dump({"tiers": tiers, "users": users, "api_keys": keys}, open(sys.argv[1], "w"))
EOF
{
  printf '[server]\nlisten = ["127.0.0.1:%s"]\n' "$PORT"
  [ -n "${WORKERS:-}" ] && printf 'workers = %s\n' "$WORKERS"
  printf '[store]\ntype = "%s"\ntiers_file = "%s"\n' "$STORE" "$CLEANUP_DIR/tiers.json"
  printf '[redis]\nurl = "redis://127.0.0.1:%s/0"\ntimeout_ms = %s\n' "$REDIS_PORT" "$TIMEOUT_MS"
  printf '[log]\nlevel = "warn"\n'
} >"$CLEANUP_DIR/rld.toml"

require_free_port "$PORT"
[ "$STORE" = redis ] && start_redis
srv_exec "$RLD" --config "$CLEANUP_DIR/rld.toml" 2>"/tmp/peers-$PEER.log" &
SERVER_PIDS=($!); STARTED_PIDS+=("${SERVER_PIDS[@]}")
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$PORT/ready" >/dev/null && break
  sleep 0.1
done
curl -sf "http://127.0.0.1:$PORT/ready" >/dev/null || { cat "/tmp/peers-$PEER.log"; exit 1; }
fallbacks() {
  curl -sf "http://127.0.0.1:$PORT/metrics" |
    awk '/^rl_store_fallback_total/ {s += $NF} END {printf "%d", s}'
}
smoke_test "http://127.0.0.1:$PORT/test"
before=$(fallbacks)
bench_http "$PEER" "http://127.0.0.1:$PORT/test"
echo "sanity: decisions made without Redis during the runs: $(( $(fallbacks) - before ))"

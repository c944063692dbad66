#!/bin/sh
# Runs fuzz harnesses built by `make fuzz`, one after another, each for a set time: from a
# scratch corpus in the build directory (seeded from tests/fuzz/corpus/<name>, so the
# repository is never written to), with the harness's dictionary. Prints per harness
# libFuzzer's last status line (runs, cov, ft, corpus size, exec/s) and its final stats, and
# fails if any harness found something (crash, leak, timeout, invariant violated); the input
# is then in <build>/fuzz-work/<name>/findings/.
# Usage: tests/fuzz/run.sh BUILD_DIR SECONDS NAME...
set -eu

build=$1
seconds=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
failed=""

dictionary_of() {
  case "$1" in
    http_request) echo "$here/http.dict" ;;
    admin_json | tier_json) echo "$here/json.dict" ;;
    resp_reply) echo "$here/resp.dict" ;;
    config_toml) echo "$here/toml.dict" ;;
  esac
}

for name in "$@"; do
  bin="$build/tests/fuzz/fuzz_$name"
  work="$build/fuzz-work/$name"
  if [ ! -x "$bin" ]; then
    echo "fuzz: no harness $bin" >&2
    exit 2
  fi
  mkdir -p "$work/corpus" "$work/findings"
  cp "$here/corpus/$name/"* "$work/corpus/"
  set -- -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/findings/"
  dict=$(dictionary_of "$name")
  [ -n "$dict" ] && set -- "$@" -dict="$dict"
  [ "$name" = http_request ] && set -- "$@" -max_len=8192
  echo "fuzz: $name for ${seconds}s (log: $work/fuzz.log)"
  if "$bin" "$@" "$work/corpus" >"$work/fuzz.log" 2>&1; then
    result="no finding"
  else
    result="FOUND SOMETHING: $(ls "$work/findings" | tr '\n' ' ')"
    failed="$failed $name"
    grep -E '^(==[0-9]+==ERROR|fuzz: invariant|SUMMARY|.*runtime error)' "$work/fuzz.log" | head -5
  fi
  echo "fuzz: $name: $result"
  grep -E '^#[0-9]+' "$work/fuzz.log" | tail -1 | sed 's/^/fuzz:   /'
  grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' \
    "$work/fuzz.log" | sed 's/^/fuzz:   /'
done

if [ -n "$failed" ]; then
  echo "fuzz: findings in:$failed" >&2
  exit 1
fi

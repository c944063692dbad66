#!/usr/bin/env bash
# What rld costs behind nginx: the shipped packaging/nginx/rld.conf (auth_request over rld's
# Unix socket, memory store) in front of an application, against the same nginx proxying to
# the same application without asking rld. The application is nginx's own `return 200`, so the
# difference is the auth subrequest and rld. wrk, nginx and rld share this machine's cores; all
# on loopback, each run bounded. Usage: bench/nginx.sh   (knobs: DURATION=10s CONNS=50
# THREADS=2 WORKERS=1, rld's event loops, NGINX_WORKERS=auto)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rld=${RLD_BIN:-$root/build/apps/rld/rld}
duration=${DURATION:-10s}
conns=${CONNS:-50}
threads=${THREADS:-2}
workers=${WORKERS:-1}
nginx_workers=${NGINX_WORKERS:-auto}
out_dir=$root/bench/results
mkdir -p "$out_dir"
source "$root/bench/common.sh"
require wrk curl /usr/sbin/nginx

# A tier no run reaches, so every request is an allowed decision that reaches the application.
cat >"$work/tiers.json" <<'JSON'
{"tiers": {"bench": {"base_limit": 1000000000, "burst_limit": 1000000000,
                     "degraded_limit": 1000000000, "window_seconds": 60}},
 "users": {"bench_user": "bench"}, "api_keys": {"bench_key_0000": "bench_user"}}
JSON
sock=$work/rld.sock
# nginx's workers run as another user (www-data when started as root): they must reach the
# socket. The packaged setup does this with unix_socket_group = "www-data"; a bench run as any
# user opens the socket in its private temp dir instead.
chmod 755 "$work"
printf '[server]\nunix_socket_mode = "0666"\n' >"$work/rld.toml"
"$rld" --config "$work/rld.toml" --listen "unix:$sock" --tiers "$work/tiers.json" \
  --workers "$workers" --log-level warn 2>"$work/rld.log" &
rld_pid=$!
pids+=("$rld_pid")

app_port=$(free_port)
auth_port=$(free_port)
plain_port=$(free_port)
mkdir -p "$work/nginx/snippets" "$work/nginx/tmp"
cp "$root"/packaging/nginx/snippets/*.conf "$work/nginx/snippets/"
# The shipped site with its three host-specific lines replaced, as tests/e2e/nginx_support.py does.
sed -e "s|server unix:/run/rld/rld.sock;|server unix:$sock;|" \
    -e "s|server 127.0.0.1:3000;|server 127.0.0.1:$app_port;|" \
    -e "s|listen 8080;|listen 127.0.0.1:$auth_port;|" \
    "$root/packaging/nginx/rld.conf" >"$work/nginx/rld.conf"
cat >"$work/nginx/nginx.conf" <<CONF
worker_processes $nginx_workers;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $work/nginx/tmp/body;
    proxy_temp_path $work/nginx/tmp/proxy;
    fastcgi_temp_path $work/nginx/tmp/fastcgi;
    uwsgi_temp_path $work/nginx/tmp/uwsgi;
    scgi_temp_path $work/nginx/tmp/scgi;
    include $work/nginx/rld.conf;
    server {   # the application
        listen 127.0.0.1:$app_port;
        location / { return 200 "ok\n"; }
    }
    server {   # the same proxying, without rld
        listen 127.0.0.1:$plain_port;
        location / {
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
CONF
/usr/sbin/nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
nginx_pid=$!
pids+=("$nginx_pid")
for _ in $(seq 50); do
  curl -sf -o /dev/null -H 'X-API-Key: bench_key_0000' "http://127.0.0.1:$auth_port/" && break
  sleep 0.1
done
code=$(curl -s -o /dev/null -w "%{http_code}" "http://127.0.0.1:$auth_port/")
[ "$code" = 401 ] ||
  { echo "nginx does not ask rld: $code, not 401, without a key" >&2; tail -3 "$work/nginx/error.log" "$work/rld.log" >&2; exit 1; }

run() {  # label port
  local before after n
  before=$(cpu_us "$rld_pid")
  wrk -t"$threads" -c"$conns" -d"$duration" --latency -H "X-API-Key: bench_key_0000" \
    "http://127.0.0.1:$2/" >"$work/wrk.txt"
  after=$(cpu_us "$rld_pid")
  n=$(awk '/requests in/ {print $1}' "$work/wrk.txt")
  local rps p50 p99 non2xx line
  rps=$(awk '/^Requests\/sec/ {print $2}' "$work/wrk.txt")
  p50=$(awk '$1=="50%" {print $2}' "$work/wrk.txt")
  p99=$(awk '$1=="99%" {print $2}' "$work/wrk.txt")
  non2xx=$(awk '/Non-2xx/ {print $5}' "$work/wrk.txt")
  line="nginx ($nginx_workers workers) $1 c=$conns t=$threads rld workers=$workers $duration: $rps req/s, p50 $p50, p99 $p99, non-2xx ${non2xx:-0}, rld CPU $(per_request $((after - before)) "$n") us/request"
  echo "$line"
  echo "$(date -u +%FT%TZ) $line" >>"$out_dir/nginx.txt"
}
run "proxy only (no rld)" "$plain_port"
run "auth_request + rld (unix socket)" "$auth_port"

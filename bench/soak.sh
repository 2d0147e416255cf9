#!/usr/bin/env bash
# npm run bench:soak: one gateway process under steady load (wrk, HS256 token, cache on, access log on)
# for about a million requests, sampling its resident memory as it goes. Prints the samples and whether
# RSS stayed under 150 MB and flat (no leak).
#
# Env: REQUESTS (1000000), C (connections, 50), STEP (seconds per wrk run, 10).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
REQUESTS=${REQUESTS:-1000000} C=${C:-50} STEP=${STEP:-10}
for tool in nginx wrk; do
  command -v $tool >/dev/null || { apt-get update -qq && apt-get install -y -qq nginx wrk >/dev/null; break; }
done
(cd "$root" && npm run --silent build)

run=$(mktemp -d /tmp/portcullis-soak.XXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$run"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; exit 1; }

cat > "$run/upstream.conf" <<EOF
worker_processes 1; daemon off; pid $run/nginx.pid; error_log $run/nginx.err warn;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:18100; location / { default_type application/json; return 200 '{"ok":true}'; } } }
EOF
nginx -c "$run/upstream.conf" -p "$run" & pids+=($!)
wait_port 18100

export BENCH_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
export BENCH_UPSTREAM=http://127.0.0.1:18100 BENCH_PORT=18101 BENCH_ADMIN_PORT=18102
node "$root/dist/cli.js" --config "$root/bench/gateway-HS256.yaml" > "$run/gateway.log" 2>&1 & gw=$!; pids+=($gw)
wait_port 18101
token=$(node "$root/dist/cli.js" token --config "$root/bench/gateway-HS256.yaml" --provider bench --sub soak --roles admin)

rss() { echo $(( $(ps -o rss= -p "$gw") / 1024 )); }
echo "requests  rss_MB"
samples=("$(rss)")
echo "        0  ${samples[0]}"
total=0
while [ "$total" -lt "$REQUESTS" ]; do
  n=$(wrk -t1 -c"$C" -d"${STEP}s" -H "Authorization: Bearer $token" http://127.0.0.1:18101/api/orders/1 | awk '/requests in/ {print $1}')
  total=$((total + n))
  samples+=("$(rss)")
  printf '%9d  %s\n' "$total" "${samples[-1]}"
done

max=$(printf '%s\n' "${samples[@]}" | sort -n | tail -1)
# Flat: the second half of the run grows by less than 10 MB (the first samples include warm-up).
half=${samples[$(( ${#samples[@]} / 2 ))]}
last=${samples[-1]}
echo
echo "after $total requests: max RSS ${max} MB, second-half growth $((last - half)) MB"
[ "$max" -lt 150 ] && echo "MET    RSS under 150 MB" || echo "MISSED RSS under 150 MB"
[ $((last - half)) -lt 10 ] && echo "MET    RSS flat (no leak)" || echo "MISSED RSS flat (grew $((last - half)) MB in the second half)"

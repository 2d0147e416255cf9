#!/usr/bin/env bash
# npm run bench:features: what the features that cost something per request cost, side by side in one run.
# The same token-checked route (bench/gateway-HS256.yaml's checks) is served by one gateway process per
# variant, all against the same nginx upstream, and wrk visits them in turn each round:
#   baseline     one target
#   health       two targets (the same nginx under two names), active health checks every second, outlier
#                detection and retries on
#   limit-memory a rate limit policy that never triggers, counted in memory
#   limit-redis  the same policy counted in Redis (a redis-server started here on a free loopback port)
# Prints req/s, p50 and p99 (median of the rounds) and each one's ratio to the baseline.
#
# Env: D (seconds per run, 8), R (rounds, 3), C (connections, 50). A smoke run: D=1 R=1 C=10.
# Installs nginx, wrk and redis-server from Debian when they are missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
D=${D:-8} R=${R:-3} C=${C:-50}
for tool in nginx wrk redis-server; do
  command -v "$tool" >/dev/null || { apt-get update -qq && apt-get install -y -qq nginx wrk redis-server >/dev/null; break; }
done
(cd "$root" && npm run --silent build)

run=$(mktemp -d /tmp/portcullis-bench-features.XXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$run"
}
trap cleanup EXIT
free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; return 1; }
ms() { awk '{v=$1; u=v; sub(/[0-9.]+/,"",u); sub(/[a-z]+$/,"",v); f=(u=="us")?0.001:(u=="s")?1000:1; printf "%.2f", v*f}'; }
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

upstream_port=$(free_port)
cat > "$run/upstream.conf" <<EOF
worker_processes 1; daemon off; pid $run/nginx.pid; error_log $run/nginx.err warn;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:$upstream_port; location / { default_type application/json; return 200 '{"ok":true,"service":"orders"}'; } } }
EOF
nginx -c "$run/upstream.conf" -p "$run" & pids+=($!)
redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >/dev/null & pids+=($!)
wait_port "$upstream_port"
wait_port "$redis_port"

secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
token=$(cd "$root" && SECRET="$secret" node --input-type=module -e "
  import { SignJWT } from 'jose';
  const key = new TextEncoder().encode(process.env.SECRET);
  console.log(await new SignJWT({ sub: 'bench-user', roles: ['admin'] }).setProtectedHeader({ alg: 'HS256' })
    .setIssuer('bench').setIssuedAt().setExpirationTime('2h').sign(key));")

# $1: variant, $2: port, $3: admin port
write_config() {
  local upstream="app: http://127.0.0.1:$upstream_port" limit='' store=''
  if [ "$1" = health ]; then
    upstream="app:
    targets: [http://127.0.0.1:$upstream_port, http://localhost:$upstream_port]
    health_check: { path: /healthz, interval: 1s, timeout: 500ms }
    outlier_detection: { consecutive_failures: 5 }
    retries: { attempts: 1 }"
  fi
  case "$1" in limit-*) limit='    rate_limit: never' ;; esac
  [ "$1" = limit-redis ] && store="rate_limit_store: redis://127.0.0.1:$redis_port/0"
  cat > "$run/$1.yaml" <<EOF
server: { host: 127.0.0.1, port: $2, admin_port: $3 }
providers:
  - { name: bench, issuer: bench, secret: "$secret", algorithms: [HS256] }
forward: { headers: { X-User-Id: sub, X-User-Roles: roles } }
upstreams:
  $upstream
rate_limits:
  never: { requests: 1000000000, per: 1h, key: sub }   # never triggers: the cost of counting alone
$store
routes:
  - name: api
    prefix: /
    upstream: app
    roles: [admin]
$limit
EOF
}

variants=(baseline health limit-memory limit-redis)
declare -A port rps p50 p99
for v in "${variants[@]}"; do
  port[$v]=$(free_port)
  write_config "$v" "${port[$v]}" "$(free_port)"
  node "$root/dist/cli.js" --config "$run/$v.yaml" >/dev/null 2>"$run/$v.err" & pids+=($!)
  wait_port "${port[$v]}"
  status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "http://127.0.0.1:${port[$v]}/x")
  [ "$status" = 200 ] || { echo "$v: the gateway answered $status" >&2; cat "$run/$v.err" >&2; exit 1; }
  wrk -t1 -c"$C" -d1s -H "Authorization: Bearer $token" "http://127.0.0.1:${port[$v]}/api/orders/1" >/dev/null # warm up
done

echo "Feature cost: ${D}s x ${R} rounds, ${C} connections, one gateway process per variant, access log on"
for _ in $(seq "$R"); do
  for v in "${variants[@]}"; do
    out=$(wrk -t1 -c"$C" -d"${D}s" --latency -H "Authorization: Bearer $token" "http://127.0.0.1:${port[$v]}/api/orders/1")
    rps[$v]+="$(awk '/Requests\/sec/ {print $2}' <<<"$out") "
    p50[$v]+="$(awk '$1=="50%" {print $2}' <<<"$out" | ms) "
    p99[$v]+="$(awk '$1=="99%" {print $2}' <<<"$out" | ms) "
  done
done
printf '%-13s %10s %8s %9s %9s\n' variant req/s ratio p50_ms p99_ms
base=$(median <<<"${rps[baseline]}")
for v in "${variants[@]}"; do
  r=$(median <<<"${rps[$v]}")
  printf '%-13s %10.0f %8.3f %9s %9s\n' "$v" "$r" "$(awk -v a="$r" -v b="$base" 'BEGIN {print a/b}')" "$(median <<<"${p50[$v]}")" "$(median <<<"${p99[$v]}")"
done

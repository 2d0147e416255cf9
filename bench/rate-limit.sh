#!/usr/bin/env bash
# npm run bench:rate-limit: what a rate limit costs a request. One public route, three ways: without a
# policy, with a policy that never triggers counted in memory, and the same policy counted in Redis (a
# redis-server started here on a free loopback port). Prints req/s, p50 and p99 (median of the rounds)
# and each one's ratio to the route without a policy.
#
# Env: D (seconds per run, 8), R (rounds, 3), C (connections, 50). A smoke run: D=1 R=1 C=10.
# Installs wrk and redis-server from Debian when they are missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
D=${D:-8} R=${R:-3} C=${C:-50}
for tool in wrk redis-server; do
  command -v "$tool" >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk redis-server >/dev/null; break; }
done
(cd "$root" && npm run --silent build)

run=$(mktemp -d /tmp/portcullis-bench-rl.XXXX)
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
node -e "require('http').createServer((q,s)=>{s.writeHead(200,{'content-type':'text/plain'});s.end('ok')}).listen($upstream_port,'127.0.0.1')" &
pids+=($!)
redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >/dev/null &
pids+=($!)
wait_port "$upstream_port"
wait_port "$redis_port"

# $1: none | memory | redis
write_config() {
  local limit='' store=''
  [ "$1" != none ] && limit='    rate_limit: never'
  [ "$1" = redis ] && store="rate_limit_store: redis://127.0.0.1:$redis_port/0"
  cat > "$run/$1.yaml" <<EOF
server: { host: 127.0.0.1, port: $2, admin_port: $3 }
upstreams: { app: "http://127.0.0.1:$upstream_port" }
rate_limits:
  never: { requests: 1000000000, per: 1h, key: ip }   # never triggers: the cost of counting alone
$store
routes:
  - name: api
    prefix: /
    upstream: app
    auth: public
$limit
EOF
}

echo "Rate limit cost: ${D}s x ${R} rounds, ${C} connections, one gateway process, access log on"
printf '%-8s %10s %8s %9s %9s\n' policy req/s ratio p50_ms p99_ms
base=''
for variant in none memory redis; do
  port=$(free_port)
  admin=$(free_port)
  write_config "$variant" "$port" "$admin"
  node "$root/dist/cli.js" --config "$run/$variant.yaml" >/dev/null 2>"$run/$variant.err" &
  gateway=$!
  pids+=($gateway)
  wait_port "$port"
  status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/x")
  [ "$status" = 200 ] || { echo "$variant: the gateway answered $status" >&2; cat "$run/$variant.err" >&2; exit 1; }
  wrk -t1 -c"$C" -d1s "http://127.0.0.1:$port/api/orders/1" >/dev/null # warm up
  rps='' p50='' p99=''
  for _ in $(seq "$R"); do
    out=$(wrk -t1 -c"$C" -d"${D}s" --latency "http://127.0.0.1:$port/api/orders/1")
    rps+="$(awk '/Requests\/sec/ {print $2}' <<<"$out") "
    p50+="$(awk '$1=="50%" {print $2}' <<<"$out" | ms) "
    p99+="$(awk '$1=="99%" {print $2}' <<<"$out" | ms) "
  done
  kill "$gateway"
  wait "$gateway" 2>/dev/null || true
  r=$(median <<<"$rps")
  [ -z "$base" ] && base=$r
  printf '%-8s %10.0f %8.3f %9s %9s\n' "$variant" "$r" "$(awk -v a="$r" -v b="$base" 'BEGIN {print a/b}')" "$(median <<<"$p50")" "$(median <<<"$p99")"
done

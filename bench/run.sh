#!/usr/bin/env bash
# npm run bench: Portcullis beside a direct connection, nginx, HAProxy 2.6 checking the same JWT, and
# Node baselines, in one run of ../shared/bench/run-peers.sh, for HS256 and RS256 tokens. Prints the
# harness's table, then ours: throughput, ratios to direct / HAProxy / node:http+undici without auth /
# fastify + @fastify/jwt / the naive Node gateway, p50/p99 latency, RSS, and whether the targets of
# docs/PERFORMANCE.md are met. What health checks and rate limits add: npm run bench:features.
#
# Env: D (seconds per run, 8), R (rounds, 3), C (connections, 50) as the harness takes them;
#      BENCH_WORKERS (gateway processes, 1); BENCH_ACCESS_LOG (true); ALGS (default "HS256 RS256").
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
harness=${PEERS_HARNESS:-$root/../shared/bench/run-peers.sh}
if [ ! -x "$harness" ]; then
  echo "bench: $harness not found; it comes with the project's shared tools (../shared/bench)." >&2
  echo "       Set PEERS_HARNESS to its path if it lives elsewhere." >&2
  exit 1
fi

(cd "$root" && npm run --silent build)
log=$(mktemp /tmp/portcullis-bench.XXXX.log)
out=$(mktemp /tmp/portcullis-bench.XXXX.txt)
trap 'rm -f "$out" "$log"' EXIT

# The harness exports BENCH_ALG, BENCH_SECRET, BENCH_PUBLIC_KEY and BENCH_UPSTREAM to the candidate.
export CANDIDATE_PORT=${CANDIDATE_PORT:-18004}
export CANDIDATE_CMD="BENCH_PORT=$CANDIDATE_PORT BENCH_WORKERS=${BENCH_WORKERS:-1} BENCH_ACCESS_LOG=${BENCH_ACCESS_LOG:-true} exec node '$root/dist/cli.js' --config '$root/bench/gateway-'\"\$BENCH_ALG\"'.yaml' >>'$log' 2>&1"

echo "Portcullis benchmark: ${D:-8}s x ${R:-3} rounds, ${C:-50} connections, gateway workers: ${BENCH_WORKERS:-1}, access log: ${BENCH_ACCESS_LOG:-true}"
echo "(the gateway's access log goes to $log, removed at the end)"
# shellcheck disable=SC2086
"$harness" ${ALGS:-HS256 RS256} | tee "$out"

echo
node "$root/bench/report.mjs" "$out"

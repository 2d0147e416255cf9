// Reads the table run-peers.sh printed and reports the candidate (Portcullis) against every peer of the
// same run, with the targets of docs/PERFORMANCE.md (issue 10).
import { readFileSync } from 'node:fs';

const rows = readFileSync(process.argv[2], 'utf8')
  .split('\n')
  .map((line) => line.trim().split(/\s+/))
  .filter((f) => f.length === 7 && /^(HS|RS)\d+$/.test(f[0]))
  .map(([alg, peer, rps, ratio, p50, p99, rss]) => ({
    alg, peer, rps: Number(rps), ratio: Number(ratio), p50: parseFloat(p50), p99: parseFloat(p99), rss: Number(rss),
  }));

const algs = [...new Set(rows.map((r) => r.alg))];
const workers = process.env.BENCH_WORKERS ?? '1';
const fmt = (n, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
const lines = [];
const verdicts = [];
for (const alg of algs) {
  const get = (peer) => rows.find((r) => r.alg === alg && r.peer === peer);
  const me = get('candidate');
  if (!me) {
    lines.push(`${alg}: no candidate row (did the gateway start? see its log)`);
    continue;
  }
  const direct = get('direct');
  const haproxy = get('haproxy-jwt');
  const undici = get('node-undici-noauth');
  const fastify = get('fastify-jwt');
  const naive = get('node-naive');
  lines.push(
    `${alg.padEnd(6)} portcullis ${String(Math.round(me.rps)).padStart(7)} req/s | ` +
      `x direct ${fmt(me.rps / direct?.rps, 3)} | x haproxy ${fmt(me.rps / haproxy?.rps)} | ` +
      `x node-undici ${fmt(me.rps / undici?.rps)} | x fastify-jwt ${fmt(me.rps / fastify?.rps)} | x naive ${fmt(me.rps / naive?.rps)} | ` +
      `p50 ${fmt(me.p50)} ms p99 ${fmt(me.p99)} ms (node-undici p99 ${fmt(undici?.p99)} ms, haproxy p99 ${fmt(haproxy?.p99)} ms) | rss ${me.rss} MB`,
  );
  const check = (name, ok, detail) => verdicts.push(`${ok ? 'MET   ' : 'MISSED'} ${alg} ${name}: ${detail}`);
  if (undici) check('>= 0.85 x node:http+undici without auth', me.rps >= 0.85 * undici.rps, fmt(me.rps / undici.rps));
  if (fastify) check('>= 2 x fastify + @fastify/jwt', me.rps >= 2 * fastify.rps, fmt(me.rps / fastify.rps));
  if (naive) check('>= 3 x the naive Node gateway', me.rps >= 3 * naive.rps, fmt(me.rps / naive.rps));
  if (alg === 'RS256' && haproxy) check(`>= 0.75 x HAProxy checking the JWT (workers: ${workers})`, me.rps >= 0.75 * haproxy.rps, fmt(me.rps / haproxy.rps));
  if (undici) check('p99 <= 1.5 x node:http+undici p99', me.p99 <= 1.5 * undici.p99, `${fmt(me.p99)} ms vs ${fmt(undici.p99)} ms (${fmt(me.p99 / undici.p99)}x)`);
  if (haproxy) verdicts.push(`       ${alg} p99 against HAProxy's: ${fmt(me.p99)} ms vs ${fmt(haproxy.p99)} ms (${fmt(me.p99 / haproxy.p99)}x)`);
  if (workers === '1') check('RSS < 150 MB', me.rss < 150, `${me.rss} MB (npm run bench:soak checks it after a million requests)`);
  else verdicts.push(`       ${alg} RSS ${me.rss} MB over ${Number(workers) + 1} processes (the 150 MB target is for one; npm run bench:soak)`);
}
console.log('Portcullis against the peers of the same run');
for (const line of lines) console.log(line);
console.log('');
for (const v of verdicts) console.log(v);

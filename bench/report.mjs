// Reads the table run-peers.sh printed and reports the candidate (Portcullis) against every peer of the
// same run, with the targets of issue 5 / docs/PERFORMANCE.md.
import { readFileSync } from 'node:fs';

const rows = readFileSync(process.argv[2], 'utf8')
  .split('\n')
  .map((line) => line.trim().split(/\s+/))
  .filter((f) => f.length === 7 && /^(HS|RS)\d+$/.test(f[0]))
  .map(([alg, peer, rps, ratio, p50, p99, rss]) => ({
    alg, peer, rps: Number(rps), ratio: Number(ratio), p50: parseFloat(p50), p99: parseFloat(p99), rss: Number(rss),
  }));

const algs = [...new Set(rows.map((r) => r.alg))];
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
  const plain = get('node-plain-noauth');
  const naive = get('node-naive');
  lines.push(
    `${alg.padEnd(6)} portcullis ${String(Math.round(me.rps)).padStart(7)} req/s | ` +
      `x direct ${fmt(me.rps / direct?.rps, 3)} | x haproxy ${fmt(me.rps / haproxy?.rps)} | ` +
      `x node-plain ${fmt(me.rps / plain?.rps)} | x naive ${fmt(me.rps / naive?.rps)} | ` +
      `p50 ${fmt(me.p50)} ms p99 ${fmt(me.p99)} ms (haproxy p99 ${fmt(haproxy?.p99)} ms) | rss ${me.rss} MB`,
  );
  const check = (name, ok, detail) => verdicts.push(`${ok ? 'MET   ' : 'MISSED'} ${alg} ${name}: ${detail}`);
  if (alg === 'RS256' && plain) check('>= 0.9 x node:http+http-proxy without auth', me.rps >= 0.9 * plain.rps, `${fmt(me.rps / plain.rps)}`);
  if (alg === 'HS256' && naive) check('>= 2 x the naive Node gateway', me.rps >= 2 * naive.rps, `${fmt(me.rps / naive.rps)}`);
  if (alg === 'HS256' && haproxy) check('>= 0.5 x HAProxy checking the JWT', me.rps >= 0.5 * haproxy.rps, `${fmt(me.rps / haproxy.rps)}`);
  if (haproxy) check('p99 <= 2 x HAProxy p99', me.p99 <= 2 * haproxy.p99, `${fmt(me.p99)} ms vs ${fmt(haproxy.p99)} ms (${fmt(me.p99 / haproxy.p99)}x)`);
  check('RSS < 150 MB', me.rss < 150, `${me.rss} MB (npm run bench:soak checks it after a million requests)`);
}
console.log('Portcullis against the peers of the same run');
for (const line of lines) console.log(line);
console.log('');
for (const v of verdicts) console.log(v);

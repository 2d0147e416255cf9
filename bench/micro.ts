// npm run bench:micro: the per-request stages without the network, on real compiled objects (the config
// loader and compiler, real keys, real tokens). Prints ns/op for each stage and ratios measured in the
// same run, so that a regression shows up as a number. Not a test: nothing here is asserted.
import { generateKeyPairSync } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SignJWT } from 'jose';
import { pino } from 'pino';
import { extractBearer } from '../src/auth/extract.ts';
import { isIdentity, verifyToken } from '../src/auth/verify.ts';
import { compileConfig, type CompiledConfig } from '../src/config/compile.ts';
import { loadConfigText } from '../src/config/load.ts';
import { decide } from '../src/pipeline/decide.ts';
import { forwardedHeaders } from '../src/proxy/headers.ts';
import { normalizeTarget } from '../src/routing/normalize.ts';
import { AccessLog } from '../src/server/access-log.ts';
import { createLogger } from '../src/server/logger.ts';
import { GatewayMetrics } from '../src/server/metrics.ts';

const SECRET = 'micro-benchmark-secret-0123456789abcdef';
const MIN_MS = Number(process.env.MIN_MS ?? 300);

async function compile(cacheSize: number, keyFile: string): Promise<CompiledConfig> {
  const text = `
server: { token_cache_size: ${cacheSize} }
providers:
  - { name: hs, issuer: hs, secret: ${SECRET} }
  - { name: rs, issuer: rs, public_key_file: ${keyFile} }
forward: { headers: { X-User-Id: sub, X-User-Roles: roles, X-User-Email: email } }
upstreams: { app: "http://127.0.0.1:1" }
routes:
  - { name: health, path: /healthz, upstream: app, auth: public }
  - { name: users, path: /api/users/:id, upstream: app, roles: [admin] }
  - { name: orders, prefix: /api/orders, upstream: app, roles: [orders-reader, admin] }
`;
  const result = loadConfigText(path.join(dir, 'gateway.yaml'), text, {});
  if (!result.ok) throw new Error(result.problems.map((p) => p.message).join('\n'));
  return compileConfig(result.loaded);
}

/** Runs `fn` in batches until MIN_MS have passed; returns ns per call (sync or async). */
async function measure(fn: () => unknown): Promise<number> {
  for (let i = 0; i < 2000; i++) await fn(); // warm up the JIT
  let calls = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0n;
  while (elapsed < BigInt(MIN_MS) * 1_000_000n) {
    for (let i = 0; i < 1000; i++) {
      const r = fn();
      if (r instanceof Promise) await r;
    }
    calls += 1000;
    elapsed = process.hrtime.bigint() - start;
  }
  return Number(elapsed) / calls;
}

const dir = mkdtempSync(path.join(tmpdir(), 'portcullis-micro-'));
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const keyFile = path.join(dir, 'rs.pem');
writeFileSync(keyFile, publicKey.export({ type: 'spki', format: 'pem' }));

const claims = { sub: 'alice', roles: ['orders-reader'], email: 'alice@example.com' };
const hsToken = await new SignJWT({ ...claims, iss: 'hs' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('2h').sign(new TextEncoder().encode(SECRET));
const rsToken = await new SignJWT({ ...claims, iss: 'rs' }).setProtectedHeader({ alg: 'RS256' }).setExpirationTime('2h').sign(privateKey);
const cached = await compile(10_000, keyFile);
const uncached = await compile(0, keyFile);

const requestHeaders = (token: string): IncomingHttpHeaders => ({
  host: 'api.example.com',
  'user-agent': 'curl/8.5.0',
  accept: '*/*',
  authorization: `Bearer ${token}`,
  'x-user-id': 'mallory',
  connection: 'keep-alive',
});
const facts = (token: string) => {
  const headers = requestHeaders(token);
  return { method: 'GET', url: '/api/orders/42?expand=items', headers, rawHeaders: Object.entries(headers).flat() as string[], httpVersion: '1.1' };
};
const hsFacts = facts(hsToken);
const verified = await verifyToken(cached.verifier, hsToken);
if (!isIdentity(verified)) throw new Error('the benchmark token does not verify');
const identity = verified;
// As the gateway writes it: batched, and through a real pino destination, so that the line is turned into
// bytes and written (to /dev/null). A stream that drops strings unread would measure only the concatenation.
const accessLog = new AccessLog(createLogger('info', pino.destination({ dest: '/dev/null', sync: true })), true);
const metrics = new GatewayMetrics({ defaultMetrics: false });

const results: [string, number][] = [];
const run = async (name: string, fn: () => unknown) => {
  const ns = await measure(fn);
  results.push([name, ns]);
  console.log(`${name.padEnd(44)} ${ns.toFixed(0).padStart(9)} ns/op ${Math.round(1e9 / ns).toLocaleString('en').padStart(14)} ops/s`);
};

console.log(`Portcullis micro-benchmark (node ${process.version}, ${MIN_MS} ms per stage)\n`);
await run('baseline: copy the request headers object', () => ({ ...hsFacts.headers }));
await run('normalize, already-normal path', () => normalizeTarget('/api/orders/42?expand=items'));
await run('normalize, dot segments and escapes', () => normalizeTarget('/api/./x/../orders/%34%32?expand=items'));
await run('route match (3 routes)', () => cached.router.match('GET', 'api.example.com', '/api/orders/42'));
await run('extract bearer token', () => extractBearer(hsFacts.headers, hsFacts.rawHeaders, 8192));
// Each request's token is a new string, made by the HTTP parser from the bytes; its hash is not cached yet,
// so a cache lookup hashes the whole token. Made here the same way (the first stage alone is the baseline).
const hsBytes = Buffer.from(hsToken, 'latin1');
await run('token string from the request bytes (baseline)', () => hsBytes.toString('latin1'));
await run('verify HS256, cache hit (fresh token string)', () => verifyToken(cached.verifier, hsBytes.toString('latin1')));
await run('verify HS256, cache hit (same string again)', () => verifyToken(cached.verifier, hsToken));
await run('verify HS256, no cache (signature check)', () => verifyToken(uncached.verifier, hsToken));
await run('verify RS256, cache hit', () => verifyToken(cached.verifier, rsToken));
await run('verify RS256, no cache (signature check)', () => verifyToken(uncached.verifier, rsToken));
await run('forwarded header lines', () =>
  forwardedHeaders(hsFacts.headers, cached.forward, identity, { requestId: 'r-1', remoteAddress: '127.0.0.1', host: 'api.example.com', encrypted: false, upgrade: false }));
await run('decide, allowed, cached token (whole pipeline)', () => decide(cached, hsFacts));
await run('decide, allowed, RS256 without cache', () => decide(uncached, facts(rsToken)));
await run('access log line (batched, written to /dev/null)', () =>
  accessLog.write({ id: 'r-1', method: 'GET', path: '/api/orders/42', route: 'orders', upstream: 'app', subject: 'alice', reason: undefined, upstreamError: undefined, upstreamAttempts: 1, upstreamTarget: '127.0.0.1:4001', client: '127.0.0.1' }, 200, 1234, false));
await run('request metrics', () => metrics.request('orders', 'GET', 200, 0.0012));

const ns = Object.fromEntries(results);
const ratio = (a: string, b: string) => (ns[a]! / ns[b]!).toFixed(1);
console.log('\nRatios (same run):');
console.log(`  HS256 signature check / cache hit       ${ratio('verify HS256, no cache (signature check)', 'verify HS256, cache hit (fresh token string)')}x`);
console.log(`  RS256 signature check / cache hit       ${ratio('verify RS256, no cache (signature check)', 'verify RS256, cache hit')}x (same string)`);
console.log(`  whole pipeline (cached) / headers copy  ${ratio('decide, allowed, cached token (whole pipeline)', 'baseline: copy the request headers object')}x`);
const perRequest = ['decide, allowed, cached token (whole pipeline)', 'forwarded header lines', 'access log line (batched, written to /dev/null)', 'request metrics'].reduce((s, k) => s + ns[k]!, 0);
console.log(`  gateway work per cached request ~ ${(perRequest / 1000).toFixed(2)} us (decide + headers + log + metrics)`);
cached.close();
uncached.close();
rmSync(dir, { recursive: true, force: true });

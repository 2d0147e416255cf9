// Rate limits with the memory store (one gateway process): exact counts under concurrency, one budget per
// policy and key shared by every route naming it, the keys (sub, claim:, header:, ip with and without
// trust_proxy, the shared "missing" key), denials counted against ip policies, the 429 that no upstream
// sees, the IETF RateLimit headers, metrics, the access log, and a reload that changes a policy.
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { accessLogs, configWith, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { bearer, raw, request, statusOf, type Response } from '../helpers/http.ts';
import { sign } from '../helpers/keys.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';
import { acceptFor, wsHandshake } from '../security/support.ts';

const token = (claims: Record<string, unknown>) => sign({ iss: 'test', aud: 'api', ...claims });

/** Windows long enough never to roll over during a test: counts, not timing, are asserted. */
const POLICIES = {
  'burst-user': { requests: 10, per: '1m', burst: 5, key: 'sub' },
  shared: { requests: 4, per: '1m', key: 'sub' },
  'per-route': { requests: 3, per: '1m', key: 'route' },
  'per-org': { requests: 2, per: '1m', key: 'claim:org.id' },
  'per-api-key': { requests: 2, per: '1m', key: 'header:X-Api-Key' },
  'per-ip': { requests: 3, per: '1m', key: 'ip' },
  'per-user': { requests: 2, per: '1m', key: 'sub' },
  generous: { requests: 100, per: '1m', key: 'sub' },
  'ws-ip': { requests: 1, per: '1m', key: 'ip' },
  'pair-ip': { requests: 3, per: '1m', key: 'ip' },
  'pair-user': { requests: 1, per: '1m', key: 'sub' },
};

const ROUTES = [
  { name: 'burst', prefix: '/burst', upstream: 'app', rate_limit: 'burst-user' },
  { name: 'shared-a', prefix: '/shared-a', upstream: 'app', rate_limit: 'shared' },
  { name: 'shared-b', prefix: '/shared-b', upstream: 'app', rate_limit: ['shared'] },
  { name: 'two', prefix: '/two', upstream: 'app', rate_limit: ['per-route', 'generous'] },
  { name: 'org', prefix: '/org', upstream: 'app', rate_limit: 'per-org' },
  { name: 'api-key', prefix: '/api-key', upstream: 'app', auth: 'public', rate_limit: 'per-api-key' },
  { name: 'guarded', prefix: '/guarded', upstream: 'app', rate_limit: ['per-ip', 'per-user'] },
  { name: 'user-only', prefix: '/user-only', upstream: 'app', rate_limit: 'per-user' },
  { name: 'open', prefix: '/open', upstream: 'app', auth: 'public' },
  { name: 'ws', prefix: '/ws', upstream: 'app', rate_limit: 'ws-ip' },
  { name: 'ws-user', prefix: '/ws-user', upstream: 'app', rate_limit: 'per-user' },
  { name: 'pair', prefix: '/pair', upstream: 'app', rate_limit: ['pair-ip', 'pair-user'] },
];

function statuses(responses: readonly Response[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const r of responses) counts[r.status] = (counts[r.status] ?? 0) + 1;
  return counts;
}

function parallel(n: number, send: (i: number) => Promise<Response>): Promise<Response[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => send(i)));
}

describe('rate limits (memory store)', () => {
  let upstream: Upstream;
  let gw: TestGateway;
  const reached = (prefix: string) => upstream.received.filter((r) => r.url.startsWith(prefix)).length;

  before(async () => {
    upstream = await startUpstream();
    gw = await startTestGateway(configWith(upstream.url, ROUTES, { rate_limits: POLICIES }));
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  test('of 30 requests sent at once, exactly requests + burst pass; the rest get 429 and reach no upstream', async () => {
    const alice = await token({ sub: 'burst-alice' });
    const responses = await parallel(30, () => request(gw.url, '/burst/x', { headers: bearer(alice) }));
    assert.deepEqual(statuses(responses), { 200: 15, 429: 15 });
    assert.equal(reached('/burst'), 15);
  });

  test('a 429 is a JSON rate_limited error with Retry-After, and every response carries RateLimit-Policy and RateLimit', async () => {
    const bob = await token({ sub: 'headers-bob' });
    const first = await request(gw.url, '/user-only', { headers: bearer(bob) });
    assert.equal(first.status, 200);
    assert.equal(first.headers['ratelimit-policy'], '"per-user";q=2;w=60');
    assert.match(String(first.headers.ratelimit), /^"per-user";r=1;t=\d+$/);
    await request(gw.url, '/user-only', { headers: bearer(bob) });
    const refused = await request(gw.url, '/user-only', { headers: bearer(bob) });
    assert.equal(refused.status, 429);
    const body = refused.json();
    assert.equal(body.error, 'rate_limited');
    assert.match(String(body.message), /"per-user"/);
    assert.equal(body.request_id, refused.headers['x-request-id']);
    assert.match(String(refused.headers['retry-after']), /^[1-9]\d*$/);
    assert.match(String(refused.headers.ratelimit), /^"per-user";r=0;t=\d+$/);
    // The draft: Retry-After never points earlier than the end of the effective window.
    const t = Number(/t=(\d+)/.exec(String(refused.headers.ratelimit))![1]);
    assert.ok(Number(refused.headers['retry-after']) >= t);
    assert.equal(refused.headers['cache-control'], 'no-store');
  });

  test('a policy is one budget per key, shared by every route that names it', async () => {
    const carol = await token({ sub: 'shared-carol' });
    const dave = await token({ sub: 'shared-dave' });
    for (const path of ['/shared-a', '/shared-b', '/shared-a', '/shared-b']) {
      assert.equal((await request(gw.url, path, { headers: bearer(carol) })).status, 200);
    }
    assert.equal((await request(gw.url, '/shared-a', { headers: bearer(carol) })).status, 429);
    assert.equal((await request(gw.url, '/shared-b', { headers: bearer(carol) })).status, 429);
    assert.equal((await request(gw.url, '/shared-b', { headers: bearer(dave) })).status, 200, 'another sub has its own budget');
  });

  test('a route naming two policies needs both to allow a request, and reports both', async () => {
    const users = await Promise.all(['two-1', 'two-2', 'two-3', 'two-4'].map((sub) => token({ sub })));
    const responses = [];
    for (const t of users) responses.push(await request(gw.url, '/two', { headers: bearer(t) }));
    assert.deepEqual(responses.map((r) => r.status), [200, 200, 200, 429], 'key: route counts every caller of the route together');
    assert.equal(responses[0]!.headers['ratelimit-policy'], '"per-route";q=3;w=60, "generous";q=100;w=60');
    assert.match(String(responses[0]!.headers.ratelimit), /^"per-route";r=2;t=\d+, "generous";r=99;t=\d+$/);
  });

  test('a request one policy refuses is counted by none: a user over their limit does not spend their address\'s budget', async () => {
    const [mallory, alice, bob, carol] = (await Promise.all(['pair-mallory', 'pair-alice', 'pair-bob', 'pair-carol'].map((sub) => token({ sub })))) as [string, string, string, string];
    const send = (t: string) => request(gw.url, '/pair', { headers: bearer(t) });
    const hammering = [];
    for (let i = 0; i < 6; i++) hammering.push(await send(mallory));
    assert.deepEqual(hammering.map((r) => r.status), [200, 429, 429, 429, 429, 429]);
    assert.match(hammering[1]!.json().message as string, /"pair-user"/);
    assert.match(String(hammering[5]!.headers.ratelimit), /^"pair-ip";r=2;t=\d+, "pair-user";r=0;t=\d+$/, 'the address was charged once');
    assert.deepEqual([(await send(alice)).status, (await send(bob)).status], [200, 200]);
    const spent = await send(carol);
    assert.equal(spent.status, 429, 'three let through from one address: its budget is spent');
    assert.match(spent.json().message as string, /"pair-ip"/);
    assert.equal(reached('/pair'), 3);
  });

  test('claim: keys count by the verified claim; callers without it share one "missing" key', async () => {
    const [a1, a2, b, none1, none2] = await Promise.all([
      token({ sub: 'o1', org: { id: 'acme' } }),
      token({ sub: 'o2', org: { id: 'acme' } }),
      token({ sub: 'o3', org: { id: 'globex' } }),
      token({ sub: 'o4' }),
      token({ sub: 'o5', org: {} }),
    ]);
    const send = (t: string) => request(gw.url, '/org', { headers: bearer(t) }).then((r) => r.status);
    assert.deepEqual([await send(a1), await send(a2), await send(a1)], [200, 200, 429], 'two users of one org share its budget');
    assert.equal(await send(b), 200);
    assert.deepEqual([await send(none1), await send(none2), await send(none1)], [200, 200, 429], 'no claim is never unlimited');
  });

  test('header: keys count by the header value; requests without it share one "missing" key', async () => {
    const send = (key?: string) => request(gw.url, '/api-key', { headers: key ? { 'x-api-key': key } : {} }).then((r) => r.status);
    assert.deepEqual([await send('k1'), await send('k1'), await send('k1')], [200, 200, 429]);
    assert.equal(await send('k2'), 200);
    assert.deepEqual([await send(), await send(), await send()], [200, 200, 429]);
  });

  test('denied requests count against ip policies: a flood of bad tokens ends in 429, even for a good one', async () => {
    const forged = await sign({ iss: 'test', aud: 'api', sub: 'eve' }, { key: 'not-the-secret-not-the-secret-000000' });
    const denied = [];
    for (let i = 0; i < 3; i++) denied.push(await request(gw.url, '/guarded', { headers: bearer(forged) }));
    assert.deepEqual(denied.map((r) => r.status), [401, 401, 401]);
    assert.equal(denied[0]!.headers['ratelimit-policy'], '"per-ip";q=3;w=60', 'a denial is counted against the ip policy only');
    const good = await token({ sub: 'guarded-frank' });
    const refused = await request(gw.url, '/guarded', { headers: bearer(good) });
    assert.equal(refused.status, 429);
    assert.match(refused.json().message as string, /"per-ip"/);
    assert.equal(reached('/guarded'), 0);
  });

  test('refusals are counted by route and policy, and the access log says rate_limited', async () => {
    const metrics = (await request(gw.adminUrl, '/metrics')).body;
    assert.match(metrics, /portcullis_rate_limited_total\{route="burst",policy="burst-user"\} 15/);
    assert.match(metrics, /portcullis_rate_limited_total\{route="shared-b",policy="shared"\} 1/);
    const refused = accessLogs(gw.logs).filter((l) => l.reason === 'rate_limited');
    assert.ok(refused.length >= 15);
    assert.ok(refused.every((l) => l.status === 429));
  });

  test('WebSocket handshakes are counted like any request: over the limit, a 429 and no upgrade', async () => {
    const handshake = 'GET /ws HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';
    assert.equal(statusOf(await raw(gw.port, handshake, 500)), 401, 'counted against the ip policy, though denied');
    const refused = await raw(gw.port, handshake, 500);
    assert.equal(statusOf(refused), 429);
    assert.match(refused, /^retry-after: [1-9]\d*\r$/m);
    assert.match(refused, /^ratelimit-policy: "ws-ip";q=1;w=60\r$/m);
    assert.equal(reached('/ws'), 0);
  });

  test('an allowed WebSocket handshake\'s 101 carries the RateLimit fields and the request id, not the upstream\'s own', async () => {
    upstream.server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
      socket.on('error', () => {});
      socket.write(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nRateLimit: "upstream";r=999\r\n' +
          `Sec-WebSocket-Accept: ${acceptFor(String(req.headers['sec-websocket-key']))}\r\n\r\n`,
      );
    });
    const grace = await token({ sub: 'ws-grace' });
    const opened = await wsHandshake(gw.port, '/ws-user', { ...bearer(grace), 'x-request-id': 'ws-101' });
    try {
      assert.equal(opened.status, 101);
      assert.equal(opened.headers['ratelimit-policy'], '"per-user";q=2;w=60');
      assert.match(String(opened.headers.ratelimit), /^"per-user";r=1;t=\d+$/);
      assert.equal(opened.headers['x-request-id'], 'ws-101');
      assert.equal(opened.headers['sec-websocket-accept'], acceptFor(Buffer.from('0123456789abcdef').toString('base64')));
    } finally {
      opened.socket?.destroy();
    }
  });

  test('a route without rate_limit carries no RateLimit headers', async () => {
    const response = await request(gw.url, '/open');
    assert.equal(response.status, 200);
    assert.equal(response.headers['ratelimit-policy'], undefined);
    assert.equal(response.headers.ratelimit, undefined);
  });
});

describe('rate limits over time', () => {
  test('a quiet client has its whole burst back after (requests + burst) / requests windows', { timeout: 30_000 }, async () => {
    const upstream = await startUpstream();
    // A token bucket of 3 (1 + a burst of 2), refilled one request every 2 s: full again 6 s after it emptied.
    const policy = { 'slow-ip': { requests: 1, per: '2s', burst: 2, key: 'ip' } };
    const gw = await startTestGateway(configWith(upstream.url, [{ name: 'slow', prefix: '/', upstream: 'app', auth: 'public', rate_limit: 'slow-ip' }], { rate_limits: policy }));
    try {
      const burst = () => parallel(4, () => request(gw.url, '/'));
      const first = await burst();
      assert.deepEqual(statuses(first), { 200: 3, 429: 1 });
      assert.equal(first[0]!.headers['ratelimit-policy'], '"slow-ip";q=1;w=2;portcullis-burst=2');
      await new Promise((r) => setTimeout(r, 6_500));
      // A window plus a burst window (the old fixed windows) would have given 1 here, the burst still spent.
      assert.deepEqual(statuses(await burst()), { 200: 3, 429: 1 });
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
});

describe('rate limits by ip', () => {
  let upstream: Upstream;

  before(async () => {
    upstream = await startUpstream();
  });
  after(() => upstream.close());

  const policy = { 'per-ip': { requests: 2, per: '1m', key: 'ip' } };
  const routes = [{ name: 'anon', prefix: '/', upstream: 'app', auth: 'public', rate_limit: 'per-ip' }];
  const from = (gw: TestGateway, forwardedFor: string) => request(gw.url, '/x', { headers: { 'x-forwarded-for': forwardedFor } }).then((r) => r.status);

  test('without trust_proxy, X-Forwarded-For is ignored: a client can not give itself new addresses', async () => {
    const gw = await startTestGateway(configWith(upstream.url, routes, { rate_limits: policy }));
    try {
      assert.deepEqual([await from(gw, '198.51.100.1'), await from(gw, '198.51.100.2'), await from(gw, '198.51.100.3')], [200, 200, 429]);
    } finally {
      await gw.close();
    }
  });

  test('behind a trusted proxy, the client is the address that proxy saw, whatever the client wrote before it', async () => {
    const gw = await startTestGateway(configWith(upstream.url, routes, { rate_limits: policy, server: { trust_proxy: ['127.0.0.1/32'] } }));
    try {
      assert.equal(await from(gw, '203.0.113.7'), 200);
      assert.equal(await from(gw, '203.0.113.8'), 200);
      assert.equal(await from(gw, '203.0.113.7'), 200);
      // The proxy appends the address it saw; what the client sent to its left is ignored.
      assert.equal(await from(gw, '10.9.9.9, 203.0.113.7'), 429);
      assert.equal(await from(gw, '203.0.113.8'), 200);
    } finally {
      await gw.close();
    }
  });
});

describe('rate limits across a reload', () => {
  test('a reload that changes a policy takes effect at once; the counts made so far are kept', async () => {
    const upstream = await startUpstream();
    const config = (requests: number) =>
      configWith(upstream.url, [{ name: 'r', prefix: '/', upstream: 'app', auth: 'public', rate_limit: 'p' }], { rate_limits: { p: { requests, per: '1m', key: 'route' } } });
    const gw = await startTestGateway(config(2));
    try {
      const send = () => request(gw.url, '/').then((r) => r.status);
      assert.deepEqual([await send(), await send(), await send()], [200, 200, 429]);
      assert.equal(await gw.rewrite(config(5)), true);
      const raised = await request(gw.url, '/');
      assert.equal(raised.status, 200);
      assert.equal(raised.headers['ratelimit-policy'], '"p";q=5;w=60');
      // Two counted before the reload (a refused request is not counted) and one since: two more fit.
      assert.deepEqual([await send(), await send(), await send()], [200, 200, 429]);
      assert.equal(await gw.rewrite(config(1)), true);
      assert.equal(await send(), 429);
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
});

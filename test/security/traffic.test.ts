// Attacks on traffic control. CORS: origins that only look like allowed ones, reflection (the gateway's or
// a careless upstream's), a preflight carrying a smuggled request, a cookie token ridden from a page whose
// origin is not listed (CSRF). Rate limits: a client inventing
// addresses with X-Forwarded-For, a forged token spending its victim's budget, a flood of guessed tokens.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { configWith, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { bearer, raw, request, type Response } from '../helpers/http.ts';
import { sign } from '../helpers/keys.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';
import { assertRefused, reached } from './support.ts';

const APP = 'https://app.example.com';
const SMUGGLED = 'GET /api/secrets HTTP/1.1\r\nHost: gw\r\nX-User-Id: admin\r\nContent-Length: 0\r\n\r\n';
const chunkOf = (data: string) => `${data.length.toString(16)}\r\n${data}\r\n`;
const ALLOW_HEADERS = ['access-control-allow-origin', 'access-control-allow-credentials', 'access-control-allow-methods', 'access-control-allow-headers'];
const noAllowHeaders = (r: Response) => ALLOW_HEADERS.every((h) => r.headers[h] === undefined);
/** Signed with another key: the gateway refuses it, whatever sub it names. */
const forge = (sub: string) => sign({ iss: 'test', aud: 'api', sub }, { key: 'not-the-secret-not-the-secret-000000' });

describe('attacks on CORS', () => {
  let upstream: Upstream;
  let gw: TestGateway;
  let token: string;

  before(async () => {
    upstream = await startUpstream();
    const cors = { origins: [APP, 'https://*.example.com'], headers: ['Authorization'], credentials: true };
    gw = await startTestGateway(configWith(upstream.url, [{ name: 'api', prefix: '/api', upstream: 'app' }], { cors }));
    token = await sign({ iss: 'test', aud: 'api', sub: 'alice' });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  const lookalikes = [
    'https://evil-example.com',
    'https://example.com.evil.net',
    'https://app.example.com.evil.net',
    'https://evilapp.example.com.attacker.test',
    'https://example.com',
    'https://.example.com',
    'https://user@app.example.com',
    'https://app.example.com:8443',
    'http://app.example.com',
    'https://app.example.com/',
    'https://APP.example.com',
    'https://app.example.com%2f.evil.net',
    'null',
    '*',
  ];

  test('an origin that only looks like an allowed one gets no CORS grant, on a preflight or on the call itself', async () => {
    for (const origin of lookalikes) {
      const preflight = await request(gw.url, '/api/x', { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' } });
      assert.equal(preflight.status, 403, origin);
      assert.ok(noAllowHeaders(preflight), origin);
      const call = await request(gw.url, '/api/x', { headers: { ...bearer(token), origin } });
      assert.ok(noAllowHeaders(call), origin);
    }
  });

  test('an unlisted origin is never reflected, not even when the upstream itself reflects it with credentials', async () => {
    upstream.handle((req, res) => {
      res.writeHead(200, { 'access-control-allow-origin': String(req.headers.origin), 'access-control-allow-credentials': 'true' });
      res.end('{"secret":1}');
    });
    try {
      const stolen = await request(gw.url, '/api/x', { headers: { ...bearer(token), origin: 'https://attacker.test' } });
      assert.equal(stolen.status, 200);
      assert.ok(noAllowHeaders(stolen), JSON.stringify(stolen.headers));
    } finally {
      upstream.handle((_req, res) => res.end('{}'));
    }
  });

  test('a preflight carrying a smuggled request in its body is answered once, and nothing reaches the upstream', async () => {
    const text =
      `OPTIONS /api/x HTTP/1.1\r\nHost: gw\r\nOrigin: ${APP}\r\nAccess-Control-Request-Method: GET\r\nTransfer-Encoding: chunked\r\n\r\n` +
      chunkOf(SMUGGLED) +
      '0\r\n\r\n';
    const { result, count } = await reached(upstream, () => raw(gw.port, text, 600));
    assert.equal(result.match(/^HTTP\/1\.1 /gm)?.length, 1, result);
    assert.match(result, /^HTTP\/1\.1 204 /);
    assert.equal(count, 0);
  });
});

describe('attacks on rate limits', () => {
  let upstream: Upstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await startUpstream();
    gw = await startTestGateway(
      configWith(
        upstream.url,
        [
          { name: 'anon', prefix: '/anon', upstream: 'app', auth: 'public', rate_limit: 'per-ip' },
          { name: 'guarded', prefix: '/guarded', upstream: 'app', rate_limit: ['per-ip-guard', 'per-user'] },
          { name: 'user-only', prefix: '/user-only', upstream: 'app', rate_limit: 'per-user' },
        ],
        {
          rate_limits: {
            'per-ip': { requests: 2, per: '1m', key: 'ip' },
            'per-ip-guard': { requests: 3, per: '1m', key: 'ip' },
            'per-user': { requests: 2, per: '1m', key: 'sub' },
          },
        },
      ),
    );
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  test('a client that is not a trusted proxy can not give itself fresh ip budgets with X-Forwarded-For and friends', async () => {
    const statuses = [];
    for (let i = 0; i < 4; i++) {
      const spoof = `198.51.100.${i}`;
      const res = await request(gw.url, '/anon', { headers: { 'x-forwarded-for': spoof, 'x-real-ip': spoof, forwarded: `for=${spoof}`, 'true-client-ip': spoof } });
      statuses.push(res.status);
    }
    assert.deepEqual(statuses, [200, 200, 429, 429]);
  });

  test('a forged token can not spend the budget of the sub it names', async () => {
    const forged = await forge('victim');
    for (let i = 0; i < 5; i++) assert.equal((await request(gw.url, '/user-only', { headers: bearer(forged) })).status, 401);
    const victim = await sign({ iss: 'test', aud: 'api', sub: 'victim' });
    assert.equal((await request(gw.url, '/user-only', { headers: bearer(victim) })).status, 200);
  });

  test('a flood of guessed tokens is stopped by the ip policy: then even a valid token gets 429, and nothing reaches the upstream', async () => {
    const before = upstream.received.length;
    const guesses = await Promise.all(Array.from({ length: 3 }, async (_, i) => request(gw.url, '/guarded', { headers: bearer(await forge(`guess-${i}`)) })));
    assert.deepEqual(guesses.map((r) => r.status), [401, 401, 401]);
    const next = await request(gw.url, '/guarded', { headers: bearer(await forge('guess-3')) });
    assert.equal(next.status, 429);
    assert.equal(next.json().error, 'rate_limited');
    const valid = await sign({ iss: 'test', aud: 'api', sub: 'mallory' });
    assert.equal((await request(gw.url, '/guarded', { headers: bearer(valid) })).status, 429);
    assert.equal(upstream.received.length, before);
  });
});

describe('cookie tokens and the CORS origins (CSRF)', () => {
  let upstream: Upstream;
  let gw: TestGateway;
  let cookie: { cookie: string };

  before(async () => {
    upstream = await startUpstream();
    gw = await startTestGateway({
      server: { host: '127.0.0.1' },
      providers: [{ name: 'web', issuer: 'web', audience: 'api', secret: 'test-secret-that-is-long-enough-0123456789', token_from: ['cookie:access_token'] }],
      forward: { headers: { 'X-User-Id': 'sub' } },
      upstreams: { app: upstream.url },
      cors: { origins: [APP, 'https://*.example.com'], headers: ['Content-Type'], credentials: true },
      routes: [
        { name: 'any', prefix: '/any', upstream: 'app', cors: { origins: ['*'] } },
        { name: 'api', prefix: '/api', upstream: 'app' },
      ],
    });
    cookie = { cookie: `access_token=${await sign({ iss: 'web', aud: 'api', sub: 'alice' })}` };
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  const post = (path: string, origin: string) => request(gw.url, path, { method: 'POST', headers: { ...cookie, origin, 'content-type': 'application/json' }, body: '{"amount":1000}' });

  test('a page from a listed CORS origin may POST with the cookie token', async () => {
    for (const origin of [APP, 'https://shop.example.com']) {
      const { result, count } = await reached(upstream, () => post('/api/transfer', origin));
      assert.equal(result.status, 200, origin);
      assert.equal(count, 1, origin);
      assert.equal(upstream.received.at(-1)!.headers['x-user-id'], 'alice');
    }
  });

  test('a page from an unlisted origin, even one that looks like a listed one, gets 403 csrf_origin and nothing reaches the upstream', async () => {
    for (const origin of ['https://evil.test', 'https://evil-example.com', 'https://example.com.evil.net', 'null']) {
      const { result, count } = await reached(upstream, () => post('/api/transfer', origin));
      assertRefused(result, 403, 'csrf_origin', count, origin);
    }
  });

  test('origins: ["*"] lets any page read responses, but vouches for none: a cookie POST from any origin is refused', async () => {
    const { result, count } = await reached(upstream, () => post('/any/transfer', 'https://evil.test'));
    assertRefused(result, 403, 'csrf_origin', count, '"*"');
    assert.equal(result.headers['access-control-allow-origin'], '*', 'the page may read why');
  });
});

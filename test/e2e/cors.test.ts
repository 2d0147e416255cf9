// CORS driven as a browser drives it: a preflight (answered by the gateway, before authentication, never
// reaching the upstream), then the actual request; allowed and refused origins, credentials, the wildcard
// tricks, "null", Vary, CORS headers on denials, and the upstream's own CORS headers replaced.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { configWith, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { bearer, request, type Response } from '../helpers/http.ts';
import { sign } from '../helpers/keys.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';

const APP = 'https://app.example.com';

const CORS = {
  origins: [APP, 'https://*.example.com'],
  methods: ['GET', 'POST', 'PUT', 'DELETE'],
  headers: ['Authorization', 'Content-Type'],
  expose_headers: ['X-Request-Id'],
  credentials: true,
  max_age: '10m',
};

const ROUTES = [
  { name: 'api', prefix: '/api', upstream: 'app' },
  { name: 'admin', prefix: '/admin', upstream: 'app', roles: ['admin'] },
  { name: 'limited', prefix: '/limited', upstream: 'app', auth: 'public', rate_limit: 'tiny' },
  { name: 'own', prefix: '/own', upstream: 'app', auth: 'public', cors: { origins: ['http://localhost:3000'], methods: ['GET'] } },
  { name: 'sandbox', prefix: '/sandbox', upstream: 'app', auth: 'public', cors: { origins: ['null'] } },
  { name: 'any', prefix: '/any', upstream: 'app', auth: 'public', cors: { origins: ['*'] } },
  { name: 'off', prefix: '/off', upstream: 'app', auth: 'public', cors: false },
];

const ALLOW_HEADERS = ['access-control-allow-origin', 'access-control-allow-credentials', 'access-control-allow-methods', 'access-control-allow-headers'];

describe('CORS', () => {
  let upstream: Upstream;
  let gw: TestGateway;
  let token: string;

  before(async () => {
    upstream = await startUpstream();
    gw = await startTestGateway(configWith(upstream.url, ROUTES, { cors: CORS, rate_limits: { tiny: { requests: 1, per: '1m', key: 'ip' } } }));
    token = await sign({ iss: 'test', aud: 'api', sub: 'alice', roles: ['reader'] });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  const preflight = (path: string, origin: string, method = 'GET', headers?: string) =>
    request(gw.url, path, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': method, ...(headers ? { 'access-control-request-headers': headers } : {}) },
    });
  const noAllowHeaders = (r: Response) => ALLOW_HEADERS.every((h) => r.headers[h] === undefined);
  const optionsReached = () => upstream.received.filter((r) => r.method === 'OPTIONS').length;

  test('a preflight from an allowed origin is answered by the gateway before authentication, and the upstream sees nothing', async () => {
    const before = upstream.received.length;
    const answer = await preflight('/api/orders/1', APP, 'PUT', 'authorization,content-type');
    assert.equal(answer.status, 204);
    assert.equal(answer.headers['access-control-allow-origin'], APP);
    assert.equal(answer.headers['access-control-allow-credentials'], 'true');
    assert.equal(answer.headers['access-control-allow-methods'], 'GET, POST, PUT, DELETE');
    assert.equal(answer.headers['access-control-allow-headers'], 'Authorization, Content-Type');
    assert.equal(answer.headers['access-control-max-age'], '600');
    assert.match(String(answer.headers.vary), /Origin/);
    assert.equal(answer.body, '');
    assert.equal(upstream.received.length, before);
  });

  test('then the actual request gets its own origin back, with credentials, the exposed headers and Vary: Origin', async () => {
    const response = await request(gw.url, '/api/orders/1', { method: 'PUT', headers: { ...bearer(token), origin: APP, 'content-type': 'application/json' }, body: '{}' });
    assert.equal(response.status, 200);
    assert.equal(response.headers['access-control-allow-origin'], APP);
    assert.equal(response.headers['access-control-allow-credentials'], 'true');
    assert.match(String(response.headers['access-control-expose-headers']), /X-Request-Id/);
    assert.equal(response.headers.vary, 'Origin');
  });

  test('a preflight for an origin, a method or a header that is not allowed gets 403 without any allow header', async () => {
    const cases: [Response, string][] = [
      [await preflight('/api/x', 'https://evil.test'), 'cors_origin_not_allowed'],
      [await preflight('/api/x', APP, 'PATCH'), 'cors_method_not_allowed'],
      [await preflight('/api/x', APP, 'GET', 'authorization, x-secret'), 'cors_header_not_allowed'],
    ];
    for (const [answer, code] of cases) {
      assert.equal(answer.status, 403);
      assert.equal(answer.json().error, code);
      assert.ok(noAllowHeaders(answer), JSON.stringify(answer.headers));
    }
    assert.equal(optionsReached(), 0);
  });

  test('a wildcard matches one or more subdomain labels and nothing else', async () => {
    const allowed = ['https://a.example.com', 'https://a.b.example.com', APP];
    const refused = [
      'https://evil-example.com',
      'https://example.com.evil.net',
      'https://example.com',
      'https://.example.com',
      'http://a.example.com',
      'https://a.example.com:8443',
      'https://a.example.com.',
      'https://user@a.example.com',
      'https://a.example.com/path',
      'https://APP.EXAMPLE.COM',
      'null',
      '*',
    ];
    for (const origin of allowed) {
      assert.equal((await preflight('/api/x', origin)).status, 204, origin);
      const actual = await request(gw.url, '/api/x', { headers: { ...bearer(token), origin } });
      assert.equal(actual.headers['access-control-allow-origin'], origin);
    }
    for (const origin of refused) {
      const answer = await preflight('/api/x', origin);
      assert.equal(answer.status, 403, origin);
      assert.ok(noAllowHeaders(answer), origin);
      // No reflection: the actual request is served (CORS is not access control), but the page can not read it.
      const actual = await request(gw.url, '/api/x', { headers: { ...bearer(token), origin } });
      assert.equal(actual.status, 200);
      assert.ok(noAllowHeaders(actual), origin);
      assert.equal(actual.headers.vary, 'Origin', 'the answer depends on Origin, so caches must key on it');
    }
  });

  test('"null" is allowed only where it is listed', async () => {
    assert.equal((await request(gw.url, '/api/x', { headers: { ...bearer(token), origin: 'null' } })).headers['access-control-allow-origin'], undefined);
    const sandboxed = await request(gw.url, '/sandbox', { headers: { origin: 'null' } });
    assert.equal(sandboxed.headers['access-control-allow-origin'], 'null');
  });

  test('denials carry the CORS headers, so the page can read why: 401, 403 and 429', async () => {
    const unauthorized = await request(gw.url, '/api/x', { headers: { origin: APP } });
    const forbidden = await request(gw.url, '/admin', { headers: { ...bearer(token), origin: APP } });
    await request(gw.url, '/limited', { headers: { origin: APP } });
    const limited = await request(gw.url, '/limited', { headers: { origin: APP } });
    assert.deepEqual([unauthorized.status, forbidden.status, limited.status], [401, 403, 429]);
    for (const response of [unauthorized, forbidden, limited]) {
      assert.equal(response.headers['access-control-allow-origin'], APP);
      assert.equal(response.headers['access-control-allow-credentials'], 'true');
      assert.match(String(response.headers.vary), /Origin/);
    }
    // A page can read its limits only when they are exposed.
    assert.match(String(limited.headers['access-control-expose-headers']), /RateLimit-Policy, RateLimit, Retry-After/);
  });

  test('the upstream\'s own CORS headers are replaced where the gateway does CORS, and kept where it does not', async () => {
    upstream.handle((_req, res) => {
      res.writeHead(200, {
        'access-control-allow-origin': '*',
        'access-control-allow-methods': 'PATCH',
        'access-control-max-age': '86400',
        vary: 'Accept-Encoding',
      });
      res.end('{}');
    });
    try {
      const replaced = await request(gw.url, '/api/x', { headers: { ...bearer(token), origin: APP } });
      assert.equal(replaced.headers['access-control-allow-origin'], APP);
      assert.equal(replaced.headers['access-control-allow-methods'], undefined);
      assert.equal(replaced.headers['access-control-max-age'], undefined);
      assert.equal(replaced.headers.vary, 'Accept-Encoding, Origin');
      const refused = await request(gw.url, '/api/x', { headers: { ...bearer(token), origin: 'https://evil.test' } });
      assert.ok(noAllowHeaders(refused), 'the upstream\'s "*" does not leak through for a refused origin');
      const kept = await request(gw.url, '/off', { headers: { origin: 'https://evil.test' } });
      assert.equal(kept.headers['access-control-allow-origin'], '*');
    } finally {
      upstream.handle((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      });
    }
  });

  test('where a route does no CORS (cors: false), a preflight goes on like any request', async () => {
    const answer = await preflight('/off', APP);
    assert.equal(answer.status, 200);
    assert.equal(optionsReached(), 1);
  });

  test('a route\'s own cors block replaces the global one whole', async () => {
    const own = await request(gw.url, '/own', { headers: { origin: 'http://localhost:3000' } });
    assert.equal(own.headers['access-control-allow-origin'], 'http://localhost:3000');
    assert.equal(own.headers['access-control-allow-credentials'], undefined, 'credentials were not inherited');
    assert.equal((await request(gw.url, '/own', { headers: { origin: APP } })).headers['access-control-allow-origin'], undefined);
    assert.equal((await preflight('/own', 'http://localhost:3000', 'POST')).status, 403, 'its methods are its own');
  });

  test('origins: ["*"] without credentials answers "*" and does not vary', async () => {
    const any = await request(gw.url, '/any', { headers: { origin: 'https://whoever.test' } });
    assert.equal(any.headers['access-control-allow-origin'], '*');
    assert.equal(any.headers['access-control-allow-credentials'], undefined);
    assert.equal(any.headers.vary, undefined);
  });

  test('a path no route serves gets the global CORS on its 404, so the page can read it', async () => {
    const missing = await request(gw.url, '/nothing', { headers: { origin: APP } });
    assert.equal(missing.status, 404);
    assert.equal(missing.headers['access-control-allow-origin'], APP);
  });
});

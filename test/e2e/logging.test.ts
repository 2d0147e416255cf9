// Logs: one JSON access line per request with what an operator needs, denial reasons, the loud dev-secret
// warning, and never a credential.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { accessLogs, configWith, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { bearer, raw, request } from '../helpers/http.ts';
import { SECRET, sign } from '../helpers/keys.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';

describe('access log', () => {
  let upstream: Upstream;
  let gw: TestGateway;
  before(async () => {
    upstream = await startUpstream();
    gw = await startTestGateway(configWith(upstream.url, [{ name: 'orders', prefix: '/api/orders', upstream: 'app', roles: ['reader'] }]));
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  test('an allowed request: request id, method, path without query, route, status, duration, upstream, sub', async () => {
    const res = await request(gw.url, '/api/orders/1?card=4111111111111111', {
      headers: bearer(await sign({ iss: 'test', aud: 'api', sub: 'alice', roles: ['reader'] })),
    });
    const line = accessLogs(gw.logs).find((l) => l.req_id === res.headers['x-request-id'])!;
    assert.ok(line);
    assert.equal(line.method, 'GET');
    assert.equal(line.path, '/api/orders/1');
    assert.equal(line.route, 'orders');
    assert.equal(line.status, 200);
    assert.equal(typeof line.duration_ms, 'number');
    assert.equal(line.upstream, 'app');
    assert.equal(line.sub, 'alice');
    assert.equal(line.reason, undefined);
    assert.ok(!JSON.stringify(gw.logs).includes('4111111111111111'), 'the query string is not logged');
  });

  test('a denied request carries its reason code', async () => {
    const res = await request(gw.url, '/api/orders/1', { headers: bearer(await sign({ iss: 'test', aud: 'api', sub: 'bob', roles: ['guest'] })) });
    const line = accessLogs(gw.logs).find((l) => l.req_id === res.headers['x-request-id'])!;
    assert.equal(line.status, 403);
    assert.equal(line.reason, 'insufficient_role');
    assert.equal(line.sub, 'bob');
    assert.equal(line.upstream, undefined);
  });

  test('a request refused by the HTTP parser is logged too', async () => {
    await raw(gw.port, 'GET /api/orders HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
    assert.ok(accessLogs(gw.logs).some((l) => l.reason === 'bad_request' && l.status === 400 && l.parser_error));
  });

  test('no log line ever contains a token, a secret, an Authorization or a Cookie value', async () => {
    const token = await sign({ iss: 'test', aud: 'api', sub: 'carol', roles: ['reader'] });
    const expired = await sign({ iss: 'test', aud: 'api', sub: 'carol' }, { expiresIn: -999 });
    await request(gw.url, '/api/orders/1', { headers: { ...bearer(token), cookie: 'session=cookie-value-123' } });
    await request(gw.url, '/api/orders/1', { headers: { ...bearer(expired), cookie: 'session=cookie-value-123' } });
    await request(gw.url, '/api/orders/1', { headers: { authorization: 'Basic dXNlcjpwYXNzd29yZA==' } });
    const text = JSON.stringify(gw.logs);
    for (const secret of [token, expired, token.split('.')[2]!, SECRET, 'cookie-value-123', 'dXNlcjpwYXNzd29yZA==']) {
      assert.ok(!text.includes(secret), `a log line contains ${secret.slice(0, 12)}...`);
    }
  });
});

describe('the dev default secret', () => {
  const config = (url: string) => ({
    ...configWith(url, [{ name: 'all', prefix: '/', upstream: 'app' }]),
    providers: [{ name: 'demo', issuer: 'demo', secret: '${JWT_SECRET:-dev-only-secret-change-me-0123456789}' }],
  });

  test('a provider running on the ${VAR:-default} fallback secret gets a loud warning', async () => {
    const upstream = await startUpstream();
    // Allowed by name, as the demo does; without it the gateway refuses to start (test/security/default-secret.test.ts).
    const gw = await startTestGateway(config(upstream.url), { env: { PORTCULLIS_ALLOW_DEFAULT_SECRETS: '1' } });
    try {
      const warning = gw.logs.find((l) => l.level === 'warn' && String(l.msg).includes('DEV DEFAULT SECRET'));
      assert.ok(warning);
      assert.equal(warning.provider, 'demo');
      assert.ok(!JSON.stringify(gw.logs).includes('dev-only-secret-change-me'), 'the warning does not print the secret');
    } finally {
      await gw.close();
      await upstream.close();
    }
  });

  test('with the variable set there is no warning', async () => {
    const upstream = await startUpstream();
    const gw = await startTestGateway(config(upstream.url), { env: { JWT_SECRET: 'a-real-secret-from-the-environment-0123' } });
    try {
      assert.ok(!gw.logs.some((l) => String(l.msg).includes('DEV DEFAULT SECRET')));
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
});

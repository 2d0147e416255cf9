// token_from: tokens from another header, a cookie or the query, per provider and per route; what the
// upstream receives of them; explain putting --token where the route looks.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../helpers/cli.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { bearer, request } from '../helpers/http.ts';
import { sign } from '../helpers/keys.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';

const API_SECRET = 'the-api-providers-own-secret-0123456789abcdef';

describe('token sources', () => {
  let upstream: Upstream;
  let gw: TestGateway;
  const web = (claims: Record<string, unknown> = {}) => sign({ iss: 'web', sub: 'alice', ...claims });
  const api = () => sign({ iss: 'api', sub: 'service' }, { key: API_SECRET });

  before(async () => {
    upstream = await startUpstream();
    gw = await startTestGateway({
      server: { host: '127.0.0.1' },
      providers: [
        { name: 'web', issuer: 'web', secret: 'test-secret-that-is-long-enough-0123456789', token_from: ['bearer', 'cookie:access_token'] },
        { name: 'api', issuer: 'api', secret: API_SECRET },
      ],
      forward: { headers: { 'X-User-Id': 'sub' }, authorization: 'strip' },
      upstreams: { app: upstream.url },
      routes: [
        { name: 'live', path: '/ws/live', upstream: 'app', token_from: ['query:access_token'] },
        { name: 'legacy', prefix: '/legacy', upstream: 'app', token_from: ['header:X-Access-Token'] },
        { name: 'open', prefix: '/open', upstream: 'app', auth: 'public' },
        { name: 'api', prefix: '/api', upstream: 'app' },
      ],
    });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  const last = () => upstream.received.at(-1)!;

  test('a cookie token is read; the upstream gets the other cookies, without the token cookie or Authorization', async () => {
    const res = await request(gw.url, '/api/me', { headers: { cookie: `theme=dark; access_token=${await web()}; lang=en` } });
    assert.equal(res.status, 200);
    assert.equal(last().headers['x-user-id'], 'alice');
    assert.equal(last().headers.cookie, 'theme=dark; lang=en');
    assert.equal(last().headers.authorization, undefined);
  });

  test('the token cookie and header are stripped on public routes too; only the token cookie goes', async () => {
    const token = await web();
    await request(gw.url, '/open/x', { headers: { cookie: `access_token=${token}`, 'x-access-token': token, 'x-other': 'kept' } });
    assert.equal(last().headers.cookie, undefined);
    assert.equal(last().headers['x-access-token'], undefined);
    assert.equal(last().headers['x-other'], 'kept');
  });

  test('a route\'s token_from replaces its providers\': another header, or the query', async () => {
    const token = await web();
    assert.equal((await request(gw.url, '/legacy/x', { headers: { 'x-access-token': token } })).status, 200);
    assert.equal(last().headers['x-access-token'], undefined);
    assert.equal((await request(gw.url, '/legacy/x', { headers: bearer(token) })).status, 401);

    assert.equal((await request(gw.url, `/ws/live?room=7&access_token=${token}&x=%41`)).status, 200);
    assert.equal(last().url, '/ws/live?room=7&x=%41');
    assert.equal(last().headers['x-user-id'], 'alice');
  });

  test('a provider\'s token from a place that provider does not list is refused', async () => {
    const res = await request(gw.url, '/api/x', { headers: { cookie: `access_token=${await api()}` } });
    assert.equal(res.status, 401);
    assert.equal(res.json().error, 'token_source_not_allowed');
    assert.match(String(res.json().message), /provider "api".*cookie "access_token"/);
    assert.equal((await request(gw.url, '/api/x', { headers: bearer(await api()) })).status, 200);
  });

  test('token_missing says where the route looked', async () => {
    const res = await request(gw.url, '/api/x');
    assert.equal(res.status, 401);
    assert.equal(res.json().message, 'this route requires a token (looked in the Authorization header, cookie "access_token")');
  });

  test('explain puts --token where the route looks first, and never prints it', async () => {
    const token = await web();
    const cookie = await runCli(['explain', '--config', gw.file, '--token', token, 'GET', 'http://gw.example/legacy/x']);
    assert.equal(cookie.code, 0, cookie.stdout);
    assert.match(cookie.stdout, /^token +pass +token found in header "x-access-token"$/m);
    const query = await runCli(['explain', '--config', gw.file, '--token', token, 'GET', 'http://gw.example/ws/live?room=7']);
    assert.equal(query.code, 0, query.stdout);
    assert.match(query.stdout, /^request +GET \/ws\/live\?room=7&access_token=\[redacted\]/m);
    assert.match(query.stdout, /^forward +http:\/\/127\.0\.0\.1:\d+\/ws\/live\?room=7$/m);
    for (const out of [cookie.stdout, query.stdout]) assert.ok(!out.includes(token.split('.')[2]!), 'the token is not printed');
  });
});

describe('a cookie token behind a trusted TLS proxy', () => {
  let upstream: Upstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await startUpstream();
    gw = await startTestGateway({
      // The test client plays the proxy that terminates TLS for https://api.example.com.
      server: { host: '127.0.0.1', trust_proxy: ['127.0.0.1'] },
      providers: [{ name: 'web', issuer: 'web', secret: 'test-secret-that-is-long-enough-0123456789', token_from: ['cookie:access_token'] }],
      upstreams: { app: upstream.url },
      routes: [{ name: 'api', prefix: '/api', upstream: 'app' }],
    });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  test('explain judges its Origin as the running gateway does: by the proxy\'s X-Forwarded-Proto and -Host, from a trusted --client only', async () => {
    const token = await sign({ iss: 'web', sub: 'alice' });
    const forwarded = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'api.example.com', origin: 'https://api.example.com' };
    const served = await request(gw.url, '/api/x', { method: 'POST', headers: { ...forwarded, cookie: `access_token=${token}` } });
    assert.equal(served.status, 200);
    const headers = Object.entries(forwarded).flatMap(([name, value]) => ['-H', `${name}: ${value}`]);
    const explain = (client: string) => runCli(['explain', '--config', gw.file, '--token', token, ...headers, '--client', client, 'POST', 'https://api.example.com/api/x']);
    const trusted = await explain('127.0.0.1');
    assert.equal(trusted.code, 0, trusted.stdout);
    assert.match(trusted.stdout, /^token +pass +token found in cookie "access_token"$/m);
    const untrusted = await explain('203.0.113.9');
    assert.equal(untrusted.code, 2, untrusted.stdout);
    assert.match(untrusted.stdout, /^decision +DENY 403 csrf_origin: /m);
  });
});

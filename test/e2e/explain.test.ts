// portcullis explain: every stage of the decision, the headers and URL that would be forwarded, exit 0
// or 2, never a request to the upstream, and the same reason code the gateway's access log carries.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../helpers/cli.ts';
import { accessLogs, configWith, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { request } from '../helpers/http.ts';
import { sign } from '../helpers/keys.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';

describe('portcullis explain', () => {
  let upstream: Upstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await startUpstream();
    gw = await startTestGateway(
      configWith(upstream.url, [
        { name: 'health', path: '/healthz', methods: ['GET'], upstream: 'app', auth: 'public' },
        { name: 'orders', prefix: '/api/orders', upstream: 'app', roles: ['orders-reader'] },
        { name: 'admin', prefix: '/admin', host: 'admin.example.com', upstream: 'app', all_roles: ['admin'], strip_prefix: true },
        { name: 'upload', prefix: '/upload', upstream: 'app', auth: 'public', max_body: '1kb' },
      ]),
    );
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  const explain = (args: string[]) => runCli(['explain', '--config', gw.file, ...args]);

  test('an allowed request: each stage, the checks, the forwarded headers and URL; exit 0; nothing sent upstream', async () => {
    const token = await sign({ iss: 'test', aud: 'api', sub: 'alice', roles: ['orders-reader'], email: 'a@example.com' });
    const before = upstream.received.length;
    const { code, stdout } = await explain(['--token', token, '-H', 'X-User-Id: mallory', 'GET', 'http://shop.example.com/api/x/../orders/42?page=1']);
    assert.equal(code, 0, stdout);
    assert.match(stdout, /^normalize +pass +\/api\/orders\/42$/m);
    assert.match(stdout, /^route +pass +route "orders"/m);
    assert.match(stdout, /health +GET path \/healthz +path does not match/);
    assert.match(stdout, /admin +prefix \/admin host admin\.example\.com +not considered \(an earlier route matched\)/);
    assert.match(stdout, /^verify +pass +provider "test", sub alice$/m);
    assert.match(stdout, /signature: valid/);
    assert.match(stdout, /aud: "api" \(one of api required\)/);
    assert.match(stdout, /^authorize +pass/m);
    assert.match(stdout, new RegExp(`^forward +${upstream.url}/api/orders/42\\?page=1$`, 'm'));
    assert.match(stdout, /x-user-id: alice/);
    assert.ok(!stdout.includes('mallory'));
    assert.ok(!stdout.includes(token), 'the token is not printed');
    assert.match(stdout, /authorization: Bearer \[redacted\]/);
    assert.match(stdout, /^decision +ALLOW/m);
    assert.equal(upstream.received.length, before);
  });

  test('a denied request names the failing check; exit 2', async () => {
    const token = await sign({ iss: 'test', aud: 'api', sub: 'bob', roles: ['orders-reader'] });
    const { code, stdout } = await explain(['--token', token, 'GET', 'http://admin.example.com/admin/users']);
    assert.equal(code, 2);
    assert.match(stdout, /^authorize +fail +insufficient_role: requires all of the roles: admin$/m);
    assert.match(stdout, /^decision +DENY 403 insufficient_role/m);
  });

  test('a token that fails verification: explain names the provider tried and the failed check; exit 2', async () => {
    const token = await sign({ iss: 'test', aud: 'web', sub: 'carol', roles: ['orders-reader'] });
    const { code, stdout } = await explain(['--token', token, 'GET', '/api/orders/1']);
    assert.equal(code, 2);
    assert.match(stdout, /^verify +fail +provider "test": token_audience: /m);
    assert.match(stdout, /^decision +DENY 401 token_audience/m);
  });

  test('--claims checks a claim set without a signature, and says so', async () => {
    const claims = JSON.stringify({ iss: 'test', aud: 'api', sub: 'carol', roles: ['admin'], exp: Math.floor(Date.now() / 1000) + 60 });
    const { code, stdout } = await explain(['--claims', claims, '-H', 'Host: admin.example.com', 'POST', '/admin/users']);
    assert.equal(code, 0, stdout);
    assert.match(stdout, /signature: not checked \(--claims\)/);
    assert.match(stdout, new RegExp(`^forward +${upstream.url}/users$`, 'm'));
  });

  test('--json gives the same report as data', async () => {
    const { code, stdout } = await explain(['--json', 'DELETE', '/healthz']);
    assert.equal(code, 2);
    const report = JSON.parse(stdout) as { decision: { allowed: boolean; status: number; code: string }; path: string };
    assert.deepEqual(report.decision, { allowed: false, status: 405, code: 'method_not_allowed', message: 'DELETE is not allowed here; use GET, HEAD' });
    assert.equal(report.path, '/healthz');
  });

  test('for every kind of denial, explain prints the reason code the access log records', async () => {
    const now = Math.floor(Date.now() / 1000);
    const cases: { what: string; path: string; method?: string; token?: string; host?: string; body?: string }[] = [
      { what: 'no token', path: '/api/orders/1' },
      { what: 'expired', path: '/api/orders/1', token: await sign({ iss: 'test', aud: 'api', sub: 'a', exp: now - 3600 }) },
      { what: 'wrong audience', path: '/api/orders/1', token: await sign({ iss: 'test', aud: 'web', sub: 'a' }) },
      { what: 'missing role', path: '/api/orders/1', token: await sign({ iss: 'test', aud: 'api', sub: 'a', roles: ['x'] }) },
      { what: 'bad signature', path: '/api/orders/1', token: await sign({ iss: 'test', aud: 'api', sub: 'a' }, { key: 'x'.repeat(40) }) },
      { what: 'encoded slash', path: '/api/orders%2F1' },
      { what: 'no route', path: '/nothing' },
      { what: 'wrong method', path: '/healthz', method: 'POST' },
      { what: 'wrong host', path: '/admin/x', host: 'other.example.com' },
      { what: 'body over max_body', path: '/upload/x', method: 'POST', body: 'x'.repeat(5000) },
    ];
    for (const c of cases) {
      const headers: Record<string, string> = { ...(c.token ? { authorization: `Bearer ${c.token}` } : {}), ...(c.host ? { host: c.host } : {}) };
      const res = await request(gw.url, c.path, { method: c.method ?? 'GET', headers, ...(c.body ? { body: c.body } : {}) });
      const logged = accessLogs(gw.logs).find((l) => l.req_id === res.headers['x-request-id'])!;
      const length = c.body ? ['-H', `Content-Length: ${c.body.length}`] : [];
      const args = ['--json', ...(c.token ? ['--token', c.token] : []), ...(c.host ? ['-H', `Host: ${c.host}`] : []), ...length, c.method ?? 'GET', c.path];
      const { stdout } = await explain(args);
      const report = JSON.parse(stdout) as { decision: { code: string; status: number } };
      assert.equal(report.decision.code, logged.reason, c.what);
      assert.equal(report.decision.status, res.status, c.what);
    }
  });
});

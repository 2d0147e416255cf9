// require_claims and route claims as a caller and an operator see them: the status and code, a message
// naming the claim, and explain listing every condition with pass or fail.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../helpers/cli.ts';
import { startTestGateway, TEST_PROVIDER, type TestGateway } from '../helpers/gateway.ts';
import { bearer, request } from '../helpers/http.ts';
import { sign } from '../helpers/keys.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';

describe('claim conditions', () => {
  let upstream: Upstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await startUpstream();
    gw = await startTestGateway({
      server: { host: '127.0.0.1' },
      providers: [{ ...TEST_PROVIDER, require_claims: { token_use: 'access', client_id: ['app-one', 'app-two'] } }],
      upstreams: { orders: upstream.url },
      routes: [
        {
          name: 'tenant-orders',
          path: '/tenants/:tenant/orders',
          upstream: 'orders',
          claims: { tenant_id: { param: 'tenant' }, email_verified: true, 'org.plan': ['pro', 'enterprise'], groups: { contains: 'orders-admins' } },
        },
      ],
    });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  const claims = (extra: Record<string, unknown> = {}) => ({
    iss: 'test',
    aud: 'api',
    sub: 'alice',
    token_use: 'access',
    client_id: 'app-one',
    tenant_id: 'acme',
    email_verified: true,
    org: { plan: 'pro' },
    groups: ['staff', 'orders-admins'],
    ...extra,
  });

  test('all conditions met: forwarded', async () => {
    assert.equal((await request(gw.url, '/tenants/acme/orders', { headers: bearer(await sign(claims())) })).status, 200);
  });

  test('one condition unmet: 403 claim_mismatch naming that claim, with the insufficient_scope challenge', async () => {
    const res = await request(gw.url, '/tenants/acme/orders', { headers: bearer(await sign(claims({ groups: ['staff'] }))) });
    assert.equal(res.status, 403);
    assert.deepEqual([res.json().error, res.json().message], ['claim_mismatch', 'the token\'s claim "groups" does not meet this route\'s condition']);
    assert.match(String(res.headers['www-authenticate']), /error="insufficient_scope"/);
  });

  test('require_claims unmet: 401 token_claims naming the claim', async () => {
    const res = await request(gw.url, '/tenants/acme/orders', { headers: bearer(await sign(claims({ client_id: 'app-three' }))) });
    assert.equal(res.status, 401);
    assert.deepEqual([res.json().error, res.json().message], ['token_claims', 'the token\'s claim "client_id" does not have a value this gateway accepts']);
  });

  test('explain shows every condition with pass or fail and what the token holds; exit 2', async () => {
    const token = await sign(claims({ tenant_id: 'globex', org: { plan: 'free' } }));
    const { code, stdout } = await runCli(['explain', '--config', gw.file, '--token', token, 'GET', 'http://h/tenants/acme/orders']);
    assert.equal(code, 2, stdout);
    assert.match(stdout, /^claims +fail +tenant_id equals the path parameter :tenant: the token has "globex"; :tenant is "acme"$/m);
    assert.match(stdout, /^claims +pass +email_verified equals true$/m);
    assert.match(stdout, /^claims +fail +org\.plan is one of "pro", "enterprise": the token has "free"$/m);
    assert.match(stdout, /^claims +pass +groups holds "orders-admins"$/m);
    assert.match(stdout, /^decision +DENY 403 claim_mismatch/m);
  });

  test('explain --claims checks require_claims too', async () => {
    const json = JSON.stringify({ ...claims({ token_use: 'id' }), exp: Math.floor(Date.now() / 1000) + 600 });
    const { code, stdout } = await runCli(['explain', '--config', gw.file, '--claims', json, 'GET', 'http://h/tenants/acme/orders']);
    assert.equal(code, 2, stdout);
    assert.match(stdout, /^verify +fail +provider "test": token_claims: the token's claim "token_use" does not have a value this gateway accepts \(require_claims: token_use equals "access"; the token has "id"\)$/m);
  });

  test('explain shows what require_claims wanted and the token held; the caller is told only the claim', async () => {
    const token = await sign(claims({ client_id: 'app-three' }));
    const refused = await runCli(['explain', '--config', gw.file, '--token', token, 'GET', 'http://h/tenants/acme/orders']);
    assert.equal(refused.code, 2, refused.stdout);
    assert.match(refused.stdout, /^verify +fail +provider "test": token_claims: .*\(require_claims: client_id is one of "app-one", "app-two"; the token has "app-three"\)$/m);
    const res = await request(gw.url, '/tenants/acme/orders', { headers: bearer(token) });
    assert.doesNotMatch(res.body, /app-one|app-three/);
    assert.ok(!JSON.stringify(gw.logs).includes('app-three'), 'nor is it logged');
    const passed = await runCli(['explain', '--config', gw.file, '--token', await sign(claims()), 'GET', 'http://h/tenants/acme/orders']);
    assert.equal(passed.code, 0, passed.stdout);
    assert.match(passed.stdout, /^ +require_claims: token_use equals "access" \(pass\)$/m);
    assert.match(passed.stdout, /^ +require_claims: client_id is one of "app-one", "app-two" \(pass\)$/m);
  });
});

// Attacks on claim conditions: a path-parameter binding passed with dot segments, encodings or case; a
// dotted claim path tricked by a top-level claim beyond what the docs state; a condition on a missing
// claim; a cached token verdict reused for another route's conditions.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestGateway, TEST_PROVIDER, type TestGateway } from '../helpers/gateway.ts';
import { bearer, request } from '../helpers/http.ts';
import { sign } from '../helpers/keys.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';
import { assertRefused, forgeHs256, goodClaims, reached } from './support.ts';

const ROUTES = [
  { name: 'tenant-orders', path: '/tenants/:tenant/orders', upstream: 'app', claims: { tenant_id: { param: 'tenant' } } },
  { name: 'member', prefix: '/t/:tenant', upstream: 'app', claims: { tenants: { contains_param: 'tenant' } } },
  { name: 'plans', prefix: '/pro', upstream: 'app', claims: { 'org.plan': ['pro', 'enterprise'] } },
  { name: 'strict-plans', prefix: '/strict', upstream: 'app', claims: { '["org"].plan': ['pro', 'enterprise'] } },
  { name: 'deep', prefix: '/deep', upstream: 'app', claims: { 'a.b.c': 'yes' } },
  { name: 'verified', prefix: '/verified', upstream: 'app', claims: { email_verified: true } },
  { name: 'open', prefix: '/open', upstream: 'app' },
];

describe('claim condition attacks', () => {
  let upstream: Upstream;
  let gw: TestGateway;
  let folding: TestGateway;

  before(async () => {
    upstream = await startUpstream();
    const config = (caseInsensitive: boolean) => ({
      server: { host: '127.0.0.1', case_insensitive_paths: caseInsensitive },
      providers: [{ ...TEST_PROVIDER, require_claims: { token_use: 'access' } }],
      upstreams: { app: upstream.url },
      routes: ROUTES,
    });
    gw = await startTestGateway(config(false));
    folding = await startTestGateway(config(true));
  });
  after(async () => {
    await gw.close();
    await folding.close();
    await upstream.close();
  });

  const token = (claims: Record<string, unknown>) => sign(goodClaims({ token_use: 'access', ...claims }));
  async function attempt(path: string, claims: Record<string, unknown>, on = gw) {
    const t = await token(claims);
    return reached(upstream, () => request(on.url, path, { headers: bearer(t) }));
  }

  describe('a {param} binding', () => {
    const acme = { tenant_id: 'acme' };

    test('control: the caller\'s own tenant passes, and the upstream is asked for exactly what was checked', async () => {
      for (const path of ['/tenants/acme/orders', '/tenants/acme/orders/', '/tenants/%61cme/orders', '/tenants/acme/x/../orders']) {
        const { result, count } = await attempt(path, acme);
        assert.equal(result.status, 200, path);
        assert.equal(count, 1, path);
        assert.match(upstream.received.at(-1)!.url, /^\/tenants\/acme\/orders\/?$/, path);
      }
    });

    test('can not reach another tenant with dot segments, encodings, case, spaces or Unicode tricks', async () => {
      const paths: [string, number, string | RegExp][] = [
        ['/tenants/globex/orders', 403, 'claim_mismatch'],
        ['/tenants/acme/../globex/orders', 403, 'claim_mismatch'],
        ['/tenants/acme/%2e%2e/globex/orders', 403, 'claim_mismatch'],
        ['/tenants/acme/%2E%2E/globex/orders', 403, 'claim_mismatch'],
        ['/tenants/acme/.%2e/globex/orders', 403, 'claim_mismatch'],
        ['/tenants/ACME/orders', 403, 'claim_mismatch'],
        ['/tenants/Acme/orders', 403, 'claim_mismatch'],
        ['/tenants/%41cme/orders', 403, 'claim_mismatch'],
        ['/tenants/acm%65x/orders', 403, 'claim_mismatch'],
        ['/tenants/acme%2f..%2fglobex/orders', 400, 'path_encoded_slash'],
        ['/tenants/acme%252f..%252fglobex/orders', 400, 'path_double_encoding'],
        ['/tenants/%2561cme/orders', 400, 'path_double_encoding'],
        ['/tenants/acme;x/orders', 400, 'path_parameter'],
        ['/tenants/acme%20/orders', 400, 'path_trailing_dot'],
        ['/tenants/acme./orders', 400, 'path_trailing_dot'],
        ['/tenants/%20acme/orders', 403, 'claim_mismatch'],
        ['/tenants/acme%00/orders', 400, /^path_/],
        ['/tenants/%EF%BD%81cme/orders', 400, 'path_confusable'],
      ];
      for (const [path, status, code] of paths) {
        const { result, count } = await attempt(path, acme);
        assertRefused(result, status, code, count, path);
      }
    });

    test('decomposed Unicode is not the composed claim; a claim of another type never matches', async () => {
      const cafe = await attempt('/tenants/cafe%CC%81/orders', { tenant_id: 'café' });
      assertRefused(cafe.result, 403, 'claim_mismatch', cafe.count, 'decomposed é');
      for (const tenant of [['acme'], { id: 'acme' }, 0, true, null]) {
        const { result, count } = await attempt('/tenants/acme/orders', { tenant_id: tenant });
        assertRefused(result, 403, 'claim_mismatch', count, JSON.stringify(tenant));
      }
    });

    test('with case-insensitive routes, another spelling of the tenant is still refused (compared exactly)', async () => {
      const { result, count } = await attempt('/TENANTS/ACME/ORDERS', acme, folding);
      assertRefused(result, 403, 'claim_mismatch', count, 'folded route, other spelling');
      assert.equal((await attempt('/TENANTS/acme/ORDERS', acme, folding)).result.status, 200);
    });

    test('{contains_param}: only a tenant the caller\'s list holds', async () => {
      const member = { tenants: ['acme', 'initech'] };
      assert.equal((await attempt('/t/initech/reports', member)).result.status, 200);
      for (const path of ['/t/globex/reports', '/t/acme/../globex/reports', '/t/INITECH/reports']) {
        const { result, count } = await attempt(path, member);
        assertRefused(result, 403, 'claim_mismatch', count, path);
      }
      const { result, count } = await attempt('/t/acme/reports', { tenants: 'acme initech' });
      assertRefused(result, 403, 'claim_mismatch', count, 'a string is not a list');
    });
  });

  describe('a dotted claim path', () => {
    test('reads a top-level claim of exactly its name, as documented; a bracketed path never does', async () => {
      const shadow = { org: { plan: 'free' }, 'org.plan': 'enterprise' };
      assert.equal((await attempt('/pro/x', shadow)).result.status, 200, 'documented: the exact top-level name wins');
      const { result, count } = await attempt('/strict/x', shadow);
      assertRefused(result, 403, 'claim_mismatch', count, 'bracketed path');
      assert.equal((await attempt('/strict/x', { org: { plan: 'pro' } })).result.status, 200);
    });

    test('is never answered by a name split anywhere else, a longer top-level name, or __proto__', async () => {
      const tricks: Record<string, unknown>[] = [
        { 'a.b': { c: 'yes' } },
        { a: { 'b.c': 'yes' } },
        { 'a.b.c.d': 'yes', a: { b: { c: 'no' } } },
        { a: { b: { 'c.': 'yes' } } },
        { a: { b: { c: ['yes'] } } },
      ];
      for (const claims of tricks) {
        const { result, count } = await attempt('/deep/x', claims);
        assertRefused(result, 403, 'claim_mismatch', count, JSON.stringify(claims));
      }
      // A JSON member named "__proto__" is an own member, never the prototype: forged by hand, since
      // JSON.stringify would not write it.
      const proto = forgeHs256({ alg: 'HS256' }, `{"iss":"test","aud":"api","sub":"a","exp":${Math.floor(Date.now() / 1000) + 600},"token_use":"access","org":{"__proto__":{"plan":"pro"}}}`);
      const viaProto = await reached(upstream, () => request(gw.url, '/pro/x', { headers: bearer(proto) }));
      assertRefused(viaProto.result, 403, 'claim_mismatch', viaProto.count, '__proto__');
      assert.equal((await attempt('/deep/x', { a: { b: { c: 'yes' } } })).result.status, 200);
      assert.equal((await attempt('/deep/x', { 'a.b.c': 'yes' })).result.status, 200, 'documented: the exact top-level name');
    });
  });

  test('a condition on a missing or null claim fails closed', async () => {
    for (const claims of [{}, { email_verified: null }, { email_verified: 'true' }, { email_verified: 1 }]) {
      const { result, count } = await attempt('/verified/x', claims);
      assertRefused(result, 403, 'claim_mismatch', count, JSON.stringify(claims));
    }
    for (const claims of [{}, { org: {} }, { org: null }, { org: 'pro' }]) {
      const { result, count } = await attempt('/pro/x', claims);
      assertRefused(result, 403, 'claim_mismatch', count, JSON.stringify(claims));
    }
    const noUse = await sign(goodClaims());
    const { result, count } = await reached(upstream, () => request(gw.url, '/open/x', { headers: bearer(noUse) }));
    assertRefused(result, 401, 'token_claims', count, 'require_claims without the claim');
  });

  test('a 403 names the claim, never its value nor the value wanted', async () => {
    const { result } = await attempt('/pro/x', { org: { plan: 'free-tier-secret' } });
    assert.equal(result.json().message, 'the token\'s claim "org.plan" does not meet this route\'s condition');
    assert.doesNotMatch(result.body, /free-tier-secret|enterprise|"pro"/);
  });

  test('a cached token verdict for one route never satisfies another route\'s conditions, nor another path\'s', async () => {
    const t = await token({ tenant_id: 'acme' });
    const cache = gw.running.holder.current.verifier.cache;
    const send = (path: string) => reached(upstream, () => request(gw.url, path, { headers: bearer(t) }));
    assert.equal((await send('/open/x')).result.status, 200);
    const hits = cache.hits;
    assert.equal((await send('/tenants/acme/orders')).result.status, 200);
    for (const path of ['/tenants/globex/orders', '/verified/x', '/pro/x']) {
      const { result, count } = await send(path);
      assertRefused(result, 403, 'claim_mismatch', count, path);
    }
    assert.equal((await send('/tenants/acme/orders')).result.status, 200);
    assert.equal((await send('/open/x')).result.status, 200, 'a refusal is not remembered against the token either');
    assert.ok(cache.hits >= hits + 5, 'the token was answered from the cache');
  });

  test('the other order: a token first verified (and cached) on a request refused for its conditions still passes where they hold', async () => {
    const t = await token({ tenant_id: 'acme', org: { plan: 'pro' } });
    const cache = gw.running.holder.current.verifier.cache;
    const send = (path: string) => reached(upstream, () => request(gw.url, path, { headers: bearer(t) }));
    const first = await send('/tenants/globex/orders');
    assertRefused(first.result, 403, 'claim_mismatch', first.count, 'first seen on another tenant');
    const hits = cache.hits;
    for (const path of ['/tenants/acme/orders', '/pro/x', '/open/x']) assert.equal((await send(path)).result.status, 200, path);
    for (const path of ['/tenants/globex/orders', '/verified/x']) {
      const { result, count } = await send(path);
      assertRefused(result, 403, 'claim_mismatch', count, path);
    }
    assert.ok(cache.hits >= hits + 5, 'the token was answered from the cache');
  });
});

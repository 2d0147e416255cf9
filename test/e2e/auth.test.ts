// Tokens and roles at the edge: what passes, what is refused with which challenge, and that a refused
// request never reaches the upstream.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { configWith, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { bearer, request } from '../helpers/http.ts';
import { sign } from '../helpers/keys.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';

const claims = (extra: Record<string, unknown> = {}) => ({ iss: 'test', aud: 'api', sub: 'alice', ...extra });

describe('tokens and roles', () => {
  let upstream: Upstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await startUpstream();
    gw = await startTestGateway(
      configWith(upstream.url, [
        { name: 'orders', prefix: '/api/orders', upstream: 'app', roles: ['orders-reader', 'admin'] },
        { name: 'admin', prefix: '/admin', upstream: 'app', all_roles: ['admin', 'ops'] },
        { name: 'billing', prefix: '/billing', upstream: 'app', scopes: ['billing:write', 'billing:read'] },
        { name: 'anyone', prefix: '/me', upstream: 'app' },
        { name: 'maybe', prefix: '/maybe', upstream: 'app', auth: 'optional' },
        { name: 'open', prefix: '/open', upstream: 'app', auth: 'public' },
      ]),
    );
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  /** Sends a request and reports whether the upstream received anything because of it. */
  async function call(path: string, headers: Record<string, string> = {}) {
    const before = upstream.received.length;
    const res = await request(gw.url, path, { headers });
    return { res, reached: upstream.received.length > before, seen: upstream.received[upstream.received.length - 1] };
  }

  test('a valid token with an accepted role is forwarded with identity headers from its claims', async () => {
    const token = await sign(claims({ roles: ['orders-reader'], email: 'alice@example.com' }));
    const { res, reached, seen } = await call('/api/orders/7', bearer(token));
    assert.equal(res.status, 200);
    assert.ok(reached);
    assert.equal(seen!.headers['x-user-id'], 'alice');
    assert.equal(seen!.headers['x-user-roles'], 'orders-reader');
    assert.equal(seen!.headers['x-user-email'], 'alice@example.com');
  });

  test('roles are comma-joined and a missing claim sets no header', async () => {
    const token = await sign(claims({ roles: ['admin', 'ops'] }));
    const { res, seen } = await call('/admin/x', bearer(token));
    assert.equal(res.status, 200);
    assert.equal(seen!.headers['x-user-roles'], 'admin,ops');
    assert.equal(seen!.headers['x-user-email'], undefined);
  });

  test('no token: 401 with the bare Bearer challenge and a JSON error, and the upstream sees nothing', async () => {
    const { res, reached } = await call('/api/orders/7');
    assert.equal(res.status, 401);
    assert.equal(res.headers['www-authenticate'], 'Bearer realm="portcullis"');
    const body = res.json();
    assert.equal(body.error, 'token_missing');
    assert.equal(typeof body.message, 'string');
    assert.equal(body.request_id, res.headers['x-request-id']);
    assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
    assert.ok(!reached);
  });

  const invalid: [string, () => Promise<string>, string][] = [
    ['a bad signature', () => sign(claims({ roles: ['admin'] }), { key: 'another-secret-that-is-long-enough-012345' }), 'token_signature'],
    ['an expired token', () => sign(claims({ roles: ['admin'] }), { expiresIn: -120 }), 'token_expired'],
    ['a token without exp', () => sign(claims({ roles: ['admin'] }), { expiresIn: null }), 'token_claims'],
    ['a token not valid yet (nbf)', () => sign(claims({ roles: ['admin'], nbf: Math.floor(Date.now() / 1000) + 600 })), 'token_not_yet_valid'],
    ['a token for another audience', () => sign(claims({ roles: ['admin'], aud: 'other' })), 'token_audience'],
    ['a token for other audiences (list)', () => sign(claims({ roles: ['admin'], aud: ['other', 'more'] })), 'token_audience'],
    ['a token from an untrusted issuer', () => sign(claims({ roles: ['admin'], iss: 'evil' })), 'token_untrusted_issuer'],
  ];
  for (const [what, make, code] of invalid) {
    test(`${what}: 401 invalid_token (${code}) and the upstream sees nothing`, async () => {
      const { res, reached } = await call('/api/orders/7', bearer(await make()));
      assert.equal(res.status, 401);
      assert.equal(res.json().error, code);
      assert.match(res.headers['www-authenticate']!, /^Bearer realm="portcullis", error="invalid_token", error_description="[^"]+"$/);
      assert.ok(!reached);
    });
  }

  test('an audience list containing ours is accepted', async () => {
    const { res } = await call('/me', bearer(await sign(claims({ aud: ['other', 'api'] }))));
    assert.equal(res.status, 200);
  });

  test('clock tolerance: a token expired 10 s ago still passes (default 30 s leeway), 2 minutes ago does not', async () => {
    assert.equal((await call('/me', bearer(await sign(claims(), { expiresIn: -10 })))).res.status, 200);
    assert.equal((await call('/me', bearer(await sign(claims(), { expiresIn: -120 })))).res.status, 401);
  });

  test('a missing role: 403 insufficient_scope, upstream sees nothing', async () => {
    const { res, reached } = await call('/api/orders/7', bearer(await sign(claims({ roles: ['guest'] }))));
    assert.equal(res.status, 403);
    assert.equal(res.json().error, 'insufficient_role');
    assert.match(res.headers['www-authenticate']!, /^Bearer realm="portcullis", error="insufficient_scope"/);
    assert.ok(!reached);
  });

  test('all_roles needs every role', async () => {
    assert.equal((await call('/admin/x', bearer(await sign(claims({ roles: ['admin'] }))))).res.status, 403);
    assert.equal((await call('/admin/x', bearer(await sign(claims({ roles: ['ops', 'admin'] }))))).res.status, 200);
  });

  test('scopes come from a space-delimited scope claim or an scp list, and all are required', async () => {
    const partial = await call('/billing/x', bearer(await sign(claims({ scope: 'billing:read' }))));
    assert.equal(partial.res.status, 403);
    assert.equal(partial.res.json().error, 'insufficient_scope');
    assert.match(partial.res.headers['www-authenticate']!, /scope="billing:write billing:read"/);
    assert.ok(!partial.reached);
    assert.equal((await call('/billing/x', bearer(await sign(claims({ scope: 'billing:read billing:write' }))))).res.status, 200);
    assert.equal((await call('/billing/x', bearer(await sign(claims({ scp: ['billing:write', 'billing:read'] }))))).res.status, 200);
  });

  test('roles given as a space or comma separated string count', async () => {
    assert.equal((await call('/admin/x', bearer(await sign(claims({ roles: 'admin ops' }))))).res.status, 200);
    assert.equal((await call('/admin/x', bearer(await sign(claims({ roles: 'admin,ops' }))))).res.status, 200);
  });

  test('optional auth: no token passes anonymously, a valid token adds identity, a bad token is refused', async () => {
    const anonymous = await call('/maybe/x', { 'x-user-id': 'forged' });
    assert.equal(anonymous.res.status, 200);
    assert.equal(anonymous.seen!.headers['x-user-id'], undefined);
    const known = await call('/maybe/x', bearer(await sign(claims())));
    assert.equal(known.seen!.headers['x-user-id'], 'alice');
    const bad = await call('/maybe/x', bearer(await sign(claims(), { expiresIn: -300 })));
    assert.equal(bad.res.status, 401);
    assert.ok(!bad.reached);
  });

  // "Optional" means a caller may come without credentials, not that credentials which fail are ignored:
  // an upstream that sees an anonymous request can not know the caller sent something broken, and an
  // Authorization header that the gateway ignores still reaches the upstream, which might read it.
  test('optional auth: a malformed token, a Basic credential, two Authorization headers or an empty Bearer is refused with 401, never passed on anonymously', async () => {
    const token = await sign(claims());
    const other = await sign(claims({ sub: 'mallory' }));
    const attempts: [string, [string, string][], string][] = [
      ['a malformed token', [['Authorization', 'Bearer not-a-jwt']], 'token_malformed'],
      ['a Basic credential', [['Authorization', 'Basic YWxpY2U6c2VjcmV0']], 'token_scheme'],
      ['two Authorization headers', [['Authorization', `Bearer ${token}`], ['Authorization', `Bearer ${other}`]], 'token_duplicated'],
      ['an empty Bearer', [['Authorization', 'Bearer ']], 'token_scheme'],
      ['an empty Authorization header', [['Authorization', '']], 'token_scheme'],
    ];
    for (const [what, headers, code] of attempts) {
      const before = upstream.received.length;
      const res = await request(gw.url, '/maybe/x', { headers });
      assert.equal(res.status, 401, `${what}: ${res.body}`);
      assert.equal(res.json().error, code, what);
      assert.match(res.headers['www-authenticate']!, /^Bearer realm="portcullis", error="invalid_(token|request)"/, what);
      assert.equal(upstream.received.length, before, `${what}: the upstream received the request`);
    }
  });

  test('public routes read no token and still drop client-sent identity headers', async () => {
    const { res, seen } = await call('/open/x', { ...bearer('not-even-a-jwt'), 'x-user-id': 'forged', 'X-User-Roles': 'admin' });
    assert.equal(res.status, 200);
    assert.equal(seen!.headers['x-user-id'], undefined);
    assert.equal(seen!.headers['x-user-roles'], undefined);
  });

  test('the Bearer scheme is case-insensitive (RFC 7235), other schemes are refused', async () => {
    const token = await sign(claims());
    assert.equal((await call('/me', { authorization: `bearer ${token}` })).res.status, 200);
    assert.equal((await call('/me', { authorization: `BEARER ${token}` })).res.status, 200);
    const basic = await call('/me', { authorization: 'Basic YWxpY2U6c2VjcmV0' });
    assert.equal(basic.res.status, 401);
    assert.equal(basic.res.json().error, 'token_scheme');
    assert.ok(!basic.reached);
  });

  test('the same token twice is served from the cache and still checked against each route', async () => {
    const token = await sign(claims({ roles: ['orders-reader'] }));
    assert.equal((await call('/api/orders/1', bearer(token))).res.status, 200);
    assert.equal((await call('/api/orders/2', bearer(token))).res.status, 200);
    assert.equal((await call('/admin/x', bearer(token))).res.status, 403);
    assert.ok(gw.running.holder.current.verifier.cache.hits >= 2);
  });
});

describe('provider settings: an audience list, a configured clock tolerance, scopes forwarded', () => {
  let upstream: Upstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await startUpstream();
    gw = await startTestGateway({
      ...configWith(upstream.url, [{ name: 'all', prefix: '/', upstream: 'app' }]),
      providers: [{ name: 'test', issuer: 'test', audience: ['api', 'mobile'], clock_tolerance: '5s', secret: 'test-secret-that-is-long-enough-0123456789' }],
      forward: { headers: { 'X-User-Id': 'sub', 'X-User-Scopes': 'scopes' } },
    });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  const KEY = 'test-secret-that-is-long-enough-0123456789';
  const now = () => Math.floor(Date.now() / 1000);

  test('a token for any audience of the list passes; one for another audience is refused', async () => {
    assert.equal((await request(gw.url, '/x', { headers: bearer(await sign({ iss: 'test', aud: 'mobile', sub: 'a' }, { key: KEY })) })).status, 200);
    const before = upstream.received.length;
    const refused = await request(gw.url, '/x', { headers: bearer(await sign({ iss: 'test', aud: 'web', sub: 'a' }, { key: KEY })) });
    assert.equal(refused.status, 401);
    assert.equal(refused.json().error, 'token_audience');
    assert.equal(upstream.received.length, before);
  });

  test('clock_tolerance: 5s lets a token expired 2 s ago pass, and not one expired 15 s ago (the 30 s default would)', async () => {
    const recent = await sign({ iss: 'test', aud: 'api', sub: 'a', exp: now() - 2 }, { key: KEY });
    assert.equal((await request(gw.url, '/x', { headers: bearer(recent) })).status, 200);
    const older = await sign({ iss: 'test', aud: 'api', sub: 'a', exp: now() - 15 }, { key: KEY });
    const res = await request(gw.url, '/x', { headers: bearer(older) });
    assert.equal(res.status, 401);
    assert.equal(res.json().error, 'token_expired');
  });

  test('a forward header mapped to "scopes" carries the normalized scope list, comma-joined', async () => {
    const token = await sign({ iss: 'test', aud: 'api', sub: 'a', scope: 'orders:read  orders:write' }, { key: KEY });
    assert.equal((await request(gw.url, '/x', { headers: bearer(token) })).status, 200);
    assert.equal(upstream.received.at(-1)!.headers['x-user-scopes'], 'orders:read,orders:write');
  });
});

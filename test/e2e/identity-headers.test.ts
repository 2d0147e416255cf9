// Per-provider identity headers: a provider's forward.headers over the global ones by name, lists of claim
// paths (first present wins), and every such name stripped from every client request.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { bearer, request } from '../helpers/http.ts';
import { sign } from '../helpers/keys.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';

const OIDC = 'the-oidc-providers-secret-for-this-test-0123456789';
const LEGACY = 'the-legacy-apps-secret-for-this-test-0123456789ab';
const ENTRA = 'the-entra-stand-in-secret-for-this-test-0123456789';

describe('per-provider identity headers', () => {
  let upstream: Upstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await startUpstream();
    gw = await startTestGateway({
      server: { host: '127.0.0.1' },
      providers: [
        { name: 'oidc', issuer: 'oidc', secret: OIDC, forward: { headers: { 'X-Org': 'https://example.com/org' } } },
        { name: 'entra', issuer: 'entra', secret: ENTRA, forward: { headers: { 'x-user-id': 'oid', 'X-Tenant-Id': 'tid' } } },
        { name: 'legacy', audience: 'legacy-api', secret: LEGACY, forward: { headers: { 'X-User-Id': ['sub', 'id'], 'X-Legacy-Role': 'role' } } },
      ],
      forward: { headers: { 'X-User-Id': 'sub', 'X-User-Email': 'email' } },
      upstreams: { app: upstream.url },
      routes: [
        { name: 'public', prefix: '/public', upstream: 'app', auth: 'public' },
        { name: 'oidc-only', prefix: '/oidc', upstream: 'app', providers: ['oidc'] },
        { name: 'api', prefix: '/api', upstream: 'app' },
      ],
    });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  async function forwarded(path: string, token?: string, headers: Record<string, string> = {}) {
    const res = await request(gw.url, path, { headers: { ...(token ? bearer(token) : {}), ...headers } });
    assert.equal(res.status, 200, res.body);
    return upstream.received.at(-1)!.headers;
  }

  test('an OIDC provider\'s sub, Entra\'s oid and a legacy app\'s id all fill X-User-Id', async () => {
    const oidc = await forwarded('/api/x', await sign({ iss: 'oidc', sub: 'u-1', email: 'a@x', 'https://example.com/org': 'acme' }, { key: OIDC }));
    assert.deepEqual([oidc['x-user-id'], oidc['x-org']], ['u-1', 'acme'], 'a namespaced claim (a URL) is one claim name');
    const entra = await forwarded('/api/x', await sign({ iss: 'entra', sub: 'pairwise', oid: 'o-1', tid: 't-1', email: 'b@x' }, { key: ENTRA }));
    assert.deepEqual([entra['x-user-id'], entra['x-tenant-id'], entra['x-user-email']], ['o-1', 't-1', 'b@x']);
    const legacy = await forwarded('/api/x', await sign({ aud: 'legacy-api', id: 42, role: 'admin' }, { key: LEGACY }));
    assert.deepEqual([legacy['x-user-id'], legacy['x-legacy-role'], legacy['x-tenant-id']], ['42', 'admin', undefined]);
  });

  test('a list of claim paths: the first present wins; a null claim is not present', async () => {
    const withSub = await forwarded('/api/x', await sign({ aud: 'legacy-api', sub: 's-9', id: 42 }, { key: LEGACY }));
    assert.equal(withSub['x-user-id'], 's-9');
    const nullSub = await forwarded('/api/x', await sign({ aud: 'legacy-api', id: 43, ...({ sub: null } as object) }, { key: LEGACY }));
    assert.equal(nullSub['x-user-id'], '43');
  });

  test('a name only one provider sets is stripped from every client request: public routes, other providers\' routes', async () => {
    const spoof = { 'X-Tenant-Id': 'victim-tenant', 'x_legacy_role': 'admin', 'X-User-Id': 'mallory' };
    const onPublic = await forwarded('/public/x', undefined, spoof);
    const onOidc = await forwarded('/oidc/x', await sign({ iss: 'oidc', sub: 'u-1' }, { key: OIDC }), spoof);
    for (const seen of [onPublic, onOidc]) {
      assert.equal(seen['x-tenant-id'], undefined);
      assert.equal(seen['x_legacy_role'], undefined);
    }
    assert.equal(onPublic['x-user-id'], undefined);
    assert.equal(onOidc['x-user-id'], 'u-1');
  });
});

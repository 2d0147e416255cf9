// The recipes of docs/configuration.md, run as printed against tokens shaped exactly as each identity
// provider issues them, signed by jose, with a discovery document and keys served on loopback at the
// product's real paths. Only the product's host is replaced by the loopback one.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { parse } from 'yaml';
import { ROOT } from '../helpers/cli.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { bearer, request } from '../helpers/http.ts';
import { keySetOf, startIdentityProvider, type IdentityProvider } from '../helpers/idp.ts';
import { SECRET, sign } from '../helpers/keys.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';

const docs = readFileSync(path.join(ROOT, 'docs', 'configuration.md'), 'utf8');

function recipe(name: string): string {
  const match = new RegExp(`<!-- recipe: ${name} -->\\n\`\`\`yaml\\n([\\s\\S]*?)\`\`\``).exec(docs);
  assert.ok(match, `docs/configuration.md has the ${name} recipe`);
  return match[1]!;
}

interface Running {
  readonly idp: IdentityProvider;
  readonly gw: TestGateway;
  readonly upstream: Upstream;
}

const running: Running[] = [];
after(async () => {
  for (const r of running) {
    await r.gw.close();
    await r.upstream.close();
    await r.idp.close();
  }
});

/**
 * The recipe with `productUrl` replaced by a loopback identity provider serving `documents` (path ->
 * JSON, given the base URL), every upstream it names pointed at one recording upstream, and the usual
 * global identity headers (which the recipe's own override).
 */
async function run(name: string, productUrl: string, documents: (base: string, keys: unknown) => Record<string, unknown>): Promise<Running> {
  const idp = await startIdentityProvider();
  const keys = await keySetOf(idp);
  for (const [at, body] of Object.entries(documents(idp.url, keys))) idp.serve(at, body);
  const config = parse(recipe(name).replaceAll(productUrl, idp.url)) as { routes: { upstream: string }[] };
  const upstream = await startUpstream();
  const gw = await startTestGateway(
    {
      server: { host: '127.0.0.1' },
      forward: { headers: { 'X-User-Id': 'sub', 'X-User-Roles': 'roles', 'X-User-Scopes': 'scopes' } },
      ...config,
      upstreams: Object.fromEntries(config.routes.map((r) => [r.upstream, upstream.url])),
    },
    { env: { JWT_SECRET: SECRET } },
  );
  for (const provider of gw.running.holder.current.verifier.providers.all) await provider.keys.whenSettled();
  const r = { idp, gw, upstream };
  running.push(r);
  return r;
}

async function call(r: Running, path: string, token: string): Promise<{ status: number; body: Record<string, unknown>; forwarded: Record<string, unknown> | undefined }> {
  const before = r.upstream.received.length;
  const res = await request(r.gw.url, path, { headers: bearer(token) });
  const forwarded = r.upstream.received.length > before ? r.upstream.received.at(-1)!.headers : undefined;
  return { status: res.status, body: res.json(), forwarded };
}

describe('recipe: Keycloak', () => {
  const realm = (base: string) => `${base}/realms/corp`;
  const keycloak = () =>
    run('keycloak', 'https://keycloak.example.com', (base, keys) => ({
      '/realms/corp/.well-known/openid-configuration': { issuer: realm(base), jwks_uri: `${realm(base)}/protocol/openid-connect/certs` },
      '/realms/corp/protocol/openid-connect/certs': keys,
    }));
  const claims = (base: string, clientRoles: unknown) => ({
    iss: realm(base),
    aud: ['orders.api', 'account'],
    sub: 'f1b7c0de-3a6e-4c1b-9d7a-5e2f8a9b0c1d',
    typ: 'Bearer',
    azp: 'orders-web',
    session_state: '4f1e2d3c',
    acr: '1',
    realm_access: { roles: ['default-roles-corp', 'offline_access'] },
    resource_access: clientRoles,
    scope: 'openid email profile',
    email_verified: true,
    preferred_username: 'alice',
    email: 'alice@example.com',
  });

  test('realm and client roles together; the client id with a dot is one name', async () => {
    const r = await keycloak();
    const token = await r.idp.sign(claims(r.idp.url, { 'orders.api': { roles: ['orders-reader'] }, account: { roles: ['manage-account'] } }));
    const { status, forwarded } = await call(r, '/api/orders/1', token);
    assert.equal(status, 200);
    assert.equal(forwarded?.['x-user-roles'], 'default-roles-corp,offline_access,orders-reader');
    assert.equal(forwarded?.['x-user-name'], 'alice');
    assert.equal(forwarded?.['x-user-id'], 'f1b7c0de-3a6e-4c1b-9d7a-5e2f8a9b0c1d');
    assert.ok((r.idp.hits.get('/realms/corp/protocol/openid-connect/certs') ?? 0) >= 1, 'keys come from Keycloak\'s certs endpoint');

    // The same role nested under "orders" -> "api" is another client's: not read.
    const nested = await r.idp.sign(claims(r.idp.url, { orders: { api: { roles: ['orders-reader'] } } }));
    assert.equal((await call(r, '/api/orders/1', nested)).status, 403);
  });
});

describe('recipe: Auth0', () => {
  const auth0 = () =>
    run('auth0', 'https://example-tenant.us.auth0.com', (base, keys) => ({
      '/.well-known/openid-configuration': { issuer: `${base}/`, jwks_uri: `${base}/.well-known/jwks.json` },
      '/.well-known/jwks.json': keys,
    }));

  test('roles from the namespaced claim, permissions as scopes, the issuer with its trailing slash', async () => {
    const r = await auth0();
    const claims = (permissions: string[]) => ({
      iss: `${r.idp.url}/`,
      sub: 'auth0|64f1c2d3e4b5a6c7d8e9f0a1',
      aud: ['https://api.example.com', `${r.idp.url}/userinfo`],
      azp: 'Xq3bT9kLmN2pR5sV8wY1zA4cE7fH0jK',
      scope: 'openid profile email',
      permissions,
      'https://example.com/roles': ['admin'],
    });
    const { status, forwarded } = await call(r, '/api/orders', await r.idp.sign(claims(['read:orders', 'write:orders'])));
    assert.equal(status, 200);
    assert.equal(forwarded?.['x-user-roles'], 'admin');
    assert.equal(forwarded?.['x-user-scopes'], 'openid,profile,email,read:orders,write:orders');
    const without = await call(r, '/api/orders', await r.idp.sign(claims(['write:orders'])));
    assert.equal(without.status, 403);
    assert.equal(without.body.error, 'insufficient_scope');
  });

  test('the issuer written without its trailing slash: the log and /readyz name both issuers and the slash', async () => {
    const idp = await startIdentityProvider();
    idp.serve('/.well-known/openid-configuration', { issuer: `${idp.url}/`, jwks_uri: `${idp.url}/.well-known/jwks.json` });
    idp.serve('/.well-known/jwks.json', await keySetOf(idp));
    const upstream = await startUpstream();
    const gw = await startTestGateway({
      server: { host: '127.0.0.1' },
      providers: [{ name: 'auth0', issuer: idp.url, discovery: true, audience: 'https://api.example.com' }],
      upstreams: { orders: upstream.url },
      routes: [{ name: 'orders', prefix: '/', upstream: 'orders' }],
    });
    running.push({ idp, gw, upstream });
    await gw.running.holder.current.verifier.providers.get('auth0')!.keys.whenSettled();
    const readyz = await request(gw.adminUrl, '/readyz');
    assert.equal(readyz.status, 503);
    assert.deepEqual(readyz.json().reasons, [
      `provider "auth0": keys not fetched yet (the discovery document names the issuer "${idp.url}/", not the configured "${idp.url}" (it has a trailing slash))`,
    ]);
    const warning = gw.logs.find((l) => l.msg === 'fetching provider keys failed; retrying');
    assert.match(String(warning?.error), new RegExp(`names the issuer "${idp.url}/", but the provider's issuer is "${idp.url}" \\(it has a trailing slash\\)`));
  });
});

describe('recipe: Entra ID, multi-tenant', () => {
  const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
  const OTHER = '0b6f1d8e-4a21-4c55-9c2e-3c9a2b4e7d1f';
  const CLIENT = '6e74172b-be56-4843-9ff4-e66a39bb12e3';
  const entra = () =>
    run('entra', 'https://login.microsoftonline.com', (base, keys) => ({
      // The common document names the issuer as a template, in Microsoft's own spelling.
      '/organizations/v2.0/.well-known/openid-configuration': { issuer: `${base}/{tenantid}/v2.0`, jwks_uri: `${base}/organizations/discovery/v2.0/keys` },
      '/organizations/discovery/v2.0/keys': keys,
    }));
  const claims = (base: string, issTenant: string, tid: string, extra: Record<string, unknown> = {}) => ({
    aud: CLIENT,
    iss: `${base}/${issTenant}/v2.0`,
    nbf: Math.floor(Date.now() / 1000) - 60,
    aio: 'AWQAm/8UAAAA',
    azp: 'c44b4083-3bb0-49c1-b47d-974e53cbdf3c',
    azpacr: '0',
    name: 'Alice Example',
    oid: '00000000-0000-0000-66f3-3332eca7ea81',
    preferred_username: 'alice@contoso.com',
    rh: '0.AXEAv4j5cvGGr0GRqy180BHbR',
    roles: ['Orders.Read'],
    scp: 'access_as_user',
    sub: 'AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ',
    tid,
    uti: 'fqiBqXLPj0eQa82S-IYFAA',
    ver: '2.0',
    ...extra,
  });

  test('a listed tenant\'s token, 11 KB with 210 groups, is admitted; oid and tid go upstream', async () => {
    const r = await entra();
    const groups = Array.from({ length: 210 }, (_, i) => `c0ffee00-0000-4000-8000-${String(i).padStart(12, '0')}`);
    const token = await r.idp.sign(claims(r.idp.url, TENANT, TENANT, { groups }));
    assert.ok(token.length > 11_000, String(token.length));
    const { status, forwarded } = await call(r, '/api/orders', token);
    assert.equal(status, 200);
    assert.equal(forwarded?.['x-user-id'], '00000000-0000-0000-66f3-3332eca7ea81');
    assert.equal(forwarded?.['x-tenant-id'], TENANT);
  });

  test('another tenant is untrusted; an iss naming another tenant than tid is refused', async () => {
    const r = await entra();
    const other = await call(r, '/api/orders', await r.idp.sign(claims(r.idp.url, OTHER, OTHER)));
    assert.equal(other.status, 401);
    assert.equal(other.body.error, 'token_untrusted_issuer');
    assert.equal(other.forwarded, undefined);
    const borrowed = await call(r, '/api/orders', await r.idp.sign(claims(r.idp.url, TENANT, OTHER)));
    assert.equal(borrowed.status, 401);
    assert.equal(borrowed.body.error, 'token_issuer');
  });
});

describe('recipe: Okta', () => {
  const okta = () =>
    run('okta', 'https://example.okta.com', (base, keys) => ({
      '/oauth2/default/.well-known/openid-configuration': { issuer: `${base}/oauth2/default`, jwks_uri: `${base}/oauth2/default/v1/keys` },
      '/oauth2/default/v1/keys': keys,
    }));
  const claims = (base: string, extra: Record<string, unknown>) => ({
    ver: 1,
    jti: 'AT.9mTqk3vZ8bWcXyR1',
    iss: `${base}/oauth2/default`,
    aud: 'api://default',
    cid: '0oa1b2c3d4e5f6g7h8i9',
    scp: ['openid', 'orders.read'],
    groups: ['Everyone', 'orders-admins'],
    ...extra,
  });

  test('groups as roles, scp as an array; X-User-Id from uid, else sub', async () => {
    const r = await okta();
    const user = await call(r, '/api/orders', await r.idp.sign(claims(r.idp.url, { uid: '00u1a2b3c4d5e6f7g8h9', sub: 'alice@example.com' })));
    assert.equal(user.status, 200);
    assert.equal(user.forwarded?.['x-user-id'], '00u1a2b3c4d5e6f7g8h9');
    const service = await call(r, '/api/orders', await r.idp.sign(claims(r.idp.url, { sub: '0oa1b2c3d4e5f6g7h8i9' })));
    assert.equal(service.forwarded?.['x-user-id'], '0oa1b2c3d4e5f6g7h8i9');
    const outsider = await call(r, '/api/orders', await r.idp.sign(claims(r.idp.url, { sub: 'bob@example.com', groups: ['Everyone'] })));
    assert.equal(outsider.status, 403);
  });
});

describe('recipe: Google', () => {
  const CLIENT = '1234567890-abc123.apps.googleusercontent.com';
  const google = () =>
    run('google', 'https://accounts.google.com', (base, keys) => ({
      '/.well-known/openid-configuration': { issuer: base, jwks_uri: `${base}/oauth2/v3/certs` },
      '/oauth2/v3/certs': keys,
    }));
  const claims = (base: string, extra: Record<string, unknown> = {}) => ({
    iss: base,
    azp: CLIENT,
    aud: CLIENT,
    sub: '109876543210987654321',
    hd: 'example.com',
    email: 'alice@example.com',
    email_verified: true,
    at_hash: 'HK6E_P6Dh8Y93mRNtsDB1Q',
    name: 'Alice Example',
    ...extra,
  });

  test('an ID token of the workspace domain passes; another domain, a gmail account or an unverified email do not', async () => {
    const r = await google();
    assert.equal((await call(r, '/tools/deploy', await r.idp.sign(claims(r.idp.url)))).status, 200);
    for (const [what, extra] of [
      ['another domain', { hd: 'evil.example' }],
      ['no hd (a gmail.com account)', { hd: undefined }],
      ['an unverified email', { email_verified: false }],
    ] as const) {
      const res = await call(r, '/tools/deploy', await r.idp.sign(claims(r.idp.url, extra)));
      assert.equal(res.status, 403, what);
      assert.equal(res.body.error, 'claim_mismatch', what);
      assert.doesNotMatch(String(res.body.message), /example\.com|evil/, `${what}: the message names no value`);
      assert.equal(res.forwarded, undefined, what);
    }
  });
});

describe('recipe: Amazon Cognito', () => {
  const POOL = 'us-east-1_Ab12Cd34E';
  const cognito = () =>
    run('cognito', 'https://cognito-idp.us-east-1.amazonaws.com', (base, keys) => ({
      [`/${POOL}/.well-known/openid-configuration`]: { issuer: `${base}/${POOL}`, jwks_uri: `${base}/${POOL}/.well-known/jwks.json` },
      [`/${POOL}/.well-known/jwks.json`]: keys,
    }));
  const access = (base: string, clientId = 'app-one') => ({
    sub: 'a1b2c3d4-5678-90ab-cdef-EXAMPLE11111',
    'cognito:groups': ['admins'],
    iss: `${base}/${POOL}`,
    version: 2,
    client_id: clientId,
    origin_jti: 'b2c3d4e5-6789-01ab-cdef-EXAMPLE22222',
    event_id: 'c3d4e5f6-7890-12ab-cdef-EXAMPLE33333',
    token_use: 'access',
    scope: 'aws.cognito.signin.user.admin',
    auth_time: Math.floor(Date.now() / 1000) - 10,
    jti: 'd4e5f6a7-8901-23ab-cdef-EXAMPLE44444',
    username: 'alice',
  });
  const id = (base: string) => ({
    at_hash: 'cpAYxPvWZ3VtWbMRzp2CJg',
    sub: 'a1b2c3d4-5678-90ab-cdef-EXAMPLE11111',
    'cognito:groups': ['admins'],
    email_verified: true,
    iss: `${base}/${POOL}`,
    'cognito:username': 'alice',
    origin_jti: 'b2c3d4e5-6789-01ab-cdef-EXAMPLE22222',
    aud: 'app-one',
    event_id: 'c3d4e5f6-7890-12ab-cdef-EXAMPLE33333',
    token_use: 'id',
    auth_time: Math.floor(Date.now() / 1000) - 10,
    jti: 'e5f6a7b8-9012-34ab-cdef-EXAMPLE55555',
    email: 'alice@example.com',
  });

  test('an access token without aud passes; the ID token and another app client\'s access token do not', async () => {
    const r = await cognito();
    const ok = await call(r, '/api/orders', await r.idp.sign(access(r.idp.url), {}));
    assert.equal(ok.status, 200);
    assert.equal(ok.forwarded?.['x-user-roles'], 'admins');
    const idToken = await call(r, '/api/orders', await r.idp.sign(id(r.idp.url), {}));
    assert.equal(idToken.status, 401);
    assert.equal(idToken.body.error, 'token_claims');
    assert.match(String(idToken.body.message), /"token_use"/);
    assert.doesNotMatch(String(idToken.body.message), /access|"id"/);
    const otherApp = await call(r, '/api/orders', await r.idp.sign(access(r.idp.url, 'app-three'), {}));
    assert.equal(otherApp.status, 401);
    assert.match(String(otherApp.body.message), /"client_id"/);
    assert.equal(otherApp.forwarded, undefined);
  });
});

describe('recipe: an Express app using jsonwebtoken', () => {
  test('the tutorial token (HS256, id and role, no iss or aud) passes, with X-User-Id from id', async () => {
    const r = await run('express', 'unused', () => ({}));
    // What jsonwebtoken's jwt.sign({ id: 42, username, role }, secret, { expiresIn: '1h' }) produces.
    const token = await sign({ id: 42, username: 'alice', role: 'admin' }, { header: { typ: 'JWT' } });
    const { status, forwarded } = await call(r, '/api/orders', token);
    assert.equal(status, 200);
    assert.equal(forwarded?.['x-user-id'], '42');
    assert.equal(forwarded?.['x-user-roles'], 'admin');
    assert.equal((await call(r, '/api/orders', await sign({ id: 43, role: 'user' }))).status, 403);
    assert.ok(r.gw.logs.some((l) => String(l.warning).includes('checks neither issuer nor audience')), 'validate\'s warning is logged');
  });
});

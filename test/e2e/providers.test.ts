// Providers: PEM keys and certificates, JWKS (with rotation, refetch limits and outages), discovery,
// providers chosen by iss, per-route provider restrictions and tutorial-style tokens.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { bearer, request } from '../helpers/http.ts';
import { ecKeyPair, edKeyPair, publicJwk, rsaKeyPair, SECRET, sign, tempDir, writeFile } from '../helpers/keys.ts';
import { startJwksServer, type JwksServer } from '../helpers/jwks.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';
import { createPrivateKey } from 'node:crypto';

const fixture = (name: string) => new URL(`../fixtures/${name}`, import.meta.url).pathname;

describe('providers with PEM keys and certificates', () => {
  const rsa = rsaKeyPair();
  const ec = ecKeyPair();
  const ed = edKeyPair();
  const signer = rsaKeyPair();
  let upstream: Upstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await startUpstream();
    const dir = tempDir();
    writeFile(dir, 'rsa.pem', rsa.publicPem);
    writeFile(dir, 'ec.pem', ec.publicPem);
    writeFile(dir, 'ed.pem', ed.publicPem);
    writeFile(dir, 'signer.key', signer.privatePem);
    writeFile(dir, 'cert.pem', readFileSync(fixture('cert.pem'), 'utf8'));
    gw = await startTestGateway(
      {
        server: { host: '127.0.0.1' },
        providers: [
          { name: 'rsa', issuer: 'rsa-idp', public_key_file: 'rsa.pem' },
          { name: 'ec', issuer: 'ec-idp', public_key_file: 'ec.pem' },
          { name: 'ed', issuer: 'ed-idp', public_key_file: 'ed.pem' },
          { name: 'cert', issuer: 'cert-idp', public_key_file: 'cert.pem' },
          { name: 'minted', issuer: 'minted-idp', signing_key_file: 'signer.key' },
          { name: 'hs', issuer: 'hs-idp', secret: SECRET },
          { name: 'keycloak', issuer: 'kc', secret: SECRET, roles_claim: 'realm_access.roles' },
        ],
        forward: { headers: { 'X-User-Id': 'sub', 'X-User-Roles': 'roles' } },
        upstreams: { app: upstream.url },
        routes: [
          { name: 'rsa-only', prefix: '/rsa-only', upstream: 'app', providers: ['rsa'] },
          { name: 'kc-admin', prefix: '/kc-admin', upstream: 'app', roles: ['admin'] },
          { name: 'any', prefix: '/', upstream: 'app' },
        ],
      },
      { dir },
    );
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  const status = async (token: string, path = '/x') => (await request(gw.url, path, { headers: bearer(token) })).status;

  test('RS256, PS256, ES256 and EdDSA tokens verify against PEM public keys', async () => {
    assert.equal(await status(await sign({ iss: 'rsa-idp', sub: 'a' }, { alg: 'RS256', key: rsa.privateKey })), 200);
    assert.equal(await status(await sign({ iss: 'rsa-idp', sub: 'a' }, { alg: 'PS256', key: rsa.privateKey })), 200);
    assert.equal(await status(await sign({ iss: 'ec-idp', sub: 'a' }, { alg: 'ES256', key: ec.privateKey })), 200);
    assert.equal(await status(await sign({ iss: 'ed-idp', sub: 'a' }, { alg: 'EdDSA', key: ed.privateKey })), 200);
  });

  test('a certificate file verifies tokens signed by its private key', async () => {
    const key = createPrivateKey(readFileSync(fixture('cert-key.pem'), 'utf8'));
    assert.equal(await status(await sign({ iss: 'cert-idp', sub: 'a' }, { alg: 'RS256', key })), 200);
  });

  test('a signing_key_file provider verifies with the public half of that key', async () => {
    assert.equal(await status(await sign({ iss: 'minted-idp', sub: 'a' }, { alg: 'RS256', key: signer.privateKey })), 200);
    assert.equal(await status(await sign({ iss: 'minted-idp', sub: 'a' }, { alg: 'RS256', key: rsa.privateKey })), 401);
  });

  test('key confusion: HS256 made with the RSA public key PEM as secret is refused', async () => {
    const before = upstream.received.length;
    const res = await request(gw.url, '/x', { headers: bearer(await sign({ iss: 'rsa-idp', sub: 'a' }, { alg: 'HS256', key: rsa.publicPem })) });
    assert.equal(res.status, 401);
    assert.equal(res.json().error, 'token_algorithm');
    assert.equal(upstream.received.length, before);
  });

  test('a token naming one provider\'s issuer but signed with another provider\'s key is refused', async () => {
    assert.equal(await status(await sign({ iss: 'rsa-idp', sub: 'a' }, { alg: 'ES256', key: ec.privateKey })), 401);
    assert.equal(await status(await sign({ iss: 'rsa-idp', sub: 'a' }, { alg: 'HS256', key: SECRET })), 401);
  });

  test('providers: [rsa] on a route refuses another trusted provider\'s valid token', async () => {
    const res = await request(gw.url, '/rsa-only', { headers: bearer(await sign({ iss: 'hs-idp', sub: 'a' })) });
    assert.equal(res.status, 401);
    assert.equal(res.json().error, 'provider_not_allowed');
    assert.equal(await status(await sign({ iss: 'rsa-idp', sub: 'a' }, { alg: 'RS256', key: rsa.privateKey }), '/rsa-only'), 200);
  });

  test('roles_claim reads a dotted path (Keycloak realm_access.roles)', async () => {
    const token = await sign({ iss: 'kc', sub: 'a', realm_access: { roles: ['admin', 'user'] } });
    const res = await request(gw.url, '/kc-admin', { headers: bearer(token) });
    assert.equal(res.status, 200);
    assert.equal(upstream.received.at(-1)!.headers['x-user-roles'], 'admin,user');
    assert.equal(await status(await sign({ iss: 'kc', sub: 'a', roles: ['admin'] }), '/kc-admin'), 403);
  });
});

describe('a provider without issuer takes tutorial-style tokens (jsonwebtoken {id, username, email, role})', () => {
  let upstream: Upstream;
  let gw: TestGateway;
  before(async () => {
    upstream = await startUpstream();
    gw = await startTestGateway({
      server: { host: '127.0.0.1' },
      providers: [{ name: 'app', secret: SECRET, roles_claim: 'role', algorithms: ['HS256'] }],
      forward: { headers: { 'X-User-Id': 'id', 'X-User-Name': 'username', 'X-User-Roles': 'roles' } },
      upstreams: { app: upstream.url },
      routes: [{ name: 'admin', prefix: '/admin', upstream: 'app', roles: ['admin'] }],
    });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  test('whatever its iss, the token is verified with the secret and its claims become headers', async () => {
    const token = await sign({ id: 42, username: 'ada', email: 'ada@example.com', role: 'admin' });
    const res = await request(gw.url, '/admin/panel', { headers: bearer(token) });
    assert.equal(res.status, 200);
    const seen = upstream.received.at(-1)!;
    assert.equal(seen.headers['x-user-id'], '42');
    assert.equal(seen.headers['x-user-name'], 'ada');
    assert.equal(seen.headers['x-user-roles'], 'admin');
    const user = await sign({ id: 7, username: 'bob', role: 'user', iss: 'anything' });
    assert.equal((await request(gw.url, '/admin/panel', { headers: bearer(user) })).status, 403);
  });

  test('HS384 is refused when algorithms allows only HS256', async () => {
    const token = await sign({ id: 1, role: 'admin' }, { alg: 'HS384' });
    const res = await request(gw.url, '/admin/panel', { headers: bearer(token) });
    assert.equal(res.status, 401);
    assert.equal(res.json().error, 'token_algorithm');
  });
});

describe('JWKS providers', () => {
  const current = rsaKeyPair();
  const next = rsaKeyPair();
  let idp: JwksServer;
  let upstream: Upstream;
  let gw: TestGateway;

  before(async () => {
    idp = await startJwksServer([await publicJwk(current, 'k1')]);
    upstream = await startUpstream();
    gw = await startTestGateway({
      server: { host: '127.0.0.1' },
      providers: [
        { name: 'corp', issuer: 'corp', jwks_uri: idp.jwksUri, jwks_cooldown: '1s', jwks_refresh: '1h' },
        { name: 'oidc', issuer: idp.url, discovery: true },
      ],
      upstreams: { app: upstream.url },
      routes: [{ name: 'all', prefix: '/', upstream: 'app' }],
    });
    // Readiness means every provider has keys.
    for (let i = 0; i < 50 && !gw.running.readiness().ready; i++) await new Promise((r) => setTimeout(r, 50));
  });
  after(async () => {
    await gw.close();
    await upstream.close();
    await idp.close();
  });

  test('tokens signed with a published key verify; readiness reports every provider ready', async () => {
    assert.ok(gw.running.readiness().ready, gw.running.readiness().reasons.join('; '));
    const token = await sign({ iss: 'corp', sub: 'a' }, { alg: 'RS256', key: current.privateKey, header: { kid: 'k1' } });
    assert.equal((await request(gw.url, '/x', { headers: bearer(token) })).status, 200);
  });

  test('discovery finds the jwks_uri from the issuer', async () => {
    const token = await sign({ iss: idp.url, sub: 'a' }, { alg: 'RS256', key: current.privateKey, header: { kid: 'k1' } });
    assert.equal((await request(gw.url, '/x', { headers: bearer(token) })).status, 200);
  });

  test('an unknown kid refetches once, then not again within the cooldown', async () => {
    // The cooldown counts from the last fetch: let the one at start age past it.
    await new Promise((r) => setTimeout(r, 1100));
    const fetchesBefore = idp.fetches;
    const forged = rsaKeyPair();
    for (let i = 0; i < 5; i++) {
      const token = await sign({ iss: 'corp', sub: 'a' }, { alg: 'RS256', key: forged.privateKey, header: { kid: `made-up-${i}` } });
      const res = await request(gw.url, '/x', { headers: bearer(token) });
      assert.equal(res.status, 401);
      assert.equal(res.json().error, 'token_unknown_key');
    }
    // Both JWKS providers share the server: corp may refetch once, discovery's source did not see these.
    assert.equal(idp.fetches - fetchesBefore, 1);
  });

  test('a rotated key is picked up by the refetch an unknown kid triggers (after the cooldown)', async () => {
    const gw2 = await startTestGateway({
      server: { host: '127.0.0.1' },
      providers: [{ name: 'corp', issuer: 'corp', jwks_uri: idp.jwksUri, jwks_cooldown: '0s' }],
      upstreams: { app: upstream.url },
      routes: [{ name: 'all', prefix: '/', upstream: 'app' }],
    });
    try {
      for (let i = 0; i < 50 && !gw2.running.readiness().ready; i++) await new Promise((r) => setTimeout(r, 50));
      idp.keys = [await publicJwk(current, 'k1'), await publicJwk(next, 'k2')];
      const token = await sign({ iss: 'corp', sub: 'a' }, { alg: 'RS256', key: next.privateKey, header: { kid: 'k2' } });
      assert.equal((await request(gw2.url, '/x', { headers: bearer(token) })).status, 200);
    } finally {
      idp.keys = [await publicJwk(current, 'k1')];
      await gw2.close();
    }
  });

  test('requests that arrive together with a newly rotated kid all wait for the one refetch', async () => {
    const gw2 = await startTestGateway({
      server: { host: '127.0.0.1' },
      providers: [{ name: 'corp', issuer: 'corp', jwks_uri: idp.jwksUri, jwks_cooldown: '300ms', jwks_refresh: '1h' }],
      upstreams: { app: upstream.url },
      routes: [{ name: 'all', prefix: '/', upstream: 'app' }],
    });
    try {
      for (let i = 0; i < 50 && !gw2.running.readiness().ready; i++) await new Promise((r) => setTimeout(r, 50));
      // Past the cooldown of the fetch at start, so the first unknown kid may refetch; the others come
      // while that (slow) refetch is under way, inside the cooldown it restarted.
      await new Promise((r) => setTimeout(r, 400));
      idp.keys = [await publicJwk(current, 'k1'), await publicJwk(next, 'k2')];
      idp.delayMs = 1000;
      const fetchesBefore = idp.fetches;
      const token = await sign({ iss: 'corp', sub: 'a' }, { alg: 'RS256', key: next.privateKey, header: { kid: 'k2' } });
      const statuses = await Promise.all(Array.from({ length: 10 }, () => request(gw2.url, '/x', { headers: bearer(token) }).then((r) => r.status)));
      assert.deepEqual(statuses, Array(10).fill(200));
      assert.equal(idp.fetches - fetchesBefore, 1);
    } finally {
      idp.delayMs = 0;
      idp.keys = [await publicJwk(current, 'k1')];
      await gw2.close();
    }
  });

  test('an identity provider outage does not fail tokens signed with keys already fetched', async () => {
    idp.down = true;
    try {
      const token = await sign({ iss: 'corp', sub: 'outage' }, { alg: 'RS256', key: current.privateKey, header: { kid: 'k1' } });
      assert.equal((await request(gw.url, '/x', { headers: bearer(token) })).status, 200);
    } finally {
      idp.down = false;
    }
  });
});

describe('a JWKS provider publishing several keys, with tokens that name no kid', () => {
  test('a token without kid verifies against whichever published key signed it; a foreign key is still refused', async () => {
    const first = rsaKeyPair();
    const second = rsaKeyPair();
    const idp = await startJwksServer([await publicJwk(first, 'a'), await publicJwk(second, 'b')]);
    const upstream = await startUpstream();
    const gw = await startTestGateway({
      server: { host: '127.0.0.1' },
      providers: [{ name: 'corp', issuer: 'corp', jwks_uri: idp.jwksUri }],
      forward: { headers: { 'X-User-Id': 'sub' } },
      upstreams: { app: upstream.url },
      routes: [{ name: 'all', prefix: '/', upstream: 'app' }],
    });
    try {
      for (let i = 0; i < 50 && !gw.running.readiness().ready; i++) await new Promise((r) => setTimeout(r, 50));
      const bySecond = await sign({ iss: 'corp', sub: 'b-signed' }, { alg: 'RS256', key: second.privateKey });
      const res = await request(gw.url, '/x', { headers: bearer(bySecond) });
      assert.equal(res.status, 200, res.body);
      assert.equal(upstream.received.at(-1)?.headers['x-user-id'], 'b-signed');
      const seen = upstream.received.length;
      const forged = await sign({ iss: 'corp', sub: 'mallory' }, { alg: 'RS256', key: rsaKeyPair().privateKey });
      const refused = await request(gw.url, '/x', { headers: bearer(forged) });
      assert.equal(refused.status, 401);
      assert.equal(refused.json().error, 'token_signature');
      assert.equal(upstream.received.length, seen);
    } finally {
      await gw.close();
      await upstream.close();
      await idp.close();
    }
  });
});

describe('a JWKS provider whose identity provider is down at start', () => {
  test('is not ready, answers 503 provider_unavailable, and recovers once keys can be fetched', async () => {
    const pair = rsaKeyPair();
    const idp = await startJwksServer([await publicJwk(pair, 'k1')]);
    idp.down = true;
    const upstream = await startUpstream();
    const gw = await startTestGateway({
      server: { host: '127.0.0.1' },
      providers: [{ name: 'corp', issuer: 'corp', jwks_uri: idp.jwksUri }],
      upstreams: { app: upstream.url },
      routes: [{ name: 'all', prefix: '/', upstream: 'app' }],
    });
    try {
      const token = await sign({ iss: 'corp', sub: 'a' }, { alg: 'RS256', key: pair.privateKey, header: { kid: 'k1' } });
      await new Promise((r) => setTimeout(r, 100));
      const ready = await request(gw.adminUrl, '/readyz');
      assert.equal(ready.status, 503);
      assert.match(ready.body, /corp/);
      const res = await request(gw.url, '/x', { headers: bearer(token) });
      assert.equal(res.status, 503);
      assert.equal(res.json().error, 'provider_unavailable');
      assert.equal(upstream.received.length, 0);
      idp.down = false;
      for (let i = 0; i < 100 && !gw.running.readiness().ready; i++) await new Promise((r) => setTimeout(r, 50));
      assert.equal((await request(gw.adminUrl, '/readyz')).status, 200);
      assert.equal((await request(gw.url, '/x', { headers: bearer(token) })).status, 200);
    } finally {
      await gw.close();
      await upstream.close();
      await idp.close();
    }
  });
});

describe('periodic JWKS refresh', () => {
  test('rotated keys are picked up without a token asking, and a withdrawn key stops working even for cached tokens', async () => {
    const oldKey = rsaKeyPair();
    const newKey = rsaKeyPair();
    const idp = await startJwksServer([await publicJwk(oldKey, 'old')]);
    const upstream = await startUpstream();
    const gw = await startTestGateway({
      server: { host: '127.0.0.1' },
      providers: [{ name: 'corp', issuer: 'corp', jwks_uri: idp.jwksUri, jwks_refresh: '200ms', jwks_cooldown: '1h' }],
      upstreams: { app: upstream.url },
      routes: [{ name: 'all', prefix: '/', upstream: 'app' }],
    });
    const until = async (check: () => boolean) => {
      for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 20));
      assert.ok(check());
    };
    try {
      await until(() => gw.running.readiness().ready);
      const oldToken = await sign({ iss: 'corp', sub: 'a' }, { alg: 'RS256', key: oldKey.privateKey, header: { kid: 'old' } });
      assert.equal((await request(gw.url, '/x', { headers: bearer(oldToken) })).status, 200);
      assert.equal((await request(gw.url, '/x', { headers: bearer(oldToken) })).status, 200); // now cached

      idp.keys = [await publicJwk(newKey, 'new')];
      const fetches = idp.fetches;
      await until(() => idp.fetches > fetches);
      await new Promise((r) => setTimeout(r, 50));
      const newToken = await sign({ iss: 'corp', sub: 'b' }, { alg: 'RS256', key: newKey.privateKey, header: { kid: 'new' } });
      assert.equal((await request(gw.url, '/x', { headers: bearer(newToken) })).status, 200);
      const withdrawn = await request(gw.url, '/x', { headers: bearer(oldToken) });
      assert.equal(withdrawn.status, 401);
      assert.equal(withdrawn.json().error, 'token_unknown_key');

      // The identity provider goes down: the keys held keep verifying, and /readyz says refreshes fail.
      idp.down = true;
      await until(() => gw.running.readiness().warnings !== undefined);
      const readyz = await request(gw.adminUrl, '/readyz');
      assert.equal(readyz.status, 200);
      assert.deepEqual(readyz.json().warnings, ['provider "corp": the last key refresh failed (HTTP 503); the keys already held keep verifying']);
      assert.equal((await request(gw.url, '/x', { headers: bearer(newToken) })).status, 200);
      idp.down = false;
      await until(() => gw.running.readiness().warnings === undefined);
    } finally {
      await gw.close();
      await upstream.close();
      await idp.close();
    }
  });
});

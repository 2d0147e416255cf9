// What validate says about the keys of issue 12: claim paths, conditions, token sources, key lists and
// encodings, RSA-PSS keys, jwks_file, issuer templates, per-provider headers, and the size limits.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, type RSAPSSKeyPairKeyObjectOptions } from 'node:crypto';
import path from 'node:path';
import { describe, test } from 'node:test';
import { loadConfigText } from '../../src/config/load.ts';
import { formatProblem } from '../../src/config/problems.ts';
import { publicJwk, rsaKeyPair, tempDir, writeFile } from '../helpers/keys.ts';

const SECRET = 'a-secret-that-is-at-least-32-bytes-long';

/** `provider` lines go under the provider (from line 4), `routes` after "routes:". */
function config(provider: string, routes = '  - name: api\n    prefix: /api\n    upstream: app', extra = ''): string {
  return `providers:
  - name: main
    issuer: https://idp.example.com
${provider}
upstreams:
  app: http://127.0.0.1:3000
routes:
${routes}
${extra}`;
}

function problems(text: string, file = 'gw.yaml'): string[] {
  return loadConfigText(file, text, {}).problems.map(formatProblem);
}

describe('validate: claim paths', () => {
  test('a malformed path is an error at its key, with the way to write it', () => {
    assert.deepEqual(problems(config(`    secret: ${SECRET}\n    roles_claim: [realm_access.roles, 'resource_access["orders.api".roles']`)), [
      'gw.yaml:5:39: providers[0].roles_claim[1]: "resource_access["orders.api".roles": a quoted name must be closed, then the bracket; write names separated by single dots (realm_access.roles), and a name containing dots in brackets: resource_access["orders.api"].roles',
    ]);
  });

  test('a URL a dotted path cuts apart is a warning with the bracketed spelling, wherever a claim is named', () => {
    const text = config(
      `    secret: ${SECRET}\n    scopes_claim: [app.https://example.com/scopes]\n    forward:\n      headers:\n        X-Roles: https://example.com/app.roles`,
      '  - name: api\n    prefix: /api\n    upstream: app\n    claims:\n      claims.example.com/plan: pro',
    );
    assert.deepEqual(problems(text), [
      'gw.yaml:5:20: warning: providers[0].scopes_claim[0]: "https://example.com/scopes" looks like a URL or host name, which this dotted path splits at its dots; to read the claim of that name inside "app", write app["https://example.com/scopes"]',
      'gw.yaml:8:18: warning: providers[0].forward.headers.X-Roles: read only as the claim named exactly "https://example.com/app.roles" (a URL\'s dots are never a path); if you mean "roles" inside the claim "https://example.com/app", write ["https://example.com/app"].roles',
      'gw.yaml:16:7: warning: routes[0].claims.claims.example.com/plan: "example.com/plan" looks like a URL or host name, which this dotted path splits at its dots; to read the claim of that name inside "claims", write claims["example.com/plan"]',
    ]);
  });

  test('a rate limit key and an upstream hash_key are claim paths too: checked and warned about alike', () => {
    const extra = `rate_limits:
  per-tenant: { requests: 10, per: 1s, key: 'claim:org["id' }
  per-org: { requests: 10, per: 1s, key: 'claim:resource_access["orders.api"].tenant' }`;
    const text = config(`    secret: ${SECRET}`, '  - name: api\n    prefix: /api\n    upstream: app\n    rate_limit: [per-tenant, per-org]', extra)
      .replace('  app: http://127.0.0.1:3000', '  app:\n    targets: [http://127.0.0.1:3000, http://127.0.0.1:3001]\n    balance: hash\n    hash_key: claim:claims.https://example.com/tenant');
    assert.deepEqual(problems(text), [
      'gw.yaml:9:15: warning: upstreams.app.hash_key: "https://example.com/tenant" looks like a URL or host name, which this dotted path splits at its dots; to read the claim of that name inside "claims", write claims["https://example.com/tenant"]',
      'gw.yaml:16:45: rate_limits.per-tenant.key: "org["id": a quoted name must be closed, then the bracket; write names separated by single dots (realm_access.roles), and a name containing dots in brackets: resource_access["orders.api"].roles',
    ]);
  });

  test('a namespaced claim read whole is fine: no warning', () => {
    assert.deepEqual(problems(config(`    secret: ${SECRET}\n    roles_claim: https://example.com/roles`)), []);
  });
});

describe('validate: claim conditions', () => {
  const route = (claims: string, path = '/tenants/:tenant/orders', auth = '') =>
    `  - name: api\n    path: ${path}\n    upstream: app\n${auth}    claims:\n${claims}`;

  test('a {param} naming no parameter of the route is an error listing the ones it has', () => {
    assert.deepEqual(problems(config(`    secret: ${SECRET}`, route('      tenant_id: { param: tenantid }'))), [
      'gw.yaml:12:27: routes[0].claims.tenant_id.param: the route\'s path /tenants/:tenant/orders has no parameter :tenantid; its parameters: :tenant',
    ]);
    assert.deepEqual(problems(config(`    secret: ${SECRET}`, route('      groups: { contains_param: x }', '/orders'))).map((p) => p.replace(/^\S+ /, '')), [
      'routes[0].claims.groups.contains_param: the route\'s path /orders has no parameter :x; it has none',
    ]);
  });

  test('claims on a public or optional route are errors, like roles', () => {
    assert.deepEqual(problems(config(`    secret: ${SECRET}`, route('      email_verified: true', '/x', '    auth: public\n'))).map((p) => p.replace(/^\S+ /, '')), [
      'routes[0].claims: a public route reads no token, so claims would never be checked; remove it or set auth: required',
    ]);
    assert.deepEqual(problems(config(`    secret: ${SECRET}`, route('      email_verified: true', '/x', '    auth: optional\n'))).map((p) => p.replace(/^\S+ /, '')), [
      'routes[0].claims: an optional route lets callers without a token through, so claims can not be enforced; set auth: required',
    ]);
  });

  test('a condition of an unknown form, and a {param} in require_claims, are refused', () => {
    assert.equal(loadConfigText('gw.yaml', config(`    secret: ${SECRET}\n    require_claims:\n      tid: { param: tenant }`), {}).ok, false);
    assert.deepEqual(problems(config(`    secret: ${SECRET}`, route('      groups: { contain: admins }'))), [
      'gw.yaml:12:15: routes[0].claims.groups: a condition is a value, a list of values, or one of {param: name}, {contains: x}, {contains_any: [..]}, {contains_all: [..]}, {contains_param: name}, {present: true|false}; "contain" is none of them: did you mean "contains"?',
    ]);
  });
});

describe('validate: token sources', () => {
  test('unknown kinds, bad names, reserved headers and repeats are errors; query sources a warning', () => {
    const text = config(`    secret: ${SECRET}\n    token_from: [bearer, header:Authorization, header:Cookie, cookie:a;b, query:access_token, bearer, jwt]`);
    assert.deepEqual(problems(text).map((p) => p.replace(/^gw\.yaml:\d+:\d+: /, '')), [
      'providers[0].token_from[6]: expected bearer, header:<Name>, cookie:<name> or query:<name>',
    ]);
    const named = config(`    secret: ${SECRET}\n    token_from: [bearer, header:Authorization, header:Cookie, cookie:a;b, query:access_token, bearer]`);
    assert.deepEqual(problems(named).map((p) => p.replace(/^gw\.yaml:\d+:\d+: /, '')), [
      'providers[0].token_from[1]: the Authorization header is the source "bearer"',
      'providers[0].token_from[2]: Cookie is managed by the gateway or by HTTP itself and can not carry a token',
      'providers[0].token_from[3]: "a;b" is not a valid cookie name',
      'warning: providers[0].token_from[4]: a token in the URL ends up in browser history, Referer headers and the logs of every proxy on the way (RFC 6750 §2.3); use it only where a client can send nothing else, like a browser WebSocket',
      'providers[0].token_from[5]: bearer is already in the list',
    ]);
  });

  test('token_from on a public route is an error', () => {
    const text = config(`    secret: ${SECRET}`, '  - name: api\n    prefix: /api\n    upstream: app\n    auth: public\n    token_from: [cookie:session]');
    assert.deepEqual(problems(text).map((p) => p.replace(/^\S+ /, '')), [
      'routes[0].token_from: a public route reads no token, so token_from would never be checked; remove it or set auth: required',
    ]);
  });
});

describe('validate: keys', () => {
  test('a secret that is not in its encoding is an error that never shows it; short secrets count decoded bytes', () => {
    const bad = problems(config('    secret: [not*base64*at*all, "c2hvcnQ="]\n    secret_encoding: base64'));
    assert.deepEqual(bad, [
      'gw.yaml:4:14: providers[0].secret[0]: the secret is not base64 text (secret_encoding: base64); check for stray characters or the wrong encoding',
      'gw.yaml:4:33: warning: providers[0].secret[1]: the secret is 5 bytes; HS256 needs at least 32 (RFC 7518 §3.2)',
    ]);
    assert.ok(!bad.join('\n').includes('not*base64'), 'the secret is not repeated');
    assert.deepEqual(problems(config(`    secret: ${Buffer.from(SECRET).toString('base64')}\n    secret_encoding: base64`)), []);
  });

  test('a secret of the wrong type inside a list is never repeated', () => {
    for (const line of problems(config('    secret: [123456789012345678901234567890123, { value: 98765432109876 }]'))) {
      assert.doesNotMatch(line, /1234567890|98765432109876/, line);
    }
  });

  test('a kid written as a number is an error at the kid, with the fix; the provider still has its key', () => {
    const dir = tempDir();
    writeFile(dir, 'partner.pem', generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString());
    const file = `${dir}/gateway.yaml`;
    assert.deepEqual(problems(config(`    secret: [${SECRET}, { value: ${SECRET}x, kid: 2025 }]`), file).map((p) => p.replace(/^\S+ /, '')), [
      'providers[0].secret[1].kid: expected string, got number 2025; put it in quotes to write it as text',
    ]);
    assert.deepEqual(problems(config('    public_key_file: [partner.pem, { file: partner.pem, kid: 7 }]'), file).map((p) => p.replace(/^\S+ /, '')), [
      'providers[0].public_key_file[1].kid: expected string, got number 7; put it in quotes to write it as text',
    ]);
  });

  test('two keys with one kid are an error', () => {
    assert.deepEqual(problems(config(`    secret: [{ value: ${SECRET}, kid: a }, { value: ${SECRET}x, kid: a }]`)).map((p) => p.replace(/^\S+ /, '')), [
      'providers[0].secret[1].value: another secret already has the kid "a"',
    ]);
  });

  test('RSA-PSS keys are accepted when their parameters fit a PS algorithm, refused with the reason otherwise', () => {
    const dir = tempDir();
    const pss = (params: Record<string, unknown>) =>
      generateKeyPairSync('rsa-pss', { modulusLength: 2048, ...params } as unknown as RSAPSSKeyPairKeyObjectOptions).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    writeFile(dir, 'pss.pem', pss({}));
    writeFile(dir, 'pss256.pem', pss({ hashAlgorithm: 'sha256', mgf1HashAlgorithm: 'sha256', saltLength: 32 }));
    writeFile(dir, 'mixed.pem', pss({ hashAlgorithm: 'sha256', mgf1HashAlgorithm: 'sha512', saltLength: 32 }));
    const file = `${dir}/gateway.yaml`;
    assert.deepEqual(problems(config('    public_key_file: [pss.pem, { file: pss256.pem, kid: next }]'), file), []);
    assert.deepEqual(problems(config('    public_key_file: pss256.pem\n    algorithms: [PS256, PS384]'), file).map((p) => p.replace(/^\S+ /, '')), [
      'providers[0].algorithms[1]: PS384 can not be verified with an RSA-PSS 2048-bit key; it allows PS256',
    ]);
    assert.deepEqual(problems(config('    public_key_file: mixed.pem'), file).map((p) => p.replace(/^\S+ /, '')), [
      'providers[0].public_key_file: mixed.pem holds an RSA-PSS key whose parameters (hash sha256, MGF1 sha512, salt 32) match none of PS256/384/512 (RFC 7518 §3.5: one hash for both, salt as long as the hash); the signer needs a key made with openssl genpkey -algorithm RSA-PSS -pkeyopt rsa_pss_keygen_md:sha256 -pkeyopt rsa_pss_keygen_mgf1_md:sha256 (the MGF1 hash is SHA-1 unless given), or with no rsa_pss_keygen option at all',
    ]);
    // As openssl makes it when told only the hash: MGF1 stays SHA-1.
    const openssl = path.join(dir, 'openssl-pss.pem');
    execFileSync('openssl', ['genpkey', '-algorithm', 'RSA-PSS', '-pkeyopt', 'rsa_keygen_bits:2048', '-pkeyopt', 'rsa_pss_keygen_md:sha384', '-out', `${openssl}.key`]);
    execFileSync('openssl', ['pkey', '-in', `${openssl}.key`, '-pubout', '-out', openssl]);
    assert.match(problems(config('    public_key_file: openssl-pss.pem'), file).join('\n'), /\(hash sha384, MGF1 sha1, salt 20\).*rsa_pss_keygen_md:sha384 -pkeyopt rsa_pss_keygen_mgf1_md:sha384/);
  });

  test('jwks_file: missing, not JSON, or without public keys', () => {
    const dir = tempDir();
    writeFile(dir, 'text.json', 'hello');
    writeFile(dir, 'private.json', JSON.stringify({ keys: [{ kty: 'oct', k: 'c2VjcmV0' }] }));
    const file = `${dir}/gateway.yaml`;
    assert.deepEqual(problems(config('    jwks_file: keys/missing.json'), file).map((p) => p.replace(/^\S+ /, '')), ['providers[0].jwks_file: keys/missing.json does not exist']);
    assert.deepEqual(problems(config('    jwks_file: text.json'), file).map((p) => p.replace(/^\S+ /, '')), ['providers[0].jwks_file: text.json is not JSON']);
    assert.deepEqual(problems(config('    jwks_file: private.json'), file).map((p) => p.replace(/^\S+ /, '')), ['providers[0].jwks_file: private.json holds no public keys']);
  });

  test('jwks_file: a key that can verify nothing is refused by name (it used to pass, and every token naming it got token_invalid)', async () => {
    const dir = tempDir();
    const good = await publicJwk(rsaKeyPair(), 'current');
    const { n: _n, ...withoutModulus } = good;
    writeFile(dir, 'broken.json', JSON.stringify({ keys: [good, { ...withoutModulus, kid: 'next' }] }));
    writeFile(dir, 'small.json', JSON.stringify({ keys: [{ ...good, n: 'AQAB' }] }));
    writeFile(dir, 'mislabelled.json', JSON.stringify({ keys: [{ ...good, alg: 'ES256' }] }));
    writeFile(dir, 'good.json', JSON.stringify({ keys: [good] }));
    const file = `${dir}/gateway.yaml`;
    const shown = (name: string) => problems(config(`    jwks_file: ${name}`), file).map((p) => p.replace(/^\S+ /, ''));
    assert.deepEqual(shown('broken.json'), ['providers[0].jwks_file: broken.json: key 2 (kid "next") is not a valid RSA public key: check its members (kty, n and e, crv, x and y)']);
    assert.deepEqual(shown('small.json'), ['providers[0].jwks_file: small.json: key 1 (kid "current") is a 17-bit RSA key; at least 2048 bits are required']);
    assert.deepEqual(shown('mislabelled.json'), ['providers[0].jwks_file: mislabelled.json: key 1 (kid "current") says alg ES256, but it is an RSA 2048-bit key, which verifies RS256, RS384, RS512, PS256, PS384, PS512']);
    assert.deepEqual(shown('good.json'), []);
  });
});

describe('validate: issuers', () => {
  const template = (lines: string) => `providers:
  - name: entra
    issuer: https://login.microsoftonline.com/{tid}/v2.0
${lines}
upstreams:
  app: http://127.0.0.1:3000
routes:
  - name: api
    prefix: /api
    upstream: app
`;

  test('a template needs a discovery URL, not discovery: true', () => {
    assert.deepEqual(problems(template('    discovery: true\n    audience: x')).map((p) => p.replace(/^\S+ /, '')), [
      'providers[0].discovery: an issuer template has no discovery document of its own; give the URL of the common one, e.g. discovery: https://login.microsoftonline.com/organizations/v2.0',
    ]);
  });

  test('a template with neither tenants nor audience is a warning; tenants without a template an error', () => {
    assert.deepEqual(problems(template('    discovery: https://login.microsoftonline.com/organizations/v2.0')).map((p) => p.replace(/^\S+ /, '')), [
      'warning: providers[0].issuer: tokens of every tenant of this issuer, for any application, are accepted; list tenants or set audience',
    ]);
    assert.deepEqual(problems(config(`    secret: ${SECRET}\n    tenants: [a]`)).map((p) => p.replace(/^\S+ /, '')), [
      'providers[0].tenants: tenants needs an issuer template with a {claim} placeholder, like https://login.microsoftonline.com/{tid}/v2.0',
    ]);
  });

  test('two placeholders are an error', () => {
    const text = template('    discovery: https://login.microsoftonline.com/organizations/v2.0\n    audience: x').replace('{tid}/v2.0', '{tid}/{ver}');
    assert.deepEqual(problems(text).map((p) => p.replace(/^\S+ /, '')), ['providers[0].issuer: an issuer template has exactly one {claim} placeholder']);
  });
});

describe('validate: identity headers and limits', () => {
  test('a provider\'s forward.headers are checked like the global ones', () => {
    assert.deepEqual(problems(config(`    secret: ${SECRET}\n    forward:\n      headers:\n        Cookie: sub\n        X-User-Id: [sub, "a..b"]`)).map((p) => p.replace(/^\S+ /, '')), [
      'providers[0].forward.headers.Cookie: Cookie is managed by the gateway or by HTTP itself and can not carry a claim',
      'providers[0].forward.headers.X-User-Id[1]: "a..b" has an empty name; write names separated by single dots (realm_access.roles), and a name containing dots in brackets: resource_access["orders.api"].roles',
    ]);
  });

  test('max_token_size not below max_header_size is a warning', () => {
    assert.deepEqual(problems(config(`    secret: ${SECRET}`, undefined, 'server:\n  max_header_size: 16kb')).map((p) => p.replace(/^\S+ /, '')), [
      'warning: server.max_header_size: max_token_size (16384 bytes) must be below max_header_size (16384 bytes), which limits the token with every other header',
    ]);
  });
});

// Attacks on the tokens (RFC 8725, JWT best current practice). Every forged or bent token must get a 401
// with a stable error code, and the upstream must receive nothing. Real keys, real signatures; what jose
// refuses to produce is forged by hand.
import assert from 'node:assert/strict';
import { createHmac, createPrivateKey, createSign, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { EncryptJWT, exportJWK } from 'jose';
import { stringify } from 'yaml';
import { loadConfigText } from '../../src/config/load.ts';
import { startTestGateway, TEST_PROVIDER, type TestGateway } from '../helpers/gateway.ts';
import { bearer, request, type Response } from '../helpers/http.ts';
import { startJwksServer, type JwksServer } from '../helpers/jwks.ts';
import { ecKeyPair, publicJwk, rsaKeyPair, SECRET, sign, tempDir, writeFile } from '../helpers/keys.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';
import {
  assertRefused,
  b64url,
  compact,
  forgeHs256,
  goodClaims,
  json64,
  now,
  reached,
  startAttackerServer,
  type AttackerServer,
} from './support.ts';

const fixture = (name: string) => new URL(`../fixtures/${name}`, import.meta.url).pathname;
const AT_SECRET = 'another-secret-for-the-at-jwt-provider-0123456789';
const OCT_SECRET = 'a-symmetric-key-someone-put-in-the-jwks-0123456789';

describe('token attacks', () => {
  const rsa = rsaKeyPair();
  const ec = ecKeyPair('P-256');
  const ec384 = ecKeyPair('P-384');
  const idp = rsaKeyPair(); // the JWKS provider's signing key
  const attacker = rsaKeyPair();
  let jwks: JwksServer;
  let evil: AttackerServer;
  let upstream: Upstream;
  let gw: TestGateway;

  before(async () => {
    jwks = await startJwksServer([
      await publicJwk(idp, 'k1', 'RS256'),
      // A symmetric key has no business in a published JWKS: it must never verify anything.
      { kty: 'oct', k: b64url(OCT_SECRET), kid: 'sym', alg: 'HS256' },
    ]);
    evil = await startAttackerServer({ keys: [await publicJwk(attacker, 'evil', 'RS256')] });
    upstream = await startUpstream();
    const dir = tempDir();
    writeFile(dir, 'rsa.pem', rsa.publicPem);
    writeFile(dir, 'ec.pem', ec.publicPem);
    writeFile(dir, 'ec384.pem', ec384.publicPem);
    gw = await startTestGateway(
      {
        server: { host: '127.0.0.1' },
        providers: [
          TEST_PROVIDER,
          { name: 'rsa', issuer: 'rsa-idp', audience: 'api', public_key_file: 'rsa.pem' },
          { name: 'ec', issuer: 'ec-idp', audience: 'api', public_key_file: 'ec.pem' },
          { name: 'ec384', issuer: 'ec384-idp', audience: 'api', public_key_file: 'ec384.pem' },
          { name: 'jwks', issuer: 'jwks-idp', audience: 'api', jwks_uri: jwks.jwksUri },
          { name: 'at', issuer: 'at-idp', audience: 'api', secret: AT_SECRET, typ: 'at+jwt' },
        ],
        forward: { headers: { 'X-User-Id': 'sub', 'X-User-Roles': 'roles' } },
        upstreams: { app: upstream.url },
        routes: [
          { name: 'admin', prefix: '/admin', upstream: 'app', roles: ['admin'] },
          { name: 'api', prefix: '/api', upstream: 'app' },
        ],
      },
      { dir },
    );
    await gw.running.holder.current.verifier.providers.get('jwks')!.keys.whenSettled();
  });
  after(async () => {
    await gw.close();
    await upstream.close();
    await jwks.close();
    await evil.close();
  });

  /** Sends the token (or headers) to a protected route; returns the response and what reached the upstream. */
  async function attempt(token: string | Record<string, string> | [string, string][], path = '/api/x'): Promise<{ res: Response; count: number }> {
    const headers = typeof token === 'string' ? bearer(token) : token;
    const { result, count } = await reached(upstream, () => request(gw.url, path, { headers }));
    return { res: result, count };
  }

  async function refused(token: string | Record<string, string> | [string, string][], code: string | RegExp, what: string, path = '/api/x') {
    const { res, count } = await attempt(token, path);
    assertRefused(res, 401, code, count, what);
    return res;
  }

  test('control: a valid token from each provider is accepted (so each refusal below is the attack\'s doing)', async () => {
    const tokens = [
      await sign(goodClaims()),
      await sign(goodClaims({ iss: 'rsa-idp' }), { alg: 'RS256', key: rsa.privateKey }),
      await sign(goodClaims({ iss: 'ec-idp' }), { alg: 'ES256', key: ec.privateKey }),
      await sign(goodClaims({ iss: 'ec384-idp' }), { alg: 'ES384', key: ec384.privateKey }),
      await sign(goodClaims({ iss: 'jwks-idp' }), { alg: 'RS256', key: idp.privateKey, header: { kid: 'k1' } }),
      await sign(goodClaims({ iss: 'at-idp' }), { key: AT_SECRET, header: { typ: 'at+jwt' } }),
    ];
    for (const token of tokens) assert.equal((await attempt(token)).res.status, 200);
  });

  test('alg none in any letter case is refused', async () => {
    const payload = json64(goodClaims({ roles: ['admin'] }));
    for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
      const header = json64({ alg, typ: 'JWT' });
      // The unsecured form has an empty signature: not even a JWS to the extractor.
      await refused(compact(header, payload, ''), 'token_malformed', `alg ${alg}, empty signature`, '/admin');
      // With some signature bytes it reaches jose, which allows only the provider's algorithms.
      await refused(compact(header, payload, b64url('sig')), 'token_algorithm', `alg ${alg}, junk signature`, '/admin');
    }
  });

  test('a valid signature under a swapped payload is refused', async () => {
    const [header, , signature] = (await sign(goodClaims({ roles: ['reader'] }))).split('.');
    const escalated = json64(goodClaims({ roles: ['admin'] }));
    await refused(compact(header!, escalated, signature!), 'token_signature', 'swapped payload', '/admin');
    // The header too is signed: RS256 -> PS256 under the same signature does not verify.
    const [, rsPayload, rsSignature] = (await sign(goodClaims({ iss: 'rsa-idp' }), { alg: 'RS256', key: rsa.privateKey })).split('.');
    await refused(compact(json64({ alg: 'PS256' }), rsPayload!, rsSignature!), 'token_signature', 'swapped header');
  });

  test('a stripped signature is refused', async () => {
    const [header, payload] = (await sign(goodClaims({ roles: ['admin'] }))).split('.');
    await refused(`${header}.${payload}.`, 'token_malformed', 'empty signature', '/admin');
    await refused(`${header}.${payload}`, 'token_malformed', 'two parts', '/admin');
  });

  test('HS256 signed with a provider\'s RSA public key PEM (key confusion) is refused', async () => {
    await refused(await sign(goodClaims({ iss: 'rsa-idp' }), { alg: 'HS256', key: rsa.publicPem }), 'token_algorithm', 'PEM as HMAC secret');
    const jwkText = JSON.stringify(await exportJWK(idp.publicKey));
    await refused(await sign(goodClaims({ iss: 'jwks-idp' }), { alg: 'HS256', key: jwkText, header: { kid: 'k1' } }), 'token_algorithm', 'JWK as HMAC secret');
    await refused(await sign(goodClaims({ iss: 'jwks-idp' }), { alg: 'HS256', key: idp.publicPem, header: { kid: 'k1' } }), 'token_algorithm', 'JWKS key PEM as HMAC secret');
  });

  test('a symmetric key published in a JWKS never verifies a token', async () => {
    await refused(await sign(goodClaims({ iss: 'jwks-idp' }), { alg: 'HS256', key: OCT_SECRET, header: { kid: 'sym' } }), 'token_algorithm', 'oct key from the JWKS');
  });

  test('an embedded jwk header is never trusted', async () => {
    const jwk = await exportJWK(attacker.publicKey);
    await refused(await sign(goodClaims({ iss: 'rsa-idp' }), { alg: 'RS256', key: attacker.privateKey, header: { jwk } }), 'token_signature', 'jwk, PEM provider');
    await refused(
      await sign(goodClaims({ iss: 'jwks-idp' }), { alg: 'RS256', key: attacker.privateKey, header: { jwk: { ...jwk, kid: 'k1' }, kid: 'k1' } }),
      'token_signature',
      'jwk, JWKS provider',
    );
  });

  test('an embedded x5c certificate chain is never trusted', async () => {
    const certKey = createPrivateKey(readFileSync(fixture('cert-key.pem'), 'utf8'));
    const der = new X509Certificate(readFileSync(fixture('cert.pem'), 'utf8')).raw.toString('base64');
    await refused(await sign(goodClaims({ iss: 'rsa-idp' }), { alg: 'RS256', key: certKey, header: { x5c: [der] } }), 'token_signature', 'x5c');
  });

  test('a jku header pointing elsewhere is never fetched nor trusted', async () => {
    const jku = `${evil.url}/jwks.json`;
    const code = (await attempt(await sign(goodClaims({ iss: 'jwks-idp' }), { alg: 'RS256', key: attacker.privateKey, header: { jku, kid: 'evil' } }))).res;
    assertRefused(code, 401, 'token_unknown_key', 0, 'jku, JWKS provider');
    await refused(await sign(goodClaims({ iss: 'rsa-idp' }), { alg: 'RS256', key: attacker.privateKey, header: { jku, kid: 'evil' } }), 'token_signature', 'jku, PEM provider');
    await refused(await sign(goodClaims({ iss: 'test' }), { header: { jku, kid: 'evil' }, key: 'attacker-chosen-secret-0123456789abcdef' }), 'token_signature', 'jku, HMAC provider');
    assert.equal(evil.connections, 0, `the attacker's server was contacted: ${evil.hits.join(', ')}`);
  });

  test('an x5u header pointing elsewhere is never fetched nor trusted', async () => {
    const x5u = `${evil.url}/cert.pem`;
    await refused(await sign(goodClaims({ iss: 'rsa-idp' }), { alg: 'RS256', key: attacker.privateKey, header: { x5u } }), 'token_signature', 'x5u, PEM provider');
    const res = (await attempt(await sign(goodClaims({ iss: 'jwks-idp' }), { alg: 'RS256', key: attacker.privateKey, header: { x5u, kid: 'k1' } }))).res;
    assertRefused(res, 401, 'token_signature', 0, 'x5u, JWKS provider');
    assert.equal(evil.connections, 0, `the attacker's server was contacted: ${evil.hits.join(', ')}`);
  });

  const hostileKids = [
    '../../../../../../dev/null',
    '/dev/null',
    '..\\..\\..\\windows\\win.ini',
    "' OR '1'='1",
    "x' UNION SELECT 'secret' --",
    '$(touch /tmp/pwned)',
    '`id`',
    '| cat /etc/passwd',
    'k1\u0000',
    'k1/../k1',
    'http://127.0.0.1:1/keys',
  ];

  test('kid values with path traversal or injection are refused, read nothing and fetch at most once', async () => {
    const fetchesBefore = jwks.fetches;
    for (const kid of hostileKids) {
      // An HMAC provider has one key and ignores kid: the empty key of /dev/null proves nothing.
      await refused(forgeHs256({ alg: 'HS256', kid }, goodClaims(), ''), 'token_signature', `HMAC, kid ${JSON.stringify(kid)}`);
      const res = await refused(
        await sign(goodClaims({ iss: 'jwks-idp' }), { alg: 'RS256', key: attacker.privateKey, header: { kid } }),
        'token_unknown_key',
        `JWKS, kid ${JSON.stringify(kid)}`,
      );
      assert.ok(!res.body.includes(kid) && !String(res.headers['www-authenticate']).includes(kid), 'the kid is echoed back');
    }
    // Unknown kids may trigger one refetch of the configured JWKS per cooldown, never one per token.
    assert.ok(jwks.fetches - fetchesBefore <= 1, `${jwks.fetches - fetchesBefore} JWKS fetches for ${hostileKids.length} unknown kids`);
    assert.equal(evil.connections, 0);
  });

  test('an unknown crit header is refused', async () => {
    await refused(forgeHs256({ alg: 'HS256', crit: ['x-portcullis-bypass'], 'x-portcullis-bypass': true }, goodClaims()), 'token_unsupported', 'crit unknown');
    await refused(forgeHs256({ alg: 'HS256', crit: ['exp'], exp: 1 }, goodClaims()), 'token_unsupported', 'crit naming a registered header');
    await refused(forgeHs256({ alg: 'HS256', crit: [] }, goodClaims()), 'token_malformed', 'empty crit');
    await refused(forgeHs256({ alg: 'HS256', crit: ['missing'] }, goodClaims()), 'token_unsupported', 'crit naming an absent header');
  });

  test('b64: false (unencoded payload, RFC 7797) is refused', async () => {
    // The payload is sent as it is and signed as it is; jose must refuse it for a JWT.
    const header = json64({ alg: 'HS256', b64: false, crit: ['b64'] });
    const payload = json64(goodClaims({ roles: ['admin'] })); // base64url text, taken literally
    const signature = createHmac('sha256', SECRET).update(`${header}.${payload}`).digest('base64url');
    await refused(compact(header, payload, signature), 'token_malformed', 'b64 false', '/admin');
  });

  test('a JWE (five parts) where a JWS is expected is refused', async () => {
    const jwe = await new EncryptJWT(goodClaims({ roles: ['admin'] })).setProtectedHeader({ alg: 'dir', enc: 'A256GCM' }).encrypt(new Uint8Array(32));
    assert.equal(jwe.split('.').length, 5);
    await refused(jwe, 'token_encrypted', 'JWE', '/admin');
  });

  test('ECDSA signatures with r = s = 0 (CVE-2022-21449, psychic signatures) are refused', async () => {
    const n256 = Buffer.from('FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551', 'hex');
    const cases: [string, string, Buffer][] = [
      ['ec-idp', 'ES256', Buffer.alloc(64)],
      ['ec-idp', 'ES256', Buffer.concat([n256, n256])], // r = s = n, the curve order: 0 mod n
      ['ec384-idp', 'ES384', Buffer.alloc(96)],
    ];
    for (const [iss, alg, signature] of cases) {
      const token = compact(json64({ alg }), json64(goodClaims({ iss, roles: ['admin'] })), b64url(signature));
      await refused(token, 'token_signature', `${alg} zero signature`, '/admin');
    }
    // DER-encoded zero signature in place of the raw r||s form.
    const der = Buffer.from('3006020100020100', 'hex');
    await refused(compact(json64({ alg: 'ES256' }), json64(goodClaims({ iss: 'ec-idp' })), b64url(der)), 'token_signature', 'DER zero signature');
  });

  test('exp missing is refused', async () => {
    await refused(await sign(goodClaims({ exp: undefined }), { expiresIn: null }), 'token_claims', 'no exp');
  });

  test('exp in the past (beyond the clock tolerance) is refused', async () => {
    await refused(await sign(goodClaims({ exp: now() - 120 })), 'token_expired', 'expired');
  });

  test('exp as a string, null or object is refused', async () => {
    for (const exp of [String(now() + 600), null, { $gt: 0 }, [now() + 600]]) {
      await refused(forgeHs256({ alg: 'HS256' }, goodClaims({ exp })), 'token_claims', `exp ${JSON.stringify(exp)}`);
    }
  });

  test('nbf in the future is refused, and a non-numeric nbf or iat too', async () => {
    await refused(await sign(goodClaims({ nbf: now() + 600 })), 'token_not_yet_valid', 'nbf future');
    await refused(forgeHs256({ alg: 'HS256' }, goodClaims({ nbf: 'now' })), 'token_not_yet_valid', 'nbf string');
    await refused(forgeHs256({ alg: 'HS256' }, goodClaims({ iat: 'now' })), 'token_claims', 'iat string');
  });

  test('a wrong or missing iss is refused', async () => {
    for (const iss of ['evil', 'Test', 'test ', ['test'], undefined]) {
      await refused(await sign(goodClaims({ iss })), 'token_untrusted_issuer', `iss ${JSON.stringify(iss)}`);
    }
  });

  test('a wrong aud is refused, in string and array form, and a missing one', async () => {
    await refused(await sign(goodClaims({ aud: 'other' })), 'token_audience', 'aud string');
    await refused(await sign(goodClaims({ aud: ['other', 'API', 'api '] })), 'token_audience', 'aud array');
    await refused(await sign(goodClaims({ aud: undefined })), 'token_audience', 'aud missing');
    await refused(forgeHs256({ alg: 'HS256' }, goodClaims({ aud: { api: true } })), 'token_audience', 'aud object');
  });

  test('a token naming one provider\'s issuer but signed with another provider\'s key is refused', async () => {
    await refused(await sign(goodClaims({ iss: 'test' }), { key: AT_SECRET }), 'token_signature', 'HS issuer, other HS secret');
    await refused(await sign(goodClaims({ iss: 'rsa-idp' }), { alg: 'RS256', key: idp.privateKey }), 'token_signature', 'PEM issuer, JWKS key');
    await refused(await sign(goodClaims({ iss: 'jwks-idp' }), { alg: 'RS256', key: rsa.privateKey, header: { kid: 'k1' } }), 'token_signature', 'JWKS issuer, PEM key');
    await refused(await sign(goodClaims({ iss: 'rsa-idp' }), { alg: 'ES256', key: ec.privateKey }), 'token_algorithm', 'RSA issuer, EC key');
    await refused(await sign(goodClaims({ iss: 'jwks-idp' })), 'token_algorithm', 'JWKS issuer, HMAC secret');
    await refused(await sign(goodClaims({ iss: 'ec384-idp' }), { alg: 'ES256', key: ec.privateKey }), 'token_algorithm', 'P-384 issuer, P-256 key');
  });

  test('tokens over the size limit are refused (default 16 KB), naming the setting; an 11 KB token is admitted', async () => {
    const big = await sign(goodClaims({ pad: 'x'.repeat(12_500) }));
    assert.ok(big.length > 16_384, String(big.length));
    const res = await refused(big, 'token_too_large', '17 KB token');
    assert.match(res.json<{ message: string }>().message, /server\.max_token_size/);
    // Entra ID tokens of users in 200-odd groups are this large.
    const fits = await sign(goodClaims({ groups: Array.from({ length: 210 }, (_, i) => `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`) }));
    assert.ok(fits.length > 11_000 && fits.length < 16_384, String(fits.length));
    assert.equal((await attempt(fits)).res.status, 200);
  });

  test('malformed base64 is refused', async () => {
    const [header, payload, signature] = (await sign(goodClaims())).split('.') as [string, string, string];
    const cases: [string, string][] = [
      [`${header}.${payload}.${signature.slice(0, -1)}+`, 'standard base64 "+"'],
      [`${header}.${payload}.${signature}=`, 'padding'],
      [`${header}.${payload}A.${signature}`, 'a part of 4n+1 characters'],
      [`${header}.${payload}.${signature.slice(0, 10)}!${signature.slice(11)}`, '"!" in the signature'],
      [`${header}.%7B%7D.${signature}`, 'percent-encoding'],
      [`${header} .${payload}.${signature}`, 'inner space'],
    ];
    for (const [token, what] of cases) await refused(token, 'token_malformed', what);
  });

  test('non-canonical base64url (other spellings of the same token) is refused', async () => {
    const token = await sign(goodClaims());
    const [header, payload, signature] = token.split('.') as [string, string, string];
    assert.equal(signature.length % 4, 3); // 32 bytes: the last character carries 2 unused bits
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(signature.at(-1)!);
    const twin = `${header}.${payload}.${signature.slice(0, -1)}${alphabet[last | 1]}`;
    assert.notEqual(twin, token);
    assert.deepEqual(Buffer.from(twin.split('.')[2]!, 'base64url'), Buffer.from(signature, 'base64url'));
    await refused(twin, 'token_malformed', 'non-canonical signature');
  });

  test('malformed JSON in the header or the claims is refused', async () => {
    const cases: [unknown, unknown, string][] = [
      ['{"alg":"HS256"', goodClaims(), 'truncated header'],
      ['[]', goodClaims(), 'header array'],
      ['null', goodClaims(), 'header null'],
      [{ alg: 'HS256' }, '{"iss":"test",', 'truncated claims'],
      [{ alg: 'HS256' }, '["iss","test"]', 'claims array'],
      [{ alg: 'HS256' }, '"admin"', 'claims string'],
      [{ alg: 'HS256' }, '{"iss":"test"}{"sub":"admin"}', 'two objects'],
      [{ alg: 'HS256' }, `{'iss':'test','exp':${now() + 600}}`, 'single quotes'],
    ];
    for (const [header, claims, what] of cases) await refused(forgeHs256(header, claims), 'token_malformed', what);
  });

  test('invalid UTF-8 in the claims is refused (RFC 8725 §3.7)', async () => {
    const claims = Buffer.concat([Buffer.from(JSON.stringify(goodClaims()).slice(0, -1) + ',"name":"a'), Buffer.from([0xc0, 0xae, 0xff]), Buffer.from('"}')]);
    await refused(forgeHs256({ alg: 'HS256' }, claims), 'token_malformed', 'bad UTF-8');
  });

  test('duplicate header parameter or claim names are refused (parser differential)', async () => {
    const exp = now() + 600;
    await refused(forgeHs256('{"alg":"none","alg":"HS256"}', goodClaims()), 'token_malformed', 'alg twice');
    await refused(forgeHs256({ alg: 'HS256' }, `{"iss":"test","aud":"api","exp":${exp},"sub":"alice","sub":"admin"}`), 'token_malformed', 'sub twice');
    await refused(forgeHs256({ alg: 'HS256' }, `{"iss":"test","aud":"api","exp":${exp},"sub":"alice","s\\u0075b":"admin"}`), 'token_malformed', 'sub twice, escaped');
    await refused(forgeHs256({ alg: 'HS256' }, `{"iss":"test","aud":"api","exp":${exp},"r":{"roles":["a"],"roles":["admin"]}}`), 'token_malformed', 'nested twice');
    // Control: the same name at different depths, or inside string values, is fine.
    const fine = forgeHs256({ alg: 'HS256' }, `{"iss":"test","aud":"api","exp":${exp},"sub":"alice","x":{"sub":"b","y":["sub","sub"]},"z":"\\"sub\\":1"}`);
    assert.equal((await attempt(fine)).res.status, 200);
  });

  test('two Authorization headers are refused', async () => {
    const good = await sign(goodClaims({ roles: ['admin'] }));
    const cases: [string, string][][] = [
      [['Authorization', `Bearer ${good}`], ['Authorization', `Bearer ${good}`]],
      [['Authorization', `Bearer ${good}`], ['authorization', 'Bearer not-a-token']],
      [['authorization', 'Basic YTpi'], ['AUTHORIZATION', `Bearer ${good}`]],
    ];
    for (const headers of cases) {
      const res = await refused(headers, 'token_duplicated', headers.map(([n]) => n).join('+'), '/admin');
      assert.match(String(res.headers['www-authenticate']), /error="invalid_request"/);
    }
  });

  test('the Bearer scheme is accepted in any letter case, and nothing else is', async () => {
    const good = await sign(goodClaims());
    for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
      assert.equal((await attempt({ authorization: `${scheme} ${good}` })).res.status, 200, scheme);
    }
    for (const value of [`Basic ${good}`, `Token ${good}`, `JWT ${good}`, `Bearer\t${good}`, `Bearer:${good}`, `Bearer${good}`, 'Bearer', `${good}`, `Bearer ${good} extra`]) {
      const { res, count } = await attempt({ authorization: value });
      assertRefused(res, 401, /^token_(scheme|malformed)$/, count, value.slice(0, 12));
    }
  });

  test('a token in the query string or a cookie is never taken as a credential', async () => {
    const good = await sign(goodClaims());
    await refused({}, 'token_missing', 'query', `/api/x?access_token=${good}`);
    await refused({ cookie: `access_token=${good}; token=${good}` }, 'token_missing', 'cookie');
  });

  test('typ is enforced per provider (RFC 9068 at+jwt): other or missing types are refused', async () => {
    const claims = goodClaims({ iss: 'at-idp' });
    await refused(await sign(claims, { key: AT_SECRET, header: { typ: 'JWT' } }), 'token_type', 'typ JWT (an ID token)');
    await refused(await sign(claims, { key: AT_SECRET }), 'token_type', 'typ missing');
    await refused(await sign(claims, { key: AT_SECRET, header: { typ: 'dpop+jwt' } }), 'token_type', 'typ dpop+jwt');
    await refused(forgeHs256({ alg: 'HS256', typ: ['at+jwt'] }, claims, AT_SECRET), /^token_(type|malformed)$/, 'typ array');
    // Media types compare without case and without the "application/" prefix (RFC 9068 §2.1).
    for (const typ of ['at+jwt', 'AT+JWT', 'application/at+jwt']) {
      assert.equal((await attempt(await sign(claims, { key: AT_SECRET, header: { typ } }))).res.status, 200, typ);
    }
  });

  test('a role containing the header\'s separator can not add a role upstream', async () => {
    const token = await sign(goodClaims({ roles: ['reader', 'ops,admin'] }));
    assertRefused((await attempt(token, '/admin/x')).res, 403, 'insufficient_role', 0, 'admin route');
    const { res } = await attempt(token);
    assert.equal(res.status, 200);
    assert.equal(upstream.received.at(-1)!.headers['x-user-roles'], 'reader');
  });

  test('a role or claim with whitespace around it, which upstream parsers trim, can not become another value upstream', async () => {
    for (const roles of [['reader', ' admin'], ['reader', 'admin '], ['reader', '\tadmin']]) {
      const token = await sign(goodClaims({ roles }));
      assertRefused((await attempt(token, '/admin/x')).res, 403, 'insufficient_role', 0, `admin route with roles ${JSON.stringify(roles)}`);
      const { res } = await attempt(token);
      assert.equal(res.status, 200);
      assert.equal(upstream.received.at(-1)!.headers['x-user-roles'], 'reader', JSON.stringify(roles));
    }
    const { res } = await attempt(await sign(goodClaims({ sub: ' admin', roles: ['reader'] })));
    assert.equal(res.status, 200);
    assert.equal(upstream.received.at(-1)!.headers['x-user-id'], undefined, 'a sub of " admin" is not sent, rather than sent as "admin"');
  });

  test('a made-up, legacy or wrongly cased alg is refused even with a signature by the right key', async () => {
    const payload = json64(goodClaims({ iss: 'rsa-idp' }));
    for (const alg of ['RS1', 'HS1', 'RSA-OAEP', 'ES256K', 'rs256']) {
      const header = json64({ alg });
      const signer = createSign('sha256');
      signer.update(`${header}.${payload}`);
      await refused(compact(header, payload, signer.sign(rsa.privateKey).toString('base64url')), 'token_algorithm', `alg ${alg}`);
    }
  });
});

describe('key strength (RFC 8725 §3.5)', () => {
  test('weak keys are flagged at load: a short HMAC secret warns, an RSA key under 2048 bits and "none" are refused', () => {
    const dir = tempDir();
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    writeFile(dir, 'weak.pem', weak);
    const load = (providers: object[]) =>
      loadConfigText(`${dir}/gateway.yaml`, stringify({ providers, upstreams: { app: 'http://127.0.0.1:1' }, routes: [{ name: 'r', prefix: '/', upstream: 'app' }] }), {});
    const short = load([{ name: 'p', issuer: 'i', audience: 'a', secret: 'short-secret' }]);
    assert.ok(short.ok);
    assert.ok(short.problems.some((p) => p.code === 'short_secret' && p.severity === 'warning'));
    const small = load([{ name: 'p', issuer: 'i', public_key_file: 'weak.pem' }]);
    assert.ok(!small.ok && small.problems.some((p) => p.code === 'key_too_small'));
    const none = load([{ name: 'p', issuer: 'i', secret: SECRET, algorithms: ['none'] }]);
    assert.ok(!none.ok);
  });
});

describe('a configured token size limit', () => {
  test('max_token_size: 1kb refuses a 1.5 KB token and still accepts a small one', async () => {
    const upstream = await startUpstream();
    const gw = await startTestGateway({
      server: { host: '127.0.0.1', max_token_size: '1kb' },
      providers: [TEST_PROVIDER],
      upstreams: { app: upstream.url },
      routes: [{ name: 'api', prefix: '/api', upstream: 'app' }],
    });
    try {
      const big = await sign(goodClaims({ pad: 'x'.repeat(1100) }));
      assert.ok(big.length > 1024 && big.length < 2048);
      const { result, count } = await reached(upstream, () => request(gw.url, '/api', { headers: bearer(big) }));
      assertRefused(result, 401, 'token_too_large', count, '1.5 KB token');
      assert.equal((await request(gw.url, '/api', { headers: bearer(await sign(goodClaims())) })).status, 200);
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
});

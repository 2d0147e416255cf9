// Static key sets (rotation lists, kids, secret encodings, RSA-PSS keys), issuer templates, and which of
// several providers' failures is reported.
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject, type RSAPSSKeyPairKeyObjectOptions } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { errors } from 'jose';
import { JwksFileSource, readJwksFile } from '../../src/auth/jwks-file.ts';
import { checkTenant, closestIssuer, compileIssuerTemplate, discoveredIssuerMatches, issuerDifference, tenantOf } from '../../src/auth/issuer.ts';
import { algorithmsForKey, publicKeySource, secretBytes, secretKeySource } from '../../src/auth/keys.ts';
import { moreInformative, type VerificationFailure } from '../../src/auth/verify-failure.ts';
import { publicJwk, rsaKeyPair, tempDir, writeFile } from '../helpers/keys.ts';

/** An RSA-PSS public key with these parameters (@types/node types saltLength as a string; it is a number). */
function pssKey(params: { hashAlgorithm?: string; mgf1HashAlgorithm?: string; saltLength?: number } = {}): KeyObject {
  const options = { modulusLength: 2048, ...params } as unknown as RSAPSSKeyPairKeyObjectOptions;
  return generateKeyPairSync('rsa-pss', options).publicKey;
}

describe('static key sets', () => {
  const bytes = (s: string) => new TextEncoder().encode(s);

  test('a token\'s kid picks the key with that kid; keys without kid serve the others', async () => {
    const source = await secretKeySource([{ bytes: bytes('a'.repeat(32)), kid: 'k1' }, { bytes: bytes('b'.repeat(32)), kid: 'k2' }, { bytes: bytes('c'.repeat(32)) }], ['HS256']);
    const k2 = source.resolve({ alg: 'HS256', kid: 'k2' });
    const unnamed = source.resolve({ alg: 'HS256', kid: 'k9' });
    assert.notEqual(k2, unnamed);
    assert.equal(source.resolve({ alg: 'HS256', kid: 'k2' }), k2);
    assert.equal(source.status().keyCount, 3);
  });

  test('a token without kid is tried with every key; one whose kid no key has, and no unnamed key, matches none', async () => {
    const source = await secretKeySource([{ bytes: bytes('a'.repeat(32)), kid: 'k1' }, { bytes: bytes('b'.repeat(32)), kid: 'k2' }], ['HS256']);
    assert.throws(() => source.resolve({ alg: 'HS256' }), errors.JWKSMultipleMatchingKeys);
    assert.throws(() => source.resolve({ alg: 'HS256', kid: 'k3' }), errors.JWKSNoMatchingKey);
  });

  test('secrets in base64 and base64url are decoded; text not in the encoding is refused, not skipped', () => {
    assert.deepEqual(secretBytes('c2VjcmV0+/8=', 'base64'), new Uint8Array(Buffer.from('c2VjcmV0+/8=', 'base64')));
    assert.deepEqual(secretBytes('c2VjcmV0-_8', 'base64url'), new Uint8Array(Buffer.from('c2VjcmV0-_8', 'base64url')));
    assert.equal(secretBytes('c2VjcmV0-_8', 'base64'), undefined);
    assert.equal(secretBytes('c2Vj cmV0', 'base64'), undefined);
    assert.deepEqual(secretBytes('é', 'utf8'), new Uint8Array([0xc3, 0xa9]));
  });

  test('RSA-PSS keys verify only the PS algorithms their parameters allow', () => {
    const open = pssKey();
    const sha256 = pssKey({ hashAlgorithm: 'sha256', mgf1HashAlgorithm: 'sha256', saltLength: 32 });
    const longSalt = pssKey({ hashAlgorithm: 'sha256', mgf1HashAlgorithm: 'sha256', saltLength: 64 });
    const mixed = pssKey({ hashAlgorithm: 'sha384', mgf1HashAlgorithm: 'sha256', saltLength: 48 });
    assert.deepEqual(algorithmsForKey(open), ['PS256', 'PS384', 'PS512']);
    assert.deepEqual(algorithmsForKey(sha256), ['PS256']);
    assert.deepEqual(algorithmsForKey(longSalt), []);
    assert.deepEqual(algorithmsForKey(mixed), []);
    const source = publicKeySource([{ key: sha256 }], ['PS256']);
    assert.deepEqual(source.supportedAlgorithms, ['PS256']);
    assert.equal((source.resolve({ alg: 'PS256' }) as { asymmetricKeyType?: string }).asymmetricKeyType, 'rsa');
  });
});

describe('a jwks_file', () => {
  test('a version written after the config was read, before the watch began, is not missed', async () => {
    const [first, second] = [rsaKeyPair(), rsaKeyPair()];
    const file = writeFile(tempDir(), 'jwks.json', JSON.stringify({ keys: [await publicJwk(first, 'first')] }));
    const source = new JwksFileSource('internal', file, readJwksFile(file));
    // A reload reads the key file with gateway.yaml, then waits for new providers' keys before it starts
    // the sources: a key rotation can land in between.
    writeFileSync(file, JSON.stringify({ keys: [await publicJwk(second, 'second')] }));
    source.start();
    try {
      await source.resolve({ alg: 'RS256', kid: 'second' });
      await assert.rejects(async () => source.resolve({ alg: 'RS256', kid: 'first' }), errors.JWKSNoMatchingKey);
      assert.equal(source.generation, 2, 'identities verified with the old keys are not reused');
    } finally {
      source.stop();
    }
  });
});

describe('a jwks_file rewritten with a key that verifies nothing', () => {
  test('is refused as a whole, and the keys already held keep verifying', async () => {
    const pair = rsaKeyPair();
    const file = writeFile(tempDir(), 'jwks.json', JSON.stringify({ keys: [await publicJwk(pair, 'current')] }));
    const refused: string[] = [];
    const source = new JwksFileSource('internal', file, readJwksFile(file), { onFileRead: (_p, _f, outcome) => void (outcome.ok || refused.push(outcome.error)) });
    const { n: _n, ...broken } = await publicJwk(rsaKeyPair(), 'next');
    writeFileSync(file, JSON.stringify({ keys: [await publicJwk(pair, 'current'), broken] }));
    source.reread();
    assert.deepEqual(refused, [`${file}: key 2 (kid "next") is not a valid RSA public key: check its members (kty, n and e, crv, x and y)`]);
    assert.equal(source.generation, 1);
    await source.resolve({ alg: 'RS256', kid: 'current' });
  });
});

describe('issuer templates', () => {
  const entra = compileIssuerTemplate('https://login.microsoftonline.com/{tid}/v2.0', undefined);
  const listed = compileIssuerTemplate('https://login.microsoftonline.com/{tid}/v2.0', ['t-1']);

  test('the placeholder takes one path segment', () => {
    assert.equal(tenantOf(entra, 'https://login.microsoftonline.com/t-1/v2.0'), 't-1');
    assert.equal(tenantOf(entra, 'https://login.microsoftonline.com//v2.0'), undefined);
    assert.equal(tenantOf(entra, 'https://login.microsoftonline.com/t-1/x/v2.0'), undefined);
    assert.equal(tenantOf(entra, 'https://evil.example/t-1/v2.0'), undefined);
    assert.equal(tenantOf(entra, 42), undefined);
  });

  test('the tenant in iss must be the token\'s own tid, and a listed one when tenants are listed', () => {
    const iss = 'https://login.microsoftonline.com/t-1/v2.0';
    assert.deepEqual(checkTenant(entra, { iss, tid: 't-1' }), { ok: true });
    assert.equal(checkTenant(entra, { iss, tid: 't-2' }).ok, false);
    assert.equal(checkTenant(entra, { iss }).ok, false);
    assert.deepEqual(checkTenant(listed, { iss, tid: 't-1' }), { ok: true });
    const other = checkTenant(listed, { iss: 'https://login.microsoftonline.com/t-2/v2.0', tid: 't-2' });
    assert.equal(!other.ok && other.code, 'token_untrusted_issuer');
  });

  test('a discovery document may name the template in its own spelling, or one tenant of it', () => {
    const template = 'https://login.microsoftonline.com/{tid}/v2.0';
    assert.equal(discoveredIssuerMatches(template, 'https://login.microsoftonline.com/{tenantid}/v2.0'), true);
    assert.equal(discoveredIssuerMatches(template, 'https://login.microsoftonline.com/72f988bf/v2.0'), true);
    assert.equal(discoveredIssuerMatches(template, 'https://sts.windows.net/{tenantid}/'), false);
    assert.equal(discoveredIssuerMatches('https://a.example', 'https://a.example/'), false);
  });
});

describe('issuer differences', () => {
  test('the classic near misses are named', () => {
    assert.equal(issuerDifference('https://t.auth0.com/', 'https://t.auth0.com'), 'lacks the trailing slash');
    assert.equal(issuerDifference('https://t.auth0.com', 'https://t.auth0.com/'), 'has a trailing slash');
    assert.equal(issuerDifference('https://kc.example/realms/a', 'http://kc.example/realms/a'), 'uses http');
    assert.equal(issuerDifference('https://kc.example/realms/a', 'https://KC.example/realms/a'), 'differs in letter case');
    assert.equal(issuerDifference('https://kc.example/realms/a', 'https://kc.example/auth/realms/a'), 'has the /auth path prefix');
    assert.equal(issuerDifference('https://a.example', 'https://b.example'), undefined);
  });

  test('closestIssuer finds the configured issuer a token nearly names', () => {
    assert.deepEqual(closestIssuer('https://t.auth0.com', ['other', 'https://t.auth0.com/']), { issuer: 'https://t.auth0.com/', difference: 'lacks the trailing slash' });
    assert.equal(closestIssuer('https://x.example', ['https://t.auth0.com/']), undefined);
  });
});

describe('several providers\' failures', () => {
  const failure = (code: VerificationFailure['code']): VerificationFailure => ({ code, message: code });

  test('a failure after the signature verified beats token_signature, which beats token_algorithm', () => {
    assert.equal(moreInformative(failure('token_algorithm'), failure('token_expired')).code, 'token_expired');
    assert.equal(moreInformative(failure('token_expired'), failure('token_algorithm')).code, 'token_expired');
    assert.equal(moreInformative(failure('token_algorithm'), failure('token_signature')).code, 'token_signature');
    assert.equal(moreInformative(failure('token_signature'), failure('token_audience')).code, 'token_audience');
    assert.equal(moreInformative(undefined, failure('token_algorithm')).code, 'token_algorithm');
    assert.equal(moreInformative(failure('token_audience'), failure('token_expired')).code, 'token_audience');
  });
});

// Key rotation without downtime for static keys: lists of secrets and PEM files (with kids), secrets in
// base64, RSA-PSS PEM keys made by openssl, and a local JWKS file replaced while the gateway serves.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { constants, createPrivateKey, createSign } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { decodeProtectedHeader } from 'jose';
import { tokenCommand } from '../../src/cli/token.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { bearer, request } from '../helpers/http.ts';
import { ecKeyPair, publicJwk, rsaKeyPair, sign, tempDir, writeFile } from '../helpers/keys.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';

const CURRENT = 'the-current-secret-of-the-legacy-app-0123456789';
const NEXT = 'the-next-secret-of-the-legacy-app-after-rotation';
/** 48 random-looking bytes, as Spring's and JJWT's generators print them: base64. */
const ENCODED = Buffer.from('spring-jjwt-secret-bytes-\u0000\u00ff\u0010-long-enough-for-hs256!!', 'latin1').toString('base64');

/** A PS256 token signed with an RSA-PSS private key by Node itself (jose does not take such keys). */
function signPss(claims: Record<string, unknown>, privatePem: string): string {
  const encode = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${encode({ alg: 'PS256', typ: 'JWT' })}.${encode({ exp: Math.floor(Date.now() / 1000) + 600, ...claims })}`;
  const signature = createSign('sha256').update(input).sign({ key: createPrivateKey(privatePem), padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
  return `${input}.${signature.toString('base64url')}`;
}

describe('key rotation', () => {
  const rsa = rsaKeyPair();
  const ec = ecKeyPair();
  const stranger = rsaKeyPair();
  const first = rsaKeyPair();
  const second = rsaKeyPair();
  let dir: string;
  let upstream: Upstream;
  let gw: TestGateway;
  let pssPrivate: string;

  before(async () => {
    dir = tempDir();
    writeFile(dir, 'rsa.pem', rsa.publicPem);
    writeFile(dir, 'ec.pem', ec.publicPem);
    // A key exactly as the openssl command line makes it.
    execFileSync('openssl', ['genpkey', '-algorithm', 'RSA-PSS', '-pkeyopt', 'rsa_keygen_bits:2048', '-pkeyopt', 'rsa_pss_keygen_md:sha256', '-pkeyopt', 'rsa_pss_keygen_mgf1_md:sha256', '-pkeyopt', 'rsa_pss_keygen_saltlen:32', '-out', path.join(dir, 'pss.key')]);
    execFileSync('openssl', ['pkey', '-in', path.join(dir, 'pss.key'), '-pubout', '-out', path.join(dir, 'pss.pem')]);
    pssPrivate = readFileSync(path.join(dir, 'pss.key'), 'utf8');
    writeFile(dir, 'jwks.json', JSON.stringify({ keys: [await publicJwk(first, 'first')] }));
    upstream = await startUpstream();
    gw = await startTestGateway(
      {
        server: { host: '127.0.0.1' },
        providers: [
          { name: 'legacy', issuer: 'legacy', secret: [CURRENT, { value: NEXT, kid: 'next' }] },
          { name: 'spring', issuer: 'spring', secret: ENCODED, secret_encoding: 'base64' },
          { name: 'partner', issuer: 'partner', public_key_file: ['rsa.pem', { file: 'ec.pem', kid: 'ec-1' }] },
          { name: 'pss', issuer: 'pss', public_key_file: 'pss.pem' },
          { name: 'internal', issuer: 'internal', jwks_file: 'jwks.json' },
        ],
        upstreams: { app: upstream.url },
        routes: [{ name: 'all', prefix: '/', upstream: 'app' }],
      },
      { dir },
    );
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  const call = async (token: string) => {
    const res = await request(gw.url, '/x', { headers: bearer(token) });
    return res.status === 200 ? 200 : `${res.status} ${String(res.json().error)}`;
  };

  test('a list of secrets: either verifies; a kid picks its secret', async () => {
    assert.equal(await call(await sign({ iss: 'legacy' }, { key: CURRENT })), 200);
    assert.equal(await call(await sign({ iss: 'legacy' }, { key: NEXT })), 200);
    assert.equal(await call(await sign({ iss: 'legacy' }, { key: NEXT, header: { kid: 'next' } })), 200);
    assert.equal(await call(await sign({ iss: 'legacy' }, { key: CURRENT, header: { kid: 'next' } })), '401 token_signature');
    assert.equal(await call(await sign({ iss: 'legacy' }, { key: 'someone-elses-secret-of-enough-length-000' })), '401 token_signature');
  });

  test('portcullis token signs with the first secret', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (c: Buffer) => (text += c));
    await tokenCommand(['--config', gw.file, '--provider', 'legacy', '--sub', 'alice'], out);
    assert.equal(decodeProtectedHeader(text.trim()).kid, undefined);
    assert.equal(await call(text.trim()), 200);
  });

  test('a base64 secret verifies tokens signed with its bytes, not with its text', async () => {
    assert.equal(await call(await sign({ iss: 'spring' }, { key: new Uint8Array(Buffer.from(ENCODED, 'base64')) })), 200);
    assert.equal(await call(await sign({ iss: 'spring' }, { key: ENCODED })), '401 token_signature');
  });

  test('a list of PEM keys of two types: each verifies its own algorithm', async () => {
    assert.equal(await call(await sign({ iss: 'partner' }, { alg: 'RS256', key: rsa.privateKey })), 200);
    assert.equal(await call(await sign({ iss: 'partner' }, { alg: 'ES256', key: ec.privateKey, header: { kid: 'ec-1' } })), 200);
    assert.equal(await call(await sign({ iss: 'partner' }, { alg: 'RS256', key: stranger.privateKey })), '401 token_signature');
  });

  test('an RSA-PSS key from openssl genpkey verifies PS256 tokens (it was token_invalid for all)', async () => {
    assert.equal(await call(signPss({ iss: 'pss', sub: 'a' }, pssPrivate)), 200);
    assert.equal(await call(signPss({ iss: 'pss', sub: 'a' }, stranger.privatePem)), '401 token_signature');
  });

  test('jwks_file: replacing the file rotates the keys while serving; a broken file keeps the last good keys', async () => {
    const firstToken = await sign({ iss: 'internal' }, { alg: 'RS256', key: first.privateKey, header: { kid: 'first' } });
    const secondToken = await sign({ iss: 'internal' }, { alg: 'RS256', key: second.privateKey, header: { kid: 'second' } });
    assert.equal(await call(firstToken), 200);
    assert.equal(await call(secondToken), '401 token_unknown_key');

    writeFileSync(path.join(dir, 'jwks.json'), JSON.stringify({ keys: [await publicJwk(second, 'second')] }));
    await waitForLog((l) => l.msg === 'provider key file reloaded');
    assert.equal(await call(secondToken), 200);
    assert.equal(await call(firstToken), '401 token_unknown_key', 'the cached verdict of a removed key is not reused');

    writeFileSync(path.join(dir, 'jwks.json'), '{"keys": [');
    await waitForLog((l) => l.msg === 'provider key file refused; the keys already held keep verifying');
    assert.equal(await call(secondToken), 200);
    // Still ready (its keys verify), and the operator is told the file in place is not the one in force.
    const readyz = await request(gw.adminUrl, '/readyz');
    assert.equal(readyz.status, 200);
    assert.deepEqual(readyz.json().warnings, [
      'provider "internal": the last key refresh failed (the key file was refused when re-read; see the log); the keys already held keep verifying',
    ]);
  });

  test('jwks_file is still watched after gateway.yaml is reloaded', async () => {
    // (A broken key file fails validation: a reload needs it whole again first.)
    writeFileSync(path.join(dir, 'jwks.json'), JSON.stringify({ keys: [await publicJwk(second, 'second')] }));
    const config = readFileSync(gw.file, 'utf8');
    assert.equal(await gw.rewrite(config.replace('name: all', 'name: everything')), true);
    const firstToken = await sign({ iss: 'internal' }, { alg: 'RS256', key: first.privateKey, header: { kid: 'first' } });
    writeFileSync(path.join(dir, 'jwks.json'), JSON.stringify({ keys: [await publicJwk(first, 'first')] }));
    const reloads = gw.logs.filter((l) => l.msg === 'provider key file reloaded').length;
    await waitForLog(() => gw.logs.filter((l) => l.msg === 'provider key file reloaded').length > reloads);
    assert.equal(await call(firstToken), 200);
    assert.equal((await request(gw.adminUrl, '/readyz')).json().warnings, undefined);
  });

  async function waitForLog(predicate: (line: Record<string, unknown>) => boolean): Promise<void> {
    for (let i = 0; i < 200; i++) {
      if (gw.logs.some(predicate)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.fail('the log line never came');
  }
});

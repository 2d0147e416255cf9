// portcullis token --claim: what is asked for is what is signed. An explicit exp/iat/nbf/iss/aud wins
// over what the command sets itself, and integers JSON can not hold exactly are kept as written.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { decodeJwt, jwtVerify } from 'jose';
import { describe, test } from 'node:test';
import { stringify } from 'yaml';
import { UsageError } from '../../src/cli/args.ts';
import { tokenCommand } from '../../src/cli/token.ts';
import { runCli } from '../helpers/cli.ts';
import { SECRET, tempDir, writeFile } from '../helpers/keys.ts';

const file = writeFile(tempDir(), 'gateway.yaml', stringify({
  providers: [{ name: 'demo', issuer: 'portcullis-demo', audience: 'demo-api', secret: SECRET, roles_claim: 'realm_access.roles' }],
  upstreams: { app: 'http://127.0.0.1:1' },
  routes: [{ name: 'all', prefix: '/', upstream: 'app' }],
}));

async function mint(...args: string[]): Promise<string> {
  const out = new PassThrough();
  let text = '';
  out.on('data', (c: Buffer) => (text += c));
  assert.equal(await tokenCommand(['--config', file, '--provider', 'demo', '--sub', 'alice', ...args], out), 0);
  return text.trim();
}

describe('portcullis token --claim', () => {
  test('--claim exp=1 mints a token that expired in 1970, instead of being replaced by the default ttl', async () => {
    const token = await mint('--claim', 'exp=1');
    assert.equal(decodeJwt(token).exp, 1);
    await assert.rejects(jwtVerify(token, new TextEncoder().encode(SECRET)), { code: 'ERR_JWT_EXPIRED' });
  });

  test('--claim iat, nbf, iss and aud win over what the command would set', async () => {
    const payload = decodeJwt(await mint('--claim', 'iat=1000', '--claim', 'nbf=4102444800', '--claim', 'iss=other', '--claim', 'aud=["x","y"]'));
    assert.deepEqual([payload.iat, payload.nbf, payload.iss, payload.aud], [1000, 4102444800, 'other', ['x', 'y']]);
    assert.equal(typeof payload.exp, 'number');
  });

  test('without them, iss, aud, iat and exp come from the provider and --ttl', async () => {
    const payload = decodeJwt(await mint('--ttl', '15m'));
    assert.deepEqual([payload.iss, payload.aud, payload.exp! - payload.iat!], ['portcullis-demo', 'demo-api', 900]);
  });

  test('a time claim that is not a number, --claim exp with --ttl, and --claim sub are refused with the reason', async () => {
    await assert.rejects(mint('--claim', 'exp=tomorrow'), (err: unknown) => err instanceof UsageError && /--claim exp: expected seconds since 1970/.test(err.message));
    await assert.rejects(mint('--claim', 'nbf.x=1'), /--claim nbf: expected seconds since 1970/);
    await assert.rejects(mint('--claim', 'exp=1', '--ttl', '1h'), /give --ttl or --claim exp, not both/);
    await assert.rejects(mint('--claim', 'sub=bob'), /--claim sub: give the subject with --sub/);
  });

  test('an integer beyond 2^53 is kept as the digits written, alone or inside JSON', async () => {
    const payload = decodeJwt(await mint('--claim', 'n=12345678901234567890', '--claim', 'list=[1, 98765432109876543210, "12"]', '--claim', 'small=42', '--claim', 'huge=1e400'));
    assert.equal(payload.n, '12345678901234567890');
    assert.deepEqual(payload.list, [1, '98765432109876543210', '12']);
    assert.equal(payload.small, 42);
    assert.equal(payload.huge, '1e400');
  });

  test('--claim still merges into nested claims set by --roles', async () => {
    const payload = decodeJwt(await mint('--roles', 'admin', '--claim', 'realm_access.extra=1'));
    assert.deepEqual(payload.realm_access, { roles: ['admin'], extra: 1 });
  });

  test('from the command line, a refused --claim exits 1 with the reason', async () => {
    const { code, stderr } = await runCli(['token', '--config', file, '--provider', 'demo', '--sub', 'a', '--claim', 'exp=soon']);
    assert.equal(code, 1);
    assert.match(stderr, /portcullis: --claim exp: expected seconds since 1970/);
  });
});

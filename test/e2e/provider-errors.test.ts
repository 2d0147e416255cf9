// Errors that say what to fix: the most informative reason when several providers refuse a token, the
// configured issuer a token nearly names, and the discovery issuer that differs by a slash.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../helpers/cli.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { bearer, request } from '../helpers/http.ts';
import { rsaKeyPair, SECRET, sign, tempDir, writeFile } from '../helpers/keys.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';

describe('errors that say what to fix', () => {
  const rsa = rsaKeyPair();
  const stranger = rsaKeyPair();
  let upstream: Upstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await startUpstream();
    const dir = tempDir();
    writeFile(dir, 'rsa.pem', rsa.publicPem);
    gw = await startTestGateway(
      {
        server: { host: '127.0.0.1' },
        providers: [
          // Two providers without issuer, the HS256 one first: every RS256 token is "wrong algorithm" to it.
          { name: 'hs', audience: 'api', secret: SECRET },
          { name: 'rs', audience: 'api', public_key_file: 'rsa.pem' },
          { name: 'auth0', issuer: 'https://tenant.example.auth0.com/', audience: 'api', secret: 'the-auth0-stand-in-secret-0123456789abcdef' },
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

  const code = async (token: string) => (await request(gw.url, '/x', { headers: bearer(token) })).json().error;

  test('several providers without issuer: the reason of the one that got furthest is reported', async () => {
    assert.equal(await code(await sign({ aud: 'api', sub: 'a' }, { alg: 'RS256', key: rsa.privateKey, expiresIn: -120 })), 'token_expired');
    assert.equal(await code(await sign({ aud: 'other', sub: 'a' }, { alg: 'RS256', key: rsa.privateKey })), 'token_audience');
    assert.equal(await code(await sign({ aud: 'api', sub: 'a' }, { alg: 'RS256', key: stranger.privateKey })), 'token_signature');
    assert.equal(await code(await sign({ aud: 'api', sub: 'a' }, { key: 'not-the-secret-but-long-enough-0123456789' })), 'token_signature');
    assert.equal(await code(await sign({ aud: 'api', sub: 'a' }, { alg: 'RS256', key: rsa.privateKey })), undefined);
  });

  test('explain names the configured issuer a token nearly names, also when providers without issuer refused it; the client is not told', async () => {
    const token = await sign({ iss: 'https://tenant.example.auth0.com', aud: 'api', sub: 'a' }, { key: 'the-auth0-stand-in-secret-0123456789abcdef' });
    const res = await request(gw.url, '/x', { headers: bearer(token) });
    assert.equal(res.json().error, 'token_signature', 'with providers without issuer, those are tried');
    assert.doesNotMatch(res.body, /closest/);
    const tried = await runCli(['explain', '--config', gw.file, '--token', token, 'GET', '/x']);
    assert.match(
      tried.stdout,
      /^verify +fail +provider "hs": token_signature: the token signature does not verify \(the closest configured issuer is "https:\/\/tenant\.example\.auth0\.com\/"; the token's iss lacks the trailing slash; the providers without issuer were tried instead\)$/m,
    );
    const strict = await startTestGateway({
      server: { host: '127.0.0.1' },
      providers: [{ name: 'auth0', issuer: 'https://tenant.example.auth0.com/', audience: 'api', secret: SECRET }],
      upstreams: { app: upstream.url },
      routes: [{ name: 'all', prefix: '/', upstream: 'app' }],
    });
    try {
      const untrusted = await sign({ iss: 'https://tenant.example.auth0.com', aud: 'api', sub: 'a' });
      const reply = await request(strict.url, '/x', { headers: bearer(untrusted) });
      assert.deepEqual([reply.json().error, reply.json().message], ['token_untrusted_issuer', 'the token was not issued by a trusted provider']);
      const { stdout } = await runCli(['explain', '--config', strict.file, '--token', untrusted, 'GET', '/x']);
      assert.match(
        stdout,
        /^verify +fail +token_untrusted_issuer: the token was not issued by a trusted provider \(the closest configured issuer is "https:\/\/tenant\.example\.auth0\.com\/"; the token's iss lacks the trailing slash\)$/m,
      );
    } finally {
      await strict.close();
    }
  });
});

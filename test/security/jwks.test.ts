// Attacks through a provider's key server: a gzip bomb, and redirects to a server of the attacker's that
// publishes the attacker's key. The key servers here are real HTTP(S) servers; the gateway must stop
// reading at the size limit on its own, and never take keys from anywhere the configured URL did not name.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import zlib from 'node:zlib';
import { stringify } from 'yaml';
import { startCli, type RunningCli } from '../helpers/cli.ts';
import { startTestGateway, type LogLine, type TestGateway } from '../helpers/gateway.ts';
import { bearer, request } from '../helpers/http.ts';
import { publicJwk, rsaKeyPair, sign, tempDir, writeFile } from '../helpers/keys.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';
import { assertRefused, now, reached, startAttackerServer, type AttackerServer } from './support.ts';

const fixture = (name: string) => new URL(`../fixtures/${name}`, import.meta.url).pathname;
const FETCH_FAILED = 'fetching provider keys failed; retrying';
const KEYS_LOADED = 'provider keys loaded';

/** The first fetch outcome logged for `provider`: its keys loaded, or the fetch failed. */
async function firstFetch(logs: readonly LogLine[], provider: string, giveUpMs = 15_000): Promise<LogLine> {
  const outcome = (l: LogLine) => (l.msg === FETCH_FAILED || l.msg === KEYS_LOADED) && l.provider === provider;
  for (let waited = 0; waited < giveUpMs; waited += 20) {
    const found = logs.find(outcome);
    if (found) return found;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no fetch of provider "${provider}" was logged`);
}

/**
 * A gzip stream of a JSON document that never ends: 4 MB of padding (4 KB compressed) is sent at once, then
 * nothing more, and the response is held open. Only a client that counts decompressed bytes as they arrive
 * stops it; one that buffers the body first waits for an end that never comes.
 */
function gzipBomb(state: { hungUp: boolean }) {
  return (_req: http.IncomingMessage, res: http.ServerResponse) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    res.on('close', () => (state.hungUp = true));
    const gzip = zlib.createGzip();
    gzip.pipe(res);
    gzip.write('{"keys":[],"padding":"');
    const block = Buffer.alloc(64 * 1024, 0x20);
    for (let i = 0; i < 64; i++) gzip.write(block);
    gzip.flush();
  };
}

describe('hostile key servers', () => {
  const idp = rsaKeyPair();
  const attacker = rsaKeyPair();
  const bombState = { hungUp: false };
  let bomb: AttackerServer;
  let evil: AttackerServer;
  let elsewhere: AttackerServer;
  let sameOrigin: AttackerServer;
  let leaky: AttackerServer;
  let upstream: Upstream;
  let gw: TestGateway;

  before(async () => {
    bomb = await startAttackerServer(undefined, gzipBomb(bombState));
    evil = await startAttackerServer({ keys: [await publicJwk(attacker, 'evil')] });
    elsewhere = await startAttackerServer(undefined, (_req, res) => {
      res.writeHead(302, { location: `${evil.url}/keys` });
      res.end();
    });
    const idpKeys = { keys: [await publicJwk(idp, 'k1')] };
    sameOrigin = await startAttackerServer(undefined, (req, res) => {
      if (req.url === '/keys') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(idpKeys));
      } else {
        res.writeHead(301, { location: '/keys' });
        res.end();
      }
    });
    // A discovery document whose jwks_uri carries a password: fetch refuses it, with a message that
    // repeats the URL, password and all.
    leaky = await startAttackerServer({ issuer: 'https://leaky.example.com', jwks_uri: `http://svc:hunter2@${sameOrigin.url.slice('http://'.length)}/keys` });
    upstream = await startUpstream();
    gw = await startTestGateway({
      server: { host: '127.0.0.1' },
      providers: [
        { name: 'bomb', issuer: 'bomb', audience: 'api', jwks_uri: `${bomb.url}/keys` },
        { name: 'redirected', issuer: 'redirected', audience: 'api', jwks_uri: `${elsewhere.url}/keys` },
        { name: 'moved', issuer: 'moved', audience: 'api', jwks_uri: `${sameOrigin.url}/old/keys` },
        { name: 'leaky', issuer: 'https://leaky.example.com', audience: 'api', discovery: `${leaky.url}/.well-known/openid-configuration` },
      ],
      upstreams: { app: upstream.url },
      routes: [{ name: 'app', prefix: '/', upstream: 'app' }],
    });
  });
  after(async () => {
    await gw.close();
    for (const server of [bomb, evil, elsewhere, sameOrigin, leaky]) await server.close();
    await upstream.close();
  });

  const claims = (iss: string) => ({ iss, aud: 'api', sub: 'mallory', exp: now() + 600 });

  test('a gzip bomb from the key server is cut after 1 MB of decompressed bytes, never buffered whole', async () => {
    const failed = await firstFetch(gw.logs, 'bomb');
    assert.equal(failed.msg, FETCH_FAILED);
    assert.match(String(failed.error), /over 1 MB/, 'refused for its size while it streamed, not after waiting for its end');
    // The server sees the connection close a moment after the gateway gave up on it.
    for (let waited = 0; !bombState.hungUp && waited < 5000; waited += 20) await new Promise((r) => setTimeout(r, 20));
    assert.ok(bombState.hungUp, 'the gateway hung up on a response the server never ended');
    const ready = await request(gw.adminUrl, '/readyz');
    assert.equal(ready.status, 503);
    assert.match(ready.body, /provider \\"bomb\\": [^"]*the key set is over 1 MB/);
    const token = await sign(claims('bomb'), { alg: 'RS256', key: idp.privateKey, header: { kid: 'k1' } });
    const { result, count } = await reached(upstream, () => request(gw.url, '/x', { headers: bearer(token) }));
    assertRefused(result, 503, 'provider_unavailable', count, 'a provider whose key server sent a bomb');
  });

  test('a redirect to another origin is not followed: the attacker\'s server is never contacted and its key never trusted', async () => {
    const failed = await firstFetch(gw.logs, 'redirected');
    assert.equal(failed.msg, FETCH_FAILED, 'the keys behind the redirect were loaded');
    assert.match(String(failed.error), /redirect to another origin/);
    const token = await sign(claims('redirected'), { alg: 'RS256', key: attacker.privateKey, header: { kid: 'evil' } });
    const { result, count } = await reached(upstream, () => request(gw.url, '/x', { headers: bearer(token) }));
    assertRefused(result, 503, 'provider_unavailable', count, 'a token signed with the key behind the redirect');
    assert.equal(evil.connections, 0, `the attacker's key server was contacted: ${evil.hits.join(', ')}`);
    const ready = await request(gw.adminUrl, '/readyz');
    assert.match(ready.body, /provider \\"redirected\\": [^"]*redirected to another origin or to plain http/);
    assert.doesNotMatch(ready.body, /127\.0\.0\.1/, 'readiness names no address');
  });

  test('a discovered jwks_uri with a password in it is not fetched, and the log line names it without the password', async () => {
    const failed = await firstFetch(gw.logs, 'leaky');
    assert.equal(failed.msg, FETCH_FAILED);
    assert.equal(failed.error, `${sameOrigin.url}/keys: the URL carries a user name or password, which is never sent`);
    assert.ok(!JSON.stringify(gw.logs).includes('hunter2'), 'the password reached the log');
  });

  test('control: a redirect within the same origin is followed', async () => {
    assert.equal((await firstFetch(gw.logs, 'moved')).msg, KEYS_LOADED);
    const token = await sign(claims('moved'), { alg: 'RS256', key: idp.privateKey, header: { kid: 'k1' } });
    const { result, count } = await reached(upstream, () => request(gw.url, '/x', { headers: bearer(token) }));
    assert.equal(result.status, 200, result.body);
    assert.equal(count, 1);
    assert.deepEqual(sameOrigin.hits.slice(0, 2), ['/old/keys', '/keys']);
  });
});

// The gateway runs as a child process so that it trusts the test certificate as a user's gateway trusts
// theirs (NODE_EXTRA_CA_CERTS), like test/e2e/upstream-tls.test.ts.
describe('a key server reached over https', () => {
  const attacker = rsaKeyPair();
  let evil: AttackerServer;
  let idp: https.Server;
  let upstream: Upstream;
  let gateway: RunningCli;
  let url: string;

  before(async () => {
    evil = await startAttackerServer({ keys: [await publicJwk(attacker, 'evil')] });
    idp = https.createServer({ cert: readFileSync(fixture('localhost-cert.pem')), key: readFileSync(fixture('localhost-key.pem')) }, (_req, res) => {
      res.writeHead(302, { location: `${evil.url.replace('127.0.0.1', 'localhost')}/keys` });
      res.end();
    });
    await new Promise<void>((resolve) => idp.listen(0, '127.0.0.1', resolve));
    upstream = await startUpstream();
    const dir = tempDir();
    writeFile(dir, 'gateway.yaml', stringify({
      server: { host: '127.0.0.1' },
      providers: [{ name: 'tls', issuer: 'tls', audience: 'api', jwks_uri: `https://localhost:${(idp.address() as AddressInfo).port}/keys` }],
      upstreams: { app: upstream.url },
      routes: [{ name: 'app', prefix: '/', upstream: 'app' }],
    }));
    gateway = startCli(['--config', path.join(dir, 'gateway.yaml'), '--port', '0', '--admin-port', '0'], {
      env: { NODE_EXTRA_CA_CERTS: fixture('localhost-cert.pem') },
    });
    const listening = await gateway.waitFor((line) => line.msg === 'portcullis listening');
    url = `http://127.0.0.1:${String(listening.port)}`;
  });
  after(async () => {
    gateway.child.kill('SIGTERM');
    await gateway.exited;
    idp.closeAllConnections();
    await new Promise((resolve) => idp.close(resolve));
    await evil.close();
    await upstream.close();
  });

  test('a redirect from https to plain http is not followed, and no key comes from it', async () => {
    const failed = await gateway.waitFor((l) => (l.msg === FETCH_FAILED || l.msg === KEYS_LOADED) && l.provider === 'tls');
    assert.equal(failed.msg, FETCH_FAILED, 'the keys behind the redirect were loaded');
    assert.match(String(failed.error), /from https to plain http/);
    const token = await sign({ iss: 'tls', aud: 'api', sub: 'mallory', exp: now() + 600 }, { alg: 'RS256', key: attacker.privateKey, header: { kid: 'evil' } });
    const { result, count } = await reached(upstream, () => request(url, '/x', { headers: bearer(token) }));
    assertRefused(result, 503, 'provider_unavailable', count, 'a token signed with the key behind the redirect');
    assert.equal(evil.connections, 0, `the plain-http key server was contacted: ${evil.hits.join(', ')}`);
  });
});

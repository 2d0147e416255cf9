// What refusals give away: every error the gateway produces, from the parser's 400 to an upstream's 504,
// is the same small JSON document, with no stack trace, no internal address, no key material, and nothing
// of the attacker's token echoed back. And the logs keep tokens and secrets out too.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../helpers/cli.ts';
import { startTestGateway, TEST_PROVIDER, type TestGateway } from '../helpers/gateway.ts';
import { bearer, raw, request, type Response } from '../helpers/http.ts';
import { rsaKeyPair, SECRET, sign, tempDir, writeFile } from '../helpers/keys.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';
import { forgeHs256, goodClaims, parseRaw } from './support.ts';

async function unusedPort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  return port;
}

describe('error responses', () => {
  const rsa = rsaKeyPair();
  let upstream: Upstream;
  let gw: TestGateway;
  let deadPort: number;
  let secrets: string[];

  before(async () => {
    upstream = await startUpstream();
    upstream.handle((req, res) => {
      if (req.url?.startsWith('/slow')) return; // never answers
      res.end('ok');
    });
    deadPort = await unusedPort();
    const dir = tempDir();
    writeFile(dir, 'rsa.pem', rsa.publicPem);
    gw = await startTestGateway(
      {
        server: { host: '127.0.0.1', max_header_size: '4kb' },
        providers: [
          TEST_PROVIDER,
          { name: 'rsa', issuer: 'rsa-idp', public_key_file: 'rsa.pem' },
          { name: 'idp', issuer: 'idp', jwks_uri: `http://127.0.0.1:${deadPort}/keys` },
        ],
        forward: { headers: { 'X-User-Id': 'sub' } },
        upstreams: { app: upstream.url, dead: `http://127.0.0.1:${deadPort}` },
        routes: [
          { name: 'admin', prefix: '/admin', upstream: 'app', roles: ['admin'] },
          { name: 'dead', prefix: '/dead', upstream: 'dead', auth: 'public' },
          { name: 'slow', prefix: '/slow', upstream: 'app', auth: 'public', timeout: '200ms' },
          { name: 'upload', prefix: '/upload', upstream: 'app', auth: 'public', max_body: '10b' },
          { name: 'read', path: '/read', methods: ['GET'], upstream: 'app', auth: 'public' },
          { name: 'api', prefix: '/api', upstream: 'app' },
        ],
      },
      { dir },
    );
    secrets = [SECRET, rsa.publicPem.split('\n')[1]!, rsa.privatePem.split('\n')[1]!, dir, String(deadPort), String(upstream.port)];
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  /** The one shape every error has, and nothing in it that helps an attacker. */
  function assertSafeError(status: number, headers: string | Response['headers'], bodyText: string, expected: { status: number; code: string }, what: string, echoed: string[] = []) {
    assert.equal(status, expected.status, `${what}: ${bodyText}`);
    const body = JSON.parse(bodyText) as Record<string, unknown>;
    assert.deepEqual(Object.keys(body).sort(), ['error', 'message', 'request_id'], what);
    assert.equal(body.error, expected.code, what);
    const headerText = typeof headers === 'string' ? headers : JSON.stringify(headers);
    assert.match(headerText, /application\/json/i, `${what}: content type`);
    assert.doesNotMatch(headerText, /x-powered-by|^server:/im, `${what}: server banner`);
    const everything = `${headerText}\n${bodyText}`;
    // Stack traces, Node internals, error class names, errno codes.
    assert.doesNotMatch(everything, /\bat [\w.<>]+ \(|\.[cm]?[jt]s:\d+|node:internal|\b(Type|Range|Syntax|Reference)?Error\b|E(CONNREFUSED|CONNRESET|TIMEDOUT|ADDRINUSE)|HPE_|ERR_/, `${what}: internals in ${everything}`);
    // Internal addresses and files.
    assert.doesNotMatch(everything, /127\.0\.0\.1|localhost|\/tmp\/|\/work\//, `${what}: an internal address`);
    for (const secret of [...secrets, ...echoed]) assert.ok(!everything.includes(secret), `${what}: leaked ${secret.slice(0, 20)}`);
  }

  async function check(path: string, options: Parameters<typeof request>[2], expected: { status: number; code: string }, echoed: string[] = []) {
    const res = await request(gw.url, path, options);
    assertSafeError(res.status, res.headers, res.body, expected, `${options?.method ?? 'GET'} ${path}`, echoed);
  }

  async function checkRaw(text: string, expected: { status: number; code: string }, what: string) {
    const reply = await raw(gw.port, text, 500);
    const parsed = parseRaw(reply);
    const body = reply.slice(reply.indexOf('\r\n\r\n') + 4);
    assertSafeError(parsed.status, parsed.headers, body, expected, what);
  }

  test('parser errors (400, 431) carry no parser internals', async () => {
    await checkRaw('POST /api HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', { status: 400, code: 'bad_request' }, 'CL+TE');
    await checkRaw('GET /api HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n', { status: 400, code: 'bad_request' }, 'obs-fold');
    await checkRaw(`GET /api HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(5000)}\r\n\r\n`, { status: 431, code: 'headers_too_large' }, 'header flood');
  });

  test('path, route and method errors (400, 404, 405) carry no internals', async () => {
    await check('/api/%2e%2e/%2e%2e/etc/passwd', {}, { status: 400, code: 'path_above_root' });
    await check('/nowhere/%3Cscript%3E', {}, { status: 404, code: 'no_route' }, ['<script>']);
    await check('/read', { method: 'DELETE' }, { status: 405, code: 'method_not_allowed' });
  });

  // The one message that repeats what the client sent. The normalized path holds only RFC 3986 path
  // characters and upper-case escapes: no quote, backslash, angle bracket or control character to break
  // out of the JSON string or into a page; and the query, where secrets travel, is never part of it.
  test('a 404 repeats only the normalized path: never the query, a dot segment or a raw escape', async () => {
    const res = await request(gw.url, '/nowhere/./x/../%3cb%3E%22?api_key=QUERY-SECRET');
    assertSafeError(res.status, res.headers, res.body, { status: 404, code: 'no_route' }, '404', ['QUERY-SECRET', '<b>', '/./', '/../']);
    assert.equal(res.json().message, 'no route matches GET /nowhere/%3Cb%3E%22');
  });

  test('token errors (401, 403) echo nothing of the token and carry no key material', async () => {
    const marker = 'ATTACKER-MARKER-<script>';
    const cases: [string, string][] = [
      [await sign(goodClaims({ roles: ['guest'], sub: marker })), 'insufficient_role'],
      [await sign(goodClaims({ sub: marker }), { key: 'a-guessed-secret-that-is-long-enough-0123' }), 'token_signature'],
      [forgeHs256({ alg: 'HS256', kid: marker, crit: [marker], [marker]: 1 }, goodClaims()), 'token_unsupported'],
      [await sign(goodClaims({ iss: 'rsa-idp', sub: marker }), { alg: 'HS256', key: rsa.publicPem }), 'token_algorithm'],
      [await sign(goodClaims({ iss: marker })), 'token_untrusted_issuer'],
      [`${marker}.${marker}.${marker}`, 'token_malformed'],
    ];
    for (const [token, code] of cases) {
      const path = code === 'insufficient_role' ? '/admin' : '/api';
      await check(path, { headers: bearer(token) }, { status: code === 'insufficient_role' ? 403 : 401, code }, [marker, token.slice(0, 40)]);
    }
  });

  test('a provider whose keys are unreachable gives 503 without naming where they live', async () => {
    await check('/api', { headers: bearer(await sign(goodClaims({ iss: 'idp' }), { alg: 'RS256', key: rsa.privateKey })) }, { status: 503, code: 'provider_unavailable' }, [`:${deadPort}`, '/keys']);
  });

  test('upstream failures (502, 504) do not reveal the upstream\'s address or the cause', async () => {
    await check('/dead/x', {}, { status: 502, code: 'upstream_unavailable' });
    await check('/slow/x', {}, { status: 504, code: 'upstream_timeout' });
  });

  test('a body over the limit (413) carries no internals', async () => {
    await check('/upload', { method: 'POST', body: 'x'.repeat(100) }, { status: 413, code: 'body_too_large' });
  });

  test('a refused WebSocket handshake gets the same safe JSON error', async () => {
    await checkRaw('GET /api HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: MDEyMzQ1Njc4OWFiY2RlZg==\r\nSec-WebSocket-Version: 13\r\n\r\n', { status: 401, code: 'token_missing' }, 'upgrade');
  });

  test('WWW-Authenticate carries fixed text only: no token content, no header injection', async () => {
    const res = await request(gw.url, '/api', { headers: bearer(forgeHs256({ alg: 'HS256' }, goodClaims({ exp: 'x", error="none', sub: 'a\\"b' }))) });
    assert.equal(res.status, 401);
    assert.match(String(res.headers['www-authenticate']), /^Bearer realm="portcullis", error="invalid_token", error_description="[^"]*"$/);
    assert.doesNotMatch(String(res.headers['www-authenticate']), /none|a\\/);
  });

  test('the logs never contain tokens, secrets, cookies or query strings', async () => {
    const token = await sign(goodClaims({ roles: ['admin'] }));
    await request(gw.url, '/api/x?api_key=QUERY-SECRET', { headers: { ...bearer(token), cookie: 'session=COOKIE-SECRET' } });
    await request(gw.url, '/admin/x', { headers: bearer(`${token}x`) });
    const logged = JSON.stringify(gw.logs);
    for (const secret of [token.split('.')[2]!, SECRET, 'QUERY-SECRET', 'COOKIE-SECRET']) assert.ok(!logged.includes(secret), `the logs contain ${secret.slice(0, 12)}`);
  });

  test('explain never prints an Authorization value, written with a scheme or pasted without one', async () => {
    // Its output is made to be pasted into tickets: the headers it shows as forwarded are redacted.
    const token = await sign(goodClaims());
    for (const value of [token, `Bearer ${token}`, `bearer\t${token}`, `Basic ${Buffer.from('user:PASSWORD').toString('base64')}`]) {
      const { code, stdout } = await runCli(['explain', '--config', gw.file, '-H', `Authorization: ${value}`, 'GET', '/read']);
      assert.equal(code, 0, stdout);
      assert.match(stdout, /authorization: (?:\w+ )?\[redacted\]/i, stdout);
      for (const secret of [token.split('.')[2]!, Buffer.from('user:PASSWORD').toString('base64')]) assert.ok(!stdout.includes(secret), `explain printed ${value.slice(0, 12)}...`);
    }
  });
});

// The admin port listens on server.host, every interface by default: whoever can reach /readyz must not
// learn where the identity providers' keys live (an internal realm URL, a host and port behind the
// firewall). Operators find that in the warning log line, which is theirs.
describe('readiness reasons', () => {
  test('/readyz names the provider and the kind of key failure, never the URL or host the keys come from', async () => {
    const idp = http.createServer((req, res) => {
      if (req.url === '/internal/realms/corp/certs') res.writeHead(500).end();
      else if (req.url === '/internal/realms/html/certs') res.writeHead(200, { 'content-type': 'text/html' }).end('<html>');
      else if (req.url === '/internal/realms/disco/.well-known/openid-configuration') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer: 'https://login.example.com/realms/disco/', jwks_uri: 'http://x/keys' }));
      } else res.writeHead(404).end();
    });
    await new Promise<void>((r) => idp.listen(0, '127.0.0.1', r));
    const hostPort = `127.0.0.1:${(idp.address() as net.AddressInfo).port}`;
    const deadHostPort = `127.0.0.1:${await unusedPort()}`;
    const upstream = await startUpstream();
    const gw = await startTestGateway({
      server: { host: '127.0.0.1' },
      providers: [
        { name: 'corp', issuer: 'corp', jwks_uri: `http://${hostPort}/internal/realms/corp/certs` },
        { name: 'html', issuer: 'html', jwks_uri: `http://${hostPort}/internal/realms/html/certs` },
        // The public issuer, its discovery document fetched from inside: the issuers (which every token
        // names) are shown, the internal address is not.
        { name: 'disco', issuer: 'https://login.example.com/realms/disco', discovery: `http://${hostPort}/internal/realms/disco` },
        { name: 'gone', issuer: 'gone', jwks_uri: `http://${deadHostPort}/internal/realms/gone/certs` },
      ],
      upstreams: { app: upstream.url },
      routes: [{ name: 'all', prefix: '/', upstream: 'app' }],
    });
    try {
      const failed = () => gw.logs.filter((l) => l.msg === 'fetching provider keys failed; retrying').map((l) => String(l.provider));
      for (let i = 0; i < 250 && new Set(failed()).size < 4; i++) await new Promise((r) => setTimeout(r, 20));
      const res = await request(gw.adminUrl, '/readyz');
      assert.equal(res.status, 503);
      assert.deepEqual(res.json().reasons, [
        'provider "corp": keys not fetched yet (HTTP 500)',
        'provider "html": keys not fetched yet (the key set is not JSON)',
        'provider "disco": keys not fetched yet (the discovery document names the issuer "https://login.example.com/realms/disco/", not the configured "https://login.example.com/realms/disco" (it has a trailing slash))',
        'provider "gone": keys not fetched yet (could not connect: ECONNREFUSED)',
      ]);
      for (const hidden of [hostPort, deadHostPort, '127.0.0.1', '/internal/', '/.well-known/']) {
        assert.ok(!res.body.includes(hidden), `/readyz reveals ${hidden}: ${res.body}`);
      }
      // The operator still gets the whole story, address included, in the log.
      const corpWarning = gw.logs.find((l) => l.provider === 'corp' && l.level === 'warn');
      assert.match(String(corpWarning?.error), new RegExp(`http://${hostPort}/internal/realms/corp/certs answered HTTP 500`));
      // A key server that is down is named too: "fetch failed" alone says nothing of where to look.
      const goneWarning = gw.logs.find((l) => l.provider === 'gone' && l.level === 'warn');
      assert.equal(goneWarning?.error, `http://${deadHostPort}/internal/realms/gone/certs: could not connect (ECONNREFUSED)`);
    } finally {
      await gw.close();
      await upstream.close();
      await new Promise<void>((r) => idp.close(() => r()));
    }
  });
});

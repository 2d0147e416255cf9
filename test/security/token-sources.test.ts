// Attacks that tokens outside the Authorization header open: a query token leaking into the upstream's URL
// or a log line, a cookie token ridden by another site (CSRF, cross-site WebSocket hijacking), two tokens
// or one cookie given twice so that the gateway and the upstream each read another.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { accessLogs, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { bearer, raw, request, statusOf } from '../helpers/http.ts';
import { sign } from '../helpers/keys.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';
import { acceptWebSockets, assertRefused, parseRaw, reached, wsHandshake } from './support.ts';

describe('token source attacks', () => {
  let upstream: Upstream;
  let upgrades: ReturnType<typeof acceptWebSockets>;
  let gw: TestGateway;
  let token: string;
  let other: string;

  before(async () => {
    upstream = await startUpstream();
    upgrades = acceptWebSockets(upstream);
    gw = await startTestGateway({
      server: { host: '127.0.0.1' },
      providers: [
        { name: 'web', issuer: 'web', audience: 'api', secret: 'test-secret-that-is-long-enough-0123456789', token_from: ['bearer', 'cookie:access_token', 'query:access_token'] },
      ],
      forward: { headers: { 'X-User-Id': 'sub' } },
      upstreams: { app: upstream.url },
      routes: [
        { name: 'open', prefix: '/open', upstream: 'app', auth: 'public' },
        { name: 'maybe', prefix: '/maybe', upstream: 'app', auth: 'optional' },
        { name: 'api', prefix: '/api', upstream: 'app' },
        { name: 'partner', prefix: '/partner', upstream: 'app', cors: { origins: ['https://app.example.com', 'https://*.partner.example'], credentials: true } },
        { name: 'anyone', prefix: '/anyone', upstream: 'app', cors: { origins: ['*'] } },
      ],
    });
    token = await sign({ iss: 'web', aud: 'api', sub: 'alice' });
    other = await sign({ iss: 'web', aud: 'api', sub: 'mallory' });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  const signature = (t: string) => t.split('.')[2]!;

  describe('a query token', () => {
    test('never reaches the upstream URL, in any spelling of its name, on any route', async () => {
      const targets = [
        `/api/x?access_token=${token}`,
        `/api/x?a=1&access_token=${token}&b=2`,
        `/api/x?access%5Ftoken=${token}`,
        `/api/x?access%5ftoken=${encodeURIComponent(token)}`,
        `/maybe/x?access_token=${token}`,
        `/open/x?access_token=${token}`,
      ];
      for (const target of targets) {
        const { result, count } = await reached(upstream, () => request(gw.url, target));
        assert.equal(result.status, 200, target);
        assert.equal(count, 1, target);
        const url = upstream.received.at(-1)!.url;
        assert.ok(!url.includes(signature(token)) && !url.includes('access'), `${target} reached the upstream as ${url}`);
      }
      assert.equal(upstream.received.at(-5)!.url, '/api/x?a=1&b=2');
    });

    test('never reaches the upstream of a WebSocket handshake', async () => {
      const before = upgrades.length;
      const handshake = await wsHandshake(gw.port, `/api/live?access_token=${token}&room=1`);
      assert.equal(handshake.status, 101);
      handshake.socket?.destroy();
      assert.equal(upgrades.length, before + 1);
      assert.equal(upgrades.at(-1)!.url, '/api/live?room=1');
    });

    test('never appears in a log line, whether the request is allowed, refused or malformed', async () => {
      const expired = await sign({ iss: 'web', aud: 'api', sub: 'alice' }, { expiresIn: -60 });
      await request(gw.url, `/api/x?access_token=${token}`);
      await request(gw.url, `/api/x?access_token=${expired}`);
      await request(gw.url, `/api/x?access_token=${token}&access_token=${other}`);
      await request(gw.url, `/nowhere?access_token=${token}`);
      const rawReply = await raw(gw.port, `GET /api/x?access_token=${token} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      assert.equal(statusOf(rawReply), 200);
      assert.ok(accessLogs(gw.logs).some((l) => l.path === '/api/x'), 'requests are logged, without their query');
      const logged = JSON.stringify(gw.logs);
      for (const t of [token, expired, other]) assert.ok(!logged.includes(signature(t)), 'a log line holds a query token');
      assert.ok(!logged.includes('access_token='), 'a log line holds the query');
    });

    test('given twice, it is refused: the gateway and the upstream could each read another', async () => {
      const { result, count } = await reached(upstream, () => request(gw.url, `/api/x?access_token=${token}&access%5Ftoken=${other}`));
      assertRefused(result, 401, 'token_duplicated', count, 'two query tokens');
    });
  });

  describe('a cookie token', () => {
    const cookie = () => ({ cookie: `access_token=${token}` });

    test('control: from the gateway\'s own origin, or same-origin by Sec-Fetch-Site, a POST passes', async () => {
      const own = `http://127.0.0.1:${gw.port}`;
      assert.equal((await request(gw.url, '/api/x', { method: 'POST', headers: { ...cookie(), origin: own } })).status, 200);
      assert.equal((await request(gw.url, '/api/x', { method: 'POST', headers: { ...cookie(), origin: `HTTP://127.0.0.1:${gw.port}` } })).status, 200);
      assert.equal((await request(gw.url, '/api/x', { method: 'DELETE', headers: { ...cookie(), 'sec-fetch-site': 'same-origin' } })).status, 200);
      assert.equal((await request(gw.url, '/api/x', { headers: { ...cookie(), origin: 'https://evil.example' } })).status, 200, 'a GET is safe');
    });

    test('can not be used cross-site on POST, PUT, PATCH, DELETE or a custom method', async () => {
      const attempts: [string, Record<string, string>][] = [
        ['POST', { origin: 'https://evil.example' }],
        ['POST', { origin: 'null' }],
        ['POST', {}],
        ['POST', { 'sec-fetch-site': 'cross-site' }],
        ['POST', { 'sec-fetch-site': 'same-site' }],
        ['POST', { origin: 'https://evil.example', 'sec-fetch-site': 'same-origin' }],
        ['POST', { origin: `http://127.0.0.1:${gw.port}.evil.example` }],
        ['POST', { origin: `http://127.0.0.1:${gw.port + 1}` }],
        ['POST', { origin: `https://127.0.0.1:${gw.port}` }],
        ['PUT', { origin: 'https://evil.example' }],
        ['PATCH', { origin: 'https://evil.example' }],
        ['DELETE', { origin: 'https://evil.example' }],
        ['PROPPATCH', { origin: 'https://evil.example' }],
      ];
      for (const [method, headers] of attempts) {
        const { result, count } = await reached(upstream, () => request(gw.url, '/api/x', { method, headers: { ...cookie(), ...headers }, ...(method === 'POST' ? { body: 'amount=1000' } : {}) }));
        assertRefused(result, 403, 'csrf_origin', count, `${method} ${JSON.stringify(headers)}`);
      }
    });

    test('from an origin the route\'s CORS lists, by name or wildcard, a POST passes; "*" vouches for no origin', async () => {
      for (const origin of ['https://app.example.com', 'https://eu.partner.example']) {
        const { result, count } = await reached(upstream, () => request(gw.url, '/partner/x', { method: 'POST', headers: { ...cookie(), origin } }));
        assert.equal(result.status, 200, origin);
        assert.equal(count, 1, origin);
      }
      const refused: [string, string][] = [
        ['/partner/x', 'https://evil.example'],
        ['/partner/x', 'https://partner.example'],
        ['/partner/x', 'http://app.example.com'],
        ['/anyone/x', 'https://evil.example'],
        ['/api/x', 'https://app.example.com'],
      ];
      for (const [path, origin] of refused) {
        const { result, count } = await reached(upstream, () => request(gw.url, path, { method: 'POST', headers: { ...cookie(), origin } }));
        assertRefused(result, 403, 'csrf_origin', count, `${path} from ${origin}`);
      }
    });

    test('a forged X-Forwarded-Host or -Proto from an untrusted client does not make another origin its own', async () => {
      const headers = { ...cookie(), origin: 'https://evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' };
      const { result, count } = await reached(upstream, () => request(gw.url, '/api/x', { method: 'POST', headers }));
      assertRefused(result, 403, 'csrf_origin', count, 'forged forwarding headers');
    });

    test('can not open a WebSocket from another site (cross-site WebSocket hijacking)', async () => {
      const before = upgrades.length;
      const evil = await wsHandshake(gw.port, '/api/live', { ...cookie(), origin: 'https://evil.example' });
      assert.equal(evil.status, 403);
      assert.equal(JSON.parse(evil.body).error, 'csrf_origin');
      assert.equal(upgrades.length, before);
      const own = await wsHandshake(gw.port, '/api/live', { ...cookie(), origin: `http://127.0.0.1:${gw.port}` });
      assert.equal(own.status, 101);
      own.socket?.destroy();
    });

    test('a bearer token is not subject to it: another site can not make a browser send one', async () => {
      const res = await request(gw.url, '/api/x', { method: 'POST', headers: { ...bearer(token), origin: 'https://evil.example' } });
      assert.equal(res.status, 200);
    });

    test('sent twice (cookie tossing from a sibling subdomain) is refused, even with the same value', async () => {
      for (const value of [`access_token=${other}; access_token=${token}`, `access_token=${token}; access_token=${token}`]) {
        const { result, count } = await reached(upstream, () => request(gw.url, '/api/x', { headers: { cookie: value } }));
        assertRefused(result, 401, 'token_duplicated', count, value.slice(0, 20));
      }
    });
  });

  test('two different tokens in two places are refused; the same token twice is one token', async () => {
    const pairs: Record<string, string>[] = [
      { ...bearer(token), cookie: `access_token=${other}` },
      { ...bearer(other), cookie: `access_token=${token}` },
    ];
    for (const headers of pairs) {
      const { result, count } = await reached(upstream, () => request(gw.url, '/api/x', { headers }));
      assertRefused(result, 401, 'token_duplicated', count, 'bearer and cookie');
    }
    const mixed = await reached(upstream, () => request(gw.url, `/api/x?access_token=${other}`, { headers: bearer(token) }));
    assertRefused(mixed.result, 401, 'token_duplicated', mixed.count, 'bearer and query');
    assert.equal((await request(gw.url, '/api/x', { headers: { ...bearer(token), cookie: `access_token=${token}` } })).status, 200);
  });

  test('a WebSocket handshake refused for its cookie origin gets the JSON error on the raw socket', async () => {
    const reply = await raw(
      gw.port,
      `GET /api/live HTTP/1.1\r\nHost: 127.0.0.1:${gw.port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: MDEyMzQ1Njc4OWFiY2RlZg==\r\nSec-WebSocket-Version: 13\r\nOrigin: null\r\nCookie: access_token=${token}\r\n\r\n`,
    );
    const parsed = parseRaw(reply);
    assert.equal(parsed.status, 403);
    assert.equal(parsed.body?.error, 'csrf_origin');
  });
});

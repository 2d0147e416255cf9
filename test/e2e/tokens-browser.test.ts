// Tokens outside the Authorization header as a real browser sends them: headless Chromium (the Debian
// package; .ci/run installs it) opens a WebSocket with the token in the query, as the browser WebSocket API
// forces, and carries a token cookie on requests from the gateway's own page and from a page of another
// origin on the same host (another port: same site, so even SameSite=Lax cookies go along).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { chromium, type BrowserContext } from 'playwright-core';
import { acceptWebSockets } from '../security/support.ts';
import { accessLogs, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { sign, tempDir } from '../helpers/keys.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const skip = existsSync(CHROMIUM) ? false : `Chromium is not installed at ${CHROMIUM}: apt-get install -y chromium (bash .ci/run does it when it is missing)`;
const PAGE = '<!doctype html><title>app</title><p>app</p>';

describe('token sources in headless Chromium', { skip }, () => {
  let upstream: Upstream;
  let upgrades: http.IncomingMessage[];
  let gw: TestGateway;
  let site: { origin: string; close: () => Promise<void> };
  let browser: BrowserContext;
  let token: string;

  before(async () => {
    upstream = await startUpstream();
    upgrades = acceptWebSockets(upstream);
    upstream.handle((req, res, received) => {
      if (received.url.startsWith('/app')) res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ url: received.url }));
    });
    const server = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    site = {
      origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () => new Promise((r) => (server.closeAllConnections(), server.close(() => r()))),
    };
    gw = await startTestGateway({
      server: { host: '127.0.0.1' },
      providers: [{ name: 'web', issuer: 'web', audience: 'api', secret: 'test-secret-that-is-long-enough-0123456789', token_from: ['bearer', 'cookie:access_token'] }],
      forward: { headers: { 'X-User-Id': 'sub' } },
      upstreams: { app: upstream.url },
      routes: [
        { name: 'page', prefix: '/app', upstream: 'app', auth: 'public' },
        { name: 'live', path: '/ws/live', upstream: 'app', token_from: ['query:access_token'] },
        { name: 'api', prefix: '/api', upstream: 'app' },
      ],
    });
    token = await sign({ iss: 'web', aud: 'api', sub: 'alice' });
    browser = await chromium.launchPersistentContext(tempDir('portcullis-chromium-'), { executablePath: CHROMIUM, headless: true, args: ARGS });
    await browser.addCookies([{ name: 'access_token', value: token, domain: '127.0.0.1', path: '/', sameSite: 'Lax' }]);
  });
  after(async () => {
    await browser?.close();
    await gw?.close();
    await Promise.all([upstream?.close(), site?.close()]);
  });

  /** Runs `script` (an async function body given `gw`, the gateway's base URL) in a page loaded from `origin`. */
  async function inPage(origin: string, script: string): Promise<unknown> {
    const page = await browser.newPage();
    try {
      await page.goto(origin === 'gateway' ? `${gw.url}/app/` : origin);
      return await page.evaluate(`(async (gw) => { ${script} })(${JSON.stringify(gw.url)})`);
    } finally {
      await page.close();
    }
  }

  /** How a page's WebSocket to `path` ends: "open" (then closed by the page) or "refused". */
  const openSocket = (path: string) => `
    return await new Promise((resolve) => {
      const socket = new WebSocket(gw.replace('http:', 'ws:') + ${JSON.stringify(path)});
      socket.onopen = () => { socket.close(); resolve('open'); };
      socket.onerror = () => resolve('refused');
    });`;

  test('a WebSocket with the token in its query opens, and the upstream\'s handshake never carries the token', { timeout: 60_000 }, async () => {
    const before = upgrades.length;
    const outcome = await inPage(site.origin, openSocket(`/ws/live?access_token=${token}&room=7`));
    assert.equal(outcome, 'open');
    assert.equal(upgrades.length, before + 1);
    assert.equal(upgrades.at(-1)!.url, '/ws/live?room=7');
    assert.equal(upgrades.at(-1)!.headers['x-user-id'], 'alice');
    const signature = token.split('.')[2]!;
    assert.ok(accessLogs(gw.logs).some((l) => l.path === '/ws/live'), 'the handshake is logged');
    assert.ok(!JSON.stringify(gw.logs).includes(signature), 'no log line holds the token');
  });

  test('the token cookie works from the gateway\'s own page; a page of another origin can neither POST with it nor open a WebSocket', { timeout: 60_000 }, async () => {
    const post = `
      const res = await fetch(gw + '/api/orders', { method: 'POST', credentials: 'include', mode: 'no-cors', body: 'amount=1000' });
      return res.type === 'opaque' ? 'sent' : res.status;`;
    assert.equal(await inPage('gateway', post.replace("mode: 'no-cors', ", '')), 200, 'same origin: the cookie token is accepted');
    assert.equal(upstream.received.at(-1)!.headers['x-user-id'], 'alice');

    const calls = upstream.received.length;
    const handshakes = upgrades.length;
    assert.equal(await inPage(site.origin, post), 'sent', 'the browser sends the request, cookie and all');
    assert.equal(await inPage(site.origin, openSocket('/api/live')), 'refused');
    assert.equal(upstream.received.length, calls, 'the cross-origin POST never reached the upstream');
    assert.equal(upgrades.length, handshakes, 'nor did the cross-origin handshake');
    const refused = accessLogs(gw.logs).filter((l) => l.path === '/api/orders' || l.path === '/api/live').slice(-2);
    assert.deepEqual(refused.map((l) => [l.status, l.reason]), [[403, 'csrf_origin'], [403, 'csrf_origin']]);
  });
});

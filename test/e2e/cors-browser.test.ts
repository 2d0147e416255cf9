// CORS as a real browser enforces it: headless Chromium (the Debian package; .ci/run installs it) loads a
// page from one loopback origin and calls the gateway, at another, with fetch(..., {credentials:
// 'include'}) and a bearer token: from an allowed origin the preflight and the call succeed and the page
// reads the answer; from an origin not on the list the browser itself blocks the call.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { chromium, type BrowserContext } from 'playwright-core';
import { configWith, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { sign, tempDir } from '../helpers/keys.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const skip = existsSync(CHROMIUM) ? false : `Chromium is not installed at ${CHROMIUM}: apt-get install -y chromium (bash .ci/run does it when it is missing)`;

/** A site on its own loopback port: its origin is http://127.0.0.1:PORT. */
async function startSite(): Promise<{ origin: string; close: () => Promise<void> }> {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>app</title><p>app</p>');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { origin, close: () => new Promise((r) => (server.closeAllConnections(), server.close(() => r()))) };
}

describe('CORS in headless Chromium', { skip }, () => {
  let upstream: Upstream;
  let gw: TestGateway;
  let allowed: Awaited<ReturnType<typeof startSite>>;
  let other: Awaited<ReturnType<typeof startSite>>;
  let browser: BrowserContext;
  let token: string;

  before(async () => {
    [upstream, allowed, other] = await Promise.all([startUpstream(), startSite(), startSite()]);
    const cors = { origins: [allowed.origin], headers: ['Authorization'], credentials: true, expose_headers: ['X-Request-Id'] };
    gw = await startTestGateway(configWith(upstream.url, [{ name: 'orders', prefix: '/api/orders', upstream: 'app' }], { cors }));
    token = await sign({ iss: 'test', aud: 'api', sub: 'alice' });
    browser = await chromium.launchPersistentContext(tempDir('portcullis-chromium-'), { executablePath: CHROMIUM, headless: true, args: ARGS });
  });
  after(async () => {
    await browser?.close();
    await gw?.close();
    await Promise.all([upstream?.close(), allowed?.close(), other?.close()]);
  });

  /**
   * Loads `site` in a tab and, from that page, fetches the gateway with credentials and the token (which
   * makes the browser ask first, with a preflight); without one, a "simple" request that it sends at once
   * and whose answer it then keeps from the page unless the gateway allows the origin.
   */
  async function callFrom(site: string, withToken = true): Promise<{ ok: boolean; status?: number; body?: string; requestId?: string | null; error?: string }> {
    const page = await browser.newPage();
    try {
      await page.goto(site);
      return await page.evaluate(
        async ([url, bearerToken]) => {
          try {
            const headers: Record<string, string> = bearerToken === '' ? {} : { authorization: `Bearer ${bearerToken}` };
            const response = await fetch(url!, { credentials: 'include', headers });
            return { ok: true, status: response.status, body: await response.text(), requestId: response.headers.get('x-request-id') };
          } catch (err) {
            return { ok: false, error: String(err) };
          }
        },
        [`${gw.url}/api/orders/7`, withToken ? token : ''],
      );
    } finally {
      await page.close();
    }
  }

  test('a page from an allowed origin calls the gateway with credentials and reads the answer', { timeout: 60_000 }, async () => {
    const result = await callFrom(allowed.origin);
    assert.equal(result.ok, true, result.error);
    assert.equal(result.status, 200);
    assert.match(result.body!, /"url":"\/api\/orders\/7"/);
    assert.ok(result.requestId, 'the exposed X-Request-Id is readable');
    const reached = upstream.received.filter((r) => r.url === '/api/orders/7');
    assert.deepEqual(reached.map((r) => r.method), ['GET'], 'the preflight stayed at the gateway');
    assert.equal(reached[0]!.headers['x-user-id'], 'alice', 'the token the page sent was verified');
  });

  test('a page from another origin is blocked by the browser, and its call never reaches the upstream', { timeout: 60_000 }, async () => {
    const before = upstream.received.length;
    const result = await callFrom(other.origin);
    assert.equal(result.ok, false);
    assert.match(result.error!, /TypeError/);
    assert.equal(upstream.received.length, before, 'the refused preflight stopped the browser from sending the call');
  });

  test('a page from an allowed origin can read a denial (401 without a token); another origin can not even see it', { timeout: 60_000 }, async () => {
    const denied = await callFrom(allowed.origin, false);
    assert.equal(denied.ok, true, denied.error);
    assert.equal(denied.status, 401);
    assert.match(denied.body!, /"error":"token_missing"/);
    // No preflight for a simple GET: the browser sends it, and then keeps the answer from the page.
    const hidden = await callFrom(other.origin, false);
    assert.equal(hidden.ok, false, 'the gateway reflected an origin that is not on the list');
    assert.match(hidden.error!, /TypeError/);
  });
});

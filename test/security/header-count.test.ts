// Request smuggling past the header-count limit: Node keeps only the first maxHeadersCount header lines in
// req.headers, but its parser still frames the body by a Content-Length or Transfer-Encoding that comes
// after them. A gateway that reads the truncated view forwards a body-less request and the body raw after
// it: the upstream executes the hidden request, with forged identity headers and no token.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { accessLogs, startTestGateway, TEST_PROVIDER, type TestGateway } from '../helpers/gateway.ts';
import { raw } from '../helpers/http.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';
import { parseRaw, reached } from './support.ts';

/** What the attacker wants the upstream to run: an admin action, as the admin, without a token. */
const SMUGGLED = 'DELETE /admin/users/42 HTTP/1.1\r\nHost: gw\r\nX-User-Id: admin\r\nX-User-Roles: admin\r\nContent-Length: 0\r\n\r\n';
const chunkOf = (data: string) => `${data.length.toString(16)}\r\n${data}\r\n`;

/** `count` header lines "a:" (4 bytes each): 2000 of them are 8 KB, under the default max_header_size. */
const filler = (count: number) => 'a:\r\n'.repeat(count);

function publicGet(lines: number, framing: 'content-length' | 'chunked'): string {
  const head = `GET /public HTTP/1.1\r\nHost: gw\r\n${filler(lines)}`;
  return framing === 'content-length'
    ? `${head}Content-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`
    : `${head}Transfer-Encoding: chunked\r\n\r\n${chunkOf(SMUGGLED)}0\r\n\r\n`;
}

describe('request smuggling past the header-count limit', () => {
  let upstream: Upstream;
  let gw: TestGateway;
  let roomy: TestGateway;

  const routes = [
    { name: 'admin', prefix: '/admin', upstream: 'app', roles: ['admin'] },
    { name: 'public', prefix: '/', upstream: 'app', auth: 'public' },
  ];
  const config = (server: object) => ({
    server: { host: '127.0.0.1', ...server },
    providers: [TEST_PROVIDER],
    forward: { headers: { 'X-User-Id': 'sub', 'X-User-Roles': 'roles' } },
    upstreams: { app: upstream.url },
    routes,
  });

  before(async () => {
    upstream = await startUpstream();
    gw = await startTestGateway(config({}));
    // Room for 2500 header lines: the request passes the count, and must then be framed as the parser framed it.
    roomy = await startTestGateway(config({ max_headers: 2500 }));
  });
  after(async () => {
    await gw.close();
    await roomy.close();
    await upstream.close();
  });

  for (const framing of ['content-length', 'chunked'] as const) {
    test(`2000 filler headers then ${framing} framing: 431 headers_too_many, and the hidden DELETE reaches nobody`, async () => {
      const { result, count } = await reached(upstream, () => raw(gw.port, publicGet(2000, framing), 800));
      const reply = parseRaw(result);
      assert.equal(reply.status, 431, result.slice(0, 120));
      assert.equal(reply.body?.error, 'headers_too_many');
      assert.match(reply.headers, /^connection: close$/im, 'the connection is closed: its body was never read');
      assert.equal((result.match(/HTTP\/1\.1 \d{3} /g) ?? []).length, 1, 'exactly one response');
      assert.equal(count, 0, `the upstream received ${count} request(s)`);
      assert.ok(!upstream.received.some((r) => r.method === 'DELETE'), 'the smuggled DELETE never ran');
    });

    test(`with max_headers above the count, ${framing} framing after 2000 headers is honoured: one GET, its body framed`, async () => {
      const { result, count } = await reached(upstream, () => raw(roomy.port, publicGet(2000, framing), 800));
      assert.equal(parseRaw(result).status, 200, result.slice(0, 120));
      assert.equal(count, 1, 'one request upstream, not two');
      const got = upstream.received.at(-1)!;
      assert.equal(got.method, 'GET');
      assert.equal(got.body, SMUGGLED, 'the body arrived as a body');
      assert.equal(got.headers['x-user-id'], undefined, 'no identity header came from the client');
      assert.ok(!upstream.received.some((r) => r.method === 'DELETE'), 'the smuggled DELETE never ran');
    });
  }

  test('max_headers counts header lines: 100 pass by default, 101 get 431 and are logged', async () => {
    const at = (n: number) => `GET /public HTTP/1.1\r\nHost: gw\r\n${'x-n: 1\r\n'.repeat(n - 1)}Connection: close\r\n\r\n`;
    // at(n) is n + 1 header lines: Host, n - 1 x-n, Connection
    const fits = await reached(upstream, () => raw(gw.port, at(99), 800));
    assert.equal(parseRaw(fits.result).status, 200);
    assert.equal(fits.count, 1);
    const over = await reached(upstream, () => raw(gw.port, at(100), 800));
    assert.equal(parseRaw(over.result).status, 431);
    assert.equal(parseRaw(over.result).body?.error, 'headers_too_many');
    assert.equal(over.count, 0);
    assert.ok(accessLogs(gw.logs).some((l) => l.reason === 'headers_too_many' && l.status === 431), 'the refusal is logged');
  });
});

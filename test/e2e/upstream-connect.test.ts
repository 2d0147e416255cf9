// connect_timeout: a target that accepts the TCP connection but never completes the TLS handshake (or
// never accepts at all) is given up on after connect_timeout, for HTTP requests and WebSocket handshakes
// alike: 502 upstream_unavailable, with the connect timeout named in the log; with retries, the request
// goes to another target, whatever its method (nothing was sent).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { accessLogs, configWith, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { raw, request, statusOf } from '../helpers/http.ts';
import { startSilentServer, startUpstream, type Upstream } from '../helpers/upstream.ts';
import { until } from '../helpers/wait.ts';

/** Process warnings while the gateway runs here: TLS must name no IP address (RFC 6066 §3, Node's DEP0123). */
const warnings: (Error & { code?: string })[] = [];
process.on('warning', (warning) => warnings.push(warning));

describe('connect_timeout', () => {
  let silent: Awaited<ReturnType<typeof startSilentServer>>;
  let live: Upstream;
  let gw: TestGateway;

  before(async () => {
    silent = await startSilentServer();
    live = await startUpstream('live');
    const stuck = `https://127.0.0.1:${silent.port}`;
    gw = await startTestGateway(
      configWith('', [
        { name: 'stuck', prefix: '/stuck', upstream: 'stuck', auth: 'public' },
        { name: 'either', prefix: '/either', upstream: 'either', auth: 'public' },
        { name: 'checked', prefix: '/checked', upstream: 'checked', auth: 'public' },
      ], {
        upstreams: {
          // The route's timeout is long: only connect_timeout can end these.
          stuck: { targets: [stuck], connect_timeout: '200ms', timeout: '60s' },
          either: { targets: [stuck, live.url], connect_timeout: '200ms', timeout: '60s', retries: { attempts: 1 } },
          // Health checks over TLS to an address, not a name.
          checked: { targets: [stuck, live.url], health_check: { path: '/healthz', interval: '100ms', timeout: '100ms' } },
        },
      }),
    );
  });
  after(async () => {
    await gw.close();
    await silent.close();
    await live.close();
  });

  test('a TLS handshake that never completes is a 502 upstream_unavailable with the connect timeout as upstream_error', async () => {
    const res = await request(gw.url, '/stuck/x');
    assert.equal(res.status, 502);
    assert.equal(res.json().error, 'upstream_unavailable');
    assert.ok(silent.connections() >= 1, 'the target accepted the connection');
    const line = accessLogs(gw.logs).find((l) => l.path === '/stuck/x')!;
    assert.equal(line.reason, 'upstream_unavailable');
    assert.equal(line.upstream_error, 'UND_ERR_CONNECT_TIMEOUT');
  });

  test('a WebSocket handshake to such a target gets the same 502', async () => {
    const handshake = 'GET /stuck/ws HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';
    const answer = await raw(gw.port, handshake, 5000);
    assert.equal(statusOf(answer), 502, answer);
    assert.match(answer, /"error":"upstream_unavailable"/);
    await until(() => accessLogs(gw.logs).some((l) => l.path === '/stuck/ws'), 'the log line');
    assert.equal(accessLogs(gw.logs).find((l) => l.path === '/stuck/ws')!.upstream_error, 'UND_ERR_CONNECT_TIMEOUT');
  });

  test('with retries, a POST whose connection timed out is sent to the other target with its body', async () => {
    for (let i = 0; i < 2; i++) {
      const res = await request(gw.url, `/either/${i}`, { method: 'POST', body: `order ${i}` });
      assert.equal(res.status, 200, res.body);
    }
    assert.deepEqual(live.received.filter((r) => r.method === 'POST').map((r) => r.body), ['order 0', 'order 1']);
    const retried = accessLogs(gw.logs).find((l) => l.path === '/either/0')!;
    assert.equal(retried.upstream_attempts, 2);
    assert.equal(retried.upstream_error, 'UND_ERR_CONNECT_TIMEOUT');
  });

  test('TLS to a target written as an IP address sends no IP address as the server name (HTTP, WebSocket, health checks)', async () => {
    await until(() => gw.logs.some((l) => l.msg === 'upstream target failed its health checks; it gets no requests' && l.upstream === 'checked'), 'a failed check over TLS');
    assert.deepEqual(warnings.filter((w) => w.code === 'DEP0123').map((w) => w.message), []);
  });
});

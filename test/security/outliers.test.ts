// A client can not get a healthy target ejected (outlier_detection) or its transfer cut by being slow itself.
// The upstream timeout is the upstream's silence: a client that sends its body slowly, or reads the
// response slowly, is the client's delay. Timeouts under five seconds are kept by a timer of the gateway's
// own (proxy/precise-timeout.ts), which once counted from the connection, before the body was sent, and
// ran on while the client was not reading: any client could eject every target with half a body.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { configWith, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { closedAfterEach } from '../helpers/lifecycle.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';

let gw: TestGateway | undefined;
const closed = closedAfterEach();

const TIMEOUT_MS = 400;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Two targets under a public route, with a short timeout and an ejection on the first failure. */
async function gatewayWithTwoTargets(answer?: Parameters<Upstream['handle']>[0]): Promise<TestGateway> {
  const targets = await Promise.all([startUpstream('a'), startUpstream('b')]);
  targets.forEach(closed);
  if (answer !== undefined) for (const t of targets) t.handle(answer);
  gw = closed(await startTestGateway(
    configWith('', [{ name: 'all', prefix: '/', upstream: 'app', auth: 'public' }], {
      upstreams: {
        app: { targets: targets.map((t) => t.url), timeout: `${TIMEOUT_MS}ms`, outlier_detection: { consecutive_failures: 1, ejection_time: '30s' } },
      },
    }),
  ));
  return gw;
}

const ejections = (g: TestGateway) => g.logs.filter((l) => l.msg === 'upstream target ejected after consecutive failures');

/** Everything the server sends until it has sent `bytes` (or closed), read only from `readAfterMs` on. */
function exchange(port: number, parts: readonly (string | number)[], bytes: number, readAfterMs = 0): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let length = 0;
    const done = () => {
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      length += c.length;
      if (length >= bytes) done();
    });
    socket.on('close', done);
    socket.on('error', done);
    if (readAfterMs > 0) {
      socket.pause();
      setTimeout(() => socket.resume(), readAfterMs);
    }
    void (async () => {
      // Strings are written; numbers are pauses.
      for (const part of parts) if (typeof part === 'number') await sleep(part);
      else socket.write(part);
    })();
  });
}

test('a client that sends its body slowly gets its answer, and no healthy target is ejected for it', async () => {
  const g = await gatewayWithTwoTargets((_req, res, received) => res.end(`got ${received.body}`));
  // One such client per target (round robin): each pauses for twice the upstream timeout mid-body.
  const slow = (body: string) => exchange(g.port, [`POST /upload HTTP/1.1\r\nHost: gw\r\nContent-Length: 10\r\nConnection: close\r\n\r\n${body.slice(0, 5)}`, TIMEOUT_MS * 2, body.slice(5)], 1e6);
  const replies = await Promise.all([slow('hello12345'), slow('world67890')]);
  for (const reply of replies) assert.match(reply, /^HTTP\/1\.1 200 /, `the client gets its answer, not a 504: ${reply.slice(0, 40)}`);
  assert.deepEqual(replies.map((r) => r.slice(r.indexOf('\r\n\r\n') + 4)).sort(), ['got hello12345', 'got world67890']);
  assert.deepEqual(ejections(g), [], 'no target was ejected for a client\'s slowness');
});

test('a client that reads a large response slowly gets all of it, and no healthy target is ejected for it', async () => {
  const body = Buffer.alloc(24 * 1024 * 1024, 'x');
  const g = await gatewayWithTwoTargets((_req, res) => {
    res.writeHead(200, { 'content-length': body.length });
    res.end(body);
  });
  // Far more than the sockets between upstream and client hold: the upstream is paused while the client
  // does not read, for three times the upstream timeout.
  const read = (path: string) => exchange(g.port, [`GET ${path} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n`], 1e9, TIMEOUT_MS * 3);
  const replies = await Promise.all([read('/download/1'), read('/download/2')]);
  for (const reply of replies) {
    assert.match(reply, /^HTTP\/1\.1 200 /);
    assert.equal(reply.length - (reply.indexOf('\r\n\r\n') + 4), body.length, 'the whole body arrived: the transfer was not cut');
  }
  assert.deepEqual(ejections(g), [], 'no target was ejected for a client\'s slowness');
  const lines = g.logs.filter((l) => l.msg === 'request');
  assert.deepEqual(lines.map((l) => [l.status, l.reason]), [[200, undefined], [200, undefined]]);
});

// Pipelined requests (several requests written before the first answer): each one that reaches an
// upstream is logged and counted exactly once, a client that hangs up aborts what it started, and no
// response of the gateway's own is ever written in the middle of another.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { accessLogs, startTestGateway, TEST_PROVIDER, type TestGateway } from '../helpers/gateway.ts';
import { raw, request } from '../helpers/http.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, what: string, tries = 200): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (check()) return;
    await sleep(10);
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe('pipelined requests', () => {
  let upstream: Upstream;
  let gw: TestGateway;
  /** Upstream requests to /slow/* whose client (the gateway) went away before they were answered. */
  let abandoned = 0;

  before(async () => {
    upstream = await startUpstream();
    upstream.handle((_req, res, r) => {
      const delay = r.url.startsWith('/slow') ? 300 : 0;
      let closed = false;
      res.on('close', () => {
        if (!res.writableFinished) closed = true;
      });
      setTimeout(() => {
        if (closed) {
          abandoned++;
          return;
        }
        const body = JSON.stringify({ url: r.url });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      }, delay);
    });
    gw = await startTestGateway({
      server: { host: '127.0.0.1' },
      providers: [TEST_PROVIDER],
      upstreams: { app: upstream.url },
      routes: [{ name: 'open', prefix: '/', upstream: 'app', auth: 'public' }],
    });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  const metrics = async () => (await request(gw.adminUrl, '/metrics')).body;
  const gauge = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);

  /** Five POSTs in one write, then a hang-up as soon as the upstream has the first. */
  async function fivePostsThenHangUp(tag: string): Promise<void> {
    const before = upstream.received.length;
    const socket = net.connect(gw.port, '127.0.0.1');
    socket.on('error', () => {});
    const post = (i: number) => `POST /slow/${tag}/${i} HTTP/1.1\r\nHost: gw\r\nContent-Length: 2\r\n\r\nhi`;
    socket.write([0, 1, 2, 3, 4].map(post).join(''));
    await until(() => upstream.received.length > before, 'the first request upstream');
    socket.destroy();
  }

  test('five pipelined POSTs then a hang-up: one log line and one metric per request upstream, each aborted, no gauge left behind', async () => {
    const abandonedBefore = abandoned;
    await fivePostsThenHangUp('a');
    await sleep(700); // past the upstream's delay: anything still running upstream has answered by now
    const ran = upstream.received.filter((r) => r.url.startsWith('/slow/a/'));
    const logged = accessLogs(gw.logs).filter((l) => String(l.path).startsWith('/slow/a/'));
    assert.ok(ran.length >= 1, 'the first request reached the upstream');
    assert.equal(logged.length, ran.length, `every request that reached the upstream has one log line (${ran.length} ran, ${logged.length} logged)`);
    assert.deepEqual(logged.map((l) => l.path).sort(), ran.map((r) => r.url).sort(), 'the log lines are those requests');
    assert.ok(logged.every((l) => l.status === 499 && l.aborted === true), 'each is logged as aborted by the client');
    assert.equal(abandoned - abandonedBefore, ran.length, 'every upstream request the client started was aborted');
    assert.equal(gauge(await metrics(), 'portcullis_requests_in_flight'), 0, 'the in-flight gauge is back to 0');
  });

  test('many aborted pipelines, then a reload: the gauge is 0 and the old config is released', async () => {
    for (let i = 0; i < 20; i++) await fivePostsThenHangUp(`many${i}`);
    assert.equal(await gw.rewrite(readFileSync(gw.file, 'utf8')), true, 'the reload succeeds');
    await sleep(700);
    const text = await metrics();
    assert.equal(gauge(text, 'portcullis_requests_in_flight'), 0, 'no request is left counted in flight');
    assert.equal(gauge(text, 'portcullis_configs_retained'), 0, 'no replaced config is still held');
  });

  test('HTTP/1.0 keep-alive: a response never says "close" while the next request already runs upstream', async () => {
    const before = upstream.received.length;
    const text = 'GET /slow/ka/1 HTTP/1.0\r\nHost: gw\r\nConnection: keep-alive\r\n\r\nGET /fast/ka/2 HTTP/1.0\r\nHost: gw\r\nConnection: keep-alive\r\n\r\n';
    const reply = await raw(gw.port, text, 1500);
    const ran = upstream.received.slice(before).map((r) => r.url);
    const responses = [...reply.matchAll(/HTTP\/1\.1 (\d{3})[^\r]*\r\n([\s\S]*?)\r\n\r\n/g)];
    assert.equal(responses.length, ran.length, `each request the upstream ran was answered (${ran.join(', ')}; reply ${JSON.stringify(reply.slice(0, 300))})`);
    const first = responses[0]?.[2] ?? '';
    if (/^connection: close$/im.test(first)) assert.deepEqual(ran, ['/slow/ka/1'], 'after a "close" answer, nothing more ran');
    else assert.deepEqual(ran, ['/slow/ka/1', '/fast/ka/2']);
  });

  test('a malformed request behind one in flight: the first response is complete and in order, then the 400', async () => {
    const before = upstream.received.length;
    const text = 'GET /slow/bad/1 HTTP/1.1\r\nHost: gw\r\n\r\nGET /x HTTP/1.1\r\nHost: gw\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n';
    const reply = await raw(gw.port, text, 1500);
    const statuses = [...reply.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]);
    assert.deepEqual(statuses, ['200', '400'], JSON.stringify(reply.slice(0, 400)));
    assert.match(reply, /^HTTP\/1\.1 200 [\s\S]*\{"url":"\/slow\/bad\/1"\}HTTP\/1\.1 400 /, 'the 200 is whole before the 400 begins');
    assert.deepEqual(upstream.received.slice(before).map((r) => r.url), ['/slow/bad/1']);
  });
});

describe('a WebSocket handshake pipelined behind a request', () => {
  test('is refused after the response in flight, which arrives whole and first; nothing is tunneled', async () => {
    const upstream = await startUpstream();
    const upgrades: string[] = [];
    upstream.server.on('upgrade', (req: { url?: string }, socket: net.Socket) => {
      upgrades.push(req.url ?? '');
      socket.destroy();
    });
    upstream.handle((_req, res) => setTimeout(() => res.end('slow'), 300));
    const gw = await startTestGateway({
      server: { host: '127.0.0.1' },
      providers: [TEST_PROVIDER],
      upstreams: { app: upstream.url },
      routes: [{ name: 'open', prefix: '/', upstream: 'app', auth: 'public' }],
    });
    try {
      const handshake =
        'GET /ws HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
        'Sec-WebSocket-Key: MDEyMzQ1Njc4OWFiY2RlZg==\r\nSec-WebSocket-Version: 13\r\n\r\n';
      const reply = await raw(gw.port, `GET /slow HTTP/1.1\r\nHost: gw\r\n\r\n${handshake}`, 1500);
      assert.match(reply, /^HTTP\/1\.1 200 [\s\S]*\r\n\r\nslowHTTP\/1\.1 400 [\s\S]*"error":"upgrade_pipelined"/, JSON.stringify(reply.slice(0, 400)));
      assert.deepEqual(upgrades, [], 'no handshake reached the upstream');
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
});

describe('a flood of pipelined requests', () => {
  let upstream: Upstream;
  let gw: TestGateway;
  /** The gateway's own server (it runs in this process), to count the requests it has parsed. */
  let parsed = 0;
  let release: (() => void) | undefined;

  before(async () => {
    upstream = await startUpstream();
    upstream.handle((_req, res, r) => {
      if (r.url === '/hold') release = () => res.end('held');
      else if (r.url === '/slow') setTimeout(() => res.end('slow'), 200);
      else res.end(r.url);
    });
    gw = await startTestGateway({
      server: { host: '127.0.0.1' },
      providers: [TEST_PROVIDER],
      upstreams: { app: upstream.url },
      routes: [{ name: 'open', prefix: '/', upstream: 'app', auth: 'public' }],
    });
    const servers = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().filter(
      (h): h is net.Server => h instanceof net.Server && (h.address() as net.AddressInfo | null)?.port === gw.port,
    );
    assert.equal(servers.length, 1);
    servers[0]!.prependListener('request', () => parsed++);
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  test('behind a response that takes its time, is not read ahead: the gateway holds at most one read of it, not the flood', async () => {
    const socket = net.connect(gw.port, '127.0.0.1');
    socket.on('error', () => {});
    const before = parsed;
    const count = 50_000; // 1.4 MB of 28-byte requests: before the fix, every one was parsed and held at once
    socket.write('GET /hold HTTP/1.1\r\nHost: gw\r\n\r\n' + 'GET /x HTTP/1.1\r\nHost: gw\r\n\r\n'.repeat(count));
    await until(() => release !== undefined, 'the first request upstream');
    await sleep(300);
    const held = parsed - before;
    // One read of the socket is 64 KB, about 2,300 such requests; the rest stays in the client's TCP buffers.
    assert.ok(held < count / 10, `${held} of ${count + 1} pipelined requests were parsed and held while the first was in flight`);
    release!();
    socket.destroy();
  });

  test('control: a pipeline deeper than the gateway reads ahead, sent in several writes, is answered whole and in order', async () => {
    const socket = net.connect(gw.port, '127.0.0.1');
    let reply = '';
    socket.on('data', (c: Buffer) => (reply += c.toString('latin1')));
    socket.on('error', () => {});
    const paths = Array.from({ length: 200 }, (_, i) => `/deep/${i}`);
    socket.write('GET /slow HTTP/1.1\r\nHost: gw\r\n\r\n');
    // Each write is a read of its own: the gateway stops reading after the first ones and must read on.
    for (let i = 0; i < paths.length; i += 20) {
      socket.write(paths.slice(i, i + 20).map((p) => `GET ${p} HTTP/1.1\r\nHost: gw\r\n\r\n`).join(''));
      await sleep(10);
    }
    await until(() => (reply.match(/HTTP\/1\.1 /g) ?? []).length === paths.length + 1, 'every response', 1000);
    socket.destroy();
    const bodies = [...reply.matchAll(/HTTP\/1\.1 200 [^]*?\r\n\r\n([^H]*)/g)].map((m) => m[1]);
    assert.deepEqual(bodies, ['slow', ...paths]);
  });
});

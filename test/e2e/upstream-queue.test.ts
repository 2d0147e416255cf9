// Requests that wait for a free upstream connection (upstreams.X.max_connections): each still reaches
// the upstream at exactly the path its route was matched on (before: a request queued behind a full pool
// went out with the target's base path, whatever the client asked for), and waits at most queue_timeout.
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, test } from 'node:test';
import { accessLogs, configWith, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { request } from '../helpers/http.ts';
import { startUpstream } from '../helpers/upstream.ts';
import { sample, until } from '../helpers/wait.ts';

test('a request queued behind a full upstream pool is sent to its own path, not the target\'s base path', async () => {
  const upstream = await startUpstream();
  const held: (() => void)[] = [];
  upstream.handle((req, res) => {
    if (req.url === '/base/first') held.push(() => res.end('first'));
    else res.end(`served ${req.url}`);
  });
  const gw = await startTestGateway({
    ...configWith(upstream.url, [{ name: 'all', prefix: '/', upstream: 'app', auth: 'public' }]),
    // One connection: the second request waits for the first to finish.
    upstreams: { app: { targets: [`${upstream.url}/base/`], max_connections: 1 } },
  });
  try {
    const first = request(gw.url, '/first');
    for (let i = 0; i < 500 && held.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(held.length, 1, 'the first request reached the upstream');
    const second = request(gw.url, '/second/item?x=1');
    await new Promise((r) => setTimeout(r, 100)); // the second one is queued for the connection by now
    assert.equal(upstream.received.length, 1, 'max_connections: 1 holds the second request back');
    held[0]!();
    assert.equal((await first).body, 'first');
    assert.equal((await second).body, 'served /base/second/item?x=1');
    assert.deepEqual(upstream.received.map((r) => r.url), ['/base/first', '/base/second/item?x=1']);
  } finally {
    await gw.close();
    await upstream.close();
  }
});

describe('queue_timeout', () => {
  test('a request that finds no free connection within queue_timeout gets 503 upstream_overloaded; the queue drains after', async () => {
    const upstream = await startUpstream();
    const held: (() => void)[] = [];
    upstream.handle((req, res) => {
      if (req.url === '/slow') held.push(() => res.end('slow done'));
      else res.end(`served ${req.url}`);
    });
    const gw = await startTestGateway({
      ...configWith(upstream.url, [{ name: 'all', prefix: '/', upstream: 'app', auth: 'public' }]),
      upstreams: { app: { targets: [upstream.url], max_connections: 1, queue_timeout: '1s' } },
    });
    try {
      const slow = request(gw.url, '/slow');
      await until(() => held.length === 1, 'the slow request to hold the only connection');
      const refused = await request(gw.url, '/waits-too-long');
      assert.equal(refused.status, 503);
      assert.equal(refused.json().error, 'upstream_overloaded');
      assert.ok(!upstream.received.some((r) => r.url === '/waits-too-long'), 'the refused request never reached the upstream');
      const line = accessLogs(gw.logs).find((l) => l.path === '/waits-too-long')!;
      assert.equal(line.reason, 'upstream_overloaded');
      assert.equal(await pending(gw), 0, 'the refused request left the queue');

      const queued = request(gw.url, '/queued');
      await until(async () => (await pending(gw)) === 1, 'the next request to wait in the queue');
      held[0]!();
      assert.equal((await slow).body, 'slow done');
      assert.equal((await queued).body, 'served /queued', 'a request that got the connection in time is served');
      assert.equal((await request(gw.url, '/after')).body, 'served /after');
      assert.equal(await pending(gw), 0);
      const metrics = (await request(gw.adminUrl, '/metrics')).body;
      assert.ok(sample(metrics, 'portcullis_upstream_queue_wait_seconds_count', 'upstream="app"') >= 1, 'the wait is measured');
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
});

describe('a client that gives up while queued', () => {
  test('leaves the queue at once: the pending gauge drops and the upstream never gets its request', async () => {
    const upstream = await startUpstream();
    const held: (() => void)[] = [];
    upstream.handle((req, res) => {
      if (req.url === '/slow') held.push(() => res.end('slow done'));
      else res.end(`served ${req.url}`);
    });
    const gw = await startTestGateway({
      ...configWith(upstream.url, [{ name: 'all', prefix: '/', upstream: 'app', auth: 'public' }]),
      upstreams: { app: { targets: [upstream.url], max_connections: 1, queue_timeout: '30s' } },
    });
    try {
      const slow = request(gw.url, '/slow');
      await until(() => held.length === 1, 'the slow request to hold the only connection');
      const quitter = net.connect(gw.port, '127.0.0.1');
      quitter.on('error', () => {});
      quitter.write('GET /gave-up HTTP/1.1\r\nHost: gw\r\n\r\n');
      await until(async () => (await pending(gw)) === 1, 'the request to wait in the queue');
      quitter.destroy();
      // Before: it stayed in the queue (and counted as pending) until the connection came free.
      await until(async () => (await pending(gw)) === 0, 'the abandoned request to leave the queue');
      await until(() => accessLogs(gw.logs).some((l) => l.path === '/gave-up'), 'its log line');
      assert.equal(accessLogs(gw.logs).find((l) => l.path === '/gave-up')!.status, 499);
      held[0]!();
      assert.equal((await slow).body, 'slow done');
      assert.equal((await request(gw.url, '/next')).body, 'served /next');
      assert.ok(!upstream.received.some((r) => r.url === '/gave-up'));
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
});

async function pending(gw: TestGateway): Promise<number> {
  return sample((await request(gw.adminUrl, '/metrics')).body, 'portcullis_upstream_pending_requests', 'upstream="app"');
}

describe('clients that send a small body slowly', () => {
  test('hold no upstream connection: with every one of max_connections taken by them, others are still served', async () => {
    const upstream = await startUpstream();
    const gw = await startTestGateway({
      ...configWith(upstream.url, [{ name: 'all', prefix: '/', upstream: 'app', auth: 'public' }]),
      upstreams: { app: { targets: [upstream.url], max_connections: 2, queue_timeout: '300ms' } },
    });
    const slow: net.Socket[] = [];
    try {
      // Four clients declare 100 bytes and send one: the gateway reads small bodies whole before it takes
      // a connection, so none of them holds one of the two.
      for (let i = 0; i < 4; i++) {
        const socket = net.connect(gw.port, '127.0.0.1');
        socket.on('error', () => {});
        socket.write(`POST /slow/${i} HTTP/1.1\r\nHost: gw\r\nContent-Length: 100\r\n\r\nx`);
        slow.push(socket);
      }
      await new Promise((r) => setTimeout(r, 200));
      for (let i = 0; i < 3; i++) {
        const res = await request(gw.url, `/fast/${i}`);
        assert.equal(res.status, 200, `request ${i}: ${res.body}`);
      }
      assert.equal(upstream.received.filter((r) => r.url.startsWith('/slow/')).length, 0, 'no incomplete body went upstream');
      // Once a slow client finishes, its request goes through whole.
      slow[0]!.write('y'.repeat(99));
      await until(() => upstream.received.some((r) => r.url === '/slow/0'), 'the completed request upstream');
      assert.equal(upstream.received.find((r) => r.url === '/slow/0')!.body, 'x' + 'y'.repeat(99));
    } finally {
      for (const socket of slow) socket.destroy();
      await gw.close();
      await upstream.close();
    }
  });
});

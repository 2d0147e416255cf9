// Requests that wait for a free upstream connection: each still reaches the upstream at exactly the path
// its route was matched on. (Before: a request queued behind a full pool went out with the target's base
// path, "/", whatever the client asked for.)
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { Forwarder } from '../../src/proxy/forward.ts';
import { createTarget } from '../../src/proxy/upstream.ts';
import { request } from '../helpers/http.ts';
import { startUpstream } from '../helpers/upstream.ts';

test('a request queued behind a full upstream pool is sent to its own path, not the target\'s base path', async () => {
  const upstream = await startUpstream();
  const held: (() => void)[] = [];
  upstream.handle((req, res) => {
    if (req.url === '/base/first') held.push(() => res.end('first'));
    else res.end(`served ${req.url}`);
  });
  // One connection to the upstream: the second request waits for the first to finish.
  const target = createTarget(`${upstream.url}/base/`, true, 1);
  const forwarder = new Forwarder({ onUpstreamError: (_kind, _req, res) => void (res as http.ServerResponse).writeHead(502).end() });
  const gateway = http.createServer((req, res) => forwarder.web(req, res, target, 5000));
  await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(gateway.address() as { port: number }).port}`;
  try {
    const first = request(url, '/first');
    for (let i = 0; i < 500 && held.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(held.length, 1, 'the first request reached the upstream');
    const second = request(url, '/second/item?x=1');
    await new Promise((r) => setTimeout(r, 100)); // the second one is queued in the agent by now
    held[0]!();
    assert.equal((await first).body, 'first');
    assert.equal((await second).body, 'served /base/second/item?x=1');
    assert.deepEqual(upstream.received.map((r) => r.url), ['/base/first', '/base/second/item?x=1']);
  } finally {
    gateway.close();
    target.proxyOptions.agent.destroy();
    await upstream.close();
  }
});

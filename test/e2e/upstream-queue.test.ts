// Requests that wait for a free upstream connection (upstreams.X.max_connections): each still reaches
// the upstream at exactly the path its route was matched on. (Before: a request queued behind a full pool
// went out with the target's base path, whatever the client asked for.)
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configWith, startTestGateway } from '../helpers/gateway.ts';
import { request } from '../helpers/http.ts';
import { startUpstream } from '../helpers/upstream.ts';

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

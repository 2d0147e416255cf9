// Routing: first match wins, exact paths with parameters, segment-aware prefixes, methods (405 with
// Allow, HEAD with GET), hosts, strip_prefix, and the normalized path that both matching and the
// upstream use.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { configWith, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { raw, request, statusOf } from '../helpers/http.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';

describe('routing', () => {
  let orders: Upstream;
  let admin: Upstream;
  let gw: TestGateway;

  before(async () => {
    orders = await startUpstream('orders');
    admin = await startUpstream('admin');
    const config = configWith(orders.url, [
      { name: 'health', path: '/healthz', methods: ['GET'], upstream: 'app', auth: 'public' },
      { name: 'order', path: '/api/orders/:id', methods: ['GET', 'DELETE'], upstream: 'app', auth: 'public' },
      { name: 'orders', prefix: '/api/orders', methods: ['POST'], upstream: 'app', auth: 'public' },
      { name: 'admin-host', prefix: '/', host: 'admin.example.com', upstream: 'admin', auth: 'public', strip_prefix: false },
      { name: 'tenants', prefix: '/tenants/:tenant', upstream: 'admin', auth: 'public', strip_prefix: true },
      { name: 'wild', prefix: '/w', host: '*.example.org', upstream: 'admin', auth: 'public' },
      { name: 'files', prefix: '/files/', upstream: 'app', auth: 'public', strip_prefix: true },
    ]);
    (config.upstreams as Record<string, string>).admin = admin.url;
    gw = await startTestGateway(config);
  });
  after(async () => {
    await gw.close();
    await orders.close();
    await admin.close();
  });

  const last = (u: Upstream) => u.received.at(-1)!;

  test('an exact path with a parameter matches one segment only', async () => {
    assert.equal((await request(gw.url, '/api/orders/42')).status, 200);
    assert.equal(last(orders).url, '/api/orders/42');
    assert.equal((await request(gw.url, '/api/orders/42/items')).status, 405);
    assert.equal((await request(gw.url, '/api/orders/')).status, 405);
  });

  test('a prefix is segment-aware: /api/ordersX is not under /api/orders', async () => {
    assert.equal((await request(gw.url, '/api/orders', { method: 'POST' })).status, 200);
    assert.equal((await request(gw.url, '/api/orders/7/items', { method: 'POST' })).status, 200);
    const before = orders.received.length;
    assert.equal((await request(gw.url, '/api/ordersX', { method: 'POST' })).status, 404);
    assert.equal(orders.received.length, before);
  });

  test('a path served only for other methods is 405 with Allow listing them', async () => {
    const res = await request(gw.url, '/api/orders/42', { method: 'PUT' });
    assert.equal(res.status, 405);
    assert.equal(res.headers.allow, 'DELETE, GET, HEAD, POST');
    assert.equal(res.json().error, 'method_not_allowed');
  });

  test('HEAD goes where GET goes', async () => {
    const res = await request(gw.url, '/healthz', { method: 'HEAD' });
    assert.equal(res.status, 200);
    assert.equal(last(orders).method, 'HEAD');
  });

  test('unmatched paths are 404 with a JSON error', async () => {
    const res = await request(gw.url, '/nowhere');
    assert.equal(res.status, 404);
    assert.equal(res.json().error, 'no_route');
  });

  test('host routes match the Host header without port, case or trailing dot; wildcards match subdomains', async () => {
    assert.equal((await request(gw.url, '/anything', { headers: { host: 'Admin.Example.com.:8080' } })).status, 200);
    assert.equal(last(admin).url, '/anything');
    assert.equal((await request(gw.url, '/w/1', { headers: { host: 'api.example.org' } })).status, 200);
    assert.equal((await request(gw.url, '/w/1', { headers: { host: 'example.org' } })).status, 404);
  });

  test('strip_prefix removes the matched prefix, parameters included', async () => {
    assert.equal((await request(gw.url, '/tenants/acme/users?page=2')).status, 200);
    assert.equal(last(admin).url, '/users?page=2');
    assert.equal((await request(gw.url, '/tenants/acme')).status, 200);
    assert.equal(last(admin).url, '/');
    assert.equal((await request(gw.url, '/files/a/b.txt')).status, 200);
    assert.equal(last(orders).url, '/a/b.txt');
  });

  test('the upstream receives the normalized path: dot segments resolved (encoded too), slashes merged', async () => {
    const cases: [string, string][] = [
      ['/api/x/../orders/5', '/api/orders/5'],
      ['/api/orders/%2e/5', '/api/orders/5'],
      ['/api/orders/%2E%2e/orders/6', '/api/orders/6'],
      ['//api///orders//7', '/api/orders/7'],
      ['/api/orders/./8?x=1', '/api/orders/8?x=1'],
      ['/%61pi/orders/9', '/api/orders/9'],
    ];
    for (const [sent, expected] of cases) {
      const res = await request(gw.url, sent);
      assert.equal(res.status, 200, sent);
      assert.equal(last(orders).url, expected, sent);
    }
  });

  test('encoded slashes, backslashes and climbing above the root are 400 and reach nobody', async () => {
    const before = orders.received.length + admin.received.length;
    for (const path of ['/api/orders%2F5', '/api/orders/%5c5', '/api\\orders/5', '/../api/orders/5', '/api/%2e%2e/%2e%2e/x']) {
      const res = await request(gw.url, path);
      assert.equal(res.status, 400, path);
      assert.match(res.json().error as string, /^path_/, path);
    }
    assert.equal(orders.received.length + admin.received.length, before);
  });

  test('a request target that is not a path is refused', async () => {
    const res = await raw(gw.port, 'GET http://admin.example.com/anything HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(statusOf(res), 400);
  });
});

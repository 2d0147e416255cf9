// Operating the gateway: the admin port's probes and metrics, and process life (draining, idle
// keep-alive connections, the shutdown timeout, a second signal).
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { startCli } from '../helpers/cli.ts';
import { configWith, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { bearer, raw, request } from '../helpers/http.ts';
import { publicJwk, rsaKeyPair, sign, tempDir, writeFile } from '../helpers/keys.ts';
import { startJwksServer, type JwksServer } from '../helpers/jwks.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';

function sample(metrics: string, name: string, labels: string): number {
  const line = metrics.split('\n').find((l) => l.startsWith(`${name}{${labels}}`) || (labels === '' && l.startsWith(`${name} `)));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

describe('admin port', () => {
  let upstream: Upstream;
  let idp: JwksServer;
  let gw: TestGateway;

  before(async () => {
    upstream = await startUpstream();
    idp = await startJwksServer([await publicJwk(rsaKeyPair(), 'k1')]);
    const refused = net.createServer();
    await new Promise<void>((r) => refused.listen(0, '127.0.0.1', r));
    const deadPort = (refused.address() as net.AddressInfo).port;
    await new Promise<void>((r) => refused.close(() => r()));
    gw = await startTestGateway({
      ...configWith(upstream.url, [
        { name: 'orders', prefix: '/orders', upstream: 'app', roles: ['reader'] },
        { name: 'down', prefix: '/down', upstream: 'down', auth: 'public' },
        { name: 'slow', prefix: '/slow', upstream: 'app', auth: 'public', timeout: '200ms' },
      ]),
      providers: [{ name: 'test', issuer: 'test', audience: 'api', secret: 'test-secret-that-is-long-enough-0123456789' }, { name: 'corp', issuer: 'corp', jwks_uri: idp.jwksUri, jwks_cooldown: '0s' }],
      upstreams: { app: upstream.url, down: `http://127.0.0.1:${deadPort}` },
    });
    for (let i = 0; i < 100 && !gw.running.readiness().ready; i++) await new Promise((r) => setTimeout(r, 20));
  });
  after(async () => {
    await gw.close();
    await upstream.close();
    await idp.close();
  });

  test('/healthz answers 200 while the process runs; unknown admin paths are 404', async () => {
    const res = await request(gw.adminUrl, '/healthz');
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), { status: 'ok' });
    assert.equal((await request(gw.adminUrl, '/nope')).status, 404);
  });

  test('/metrics counts requests that Node\'s parser refuses (malformed, oversized) like any other', async () => {
    const count = async () => sample((await request(gw.adminUrl, '/metrics')).body, 'portcullis_requests_total', 'route="none",method="OTHER",status_class="4xx"');
    const before = await count();
    await raw(gw.port, 'GET /x HTTP/1.1\r\nHost: gw\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n', 500);
    assert.equal(await count(), before + 1);
  });

  test('/readyz answers 200 once every provider has keys', async () => {
    const res = await request(gw.adminUrl, '/readyz');
    assert.equal(res.status, 200, res.body);
  });

  test('/metrics counts requests by route, method and status class, durations, denials, upstream errors, JWKS fetches, in-flight', async () => {
    const good = await sign({ iss: 'test', aud: 'api', sub: 'a', roles: ['reader'] });
    const weak = await sign({ iss: 'test', aud: 'api', sub: 'a', roles: ['guest'] });
    await request(gw.url, '/orders/1', { headers: bearer(good) });
    await request(gw.url, '/orders/1', { headers: bearer(good) });
    await request(gw.url, '/orders/1', { headers: bearer(weak) });
    await request(gw.url, '/orders/1');
    await request(gw.url, '/down/x');
    upstream.handle(() => {});
    await request(gw.url, '/slow/x');
    upstream.handle((_req, res) => res.end('ok'));
    const res = await request(gw.adminUrl, '/metrics');
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'] as string, /^text\/plain/);
    const m = res.body;
    assert.equal(sample(m, 'portcullis_requests_total', 'route="orders",method="GET",status_class="2xx"'), 2);
    assert.equal(sample(m, 'portcullis_requests_total', 'route="orders",method="GET",status_class="4xx"'), 2);
    assert.equal(sample(m, 'portcullis_request_duration_seconds_count', 'route="orders"'), 4);
    assert.equal(sample(m, 'portcullis_auth_denials_total', 'reason="insufficient_role"'), 1);
    assert.equal(sample(m, 'portcullis_auth_denials_total', 'reason="token_missing"'), 1);
    assert.equal(sample(m, 'portcullis_upstream_errors_total', 'upstream="down",kind="unavailable"'), 1);
    assert.equal(sample(m, 'portcullis_upstream_errors_total', 'upstream="app",kind="timeout"'), 1);
    assert.ok(sample(m, 'portcullis_jwks_fetches_total', 'provider="corp",result="success"') >= 1);
    assert.match(m, /^portcullis_requests_in_flight 0$/m);
    assert.match(m, /^portcullis_process_resident_memory_bytes \d+/m);
  });

  test('JWKS failures are counted by provider', async () => {
    idp.down = true;
    try {
      const forged = await sign({ iss: 'corp', sub: 'x' }, { alg: 'RS256', key: rsaKeyPair().privateKey, header: { kid: 'unknown' } });
      await new Promise((r) => setTimeout(r, 50));
      await request(gw.url, '/orders/1', { headers: bearer(forged) });
      const m = (await request(gw.adminUrl, '/metrics')).body;
      assert.ok(sample(m, 'portcullis_jwks_fetches_total', 'provider="corp",result="failure"') >= 1, m);
    } finally {
      idp.down = false;
    }
  });
});

/** The promise's value, or "still waiting after N ms": a bound for things that would otherwise hang the test. */
function within<T>(ms: number, promise: Promise<T>): Promise<T | string> {
  return Promise.race([promise, new Promise<string>((r) => setTimeout(() => r(`still waiting after ${ms} ms`), ms).unref())]);
}

describe('process life', () => {
  const start = async (upstreamUrl: string, server: object = {}) => {
    const file = writeFile(tempDir(), 'gateway.yaml', stringify(configWith(upstreamUrl, [{ name: 'all', prefix: '/', upstream: 'app', auth: 'public' }], { server })));
    const gw = startCli(['--config', file, '--port', '0', '--admin-port', '0']);
    const listening = await gw.waitFor((l) => l.msg === 'portcullis listening');
    return { gw, port: listening.port as number, admin: listening.admin_port as number };
  };

  test('while draining, /readyz says so and idle keep-alive connections are closed; then exit 0', async () => {
    const upstream = await startUpstream();
    let release!: () => void;
    upstream.handle((req, res) => {
      if (req.url === '/slow') release = () => res.end('done');
      else res.end('ok');
    });
    const { gw, port, admin } = await start(upstream.url, { keep_alive_timeout: '1h', shutdown_timeout: '1h' });
    try {
      const idle = net.connect(port, '127.0.0.1');
      await new Promise<void>((r) => idle.once('connect', () => r()));
      idle.write('GET /idle HTTP/1.1\r\nHost: x\r\n\r\n');
      await new Promise<void>((r) => idle.once('data', () => r()));
      const idleClosed = new Promise<void>((r) => idle.once('close', () => r()));
      const keepAlive = new http.Agent({ keepAlive: true });
      const inFlight = request(`http://127.0.0.1:${port}`, '/slow', { agent: keepAlive });
      while (!release) await new Promise((r) => setTimeout(r, 10));
      gw.child.kill('SIGTERM');
      await gw.waitFor((l) => l.msg === 'draining: finishing in-flight requests');
      await idleClosed; // the idle keep-alive connection is not left to time out (keep_alive_timeout is 1h)
      const ready = await request(`http://127.0.0.1:${admin}`, '/readyz');
      assert.equal(ready.status, 503);
      assert.match(ready.body, /shutting down/);
      release();
      const res = await inFlight;
      assert.equal(res.status, 200);
      // The client is told not to send its next request on this connection, which is about to close.
      assert.equal(res.headers.connection, 'close');
      keepAlive.destroy();
      assert.equal(await gw.exited, 0);
    } finally {
      gw.child.kill('SIGKILL');
      await upstream.close();
    }
  });

  test('a request still running at shutdown_timeout is cut, and the process exits 0', async () => {
    const upstream = await startUpstream();
    upstream.handle(() => {});
    const { gw, port } = await start(upstream.url, { shutdown_timeout: '300ms' });
    try {
      const client = http.get({ host: '127.0.0.1', port, path: '/forever', agent: false });
      const cut = new Promise<void>((r) => client.on('error', () => r()).on('response', (res) => res.on('close', () => r())));
      while (upstream.received.length === 0) await new Promise((r) => setTimeout(r, 10));
      gw.child.kill('SIGTERM');
      await cut;
      // Bounded by shutdown_timeout (300ms), not by the 10 s default: still running after 8 s means it was ignored.
      assert.equal(await within(8000, gw.exited), 0);
    } finally {
      gw.child.kill('SIGKILL');
      await upstream.close();
    }
  });

  test('an open WebSocket connection does not hold up shutdown past shutdown_timeout', async () => {
    const upstream = await startUpstream();
    upstream.server.on('upgrade', (_req, socket: net.Socket) => {
      socket.on('error', () => {});
      socket.resume(); // reads, so that it sees the gateway close the tunnel
      socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    });
    const { gw, port } = await start(upstream.url, { shutdown_timeout: '300ms' });
    try {
      const client = net.connect(port, '127.0.0.1');
      client.on('error', () => {});
      const closed = new Promise<void>((r) => client.once('close', () => r()));
      const key = Buffer.from('0123456789abcdef').toString('base64');
      client.write(`GET /ws HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
      await new Promise<void>((r) => client.once('data', (c: Buffer) => (assert.match(c.toString(), /^HTTP\/1.1 101/), r())));
      gw.child.kill('SIGTERM');
      assert.equal(await within(8000, closed.then(() => 'closed')), 'closed');
      assert.equal(await within(8000, gw.exited), 0);
    } finally {
      gw.child.kill('SIGKILL');
      await upstream.close();
    }
  });

  test('a second signal exits at once, without waiting for in-flight requests', async () => {
    const upstream = await startUpstream();
    upstream.handle(() => {});
    const { gw, port } = await start(upstream.url, { shutdown_timeout: '1h' });
    try {
      http.get({ host: '127.0.0.1', port, path: '/forever', agent: false }).on('error', () => {});
      while (upstream.received.length === 0) await new Promise((r) => setTimeout(r, 10));
      gw.child.kill('SIGTERM');
      await gw.waitFor((l) => l.msg === 'draining: finishing in-flight requests');
      gw.child.kill('SIGINT');
      assert.equal(await gw.exited, 1);
      assert.ok(gw.lines.some((l) => l.msg === 'second signal: exiting without waiting'));
    } finally {
      gw.child.kill('SIGKILL');
      await upstream.close();
    }
  });
});

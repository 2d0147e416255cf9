// Forwarding: what the upstream receives (identity headers it can trust, forwarding headers, request
// ids, no hop-by-hop headers), and how upstream failures look to the client.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { configWith, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { bearer, raw, request } from '../helpers/http.ts';
import { sign } from '../helpers/keys.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';

const token = () => sign({ iss: 'test', aud: 'api', sub: 'alice', roles: ['reader'], email: 'a@example.com' });

describe('identity and forwarding headers', () => {
  let upstream: Upstream;
  let gw: TestGateway;
  before(async () => {
    upstream = await startUpstream();
    gw = await startTestGateway(
      configWith(upstream.url, [
        { name: 'open', prefix: '/open', upstream: 'app', auth: 'public' },
        { name: 'app', prefix: '/', upstream: 'app' },
      ]),
    );
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  const last = () => upstream.received.at(-1)!;

  test('client-sent identity headers never reach the upstream, in any case or underscore spelling', async () => {
    const headers: [string, string][] = [
      ['Authorization', `Bearer ${await token()}`],
      ['X-User-Id', 'mallory'],
      ['x-user-id', 'mallory2'],
      ['X_User_Id', 'mallory3'],
      ['x-user_roles', 'admin'],
      ['X-USER-EMAIL', 'mallory@evil'],
    ];
    const res = await request(gw.url, '/x', { headers });
    assert.equal(res.status, 200);
    const seen = last();
    assert.equal(seen.headers['x-user-id'], 'alice');
    assert.equal(seen.headers['x-user-roles'], 'reader');
    assert.equal(seen.headers['x-user-email'], 'a@example.com');
    const names = seen.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    assert.ok(!names.some((n) => n.includes('_')), `underscore spellings reached the upstream: ${names.join(',')}`);
    assert.equal(names.filter((n) => n === 'x-user-id').length, 1);
    assert.ok(!JSON.stringify(seen.rawHeaders).includes('mallory'));
  });

  test('a Connection header naming identity headers can not remove the ones the gateway sets', async () => {
    const res = await request(gw.url, '/x', {
      headers: { ...bearer(await token()), connection: 'keep-alive, X-User-Id, X-User-Roles, X-Request-Id' },
    });
    assert.equal(res.status, 200);
    assert.equal(last().headers['x-user-id'], 'alice');
    assert.equal(last().headers['x-user-roles'], 'reader');
    assert.ok(last().headers['x-request-id']);
  });

  test('hop-by-hop headers, and headers the client lists in Connection, are not forwarded', async () => {
    await request(gw.url, '/open/x', {
      headers: {
        connection: 'close, X-Secret-Hop',
        'x-secret-hop': 'drop me',
        'keep-alive': 'timeout=99',
        te: 'trailers',
        'proxy-authorization': 'Basic cHJveHk6cHc=',
        'proxy-connection': 'keep-alive',
        upgrade: 'h2c',
      },
    });
    const seen = last().headers;
    for (const name of ['x-secret-hop', 'keep-alive', 'te', 'proxy-authorization', 'proxy-connection', 'upgrade']) {
      assert.equal(seen[name], undefined, name);
    }
    assert.notEqual(seen.connection, 'close');
  });

  test('X-Forwarded-For/-Proto/-Host are set by the gateway; an untrusted client\'s are replaced', async () => {
    await request(gw.url, '/open/x', {
      headers: { 'x-forwarded-for': '6.6.6.6', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example', forwarded: 'for=6.6.6.6', 'x-real-ip': '6.6.6.6', host: 'shop.example.com' },
    });
    const seen = last().headers;
    assert.equal(seen['x-forwarded-for'], '127.0.0.1');
    assert.equal(seen['x-forwarded-proto'], 'http');
    assert.equal(seen['x-forwarded-host'], 'shop.example.com');
    assert.equal(seen.forwarded, undefined);
    assert.equal(seen['x-real-ip'], undefined);
  });

  test('X-Request-Id: a sane one is kept, returned and forwarded; anything else is replaced', async () => {
    const kept = await request(gw.url, '/open/x', { headers: { 'x-request-id': 'abc-123_x.y' } });
    assert.equal(kept.headers['x-request-id'], 'abc-123_x.y');
    assert.equal(last().headers['x-request-id'], 'abc-123_x.y');
    const replaced = await request(gw.url, '/open/x', { headers: { 'x-request-id': 'bad id <script>' } });
    assert.match(replaced.headers['x-request-id'] as string, /^[0-9a-f-]{36}$/);
    assert.equal(last().headers['x-request-id'], replaced.headers['x-request-id']);
    const line = gw.logs.find((l) => l.msg === 'request' && l.req_id === replaced.headers['x-request-id']);
    assert.ok(line, 'the access log line carries the request id');
  });

  test('the Authorization header is kept by default', async () => {
    const t = await token();
    await request(gw.url, '/x', { headers: bearer(t) });
    assert.equal(last().headers.authorization, `Bearer ${t}`);
  });

  test('Expect: 100-continue is answered only once the request is allowed', async () => {
    const head = (path: string, auth: string) =>
      `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n${auth}Connection: close\r\n\r\n`;
    const before = upstream.received.length;
    const denied = await raw(gw.port, head('/x', ''), 500);
    assert.match(denied, /^HTTP\/1\.1 401 /);
    assert.equal(upstream.received.length, before);

    const allowed = await new Promise<string>((resolve) => {
      const socket = net.connect(gw.port, '127.0.0.1');
      let text = '';
      socket.on('data', (c: Buffer) => {
        text += c.toString('latin1');
        if (text.startsWith('HTTP/1.1 100 Continue\r\n\r\n') && !text.includes('200')) socket.write('hello');
      });
      socket.on('close', () => resolve(text));
      void token().then((t) => socket.write(head('/x', `Authorization: Bearer ${t}\r\n`)));
    });
    assert.match(allowed, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
    assert.equal(last().body, 'hello');
    assert.equal(last().headers.expect, undefined);
  });

  test('method override and URL rewrite headers are never forwarded', async () => {
    await request(gw.url, '/open/x', {
      method: 'POST',
      headers: { 'x-http-method-override': 'DELETE', 'x-method-override': 'DELETE', 'x-original-url': '/admin', 'x-rewrite-url': '/admin' },
    });
    const seen = last().headers;
    for (const name of ['x-http-method-override', 'x-method-override', 'x-original-url', 'x-rewrite-url']) assert.equal(seen[name], undefined, name);
  });
});

describe('trusted proxies and authorization: strip', () => {
  test('trust_proxy keeps and extends X-Forwarded-For from trusted addresses only', async () => {
    const upstream = await startUpstream();
    const trusted = await startTestGateway(configWith(upstream.url, [{ name: 'open', prefix: '/', upstream: 'app', auth: 'public' }], { server: { trust_proxy: ['127.0.0.0/8'] } }));
    const untrusted = await startTestGateway(configWith(upstream.url, [{ name: 'open', prefix: '/', upstream: 'app', auth: 'public' }], { server: { trust_proxy: ['10.0.0.0/8'] } }));
    try {
      await request(trusted.url, '/x', { headers: { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https' } });
      assert.equal(upstream.received.at(-1)!.headers['x-forwarded-for'], '203.0.113.9, 127.0.0.1');
      assert.equal(upstream.received.at(-1)!.headers['x-forwarded-proto'], 'https');
      await request(untrusted.url, '/x', { headers: { 'x-forwarded-for': '203.0.113.9' } });
      assert.equal(upstream.received.at(-1)!.headers['x-forwarded-for'], '127.0.0.1');
    } finally {
      await trusted.close();
      await untrusted.close();
      await upstream.close();
    }
  });

  test('forward.authorization: strip keeps the token away from the upstream', async () => {
    const upstream = await startUpstream();
    const gw = await startTestGateway(configWith(upstream.url, [{ name: 'app', prefix: '/', upstream: 'app' }], { forward: { headers: { 'X-User-Id': 'sub' }, authorization: 'strip' } }));
    try {
      const res = await request(gw.url, '/x', { headers: bearer(await token()) });
      assert.equal(res.status, 200);
      assert.equal(upstream.received.at(-1)!.headers.authorization, undefined);
      assert.equal(upstream.received.at(-1)!.headers['x-user-id'], 'alice');
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
});

describe('upstream failures, streaming and connections', () => {
  let upstream: Upstream;
  let second: Upstream;
  let gw: TestGateway;
  let refusedPort: number;

  before(async () => {
    upstream = await startUpstream('one');
    second = await startUpstream('two');
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    refusedPort = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    gw = await startTestGateway({
      ...configWith(upstream.url, [
        { name: 'down', prefix: '/down', upstream: 'down', auth: 'public' },
        { name: 'slow', prefix: '/slow', upstream: 'app', auth: 'public', timeout: '300ms' },
        { name: 'pair', prefix: '/pair', upstream: 'pair', auth: 'public' },
        { name: 'app', prefix: '/', upstream: 'app', auth: 'public' },
      ]),
      upstreams: { app: upstream.url, down: `http://127.0.0.1:${refusedPort}`, pair: { targets: [upstream.url, second.url] } },
    });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
    await second.close();
  });

  test('an upstream that refuses connections: 502 upstream_unavailable', async () => {
    const res = await request(gw.url, '/down/x');
    assert.equal(res.status, 502);
    assert.equal(res.json().error, 'upstream_unavailable');
    assert.equal(res.json().request_id, res.headers['x-request-id']);
    assert.ok(!res.body.includes(String(refusedPort)), 'the error does not reveal the upstream address');
    const line = gw.logs.findLast((l) => l.msg === 'request' && l.path === '/down/x');
    assert.equal(line?.reason, 'upstream_unavailable');
    assert.equal(line?.upstream_error, 'ECONNREFUSED', 'the log says why the upstream could not be reached');
  });

  test('an upstream that resets the connection before answering: 502 upstream_unavailable', async () => {
    upstream.handle((req) => req.socket.destroy());
    try {
      const res = await request(gw.url, '/reset-early');
      assert.equal(res.status, 502);
      assert.equal(res.json().error, 'upstream_unavailable');
      assert.equal(gw.logs.findLast((l) => l.msg === 'request' && l.path === '/reset-early')?.upstream_error, 'ECONNRESET');
    } finally {
      upstream.handle((_req, res) => res.end('ok'));
    }
  });

  test('an upstream that breaks off in the middle of its response: the client connection is cut, not left hanging', async () => {
    upstream.handle((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '100' });
      res.write('partial', () => res.socket?.destroy());
    });
    try {
      const outcome = await new Promise<string>((resolve) => {
        const client = http.get({ host: '127.0.0.1', port: gw.port, path: '/broken', agent: false }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c));
          res.on('end', () => resolve(`ended after "${text}"`));
          res.on('aborted', () => resolve(`cut after "${text}"`));
          res.on('error', () => resolve(`cut after "${text}"`));
        });
        client.on('error', () => resolve('cut before the response'));
        // Without the cut the client waits for the missing 93 bytes for ever: fail rather than hang.
        setTimeout(() => resolve('still waiting after 10 s'), 10_000).unref();
      });
      assert.equal(outcome, 'cut after "partial"');
      await new Promise((r) => setTimeout(r, 50));
      const line = gw.logs.findLast((l) => l.msg === 'request' && l.path === '/broken');
      assert.equal(line?.reason, 'upstream_reset');
      const metrics = (await request(gw.adminUrl, '/metrics')).body;
      assert.match(metrics, /portcullis_upstream_errors_total\{upstream="app",kind="reset"\} 1/);
    } finally {
      upstream.handle((_req, res) => res.end('ok'));
    }
  });

  test('an upstream that does not answer within the timeout: 504 upstream_timeout', async () => {
    upstream.handle(() => {
      /* never answers */
    });
    try {
      const res = await request(gw.url, '/slow/x');
      assert.equal(res.status, 504);
      assert.equal(res.json().error, 'upstream_timeout');
    } finally {
      upstream.handle((_req, res) => res.end('ok'));
    }
  });

  test('the client going away aborts the upstream request', async () => {
    let upstreamClosed!: () => void;
    const closed = new Promise<void>((r) => (upstreamClosed = r));
    upstream.handle((req) => {
      req.socket.once('close', () => upstreamClosed());
    });
    try {
      const client = http.request({ host: '127.0.0.1', port: gw.port, path: '/hang', agent: false });
      client.on('error', () => {});
      client.end();
      while (!upstream.received.some((r) => r.url === '/hang')) await new Promise((r) => setTimeout(r, 10));
      client.destroy();
      await closed;
    } finally {
      upstream.handle((_req, res) => res.end('ok'));
    }
    await new Promise((r) => setTimeout(r, 50));
    const line = gw.logs.find((l) => l.msg === 'request' && l.path === '/hang');
    assert.equal(line?.status, 499);
  });

  test('request bodies stream to the upstream before the client has finished sending', async () => {
    let sawFirstChunk!: () => void;
    const firstChunk = new Promise<void>((r) => (sawFirstChunk = r));
    const server = http.createServer((req, res) => {
      req.once('data', () => sawFirstChunk());
      req.resume();
      req.on('end', () => res.end('done'));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const gw2 = await startTestGateway(configWith(`http://127.0.0.1:${port}`, [{ name: 'up', prefix: '/', upstream: 'app', auth: 'public' }]));
    try {
      const client = http.request({ host: '127.0.0.1', port: gw2.port, path: '/upload', method: 'POST', agent: false, headers: { 'transfer-encoding': 'chunked' } });
      const response = new Promise<string>((resolve) => client.on('response', (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c));
        res.on('end', () => resolve(text));
      }));
      client.write('first chunk');
      await firstChunk; // the upstream has data while the client request is still open
      client.end('last chunk');
      assert.equal(await response, 'done');
    } finally {
      await gw2.close();
      server.closeAllConnections();
      server.close();
    }
  });

  test('responses stream to the client before the upstream has finished', async () => {
    let finish!: () => void;
    upstream.handle((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('part one;');
      finish = () => res.end('part two');
    });
    try {
      const body = await new Promise<string>((resolve) => {
        http.get({ host: '127.0.0.1', port: gw.port, path: '/stream', agent: false }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => {
            text += c;
            if (text === 'part one;') finish();
          });
          res.on('end', () => resolve(text));
        });
      });
      assert.equal(body, 'part one;part two');
    } finally {
      upstream.handle((_req, res) => res.end('ok'));
    }
  });

  test('upstream connections are kept alive across requests', async () => {
    let connections = 0;
    const server = http.createServer((_req, res) => res.end('ok'));
    server.on('connection', () => connections++);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const gw2 = await startTestGateway(configWith(`http://127.0.0.1:${port}`, [{ name: 'up', prefix: '/', upstream: 'app', auth: 'public' }]));
    try {
      for (let i = 0; i < 10; i++) assert.equal((await request(gw2.url, `/k/${i}`)).status, 200);
      assert.equal(connections, 1);
    } finally {
      await gw2.close();
      server.closeAllConnections();
      server.close();
    }
  });

  test('targets of one upstream take turns', async () => {
    const a = upstream.received.length;
    const b = second.received.length;
    for (let i = 0; i < 4; i++) await request(gw.url, '/pair/x');
    assert.equal(upstream.received.length - a, 2);
    assert.equal(second.received.length - b, 2);
  });
});

describe('upstream timeouts from server.timeout and from an upstream\'s own timeout', () => {
  // The upstream answers after 2 s: a 504 shows the configured 300 ms applied, a 200 that it was ignored
  // (the defaults are 30 s).
  let upstream: Upstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await startUpstream();
    upstream.handle((_req, res) => void setTimeout(() => res.end('late'), 2000));
    gw = await startTestGateway({
      ...configWith(upstream.url, [{ name: 'by-server', prefix: '/server', upstream: 'app', auth: 'public' }]),
      server: { host: '127.0.0.1', timeout: '300ms' },
    });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  test('server.timeout is the upstream timeout of routes that set none', async () => {
    const res = await request(gw.url, '/server/x');
    assert.equal(res.status, 504);
    assert.equal(res.json().error, 'upstream_timeout');
  });

  test('an upstream\'s own timeout applies to its routes', async () => {
    const slowServer = await startTestGateway({
      ...configWith(upstream.url, [{ name: 'by-upstream', prefix: '/', upstream: 'quick', auth: 'public' }]),
      server: { host: '127.0.0.1', timeout: '30s' },
      upstreams: { app: upstream.url, quick: { targets: [upstream.url], timeout: '300ms' } },
    });
    try {
      const res = await request(slowServer.url, '/x');
      assert.equal(res.status, 504);
      assert.equal(res.json().error, 'upstream_timeout');
    } finally {
      await slowServer.close();
    }
  });
});

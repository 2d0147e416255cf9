// What the forwarder (undici) does with the edges of HTTP/1.1 that node:http handled silently: a 1xx the
// upstream was not asked for, repeated response headers, a GET that declares an empty body, and the
// client's address once its body has been read.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { accessLogs, configWith, startTestGateway } from '../helpers/gateway.ts';
import { raw, request } from '../helpers/http.ts';
import { startScriptedUpstream } from '../helpers/scripted-upstream.ts';
import { startUpstream } from '../helpers/upstream.ts';

const publicRoute = [{ name: 'all', prefix: '/', upstream: 'app', auth: 'public' }];

test('an upstream that sends 100 Continue unasked gets the client a 502, logged as a bad response (undici refuses such an answer)', async () => {
  const upstream = await startScriptedUpstream((_head, socket) => {
    socket.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
  });
  const gw = await startTestGateway(configWith(upstream.url, publicRoute));
  try {
    const res = await request(gw.url, '/x');
    assert.equal(res.status, 502);
    assert.equal(res.json().error, 'upstream_unavailable');
    const line = accessLogs(gw.logs).at(-1)!;
    assert.equal(line.upstream_error, 'UPSTREAM_BAD_RESPONSE');
    assert.equal(line.reason, 'upstream_unavailable');
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test('repeated response headers reach the client: each Set-Cookie as its own line, other repeats with every value', async () => {
  const upstream = await startScriptedUpstream((_head, socket) => {
    socket.write(
      'HTTP/1.1 200 OK\r\nSet-Cookie: a=1; Path=/\r\nSet-Cookie: b=2; Path=/\r\nX-Multi: one\r\nX-Multi: two\r\ncontent-length: 2\r\n\r\nok',
    );
  });
  const gw = await startTestGateway(configWith(upstream.url, publicRoute));
  try {
    const reply = await raw(gw.port, 'GET /x HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n', 800);
    assert.deepEqual([...reply.matchAll(/^set-cookie: (.*)\r$/gim)].map((m) => m[1]), ['a=1; Path=/', 'b=2; Path=/']);
    const multi = [...reply.matchAll(/^x-multi: (.*)\r$/gim)].map((m) => m[1]).join(', ');
    assert.equal(multi, 'one, two');
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test('a GET or HEAD declaring Content-Length: 0 reaches the upstream as one request with no body', async () => {
  const upstream = await startUpstream();
  const gw = await startTestGateway(configWith(upstream.url, publicRoute));
  try {
    for (const method of ['GET', 'HEAD']) {
      const before = upstream.received.length;
      const reply = await raw(gw.port, `${method} /empty HTTP/1.1\r\nHost: gw\r\nContent-Length: 0\r\n\r\n${method} /next HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n`, 800);
      assert.equal((reply.match(/HTTP\/1\.1 200 /g) ?? []).length, 2, reply.slice(0, 200));
      const seen = upstream.received.slice(before);
      assert.deepEqual(seen.map((r) => `${r.method} ${r.url}`), [`${method} /empty`, `${method} /next`]);
      assert.equal(seen[0]!.body, '');
      assert.ok(seen[0]!.headers['content-length'] === undefined || seen[0]!.headers['content-length'] === '0');
    }
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test('the access log names the client of a request whose body the forwarder has read', async () => {
  const upstream = await startUpstream();
  const gw = await startTestGateway(configWith(upstream.url, publicRoute));
  try {
    const res = await request(gw.url, '/upload', { method: 'POST', body: 'x'.repeat(100_000) });
    assert.equal(res.status, 200);
    assert.equal(upstream.received.at(-1)!.body.length, 100_000);
    const line = accessLogs(gw.logs).at(-1)!;
    assert.equal(line.client, '127.0.0.1');
    assert.equal(line.upstream_attempts, 1);
    assert.match(String(line.upstream_target), /^127\.0\.0\.1:\d+$/);
  } finally {
    await gw.close();
    await upstream.close();
  }
});

// Attacks on the admin listener (/healthz, /readyz, /metrics): reaching it from another host, holding its
// connections open, and reading from /metrics what helps an attack on the process.
import assert from 'node:assert/strict';
import net from 'node:net';
import { networkInterfaces } from 'node:os';
import { after, before, describe, test } from 'node:test';
import { configWith, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { request, slowly } from '../helpers/http.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';

/** An address of this machine other hosts could connect to, if it has one. */
function externalAddress(): string | undefined {
  return Object.values(networkInterfaces()).flat().find((a) => a !== undefined && !a.internal && a.family === 'IPv4')?.address;
}

/** Connects to host:port; 'refused', or the first bytes of the answer to `text`. */
function contact(host: string, port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, host);
    let reply = '';
    socket.on('connect', () => socket.write(text));
    socket.on('data', (c: Buffer) => (reply += c.toString('latin1')));
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED' ? 'refused' : `error ${err.code}`));
    socket.on('close', () => resolve(reply));
  });
}

describe('admin listener attacks', () => {
  let upstream: Upstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await startUpstream();
    // The gateway on every interface, as in production; admin_host left to its default.
    gw = await startTestGateway(
      configWith(upstream.url, [{ name: 'all', prefix: '/', upstream: 'app', auth: 'public' }], {
        server: { host: '0.0.0.0', headers_timeout: '500ms', request_timeout: '1m', max_header_size: '4kb' },
      }),
    );
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  const adminPort = () => gw.running.adminPort!;

  test('by default the admin listener answers on 127.0.0.1 only, not on the addresses the gateway serves', async (t) => {
    const external = externalAddress();
    if (external === undefined) return t.skip('this machine has no non-loopback IPv4 address');
    const probe = 'GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';
    assert.match(await contact(external, gw.port, 'GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 200 /, 'the gateway itself is reachable there');
    assert.equal(await contact(external, adminPort(), probe), 'refused', `the admin port answered on ${external}`);
    assert.match(await contact('127.0.0.1', adminPort(), probe), /^HTTP\/1\.1 200 /);
  });

  test('a slow client on the admin port is cut by the gateway\'s headers_timeout (slowloris)', async () => {
    const parts = ['GET /healthz HTTP/1.1\r\nHost: x\r\n', ...Array.from({ length: 40 }, (_, i) => `X-Slow-${i}: 1\r\n`)];
    const { sent, reply } = await slowly(adminPort(), parts, 100);
    assert.ok(sent < parts.length, 'the connection was closed before the client finished its headers');
    assert.match(reply, /^HTTP\/1\.1 408 /);
  });

  test('headers over the gateway\'s max_header_size get 431 on the admin port too', async () => {
    const res = await request(`http://127.0.0.1:${adminPort()}`, '/healthz', { headers: { 'x-filler': 'a'.repeat(6 * 1024) } }).catch(() => undefined);
    assert.equal(res?.status, 431);
  });

  test('/metrics tells no one the exact Node.js version or the file-descriptor limit', async () => {
    const res = await request(`http://127.0.0.1:${adminPort()}`, '/metrics');
    assert.equal(res.status, 200);
    assert.ok(!res.body.includes(process.version), `/metrics names ${process.version}`);
    assert.doesNotMatch(res.body, /version_info|max_fds/);
    // What operators watch stays.
    assert.match(res.body, /^portcullis_process_open_fds /m);
    assert.match(res.body, /^portcullis_process_resident_memory_bytes /m);
    assert.match(res.body, /^portcullis_nodejs_eventloop_lag_seconds /m);
  });
});

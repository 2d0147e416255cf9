// Attacks through the WebSocket handshake: an upgrade is a request like any other and passes the same path
// and token checks before anything is tunneled; an authorized one reaches the upstream with identity
// headers the gateway vouches for. The handshakes are plain node:http requests with Upgrade headers.
import assert from 'node:assert/strict';
import type { Duplex } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { configWith, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { bearer, raw, request, statusOf } from '../helpers/http.ts';
import { sign } from '../helpers/keys.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';
import { acceptWebSockets, goodClaims, now, parseRaw, wsHandshake } from './support.ts';
import type { IncomingMessage } from 'node:http';
import net from 'node:net';

/** The gateway's server-side sockets on `port` (the gateway runs in this process). */
function gatewaySockets(port: number): net.Socket[] {
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  return handles.filter((h): h is net.Socket => h instanceof net.Socket && h.localPort === port);
}

/** Handshake, wait for the reply, keep sending bytes, then close our side; resolves with the reply. */
function handshakeThenKeepTalking(port: number, path: string): Promise<{ reply: string; clientPort: number }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let clientPort = 0;
    socket.on('connect', () => (clientPort = socket.localPort!));
    let text = '';
    socket.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      if (text.includes('\r\n\r\n') && socket.writable) {
        socket.write('GET /admin/secrets HTTP/1.1\r\nHost: x\r\nX-User-Id: admin\r\n\r\n');
        setTimeout(() => socket.end(), 50);
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve({ reply: text, clientPort }));
    setTimeout(() => socket.destroy(), 1000);
    socket.write(handshake(path));
  });
}

/** Resolves once the gateway's socket for the client at `clientPort` is gone, or after `ms`; true if it is. */
async function closedWithin(port: number, clientPort: number, ms: number): Promise<boolean> {
  const held = () => gatewaySockets(port).some((s) => s.remotePort === clientPort);
  const deadline = Date.now() + ms;
  while (held() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return !held();
}

const KEY = Buffer.from('0123456789abcdef').toString('base64');
const handshake = (path: string, extra = '') =>
  `GET ${path} HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`;

describe('WebSocket attacks', () => {
  let upstream: Upstream;
  let upgrades: IncomingMessage[];
  let refuser: Upstream;
  let refuser2: Upstream;
  const refused: { upgrades: number; bytesAfter: number } = { upgrades: 0, bytesAfter: 0 };
  let gw: TestGateway;
  /** Upstream-side sockets of handshakes: detached from their HTTP server, so closed by hand at the end. */
  const tunnels: Duplex[] = [];

  before(async () => {
    upstream = await startUpstream('ws');
    upgrades = acceptWebSockets(upstream);
    upstream.server.on('upgrade', (_req: IncomingMessage, socket: Duplex) => tunnels.push(socket));
    // An upstream that does not speak WebSocket on this path: it answers the handshake with 426 and keeps
    // listening, so that anything the gateway tunneled anyway would be seen.
    refuser = await startUpstream('refuser');
    refuser.server.on('upgrade', (_req: IncomingMessage, socket: Duplex) => {
      refused.upgrades++;
      tunnels.push(socket);
      socket.on('data', (c: Buffer) => (refused.bytesAfter += c.length));
      socket.on('error', () => {});
      socket.write('HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n');
    });
    // A second one, so that the pooled upstream connection the first one keeps does not meet another test.
    refuser2 = await startUpstream('refuser2');
    refuser2.server.on('upgrade', (_req: IncomingMessage, socket: Duplex) => {
      tunnels.push(socket);
      socket.on('error', () => {});
      socket.write('HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n');
    });
    const config = configWith(upstream.url, [
      { name: 'admin', prefix: '/admin', upstream: 'app', roles: ['admin'] },
      { name: 'refuse', prefix: '/refuse', upstream: 'refuser', auth: 'public' },
      { name: 'refuse2', prefix: '/refuse2', upstream: 'refuser2', auth: 'public' },
      { name: 'public', prefix: '/public', upstream: 'app', auth: 'public' },
      { name: 'ws', prefix: '/ws', upstream: 'app' },
    ]);
    (config.upstreams as Record<string, string>).refuser = refuser.url;
    (config.upstreams as Record<string, string>).refuser2 = refuser2.url;
    gw = await startTestGateway(config);
  });
  after(async () => {
    for (const socket of tunnels) socket.destroy();
    await gw.close();
    await upstream.close();
    await refuser.close();
    await refuser2.close();
  });

  /** Runs `action`; returns how many upgrades and plain requests the upstream got meanwhile. */
  async function contacts<T>(action: () => Promise<T>): Promise<{ result: T; count: number }> {
    const before = upgrades.length + upstream.received.length;
    const result = await action();
    await new Promise((r) => setTimeout(r, 30));
    return { result, count: upgrades.length + upstream.received.length - before };
  }

  async function deniedUpgrade(path: string, headers: Record<string, string>, status: number, code: string) {
    const { result, count } = await contacts(() => wsHandshake(gw.port, path, headers));
    assert.equal(result.status, status, `${path}: ${result.body}`);
    assert.equal(result.socket, undefined, 'no tunnel');
    assert.equal(JSON.parse(result.body).error, code, path);
    assert.equal(count, 0, `${path}: the upstream was contacted`);
    return result;
  }

  test('an unauthorized WebSocket upgrade gets 401 and nothing reaches the upstream', async () => {
    const res = await deniedUpgrade('/ws/chat', {}, 401, 'token_missing');
    assert.equal(res.headers['www-authenticate'], 'Bearer realm="portcullis"');
  });

  test('a WebSocket upgrade with an expired, forged or non-Bearer credential gets 401', async () => {
    await deniedUpgrade('/ws/chat', bearer(await sign(goodClaims({ exp: now() - 600 }))), 401, 'token_expired');
    await deniedUpgrade('/ws/chat', bearer(await sign(goodClaims(), { key: 'not-the-secret-but-long-enough-0123456789' })), 401, 'token_signature');
    await deniedUpgrade('/ws/chat', { authorization: 'Basic YTpi' }, 401, 'token_scheme');
  });

  test('a WebSocket handshake carrying a body (Content-Length or Transfer-Encoding) is refused with 400 and reaches no upstream', async () => {
    // The body would be the start of a smuggled request: the upstream is told to expect it, and reads the
    // next client's request as it.
    await deniedUpgrade('/public/chat', { 'content-length': '182' }, 400, 'upgrade_with_body');
    await deniedUpgrade('/public/chat', { 'transfer-encoding': 'chunked' }, 400, 'upgrade_with_body');
    await deniedUpgrade('/ws/chat', { ...bearer(await sign(goodClaims())), 'content-length': '5' }, 400, 'upgrade_with_body');
  });

  test('a WebSocket upgrade without the route\'s role gets 403', async () => {
    await deniedUpgrade('/admin/live', bearer(await sign(goodClaims({ roles: ['reader'] }))), 403, 'insufficient_role');
  });

  test('path tricks on an upgrade are resolved or refused before any check passes', async () => {
    await deniedUpgrade('/public/../admin/live', {}, 401, 'token_missing');
    await deniedUpgrade('/public/%2e%2e/admin/live', {}, 401, 'token_missing');
    await deniedUpgrade('/public%2f..%2fadmin', {}, 400, 'path_encoded_slash');
    await deniedUpgrade('/public/..;/admin', {}, 400, 'path_dot_parameter');
    await deniedUpgrade('/admin;x', {}, 400, 'path_parameter');
  });

  test('an authorized WebSocket upgrade is proxied with identity headers, and spoofed ones are dropped', async () => {
    const token = await sign(goodClaims({ roles: ['admin'], email: 'alice@example.com' }));
    const res = await wsHandshake(gw.port, '/public/../admin/live?room=1', {
      ...bearer(token),
      'x-user-id': 'mallory',
      'X_User_Roles': 'root',
      'x-forwarded-for': '6.6.6.6',
      'x-original-url': '/elsewhere',
    });
    assert.equal(res.status, 101);
    assert.ok(res.socket);
    const seen = upgrades.at(-1)!;
    assert.equal(seen.url, '/admin/live?room=1', 'the upstream gets the normalized path');
    assert.equal(seen.headers['x-user-id'], 'alice');
    assert.equal(seen.headers['x-user-roles'], 'admin');
    assert.equal(seen.headers['x-user-email'], 'alice@example.com');
    assert.equal(seen.headers.x_user_roles, undefined);
    assert.equal(seen.headers['x-original-url'], undefined);
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(seen.headers.upgrade, 'websocket');
    assert.match(String(seen.headers.connection), /upgrade/i);
    // The tunnel works end to end (the upstream echoes).
    const echoed = new Promise<string>((resolve) => res.socket!.once('data', (c: Buffer) => resolve(c.toString())));
    res.socket!.write('ping');
    assert.equal(await echoed, 'ping');
    res.socket!.destroy();
  });

  test('an upstream that refuses the upgrade leaves no tunnel (WebSocket smuggling)', async () => {
    // The client ignores the refusal and speaks plain HTTP into what it hopes is an open tunnel.
    const before = refuser.received.length;
    const { reply } = await handshakeThenKeepTalking(gw.port, '/refuse/x');
    assert.equal(statusOf(reply), 426);
    assert.equal(refused.upgrades, 1, 'the handshake itself reached the upstream');
    assert.equal(refused.bytesAfter, 0, 'nothing after the refused handshake reached the upstream');
    assert.equal(refuser.received.length, before, 'no request was smuggled');
  });

  test('a refused handshake\'s socket is read to its end, so the client closing it is noticed at once', async () => {
    // The client ends its side 50 ms after the reply. A gateway that drains the socket sees that end and lets
    // its socket go within a few ms; one that does not read holds it until its 2 s fallback timer.
    const { reply, clientPort } = await handshakeThenKeepTalking(gw.port, '/ws/drained');
    assert.equal(statusOf(reply), 401);
    assert.ok(await closedWithin(gw.port, clientPort, 700), 'the gateway still holds the socket: it did not read the client\'s end');
  });

  test('a handshake the gateway refuses is closed even if the client keeps sending (no socket leak)', async () => {
    const { reply, clientPort } = await handshakeThenKeepTalking(gw.port, '/ws/x');
    assert.equal(statusOf(reply), 401);
    assert.ok(await closedWithin(gw.port, clientPort, 3000), 'the gateway still holds the socket');
  });

  test('a handshake the upstream refuses is closed even if the client keeps sending (no socket leak)', async () => {
    const { reply, clientPort } = await handshakeThenKeepTalking(gw.port, '/refuse2/y');
    assert.equal(statusOf(reply), 426);
    assert.ok(await closedWithin(gw.port, clientPort, 3000), 'the gateway still holds the socket');
  });

  test('an h2c upgrade is not tunneled to the upstream (h2c smuggling)', async () => {
    const text = 'GET /public/x HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n';
    const { result, count } = await contacts(() => raw(gw.port, text, 500));
    assert.notEqual(statusOf(result), 101);
    assert.equal(parseRaw(result).status, 400);
    assert.equal(parseRaw(result).body?.error, 'upgrade_unsupported');
    assert.equal(count, 0);
  });

  test('an upgrade with a method other than GET is not tunneled', async () => {
    const text = handshake('/public/x').replace(/^GET /, 'POST ');
    const { result, count } = await contacts(() => raw(gw.port, text, 500));
    assert.notEqual(statusOf(result), 101);
    assert.equal(parseRaw(result).body?.error, 'upgrade_unsupported');
    assert.equal(count, 0);
  });

  test('a refused upgrade answers with the JSON error and closes the connection', async () => {
    const reply = parseRaw(await raw(gw.port, handshake('/ws/x'), 500));
    assert.equal(reply.status, 401);
    assert.equal(reply.body?.error, 'token_missing');
    assert.match(reply.headers, /^connection: close$/im);
  });
});

describe('an upstream that refuses a WebSocket handshake', () => {
  test('has that connection closed, never reused for the next client\'s request', async () => {
    const refuser = await startUpstream('refuser');
    let connections = 0;
    refuser.server.on('connection', () => connections++);
    refuser.server.on('upgrade', (_req: IncomingMessage, socket: Duplex) => {
      socket.on('error', () => {});
      socket.write('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
    });
    const gw = await startTestGateway(configWith(refuser.url, [{ name: 'all', prefix: '/', upstream: 'app', auth: 'public' }]));
    try {
      const handshake = await wsHandshake(gw.port, '/chat');
      assert.equal(handshake.status, 404);
      const res = await request(gw.url, '/next');
      assert.equal(res.status, 200);
      assert.equal(connections, 2, 'the request after a refused handshake came on a connection of its own');
    } finally {
      await gw.close();
      await refuser.close();
    }
  });

  test('with a large answer, has it relayed at the client\'s pace: a client that does not read holds no more than socket buffers', async () => {
    // An upstream that serves the handshake's GET as a plain download, as any non-WebSocket endpoint does.
    const downloads = await startUpstream('downloads');
    const chunk = Buffer.alloc(1024 * 1024, 'x');
    const total = 64;
    let written = 0;
    downloads.server.on('upgrade', (_req: IncomingMessage, socket: Duplex) => {
      socket.on('error', () => {});
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${total * chunk.length}\r\n\r\n`);
      const pump = () => {
        while (written < total) {
          written++;
          if (!socket.write(chunk)) return void socket.once('drain', pump);
        }
        socket.end();
      };
      pump();
    });
    const gw = await startTestGateway(configWith(downloads.url, [{ name: 'all', prefix: '/', upstream: 'app', auth: 'public' }]));
    try {
      const client = net.connect(gw.port, '127.0.0.1');
      client.pause();
      let received = 0;
      client.on('data', (c: Buffer) => (received += c.length));
      client.on('error', () => {});
      client.write(handshake('/files/big'));
      await new Promise((r) => setTimeout(r, 1000));
      assert.ok(written < total / 2, `the upstream could write ${written} of ${total} MB to a client reading nothing: the gateway held them`);
      const closed = new Promise((r) => client.once('close', r));
      client.resume();
      await closed;
      assert.ok(received > total * chunk.length, 'then the whole answer arrives');
    } finally {
      await gw.close();
      await downloads.close();
    }
  });
});

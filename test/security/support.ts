// Tools for the adversarial suite: tokens forged by hand (where jose refuses to make them), a server that
// plays the attacker and counts every contact, WebSocket handshakes over plain node:http, and one
// assertion for "refused, with this code, and the upstream saw nothing".
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { SECRET } from '../helpers/keys.ts';
import type { Response } from '../helpers/http.ts';
import type { Upstream } from '../helpers/upstream.ts';

export const b64url = (data: string | Buffer | Uint8Array): string => Buffer.from(data).toString('base64url');
export const json64 = (value: unknown): string => b64url(typeof value === 'string' ? value : JSON.stringify(value));
export const now = (): number => Math.floor(Date.now() / 1000);

/** header.payload.signature from already-encoded parts. */
export function compact(header: string, payload: string, signature: string): string {
  return `${header}.${payload}.${signature}`;
}

/**
 * An HS256 token with a real signature made by hand: `header` and `claims` are objects, or JSON text
 * written exactly as given (duplicate names, bad JSON), or raw bytes (bad UTF-8).
 */
export function forgeHs256(header: unknown, claims: unknown, secret: string = SECRET): string {
  const encode = (v: unknown) => (Buffer.isBuffer(v) ? b64url(v) : json64(v));
  const input = `${encode(header)}.${encode(claims)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/** Claims the test provider accepts. */
export function goodClaims(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { iss: 'test', aud: 'api', sub: 'alice', exp: now() + 600, ...extra };
}

/** Counts the upstream's requests around `action`. */
export async function reached<T>(upstreams: Upstream | readonly Upstream[], action: () => Promise<T>): Promise<{ result: T; count: number }> {
  const list = Array.isArray(upstreams) ? upstreams : [upstreams as Upstream];
  const before = list.reduce((n, u) => n + u.received.length, 0);
  const result = await action();
  // A forwarded request would have been recorded before its response came back; give stragglers a moment.
  await new Promise((r) => setTimeout(r, 20));
  return { result, count: list.reduce((n, u) => n + u.received.length, 0) - before };
}

/** The refusal every attack should get: this status, this error code in the JSON body, nothing upstream. */
export function assertRefused(res: Response, status: number, code: string | RegExp, upstreamCount: number, what = ''): void {
  assert.equal(res.status, status, `${what}: status (body ${res.body})`);
  const body = res.json();
  if (typeof code === 'string') assert.equal(body.error, code, `${what}: error code`);
  else assert.match(String(body.error), code, `${what}: error code`);
  assert.equal(upstreamCount, 0, `${what}: the upstream received ${upstreamCount} request(s)`);
}

/** Status and JSON body of a raw HTTP response text. */
export function parseRaw(text: string): { status: number; headers: string; body: Record<string, unknown> | undefined } {
  const m = /^HTTP\/1\.[01] (\d{3})[^\r\n]*\r\n([\s\S]*?)\r\n\r\n([\s\S]*)$/.exec(text);
  if (!m) return { status: 0, headers: '', body: undefined };
  let body: Record<string, unknown> | undefined;
  try {
    body = JSON.parse(m[3]!) as Record<string, unknown>;
  } catch {
    body = undefined;
  }
  return { status: Number(m[1]), headers: m[2]!, body };
}

/** The attacker's own web server: answers `body` (a JWKS, say) and remembers every contact. */
export interface AttackerServer {
  readonly url: string;
  /** Request URLs received. */
  readonly hits: readonly string[];
  /** TCP connections accepted, requests or not. */
  readonly connections: number;
  close(): Promise<void>;
}

/** `respond`, when given, answers instead of the JSON body (redirects, bombs...). */
export async function startAttackerServer(
  body: unknown = { keys: [] },
  respond?: (req: http.IncomingMessage, res: http.ServerResponse) => void,
): Promise<AttackerServer> {
  const hits: string[] = [];
  let connections = 0;
  const server = http.createServer((req, res) => {
    hits.push(req.url ?? '');
    if (respond !== undefined) return respond(req, res);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  });
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits,
    get connections() {
      return connections;
    },
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

/**
 * An upstream that is only a TCP port: it records every byte it receives, parsed or not, and answers each
 * chunk with a fixed 200. For framing attacks, where "the upstream received nothing" must mean no byte at
 * all, not merely no request a strict parser accepted.
 */
export interface RawUpstream {
  readonly url: string;
  /** Everything received so far, on every connection, as latin1 text. */
  received(): string;
  close(): Promise<void>;
}

export async function startRawUpstream(): Promise<RawUpstream> {
  const chunks: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      socket.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received: () => Buffer.concat(chunks).toString('latin1'),
    close: () =>
      new Promise<void>((r) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => r());
      }),
  };
}

export interface Handshake {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  /** The tunnel, when the handshake succeeded (101). */
  readonly socket?: Duplex;
}

/** A WebSocket opening handshake (RFC 6455 §4.1) with node:http: 'upgrade' on 101, 'response' otherwise. */
export function wsHandshake(port: number, path: string, headers: Record<string, string> = {}): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port,
      path,
      agent: false,
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-key': Buffer.from('0123456789abcdef').toString('base64'),
        'sec-websocket-version': '13',
        ...headers,
      },
    });
    req.on('upgrade', (res, socket) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: '', socket }));
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Sec-WebSocket-Accept for a key (RFC 6455 §4.2.2). */
export function acceptFor(key: string): string {
  return createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
}

/** Makes a recording upstream also accept WebSocket handshakes (101, then echo); returns what it saw. */
export function acceptWebSockets(upstream: Upstream): http.IncomingMessage[] {
  const upgrades: http.IncomingMessage[] = [];
  upstream.server.on('upgrade', (req: http.IncomingMessage, socket: Duplex) => {
    upgrades.push(req);
    socket.on('error', () => {});
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${acceptFor(String(req.headers['sec-websocket-key']))}\r\n\r\n`,
    );
    socket.pipe(socket);
  });
  return upgrades;
}

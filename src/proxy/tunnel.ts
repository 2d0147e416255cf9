// WebSocket tunnels: the handshake is sent to the target on a connection of its own (never pooled: it
// becomes the tunnel, or is closed), and once the target answers 101 the two sockets are joined. A target
// that refuses the handshake has its answer relayed and both connections closed. node:http does this in
// a few lines, with none of the patches http-proxy needed (docs/PERFORMANCE.md says why not undici).
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import type { UpstreamFailure } from './forward.ts';
import type { ResponseHeaders } from './response-headers.ts';
import type { UpstreamTarget } from './target.ts';

export interface TunnelSpec {
  readonly target: UpstreamTarget;
  readonly path: string;
  /** [name, value, ...] as forwardedHeaders() makes them for an upgrade, ending with the host slot. */
  readonly headers: string[];
  readonly clientHost: string | undefined;
  /** Bytes the client sent after its handshake. */
  readonly head: Buffer;
  readonly timeoutMs: number;
  readonly connectTimeoutMs: number;
}

export interface TunnelEvents {
  /**
   * The headers the gateway adds to the target's answer, as to any response (the request id, the
   * RateLimit fields): they replace the target's own of the same name.
   */
  decorate(headers: ResponseHeaders): void;
  /** The target answered: 101 (a tunnel now runs) or its refusal, relayed. */
  answered(status: number): void;
  /** No answer: the client gets this failure (nothing has been written to it yet). */
  failed(failure: UpstreamFailure, cause: string | undefined): void;
}

class TunnelTimeout extends Error {
  readonly code = 'UPSTREAM_TIMEOUT';
}

class ConnectTimeout extends Error {
  readonly code = 'UND_ERR_CONNECT_TIMEOUT';
}

/** How long a client whose handshake was refused may take to close its side before it is cut. */
const LINGER_MS = 2000;

export function openTunnel(client: Duplex, spec: TunnelSpec, events: TunnelEvents): void {
  const { target } = spec;
  spec.headers[spec.headers.length - 1] = target.hostFor(spec.clientHost);
  const options: https.RequestOptions = {
    host: target.hostname,
    port: target.port,
    method: 'GET',
    path: target.basePath + spec.path,
    headers: spec.headers as unknown as http.OutgoingHttpHeaders,
    agent: false,
    timeout: spec.connectTimeoutMs,
    // TLS names and verifies the target's own host, never the Host the client sent ('': no name, for an
    // IP address; node:https would otherwise take one from the Host header).
    ...(target.https ? { servername: target.sni ?? '' } : {}),
  };
  const upstream = target.https ? https.request(options) : http.request(options);
  let answered = false;
  const fail = (failure: UpstreamFailure, cause: string | undefined) => {
    if (answered) return;
    answered = true;
    upstream.destroy();
    events.failed(failure, cause);
  };
  let connected = false;
  upstream.on('socket', (socket) => {
    // connect_timeout until connected; from then to the answer, the route's timeout; the tunnel itself
    // may then stay quiet for ever.
    socket.once(target.https ? 'secureConnect' : 'connect', () => {
      connected = true;
      upstream.setTimeout(spec.timeoutMs);
    });
  });
  upstream.on('timeout', () => upstream.destroy(connected ? new TunnelTimeout('the upstream did not answer the handshake in time') : new ConnectTimeout('no connection in time')));
  upstream.on('error', (err: Error & { code?: string }) => fail(err instanceof TunnelTimeout ? 'timeout' : 'unavailable', err.code));
  upstream.on('upgrade', (res: IncomingMessage, socket: Duplex, head: Buffer) => {
    answered = true;
    upstream.setTimeout(0);
    join(client, socket, answerHead(res, events, ALL), head, spec.head);
    events.answered(101);
  });
  upstream.on('response', (res: IncomingMessage) => {
    answered = true;
    relayRefusal(client, res, upstream, events);
    events.answered(res.statusCode ?? 502);
  });
  // Whatever ends the client's side before an answer ends the upstream's.
  client.once('close', () => upstream.destroy());
  upstream.end();
}

/** Every header of a 101 is relayed: Connection and Upgrade are the point of it. */
const ALL: ReadonlySet<string> = new Set();
/** A refusal closes the connection: its framing and connection headers are the gateway's own. */
const REFUSAL_DROPS: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'transfer-encoding']);

/** The status line and headers of the target's answer as the client gets them, without the blank line. */
function answerHead(res: IncomingMessage, events: TunnelEvents, drop: ReadonlySet<string>): string {
  const own: ResponseHeaders = {};
  events.decorate(own);
  let head = `HTTP/1.1 ${res.statusCode ?? 502} ${res.statusMessage ?? ''}\r\n`;
  for (let i = 0; i < res.rawHeaders.length; i += 2) {
    const name = res.rawHeaders[i]!.toLowerCase();
    if (!drop.has(name) && own[name] === undefined) head += `${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}\r\n`;
  }
  for (const name in own) {
    const value = own[name];
    if (value === undefined) continue;
    for (const line of Array.isArray(value) ? value : [value]) head += `${name}: ${line}\r\n`;
  }
  return head;
}

function join(client: Duplex, upstream: Duplex, head: string, upstreamHead: Buffer, clientHead: Buffer): void {
  client.write(head + '\r\n');
  if (upstreamHead.length > 0) client.write(upstreamHead);
  if (clientHead.length > 0) upstream.write(clientHead);
  upstream.on('error', () => upstream.destroy());
  // Messages go as they come, not held back to be merged with the next (Nagle): a tunnel is interactive.
  (upstream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
  // One side going away, however (end, error, the shutdown deadline), ends the other.
  upstream.once('close', () => client.destroy());
  client.once('close', () => upstream.destroy());
  client.pipe(upstream);
  upstream.pipe(client);
}

/**
 * The target said no: its answer goes to the client with "Connection: close", and the client's socket is
 * read to its end (so that its close is noticed) and cut after a grace period: whatever else it sends must
 * never become part of another request. The upstream connection was never pooled and is closed.
 */
function relayRefusal(client: Duplex, res: IncomingMessage, request: http.ClientRequest, events: TunnelEvents): void {
  const head = answerHead(res, events, REFUSAL_DROPS);
  // Without a Content-Length, the body (de-chunked here) ends where the connection does.
  client.write(`${head}connection: close\r\n\r\n`);
  // At the client's pace: a handshake to a route whose upstream answers it as a plain GET (a download,
  // a large listing) was otherwise read whole into the client's socket buffer however slowly it read, the
  // gateway holding all of it (200 MB for one unauthenticated request). The route's timeout still bounds
  // a reader that stops.
  res.pipe(client, { end: false });
  res.once('end', () => {
    client.end();
    request.destroy();
    client.resume();
    const timer = setTimeout(() => client.destroy(), LINGER_MS);
    timer.unref();
    client.once('close', () => clearTimeout(timer));
  });
  res.once('error', () => client.destroy());
}

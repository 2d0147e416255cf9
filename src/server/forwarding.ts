// From an allowed decision to the upstream: the header lines it gets, the body (only when the client's
// headers frame one), the key that keeps a caller on one target, then the HTTP exchange (proxy/forward.ts)
// or the WebSocket tunnel (proxy/tunnel.ts).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Forward } from '../pipeline/decision.ts';
import { HttpExchange } from '../proxy/forward.ts';
import { forwardedHeaders } from '../proxy/headers.ts';
import { callerKeyValue } from '../proxy/caller-key.ts';
import { openTunnel } from '../proxy/tunnel.ts';
import type { Upstream } from '../proxy/upstream.ts';
import type { RequestContext } from './request-context.ts';

/** Node's own test of a 100-continue expectation ("100-continue" among other tokens counts, as it does there). */
const CONTINUE = /(?:^|\W)100-continue(?:$|\W)/i;

export function forwardHttp(context: RequestContext, res: ServerResponse, decision: Forward): void {
  const { req } = context;
  const headers = forwardedHeaders(req.headers, context.active.config.forward, decision.identity, {
    requestId: context.id,
    remoteAddress: context.client,
    host: req.headers.host,
    encrypted: false,
    upgrade: false,
  });
  // A body is sent only when the headers the upstream gets frame it: Content-Length as declared, or
  // chunked. Node's parser frames by the same headers; whatever else might follow is never forwarded.
  const declared = req.headers['content-length'];
  const framed = declared !== undefined || req.headers['transfer-encoding'] !== undefined;
  // A declared empty body is sent as none (undici frames it the same): no stream is read, so a reset PUT
  // or DELETE with "Content-Length: 0" can still be retried (a body that was read can not be sent again).
  const length = declared === undefined ? -1 : Number(declared);
  // "Expect: 100-continue" is answered only now that the request is allowed: a client about to send a
  // large body to a route it may not use is refused before it sends it.
  if (req.httpVersion === '1.1' && req.headers.expect !== undefined && CONTINUE.test(req.headers.expect)) res.writeContinue();
  const chunked = framed && declared === undefined;
  if (length > 0 && length <= BUFFERED_BODY_BYTES) readWhole(req, length, (body) => forwardWith(context, res, decision, headers, body, chunked));
  else forwardWith(context, res, decision, headers, framed && length !== 0 ? req : null, chunked);
}

/**
 * A declared body this small is read whole before an upstream connection is taken (nginx buffers request
 * bodies too): a client that sends it slowly, or never, holds nothing but its own connection (which
 * server.request_timeout bounds), not one of the upstream's max_connections. Read whole, it can also be
 * sent again: a reset idempotent request with a body may be retried. Larger bodies stream.
 */
export const BUFFERED_BODY_BYTES = 64 * 1024;

function readWhole(req: IncomingMessage, length: number, then: (body: Buffer) => void): void {
  const body = Buffer.allocUnsafe(length);
  let filled = 0;
  req.on('data', (chunk: Buffer) => {
    // Node's parser hands over exactly the declared length; more would be a framing fault: never copied.
    if (filled + chunk.length <= length) chunk.copy(body, filled);
    filled += chunk.length;
  });
  // A client that goes away or is too slow is answered (or cut) by the server; nothing was sent upstream.
  req.once('end', () => {
    if (filled === length) then(body);
  });
}

function forwardWith(
  context: RequestContext,
  res: ServerResponse,
  decision: Forward,
  headers: string[],
  body: IncomingMessage | Buffer | null,
  chunked: boolean,
): void {
  if (res.destroyed || res.writableEnded) return; // refused (408...) or gone while its body was read
  const { req } = context;
  const route = decision.route;
  const exchange = new HttpExchange(
    {
      upstream: route.upstream,
      method: context.method,
      path: decision.upstreamPath,
      headers,
      clientHost: req.headers.host,
      body,
      hashKey: hashKeyOf(route.upstream, decision, context),
      timeoutMs: route.timeoutMs,
      maxBody: chunked ? route.maxBody : null,
    },
    context,
    res,
  );
  context.exchange = exchange;
  exchange.start();
}

export function forwardUpgrade(context: RequestContext, decision: Forward, head: Buffer, done: (status: number) => void): void {
  const { req } = context;
  const upstream = decision.route.upstream;
  const target = upstream.choose(hashKeyOf(upstream, decision, context), null);
  if (target === undefined) return context.failed('no_healthy', undefined);
  context.upstreamAttempts = 1;
  context.upstreamTarget = target.label;
  const headers = forwardedHeaders(req.headers, context.active.config.forward, decision.identity, {
    requestId: context.id,
    remoteAddress: context.client,
    host: req.headers.host,
    encrypted: false,
    upgrade: true,
  });
  openTunnel(
    context.socket,
    { target, path: decision.upstreamPath, headers, clientHost: req.headers.host, head, timeoutMs: decision.route.timeoutMs, connectTimeoutMs: upstream.connectTimeoutMs },
    { decorate: (headers) => context.decorate(headers), answered: done, failed: (failure, cause) => context.failed(failure, cause) },
  );
}

/** The value balance: hash keeps a caller on one target by; undefined spreads the request round robin. */
function hashKeyOf(upstream: Upstream, decision: Forward, context: RequestContext): string | undefined {
  const key = upstream.hashKey;
  if (key === null) return undefined;
  return callerKeyValue(key, decision.identity, context.req, context.active.config.forward.trust, decision.route.name);
}

// What the gateway remembers about one request while it is handled: for the access log, the metrics,
// the upstream timeout and aborting the upstream request when the client goes away.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

const SANE_REQUEST_ID = /^[A-Za-z0-9._:+/=-]{1,128}$/;
const CONTEXT = Symbol('portcullis.context');

export class RequestContext {
  route: string | undefined = undefined;
  upstream: string | undefined = undefined;
  subject: string | undefined = undefined;
  reason: string | undefined = undefined;
  /** The system error behind an upstream failure (ECONNREFUSED, CERT_HAS_EXPIRED...), for the log. */
  upstreamError: string | undefined = undefined;
  bodyBytes = 0;
  /** The client's connection (kept here: once a request body has been consumed, req.socket may be gone). */
  socket: Duplex | null = null;

  constructor(
    readonly id: string,
    readonly startedAt: number,
    readonly path: string,
  ) {}
}

/** The client's X-Request-Id when it is a sane token, otherwise a fresh UUID. */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && SANE_REQUEST_ID.test(given) ? given : randomUUID();
}

/** The path without the query, for logs: queries may carry secrets. */
export function pathForLog(url: string | undefined): string {
  if (url === undefined) return '';
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  return path.length > 2048 ? path.slice(0, 2048) : path;
}

export function attachContext(req: IncomingMessage, context: RequestContext): void {
  (req as unknown as Record<symbol, RequestContext>)[CONTEXT] = context;
}

export function contextOf(req: IncomingMessage): RequestContext | undefined {
  return (req as unknown as Record<symbol, RequestContext | undefined>)[CONTEXT];
}

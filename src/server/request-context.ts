// What the gateway remembers about one request while it is handled: for the access log, the metrics,
// the upstream timeout, aborting the upstream request when the client goes away, and the CORS and rate
// limit headers of its response.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { CorsPolicy } from '../traffic/cors.ts';
import type { LimitReport } from '../traffic/rate-limit.ts';
import type { TrafficState } from '../traffic/response-headers.ts';

const SANE_REQUEST_ID = /^[A-Za-z0-9._:+/=-]{1,128}$/;
const CONTEXT = Symbol('portcullis.context');

export class RequestContext implements TrafficState {
  route: string | undefined = undefined;
  upstream: string | undefined = undefined;
  subject: string | undefined = undefined;
  reason: string | undefined = undefined;
  /** The system error behind an upstream failure (ECONNREFUSED, CERT_HAS_EXPIRED...), for the log. */
  upstreamError: string | undefined = undefined;
  bodyBytes = 0;
  /** Traffic state, set by admission (traffic/admit.ts): what the response says about CORS and rate limits. */
  origin: string | undefined = undefined;
  cors: CorsPolicy | null = null;
  limits: LimitReport | null = null;

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

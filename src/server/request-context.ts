// Everything the gateway knows about one request while it handles it, HTTP or WebSocket alike: who asked
// (id, client, connection), the config it runs on, what the pipeline decided, what the upstream did. The
// access log line and the metrics are written from it, once, when the request ends.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { ForwardSink, HttpExchange, UpstreamFailure } from '../proxy/forward.ts';
import type { ResponseHeaders } from '../proxy/response-headers.ts';
import type { RetryCondition } from '../proxy/retry.ts';
import type { CorsPolicy } from '../traffic/cors.ts';
import type { LimitReport } from '../traffic/rate-limit.ts';
import type { TrafficState } from '../traffic/response-headers.ts';
import type { ActiveConfig } from './config-holder.ts';

const SANE_REQUEST_ID = /^[A-Za-z0-9._:+/=-]{1,128}$/;

/** What the context reports to (the gateway): the upstream's events, as they happen. */
export interface ContextEvents {
  decorate(context: RequestContext, headers: ResponseHeaders): void;
  upstreamFailed(context: RequestContext, failure: UpstreamFailure, cause: string | undefined): void;
  bodyTooLarge(context: RequestContext, limit: number): void;
  retried(context: RequestContext, reason: RetryCondition): void;
  queued(context: RequestContext, waitMs: number): void;
}

export class RequestContext implements ForwardSink, TrafficState {
  readonly id: string;
  readonly startedAt = performance.now();
  /** The path without the query, for logs: queries may carry secrets. */
  readonly path: string;
  readonly method: string;
  /** The client's connection and address, kept here: once a body has been read, req.socket may be gone. */
  readonly socket: Socket;
  readonly client: string;

  route: string | undefined = undefined;
  upstream: string | undefined = undefined;
  subject: string | undefined = undefined;
  /** The denial or failure code, for the log line and the metrics. */
  reason: string | undefined = undefined;
  /** The system error behind an upstream failure (ECONNREFUSED, CERT_HAS_EXPIRED...), for the log. */
  upstreamError: string | undefined = undefined;
  upstreamAttempts = 0;
  upstreamTarget: string | undefined = undefined;
  bodyBytes = 0;
  /** The forwarding under way, to abort when the client goes away. */
  exchange: HttpExchange | null = null;
  /** Logged, counted and released: a request is recorded exactly once. */
  recorded = false;
  /** Set by admission (traffic/admit.ts): what the response says about CORS and rate limits. */
  origin: string | undefined = undefined;
  cors: CorsPolicy | null = null;
  limits: LimitReport | null = null;

  constructor(
    private readonly events: ContextEvents,
    readonly req: IncomingMessage,
    /** The response, for HTTP; null for a WebSocket handshake, which is answered on `socket` itself. */
    readonly res: ServerResponse | null,
    readonly active: ActiveConfig,
    socket: Socket,
  ) {
    const given = req.headers['x-request-id'];
    this.id = typeof given === 'string' && SANE_REQUEST_ID.test(given) ? given : randomUUID();
    this.path = pathForLog(req.url);
    this.method = req.method ?? 'GET';
    this.socket = socket;
    this.client = socket.remoteAddress ?? '';
  }

  decorate(headers: ResponseHeaders): void {
    this.events.decorate(this, headers);
  }

  failed(failure: UpstreamFailure, cause: string | undefined): void {
    this.events.upstreamFailed(this, failure, cause);
  }

  bodyTooLarge(limit: number): void {
    this.events.bodyTooLarge(this, limit);
  }

  retried(reason: RetryCondition): void {
    this.events.retried(this, reason);
  }

  queued(waitMs: number): void {
    this.events.queued(this, waitMs);
  }
}

/** The path without the query, for logs: queries may carry secrets. */
export function pathForLog(url: string | undefined): string {
  if (url === undefined) return '';
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  return path.length > 2048 ? path.slice(0, 2048) : path;
}

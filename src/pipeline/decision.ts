// The outcome of the pipeline for one request: forward it, deny it with a status, a stable code and a
// sentence, or answer it as a CORS preflight. One place (server/respond.ts) turns a denial into a response.
import type { Identity } from '../auth/identity.ts';
import type { Route } from '../routing/route.ts';
import type { CorsPolicy, PreflightVerdict } from '../traffic/cors.ts';

/** RFC 6750 §3.1 error codes, for WWW-Authenticate. */
export type BearerError = 'invalid_request' | 'invalid_token' | 'insufficient_scope';

export interface Denial {
  readonly kind: 'deny';
  readonly status: number;
  /** Stable reason code: logs, metrics, explain and the response body all carry it. */
  readonly code: string;
  readonly message: string;
  /** Set on 401/403: the WWW-Authenticate challenge. */
  readonly challenge?: { readonly error?: BearerError; readonly scope?: string };
  /** Set on 405. */
  readonly allow?: readonly string[];
  /** Set on 429: seconds until the limit frees a request (Retry-After). */
  readonly retryAfter?: number;
  readonly route?: Route;
  readonly identity?: Identity;
}

export interface Forward {
  readonly kind: 'forward';
  readonly route: Route;
  readonly identity: Identity | null;
  /** What the upstream is asked for: the normalized path (prefix stripped where configured) and query. */
  readonly upstreamPath: string;
}

/**
 * A CORS preflight (OPTIONS with Origin and Access-Control-Request-Method) to a route that does CORS: the
 * gateway answers it itself, before authentication (browsers send no credentials on a preflight), and
 * nothing reaches the upstream. Allowed: 204 with the allow headers; refused: 403 without them.
 */
export interface Preflight {
  readonly kind: 'preflight';
  readonly route: Route;
  readonly cors: CorsPolicy;
  readonly origin: string;
  readonly verdict: PreflightVerdict;
}

export type Decision = Denial | Forward | Preflight;

export function deny(status: number, code: string, message: string, extra?: Partial<Denial>): Denial {
  return { kind: 'deny', status, code, message, ...extra };
}

/** A step of the pipeline as explain prints it. */
export interface TraceStep {
  readonly stage: 'normalize' | 'route' | 'cors' | 'token' | 'verify' | 'authorize' | 'body' | 'rate_limit' | 'forward';
  readonly outcome: 'pass' | 'fail' | 'skip';
  readonly detail: string;
}

export type Trace = TraceStep[];

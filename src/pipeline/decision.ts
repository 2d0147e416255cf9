// The outcome of the pipeline for one request: forward it, deny it with a stable code and a sentence, or
// answer it as a CORS preflight. A denial's status and challenge come from the catalog (denials.ts);
// server/respond.ts turns a denial into a response.
import type { Identity } from '../auth/identity.ts';
import type { Route } from '../routing/route.ts';
import type { CorsPolicy, PreflightVerdict } from '../traffic/cors.ts';
import { DENIALS, type DenialCode, type DenialSpec } from './denials.ts';

/** RFC 6750 §3.1 error codes, for WWW-Authenticate. */
export type BearerError = 'invalid_request' | 'invalid_token' | 'insufficient_scope';

export interface Denial {
  readonly kind: 'deny';
  readonly status: number;
  /** Stable reason code: logs, metrics, explain and the response body all carry it. */
  readonly code: DenialCode;
  readonly message: string;
  /** Set on 401/403 (from the catalog): the WWW-Authenticate challenge. */
  readonly challenge?: Challenge;
  /** Set on 405. */
  readonly allow?: readonly string[];
  /** The connection can not carry another request after this one (its framing is in doubt). */
  readonly closeConnection?: boolean;
  /** Set on 429: seconds until the limit frees a request (Retry-After). */
  readonly retryAfter?: number;
  readonly route?: Route;
  readonly identity?: Identity;
}

export interface Forward {
  readonly kind: 'forward';
  readonly route: Route;
  readonly identity: Identity | null;
  /**
   * What the upstream is asked for: the normalized path (prefix stripped where configured) and the query,
   * without the parameters that carry tokens (token_from query:<name>).
   */
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

export interface Challenge {
  readonly error?: BearerError;
  readonly scope?: string;
}

/** What a denial may carry besides its code and sentence. */
export interface DenialExtra {
  readonly route?: Route;
  readonly identity?: Identity;
  /** The scopes a 403 insufficient_scope names in its challenge. */
  readonly scope?: string;
  readonly allow?: readonly string[];
  readonly retryAfter?: number;
}

export function deny(code: DenialCode, message: string, extra?: DenialExtra): Denial {
  const spec: DenialSpec = DENIALS[code];
  const denial: { -readonly [K in keyof Denial]: Denial[K] } = { kind: 'deny', status: spec.status, code, message };
  if (spec.closes === true) denial.closeConnection = true;
  if (spec.challenge !== undefined) {
    denial.challenge = spec.challenge === 'plain' ? {} : { error: spec.challenge, ...(extra?.scope !== undefined ? { scope: extra.scope } : {}) };
  }
  if (extra?.route !== undefined) denial.route = extra.route;
  if (extra?.identity !== undefined) denial.identity = extra.identity;
  if (extra?.allow !== undefined) denial.allow = extra.allow;
  if (extra?.retryAfter !== undefined) denial.retryAfter = extra.retryAfter;
  return denial;
}

/** A step of the pipeline as explain prints it. */
export interface TraceStep {
  readonly stage: 'normalize' | 'route' | 'cors' | 'token' | 'verify' | 'authorize' | 'claims' | 'body' | 'rate_limit' | 'forward';
  readonly outcome: 'pass' | 'fail' | 'skip';
  readonly detail: string;
}

export type Trace = TraceStep[];

// The outcome of the pipeline for one request: forward it, or deny it with a status, a stable code and
// a sentence. One place (server/respond.ts) turns a denial into a response.
import type { Identity } from '../auth/identity.ts';
import type { Route } from '../routing/route.ts';

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

export type Decision = Denial | Forward;

export function deny(status: number, code: string, message: string, extra?: Partial<Denial>): Denial {
  return { kind: 'deny', status, code, message, ...extra };
}

/** A step of the pipeline as explain prints it. */
export interface TraceStep {
  readonly stage: 'normalize' | 'route' | 'token' | 'verify' | 'authorize' | 'claims' | 'body' | 'forward';
  readonly outcome: 'pass' | 'fail' | 'skip';
  readonly detail: string;
}

export type Trace = TraceStep[];

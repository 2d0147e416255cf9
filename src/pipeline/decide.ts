// The request pipeline, top to bottom: normalize -> match route (a CORS preflight is answered here) ->
// extract token -> verify -> authorize -> body limit. Rate limits are counted after it (traffic/admit.ts).
// Each stage either hands the next one its value or returns a Denial. The server forwards what this
// allows; explain prints the same stages without calling anything. Only a signature check waits: a
// request with a cached token is decided without a single promise.
import type { IncomingHttpHeaders } from 'node:http';
import { countHeader, extractBearer } from '../auth/extract.ts';
import type { Identity } from '../auth/identity.ts';
import { authorize } from '../auth/requirement.ts';
import { isIdentity, verifyToken, type VerificationFailure, type VerifyFunction } from '../auth/verify.ts';
import type { CompiledConfig } from '../config/compile.ts';
import { normalizeTarget } from '../routing/normalize.ts';
import type { Route } from '../routing/route.ts';
import { deny, type Decision, type Denial, type Forward, type Preflight, type Trace } from './decision.ts';

/** What the pipeline looks at: an IncomingMessage has all of it; explain builds one from its arguments. */
export interface RequestFacts {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
  /** "1.1", "1.0"; absent for explain, which has no connection. */
  readonly httpVersion?: string;
}

/** A stage's result, or its promise when it had to wait (a signature check; a cached token does not). */
export type Awaitable<T> = T | Promise<T>;

export function decide(
  config: CompiledConfig,
  request: RequestFacts,
  trace?: Trace,
  verify: VerifyFunction = verifyToken,
): Awaitable<Decision> {
  const hostProblem = checkHost(request);
  if (hostProblem !== undefined) {
    trace?.push({ stage: 'normalize', outcome: 'fail', detail: hostProblem.message });
    return hostProblem;
  }
  const target = normalizeTarget(request.url);
  if (!target.ok) {
    trace?.push({ stage: 'normalize', outcome: 'fail', detail: target.message });
    return deny(400, target.code, target.message);
  }
  trace?.push({ stage: 'normalize', outcome: 'pass', detail: target.path });

  const preflight = request.method === 'OPTIONS' ? preflightOf(config, request, target.path, trace) : undefined;
  if (preflight !== undefined) return preflight;
  const match = config.router.match(request.method, request.headers.host, target.path);
  if (match.kind === 'not_found') {
    trace?.push({ stage: 'route', outcome: 'fail', detail: 'no route matches the path' });
    return deny(404, 'no_route', `no route matches ${request.method} ${target.path}`);
  }
  if (match.kind === 'method_not_allowed') {
    trace?.push({ stage: 'route', outcome: 'fail', detail: `the path matches, but only for ${match.allow.join(', ')}` });
    return deny(405, 'method_not_allowed', `${request.method} is not allowed here; use ${match.allow.join(', ')}`, {
      allow: match.allow,
    });
  }
  const route = match.route;
  trace?.push({ stage: 'route', outcome: 'pass', detail: `route "${route.name}" (auth: ${route.auth})` });
  const upstreamPath = (route.stripPrefix ? route.pattern.strip(target.path) : target.path) + target.query;

  const token = bearerToken(config, route, request, trace);
  if (token === null) return checkBodySize(request, { kind: 'forward', route, identity: null, upstreamPath }, trace);
  if (typeof token !== 'string') return token;

  const verified = verify(config.verifier, token);
  return verified instanceof Promise
    ? verified.then((result) => checkBodySize(request, admit(route, result, upstreamPath, trace), trace))
    : checkBodySize(request, admit(route, verified, upstreamPath, trace), trace);
}

/**
 * A declared Content-Length over the route's max_body is refused before a byte of the body is read. (A
 * chunked body declares no length: the server counts it as it streams, server/gateway.ts.) Checked after
 * the caller is authorized, so that the route's limit is not told to whoever asks.
 */
function checkBodySize(request: RequestFacts, decision: Forward | Denial, trace: Trace | undefined): Forward | Denial {
  if (decision.kind === 'deny' || decision.route.maxBody === null) return decision;
  const limit = decision.route.maxBody;
  const declared = request.headers['content-length'];
  if (declared === undefined || Number(declared) <= limit) {
    trace?.push({ stage: 'body', outcome: 'pass', detail: `declared ${declared ?? 'no'} length; the limit is ${limit} bytes` });
    return decision;
  }
  trace?.push({ stage: 'body', outcome: 'fail', detail: `Content-Length ${declared} is over the limit of ${limit} bytes` });
  return deny(413, 'body_too_large', `the request body is larger than ${limit} bytes`, { route: decision.route, ...(decision.identity ? { identity: decision.identity } : {}) });
}

/**
 * A CORS preflight asks about the request the browser means to send: the route is the one that serves the
 * path for that method (Access-Control-Request-Method), and when it does CORS the gateway answers, before
 * any token is looked for. Where the route does no CORS, the OPTIONS request goes on like any other.
 */
function preflightOf(config: CompiledConfig, request: RequestFacts, path: string, trace: Trace | undefined): Preflight | undefined {
  const origin = request.headers.origin;
  const method = request.headers['access-control-request-method'];
  if (origin === undefined || typeof method !== 'string') return undefined;
  const match = config.router.match(method, request.headers.host, path);
  if (match.kind !== 'route' || match.route.cors === null) return undefined;
  const { route } = match;
  const cors = route.cors!;
  trace?.push({ stage: 'route', outcome: 'pass', detail: `route "${route.name}" (auth: ${route.auth}), asked by a CORS preflight for ${method}` });
  const asked = request.headers['access-control-request-headers'];
  const verdict = cors.preflight(origin, method, Array.isArray(asked) ? asked.join(',') : asked);
  trace?.push({
    stage: 'cors',
    outcome: verdict.allowed ? 'pass' : 'fail',
    detail: verdict.allowed ? 'preflight allowed: the gateway answers 204 with the allow headers, before authentication' : `${verdict.code}: ${verdict.message}`,
  });
  return { kind: 'preflight', route, cors, origin, verdict };
}

/**
 * Exactly one Host (RFC 9112 §3.2): routes are chosen by it, and with two of them the gateway and the
 * upstream could each pick another. HTTP/1.1 requires it; HTTP/1.0 may leave it out.
 */
function checkHost(request: RequestFacts): Denial | undefined {
  if (request.headers.host === undefined) {
    return request.httpVersion === '1.1' ? deny(400, 'host_missing', 'an HTTP/1.1 request needs a Host header') : undefined;
  }
  return countHeader(request.rawHeaders, 'host') > 1 ? deny(400, 'host_duplicated', 'the request has more than one Host header') : undefined;
}

/** The token the route needs checked; null when it needs none (public, or optional without one). */
function bearerToken(config: CompiledConfig, route: Route, request: RequestFacts, trace: Trace | undefined): string | Denial | null {
  if (route.auth === 'public') {
    trace?.push({ stage: 'token', outcome: 'skip', detail: 'public route: no token is read' });
    return null;
  }
  const extraction = extractBearer(request.headers, request.rawHeaders, config.settings.maxTokenBytes);
  if (extraction.kind === 'none') {
    if (route.auth === 'optional') {
      trace?.push({ stage: 'token', outcome: 'skip', detail: 'no token; the route allows anonymous callers' });
      return null;
    }
    trace?.push({ stage: 'token', outcome: 'fail', detail: 'no bearer token' });
    return deny(401, 'token_missing', 'this route requires a bearer token', { route, challenge: {} });
  }
  if (extraction.kind === 'rejected') {
    trace?.push({ stage: 'token', outcome: 'fail', detail: extraction.message });
    const error = extraction.code === 'token_duplicated' ? 'invalid_request' : 'invalid_token';
    return deny(401, extraction.code, extraction.message, { route, challenge: { error } });
  }
  trace?.push({ stage: 'token', outcome: 'pass', detail: 'bearer token found' });
  return extraction.token;
}

/** The verified token (or why it failed), checked against what the route requires. */
function admit(route: Route, verified: Identity | VerificationFailure, upstreamPath: string, trace: Trace | undefined): Forward | Denial {
  if (!isIdentity(verified)) {
    const tried = verified.provider !== undefined ? `provider "${verified.provider}": ` : '';
    trace?.push({ stage: 'verify', outcome: 'fail', detail: `${tried}${verified.code}: ${verified.message}` });
    if (verified.code === 'provider_unavailable') return deny(503, verified.code, verified.message, { route });
    return deny(401, verified.code, verified.message, { route, challenge: { error: 'invalid_token' } });
  }
  trace?.push({ stage: 'verify', outcome: 'pass', detail: `provider "${verified.provider.name}", sub ${verified.subject ?? '(none)'}` });

  const failure = authorize(route.requirement, verified);
  if (failure !== null) {
    trace?.push({ stage: 'authorize', outcome: 'fail', detail: `${failure.code}: ${failure.message}` });
    if (failure.code === 'provider_not_allowed') {
      return deny(401, failure.code, failure.message, { route, identity: verified, challenge: { error: 'invalid_token' } });
    }
    const scope = failure.code === 'insufficient_scope' ? failure.scope : undefined;
    return deny(403, failure.code, failure.message, {
      route,
      identity: verified,
      challenge: { error: 'insufficient_scope', ...(scope !== undefined ? { scope } : {}) },
    });
  }
  trace?.push({ stage: 'authorize', outcome: 'pass', detail: describeRequirement(route) });
  return { kind: 'forward', route, identity: verified, upstreamPath };
}

function describeRequirement(route: Route): string {
  const { anyRoles, allRoles, scopes } = route.requirement;
  const parts = [
    anyRoles.length ? `one of roles ${anyRoles.join(', ')}` : '',
    allRoles.length ? `all roles ${allRoles.join(', ')}` : '',
    scopes.length ? `scopes ${scopes.join(' ')}` : '',
  ].filter(Boolean);
  return parts.length ? `has ${parts.join('; ')}` : 'any verified caller';
}

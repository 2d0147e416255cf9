// The request pipeline, top to bottom: check the message (header count, Host, framing) -> normalize ->
// match route (a CORS preflight is answered here) -> extract token (and, for a cookie token on an unsafe
// request, its origin) -> verify -> authorize (roles, scopes, claim conditions) -> body limit. Rate limits
// are counted after it (traffic/admit.ts).
// Each stage either hands the next one its value or returns a Denial. The server forwards what this
// allows; explain prints the same stages without calling anything. Only a signature check waits: a
// request with a cached token is decided without a single promise.
import type { IncomingHttpHeaders } from 'node:http';
import { describeSource, extractToken, withoutQueryParameters, type Extraction, type TokenSource } from '../auth/extract.ts';
import type { Identity } from '../auth/identity.ts';
import { isIdentity, verifyToken, type VerificationFailure, type VerifyFunction } from '../auth/verify.ts';
import type { CompiledConfig } from '../config/compile.ts';
import { normalizeTarget } from '../routing/normalize.ts';
import { segmentsOf } from '../routing/pattern.ts';
import type { Route } from '../routing/route.ts';
import { authorizeCaller } from './authorize.ts';
import { checkCookieOrigin, needsOriginCheck } from './csrf.ts';
import { deny, type Decision, type Denial, type Forward, type Preflight, type Trace } from './decision.ts';
import { checkFraming, checkHost } from './request-checks.ts';

/** What the pipeline looks at: an IncomingMessage has all of it; explain builds one from its arguments. */
export interface RequestFacts {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
  /** "1.1", "1.0"; absent for explain, which has no connection. */
  readonly httpVersion?: string;
  /** The connection: whose forwarding headers to trust and which scheme it used (the origin check). */
  readonly socket?: { readonly remoteAddress?: string | undefined; readonly encrypted?: boolean };
}

/** A stage's result, or its promise when it had to wait (a signature check; a cached token does not). */
export type Awaitable<T> = T | Promise<T>;

/** The extractor's answer when it found a token: returned as it is, no copy per request. */
type FoundToken = Extract<Extraction, { kind: 'token' }>;

export function decide(
  config: CompiledConfig,
  request: RequestFacts,
  trace?: Trace,
  verify: VerifyFunction = verifyToken,
): Awaitable<Decision> {
  const lines = request.rawHeaders.length / 2;
  if (lines > config.settings.maxHeaders) {
    trace?.push({ stage: 'normalize', outcome: 'fail', detail: `${lines} header lines; server.max_headers is ${config.settings.maxHeaders}` });
    return deny('headers_too_many', `the request has more than ${config.settings.maxHeaders} header lines`);
  }
  const messageProblem = checkHost(request) ?? checkFraming(request);
  if (messageProblem !== undefined) {
    trace?.push({ stage: 'normalize', outcome: 'fail', detail: messageProblem.message });
    return messageProblem;
  }
  const target = normalizeTarget(request.url);
  if (!target.ok) {
    trace?.push({ stage: 'normalize', outcome: 'fail', detail: target.message });
    return deny(target.code, target.message);
  }
  trace?.push({ stage: 'normalize', outcome: 'pass', detail: target.path });

  const preflight = request.method === 'OPTIONS' ? preflightOf(config, request, target.path, trace) : undefined;
  if (preflight !== undefined) return preflight;

  const match = config.router.match(request.method, request.headers.host, target.path);
  if (match.kind === 'not_found') {
    trace?.push({ stage: 'route', outcome: 'fail', detail: 'no route matches the path' });
    return deny('no_route', `no route matches ${request.method} ${target.path}`);
  }
  if (match.kind === 'method_not_allowed') {
    trace?.push({ stage: 'route', outcome: 'fail', detail: `the path matches, but only for ${match.allow.join(', ')}` });
    return deny('method_not_allowed', `${request.method} is not allowed here; use ${match.allow.join(', ')}`, {
      allow: match.allow,
    });
  }
  const route = match.route;
  trace?.push({ stage: 'route', outcome: 'pass', detail: `route "${route.name}" (auth: ${route.auth})` });
  // A token in the query (RFC 6750 §2.3) never goes further than the gateway: not to the upstream's URL,
  // nor its logs. The gateway's own logs never carry the query (server/request-context.ts).
  const query = config.queryTokenNames.size > 0 && target.query !== '' ? withoutQueryParameters(target.query, config.queryTokenNames) : target.query;
  const upstreamPath = (route.stripPrefix ? route.pattern.strip(target.path) : target.path) + query;

  const found = requestToken(config, route, request, target.query, trace);
  if (found === null) return checkBodySize(request, { kind: 'forward', route, identity: null, upstreamPath }, trace);
  if (found.kind === 'deny') return found;

  const verified = verify(config.verifier, found.token);
  const path = target.path;
  return verified instanceof Promise
    ? verified.then((result) => checkBodySize(request, checkVerified(route, result, found.source, path, upstreamPath, trace), trace))
    : checkBodySize(request, checkVerified(route, verified, found.source, path, upstreamPath, trace), trace);
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
  return deny('body_too_large', `the request body is larger than ${limit} bytes`, { route: decision.route, ...(decision.identity ? { identity: decision.identity } : {}) });
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

/** The token the route needs checked; null when it needs none (public, or optional without one). */
function requestToken(config: CompiledConfig, route: Route, request: RequestFacts, query: string, trace: Trace | undefined): FoundToken | Denial | null {
  if (route.auth === 'public') {
    trace?.push({ stage: 'token', outcome: 'skip', detail: 'public route: no token is read' });
    return null;
  }
  const extraction = extractToken(route.tokenSources, request.headers, request.rawHeaders, query, config.settings.maxTokenBytes);
  if (extraction.kind === 'none') {
    if (route.auth === 'optional') {
      trace?.push({ stage: 'token', outcome: 'skip', detail: 'no token; the route allows anonymous callers' });
      return null;
    }
    const where = route.tokenSources.map(describeSource).join(', ');
    trace?.push({ stage: 'token', outcome: 'fail', detail: `no token in ${where}` });
    const message = route.tokenSources.length === 1 && route.tokenSources[0]!.kind === 'bearer'
      ? 'this route requires a bearer token'
      : `this route requires a token (looked in ${where})`;
    return deny('token_missing', message, { route });
  }
  if (extraction.kind === 'rejected') {
    trace?.push({ stage: 'token', outcome: 'fail', detail: extraction.message });
    return deny(extraction.code, extraction.message, { route });
  }
  if (extraction.source.kind === 'cookie' && needsOriginCheck(request)) {
    const refused = checkCookieOrigin(route, request, config.forward.trust);
    if (refused !== undefined) {
      trace?.push({ stage: 'token', outcome: 'fail', detail: `token from ${describeSource(extraction.source)}; ${refused.message}` });
      return { ...refused, route };
    }
  }
  trace?.push({ stage: 'token', outcome: 'pass', detail: `token found in ${describeSource(extraction.source)}` });
  return extraction;
}

/** The verified token (or why it failed), checked against what the route requires. */
function checkVerified(
  route: Route,
  verified: Identity | VerificationFailure,
  source: TokenSource,
  path: string,
  upstreamPath: string,
  trace: Trace | undefined,
): Forward | Denial {
  if (!isIdentity(verified)) {
    const tried = verified.provider !== undefined ? `provider "${verified.provider}": ` : '';
    const hint = verified.hint !== undefined ? ` (${verified.hint})` : '';
    trace?.push({ stage: 'verify', outcome: 'fail', detail: `${tried}${verified.code}: ${verified.message}${hint}` });
    return deny(verified.code, verified.message, { route });
  }
  trace?.push({ stage: 'verify', outcome: 'pass', detail: `provider "${verified.provider.name}", sub ${verified.subject ?? '(none)'}` });
  if (route.checkProviderSource && !verified.provider.tokenSources.has(source.key)) {
    const message = `tokens of provider "${verified.provider.name}" are not accepted from ${describeSource(source)}`;
    trace?.push({ stage: 'verify', outcome: 'fail', detail: `token_source_not_allowed: ${message}` });
    return deny('token_source_not_allowed', message, { route, identity: verified });
  }
  const denial = authorizeCaller(route, verified, route.requirement.usesPathParameters ? segmentsOf(path) : undefined, trace);
  if (denial !== undefined) return denial;
  return { kind: 'forward', route, identity: verified, upstreamPath };
}

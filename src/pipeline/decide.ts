// The request pipeline, top to bottom: check the message (Host, framing) -> normalize -> match route -> extract token -> verify -> authorize ->
// body limit.
// Each stage either hands the next one its value or returns a Denial. The server forwards what this
// allows; explain prints the same stages without calling anything. Only a signature check waits: a
// request with a cached token is decided without a single promise.
import type { IncomingHttpHeaders } from 'node:http';
import { extractBearer } from '../auth/extract.ts';
import type { Identity } from '../auth/identity.ts';
import { authorize } from '../auth/requirement.ts';
import { isIdentity, verifyToken, type VerificationFailure, type VerifyFunction } from '../auth/verify.ts';
import type { CompiledConfig } from '../config/compile.ts';
import { normalizeTarget } from '../routing/normalize.ts';
import type { Route } from '../routing/route.ts';
import { deny, type Decision, type Denial, type Trace } from './decision.ts';
import { checkFraming, checkHost } from './request-checks.ts';

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
function checkBodySize(request: RequestFacts, decision: Decision, trace: Trace | undefined): Decision {
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
    return deny('token_missing', 'this route requires a bearer token', { route });
  }
  if (extraction.kind === 'rejected') {
    trace?.push({ stage: 'token', outcome: 'fail', detail: extraction.message });
    return deny(extraction.code, extraction.message, { route });
  }
  trace?.push({ stage: 'token', outcome: 'pass', detail: 'bearer token found' });
  return extraction.token;
}

/** The verified token (or why it failed), checked against what the route requires. */
function admit(route: Route, verified: Identity | VerificationFailure, upstreamPath: string, trace: Trace | undefined): Decision {
  if (!isIdentity(verified)) {
    const tried = verified.provider !== undefined ? `provider "${verified.provider}": ` : '';
    trace?.push({ stage: 'verify', outcome: 'fail', detail: `${tried}${verified.code}: ${verified.message}` });
    return deny(verified.code, verified.message, { route });
  }
  trace?.push({ stage: 'verify', outcome: 'pass', detail: `provider "${verified.provider.name}", sub ${verified.subject ?? '(none)'}` });

  const failure = authorize(route.requirement, verified);
  if (failure !== null) {
    trace?.push({ stage: 'authorize', outcome: 'fail', detail: `${failure.code}: ${failure.message}` });
    const scope = failure.code === 'insufficient_scope' ? failure.scope : undefined;
    return deny(failure.code, failure.message, { route, identity: verified, ...(scope !== undefined ? { scope } : {}) });
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

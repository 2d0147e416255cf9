// The request pipeline, top to bottom: normalize -> match route -> extract token -> verify -> authorize.
// Each stage either hands the next one its value or returns a Denial. The server forwards what this
// allows; explain prints the same stages without calling anything.
import type { IncomingHttpHeaders } from 'node:http';
import { extractBearer } from '../auth/extract.ts';
import type { Identity } from '../auth/identity.ts';
import { authorize } from '../auth/requirement.ts';
import { isIdentity, verifyToken, type VerifyFunction } from '../auth/verify.ts';
import type { CompiledConfig } from '../config/compile.ts';
import { normalizeTarget } from '../routing/normalize.ts';
import type { Route } from '../routing/route.ts';
import { deny, type Decision, type Denial, type Trace } from './decision.ts';

/** What the pipeline looks at: an IncomingMessage has all of it; explain builds one from its arguments. */
export interface RequestFacts {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
}

export async function decide(
  config: CompiledConfig,
  request: RequestFacts,
  trace?: Trace,
  verify: VerifyFunction = verifyToken,
): Promise<Decision> {
  const target = normalizeTarget(request.url);
  if (!target.ok) {
    trace?.push({ stage: 'normalize', outcome: 'fail', detail: target.message });
    return deny(400, target.code, target.message);
  }
  trace?.push({ stage: 'normalize', outcome: 'pass', detail: target.path });

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

  const identity = await authenticate(config, route, request, trace, verify);
  if (identity !== null && identity.kind === 'deny') return identity;

  const upstreamPath = (route.stripPrefix ? route.pattern.strip(target.path) : target.path) + target.query;
  return { kind: 'forward', route, identity: identity?.identity ?? null, upstreamPath };
}

type Authenticated = { readonly kind: 'identity'; readonly identity: Identity } | Denial | null;

async function authenticate(
  config: CompiledConfig,
  route: Route,
  request: RequestFacts,
  trace: Trace | undefined,
  verify: VerifyFunction,
): Promise<Authenticated> {
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

  const verified = await verify(config.verifier, extraction.token);
  if (!isIdentity(verified)) {
    trace?.push({ stage: 'verify', outcome: 'fail', detail: `${verified.code}: ${verified.message}` });
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
  return { kind: 'identity', identity: verified };
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

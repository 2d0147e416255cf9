// portcullis explain: "why was my request rejected?" Runs a request through the same pipeline as the
// server, without calling any upstream or counting any rate limit, and prints every stage, the rate limits
// and CORS included. Exit 0 when it would be forwarded (or a preflight allowed), 2 when it would be denied.
import type { IncomingHttpHeaders } from 'node:http';
import { UnsecuredJWT, type JWTPayload } from 'jose';
import { describeCondition } from '../auth/conditions.ts';
import type { Identity } from '../auth/identity.ts';
import { checkClaimsOnly, verifyToken, type VerifyFunction } from '../auth/verify.ts';
import { compileConfig, type CompiledConfig } from '../config/compile.ts';
import { loadConfigOrThrow } from '../config/load.ts';
import type { Decision, Trace } from '../pipeline/decision.ts';
import { decide } from '../pipeline/decide.ts';
import { forwardedHeaders } from '../proxy/headers.ts';
import { canonicalHost } from '../routing/host.ts';
import { normalizeTarget } from '../routing/normalize.ts';
import { foldCase, segmentsOf } from '../routing/pattern.ts';
import type { Route } from '../routing/route.ts';
import { trafficSteps } from '../traffic/explain.ts';
import { CONFIG_OPTION, configFile, parse, UsageError } from './args.ts';
import { credentialNames, placeToken, redactHeader, redactQuery, type CredentialNames } from './explain-tokens.ts';

const OPTIONS = {
  ...CONFIG_OPTION,
  token: { type: 'string', short: 't' },
  claims: { type: 'string' },
  header: { type: 'string', short: 'H', multiple: true },
  client: { type: 'string' },
  json: { type: 'boolean' },
} as const;

const KEYS_WAIT_MS = 5000;

export async function explainCommand(args: readonly string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const { values, positionals } = parse(args, OPTIONS);
  if (positionals.length !== 2) throw new UsageError('explain needs METHOD and URL, e.g. explain GET http://localhost:8080/api/orders/1');
  if (values.token !== undefined && values.claims !== undefined) throw new UsageError('give --token or --claims, not both');
  const method = positionals[0]!.toUpperCase();
  const split = splitUrl(positionals[1]!);
  const host = split.host;
  let target = split.target;
  const headers = headersFrom(values.header ?? [], host);

  let verify: VerifyFunction = verifyToken;
  let token = values.token;
  if (values.claims !== undefined) {
    const claims = parseClaims(values.claims);
    token = `${new UnsecuredJWT(claims).encode()}unsigned`;
    verify = (verifier) => checkClaimsOnly(verifier, claims);
  }

  const loaded = loadConfigOrThrow(configFile(values.config));
  const config = await compileConfig(loaded);
  try {
    if (token !== undefined) target = placeToken(config, method, target, headers, token);
    if (values.token !== undefined) await fetchKeys(config);
    const rawHeaders = Object.entries(headers).flatMap(([k, v]) => [k, String(v)]);
    const trace: Trace = [];
    const client = values.client ?? '127.0.0.1';
    // The connection the request would come on: whether its X-Forwarded-Proto and -Host are believed (the
    // origin a cookie token is checked against) depends on who sends them, as in the running gateway.
    const socket = { remoteAddress: client };
    const decision = await decide(config, { method, url: target, headers: { ...headers }, rawHeaders, socket }, trace, verify);
    const secrets = credentialNames(loaded.config);
    trace.push(...trafficSteps(config, decision, { headers, socket }));
    const report = buildReport(config, method, target, headers, decision, trace, client, values.claims !== undefined, secrets);
    out.write(values.json ? JSON.stringify(report, null, 2) + '\n' : render(report));
    return report.decision.allowed ? 0 : 2;
  } finally {
    config.close();
  }
}

interface Report {
  request: { method: string; target: string; host: string | undefined };
  path: string | null;
  routes: { name: string; match: string; outcome: string }[];
  steps: Trace;
  checks: string[];
  checksShown?: boolean;
  forward?: { upstream: string; url: string; targets: string[]; balance: string | null; health: string; headers: Record<string, string> };
  decision: { allowed: boolean; status: number | null; code: string | null; message: string };
}

function buildReport(
  config: CompiledConfig,
  method: string,
  target: string,
  headers: IncomingHttpHeaders,
  decision: Decision,
  trace: Trace,
  client: string,
  claimsOnly: boolean,
  secrets: CredentialNames,
): Report {
  const normalized = normalizeTarget(target);
  const path = normalized.ok ? normalized.path : null;
  const chosen = decision.route;
  // A preflight is matched with the method it asks about.
  const asked = decision.kind === 'preflight' ? String(headers['access-control-request-method']) : method;
  const identity = decision.kind === 'preflight' ? undefined : decision.identity;
  const report: Report = {
    request: { method, target: redactQuery(target, config.queryTokenNames), host: headers.host },
    path,
    routes: path === null ? [] : config.router.routes.map((r) => ({ name: r.name, match: describeMatch(r), outcome: routeOutcome(config, r, chosen, asked, headers.host, path) })),
    steps: trace,
    checks: identity ? identityChecks(identity, claimsOnly) : [],
    decision: describeDecision(decision),
  };
  if (decision.kind === 'forward') {
    const lines = forwardedHeaders(headers, config.forward, decision.identity, {
      requestId: typeof headers['x-request-id'] === 'string' ? headers['x-request-id'] : '(generated per request)',
      remoteAddress: client,
      host: headers.host,
      encrypted: false,
      upgrade: false,
    });
    const upstream = decision.route.upstream;
    const target = upstream.targets[0]!;
    lines[lines.length - 1] = target.hostFor(headers.host);
    const forwarded: Record<string, string> = {};
    for (let i = 0; i < lines.length; i += 2) {
      const name = lines[i]!;
      forwarded[name] = forwarded[name] === undefined ? lines[i + 1]! : `${forwarded[name]}, ${lines[i + 1]!}`;
    }
    const url = `${new URL(target.url).origin}${target.basePath}${decision.upstreamPath}`;
    const up = upstream.upTargets().map((t) => t.label);
    report.forward = {
      upstream: upstream.name,
      url: upstream.targets.length > 1 ? `${url} (one of ${upstream.targets.length} targets)` : url,
      targets: upstream.targets.map((t) => `${t.label}: ${up.includes(t.label) ? 'eligible' : 'out (unhealthy or ejected)'}`),
      balance: upstream.balance,
      health: upstream.activelyChecked
        ? 'health checks on: the running gateway takes out targets that fail them (portcullis_upstream_target_healthy)'
        : upstream.outliers !== null
          ? 'outlier detection on: the running gateway ejects targets that keep failing'
          : 'no health checks: every target gets requests',
      headers: Object.fromEntries(Object.entries(forwarded).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, redactHeader(k, v, secrets)])),
    };
  }
  return report;
}

function describeDecision(decision: Decision): Report['decision'] {
  switch (decision.kind) {
    case 'forward':
      return { allowed: true, status: null, code: null, message: `forwarded to upstream "${decision.route.upstream.name}"` };
    case 'deny':
      return { allowed: false, status: decision.status, code: decision.code, message: decision.message };
    case 'preflight':
      return decision.verdict.allowed
        ? { allowed: true, status: 204, code: null, message: 'a CORS preflight, answered by the gateway with the allow headers; nothing reaches the upstream' }
        : { allowed: false, status: 403, code: decision.verdict.code!, message: decision.verdict.message! };
  }
}

function describeMatch(route: Route): string {
  const methods = route.methods ? [...route.methods].filter((m) => m !== 'HEAD' || !route.methods!.has('GET')).join(',') + ' ' : '';
  const host = route.host ? ` host ${route.host.source}` : '';
  return `${methods}${route.pattern.kind === 'exact' ? 'path' : 'prefix'} ${route.pattern.source}${host}`;
}

function routeOutcome(config: CompiledConfig, route: Route, chosen: Route | undefined, method: string, host: string | undefined, path: string): string {
  if (chosen !== undefined && route.index > chosen.index) return 'not considered (an earlier route matched)';
  if (route === chosen) return 'matched';
  const key = config.settings.caseInsensitivePaths ? foldCase(path) : path;
  if (!route.pattern.matches(key, segmentsOf(key))) return 'path does not match';
  if (route.host !== null && !route.host.matches(canonicalHost(host))) return `host is not ${route.host.source}`;
  if (route.methods !== null && !route.methods.has(method)) return `method ${method} not in ${[...route.methods].join(', ')}`;
  return 'matched';
}

function identityChecks(identity: Identity, claimsOnly: boolean): string[] {
  const claims = identity.claims;
  const options = identity.provider.verifyOptions;
  const checks = [claimsOnly ? 'signature: not checked (--claims)' : `signature: valid (${identity.provider.keys.kind})`];
  const expIn = Math.round(((claims.exp ?? 0) * 1000 - Date.now()) / 1000);
  checks.push(`exp: ${new Date((claims.exp ?? 0) * 1000).toISOString()} (in ${expIn}s)`);
  if (claims.nbf !== undefined) checks.push(`nbf: ${new Date(claims.nbf * 1000).toISOString()}`);
  const template = identity.provider.issuerTemplate;
  checks.push(
    options.issuer !== undefined
      ? `iss: ${String(claims.iss)} (required)`
      : template !== undefined
        ? `iss: ${String(claims.iss)} (fits ${template.source}, ${template.claim} ${JSON.stringify(claims[template.claim])}${template.tenants ? ', a listed tenant' : ''})`
        : 'iss: not checked (provider has no issuer)',
  );
  checks.push(options.audience !== undefined ? `aud: ${JSON.stringify(claims.aud)} (one of ${[options.audience].flat().join(', ')} required)` : 'aud: not checked');
  for (const condition of identity.provider.requiredClaims) checks.push(`require_claims: ${describeCondition(condition)} (pass)`);
  checks.push(`roles: ${identity.roles.join(', ') || '(none)'}`);
  checks.push(`scopes: ${identity.scopes.join(' ') || '(none)'}`);
  return checks;
}

function render(report: Report): string {
  const lines: string[] = [];
  const row = (label: string, text: string) => lines.push(`${label.padEnd(11)}${text}`);
  const more = (text: string) => lines.push(`${' '.repeat(11)}${text}`);
  row('request', `${report.request.method} ${report.request.target}${report.request.host ? `  (Host: ${report.request.host})` : ''}`);
  for (const step of report.steps) {
    row(step.stage, `${step.outcome.padEnd(5)} ${step.detail}`);
    if (step.stage === 'route') {
      for (const r of report.routes) more(`  ${r.name.padEnd(16)} ${r.match.padEnd(36)} ${r.outcome}`);
    }
    if (step.stage === 'verify' && step.outcome === 'pass' && !report.checksShown) {
      report.checksShown = true;
      for (const c of report.checks) more(`  ${c}`);
    }
  }
  if (report.forward) {
    row('forward', report.forward.url);
    if (report.forward.targets.length > 1 || report.forward.balance !== null) {
      more(`  targets (${report.forward.balance ?? 'round_robin'}; ${report.forward.health}):`);
      for (const target of report.forward.targets) more(`    ${target}`);
    }
    for (const [name, value] of Object.entries(report.forward.headers)) more(`  ${name}: ${value}`);
  }
  const d = report.decision;
  row('decision', d.allowed ? `ALLOW${d.status !== null ? ` ${d.status}` : ''}: ${d.message}` : `DENY ${d.status} ${d.code}: ${d.message}`);
  return lines.join('\n') + '\n';
}

function splitUrl(url: string): { host: string | undefined; target: string } {
  const absolute = /^https?:\/\/([^/?#]*)(.*)$/i.exec(url);
  if (absolute) return { host: absolute[1] || undefined, target: absolute[2] || '/' };
  if (!url.startsWith('/')) throw new UsageError(`${url}: give a URL (http://host/path) or a path starting with /`);
  return { host: undefined, target: url };
}

function headersFrom(list: readonly string[], host: string | undefined): IncomingHttpHeaders {
  const headers: IncomingHttpHeaders = {};
  for (const line of list) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new UsageError(`-H ${line}: expected 'Name: value'`);
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  if (headers.host === undefined && host !== undefined) headers.host = host;
  return headers;
}

function parseClaims(text: string): JWTPayload {
  let claims: unknown;
  try {
    claims = JSON.parse(text);
  } catch {
    throw new UsageError('--claims: expected a JSON object, e.g. \'{"sub":"alice","roles":["admin"],"exp":9999999999}\'');
  }
  if (claims === null || typeof claims !== 'object' || Array.isArray(claims)) throw new UsageError('--claims: expected a JSON object');
  return claims as JWTPayload;
}

async function fetchKeys(config: CompiledConfig): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all(config.verifier.providers.all.map((p) => p.keys.whenSettled())),
    new Promise((resolve) => (timer = setTimeout(resolve, KEYS_WAIT_MS))),
  ]);
  clearTimeout(timer);
}


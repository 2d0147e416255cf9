// Route and forward.headers rules beyond the schema: references that resolve, paths that are already in the
// form requests are matched in, and requirements that make sense for the route's auth mode.
import { isUnambiguousElement } from '../auth/claim-text.ts';
import { normalizeTarget } from '../routing/normalize.ts';
import { checkClaimPath, checkHeaderMap, checkTokenFrom, reporter } from './check-claims.ts';
import type { ConfigProblem, Severity } from './problems.ts';
import type { GatewayConfig, RouteConfig } from './schema.ts';
import { problemAt, type ConfigSource } from './source.ts';
import { didYouMean } from './suggest.ts';

const HOST_PATTERN = /^(\*\.)?([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]*[a-z0-9])?$/i;
const PARAMETER = /^:[A-Za-z_][A-Za-z0-9_]*$/;

export function checkRoutes(config: GatewayConfig, source: ConfigSource): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const upstreamNames = Object.keys(config.upstreams);
  const providerNames = (config.providers ?? []).map((p) => p.name);
  const seen = new Map<string, number>();

  config.routes.forEach((route, i) => {
    const at = (key: (string | number)[], code: string, message: string, severity: Severity = 'error') =>
      problems.push(problemAt(source, ['routes', i, ...key], code, message, severity));

    const first = seen.get(route.name);
    if (first !== undefined) at(['name'], 'duplicate_route', `route "${route.name}" is already defined at routes[${first}]; route names must be unique`);
    else seen.set(route.name, i);

    if ((route.path === undefined) === (route.prefix === undefined)) {
      at([], 'route_path', route.path === undefined ? 'give the route a path (exact) or a prefix' : 'give either path or prefix, not both');
    }
    for (const key of ['path', 'prefix'] as const) {
      const value = route[key];
      if (value !== undefined) checkPattern(value, (code, message) => at([key], code, message));
    }
    if (route.strip_prefix === true && route.prefix === undefined) {
      at(['strip_prefix'], 'strip_without_prefix', 'strip_prefix needs a prefix to strip');
    }
    if (route.host !== undefined && !HOST_PATTERN.test(route.host)) {
      at(['host'], 'bad_host', 'expected a host name like api.example.com or *.example.com');
    }
    if (!upstreamNames.includes(route.upstream)) {
      at(['upstream'], 'unknown_upstream', `unknown upstream "${route.upstream}"${didYouMean(route.upstream, upstreamNames)}; define it under upstreams`);
    }
    route.providers?.forEach((name, j) => {
      if (!providerNames.includes(name)) {
        at(['providers', j], 'unknown_provider', `unknown provider "${name}"${didYouMean(name, providerNames)}; define it under providers`);
      }
    });
    checkRequirements(route, providerNames.length, at);
    checkConditions(route, (path, code, message, keyOf) => problems.push(problemAt(source, ['routes', i, ...path], code, message, 'error', keyOf)));
    checkClaimKeys(route, i, source, problems);
    checkTokenFrom(route.token_from, ['routes', i, 'token_from'], reporter(source, problems));
  });

  checkHeaderMap(config.forward?.headers, ['forward', 'headers'], reporter(source, problems));
  return problems;
}

function checkPattern(value: string, report: (code: string, message: string) => void): void {
  if (!value.startsWith('/')) return report('bad_path', 'a path starts with "/"');
  const segments = value.split('/').slice(1);
  const bad = segments.find((s) => s.includes(':') && !PARAMETER.test(s));
  if (bad !== undefined) return report('bad_path', `"${bad}": a parameter is a whole segment like ":id"`);
  const normalized = normalizeTarget(value);
  if (!normalized.ok || normalized.query !== '') return report('bad_path', `not a usable path: ${normalized.ok ? 'it has a query' : normalized.message}`);
  if (normalized.path !== value && normalized.path + '/' !== value) {
    report('bad_path', `requests are matched in normalized form; write ${normalized.path}`);
  }
}

function checkRequirements(
  route: RouteConfig,
  providerCount: number,
  at: (key: (string | number)[], code: string, message: string, severity?: Severity) => void,
): void {
  const auth = route.auth ?? 'required';
  const demands = (['roles', 'all_roles', 'scopes', 'claims'] as const).filter((k) => route[k] !== undefined);
  if (auth === 'public') {
    for (const key of [...demands, ...(route.providers ? (['providers'] as const) : []), ...(route.token_from ? (['token_from'] as const) : [])]) {
      at([key], 'public_with_requirements', `a public route reads no token, so ${key} would never be checked; remove it or set auth: required`);
    }
  } else if (auth === 'optional') {
    for (const key of demands) {
      at([key], 'optional_with_requirements', `an optional route lets callers without a token through, so ${key} can not be enforced; set auth: required`);
    }
  }
  for (const key of ['roles', 'all_roles', 'scopes'] as const) {
    route[key]?.forEach((value, j) => {
      if (!isUnambiguousElement(value)) {
        const what = key === 'scopes' ? 'scope' : 'role';
        at([key, j], 'requirement_never_met', `this ${what} can never be met: a token's ${what}s with a space, a comma, a control character or a character upstreams read as another are left out, for the gateway's own checks too (see forward.headers)`, 'warning');
      }
    });
  }
  if (auth !== 'public' && providerCount === 0) {
    at(['auth'], 'no_providers', 'this route needs tokens but no providers are configured; add one under providers or set auth: public');
  }
}

/** A {param} or {contains_param} condition names a parameter of the route's own path. */
function checkConditions(route: RouteConfig, at: (key: (string | number)[], code: string, message: string, keyOf?: boolean) => void): void {
  const pattern = route.path ?? route.prefix ?? '';
  const parameters = pattern.split('/').filter((s) => PARAMETER.test(s)).map((s) => s.slice(1));
  for (const [claim, condition] of Object.entries(route.claims ?? {})) {
    if (condition === null || typeof condition !== 'object' || Array.isArray(condition)) continue;
    const name = 'param' in condition ? condition.param : 'contains_param' in condition ? condition.contains_param : undefined;
    if (name === undefined || parameters.includes(name)) continue;
    const key = 'param' in condition ? 'param' : 'contains_param';
    const known = parameters.length > 0 ? `; its parameters: ${parameters.map((p) => `:${p}`).join(', ')}` : '; it has none';
    at(['claims', claim, key], 'unknown_param', `the route's path ${pattern} has no parameter :${name}${known}`);
  }
}

function checkClaimKeys(route: RouteConfig, index: number, source: ConfigSource, problems: ConfigProblem[]): void {
  const report = reporter(source, problems);
  for (const claim of Object.keys(route.claims ?? {})) checkClaimPath(claim, ['routes', index, 'claims', claim], report, true);
}

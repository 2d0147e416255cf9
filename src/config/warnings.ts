// Warnings about a config that is valid but probably not what was meant: routes that can never match, routes
// whose order lets callers through (route-overlaps.ts), upstreams nothing uses.
import { compileHost } from '../routing/host.ts';
import { compilePattern } from '../routing/pattern.ts';
import type { ConfigProblem } from './problems.ts';
import { overlapWarnings, type RouteShape } from './route-overlaps.ts';
import { DEFAULTS, type GatewayConfig, type RouteConfig } from './schema.ts';
import { positionOf, problemAt, type ConfigSource } from './source.ts';

export function routeMethods(methods: readonly string[] | undefined): ReadonlySet<string> | null {
  if (methods === undefined) return null;
  const set = new Set(methods.map((m) => m.toUpperCase()));
  if (set.has('GET')) set.add('HEAD');
  return set;
}

export function findWarnings(config: GatewayConfig, source: ConfigSource): ConfigProblem[] {
  const caseInsensitive = config.server?.case_insensitive_paths ?? false;
  const shapes = config.routes.flatMap((route, index) => shapeOf(route, index, caseInsensitive, source));
  const problems = overlapWarnings(shapes, source);

  const used = new Set(config.routes.map((r) => r.upstream));
  for (const name of Object.keys(config.upstreams)) {
    if (!used.has(name)) {
      problems.push(problemAt(source, ['upstreams', name], 'unused_upstream', `upstream "${name}" is not used by any route`, 'warning', true));
    }
  }
  return problems;
}

function shapeOf(route: RouteConfig, index: number, caseInsensitive: boolean, source: ConfigSource): RouteShape[] {
  const text = route.path ?? route.prefix;
  if (text === undefined) return [];
  return [{
    name: route.name,
    index,
    at: `${source.file}:${positionOf(source, ['routes', index]).line}`,
    pattern: compilePattern(text, route.path !== undefined ? 'exact' : 'prefix', caseInsensitive),
    host: route.host !== undefined ? compileHost(route.host) : null,
    methods: routeMethods(route.methods),
    auth: route.auth ?? DEFAULTS.auth,
    anyRoles: route.roles ?? [],
    allRoles: route.all_roles ?? [],
    scopes: route.scopes ?? [],
    providers: route.providers ?? null,
  }];
}

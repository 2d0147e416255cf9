// Warnings about a config that is valid but probably not what was meant: routes that can never match, a
// public route in front of a protected one, upstreams nothing uses.
import { compileHost, hostCovers, type HostPattern } from '../routing/host.ts';
import { compilePattern, patternCovers, type PathPattern } from '../routing/pattern.ts';
import type { ConfigProblem } from './problems.ts';
import type { GatewayConfig, RouteConfig } from './schema.ts';
import { positionOf, problemAt, type ConfigSource } from './source.ts';

interface RouteShape {
  readonly name: string;
  readonly index: number;
  readonly pattern: PathPattern;
  readonly host: HostPattern | null;
  readonly methods: ReadonlySet<string> | null;
  readonly isPublic: boolean;
}

export function routeMethods(methods: readonly string[] | undefined): ReadonlySet<string> | null {
  if (methods === undefined) return null;
  const set = new Set(methods.map((m) => m.toUpperCase()));
  if (set.has('GET')) set.add('HEAD');
  return set;
}

export function findWarnings(config: GatewayConfig, source: ConfigSource): ConfigProblem[] {
  const caseInsensitive = config.server?.case_insensitive_paths ?? false;
  const shapes = config.routes.flatMap((route, index) => shapeOf(route, index, caseInsensitive));
  const problems: ConfigProblem[] = [];

  for (const later of shapes) {
    for (const earlier of shapes) {
      if (earlier.index >= later.index) break;
      const line = positionOf(source, ['routes', earlier.index]).line;
      if (covers(earlier, later)) {
        const publicOverProtected = earlier.isPublic && !later.isPublic;
        problems.push(
          problemAt(
            source,
            ['routes', later.index],
            publicOverProtected ? 'public_shadows_protected' : 'shadowed_route',
            publicOverProtected
              ? `public route "${earlier.name}" (line ${line}) matches every request of protected route "${later.name}", which therefore never asks for a token`
              : `route "${later.name}" never matches: route "${earlier.name}" (line ${line}) comes first and matches all its requests`,
            'warning',
          ),
        );
        break;
      }
      if (earlier.isPublic && !later.isPublic && overlaps(earlier, later)) {
        problems.push(
          problemAt(
            source,
            ['routes', later.index],
            'public_shadows_protected',
            `public route "${earlier.name}" (line ${line}) comes first and takes some requests of protected route "${later.name}" without a token`,
            'warning',
          ),
        );
      }
    }
  }

  const used = new Set(config.routes.map((r) => r.upstream));
  for (const name of Object.keys(config.upstreams)) {
    if (!used.has(name)) {
      problems.push(problemAt(source, ['upstreams', name], 'unused_upstream', `upstream "${name}" is not used by any route`, 'warning', true));
    }
  }
  return problems;
}

function shapeOf(route: RouteConfig, index: number, caseInsensitive: boolean): RouteShape[] {
  const text = route.path ?? route.prefix;
  if (text === undefined) return [];
  return [{
    name: route.name,
    index,
    pattern: compilePattern(text, route.path !== undefined ? 'exact' : 'prefix', caseInsensitive),
    host: route.host !== undefined ? compileHost(route.host) : null,
    methods: routeMethods(route.methods),
    isPublic: route.auth === 'public',
  }];
}

function covers(outer: RouteShape, inner: RouteShape): boolean {
  const methodsCovered = outer.methods === null || (inner.methods !== null && [...inner.methods].every((m) => outer.methods!.has(m)));
  return methodsCovered && hostCovers(outer.host, inner.host) && patternCovers(outer.pattern, inner.pattern);
}

/** Some request could match both routes. */
function overlaps(a: RouteShape, b: RouteShape): boolean {
  const methods = a.methods === null || b.methods === null || [...a.methods].some((m) => b.methods!.has(m));
  const hosts = a.host === null || b.host === null || hostCovers(a.host, b.host) || hostCovers(b.host, a.host);
  return methods && hosts && patternsOverlap(a.pattern, b.pattern);
}

function patternsOverlap(a: PathPattern, b: PathPattern): boolean {
  const shared = Math.min(a.segments.length, b.segments.length);
  for (let i = 0; i < shared; i++) {
    const x = a.segments[i];
    const y = b.segments[i];
    if (x !== null && y !== null && x !== y) return false;
  }
  if (a.kind === 'exact' && b.kind === 'exact') return a.segments.length === b.segments.length;
  if (a.kind === 'exact') return a.segments.length >= b.segments.length;
  if (b.kind === 'exact') return b.segments.length >= a.segments.length;
  return true;
}

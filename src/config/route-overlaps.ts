// Routes whose order lets callers through: an earlier route that takes requests a later one was written to
// protect more strictly (public, optional or weaker roles in front of it), and a method-restricted protected
// route whose other methods fall through to a weaker catch-all. Each warning names both routes' FILE:LINE.
import { hostCovers, type HostPattern } from '../routing/host.ts';
import { patternCovers, type PathPattern } from '../routing/pattern.ts';
import type { ConfigProblem } from './problems.ts';
import { problemAt, type ConfigSource } from './source.ts';

export interface RouteShape {
  readonly name: string;
  readonly index: number;
  /** "gateway.yaml:12": where the route is written. */
  readonly at: string;
  readonly pattern: PathPattern;
  readonly host: HostPattern | null;
  readonly methods: ReadonlySet<string> | null;
  readonly auth: 'public' | 'optional' | 'required';
  readonly anyRoles: readonly string[];
  readonly allRoles: readonly string[];
  readonly scopes: readonly string[];
  readonly providers: readonly string[] | null;
}

/** How `weaker` admits callers `stronger` would refuse: the warning code and what it does not ask for. */
interface Gap {
  readonly code: 'public_shadows_protected' | 'optional_shadows_protected' | 'weaker_route_shadows_stricter';
  /** What `weaker` does not demand ("role admin; scope write"), for weaker_route_shadows_stricter. */
  readonly missing: string;
}

export function overlapWarnings(shapes: readonly RouteShape[], source: ConfigSource): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const warn = (route: RouteShape, code: string, message: string) =>
    problems.push(problemAt(source, ['routes', route.index], code, message, 'warning'));

  for (const later of shapes) {
    for (const earlier of shapes) {
      if (earlier.index >= later.index) break;
      const gap = admitsMore(earlier, later);
      if (covers(earlier, later)) {
        if (gap === undefined) {
          warn(later, 'shadowed_route', `route "${later.name}" never matches: route "${earlier.name}" (${earlier.at}) comes first and matches all its requests`);
        } else warn(later, gap.code, takenOver(earlier, later, gap, 'every'));
        break;
      }
      if (gap !== undefined && takesSome(earlier, later, gap)) warn(later, gap.code, takenOver(earlier, later, gap, 'some'));
    }
  }
  for (const route of shapes) {
    const catchAll = fallThrough(route, shapes);
    if (catchAll === undefined) continue;
    const gap = admitsMore(catchAll, route)!;
    warn(
      route,
      'methods_fall_through',
      `protected route "${route.name}" takes only ${[...route.methods!].join(', ')}; its paths' other methods fall through to route "${catchAll.name}" (${catchAll.at}), which ${consequence(gap)}`,
    );
  }
  return problems;
}

/**
 * A public or optional route takes a protected route's requests wherever the two overlap. Between two
 * protected routes, a more specific route first (an admin-only refund path before the readers' /orders)
 * is the usual way to write an exception, not a hole: only an earlier route over all of the later one's
 * paths (for some methods) takes requests the later route was written to hold to more.
 */
function takesSome(earlier: RouteShape, later: RouteShape, gap: Gap): boolean {
  if (gap.code !== 'weaker_route_shadows_stricter') return overlaps(earlier, later);
  return overlaps(earlier, later) && hostCovers(earlier.host, later.host) && patternCovers(earlier.pattern, later.pattern);
}

function takenOver(earlier: RouteShape, later: RouteShape, gap: Gap, extent: 'every' | 'some'): string {
  const first = `${earlier.auth === 'required' ? '' : `${earlier.auth} `}route "${earlier.name}" (${earlier.at})`;
  const takes = extent === 'every' ? `matches every request of` : `comes first and takes some requests of`;
  const second = `${gap.code === 'weaker_route_shadows_stricter' ? '' : 'protected '}route "${later.name}"`;
  switch (gap.code) {
    case 'public_shadows_protected':
      return extent === 'every' ? `${first} ${takes} ${second}, which therefore never asks for a token` : `${first} ${takes} ${second} without a token`;
    case 'optional_shadows_protected':
      return `${first} ${takes} ${second}, letting callers without a token through`;
    case 'weaker_route_shadows_stricter':
      return `${first} ${takes} ${second} without requiring ${gap.missing}`;
  }
}

function consequence(gap: Gap): string {
  if (gap.code === 'public_shadows_protected') return 'asks for no token';
  if (gap.code === 'optional_shadows_protected') return 'lets callers without a token through';
  return `does not require ${gap.missing}`;
}

/**
 * The first later route that takes every method (a catch-all) on some path of `route`, when `route` is a
 * protected route limited to some methods and that catch-all asks less of the caller: GET /admin, when
 * only POST /admin is protected, goes there. Unless a route in between takes those methods at least as
 * strictly.
 */
function fallThrough(route: RouteShape, shapes: readonly RouteShape[]): RouteShape | undefined {
  if (route.auth !== 'required' || route.methods === null) return undefined;
  for (const later of shapes) {
    if (later.index <= route.index || later.methods !== null || !overlaps(route, later, true)) continue;
    if (admitsMore(later, route) === undefined) {
      if (hostCovers(later.host, route.host) && patternCovers(later.pattern, route.pattern)) return undefined;
      continue;
    }
    return later;
  }
  return undefined;
}

/** Whether `weaker` admits some caller `stronger` would refuse, and how. */
function admitsMore(weaker: RouteShape, stronger: RouteShape): Gap | undefined {
  if (stronger.auth === 'public') return undefined;
  if (weaker.auth === 'public') return { code: 'public_shadows_protected', missing: 'a token' };
  if (stronger.auth === 'optional') return undefined; // an optional route demands nothing of the callers it admits
  if (weaker.auth === 'optional') return { code: 'optional_shadows_protected', missing: 'a token' };
  const missing = requirementsMissing(weaker, stronger);
  return missing.length > 0 ? { code: 'weaker_route_shadows_stricter', missing: missing.join('; ') } : undefined;
}

/** What `stronger` demands that a caller admitted by `weaker` may lack. */
function requirementsMissing(weaker: RouteShape, stronger: RouteShape): string[] {
  // A caller weaker admits has every one of its all_roles, and its one roles entry if it lists only one.
  const sure = new Set([...weaker.allRoles, ...(weaker.anyRoles.length === 1 ? weaker.anyRoles : [])]);
  const missing = stronger.allRoles.filter((r) => !sure.has(r)).map((r) => `role ${r}`);
  const anyMet = stronger.anyRoles.some((r) => sure.has(r)) || (weaker.anyRoles.length > 0 && weaker.anyRoles.every((r) => stronger.anyRoles.includes(r)));
  if (stronger.anyRoles.length > 0 && !anyMet) missing.push(`one of the roles ${stronger.anyRoles.join(', ')}`);
  missing.push(...stronger.scopes.filter((s) => !weaker.scopes.includes(s)).map((s) => `scope ${s}`));
  if (stronger.providers !== null && (weaker.providers === null || !weaker.providers.every((p) => stronger.providers!.includes(p)))) {
    missing.push(`provider ${stronger.providers.join(' or ')}`);
  }
  return missing;
}

function covers(outer: RouteShape, inner: RouteShape): boolean {
  const methodsCovered = outer.methods === null || (inner.methods !== null && [...inner.methods].every((m) => outer.methods!.has(m)));
  return methodsCovered && hostCovers(outer.host, inner.host) && patternCovers(outer.pattern, inner.pattern);
}

/** Some request could match both routes (with `anyMethod`, whatever their methods). */
function overlaps(a: RouteShape, b: RouteShape, anyMethod = false): boolean {
  const methods = anyMethod || a.methods === null || b.methods === null || [...a.methods].some((m) => b.methods!.has(m));
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

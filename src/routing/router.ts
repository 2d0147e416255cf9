// The route table: first match in file order wins. A path that some route serves, but not with this
// method, is a 405 with the methods that would have worked.
import { canonicalHost } from './host.ts';
import { foldCase, segmentsOf } from './pattern.ts';
import type { Route } from './route.ts';

export type RouteMatch =
  | { readonly kind: 'route'; readonly route: Route }
  | { readonly kind: 'method_not_allowed'; readonly allow: readonly string[]; readonly considered: readonly Route[] }
  | { readonly kind: 'not_found' };

const NOT_FOUND: RouteMatch = { kind: 'not_found' };

export class Router {
  readonly routes: readonly Route[];
  /** The match result for each route, built once: a match allocates nothing. */
  private readonly found: readonly RouteMatch[];
  private readonly usesHost: boolean;
  private readonly caseInsensitive: boolean;

  constructor(routes: readonly Route[], options: { caseInsensitive: boolean }) {
    this.routes = routes;
    this.found = routes.map((route) => ({ kind: 'route', route }));
    this.usesHost = routes.some((r) => r.host !== null);
    this.caseInsensitive = options.caseInsensitive;
  }

  match(method: string, hostHeader: string | undefined, path: string): RouteMatch {
    const key = this.caseInsensitive ? foldCase(path) : path;
    const host = this.usesHost ? canonicalHost(hostHeader) : '';
    let segments: string[] | undefined; // split once, and only if a route with parameters is tried
    let pathMatched = false;
    for (let i = 0; i < this.routes.length; i++) {
      const route = this.routes[i]!;
      const pattern = route.pattern;
      if (pattern.needsSegments) {
        if (!key.startsWith(pattern.head)) continue;
        segments ??= segmentsOf(key);
      }
      if (!pattern.matches(key, segments)) continue;
      if (route.host !== null && !route.host.matches(host)) continue;
      if (route.methods !== null && !route.methods.has(method)) {
        pathMatched = true;
        continue;
      }
      return this.found[i]!;
    }
    return pathMatched ? this.methodNotAllowed(host, key, segments ?? segmentsOf(key)) : NOT_FOUND;
  }

  /** Routes a request would be compared against, in order, with whether each matched (for explain). */
  candidates(path: string): readonly Route[] {
    const key = this.caseInsensitive ? foldCase(path) : path;
    const segments = segmentsOf(key);
    return this.routes.filter((r) => r.pattern.matches(key, segments));
  }

  private methodNotAllowed(host: string, key: string, segments: readonly string[]): RouteMatch {
    const allow = new Set<string>();
    const considered: Route[] = [];
    for (const route of this.routes) {
      if (!route.pattern.matches(key, segments) || (route.host !== null && !route.host.matches(host))) continue;
      considered.push(route);
      for (const m of route.methods ?? []) allow.add(m);
    }
    return { kind: 'method_not_allowed', allow: [...allow].sort(), considered };
  }
}


// Compiled path patterns: `path` (exact, ":name" for one segment) and `prefix` (segment-aware). Literal
// patterns compare strings; only patterns with parameters look at segments.

export interface PathPattern {
  readonly source: string;
  readonly kind: 'exact' | 'prefix';
  /** Segments; null for a parameter. */
  readonly segments: readonly (string | null)[];
  /** Whether matches() needs the path's segments (only patterns with parameters do). */
  readonly needsSegments: boolean;
  /** A path must start with this to match (cheap rejection before segments are needed). */
  readonly head: string;
  /** `segments` is the path split at "/" (without the leading empty one) when needsSegments. */
  matches(path: string, segments: readonly string[] | undefined): boolean;
  /** The path left after removing the prefix this pattern matched (strip_prefix). */
  strip(path: string): string;
}

export function compilePattern(source: string, kind: 'exact' | 'prefix', caseInsensitive: boolean): PathPattern {
  const text = caseInsensitive ? foldCase(source) : source;
  // One trailing slash is not part of what a pattern means, for either kind: "path: /admin/" is the route
  // Express and the others serve at "/admin" too, so it must not leave "/admin" to a later catch-all.
  const trimmed = text.length > 1 && text.endsWith('/') ? text.slice(0, -1) : text;
  const segments = trimmed === '/' ? [] : trimmed.slice(1).split('/').map((s) => (s.startsWith(':') ? null : s));
  const literal = !segments.includes(null);
  // The literal start of a pattern with parameters ("/api/users/" of "/api/users/:id"): most paths are
  // rejected by it before any splitting.
  const head = literal ? '' : '/' + segments.slice(0, segments.indexOf(null)).map((s) => s + '/').join('');

  // An exact pattern matches its path with and without one trailing slash: Express, Rails, ASP.NET Core and
  // others serve "/api/orders/42/" as "/api/orders/42" (and a route written "/admin/" at "/admin"), so both
  // must be subject to the same route here, not fall through to a later (say public) catch-all.
  let matches: PathPattern['matches'];
  if (kind === 'exact' && literal) {
    const withSlash = trimmed === '/' ? '/' : trimmed + '/';
    matches = (path) => path === trimmed || path === withSlash;
  } else if (kind === 'prefix' && literal) {
    const withSlash = trimmed === '/' ? '/' : trimmed + '/';
    matches = (path) => path === trimmed || path.startsWith(withSlash) || trimmed === '/';
  } else {
    matches = (path, split) => {
      if (!path.startsWith(head)) return false;
      const actual = split!;
      if (kind === 'exact') {
        const length = actual.length === segments.length + 1 && actual[segments.length] === '' ? segments.length : actual.length;
        if (length !== segments.length) return false;
      } else if (actual.length < segments.length) return false;
      for (let i = 0; i < segments.length; i++) {
        const expected = segments[i];
        if (expected === null ? actual[i] === '' : expected !== actual[i]) return false;
      }
      return true;
    };
  }

  const strip = (path: string): string => {
    if (kind !== 'prefix' || segments.length === 0) return path;
    // Remove as many segments as the prefix has; what is left keeps its leading "/".
    let index = 0;
    for (let n = 0; n < segments.length; n++) {
      index = path.indexOf('/', index + 1);
      if (index === -1) return '/';
    }
    return path.slice(index);
  };

  return { source, kind, segments, needsSegments: !literal, head, matches, strip };
}

/** The segments of a normalized path, as matches() takes them. */
export function segmentsOf(path: string): string[] {
  return path.slice(1).split('/');
}

/** True when every path `inner` matches is also matched by `outer` (for shadowing warnings). */
export function patternCovers(outer: PathPattern, inner: PathPattern): boolean {
  if (outer.kind === 'exact' && inner.kind === 'prefix') return false;
  if (outer.kind === 'exact' && outer.segments.length !== inner.segments.length) return false;
  if (outer.segments.length > inner.segments.length) return false;
  return outer.segments.every((segment, i) => segment === null || segment === inner.segments[i]);
}

/**
 * The case-insensitive form of a normalized path: escaped UTF-8 is decoded before lower-casing, because an
 * upstream that ignores case compares "CAFÉ" with "café", not "%C3%89" with "%C3%A9". Only escapes of
 * non-ASCII bytes are decoded, so "%3F" or "%25" keep their meaning.
 */
export function foldCase(path: string): string {
  if (!path.includes('%')) return path.toLowerCase();
  return path.replace(/(?:%[89A-Fa-f][0-9A-Fa-f])+/g, (escaped) => {
    try {
      return decodeURIComponent(escaped);
    } catch {
      return escaped;
    }
  }).toLowerCase();
}

// Host matching: exact names and "*.example.com" wildcards, compared without port, case or trailing dot.

export interface HostPattern {
  readonly source: string;
  matches(host: string): boolean;
}

export function compileHost(source: string): HostPattern {
  const pattern = canonicalHost(source);
  if (pattern.startsWith('*.')) {
    const suffix = pattern.slice(1); // ".example.com"
    return { source, matches: (host) => host.length > suffix.length && host.endsWith(suffix) };
  }
  return { source, matches: (host) => host === pattern };
}

/** "Admin.Example.com.:8080" -> "admin.example.com"; "[::1]:80" -> "[::1]". */
export function canonicalHost(header: string | undefined): string {
  if (!header) return '';
  let host = header.trim().toLowerCase();
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end === -1 ? host : host.slice(0, end + 1);
  }
  const colon = host.indexOf(':');
  if (colon !== -1) host = host.slice(0, colon);
  return host.endsWith('.') ? host.slice(0, -1) : host;
}

/** True when every host `inner` matches is also matched by `outer`. */
export function hostCovers(outer: HostPattern | null, inner: HostPattern | null): boolean {
  if (outer === null) return true;
  if (inner === null) return false;
  const o = canonicalHost(outer.source);
  const i = canonicalHost(inner.source);
  if (o === i) return true;
  if (!o.startsWith('*.')) return false;
  // "*.example.com" covers "api.example.com" and, since it matches any depth, "*.api.example.com".
  return i.startsWith('*.') ? i.slice(1).endsWith(o.slice(1)) : outer.matches(i);
}

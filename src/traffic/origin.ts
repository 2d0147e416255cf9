// CORS origins as gateway.yaml writes them and as browsers send them. A browser serializes an origin as
// scheme "://" host [":" port], in lower case, without its scheme's default port and without a path
// (RFC 6454 §6.2), so the configured ones are held in that form and an Origin header is compared as text:
// exactly, or against a wildcard that stands for one or more whole subdomain labels.

export type OriginPattern =
  | { readonly kind: 'any' }
  | { readonly kind: 'exact'; readonly origin: string }
  /** https://*.example.com[:port]: `head` is "https://", `tail` ".example.com" (and ":port" when given). */
  | { readonly kind: 'subdomains'; readonly head: string; readonly tail: string };

export type ParsedOrigin = { readonly ok: true; readonly pattern: OriginPattern } | { readonly ok: false; readonly message: string };

/** One or more DNS labels, and nothing else: no port, userinfo, path or empty label can hide in them. */
const LABELS = /^[a-z0-9-]+(\.[a-z0-9-]+)*$/;
const WILDCARD = '*.';

export function parseOriginPattern(text: string): ParsedOrigin {
  if (text === '*') return { ok: true, pattern: { kind: 'any' } };
  // Sandboxed iframes, file: pages and some redirects send "Origin: null": anyone can produce it, so it
  // is allowed only when listed, and validate warns about it.
  if (text === 'null') return { ok: true, pattern: { kind: 'exact', origin: 'null' } };
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text);
  if (scheme === null) return refuse(`"${text}" is not an origin: write it as https://host or http://host:port`);
  if (scheme[1] !== 'https' && scheme[1] !== 'http') {
    return refuse(`"${text}": only http:// and https:// origins can be allowed`);
  }
  const rest = text.slice(scheme[0].length);
  const wildcard = rest.startsWith(WILDCARD);
  const hostPart = wildcard ? rest.slice(WILDCARD.length) : rest;
  if (hostPart.includes('*')) {
    return refuse(`"${text}": a wildcard stands for whole subdomain labels and only at the front, as in ${scheme[0]}*.example.com`);
  }
  const url = parseUrl(`${scheme[0]}${wildcard ? 'wildcard.' : ''}${hostPart}`);
  if (url === undefined || url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '' || url.pathname !== '/') {
    return refuse(`"${text}" is not an origin: an origin is scheme://host[:port], without a path, query or trailing slash`);
  }
  const canonical = wildcard ? `${url.protocol}//*.${url.origin.slice(url.protocol.length + 2 + 'wildcard.'.length)}` : url.origin;
  if (canonical !== text) return refuse(`browsers send this origin as ${canonical}; write it that way`);
  if (!wildcard) return { ok: true, pattern: { kind: 'exact', origin: canonical } };
  if (!url.hostname.slice('wildcard.'.length).includes('.')) {
    return refuse(`"${text}" would allow every site under a top-level domain; name the domain, as in ${scheme[0]}*.example.com`);
  }
  return { ok: true, pattern: { kind: 'subdomains', head: `${url.protocol}//`, tail: canonical.slice(`${url.protocol}//*`.length) } };
}

export function matchesOrigin(pattern: OriginPattern, origin: string): boolean {
  switch (pattern.kind) {
    case 'any':
      return true;
    case 'exact':
      return origin === pattern.origin;
    case 'subdomains': {
      // https://*.example.com never matches https://evil-example.com (no dot before the tail) nor
      // https://example.com.evil.net (the tail must end the origin), nor https://example.com itself.
      const end = origin.length - pattern.tail.length;
      if (end <= pattern.head.length || !origin.startsWith(pattern.head) || !origin.endsWith(pattern.tail)) return false;
      return LABELS.test(origin.slice(pattern.head.length, end));
    }
  }
}

function parseUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}

function refuse(message: string): ParsedOrigin {
  return { ok: false, message };
}

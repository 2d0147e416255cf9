// Cookie-borne tokens and cross-site requests. A browser attaches cookies to requests any site makes
// (a form POST from evil.example to api.example.com carries api.example.com's cookies); it never attaches a
// bearer header the page did not set. So a token taken from a cookie is accepted on a request that changes
// something only when the browser says the request comes from the gateway's own origin.
import { clientAddress } from '../proxy/headers.ts';
import type { TrustPolicy } from '../proxy/trust.ts';
import type { Route } from '../routing/route.ts';
import { deny, type Denial } from './decision.ts';
import type { RequestFacts } from './decide.ts';

/** RFC 9110 §9.2.1: every other method, custom ones included, may change state. */
const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/**
 * Whether a cookie token on this request needs an origin check: an unsafe method, or a WebSocket
 * handshake, which is a GET that opens a channel acting as the user (cross-site WebSocket hijacking).
 */
export function needsOriginCheck(request: RequestFacts): boolean {
  if (!SAFE_METHODS.has(request.method)) return true;
  const upgrade = request.headers.upgrade;
  return upgrade !== undefined && upgrade.toLowerCase() === 'websocket';
}

/**
 * The Origin must be the gateway's own (the scheme and Host the request came to) or one the route allows;
 * with no Origin at all, `Sec-Fetch-Site: same-origin` is accepted. `Origin: null` (sandboxed frames,
 * some redirects) is refused: an attacker can produce it at will. Sec-Fetch-Site "same-site" is refused
 * too: a sibling subdomain is another origin.
 */
export function checkCookieOrigin(route: Route, request: RequestFacts, trust: TrustPolicy): Denial | undefined {
  const origin = request.headers.origin;
  if (origin === undefined) {
    if (request.headers['sec-fetch-site'] === 'same-origin') return undefined;
    return refused('the request has no Origin header');
  }
  const own = ownOrigin(request, trust);
  if (originAllowedForCookies(route, origin, own)) return undefined;
  return refused(`its Origin is not this site's`);
}

/**
 * The one place that says which origins may send a cookie-borne token on an unsafe request: the gateway's
 * own, and those the route's CORS config lists by name or wildcard (never "*": a page that may read
 * responses is not thereby one that may spend the user's cookie).
 */
export function originAllowedForCookies(route: Route, origin: string, ownOrigin: string | undefined): boolean {
  if (ownOrigin !== undefined && canonicalOrigin(origin) === ownOrigin) return true;
  return route.cors !== null && route.cors.listsOrigin(origin);
}

/**
 * "https://api.example.com": the scheme the client used (X-Forwarded-Proto and -Host from a trusted proxy,
 * which terminated TLS, else the connection's own) and the Host it asked for.
 */
export function ownOrigin(request: RequestFacts, trust: TrustPolicy): string | undefined {
  const socket = request.socket;
  const trusted = socket?.remoteAddress !== undefined && trust.trusts(clientAddress(socket.remoteAddress));
  const forwardedProto = trusted ? firstValue(request.headers['x-forwarded-proto']) : undefined;
  const forwardedHost = trusted ? firstValue(request.headers['x-forwarded-host']) : undefined;
  const scheme = forwardedProto ?? (socket?.encrypted === true ? 'https' : 'http');
  const host = forwardedHost ?? request.headers.host;
  if (host === undefined || host === '') return undefined;
  return canonicalOrigin(`${scheme}://${host}`);
}

/** Lower case, without the scheme's default port: "HTTPS://API.example.com:443" is "https://api.example.com". */
export function canonicalOrigin(origin: string): string {
  const lower = origin.trim().toLowerCase();
  if (lower.startsWith('https://') && lower.endsWith(':443')) return lower.slice(0, -4);
  if (lower.startsWith('http://') && lower.endsWith(':80')) return lower.slice(0, -3);
  return lower;
}

function firstValue(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return undefined;
  const first = value.split(',')[0]!.trim();
  return first === '' ? undefined : first;
}

function refused(why: string): Denial {
  return deny(
    'csrf_origin',
    `a token from a cookie is accepted on this request only from this site's own pages, and ${why}; send the token in the Authorization header instead`,
  );
}

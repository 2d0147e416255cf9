// What the upstream receives: the client's headers minus everything that could lie to it (identity
// headers, forwarding headers from untrusted clients, hop-by-hop headers, method and URL overrides),
// plus the identity and forwarding headers the gateway vouches for.
import type { IncomingHttpHeaders } from 'node:http';
import type { Identity } from '../auth/identity.ts';
import type { TrustPolicy } from './trust.ts';

export interface ForwardPolicy {
  /** Lower-case names of the identity headers (forward.headers). */
  readonly identityHeaders: readonly string[];
  /**
   * Dashed names no client may send in any spelling: the identity, forwarding and override headers
   * (the forwarding ones are kept, exactly spelled, from a trusted proxy). See spoofableNames().
   */
  readonly spoofable: ReadonlySet<string>;
  /** forward.authorization: strip. The token then goes nowhere upstream, whatever carried it: */
  readonly stripAuthorization: boolean;
  /** ...the lower-case names of the other headers a token_from reads (header:<Name>), removed with it... */
  readonly tokenHeaders: readonly string[];
  /** ...and the cookies a token_from reads (cookie:<name>), taken out of the Cookie header. */
  readonly tokenCookies: ReadonlySet<string>;
  readonly trust: TrustPolicy;
}

/** Headers set by the gateway about the connection; only a trusted proxy may have sent them before us. */
export const FORWARDING_HEADERS = [
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-forwarded-prefix',
  'x-real-ip',
  'forwarded',
  // Other names upstream frameworks read the client address or scheme from; a client must not choose them.
  'x-client-ip',
  'true-client-ip',
  'x-cluster-client-ip',
  'client-ip',
  'cf-connecting-ip',
  'fastly-client-ip',
  'x-forwarded-server',
  'x-forwarded-scheme',
  'x-forwarded-ssl',
  'x-url-scheme',
  'front-end-https',
] as const;

/** RFC 9110 §7.6.1 hop-by-hop headers, plus the non-standard ones that behave like them. */
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'expect'];
const HOP_BY_HOP_SET: ReadonlySet<string> = new Set(HOP_BY_HOP);

/** Headers some frameworks obey to change the method or the path after the gateway has checked them. */
const OVERRIDE_HEADERS = [
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
  'x-original-url',
  'x-original-uri',
  'x-rewrite-url',
  'x-original-method',
];

/**
 * Headers the client may not take away by naming them in Connection: the Host the route was chosen for,
 * and the framing of the body. Without this, "Connection: Host" has the upstream serve the target's
 * default virtual host, and "Connection: Content-Length" on a DELETE leaves a body no header frames,
 * which the upstream would read as a second, unchecked request.
 */
const NOT_CONNECTION_OPTIONS: ReadonlySet<string> = new Set(['host', 'content-length', 'transfer-encoding']);

const FORWARDING: ReadonlySet<string> = new Set(FORWARDING_HEADERS);
const NOT_DASHED = /[^a-z0-9-]/;
const NOT_DASHED_ALL = /[^a-z0-9]/g;

/**
 * CGI-style upstreams (PHP, WSGI, Rack) turn every character other than letters and digits into "_":
 * X_User_Id, X.User.Id and X-User-Id are the same variable there, and X_HTTP_Method_Override is an
 * override. The set holds the dashed form of every name a client must not choose; a request header
 * whose dashed form is in it goes. Computed once per config.
 */
export function spoofableNames(identityHeaders: readonly string[]): ReadonlySet<string> {
  const all = [...identityHeaders, ...FORWARDING_HEADERS, 'x-request-id', ...OVERRIDE_HEADERS];
  return new Set(all.map((name) => name.toLowerCase().replace(NOT_DASHED_ALL, '-')));
}

/** Names that may never be set by forward.headers: the gateway or HTTP itself owns them. */
export const RESERVED_HEADERS: ReadonlySet<string> = new Set([
  ...HOP_BY_HOP,
  ...FORWARDING_HEADERS,
  ...OVERRIDE_HEADERS,
  'host',
  'authorization',
  'content-length',
  'content-type',
  'transfer-encoding',
  'cookie',
  'x-request-id',
]);

export interface ForwardFacts {
  readonly requestId: string;
  /** The client's address as the socket saw it. */
  readonly remoteAddress: string;
  /** The Host the client asked for. */
  readonly host: string | undefined;
  readonly encrypted: boolean;
  /** A WebSocket handshake keeps its Connection/Upgrade pair. */
  readonly upgrade: boolean;
}

/**
 * Framing is the sender's own business: the forwarder frames the body it sends (Content-Length as the
 * client declared it, else chunked), so the client's Transfer-Encoding never travels, and Host is set by
 * the forwarder per target (the last slot of the list).
 */
const SET_BY_FORWARDER: ReadonlySet<string> = new Set(['host', 'transfer-encoding']);

/**
 * The header lines the upstream receives, as [name, value, ...]: one pass over the client's headers
 * drops what must not reach the upstream, then the gateway's own headers are added, so nothing the client
 * sent (not even a Connection header naming them) can remove them. The list ends with a ["host", ""] slot
 * that the forwarder fills for the target it chooses.
 */
export function forwardedHeaders(
  headers: IncomingHttpHeaders,
  policy: ForwardPolicy,
  identity: Identity | null,
  facts: ForwardFacts,
): string[] {
  const client = clientAddress(facts.remoteAddress);
  const trusted = policy.trust.trusts(client);
  const named = headers.connection === undefined ? undefined : connectionOptions(headers.connection);
  const out: string[] = [];
  for (const name in headers) {
    if (HOP_BY_HOP_SET.has(name) || SET_BY_FORWARDER.has(name) || named?.has(name) === true || isSpoofed(name, policy.spoofable, trusted)) continue;
    if (trusted && (name === 'x-forwarded-for' || name === 'x-forwarded-proto' || name === 'x-forwarded-host')) continue;
    let value = headers[name];
    if (policy.stripAuthorization) {
      // forward.authorization: strip: the token goes nowhere upstream, whatever carried it.
      if (name === 'authorization' || policy.tokenHeaders.includes(name)) continue;
      if (name === 'cookie' && policy.tokenCookies.size > 0 && typeof value === 'string') {
        value = withoutCookies(value, policy.tokenCookies);
        if (value === undefined) continue;
      }
    }
    if (typeof value === 'string') out.push(name, value);
    else if (value !== undefined) for (const v of value) out.push(name, v);
  }
  if (facts.upgrade) {
    out.push('connection', 'upgrade');
    if (typeof headers.upgrade === 'string') out.push('upgrade', headers.upgrade);
  }
  if (identity !== null) {
    for (const [name, value] of identity.headers) out.push(name, value);
  }
  const proto = facts.encrypted ? 'https' : 'http';
  if (trusted) {
    // A trusted proxy's own X-Forwarded-* are kept (extended with the address it connected from).
    const previous = headers['x-forwarded-for'];
    out.push('x-forwarded-for', previous ? `${String(previous)}, ${client}` : client);
    out.push('x-forwarded-proto', typeof headers['x-forwarded-proto'] === 'string' ? headers['x-forwarded-proto'] : proto);
    const host = headers['x-forwarded-host'] ?? facts.host;
    if (host !== undefined) out.push('x-forwarded-host', String(host));
  } else {
    out.push('x-forwarded-for', client, 'x-forwarded-proto', proto);
    if (facts.host !== undefined) out.push('x-forwarded-host', facts.host);
  }
  out.push('x-request-id', facts.requestId, 'host', '');
  return out;
}


/**
 * The Cookie header without the named cookies (every occurrence), the others kept as sent; undefined
 * when none is left.
 */
export function withoutCookies(cookie: string, names: ReadonlySet<string>): string | undefined {
  const pairs = cookie.split(';');
  const kept = pairs.filter((pair) => {
    const eq = pair.indexOf('=');
    return !names.has((eq === -1 ? pair : pair.slice(0, eq)).trim());
  });
  if (kept.length === pairs.length) return cookie;
  const joined = kept.map((pair) => pair.trim()).filter((pair) => pair !== '').join('; ');
  return joined === '' ? undefined : joined;
}

/** A header named in the client's Connection header is hop-by-hop too (RFC 9110 §7.6.1). */
function connectionOptions(connection: string): ReadonlySet<string> | undefined {
  if (connection === 'keep-alive' || connection === 'close') return undefined;
  const names = new Set<string>();
  for (const token of connection.split(',')) {
    const name = token.trim().toLowerCase();
    if (name !== '' && name !== 'upgrade' && !NOT_CONNECTION_OPTIONS.has(name)) names.add(name);
  }
  return names;
}

/** Any spelling of a protected name; the forwarding headers themselves pass when a trusted proxy sent them. */
function isSpoofed(name: string, spoofable: ReadonlySet<string>, trusted: boolean): boolean {
  const dashed = NOT_DASHED.test(name) ? name.replace(NOT_DASHED_ALL, '-') : name;
  return spoofable.has(dashed) && !(trusted && FORWARDING.has(name));
}

/** "::ffff:10.0.0.1" -> "10.0.0.1": IPv4 clients on a dual-stack socket. */
export function clientAddress(remote: string): string {
  return remote.startsWith('::ffff:') && remote.includes('.') ? remote.slice(7) : remote;
}

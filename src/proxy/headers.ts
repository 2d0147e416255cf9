// What the upstream receives: the client's headers minus everything that could lie to it (identity
// headers, forwarding headers from untrusted clients, hop-by-hop headers, method and URL overrides),
// plus the identity and forwarding headers the gateway vouches for.
import type { IncomingHttpHeaders } from 'node:http';
import type { Identity } from '../auth/identity.ts';
import type { TrustPolicy } from './trust.ts';

export interface ForwardPolicy {
  /** Lower-case names of the identity headers (forward.headers). */
  readonly identityHeaders: readonly string[];
  /** Dash-form names whose underscore spellings (X_User_Id) are dropped too. */
  readonly protectedNames: ReadonlySet<string>;
  readonly stripAuthorization: boolean;
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
] as const;

/** RFC 9110 §7.6.1 hop-by-hop headers, plus the non-standard ones that behave like them. */
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'expect'];

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
  readonly remoteAddress: string;
  /** The Host the client asked for. */
  readonly host: string | undefined;
  readonly encrypted: boolean;
  /** A WebSocket handshake keeps its Connection/Upgrade pair. */
  readonly upgrade: boolean;
}

export function rewriteRequestHeaders(
  headers: IncomingHttpHeaders,
  policy: ForwardPolicy,
  identity: Identity | null,
  facts: ForwardFacts,
): void {
  removeHopByHop(headers, facts.upgrade);
  for (const name of OVERRIDE_HEADERS) delete headers[name];
  for (const name of policy.identityHeaders) delete headers[name];
  for (const name in headers) {
    // CGI-style upstreams (PHP, WSGI, Rack) read X_User_Id and X-User-Id as the same variable.
    if (name.includes('_') && policy.protectedNames.has(name.replace(/_/g, '-'))) delete headers[name];
  }
  if (identity !== null) {
    for (const [name, value] of identity.headers) headers[name] = value;
  }
  if (policy.stripAuthorization) delete headers.authorization;
  setForwarding(headers, policy.trust, facts);
  headers['x-request-id'] = facts.requestId;
}

function removeHopByHop(headers: IncomingHttpHeaders, upgrade: boolean): void {
  const connection = headers.connection;
  if (connection !== undefined) {
    // Headers the client lists in Connection are hop-by-hop too (RFC 9110 §7.6.1). They are removed
    // here, before the gateway sets its own, so "Connection: X-User-Id" can not remove ours.
    for (const token of connection.split(',')) {
      const name = token.trim().toLowerCase();
      if (name !== '' && name !== 'upgrade') delete headers[name];
    }
  }
  if (upgrade) {
    const protocol = headers.upgrade;
    for (const name of HOP_BY_HOP) delete headers[name];
    headers.connection = 'upgrade';
    if (protocol !== undefined) headers.upgrade = protocol;
    return;
  }
  for (const name of HOP_BY_HOP) delete headers[name];
}

function setForwarding(headers: IncomingHttpHeaders, trust: TrustPolicy, facts: ForwardFacts): void {
  const client = clientAddress(facts.remoteAddress);
  if (trust.trusts(client)) {
    const previous = headers['x-forwarded-for'];
    headers['x-forwarded-for'] = previous ? `${previous}, ${client}` : client;
    headers['x-forwarded-proto'] ??= facts.encrypted ? 'https' : 'http';
    if (facts.host !== undefined) headers['x-forwarded-host'] ??= facts.host;
    return;
  }
  for (const name of FORWARDING_HEADERS) delete headers[name];
  headers['x-forwarded-for'] = client;
  headers['x-forwarded-proto'] = facts.encrypted ? 'https' : 'http';
  if (facts.host !== undefined) headers['x-forwarded-host'] = facts.host;
}

/** "::ffff:10.0.0.1" -> "10.0.0.1": IPv4 clients on a dual-stack socket. */
export function clientAddress(remote: string): string {
  return remote.startsWith('::ffff:') && remote.includes('.') ? remote.slice(7) : remote;
}

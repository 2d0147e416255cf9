// What tells callers apart, wherever the gateway needs to: the key a rate limit counts under
// (rate_limits.X.key) and the key that keeps a caller on one target (upstreams.X.hash_key). Written the
// same way in both places: sub | ip | claim:<path> | header:<Name> (and route, for rate limits).
import type { IncomingHttpHeaders } from 'node:http';
import { claimPath, readClaim, type ClaimPath } from '../auth/claim-path.ts';
import type { Identity } from '../auth/identity.ts';
import { originalClient, type TrustPolicy } from './trust.ts';

export type CallerKey =
  | { readonly kind: 'sub' }
  | { readonly kind: 'ip' }
  | { readonly kind: 'route' }
  | { readonly kind: 'claim'; readonly path: ClaimPath }
  | { readonly kind: 'header'; readonly name: string };

/** A key as written in gateway.yaml (checked by validate). */
export function parseCallerKey(text: string): CallerKey {
  if (text === 'sub' || text === 'ip' || text === 'route') return { kind: text };
  if (text.startsWith('claim:')) return { kind: 'claim', path: claimPath(text.slice('claim:'.length)) };
  return { kind: 'header', name: text.slice('header:'.length).toLowerCase() };
}

/** What a key is read from: an IncomingMessage is one as it is (no object made per request). */
export interface CallerFacts {
  readonly headers: IncomingHttpHeaders;
  /** The connection, for its peer address. */
  readonly socket: { readonly remoteAddress?: string | undefined };
}

/**
 * The key's value for a request, or undefined when it has none. Token-borne keys (sub, claim:) come only
 * from a verified identity, so a forged token never names someone else; `ip` is the client as
 * server.trust_proxy defines it.
 */
export function callerKeyValue(
  key: CallerKey,
  identity: Identity | null | undefined,
  facts: CallerFacts,
  trust: TrustPolicy,
  routeName: string,
): string | undefined {
  switch (key.kind) {
    case 'sub':
      return identity?.subject;
    case 'ip':
      return originalClient(facts.socket.remoteAddress ?? '', joined(facts.headers['x-forwarded-for']), trust);
    case 'route':
      return routeName;
    case 'claim':
      return identity ? claimText(readClaim(identity.claims, key.path)) : undefined;
    case 'header':
      return joined(facts.headers[key.name]);
  }
}

function joined(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

function claimText(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

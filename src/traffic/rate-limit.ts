// Rate limit policies as the request path uses them: what each counts (its key), where (its store's
// counter), and how it is announced (the RateLimit-Policy and RateLimit fields of
// draft-ietf-httpapi-ratelimit-headers-11: a List of quoted policy names with q, w, r and t parameters).
import { createHash } from 'node:crypto';
import type { Identity } from '../auth/identity.ts';
import { callerKeyValue, parseCallerKey, type CallerFacts, type CallerKey } from '../proxy/caller-key.ts';
import type { TrustPolicy } from '../proxy/trust.ts';
import type { Route } from '../routing/route.ts';
import type { Count, LimitStore, PolicyCounter, PolicySpec } from './limit-store.ts';

export type LimitKey = CallerKey;

export interface RateLimitPolicy {
  readonly spec: PolicySpec;
  /** As written: "sub", "claim:org.id", "header:X-Api-Key"... */
  readonly keySource: string;
  readonly key: LimitKey;
  /** `per` as written, for messages. */
  readonly per: string;
  /** This policy's member of RateLimit-Policy: "name";q=100;w=60. */
  readonly item: string;
}

/** What admission reports: a route was limited, the store failed. Wired to metrics by the runtime. */
export interface AdmissionEvents {
  limited(route: string, policy: string): void;
  storeError(): void;
}

export const NO_EVENTS: AdmissionEvents = { limited: () => {}, storeError: () => {} };

/** The rate limiting of one config: its store, failure mode, timeout and policies. */
export interface RateLimiting {
  readonly store: LimitStore;
  readonly failure: 'open' | 'closed';
  readonly timeoutMs: number;
  readonly policies: ReadonlyMap<string, RateLimitPolicy>;
  readonly events: AdmissionEvents;
}

/** Policies a request is counted against together (all or nothing), and how its response announces them. */
export interface PolicyGroup {
  readonly policies: readonly RateLimitPolicy[];
  /** RateLimit-Policy: the policies' items, joined once. */
  readonly header: string;
  readonly counter: PolicyCounter;
}

/** A route's policies: all of them for a request that is let through, the `ip` ones for a denied one. */
export interface RouteRateLimit {
  readonly limiting: RateLimiting;
  readonly all: PolicyGroup;
  readonly ip: PolicyGroup;
}

/** What a response says about the limits its request was counted against. */
export interface LimitReport {
  readonly policyHeader: string;
  readonly counts: readonly (readonly [RateLimitPolicy, Count])[];
}

/** What the keys read of a request. */
export type ClientFacts = CallerFacts;

export const parseLimitKey = parseCallerKey;

/**
 * q and w say the rate (`requests` per `per`); a burst is a vendor parameter (the draft's own example is
 * "acme-burst"), so a client that sees r above q knows why.
 */
export function policyItem(spec: PolicySpec): string {
  const item = `"${spec.name}";q=${spec.requests};w=${spec.perSeconds}`;
  return spec.burst > 0 ? `${item};portcullis-burst=${spec.burst}` : item;
}

export function routeRateLimit(limiting: RateLimiting, all: readonly RateLimitPolicy[]): RouteRateLimit {
  const group = (policies: readonly RateLimitPolicy[]): PolicyGroup => ({
    policies,
    header: policies.map((p) => p.item).join(', '),
    counter: limiting.store.counter(policies.map((p) => p.spec)),
  });
  return { limiting, all: group(all), ip: group(all.filter((p) => p.key.kind === 'ip')) };
}

/** Every key value present in the store is "v:"-prefixed; a request without one counts under MISSING. */
export const MISSING_KEY = 'missing';
/** Longer values (a header can be 16 kB) are stored as their hash. */
const LONGEST_KEY = 200;

/**
 * The key a request is counted under. Token-borne keys come only from a verified identity, so a forged
 * token never spends someone else's budget; a request that has none (no token, no such claim, no such
 * header) shares the policy's one MISSING bucket rather than going unlimited.
 */
export function keyOf(policy: RateLimitPolicy, route: Route, identity: Identity | null | undefined, client: ClientFacts, trust: TrustPolicy): string {
  const value = callerKeyValue(policy.key, identity, client, trust, route.name);
  return policy.key.kind === 'header' ? hashedKey(value) : valueKey(value);
}

function valueKey(value: string | undefined): string {
  if (value === undefined || value === '') return MISSING_KEY;
  return value.length <= LONGEST_KEY ? `v:${value}` : hashedKey(value);
}

/** A header may carry an API key: it is counted under its hash, never written to a store as it is. */
function hashedKey(value: string | undefined): string {
  if (value === undefined || value === '') return MISSING_KEY;
  return `h:${createHash('sha256').update(value).digest('base64url')}`;
}

/** RateLimit: "name";r=REMAINING;t=SECONDS (until one more request fits), one member per policy counted. */
export function rateLimitField(counts: LimitReport['counts']): string {
  let field = '';
  for (const [policy, count] of counts) {
    if (field !== '') field += ', ';
    field += `"${policy.spec.name}";r=${count.remaining};t=${secondsOf(count.resetMs)}`;
  }
  return field;
}

/** Whole seconds, rounded up: a client that waits this long finds room for a request (Retry-After too). */
export function secondsOf(ms: number): number {
  return Math.max(0, Math.ceil(ms / 1000));
}

export function describePolicy(policy: RateLimitPolicy): string {
  const { spec } = policy;
  return `${spec.requests} per ${policy.per}${spec.burst > 0 ? ` (+${spec.burst} burst)` : ''}, key ${policy.keySource}`;
}

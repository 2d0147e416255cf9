// Admission: after decide(), before anything is forwarded or answered, count the request against its
// route's rate limits, and note on the request's traffic state what its response must say (CORS, RateLimit).
// A request let through is counted against every policy of its route; a denied one (401, 403...) against
// the `ip` ones, so that a flood of guessed tokens is limited too. The policies count together: a request
// one of them refuses is counted by none. A request over any limit becomes a 429
// `rate_limited`, which no upstream ever sees.
import type { CompiledConfig } from '../config/compile.ts';
import { deny, type Decision, type Denial, type Forward } from '../pipeline/decision.ts';
import type { Awaitable } from '../pipeline/decide.ts';
import type { Count } from './limit-store.ts';
import { describePolicy, keyOf, secondsOf, type ClientFacts, type PolicyGroup, type RateLimiting, type RateLimitPolicy } from './rate-limit.ts';
import type { TrafficState } from './response-headers.ts';

/** A consume that failed (store unreachable or too slow): the failure mode decides. */
const FAILED = Symbol('failed');
type Outcome = Count[] | typeof FAILED;
const failed = (): Outcome => FAILED;

export function admit(config: CompiledConfig, decision: Decision, client: ClientFacts, state: TrafficState): Awaitable<Decision> {
  const origin = client.headers.origin;
  state.origin = origin;
  if (decision.kind === 'preflight') return decision; // answered with its own headers, never counted
  const route = decision.route;
  state.cors = route !== undefined ? route.cors : config.cors;
  const limits = route?.rateLimit;
  if (limits == null) return decision;
  const group = decision.kind === 'forward' ? limits.all : limits.ip;
  if (group.policies.length === 0) return decision;
  return count(config, limits.limiting, group, decision, client, state);
}

async function count(config: CompiledConfig, limiting: RateLimiting, group: PolicyGroup, decision: Forward | Denial, client: ClientFacts, state: TrafficState): Promise<Decision> {
  const route = decision.route!;
  const identity = decision.identity;
  const trust = config.forward.trust;
  const { policies } = group;
  const pending = group.counter.consume(policies.map((p) => keyOf(p, route, identity, client, trust))).then(undefined, failed);
  const outcome = limiting.store.remote ? await withTimeout(pending, limiting.timeoutMs, () => limiting.store.timedOut()) : await pending;
  const who = identity ? { identity } : {};
  if (outcome === FAILED) {
    state.limits = { policyHeader: group.header, counts: [] };
    limiting.events.storeError();
    if (limiting.failure === 'open') return decision;
    return deny('rate_limit_unavailable', 'the rate limit store can not be reached; try again shortly', { route, ...who });
  }
  const counts: [RateLimitPolicy, Count][] = [];
  let refusedBy: RateLimitPolicy | undefined;
  let retryMs = 0;
  for (let i = 0; i < policies.length; i++) {
    const policy = policies[i]!;
    const outcomeOf = outcome[i]!;
    counts.push([policy, outcomeOf]);
    if (!outcomeOf.allowed) {
      refusedBy ??= policy;
      retryMs = Math.max(retryMs, outcomeOf.resetMs);
      limiting.events.limited(route.name, policy.spec.name);
    }
  }
  state.limits = { policyHeader: group.header, counts };
  if (refusedBy === undefined) return decision;
  const retryAfter = Math.max(1, secondsOf(retryMs));
  return deny('rate_limited', `too many requests: rate limit "${refusedBy.spec.name}" (${describePolicy(refusedBy)}); retry in ${retryAfter} s`, { route, ...who, retryAfter });
}

/** The store's answer, or FAILED after `ms` (a hanging Redis, a primary that does not answer). */
function withTimeout(pending: Promise<Outcome>, ms: number, onTimeout: () => void): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<Outcome>((resolve) => {
    timer = setTimeout(() => {
      onTimeout();
      resolve(FAILED);
    }, ms);
  });
  return Promise.race([pending, expired]).finally(() => clearTimeout(timer));
}

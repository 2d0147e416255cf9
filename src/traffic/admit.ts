// Admission: after decide(), before anything is forwarded or answered, count the request against its
// route's rate limits, and note on the request's traffic state what its response must say (CORS, RateLimit).
// A request let through is counted against every policy of its route; a denied one (401, 403...) against
// the `ip` ones, so that a flood of guessed tokens is limited too. A request over any limit becomes a 429
// `rate_limited`, which no upstream ever sees.
import type { CompiledConfig } from '../config/compile.ts';
import { deny, type Decision, type Denial, type Forward } from '../pipeline/decision.ts';
import type { Awaitable } from '../pipeline/decide.ts';
import type { Count } from './limit-store.ts';
import { describePolicy, keyOf, secondsOf, type ClientFacts, type RateLimitPolicy, type RouteRateLimit } from './rate-limit.ts';
import type { TrafficState } from './response-headers.ts';

/** A consume that failed (store unreachable or too slow): the failure mode decides. */
const FAILED = Symbol('failed');
type Outcome = Count | typeof FAILED;
const failed = (): Outcome => FAILED;

export function admit(config: CompiledConfig, decision: Decision, client: ClientFacts, state: TrafficState): Awaitable<Decision> {
  const origin = client.headers.origin;
  state.origin = origin;
  if (decision.kind === 'preflight') return decision; // answered with its own headers, never counted
  const route = decision.route;
  state.cors = route !== undefined ? route.cors : config.cors;
  const limits = route?.rateLimit;
  if (limits == null) return decision;
  const policies = decision.kind === 'forward' ? limits.all : limits.ip;
  if (policies.length === 0) return decision;
  return count(config, limits, policies, decision, client, state);
}

async function count(
  config: CompiledConfig,
  limits: RouteRateLimit,
  policies: readonly RateLimitPolicy[],
  decision: Forward | Denial,
  client: ClientFacts,
  state: TrafficState,
): Promise<Decision> {
  const { limiting } = limits;
  const route = decision.route!;
  const identity = decision.identity;
  const trust = config.forward.trust;
  const pending = Promise.all(policies.map((p) => p.counter.consume(keyOf(p, route, identity, client, trust)).then(undefined, failed)));
  const outcomes = limiting.store.remote ? await withTimeout(pending, limiting.timeoutMs, policies.length, () => limiting.store.timedOut()) : await pending;

  const counts: [RateLimitPolicy, Count][] = [];
  let refusedBy: RateLimitPolicy | undefined;
  let retryMs = 0;
  let storeFailed = false;
  for (let i = 0; i < policies.length; i++) {
    const policy = policies[i]!;
    const outcome = outcomes[i]!;
    if (outcome === FAILED) {
      storeFailed = true;
      limiting.events.storeError();
      continue;
    }
    counts.push([policy, outcome]);
    if (!outcome.allowed) {
      refusedBy ??= policy;
      retryMs = Math.max(retryMs, outcome.resetMs);
      limiting.events.limited(route.name, policy.spec.name);
    }
  }
  state.limits = { policyHeader: decision.kind === 'forward' ? limits.allHeader : limits.ipHeader, counts };
  const who = identity ? { identity } : {};
  if (refusedBy !== undefined) {
    const retryAfter = Math.max(1, secondsOf(retryMs));
    return deny('rate_limited', `too many requests: rate limit "${refusedBy.spec.name}" (${describePolicy(refusedBy)}); retry in ${retryAfter} s`, { route, ...who, retryAfter });
  }
  if (storeFailed && limiting.failure === 'closed') {
    return deny('rate_limit_unavailable', 'the rate limit store can not be reached; try again shortly', { route, ...who });
  }
  return decision;
}

/** The store's answers, or FAILED for each after `ms` (a hanging Redis, a primary that does not answer). */
function withTimeout(pending: Promise<Outcome[]>, ms: number, size: number, onTimeout: () => void): Promise<Outcome[]> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<Outcome[]>((resolve) => {
    timer = setTimeout(() => {
      onTimeout();
      resolve(new Array<Outcome>(size).fill(FAILED));
    }, ms);
  });
  return Promise.race([pending, expired]).finally(() => clearTimeout(timer));
}

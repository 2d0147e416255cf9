// Compiling traffic control: the CORS policies (global and per route) and the rate limit policies over
// their store, once per config. A reload keeps the store when it names the same one (the Redis connection,
// the counts in memory), so counts survive reloads; a policy whose numbers change takes them from then on.
import type { GatewayConfig, RouteConfig } from '../config/schema.ts';
import { DEFAULTS } from '../config/schema.ts';
import { parseDuration } from '../config/units.ts';
import { CorsPolicy } from './cors.ts';
import { MemoryLimitStore, type LimitStore, type StoreEvents } from './limit-store.ts';
import { NO_EVENTS, parseLimitKey, policyItem, routeRateLimit, type AdmissionEvents, type RateLimiting, type RateLimitPolicy, type RouteRateLimit } from './rate-limit.ts';
import { RedisLimitStore } from './redis-store.ts';

export interface TrafficEvents extends StoreEvents, AdmissionEvents {}

export const QUIET_TRAFFIC_EVENTS: TrafficEvents = { ...NO_EVENTS, unreachable: () => {}, reachable: () => {} };

export interface TrafficOptions {
  /** The rate limiting of the config being replaced: its store is kept when the new config names the same. */
  readonly previous?: RateLimiting;
  /**
   * Where `rate_limit_store: memory` counts: this process by default; a cluster worker passes the
   * primary's, so that N workers enforce the configured limit, not N times it.
   */
  readonly memoryStore?: LimitStore;
  readonly events?: TrafficEvents;
}

export interface CompiledTraffic {
  /** The global cors block: for responses that have no route (404, 405). */
  readonly cors: CorsPolicy | null;
  readonly rateLimiting: RateLimiting;
  routeCors(route: RouteConfig): CorsPolicy | null;
  routeRateLimit(route: RouteConfig): RouteRateLimit | null;
}

/** A page can read these only when they are exposed; the gateway adds them where routes are limited. */
const RATE_LIMIT_HEADERS = ['RateLimit-Policy', 'RateLimit', 'Retry-After'];

export function compileTraffic(config: GatewayConfig, options: TrafficOptions = {}): CompiledTraffic {
  const events = options.events ?? QUIET_TRAFFIC_EVENTS;
  const definitions = Object.entries(config.rate_limits ?? {});
  const expose = definitions.length > 0 ? RATE_LIMIT_HEADERS : [];
  const globalCors = config.cors !== undefined ? new CorsPolicy(config.cors, expose) : null;
  const timeoutMs = parseDuration(config.rate_limit_timeout ?? DEFAULTS.rate_limit_timeout);
  const store = chooseStore(config, definitions.length > 0, timeoutMs, options, events);

  const policies = new Map<string, RateLimitPolicy>();
  for (const [name, policy] of definitions) {
    const spec = { name, requests: policy.requests, perSeconds: Math.floor(parseDuration(policy.per) / 1000), burst: policy.burst ?? 0 };
    policies.set(name, { spec, keySource: policy.key, key: parseLimitKey(policy.key), per: policy.per, item: policyItem(spec) });
  }
  const rateLimiting: RateLimiting = {
    store,
    failure: config.rate_limit_failure ?? DEFAULTS.rate_limit_failure,
    timeoutMs,
    policies,
    events,
  };
  return {
    cors: globalCors,
    rateLimiting,
    routeCors: (route) => (route.cors === false ? null : route.cors !== undefined ? new CorsPolicy(route.cors, expose) : globalCors),
    routeRateLimit(route) {
      if (route.rate_limit === undefined) return null;
      const named = [...new Set([route.rate_limit].flat())].map((name) => policies.get(name)!);
      return routeRateLimit(rateLimiting, named);
    },
  };
}

function chooseStore(config: GatewayConfig, needed: boolean, timeoutMs: number, options: TrafficOptions, events: StoreEvents): LimitStore {
  const previous = options.previous?.store;
  const setting = config.rate_limit_store ?? DEFAULTS.rate_limit_store;
  // No policy, nothing to count: no connection to make.
  if (setting === 'memory' || !needed) {
    if (options.memoryStore !== undefined) return options.memoryStore;
    return previous instanceof MemoryLimitStore ? previous : new MemoryLimitStore();
  }
  if (previous instanceof RedisLimitStore && previous.url === setting) {
    previous.setTimeout(timeoutMs);
    return previous;
  }
  return new RedisLimitStore(setting, timeoutMs, events);
}

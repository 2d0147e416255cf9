// Upstreams: each upstream's targets (an undici pool each), its balance policy, health checks, outlier
// detection and retries, compiled once. What the previous config learned about a target's health carries
// over a reload.
import { ConsistentHash, LeastRequest, RoundRobin, type Balancer } from '../proxy/balance.ts';
import { HealthChecker } from '../proxy/health.ts';
import { OutlierDetector } from '../proxy/outlier.ts';
import { RetryBudget, RetryPolicy } from '../proxy/retry.ts';
import { UpstreamTarget } from '../proxy/target.ts';
import { Upstream } from '../proxy/upstream.ts';
import { parseCallerKey } from '../proxy/caller-key.ts';
import { DEFAULTS, type GatewayConfig, type UpstreamObject } from './schema.ts';
import type { Settings } from './settings.ts';
import { parseDuration } from './units.ts';

/** What an upstream's health checks find, for logs and metrics. */
export interface UpstreamEvents {
  onHealthChange(upstream: string, target: string, healthy: boolean, why: string): void;
  onEjection(upstream: string, target: string, forMs: number): void;
}

export function compileUpstreams(
  config: GatewayConfig,
  settings: Settings,
  previous: ReadonlyMap<string, Upstream> | undefined,
  events: UpstreamEvents | undefined,
): Map<string, Upstream> {
  const upstreams = new Map<string, Upstream>();
  for (const [name, upstream] of Object.entries(config.upstreams)) {
    const spec: UpstreamObject = typeof upstream === 'string' ? { targets: [upstream] } : upstream;
    const targetOptions = {
      maxConnections: spec.max_connections ?? DEFAULTS.max_connections,
      connectTimeoutMs: parseDuration(spec.connect_timeout ?? DEFAULTS.connect_timeout),
      preserveHost: spec.preserve_host !== false,
    };
    const targets = spec.targets.map((url) => new UpstreamTarget(url, targetOptions));
    // What the last config found out about a target stays true after a reload: a dead target is not
    // sent requests again until the checks see it again.
    const before = previous?.get(name);
    for (const target of targets) {
      const known = before?.targets.find((t) => t.url === target.url);
      if (known === undefined) continue;
      target.healthy = spec.health_check === undefined ? true : known.healthy;
      if (spec.outlier_detection !== undefined) {
        target.ejectedUntil = known.ejectedUntil;
        target.ejections = known.ejections;
      }
    }
    upstreams.set(name, new Upstream({
      name,
      targets,
      balancer: balancerFor(spec, targets),
      balance: spec.balance ?? null,
      hashKey: spec.hash_key === undefined ? null : parseCallerKey(spec.hash_key),
      timeoutMs: spec.timeout !== undefined ? parseDuration(spec.timeout) : settings.timeoutMs,
      connectTimeoutMs: targetOptions.connectTimeoutMs,
      queueTimeoutMs: parseDuration(spec.queue_timeout ?? DEFAULTS.queue_timeout),
      retries: spec.retries === undefined ? null : retryPolicy(spec.retries),
      outliers: spec.outlier_detection === undefined ? null : new OutlierDetector(
        {
          consecutiveFailures: spec.outlier_detection.consecutive_failures ?? DEFAULTS.consecutive_failures,
          ejectionMs: parseDuration(spec.outlier_detection.ejection_time ?? DEFAULTS.ejection_time),
        },
        (target, forMs) => events?.onEjection(name, target.label, forMs),
      ),
      health: spec.health_check === undefined ? null : new HealthChecker(
        targets,
        {
          path: spec.health_check.path,
          intervalMs: parseDuration(spec.health_check.interval ?? DEFAULTS.health_interval),
          timeoutMs: parseDuration(spec.health_check.timeout ?? DEFAULTS.health_timeout),
          healthyThreshold: spec.health_check.healthy_threshold ?? DEFAULTS.healthy_threshold,
          unhealthyThreshold: spec.health_check.unhealthy_threshold ?? DEFAULTS.unhealthy_threshold,
        },
        (target, healthy, why) => events?.onHealthChange(name, target.label, healthy, why),
      ),
    }));
  }
  return upstreams;
}

function balancerFor(spec: UpstreamObject, targets: readonly UpstreamTarget[]): Balancer {
  switch (spec.balance ?? DEFAULTS.balance) {
    case 'least_request':
      return new LeastRequest(targets);
    case 'hash':
      return new ConsistentHash(targets);
    default:
      return new RoundRobin(targets);
  }
}

function retryPolicy(retries: NonNullable<UpstreamObject['retries']>): RetryPolicy {
  const share = Number((retries.budget ?? DEFAULTS.retry_budget).slice(0, -1)) / 100;
  return new RetryPolicy(
    retries.attempts ?? DEFAULTS.retry_attempts,
    new Set(retries.on ?? DEFAULTS.retry_on),
    retries.per_try_timeout === undefined ? null : parseDuration(retries.per_try_timeout),
    new RetryBudget(share),
  );
}

// An upstream: its targets, how one is chosen for a request (balance), which are up (health checks,
// outlier detection), and what a failed try may lead to (retries). Compiled once per config.
import type { Balancer } from './balance.ts';
import type { CallerKey } from './caller-key.ts';
import type { HealthChecker } from './health.ts';
import type { OutlierDetector } from './outlier.ts';
import type { RetryPolicy } from './retry.ts';
import type { UpstreamTarget } from './target.ts';

/** What keeps a caller on one target with balance: hash (never `route`: validate refuses it there). */
export type HashKey = CallerKey;

export interface UpstreamOptions {
  readonly name: string;
  readonly targets: readonly UpstreamTarget[];
  readonly balancer: Balancer;
  readonly balance: string | null;
  readonly hashKey: HashKey | null;
  readonly timeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly queueTimeoutMs: number;
  readonly retries: RetryPolicy | null;
  readonly outliers: OutlierDetector | null;
  readonly health: HealthChecker | null;
}

const anyTarget = (): boolean => true;

export class Upstream {
  readonly name: string;
  readonly targets: readonly UpstreamTarget[];
  readonly hashKey: HashKey | null;
  /** The balance policy as configured (null: the default, round_robin). */
  readonly balance: string | null;
  readonly timeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly queueTimeoutMs: number;
  readonly retries: RetryPolicy | null;
  readonly outliers: OutlierDetector | null;
  /** Whether active checks run: then a request with every target down is refused at once (no panic). */
  readonly activelyChecked: boolean;
  private readonly balancer: Balancer;
  private readonly health: HealthChecker | null;
  /** One target, never taken out: the common case, chosen without a look at health. */
  private readonly single: UpstreamTarget | null;

  constructor(options: UpstreamOptions) {
    this.name = options.name;
    this.targets = options.targets;
    this.balancer = options.balancer;
    this.hashKey = options.hashKey;
    this.balance = options.balance;
    this.timeoutMs = options.timeoutMs;
    this.connectTimeoutMs = options.connectTimeoutMs;
    this.queueTimeoutMs = options.queueTimeoutMs;
    this.retries = options.retries;
    this.outliers = options.outliers;
    this.health = options.health;
    this.activelyChecked = options.health !== null;
    this.single = options.targets.length === 1 && options.outliers === null && options.health === null ? options.targets[0]! : null;
  }

  /**
   * The target for the next try: an up target this request has not tried, else an up one it has, else,
   * when every target is out and no active check can bring one back, any of them (Envoy's panic mode: a
   * gateway that refuses for ever is worse than one that tries). Undefined when every target is out and
   * active checks say so: the request gets 503 no_healthy_upstream without a connection attempt.
   */
  choose(key: string | undefined, tried: ReadonlySet<UpstreamTarget> | null): UpstreamTarget | undefined {
    if (this.single !== null) return this.single;
    const now = Date.now();
    const retry = tried !== null;
    const fresh = retry ? this.balancer.pick((t) => t.isUp(now) && !tried.has(t), key, true) : undefined;
    if (fresh !== undefined) return fresh;
    const up = this.balancer.pick((t) => t.isUp(now), key, retry);
    if (up !== undefined || this.activelyChecked) return up;
    return this.balancer.pick(anyTarget, key, retry);
  }

  /** Targets that would get requests now (for explain and /readyz). */
  upTargets(now = Date.now()): UpstreamTarget[] {
    return this.targets.filter((t) => t.isUp(now));
  }

  start(): void {
    this.health?.start();
  }

  /** Stop the active checks; requests in flight keep what the checks last found. */
  stopChecks(): void {
    this.health?.stop();
  }

  /** Stop the checks and close the connections; used once no request can use this upstream any more. */
  close(): void {
    this.stopChecks();
    for (const target of this.targets) target.close();
  }
}

// Active health checks (health_check): each target is asked for `path` every `interval` on a connection
// of its own, so that checks neither wait behind traffic for a free connection nor take one from it. A
// target goes out after unhealthy_threshold failed checks in a row and comes back after
// healthy_threshold passed ones. Targets start healthy: a gateway that starts or reloads serves at once.
import { Client } from 'undici';
import type { UpstreamTarget } from './target.ts';

export interface HealthCheckPolicy {
  readonly path: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly healthyThreshold: number;
  readonly unhealthyThreshold: number;
}

export interface HealthListener {
  (target: UpstreamTarget, healthy: boolean, why: string): void;
}

export class HealthChecker {
  private readonly probes: TargetProbe[];
  private stopped = false;

  constructor(targets: readonly UpstreamTarget[], policy: HealthCheckPolicy, onChange: HealthListener) {
    this.probes = targets.map((target) => new TargetProbe(target, policy, onChange, () => this.stopped));
  }

  start(): void {
    for (const probe of this.probes) probe.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    for (const probe of this.probes) probe.stop();
  }
}

class TargetProbe {
  private readonly client: Client;
  private timer: NodeJS.Timeout | undefined;
  private passes = 0;
  private failures = 0;

  constructor(
    private readonly target: UpstreamTarget,
    private readonly policy: HealthCheckPolicy,
    private readonly onChange: HealthListener,
    private readonly stopped: () => boolean,
  ) {
    this.client = new Client(new URL(target.url).origin, {
      connect: { timeout: policy.timeoutMs, ...(target.sni !== undefined ? { servername: target.sni } : {}) },
      headersTimeout: policy.timeoutMs,
      bodyTimeout: policy.timeoutMs,
      keepAliveTimeout: Math.max(policy.intervalMs * 2, 4000),
    });
  }

  schedule(delayMs: number): void {
    if (this.stopped()) return;
    this.timer = setTimeout(() => void this.check(), delayMs);
    this.timer.unref();
  }

  stop(): void {
    clearTimeout(this.timer);
    void this.client.destroy().catch(() => {});
  }

  private async check(): Promise<void> {
    const outcome = await this.probe();
    if (this.stopped()) return;
    if (outcome === null) {
      this.failures = 0;
      if (++this.passes >= this.policy.healthyThreshold && !this.target.healthy) {
        this.target.healthy = true;
        this.onChange(this.target, true, `${this.passes} checks passed`);
      }
    } else {
      this.passes = 0;
      if (++this.failures >= this.policy.unhealthyThreshold && this.target.healthy) {
        this.target.healthy = false;
        this.onChange(this.target, false, outcome);
      }
    }
    this.schedule(this.policy.intervalMs);
  }

  /** null when the target answered 2xx or 3xx in time; otherwise why not. */
  private async probe(): Promise<string | null> {
    const signal = AbortSignal.timeout(this.policy.timeoutMs);
    try {
      const response = await this.client.request({
        method: 'GET',
        path: this.target.basePath + this.policy.path,
        headers: { host: this.target.ownHost, 'user-agent': 'portcullis-health-check' },
        signal,
      });
      await response.body.dump();
      return response.statusCode >= 200 && response.statusCode < 400 ? null : `answered ${response.statusCode}`;
    } catch (err) {
      const code = (err as { code?: string }).code;
      return signal.aborted ? 'timed out' : (code ?? (err instanceof Error ? err.message : 'failed'));
    }
  }
}

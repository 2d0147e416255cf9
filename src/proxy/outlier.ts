// Passive health checks (outlier_detection): a target that fails this many requests in a row (connect
// errors, resets, 502/503/504) is ejected for ejection_time, doubled on each repeated ejection up to 5
// minutes, as Envoy does. A target that stays well for a whole ejection_time earns one doubling back.
import type { UpstreamTarget } from './target.ts';

export interface OutlierPolicy {
  readonly consecutiveFailures: number;
  readonly ejectionMs: number;
}

const LONGEST_EJECTION_MS = 5 * 60_000;

export interface EjectionListener {
  (target: UpstreamTarget, forMs: number): void;
}

export class OutlierDetector {
  constructor(
    private readonly policy: OutlierPolicy,
    private readonly onEject: EjectionListener,
  ) {}

  success(target: UpstreamTarget, now: number): void {
    target.consecutiveFailures = 0;
    // Forgiveness: one step of doubling back for each ejection_time served without an ejection.
    if (target.ejections > 0 && now >= target.ejectedUntil + this.policy.ejectionMs) {
      target.ejections--;
      target.ejectedUntil = now - 1; // the next step back is a whole ejection_time from now
    }
  }

  failure(target: UpstreamTarget, now: number): void {
    if (target.ejectedUntil > now) return; // failures of requests sent before the ejection
    if (++target.consecutiveFailures < this.policy.consecutiveFailures) return;
    const forMs = Math.min(this.policy.ejectionMs * 2 ** target.ejections, LONGEST_EJECTION_MS);
    target.ejectedUntil = now + forMs;
    target.ejections++;
    target.consecutiveFailures = 0;
    this.onEject(target, forMs);
  }
}

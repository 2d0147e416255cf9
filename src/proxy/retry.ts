// Retries: what may be retried (retries.on), how often (attempts), and a budget that keeps retries a
// bounded share of an upstream's traffic, so that a failing upstream is not hit with a retry storm.
import type { RETRY_CONDITIONS } from '../config/schema.ts';

export type RetryCondition = (typeof RETRY_CONDITIONS)[number];

/** RFC 9110 §9.2.2: a request these methods make can be repeated with the same effect. */
const IDEMPOTENT: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

export class RetryPolicy {
  constructor(
    readonly attempts: number,
    private readonly on: ReadonlySet<RetryCondition>,
    readonly perTryTimeoutMs: number | null,
    readonly budget: RetryBudget,
  ) {}

  /**
   * Whether a failed try may be made again. A connect failure sent nothing, so it is retried for any
   * method; anything else only for idempotent methods, and only when no byte of the request body has been
   * read (what was sent can not be sent again).
   */
  allows(condition: RetryCondition, method: string, bodyStarted: boolean): boolean {
    if (!this.on.has(condition)) return false;
    if (condition === 'connect_failure') return true;
    return IDEMPOTENT.has(method) && !bodyStarted;
  }

  retriesStatus(status: number): boolean {
    return (status === 502 || status === 503 || status === 504) && this.on.has(String(status) as RetryCondition);
  }
}

const WINDOW_SECONDS = 60;
/** Retries allowed in any window whatever the traffic: a quiet upstream can still retry a failure or two. */
const MINIMUM_RETRIES = 3;

/** Requests and retries over a sliding minute, in one-second buckets. */
export class RetryBudget {
  private readonly requests = new Uint32Array(WINDOW_SECONDS);
  private readonly retries = new Uint32Array(WINDOW_SECONDS);
  private second = 0;

  constructor(private readonly share: number) {}

  request(nowMs: number): void {
    this.requests[this.slot(nowMs)]!++;
  }

  /** Takes a retry from the budget when there is one left. */
  tryRetry(nowMs: number): boolean {
    const slot = this.slot(nowMs);
    let requests = 0;
    let retries = 0;
    for (let i = 0; i < WINDOW_SECONDS; i++) {
      requests += this.requests[i]!;
      retries += this.retries[i]!;
    }
    if (retries >= Math.max(MINIMUM_RETRIES, Math.floor(requests * this.share))) return false;
    this.retries[slot]!++;
    return true;
  }

  /** The bucket for now, clearing those the window has moved past. */
  private slot(nowMs: number): number {
    const second = Math.floor(nowMs / 1000);
    if (second !== this.second) {
      const gap = Math.min(second - this.second, WINDOW_SECONDS);
      for (let i = 1; i <= gap; i++) {
        const s = (this.second + i) % WINDOW_SECONDS;
        this.requests[s] = 0;
        this.retries[s] = 0;
      }
      this.second = second;
    }
    return second % WINDOW_SECONDS;
  }
}

// Where rate limit counts live. The counting itself is rate-limiter-flexible's ("enhanced fixed window":
// a key's window opens with its first request and holds `requests`; a BurstyRateLimiter adds `burst` more
// from a second window ten times as long), over one of three stores: this process's memory, the cluster
// primary's memory (cluster/limit-ipc.ts), or Redis (redis-store.ts), where every instance shares it.
import { BurstyRateLimiter, RateLimiterMemory, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

/** What a store needs to know about a policy to count for it. Plain data: it crosses IPC. */
export interface PolicySpec {
  readonly name: string;
  readonly requests: number;
  readonly perSeconds: number;
  readonly burst: number;
}

/** One request counted against one key of one policy. */
export interface Count {
  readonly allowed: boolean;
  /** Requests the key may still make in its window (a lower bound when a burst is configured). */
  readonly remaining: number;
  /** Until the window (or, refused, the burst window) frees a request. */
  readonly resetMs: number;
}

export interface PolicyCounter {
  /** Counts one request; rejects only when the store could not be asked (unreachable, broken). */
  consume(key: string): Promise<Count>;
}

export interface StoreStatus {
  readonly reachable: boolean;
}

export interface LimitStore {
  readonly kind: 'memory' | 'primary' | 'redis';
  /** For logs: the kind, and where (never a password). */
  readonly description: string;
  /** Whether a consume can hang (a remote store): admission then bounds it with rate_limit_timeout. */
  readonly remote: boolean;
  counter(spec: PolicySpec): PolicyCounter;
  /** Connect (remote stores); resolves once connected or after `waitMs`, whichever is first. */
  start(waitMs: number): Promise<void>;
  status(): StoreStatus;
  /** A consume gave up waiting (rate_limit_timeout): the store is treated as unreachable until it answers. */
  timedOut(): void;
  close(): void;
}

/** The burst allowance comes back once per this many windows (rate-limiter-flexible's own example). */
export const BURST_WINDOWS = 10;
/**
 * The longest window: the memory store expires a key with a timer, and Node runs a timer of more than
 * 2^31 - 1 ms (24.8 days) at once, which would forget every count. validate refuses a longer `per`.
 */
export const LONGEST_WINDOW_SECONDS = 24 * 24 * 3600;

export function burstWindowSeconds(perSeconds: number): number {
  return Math.min(perSeconds * BURST_WINDOWS, LONGEST_WINDOW_SECONDS);
}

/** Store events the runtime turns into the log warning (once per outage) and the store-error metric. */
export interface StoreEvents {
  unreachable(store: string, error: string): void;
  reachable(store: string): void;
}

/** A policy's two library limiters, kept by policy name so a reload that changes the numbers keeps the counts. */
export interface LimiterPair<L extends RateLimiterAbstract> {
  readonly main: L;
  readonly burst: L;
}

export function counterOver<L extends RateLimiterAbstract>(pair: LimiterPair<L>, spec: PolicySpec): PolicyCounter {
  pair.main.points = spec.requests;
  pair.main.duration = spec.perSeconds;
  pair.burst.points = spec.burst;
  pair.burst.duration = burstWindowSeconds(spec.perSeconds);
  const limiter = spec.burst > 0 ? new BurstyRateLimiter(pair.main, pair.burst) : pair.main;
  return { consume: (key) => limiter.consume(key).then(allowed, refusedOrFailed) };
}

function allowed(res: RateLimiterRes): Count {
  return { allowed: true, remaining: res.remainingPoints, resetMs: res.msBeforeNext };
}

/** The library rejects with its result when the limit is reached, and with an Error when the store failed. */
function refusedOrFailed(reason: unknown): Count {
  if (reason instanceof RateLimiterRes) return { allowed: false, remaining: 0, resetMs: reason.msBeforeNext };
  throw reason instanceof Error ? reason : new Error(String(reason));
}

/** Counts in this process: exact (one thread), gone when it exits. */
export class MemoryLimitStore implements LimitStore {
  readonly kind = 'memory';
  readonly description = 'memory';
  readonly remote = false;
  private readonly pairs = new Map<string, LimiterPair<RateLimiterMemory>>();

  counter(spec: PolicySpec): PolicyCounter {
    let pair = this.pairs.get(spec.name);
    if (pair === undefined) {
      pair = {
        main: new RateLimiterMemory({ keyPrefix: spec.name, points: spec.requests, duration: spec.perSeconds }),
        burst: new RateLimiterMemory({ keyPrefix: `${spec.name}:burst`, points: Math.max(spec.burst, 1), duration: burstWindowSeconds(spec.perSeconds) }),
      };
      this.pairs.set(spec.name, pair);
    }
    return counterOver(pair, spec);
  }

  start(): Promise<void> {
    return Promise.resolve();
  }

  status(): StoreStatus {
    return { reachable: true };
  }

  timedOut(): void {}

  close(): void {}
}

// Where rate limit counts live, and the store that keeps them in this process. Every store counts by the
// same rule (gcra.ts: a token bucket holding requests + burst, refilled at requests per `per`), in one of
// three places: this process's memory, the cluster primary's memory (cluster/limit-ipc.ts), or Redis
// (redis-store.ts), where every instance shares it.
import { cadenceOf, countsOf, fitsAll, rescaledDebt, type Cadence } from './gcra.ts';

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
  /** Requests the key may still make at once (its bucket's content, burst included). */
  readonly remaining: number;
  /** Until the bucket holds one more request: refused, the earliest a retry can pass. */
  readonly resetMs: number;
}

/**
 * Counts requests against a list of policies (a route's), all or nothing: a request that one policy
 * refuses is counted by none, so a user over their own limit never spends the budget of their address.
 */
export interface PolicyCounter {
  /**
   * Counts one request under one key per policy (in the policies' order), and answers each policy's
   * count. Rejects only when the store could not be asked (unreachable, broken).
   */
  consume(keys: readonly string[]): Promise<Count[]>;
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
  /** The counter of these policies together; the numbers in `specs` apply from now on (a reload may change them). */
  counter(specs: readonly PolicySpec[]): PolicyCounter;
  /** Connect (remote stores); resolves once connected or after `waitMs`, whichever is first. */
  start(waitMs: number): Promise<void>;
  status(): StoreStatus;
  /** A consume gave up waiting (rate_limit_timeout): the store is treated as unreachable until it answers. */
  timedOut(): void;
  close(): void;
}

/**
 * The longest window validate accepts. A key's count is kept until its bucket is full again, up to
 * (requests + burst) / requests windows after its last request: with longer windows, counts of clients
 * long gone would pile up in memory and in Redis for months. Longer spans are a quota system's job.
 */
export const LONGEST_WINDOW_SECONDS = 24 * 24 * 3600;

/** Store events the runtime turns into the log warning (once per outage) and the store-error metric. */
export interface StoreEvents {
  unreachable(store: string, error: string): void;
  reachable(store: string): void;
}


/** Microseconds on a clock that never goes back (the wall clock may: NTP, a VM resumed). */
export type Clock = () => number;

const monotonicMicros: Clock = () => Math.floor(performance.now() * 1000);

/** How often keys whose buckets are full again are forgotten: their state says nothing any more. */
const SWEEP_MS = 10_000;

/**
 * Counts in this process: exact (one thread), gone when it exits. Each policy keeps its keys' TATs (see
 * gcra.ts) by name, so a reload that changes the policy's numbers carries its counts over.
 */
export class MemoryLimitStore implements LimitStore {
  readonly kind = 'memory';
  readonly description = 'memory';
  readonly remote = false;
  private readonly policies = new Map<string, MemoryPolicy>();
  private sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly clock: Clock = monotonicMicros) {}

  counter(specs: readonly PolicySpec[]): PolicyCounter {
    return new MemoryCounter(specs.map((spec) => this.policy(spec)), this.clock);
  }

  start(): Promise<void> {
    return Promise.resolve();
  }

  status(): StoreStatus {
    return { reachable: true };
  }

  timedOut(): void {}

  close(): void {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  private policy(spec: PolicySpec): MemoryPolicy {
    let policy = this.policies.get(spec.name);
    if (policy === undefined) {
      policy = new MemoryPolicy(spec, this.clock);
      this.policies.set(spec.name, policy);
      this.sweeper ??= setInterval(() => this.sweep(), SWEEP_MS).unref();
    } else {
      policy.adopt(spec);
    }
    return policy;
  }

  private sweep(): void {
    const now = this.clock();
    for (const policy of this.policies.values()) policy.forgetFull(now);
  }
}

/** Policies counted together (a route's): one thread, so checking them all and then counting is exact. */
class MemoryCounter implements PolicyCounter {
  constructor(
    private readonly policies: readonly MemoryPolicy[],
    private readonly clock: Clock,
  ) {}

  consume(keys: readonly string[]): Promise<Count[]> {
    return Promise.resolve(this.take(keys));
  }

  take(keys: readonly string[]): Count[] {
    const now = this.clock();
    const { policies } = this;
    const cadences = policies.map((p) => p.cadence);
    const aheads = policies.map((p, i) => p.aheadOf(keys[i]!, now));
    if (fitsAll(cadences, aheads)) policies.forEach((p, i) => p.count(keys[i]!, now + aheads[i]!));
    return countsOf(cadences, aheads);
  }
}

/** One policy's keys in memory: each key's TAT (gcra.ts), carried over when a reload changes the numbers. */
class MemoryPolicy {
  private readonly tats = new Map<string, number>();
  private spec: PolicySpec;
  cadence: Cadence;

  constructor(
    spec: PolicySpec,
    private readonly clock: Clock,
  ) {
    this.spec = spec;
    this.cadence = cadenceOf(spec);
  }

  /** The numbers of a reloaded config: the debts already run up are carried over at the new rate. */
  adopt(spec: PolicySpec): void {
    const was = this.spec;
    if (spec.requests === was.requests && spec.perSeconds === was.perSeconds && spec.burst === was.burst) return;
    const cadence = cadenceOf(spec);
    const now = this.clock();
    for (const [key, tat] of this.tats) this.tats.set(key, now + rescaledDebt(tat - now, this.cadence, cadence));
    this.spec = spec;
    this.cadence = cadence;
  }

  /** How far ahead of now the key's TAT would be with one more request counted. */
  aheadOf(key: string, now: number): number {
    const tat = this.tats.get(key);
    return (tat === undefined || tat < now ? 0 : tat - now) + this.cadence.intervalUs;
  }

  count(key: string, tat: number): void {
    this.tats.set(key, tat);
  }

  forgetFull(now: number): void {
    for (const [key, tat] of this.tats) if (tat <= now) this.tats.delete(key);
  }
}

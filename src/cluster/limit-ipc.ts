// Rate limit counts across a cluster (rate_limit_store: memory): the workers ask, the primary counts, in
// one MemoryLimitStore. The primary handles one message at a time, so the count is exact however many
// workers ask at once, and it survives a worker's replacement. These messages travel beside the
// primary's questions (messages.ts), under their own types.
import type { Worker } from 'node:cluster';
import { MemoryLimitStore, type Count, type LimitStore, type PolicyCounter, type PolicySpec, type StoreStatus } from '../traffic/limit-store.ts';
import type { LimitAnswer, LimitRequest } from './messages.ts';

/** Pending counts older than this are given up (admission gave up on them after rate_limit_timeout). */
const ABANDON_MS = 10_000;

interface Pending {
  readonly resolve: (counts: Count[]) => void;
  readonly reject: (err: Error) => void;
  readonly sentAt: number;
}

/** The worker's side: a store whose counter asks the primary. */
export class PrimaryLimitStore implements LimitStore {
  readonly kind = 'primary';
  readonly description = 'the cluster primary\'s memory';
  readonly remote = true;
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly send: (message: LimitRequest, onError: (err: Error | null) => void) => void) {
    this.sweeper = setInterval(() => this.abandonOld(), ABANDON_MS);
    this.sweeper.unref();
  }

  counter(specs: readonly PolicySpec[]): PolicyCounter {
    return { consume: (keys) => this.ask(specs, keys) };
  }

  answered(answer: LimitAnswer): void {
    const pending = this.pending.get(answer.id);
    if (pending === undefined) return;
    this.pending.delete(answer.id);
    if (answer.counts !== undefined) pending.resolve([...answer.counts]);
    else pending.reject(new Error('the primary could not count'));
  }

  start(): Promise<void> {
    return Promise.resolve();
  }

  status(): StoreStatus {
    return { reachable: process.connected };
  }

  timedOut(): void {}

  close(): void {}

  private ask(policies: readonly PolicySpec[], keys: readonly string[]): Promise<Count[]> {
    const id = this.nextId++;
    return new Promise<Count[]>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, sentAt: Date.now() });
      this.send({ type: 'portcullis:limit', id, policies, keys }, (err) => {
        if (err === null || !this.pending.delete(id)) return;
        reject(err);
      });
    });
  }

  private abandonOld(): void {
    const before = Date.now() - ABANDON_MS;
    for (const [id, pending] of this.pending) {
      if (pending.sentAt >= before) continue;
      this.pending.delete(id);
      pending.reject(new Error('the primary did not answer'));
    }
  }
}

/** The primary's side: counts for every worker. */
export class PrimaryLimits {
  /** Each policy by name; the numbers come with every question, so a reload applies as soon as a worker has it. */
  private readonly store = new MemoryLimitStore();

  count(worker: Worker, request: LimitRequest): void {
    const answer = (counts?: Count[]) => {
      const message: LimitAnswer = counts === undefined ? { type: 'portcullis:limit-answer', id: request.id } : { type: 'portcullis:limit-answer', id: request.id, counts };
      if (worker.isConnected()) worker.send(message, () => {});
    };
    this.store.counter(request.policies).consume(request.keys).then(answer, () => answer());
  }
}

/** A message is a LimitRequest only if its fields have the types the primary relies on. */
export function isLimitRequest(value: unknown): value is LimitRequest {
  if (typeof value !== 'object' || value === null) return false;
  const { type, id, keys, policies } = value as Partial<Record<keyof LimitRequest, unknown>>;
  if (type !== 'portcullis:limit' || typeof id !== 'number' || !Array.isArray(keys) || !Array.isArray(policies)) return false;
  return keys.length === policies.length && keys.every((key) => typeof key === 'string') && policies.every(isPolicySpec);
}

function isPolicySpec(policy: unknown): boolean {
  if (typeof policy !== 'object' || policy === null) return false;
  const p = policy as Partial<Record<keyof PolicySpec, unknown>>;
  return typeof p.name === 'string' && isCount(p.requests, 1) && isCount(p.perSeconds, 1) && isCount(p.burst, 0);
}

function isCount(value: unknown, min: number): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= min;
}

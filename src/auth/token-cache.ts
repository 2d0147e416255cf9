// Verified tokens, remembered so that a client's repeated token costs a map lookup, not a signature check.
// An entry never outlives the token's exp, and is ignored once its provider's keys have changed.
import { LRUCache } from 'lru-cache';
import type { Identity } from './identity.ts';

export class TokenCache {
  private readonly entries: LRUCache<string, Identity> | undefined;
  hits = 0;
  misses = 0;

  constructor(maxEntries: number) {
    this.entries = maxEntries > 0 ? new LRUCache<string, Identity>({ max: maxEntries, ttlAutopurge: false }) : undefined;
  }

  get(token: string, nowMs: number): Identity | undefined {
    const identity = this.entries?.get(token);
    if (identity === undefined) {
      this.misses++;
      return undefined;
    }
    if (identity.expiresAtMs <= nowMs || identity.keyGeneration !== identity.provider.keys.generation) {
      this.entries!.delete(token);
      this.misses++;
      return undefined;
    }
    this.hits++;
    return identity;
  }

  set(token: string, identity: Identity, nowMs: number): void {
    const ttl = identity.expiresAtMs - nowMs;
    if (this.entries === undefined || ttl <= 0) return;
    this.entries.set(token, identity, { ttl });
  }

  get size(): number {
    return this.entries?.size ?? 0;
  }

  clear(): void {
    this.entries?.clear();
  }
}

// Choosing a target: round_robin, least_request, or hash (consistent hashing). Each takes a predicate
// for the targets it may choose (up, and not yet tried by this request) and allocates nothing per request.
// A retry's choice does not move the rotation: the rotation spreads requests, and a retry is not a new one.
// (Otherwise, with a dead target first in the list, a retry landing on the next target would hand the
// dead one the first try of every request.)
import type { UpstreamTarget } from './target.ts';

export type Eligible = (target: UpstreamTarget) => boolean;

export interface Balancer {
  /**
   * A target for which `eligible` holds, or undefined when there is none. `key` is for hash only; `retry`:
   * the choice is for a request's next try, and leaves the rotation where it is.
   */
  pick(eligible: Eligible, key: string | undefined, retry: boolean): UpstreamTarget | undefined;
}

export class RoundRobin implements Balancer {
  private next = 0;

  constructor(private readonly targets: readonly UpstreamTarget[]) {}

  pick(eligible: Eligible, _key: string | undefined, retry: boolean): UpstreamTarget | undefined {
    const n = this.targets.length;
    for (let i = 0; i < n; i++) {
      const index = (this.next + i) % n;
      const target = this.targets[index]!;
      if (eligible(target)) {
        if (!retry) this.next = (index + 1) % n;
        return target;
      }
    }
    return undefined;
  }
}

/** The target with the fewest requests in flight; ties go round robin, so equal targets share the load. */
export class LeastRequest implements Balancer {
  private start = 0;

  constructor(private readonly targets: readonly UpstreamTarget[]) {}

  pick(eligible: Eligible, _key: string | undefined, retry: boolean): UpstreamTarget | undefined {
    const n = this.targets.length;
    let best: UpstreamTarget | undefined;
    for (let i = 0; i < n; i++) {
      const target = this.targets[(this.start + i) % n]!;
      if (eligible(target) && (best === undefined || target.inFlight < best.inFlight)) best = target;
    }
    if (!retry) this.start = (this.start + 1) % n;
    return best;
  }
}

/** Points each target gets on the ring: enough for an even share with a handful of targets. */
const POINTS_PER_TARGET = 160;

/**
 * Consistent hashing (a ring of points, several per target): a key goes to the first eligible target at
 * or after its hash. The same key reaches the same target while that target is up, and when a target
 * goes, only the keys it held move (to the next points on the ring); the others stay where they were.
 * Requests without a key are spread round robin.
 */
export class ConsistentHash implements Balancer {
  private readonly hashes: Uint32Array;
  private readonly owners: UpstreamTarget[];
  private readonly fallback: RoundRobin;

  constructor(targets: readonly UpstreamTarget[]) {
    const points: { hash: number; target: UpstreamTarget }[] = [];
    for (const target of targets) {
      for (let i = 0; i < POINTS_PER_TARGET; i++) points.push({ hash: hash32(`${target.url}#${i}`), target });
    }
    points.sort((a, b) => a.hash - b.hash);
    this.hashes = Uint32Array.from(points.map((p) => p.hash));
    this.owners = points.map((p) => p.target);
    this.fallback = new RoundRobin(targets);
  }

  pick(eligible: Eligible, key: string | undefined, retry: boolean): UpstreamTarget | undefined {
    if (key === undefined) return this.fallback.pick(eligible, undefined, retry);
    const start = this.firstAtOrAfter(hash32(key));
    const n = this.owners.length;
    for (let i = 0; i < n; i++) {
      const target = this.owners[(start + i) % n]!;
      if (eligible(target)) return target;
    }
    return undefined;
  }

  private firstAtOrAfter(hash: number): number {
    let low = 0;
    let high = this.hashes.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.hashes[mid]! < hash) low = mid + 1;
      else high = mid;
    }
    return low === this.hashes.length ? 0 : low;
  }
}

/** FNV-1a over the UTF-16 code units, then murmur3's finalizer so that similar keys land far apart. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

// The counting rule of every rate limit policy: a token bucket, kept as GCRA (the Generic Cell Rate
// Algorithm, ITU-T I.371) does it. A key's whole state is one number, its theoretical arrival time (TAT):
// the moment its bucket would be full again. One request adds `interval` (= per / requests) to it; a
// request is refused when that would put the TAT more than `tolerance` (= interval × (requests + burst))
// ahead of now. So:
//   - after a quiet period, requests + burst may arrive at once (the bucket holds that many);
//   - over any span T, at most requests + burst + T / interval are admitted: requests per `per` beyond
//     the one burst, however a client sends;
//   - an empty bucket is full again (burst included) after (requests + burst) × interval of quiet;
//   - a refused request changes nothing, so a client that keeps sending while refused gets through at the
//     policy's rate, never less and never more. With several policies, a request one of them refuses is
//     counted by none (countsOf), so a user over their own limit does not spend the budget of their address.
// Times are whole microseconds, so every sum is exact (doubles hold integers to 2^53: about 285 years of
// microseconds). The memory store runs this in TypeScript, Redis in the Lua script of redis-store.ts.
import type { Count, PolicySpec } from './limit-store.ts';

export interface Cadence {
  /** Microseconds one request takes out of the bucket: per / requests, rounded up (never faster than configured). */
  readonly intervalUs: number;
  /** How far ahead of now a key's TAT may run: interval × (requests + burst). */
  readonly toleranceUs: number;
}

export function cadenceOf(spec: PolicySpec): Cadence {
  const intervalUs = Math.max(1, Math.ceil((spec.perSeconds * 1_000_000) / spec.requests));
  return { intervalUs, toleranceUs: intervalUs * (spec.requests + spec.burst) };
}

/**
 * The answer to one request, from `aheadUs`: how far ahead of now the key's TAT would be with this
 * request counted (its TAT, or now when that has passed, plus one interval).
 */
export function countOf(cadence: Cadence, aheadUs: number): Count {
  const { intervalUs, toleranceUs } = cadence;
  if (aheadUs > toleranceUs) return { allowed: false, remaining: 0, resetMs: Math.ceil((aheadUs - toleranceUs) / 1000) };
  // What is left, and when the next request's worth comes back (RateLimit's r and t).
  const remaining = Math.floor((toleranceUs - aheadUs) / intervalUs);
  return { allowed: true, remaining, resetMs: Math.ceil((aheadUs % intervalUs || intervalUs) / 1000) };
}

/** A policy that had room for a request another policy refused: nothing was counted, its bucket is as it was. */
export function uncountedOf(cadence: Cadence, aheadUs: number): Count {
  const { intervalUs, toleranceUs } = cadence;
  const debtUs = aheadUs - intervalUs;
  return { allowed: true, remaining: Math.floor((toleranceUs - debtUs) / intervalUs), resetMs: Math.ceil((debtUs % intervalUs || intervalUs) / 1000) };
}

/** Whether every policy has room for the request: only then is it counted, by all of them. */
export function fitsAll(cadences: readonly Cadence[], aheadsUs: ArrayLike<number>): boolean {
  for (let i = 0; i < cadences.length; i++) if (aheadsUs[i]! > cadences[i]!.toleranceUs) return false;
  return true;
}

/** The answer of each policy to one request counted all or nothing (see fitsAll). */
export function countsOf(cadences: readonly Cadence[], aheadsUs: ArrayLike<number>): Count[] {
  const fits = fitsAll(cadences, aheadsUs);
  const counts: Count[] = [];
  for (let i = 0; i < cadences.length; i++) {
    const cadence = cadences[i]!;
    const ahead = aheadsUs[i]!;
    counts.push(fits || ahead > cadence.toleranceUs ? countOf(cadence, ahead) : uncountedOf(cadence, ahead));
  }
  return counts;
}

/**
 * A policy's numbers changed (a reload): a TAT `debtUs` ahead of now stands for debtUs / old interval
 * requests still to be paid back; at the new interval they take this long. So raising `requests` lets
 * refused keys through again at once, and lowering it may put them over.
 */
export function rescaledDebt(debtUs: number, was: Cadence, now: Cadence): number {
  return debtUs <= 0 || was.intervalUs === now.intervalUs ? debtUs : Math.ceil((debtUs / was.intervalUs) * now.intervalUs);
}

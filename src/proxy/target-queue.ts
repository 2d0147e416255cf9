// The wait for a free connection to a target (max_connections), kept here rather than in undici's pool:
// a request that waits longer than queue_timeout is answered 503 upstream_overloaded and simply leaves
// the queue, where a request already handed to undici could only be aborted by closing a connection.
import type { Attempt } from './forward.ts';
import type { UpstreamTarget } from './target.ts';

/** Dispatch `attempt` now if the target has a free connection, else queue it for at most `timeoutMs`. */
export function enqueue(target: UpstreamTarget, attempt: Attempt, timeoutMs: number): void {
  if (target.inFlight < target.maxConnections && target.waiting.length === 0) {
    target.inFlight++;
    attempt.settled = true;
    attempt.exchange.dispatch(attempt, 0);
    return;
  }
  attempt.queuedAt = performance.now();
  attempt.queueTimer = setTimeout(() => {
    if (attempt.settled) return;
    withdraw(target, attempt);
    attempt.expire();
  }, timeoutMs);
  target.waiting.push(attempt);
}

/**
 * A waiting attempt leaves the queue without a connection: its wait ran out, or its client went away (it
 * must not stay there, counted as pending and holding its request, until a connection comes free).
 */
export function withdraw(target: UpstreamTarget, attempt: Attempt): void {
  attempt.settled = true;
  clearTimeout(attempt.queueTimer);
  const index = target.waiting.indexOf(attempt);
  if (index !== -1) target.waiting.splice(index, 1);
}

/** A request to the target is done: its connection goes to the longest-waiting request, if any. */
export function release(target: UpstreamTarget): void {
  target.inFlight--;
  while (target.waiting.length > 0 && target.inFlight < target.maxConnections) {
    const next = target.waiting.shift()!;
    if (next.settled || next.isCancelled) continue;
    clearTimeout(next.queueTimer);
    next.settled = true;
    target.inFlight++;
    next.exchange.dispatch(next, performance.now() - next.queuedAt);
  }
}

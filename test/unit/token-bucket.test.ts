// The counting rule of every rate limit policy (traffic/gcra.ts), driven through the memory store on a
// clock the test moves: the contract is about time ("after a quiet period", "over time"), and a
// test that waited for it would take hours. Redis runs the same rule in Lua (rate-limit-redis.test.ts).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MemoryLimitStore, type PolicyCounter, type PolicySpec } from '../../src/traffic/limit-store.ts';

const SECOND = 1_000_000;

function bucket(spec: Omit<PolicySpec, 'name'>) {
  let now = 1_000 * SECOND;
  const store = new MemoryLimitStore(() => now);
  const counter = store.counter([{ name: 'p', ...spec }]);
  const take = async () => (await counter.consume(['k']))[0]!;
  return {
    store,
    advance: (seconds: number) => void (now += Math.round(seconds * SECOND)),
    take,
    /** Sends until refused, at this instant: how many got through. */
    async drain(): Promise<number> {
      let admitted = 0;
      while ((await take()).allowed) admitted++;
      return admitted;
    },
  };
}

describe('rate limits are a token bucket (GCRA)', () => {
  test('after a quiet period, requests + burst pass at once and the next one is refused', async () => {
    const b = bucket({ requests: 100, perSeconds: 60, burst: 20 });
    assert.equal(await b.drain(), 120);
  });

  test('a client sending flat out gets requests per `per` over time, beyond its one burst', async () => {
    const b = bucket({ requests: 100, perSeconds: 60, burst: 20 });
    let admitted = await b.drain();
    // 50 windows, tried every 100 ms: whatever the windows' edges, no more than the rate comes through.
    for (let step = 0; step < 50 * 600; step++) {
      b.advance(0.1);
      admitted += await b.drain();
    }
    assert.equal(admitted, 100 + 20 + 50 * 100);
  });

  test('no window edge lets twice the quota through: after a burst, the next minute brings `requests`, not more', async () => {
    const b = bucket({ requests: 10, perSeconds: 60, burst: 0 });
    assert.equal(await b.drain(), 10);
    b.advance(59.9);
    assert.equal(await b.drain(), 9, 'refilled at 10 a minute: 9 whole requests in 59.9 s');
    b.advance(0.1);
    assert.equal(await b.drain(), 1);
  });

  test('the whole burst is back after (requests + burst) / requests windows of quiet, and not before', async () => {
    const b = bucket({ requests: 10, perSeconds: 60, burst: 5 });
    assert.equal(await b.drain(), 15);
    b.advance(89); // full again at 15 × 6 s = 90 s
    assert.equal(await b.drain(), 14);
    b.advance(90);
    assert.equal(await b.drain(), 15);
  });

  test('a refused request costs nothing: a client that keeps retrying gets through at the policy rate', async () => {
    const b = bucket({ requests: 2, perSeconds: 60, burst: 0 });
    assert.equal(await b.drain(), 2);
    for (let i = 0; i < 100; i++) assert.equal((await b.take()).allowed, false);
    b.advance(30);
    assert.equal((await b.take()).allowed, true);
  });

  test('RateLimit\'s r counts the burst too, and t is the wait for one more request; refused, t is the wait for a retry', async () => {
    const b = bucket({ requests: 10, perSeconds: 60, burst: 5 });
    assert.deepEqual(await b.take(), { allowed: true, remaining: 14, resetMs: 6000 });
    b.advance(1.5);
    assert.deepEqual(await b.take(), { allowed: true, remaining: 13, resetMs: 4500 });
    await b.drain();
    const refused = await b.take();
    assert.equal(refused.allowed, false);
    b.advance(refused.resetMs / 1000);
    assert.equal((await b.take()).allowed, true, 'after resetMs, exactly one more fits');
    assert.equal((await b.take()).allowed, false);
  });

  test('a reload that changes the numbers carries each key\'s debt over at the new rate', async () => {
    let now = 0;
    const store = new MemoryLimitStore(() => now);
    const spec = { name: 'p', requests: 2, perSeconds: 60, burst: 0 };
    const allowed = async (counter: PolicyCounter) => (await counter.consume(['k']))[0]!.allowed;
    const before = store.counter([spec]);
    assert.deepEqual([await allowed(before), await allowed(before), await allowed(before)], [true, true, false]);
    // Two requests spent at 2 a minute are two spent at 5 a minute: three more fit.
    const raised = store.counter([{ ...spec, requests: 5 }]);
    const after = [];
    for (let i = 0; i < 4; i++) after.push(await allowed(raised));
    assert.deepEqual(after, [true, true, true, false]);
    now += 12 * SECOND;
    assert.equal(await allowed(raised), true, 'and the new rate refills it');
    store.close();
  });

  test('policies counted together are all or nothing: a request one refuses is counted by none', async () => {
    const store = new MemoryLimitStore(() => 0);
    const route = store.counter([
      { name: 'per-ip', requests: 3, perSeconds: 60, burst: 0 },
      { name: 'per-user', requests: 1, perSeconds: 60, burst: 0 },
    ]);
    const send = async (user: string) => (await route.consume(['10.0.0.1', user])).map((c) => c.allowed);
    assert.deepEqual(await send('mallory'), [true, true]);
    // Mallory goes on: her own policy refuses, and the address she shares is not charged for it.
    for (let i = 0; i < 10; i++) assert.deepEqual(await send('mallory'), [true, false]);
    const refused = await route.consume(['10.0.0.1', 'mallory']);
    assert.equal(refused[0]!.remaining, 2, 'the address still has two of three left');
    assert.deepEqual([await send('alice'), await send('bob')], [[true, true], [true, true]]);
    assert.deepEqual(await send('carol'), [false, true], 'the address is spent by the three requests let through');
    store.close();
  });
});

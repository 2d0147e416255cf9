// Rate limits in a real Redis, started by the test: instances that share it enforce one limit together;
// when it dies or hangs, rate_limit_failure decides (open: pass, one warning per outage, counted; closed:
// 503) within rate_limit_timeout, /readyz says so, and counting comes back by itself once it returns.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { configWith, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { bearer, request, type Response } from '../helpers/http.ts';
import { sign } from '../helpers/keys.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';

const UNREACHABLE = 'rate limit store unreachable';

describe('rate limits in Redis', () => {
  let redis: TestRedis;
  let upstream: Upstream;
  const gateways: TestGateway[] = [];

  before(async () => {
    [redis, upstream] = await Promise.all([startRedis(), startUpstream()]);
  });
  after(async () => {
    await Promise.all(gateways.map((g) => g.close()));
    await Promise.all([redis.close(), upstream.close()]);
  });

  /** A gateway whose one route is limited by `policy` (its name keeps tests apart in the shared Redis). */
  async function gateway(policy: string, limit: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<TestGateway> {
    const auth = limit.key === 'sub' ? 'required' : 'public';
    const routes = [{ name: policy, prefix: `/${policy}`, upstream: 'app', auth, rate_limit: policy }];
    const gw = await startTestGateway(configWith(upstream.url, routes, { rate_limits: { [policy]: { per: '1m', ...limit } }, rate_limit_store: redis.url, ...extra }));
    gateways.push(gw);
    return gw;
  }

  const warnings = (gw: TestGateway) => gw.logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith(UNREACHABLE));
  const storeErrors = async (gw: TestGateway) =>
    Number(/portcullis_rate_limit_store_errors_total (\d+)/.exec((await request(gw.adminUrl, '/metrics')).body)?.[1] ?? NaN);

  async function until(check: () => Promise<boolean>): Promise<void> {
    for (let i = 0; i < 500; i++) {
      if (await check()) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.fail('timed out');
  }

  test('two gateway instances sharing one Redis admit the configured total between them, not twice it', async () => {
    const [one, two] = await Promise.all([gateway('shared', { requests: 10, key: 'sub' }), gateway('shared', { requests: 10, key: 'sub' })]);
    const alice = await sign({ iss: 'test', aud: 'api', sub: 'alice' });
    const send = (gw: TestGateway) => request(gw.url, '/shared', { headers: bearer(alice) });
    const responses: Response[] = await Promise.all(Array.from({ length: 30 }, (_, i) => send(i % 2 === 0 ? one : two)));
    assert.equal(responses.filter((r) => r.status === 200).length, 10);
    assert.equal(responses.filter((r) => r.status === 429).length, 20);
    assert.equal(upstream.received.filter((r) => r.url.startsWith('/shared')).length, 10);
    const bob = await sign({ iss: 'test', aud: 'api', sub: 'bob' });
    assert.equal((await request(two.url, '/shared', { headers: bearer(bob) })).status, 200, 'per sub');
  });

  test('the bucket is kept in Redis: requests + burst at once, the burst back after (requests + burst) / requests windows', { timeout: 30_000 }, async () => {
    const gw = await gateway('bucket', { requests: 1, per: '2s', burst: 2, key: 'route' });
    const burst = () => Promise.all(Array.from({ length: 4 }, () => request(gw.url, '/bucket')));
    const first = await burst();
    assert.deepEqual(first.map((r) => r.status).sort(), [200, 200, 200, 429]);
    assert.equal(first[0]!.headers['ratelimit-policy'], '"bucket";q=1;w=2;portcullis-burst=2');
    const remaining = first.filter((r) => r.status === 200).map((r) => /;r=(\d+);/.exec(String(r.headers.ratelimit))![1]).sort();
    assert.deepEqual(remaining, ['0', '1', '2']);
    await new Promise((r) => setTimeout(r, 6_500));
    assert.deepEqual((await burst()).map((r) => r.status).sort(), [200, 200, 200, 429]);
  });

  test('a route\'s policies count together in Redis: a request one refuses is counted by none', async () => {
    const routes = [{ name: 'pair', prefix: '/pair', upstream: 'app', rate_limit: ['pair-ip', 'pair-user'] }];
    const limits = { 'pair-ip': { requests: 3, per: '1m', key: 'ip' }, 'pair-user': { requests: 1, per: '1m', key: 'sub' } };
    const gw = await startTestGateway(configWith(upstream.url, routes, { rate_limits: limits, rate_limit_store: redis.url }));
    gateways.push(gw);
    const [mallory, alice, bob, carol] = (await Promise.all(['mallory', 'alice', 'bob', 'carol'].map((sub) => sign({ iss: 'test', aud: 'api', sub })))) as [string, string, string, string];
    const send = (t: string) => request(gw.url, '/pair', { headers: bearer(t) }).then((r) => r.status);
    const hammering = [];
    for (let i = 0; i < 6; i++) hammering.push(await send(mallory));
    assert.deepEqual(hammering, [200, 429, 429, 429, 429, 429]);
    assert.deepEqual([await send(alice), await send(bob), await send(carol)], [200, 200, 429]);
  });

  test('Redis killed, rate_limit_failure open: requests pass, one warning per outage, errors counted, /readyz warns; counting resumes after a restart', async () => {
    const gw = await gateway('open', { requests: 1000, key: 'route' });
    const counted = (r: Response) => r.status === 200 && r.headers.ratelimit !== undefined;
    assert.ok(counted(await request(gw.url, '/open')));

    await redis.kill();
    const during = await Promise.all(Array.from({ length: 5 }, () => request(gw.url, '/open')));
    assert.deepEqual(during.map((r) => r.status), [200, 200, 200, 200, 200]);
    assert.ok(during.every((r) => r.headers.ratelimit === undefined), 'nothing was counted');
    assert.ok((await storeErrors(gw)) >= 5);
    const ready = await request(gw.adminUrl, '/readyz');
    assert.equal(ready.status, 200, 'open mode stays ready');
    assert.match(JSON.stringify(ready.json().warnings), /rate limit store \(redis\) unreachable/);
    assert.doesNotMatch(ready.body, /127\.0\.0\.1/, '/readyz names no address');
    assert.equal(warnings(gw).length, 1, 'one warning for the whole outage');
    assert.match(String(warnings(gw)[0]!.msg), /requests pass unlimited/);

    await redis.restart();
    await until(async () => counted(await request(gw.url, '/open')));
    assert.ok(gw.logs.some((l) => l.msg === 'rate limit store reachable again'));
    assert.equal((await request(gw.adminUrl, '/readyz')).json().warnings, undefined);

    await redis.kill();
    await request(gw.url, '/open');
    await until(async () => warnings(gw).length === 2);
    await redis.restart();
    await until(async () => counted(await request(gw.url, '/open')));
  });

  test('Redis killed, rate_limit_failure closed: 503 rate_limit_unavailable and not ready, until it is back', async () => {
    const gw = await gateway('closed', { requests: 1000, key: 'route' }, { rate_limit_failure: 'closed' });
    assert.equal((await request(gw.url, '/closed')).status, 200);
    const before = upstream.received.length;

    await redis.kill();
    const refused = await request(gw.url, '/closed');
    assert.equal(refused.status, 503);
    assert.equal(refused.json().error, 'rate_limit_unavailable');
    assert.equal(upstream.received.length, before, 'nothing reached the upstream');
    const ready = await request(gw.adminUrl, '/readyz');
    assert.equal(ready.status, 503);
    assert.match(JSON.stringify(ready.json().reasons), /rate limit store \(redis\) unreachable/);
    assert.match(String(warnings(gw)[0]?.msg), /answer 503/);

    await redis.restart();
    await until(async () => (await request(gw.url, '/closed')).status === 200);
    assert.equal((await request(gw.adminUrl, '/readyz')).status, 200);
  });

  test('a gateway started while Redis is down serves at once (closed: 503, not ready) and counts once Redis is up', async () => {
    await redis.kill();
    try {
      const gw = await gateway('late', { requests: 1000, key: 'route' }, { rate_limit_failure: 'closed' });
      assert.equal((await request(gw.url, '/late')).status, 503);
      assert.equal((await request(gw.adminUrl, '/readyz')).status, 503);
      assert.match(String(warnings(gw)[0]?.msg), /answer 503 \(rate_limit_failure: closed\)/);
    } finally {
      await redis.restart();
    }
    const gw = gateways[gateways.length - 1]!;
    await until(async () => (await request(gw.url, '/late')).status === 200);
    assert.equal((await request(gw.adminUrl, '/readyz')).status, 200);
  });

  test('a Redis that hangs (SIGSTOP) holds a request no longer than rate_limit_timeout: then the failure mode applies', { timeout: 30_000 }, async () => {
    const open = await gateway('hang-open', { requests: 1000, key: 'route' }, { rate_limit_timeout: '200ms' });
    const closed = await gateway('hang-closed', { requests: 1000, key: 'route' }, { rate_limit_timeout: '200ms', rate_limit_failure: 'closed' });
    assert.equal((await request(open.url, '/hang-open')).status, 200);
    assert.equal((await request(closed.url, '/hang-closed')).status, 200);

    redis.pause();
    try {
      // Without the timeout these would wait for as long as Redis is stopped: the test would never end.
      const [passed, refused] = await Promise.all([request(open.url, '/hang-open'), request(closed.url, '/hang-closed')]);
      assert.equal(passed.status, 200);
      assert.equal(passed.headers.ratelimit, undefined);
      assert.equal(refused.status, 503);
      assert.equal(refused.json().error, 'rate_limit_unavailable');
      assert.equal(warnings(open).length, 1);
      assert.equal((await request(open.url, '/hang-open')).status, 200, 'and the next one too');
      // A store that hangs is as unreachable as one that is gone: a warning when open, a reason when closed.
      const [openReady, closedReady] = await Promise.all([request(open.adminUrl, '/readyz'), request(closed.adminUrl, '/readyz')]);
      assert.equal(openReady.status, 200);
      assert.match(JSON.stringify(openReady.json().warnings), /rate limit store \(redis\) unreachable/);
      assert.equal(closedReady.status, 503);
      assert.match(JSON.stringify(closedReady.json().reasons), /rate limit store \(redis\) unreachable/);
    } finally {
      redis.resume();
    }
    await until(async () => (await request(open.url, '/hang-open')).headers.ratelimit !== undefined);
    await until(async () => (await request(closed.url, '/hang-closed')).status === 200);
  });

  test('a reload that changes a policy takes effect at once, on the counts already in Redis', async () => {
    const gw = await gateway('reloaded', { requests: 2, key: 'route' });
    const send = () => request(gw.url, '/reloaded').then((r) => r.status);
    assert.deepEqual([await send(), await send(), await send()], [200, 200, 429]);
    const routes = [{ name: 'reloaded', prefix: '/reloaded', upstream: 'app', auth: 'public', rate_limit: 'reloaded' }];
    const config = (requests: number) => configWith(upstream.url, routes, { rate_limits: { reloaded: { requests, per: '1m', key: 'route' } }, rate_limit_store: redis.url });
    assert.equal(await gw.rewrite(config(4)), true);
    assert.deepEqual([await send(), await send(), await send()], [200, 200, 429], 'two counted before (not the refused one): two more fit');
    assert.equal(await gw.rewrite(config(1)), true);
    assert.equal(await send(), 429);
  });
});

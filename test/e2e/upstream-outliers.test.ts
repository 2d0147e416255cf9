// Passive health checks (upstreams.X.outlier_detection): a target that fails requests in a row is ejected
// for ejection_time (doubled when it happens again), gets no requests meanwhile and comes back when the time
// is up. With every target ejected and no active checks, the gateway still tries one (panic mode) rather
// than refuse every request until an ejection ends.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { configWith, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { request } from '../helpers/http.ts';
import { closedAfterEach } from '../helpers/lifecycle.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';
import { sample, until } from '../helpers/wait.ts';

const routes = [{ name: 'all', prefix: '/', upstream: 'app', auth: 'public' }];

let gw: TestGateway | undefined;
const closed = closedAfterEach();

/** Targets that answer 200 with their name, or `failing` status while it is set. */
async function targets(...names: string[]): Promise<(Upstream & { failing: number | null })[]> {
  return Promise.all(
    names.map(async (name) => {
      const upstream = Object.assign(await startUpstream(name), { failing: null as number | null });
      closed(upstream);
      upstream.handle((_req, res) => res.writeHead(upstream.failing ?? 200, { 'x-served-by': name }).end(name));
      return upstream;
    }),
  );
}

const config = (ups: Upstream[], options: Record<string, unknown>) =>
  configWith('', routes, { upstreams: { app: { targets: ups.map((u) => u.url), ...options } } });

const label = (u: Upstream) => `127.0.0.1:${u.port}`;

const ejections = (g: TestGateway, u: Upstream) =>
  g.logs.filter((l) => l.msg === 'upstream target ejected after consecutive failures' && l.target === label(u));

async function metric(g: TestGateway, name: string, u: Upstream): Promise<number> {
  return sample((await request(g.adminUrl, '/metrics')).body, name, `upstream="app",target="${label(u)}"`);
}

describe('outlier detection', () => {
  test('a target failing requests in a row is ejected, gets no requests, and comes back after ejection_time', async () => {
    const [a, b] = await targets('a', 'b');
    a!.failing = 502;
    gw = closed(await startTestGateway(config([a!, b!], { outlier_detection: { consecutive_failures: 2, ejection_time: '1s' } })));
    await until(async () => (await request(gw!.url, '/x')).status === 200 && ejections(gw!, a!).length === 1, 'a to be ejected');
    assert.equal(ejections(gw, a!)[0]!.ejected_ms, 1000);
    assert.equal(await metric(gw, 'portcullis_upstream_ejections_total', a!), 1);
    assert.equal(await metric(gw, 'portcullis_upstream_target_healthy', a!), 0);

    a!.failing = null;
    const seen = a!.received.length;
    for (let i = 0; i < 4; i++) assert.equal((await request(gw.url, '/x')).headers['x-served-by'], 'b');
    assert.equal(a!.received.length, seen, 'an ejected target gets no requests');

    await until(async () => (await request(gw!.url, '/x')).headers['x-served-by'] === 'a', 'a to come back');
    assert.equal(await metric(gw, 'portcullis_upstream_target_healthy', a!), 1);
  });

  test('a target ejected again at once is ejected for twice as long', async () => {
    const [a, b] = await targets('a', 'b');
    a!.failing = 503;
    gw = closed(await startTestGateway(config([a!, b!], { outlier_detection: { consecutive_failures: 1, ejection_time: '200ms' } })));
    await until(async () => {
      await request(gw!.url, '/x');
      return ejections(gw!, a!).length === 2;
    }, 'a second ejection');
    assert.deepEqual(ejections(gw, a!).map((l) => l.ejected_ms), [200, 400]);
    assert.equal(await metric(gw, 'portcullis_upstream_ejections_total', a!), 2);
  });

  test('with every target ejected and no active checks, requests still reach a target (panic mode), and pass once it recovers', async () => {
    const ups = await targets('a', 'b');
    for (const u of ups) u.failing = 503;
    gw = closed(await startTestGateway(config(ups, { outlier_detection: { consecutive_failures: 1, ejection_time: '5m' } })));
    await until(async () => {
      await request(gw!.url, '/x');
      return ups.every((u) => ejections(gw!, u).length === 1);
    }, 'both targets to be ejected');
    const hits = ups[0]!.received.length + ups[1]!.received.length;
    const panic = await request(gw.url, '/x');
    assert.equal(panic.status, 503);
    assert.ok(['a', 'b'].includes(panic.headers['x-served-by'] as string), 'the target\'s own answer, not no_healthy_upstream');
    assert.equal(ups[0]!.received.length + ups[1]!.received.length, hits + 1);
    const ready = await request(gw.adminUrl, '/readyz');
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.json().warnings, ['upstream "app": every target is ejected; requests still go to one of them (panic mode)']);
    for (const u of ups) u.failing = null;
    assert.equal((await request(gw.url, '/x')).status, 200);
  });

  test('an ejection survives a reload', async () => {
    const [a, b] = await targets('a', 'b');
    a!.failing = 502;
    const outliers = { consecutive_failures: 1, ejection_time: '5m' };
    gw = closed(await startTestGateway(config([a!, b!], { outlier_detection: outliers })));
    await until(async () => {
      await request(gw!.url, '/x');
      return ejections(gw!, a!).length === 1;
    }, 'a to be ejected');
    a!.failing = null;
    assert.equal(await gw.rewrite(config([a!, b!], { outlier_detection: outliers, timeout: '10s' })), true);
    const seen = a!.received.length;
    for (let i = 0; i < 6; i++) assert.equal((await request(gw.url, '/x')).headers['x-served-by'], 'b');
    assert.equal(a!.received.length, seen);
  });
});

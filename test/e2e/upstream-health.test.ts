// Active health checks (upstreams.X.health_check): a target that fails them gets no requests, so clients
// see no errors from it once it is found out; with every target out, requests are refused at once with 503
// no_healthy_upstream; a target comes back after healthy_threshold good checks; and what the checks found
// survives a reload.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { configWith, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { request } from '../helpers/http.ts';
import { closedAfterEach } from '../helpers/lifecycle.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';
import { sample, until } from '../helpers/wait.ts';

const routes = [{ name: 'all', prefix: '/', upstream: 'app', auth: 'public' }];
// Short, but not so short that a busy machine makes a healthy target fail three checks in a row.
const FAST_CHECKS = { path: '/healthz', interval: '200ms', timeout: '200ms', unhealthy_threshold: 3, healthy_threshold: 1 };

let gw: TestGateway | undefined;
const closed = closedAfterEach();

/** Targets that serve every request, and answer their health check as `healthy()` says. */
async function targets(...names: string[]): Promise<(Upstream & { healthy: boolean; checksPassed: number })[]> {
  return Promise.all(
    names.map(async (name) => {
      const upstream = Object.assign(await startUpstream(name), { healthy: true, checksPassed: 0 });
      closed(upstream);
      upstream.handle((req, res) => {
        if (req.url !== '/healthz') return res.writeHead(200, { 'x-served-by': name }).end(name);
        if (upstream.healthy) upstream.checksPassed++;
        res.writeHead(upstream.healthy ? 200 : 500).end();
      });
      return upstream;
    }),
  );
}

async function gateway(ups: Upstream[], options: Record<string, unknown>): Promise<TestGateway> {
  gw = closed(await startTestGateway(configWith('', routes, { upstreams: { app: { targets: ups.map((u) => u.url), ...options } } })));
  return gw;
}

const label = (u: Upstream) => `127.0.0.1:${u.port}`;

function wentOut(g: TestGateway, u: Upstream): boolean {
  return g.logs.some((l) => l.msg === 'upstream target failed its health checks; it gets no requests' && l.target === label(u));
}

async function healthGauge(g: TestGateway, u: Upstream): Promise<number> {
  return sample((await request(g.adminUrl, '/metrics')).body, 'portcullis_upstream_target_healthy', `upstream="app",target="${label(u)}"`);
}

const servedBy = async (g: TestGateway, path = '/x') => {
  const res = await request(g.url, path);
  return `${res.status} ${res.body.startsWith('{') ? (res.json().error as string) : res.body}`;
};

describe('active health checks', () => {
  test('a dead target is skipped once the checks find it: no client sees a 502 from then on', async () => {
    const [a, b] = await targets('a', 'b');
    const g = await gateway([a!, b!], { health_check: FAST_CHECKS });
    await until(() => b!.received.some((r) => r.url === '/healthz'), 'a first check');
    const check = b!.received.find((r) => r.url === '/healthz')!;
    assert.equal(check.method, 'GET');
    assert.equal(check.headers['user-agent'], 'portcullis-health-check');
    assert.equal(await healthGauge(g, b!), 1);

    await b!.close();
    await until(() => wentOut(g, b!), 'b to fail its checks');
    const answers = [];
    for (let i = 0; i < 20; i++) answers.push(await servedBy(g));
    assert.deepEqual(new Set(answers), new Set(['200 a']));
    assert.equal(await healthGauge(g, b!), 0);
    assert.equal(await healthGauge(g, a!), 1);
    const ready = await request(g.adminUrl, '/readyz');
    assert.equal(ready.status, 200);
    assert.equal(ready.json().warnings, undefined, 'one target up is no warning');
  });

  test('with every target failing its checks, a request gets 503 no_healthy_upstream at once, and no target sees it', async () => {
    const ups = await targets('a', 'b');
    for (const u of ups) u.healthy = false;
    const g = await gateway(ups, { health_check: FAST_CHECKS });
    await until(() => ups.every((u) => wentOut(g, u)), 'both targets to go out');
    const res = await request(g.url, '/orders/1');
    assert.equal(res.status, 503);
    assert.equal(res.json().error, 'no_healthy_upstream');
    assert.ok(ups.every((u) => u.received.every((r) => r.url === '/healthz')), 'no request was sent to a target');
    const line = g.logs.find((l) => l.msg === 'request' && l.path === '/orders/1')!;
    assert.equal(line.reason, 'no_healthy_upstream');
    assert.equal(line.upstream_attempts, undefined, 'no try was made');
  });

  test('/readyz stays 200 with every target of an upstream out, and names the upstream (never its addresses) in warnings', async () => {
    const ups = await targets('a', 'b');
    const g = await gateway(ups, { health_check: FAST_CHECKS });
    assert.deepEqual((await request(g.adminUrl, '/readyz')).json(), { status: 'ready' });
    for (const u of ups) u.healthy = false;
    await until(() => ups.every((u) => wentOut(g, u)), 'both targets to go out');
    const ready = await request(g.adminUrl, '/readyz');
    assert.equal(ready.status, 200, 'one dead upstream does not take the gateway out of its load balancer');
    assert.deepEqual(ready.json(), {
      status: 'ready',
      warnings: ['upstream "app": every target is out (failed health checks or ejected); its routes answer 503 no_healthy_upstream'],
    });
    assert.ok(!ready.body.includes('127.0.0.1'), 'no address in /readyz');
    ups[0]!.healthy = true;
    await until(async () => (await request(g.adminUrl, '/readyz')).json().warnings === undefined, 'the warning to go once a target is back');
  });

  test('a target comes back after healthy_threshold passed checks in a row, not before', async () => {
    const [a, b] = await targets('a', 'b');
    b!.healthy = false;
    const g = await gateway([a!, b!], { health_check: { ...FAST_CHECKS, healthy_threshold: 3 } });
    await until(() => wentOut(g, b!), 'b to go out');
    b!.healthy = true;
    await until(() => g.logs.some((l) => l.msg === 'upstream target healthy again' && l.target === label(b!)), 'b to come back');
    assert.ok(b!.checksPassed >= 3, `back after ${b!.checksPassed} passed checks`);
    assert.equal(g.logs.find((l) => l.msg === 'upstream target healthy again')!.why, '3 checks passed');
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await servedBy(g));
    assert.deepEqual(answers.sort(), ['200 a', '200 a', '200 b', '200 b']);
    assert.equal(await healthGauge(g, b!), 1);
  });

  test('what the checks found survives a reload: a target out before it gets no requests after it', async () => {
    const [a, b] = await targets('a', 'b');
    b!.healthy = false;
    const config = (checks: object) => configWith('', routes, { upstreams: { app: { targets: [a!.url, b!.url], health_check: checks } } });
    gw = closed(await startTestGateway(config({ ...FAST_CHECKS, unhealthy_threshold: 1 })));
    await until(() => wentOut(gw!, b!), 'b to go out');
    // The new checks run seldom and need three failures: everything right after the reload is what the
    // last config found out.
    assert.equal(await gw.rewrite(config({ path: '/healthz', interval: '10s', unhealthy_threshold: 3 })), true);
    const answers = [];
    for (let i = 0; i < 10; i++) answers.push(await servedBy(gw));
    assert.deepEqual(new Set(answers), new Set(['200 a']));
    assert.equal(await healthGauge(gw, b!), 0);
  });

  test('a target that answers its check too slowly is taken out (health_check.timeout)', async () => {
    const [a, b] = await targets('a', 'b');
    b!.handle((req, res) => {
      if (req.url !== '/healthz') return res.writeHead(200, { 'x-served-by': 'b' }).end('b');
      setTimeout(() => res.writeHead(200).end(), 1000).unref();
    });
    const g = await gateway([a!, b!], { health_check: FAST_CHECKS });
    await until(() => wentOut(g, b!), 'b to go out');
    assert.equal(g.logs.find((l) => l.msg?.startsWith('upstream target failed') === true)!.why, 'timed out');
  });

  test('a config a reload replaced, kept by a request in flight, checks nothing any more: each target is checked, and logged, once', async () => {
    const [checked] = await targets('checked');
    const held = await startUpstream('held');
    closed(held);
    let release = () => {};
    held.handle((_req, res) => void (release = () => res.writeHead(200).end('held')));
    let failedChecks = 0;
    checked!.handle((req, res) => {
      if (req.url !== '/healthz') return res.writeHead(200).end('checked');
      if (!checked!.healthy) failedChecks++;
      res.writeHead(checked!.healthy ? 200 : 500).end();
    });
    const config = (name: string) =>
      configWith('', [{ name: 'stream', prefix: '/stream', upstream: 'held', auth: 'public' }, { ...routes[0], name }], {
        upstreams: { held: held.url, app: { targets: [checked!.url], health_check: { ...FAST_CHECKS, unhealthy_threshold: 1 } } },
      });
    gw = closed(await startTestGateway(config('all')));
    const streaming = request(gw.url, '/stream'); // holds the first config until released
    await until(() => held.received.length === 1, 'the long request to reach its upstream');
    assert.equal(await gw.rewrite(config('everything')), true);
    assert.equal(gw.running.holder.retained, 1);

    checked!.healthy = false;
    const failed = () => gw!.logs.filter((l) => l.msg === 'upstream target failed its health checks; it gets no requests').length;
    await until(() => failed() >= 1, 'the failed check to be logged');
    // Two configs checking every 200ms would interleave: in three more checks, the retired one's would be.
    const seen = failedChecks;
    await until(() => failedChecks >= seen + 3, 'three more checks');
    assert.equal(failed(), 1, 'the target was checked, and its failure logged, by the retired config too');
    release();
    assert.equal((await streaming).status, 200);
  });
});

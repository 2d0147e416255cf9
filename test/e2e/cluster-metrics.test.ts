// The primary's /metrics while workers die and are replaced: Prometheus reads any drop in a counter as a
// reset, so the sums over workers must never go backwards, and a scrape must not fail while a
// replacement worker is still starting.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { RunningCli } from '../helpers/cli.ts';
import { startClusterGateway, type ClusterGateway } from '../helpers/cluster.ts';
import { configWith } from '../helpers/gateway.ts';
import { request } from '../helpers/http.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';

const routes = [{ name: 'a', prefix: '/a', upstream: 'app', auth: 'public' }];
const REQUESTS_A = /^portcullis_requests_total\{route="a",method="GET",status_class="2xx"\} (\d+)$/m;
const DURATIONS_A = /^portcullis_request_duration_seconds_count\{route="a"\} (\d+)$/m;

describe('workers and metrics', () => {
  let upstream: Upstream;
  let cluster: ClusterGateway;
  let gw: RunningCli;
  let base: string;
  let admin: string;

  before(async () => {
    upstream = await startUpstream();
    cluster = await startClusterGateway(configWith(upstream.url, routes, { server: { workers: 2 } }));
    ({ gw, base, admin } = cluster);
  });
  after(async () => {
    await cluster.close();
    await upstream.close();
  });

  const until = (check: () => boolean | Promise<boolean>, tries?: number) => cluster.until(check, tries);
  /** One scrape, which must succeed, as the two request counts summed over workers. */
  async function scrape(): Promise<{ requests: number; durations: number; body: string }> {
    const response = await request(admin, '/metrics');
    assert.equal(response.status, 200, response.body);
    const count = (pattern: RegExp) => Number(pattern.exec(response.body)?.[1] ?? 0);
    return { requests: count(REQUESTS_A), durations: count(DURATIONS_A), body: response.body };
  }
  const servingPids = () => new Set(gw.lines.filter((l) => l.msg === 'request').map((l) => l.pid as number));

  test('counters summed over workers never go backwards when a worker dies, and /metrics answers while its replacement starts', async () => {
    for (let i = 0; i < 20; i++) assert.equal((await request(base, `/a/${i}`)).status, 200);
    await until(() => servingPids().size === 2);
    const before = await scrape();
    assert.equal(before.requests, 20);
    assert.equal(before.durations, 20);

    const victim = gw.lines.find((l) => l.msg === 'worker listening')!.worker_pid as number;
    assert.ok(servingPids().has(victim));
    process.kill(victim, 'SIGKILL');
    await gw.waitFor((l) => l.msg === 'worker died; starting a replacement' && l.worker_pid === victim);
    // Scraped throughout the replacement's start, up to when it is ready and has been asked once.
    let last = before;
    let replacementReady = false;
    await until(async () => {
      const now = await scrape();
      assert.ok(now.requests >= last.requests, `portcullis_requests_total went from ${last.requests} to ${now.requests}`);
      assert.ok(now.durations >= last.durations, `the duration histogram's count went from ${last.durations} to ${now.durations}`);
      last = now;
      const done = replacementReady;
      replacementReady = (await request(admin, '/readyz')).status === 200;
      return done;
    }, 1500);
    assert.equal(last.requests, 20);

    for (let i = 0; i < 10; i++) assert.equal((await request(base, `/a/after-${i}`)).status, 200);
    const afterwards = await scrape();
    assert.equal(afterwards.requests, 30);
    assert.equal(afterwards.durations, 30);
  });

  test('after a worker died, each metric family still appears once, process metrics included', async () => {
    const { body } = await scrape();
    const families = [...body.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]);
    assert.deepEqual(families.filter((name, i) => families.indexOf(name) !== i), []);
    assert.match(body, /^portcullis_requests_in_flight 0$/m);
    assert.match(body, /^portcullis_process_cpu_seconds_total \d/m);
    assert.match(body, /^portcullis_workers 2$/m);
  });
});

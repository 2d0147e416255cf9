// server.workers: several processes share the port; reloads reach every worker; a dead worker is
// replaced; the primary's admin port reports readiness of all workers and metrics summed over them; a
// hangup reloads without killing anyone; SIGTERM lets requests in flight finish.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import type { RunningCli } from '../helpers/cli.ts';
import { startClusterGateway, type ClusterGateway } from '../helpers/cluster.ts';
import { configWith } from '../helpers/gateway.ts';
import { request } from '../helpers/http.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';

const routes = [{ name: 'a', prefix: '/a', upstream: 'app', auth: 'public' }];

describe('workers', () => {
  let upstream: Upstream;
  let cluster: ClusterGateway;
  let file: string;
  let gw: RunningCli;
  let base: string;
  let admin: string;

  before(async () => {
    upstream = await startUpstream();
    cluster = await startClusterGateway(configWith(upstream.url, routes, { server: { workers: 2 } }), { group: true });
    ({ gw, base, admin, file } = cluster);
  });
  after(async () => {
    await cluster.close();
    await upstream.close();
  });

  const until = (check: () => boolean | Promise<boolean>, tries?: number) => cluster.until(check, tries);
  const liveWorkerPids = () => {
    const died = new Set(gw.lines.filter((l) => l.msg === 'worker died; starting a replacement').map((l) => l.worker_pid));
    return gw.lines.filter((l) => l.msg === 'worker listening' && !died.has(l.worker_pid)).map((l) => l.worker_pid as number);
  };
  const servingPids = () => new Set(gw.lines.filter((l) => l.msg === 'request').map((l) => l.pid));

  test('requests are served by both worker processes', async () => {
    for (let i = 0; i < 30; i++) assert.equal((await request(base, `/a/${i}`)).status, 200);
    await until(() => servingPids().size === 2);
  });

  test('the admin port reports readiness of every worker and metrics summed over them', async () => {
    const ready = await request(admin, '/readyz');
    assert.equal(ready.status, 200, ready.body);
    const before = Number(/portcullis_requests_total\{route="a",method="GET",status_class="2xx"\} (\d+)/.exec((await request(admin, '/metrics')).body)?.[1] ?? 0);
    for (let i = 0; i < 10; i++) await request(base, `/a/m${i}`);
    const metrics = (await request(admin, '/metrics')).body;
    const after = Number(/portcullis_requests_total\{route="a",method="GET",status_class="2xx"\} (\d+)/.exec(metrics)?.[1] ?? 0);
    assert.equal(after - before, 10);
    assert.match(metrics, /portcullis_workers 2/);
  });

  test('a config edit reaches every worker; an invalid one is refused once, by the primary', async () => {
    writeFileSync(file, stringify(configWith(upstream.url, [...routes, { name: 'b', prefix: '/b', upstream: 'app', auth: 'public' }], { server: { workers: 2 } })));
    await gw.waitFor((l) => l.msg === 'config reloaded in every worker' && l.workers === 2);
    assert.equal(new Set(gw.lines.filter((l) => l.msg === 'config reloaded').map((l) => l.pid)).size, 2);
    for (let i = 0; i < 6; i++) assert.equal((await request(base, '/b')).status, 200);

    writeFileSync(file, 'routes: [ {');
    await gw.waitFor((l) => l.msg === 'config reload refused; the last good config keeps serving');
    for (let i = 0; i < 6; i++) assert.equal((await request(base, '/b')).status, 200);
    assert.match((await request(admin, '/metrics')).body, /portcullis_config_reloads_total\{result="failure"\} 1/);
  });

  test('a hangup sent to the whole process group reloads the config and kills no worker', async () => {
    writeFileSync(file, stringify(configWith(upstream.url, routes, { server: { workers: 2 } })));
    await until(() => gw.lines.filter((l) => l.msg === 'config reloaded in every worker').length === 2);
    const workers = liveWorkerPids();
    assert.equal(workers.length, 2);
    // `kill -HUP -PGID`, or a closed terminal: every process of the group gets SIGHUP.
    process.kill(-gw.child.pid!, 'SIGHUP');
    const reloaded = await gw.waitFor((l) => (l.msg === 'config reloaded in every worker' || l.msg === 'config reload failed in some workers') && l.trigger === 'SIGHUP');
    assert.equal(reloaded.msg, 'config reloaded in every worker');
    assert.equal(reloaded.workers, 2);
    assert.equal(gw.lines.filter((l) => l.msg === 'worker died; starting a replacement').length, 0);
    for (const pid of workers) assert.doesNotThrow(() => process.kill(pid, 0), `worker ${pid} is gone`);
    for (let i = 0; i < 6; i++) assert.equal((await request(base, '/a/after-hup')).status, 200);
  });

  test('a worker that dies is replaced, and the others keep serving meanwhile', async () => {
    const victim = gw.lines.find((l) => l.msg === 'worker listening')!.worker_pid as number;
    process.kill(victim, 'SIGKILL');
    await gw.waitFor((l) => l.msg === 'worker died; starting a replacement' && l.worker_pid === victim);
    for (let i = 0; i < 5; i++) assert.equal((await request(base, '/a/during')).status, 200);
    await until(() => gw.lines.filter((l) => l.msg === 'worker listening').length >= 3);
    await until(async () => (await request(admin, '/readyz')).status === 200);
    assert.match((await request(admin, '/metrics')).body, /portcullis_worker_restarts_total 1/);
  });

  test('SIGTERM drains every worker: a request in flight completes and the primary exits 0', async () => {
    let release = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    upstream.handle((_req, res) => {
      void released.then(() => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('slow answer');
      });
    });
    const seen = upstream.received.length;
    const inFlight = request(base, '/a/slow');
    await until(() => upstream.received.length > seen);

    gw.child.kill('SIGTERM');
    // The idle worker stops at once; the busy one waits for its request, which the upstream answers
    // only now that the drain has reached the workers.
    await gw.waitFor((l) => l.msg === 'portcullis stopped' && l.pid !== gw.child.pid);
    release();
    const response = await inFlight;
    assert.equal(response.status, 200);
    assert.equal(response.body, 'slow answer');
    assert.equal(await gw.exited, 0);
    assert.equal(gw.lines.filter((l) => l.msg === 'portcullis stopped').length, 3);
  });
});

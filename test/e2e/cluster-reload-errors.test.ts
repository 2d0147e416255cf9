// An error nobody foresaw during a cluster reload must not end the primary (and with it every worker):
// it is a failed reload, counted and logged, and the next reload still runs. The error is injected: a
// module preloaded into the gateway makes the CPU count that `server.workers: auto` reads throw while a
// marker file exists.
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import type { RunningCli } from '../helpers/cli.ts';
import { startClusterGateway, type ClusterGateway } from '../helpers/cluster.ts';
import { configWith } from '../helpers/gateway.ts';
import { request } from '../helpers/http.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';

const routeA = { name: 'a', prefix: '/a', upstream: 'app', auth: 'public' };
const routeB = { name: 'b', prefix: '/b', upstream: 'app', auth: 'public' };

const FAULT = `
import os from 'node:os';
import { existsSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
os.availableParallelism = () => {
  if (existsSync(process.env.PORTCULLIS_TEST_FAULT)) throw new Error('injected fault');
  return 2;
};
syncBuiltinESMExports();
`;

describe('workers and a reload that throws', () => {
  let upstream: Upstream;
  let cluster: ClusterGateway;
  let file: string;
  let marker: string;
  let gw: RunningCli;
  let base: string;
  let admin: string;
  const config = (routes: object[]) => stringify(configWith(upstream.url, routes, { server: { workers: 'auto' } }));

  before(async () => {
    upstream = await startUpstream();
    cluster = await startClusterGateway(configWith(upstream.url, [routeA], { server: { workers: 'auto' } }), {
      files: { 'fault.mjs': FAULT },
      env: (dir) => ({ PORTCULLIS_TEST_FAULT: path.join(dir, 'fail-now'), NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${path.join(dir, 'fault.mjs')}` }),
    });
    ({ gw, base, admin, file } = cluster);
    marker = path.join(cluster.dir, 'fail-now');
    assert.equal(cluster.started.workers, 2);
  });
  after(async () => {
    await cluster.close();
    await upstream.close();
  });

  const until = (check: () => boolean | Promise<boolean>, tries?: number) => cluster.until(check, tries);
  const nextReloadOutcome = () => cluster.nextReloadOutcome();

  test('an error thrown during a reload is a counted failure; the primary keeps serving and reloading', async () => {
    writeFileSync(marker, '');
    const failed = nextReloadOutcome();
    writeFileSync(file, config([routeA, routeB]));
    const outcome = await failed;
    assert.equal(outcome.msg, 'config reload failed unexpectedly; the last good config keeps serving');
    assert.equal(outcome.error, 'injected fault');
    assert.match((await request(admin, '/metrics')).body, /^portcullis_config_reloads_total\{result="failure"\} 1$/m);
    for (let i = 0; i < 4; i++) assert.equal((await request(base, '/b/not-yet')).status, 404);

    rmSync(marker);
    const next = nextReloadOutcome();
    process.kill(gw.child.pid!, 'SIGHUP');
    assert.equal((await next).msg, 'config reloaded in every worker');
    for (let i = 0; i < 4; i++) assert.equal((await request(base, '/b/now')).status, 200);
  });
});

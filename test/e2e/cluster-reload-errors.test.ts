// An error nobody foresaw during a cluster reload must not end the primary (and with it every worker):
// it is a failed reload, counted and logged, and the next reload still runs. The error is injected: a
// module preloaded into the gateway makes the CPU count that `server.workers: auto` reads throw while a
// marker file exists.
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { startCli, type RunningCli } from '../helpers/cli.ts';
import { configWith } from '../helpers/gateway.ts';
import { request } from '../helpers/http.ts';
import { tempDir, writeFile } from '../helpers/keys.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';

const routeA = { name: 'a', prefix: '/a', upstream: 'app', auth: 'public' };
const routeB = { name: 'b', prefix: '/b', upstream: 'app', auth: 'public' };
const RELOAD_OUTCOMES = new Set(['config reloaded in every worker', 'config reload failed in some workers', 'config reload refused; the last good config keeps serving', 'config reload failed unexpectedly; the last good config keeps serving']);

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
  let file: string;
  let marker: string;
  let gw: RunningCli;
  let base: string;
  let admin: string;
  const config = (routes: object[]) => stringify(configWith(upstream.url, routes, { server: { workers: 'auto' } }));

  before(async () => {
    upstream = await startUpstream();
    const dir = tempDir();
    file = writeFile(dir, 'gateway.yaml', config([routeA]));
    marker = path.join(dir, 'fail-now');
    const fault = writeFile(dir, 'fault.mjs', FAULT);
    gw = startCli(['--config', file, '--port', '0', '--admin-port', '0'], {
      env: { PORTCULLIS_TEST_FAULT: marker, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${fault}` },
    });
    const started = await gw.waitFor((l) => l.msg === 'portcullis primary started');
    assert.equal(started.workers, 2);
    const listening = await gw.waitFor((l) => l.msg === 'portcullis listening' && l.workers === 2);
    base = `http://127.0.0.1:${listening.port as number}`;
    admin = `http://127.0.0.1:${started.admin_port as number}`;
    await until(async () => (await request(admin, '/readyz')).status === 200);
  });
  after(async () => {
    gw.child.kill('SIGTERM');
    await gw.exited;
    await upstream.close();
  });

  async function until(check: () => boolean | Promise<boolean>, tries = 500): Promise<void> {
    for (let i = 0; i < tries; i++) {
      if (await check()) return;
      if (gw.child.exitCode !== null) assert.fail(`the primary exited with ${gw.child.exitCode}: ${gw.stderr()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.fail('timed out');
  }
  const reloadOutcomes = () => gw.lines.filter((l) => l.pid === gw.child.pid && RELOAD_OUTCOMES.has(l.msg as string));
  async function nextReloadOutcome(): Promise<Record<string, unknown>> {
    const seen = reloadOutcomes().length;
    await until(() => reloadOutcomes().length > seen, 2000);
    return reloadOutcomes()[seen]!;
  }

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

// Reloads in a cluster while workers come and go: an edit made while a worker starts still reaches it,
// a worker started after an edit runs the edited config, and a reload applies in every worker or in none.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import type { RunningCli } from '../helpers/cli.ts';
import { startClusterGateway, type ClusterGateway } from '../helpers/cluster.ts';
import { configWith } from '../helpers/gateway.ts';
import { request } from '../helpers/http.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';

const routeA = { name: 'a', prefix: '/a', upstream: 'app', auth: 'public' };
const routeB = { name: 'b', prefix: '/b', upstream: 'app', auth: 'public' };
const routeC = { name: 'c', prefix: '/c', upstream: 'app', auth: 'public' };

describe('workers and reloads', () => {
  let upstream: Upstream;
  let cluster: ClusterGateway;
  let file: string;
  let gw: RunningCli;
  let base: string;
  let admin: string;

  before(async () => {
    upstream = await startUpstream();
    cluster = await startClusterGateway(configWith(upstream.url, [routeA], { server: { workers: 2 } }));
    ({ gw, base, admin, file } = cluster);
  });
  after(async () => {
    await cluster.close();
    await upstream.close();
  });

  const until = (check: () => boolean | Promise<boolean>, tries?: number) => cluster.until(check, tries);
  const nextReloadOutcome = () => cluster.nextReloadOutcome();
  const liveWorkerPids = () => {
    const died = new Set(gw.lines.filter((l) => l.msg === 'worker died; starting a replacement').map((l) => l.worker_pid));
    return [...new Set(gw.lines.filter((l) => l.msg === 'worker started' && !died.has(l.worker_pid)).map((l) => l.worker_pid as number))];
  };
  /** Requests `path` until `pid` has served one, asserting every answer. */
  async function servedBy(pid: number, path: string, status: number): Promise<void> {
    await until(async () => {
      assert.equal((await request(base, path)).status, status);
      return gw.lines.some((l) => l.msg === 'request' && l.pid === pid && l.path === path);
    }, 500);
  }
  async function replaceWorker(): Promise<number> {
    const known = new Set(gw.lines.filter((l) => l.msg === 'worker started').map((l) => l.worker_pid));
    process.kill(liveWorkerPids()[0]!, 'SIGKILL');
    const started = await gw.waitFor((l) => l.msg === 'worker started' && !known.has(l.worker_pid));
    return started.worker_pid as number;
  }

  test('a config edit made while a worker is starting reaches that worker once it is ready', async () => {
    const replacement = await replaceWorker();
    // Held before it can say it is ready, so that the edit surely lands while it starts.
    process.kill(replacement, 'SIGSTOP');
    try {
      const outcome = nextReloadOutcome();
      writeFileSync(file, stringify(configWith(upstream.url, [routeA, routeB], { server: { workers: 2 } })));
      assert.equal((await outcome).msg, 'config reloaded in every worker');
    } finally {
      process.kill(replacement, 'SIGCONT');
    }
    await gw.waitFor((l) => l.msg === 'worker brought up to date with the last reload' && l.worker_pid === replacement, 30_000);
    await servedBy(replacement, '/b/late', 200);
    await until(async () => (await request(admin, '/readyz')).status === 200);
  });

  test('a worker started after an edit runs the edited config without a second reload', async () => {
    const replacement = await replaceWorker();
    await gw.waitFor((l) => l.msg === 'worker listening' && l.worker_pid === replacement, 30_000);
    await servedBy(replacement, '/b/new', 200);
    assert.equal(gw.lines.filter((l) => l.msg === 'config reloaded' && l.pid === replacement).length, 0);
  });

  test('a reload that a worker does not take is taken back everywhere, and new workers start from the last good config', async () => {
    const [stuck] = liveWorkerPids();
    // A hung worker: it is ready, so it is asked, and it does not answer within the reload's wait.
    process.kill(stuck!, 'SIGSTOP');
    try {
      const outcome = nextReloadOutcome();
      writeFileSync(file, stringify(configWith(upstream.url, [routeA, routeC], { server: { workers: 2 } })));
      assert.equal((await outcome).msg, 'config reload failed in some workers');
    } finally {
      process.kill(stuck!, 'SIGCONT');
    }
    await gw.waitFor((l) => l.msg === 'workers that took the failed reload went back to the last good config', 20_000);
    for (const pid of liveWorkerPids()) await servedBy(pid, '/c/never', 404);

    const replacement = await replaceWorker();
    await gw.waitFor((l) => l.msg === 'worker listening' && l.worker_pid === replacement, 30_000);
    await servedBy(replacement, '/c/never', 404);
    assert.match((await request(admin, '/metrics')).body, /portcullis_config_reloads_total\{result="failure"\} 1/);
  });
});

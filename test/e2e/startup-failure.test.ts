// A gateway that can not start (a port in use) says why and exits 1, in one process and in cluster mode,
// whatever it had opened first (a Redis connection, the gateway port): a process that stays up without
// serving, or serves without its admin port, is one a supervisor never restarts and a probe misreads.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { startCli, type RunningCli } from '../helpers/cli.ts';
import { configWith } from '../helpers/gateway.ts';
import { tempDir, writeFile } from '../helpers/keys.ts';
import { redisServerInstalled, startRedis, type TestRedis } from '../helpers/redis.ts';

/** A port something else holds, on the loopback address the gateway is told to use. */
async function takenPort(): Promise<{ port: number; release: () => Promise<void> }> {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  return { port: (blocker.address() as net.AddressInfo).port, release: () => new Promise((resolve) => blocker.close(() => resolve())) };
}

/** The exit code; a gateway still running after the test's patience fails the test rather than hang it. */
async function exitCode(gw: RunningCli): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const patience = new Promise<'still running'>((resolve) => (timer = setTimeout(() => resolve('still running'), 15_000)));
  const outcome = await Promise.race([gw.exited, patience]);
  clearTimeout(timer);
  if (outcome === 'still running') {
    gw.child.kill('SIGKILL');
    assert.fail(`the gateway is still running after "${gw.stderr().trim()}"`);
  }
  return outcome;
}

const routes = [{ name: 'all', prefix: '/', upstream: 'app', auth: 'public', rate_limit: 'per-ip' }];
const limits = { rate_limits: { 'per-ip': { requests: 100, per: '1s', key: 'ip' } } };
const upstream = { targets: ['http://127.0.0.1:1', 'http://127.0.0.1:2'], health_check: { path: '/healthz', interval: '100ms', timeout: '100ms' } };

function gatewayConfig(extra: object): string {
  const config = configWith('http://127.0.0.1:1', routes, { ...limits, ...extra });
  return writeFile(tempDir(), 'gateway.yaml', stringify({ ...config, upstreams: { app: upstream } }));
}

describe('a gateway that can not start', () => {
  let redis: TestRedis | undefined;
  before(async () => {
    if (redisServerInstalled()) redis = await startRedis();
  });
  after(async () => {
    await redis?.close();
  });

  test('whose admin port is taken exits 1 naming it, instead of serving without its probes', async () => {
    const taken = await takenPort();
    try {
      const file = gatewayConfig({ server: { host: '127.0.0.1' } });
      const gw = startCli(['--config', file, '--port', '0', '--admin-port', String(taken.port)]);
      assert.equal(await exitCode(gw), 1);
      assert.match(gw.stderr(), new RegExp(`127\\.0\\.0\\.1:${taken.port} is already in use`));
    } finally {
      await taken.release();
    }
  });

  test('whose port is taken exits 1 with its Redis rate limit store already connected', { skip: !redisServerInstalled() && 'redis-server is not installed (bash .ci/run installs it)' }, async () => {
    const taken = await takenPort();
    try {
      const file = gatewayConfig({ server: { host: '127.0.0.1' }, rate_limit_store: redis!.url });
      const gw = startCli(['--config', file, '--port', String(taken.port), '--admin-port', '0']);
      assert.equal(await exitCode(gw), 1);
      assert.match(gw.stderr(), /is already in use/);
    } finally {
      await taken.release();
    }
  });

  test('in cluster mode, workers that can not take the port stop the primary with exit 1', async () => {
    const taken = await takenPort();
    try {
      const file = gatewayConfig({ server: { host: '127.0.0.1', workers: 2 } });
      const gw = startCli(['--config', file, '--port', String(taken.port), '--admin-port', '0']);
      assert.equal(await exitCode(gw), 1);
      assert.match(gw.stderr(), /is already in use/);
      assert.ok(gw.lines.some((l) => l.msg === 'a worker could not start; stopping'));
    } finally {
      await taken.release();
    }
  });
});

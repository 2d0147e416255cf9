// Shutdown with work still under way that no request holds: a reload waiting for a new provider's keys,
// a key fetch to an identity provider that hangs. Nothing of it may outlive the stop: the process must
// exit on SIGTERM, and a config compiled before the stop must never come into force after it.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { JwksKeySource } from '../../src/auth/jwks.ts';
import { startCli } from '../helpers/cli.ts';
import { tempDir, writeFile } from '../helpers/keys.ts';
import { redisServerInstalled, startRedis, type TestRedis } from '../helpers/redis.ts';

/** An identity provider that accepts connections and never answers; it notes each one that closes. */
async function startHangingServer(): Promise<{ url: string; open: () => number; closed: () => number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let closed = 0;
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => (sockets.delete(socket), closed++));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    open: () => sockets.size,
    closed: () => closed,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

describe('shutdown with work under way', () => {
  let idp: Awaited<ReturnType<typeof startHangingServer>>;
  let redis: TestRedis | undefined;
  before(async () => {
    idp = await startHangingServer();
    if (redisServerInstalled()) redis = await startRedis();
  });
  after(async () => {
    await idp.close();
    await redis?.close();
  });

  test('a key source stopped while its fetch hangs cuts the fetch, and reports no failure for it', async () => {
    const failures: string[] = [];
    const source = new JwksKeySource({
      provider: 'corp',
      jwksUri: `${idp.url}/keys`,
      refreshMs: 60_000,
      cooldownMs: 60_000,
      events: { onFetch: (_provider, outcome) => void (outcome.ok || failures.push(outcome.error)) },
    });
    const closedBefore = idp.closed();
    source.start();
    while (idp.open() === 0) await new Promise((r) => setTimeout(r, 10));
    source.stop();
    // Settled by the stop, not by the fetch's own timeout (which would report a failure).
    await source.whenSettled();
    assert.deepEqual(failures, []);
    while (idp.closed() === closedBefore) await new Promise((r) => setTimeout(r, 10));
  });

  test('SIGTERM while a reload waits for a new provider\'s keys: the process exits 0 and the reload never comes into force', { skip: !redisServerInstalled() && 'redis-server is not installed (bash .ci/run installs it)' }, async () => {
    const config = {
      server: { host: '127.0.0.1', shutdown_timeout: '1s' },
      upstreams: { app: 'http://127.0.0.1:1' },
      routes: [{ name: 'all', prefix: '/', upstream: 'app', auth: 'public' }],
    };
    const file = writeFile(tempDir(), 'gateway.yaml', stringify(config));
    const gw = startCli(['--config', file, '--port', '0', '--admin-port', '0']);
    await gw.waitFor((l) => l.msg === 'portcullis listening');
    // The edit brings a provider whose keys never come (the reload waits for them) and a Redis store,
    // whose connection alone would keep a process alive.
    const connectionsBefore = idp.open();
    writeFileSync(file, stringify({
      ...config,
      providers: [{ name: 'slow', issuer: 'slow', jwks_uri: `${idp.url}/keys` }],
      rate_limits: { 'per-ip': { requests: 100, per: '1s', key: 'ip' } },
      rate_limit_store: redis!.url,
      routes: [{ ...config.routes[0], rate_limit: 'per-ip' }],
    }));
    while (idp.open() === connectionsBefore) await new Promise((r) => setTimeout(r, 10));
    gw.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([gw.exited, new Promise<'still running'>((resolve) => (timer = setTimeout(() => resolve('still running'), 15_000)))]);
    clearTimeout(timer);
    if (code === 'still running') gw.child.kill('SIGKILL');
    assert.equal(code, 0, `the gateway did not exit after SIGTERM: ${gw.stderr()}`);
    const stopped = gw.lines.findIndex((l) => l.msg === 'portcullis stopped');
    assert.ok(stopped >= 0);
    assert.deepEqual(gw.lines.slice(stopped).filter((l) => l.msg === 'config reloaded'), [], 'a config came into force after the stop');
  });
});

// The shipped gateway.yaml verifies tokens with ${JWT_SECRET:-<a secret written in the repository>}: with
// the variable unset, anyone can mint an admin token. Outside the demo, such a gateway must not start (nor
// take such a config on reload); the image (NODE_ENV=production) must not start with it at all.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROOT, startCli, type RunningCli } from '../helpers/cli.ts';
import { configWith, startTestGateway } from '../helpers/gateway.ts';
import { bearer, request } from '../helpers/http.ts';
import { sign, tempDir, writeFile } from '../helpers/keys.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';
import { assertRefused, now, reached } from './support.ts';

const SHIPPED = readFileSync(path.join(ROOT, 'gateway.yaml'), 'utf8');
const FALLBACK = /\$\{JWT_SECRET:-([^}]+)\}/.exec(SHIPPED)![1]!;
const IMAGE_ENV = { NODE_ENV: 'production', JWT_SECRET: '', PORTCULLIS_ALLOW_DEFAULT_SECRETS: '' };

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** An admin token, as anyone who has read the repository can sign it. */
const forged = () =>
  sign({ iss: 'portcullis-demo', aud: 'demo-api', sub: 'mallory', roles: ['admin', 'orders-reader'], exp: now() + 600 }, { key: FALLBACK });

describe('the public fallback secret of the shipped config', () => {
  let upstream: Upstream;
  let port: number;
  let config: string;

  before(async () => {
    upstream = await startUpstream();
    port = await freePort();
    const text = SHIPPED.replace('port: 8080', `port: ${port}`)
      .replace('admin_port: 9901', `admin_port: ${await freePort()}`)
      .replace('http://127.0.0.1:4001', upstream.url);
    config = writeFile(tempDir(), 'gateway.yaml', text);
  });
  after(() => upstream.close());

  /** Runs the CLI; whether it exits (with its code) or starts listening, and what a forged token then gets. */
  async function run(args: readonly string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; cli: RunningCli; forgedStatus?: number }> {
    const cli = startCli(args, { env: { ...env, PORTCULLIS_CONFIG: config } });
    const listening = cli.waitFor((l) => l.msg === 'portcullis listening').then(() => 'listening' as const, () => 'exited' as const);
    if ((await Promise.race([listening, cli.exited.then(() => 'exited' as const)])) === 'exited') return { code: await cli.exited, cli };
    const res = await request(`http://127.0.0.1:${port}`, '/admin/users', { headers: bearer(await forged()) });
    cli.child.kill('SIGTERM');
    await cli.exited;
    return { code: null, cli, forgedStatus: res.status };
  }

  test('run as the image runs it (NODE_ENV=production, JWT_SECRET unset), it refuses to start and names the variable to set', async () => {
    const { result, count } = await reached(upstream, () => run([], IMAGE_ENV));
    assert.equal(result.forgedStatus, undefined, `it started, and a token signed with the public fallback got ${result.forgedStatus}`);
    assert.equal(result.code, 1);
    assert.match(result.cli.stderr(), /gateway\.yaml:\d+:\d+: providers\[0\]\.secret: JWT_SECRET is not set/);
    assert.match(result.cli.stderr(), /nothing was started/);
    assert.ok(!result.cli.stderr().includes(FALLBACK), 'the message does not print the secret');
    assert.equal(count, 0);
  });

  test('the demo command does not allow it under NODE_ENV=production either', async () => {
    const { result, count } = await reached(upstream, () => run(['demo'], IMAGE_ENV));
    assert.equal(result.forgedStatus, undefined, `it started, and a token signed with the public fallback got ${result.forgedStatus}`);
    assert.equal(result.code, 1);
    assert.match(result.cli.stderr(), /JWT_SECRET is not set/);
    assert.equal(count, 0);
  });

  test('control: with JWT_SECRET set it starts, and a token signed with the public fallback is refused', async () => {
    const { result, count } = await reached(upstream, () => run([], { ...IMAGE_ENV, JWT_SECRET: 'a-real-secret-from-the-environment-0123456789' }));
    assert.equal(result.forgedStatus, 401);
    assert.equal(count, 0);
  });

  test('control: PORTCULLIS_ALLOW_DEFAULT_SECRETS=1 or --allow-default-secrets is the explicit opt-in, and is still warned about', async () => {
    for (const [args, env] of [[[], { ...IMAGE_ENV, PORTCULLIS_ALLOW_DEFAULT_SECRETS: '1' }], [['--allow-default-secrets'], IMAGE_ENV]] as const) {
      const { result } = await reached(upstream, () => run(args, env));
      assert.equal(result.forgedStatus, 200, `${args.join(' ')} ${JSON.stringify(env)}`);
      assert.ok(result.cli.lines.some((l) => String(l.msg).startsWith('DEV DEFAULT SECRET')));
    }
  });
});

describe('a reload to a fallback secret', () => {
  test('is refused: the last good config, with its real secret, keeps serving', async () => {
    const upstream = await startUpstream();
    const provider = (secret: string) => ({ name: 'p', issuer: 'p', audience: 'api', secret });
    const gw = await startTestGateway({ ...configWith(upstream.url, [{ name: 'all', prefix: '/', upstream: 'app' }]), providers: [provider('a-real-secret-from-the-environment-0123456789')] });
    try {
      const accepted = await gw.rewrite({ ...configWith(upstream.url, [{ name: 'all', prefix: '/', upstream: 'app' }]), providers: [provider('${NEW_SECRET:-public-fallback-secret-0123456789abcdef}')] });
      assert.equal(accepted, false);
      const refusal = gw.logs.find((l) => l.msg === 'config reload refused; the last good config keeps serving');
      assert.match(JSON.stringify(refusal?.problems), /providers\[0\]\.secret: NEW_SECRET is not set/);
      const token = await sign({ iss: 'p', aud: 'api', sub: 'mallory', exp: now() + 600 }, { key: 'public-fallback-secret-0123456789abcdef' });
      const { result, count } = await reached(upstream, () => request(gw.url, '/x', { headers: bearer(token) }));
      assertRefused(result, 401, 'token_signature', count, 'a token signed with the fallback');
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
});

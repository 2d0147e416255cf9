// The README's quick start, run as printed: the demo (what `npm start` runs) with the checked-in
// gateway.yaml, then the walk-through's commands through bash, npx and curl. Only the ports are moved to
// free ones so the test can run beside anything.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROOT, startCli, startProcess, type RunningCli } from '../helpers/cli.ts';
import { stringify } from 'yaml';
import { request } from '../helpers/http.ts';
import { tempDir, writeFile } from '../helpers/keys.ts';

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

function walkthrough(): string {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('<!-- walkthrough');
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(start));
  assert.ok(start !== -1 && block, 'the README has a walkthrough block');
  return block[1]!;
}

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

describe('the README quick start', () => {
  let demo: RunningCli;
  let config: string;
  let ports: { gateway: number; admin: number; echo: number };

  before(async () => {
    ports = { gateway: await freePort(), admin: await freePort(), echo: await freePort() };
    const text = readFileSync(path.join(ROOT, 'gateway.yaml'), 'utf8')
      .replace('port: 8080', `port: ${ports.gateway}`)
      .replace('admin_port: 9901', `admin_port: ${ports.admin}`)
      .replace('http://127.0.0.1:4001', `http://127.0.0.1:${ports.echo}`);
    config = writeFile(tempDir(), 'gateway.yaml', text);
    // `npm start` itself, as a user runs it (its prestart builds dist/, which `npx portcullis` runs below);
    // only the config is moved to free ports.
    demo = startProcess(npm, ['start'], { env: { PORTCULLIS_CONFIG: config, JWT_SECRET: '' }, group: true });
    await demo.waitFor((l) => l.msg === 'portcullis listening', 60_000);
  });
  after(async () => {
    process.kill(-demo.child.pid!, 'SIGTERM');
    await demo.exited;
  });

  test('the build leaves the command executable, so npx portcullis runs it whatever npx has cached', () => {
    // npx runs a project's own bin from its cache; only a first run there makes the file executable, so a
    // clone into a directory npx has seen before would fail with "Permission denied".
    assert.notEqual(statSync(path.join(ROOT, 'dist/cli.js')).mode & 0o111, 0);
  });

  test('npm start runs the demo: the echo backend starts with the gateway and the dev secret is flagged', () => {
    assert.match(demo.stderr(), /echo backend for upstream "echo"/);
    assert.ok(demo.lines.some((l) => String(l.msg).startsWith('DEV DEFAULT SECRET')));
  });

  test('the walk-through works as printed', () => {
    const script = walkthrough()
      .replaceAll('localhost:8080', `localhost:${ports.gateway}`)
      .replaceAll('localhost:9901', `localhost:${ports.admin}`);
    // As a user pastes it: one command after another (explain exits 2 for a denial, which is its answer).
    const result = spawnSync('bash', ['-u', '-c', script], {
      cwd: ROOT,
      env: { ...process.env, PORTCULLIS_CONFIG: config, JWT_SECRET: '' },
      encoding: 'utf8',
    });
    const out = result.stdout;
    assert.equal(result.status, 0, result.stderr);
    assert.equal((out.match(/"x-user-id": "alice"/g) ?? []).length, 2, out);
    assert.match(out, /"x-user-roles": "orders-reader"/);
    assert.match(out, /"x-user-email": "alice@example.com"/);
    assert.ok(!out.includes('mallory'), 'the spoofed header reached the backend');
    assert.match(out, /HTTP\/1\.1 401 Unauthorized[\s\S]*www-authenticate: Bearer realm="portcullis"/i);
    assert.match(out, /HTTP\/1\.1 403 Forbidden[\s\S]*error="insufficient_scope"/i);
    assert.match(out, /DENY 403 insufficient_role: requires all of the roles: admin/);
    assert.match(out, /^ratelimit-policy: "per-user";q=100;w=60;portcullis-burst=20\r?$/im);
    assert.match(out, /^ratelimit: "per-user";r=\d+;t=\d+\r?$/im);
    assert.match(out, /HTTP\/1\.1 204 No Content[\s\S]*access-control-allow-origin: http:\/\/localhost:3000/i);
    assert.match(out, /\{"status":"ready"\}/);
    assert.match(out, /portcullis_requests_total\{route="orders",method="GET",status_class="2xx"\} 3/);
  });
});

describe('the demo command', () => {
  test('stands the echo backend in for the upstream named "echo" only; another loopback upstream that is down gets 502', async () => {
    const [gateway, admin, echo, mine] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const config = writeFile(
      tempDir(),
      'gateway.yaml',
      stringify({
        server: { host: '127.0.0.1', port: gateway, admin_port: admin },
        upstreams: { echo: `http://127.0.0.1:${echo}`, mine: `http://127.0.0.1:${mine}` },
        routes: [
          { name: 'mine', prefix: '/mine', upstream: 'mine', auth: 'public' },
          { name: 'echo', prefix: '/', upstream: 'echo', auth: 'public' },
        ],
      }),
    );
    const demo = startCli(['demo', '--config', config]);
    try {
      await demo.waitFor((l) => l.msg === 'portcullis listening');
      assert.equal((await request(`http://127.0.0.1:${gateway}`, '/x')).status, 200);
      const res = await request(`http://127.0.0.1:${gateway}`, '/mine/x');
      assert.equal(res.status, 502);
      assert.equal(res.json().error, 'upstream_unavailable');
    } finally {
      demo.child.kill('SIGTERM');
      await demo.exited;
    }
  });
});

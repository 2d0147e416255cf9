// The README's quick start, run as printed: the demo (what `npm start` runs) with the checked-in
// gateway.yaml, then the walk-through's commands through bash, npx and curl. Only the ports are moved to
// free ones so the test can run beside anything.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROOT, startCli, type RunningCli } from '../helpers/cli.ts';
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

describe('the README quick start', () => {
  let demo: RunningCli;
  let config: string;
  let ports: { gateway: number; admin: number; echo: number };

  before(async () => {
    // npx portcullis runs the compiled CLI, as in a fresh clone after npm ci.
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT });
    ports = { gateway: await freePort(), admin: await freePort(), echo: await freePort() };
    const text = readFileSync(path.join(ROOT, 'gateway.yaml'), 'utf8')
      .replace('port: 8080', `port: ${ports.gateway}`)
      .replace('admin_port: 9901', `admin_port: ${ports.admin}`)
      .replace('http://127.0.0.1:4001', `http://127.0.0.1:${ports.echo}`);
    config = writeFile(tempDir(), 'gateway.yaml', text);
    demo = startCli(['demo', '--config', config], { env: { JWT_SECRET: '' } });
    await demo.waitFor((l) => l.msg === 'portcullis listening');
  });
  after(() => {
    demo.child.kill('SIGTERM');
  });

  test('npm start runs the demo: the echo backend starts with the gateway and the dev secret is flagged', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    assert.equal(pkg.scripts.start, 'node dist/cli.js demo');
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
    assert.match(out, /\{"status":"ready"\}/);
    assert.match(out, /portcullis_requests_total\{route="orders",method="GET",status_class="2xx"\} 2/);
  });
});

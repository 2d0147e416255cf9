// Hot reload: file edits (in place and save-by-rename) and SIGHUP; an invalid edit is refused while the
// last good config keeps serving; requests in flight finish on the config they started with; and a
// series of edits under steady load fails no request.
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { describe, test } from 'node:test';
import { stringify } from 'yaml';
import { startCli } from '../helpers/cli.ts';
import { configWith, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { request } from '../helpers/http.ts';
import { tempDir, writeFile } from '../helpers/keys.ts';
import { startUpstream } from '../helpers/upstream.ts';

const routesV1 = [{ name: 'a', prefix: '/a', upstream: 'app', auth: 'public' }];
const routesV2 = [...routesV1, { name: 'b', prefix: '/b', upstream: 'app', auth: 'public' }];

async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`timed out waiting for ${what}`);
}

async function reloadsCounted(gw: TestGateway, result: 'success' | 'failure'): Promise<number> {
  const metrics = await request(gw.adminUrl, '/metrics');
  const m = new RegExp(`portcullis_config_reloads_total\\{result="${result}"\\} (\\d+)`).exec(metrics.body);
  return m ? Number(m[1]) : 0;
}

describe('hot reload', () => {
  test('an in-place edit of gateway.yaml is picked up without a restart', async () => {
    const upstream = await startUpstream();
    const gw = await startTestGateway(configWith(upstream.url, routesV1), { watch: true });
    try {
      assert.equal((await request(gw.url, '/b')).status, 404);
      writeFileSync(gw.file, stringify(configWith(upstream.url, routesV2)));
      await until(async () => (await request(gw.url, '/b')).status === 200, 'the new route');
      assert.ok(gw.logs.some((l) => l.msg === 'config reloaded' && l.trigger === 'file changed'));
    } finally {
      await gw.close();
      await upstream.close();
    }
  });

  test('an editor\'s save-by-rename is picked up too', async () => {
    const upstream = await startUpstream();
    const gw = await startTestGateway(configWith(upstream.url, routesV1), { watch: true });
    try {
      const temp = path.join(gw.dir, '.gateway.yaml.swp');
      writeFileSync(temp, stringify(configWith(upstream.url, routesV2)));
      renameSync(temp, gw.file);
      await until(async () => (await request(gw.url, '/b')).status === 200, 'the new route');
    } finally {
      await gw.close();
      await upstream.close();
    }
  });

  test('a Kubernetes ConfigMap update (the ..data symlink swapped to a new directory) is picked up', async () => {
    const upstream = await startUpstream();
    const dir = tempDir();
    // The layout the kubelet mounts: gateway.yaml -> ..data/gateway.yaml, ..data -> ..<timestamp>/
    mkdirSync(path.join(dir, '..v1'));
    symlinkSync('..v1', path.join(dir, '..data'));
    symlinkSync('..data/gateway.yaml', path.join(dir, 'gateway.yaml'));
    const gw = await startTestGateway(configWith(upstream.url, routesV1), { watch: true, dir });
    try {
      mkdirSync(path.join(dir, '..v2'));
      writeFileSync(path.join(dir, '..v2', 'gateway.yaml'), stringify(configWith(upstream.url, routesV2)));
      symlinkSync('..v2', path.join(dir, '..data_tmp'));
      renameSync(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
      await until(async () => (await request(gw.url, '/b')).status === 200, 'the new route');
    } finally {
      await gw.close();
      await upstream.close();
    }
  });

  test('a config symlinked from another directory is reloaded when the file it points to is edited', async () => {
    const upstream = await startUpstream();
    const elsewhere = tempDir();
    const real = writeFile(elsewhere, 'real.yaml', stringify(configWith(upstream.url, routesV1)));
    const dir = tempDir();
    symlinkSync(real, path.join(dir, 'gateway.yaml'));
    const gw = await startTestGateway(configWith(upstream.url, routesV1), { watch: true, dir });
    try {
      writeFileSync(real, stringify(configWith(upstream.url, routesV2)));
      await until(async () => (await request(gw.url, '/b')).status === 200, 'the new route');
    } finally {
      await gw.close();
      await upstream.close();
    }
  });

  test('an edit is picked up while another file in the same directory changes all the time (a log)', async () => {
    const upstream = await startUpstream();
    const gw = await startTestGateway(configWith(upstream.url, routesV1), { watch: true });
    const log = path.join(gw.dir, 'gateway.log');
    const chatter = setInterval(() => appendFileSync(log, 'a log line\n'), 20);
    try {
      await new Promise((r) => setTimeout(r, 100));
      writeFileSync(gw.file, stringify(configWith(upstream.url, routesV2)));
      await until(async () => (await request(gw.url, '/b')).status === 200, 'the new route');
    } finally {
      clearInterval(chatter);
      await gw.close();
      await upstream.close();
    }
  });

  test('a config deleted and written anew is picked up; the gap in between changes nothing', async () => {
    const upstream = await startUpstream();
    const gw = await startTestGateway(configWith(upstream.url, routesV1), { watch: true });
    try {
      rmSync(gw.file);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal((await request(gw.url, '/a/x')).status, 200);
      writeFileSync(gw.file, stringify(configWith(upstream.url, routesV2)));
      await until(async () => (await request(gw.url, '/b')).status === 200, 'the new route');
      assert.ok(!gw.logs.some((l) => l.msg === 'config reload refused; the last good config keeps serving'));
    } finally {
      await gw.close();
      await upstream.close();
    }
  });

  const invalidEdits: [string, (url: string) => string][] = [
    ['broken YAML', () => 'routes: [\n  - name: a\n    prefix: /a\n  upstream: {'],
    ['an unknown upstream', (url) => stringify(configWith(url, [{ name: 'a', prefix: '/a', upstream: 'nope', auth: 'public' }]))],
    ['a missing ${VAR}', (url) => stringify({ ...configWith(url, routesV2), providers: [{ name: 'test', issuer: 'test', secret: '${UNSET_SECRET_VAR}' }] })],
    ['an unreadable key file', (url) => stringify({ ...configWith(url, routesV2), providers: [{ name: 'test', issuer: 'test', public_key_file: 'missing.pem' }] })],
  ];
  for (const [what, edit] of invalidEdits) {
    test(`an invalid edit (${what}) is refused, logged with FILE:LINE:COL and counted; the last good config keeps serving`, async () => {
      const upstream = await startUpstream();
      const gw = await startTestGateway(configWith(upstream.url, routesV1), { watch: true });
      try {
        writeFileSync(gw.file, edit(upstream.url));
        await until(() => gw.logs.some((l) => l.msg === 'config reload refused; the last good config keeps serving'), 'the refusal');
        const refusal = gw.logs.find((l) => l.msg === 'config reload refused; the last good config keeps serving')!;
        assert.match((refusal.problems as string[])[0]!, new RegExp(`^${gw.file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: `));
        assert.equal(refusal.level, 'error');
        assert.equal(await reloadsCounted(gw, 'failure'), 1);
        assert.equal((await request(gw.url, '/a/x')).status, 200);
        assert.equal((await request(gw.url, '/b')).status, 404);
      } finally {
        await gw.close();
        await upstream.close();
      }
    });
  }

  test('a request in flight finishes on the config it started with; the next one uses the new config', async () => {
    const first = await startUpstream('first');
    const second = await startUpstream('second');
    let release!: () => void;
    first.handle((_req, res) => {
      release = () => res.end('from first');
    });
    const gw = await startTestGateway(configWith(first.url, routesV1));
    try {
      const inFlight = request(gw.url, '/a/slow');
      await until(() => first.received.length === 1, 'the request to reach the first upstream');
      assert.ok(await gw.rewrite(configWith(second.url, routesV1)));
      assert.equal((await request(gw.url, '/a/next')).body, JSON.stringify({ upstream: 'second', url: '/a/next' }));
      release();
      const res = await inFlight;
      assert.equal(res.status, 200);
      assert.equal(res.body, 'from first');
    } finally {
      await gw.close();
      await first.close();
      await second.close();
    }
  });

  test('under steady load, a series of valid and invalid edits fails no request', async () => {
    const upstream = await startUpstream();
    const gw = await startTestGateway(configWith(upstream.url, routesV1), { watch: true });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const failures: string[] = [];
    let sent = 0;
    let stop = false;
    const client = async () => {
      while (!stop && sent < 3000) {
        sent++;
        try {
          const res = await request(gw.url, '/a/item', { agent });
          if (res.status !== 200) failures.push(`${res.status} ${res.body}`);
        } catch (err) {
          failures.push(String(err));
        }
      }
    };
    try {
      const load = Promise.all(Array.from({ length: 8 }, client));
      const edits = [
        stringify(configWith(upstream.url, routesV2)),
        'routes: [ {',
        stringify(configWith(upstream.url, [{ name: 'a', prefix: '/a', upstream: 'missing', auth: 'public' }])),
        stringify(configWith(upstream.url, routesV1, { server: { timeout: '5s' } })),
        stringify({ ...configWith(upstream.url, routesV1), providers: [{ name: 'test', issuer: 'test', secret: '${NOT_SET}' }] }),
        stringify(configWith(upstream.url, routesV2)),
      ];
      const outcomes = () => gw.logs.filter((l) => l.msg === 'config reloaded' || l.msg === 'config reload refused; the last good config keeps serving').length;
      for (const [i, text] of edits.entries()) {
        writeFileSync(gw.file, text);
        await until(() => outcomes() === i + 1, `the outcome of edit ${i + 1}`); // one edit at a time, however slow the machine
      }
      stop = true;
      await load;
      assert.deepEqual(failures, []);
      assert.ok(sent > 100, `only ${sent} requests were sent`);
      assert.equal(await reloadsCounted(gw, 'success'), 3);
      assert.equal(await reloadsCounted(gw, 'failure'), 3);
      assert.equal((await request(gw.url, '/b')).status, 200);
    } finally {
      stop = true;
      agent.destroy();
      await gw.close();
      await upstream.close();
    }
  });

  test('SIGHUP reloads the running gateway', async () => {
    const upstream = await startUpstream();
    const dir = tempDir();
    const file = writeFile(dir, 'gateway.yaml', stringify(configWith(upstream.url, routesV1)));
    const gw = startCli(['--config', file, '--port', '0', '--admin-port', '0']);
    try {
      const listening = await gw.waitFor((l) => l.msg === 'portcullis listening');
      const base = `http://127.0.0.1:${listening.port as number}`;
      assert.equal((await request(base, '/b')).status, 404);
      writeFileSync(file, stringify(configWith(upstream.url, routesV2)));
      gw.child.kill('SIGHUP');
      await gw.waitFor((l) => l.msg === 'config reloaded' && l.trigger === 'SIGHUP');
      assert.equal((await request(base, '/b')).status, 200);
    } finally {
      gw.child.kill('SIGKILL');
      await upstream.close();
    }
  });
});

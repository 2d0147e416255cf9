// portcullis health as the Docker HEALTHCHECK runs it: it asks the running gateway, and an edit the
// gateway refused (it keeps serving the last good config) must not make the container unhealthy.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { describe, test } from 'node:test';
import { stringify } from 'yaml';
import { configWith } from '../helpers/gateway.ts';
import { runCli, startCli } from '../helpers/cli.ts';
import { request } from '../helpers/http.ts';
import { tempDir, writeFile } from '../helpers/keys.ts';
import { startUpstream } from '../helpers/upstream.ts';

function freePort(): Promise<number> {
  const server = net.createServer();
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    }),
  );
}

describe('portcullis health', () => {
  test('a running gateway stays healthy after its config file is broken by an edit it refused', async () => {
    const upstream = await startUpstream();
    const adminPort = await freePort();
    const file = writeFile(tempDir(), 'gateway.yaml', stringify(configWith(upstream.url, [{ name: 'all', prefix: '/', upstream: 'app', auth: 'public' }], { server: { admin_port: adminPort } })));
    const gw = startCli(['--config', file, '--port', '0']);
    try {
      const listening = await gw.waitFor((l) => l.msg === 'portcullis listening');
      assert.equal((await runCli(['health', '--config', file])).code, 0);

      // Invalid (an unknown upstream, an unknown key) but with the server section intact.
      writeFileSync(file, stringify(configWith(upstream.url, [{ name: 'all', prefix: '/', upstream: 'nowhere', bogus: 1 }], { server: { admin_port: adminPort } })));
      await gw.waitFor((l) => l.msg === 'config reload refused; the last good config keeps serving');
      assert.equal((await runCli(['validate', '--config', file])).code, 1);
      const afterInvalid = await runCli(['health', '--config', file]);
      assert.equal(afterInvalid.code, 0, afterInvalid.stdout + afterInvalid.stderr);
      assert.match(afterInvalid.stdout, new RegExp(`127\\.0\\.0\\.1:${adminPort}/healthz: 200`));
      assert.equal((await runCli(['health', '--ready', '--config', file])).code, 0);

      // Not even YAML: the port can no longer be read from it; --admin-port names it.
      writeFileSync(file, 'server: [unclosed\n');
      const byFlag = await runCli(['health', '--config', file, '--admin-port', String(adminPort), '--admin-host', '127.0.0.1']);
      assert.equal(byFlag.code, 0, byFlag.stdout + byFlag.stderr);

      const res = await request(`http://127.0.0.1:${listening.port as number}`, '/still-served');
      assert.equal(res.status, 200);
    } finally {
      gw.child.kill('SIGKILL');
      await upstream.close();
    }
  });

  test('--admin-port overrides the config, and a bad value is a usage error', async () => {
    const file = writeFile(tempDir(), 'gateway.yaml', 'server:\n  admin_port: 1\n');
    const nothing = await freePort();
    const down = await runCli(['health', '--config', file, '--admin-port', String(nothing)]);
    assert.equal(down.code, 1);
    assert.ok(down.stdout.startsWith(`http://127.0.0.1:${nothing}/healthz: `), down.stdout);
    const bad = await runCli(['health', '--config', file, '--admin-port', 'x']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--admin-port x: expected a port number/);
  });
});

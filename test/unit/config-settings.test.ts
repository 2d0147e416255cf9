// server: defaults as the runtime sees them, and the admin address the health probe reads leniently.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { readAdminAddress } from '../../src/config/admin-address.ts';
import { loadConfigText } from '../../src/config/load.ts';
import { resolveSettings } from '../../src/config/settings.ts';
import { tempDir, writeFile } from '../helpers/keys.ts';

const MINIMAL = 'upstreams:\n  app: http://127.0.0.1:3000\nroutes:\n  - name: api\n    prefix: /api\n    upstream: app\n    auth: public\n';

describe('server settings', () => {
  test('a config without server listens on 0.0.0.0:8080, with the admin port 9901 on 127.0.0.1 only', () => {
    const result = loadConfigText('gw.yaml', MINIMAL, {});
    assert.ok(result.ok);
    const settings = resolveSettings(result.loaded.config.server);
    assert.deepEqual(
      { host: settings.host, port: settings.port, adminHost: settings.adminHost, adminPort: settings.adminPort },
      { host: '0.0.0.0', port: 8080, adminHost: '127.0.0.1', adminPort: 9901 },
    );
  });

  test('admin_host is 127.0.0.1 whatever host is, unless set', () => {
    assert.equal(resolveSettings({ host: '0.0.0.0' }).adminHost, '127.0.0.1');
    assert.equal(resolveSettings({ host: '127.0.0.1', admin_host: '::1' }).adminHost, '::1');
    assert.equal(resolveSettings({ admin_host: '0.0.0.0' }).adminHost, '0.0.0.0');
  });
});

describe('timeouts that must not be 0', () => {
  const shown = (server: string) => loadConfigText('gw.yaml', `server:\n${server}` + MINIMAL, {}).problems.map((p) => `${p.path}: ${p.message}`);

  test('a client timeout of 0 (Node: no limit) is refused: a slow or idle client would hold its connection for ever', () => {
    const forEver = 'must be longer than 0: 0 turns the limit off, and a slow or idle client would hold its connection for ever';
    assert.deepEqual(shown('  headers_timeout: 0s\n  keep_alive_timeout: 0ms\n'), [
      `server.headers_timeout: headers_timeout ${forEver}`,
      `server.keep_alive_timeout: keep_alive_timeout ${forEver}`,
    ]);
    // Not also "headers_timeout must not be longer than request_timeout": 0 is not a short timeout.
    assert.deepEqual(shown('  request_timeout: 0s\n'), [`server.request_timeout: request_timeout ${forEver}`]);
  });

  test('jwks_refresh: 0s is refused: it would fetch keys in a loop that never pauses', () => {
    const text = 'providers:\n  - { name: corp, issuer: corp, jwks_uri: "https://idp.example.com/keys", jwks_refresh: 0s }\n' + MINIMAL.replace('    auth: public\n', '');
    assert.deepEqual(loadConfigText('gw.yaml', text, {}).problems.map((p) => `${p.path}: ${p.message}`), [
      'providers[0].jwks_refresh: jwks_refresh must be longer than 0: keys would be fetched again and again without a pause',
    ]);
  });
});

describe('readAdminAddress (what portcullis health probes)', () => {
  const dir = tempDir();
  const read = (name: string, text: string, env: NodeJS.ProcessEnv = {}) => readAdminAddress(writeFile(dir, name, text), env);

  test('takes server.admin_host and server.admin_port, with ${VAR} substituted', () => {
    const text = 'server:\n  admin_host: ${ADMIN_HOST:-127.0.0.2}\n  admin_port: ${ADMIN_PORT}\n';
    assert.deepEqual(read('a.yaml', text, { ADMIN_PORT: '9911' }), { host: '127.0.0.2', port: 9911 });
  });

  test('admin_host falls back to 127.0.0.1 (not to host, which the admin listener does not follow); admin_port to 9901', () => {
    assert.deepEqual(read('b.yaml', 'server:\n  host: 127.0.0.3\n'), { host: '127.0.0.1', port: 9901 });
    assert.deepEqual(read('c.yaml', MINIMAL), { host: '127.0.0.1', port: 9901 });
  });

  test('a file that fails validation elsewhere still gives its admin address', () => {
    const text = `server:\n  admin_port: 9912\n  bogus: 1\nroutes:\n  - name: x\n    upstream: nowhere\n`;
    assert.deepEqual(read('d.yaml', text), { host: '127.0.0.1', port: 9912 });
  });

  test('a YAML syntax error after the server section still gives its admin address', () => {
    assert.deepEqual(read('e.yaml', 'server:\n  admin_port: 9913\nroutes:\n  - name: api: v1\n'), { host: '127.0.0.1', port: 9913 });
  });

  test('no file, a directory, not YAML, an alias bomb, a bad port or a missing variable give the defaults', () => {
    const defaults = { host: '127.0.0.1', port: 9901 };
    assert.deepEqual(readAdminAddress(path.join(dir, 'missing.yaml'), {}), defaults);
    mkdirSync(path.join(dir, 'adir'));
    assert.deepEqual(readAdminAddress(path.join(dir, 'adir'), {}), defaults);
    assert.deepEqual(read('f.yaml', '\t{{{ not yaml'), defaults);
    assert.deepEqual(read('g.yaml', `a: &a 1\nserver:\n  admin_port: 1\nb: [${Array(200).fill('*a').join(', ')}]\n`), defaults);
    assert.deepEqual(read('h.yaml', 'server:\n  admin_port: 99999\n'), defaults);
    assert.deepEqual(read('i.yaml', 'server:\n  admin_port: ${UNSET}\n'), defaults);
  });
});

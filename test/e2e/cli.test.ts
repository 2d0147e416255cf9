// The command line as users script it: validate's exit codes and FILE:LINE:COL messages, startup refusing
// a bad config with the same messages, token minting, and a clean stop on SIGTERM.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { jwtVerify } from 'jose';
import { describe, test } from 'node:test';
import { stringify } from 'yaml';
import { configWith } from '../helpers/gateway.ts';
import { runCli, startCli } from '../helpers/cli.ts';
import { bearer, request } from '../helpers/http.ts';
import { rsaKeyPair, SECRET, tempDir, writeFile } from '../helpers/keys.ts';
import { startUpstream } from '../helpers/upstream.ts';

const BROKEN = `server:
  port: 8080
providers:
  - name: demo
    secret: \${JWT_SECRET}
upstreams:
  orders: http://127.0.0.1:4001
routes:
  - name: orders
    prefx: /api/orders
    upstream: order
  - name: orders
    path: /x
    upstream: orders
    providers: [dmo]
`;

describe('portcullis validate', () => {
  test('a broken config: exit 1, every error as FILE:LINE:COL: path: message, with suggestions', async () => {
    const dir = tempDir();
    const file = writeFile(dir, 'gateway.yaml', BROKEN);
    const { code, stdout } = await runCli(['validate', '--config', file], { env: { JWT_SECRET: 'x'.repeat(40) } });
    assert.equal(code, 1);
    const lines = stdout.trim().split('\n');
    assert.ok(lines.includes(`${file}:10:5: routes[0].prefx: unknown key "prefx" (did you mean "prefix"?)`), stdout);
    assert.ok(lines.includes(`${file}:11:15: routes[0].upstream: unknown upstream "order" (did you mean "orders"?); define it under upstreams`), stdout);
    assert.ok(lines.includes(`${file}:12:11: routes[1].name: route "orders" is already defined at routes[0]; route names must be unique`), stdout);
    assert.ok(lines.includes(`${file}:15:17: routes[1].providers[0]: unknown provider "dmo" (did you mean "demo"?); define it under providers`), stdout);
    assert.ok(lines.some((l) => l.startsWith(`${file}:9:5: routes[0]: give the route a path`)), stdout);
    assert.match(lines.at(-1)!, /has 5 errors/);
  });

  test('a missing ${VAR} is an error at the value', async () => {
    const file = writeFile(tempDir(), 'gateway.yaml', BROKEN);
    const env = { ...process.env };
    delete env.JWT_SECRET;
    const { code, stdout } = await runCli(['validate', '--config', file], { env: { ...env, JWT_SECRET: undefined } });
    assert.equal(code, 1);
    assert.ok(stdout.includes(`${file}:5:13: providers[0].secret: environment variable JWT_SECRET is not set`), stdout);
  });

  test('a valid config with warnings: exit 0 and the warnings printed', async () => {
    const file = writeFile(tempDir(), 'gateway.yaml', stringify({
      providers: [{ name: 'p', secret: 'short' }],
      upstreams: { app: 'http://127.0.0.1:1' },
      routes: [
        { name: 'all', prefix: '/', upstream: 'app', auth: 'public' },
        { name: 'admin', prefix: '/admin', upstream: 'app', roles: ['admin'] },
      ],
    }));
    const { code, stdout } = await runCli(['validate', '--config', file]);
    assert.equal(code, 0, stdout);
    assert.match(stdout, /warning: providers\[0\]\.secret: the secret is 5 bytes; HS256 needs at least 32/);
    assert.match(stdout, /warning: providers\[0\]: provider "p" checks neither issuer nor audience/);
    assert.match(stdout, /warning: routes\[1\]: public route "all" \(\S+gateway\.yaml:\d+\) matches every request of protected route "admin"/);
    assert.match(stdout, /is valid \(3 warnings\)/);
  });

  test('a fallback secret the gateway would refuse to start with is a warning, where its variable is unset', async () => {
    const file = writeFile(tempDir(), 'gateway.yaml', stringify({
      providers: [{ name: 'demo', issuer: 'demo', secret: '${JWT_SECRET:-dev-only-secret-change-me-0123456789}' }],
      upstreams: { app: 'http://127.0.0.1:1' },
      routes: [{ name: 'all', prefix: '/', upstream: 'app' }],
    }));
    const unset = await runCli(['validate', '--config', file], { env: { JWT_SECRET: '', PORTCULLIS_ALLOW_DEFAULT_SECRETS: '' } });
    assert.equal(unset.code, 0, unset.stdout);
    assert.match(unset.stdout, /:4:13: warning: providers\[0\]\.secret: JWT_SECRET is not set, so provider "demo" would verify tokens with the fallback secret/);
    assert.match(unset.stdout, /is valid \(1 warning\)\n$/);
    const json = await runCli(['validate', '--json', '--config', file], { env: { JWT_SECRET: '', PORTCULLIS_ALLOW_DEFAULT_SECRETS: '' } });
    assert.deepEqual(JSON.parse(json.stdout).problems.map((p: { code: string; severity: string }) => [p.code, p.severity]), [['default_secret', 'warning']]);
    for (const env of [{ JWT_SECRET: 'x'.repeat(40) }, { JWT_SECRET: '', PORTCULLIS_ALLOW_DEFAULT_SECRETS: '1' }]) {
      assert.match((await runCli(['validate', '--config', file], { env })).stdout, /is valid\n$/);
    }
  });

  test('PORTCULLIS_CONFIG names the file when --config is absent', async () => {
    const file = writeFile(tempDir(), 'elsewhere.yaml', BROKEN);
    const { code, stdout } = await runCli(['validate'], { env: { PORTCULLIS_CONFIG: file, JWT_SECRET: 'x'.repeat(40) } });
    assert.equal(code, 1);
    assert.ok(stdout.includes(file));
  });
});

describe('portcullis --help', () => {
  test('every command it lists has a row in the README\'s commands table', async () => {
    const { stdout } = await runCli(['--help']);
    const commands = [...stdout.matchAll(/^  ([a-z]+) {2,}/gm)].map((m) => m[1]!);
    assert.ok(commands.length >= 6, stdout);
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const rows = readme.split('\n').filter((line) => line.startsWith('| `portcullis '));
    assert.deepEqual(commands.filter((command) => !rows.some((row) => row.startsWith(`| \`portcullis ${command}`))), []);
  });
});

describe('portcullis (run)', () => {
  test('refuses to start on a config error, with the same messages as validate', async () => {
    const file = writeFile(tempDir(), 'gateway.yaml', BROKEN);
    const { code, stderr } = await runCli(['--config', file, '--port', '0', '--admin-port', '0'], { env: { JWT_SECRET: 'x'.repeat(40) } });
    assert.equal(code, 1);
    assert.ok(stderr.includes(`${file}:11:15: routes[0].upstream: unknown upstream "order" (did you mean "orders"?)`), stderr);
    assert.match(stderr, /nothing was started/);
  });

  test('refuses to start when a key file can not be read', async () => {
    const file = writeFile(tempDir(), 'gateway.yaml', stringify({
      providers: [{ name: 'partner', issuer: 'p', public_key_file: 'keys/partner.pem' }],
      upstreams: { app: 'http://127.0.0.1:1' },
      routes: [{ name: 'all', prefix: '/', upstream: 'app' }],
    }));
    const { code, stderr } = await runCli(['--config', file, '--port', '0', '--admin-port', '0']);
    assert.equal(code, 1);
    assert.match(stderr, /:4:22: providers\[0\]\.public_key_file: keys\/partner\.pem does not exist/);
  });

  test('serves, logs a startup line naming routes and providers, and stops cleanly on SIGTERM after in-flight requests', async () => {
    const upstream = await startUpstream();
    let release!: () => void;
    upstream.handle((_req, res) => {
      release = () => res.end('slow but fine');
    });
    const file = writeFile(tempDir(), 'gateway.yaml', stringify(configWith(upstream.url, [{ name: 'all', prefix: '/', upstream: 'app', auth: 'public' }])));
    const gw = startCli(['--config', file, '--port', '0', '--admin-port', '0']);
    try {
      const loaded = await gw.waitFor((l) => l.msg === 'config loaded');
      assert.deepEqual(loaded.routes, ['all: prefix / -> app (public)']);
      assert.deepEqual(loaded.providers, ['test: test [HS256,HS384,HS512] (secret)']);
      const listening = await gw.waitFor((l) => l.msg === 'portcullis listening');
      const base = `http://127.0.0.1:${listening.port as number}`;
      const inFlight = request(base, '/slow');
      while (upstream.received.length === 0) await new Promise((r) => setTimeout(r, 10));
      gw.child.kill('SIGTERM');
      await gw.waitFor((l) => l.msg === 'draining: finishing in-flight requests');
      release();
      const res = await inFlight;
      assert.equal(res.status, 200);
      assert.equal(res.body, 'slow but fine');
      assert.equal(await gw.exited, 0);
    } finally {
      gw.child.kill('SIGKILL');
      await upstream.close();
    }
  });
});

describe('portcullis token', () => {
  const config = (extra: object = {}) => stringify({
    providers: [
      { name: 'demo', issuer: 'portcullis-demo', audience: 'demo-api', secret: SECRET, ...extra },
      { name: 'corp', issuer: 'https://idp', jwks_uri: 'https://idp/keys' },
      { name: 'rsa', issuer: 'rsa', signing_key_file: 'signer.pem' },
    ],
    upstreams: { app: 'http://127.0.0.1:1' },
    routes: [{ name: 'all', prefix: '/', upstream: 'app' }],
  });

  test('mints a token with sub, roles, scope, custom claims and ttl that verifies with the provider\'s key', async () => {
    const dir = tempDir();
    writeFile(dir, 'signer.pem', rsaKeyPair().privatePem);
    const file = writeFile(dir, 'gateway.yaml', config({ roles_claim: 'realm_access.roles' }));
    const { code, stdout, stderr } = await runCli([
      'token', '--config', file, '--provider', 'demo', '--sub', 'alice', '--roles', 'admin,orders-reader',
      '--scope', 'billing:write billing:read', '--ttl', '15m', '--claim', 'email=alice@example.com', '--claim', 'tier=3',
    ]);
    assert.equal(code, 0, stderr);
    const { payload, protectedHeader } = await jwtVerify(stdout.trim(), new TextEncoder().encode(SECRET), { issuer: 'portcullis-demo', audience: 'demo-api' });
    assert.equal(protectedHeader.alg, 'HS256');
    assert.equal(payload.sub, 'alice');
    assert.deepEqual(payload.realm_access, { roles: ['admin', 'orders-reader'] });
    assert.equal(payload.scope, 'billing:write billing:read');
    assert.equal(payload.email, 'alice@example.com');
    assert.equal(payload.tier, 3);
    assert.equal(payload.exp! - payload.iat!, 900);
  });

  test('a provider with a signing_key_file mints RS256 tokens', async () => {
    const dir = tempDir();
    const pair = rsaKeyPair();
    writeFile(dir, 'signer.pem', pair.privatePem);
    const file = writeFile(dir, 'gateway.yaml', config());
    const { code, stdout } = await runCli(['token', '--config', file, '--provider', 'rsa', '--sub', 'bob']);
    assert.equal(code, 0);
    const { protectedHeader } = await jwtVerify(stdout.trim(), pair.publicKey);
    assert.equal(protectedHeader.alg, 'RS256');
  });

  test('a JWKS provider can not mint: exit 1 saying why', async () => {
    const dir = tempDir();
    writeFile(dir, 'signer.pem', rsaKeyPair().privatePem);
    const file = writeFile(dir, 'gateway.yaml', config());
    const { code, stderr } = await runCli(['token', '--config', file, '--provider', 'corp', '--sub', 'bob']);
    assert.equal(code, 1);
    assert.match(stderr, /provider "corp" has no signing key/);
  });

  test('the minted token is accepted by a gateway running the same config', async () => {
    const upstream = await startUpstream();
    const dir = tempDir();
    const file = writeFile(dir, 'gateway.yaml', stringify(configWith(upstream.url, [{ name: 'all', prefix: '/', upstream: 'app', roles: ['reader'] }])));
    const { stdout } = await runCli(['token', '--config', file, '--provider', 'test', '--sub', 'carol', '--roles', 'reader', '--claim', 'aud=api']);
    const gw = startCli(['--config', file, '--port', '0', '--admin-port', '0']);
    try {
      const listening = await gw.waitFor((l) => l.msg === 'portcullis listening');
      const res = await request(`http://127.0.0.1:${listening.port as number}`, '/x', { headers: bearer(stdout.trim()) });
      assert.equal(res.status, 200);
      assert.equal(upstream.received.at(-1)!.headers['x-user-id'], 'carol');
    } finally {
      gw.child.kill('SIGKILL');
      await upstream.close();
    }
  });
});

describe('portcullis health', () => {
  test('exit 0 when the admin port answers /healthz (and /readyz with --ready), 1 when nothing listens', async () => {
    const upstream = await startUpstream();
    const dir = tempDir();
    const probe = await import('node:net').then((net) => {
      const server = net.createServer();
      return new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => {
        const port = (server.address() as { port: number }).port;
        server.close(() => resolve(port));
      }));
    });
    const file = writeFile(dir, 'gateway.yaml', stringify(configWith(upstream.url, [{ name: 'all', prefix: '/', upstream: 'app', auth: 'public' }], { server: { admin_port: probe } })));
    assert.equal((await runCli(['health', '--config', file])).code, 1);
    const gw = startCli(['--config', file, '--port', '0']);
    try {
      await gw.waitFor((l) => l.msg === 'portcullis listening');
      const live = await runCli(['health', '--config', file]);
      assert.equal(live.code, 0, live.stdout);
      assert.match(live.stdout, /\/healthz: 200/);
      const ready = await runCli(['health', '--ready', '--config', file]);
      assert.equal(ready.code, 0, ready.stdout);
      assert.match(ready.stdout, /\/readyz: 200/);
    } finally {
      gw.child.kill('SIGKILL');
      await upstream.close();
    }
  });
});

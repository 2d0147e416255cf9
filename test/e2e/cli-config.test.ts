// Which config file the commands use, what startup says about a config it refuses (the same lines as
// validate), and configs that must never crash a running gateway on reload.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { stringify } from 'yaml';
import { CLI, runCli, startCli, type CliResult } from '../helpers/cli.ts';
import { configWith, startTestGateway } from '../helpers/gateway.ts';
import { request } from '../helpers/http.ts';
import { SECRET, tempDir, writeFile } from '../helpers/keys.ts';
import { startUpstream } from '../helpers/upstream.ts';

const PUBLIC_ROUTE = [{ name: 'all', prefix: '/', upstream: 'app', auth: 'public' }];

/** The environment without PORTCULLIS_CONFIG, so that only the working directory can name the file. */
function envWithoutConfigVariable(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.PORTCULLIS_CONFIG;
  return env;
}

/**
 * Runs the CLI in `cwd` until it prints `until` on stdout (then SIGTERM) or exits. tsx is imported by
 * absolute URL: `--import tsx` would be looked up from the temporary working directory.
 */
function runIn(cwd: string, args: readonly string[], until?: RegExp): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), CLI, ...args], { cwd, env: envWithoutConfigVariable() });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.stdout.on('data', (c: Buffer) => {
      stdout += c;
      if (until?.test(stdout) && child.signalCode === null && !child.killed) child.kill('SIGTERM');
    });
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Lines of validate's output that are errors (FILE:LINE:COL: path: message, not warnings). */
function errorLines(stdout: string, file: string): string[] {
  return stdout.split('\n').filter((l) => l.startsWith(`${file}:`) && !/^\S+:\d+:\d+: warning: /.test(l));
}

describe('which config file', () => {
  test('the gateway runs the file named by PORTCULLIS_CONFIG when --config is absent', async () => {
    const upstream = await startUpstream();
    const file = writeFile(tempDir(), 'named-by-env.yaml', stringify(configWith(upstream.url, PUBLIC_ROUTE)));
    const gw = startCli(['--port', '0', '--admin-port', '0'], { env: { PORTCULLIS_CONFIG: file } });
    try {
      const listening = await gw.waitFor((l) => l.msg === 'portcullis listening');
      assert.equal(listening.config, file);
      assert.equal((await request(`http://127.0.0.1:${listening.port as number}`, '/x')).status, 200);
    } finally {
      gw.child.kill('SIGKILL');
      await upstream.close();
    }
  });

  test('without --config or PORTCULLIS_CONFIG, validate and the gateway use ./gateway.yaml', async () => {
    const dir = tempDir();
    writeFile(dir, 'gateway.yaml', stringify(configWith('http://127.0.0.1:1', PUBLIC_ROUTE)));
    const validated = await runIn(dir, ['validate']);
    assert.equal(validated.code, 0, validated.stdout + validated.stderr);
    assert.equal(validated.stdout, 'gateway.yaml is valid\n');
    const ran = await runIn(dir, ['--port', '0', '--admin-port', '0'], /portcullis listening/);
    const listening = ran.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'portcullis listening');
    assert.equal(listening?.config, 'gateway.yaml', ran.stdout + ran.stderr);
  });

  test('without any config file, the error names the default file and how to choose another', async () => {
    const { code, stderr } = await runIn(tempDir(), ['--port', '0', '--admin-port', '0']);
    assert.equal(code, 1);
    assert.match(stderr, /^gateway\.yaml:1:1: \(file\): no such file; pass --config FILE or set PORTCULLIS_CONFIG$/m);
  });
});

describe('startup refuses what validate refuses, with the same lines', () => {
  const keyedConfig = () => stringify({
    providers: [{ name: 'partner', issuer: 'p', public_key_file: 'keys/partner.pem' }],
    upstreams: { app: 'http://127.0.0.1:1' },
    routes: [{ name: 'all', prefix: '/', upstream: 'app' }],
  });

  async function refusedAlike(file: string): Promise<{ validateLines: string[]; startup: string }> {
    const validated = await runCli(['validate', '--config', file]);
    assert.equal(validated.code, 1, validated.stdout);
    const started = await runCli(['--config', file, '--port', '0', '--admin-port', '0']);
    assert.equal(started.code, 1, started.stdout);
    assert.match(started.stderr, /nothing was started/);
    const validateLines = errorLines(validated.stdout, file);
    assert.ok(validateLines.length > 0, validated.stdout);
    for (const line of validateLines) assert.ok(started.stderr.includes(line), `startup did not print\n  ${line}\nit printed\n${started.stderr}`);
    return { validateLines, startup: started.stderr };
  }

  test('a key file that exists but is a directory: the same FILE:LINE:COL line from validate and startup', async () => {
    const dir = tempDir();
    mkdirSync(path.join(dir, 'keys', 'partner.pem'), { recursive: true });
    const file = writeFile(dir, 'gateway.yaml', keyedConfig());
    const { validateLines } = await refusedAlike(file);
    assert.deepEqual(validateLines, [`${file}:4:22: providers[0].public_key_file: keys/partner.pem is a directory, not a key file`]);
  });

  test('a key file without read permission: the same FILE:LINE:COL line from validate and startup', {
    skip: process.getuid?.() === 0 ? 'running as root, which reads a chmod 000 file anyway (the directory case covers an unreadable key)' : false,
  }, async () => {
    const dir = tempDir();
    mkdirSync(path.join(dir, 'keys'));
    chmodSync(writeFile(path.join(dir, 'keys'), 'partner.pem', 'unreadable'), 0o000);
    const file = writeFile(dir, 'gateway.yaml', keyedConfig());
    const { validateLines } = await refusedAlike(file);
    assert.deepEqual(validateLines, [`${file}:4:22: providers[0].public_key_file: keys/partner.pem can not be read: permission denied`]);
  });

  test('every error line validate prints also appears when startup refuses the config', async () => {
    const dir = tempDir();
    mkdirSync(path.join(dir, 'keys', 'partner.pem'), { recursive: true });
    const file = writeFile(dir, 'gateway.yaml', `providers:
  - name: partner
    issuer: p
    public_key_file: keys/partner.pem
  - name: partner
    secret: \${NOT_SET_ANYWHERE}
    algorithms: [hs256]
upstreams:
  app: http://127.0.0.1:1
routes:
  - name: a
    prefix: /a
  - name: a
    prefix: /b
    upstream: nowhere
    auth: requried
    providers: [partnr]
`);
    const { validateLines } = await refusedAlike(file);
    assert.equal(validateLines.length, 9, validateLines.join('\n'));
  });
});

describe('configs that must not crash a running gateway', () => {
  test('JWT_SECRET made of digits validates, and no message could show it', async () => {
    const file = writeFile(tempDir(), 'gateway.yaml', 'providers:\n  - name: p\n    issuer: p\n    secret: ${JWT_SECRET}\nupstreams:\n  app: http://127.0.0.1:1\nroutes:\n  - name: a\n    prefix: /\n    upstream: app\n');
    const { code, stdout } = await runCli(['validate', '--config', file], { env: { JWT_SECRET: '1234567890123456789012345678901234567890' } });
    assert.equal(code, 0, stdout);
  });

  test('a reload of a file with an alias bomb is refused and the last good config keeps serving', async () => {
    const upstream = await startUpstream();
    const gw = await startTestGateway(configWith(upstream.url, PUBLIC_ROUTE));
    try {
      const bomb = stringify(configWith(upstream.url, PUBLIC_ROUTE)) + `x: &x [a, a, a, a, a, a, a, a, a, a]\ny: [${Array(120).fill('*x').join(', ')}]\n`;
      assert.equal(await gw.rewrite(bomb), false);
      const refused = gw.logs.find((l) => l.msg === 'config reload refused; the last good config keeps serving');
      assert.match(String((refused?.problems as string[] | undefined)?.[0]), /:\d+:\d+: yaml: too many alias references \(limit 100\)/);
      assert.equal((await request(gw.url, '/x')).status, 200);
      assert.equal(await gw.rewrite(configWith(upstream.url, PUBLIC_ROUTE)), true);
    } finally {
      await gw.close();
      await upstream.close();
    }
  });

  test('a reload whose secret comes from a digits-only variable does not log the secret', async () => {
    const upstream = await startUpstream();
    const digits = '98765432109876543210987654321098765432';
    const gw = await startTestGateway(configWith(upstream.url, PUBLIC_ROUTE), { env: { DIGITS: digits } });
    try {
      const withDigits = stringify(configWith(upstream.url, PUBLIC_ROUTE)).replace(SECRET, '${DIGITS}');
      assert.equal(await gw.rewrite(withDigits), true);
      assert.equal(await gw.rewrite(withDigits.replace('secret: ${DIGITS}', 'secret: 98765432109876543210987654321098765432')), false);
      const logged = JSON.stringify(gw.logs);
      assert.ok(logged.includes('providers[0].secret: must be a string or a list, got a number (not shown)'), logged);
      // Neither as written nor as the number YAML would read it (9.876543210987654e+37).
      assert.ok(!logged.includes('9876543210') && !logged.includes('9.87654321'), 'a log line holds the secret');
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
});

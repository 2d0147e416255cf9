// ${VAR} values are text, typed only where the schema wants a number or a boolean; a secret is never
// repeated in a message; a value whose variable is missing is not checked as if "${VAR}" were meant.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { loadConfigText, type LoadResult } from '../../src/config/load.ts';
import { formatProblem } from '../../src/config/problems.ts';
import { resolveSettings } from '../../src/config/settings.ts';

const ROOT = path.resolve(new URL('../..', import.meta.url).pathname);
const DIGITS = '1234567890123456789012345678901234567890';

function config(provider: string, server = ''): string {
  return `${server}providers:
  - name: main
    issuer: https://idp.example.com
${provider}
upstreams:
  app: http://127.0.0.1:3000
routes:
  - name: api
    prefix: /api
    upstream: app
`;
}

function load(text: string, env: NodeJS.ProcessEnv): LoadResult {
  return loadConfigText('gw.yaml', text, env);
}

describe('${VAR} substitution: types', () => {
  test('a secret made only of digits stays the text it is', () => {
    const result = load(config('    secret: ${JWT_SECRET}'), { JWT_SECRET: DIGITS });
    assert.deepEqual(result.problems.map(formatProblem), []);
    assert.equal(result.ok && result.loaded.config.providers?.[0]?.secret, DIGITS);
  });

  test('"true" from the environment stays text where text is expected', () => {
    const result = load(config('    secret: ${S}\n    audience: ${AUD}'), { S: 'x'.repeat(40), AUD: 'true' });
    assert.equal(result.ok && result.loaded.config.providers?.[0]?.audience, 'true');
  });

  test('numbers and booleans are typed where the schema takes them: port, access_log, workers, sizes', () => {
    const server = 'server:\n  port: ${PORT}\n  admin_port: ${ADMIN:-9902}\n  access_log: ${LOG:-true}\n  workers: ${N}\n  max_header_size: ${SIZE}\n  trust_proxy: ${TRUST}\n';
    const result = load(config('    secret: ${S}', server), { S: 'x'.repeat(40), PORT: '8081', N: '3', SIZE: '65536', TRUST: 'false' });
    assert.deepEqual(result.problems.map(formatProblem), []);
    assert.ok(result.ok);
    assert.deepEqual(result.loaded.config.server, { port: 8081, admin_port: 9902, access_log: true, workers: 3, max_header_size: 65536, trust_proxy: false });
  });

  test('workers: ${N} also takes "auto", and a quoted ${PORT} stays text (and is refused as a port)', () => {
    const auto = load(config('    secret: ${S}', 'server:\n  workers: ${N}\n'), { S: 'x'.repeat(40), N: 'auto' });
    assert.equal(auto.ok && auto.loaded.config.server?.workers, 'auto');
    const quoted = load(config('    secret: ${S}', 'server:\n  port: "${PORT}"\n'), { S: 'x'.repeat(40), PORT: '8081' });
    assert.equal(quoted.ok, false);
    assert.deepEqual(quoted.problems.map((p) => p.path), ['server.port']);
  });

  test('the benchmark config, which uses all of these, loads with its defaults and with values set', () => {
    const text = readFileSync(path.join(ROOT, 'bench', 'gateway-HS256.yaml'), 'utf8');
    const defaults = load(text, { BENCH_SECRET: 'x'.repeat(40) });
    assert.deepEqual(defaults.problems.map(formatProblem), []);
    assert.ok(defaults.ok);
    const settings = resolveSettings(defaults.loaded.config.server);
    assert.deepEqual([settings.port, settings.adminPort, settings.workers, settings.accessLog], [18004, 18104, 1, true]);
    const set = load(text, { BENCH_SECRET: DIGITS, BENCH_PORT: '19000', BENCH_WORKERS: '4', BENCH_ACCESS_LOG: 'false' });
    assert.ok(set.ok);
    assert.deepEqual(set.loaded.config.server, { host: '127.0.0.1', port: 19000, admin_port: 18104, workers: 4, access_log: false });
    assert.equal(set.loaded.config.providers?.[0]?.secret, DIGITS);
  });
});

describe('${VAR} substitution: secrets stay out of messages', () => {
  const secretsIn = (result: LoadResult, secret: string) => result.problems.map(formatProblem).filter((line) => line.includes(secret));

  test('a secret written as a bare number is refused without repeating it', () => {
    const result = load(config(`    secret: ${DIGITS}`), {});
    assert.equal(result.ok, false);
    assert.deepEqual(secretsIn(result, '1234567890'), []);
    assert.deepEqual(secretsIn(result, '1.2345678901234568e+39'), []);
    assert.match(formatProblem(result.problems[0]!), /^gw\.yaml:4:13: providers\[0\]\.secret: must be a string or a list, got a number \(not shown\)$/);
  });

  test('a secret of the wrong type from anywhere is never repeated: true, a number, an env number in a list', () => {
    for (const written of ['true', '12345678901234567', '{a: 98765432109876}']) {
      const result = load(config(`    secret: ${written}`), {});
      assert.equal(result.ok, false, written);
      for (const line of result.problems.map(formatProblem)) assert.doesNotMatch(line, /boolean true|12345678901234567|98765432109876/, line);
    }
  });

  test('a value from the environment that the schema refuses is not repeated either', () => {
    const result = load(config('    secret: x-secret-that-is-at-least-32-bytes-long', 'server:\n  port: ${PORT}\n'), { PORT: 'hunter2-is-my-password' });
    assert.equal(result.ok, false);
    assert.deepEqual(result.problems.map(formatProblem), ['gw.yaml:2:9: server.port: expected number, got a string (not shown)']);
  });
});

describe('${VAR} substitution: a missing variable', () => {
  test('is the only problem at its value: no "secret is 11 bytes" warning about the ${NOT_SET} text', () => {
    const result = load(config('    secret: ${NOT_SET}'), {});
    assert.deepEqual(result.problems.map(formatProblem), [
      'gw.yaml:4:13: providers[0].secret: environment variable NOT_SET is not set; set it or write ${NOT_SET:-default}',
    ]);
  });

  test('in a path, an upstream URL or a key file, is reported once, not also as a bad value', () => {
    const text = config('    public_key_file: ${KEY_FILE}').replace('prefix: /api', 'prefix: ${PREFIX}').replace('http://127.0.0.1:3000', '${UPSTREAM}');
    assert.deepEqual(load(text, {}).problems.map((p) => `${p.path}: ${p.code}`), [
      'providers[0].public_key_file: missing_variable',
      'upstreams.app: missing_variable',
      'routes[0].prefix: missing_variable',
    ]);
  });

  test('does not hide the other errors', () => {
    const text = config('    secret: ${NOT_SET}').replace('upstream: app', 'upstream: ap');
    assert.deepEqual(load(text, {}).problems.map((p) => p.code), ['missing_variable', 'unknown_upstream']);
  });
});

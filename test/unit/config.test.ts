// Loading gateway.yaml: what `portcullis validate` prints, position by position. Line numbers in the
// expectations count from the first line of each config text.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { loadConfigText, type LoadResult } from '../../src/config/load.ts';
import { formatProblem } from '../../src/config/problems.ts';
import { closest, editDistance } from '../../src/config/suggest.ts';
import { parseDuration, parseSize } from '../../src/config/units.ts';

const SECRET = 'a-secret-that-is-at-least-32-bytes-long';

/** Provider on lines 1-4, upstream on 5-6, "routes:" on 7: the first route starts on line 8. */
function withRoutes(routes: string): string {
  return `providers:
  - name: main
    issuer: https://idp.example.com
    secret: ${SECRET}
upstreams:
  app: http://127.0.0.1:3000
routes:
${routes}`;
}

/** Provider lines 1-5 (line 5 is `extra`), upstream 6-7, one route 8-11. */
function withProvider(extra: string, secret = SECRET): string {
  return `providers:
  - name: main
    issuer: https://idp.example.com
    secret: ${secret}
${extra}
upstreams:
  app: http://127.0.0.1:3000
routes:
  - name: api
    prefix: /api
    upstream: app
`;
}

const API_ROUTE = `  - name: api
    prefix: /api
    upstream: app
`;

function load(text: string, env: NodeJS.ProcessEnv = {}, file = 'gw.yaml'): LoadResult {
  return loadConfigText(file, text, env);
}

/** Every problem as the user reads it. */
function shown(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  return load(text, env).problems.map(formatProblem);
}

describe('loadConfigText: a valid config', () => {
  test('loads with no problems at all', () => {
    const result = load(withRoutes(API_ROUTE));
    assert.equal(result.ok, true);
    assert.deepEqual(result.problems, []);
    if (result.ok) {
      assert.equal(result.loaded.config.routes[0]?.name, 'api');
      assert.deepEqual(result.loaded.warnings, []);
      assert.equal(result.loaded.baseDir, process.cwd());
    }
  });

  test('HS256 with a secret is accepted', () => {
    assert.deepEqual(shown(withProvider('    algorithms: [HS256, HS512]')), []);
  });
});

describe('loadConfigText: errors, where they are and what they say', () => {
  test('an unknown top-level key suggests the known one', () => {
    assert.deepEqual(shown(withRoutes(API_ROUTE).replace('routes:', 'rotes:')), [
      'gw.yaml:1:1: routes: missing required key "routes"',
      'gw.yaml:7:1: rotes: unknown key "rotes" (did you mean "routes"?)',
    ]);
  });

  test('an unknown key in a route points at the key and suggests the known one', () => {
    assert.deepEqual(shown(withRoutes(API_ROUTE.replace('upstream:', 'upstrem:'))), [
      'gw.yaml:8:5: routes[0].upstream: missing required key "upstream"',
      'gw.yaml:10:5: routes[0].upstrem: unknown key "upstrem" (did you mean "upstream"?)',
    ]);
    assert.deepEqual(shown(withRoutes(API_ROUTE.replace('prefix:', 'prefx:'))), [
      'gw.yaml:8:5: routes[0]: give the route a path (exact) or a prefix',
      'gw.yaml:9:5: routes[0].prefx: unknown key "prefx" (did you mean "prefix"?)',
    ]);
  });

  test('a value of the wrong type is not reported as a missing key', () => {
    const text = withRoutes(API_ROUTE) + 'server:\n  port: abc\n';
    const [problem, ...rest] = load(text).problems;
    assert.deepEqual(rest, []);
    assert.equal(formatProblem(problem!).startsWith('gw.yaml:12:9: server.port: '), true);
    assert.doesNotMatch(problem!.message, /missing/);
    assert.match(problem!.message, /number/);
  });

  test('a route naming an unknown upstream points at the value and suggests the nearest name', () => {
    assert.deepEqual(shown(withRoutes(API_ROUTE.replace('upstream: app', 'upstream: ap'))), [
      'gw.yaml:10:15: routes[0].upstream: unknown upstream "ap" (did you mean "app"?); define it under upstreams',
    ]);
  });

  test('a route naming an unknown provider points at the list item', () => {
    assert.deepEqual(shown(withRoutes(API_ROUTE + '    providers: [mian]\n')), [
      'gw.yaml:11:17: routes[0].providers[0]: unknown provider "mian" (did you mean "main"?); define it under providers',
    ]);
  });

  test('a duplicated route name points at the second one', () => {
    assert.deepEqual(shown(withRoutes(API_ROUTE + API_ROUTE.replace('/api', '/b'))), [
      'gw.yaml:11:11: routes[1].name: route "api" is already defined at routes[0]; route names must be unique',
    ]);
  });

  test('a route needs exactly one of path and prefix', () => {
    assert.deepEqual(shown(withRoutes(API_ROUTE + '    path: /api\n')), [
      'gw.yaml:8:5: routes[0]: give either path or prefix, not both',
    ]);
    assert.deepEqual(shown(withRoutes('  - name: api\n    upstream: app\n')), [
      'gw.yaml:8:5: routes[0]: give the route a path (exact) or a prefix',
    ]);
  });

  test('a duration without a unit is refused at its value', () => {
    assert.deepEqual(shown(withRoutes(API_ROUTE + '    timeout: "30"\n')), [
      'gw.yaml:11:14: routes[0].timeout: expected a duration with a unit, like 250ms, 30s, 5m or 1h',
    ]);
  });

  test('a public route with roles is an error at the roles key', () => {
    assert.deepEqual(shown(withRoutes(API_ROUTE + '    auth: public\n    roles: [admin]\n')), [
      'gw.yaml:12:12: routes[0].roles: a public route reads no token, so roles would never be checked; remove it or set auth: required',
    ]);
  });

  test('the "none" algorithm is refused', () => {
    const [problem, ...rest] = load(withProvider('    algorithms: [none]')).problems;
    assert.deepEqual(rest, []);
    assert.equal(problem?.path, 'providers[0].algorithms[0]');
    assert.deepEqual([problem?.line, problem?.col], [5, 18]);
    assert.match(problem!.message, /"none" is never allowed/);
  });

  test('an algorithm the secret can not verify is an error at that algorithm', () => {
    assert.deepEqual(shown(withProvider('    algorithms: [HS256, RS256]')), [
      'gw.yaml:5:25: providers[0].algorithms[1]: RS256 can not be verified with a shared secret; it allows HS256, HS384, HS512',
    ]);
  });
});

describe('loadConfigText: YAML problems', () => {
  test('a syntax error is reported where it is', () => {
    const text = 'upstreams:\n  app: http://x\nroutes:\n  - name: api: v1\n    prefix: /api\n';
    assert.deepEqual(shown(text), ['gw.yaml:4:11: yaml: Nested mappings are not allowed in compact mappings']);
  });

  test('a duplicated key is reported at the second occurrence', () => {
    assert.deepEqual(shown(withRoutes(API_ROUTE + '    upstream: app\n')), ['gw.yaml:11:5: yaml: Map keys must be unique']);
  });
});

describe('loadConfigText: ${VAR} substitution', () => {
  const text = `server:
  port: \${PORT:-8080}
  host: "\${HOST:-127.0.0.1}"
providers:
  - name: main
    issuer: $\${literal}
    secret: \${JWT_SECRET}
    audience: pre-\${AUD:-api}-post
upstreams:
  app: http://127.0.0.1:3000
routes:
  - name: api
    prefix: /api
    upstream: app
`;

  test('a missing variable is an error at the value that uses it', () => {
    const problems = load(text).problems.filter((p) => p.severity === 'error');
    assert.deepEqual(problems.map(formatProblem), [
      'gw.yaml:7:13: providers[0].secret: environment variable JWT_SECRET is not set; set it or write ${JWT_SECRET:-default}',
    ]);
  });

  test('defaults fill in, are recorded, and a plain ${PORT:-8080} becomes a number', () => {
    const result = load(text, { JWT_SECRET: SECRET });
    assert.equal(result.ok, true);
    if (!result.ok) return;
    const { config, defaulted } = result.loaded;
    assert.deepEqual(config.server, { port: 8080, host: '127.0.0.1' });
    assert.equal(config.providers?.[0]?.audience, 'pre-api-post');
    assert.equal(config.providers?.[0]?.secret, SECRET);
    assert.deepEqual([...defaulted].sort(), [['providers.0.audience', ['AUD']], ['server.host', ['HOST']], ['server.port', ['PORT']]]);
  });

  test('set variables win over defaults, and an empty one falls back to its default', () => {
    const result = load(text, { JWT_SECRET: SECRET, PORT: '9090', HOST: '', AUD: 'x' });
    assert.equal(result.ok, true);
    if (!result.ok) return;
    assert.deepEqual(result.loaded.config.server, { port: 9090, host: '127.0.0.1' });
    assert.deepEqual([...result.loaded.defaulted], [['server.host', ['HOST']]]);
  });

  test('"$${" writes a literal "${"', () => {
    const result = load(text, { JWT_SECRET: SECRET, literal: 'not this' });
    assert.equal(result.ok && result.loaded.config.providers?.[0]?.issuer, '${literal}');
  });

  test('a missing variable in an upstream URL is reported once, not also as an unknown upstream', () => {
    const errors = load(withRoutes(API_ROUTE).replace('http://127.0.0.1:3000', '${UPSTREAM}')).problems;
    assert.ok(errors.some((p) => p.code === 'missing_variable' && p.line === 6 && p.col === 8));
    assert.deepEqual(errors.filter((p) => p.code === 'unknown_upstream').map(formatProblem), []);
  });
});

describe('loadConfigText: key files', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'portcullis-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(path.join(dir, 'keys'));
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' });
  writeFileSync(path.join(dir, 'keys', 'ec.pem'), ec);
  const file = path.join(dir, 'gateway.yaml');
  const keyed = (keyFile: string, extra = '') => withProvider(extra).replace(`secret: ${SECRET}`, `public_key_file: ${keyFile}`);

  test('public_key_file is read relative to the config file, not the working directory', () => {
    const result = load(keyed('keys/ec.pem'), {}, file);
    assert.deepEqual(result.problems.map(formatProblem), []);
    assert.ok(result.ok && result.loaded.providerKeys.get('main')?.publicKeys?.[0]);
  });

  test('a missing key file says where it was looked for', () => {
    assert.deepEqual(load(keyed('keys/missing.pem'), {}, file).problems.map(formatProblem), [
      `${file}:4:22: providers[0].public_key_file: keys/missing.pem does not exist (looked for ${path.join(dir, 'keys', 'missing.pem')})`,
    ]);
  });

  test('an algorithm the key can not verify is an error naming the key type', () => {
    assert.deepEqual(load(keyed('keys/ec.pem', '    algorithms: [ES256, HS256]'), {}, file).problems.map(formatProblem), [
      `${file}:5:25: providers[0].algorithms[1]: HS256 can not be verified with an EC prime256v1 key; it allows ES256`,
    ]);
  });
});

describe('loadConfigText: warnings', () => {
  function warnings(text: string): string[] {
    const result = load(text);
    assert.equal(result.ok, true, `expected only warnings, got ${result.problems.map(formatProblem).join('\n')}`);
    return result.problems.map(formatProblem);
  }

  test('a route that an earlier one always takes is shadowed', () => {
    assert.deepEqual(warnings(withRoutes(API_ROUTE + '  - name: orders\n    prefix: /api/orders\n    upstream: app\n')), [
      'gw.yaml:11:5: warning: routes[1]: route "orders" never matches: route "api" (gw.yaml:8) comes first and matches all its requests',
    ]);
  });

  test('a public route in front of a protected one is pointed out (full overlap)', () => {
    const routes = API_ROUTE + '    auth: public\n  - name: orders\n    path: /api/orders\n    upstream: app\n';
    assert.deepEqual(warnings(withRoutes(routes)), [
      'gw.yaml:12:5: warning: routes[1]: public route "api" (gw.yaml:8) matches every request of protected route "orders", which therefore never asks for a token',
    ]);
  });

  test('a public route in front of a protected one is pointed out (partial overlap)', () => {
    const routes = API_ROUTE + '    auth: public\n    methods: [GET]\n  - name: orders\n    prefix: /api/orders\n    upstream: app\n';
    assert.deepEqual(warnings(withRoutes(routes)), [
      'gw.yaml:13:5: warning: routes[1]: public route "api" (gw.yaml:8) comes first and takes some requests of protected route "orders" without a token',
    ]);
  });

  test('a role or scope no token can carry (a space, a comma, a look-alike) is a warning at that value', () => {
    const routes = API_ROUTE + '    roles: [admin, "Order Admins"]\n    scopes: ["read,write", "r\\u0131ad"]\n';
    assert.deepEqual(warnings(withRoutes(routes)), [
      'gw.yaml:11:20: warning: routes[0].roles[1]: this role can never be met: a token\'s roles with a space, a comma, a control character or a character upstreams read as another are left out, for the gateway\'s own checks too (see forward.headers)',
      'gw.yaml:12:14: warning: routes[0].scopes[0]: this scope can never be met: a token\'s scopes with a space, a comma, a control character or a character upstreams read as another are left out, for the gateway\'s own checks too (see forward.headers)',
      'gw.yaml:12:28: warning: routes[0].scopes[1]: this scope can never be met: a token\'s scopes with a space, a comma, a control character or a character upstreams read as another are left out, for the gateway\'s own checks too (see forward.headers)',
    ]);
  });

  test('routes that can not both match give no warning', () => {
    const routes = API_ROUTE + '    auth: public\n  - name: other\n    prefix: /apix\n    upstream: app\n';
    assert.deepEqual(warnings(withRoutes(routes)), []);
  });

  test('a short HS secret is a warning at the secret', () => {
    assert.deepEqual(warnings(withProvider('    audience: api', 'short')), [
      'gw.yaml:4:13: warning: providers[0].secret: the secret is 5 bytes; HS256 needs at least 32 (RFC 7518 §3.2)',
    ]);
  });

  test('a provider with neither issuer nor audience is a warning', () => {
    assert.deepEqual(warnings(withRoutes(API_ROUTE).replace('    issuer: https://idp.example.com\n', '')), [
      'gw.yaml:2:5: warning: providers[0]: provider "main" checks neither issuer nor audience: any token signed with its key is accepted',
    ]);
  });

  test('an upstream no route uses is a warning at its name', () => {
    assert.deepEqual(warnings(withRoutes(API_ROUTE).replace('upstreams:\n', 'upstreams:\n  spare: http://127.0.0.1:3001\n')), [
      'gw.yaml:6:3: warning: upstreams.spare: upstream "spare" is not used by any route',
    ]);
  });
});

describe('units and suggestions', () => {
  test('parseDuration reads ms, s, m and h, and refuses a number without unit', () => {
    assert.deepEqual(['250ms', '30s', '5m', '1h', '0s'].map(parseDuration), [250, 30_000, 300_000, 3_600_000, 0]);
    for (const text of ['30', '', 's', '1d', '1.5s', '-1s', '30 s', '30S']) assert.throws(() => parseDuration(text), TypeError, text);
  });

  test('parseSize reads numbers, b, kb and mb in any case, and refuses other forms', () => {
    assert.deepEqual([8192, '100b', '8kb', '8KB', '1mb'].map(parseSize), [8192, 100, 8192, 8192, 1_048_576]);
    for (const text of ['8', '1gb', '8 kb', 'kb', '1.5kb']) assert.throws(() => parseSize(text), TypeError, text);
  });

  test('closest suggests a near name, ignoring case, and nothing for a far one', () => {
    assert.equal(closest('rotes', ['server', 'routes', 'upstreams']), 'routes');
    assert.equal(closest('UPSTREM', ['upstream', 'prefix']), 'upstream');
    assert.equal(closest('banana', ['routes', 'server']), undefined);
    assert.equal(closest('anything', []), undefined);
  });

  test('closest allows more edits for longer names (a third of the length, at least 2)', () => {
    assert.equal(closest('clocktolrnce', ['clock_tolerance']), 'clock_tolerance'); // 3 edits, 4 allowed
    assert.equal(closest('abc', ['xyz']), undefined); // 3 edits, 2 allowed
    assert.equal(closest('abc', ['axy']), 'axy');
    assert.equal(editDistance('kitten', 'sitting'), 3);
  });
});

// One validate run lists every error, however broken the shape; choices (auth, log_level...) say what
// they take and suggest the nearest one.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfigText } from '../../src/config/load.ts';
import { formatProblem } from '../../src/config/problems.ts';

const HEAD = `providers:
  - name: main
    issuer: https://idp.example.com
    secret: a-secret-that-is-at-least-32-bytes-long
upstreams:
  app: http://127.0.0.1:3000
routes:
`;

function shown(text: string): string[] {
  return loadConfigText('gw.yaml', text, {}).problems.map(formatProblem);
}

describe('validate lists every error in one run', () => {
  test('a route without upstream does not hide an unknown provider or a duplicated name elsewhere', () => {
    const routes = `  - name: api
    prefix: /api
  - name: other
    prefix: /other
    upstream: app
    providers: [mian]
  - name: api
    prefix: /again
    upstream: app
`;
    assert.deepEqual(shown(HEAD + routes), [
      'gw.yaml:8:5: routes[0].upstream: missing required key "upstream"',
      'gw.yaml:13:17: routes[1].providers[0]: unknown provider "mian" (did you mean "main"?); define it under providers',
      'gw.yaml:14:11: routes[2].name: route "api" is already defined at routes[0]; route names must be unique',
    ]);
  });

  test('a route without name, a provider without name and a list item that is no route do not hide the rest', () => {
    const text = HEAD.replace('  - name: main\n', '  - issuer: second\n    secret: a-secret-that-is-at-least-32-bytes-long\n  - name: main\n') + `  - prefix: /x
    upstream: app
  - just text
  - name: y
    prefix: /y
    upstream: nowhere
`;
    assert.deepEqual(shown(text), [
      'gw.yaml:2:5: providers[0].name: missing required key "name"',
      'gw.yaml:10:5: routes[0].name: missing required key "name"',
      'gw.yaml:12:5: routes[1]: expected a mapping, got string "just text"',
      'gw.yaml:15:15: routes[2].upstream: unknown upstream "nowhere"; define it under upstreams',
    ]);
  });

  test('missing upstreams and an empty route list do not hide provider errors', () => {
    const text = 'providers:\n  - name: p\n    public_key_file: missing.pem\n    issuer: i\nroutes: []\n';
    assert.deepEqual(
      loadConfigText('gw.yaml', text, {}).problems.map((p) => `${p.path}: ${p.code}`),
      ['upstreams: invalid_type', 'providers[0].public_key_file: key_file_missing', 'routes: too_small'],
    );
  });

  test('a bad item in an optional list (methods) does not hide a duplicated name', () => {
    const routes = '  - name: a\n    prefix: /a\n    upstream: app\n    methods: [GET, "G T"]\n  - name: a\n    prefix: /b\n    upstream: app\n';
    assert.deepEqual(shown(HEAD + routes).map((l) => l.replace(/^gw\.yaml:\d+:\d+: /, '')), [
      'routes[0].methods[1]: expected an HTTP method like GET',
      'routes[1].name: route "a" is already defined at routes[0]; route names must be unique',
    ]);
  });
});

describe('choices: what they take, and the nearest one', () => {
  const route = (extra: string) => HEAD + `  - name: api\n    prefix: /api\n    upstream: app\n${extra}`;

  test('auth: a typo names the choices and suggests the meant one', () => {
    assert.deepEqual(shown(route('    auth: requried\n')), [
      'gw.yaml:11:11: routes[0].auth: must be one of public, optional, required; did you mean "required"?',
    ]);
  });

  test('forward.authorization, log_level, workers and algorithms say the same', () => {
    const text = route('') + 'forward:\n  authorization: strp\nserver:\n  log_level: warning\n  workers: aut\n';
    assert.deepEqual(shown(text), [
      'gw.yaml:12:18: forward.authorization: must be one of keep, strip; did you mean "strip"?',
      'gw.yaml:14:14: server.log_level: must be one of fatal, error, warn, info, debug, trace, silent; did you mean "warn"?',
      'gw.yaml:15:12: server.workers: must be auto or a number, got string "aut"; did you mean "auto"?',
    ]);
    assert.deepEqual(shown(HEAD.replace('    issuer:', '    algorithms: [hs256]\n    issuer:') + '  - name: api\n    prefix: /api\n    upstream: app\n'), [
      'gw.yaml:3:18: providers[0].algorithms[0]: must be one of HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, Ed25519 ("none" is never allowed); did you mean "HS256"?',
    ]);
  });

  test('a choice too far from any gets the list without a guess', () => {
    assert.deepEqual(shown(route('    auth: banana\n')), ['gw.yaml:11:11: routes[0].auth: must be one of public, optional, required']);
  });

  test('a mistyped choice is checked as the suggested one, so no error follows from the default', () => {
    // With no providers, the default auth (required) would add "no providers"; public, as meant, does not.
    const text = 'upstreams:\n  app: http://127.0.0.1:3000\nroutes:\n  - name: api\n    prefix: /api\n    upstream: app\n    auth: pubilc\n';
    assert.deepEqual(shown(text), ['gw.yaml:7:11: routes[0].auth: must be one of public, optional, required; did you mean "public"?']);
  });

  test('a value of one type where another is needed says which, without zod\'s wording', () => {
    const text = route('') + 'server:\n  trust_proxy: yes\n  access_log: 1\n';
    assert.deepEqual(shown(text), [
      'gw.yaml:12:16: server.trust_proxy: must be a boolean or a list, got string "yes"',
      'gw.yaml:13:15: server.access_log: expected boolean, got number 1',
    ]);
  });

  test('a duration without a unit is told to add one, not to quote the number (which would only be refused next)', () => {
    const text = route('    timeout: 5\n') + 'server:\n  shutdown_timeout: 30\ncors:\n  origins: [https://app.example.com]\n  max_age: 600\n';
    assert.deepEqual(shown(text), [
      'gw.yaml:11:14: routes[0].timeout: expected a duration with a unit, like 250ms, 30s, 5m or 1h; got number 5',
      'gw.yaml:13:21: server.shutdown_timeout: expected a duration with a unit, like 250ms, 30s, 5m or 1h; got number 30',
      'gw.yaml:16:12: cors.max_age: expected a duration with a unit, like 250ms, 30s, 5m or 1h; got number 600',
    ]);
  });

  test('bounds, lists and mappings in words, without zod\'s "Too small: expected array to have >=1 items"', () => {
    const text = `upstreams:
  app:
    targets: http://127.0.0.1:3000
    max_connections: 0
    health_check: true
routes:
  - { name: api, prefix: /api, upstream: app, auth: public, methods: [] }
`;
    assert.deepEqual(shown(text), [
      'gw.yaml:3:14: upstreams.app.targets: expected a list, got string "http://127.0.0.1:3000"; for a list of one, write [http://127.0.0.1:3000]',
      'gw.yaml:4:22: upstreams.app.max_connections: must be at least 1, got number 0',
      'gw.yaml:5:19: upstreams.app.health_check: expected a mapping, got boolean true',
      'gw.yaml:7:70: routes[0].methods: list at least one entry',
    ]);
  });

  test('a mapping given where a list entry takes {file, kid} names the key it lacks and the keys it takes', () => {
    const text = HEAD.replace('    secret: a-secret-that-is-at-least-32-bytes-long\n', '    public_key_file: [{ path: keys/next.pem }]\n') + '  - { name: api, prefix: /api, upstream: app }\n';
    // Not also "a provider needs one of: secret, public_key_file...": it has one, broken.
    assert.deepEqual(shown(text), [
      'gw.yaml:4:23: providers[0].public_key_file[0].file: missing required key "file"',
      'gw.yaml:4:25: providers[0].public_key_file[0].path: unknown key "path" (this mapping takes file, kid)',
    ]);
    const numbered = HEAD.replace('    secret: a-secret-that-is-at-least-32-bytes-long\n', '    jwks_file: 5\n') + '  - { name: api, prefix: /api, upstream: app }\n';
    assert.deepEqual(shown(numbered), ['gw.yaml:4:16: providers[0].jwks_file: expected string, got number 5; put it in quotes to write it as text']);
    assert.deepEqual(shown(route('') + 'server:\n  shutdown: 5s\n').slice(0, 1), [
      'gw.yaml:12:3: server.shutdown: unknown key "shutdown" (did you mean "shutdown_timeout"?)',
    ]);
    const upstream = HEAD.replace('  app: http://127.0.0.1:3000\n', '  app: { targets: [http://127.0.0.1:3000], health_check: { path: /h, every: 5s } }\n');
    assert.deepEqual(shown(upstream + '  - { name: api, prefix: /api, upstream: app }\n'), [
      'gw.yaml:6:70: upstreams.app.health_check.every: unknown key "every" (this mapping takes path, interval, timeout, healthy_threshold, unhealthy_threshold)',
    ]);
  });
});

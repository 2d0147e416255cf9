// What a hostile or careless YAML file can do to the loader: alias bombs, aliases to nothing, aliases
// inside their own anchor. Each is a positioned problem; none may throw (a throw on hot reload crashed
// the gateway).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { loadConfigFile, loadConfigText } from '../../src/config/load.ts';
import { formatProblem } from '../../src/config/problems.ts';
import { tempDir, writeFile } from '../helpers/keys.ts';

const VALID = `providers:
  - name: main
    issuer: https://idp.example.com
    secret: a-secret-that-is-at-least-32-bytes-long
upstreams:
  app: http://127.0.0.1:3000
routes:
  - name: api
    prefix: /api
    upstream: app
    roles: &roles [reader]
`;

function shown(text: string): string[] {
  return loadConfigText('gw.yaml', text, {}).problems.map(formatProblem);
}

describe('loadConfigText: aliases', () => {
  test('a few aliases are fine', () => {
    const text = VALID + '  - name: b\n    prefix: /b\n    upstream: app\n    roles: *roles\n';
    assert.deepEqual(shown(text), []);
  });

  test('more than 100 alias uses is a positioned problem, not an exception', () => {
    const text = VALID + `  - name: many\n    prefix: /many\n    upstream: app\n    roles: [${Array(150).fill('*roles').join(', ')}]\n`;
    const problems = shown(text);
    assert.equal(problems.length, 1, problems.join('\n'));
    assert.match(problems[0]!, /^gw\.yaml:15:\d+: yaml: too many alias references \(limit 100\): \*roles /);
  });

  test('an alias bomb (aliases of aliases) is stopped where it crosses the limit', () => {
    const bomb = 'a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n';
    assert.deepEqual(shown(bomb), [
      'gw.yaml:4:5: yaml: too many alias references (limit 100): *c here expands &c past the limit; write the repeated values out',
    ]);
  });

  test('an alias with no anchor before it is a positioned problem', () => {
    assert.deepEqual(shown(VALID + 'extra: *nowhere\n'), ['gw.yaml:12:8: yaml: alias *nowhere has no anchor &nowhere before it']);
  });

  test('an alias inside its own anchor is a positioned problem, not a cyclic value', () => {
    assert.deepEqual(shown(VALID + 'extra: &loop [*loop]\n'), ['gw.yaml:12:15: yaml: alias *loop is inside the value it refers to']);
  });

  test('loadConfigFile does not throw on an alias bomb either', () => {
    const file = writeFile(tempDir(), 'gateway.yaml', VALID + `x: [${Array(120).fill('*roles').join(', ')}]\n`);
    const result = loadConfigFile(file, {});
    assert.equal(result.ok, false);
    assert.equal(result.problems[0]?.code, 'yaml_alias_limit');
    assert.equal(result.problems[0]?.file, file);
  });

  test('no text makes loadConfigText throw', () => {
    const yamlish = fc.array(
      fc.constantFrom('a', ': ', '\n', '  ', '- ', '&x ', '*x', '[', ']', '{', '}', ', ', '${', '}', 'routes', 'upstreams', '"', "'", '? ', '!!', '|', '#'),
      { maxLength: 40 },
    );
    fc.assert(
      fc.property(fc.oneof(fc.string(), yamlish.map((parts) => parts.join(''))), (text) => {
        const result = loadConfigText('gw.yaml', text, {});
        assert.equal(typeof result.ok, 'boolean');
      }),
      { numRuns: 300 },
    );
  });
});

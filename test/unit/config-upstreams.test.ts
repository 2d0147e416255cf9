// What `portcullis validate` says about an upstream's balance, health checks, outlier detection and
// retries: every problem at its own key's FILE:LINE:COL, with what to write instead.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfigText } from '../../src/config/load.ts';
import { formatProblem } from '../../src/config/problems.ts';

/** The upstream's own keys start on line 4. */
function config(keys: string): string {
  return `upstreams:
  app:
    targets: [http://10.0.0.1:8080, http://10.0.0.2:8080]
${keys}
routes:
  - { name: api, prefix: /api, upstream: app, auth: public }
`;
}

const shown = (keys: string) => loadConfigText('gw.yaml', config(keys), {}).problems.map(formatProblem);

describe('validate: upstream resilience', () => {
  test('hash_key without balance: hash, and balance: hash without a hash_key', () => {
    assert.deepEqual(shown('    hash_key: sub'), [
      'gw.yaml:4:15: upstreams.app.hash_key: hash_key is used only with balance: hash; add balance: hash or remove hash_key',
    ]);
    assert.deepEqual(shown('    balance: hash'), [
      'gw.yaml:4:14: upstreams.app.balance: balance: hash needs a hash_key: sub, ip, claim:<path> or header:<Name>',
    ]);
  });

  test('a hash_key claim path is checked like every claim path (it used to pass validate and stop the gateway at startup)', () => {
    assert.deepEqual(shown('    balance: hash\n    hash_key: "claim:org..id"'), [
      'gw.yaml:5:15: upstreams.app.hash_key: "org..id" has an empty name; write names separated by single dots (realm_access.roles), and a name containing dots in brackets: resource_access["orders.api"].roles',
    ]);
    assert.deepEqual(shown('    balance: hash\n    hash_key: claim:org.id'), []);
  });

  test('a target or key URL with a user name or password is refused, without repeating it: neither would send it', () => {
    const problems = loadConfigText('gw.yaml', `providers:
  - { name: corp, issuer: corp, jwks_uri: "https://svc:hunter2@idp.example.com/keys" }
  - { name: disc, issuer: https://idp.example.com, discovery: "https://svc:hunter2@idp.example.com" }
upstreams:
  app: { targets: ["http://svc:hunter2@10.0.0.1:8080"] }
routes:
  - { name: api, prefix: /api, upstream: app }
`, {}).problems.map(formatProblem);
    const refusal = 'a URL here can not carry a user name or password: it would never be sent; remove "user:password@"';
    assert.deepEqual(problems, [
      `gw.yaml:2:43: providers[0].jwks_uri: ${refusal}`,
      `gw.yaml:3:63: providers[1].discovery: ${refusal}`,
      `gw.yaml:5:20: upstreams.app.targets[0]: ${refusal}`,
    ]);
  });

  test('health checks more often than every 100ms, or slower than their interval', () => {
    assert.deepEqual(shown('    health_check: { path: /healthz, interval: 50ms, timeout: 20ms }'), [
      'gw.yaml:4:47: upstreams.app.health_check.interval: health_check.interval must be at least 100ms',
      'gw.yaml:4:62: upstreams.app.health_check.timeout: health_check.timeout must be at least 100ms',
    ]);
    assert.deepEqual(shown('    health_check: { path: /healthz, interval: 1s, timeout: 2s }'), [
      'gw.yaml:4:60: upstreams.app.health_check.timeout: health_check.timeout must not be longer than its interval',
    ]);
    assert.deepEqual(shown('    health_check: { path: /healthz, timeout: 10s }'), [
      'gw.yaml:4:46: upstreams.app.health_check.timeout: health_check.timeout must not be longer than its interval (5s by default)',
    ]);
    assert.deepEqual(shown('    health_check: { path: /healthz, interval: 100ms, timeout: 100ms }'), []);
  });

  test('timers of 0 that would mean "never" (connect_timeout, ejection_time, per_try_timeout)', () => {
    assert.deepEqual(shown('    connect_timeout: 0s\n    outlier_detection: { ejection_time: 0ms }\n    retries: { attempts: 1, per_try_timeout: 0s }'), [
      'gw.yaml:4:22: upstreams.app.connect_timeout: connect_timeout must be longer than 0',
      'gw.yaml:5:41: upstreams.app.outlier_detection.ejection_time: ejection_time must be longer than 0',
      'gw.yaml:6:46: upstreams.app.retries.per_try_timeout: per_try_timeout must be longer than 0',
    ]);
  });

  test('retries without attempts retry nothing: a warning', () => {
    assert.deepEqual(shown('    retries: { on: [503] }'), [
      'gw.yaml:4:14: warning: upstreams.app.retries: nothing is retried with attempts: 0 (the default); set attempts: 1 or more, or remove retries',
    ]);
    assert.equal(loadConfigText('gw.yaml', config('    retries: { on: [503] }'), {}).ok, true, 'a warning does not refuse the config');
  });

  test('wrong values inside an upstream are reported at their own keys, all in one run', () => {
    assert.deepEqual(
      shown(`    balance: random
    hash_key: cookie:session
    queue_timeout: soon
    health_check: { interval: 1s, unhealty_threshold: 2 }
    outlier_detection: { consecutive_failures: 0 }
    retries: { attempts: 11, on: [500, reset], budget: "20" }`),
      [
        'gw.yaml:4:14: upstreams.app.balance: must be one of round_robin, least_request, hash',
        'gw.yaml:5:15: upstreams.app.hash_key: expected sub, ip, claim:<path> or header:<Name>',
        'gw.yaml:6:20: upstreams.app.queue_timeout: expected a duration with a unit, like 250ms, 30s, 5m or 1h',
        'gw.yaml:7:19: upstreams.app.health_check.path: missing required key "path"',
        'gw.yaml:7:35: upstreams.app.health_check.unhealty_threshold: unknown key "unhealty_threshold" (did you mean "unhealthy_threshold"?)',
        'gw.yaml:8:48: upstreams.app.outlier_detection.consecutive_failures: must be at least 1, got number 0',
        'gw.yaml:9:26: upstreams.app.retries.attempts: must be at most 10, got number 11',
        'gw.yaml:9:35: upstreams.app.retries.on[0]: expected connect_failure, reset, 502, 503 or 504',
        'gw.yaml:9:56: upstreams.app.retries.budget: expected a percentage like 20%',
      ],
    );
  });

  test('a valid upstream with every key has no problem', () => {
    assert.deepEqual(
      shown(`    balance: hash
    hash_key: header:X-Tenant
    connect_timeout: 2s
    timeout: 30s
    max_connections: 100
    queue_timeout: 1s
    health_check: { path: /healthz, interval: 5s, timeout: 1s, healthy_threshold: 2, unhealthy_threshold: 3 }
    outlier_detection: { consecutive_failures: 5, ejection_time: 30s }
    retries: { attempts: 2, on: [connect_failure, reset, 502, 503, 504], per_try_timeout: 5s, budget: 20% }`),
      [],
    );
  });
});

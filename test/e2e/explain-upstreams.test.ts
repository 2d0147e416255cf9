// portcullis explain shows an upstream's targets: how one is chosen, whether each is eligible, and what
// watches their health in the running gateway. A single target with no options shows none of this.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { stringify } from 'yaml';
import { runCli } from '../helpers/cli.ts';
import { configWith } from '../helpers/gateway.ts';
import { tempDir, writeFile } from '../helpers/keys.ts';

const file = writeFile(
  tempDir(),
  'gateway.yaml',
  stringify(
    configWith('', [
      { name: 'orders', prefix: '/orders', upstream: 'orders', auth: 'public' },
      { name: 'billing', prefix: '/billing', upstream: 'billing', auth: 'public' },
      { name: 'single', prefix: '/single', upstream: 'single', auth: 'public' },
    ], {
      upstreams: {
        orders: {
          targets: ['http://10.0.0.1:8080', 'http://10.0.0.2:8080/v1'],
          balance: 'least_request',
          health_check: { path: '/healthz', interval: '5s' },
        },
        billing: { targets: ['http://10.0.1.1:8080', 'http://10.0.1.2:8080'], outlier_detection: { consecutive_failures: 3 } },
        single: 'http://10.0.2.1:8080',
      },
    }),
  ),
);
const explain = (args: string[]) => runCli(['explain', '--config', file, ...args]);

describe('portcullis explain: upstream targets', () => {
  test('each target with whether it is eligible, the balance policy and the active checks', async () => {
    const { code, stdout } = await explain(['GET', '/orders/7']);
    assert.equal(code, 0, stdout);
    assert.match(stdout, /^forward +http:\/\/10\.0\.0\.1:8080\/orders\/7 \(one of 2 targets\)$/m);
    assert.match(stdout, /^ +targets \(least_request; health checks on: the running gateway takes out targets that fail them \(portcullis_upstream_target_healthy\)\):$/m);
    assert.match(stdout, /^ +10\.0\.0\.1:8080: eligible$/m);
    assert.match(stdout, /^ +10\.0\.0\.2:8080: eligible$/m);
  });

  test('round robin by default, with outlier detection named', async () => {
    const { stdout } = await explain(['GET', '/billing/1']);
    assert.match(stdout, /^ +targets \(round_robin; outlier detection on: the running gateway ejects targets that keep failing\):$/m);
    assert.match(stdout, /^ +10\.0\.1\.2:8080: eligible$/m);
  });

  test('a single target without options: the URL alone', async () => {
    const { stdout } = await explain(['GET', '/single/1']);
    assert.match(stdout, /^forward +http:\/\/10\.0\.2\.1:8080\/single\/1$/m);
    assert.doesNotMatch(stdout, /targets \(/);
  });
});

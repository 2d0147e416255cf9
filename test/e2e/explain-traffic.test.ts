// portcullis explain shows the traffic steps of a request: the rate limits it would be counted against,
// under which key (without counting anything), what its response would say about CORS, and a preflight
// answered by the gateway.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { stringify } from 'yaml';
import { runCli } from '../helpers/cli.ts';
import { configWith } from '../helpers/gateway.ts';
import { sign, tempDir, writeFile } from '../helpers/keys.ts';

const file = writeFile(
  tempDir(),
  'gateway.yaml',
  stringify(
    configWith('http://127.0.0.1:1', [{ name: 'orders', prefix: '/api/orders', upstream: 'app', rate_limit: ['per-ip', 'per-user'] }], {
      cors: { origins: ['https://app.example.com'], methods: ['GET', 'PUT'], headers: ['Authorization'], credentials: true },
      rate_limits: { 'per-ip': { requests: 100, per: '1s', key: 'ip' }, 'per-user': { requests: 10, per: '1m', burst: 5, key: 'sub' } },
    }),
  ),
);
const explain = (args: string[]) => runCli(['explain', '--config', file, ...args]);

describe('portcullis explain: rate limits and CORS', () => {
  test('an allowed request: each policy with its key, and the CORS headers its response would carry', async () => {
    const token = await sign({ iss: 'test', aud: 'api', sub: 'alice' });
    const { code, stdout } = await explain(['--token', token, '--client', '198.51.100.7', '-H', 'Origin: https://app.example.com', 'GET', '/api/orders/1']);
    assert.equal(code, 0, stdout);
    assert.match(stdout, /^rate_limit +pass +policy "per-ip" \(100 per 1s, key ip\): counted under "198\.51\.100\.7" in memory/m);
    assert.match(stdout, /^rate_limit +pass +policy "per-user" \(10 per 1m \(\+5 burst\), key sub\): counted under "alice" in memory; over the limit: 429 rate_limited \(explain counts nothing\)$/m);
    assert.match(stdout, /^cors +pass +origin https:\/\/app\.example\.com is allowed: Access-Control-Allow-Origin: https:\/\/app\.example\.com, with credentials$/m);
  });

  test('a denied request counts against the ip policies only; an unlisted origin gets no CORS headers', async () => {
    const { code, stdout } = await explain(['-H', 'Origin: https://evil.test', 'GET', '/api/orders/1']);
    assert.equal(code, 2);
    assert.match(stdout, /^rate_limit +pass +policy "per-ip"/m);
    assert.doesNotMatch(stdout, /policy "per-user"/);
    assert.match(stdout, /^cors +fail +origin https:\/\/evil\.test is not allowed/m);
    assert.match(stdout, /^decision +DENY 401 token_missing/m);
  });

  test('a preflight: answered by the gateway before authentication (exit 0), or refused with its reason (exit 2)', async () => {
    const allowed = await explain(['-H', 'Origin: https://app.example.com', '-H', 'Access-Control-Request-Method: PUT', '-H', 'Access-Control-Request-Headers: authorization', 'OPTIONS', '/api/orders/1']);
    assert.equal(allowed.code, 0, allowed.stdout);
    assert.match(allowed.stdout, /^route +pass +route "orders" \(auth: required\), asked by a CORS preflight for PUT$/m);
    assert.match(allowed.stdout, /^cors +pass +preflight allowed/m);
    assert.doesNotMatch(allowed.stdout, /^token /m);
    assert.match(allowed.stdout, /^decision +ALLOW 204: a CORS preflight, answered by the gateway/m);

    const refused = await explain(['-H', 'Origin: https://app.example.com', '-H', 'Access-Control-Request-Method: DELETE', 'OPTIONS', '/api/orders/1']);
    assert.equal(refused.code, 2);
    assert.match(refused.stdout, /^decision +DENY 403 cors_method_not_allowed: cross-origin DELETE is not allowed here; allowed: GET, PUT \(cors\.methods\)$/m);
  });
});

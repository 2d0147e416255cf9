// gateway.schema.json (for editors) and the validator come from one source: the committed file is what
// the schema module generates, and both accept and refuse the same configs.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { gatewayJsonSchema, gatewaySchema } from '../../src/config/schema.ts';

const ROOT = path.resolve(new URL('../..', import.meta.url).pathname);

describe('gateway.schema.json', () => {
  test('the committed file is exactly what the schema generates (run npm run schema after changing it)', () => {
    const committed = JSON.parse(readFileSync(path.join(ROOT, 'gateway.schema.json'), 'utf8')) as unknown;
    assert.deepEqual(committed, gatewayJsonSchema());
  });

  test('the shipped gateway.yaml points editors at it', () => {
    const first = readFileSync(path.join(ROOT, 'gateway.yaml'), 'utf8').split('\n')[0];
    assert.equal(first, '# yaml-language-server: $schema=./gateway.schema.json');
  });

  const base = { upstreams: { app: 'http://127.0.0.1:1' }, routes: [{ name: 'r', prefix: '/', upstream: 'app' }] };
  const samples: [string, unknown][] = [
    ['the shipped gateway.yaml', parse(readFileSync(path.join(ROOT, 'gateway.yaml'), 'utf8').replace(/\$\{JWT_SECRET:-([^}]*)\}/, '$1'))],
    ['a minimal config', base],
    ['every server key', { ...base, server: { host: '::', port: 1, admin_port: 2, admin_host: '127.0.0.1', trust_proxy: ['10.0.0.0/8'], timeout: '5s', shutdown_timeout: '1m', headers_timeout: '10s', request_timeout: '1h', keep_alive_timeout: '250ms', max_header_size: '32kb', max_token_size: 4096, token_cache_size: 0, case_insensitive_paths: true, workers: 'auto', access_log: false, log_level: 'warn' } }],
    ['an upstream with targets', { ...base, upstreams: { app: { targets: ['http://a:1', 'https://b'], timeout: '10s', preserve_host: false } } }],
    ['a provider with everything', { ...base, providers: [{ name: 'p', issuer: 'i', audience: ['a', 'b'], jwks_uri: 'https://x/keys', roles_claim: 'a.b', algorithms: ['RS256', 'ES256'], clock_tolerance: '10s', typ: 'at+jwt', jwks_refresh: '5m', jwks_cooldown: '10s' }] }],
    ['an unknown top-level key', { ...base, rotes: [] }],
    ['an unknown route key', { ...base, routes: [{ name: 'r', prefx: '/', upstream: 'app' }] }],
    ['a duration without unit', { ...base, server: { timeout: '30' } }],
    ['a duration as a number', { ...base, server: { timeout: 30 } }],
    ['algorithm none', { ...base, providers: [{ name: 'p', secret: 'x', algorithms: ['none'] }] }],
    ['a port out of range', { ...base, server: { port: 70000 } }],
    ['an upstream URL with a query', { ...base, upstreams: { app: 'http://a/?x=1' } }],
    ['an empty targets list', { ...base, upstreams: { app: { targets: [] } } }],
    ['no routes', { upstreams: base.upstreams, routes: [] }],
    ['missing upstreams', { routes: base.routes }],
    ['auth with a wrong value', { ...base, routes: [{ name: 'r', prefix: '/', upstream: 'app', auth: 'maybe' }] }],
    ['workers zero', { ...base, server: { workers: 0 } }],
    ['a size in gigabytes', { ...base, server: { max_header_size: '1gb' } }],
    ['a bad route name', { ...base, routes: [{ name: 'has space', prefix: '/', upstream: 'app' }] }],
    ['forward headers with a non-string claim', { ...base, forward: { headers: { 'X-A': 1 } } }],
    ['rate limits and cors, global and per route', {
      ...base,
      rate_limits: { a: { requests: 1, per: '1s', burst: 2, key: 'claim:org.id' }, b: { requests: 5, per: '1m', key: 'header:X-Api-Key' } },
      rate_limit_store: 'rediss://u:p@cache:6380/2',
      rate_limit_failure: 'closed',
      rate_limit_timeout: '250ms',
      cors: { origins: ['https://*.example.com'], methods: ['GET'], headers: ['Authorization'], expose_headers: ['X-Request-Id'], credentials: true, max_age: '10m' },
      routes: [{ name: 'r', prefix: '/', upstream: 'app', rate_limit: ['a', 'b'], cors: false }, { name: 's', prefix: '/s', upstream: 'app', rate_limit: 'a', cors: { origins: ['*'] } }],
    }],
    ['a route with cors: true', { ...base, routes: [{ name: 'r', prefix: '/', upstream: 'app', cors: true }] }],
    ['a policy without a key', { ...base, rate_limits: { a: { requests: 1, per: '1s' } } }],
    ['a policy keyed by something unknown', { ...base, rate_limits: { a: { requests: 1, per: '1s', key: 'user' } } }],
    ['a store that is neither memory nor redis', { ...base, rate_limit_store: 'memcached://x' }],
    ['an empty origins list', { ...base, cors: { origins: [] } }],
  ];

  const validate = new Ajv2020({ strict: false }).compile(gatewayJsonSchema());
  for (const [name, sample] of samples) {
    test(`the validator and the JSON Schema agree on ${name}`, () => {
      const byValidator = gatewaySchema.safeParse(sample).success;
      const bySchema = validate(sample);
      assert.equal(bySchema, byValidator, JSON.stringify(validate.errors));
    });
  }
});

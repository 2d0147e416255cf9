// What `portcullis validate` says about rate_limits, rate_limit_store and cors: every problem at its
// FILE:LINE:COL, with a fix, and nothing it must not repeat (a Redis password).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfigText } from '../../src/config/load.ts';
import { formatProblem } from '../../src/config/problems.ts';

/** Lines 1-2 upstreams, 3 "routes:", the route on 4-8 (rate_limit on 7, cors on 8); `extra` from line 9. */
function config(route: string, extra: string): string {
  return `upstreams:
  app: http://127.0.0.1:3000
routes:
  - name: api
    prefix: /api
    upstream: app
${route}
${extra}`;
}

const shown = (text: string) => loadConfigText('gw.yaml', text, {}).problems.map(formatProblem);

describe('validate: rate limits', () => {
  test('an unknown policy name is an error at the route, with the nearest defined name', () => {
    const text = config('    auth: public\n    rate_limit: [per-ip, per-usr]', `rate_limits:
  per-ip: { requests: 10, per: 1s, key: ip }
  per-user: { requests: 10, per: 1m, key: ip }`);
    assert.deepEqual(shown(text), [
      'gw.yaml:8:26: routes[0].rate_limit[1]: unknown rate limit policy "per-usr" (did you mean "per-user"?); define it under rate_limits',
    ]);
  });

  test('a window that is not whole seconds or longer than 24 days, a bad key and a bad claim path', () => {
    const text = config('    auth: public\n    rate_limit: a', `rate_limits:
  a: { requests: 10, per: 1500ms, key: ip }
  b: { requests: 0, per: 1s, key: user }
  c: { requests: 1, per: 1s, key: "claim:org..id" }
  d: { requests: 1, per: 600h, key: ip }`);
    assert.deepEqual(shown(text), [
      'gw.yaml:10:27: rate_limits.a.per: a rate limit window is a whole number of seconds (1s, 30s, 1m, 1h): counts expire by the second',
      'gw.yaml:11:18: rate_limits.b.requests: at least 1 request per window',
      'gw.yaml:11:35: rate_limits.b.key: expected sub, ip, route, claim:<path> or header:<Name>',
      'gw.yaml:12:35: rate_limits.c.key: "org..id" has an empty name; write names separated by single dots (realm_access.roles), and a name containing dots in brackets: resource_access["orders.api"].roles',
      'gw.yaml:13:26: rate_limits.d.per: a rate limit window is at most 576h (24 days)',
    ]);
  });

  test('a bad store URL is refused without repeating it (it may hold a password)', () => {
    const text = config('    auth: public\n    rate_limit: a', `rate_limits:
  a: { requests: 10, per: 1s, key: ip }
rate_limit_store: redis://:hunter2@/cache`);
    const problems = shown(text);
    assert.deepEqual(problems, ['gw.yaml:11:19: rate_limit_store: expected redis://[user:password@]host[:port][/db] (rediss:// for TLS), with a database number as its only path']);
    assert.ok(!problems.join('').includes('hunter2'));
    const wrong = shown(config('    auth: public', 'rate_limit_store: http://secret@cache:6379'));
    assert.ok(!wrong.join('').includes('secret@'), wrong.join('\n'));
  });

  test('warnings: a policy no route uses, a token key on a public route, an ip key anyone can choose', () => {
    const text = config('    auth: public\n    rate_limit: per-user', `server:
  trust_proxy: true
rate_limits:
  per-user: { requests: 10, per: 1m, key: sub }
  per-ip: { requests: 10, per: 1m, key: ip }`);
    assert.deepEqual(shown(text), [
      'gw.yaml:8:17: warning: routes[0].rate_limit: a public route reads no token, so every request counts under policy "per-user"\'s one shared "missing" key; key it by ip, or set auth: optional',
      'gw.yaml:10:16: warning: server.trust_proxy: with trust_proxy: true any client chooses its own ip key through X-Forwarded-For; list your proxies\' addresses instead',
      'gw.yaml:13:3: warning: rate_limits.per-ip: rate limit policy "per-ip" is not used by any route',
    ]);
  });
});

describe('validate: cors', () => {
  test('origins that are not origins, a wildcard in the wrong place, "*" with credentials', () => {
    const text = config('    auth: public', `cors:
  origins:
    - https://app.example.com/
    - "https://app.*.example.com"
    - "*.example.com"
    - "*"
  credentials: true`);
    assert.deepEqual(shown(text), [
      'gw.yaml:10:7: cors.origins[0]: browsers send this origin as https://app.example.com; write it that way',
      'gw.yaml:11:7: cors.origins[1]: "https://app.*.example.com": a wildcard stands for whole subdomain labels and only at the front, as in https://*.example.com',
      'gw.yaml:12:7: cors.origins[2]: "*.example.com" is not an origin: write it as https://host or http://host:port',
      'gw.yaml:13:7: cors.origins[3]: browsers refuse "*" together with credentials, and allowing every origin to send cookies would let any site act as the user; list the origins',
    ]);
  });

  test('a route\'s own block is checked too; "null" is a warning; cors: false is fine', () => {
    const text = config('    auth: public\n    cors:\n      origins: ["null", "https://*.com"]\n      headers: ["*"]', `cors: { origins: [https://app.example.com] }`);
    assert.deepEqual(shown(text), [
      'gw.yaml:9:25: routes[0].cors.origins[1]: "https://*.com" would allow every site under a top-level domain; name the domain, as in https://*.example.com',
      'gw.yaml:10:17: routes[0].cors.headers[0]: list the header names: "*" is not a name, and browsers ignore it with credentials',
    ]);
    assert.deepEqual(shown(config('    auth: public\n    cors: { origins: ["null"] }', '')), [
      'gw.yaml:8:23: warning: routes[0].cors.origins[0]: "null" is the origin of sandboxed iframes and local files: any site can produce it',
    ]);
    assert.deepEqual(shown(config('    auth: public\n    cors: false', 'cors: { origins: [https://app.example.com] }')), []);
  });
});

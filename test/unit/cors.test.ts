// CORS origins and policies without a server: how configured origins are read (and refused), what a
// wildcard matches, what a preflight is told, and the headers added to a response.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CorsPolicy } from '../../src/traffic/cors.ts';
import { matchesOrigin, parseOriginPattern } from '../../src/traffic/origin.ts';
import { applyTrafficHeaders, type MutableHeaders } from '../../src/traffic/response-headers.ts';

describe('configured origins', () => {
  const refusals: [string, RegExp][] = [
    ['app.example.com', /write it as https:\/\/host/],
    ['ftp://files.example.com', /only http:\/\/ and https:\/\//],
    ['https://app.example.com/', /browsers send this origin as https:\/\/app\.example\.com/],
    ['https://app.example.com/login', /without a path/],
    ['https://App.Example.com', /as https:\/\/app\.example\.com/],
    ['https://app.example.com:443', /as https:\/\/app\.example\.com;/],
    ['https://*example.com', /whole subdomain labels/],
    ['https://app.*.example.com', /only at the front/],
    ['https://*.*.example.com', /only at the front/],
    ['https://example.*', /only at the front/],
    ['*.example.com', /write it as https:\/\/host/],
    ['https://*.com', /every site under a top-level domain/],
    ['https://user@app.example.com', /scheme:\/\/host\[:port\]/],
  ];
  for (const [origin, message] of refusals) {
    test(`"${origin}" is refused with a fix`, () => {
      const parsed = parseOriginPattern(origin);
      assert.equal(parsed.ok, false);
      assert.match(parsed.ok ? '' : parsed.message, message);
    });
  }

  test('exact origins, ports, IPv6, "null" and "*" are read as written', () => {
    for (const origin of ['https://app.example.com', 'http://localhost:3000', 'http://[::1]:8080', 'null']) {
      assert.deepEqual(parseOriginPattern(origin), { ok: true, pattern: { kind: 'exact', origin } });
    }
    assert.deepEqual(parseOriginPattern('*'), { ok: true, pattern: { kind: 'any' } });
  });

  test('a wildcard matches one or more whole subdomain labels, with the same scheme and port, and nothing else', () => {
    const parsed = parseOriginPattern('https://*.example.com');
    assert.ok(parsed.ok);
    const matches = (origin: string) => matchesOrigin(parsed.pattern, origin);
    for (const origin of ['https://a.example.com', 'https://a-b.c.example.com', 'https://xn--bcher-kva.example.com']) assert.ok(matches(origin), origin);
    for (const origin of [
      'https://example.com',
      'https://evil-example.com',
      'https://example.com.evil.net',
      'https://a.example.com.evil.net',
      'https://.example.com',
      'https://a..example.com',
      'http://a.example.com',
      'https://a.example.com:8443',
      'https://evil.net/.example.com',
      'https://evil.net?.example.com',
      'https://user@a.example.com',
      'https://a.example.comm',
      'null',
    ]) {
      assert.ok(!matches(origin), origin);
    }
    const withPort = parseOriginPattern('https://*.example.com:8443');
    assert.ok(withPort.ok && matchesOrigin(withPort.pattern, 'https://a.example.com:8443'));
    assert.ok(withPort.ok && !matchesOrigin(withPort.pattern, 'https://a.example.com'));
  });
});

describe('a CORS policy', () => {
  const policy = new CorsPolicy({ origins: ['https://app.example.com', 'https://*.example.com'], methods: ['GET', 'put'], headers: ['Authorization'], credentials: true }, ['RateLimit']);

  test('allowsOrigin compares exactly, for the CSRF check of cookie-borne tokens too', () => {
    assert.ok(policy.allowsOrigin('https://app.example.com'));
    assert.ok(policy.allowsOrigin('https://b.example.com'));
    assert.ok(!policy.allowsOrigin('https://app.example.com.evil.net'));
    assert.ok(!policy.allowsOrigin('null'));
    assert.ok(!new CorsPolicy({ origins: ['*'], credentials: true }).allowsOrigin('https://any.test'), '"*" never with credentials');
  });

  test('a preflight is refused for an origin, a method or a header not on the lists, and allowed otherwise', () => {
    assert.equal(policy.preflight('https://evil.test', 'GET', undefined).code, 'cors_origin_not_allowed');
    assert.equal(policy.preflight('https://app.example.com', 'DELETE', undefined).code, 'cors_method_not_allowed');
    assert.equal(policy.preflight('https://app.example.com', 'PUT', 'authorization, x-other').code, 'cors_header_not_allowed');
    assert.deepEqual(policy.preflight('https://app.example.com', 'PUT', 'Authorization'), { allowed: true });
    assert.deepEqual(policy.preflight('https://app.example.com', 'GET', ' , '), { allowed: true });
  });

  test('responses: the upstream\'s CORS headers go, Vary gains Origin once, an allowed origin is echoed with credentials', () => {
    const headers: MutableHeaders = { 'access-control-allow-origin': '*', 'access-control-allow-methods': 'PATCH', vary: 'Accept-Encoding' };
    applyTrafficHeaders(headers, { origin: 'https://app.example.com', cors: policy, limits: null });
    assert.equal(headers['access-control-allow-origin'], 'https://app.example.com');
    assert.equal(headers['access-control-allow-credentials'], 'true');
    assert.equal(headers['access-control-allow-methods'], undefined);
    assert.equal(headers['access-control-expose-headers'], 'RateLimit');
    assert.equal(headers.vary, 'Accept-Encoding, Origin');

    const again: MutableHeaders = { vary: ['origin'] };
    applyTrafficHeaders(again, { origin: 'https://evil.test', cors: policy, limits: null });
    assert.deepEqual(again, { vary: ['origin'] });
  });
});

// The extractor with several token sources, the cookie and query parsing behind it, what the forwarded
// request keeps of them, and the origin rule for cookie-borne tokens.
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { describe, test } from 'node:test';
import { cookieValues, extractToken, parseTokenSource, queryValues, withoutQueryParameters, type Extraction } from '../../src/auth/extract.ts';
import { canonicalOrigin, needsOriginCheck, ownOrigin } from '../../src/pipeline/csrf.ts';
import { withoutCookies } from '../../src/proxy/headers.ts';
import { trustPolicy } from '../../src/proxy/trust.ts';

const A = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJlYQ';
const B = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJiIn0.c2lnbmF0dXJlYg';

function extract(sources: string[], headers: IncomingHttpHeaders, query = '', raw?: string[]): Extraction {
  const rawHeaders = raw ?? Object.entries(headers).flatMap(([k, v]) => [k, String(v)]);
  return extractToken(sources.map(parseTokenSource), headers, rawHeaders, query, 16_384);
}
const outcome = (e: Extraction) => (e.kind === 'rejected' ? e.code : e.kind === 'token' ? `${e.source.key} ${e.token === A ? 'A' : e.token === B ? 'B' : e.token}` : 'none');

describe('token sources', () => {
  test('each kind of source finds its token', () => {
    assert.equal(outcome(extract(['bearer'], { authorization: `Bearer ${A}` })), 'bearer A');
    assert.equal(outcome(extract(['header:X-Access-Token'], { 'x-access-token': A })), 'header:x-access-token A');
    assert.equal(outcome(extract(['cookie:at'], { cookie: `theme=dark; at=${A}; lang=en` })), 'cookie:at A');
    assert.equal(outcome(extract(['query:access_token'], {}, `?page=2&access_token=${A}`)), 'query:access_token A');
  });

  test('sources are looked in, in order; nothing anywhere is no token', () => {
    assert.equal(outcome(extract(['cookie:at', 'bearer'], { authorization: `Bearer ${A}` })), 'bearer A');
    assert.equal(outcome(extract(['cookie:at', 'bearer'], {})), 'none');
  });

  test('the same token in two sources is one token, from the first source listed', () => {
    assert.equal(outcome(extract(['cookie:at', 'bearer'], { authorization: `Bearer ${A}`, cookie: `at=${A}` })), 'cookie:at A');
    assert.equal(outcome(extract(['bearer', 'cookie:at'], { authorization: `Bearer ${A}`, cookie: `at=${A}` })), 'bearer A');
  });

  test('different tokens in two sources are refused (RFC 6750 §2: one method per request)', () => {
    assert.equal(outcome(extract(['bearer', 'cookie:at'], { authorization: `Bearer ${A}`, cookie: `at=${B}` })), 'token_duplicated');
    assert.equal(outcome(extract(['query:t', 'header:x-t'], { 'x-t': A }, `?t=${B}`)), 'token_duplicated');
  });

  test('one source carrying the token twice is refused: repeated header, cookie or parameter', () => {
    assert.equal(outcome(extract(['header:x-t'], { 'x-t': A }, '', ['X-T', A, 'x-t', A])), 'token_duplicated');
    assert.equal(outcome(extract(['cookie:at'], { cookie: `at=${A}; at=${B}` })), 'token_duplicated');
    assert.equal(outcome(extract(['query:t'], {}, `?t=${A}&t=${A}`)), 'token_duplicated');
    assert.equal(outcome(extract(['query:t'], {}, `?t=${A}&%74=${B}`)), 'token_duplicated');
  });

  test('an empty cookie, header or parameter carries no token; a bad one is refused as for bearer', () => {
    assert.equal(outcome(extract(['cookie:at'], { cookie: 'at=' })), 'none');
    assert.equal(outcome(extract(['query:t'], {}, '?t=')), 'none');
    assert.equal(outcome(extract(['cookie:at'], { cookie: 'at=abc' })), 'token_malformed');
    assert.equal(outcome(extract(['header:x-t'], { 'x-t': 'a.b.c.d.e' })), 'token_encrypted');
    const big = `${'a'.repeat(20_000)}.b.c`;
    const refused = extract(['cookie:at'], { cookie: `at=${big}` });
    assert.equal(outcome(refused), 'token_too_large');
    assert.match(refused.kind === 'rejected' ? refused.message : '', /server\.max_token_size/);
  });

  test('another Authorization scheme is still refused where bearer is a source', () => {
    assert.equal(outcome(extract(['cookie:at', 'bearer'], { authorization: 'Basic dXNlcjpwYXNz', cookie: `at=${A}` })), 'token_scheme');
  });
});

describe('cookie and query parsing', () => {
  test('cookie names compare exactly; quoted values are unquoted', () => {
    assert.deepEqual(cookieValues(`AT=x; at="${A}"; xat=y`, 'at'), [A]);
    assert.deepEqual(cookieValues('a=1;b=2', 'b'), ['2']);
    assert.deepEqual(cookieValues(undefined, 'at'), []);
  });

  test('query names and values are percent-decoded', () => {
    assert.deepEqual(queryValues(`?access%5Ftoken=${A}`, 'access_token'), [A]);
    assert.deepEqual(queryValues('?access_token', 'access_token'), ['']);
    assert.deepEqual(queryValues('?x=1', 'access_token'), []);
  });

  test('token parameters leave the query, in any spelling; the rest is kept as sent', () => {
    const names = new Set(['access_token']);
    assert.equal(withoutQueryParameters(`?a=%41&access_token=${A}&b=2`, names), '?a=%41&b=2');
    assert.equal(withoutQueryParameters(`?access%5ftoken=${A}`, names), '');
    assert.equal(withoutQueryParameters(`?access_token=${A}&access_token=${B}`, names), '');
    assert.equal(withoutQueryParameters('?access_token', names), '');
    assert.equal(withoutQueryParameters('?x=1', names), '?x=1');
    assert.equal(withoutQueryParameters('', names), '');
  });

  test('token cookies leave the Cookie header; others stay; none left is no header', () => {
    const names = new Set(['at']);
    assert.equal(withoutCookies(`theme=dark; at=${A}; lang=en`, names), 'theme=dark; lang=en');
    assert.equal(withoutCookies(`at=${A}; at=${B}`, names), undefined);
    assert.equal(withoutCookies('a=1;b=2', names), 'a=1;b=2');
  });
});

describe('the origin rule for cookie tokens', () => {
  const request = (method: string, headers: IncomingHttpHeaders, remoteAddress = '203.0.113.9', encrypted = false) => ({
    method,
    url: '/',
    headers,
    rawHeaders: [],
    socket: { remoteAddress, encrypted },
  });

  test('unsafe methods and WebSocket handshakes need it; GET, HEAD, OPTIONS, TRACE do not', () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'PROPFIND']) assert.equal(needsOriginCheck(request(method, {})), true, method);
    for (const method of ['GET', 'HEAD', 'OPTIONS', 'TRACE']) assert.equal(needsOriginCheck(request(method, {})), false, method);
    assert.equal(needsOriginCheck(request('GET', { upgrade: 'WebSocket', connection: 'Upgrade' })), true);
  });

  test('origins compare without case and default ports', () => {
    assert.equal(canonicalOrigin('HTTPS://API.Example.com:443'), 'https://api.example.com');
    assert.equal(canonicalOrigin('http://a.example:80'), 'http://a.example');
    assert.equal(canonicalOrigin('http://a.example:8080'), 'http://a.example:8080');
  });

  test('the own origin is the connection\'s scheme and Host, or a trusted proxy\'s forwarded ones', () => {
    const nobody = trustPolicy(false);
    const proxies = trustPolicy(['10.0.0.0/8']);
    const forwarded = { host: 'internal:8080', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'api.example.com' };
    assert.equal(ownOrigin(request('POST', { host: 'api.example.com' }), nobody), 'http://api.example.com');
    assert.equal(ownOrigin(request('POST', { host: 'api.example.com' }, '203.0.113.9', true), nobody), 'https://api.example.com');
    assert.equal(ownOrigin(request('POST', forwarded, '10.1.2.3'), proxies), 'https://api.example.com');
    assert.equal(ownOrigin(request('POST', forwarded, '203.0.113.9'), proxies), 'http://internal:8080');
  });
});

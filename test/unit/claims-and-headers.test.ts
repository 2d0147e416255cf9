// What the gateway reads from a token and what it tells the upstream: claims, the bearer token itself,
// the rewritten request headers and whose forwarding headers are trusted.
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { describe, test } from 'node:test';
import { claimPath, readClaim as readPath } from '../../src/auth/claim-path.ts';
import { headerValueOf, listOf, rolesOf as rolesAt, scopesOf as scopesAt } from '../../src/auth/claims.ts';
import { BEARER_SOURCE, extractBearer } from '../../src/auth/extract.ts';
import type { Identity } from '../../src/auth/identity.ts';
import { forwardedHeaders, spoofableNames, type ForwardFacts, type ForwardPolicy } from '../../src/proxy/headers.ts';
import { parseCidr, trustPolicy } from '../../src/proxy/trust.ts';

/** The readers with paths written as segment lists, as these tests were first written. */
const path = (segments: readonly string[]) => claimPath(segments.join('.'));
const readClaim = (payload: Record<string, unknown>, segments: readonly string[]) => readPath(payload, path(segments));
const rolesOf = (payload: Record<string, unknown>, segments: readonly string[]) => rolesAt(payload, [path(segments)]);
const scopesOf = (payload: Record<string, unknown>) => scopesAt(payload, [claimPath('scope'), claimPath('scp')]);

describe('claims', () => {
  const payload = {
    sub: 'u1',
    realm_access: { roles: ['admin', 'user'], nested: { deep: 7 } },
    list: ['a', 'b'],
    text: 'plain',
    nothing: null,
  };

  test('readClaim follows dotted paths through objects', () => {
    assert.equal(readClaim(payload, ['sub']), 'u1');
    assert.deepEqual(readClaim(payload, ['realm_access', 'roles']), ['admin', 'user']);
    assert.equal(readClaim(payload, ['realm_access', 'nested', 'deep']), 7);
  });

  test('readClaim gives undefined for missing claims and for steps through non-objects', () => {
    assert.equal(readClaim(payload, ['missing']), undefined);
    assert.equal(readClaim(payload, ['realm_access', 'missing', 'x']), undefined);
    assert.equal(readClaim(payload, ['text', 'length']), undefined);
    assert.equal(readClaim(payload, ['list', '0']), undefined);
    assert.equal(readClaim(payload, ['nothing', 'x']), undefined);
    assert.equal(readClaim(payload, ['sub', 'x']), undefined);
  });

  test('readClaim does not read inherited properties', () => {
    assert.equal(readClaim(payload, ['constructor']), undefined);
    assert.equal(readClaim(payload, ['realm_access', '__proto__']), undefined);
    assert.equal(readClaim(payload, ['toString']), undefined);
  });

  test('rolesOf accepts an array or a string separated by spaces or commas', () => {
    assert.deepEqual(rolesOf({ roles: ['a', 'b'] }, ['roles']), ['a', 'b']);
    assert.deepEqual(rolesOf({ roles: 'a b' }, ['roles']), ['a', 'b']);
    assert.deepEqual(rolesOf({ roles: 'a,b' }, ['roles']), ['a', 'b']);
    assert.deepEqual(rolesOf({ roles: ' a, b  c,' }, ['roles']), ['a', 'b', 'c']);
    assert.deepEqual(rolesOf({ r: { roles: ['x'] } }, ['r', 'roles']), ['x']);
  });

  test('rolesOf ignores what is not a role: other types, non-strings in arrays, empty strings', () => {
    assert.deepEqual(rolesOf({ roles: ['a', 1, null, '', { b: 1 }] }, ['roles']), ['a']);
    assert.deepEqual(rolesOf({ roles: 42 }, ['roles']), []);
    assert.deepEqual(rolesOf({ roles: true }, ['roles']), []);
    assert.deepEqual(rolesOf({}, ['roles']), []);
    assert.deepEqual(listOf('', /,/), []);
  });

  test('scopesOf is the union of scope and scp, without duplicates', () => {
    assert.deepEqual(scopesOf({ scope: 'read write' }), ['read', 'write']);
    assert.deepEqual(scopesOf({ scp: ['read', 'admin'] }), ['read', 'admin']);
    assert.deepEqual(scopesOf({ scope: 'read  write', scp: ['write', 'admin'] }), ['read', 'write', 'admin']);
    assert.deepEqual(scopesOf({ scp: 'a b' }), ['a', 'b']);
    assert.deepEqual(scopesOf({}), []);
  });

  test('headerValueOf turns claims into header text', () => {
    assert.equal(headerValueOf('alice'), 'alice');
    assert.equal(headerValueOf(42), '42');
    assert.equal(headerValueOf(0), '0');
    assert.equal(headerValueOf(false), 'false');
    assert.equal(headerValueOf(['a', 'b', 3]), 'a,b,3');
    assert.equal(headerValueOf({ a: 1, b: 'x' }), '{"a":1,"b":"x"}');
    assert.equal(headerValueOf('Alice Smith'), 'Alice Smith');
  });

  test('headerValueOf gives undefined for missing claims and for control characters', () => {
    assert.equal(headerValueOf(undefined), undefined);
    assert.equal(headerValueOf(null), undefined);
    assert.equal(headerValueOf('a\r\nX-Injected: 1'), undefined);
    assert.equal(headerValueOf('a\nb'), undefined);
    assert.equal(headerValueOf('nul\u0000'), undefined);
    assert.equal(headerValueOf('del\u007f'), undefined);
    assert.equal(headerValueOf(['ok', 'bad\n']), undefined);
  });

  test('headerValueOf sends only text every upstream reads as itself: no trimmed, invisible or look-alike characters', () => {
    for (const text of [
      'tab\tinside', ' admin', 'admin ', 'admin\u0085', 'admin\u00a0', '\u3000admin', 'admin\u2028', 'admin\ufeff',
      'ad\u200bmin', 'admin\u202e', '\u0664\u0662', '\uff41dmin', 'adm\u0131n', '\ud800', 'admin\ue000',
    ]) {
      assert.equal(headerValueOf(text), undefined, JSON.stringify(text));
    }
    for (const text of ['Zoë Müller', 'O\u2019Brien', 'straße', '€5', 'a,b', '{"a":"x y"}']) {
      assert.notEqual(headerValueOf(text), undefined, JSON.stringify(text));
    }
  });

  test('headerValueOf sends non-ASCII text as its UTF-8 bytes', () => {
    const value = headerValueOf('José');
    assert.equal(value, 'Jos\u00c3\u00a9');
    assert.equal(Buffer.from(value!, 'latin1').toString('utf8'), 'José');
    assert.equal(headerValueOf('日本'), Buffer.from('日本', 'utf8').toString('latin1'));
  });
});

describe('extractBearer', () => {
  const JWS = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2lnbmF0dXJl';
  const extract = (authorization: string | undefined, raw?: string[], max = 8192) =>
    extractBearer(
      authorization === undefined ? {} : { authorization },
      raw ?? (authorization === undefined ? [] : ['Authorization', authorization]),
      max,
    );
  const code = (e: ReturnType<typeof extract>) => (e.kind === 'rejected' ? e.code : e.kind);

  test('no Authorization header means no token', () => {
    assert.deepEqual(extract(undefined), { kind: 'none' });
  });

  test('a bearer JWS is extracted, whatever the case of the scheme', () => {
    const found = { kind: 'token', token: JWS, source: BEARER_SOURCE };
    assert.deepEqual(extract(`Bearer ${JWS}`), found);
    assert.deepEqual(extract(`bearer ${JWS}`), found);
    assert.deepEqual(extract(`BEARER   ${JWS}`), found);
  });

  test('two Authorization headers are refused, in any spelling', () => {
    assert.equal(code(extract(`Bearer ${JWS}`, ['Authorization', `Bearer ${JWS}`, 'authorization', 'Bearer x.y.z'])), 'token_duplicated');
    assert.equal(code(extract(`Bearer ${JWS}`, ['Host', 'a', 'AUTHORIZATION', `Bearer ${JWS}`])), 'token');
  });

  test('another scheme is refused', () => {
    assert.equal(code(extract('Basic dXNlcjpwYXNz')), 'token_scheme');
    assert.equal(code(extract(`Bearer${JWS}`)), 'token_scheme');
    assert.equal(code(extract(JWS)), 'token_scheme');
  });

  test('a token larger than the limit is refused', () => {
    assert.equal(code(extract(`Bearer ${JWS}`, undefined, JWS.length)), 'token');
    assert.equal(code(extract(`Bearer ${JWS}`, undefined, JWS.length - 1)), 'token_too_large');
  });

  test('an encrypted token (JWE, five parts) is refused as such', () => {
    assert.equal(code(extract('Bearer aaa.bbb.ccc.ddd.eee')), 'token_encrypted');
    assert.equal(code(extract('Bearer aaa..ccc.ddd.')), 'token_encrypted');
  });

  test('anything else is malformed', () => {
    for (const token of ['abc', 'a.b', 'a.b.c.d', 'a..c', 'a.b.c=', 'a.b.c d', 'a+b.c.d', '']) {
      assert.equal(code(extract(`Bearer ${token}`)), 'token_malformed', token);
    }
  });
});

describe('forwardedHeaders', () => {
  const identityHeaders = ['x-user-id', 'x-user-roles'];
  const policy = (trust: string[] | boolean = false, stripAuthorization = false): ForwardPolicy => ({
    identityHeaders,
    spoofable: spoofableNames(identityHeaders),
    stripAuthorization,
    tokenHeaders: [],
    tokenCookies: new Set(),
    trust: trustPolicy(trust),
  });
  const facts: ForwardFacts = { requestId: 'req-1', remoteAddress: '203.0.113.9', host: 'api.example.com', encrypted: false, upgrade: false };
  const identity = { headers: [['x-user-id', 'u1'], ['x-user-roles', 'admin']] } as unknown as Identity;

  /** The forwarded header lines as an object (the forwarder's own Host slot, last, left out). */
  function rewrite(headers: IncomingHttpHeaders, p = policy(), id: Identity | null = null, f: Partial<ForwardFacts> = {}) {
    const lines = forwardedHeaders(headers, p, id, { ...facts, ...f });
    assert.deepEqual(lines.slice(-2), ['host', ''], 'the list ends with the Host slot the forwarder fills');
    const out: Record<string, string> = {};
    for (let i = 0; i < lines.length - 2; i += 2) out[lines[i]!] = out[lines[i]!] === undefined ? lines[i + 1]! : `${out[lines[i]!]}, ${lines[i + 1]!}`;
    return out;
  }

  test('client-sent identity headers are removed in every spelling', () => {
    const out = rewrite({ 'x-user-id': 'evil', x_user_id: 'evil', 'x.user.id': 'evil', 'x_user-roles': 'evil', accept: '*/*' });
    for (const name of ['x-user-id', 'x_user_id', 'x.user.id', 'x_user-roles']) assert.equal(out[name], undefined, name);
    assert.equal(out.accept, '*/*');
  });

  test('identity headers come from the verified identity only', () => {
    const out = rewrite({ 'x-user-id': 'evil' }, policy(), identity);
    assert.equal(out['x-user-id'], 'u1');
    assert.equal(out['x-user-roles'], 'admin');
  });

  test('headers named in Connection are removed, but not the ones the gateway sets afterwards', () => {
    const out = rewrite(
      { connection: 'x-secret, X-User-Id, x-forwarded-for, x-request-id', 'x-secret': 's', host: 'api.example.com' },
      policy(),
      identity,
    );
    assert.equal(out['x-secret'], undefined);
    assert.equal(out.connection, undefined);
    assert.equal(out['x-user-id'], 'u1');
    assert.equal(out['x-forwarded-for'], '203.0.113.9');
    assert.equal(out['x-request-id'], 'req-1');
  });

  test('Connection can not remove the body framing; Host and Transfer-Encoding are the forwarder\'s to set', () => {
    const out = rewrite({ connection: 'host, content-length, transfer-encoding', host: 'h', 'content-length': '5', 'transfer-encoding': 'chunked' });
    assert.equal(out['content-length'], '5');
    assert.equal(out.host, undefined, 'Host is set per target by the forwarder (the client\'s with preserve_host)');
    assert.equal(out['transfer-encoding'], undefined, 'the forwarder frames the body it sends itself');
  });

  test('hop-by-hop headers are removed', () => {
    const hop = { connection: 'keep-alive', 'keep-alive': 'timeout=5', 'proxy-connection': 'x', te: 'trailers', trailer: 'x', upgrade: 'h2c', 'proxy-authorization': 'Basic x', expect: '100-continue' };
    const out = rewrite({ ...hop, accept: 'a' });
    for (const name of Object.keys(hop)) assert.equal(out[name], undefined, name);
    assert.equal(out.accept, 'a');
  });

  test('method and URL override headers are removed in every spelling', () => {
    const out = rewrite({ 'x-http-method-override': 'DELETE', x_http_method_override: 'DELETE', 'x-original-url': '/admin', 'x-rewrite-url': '/admin', 'x-request-id': 'mine' });
    assert.deepEqual(Object.keys(out).sort(), ['x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-request-id']);
    assert.equal(out['x-request-id'], 'req-1');
  });

  test('an untrusted client\'s forwarding headers are replaced by what the gateway saw', () => {
    const out = rewrite({ 'x-forwarded-for': '1.2.3.4', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil', 'x-real-ip': '1.2.3.4', forwarded: 'for=1.2.3.4', 'true-client-ip': '1.2.3.4' }, policy(false), null, { encrypted: true });
    assert.equal(out['x-forwarded-for'], '203.0.113.9');
    assert.equal(out['x-forwarded-proto'], 'https');
    assert.equal(out['x-forwarded-host'], 'api.example.com');
    for (const name of ['x-real-ip', 'forwarded', 'true-client-ip']) assert.equal(out[name], undefined, name);
  });

  test('a trusted proxy\'s forwarding headers are kept and the client is appended to X-Forwarded-For', () => {
    const out = rewrite({ 'x-forwarded-for': '198.51.100.1', 'x-forwarded-proto': 'https', 'x-real-ip': '198.51.100.1', x_forwarded_for: 'evil' }, policy(['203.0.113.0/24']), null, { encrypted: false });
    assert.equal(out['x-forwarded-for'], '198.51.100.1, 203.0.113.9');
    assert.equal(out['x-forwarded-proto'], 'https');
    assert.equal(out['x-forwarded-host'], 'api.example.com');
    assert.equal(out['x-real-ip'], '198.51.100.1');
    assert.equal(out.x_forwarded_for, undefined);
  });

  test('an IPv4-mapped client address is written as plain IPv4 and checked against IPv4 ranges', () => {
    const out = rewrite({ 'x-forwarded-for': '198.51.100.1' }, policy(['10.0.0.0/8']), null, { remoteAddress: '::ffff:10.1.2.3' });
    assert.equal(out['x-forwarded-for'], '198.51.100.1, 10.1.2.3');
  });

  test('a WebSocket upgrade keeps Connection and Upgrade', () => {
    const out = rewrite({ connection: 'Upgrade, x-secret', upgrade: 'websocket', 'x-secret': 's' }, policy(), null, { upgrade: true });
    assert.equal(out.connection, 'upgrade');
    assert.equal(out.upgrade, 'websocket');
    assert.equal(out['x-secret'], undefined);
  });

  test('Authorization is kept or stripped as configured', () => {
    assert.equal(rewrite({ authorization: 'Bearer t' }).authorization, 'Bearer t');
    assert.equal(rewrite({ authorization: 'Bearer t' }, policy(false, true)).authorization, undefined);
  });
});

describe('trust_proxy', () => {
  test('parseCidr reads addresses and CIDRs of both families', () => {
    assert.deepEqual(parseCidr('10.0.0.0/8'), { address: '10.0.0.0', prefix: 8, family: 'ipv4' });
    assert.deepEqual(parseCidr(' 192.168.1.1 '), { address: '192.168.1.1', prefix: 32, family: 'ipv4' });
    assert.deepEqual(parseCidr('2001:db8::/32'), { address: '2001:db8::', prefix: 32, family: 'ipv6' });
    assert.deepEqual(parseCidr('::1'), { address: '::1', prefix: 128, family: 'ipv6' });
  });

  test('parseCidr refuses what is not an address or CIDR', () => {
    for (const text of ['', 'localhost', '10.0.0', '10.0.0.0/33', '::/129', '10.0.0.0/', '10.0.0.0/-1', '10.0.0.0/8.5', '10.0.0.0/ 8']) {
      assert.equal(parseCidr(text), undefined, text);
    }
  });

  test('parseCidr refuses a CIDR with a second prefix', () => {
    assert.equal(parseCidr('10.0.0.0/8/16'), undefined);
    assert.equal(parseCidr('10.0.0.1/32/0'), undefined);
  });

  test('trustPolicy: true trusts everyone, false or an empty list nobody', () => {
    assert.equal(trustPolicy(true).trusts('203.0.113.9'), true);
    assert.equal(trustPolicy(false).trusts('127.0.0.1'), false);
    assert.equal(trustPolicy([]).trusts('127.0.0.1'), false);
  });

  test('trustPolicy with a list trusts exactly the addresses in it', () => {
    const policy = trustPolicy(['10.0.0.0/8', '192.168.1.7', '2001:db8::/32']);
    assert.equal(policy.trusts('10.255.0.1'), true);
    assert.equal(policy.trusts('11.0.0.1'), false);
    assert.equal(policy.trusts('192.168.1.7'), true);
    assert.equal(policy.trusts('192.168.1.8'), false);
    assert.equal(policy.trusts('2001:db8::5'), true);
    assert.equal(policy.trusts('2001:db9::5'), false);
    assert.equal(policy.trusts('not-an-ip'), false);
    assert.equal(policy.trusts(''), false);
  });
});

// Route matching: path patterns, host patterns and the route table (first match in file order wins).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BEARER_SOURCE } from '../../src/auth/extract.ts';
import type { Requirement } from '../../src/auth/requirement.ts';
import { routeMethods } from '../../src/config/warnings.ts';
import type { Upstream } from '../../src/proxy/upstream.ts';
import { canonicalHost, compileHost, hostCovers } from '../../src/routing/host.ts';
import { compilePattern, patternCovers } from '../../src/routing/pattern.ts';
import type { Route } from '../../src/routing/route.ts';
import { Router, type RouteMatch } from '../../src/routing/router.ts';

interface RouteSpec {
  readonly name: string;
  readonly path?: string;
  readonly prefix?: string;
  readonly methods?: string[];
  readonly host?: string;
}

/** Routes as compile.ts builds them; requirement and upstream are stand-ins the router never reads. */
function routes(specs: RouteSpec[], caseInsensitive = false): Route[] {
  return specs.map((spec, index) => ({
    name: spec.name,
    index,
    pattern: compilePattern((spec.path ?? spec.prefix)!, spec.path !== undefined ? 'exact' : 'prefix', caseInsensitive),
    methods: routeMethods(spec.methods),
    host: spec.host !== undefined ? compileHost(spec.host) : null,
    auth: 'required',
    tokenSources: [BEARER_SOURCE],
    checkProviderSource: false,
    requirement: { anyRoles: [], allRoles: [], scopes: [], providers: null, claims: [], usesPathParameters: false } as Requirement,
    upstream: { name: 'app' } as unknown as Upstream,
    stripPrefix: false,
    timeoutMs: 30_000,
    maxBody: null,
    cors: null,
    rateLimit: null,
  }));
}

function router(specs: RouteSpec[], caseInsensitive = false): Router {
  return new Router(routes(specs, caseInsensitive), { caseInsensitive });
}

/** The name of the route a request goes to, or "404" / "405 GET, HEAD". */
function outcome(match: RouteMatch): string {
  if (match.kind === 'route') return match.route.name;
  if (match.kind === 'not_found') return '404';
  return `405 ${match.allow.join(', ')}`;
}

function go(r: Router, path: string, method = 'GET', host?: string): string {
  return outcome(r.match(method, host, path));
}

/** matches() of a single pattern, splitting the path as the router does. */
function patternMatches(source: string, kind: 'exact' | 'prefix', path: string): boolean {
  return compilePattern(source, kind, false).matches(path, path.slice(1).split('/'));
}

describe('compilePattern', () => {
  test('an exact literal pattern matches only that path', () => {
    assert.equal(patternMatches('/health', 'exact', '/health'), true);
    assert.equal(patternMatches('/health', 'exact', '/health/x'), false);
    assert.equal(patternMatches('/health', 'exact', '/healthz'), false);
  });

  test('an exact path also matches with one trailing slash, as upstreams that ignore it serve it', () => {
    assert.equal(patternMatches('/health', 'exact', '/health/'), true);
    assert.equal(patternMatches('/users/:id', 'exact', '/users/42/'), true);
    assert.equal(patternMatches('/users/:id', 'exact', '/users//'), false);
    assert.equal(patternMatches('/users/:id', 'exact', '/users/42/x/'), false);
  });

  test('an exact path written with a trailing slash matches the path without it too, as upstreams serve both', () => {
    assert.equal(patternMatches('/admin/', 'exact', '/admin'), true);
    assert.equal(patternMatches('/admin/', 'exact', '/admin/'), true);
    assert.equal(patternMatches('/users/:id/', 'exact', '/users/42'), true);
    assert.equal(patternMatches('/admin/', 'exact', '/admin/x'), false);
  });

  test('a prefix matches whole segments only', () => {
    assert.equal(patternMatches('/api/orders', 'prefix', '/api/orders'), true);
    assert.equal(patternMatches('/api/orders', 'prefix', '/api/orders/'), true);
    assert.equal(patternMatches('/api/orders', 'prefix', '/api/orders/7/lines'), true);
    assert.equal(patternMatches('/api/orders', 'prefix', '/api/ordersX'), false);
    assert.equal(patternMatches('/api/orders', 'prefix', '/api/order'), false);
    assert.equal(patternMatches('/api/orders', 'prefix', '/api'), false);
  });

  test('a prefix written with a trailing slash behaves like the one without', () => {
    assert.equal(patternMatches('/api/', 'prefix', '/api'), true);
    assert.equal(patternMatches('/api/', 'prefix', '/api/x'), true);
    assert.equal(patternMatches('/api/', 'prefix', '/apix'), false);
  });

  test('the prefix "/" matches every path', () => {
    for (const path of ['/', '/a', '/a/b/c', '/x/']) assert.equal(patternMatches('/', 'prefix', path), true, path);
  });

  test('a parameter matches exactly one non-empty segment', () => {
    assert.equal(patternMatches('/users/:id', 'exact', '/users/42'), true);
    assert.equal(patternMatches('/users/:id', 'exact', '/users/'), false);
    assert.equal(patternMatches('/users/:id', 'exact', '/users'), false);
    assert.equal(patternMatches('/users/:id', 'exact', '/users/42/x'), false);
    assert.equal(patternMatches('/users/:id/orders', 'exact', '/users/42/orders'), true);
    assert.equal(patternMatches('/users/:id/orders', 'exact', '/users/42/carts'), false);
  });

  test('a prefix with a parameter matches deeper paths but not an empty parameter', () => {
    assert.equal(patternMatches('/t/:tenant', 'prefix', '/t/acme'), true);
    assert.equal(patternMatches('/t/:tenant', 'prefix', '/t/acme/orders/1'), true);
    assert.equal(patternMatches('/t/:tenant', 'prefix', '/t/'), false);
    assert.equal(patternMatches('/t/:tenant', 'prefix', '/t'), false);
  });

  test('strip() removes a literal prefix and keeps the leading slash', () => {
    const p = compilePattern('/api', 'prefix', false);
    assert.equal(p.strip('/api/orders/1'), '/orders/1');
    assert.equal(p.strip('/api'), '/');
    assert.equal(p.strip('/api/'), '/');
    assert.equal(compilePattern('/api/v1/', 'prefix', false).strip('/api/v1/x'), '/x');
  });

  test('strip() removes as many segments as a parameter prefix has', () => {
    const p = compilePattern('/t/:tenant', 'prefix', false);
    assert.equal(p.strip('/t/acme/orders'), '/orders');
    assert.equal(p.strip('/t/acme'), '/');
  });

  test('strip() leaves the path alone for "/" and for exact patterns', () => {
    assert.equal(compilePattern('/', 'prefix', false).strip('/a/b'), '/a/b');
    assert.equal(compilePattern('/a', 'exact', false).strip('/a'), '/a');
  });

  test('a case-insensitive pattern is folded to lower case', () => {
    const p = compilePattern('/Admin/:ID', 'exact', true);
    assert.deepEqual(p.segments, ['admin', null]);
  });
});

describe('patternCovers', () => {
  const p = (source: string, kind: 'exact' | 'prefix') => compilePattern(source, kind, false);

  test('a prefix covers the same prefix, longer prefixes and exact paths below it', () => {
    assert.equal(patternCovers(p('/api', 'prefix'), p('/api', 'prefix')), true);
    assert.equal(patternCovers(p('/api', 'prefix'), p('/api/orders', 'prefix')), true);
    assert.equal(patternCovers(p('/api', 'prefix'), p('/api/orders/:id', 'exact')), true);
    assert.equal(patternCovers(p('/', 'prefix'), p('/anything', 'exact')), true);
  });

  test('a prefix does not cover a sibling or a shorter prefix', () => {
    assert.equal(patternCovers(p('/api/orders', 'prefix'), p('/api/ordersX', 'prefix')), false);
    assert.equal(patternCovers(p('/api/orders', 'prefix'), p('/api', 'prefix')), false);
  });

  test('an exact path covers only the same exact path', () => {
    assert.equal(patternCovers(p('/a/b', 'exact'), p('/a/b', 'exact')), true);
    assert.equal(patternCovers(p('/a/b', 'exact'), p('/a/b', 'prefix')), false);
    assert.equal(patternCovers(p('/a', 'exact'), p('/a/b', 'exact')), false);
  });

  test('a parameter covers a literal segment, but not the other way round', () => {
    assert.equal(patternCovers(p('/users/:id', 'exact'), p('/users/me', 'exact')), true);
    assert.equal(patternCovers(p('/users/me', 'exact'), p('/users/:id', 'exact')), false);
    assert.equal(patternCovers(p('/users/:a', 'prefix'), p('/users/:b/x', 'exact')), true);
  });
});

describe('host patterns', () => {
  test('canonicalHost drops port, case and a trailing dot', () => {
    assert.equal(canonicalHost('Admin.Example.com.:8080'), 'admin.example.com');
    assert.equal(canonicalHost(' API.example.com '), 'api.example.com');
    assert.equal(canonicalHost('example.com.'), 'example.com');
    assert.equal(canonicalHost('[::1]:80'), '[::1]');
    assert.equal(canonicalHost('[::1]'), '[::1]');
    assert.equal(canonicalHost(undefined), '');
    assert.equal(canonicalHost(''), '');
  });

  test('an exact host pattern matches that name only', () => {
    const h = compileHost('API.example.com');
    assert.equal(h.matches('api.example.com'), true);
    assert.equal(h.matches('x.api.example.com'), false);
    assert.equal(h.matches('example.com'), false);
  });

  test('a wildcard matches any subdomain depth but not the bare domain', () => {
    const h = compileHost('*.example.com');
    assert.equal(h.matches('a.example.com'), true);
    assert.equal(h.matches('a.b.example.com'), true);
    assert.equal(h.matches('example.com'), false);
    assert.equal(h.matches('.example.com'), false);
    assert.equal(h.matches('badexample.com'), false);
  });

  test('hostCovers: no host covers everything, a wildcard covers its subdomains', () => {
    assert.equal(hostCovers(null, compileHost('a.example.com')), true);
    assert.equal(hostCovers(compileHost('a.example.com'), null), false);
    assert.equal(hostCovers(compileHost('A.example.com.'), compileHost('a.example.com')), true);
    assert.equal(hostCovers(compileHost('*.example.com'), compileHost('a.example.com')), true);
    assert.equal(hostCovers(compileHost('*.example.com'), compileHost('example.com')), false);
    assert.equal(hostCovers(compileHost('a.example.com'), compileHost('*.example.com')), false);
    assert.equal(hostCovers(compileHost('*.a.example.com'), compileHost('*.example.com')), false);
  });

  // Every host "*.a.example.com" matches (x.a.example.com, ...) is matched by "*.example.com".
  test('hostCovers: a wildcard covers a narrower wildcard below it', () => {
    assert.equal(hostCovers(compileHost('*.example.com'), compileHost('*.a.example.com')), true);
    assert.equal(hostCovers(compileHost('*.example.com'), compileHost('*.a.b.example.com')), true);
    assert.equal(hostCovers(compileHost('*.example.com'), compileHost('*.badexample.com')), false);
  });
});

describe('Router', () => {
  test('the first matching route in file order wins', () => {
    const r = router([
      { name: 'orders', prefix: '/api/orders' },
      { name: 'api', prefix: '/api' },
      { name: 'again', prefix: '/api/orders' },
    ]);
    assert.equal(go(r, '/api/orders/1'), 'orders');
    assert.equal(go(r, '/api/users'), 'api');
    const reversed = router([{ name: 'api', prefix: '/api' }, { name: 'orders', prefix: '/api/orders' }]);
    assert.equal(go(reversed, '/api/orders/1'), 'api');
  });

  test('exact and prefix routes are told apart', () => {
    const r = router([
      { name: 'exact', path: '/api' },
      { name: 'prefix', prefix: '/api' },
    ]);
    assert.equal(go(r, '/api'), 'exact');
    assert.equal(go(r, '/api/'), 'exact'); // one trailing slash: the same resource to many upstreams
    assert.equal(go(r, '/api/x'), 'prefix');
    assert.equal(go(r, '/apix'), '404');
  });

  test('a prefix does not match a longer segment name', () => {
    const r = router([{ name: 'orders', prefix: '/api/orders' }]);
    assert.equal(go(r, '/api/ordersX'), '404');
    assert.equal(go(r, '/api/orders'), 'orders');
  });

  test('a catch-all "/" prefix takes whatever earlier routes did not', () => {
    const r = router([{ name: 'health', path: '/health' }, { name: 'all', prefix: '/' }]);
    assert.equal(go(r, '/health'), 'health');
    assert.equal(go(r, '/'), 'all');
    assert.equal(go(r, '/anything/else'), 'all');
  });

  test('parameters match one non-empty segment', () => {
    const r = router([{ name: 'user', path: '/users/:id' }]);
    assert.equal(go(r, '/users/42'), 'user');
    assert.equal(go(r, '/users/'), '404');
    assert.equal(go(r, '/users/42/orders'), '404');
    assert.equal(go(r, '/'), '404');
  });

  test('a route with methods matches only those, and HEAD goes where GET goes', () => {
    const r = router([{ name: 'read', prefix: '/a', methods: ['get'] }, { name: 'write', prefix: '/a', methods: ['POST'] }]);
    assert.equal(go(r, '/a', 'GET'), 'read');
    assert.equal(go(r, '/a', 'HEAD'), 'read');
    assert.equal(go(r, '/a', 'POST'), 'write');
  });

  test('routeMethods upper-cases and adds HEAD to GET only', () => {
    assert.equal(routeMethods(undefined), null);
    assert.deepEqual([...routeMethods(['get', 'post'])!].sort(), ['GET', 'HEAD', 'POST']);
    assert.deepEqual([...routeMethods(['POST'])!], ['POST']);
  });

  test('a path served with other methods is a 405 listing them sorted', () => {
    const r = router([
      { name: 'b', prefix: '/a', methods: ['PUT', 'GET'] },
      { name: 'c', prefix: '/a/b', methods: ['DELETE'] },
      { name: 'other', prefix: '/z' },
    ]);
    assert.equal(go(r, '/a/b', 'POST'), '405 DELETE, GET, HEAD, PUT');
    assert.equal(go(r, '/a', 'POST'), '405 GET, HEAD, PUT');
    assert.equal(go(r, '/q', 'POST'), '404');
    const match = r.match('POST', undefined, '/a/b');
    assert.equal(match.kind, 'method_not_allowed');
    if (match.kind === 'method_not_allowed') assert.deepEqual(match.considered.map((x) => x.name), ['b', 'c']);
  });

  test('a later route without methods takes what an earlier route refuses', () => {
    const r = router([{ name: 'read', prefix: '/a', methods: ['GET'] }, { name: 'any', prefix: '/a' }]);
    assert.equal(go(r, '/a', 'DELETE'), 'any');
  });

  test('hosts are matched exactly or by wildcard, ignoring port, case and trailing dot', () => {
    const r = router([
      { name: 'admin', prefix: '/', host: 'admin.example.com' },
      { name: 'tenants', prefix: '/', host: '*.example.com' },
      { name: 'rest', prefix: '/' },
    ]);
    assert.equal(go(r, '/', 'GET', 'admin.example.com'), 'admin');
    assert.equal(go(r, '/', 'GET', 'ADMIN.Example.COM.:8443'), 'admin');
    assert.equal(go(r, '/', 'GET', 'acme.example.com:80'), 'tenants');
    assert.equal(go(r, '/', 'GET', 'example.com'), 'rest');
    assert.equal(go(r, '/', 'GET', undefined), 'rest');
  });

  test('a route on another host does not produce a 405', () => {
    const r = router([{ name: 'admin', prefix: '/', host: 'admin.example.com', methods: ['GET'] }]);
    assert.equal(go(r, '/', 'POST', 'www.example.com'), '404');
    assert.equal(go(r, '/', 'POST', 'admin.example.com'), '405 GET, HEAD');
  });

  test('paths are case-sensitive unless the router is told otherwise', () => {
    const specs = [{ name: 'admin', prefix: '/Admin' }, { name: 'user', path: '/users/:id/Profile' }];
    const sensitive = router(specs);
    assert.equal(go(sensitive, '/admin/x'), '404');
    assert.equal(go(sensitive, '/Admin/x'), 'admin');
    const insensitive = router(specs, true);
    assert.equal(go(insensitive, '/ADMIN/x'), 'admin');
    assert.equal(go(insensitive, '/admin'), 'admin');
    assert.equal(go(insensitive, '/USERS/Joe/profile'), 'user');
  });

  test('case-insensitive matching compares escaped non-ASCII letters by their decoded form', () => {
    const r = router([{ name: 'cafe', prefix: '/caf%C3%A9' }], true);
    assert.equal(go(r, '/CAF%C3%89'), 'cafe');
    assert.equal(go(r, '/caf%C3%A9/menu'), 'cafe');
  });

  test('candidates lists every route whose path matches, in order', () => {
    const r = router([{ name: 'a', prefix: '/a' }, { name: 'b', path: '/b' }, { name: 'all', prefix: '/' }]);
    assert.deepEqual(r.candidates('/a/x').map((x) => x.name), ['a', 'all']);
  });
});

// Property tests for path normalization and matching. For generated request targets, built from the pieces
// path attacks are made of, the route the gateway chooses for the normalized path must be the route an
// upstream would serve for the path it is forwarded, under every way of reading a path that real upstreams
// use (RFC 3986/WHATWG, decode-then-resolve, decode-then-reparse, Tomcat's ";" stripping, trailing slashes
// ignored, Windows/IIS, double decoding, Unicode case folding and NFKC); and nothing may throw. The pure
// functions take most of the runs; one end-to-end run sends a sample through a real gateway to real upstreams.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { startTestGateway, TEST_PROVIDER, type TestGateway } from '../helpers/gateway.ts';
import { request } from '../helpers/http.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';
import { normalizeTarget } from '../../src/routing/normalize.ts';
import { compilePattern } from '../../src/routing/pattern.ts';
import type { Route } from '../../src/routing/route.ts';
import { Router } from '../../src/routing/router.ts';

/** The route table of both the pure and the end-to-end properties; first match wins. */
const TABLE = [
  { name: 'admin', kind: 'prefix', source: '/admin', auth: 'required' },
  { name: 'order', kind: 'exact', source: '/api/orders/:id', auth: 'required' },
  { name: 'static', kind: 'exact', source: '/static/app.js', auth: 'public' },
  { name: 'settings', kind: 'exact', source: '/settings/', auth: 'required' },
  { name: 'public', kind: 'prefix', source: '/public', auth: 'public' },
  { name: 'files', kind: 'prefix', source: '/files/', auth: 'public' },
  { name: 'catch-all', kind: 'prefix', source: '/', auth: 'public' },
] as const;

function routerFor(caseInsensitive: boolean): Router {
  const routes = TABLE.map(
    (r, index) => ({ name: r.name, index, pattern: compilePattern(r.source, r.kind, caseInsensitive), methods: null, host: null }) as unknown as Route,
  );
  return new Router(routes, { caseInsensitive });
}
const SENSITIVE = routerFor(false);
const INSENSITIVE = routerFor(true);

function routeOf(router: Router, path: string): string {
  const match = router.match('GET', undefined, path);
  return match.kind === 'route' ? match.route.name : match.kind;
}

// ---- How upstreams read the path they are sent. Each returns the path it serves, or null for "400". ----

function decode(text: string): string | null {
  try {
    return decodeURIComponent(text);
  } catch {
    return null;
  }
}

/** Resolve "." and "..", merge empty segments (RFC 3986 §5.2.4 plus the usual slash merging). */
function resolve(segments: readonly string[]): string {
  const out: string[] = [];
  for (const s of segments) {
    if (s === '' || s === '.') continue;
    if (s === '..') out.pop();
    else out.push(s);
  }
  const trailing = segments.length > 0 && ['', '.', '..'].includes(segments[segments.length - 1]!);
  return '/' + out.join('/') + (trailing && out.length > 0 ? '/' : '');
}

function decodeSegments(path: string, each: (segment: string) => string | null = decode): string | null {
  const parts = path.split('/').slice(1).map(each);
  return parts.includes(null) ? null : resolve(parts as string[]);
}

/** Java's equalsIgnoreCase, one UTF-16 unit at a time: simple upper-case, then simple lower-case mappings. */
function javaFold(text: string): string {
  let out = '';
  for (const c of text) {
    const upper = c.toUpperCase();
    const u = [...upper].length === 1 ? upper : c;
    const lower = u.toLowerCase();
    out += [...lower].length === 1 ? lower : u;
  }
  return out;
}

interface UpstreamModel {
  readonly name: string;
  readonly ignoresCase: boolean;
  read(path: string): string | null;
}

const MODELS: readonly UpstreamModel[] = [
  {
    name: 'WHATWG URL (Node, browsers), then per-segment decoding',
    ignoresCase: false,
    read: (path) => decodeSegments(new URL(path, 'http://upstream').pathname),
  },
  { name: 'decode the whole path, then resolve dot segments (nginx-like)', ignoresCase: false, read: (path) => {
    const decoded = decode(path);
    return decoded === null ? null : resolve(decoded.split('/').slice(1));
  } },
  { name: 'Tomcat/Jetty/Spring: strip ";params" per segment, decode, resolve', ignoresCase: false, read: (path) => decodeSegments(path, (s) => decode(s.split(';', 1)[0]!)) },
  { name: 'double decoding', ignoresCase: false, read: (path) => {
    const once = decode(path);
    const twice = once === null ? null : decode(once);
    return twice === null ? null : resolve(twice.split('/').slice(1));
  } },
  { name: 'Unicode NFKC normalization after decoding', ignoresCase: false, read: (path) => {
    const decoded = decode(path);
    return decoded === null ? null : resolve(decoded.normalize('NFKC').split('/').slice(1));
  } },
  { name: 'Windows/IIS: decode, "\\" is "/", trailing dots and spaces dropped, case ignored', ignoresCase: true, read: (path) => {
    const decoded = decode(path);
    return decoded === null ? null : resolve(decoded.replace(/\\/g, '/').split('/').slice(1).map((s) => (/^\.+$/.test(s) ? s : s.replace(/[. ]+$/, ''))));
  } },
  { name: 'Express, Rails, ASP.NET Core: one trailing slash ignored', ignoresCase: false, read: (path) => {
    const decoded = decodeSegments(path);
    return decoded === null || decoded === '/' || !decoded.endsWith('/') ? decoded : decoded.slice(0, -1);
  } },
  { name: 'decode, then parse again as a URL: "?" starts the query, "#" the fragment (proxies that decode before passing on)', ignoresCase: false, read: (path) => {
    const decoded = decode(path);
    return decoded === null ? null : resolve(decoded.split(/[?#]/, 1)[0]!.split('/').slice(1));
  } },
  { name: 'Java/.NET case-insensitive matching (simple Unicode case folding)', ignoresCase: true, read: (path) => {
    const decoded = decodeSegments(path);
    return decoded === null ? null : javaFold(decoded);
  } },
];

// ---- Generators: request targets made of the pieces of path attacks. ----

const ATOMS = [
  'admin', 'ADMIN', 'Admin', 'api', 'orders', '42', 'static', 'app.js', 'settings', 'public', 'files', 'x', '~u',
  '', '.', '..', '...', '%2e', '%2E', '%2e%2e', '.%2e', '%2e.', '%252e', '%252e%252e', '%25', '%',
  '%2f', '%2F', '%252f', '%5c', '%5C', '\\', ';', '..;', '.;', ';x=1', 'admin;x', '%3b', '%3B', '%00', '%0a', '%20',
  'admin.', 'admin%2e', 'admin%20', 'app.js.', '%61dmin', '%41DMIN', '%61%64%6d%69%6e', '%u0061',
  '%c0%ae', '%c0%af', '%e0%80%ae', '%C4%B1', 'adm%C4%B1n', 'ADM%C4%B0N', '%EF%BD%81dmin', '%EF%BC%8F', '%E2%80%A5',
  '%E2%84%AA', '%C5%BF', 'caf%C3%A9', 'CAF%C3%89', 'stra%C3%9Fe', '%23', '#', '%3F', '%3f', '@', ':', '!', '$', '&', "'",
  '(', ')', '*', '+', ',', '=', '-', '_',
];

const segment = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...ATOMS) },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom(...'adminADMIN.%2eEfF5c;/\\#?~ '.split('')), maxLength: 8 }) },
);
const target = fc
  .tuple(fc.array(segment, { minLength: 0, maxLength: 7 }), fc.constantFrom('', '/', '?q=1', '?next=/../admin', '#frag'))
  .map(([segments, tail]) => '/' + segments.join('/') + tail);

/** Targets an HTTP client can put on the wire as they are (no spaces, controls, non-ASCII or "#"). */
const wireTarget = target.filter((t) => /^[\x21-\x7e]+$/.test(t) && !t.includes('#'));

const RUNS = 3000;

const KNOWN_ATTACKS = [
  '/api/orders/42/', '/api/orders/42//', '/api/orders/42/.', '/static/app.js/', '/public/../admin', '/public/..;/admin',
  '/public/%2e%2e/admin', '/ADMIN', '/admin.', '/adm%C4%B1n', '/%EF%BD%81dmin', '/public%2f..%2fadmin', '/public\\..\\admin',
  '/settings', '/settings/', '/admin%3F/x', '/admin%23/x',
];

describe('path normalization and matching (properties)', () => {
  test('normalizeTarget and the router never throw, and give a path, a query or a known refusal', () => {
    fc.assert(
      fc.property(fc.oneof(target, fc.string({ unit: 'binary', maxLength: 40 }).map((s) => '/' + s), fc.string({ unit: 'binary', maxLength: 40 })), (t) => {
        const result = normalizeTarget(t);
        if (result.ok) {
          assert.ok(result.path.startsWith('/'));
          assert.ok(result.query === '' || result.query.startsWith('?'));
          routeOf(SENSITIVE, result.path);
          routeOf(INSENSITIVE, result.path);
        } else {
          assert.match(result.code, /^path_[a-z_]+$/);
        }
      }),
      { numRuns: RUNS },
    );
  });

  test('the normalized path is a fixed point: normalizing it again changes nothing', () => {
    fc.assert(
      fc.property(target, (t) => {
        const first = normalizeTarget(t);
        if (!first.ok) return;
        const again = normalizeTarget(first.path + first.query);
        assert.ok(again.ok, `${first.path} is refused when normalized again`);
        assert.equal(again.path, first.path);
        assert.equal(again.query, first.query);
      }),
      { numRuns: RUNS },
    );
  });

  test('the forwarded path holds no dot segment, empty segment, ";", backslash, encoded "/" or "\\", or a second encoding', () => {
    fc.assert(
      fc.property(target, (t) => {
        const result = normalizeTarget(t);
        if (!result.ok) return;
        const segments = result.path.split('/').slice(1);
        segments.slice(0, -1).forEach((s) => assert.notEqual(s, '', result.path));
        for (const s of segments) {
          assert.ok(s !== '.' && s !== '..', result.path);
          assert.doesNotMatch(s, /[;\\]|%2f|%5c|%25[0-9a-f]{2}|%2e|%3b/i, result.path);
        }
      }),
      { numRuns: RUNS },
    );
  });

  for (const model of MODELS) {
    test(`the gateway's route is the route an upstream serves: ${model.name}`, () => {
      const router = model.ignoresCase ? INSENSITIVE : SENSITIVE;
      fc.assert(
        fc.property(target, (t) => {
          const result = normalizeTarget(t);
          if (!result.ok) return; // refused with a 400: nothing is forwarded
          const upstreamPath = model.read(result.path);
          if (upstreamPath === null) return; // the upstream refuses it too
          assert.equal(routeOf(router, upstreamPath), routeOf(router, result.path), `${t} -> forwarded ${result.path} -> read ${upstreamPath}`);
        }),
        // Known attacks are always among the runs, however unlikely the generator is to build them.
        { numRuns: RUNS, examples: KNOWN_ATTACKS.map((t) => [t]) },
      );
    });
  }
});

describe('path normalization end to end (property, real gateway and upstreams)', () => {
  const upstreams = new Map<string, Upstream>();
  let gw: TestGateway;

  before(async () => {
    for (const r of TABLE) upstreams.set(r.name, await startUpstream(r.name));
    gw = await startTestGateway({
      server: { host: '127.0.0.1' },
      providers: [TEST_PROVIDER],
      upstreams: Object.fromEntries(TABLE.map((r) => [r.name, upstreams.get(r.name)!.url])),
      routes: TABLE.map((r) => ({ name: r.name, [r.kind === 'exact' ? 'path' : 'prefix']: r.source, upstream: r.name, auth: r.auth })),
    });
  });
  after(async () => {
    await gw.close();
    for (const u of upstreams.values()) await u.close();
  });

  test('generated requests without a token: never a 5xx, never a protected upstream, and public upstreams read the path as the gateway matched it', async () => {
    await fc.assert(
      fc.asyncProperty(wireTarget, async (t) => {
        const before = new Map([...upstreams].map(([name, u]) => [name, u.received.length]));
        const res = await request(gw.url, t);
        assert.ok(res.status < 500, `${t}: ${res.status} ${res.body}`);
        for (const [name, u] of upstreams) {
          const got = u.received.slice(before.get(name)!);
          const route = TABLE.find((r) => r.name === name)!;
          if (route.auth === 'required') assert.equal(got.length, 0, `${t} reached the ${name} upstream without a token`);
          for (const r of got) {
            assert.equal(res.status, 200);
            const path = r.url.split('?', 1)[0]!;
            for (const model of MODELS.filter((m) => !m.ignoresCase)) {
              const read = model.read(path);
              if (read !== null) assert.equal(routeOf(SENSITIVE, read), name, `${t}: the ${name} upstream got ${r.url}; ${model.name} reads ${read}`);
            }
          }
        }
        if (res.status === 200) assert.equal([...upstreams].reduce((n, [name, u]) => n + u.received.length - before.get(name)!, 0), 1);
      }),
      { numRuns: 60 },
    );
  });
});

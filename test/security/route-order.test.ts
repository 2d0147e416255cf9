// Route tables whose order lets callers through. Routes match first to last, so an earlier route that asks
// less (optional auth, weaker roles) takes requests a later route was written to protect, and a protected
// route limited to some methods leaves the others to whatever comes next. Each case is served by a real
// gateway to show the caller really gets through; `validate` (the same loader) must say so, naming both
// routes' FILE:LINE.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { loadConfigFile } from '../../src/config/load.ts';
import { formatProblem } from '../../src/config/problems.ts';
import { configWith, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { bearer, request } from '../helpers/http.ts';
import { sign } from '../helpers/keys.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';
import { goodClaims, reached } from './support.ts';

/** What `validate` prints about the gateway's file, and the line each route starts on. */
function validate(gw: TestGateway): { lines: string[]; lineOf: (name: string) => number } {
  const result = loadConfigFile(gw.file, {});
  assert.ok(result.ok);
  const text = result.loaded.text.split('\n');
  return {
    lines: result.problems.map(formatProblem),
    lineOf: (name) => text.findIndex((l) => l.trim() === `- name: ${name}`) + 1,
  };
}

describe('route order that lets callers through', () => {
  const opened: (TestGateway | Upstream)[] = [];
  after(async () => {
    for (const x of opened.reverse()) await x.close();
  });

  async function serve(routes: object[]): Promise<{ gw: TestGateway; upstream: Upstream }> {
    const upstream = await startUpstream();
    const gw = await startTestGateway(configWith(upstream.url, routes));
    opened.push(upstream, gw);
    return { gw, upstream };
  }

  test('an optional route in front of a protected one is a warning naming both routes\' FILE:LINE', async () => {
    const { gw, upstream } = await serve([
      { name: 'reports', prefix: '/reports', upstream: 'app', auth: 'optional' },
      { name: 'reports-admin', prefix: '/reports/admin', upstream: 'app', roles: ['admin'] },
    ]);
    const { count } = await reached(upstream, () => request(gw.url, '/reports/admin/payroll'));
    assert.equal(count, 1, 'the hole is real: a caller without a token reaches /reports/admin');
    const { lines, lineOf } = validate(gw);
    assert.ok(
      lines.includes(`${gw.file}:${lineOf('reports-admin')}:5: warning: routes[1]: optional route "reports" (${gw.file}:${lineOf('reports')}) matches every request of protected route "reports-admin", letting callers without a token through`),
      lines.join('\n'),
    );
  });

  test('an earlier route with weaker roles in front of a stricter one is a warning naming both routes\' FILE:LINE', async () => {
    const { gw, upstream } = await serve([
      { name: 'orders', prefix: '/orders', upstream: 'app', roles: ['reader', 'clerk'] },
      { name: 'refunds', path: '/orders/:id/refund', upstream: 'app', all_roles: ['admin'] },
    ]);
    const reader = await sign(goodClaims({ roles: ['reader'] }));
    const { count } = await reached(upstream, () => request(gw.url, '/orders/7/refund', { method: 'POST', headers: bearer(reader) }));
    assert.equal(count, 1, 'the hole is real: a reader reaches the refund route');
    const { lines, lineOf } = validate(gw);
    assert.ok(
      lines.includes(`${gw.file}:${lineOf('refunds')}:5: warning: routes[1]: route "orders" (${gw.file}:${lineOf('orders')}) matches every request of route "refunds" without requiring role admin`),
      lines.join('\n'),
    );
  });

  test('a method-restricted protected route followed by a catch-all that takes its other methods is a warning naming both routes\' FILE:LINE', async () => {
    const { gw, upstream } = await serve([
      { name: 'admin', prefix: '/admin', methods: ['POST', 'DELETE'], upstream: 'app', roles: ['admin'] },
      { name: 'site', prefix: '/', upstream: 'app', auth: 'public' },
    ]);
    const { count } = await reached(upstream, () => request(gw.url, '/admin/users'));
    assert.equal(count, 1, 'the hole is real: GET /admin/users reaches the upstream without a token');
    const { lines, lineOf } = validate(gw);
    assert.ok(
      lines.includes(`${gw.file}:${lineOf('admin')}:5: warning: routes[0]: protected route "admin" takes only POST, DELETE; its paths' other methods fall through to route "site" (${gw.file}:${lineOf('site')}), which asks for no token`),
      lines.join('\n'),
    );
  });

  test('control: the same routes in a safe order, and an exception written before its rule, give none of these warnings', async () => {
    const { gw } = await serve([
      { name: 'reports-admin', prefix: '/reports/admin', upstream: 'app', roles: ['admin'] },
      { name: 'reports', prefix: '/reports', upstream: 'app', auth: 'optional' },
      { name: 'refunds', path: '/orders/:id/refund', upstream: 'app', all_roles: ['admin'] },
      { name: 'orders', prefix: '/orders', upstream: 'app', roles: ['reader', 'clerk'] },
      { name: 'admin-write', prefix: '/admin', methods: ['POST', 'DELETE'], upstream: 'app', roles: ['admin'] },
      { name: 'admin-rest', prefix: '/admin', upstream: 'app', roles: ['admin'] },
      { name: 'site', prefix: '/', upstream: 'app', auth: 'public' },
    ]);
    assert.deepEqual(validate(gw).lines.filter((l) => /shadows|fall_through|fall through|letting|without requiring/.test(l)), []);
  });
});

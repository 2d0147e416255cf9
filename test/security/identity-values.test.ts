// Attacks through claim values: a role, scope or sub the identity provider let a user choose, written so
// that the upstream's header parser reads it as another value (trimmed, split, or taken for ASCII). The
// upstream records what it received; it must never see a value the gateway did not check.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { configWith, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { bearer, request } from '../helpers/http.ts';
import { sign } from '../helpers/keys.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';
import { assertRefused, goodClaims, reached } from './support.ts';

describe('identity-header value attacks', () => {
  let upstream: Upstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await startUpstream();
    gw = await startTestGateway(
      configWith(
        upstream.url,
        [
          { name: 'admin', prefix: '/admin', upstream: 'app', roles: ['admin'] },
          { name: 'reports', prefix: '/reports', upstream: 'app', scopes: ['reports'] },
          { name: 'app', prefix: '/', upstream: 'app' },
        ],
        { forward: { headers: { 'X-User-Id': 'sub', 'X-User-Roles': 'roles', 'X-User-Scopes': 'scopes' } } },
      ),
    );
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  /** Sends `claims` to the admin route (must be refused, nothing forwarded) and to /app; returns what /app forwarded. */
  async function attempt(claims: Record<string, unknown>, what: string, protectedPath = '/admin/x', code = 'insufficient_role') {
    const token = await sign(goodClaims(claims));
    const denied = await reached(upstream, () => request(gw.url, protectedPath, { headers: bearer(token) }));
    assertRefused(denied.result, 403, code, denied.count, what);
    const { result, count } = await reached(upstream, () => request(gw.url, '/app', { headers: bearer(token) }));
    assert.equal(result.status, 200, what);
    assert.equal(count, 1, what);
    return upstream.received.at(-1)!.headers;
  }

  test('a role ending in U+0085 (NEL), NBSP or another Unicode space, which Go, .NET and Python trim to "admin", never reaches the upstream', async () => {
    for (const role of ['admin\u0085', 'admin\u00a0', '\u2003admin', 'admin\u3000', 'admin\u2028', '\ufeffadmin']) {
      const headers = await attempt({ roles: ['reader', role] }, JSON.stringify(role));
      assert.equal(headers['x-user-roles'], 'reader', `${JSON.stringify(role)} reached the upstream as ${JSON.stringify(headers['x-user-roles'])}`);
    }
  });

  test('a role with a space inside ("ops admin"), which upstreams that split on spaces read as two roles, is left out', async () => {
    for (const role of ['ops admin', 'ops\tadmin']) {
      const headers = await attempt({ roles: ['reader', role] }, JSON.stringify(role));
      assert.equal(headers['x-user-roles'], 'reader', `${JSON.stringify(role)} reached the upstream as ${JSON.stringify(headers['x-user-roles'])}`);
    }
  });

  test('a scope written to read as another one upstream grants nothing at the gateway and is not forwarded', async () => {
    for (const scp of [['reader', 'reports\u0085'], ['reader', '\uff52eports'], ['reader', 'ops,reports']]) {
      const headers = await attempt({ scp }, JSON.stringify(scp), '/reports/x', 'insufficient_scope');
      assert.equal(headers['x-user-scopes'], 'reader', `${JSON.stringify(scp)} reached the upstream as ${JSON.stringify(headers['x-user-scopes'])}`);
    }
  });

  test('a sub that upstreams read as another user (trailing NEL, Arabic-Indic or fullwidth digits, a dotless i) is not sent at all', async () => {
    for (const sub of ['admin\u0085', 'admin\u00a0', '\u0664\u0662', '\uff14\uff12', 'adm\u0131n', 'ad\u200bmin', 'admin\u202e']) {
      const headers = await attempt({ sub, roles: ['reader'] }, JSON.stringify(sub));
      assert.equal(headers['x-user-id'], undefined, `${JSON.stringify(sub)} reached the upstream as ${JSON.stringify(headers['x-user-id'])}`);
      assert.equal(headers['x-user-roles'], 'reader');
    }
  });

  test('control: names and roles in other scripts still travel, as their UTF-8 bytes', async () => {
    const headers = await attempt({ sub: 'Zoë Müller', roles: ['reader', 'lecteur-général'] }, 'non-ASCII letters');
    assert.equal(Buffer.from(String(headers['x-user-id']), 'latin1').toString('utf8'), 'Zoë Müller');
    assert.equal(Buffer.from(String(headers['x-user-roles']), 'latin1').toString('utf8'), 'reader,lecteur-général');
  });
});

// Claim paths as gateway.yaml writes them: dotted names, the top-level name that wins, bracketed names with
// dots, and the roles and scopes read through them.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { claimPath, parseClaimPath, readClaim } from '../../src/auth/claim-path.ts';
import { rolesOf, scopesOf } from '../../src/auth/claims.ts';
import { splitNamespaceWarning } from '../../src/config/check-claims.ts';

const read = (payload: Record<string, unknown>, text: string) => readClaim(payload, claimPath(text));
const segmentsOf = (text: string) => {
  const parsed = parseClaimPath(text);
  return parsed.ok ? parsed.path.segments : parsed.message;
};

describe('parseClaimPath', () => {
  test('a plain path is names separated by dots, and also names the top-level claim of the whole text', () => {
    assert.deepEqual(claimPath('realm_access.roles'), { source: 'realm_access.roles', segments: ['realm_access', 'roles'], topLevelName: 'realm_access.roles' });
    assert.deepEqual(claimPath('sub'), { source: 'sub', segments: ['sub'], topLevelName: undefined });
    assert.deepEqual(segmentsOf('cognito:groups'), ['cognito:groups']);
  });

  test('brackets name a segment that contains dots, in double or single quotes, and are read only as written', () => {
    assert.deepEqual(claimPath('resource_access["orders.api"].roles'), {
      source: 'resource_access["orders.api"].roles',
      segments: ['resource_access', 'orders.api', 'roles'],
      topLevelName: undefined,
    });
    assert.deepEqual(segmentsOf(`["https://example.com/roles"]`), ['https://example.com/roles']);
    assert.deepEqual(segmentsOf(`a['b.c']["d"].e`), ['a', 'b.c', 'd', 'e']);
  });

  test('inside quotes, \\" \\\' and \\\\ are escapes; a bracket may hold "]" and "["', () => {
    assert.deepEqual(segmentsOf('["say \\"hi\\""]'), ['say "hi"']);
    assert.deepEqual(segmentsOf("['it\\'s']"), ["it's"]);
    assert.deepEqual(segmentsOf('["back\\\\slash"]'), ['back\\slash']);
    assert.deepEqual(segmentsOf('["a]b[c"]'), ['a]b[c']);
  });

  test('malformed paths are refused with the way to write them', () => {
    for (const text of ['', 'a..b', '.a', 'a.', 'a[b]', 'a["b"', 'a["b"]c', 'a[""]', 'a["b\\n"]', 'a].b[', '["x"].', 'a.["b"]']) {
      const parsed = parseClaimPath(text);
      assert.equal(parsed.ok, false, text);
      if (!parsed.ok && text !== '') assert.match(parsed.message, /resource_access\["orders\.api"\]\.roles/, text);
    }
  });
});

describe('readClaim', () => {
  const token = {
    sub: 'u1',
    'https://example.com/roles': ['admin'],
    resource_access: { 'orders.api': { roles: ['orders-reader'] }, orders: { api: { roles: ['nested-only'] } } },
    org: { plan: 'free' },
    'org.plan': 'enterprise',
    'a.b': { c: 'split-in-the-middle' },
    a: { 'b.c': 'split-at-the-end' },
  };

  test('an exact top-level claim name wins over the dotted path; without one the dots are steps', () => {
    assert.deepEqual(read(token, 'https://example.com/roles'), ['admin']);
    assert.equal(read(token, 'org.plan'), 'enterprise');
    assert.equal(read({ org: { plan: 'free' } }, 'org.plan'), 'free');
    assert.deepEqual(read(token, 'resource_access.orders.api.roles'), ['nested-only']);
  });

  test('a dotted path is read two ways only: never a name split somewhere in the middle', () => {
    assert.equal(read(token, 'a.b.c'), undefined);
    assert.equal(read({ 'a.b': { c: 1 } }, 'a.b.c'), undefined);
    assert.equal(read({ a: { 'b.c': 1 } }, 'a.b.c'), undefined);
    // A top-level name spelled like a deeper path does not shadow a shorter one.
    assert.equal(read({ 'org.plan.x': 'y', org: { plan: 'free' } }, 'org.plan'), 'free');
  });

  test('a bracketed path reads exactly its segments: no top-level claim shadows it', () => {
    assert.deepEqual(read(token, 'resource_access["orders.api"].roles'), ['orders-reader']);
    assert.equal(read(token, '["org"].plan'), 'free');
    assert.equal(read(token, '["org.plan"]'), 'enterprise');
  });

  test('only own properties are read, at the top level too', () => {
    assert.equal(read(token, 'constructor'), undefined);
    assert.equal(read(token, '__proto__.x'), undefined);
    assert.equal(read(token, 'sub.length'), undefined);
    assert.equal(read(Object.create({ 'x.y': 1 }) as Record<string, unknown>, 'x.y'), undefined);
  });
});

describe('roles and scopes', () => {
  const paths = (...texts: string[]) => texts.map(claimPath);

  test('several roles claims give the union, in order, without repeats', () => {
    const keycloak = { realm_access: { roles: ['user', 'admin'] }, resource_access: { 'orders.api': { roles: ['reader', 'admin'] } } };
    assert.deepEqual(rolesOf(keycloak, paths('realm_access.roles', 'resource_access["orders.api"].roles')), ['user', 'admin', 'reader']);
    assert.deepEqual(rolesOf({ groups: 'a b', roles: ['c'] }, paths('groups', 'roles', 'missing')), ['a', 'b', 'c']);
  });

  test('roles given as the keys of an object count; a key set to false or null does not', () => {
    const zitadel = { 'urn:zitadel:iam:org:project:roles': { admin: { '1234': 'acme.example.com' }, reader: {}, revoked: false, gone: null } };
    assert.deepEqual(rolesOf(zitadel, paths('urn:zitadel:iam:org:project:roles')), ['admin', 'reader']);
  });

  test('a boolean claim is never a role', () => {
    assert.deepEqual(rolesOf({ admin: true }, paths('admin')), []);
  });

  test('scopes come from each configured claim: space-delimited text or an array', () => {
    assert.deepEqual(scopesOf({ scope: 'read write', scp: ['write', 'admin'] }, paths('scope', 'scp')), ['read', 'write', 'admin']);
    assert.deepEqual(scopesOf({ permissions: ['read:orders', 'write:orders'], scope: 'openid' }, paths('permissions')), ['read:orders', 'write:orders']);
  });
});

describe('the warning for a URL or host name that a dotted path splits', () => {
  test('a whole namespaced name without dots after its host needs nothing', () => {
    for (const text of ['https://example.com/roles', 'example.com/roles', 'cognito:groups', 'realm_access.roles', 'org.plan', 'urn:zitadel:iam:org:project:roles']) {
      assert.equal(splitNamespaceWarning(text), undefined, text);
    }
  });

  test('a URL after a dot is cut apart: the warning gives the bracketed form', () => {
    assert.match(splitNamespaceWarning('claims.https://example.com/roles')!, /write claims\["https:\/\/example\.com\/roles"\]/);
    assert.match(splitNamespaceWarning('app_metadata.example.com/roles')!, /app_metadata\["example\.com\/roles"\]/);
  });

  test('a dot after a URL\'s host makes the path ambiguous: the warning gives the nested form', () => {
    assert.match(splitNamespaceWarning('https://example.com/app.roles')!, /\["https:\/\/example\.com\/app"\]\.roles/);
  });

  test('bracketed paths are explicit and never warned about', () => {
    assert.equal(splitNamespaceWarning('["https://example.com/app"].roles'), undefined);
  });
});

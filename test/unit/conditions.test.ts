// Claim conditions: each form, strict types, path parameters compared decoded and exact, and a missing
// claim that never passes.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { claimPath } from '../../src/auth/claim-path.ts';
import { compileCondition, conditionHolds, describeCondition, firstUnmet, paramValue, type ConditionSpec } from '../../src/auth/conditions.ts';
import { segmentsOf } from '../../src/routing/pattern.ts';

/** The route /tenants/:tenant/orders: :tenant is segment 1. */
const segmentOf = (name: string) => (name === 'tenant' ? 1 : undefined);
const holds = (claim: string, spec: ConditionSpec, claims: Record<string, unknown>, path = '/tenants/acme/orders') =>
  conditionHolds(compileCondition(claimPath(claim), spec, segmentOf), claims, segmentsOf(path));

describe('claim conditions', () => {
  test('a value: the claim equals it, with the same type', () => {
    assert.equal(holds('token_use', 'access', { token_use: 'access' }), true);
    assert.equal(holds('token_use', 'access', { token_use: 'id' }), false);
    assert.equal(holds('email_verified', true, { email_verified: true }), true);
    assert.equal(holds('email_verified', true, { email_verified: 'true' }), false);
    assert.equal(holds('level', 3, { level: 3 }), true);
    assert.equal(holds('level', 3, { level: '3' }), false);
    assert.equal(holds('tenant', 'acme', { tenant: ['acme'] }), false);
    assert.equal(holds('tenant', 'acme', { tenant: 'ACME' }), false);
    assert.equal(holds('tenant', 'acme', { tenant: 'acme ' }), false);
  });

  test('a list: the claim equals one of the values (an array claim is not "one of" them)', () => {
    assert.equal(holds('client_id', ['app-one', 'app-two'], { client_id: 'app-two' }), true);
    assert.equal(holds('client_id', ['app-one', 'app-two'], { client_id: 'app-three' }), false);
    assert.equal(holds('client_id', ['app-one'], { client_id: ['app-one'] }), false);
    assert.equal(holds('org.plan', ['pro', 'enterprise'], { org: { plan: 'pro' } }), true);
  });

  test('contains, contains_any, contains_all: an array claim holds the values', () => {
    const claims = { groups: ['orders-admins', 'staff'] };
    assert.equal(holds('groups', { contains: 'orders-admins' }, claims), true);
    assert.equal(holds('groups', { contains: 'admins' }, claims), false);
    assert.equal(holds('groups', { contains: 'staff' }, { groups: 'staff' }), false);
    assert.equal(holds('groups', { contains_any: ['x', 'staff'] }, claims), true);
    assert.equal(holds('groups', { contains_any: ['x', 'y'] }, claims), false);
    assert.equal(holds('groups', { contains_all: ['staff', 'orders-admins'] }, claims), true);
    assert.equal(holds('groups', { contains_all: ['staff', 'x'] }, claims), false);
  });

  test('present: true needs the claim (not null); false needs it absent', () => {
    assert.equal(holds('email', { present: true }, { email: 'a@b' }), true);
    assert.equal(holds('email', { present: true }, { email: null }), false);
    assert.equal(holds('act', { present: false }, {}), true);
    assert.equal(holds('act', { present: false }, { act: { sub: 'admin' } }), false);
  });

  test('a missing claim fails every condition but present: false', () => {
    const specs: ConditionSpec[] = ['x', 0, false, ['x'], { contains: 'x' }, { contains_any: ['x'] }, { contains_all: ['x'] }, { present: true }, { param: 'tenant' }, { contains_param: 'tenant' }];
    for (const spec of specs) {
      assert.equal(holds('missing', spec, {}), false, JSON.stringify(spec));
      assert.equal(holds('missing', spec, { missing: null }), false, `null: ${JSON.stringify(spec)}`);
    }
  });

  test('param: the claim equals the path parameter, decoded, exactly', () => {
    assert.equal(holds('tid', { param: 'tenant' }, { tid: 'acme' }), true);
    assert.equal(holds('tid', { param: 'tenant' }, { tid: 'acme' }, '/tenants/globex/orders'), false);
    assert.equal(holds('tid', { param: 'tenant' }, { tid: 'ACME' }), false);
    assert.equal(holds('tid', { param: 'tenant' }, { tid: 'a b' }, '/tenants/a%20b/orders'), true);
    assert.equal(holds('tid', { param: 'tenant' }, { tid: 'café' }, '/tenants/caf%C3%A9/orders'), true);
    assert.equal(holds('tid', { param: 'tenant' }, { tid: 'a%20b' }, '/tenants/a%20b/orders'), false);
    assert.equal(holds('tid', { param: 'tenant' }, { tid: 42 }, '/tenants/42/orders'), false);
  });

  test('contains_param: an array claim holds the path parameter', () => {
    assert.equal(holds('tenants', { contains_param: 'tenant' }, { tenants: ['globex', 'acme'] }), true);
    assert.equal(holds('tenants', { contains_param: 'tenant' }, { tenants: ['globex'] }), false);
    assert.equal(holds('tenants', { contains_param: 'tenant' }, { tenants: 'acme' }), false);
  });

  test('a parameter that is empty or does not decode fails', () => {
    assert.equal(paramValue(['tenants', ''], 1), undefined);
    assert.equal(paramValue(['tenants'], 1), undefined);
    assert.equal(paramValue(['tenants', '%E0%A4%A'], 1), undefined);
    assert.equal(holds('tid', { param: 'tenant' }, { tid: '' }, '/tenants//orders'), false);
  });

  test('conditions are ANDed: firstUnmet names the first that fails', () => {
    const conditions = [
      compileCondition(claimPath('email_verified'), true),
      compileCondition(claimPath('org.plan'), ['pro']),
    ];
    assert.equal(firstUnmet(conditions, { email_verified: true, org: { plan: 'pro' } }), undefined);
    assert.equal(firstUnmet(conditions, { email_verified: true, org: { plan: 'free' } })?.claim.source, 'org.plan');
    assert.equal(firstUnmet(conditions, { org: { plan: 'pro' } })?.claim.source, 'email_verified');
  });

  test('a condition is described for explain', () => {
    assert.equal(describeCondition(compileCondition(claimPath('tid'), { param: 'tenant' }, segmentOf)), 'tid equals the path parameter :tenant');
    assert.equal(describeCondition(compileCondition(claimPath('org.plan'), ['pro', 'enterprise'])), 'org.plan is one of "pro", "enterprise"');
    assert.equal(describeCondition(compileCondition(claimPath('groups'), { contains: 'x' })), 'groups holds "x"');
  });
});

// The authorize stage: a verified caller against what the route requires: its providers, roles and scopes,
// then its claim conditions. The conditions are evaluated here, for this request and its path, every time:
// a token's cached verdict is its identity, never "allowed on route X".
import { conditionHolds, describeClaimFound, describeCondition, firstUnmet } from '../auth/conditions.ts';
import type { Identity } from '../auth/identity.ts';
import { authorize } from '../auth/requirement.ts';
import type { Route } from '../routing/route.ts';
import { deny, type Denial, type Trace } from './decision.ts';

export function authorizeCaller(route: Route, identity: Identity, segments: readonly string[] | undefined, trace: Trace | undefined): Denial | undefined {
  const failure = authorize(route.requirement, identity);
  if (failure !== null) {
    trace?.push({ stage: 'authorize', outcome: 'fail', detail: `${failure.code}: ${failure.message}` });
    const scope = failure.code === 'insufficient_scope' ? failure.scope : undefined;
    return deny(failure.code, failure.message, { route, identity, ...(scope !== undefined ? { scope } : {}) });
  }
  trace?.push({ stage: 'authorize', outcome: 'pass', detail: describeRequirement(route) });
  const conditions = route.requirement.claims;
  if (conditions.length === 0) return undefined;
  if (trace !== undefined) traceConditions(route, identity, segments, trace);
  const unmet = firstUnmet(conditions, identity.claims, segments);
  if (unmet === undefined) return undefined;
  // The claim's name, never its value nor the value wanted: a 403 tells the caller what, not how to pass.
  return deny('claim_mismatch', `the token's claim "${unmet.claim.source}" does not meet this route's condition`, { route, identity });
}

/** explain: every condition, passed or not (they are ANDed), with what the token holds. */
function traceConditions(route: Route, identity: Identity, segments: readonly string[] | undefined, trace: Trace): void {
  for (const condition of route.requirement.claims) {
    const holds = conditionHolds(condition, identity.claims, segments);
    const found = holds ? '' : `: ${describeClaimFound(condition, identity.claims, segments)}`;
    trace.push({ stage: 'claims', outcome: holds ? 'pass' : 'fail', detail: `${describeCondition(condition)}${found}` });
  }
}

function describeRequirement(route: Route): string {
  const { anyRoles, allRoles, scopes } = route.requirement;
  const parts = [
    anyRoles.length ? `one of roles ${anyRoles.join(', ')}` : '',
    allRoles.length ? `all roles ${allRoles.join(', ')}` : '',
    scopes.length ? `scopes ${scopes.join(' ')}` : '',
  ].filter(Boolean);
  return parts.length ? `has ${parts.join('; ')}` : 'any verified caller';
}

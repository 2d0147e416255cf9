// What a route demands of a verified caller, and the check of an identity against it. Claim conditions
// (which may compare with the request's path) are checked by the pipeline with conditions.ts.
import type { ClaimCondition } from './conditions.ts';
import type { Identity } from './identity.ts';

export interface Requirement {
  /** Any one of these roles (empty: no constraint). */
  readonly anyRoles: readonly string[];
  /** Every one of these roles. */
  readonly allRoles: readonly string[];
  /** Every one of these scopes. */
  readonly scopes: readonly string[];
  /** Provider names accepted here; null accepts every provider. */
  readonly providers: ReadonlySet<string> | null;
  /** The route's claims conditions, ANDed; checked per request, never remembered with the token. */
  readonly claims: readonly ClaimCondition[];
  /** Whether a condition compares with a path parameter (the request path's segments are then needed). */
  readonly usesPathParameters: boolean;
}

export type AuthorizationFailure =
  | { readonly code: 'provider_not_allowed'; readonly message: string }
  | { readonly code: 'insufficient_role'; readonly message: string }
  | { readonly code: 'insufficient_scope'; readonly message: string; readonly scope: string };

export function authorize(requirement: Requirement, identity: Identity): AuthorizationFailure | null {
  if (requirement.providers !== null && !requirement.providers.has(identity.provider.name)) {
    return {
      code: 'provider_not_allowed',
      message: `tokens from provider "${identity.provider.name}" are not accepted on this route`,
    };
  }
  const roles = identity.roles;
  if (requirement.anyRoles.length > 0 && !requirement.anyRoles.some((r) => roles.includes(r))) {
    return { code: 'insufficient_role', message: `requires one of the roles: ${requirement.anyRoles.join(', ')}` };
  }
  const missingRoles = requirement.allRoles.filter((r) => !roles.includes(r));
  if (missingRoles.length > 0) {
    return { code: 'insufficient_role', message: `requires all of the roles: ${requirement.allRoles.join(', ')}` };
  }
  const missingScopes = requirement.scopes.filter((s) => !identity.scopes.includes(s));
  if (missingScopes.length > 0) {
    return {
      code: 'insufficient_scope',
      message: `requires the scopes: ${requirement.scopes.join(' ')}`,
      scope: requirement.scopes.join(' '),
    };
  }
  return null;
}

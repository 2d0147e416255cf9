// Claim conditions: what a provider requires of every token (require_claims) and what a route requires of
// the caller (claims). Compiled once; checked against a verified token's claims, and for a route, against
// the request's own path parameters. A missing claim fails every condition but {present: false}: a
// condition never passes for want of the claim it is about.
import type { JWTPayload } from 'jose';
import { readClaim, type ClaimPath } from './claim-path.ts';

export type ClaimValue = string | number | boolean;

export type ClaimTest =
  | { readonly kind: 'equals'; readonly value: ClaimValue }
  | { readonly kind: 'one_of'; readonly values: readonly ClaimValue[] }
  | { readonly kind: 'contains'; readonly value: ClaimValue }
  | { readonly kind: 'contains_any'; readonly values: readonly ClaimValue[] }
  | { readonly kind: 'contains_all'; readonly values: readonly ClaimValue[] }
  | { readonly kind: 'present'; readonly present: boolean }
  /** `segment`: the index of the route's parameter among the path's segments. */
  | { readonly kind: 'param'; readonly name: string; readonly segment: number }
  | { readonly kind: 'contains_param'; readonly name: string; readonly segment: number };

export interface ClaimCondition {
  readonly claim: ClaimPath;
  readonly test: ClaimTest;
}

/** A condition as gateway.yaml writes it (the schema has checked its shape). */
export type ConditionSpec =
  | ClaimValue
  | readonly ClaimValue[]
  | { readonly contains: ClaimValue }
  | { readonly contains_any: readonly ClaimValue[] }
  | { readonly contains_all: readonly ClaimValue[] }
  | { readonly present: boolean }
  | { readonly param: string }
  | { readonly contains_param: string };

/** `paramSegment` finds a route parameter's segment index; undefined for providers (no path). */
export function compileCondition(claim: ClaimPath, spec: ConditionSpec, paramSegment?: (name: string) => number | undefined): ClaimCondition {
  return { claim, test: compileTest(spec, paramSegment) };
}

function compileTest(spec: ConditionSpec, paramSegment: ((name: string) => number | undefined) | undefined): ClaimTest {
  if (typeof spec !== 'object') return { kind: 'equals', value: spec };
  if (Array.isArray(spec)) return { kind: 'one_of', values: spec as readonly ClaimValue[] };
  const object = spec as Exclude<ConditionSpec, ClaimValue | readonly ClaimValue[]>;
  if ('contains' in object) return { kind: 'contains', value: object.contains };
  if ('contains_any' in object) return { kind: 'contains_any', values: object.contains_any };
  if ('contains_all' in object) return { kind: 'contains_all', values: object.contains_all };
  if ('present' in object) return { kind: 'present', present: object.present };
  const name = 'param' in object ? object.param : object.contains_param;
  const segment = paramSegment?.(name);
  if (segment === undefined) throw new TypeError(`no path parameter :${name}`);
  return { kind: 'param' in object ? 'param' : 'contains_param', name, segment };
}

/** Whether the claims meet the condition. `segments`: the request path's segments (for param tests). */
export function conditionHolds(condition: ClaimCondition, claims: JWTPayload, segments: readonly string[] | undefined): boolean {
  const value = readClaim(claims, condition.claim);
  const test = condition.test;
  switch (test.kind) {
    case 'equals':
      return value === test.value;
    case 'one_of':
      return isClaimValue(value) && test.values.includes(value);
    case 'contains':
      return Array.isArray(value) && value.includes(test.value);
    case 'contains_any':
      return Array.isArray(value) && test.values.some((v) => value.includes(v));
    case 'contains_all':
      return Array.isArray(value) && test.values.every((v) => value.includes(v));
    case 'present':
      return (value !== undefined && value !== null) === test.present;
    case 'param': {
      const param = paramValue(segments, test.segment);
      return param !== undefined && value === param;
    }
    case 'contains_param': {
      const param = paramValue(segments, test.segment);
      return param !== undefined && Array.isArray(value) && value.includes(param);
    }
  }
}

/** The first condition the claims do not meet, or undefined. */
export function firstUnmet(conditions: readonly ClaimCondition[], claims: JWTPayload, segments?: readonly string[]): ClaimCondition | undefined {
  for (const condition of conditions) if (!conditionHolds(condition, claims, segments)) return condition;
  return undefined;
}

/**
 * A path parameter as the upstream will read it: the segment of the normalized path, percent-decoded, and
 * compared exactly (no case folding, no trimming). The normalized path has no dot segments, no encoded
 * slash and only valid UTF-8 escapes; a segment that still does not decode fails the condition.
 */
export function paramValue(segments: readonly string[] | undefined, index: number): string | undefined {
  const segment = segments?.[index];
  if (segment === undefined || segment === '') return undefined;
  if (!segment.includes('%')) return segment;
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

function isClaimValue(value: unknown): value is ClaimValue {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

/** "tenant_id equals the path parameter :tenant", for explain and logs (never a claim's value). */
export function describeCondition(condition: ClaimCondition): string {
  const claim = condition.claim.source;
  const test = condition.test;
  const show = (v: ClaimValue) => JSON.stringify(v);
  switch (test.kind) {
    case 'equals':
      return `${claim} equals ${show(test.value)}`;
    case 'one_of':
      return `${claim} is one of ${test.values.map(show).join(', ')}`;
    case 'contains':
      return `${claim} holds ${show(test.value)}`;
    case 'contains_any':
      return `${claim} holds one of ${test.values.map(show).join(', ')}`;
    case 'contains_all':
      return `${claim} holds all of ${test.values.map(show).join(', ')}`;
    case 'present':
      return test.present ? `${claim} is present` : `${claim} is absent`;
    case 'param':
      return `${claim} equals the path parameter :${test.name}`;
    case 'contains_param':
      return `${claim} holds the path parameter :${test.name}`;
  }
}

/** What the token has at the condition's claim, for explain only (the operator's own token). */
export function describeClaimFound(condition: ClaimCondition, claims: JWTPayload, segments: readonly string[] | undefined): string {
  const value = readClaim(claims, condition.claim);
  const test = condition.test;
  const param = test.kind === 'param' || test.kind === 'contains_param' ? paramValue(segments, test.segment) : undefined;
  const paramText = test.kind === 'param' || test.kind === 'contains_param' ? `; :${test.name} is ${param === undefined ? 'missing' : JSON.stringify(param)}` : '';
  if (value === undefined) return `the token has no such claim${paramText}`;
  const text = JSON.stringify(value);
  return `the token has ${text.length > 120 ? `${text.slice(0, 117)}...` : text}${paramText}`;
}

// Issuers: a fixed `iss`, or a multi-tenant template whose one {claim} placeholder is bound to a claim of
// the same token (Entra ID's "https://login.microsoftonline.com/{tid}/v2.0": a token of tenant T must say
// iss ".../T/v2.0" and tid "T"). And what two near-identical issuers differ by, for error messages.
import type { JWTPayload } from 'jose';

export interface IssuerTemplate {
  readonly source: string;
  readonly prefix: string;
  readonly suffix: string;
  /** The top-level claim the placeholder is bound to. */
  readonly claim: string;
  /** The only values the placeholder may take; null: any. */
  readonly tenants: ReadonlySet<string> | null;
}

const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*)\}/;
const ANY_PLACEHOLDER = /\{[^{}]*\}/g;

export function isIssuerTemplate(issuer: string): boolean {
  return PLACEHOLDER.test(issuer);
}

/** The template of an issuer with one placeholder (validate has checked there is exactly one). */
export function compileIssuerTemplate(issuer: string, tenants: readonly string[] | undefined): IssuerTemplate {
  const match = PLACEHOLDER.exec(issuer)!;
  return {
    source: issuer,
    prefix: issuer.slice(0, match.index),
    suffix: issuer.slice(match.index + match[0].length),
    claim: match[1]!,
    tenants: tenants === undefined ? null : new Set(tenants),
  };
}

/**
 * The tenant an `iss` names under the template, or undefined. A tenant is a non-empty value without "/",
 * so that one template can not match an issuer with more path in it.
 */
export function tenantOf(template: IssuerTemplate, iss: unknown): string | undefined {
  if (typeof iss !== 'string' || iss.length <= template.prefix.length + template.suffix.length) return undefined;
  if (!iss.startsWith(template.prefix) || !iss.endsWith(template.suffix)) return undefined;
  const tenant = iss.slice(template.prefix.length, iss.length - template.suffix.length);
  return tenant.includes('/') ? undefined : tenant;
}

export type TenantCheck = { readonly ok: true } | { readonly ok: false; readonly code: 'token_issuer' | 'token_untrusted_issuer'; readonly message: string };

const OK: TenantCheck = { ok: true };

/** The verified claims against the template: iss fits it, the bound claim names the same tenant, a listed one. */
export function checkTenant(template: IssuerTemplate, claims: JWTPayload): TenantCheck {
  const tenant = tenantOf(template, claims.iss);
  if (tenant === undefined) return { ok: false, code: 'token_issuer', message: 'the token issuer (iss) is not the one expected' };
  if (claims[template.claim] !== tenant) {
    return { ok: false, code: 'token_issuer', message: `the token issuer (iss) names another tenant than its ${template.claim} claim` };
  }
  if (template.tenants !== null && !template.tenants.has(tenant)) {
    return { ok: false, code: 'token_untrusted_issuer', message: 'the token was issued for a tenant this gateway does not trust' };
  }
  return OK;
}

/**
 * A discovery document's issuer against the configured one: equal; or, for a template, the same template
 * (Entra's common endpoint says ".../{tenantid}/v2.0") or one tenant's instance of it.
 */
export function discoveredIssuerMatches(configured: string, discovered: unknown): boolean {
  if (typeof discovered !== 'string') return false;
  if (discovered === configured) return true;
  if (!isIssuerTemplate(configured)) return false;
  if (discovered.replace(ANY_PLACEHOLDER, '{}') === configured.replace(ANY_PLACEHOLDER, '{}')) return true;
  return tenantOf(compileIssuerTemplate(configured, undefined), discovered) !== undefined;
}

/**
 * What makes two issuers that should be equal differ, in the classic cases: a trailing slash (Auth0's
 * issuer ends with one), http vs https, letter case, a path prefix such as Keycloak's old "/auth".
 * Undefined when they differ by more than that.
 */
export function issuerDifference(expected: string, found: string): string | undefined {
  if (expected === found) return undefined;
  const strip = (s: string) => s.replace(/\/+$/, '');
  if (strip(expected) === strip(found)) return found.endsWith('/') ? 'has a trailing slash' : 'lacks the trailing slash';
  const scheme = (s: string) => strip(s).replace(/^https?:\/\//i, '');
  if (scheme(expected) === scheme(found)) return /^https:/i.test(found) ? 'uses https' : 'uses http';
  if (strip(expected).toLowerCase() === strip(found).toLowerCase()) return 'differs in letter case';
  const withoutAuth = (s: string) => scheme(s).toLowerCase().replace(/^([^/]+)\/auth(?=\/)/, '$1');
  if (withoutAuth(expected) === withoutAuth(found)) return scheme(found).includes('/auth/') ? 'has the /auth path prefix' : 'lacks the /auth path prefix';
  return undefined;
}

/** The configured issuer `iss` most likely meant, with what differs; undefined when none is close. */
export function closestIssuer(iss: unknown, configured: readonly string[]): { issuer: string; difference: string } | undefined {
  if (typeof iss !== 'string') return undefined;
  for (const issuer of configured) {
    const difference = issuerDifference(issuer, iss);
    if (difference !== undefined) return { issuer, difference };
  }
  return undefined;
}

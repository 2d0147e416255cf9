// The verifier: signature and claims, by jose, against the provider the token's `iss` names, then the
// provider's own requirements (issuer template, require_claims). Failures are described in
// verify-failure.ts.
import { decodeJwt, errors, jwtVerify, UnsecuredJWT, type CryptoKey, type JWTPayload } from 'jose';
import { isPlainName, readClaim } from './claim-path.ts';
import { isUnambiguousElement } from './claim-text.ts';
import { headerValueOf, rolesOf, scopesOf } from './claims.ts';
import { describeClaimFound, describeCondition, firstUnmet } from './conditions.ts';
import type { Identity } from './identity.ts';
import { checkTenant, closestIssuer } from './issuer.ts';
import { checkTokenForm } from './token-form.ts';
import type { IdentityHeaderSpec, Provider, ProviderDirectory } from './provider.ts';
import type { TokenCache } from './token-cache.ts';
import { describeFailure, moreInformative, type VerificationFailure } from './verify-failure.ts';

export type { VerificationCode, VerificationFailure } from './verify-failure.ts';

export interface Verifier {
  readonly providers: ProviderDirectory;
  readonly cache: TokenCache;
}

export function isIdentity(result: Identity | VerificationFailure): result is Identity {
  return (result as Identity).provider !== undefined && (result as Identity).claims !== undefined;
}

export type VerifyFunction = (verifier: Verifier, token: string) => Identity | VerificationFailure | Promise<Identity | VerificationFailure>;

/** A token seen before is answered from the cache at once; only a new one waits for a signature check. */
export function verifyToken(verifier: Verifier, token: string): Identity | VerificationFailure | Promise<Identity | VerificationFailure> {
  const now = Date.now();
  return verifier.cache.get(token, now) ?? verifyUncached(verifier, token, now);
}

async function verifyUncached(verifier: Verifier, token: string, now: number): Promise<Identity | VerificationFailure> {
  const malformed = checkTokenForm(token);
  if (malformed !== undefined) return { code: 'token_malformed', message: malformed };
  let unverified: JWTPayload;
  try {
    unverified = decodeJwt(token);
  } catch {
    return { code: 'token_malformed', message: 'the token could not be decoded' };
  }
  const candidates = verifier.providers.candidatesFor(unverified);
  if (candidates.length === 0) return untrustedIssuer(verifier.providers, unverified.iss);
  let failure: VerificationFailure | undefined;
  for (const provider of candidates) {
    const result = await verifyWith(provider, token);
    if (isIdentity(result)) {
      verifier.cache.set(token, result, now);
      return result;
    }
    failure = moreInformative(failure, result);
  }
  // An iss that nearly names a configured issuer went to the providers without issuer instead, and their
  // reason ("wrong algorithm") hides the slip: explain names the issuer too.
  const fallback = candidates[0]!.issuer === undefined && candidates[0]!.issuerTemplate === undefined;
  const near = fallback && failure!.hint === undefined ? nearIssuerHint(verifier.providers, unverified.iss) : undefined;
  return near === undefined ? failure! : { ...failure!, hint: `${near}; the providers without issuer were tried instead` };
}

function untrustedIssuer(providers: ProviderDirectory, iss: unknown): VerificationFailure {
  const near = nearIssuerHint(providers, iss);
  return { code: 'token_untrusted_issuer', message: 'the token was not issued by a trusted provider', ...(near !== undefined ? { hint: near } : {}) };
}

function nearIssuerHint(providers: ProviderDirectory, iss: unknown): string | undefined {
  const near = closestIssuer(iss, providers.issuers);
  return near === undefined ? undefined : `the closest configured issuer is "${near.issuer}"; the token's iss ${near.difference}`;
}

async function verifyWith(provider: Provider, token: string): Promise<Identity | VerificationFailure> {
  const generation = provider.keys.generation;
  try {
    const { payload } = await jwtVerify(token, (header) => provider.keys.resolve(header), provider.verifyOptions);
    return admitVerified(provider, payload, generation);
  } catch (err) {
    if (err instanceof errors.JWKSMultipleMatchingKeys) return verifyWithEachKey(err, provider, token, generation);
    return { ...describeFailure(err), provider: provider.name };
  }
}

/**
 * A token without `kid` from a provider with several keys for its algorithm (common while keys rotate):
 * jose hands back every candidate, and the token is valid if one of them verifies it.
 */
async function verifyWithEachKey(
  candidates: AsyncIterable<CryptoKey>,
  provider: Provider,
  token: string,
  generation: number,
): Promise<Identity | VerificationFailure> {
  for await (const key of candidates) {
    try {
      const { payload } = await jwtVerify(token, key, provider.verifyOptions);
      return admitVerified(provider, payload, generation);
    } catch (err) {
      if (!(err instanceof errors.JWSSignatureVerificationFailed)) return { ...describeFailure(err), provider: provider.name };
    }
  }
  return { code: 'token_signature', message: 'the token signature does not verify', provider: provider.name };
}

/** What the provider requires beyond jose's checks: its issuer template's tenant, then require_claims. */
function admitVerified(provider: Provider, claims: JWTPayload, generation: number): Identity | VerificationFailure {
  if (provider.issuerTemplate !== undefined) {
    const tenant = checkTenant(provider.issuerTemplate, claims);
    if (!tenant.ok) return { code: tenant.code, message: tenant.message, provider: provider.name };
  }
  const unmet = provider.requiredClaims.length === 0 ? undefined : firstUnmet(provider.requiredClaims, claims);
  if (unmet !== undefined) {
    // The claim's name, never its value: the caller learns what is wrong with the token, not what would
    // pass. The operator (explain) is shown both.
    return {
      code: 'token_claims',
      message: `the token's claim "${unmet.claim.source}" does not have a value this gateway accepts`,
      provider: provider.name,
      hint: `require_claims: ${describeCondition(unmet)}; ${describeClaimFound(unmet, claims, undefined)}`,
    };
  }
  return toIdentity(provider, claims, generation);
}

/**
 * For explain --claims: the claim checks of a provider (iss, aud, exp, nbf, require_claims) on claims
 * given as JSON, with no signature. Never used on the request path.
 */
export async function checkClaimsOnly(verifier: Verifier, claims: JWTPayload): Promise<Identity | VerificationFailure> {
  const provider = verifier.providers.candidatesFor(claims)[0];
  if (provider === undefined) return untrustedIssuer(verifier.providers, claims.iss);
  const { algorithms: _algorithms, typ: _typ, ...claimOptions } = provider.verifyOptions;
  try {
    const { payload } = UnsecuredJWT.decode(new UnsecuredJWT(claims).encode(), claimOptions);
    return admitVerified(provider, payload, provider.keys.generation);
  } catch (err) {
    return { ...describeFailure(err), provider: provider.name };
  }
}

function toIdentity(provider: Provider, claims: JWTPayload, keyGeneration: number): Identity {
  const roles = withoutSeparators(rolesOf(claims, provider.rolesClaims));
  const scopes = withoutSeparators(scopesOf(claims, provider.scopesClaims));
  const headers: (readonly [string, string])[] = [];
  for (const spec of provider.identityHeaders) {
    const claim = headerClaim(spec, claims, roles, scopes);
    const value = headerValueOf(Array.isArray(claim) ? withoutSeparators(claim) : claim);
    if (value !== undefined && value !== '') headers.push([spec.name, value]);
  }
  return {
    provider,
    claims,
    subject: typeof claims.sub === 'string' ? claims.sub : undefined,
    roles,
    scopes,
    headers,
    expiresAtMs: (claims.exp as number) * 1000,
    keyGeneration,
  };
}

/** The first of the header's claims that is present; the plain names "roles" and "scopes" are the lists. */
function headerClaim(spec: IdentityHeaderSpec, claims: JWTPayload, roles: readonly string[], scopes: readonly string[]): unknown {
  for (const path of spec.claims) {
    const value = isPlainName(path, 'roles')
      ? (roles.length > 0 ? roles : undefined)
      : isPlainName(path, 'scopes')
        ? (scopes.length > 0 ? scopes : undefined)
        : readClaim(claims, path);
    if (value !== undefined && value !== null) return value;
  }
  return undefined;
}

/**
 * Lists travel upstream comma-joined ("X-User-Roles: reader,admin"). An element that itself contains a
 * separator, like the role "reader,admin" or "ops admin" from a group name someone chose, would read
 * upstream as two values, one of them a role the gateway never granted; one ending in a character header
 * parsers trim (" admin", "admin\u0085") as a role the gateway did not check. Only elements every upstream
 * reads as themselves are kept (claim-text.ts), for the gateway's own role and scope checks as well, so
 * that both sides see the same list.
 */
function withoutSeparators<T>(values: readonly T[]): T[] {
  return values.filter((v) => typeof v !== 'string' || isUnambiguousElement(v));
}

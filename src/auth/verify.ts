// The verifier: signature and claims, by jose, against the one provider the token's `iss` names. Every
// failure becomes a stable code and a sentence safe to show the client (nothing from the token echoed).
import { decodeJwt, errors, jwtVerify, UnsecuredJWT, type CryptoKey, type JWTPayload } from 'jose';
import { isUnambiguousElement } from './claim-text.ts';
import { headerValueOf, readClaim, rolesOf, scopesOf, type ClaimPath } from './claims.ts';
import type { Identity } from './identity.ts';
import { KeysUnavailableError } from './keys.ts';
import { checkTokenForm } from './token-form.ts';
import type { Provider, ProviderDirectory } from './provider.ts';
import type { TokenCache } from './token-cache.ts';

export type VerificationCode =
  | 'token_malformed'
  | 'token_untrusted_issuer'
  | 'token_expired'
  | 'token_not_yet_valid'
  | 'token_issuer'
  | 'token_audience'
  | 'token_type'
  | 'token_claims'
  | 'token_algorithm'
  | 'token_signature'
  | 'token_unknown_key'
  | 'token_unsupported'
  | 'token_invalid'
  | 'provider_unavailable';

export interface VerificationFailure {
  readonly code: VerificationCode;
  readonly message: string;
  readonly provider?: string;
}

/** How an identity's upstream headers are derived from its claims. */
export interface IdentityHeaderSpec {
  /** Lower-case header name. */
  readonly name: string;
  readonly claim: ClaimPath;
}

export interface Verifier {
  readonly providers: ProviderDirectory;
  readonly cache: TokenCache;
  readonly identityHeaders: readonly IdentityHeaderSpec[];
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
  const candidates = verifier.providers.candidatesFor(unverified.iss);
  if (candidates.length === 0) {
    return { code: 'token_untrusted_issuer', message: 'the token was not issued by a trusted provider' };
  }
  let failure: VerificationFailure | undefined;
  for (const provider of candidates) {
    const result = await verifyWith(provider, token, verifier.identityHeaders);
    if (isIdentity(result)) {
      verifier.cache.set(token, result, now);
      return result;
    }
    failure ??= result;
  }
  return failure!;
}

async function verifyWith(
  provider: Provider,
  token: string,
  headerSpecs: readonly IdentityHeaderSpec[],
): Promise<Identity | VerificationFailure> {
  const generation = provider.keys.generation;
  try {
    const { payload } = await jwtVerify(token, (header) => provider.keys.resolve(header), provider.verifyOptions);
    return toIdentity(provider, payload, generation, headerSpecs);
  } catch (err) {
    if (err instanceof errors.JWKSMultipleMatchingKeys) return verifyWithEachKey(err, provider, token, generation, headerSpecs);
    return { ...describeFailure(err), provider: provider.name };
  }
}

/**
 * A token without `kid` from a provider that publishes several keys for its algorithm (common while keys
 * rotate): jose hands back every candidate, and the token is valid if one of them verifies it.
 */
async function verifyWithEachKey(
  candidates: AsyncIterable<CryptoKey>,
  provider: Provider,
  token: string,
  generation: number,
  headerSpecs: readonly IdentityHeaderSpec[],
): Promise<Identity | VerificationFailure> {
  for await (const key of candidates) {
    try {
      const { payload } = await jwtVerify(token, key, provider.verifyOptions);
      return toIdentity(provider, payload, generation, headerSpecs);
    } catch (err) {
      if (!(err instanceof errors.JWSSignatureVerificationFailed)) return { ...describeFailure(err), provider: provider.name };
    }
  }
  return { code: 'token_signature', message: 'the token signature does not verify', provider: provider.name };
}

/**
 * For explain --claims: the claim checks of a provider (iss, aud, exp, nbf) on claims given as JSON, with
 * no signature. Never used on the request path.
 */
export async function checkClaimsOnly(verifier: Verifier, claims: JWTPayload): Promise<Identity | VerificationFailure> {
  const provider = verifier.providers.candidatesFor(claims.iss)[0];
  if (provider === undefined) return { code: 'token_untrusted_issuer', message: 'the token was not issued by a trusted provider' };
  const { algorithms: _algorithms, typ: _typ, ...claimOptions } = provider.verifyOptions;
  try {
    const { payload } = UnsecuredJWT.decode(new UnsecuredJWT(claims).encode(), claimOptions);
    return toIdentity(provider, payload, provider.keys.generation, verifier.identityHeaders);
  } catch (err) {
    return { ...describeFailure(err), provider: provider.name };
  }
}

function toIdentity(
  provider: Provider,
  claims: JWTPayload,
  keyGeneration: number,
  headerSpecs: readonly IdentityHeaderSpec[],
): Identity {
  const roles = withoutSeparators(rolesOf(claims, provider.rolesClaim));
  const scopes = withoutSeparators(scopesOf(claims));
  const headers: (readonly [string, string])[] = [];
  for (const spec of headerSpecs) {
    const claim = spec.claim.length === 1 && spec.claim[0] === 'roles'
      ? roles
      : spec.claim.length === 1 && spec.claim[0] === 'scopes'
        ? scopes
        : readClaim(claims, spec.claim);
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

const CLAIM_FAILURES: Record<string, VerificationFailure> = {
  nbf: { code: 'token_not_yet_valid', message: 'the token is not valid yet (nbf)' },
  iss: { code: 'token_issuer', message: 'the token issuer (iss) is not the one expected' },
  aud: { code: 'token_audience', message: 'the token audience (aud) does not include this gateway' },
  typ: { code: 'token_type', message: 'the token type (typ) is not the one expected' },
  exp: { code: 'token_claims', message: 'the token must carry a numeric expiry (exp)' },
};

export function describeFailure(err: unknown): VerificationFailure {
  if (err instanceof KeysUnavailableError) {
    return { code: 'provider_unavailable', message: 'the provider\'s keys are not available yet; try again shortly' };
  }
  if (err instanceof errors.JWTExpired) return { code: 'token_expired', message: 'the token has expired' };
  if (err instanceof errors.JWTClaimValidationFailed) {
    return CLAIM_FAILURES[err.claim] ?? { code: 'token_claims', message: `the token's ${safeClaim(err.claim)} claim is invalid` };
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    return { code: 'token_signature', message: 'the token signature does not verify' };
  }
  if (err instanceof errors.JOSEAlgNotAllowed) {
    return { code: 'token_algorithm', message: 'the token algorithm is not allowed for this provider' };
  }
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) {
    return { code: 'token_unknown_key', message: 'no key of the provider matches the token (kid)' };
  }
  if (err instanceof errors.JOSENotSupported) {
    return { code: 'token_unsupported', message: 'the token uses an unsupported algorithm or critical header' };
  }
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) {
    return { code: 'token_malformed', message: 'the token is malformed' };
  }
  return { code: 'token_invalid', message: 'the token is invalid' };
}

function safeClaim(claim: string): string {
  return /^[a-z_]{1,20}$/i.test(claim) ? claim : 'a';
}

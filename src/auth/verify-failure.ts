// Why a token did not verify, as a stable code and a sentence safe to show the client (nothing from the
// token echoed), and which of several providers' reasons is the one worth reporting.
import { errors } from 'jose';
import { KeysUnavailableError } from './keys.ts';

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
  /** For explain and the operator only, never the client: e.g. the configured issuer the token nearly names. */
  readonly hint?: string;
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

/**
 * How far a provider got with the token. With several providers without issuer, each fails in its own
 * way; the furthest tells the caller what to fix: a token whose signature verified and then expired is
 * "expired", not another provider's "wrong algorithm".
 */
const PROGRESS: Record<VerificationCode, number> = {
  token_expired: 5,
  token_not_yet_valid: 5,
  token_issuer: 5,
  token_audience: 5,
  token_type: 5,
  token_claims: 5,
  token_untrusted_issuer: 5,
  token_signature: 4,
  provider_unavailable: 3,
  token_unknown_key: 3,
  token_algorithm: 2,
  token_unsupported: 1,
  token_malformed: 1,
  token_invalid: 0,
};

/** The more informative of two failures; the earlier provider's on a tie. */
export function moreInformative(current: VerificationFailure | undefined, next: VerificationFailure): VerificationFailure {
  return current === undefined || PROGRESS[next.code] > PROGRESS[current.code] ? next : current;
}

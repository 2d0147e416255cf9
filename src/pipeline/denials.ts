// The one catalog of refusals: every code the gateway answers with, its HTTP status and its RFC 6750
// challenge. The pipeline names a code and a sentence; this decides what HTTP makes of it. The table in
// docs/configuration.md ("Responses the gateway makes itself") is checked against it by a test.
import type { BearerError } from './decision.ts';

export interface DenialSpec {
  readonly status: number;
  /**
   * The WWW-Authenticate challenge (RFC 6750 §3): 'plain' is `Bearer realm=...` alone (no token was
   * sent), a BearerError adds `error=` (a token was sent and refused). Absent: no challenge.
   */
  readonly challenge?: 'plain' | BearerError;
  /**
   * The connection is closed after the refusal: the request's body was refused unread, or where the next
   * request starts is exactly what is in doubt.
   */
  readonly closes?: true;
}

const BAD_REQUEST = { status: 400 } as const;
const BAD_FRAMING = { status: 400, closes: true } as const;
const INVALID_TOKEN = { status: 401, challenge: 'invalid_token' } as const;
const FORBIDDEN = { status: 403, challenge: 'insufficient_scope' } as const;

export const DENIALS = {
  // The request itself (routing/normalize.ts, pipeline/decide.ts, the upgrade checks, Node's parser).
  path_not_origin_form: BAD_REQUEST,
  path_fragment: BAD_REQUEST,
  path_bad_character: BAD_REQUEST,
  path_bad_encoding: BAD_REQUEST,
  path_encoded_slash: BAD_REQUEST,
  path_backslash: BAD_REQUEST,
  path_double_encoding: BAD_REQUEST,
  path_above_root: BAD_REQUEST,
  path_dot_parameter: BAD_REQUEST,
  path_parameter: BAD_REQUEST,
  path_encoded_delimiter: BAD_REQUEST,
  path_confusable: BAD_REQUEST,
  path_trailing_dot: BAD_REQUEST,
  host_missing: BAD_REQUEST,
  host_duplicated: BAD_REQUEST,
  host_invalid: BAD_REQUEST,
  framing_conflict: BAD_FRAMING,
  framing_empty_encoding: BAD_FRAMING,
  framing_http10_encoding: BAD_FRAMING,
  framing_unsupported_encoding: { status: 501, closes: true },
  upgrade_with_body: BAD_REQUEST,
  upgrade_pipelined: BAD_REQUEST,
  upgrade_unsupported: BAD_REQUEST,
  bad_request: BAD_FRAMING,
  // The token (auth/extract.ts, auth/verify.ts, auth/requirement.ts).
  token_missing: { status: 401, challenge: 'plain' },
  token_duplicated: { status: 401, challenge: 'invalid_request' },
  token_scheme: INVALID_TOKEN,
  token_malformed: INVALID_TOKEN,
  token_encrypted: INVALID_TOKEN,
  token_too_large: INVALID_TOKEN,
  token_untrusted_issuer: INVALID_TOKEN,
  token_expired: INVALID_TOKEN,
  token_not_yet_valid: INVALID_TOKEN,
  token_issuer: INVALID_TOKEN,
  token_audience: INVALID_TOKEN,
  token_type: INVALID_TOKEN,
  token_claims: INVALID_TOKEN,
  token_algorithm: INVALID_TOKEN,
  token_signature: INVALID_TOKEN,
  token_unknown_key: INVALID_TOKEN,
  token_unsupported: INVALID_TOKEN,
  token_invalid: INVALID_TOKEN,
  token_source_not_allowed: INVALID_TOKEN,
  provider_not_allowed: INVALID_TOKEN,
  insufficient_role: FORBIDDEN,
  insufficient_scope: FORBIDDEN,
  claim_mismatch: FORBIDDEN,
  /** A cookie-borne token from another site's page: not a question of the token's rights, so no challenge. */
  csrf_origin: { status: 403 },
  // CORS preflights the gateway answers itself (traffic/cors.ts): refused without the allow headers.
  cors_origin_not_allowed: { status: 403 },
  cors_method_not_allowed: { status: 403 },
  cors_header_not_allowed: { status: 403 },
  // Routing and limits.
  no_route: { status: 404 },
  method_not_allowed: { status: 405 },
  request_timeout: { status: 408, closes: true },
  body_too_large: { status: 413, closes: true },
  headers_too_large: { status: 431, closes: true },
  headers_too_many: { status: 431, closes: true },
  rate_limited: { status: 429 },
  // The gateway and the upstream.
  internal_error: { status: 500 },
  upstream_unavailable: { status: 502 },
  /** Logged only: the status line had gone out, so the client's connection is cut. */
  upstream_reset: { status: 502 },
  provider_unavailable: { status: 503 },
  upstream_overloaded: { status: 503 },
  no_healthy_upstream: { status: 503 },
  rate_limit_unavailable: { status: 503 },
  upstream_timeout: { status: 504 },
} as const satisfies Record<string, DenialSpec>;

export type DenialCode = keyof typeof DENIALS;

export function denialSpec(code: DenialCode): DenialSpec {
  return DENIALS[code];
}

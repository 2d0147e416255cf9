// The extractor: where a request's token is. Only `Authorization: Bearer <jwt>` (RFC 6750 §2.1), exactly
// once, in the JWS compact form.
import type { IncomingHttpHeaders } from 'node:http';

export type Extraction =
  | { readonly kind: 'none' }
  | { readonly kind: 'token'; readonly token: string }
  | { readonly kind: 'rejected'; readonly code: TokenFormatCode; readonly message: string };

export type TokenFormatCode =
  | 'token_duplicated'
  | 'token_scheme'
  | 'token_malformed'
  | 'token_encrypted'
  | 'token_too_large';

const NONE: Extraction = { kind: 'none' };
const BEARER = /^bearer +/i;
/** header.payload.signature, base64url (a JWS in compact serialization). */
const JWS_COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const JWE_COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export function extractBearer(
  headers: IncomingHttpHeaders,
  rawHeaders: readonly string[],
  maxTokenBytes: number,
): Extraction {
  const value = headers.authorization;
  if (value === undefined) return NONE;
  // Node keeps only the first of repeated Authorization headers; which one an upstream would use is
  // anyone's guess, so a request carrying two is refused.
  if (countHeader(rawHeaders, 'authorization') > 1) {
    return { kind: 'rejected', code: 'token_duplicated', message: 'the request has more than one Authorization header' };
  }
  const scheme = BEARER.exec(value);
  if (scheme === null) {
    return { kind: 'rejected', code: 'token_scheme', message: 'the Authorization header must use the Bearer scheme' };
  }
  const token = value.slice(scheme[0].length).trimEnd();
  if (token.length > maxTokenBytes) {
    return { kind: 'rejected', code: 'token_too_large', message: `the token is larger than ${maxTokenBytes} bytes` };
  }
  if (JWS_COMPACT.test(token)) return { kind: 'token', token };
  if (JWE_COMPACT.test(token)) {
    return { kind: 'rejected', code: 'token_encrypted', message: 'encrypted tokens (JWE) are not accepted; send a signed JWT' };
  }
  return { kind: 'rejected', code: 'token_malformed', message: 'the token is not a JWT (header.payload.signature)' };
}

export function countHeader(rawHeaders: readonly string[], lowerName: string): number {
  let count = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) count++;
  }
  return count;
}
